//! TLS transport on real sockets with a self-signed development certificate.

mod transport_support;

use bytes::Bytes;
use std::time::Duration;
use tandem_sip_core::transport::tls::DevCertificate;
use tandem_sip_core::transport::{
    ConnectionLimits, Target, TransportError, TransportKind, TransportLayer,
};
use tandem_sip_core::{Limits, StreamFramer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use transport_support::*;

fn dev_certificate() -> DevCertificate {
    DevCertificate::generate(&["localhost", "127.0.0.1"]).unwrap()
}

async fn tls_layer(
    dev: &DevCertificate,
    limits: ConnectionLimits,
) -> (
    TransportLayer,
    tokio::sync::mpsc::Receiver<tandem_sip_core::TransportEvent>,
) {
    TransportLayer::builder()
        .listen(TransportKind::Tls, loopback())
        .tls_server(dev.server_config().unwrap())
        .tls_client(dev.client_config().unwrap())
        .connection_limits(limits)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn tls_client_is_answered_over_its_own_connection() {
    let dev = dev_certificate();
    let (transports, mut events) = tls_layer(&dev, ConnectionLimits::DEFAULT).await;
    let addr = transports.local_addr(TransportKind::Tls).unwrap();
    let connector = TlsConnector::from(dev.client_config().unwrap());
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = guarded("the TLS handshake", connector.connect(name, tcp))
        .await
        .unwrap();
    let request = options(
        "SIP/2.0/TLS client.invalid;rport;branch=z9hG4bKtls",
        "tls-1",
    );
    client.write_all(request.as_bytes()).await.unwrap();
    client.flush().await.unwrap();

    let incoming = next_incoming(&mut events).await;
    assert_eq!(incoming.transport, TransportKind::Tls);
    answer_ok(&transports, &incoming).await;
    let mut framer = StreamFramer::new(Limits::DEFAULT);
    let response = read_message(&mut client, &mut framer).await;
    assert_eq!(call_id(&response), "tls-1");
    assert!(!response.is_request());
}

#[tokio::test(start_paused = true)]
async fn silent_client_is_dropped_after_the_handshake_timeout() {
    let dev = dev_certificate();
    let limits = ConnectionLimits {
        handshake_timeout: Duration::from_secs(3),
        ..ConnectionLimits::DEFAULT
    };
    let (transports, _events) = tls_layer(&dev, limits).await;
    let addr = transports.local_addr(TransportKind::Tls).unwrap();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(closed_by_server(&mut silent).await);
    let stats = transports.stats();
    assert_eq!(
        (
            stats.handshakes_failed,
            stats.connections_opened,
            stats.connections_open
        ),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn outgoing_connection_verifies_the_server_name() {
    let dev = dev_certificate();
    let (bob, mut bob_events) = tls_layer(&dev, ConnectionLimits::DEFAULT).await;
    let (alice, _alice_events) = tls_layer(&dev, ConnectionLimits::DEFAULT).await;
    let bob_addr = bob.local_addr(TransportKind::Tls).unwrap();

    let flow = alice
        .connect(TransportKind::Tls, bob_addr, Some("localhost"))
        .await
        .unwrap();
    let via = "SIP/2.0/TLS alice.invalid;branch=z9hG4bKa";
    let target = Target::new(TransportKind::Tls, bob_addr).with_flow(flow);
    alice
        .send(target, Bytes::from(options(via, "named")))
        .await
        .unwrap();
    assert_eq!(
        call_id(&next_incoming(&mut bob_events).await.message),
        "named"
    );

    let wrong = alice
        .connect(TransportKind::Tls, bob_addr, Some("sip.example.com"))
        .await;
    assert!(matches!(wrong, Err(TransportError::Tls(_))), "{wrong:?}");
}

#[tokio::test]
async fn untrusted_server_certificate_fails_the_send() {
    let bob_cert = dev_certificate();
    let (bob, _bob_events) = tls_layer(&bob_cert, ConnectionLimits::DEFAULT).await;
    // Alice trusts another certificate only.
    let (alice, _alice_events) = tls_layer(&dev_certificate(), ConnectionLimits::DEFAULT).await;
    let bob_addr = bob.local_addr(TransportKind::Tls).unwrap();
    let sent = alice
        .send(
            Target::new(TransportKind::Tls, bob_addr),
            Bytes::from(options(
                "SIP/2.0/TLS a.invalid;branch=z9hG4bKu",
                "untrusted",
            )),
        )
        .await;
    assert!(matches!(sent, Err(TransportError::Tls(_))), "{sent:?}");
    assert_eq!(alice.stats().connections_open, 0);
}

#[tokio::test]
async fn tls_listener_needs_a_server_certificate() {
    let started = TransportLayer::builder()
        .listen(TransportKind::Tls, loopback())
        .start()
        .await;
    assert!(matches!(
        started,
        Err(TransportError::NotAvailable(TransportKind::Tls))
    ));
}
