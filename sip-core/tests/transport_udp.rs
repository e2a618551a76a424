//! UDP transport on real sockets: RFC 3581 stamping, §18.2.2 response routing, malformed datagrams.

mod transport_support;

use bytes::Bytes;
use tandem_sip_core::header::Rport;
use tandem_sip_core::transport::{
    ConnectionLimits, TransportKind, TransportLayer, response_target,
};
use tandem_sip_core::{Limits, ParseErrorKind, Response, StatusCode};
use tokio::net::UdpSocket;
use transport_support::*;

async fn client() -> UdpSocket {
    UdpSocket::bind(loopback()).await.unwrap()
}

async fn receive(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65_536];
    let n = guarded("a datagram", socket.recv(&mut buf)).await.unwrap();
    buf.truncate(n);
    buf
}

#[tokio::test]
async fn request_is_stamped_and_response_returns_to_the_source_port() {
    let (transports, mut events) = start(&[TransportKind::Udp], ConnectionLimits::DEFAULT).await;
    let server = transports.local_addr(TransportKind::Udp).unwrap();
    let client = client().await;
    let me = client.local_addr().unwrap();
    // The Via names an address and port the client cannot be reached at, as behind a NAT.
    let request = options(
        "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKnat1",
        "udp-1",
    );
    client.send_to(request.as_bytes(), server).await.unwrap();

    let incoming = next_incoming(&mut events).await;
    assert_eq!(incoming.transport, TransportKind::Udp);
    assert_eq!(incoming.source, me);
    assert_eq!(incoming.local, server);
    let via = incoming.message.headers().via().unwrap().unwrap();
    assert_eq!(via.received_ip(), Some(me.ip()));
    assert_eq!(via.rport(), Some(Rport::Port(me.port())));

    answer_ok(&transports, &incoming).await;
    let response = parse(&receive(&client).await);
    let response = response.as_response().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let via = response.headers().via().unwrap().unwrap();
    assert_eq!(via.rport(), Some(Rport::Port(me.port())));
    let stats = transports.stats();
    assert_eq!((stats.messages_in, stats.messages_out), (1, 1));
}

#[tokio::test]
async fn malformed_request_is_surfaced_with_its_head_for_a_400() {
    let (transports, mut events) = start(&[TransportKind::Udp], ConnectionLimits::DEFAULT).await;
    let server = transports.local_addr(TransportKind::Udp).unwrap();
    let client = client().await;
    let request = options("SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKbad", "udp-bad")
        .replace("Content-Length: 0", "Content-Length: 300");
    client.send_to(request.as_bytes(), server).await.unwrap();

    let malformed = next_malformed(&mut events).await;
    assert_eq!(malformed.error.kind, ParseErrorKind::ContentLengthMismatch);
    assert_eq!(malformed.bytes, Bytes::from(request));
    let head = &malformed.request;
    let via = head.headers().via().unwrap().unwrap();
    let me = client.local_addr().unwrap();
    assert_eq!(via.rport(), Some(Rport::Port(me.port())));

    let reply = Response::from_request(head, StatusCode::BAD_REQUEST, Some("x")).build();
    let target = response_target(&reply, Some(malformed.target())).unwrap();
    transports.send(target, reply.to_bytes()).await.unwrap();
    let answer = parse(&receive(&client).await);
    assert_eq!(
        answer.as_response().unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(call_id(&answer), "udp-bad");
    assert_eq!(transports.stats().malformed, 1);
}

#[tokio::test]
async fn oversized_request_is_surfaced_for_a_513() {
    let (transports, mut events) = TransportLayer::builder()
        .listen(TransportKind::Udp, loopback())
        .limits(Limits {
            max_message_size: 1000,
            ..Limits::DEFAULT
        })
        .start()
        .await
        .unwrap();
    let server = transports.local_addr(TransportKind::Udp).unwrap();
    let client = client().await;
    let body = "v=0\r\n".repeat(300);
    let request = options("SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKbig", "udp-big").replace(
        "Content-Length: 0\r\n\r\n",
        &format!("Content-Length: {}\r\n\r\n{body}", body.len()),
    );
    client.send_to(request.as_bytes(), server).await.unwrap();

    let malformed = next_malformed(&mut events).await;
    assert_eq!(
        malformed.error.kind,
        ParseErrorKind::MessageTooLarge { limit: 1000 }
    );
    assert_eq!(
        call_id(&tandem_sip_core::Message::Request(malformed.request)),
        "udp-big"
    );
}

#[tokio::test]
async fn garbage_malformed_responses_and_keepalives_are_dropped() {
    let (transports, mut events) = start(&[TransportKind::Udp], ConnectionLimits::DEFAULT).await;
    let server = transports.local_addr(TransportKind::Udp).unwrap();
    let client = client().await;
    for datagram in [
        &b"\x16\x03\x01\x00 not SIP"[..],
        b"SIP/2.0 200 OK\r\nContent-Length: 50\r\n\r\nshort",
        b"\r\n\r\n",
    ] {
        client.send_to(datagram, server).await.unwrap();
    }
    let request = options("SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKok", "udp-after");
    client.send_to(request.as_bytes(), server).await.unwrap();

    // The first event is the well-formed request: nothing was surfaced for the others.
    let incoming = next_incoming(&mut events).await;
    assert_eq!(call_id(&incoming.message), "udp-after");
    let stats = transports.stats();
    assert_eq!((stats.malformed, stats.keepalives), (2, 1));
}

#[tokio::test]
async fn send_without_flow_uses_a_socket_of_the_target_family() {
    let (transports, _events) = start(&[TransportKind::Udp], ConnectionLimits::DEFAULT).await;
    let server = transports.local_addr(TransportKind::Udp).unwrap();
    let client = client().await;
    let request = options("SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKout", "udp-out");
    let target =
        tandem_sip_core::transport::Target::new(TransportKind::Udp, client.local_addr().unwrap());
    let flow = transports.send(target, Bytes::from(request)).await.unwrap();
    let mut buf = vec![0u8; 2048];
    let (n, from) = guarded("a datagram", client.recv_from(&mut buf))
        .await
        .unwrap();
    assert_eq!(from, server);
    assert_eq!(call_id(&parse(&buf[..n])), "udp-out");
    // The flow names the socket, so a later send on it leaves from the same address.
    let again = target.with_flow(flow);
    assert_eq!(
        transports
            .send(again, Bytes::from_static(b"\r\n\r\n"))
            .await,
        Ok(flow)
    );
}
