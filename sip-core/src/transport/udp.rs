//! UDP: one message per datagram.

use super::error::TransportError;
use super::layer::{Arrival, Shared};
use super::target::{FlowId, Target, TransportKind};
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::UdpSocket;

/// The largest UDP payload over IPv4 (65535 minus the IP and UDP headers).
const MAX_DATAGRAM: usize = 65_507;

/// The receive buffer asked for on every UDP socket. The kernel's default (`net.core.rmem_default`, often
/// 208 KiB) holds well under a second of a busy proxy's traffic, so a burst arriving while the receive task
/// waits for a core is dropped by the kernel; Kamailio asks for up to 4 MiB (`maxbuffer`) for the same
/// reason. The kernel caps the request at `net.core.rmem_max`.
const RECEIVE_BUFFER: usize = 4 << 20;

/// Ask for a [`RECEIVE_BUFFER`]-sized receive buffer; a refusal keeps the default, which still works.
pub(crate) fn enlarge_receive_buffer(socket: &UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    let current = socket.recv_buffer_size().unwrap_or(0);
    if current < RECEIVE_BUFFER {
        let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
    }
}

/// One bound UDP socket; its flow id names it in [`Target::flow`].
#[derive(Debug, Clone)]
pub(crate) struct UdpEndpoint {
    pub(crate) flow: FlowId,
    pub(crate) socket: Arc<UdpSocket>,
    pub(crate) local: SocketAddr,
}

/// Receive on socket `index` until the layer shuts down or the event receiver is dropped.
pub(crate) async fn receive(shared: Arc<Shared>, index: usize) {
    let Some(endpoint) = shared.udp.get(index).cloned() else {
        return;
    };
    // One byte more than the limit, so that a datagram over the limit shows as one (and is answered 513).
    let slot = shared.limits.max_message_size.saturating_add(1).min(65_536);
    // One reused receive buffer; each datagram is copied out into an allocation of its own size. Splitting
    // datagrams off a shared `BytesMut` instead made every receive after the first block allocate a fresh
    // slot-sized (64 KiB) buffer (a shared `BytesMut` cannot be reused), touching new pages on every message,
    // and let any long-lived slice of a message (a registrar binding's Call-ID, a transaction's request)
    // pin the whole buffer. Copying a few hundred bytes is far cheaper than either.
    let mut buf = vec![0u8; slot];
    loop {
        let (n, source) = match endpoint.socket.recv_from(&mut buf).await {
            Ok(received) => received,
            // ICMP errors reported on the socket and the like concern one peer, not the socket.
            Err(_) => continue,
        };
        let datagram = buf.get(..n).map(Bytes::copy_from_slice).unwrap_or_default();
        let from = Arrival {
            source,
            local: endpoint.local,
            transport: TransportKind::Udp,
            flow: endpoint.flow,
        };
        if !shared.deliver_datagram(datagram, from).await {
            return;
        }
    }
}

/// Send one datagram from the socket `target.flow` names, or from one of the target's address family.
pub(crate) async fn send(
    shared: &Shared,
    target: Target,
    payload: &Bytes,
) -> Result<FlowId, TransportError> {
    if payload.len() > MAX_DATAGRAM {
        return Err(TransportError::MessageTooLarge {
            len: payload.len(),
            limit: MAX_DATAGRAM,
        });
    }
    let endpoint = pick(&shared.udp, target).ok_or(TransportError::NoSocket(TransportKind::Udp))?;
    let addr = reachable_from(endpoint.local, target.addr);
    endpoint
        .socket
        .send_to(payload, addr)
        .await
        .map_err(|e| TransportError::Send {
            addr: target.addr,
            kind: e.kind(),
        })?;
    shared.stats.messages_out.bump();
    Ok(endpoint.flow)
}

/// The socket to send from: the flow's, else the first of the target's family, else a dual-stack one.
fn pick(sockets: &[UdpEndpoint], target: Target) -> Option<&UdpEndpoint> {
    let by_flow = target
        .flow
        .and_then(|flow| sockets.iter().find(|s| s.flow == flow));
    by_flow
        .or_else(|| {
            sockets
                .iter()
                .find(|s| s.local.is_ipv4() == target.addr.is_ipv4())
        })
        .or_else(|| {
            sockets
                .iter()
                .find(|s| s.local.is_ipv6() && s.local.ip().is_unspecified())
        })
}

/// `addr` as a socket bound to `local` can reach it: IPv4 addresses are mapped for IPv6 sockets.
fn reachable_from(local: SocketAddr, addr: SocketAddr) -> SocketAddr {
    match (local, addr) {
        (SocketAddr::V6(_), SocketAddr::V4(v4)) => {
            SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
        }
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_receive_buffer_grows_up_to_what_the_kernel_allows() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        enlarge_receive_buffer(&socket);
        let granted = socket2::SockRef::from(&socket).recv_buffer_size().unwrap();
        // Linux caps the request at net.core.rmem_max (and reports twice what it granted, for bookkeeping).
        let cap = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|text| text.trim().parse::<usize>().ok())
            .unwrap_or(RECEIVE_BUFFER);
        assert!(
            granted >= RECEIVE_BUFFER.min(cap),
            "receive buffer {granted} < min({RECEIVE_BUFFER}, rmem_max {cap})"
        );
    }
}
