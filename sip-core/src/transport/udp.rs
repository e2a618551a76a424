//! UDP: one message per datagram.

use super::error::TransportError;
use super::layer::{Arrival, Shared};
use super::target::{FlowId, Target, TransportKind};
use bytes::{Bytes, BytesMut};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::UdpSocket;

/// The largest UDP payload over IPv4 (65535 minus the IP and UDP headers).
const MAX_DATAGRAM: usize = 65_507;

/// Receive buffers are carved out of blocks of this many datagram-sized slots, so that a receive costs an
/// allocation only once per block (or when messages still hold the block).
const SLOTS_PER_BLOCK: usize = 4;

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
    let mut buf = BytesMut::with_capacity(slot * SLOTS_PER_BLOCK);
    loop {
        buf.reserve(slot);
        let (n, source) = match endpoint.socket.recv_buf_from(&mut buf).await {
            Ok(received) => received,
            // ICMP errors reported on the socket and the like concern one peer, not the socket.
            Err(_) => continue,
        };
        let datagram = buf.split_to(n).freeze();
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
