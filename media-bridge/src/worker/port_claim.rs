//! Port pairs claimed when the control plane hands them out: both UDP sockets are bound then, so a pair held
//! by another process (or another relay) is skipped instead of answered with, and the worker that serves
//! the stream takes the bound sockets instead of binding again.
//!
//! A pair can be released and claimed again for another stream while an older update of its first stream is
//! still on its way to a worker. So that such a stale update never takes (or binds) the ports of the new
//! stream, the sockets go to a stream in the order the control thread dispatches updates, under the relay's
//! lock ([`ClaimedPorts::hand_over`]): an update whose stream no longer holds its ports is not dispatched at
//! all, and a worker takes sockets by stream, never by port alone.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::session::{LegMedia, PortClaim, PortPair, Relay, StreamId};

/// The sockets of one claimed pair.
#[derive(Debug)]
pub(crate) struct ClaimedSockets {
    pub(crate) rtp: UdpSocket,
    pub(crate) rtcp: UdpSocket,
}

/// Sockets bound for claimed pairs and not yet taken by a worker.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClaimedPorts(Arc<Mutex<Claims>>);

#[derive(Debug, Default)]
struct Claims {
    /// Claimed by the control plane, not yet handed to a stream; by RTP port.
    unassigned: HashMap<u16, ClaimedSockets>,
    /// Handed to a stream by the control thread, not yet taken by its worker; by stream and RTP port.
    assigned: HashMap<(StreamId, u16), ClaimedSockets>,
}

impl ClaimedPorts {
    fn lock(&self) -> MutexGuard<'_, Claims> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `media`, an update just drained from `relay` (whose lock the caller holds, so no pair is
    /// claimed or released meanwhile), is still current: its stream still holds its ports. A current update
    /// is given the sockets claimed for its pair, if they are still unassigned (the stream's first update).
    /// A stale one (the stream was removed or moved to other ports since) must not reach a worker: its pair
    /// may already be claimed again for another stream.
    pub(crate) fn hand_over(&self, relay: &Relay, media: &LegMedia) -> bool {
        let current = relay
            .media(media.id)
            .is_some_and(|now| now.ports == media.ports);
        if current {
            let rtp = media.ports.rtp();
            let mut claims = self.lock();
            if let Some(sockets) = claims.unassigned.remove(&rtp) {
                claims.assigned.insert((media.id, rtp), sockets);
            }
        }
        current
    }

    /// Takes the sockets handed to `stream` for the pair whose RTP port is `rtp`, if they are still here.
    pub(crate) fn take(&self, stream: StreamId, rtp: u16) -> Option<ClaimedSockets> {
        self.lock().assigned.remove(&(stream, rtp))
    }

    fn insert(&self, rtp: u16, sockets: ClaimedSockets) {
        self.lock().unassigned.insert(rtp, sockets);
    }

    /// Closes the sockets of a released pair that no stream was given. Sockets already handed to a stream
    /// stay until its worker takes them (and closes them when the stream goes): until then the pair cannot
    /// be claimed again, and the pool skips it.
    fn release(&self, rtp: u16) {
        drop(self.lock().unassigned.remove(&rtp));
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
        self.claimed.release(pair.rtp());
    }
}

/// A non-blocking UDP socket on `ip:port`.
pub(crate) fn bind_socket(ip: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, port))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{DeleteRequest, MediaUpdate, OfferRequest, RelayConfig, SessionError};
    use std::net::Ipv4Addr;
    use std::time::Instant;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
        m=audio 49170 RTP/AVP 0\r\n";

    /// The first of four consecutive loopback UDP ports that are free now (room for one call: two pairs),
    /// below the ephemeral range so that no socket bound to port 0 takes them meanwhile, and outside the
    /// ranges other tests use (20000-29999 for the data-plane tests, 30000-40000 by default).
    fn four_free_ports() -> u16 {
        const SLOTS: u32 = 2000;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let seed = std::process::id() % SLOTS;
        for _ in 0..SLOTS {
            let next = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Ok(slot) = u16::try_from((seed + next) % SLOTS) else {
                continue;
            };
            let first = 10_000 + slot * 4;
            let held: Vec<_> = (first..first + 4)
                .map_while(|port| UdpSocket::bind((LOOPBACK, port)).ok())
                .collect();
            if held.len() == 4 {
                return first;
            }
        }
        panic!("no four consecutive free UDP ports on loopback");
    }

    /// A relay with room for exactly one call, claiming its pairs into the returned [`ClaimedPorts`].
    fn one_call_relay() -> (Relay, ClaimedPorts) {
        let first = four_free_ports();
        let config = RelayConfig::new(LOOPBACK).with_ports(first..=first + 3);
        let mut relay = Relay::new(config).unwrap();
        let claimed = ClaimedPorts::default();
        relay.set_port_claim(Box::new(SocketClaim::new(LOOPBACK, claimed.clone())));
        (relay, claimed)
    }

    fn call(relay: &mut Relay, id: &str) -> Result<(), SessionError> {
        let offer = OfferRequest::new(id, "a", OFFER.parse().unwrap());
        relay.offer(offer, Instant::now()).map(drop)
    }

    /// What the control thread does: drain the updates, hand the sockets over. Returns the streams whose
    /// upserts were dispatched, with their RTP ports, and how many were held back as stale.
    fn dispatch(relay: &mut Relay, claimed: &ClaimedPorts) -> (Vec<(StreamId, u16)>, usize) {
        let (mut dispatched, mut stale) = (Vec::new(), 0);
        while let Some(update) = relay.poll_update() {
            if let MediaUpdate::Upsert(media) = update {
                match claimed.hand_over(relay, &media) {
                    true => dispatched.push((media.id, media.ports.rtp())),
                    false => stale += 1,
                }
            }
        }
        (dispatched, stale)
    }

    fn local_port(sockets: &ClaimedSockets) -> u16 {
        sockets.rtp.local_addr().unwrap().port()
    }

    #[test]
    fn a_stale_update_of_a_pair_claimed_again_is_held_back_and_the_new_stream_gets_its_sockets() {
        let (mut relay, claimed) = one_call_relay();
        call(&mut relay, "one").unwrap();
        let first_streams: Vec<StreamId> = relay
            .query("one")
            .unwrap()
            .legs
            .iter()
            .flat_map(|l| l.media.iter().map(|m| m.id))
            .collect();
        // Before the control thread saw call one's updates, it went and its pairs were claimed for call two.
        relay.delete(&DeleteRequest::new("one")).unwrap();
        call(&mut relay, "two").unwrap();
        let (dispatched, stale) = dispatch(&mut relay, &claimed);
        assert_eq!(stale, 2, "both streams of call one are stale");
        assert_eq!(dispatched.len(), 2);
        for (stream, rtp) in dispatched {
            assert!(!first_streams.contains(&stream));
            // A stale open of call one's stream on the same port finds nothing to take.
            for &old in &first_streams {
                assert!(claimed.take(old, rtp).is_none());
            }
            let sockets = claimed.take(stream, rtp).expect("call two's own sockets");
            assert_eq!(local_port(&sockets), rtp);
        }
    }

    #[test]
    fn a_pair_handed_to_a_stream_is_not_claimed_again_until_its_worker_took_and_closed_it() {
        let (mut relay, claimed) = one_call_relay();
        call(&mut relay, "one").unwrap();
        let (first, stale) = dispatch(&mut relay, &claimed);
        assert_eq!((first.len(), stale), (2, 0));
        // Call one goes before its worker opened its streams: the sockets handed over still hold the ports.
        relay.delete(&DeleteRequest::new("one")).unwrap();
        assert!(matches!(
            call(&mut relay, "two"),
            Err(SessionError::PortsExhausted { .. })
        ));
        // The worker opens call one's streams late (and closes them on their Remove).
        for &(stream, rtp) in &first {
            let sockets = claimed.take(stream, rtp).expect("call one's sockets");
            assert_eq!(local_port(&sockets), rtp);
        }
        call(&mut relay, "two").unwrap();
        let (second, stale) = dispatch(&mut relay, &claimed);
        assert_eq!((second.len(), stale), (2, 0));
        for (stream, rtp) in second {
            assert!(claimed.take(stream, rtp).is_some());
        }
    }
}
