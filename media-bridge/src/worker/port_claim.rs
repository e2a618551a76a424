//! Port pairs claimed when the control plane hands them out: both UDP sockets are bound then, so a pair held
//! by another process (or another relay) is skipped instead of answered with, and the worker that serves
//! the stream takes the bound sockets instead of binding again.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, PoisonError};

use crate::session::{PortClaim, PortPair};

/// The sockets of one claimed pair.
#[derive(Debug)]
pub(crate) struct ClaimedSockets {
    pub(crate) rtp: UdpSocket,
    pub(crate) rtcp: UdpSocket,
}

/// Sockets bound for claimed pairs and not yet taken by a worker, by RTP port.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClaimedPorts(Arc<Mutex<HashMap<u16, ClaimedSockets>>>);

impl ClaimedPorts {
    /// Takes the sockets claimed for the pair whose RTP port is `rtp`, if they are still here.
    pub(crate) fn take(&self, rtp: u16) -> Option<ClaimedSockets> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&rtp)
    }

    fn insert(&self, rtp: u16, sockets: ClaimedSockets) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(rtp, sockets);
    }
}

/// The [`PortClaim`] of the packet path: binds both ports of a pair (non-blocking) on the data plane's
/// address and leaves the sockets in [`ClaimedPorts`] for the worker.
#[derive(Debug)]
pub(crate) struct SocketClaim {
    bind: IpAddr,
    claimed: ClaimedPorts,
}

impl SocketClaim {
    pub(crate) fn new(bind: IpAddr, claimed: ClaimedPorts) -> Self {
        SocketClaim { bind, claimed }
    }
}

impl PortClaim for SocketClaim {
    fn claim(&mut self, pair: PortPair) -> bool {
        let sockets = bind_socket(self.bind, pair.rtp()).and_then(|rtp| {
            Ok(ClaimedSockets {
                rtp,
                rtcp: bind_socket(self.bind, pair.rtcp())?,
            })
        });
        match sockets {
            Ok(sockets) => {
                self.claimed.insert(pair.rtp(), sockets);
                true
            }
            Err(error) => {
                tracing::debug!(ports = %pair, %error, "skipping a port pair that cannot be bound");
                false
            }
        }
    }

    fn release(&mut self, pair: PortPair) {
        // A worker that took the sockets closes them when the stream goes.
        drop(self.claimed.take(pair.rtp()));
    }
}

/// A non-blocking UDP socket on `ip:port`.
pub(crate) fn bind_socket(ip: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, port))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}
