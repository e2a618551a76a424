//! Connections: accepting and opening them (TCP, TLS, and the TCP under WebSocket), reading TCP and TLS
//! streams with the [`StreamFramer`], sending on them.

use super::connection_table::Origin;
use super::error::TransportError;
use super::event::CloseReason;
use super::layer::{BoxedIo, Connection, ReadHalfStream, Session, Shared, now, read_until_closed};
use super::target::{FlowId, Target, TransportKind};
use crate::parse::{Frame, StreamFramer};
use bytes::Bytes;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// Bytes read from a stream at once; one buffer per connection.
const READ_CHUNK: usize = 8 * 1024;

/// Pause after a failed accept (out of file descriptors, typically) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The single-CRLF pong answering a double-CRLF ping (RFC 5626 §3.5.1).
const PONG: &[u8] = b"\r\n";

/// Accept connections on `listener` for transport `kind` until the layer shuts down.
pub(crate) async fn accept(shared: Arc<Shared>, listener: TcpListener, kind: TransportKind) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let admitted = shared.table().admit(now(), kind, peer, Origin::Accepted);
        let Ok(flow) = admitted else {
            // Dropping the stream closes it at once.
            shared.stats.connections_refused.bump();
            continue;
        };
        tokio::spawn(serve_accepted(shared.clone(), tcp, peer, kind, flow));
    }
}

/// Run an accepted connection's handshake within its deadline, then read it until it closes.
async fn serve_accepted(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    kind: TransportKind,
    flow: FlowId,
) {
    let _ = tcp.set_nodelay(true);
    let (Ok(local), Some(deadline)) = (tcp.local_addr(), shared.next_deadline(flow)) else {
        shared.abandon(flow);
        return;
    };
    let session = match tokio::time::timeout_at(deadline, handshake(&shared, kind, tcp)).await {
        Ok(Ok(session)) => session,
        Ok(Err(_)) | Err(_) => {
            shared.abandon(flow);
            return;
        }
    };
    if let Some((conn, reader)) = shared.establish(flow, kind, peer, local, session) {
        read_until_closed(shared, flow, conn, reader).await;
    }
}

/// The server side of the TLS handshake and WebSocket upgrade, as `kind` needs.
async fn handshake(shared: &Shared, kind: TransportKind, tcp: TcpStream) -> io::Result<Session> {
    match kind {
        TransportKind::Tcp => Ok(Session::Stream(Box::new(tcp))),
        #[cfg(feature = "tls")]
        TransportKind::Tls => {
            let tls = shared.tls.accept(tcp).await?;
            Ok(Session::Stream(Box::new(tls)))
        }
        #[cfg(feature = "ws")]
        TransportKind::Ws => super::ws::accept(Box::new(tcp), &shared.limits).await,
        #[cfg(all(feature = "ws", feature = "tls"))]
        TransportKind::Wss => {
            let tls = shared.tls.accept(tcp).await?;
            super::ws::accept(Box::new(tls), &shared.limits).await
        }
        _ => {
            // Listeners are only started for available kinds.
            let _ = shared;
            Err(io::ErrorKind::Unsupported.into())
        }
    }
}

/// Send on a connection of `target.transport`, finding or opening it.
pub(crate) async fn send(
    shared: &Arc<Shared>,
    target: Target,
    payload: &Bytes,
) -> Result<FlowId, TransportError> {
    let (flow, conn) = connection_for(shared, target).await?;
    match conn
        .write(payload, shared.connection_limits.write_timeout)
        .await
    {
        Ok(()) => {
            shared.table().on_write(flow, now());
            shared.stats.messages_out.bump();
            Ok(flow)
        }
        Err(kind) => {
            shared.close(flow, CloseReason::SendFailed(kind)).await;
            Err(TransportError::Send {
                addr: conn.peer,
                kind,
            })
        }
    }
}

/// The connection `target` names: its flow if open, else the newest to its address, else a new one.
async fn connection_for(
    shared: &Arc<Shared>,
    target: Target,
) -> Result<(FlowId, Arc<Connection>), TransportError> {
    let can_open = matches!(target.transport, TransportKind::Tcp | TransportKind::Tls);
    if let Some(flow) = target.flow {
        let open = shared.table().handle(flow, target.transport);
        if let Some(conn) = open {
            return Ok((flow, conn));
        }
        if !can_open {
            return Err(TransportError::FlowClosed(flow));
        }
    }
    let existing = shared.table().find(target.transport, target.addr);
    if let Some(found) = existing {
        return Ok(found);
    }
    if !can_open {
        return Err(TransportError::NoConnection {
            transport: target.transport,
            addr: target.addr,
        });
    }
    open(shared, target.transport, target.addr, None).await
}

/// Open a TCP or TLS connection, register it and start reading it.
pub(crate) async fn open(
    shared: &Arc<Shared>,
    kind: TransportKind,
    addr: SocketAddr,
    server_name: Option<&str>,
) -> Result<(FlowId, Arc<Connection>), TransportError> {
    let admitted = shared.table().admit(now(), kind, addr, Origin::Opened);
    let flow = admitted.map_err(|refusal| {
        shared.stats.connections_refused.bump();
        TransportError::Refused(refusal)
    })?;
    let (session, local) = match dial(shared, kind, addr, server_name).await {
        Ok(dialed) => dialed,
        Err(e) => {
            shared.table().remove(flow);
            return Err(e);
        }
    };
    let (conn, reader) = shared
        .establish(flow, kind, addr, local, session)
        .ok_or(TransportError::Shutdown)?;
    tokio::spawn(read_until_closed(
        shared.clone(),
        flow,
        conn.clone(),
        reader,
    ));
    Ok((flow, conn))
}

/// Connect to `addr` and run the client side of the TLS handshake if `kind` needs it.
async fn dial(
    shared: &Shared,
    kind: TransportKind,
    addr: SocketAddr,
    server_name: Option<&str>,
) -> Result<(Session, SocketAddr), TransportError> {
    let limits = shared.connection_limits;
    let failed = |kind: io::ErrorKind| TransportError::Connect { addr, kind };
    let tcp = match tokio::time::timeout(limits.connect_timeout, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(failed(e.kind())),
        Err(_) => return Err(failed(io::ErrorKind::TimedOut)),
    };
    let _ = tcp.set_nodelay(true);
    let local = tcp.local_addr().map_err(|e| failed(e.kind()))?;
    let io: BoxedIo = match kind {
        TransportKind::Tcp => Box::new(tcp),
        #[cfg(feature = "tls")]
        TransportKind::Tls => {
            let handshake = shared.tls.connect(tcp, addr, server_name);
            match tokio::time::timeout(limits.handshake_timeout, handshake).await {
                Ok(Ok(tls)) => Box::new(tls),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(failed(io::ErrorKind::TimedOut)),
            }
        }
        _ => {
            let _ = server_name;
            return Err(TransportError::NotAvailable(kind));
        }
    };
    Ok((Session::Stream(io), local))
}

/// Read a TCP or TLS connection: frame messages, answer keep-alive pings, enforce the table's deadlines.
/// Returns why the connection must close.
pub(crate) async fn read(
    shared: &Shared,
    flow: FlowId,
    conn: &Connection,
    mut reader: ReadHalfStream,
) -> CloseReason {
    let mut framer = StreamFramer::new(shared.limits);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let Some(deadline) = shared.next_deadline(flow) else {
            return CloseReason::Local;
        };
        let read = tokio::select! {
            read = reader.read(&mut buf) => read,
            () = conn.closing.notified() => return CloseReason::Local,
            () = tokio::time::sleep_until(deadline) => match shared.expiry(flow) {
                Some(reason) => return reason,
                None => continue,
            },
        };
        let data = match read {
            Ok(0) => return CloseReason::PeerClosed,
            Ok(n) => buf.get(..n).unwrap_or_default(),
            Err(e) => return CloseReason::ReadFailed(e.kind()),
        };
        if let Err(error) = framer.push(data) {
            shared.stats.malformed.bump();
            return CloseReason::Malformed(error);
        }
        match drain(shared, flow, conn, &mut framer).await {
            Ok(pending) => shared.table().on_read(flow, now(), pending),
            Err(reason) => return reason,
        }
    }
}

/// Hand on every complete frame; returns whether a message is left partly received.
async fn drain(
    shared: &Shared,
    flow: FlowId,
    conn: &Connection,
    framer: &mut StreamFramer,
) -> Result<bool, CloseReason> {
    // Bytes were just pushed, so until a frame completes they belong to a started message.
    let mut pending = true;
    loop {
        let frame = match framer.poll() {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(pending),
            Err(error) => {
                shared.stats.malformed.bump();
                return Err(CloseReason::Malformed(error));
            }
        };
        pending = framer.buffered() > 0;
        match frame {
            Frame::Message(message) => {
                if !shared.deliver(message, conn.arrival(flow)).await {
                    return Err(CloseReason::Shutdown);
                }
            }
            Frame::KeepAlivePing => {
                shared.stats.keepalives.bump();
                let pong = Bytes::from_static(PONG);
                if let Err(kind) = conn
                    .write(&pong, shared.connection_limits.write_timeout)
                    .await
                {
                    return Err(CloseReason::SendFailed(kind));
                }
            }
            Frame::KeepAlivePong => {}
        }
    }
}
