//! SIP over WebSocket (RFC 7118): the `sip` subprotocol handshake, one SIP message per WebSocket message.

use super::event::CloseReason;
use super::layer::{BoxedIo, Connection, Session, Shared, now};
use super::target::FlowId;
use crate::error::{ParseError, ParseErrorKind};
use crate::parse::Limits;
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};

/// An accepted WebSocket connection.
pub(crate) type WsStream = WebSocketStream<BoxedIo>;
/// Its write side.
pub(crate) type WsSink = SplitSink<WsStream, WsMessage>;
/// Its read side.
pub(crate) type WsSource = SplitStream<WsStream>;

/// The subprotocol RFC 7118 §4 registers.
const SUBPROTOCOL: &str = "sip";

/// tungstenite's read buffer per connection (its default, 128 KiB, is a lot for SIP messages).
const READ_BUFFER: usize = 16 * 1024;

/// Set by the byte stream under a WebSocket when bytes arrive, cleared by the reader when a message is
/// complete: the reader cannot see frames being assembled, and needs to know that one has started to apply
/// the message timeout.
#[derive(Debug, Default)]
pub(crate) struct ReadMark {
    started: AtomicBool,
    /// Wakes the reader when `started` is set, so that it arms the message deadline.
    notify: Notify,
}

/// A byte stream that sets a [`ReadMark`] when bytes arrive.
struct Watched {
    inner: BoxedIo,
    mark: Arc<ReadMark>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before && !self.mark.started.swap(true, Ordering::AcqRel) {
            self.mark.notify.notify_one();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The server side of the WebSocket upgrade over `io`, requiring the `sip` subprotocol.
pub(crate) async fn accept(io: BoxedIo, limits: &Limits) -> io::Result<Session> {
    let mark = Arc::new(ReadMark::default());
    let watched: BoxedIo = Box::new(Watched {
        inner: io,
        mark: mark.clone(),
    });
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(limits.max_message_size))
        .max_frame_size(Some(limits.max_message_size));
    let stream = tokio_tungstenite::accept_hdr_async_with_config(
        watched,
        require_sip_subprotocol,
        Some(config),
    )
    .await
    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    // The handshake's own bytes do not start a SIP message.
    mark.started.store(false, Ordering::Release);
    Ok(Session::Ws(Box::new(stream), mark))
}

/// Accept the upgrade only if the client offers `sip` (RFC 7118 §4), and select it; otherwise answer 400.
// The signature is tungstenite's callback contract; the error response is as large as it makes it.
#[allow(clippy::result_large_err)]
fn require_sip_subprotocol(
    request: &Request,
    mut response: Response,
) -> Result<Response, ErrorResponse> {
    let offers_sip = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case(SUBPROTOCOL));
    if !offers_sip {
        let mut refusal = ErrorResponse::new(Some(
            "SIP over WebSocket needs the \"sip\" subprotocol (RFC 7118)".to_owned(),
        ));
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refusal);
    }
    response.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    Ok(response)
}

/// Read a WebSocket connection: each text or binary message is one SIP message (parsed like a datagram);
/// pings are answered by tungstenite. Returns why the connection must close.
pub(crate) async fn read(
    shared: &Shared,
    flow: FlowId,
    conn: &Connection,
    mut source: WsSource,
    mark: &ReadMark,
) -> CloseReason {
    loop {
        if mark.started.load(Ordering::Acquire) {
            shared.table().on_read(flow, now(), true);
        }
        let Some(deadline) = shared.next_deadline(flow) else {
            return CloseReason::Local;
        };
        let next = tokio::select! {
            next = source.next() => next,
            () = mark.notify.notified() => continue,
            () = conn.closing.notified() => return CloseReason::Local,
            () = tokio::time::sleep_until(deadline) => match shared.expiry(flow) {
                Some(reason) => return reason,
                None => continue,
            },
        };
        // Bytes already buffered for a next message are not seen here; at worst its start is noticed when
        // its next bytes arrive, or the idle timeout ends a peer that stops in the middle of it.
        mark.started.store(false, Ordering::Release);
        shared.table().on_read(flow, now(), false);
        let payload = match next {
            Some(Ok(WsMessage::Text(text))) => Bytes::from(text),
            Some(Ok(WsMessage::Binary(binary))) => binary,
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => continue,
            Some(Ok(WsMessage::Close(_))) | None => return CloseReason::PeerClosed,
            Some(Err(error)) => return read_error(shared, error),
        };
        if !shared.deliver_datagram(payload, conn.arrival(flow)).await {
            return CloseReason::Shutdown;
        }
    }
}

/// Why a WebSocket read failed, as a close reason.
fn read_error(shared: &Shared, error: WsError) -> CloseReason {
    match error {
        WsError::ConnectionClosed | WsError::AlreadyClosed => CloseReason::PeerClosed,
        WsError::Capacity(_) => {
            shared.stats.malformed.bump();
            let limit = shared.limits.max_message_size;
            CloseReason::Malformed(ParseError {
                offset: limit,
                kind: ParseErrorKind::MessageTooLarge { limit },
                expected: "a smaller WebSocket message",
            })
        }
        WsError::Io(e) => CloseReason::ReadFailed(e.kind()),
        _ => CloseReason::ReadFailed(io::ErrorKind::InvalidData),
    }
}

/// Send one SIP message as one WebSocket message: text when it is UTF-8, binary otherwise (RFC 7118 §5.1).
pub(crate) async fn send(sink: &mut WsSink, payload: &Bytes) -> io::Result<()> {
    let message = match Utf8Bytes::try_from(payload.clone()) {
        Ok(text) => WsMessage::Text(text),
        Err(_) => WsMessage::Binary(payload.clone()),
    };
    sink.send(message).await.map_err(|e| match e {
        WsError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::BrokenPipe, other),
    })
}

/// Start the WebSocket closing handshake.
pub(crate) async fn close(sink: &mut WsSink) {
    let _ = sink.close().await;
}
