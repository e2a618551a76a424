//! The UAS core's retransmission of a 2xx to an INVITE until its ACK arrives (RFC 3261 §13.3.1.4).
//!
//! The INVITE server transaction hands the first 2xx to the transport and then leaves it to the TU: the 2xx
//! goes again after T1, 2·T1, 4·T1 … capped at T2, whatever the transport (a proxy further on may use UDP),
//! until the ACK arrives. After 64·T1 without ACK the dialog is confirmed but the session should end, with a
//! BYE.

use crate::message::Response;
use crate::transaction::{TimerConfig, TransactionId};
use std::time::{Duration, Instant};

/// What is due at a deadline of an [`OkRetransmission`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OkStep {
    /// Send the 2xx again; the next deadline has been set.
    Retransmit,
    /// 64·T1 passed without ACK: stop and end the session.
    GiveUp,
}

/// The schedule of one 2xx awaiting its ACK.
#[derive(Debug, Clone)]
pub(crate) struct OkRetransmission {
    /// The INVITE server transaction (in the Accepted state) that sends the copies.
    pub(crate) transaction: TransactionId,
    /// The 2xx.
    pub(crate) response: Response,
    /// The CSeq number of the INVITE, which the ACK repeats.
    pub(crate) cseq: u32,
    interval: Duration,
    t2: Duration,
    next: Instant,
    give_up: Instant,
}

impl OkRetransmission {
    /// Start after the first copy of `response` was sent at `now`.
    pub(crate) fn start(
        transaction: TransactionId,
        response: Response,
        cseq: u32,
        now: Instant,
        timers: &TimerConfig,
    ) -> OkRetransmission {
        let t1 = timers.t1.max(Duration::from_millis(1));
        OkRetransmission {
            transaction,
            response,
            cseq,
            interval: t1,
            t2: timers.t2.max(t1),
            next: now + t1,
            give_up: now + t1.saturating_mul(64),
        }
    }

    /// When [`OkRetransmission::fire`] is due.
    pub(crate) fn deadline(&self) -> Instant {
        self.next.min(self.give_up)
    }

    /// Run the deadline reached at `now`.
    pub(crate) fn fire(&mut self, now: Instant) -> OkStep {
        if now >= self.give_up {
            return OkStep::GiveUp;
        }
        self.interval = self.interval.saturating_mul(2).min(self.t2);
        self.next = now + self.interval;
        OkStep::Retransmit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::StatusCode;
    use crate::transaction::{Target, TransactionEvent, TransactionLayer, TransportKind};

    fn some_transaction() -> TransactionId {
        let mut layer = TransactionLayer::new(TimerConfig::DEFAULT);
        let wire = bytes::Bytes::from_static(
            b"OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
              From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c\r\n\
              CSeq: 1 OPTIONS\r\n\r\n",
        );
        let source = Target::new(TransportKind::Udp, "192.0.2.1:5060".parse().unwrap());
        let message = crate::parse::parse_message(wire).unwrap();
        layer
            .handle_incoming(Instant::now(), message, source)
            .unwrap();
        match layer.poll_event() {
            Some(TransactionEvent::NewRequest { id, .. }) => id,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn intervals_double_up_to_t2_then_give_up_at_64_t1() {
        let now = Instant::now();
        let timers = TimerConfig::DEFAULT;
        let ok = Response::builder(StatusCode::OK).build();
        let mut r = OkRetransmission::start(some_transaction(), ok, 1, now, &timers);
        let mut sent = Vec::new();
        loop {
            let at = r.deadline();
            match r.fire(at) {
                OkStep::Retransmit => sent.push(at.duration_since(now).as_millis()),
                OkStep::GiveUp => {
                    assert_eq!(at.duration_since(now), Duration::from_secs(32));
                    break;
                }
            }
        }
        assert_eq!(&sent[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
        assert_eq!(sent.last(), Some(&31500));
    }
}
