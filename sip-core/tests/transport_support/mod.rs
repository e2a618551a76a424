//! Helpers shared by the transport tests: messages, and waiting for events without hanging forever.
#![allow(dead_code)]

use bytes::Bytes;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tandem_sip_core::transport::{
    ConnectionLimits, FlowClosed, Incoming, IncomingError, TransportEvent, TransportKind,
    TransportLayer, response_target,
};
use tandem_sip_core::{Message, Response, StatusCode};
use tokio::sync::mpsc::Receiver;

/// How long a test waits for something that should happen at once; only a guard against hanging.
pub const GUARD: Duration = Duration::from_secs(20);

/// Wait for `future`, failing the test if it hangs.
pub async fn guarded<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(GUARD, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// An OPTIONS request with the given top Via and Call-ID.
pub fn options(via: &str, call_id: &str) -> String {
    format!(
        "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The next event, whatever it is.
pub async fn next_event(events: &mut Receiver<TransportEvent>) -> TransportEvent {
    guarded("a transport event", events.recv())
        .await
        .expect("the transport layer stopped")
}

/// The next received message (skipping nothing: any other event fails the test).
pub async fn next_incoming(events: &mut Receiver<TransportEvent>) -> Incoming {
    match next_event(events).await {
        TransportEvent::Message(incoming) => incoming,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The next malformed request.
pub async fn next_malformed(events: &mut Receiver<TransportEvent>) -> IncomingError {
    match next_event(events).await {
        TransportEvent::Malformed(malformed) => malformed,
        other => panic!("expected a malformed request, got {other:?}"),
    }
}

/// The next closed flow.
pub async fn next_closed(events: &mut Receiver<TransportEvent>) -> FlowClosed {
    match next_event(events).await {
        TransportEvent::FlowClosed(closed) => closed,
        other => panic!("expected a closed flow, got {other:?}"),
    }
}

/// The Call-ID of a message.
pub fn call_id(message: &Message) -> String {
    let call_id = message.headers().call_id().unwrap().unwrap();
    String::from_utf8_lossy(call_id.as_bytes()).into_owned()
}

/// A 200 OK to the request in `incoming`, sent where RFC 3261 §18.2.2 says.
pub async fn answer_ok(transports: &TransportLayer, incoming: &Incoming) -> Response {
    let request = incoming.message.as_request().expect("a request");
    let response = Response::from_request(request, StatusCode::OK, Some("b1")).build();
    let target = response_target(&response, Some(incoming.target())).expect("a route");
    transports
        .send(target, response.to_bytes())
        .await
        .expect("the response is sent");
    response
}

/// Start a layer listening on 127.0.0.1 with an ephemeral port for each kind.
pub async fn start(
    kinds: &[TransportKind],
    limits: ConnectionLimits,
) -> (TransportLayer, Receiver<TransportEvent>) {
    let mut builder = TransportLayer::builder().connection_limits(limits);
    for &kind in kinds {
        builder = builder.listen(kind, loopback());
    }
    builder.start().await.expect("transports start")
}

/// 127.0.0.1, any port.
pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Parse a whole message from bytes read by a test client.
pub fn parse(bytes: &[u8]) -> Message {
    tandem_sip_core::parse_message(Bytes::copy_from_slice(bytes)).expect("a well-formed message")
}

/// Read from a client stream until the framer yields a frame.
pub async fn read_frame<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    framer: &mut tandem_sip_core::StreamFramer,
) -> tandem_sip_core::Frame {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 4096];
    loop {
        if let Some(frame) = framer.poll().expect("the server frames correctly") {
            return frame;
        }
        let n = guarded("bytes from the server", stream.read(&mut buf))
            .await
            .expect("read");
        assert!(n > 0, "the server closed the connection");
        framer.push(&buf[..n]).unwrap();
    }
}

/// Read from a client stream until it yields a message.
pub async fn read_message<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    framer: &mut tandem_sip_core::StreamFramer,
) -> Message {
    match read_frame(stream, framer).await {
        tandem_sip_core::Frame::Message(message) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Whether the server closed the stream: the next read ends (EOF or reset) instead of bringing bytes.
pub async fn closed_by_server<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 4096];
    loop {
        match guarded("the server to close", stream.read(&mut buf)).await {
            Ok(0) | Err(_) => return true,
            // Bytes still in flight (a pong, a WebSocket close frame) come before the end.
            Ok(_) => continue,
        }
    }
}

/// A WebSocket client handshake request for `url`, offering the `sip` subprotocol if `sip`.
#[cfg(feature = "ws")]
pub fn ws_request(
    url: &str,
    sip: bool,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    if sip {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    }
    request
}

/// The next text or binary message a WebSocket client receives, as a SIP message.
#[cfg(feature = "ws")]
pub async fn ws_next_message<S>(client: &mut tokio_tungstenite::WebSocketStream<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message as Ws;
    loop {
        match guarded("a WebSocket message", client.next()).await {
            Some(Ok(Ws::Text(text))) => return parse(text.as_bytes()),
            Some(Ok(Ws::Binary(binary))) => return parse(&binary),
            Some(Ok(_)) => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}
