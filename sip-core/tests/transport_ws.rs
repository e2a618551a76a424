//! SIP over WebSocket (RFC 7118) on real sockets, with a tokio-tungstenite client.

mod transport_support;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tandem_sip_core::header::Rport;
use tandem_sip_core::transport::{
    CloseReason, ConnectionLimits, Target, TransportError, TransportKind, TransportLayer,
};
use tandem_sip_core::{ParseErrorKind, TransportEvent};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as Ws};
use transport_support::*;

const WS_VIA: &str = "SIP/2.0/WS df7jal23ls0d.invalid;rport;branch=z9hG4bKws";

async fn ws_layer(limits: ConnectionLimits) -> (TransportLayer, Receiver<TransportEvent>) {
    start(&[TransportKind::Ws], limits).await
}

async fn connect(transports: &TransportLayer) -> WebSocketStream<TcpStream> {
    let addr = transports.local_addr(TransportKind::Ws).unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let request = ws_request(&format!("ws://{addr}/"), true);
    let (client, response) = guarded(
        "the WebSocket handshake",
        tokio_tungstenite::client_async(request, tcp),
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["Sec-WebSocket-Protocol"], "sip");
    client
}

#[tokio::test]
async fn client_offering_sip_is_answered_over_its_own_connection() {
    let (transports, mut events) = ws_layer(ConnectionLimits::DEFAULT).await;
    let mut client = connect(&transports).await;
    client
        .send(Ws::text(options(WS_VIA, "ws-1")))
        .await
        .unwrap();

    let incoming = next_incoming(&mut events).await;
    assert_eq!(incoming.transport, TransportKind::Ws);
    let via = incoming.message.headers().via().unwrap().unwrap();
    assert_eq!(via.rport(), Some(Rport::Port(incoming.source.port())));
    answer_ok(&transports, &incoming).await;
    let response = ws_next_message(&mut client).await;
    assert_eq!(call_id(&response), "ws-1");
    assert!(!response.is_request());
}

#[tokio::test]
async fn handshake_without_the_sip_subprotocol_is_rejected() {
    let (transports, _events) = ws_layer(ConnectionLimits::DEFAULT).await;
    let addr = transports.local_addr(TransportKind::Ws).unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let request = ws_request(&format!("ws://{addr}/"), false);
    let refused = guarded(
        "the WebSocket handshake",
        tokio_tungstenite::client_async(request, tcp),
    )
    .await;
    match refused {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 400),
        other => panic!("expected a 400, got {other:?}"),
    }
    let stats = transports.stats();
    assert_eq!((stats.handshakes_failed, stats.connections_opened), (1, 0));
}

#[tokio::test]
async fn ping_is_answered_with_pong_and_binary_messages_carry_sip() {
    let (transports, mut events) = ws_layer(ConnectionLimits::DEFAULT).await;
    let mut client = connect(&transports).await;
    client
        .send(Ws::Ping(Bytes::from_static(b"are you there")))
        .await
        .unwrap();
    match guarded("a pong", client.next()).await {
        Some(Ok(Ws::Pong(payload))) => assert_eq!(&payload[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    client
        .send(Ws::binary(options(WS_VIA, "ws-binary").into_bytes()))
        .await
        .unwrap();
    assert_eq!(
        call_id(&next_incoming(&mut events).await.message),
        "ws-binary"
    );
}

#[tokio::test]
async fn requests_reach_the_client_on_its_flow_until_it_closes() {
    let (transports, mut events) = ws_layer(ConnectionLimits::DEFAULT).await;
    let mut client = connect(&transports).await;
    client
        .send(Ws::text(options(WS_VIA, "register")))
        .await
        .unwrap();
    let incoming = next_incoming(&mut events).await;
    let flow = incoming.target();
    let invite = options("SIP/2.0/WS proxy.invalid;branch=z9hG4bKin", "to-client");
    transports.send(flow, Bytes::from(invite)).await.unwrap();
    assert_eq!(call_id(&ws_next_message(&mut client).await), "to-client");

    client.close(None).await.unwrap();
    let closed = next_closed(&mut events).await;
    assert_eq!(
        (closed.flow, closed.reason),
        (incoming.flow, CloseReason::PeerClosed)
    );
    let late = Bytes::from(options("SIP/2.0/WS proxy.invalid;branch=z9hG4bKl", "late"));
    assert_eq!(
        transports.send(flow, late.clone()).await,
        Err(TransportError::FlowClosed(incoming.flow))
    );
    // WebSocket connections are never opened by the server.
    assert_eq!(
        transports
            .send(Target::new(TransportKind::Ws, incoming.source), late)
            .await,
        Err(TransportError::NoConnection {
            transport: TransportKind::Ws,
            addr: incoming.source
        })
    );
}

#[tokio::test]
async fn malformed_request_in_a_websocket_message_is_surfaced() {
    let (transports, mut events) = ws_layer(ConnectionLimits::DEFAULT).await;
    let mut client = connect(&transports).await;
    let bad = options(WS_VIA, "ws-bad").replace("Content-Length: 0", "Content-Length: 99");
    client.send(Ws::text(bad)).await.unwrap();
    let malformed = next_malformed(&mut events).await;
    assert_eq!(malformed.transport, TransportKind::Ws);
    assert_eq!(malformed.error.kind, ParseErrorKind::ContentLengthMismatch);
}

#[tokio::test(start_paused = true)]
async fn frame_left_unfinished_is_closed_after_the_message_timeout() {
    let limits = ConnectionLimits {
        idle_timeout: Duration::from_secs(15),
        message_timeout: Duration::from_secs(5),
        ..ConnectionLimits::DEFAULT
    };
    let (transports, mut events) = ws_layer(limits).await;
    let mut client = connect(&transports).await;
    // A masked text frame announcing 100 bytes, of which 10 are sent.
    let mut frame = vec![0x81, 0x80 | 100, 1, 2, 3, 4];
    frame.extend_from_slice(&[b'x' ^ 1; 10]);
    client.get_mut().write_all(&frame).await.unwrap();
    let closed = next_closed(&mut events).await;
    assert_eq!(closed.reason, CloseReason::MessageTimeout);
}
