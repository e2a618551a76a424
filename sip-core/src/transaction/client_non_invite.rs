//! The non-INVITE client transaction (RFC 3261 §17.1.2, figure 6).

use super::timers::{due, earliest};
use super::{
    Outbox, Target, Timer, TimerConfig, TransactionEvent, TransactionId, TransactionState,
};
use crate::message::Response;
use bytes::Bytes;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// Sends a non-INVITE request, retransmits it on unreliable transports (Timer E, T1 doubling up to T2),
/// gives up after 64·T1 (Timer F) and absorbs retransmitted final responses for T4 (Timer K).
#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    id: TransactionId,
    target: Target,
    request: Bytes,
    state: State,
    timer_e: Option<Instant>,
    interval_e: Duration,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
}

impl ClientNonInvite {
    /// Send `request` (already serialized) to `target`.
    pub(crate) fn start(
        id: TransactionId,
        request: Bytes,
        target: Target,
        now: Instant,
        config: &TimerConfig,
        out: &mut Outbox,
    ) -> ClientNonInvite {
        out.send(id, target, request.clone());
        let reliable = target.transport.is_reliable();
        ClientNonInvite {
            id,
            target,
            request,
            state: State::Trying,
            timer_e: (!reliable).then(|| now + config.t1),
            interval_e: config.t1,
            timer_f: Some(now + config.timeout()),
            timer_k: None,
        }
    }

    pub(crate) fn state(&self) -> TransactionState {
        match self.state {
            State::Trying => TransactionState::Trying,
            State::Proceeding => TransactionState::Proceeding,
            State::Completed => TransactionState::Completed,
            State::Terminated => TransactionState::Terminated,
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        earliest([self.timer_e, self.timer_f, self.timer_k])
    }

    pub(crate) fn on_response(
        &mut self,
        response: Response,
        now: Instant,
        config: &TimerConfig,
        out: &mut Outbox,
    ) {
        if matches!(self.state, State::Completed | State::Terminated) {
            // Retransmitted final responses are absorbed; Timer K exists for them.
            return;
        }
        let status = response.status();
        out.event(TransactionEvent::Response {
            id: self.id,
            response,
        });
        if status.is_provisional() {
            self.state = State::Proceeding;
            return;
        }
        self.timer_e = None;
        self.timer_f = None;
        if self.target.transport.is_reliable() {
            self.state = State::Terminated;
        } else {
            self.state = State::Completed;
            self.timer_k = Some(now + config.t4);
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, config: &TimerConfig, out: &mut Outbox) {
        if due(self.timer_f, now) {
            out.event(TransactionEvent::Timeout {
                id: self.id,
                timer: Timer::F,
            });
            self.terminate();
            return;
        }
        if due(self.timer_k, now) {
            self.terminate();
            return;
        }
        if due(self.timer_e, now) {
            self.retransmit(now, config, out);
        }
    }

    fn retransmit(&mut self, now: Instant, config: &TimerConfig, out: &mut Outbox) {
        out.send(self.id, self.target, self.request.clone());
        self.interval_e = match self.state {
            // In Proceeding the request is retransmitted every T2 (§17.1.2.2).
            State::Proceeding => config.t2,
            _ => self.interval_e.saturating_mul(2).min(config.t2),
        };
        self.timer_e = Some(now + self.interval_e);
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Outbox) {
        out.event(TransactionEvent::TransportError { id: self.id });
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Timer, TransactionEvent, TransactionState};
    use crate::method::StatusCode;

    #[test]
    fn timer_e_doubles_from_t1_and_stays_at_t2() {
        let mut h = Harness::new();
        let id = h.send(options(), UDP);
        assert_eq!(h.sent_count(), 1);
        // Retransmissions at 0.5, 1.5, 3.5, 7.5, 11.5, 15.5 … seconds.
        let times = h.retransmission_times_until(ms(16_000));
        assert_eq!(times, [500, 1500, 3500, 7500, 11500, 15500]);
        assert_eq!(h.layer.state(id), Some(TransactionState::Trying));
    }

    #[test]
    fn timer_f_times_out_after_64_t1_and_removes_the_transaction() {
        let mut h = Harness::new();
        let id = h.send(options(), UDP);
        h.advance(ms(31_999));
        assert!(h.layer.state(id).is_some());
        h.drain_transmits();
        h.advance(ms(32_000));
        assert_eq!(
            h.events(),
            [
                TransactionEvent::Timeout {
                    id,
                    timer: Timer::F
                },
                TransactionEvent::Terminated { id }
            ]
        );
        assert!(h.layer.is_empty());
        assert_eq!(h.layer.poll_timeout(), None);
    }

    #[test]
    fn provisional_response_switches_retransmissions_to_t2() {
        let mut h = Harness::new();
        let id = h.send(options(), UDP);
        h.advance(ms(600));
        let request = h.last_sent_request();
        h.receive_response(&request, StatusCode::TRYING);
        assert!(matches!(
            &h.events()[..],
            [TransactionEvent::Response { .. }]
        ));
        assert_eq!(h.layer.state(id), Some(TransactionState::Proceeding));
        // Timer E was armed for 1.5 s; from then on every T2.
        let times = h.retransmission_times_until(ms(10_000));
        assert_eq!(times, [1500, 5500, 9500]);
    }

    #[test]
    fn final_response_is_delivered_once_and_retransmissions_absorbed_until_timer_k() {
        let mut h = Harness::new();
        let id = h.send(options(), UDP);
        let request = h.last_sent_request();
        h.drain_transmits();
        h.receive_response(&request, StatusCode::OK);
        h.receive_response(&request, StatusCode::OK);
        let events = h.events();
        assert_eq!(events.len(), 1);
        assert_eq!(h.layer.state(id), Some(TransactionState::Completed));
        h.advance(ms(4_999));
        assert!(
            h.drain_transmits().is_empty(),
            "no retransmission after a final response"
        );
        assert_eq!(h.layer.state(id), Some(TransactionState::Completed));
        h.advance(ms(5_000));
        assert_eq!(h.events(), [TransactionEvent::Terminated { id }]);
        assert!(h.layer.is_empty());
    }

    #[test]
    fn reliable_transport_neither_retransmits_nor_waits_after_the_final_response() {
        let mut h = Harness::new();
        let id = h.send(options(), TCP);
        h.advance(ms(20_000));
        assert_eq!(h.sent_count(), 1);
        let request = h.last_sent_request();
        h.receive_response(&request, StatusCode::NOT_FOUND);
        assert!(matches!(
            &h.events()[..],
            [
                TransactionEvent::Response { .. },
                TransactionEvent::Terminated { id: t }
            ] if *t == id
        ));
        assert!(h.layer.is_empty());
    }

    #[test]
    fn reliable_transport_still_times_out_with_timer_f() {
        let mut h = Harness::new();
        let id = h.send(options(), TCP);
        h.advance(ms(32_000));
        assert_eq!(
            h.events(),
            [
                TransactionEvent::Timeout {
                    id,
                    timer: Timer::F
                },
                TransactionEvent::Terminated { id }
            ]
        );
    }

    #[test]
    fn transport_error_is_reported_and_ends_the_transaction() {
        let mut h = Harness::new();
        let id = h.send(options(), UDP);
        h.layer.handle_transport_error(h.now, id);
        assert_eq!(
            h.events(),
            [
                TransactionEvent::TransportError { id },
                TransactionEvent::Terminated { id }
            ]
        );
        assert!(h.layer.is_empty());
    }
}
