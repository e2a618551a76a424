//! SIP over secure WebSocket (RFC 7118 WSS) on real sockets, with a development certificate.

mod transport_support;

use futures_util::SinkExt;
use tandem_sip_core::transport::tls::DevCertificate;
use tandem_sip_core::transport::{TransportKind, TransportLayer};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as Ws};
use transport_support::*;

async fn tls_to(addr: std::net::SocketAddr, dev: &DevCertificate) -> TlsStream<TcpStream> {
    let connector = TlsConnector::from(dev.client_config().unwrap());
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    guarded("the TLS handshake", connector.connect(name, tcp))
        .await
        .unwrap()
}

#[tokio::test]
async fn wss_client_offering_sip_is_answered_over_its_own_connection() {
    let dev = DevCertificate::generate(&["localhost"]).unwrap();
    let (transports, mut events) = TransportLayer::builder()
        .listen(TransportKind::Wss, loopback())
        .tls_server(dev.server_config().unwrap())
        .start()
        .await
        .unwrap();
    let addr = transports.local_addr(TransportKind::Wss).unwrap();
    let tls = tls_to(addr, &dev).await;
    let request = ws_request(&format!("wss://localhost:{}/", addr.port()), true);
    let (mut client, _) = guarded(
        "the WebSocket handshake",
        tokio_tungstenite::client_async(request, tls),
    )
    .await
    .unwrap();
    let via = "SIP/2.0/WSS df7jal23ls0d.invalid;rport;branch=z9hG4bKwss";
    client.send(Ws::text(options(via, "wss-1"))).await.unwrap();

    let incoming = next_incoming(&mut events).await;
    assert_eq!(incoming.transport, TransportKind::Wss);
    answer_ok(&transports, &incoming).await;
    assert_eq!(call_id(&ws_next_message(&mut client).await), "wss-1");

    // Without the subprotocol, the upgrade is refused even over TLS.
    let tls = tls_to(addr, &dev).await;
    let request = ws_request(&format!("wss://localhost:{}/", addr.port()), false);
    let refused = guarded(
        "the WebSocket handshake",
        tokio_tungstenite::client_async(request, tls),
    )
    .await;
    assert!(
        matches!(refused, Err(WsError::Http(ref r)) if r.status() == 400),
        "{refused:?}"
    );
}
