//! The INVITE client transaction (RFC 3261 §17.1.1, figure 5, with RFC 6026's Accepted state).

use super::cancel::request_like_invite;
use super::timers::{due, earliest};
use super::{
    Outbox, Target, Timer, TimerConfig, TransactionEvent, TransactionId, TransactionState,
};
use crate::header::HeaderName;
use crate::message::{Request, Response};
use crate::method::Method;
use bytes::Bytes;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

/// Sends an INVITE, retransmits it on unreliable transports (Timer A, T1 doubling) until a response or
/// Timer B; acknowledges non-2xx final responses itself (and their retransmissions, until Timer D); after a
/// 2xx, passes further 2xx responses to the TU until Timer M (RFC 6026).
#[derive(Debug)]
pub(crate) struct ClientInvite {
    id: TransactionId,
    target: Target,
    /// The INVITE, kept to build the ACK (§17.1.1.3) and the CANCEL (§9.1) from.
    invite: Request,
    wire: Bytes,
    ack: Option<Bytes>,
    state: State,
    timer_a: Option<Instant>,
    interval_a: Duration,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
    timer_cancel: Option<Instant>,
}

impl ClientInvite {
    /// Send `invite` (serialized as `wire`) to `target`.
    pub(crate) fn start(
        id: TransactionId,
        invite: Request,
        wire: Bytes,
        target: Target,
        now: Instant,
        config: &TimerConfig,
        out: &mut Outbox,
    ) -> ClientInvite {
        out.send(id, target, wire.clone());
        let reliable = target.transport.is_reliable();
        ClientInvite {
            id,
            target,
            invite,
            wire,
            ack: None,
            state: State::Calling,
            timer_a: (!reliable).then(|| now + config.t1),
            interval_a: config.t1,
            timer_b: Some(now + config.timeout()),
            timer_d: None,
            timer_m: None,
            timer_cancel: None,
        }
    }

    pub(crate) fn state(&self) -> TransactionState {
        match self.state {
            State::Calling => TransactionState::Calling,
            State::Proceeding => TransactionState::Proceeding,
            State::Completed => TransactionState::Completed,
            State::Accepted => TransactionState::Accepted,
            State::Terminated => TransactionState::Terminated,
        }
    }

    pub(crate) fn invite(&self) -> &Request {
        &self.invite
    }

    pub(crate) fn target(&self) -> Target {
        self.target
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        earliest([
            self.timer_a,
            self.timer_b,
            self.timer_d,
            self.timer_m,
            self.timer_cancel,
        ])
    }

    /// A CANCEL for this INVITE was sent: give up 64·T1 later if no final response comes (§9.1).
    pub(crate) fn cancel_sent(&mut self, now: Instant, config: &TimerConfig) {
        if matches!(self.state, State::Calling | State::Proceeding) {
            self.timer_cancel = Some(now + config.timeout());
        }
    }

    pub(crate) fn on_response(
        &mut self,
        response: Response,
        now: Instant,
        config: &TimerConfig,
        out: &mut Outbox,
    ) {
        let status = response.status();
        match self.state {
            State::Calling | State::Proceeding if status.is_provisional() => {
                self.state = State::Proceeding;
                // §17.1.1.2: no more retransmissions, and Timer B only guards Calling.
                self.timer_a = None;
                self.timer_b = None;
                self.deliver(response, out);
            }
            State::Calling | State::Proceeding if status.is_success() => {
                self.clear_timers();
                self.state = State::Accepted;
                self.timer_m = Some(now + config.timeout());
                self.deliver(response, out);
            }
            State::Calling | State::Proceeding => {
                self.clear_timers();
                self.acknowledge(&response, out);
                self.deliver(response, out);
                self.complete(now, config);
            }
            State::Completed if !status.is_provisional() && !status.is_success() => {
                // A retransmitted final response: our ACK was lost.
                if let Some(ack) = &self.ack {
                    out.send(self.id, self.target, ack.clone());
                }
            }
            State::Accepted if status.is_success() => self.deliver(response, out),
            _ => {}
        }
    }

    fn deliver(&self, response: Response, out: &mut Outbox) {
        out.event(TransactionEvent::Response {
            id: self.id,
            response,
        });
    }

    /// Build and send the ACK for a non-2xx final response (§17.1.1.3), keeping it for retransmissions.
    fn acknowledge(&mut self, response: &Response, out: &mut Outbox) {
        let Some(to) = response.headers().get(&HeaderName::To) else {
            return;
        };
        // The INVITE was validated when the transaction started, so this only fails on a broken To.
        let Ok(ack) = request_like_invite(&self.invite, Method::Ack, to.clone()) else {
            return;
        };
        let wire = ack.to_bytes();
        out.send(self.id, self.target, wire.clone());
        self.ack = Some(wire);
    }

    fn complete(&mut self, now: Instant, config: &TimerConfig) {
        if self.target.transport.is_reliable() {
            self.state = State::Terminated;
        } else {
            self.state = State::Completed;
            self.timer_d = Some(now + config.timer_d);
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        let expired = if due(self.timer_b, now) {
            Some(Timer::B)
        } else if due(self.timer_cancel, now) {
            Some(Timer::Cancel)
        } else {
            None
        };
        if let Some(timer) = expired {
            out.event(TransactionEvent::Timeout { id: self.id, timer });
            self.terminate();
            return;
        }
        if due(self.timer_d, now) || due(self.timer_m, now) {
            self.terminate();
            return;
        }
        if due(self.timer_a, now) {
            out.send(self.id, self.target, self.wire.clone());
            // INVITE retransmissions keep doubling; Timer B bounds them (§17.1.1.2).
            self.interval_a = self.interval_a.saturating_mul(2);
            self.timer_a = Some(now + self.interval_a);
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Outbox) {
        out.event(TransactionEvent::TransportError { id: self.id });
        self.terminate();
    }

    fn clear_timers(&mut self) {
        self.timer_a = None;
        self.timer_b = None;
        self.timer_d = None;
        self.timer_m = None;
        self.timer_cancel = None;
    }

    fn terminate(&mut self) {
        self.clear_timers();
        self.state = State::Terminated;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Timer, TransactionEvent, TransactionState};
    use crate::header::HeaderName;
    use crate::method::{Method, StatusCode};

    #[test]
    fn timer_a_doubles_without_a_cap_until_timer_b() {
        let mut h = Harness::new();
        let id = h.send(invite("z9hG4bKinv1"), UDP);
        let times = h.retransmission_times_until(ms(40_000));
        assert_eq!(times, [500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(
            h.events(),
            [
                TransactionEvent::Timeout {
                    id,
                    timer: Timer::B
                },
                TransactionEvent::Terminated { id }
            ]
        );
        assert!(h.layer.is_empty());
    }

    #[test]
    fn provisional_response_stops_retransmissions_and_timer_b() {
        let mut h = Harness::new();
        let id = h.send(invite("z9hG4bKinv1"), UDP);
        let request = h.last_sent_request();
        h.receive_response(&request, StatusCode::RINGING);
        assert_eq!(h.layer.state(id), Some(TransactionState::Proceeding));
        h.advance(ms(120_000));
        assert_eq!(h.sent_count(), 1);
        assert!(matches!(
            &h.events()[..],
            [TransactionEvent::Response { .. }]
        ));
        assert_eq!(h.layer.state(id), Some(TransactionState::Proceeding));
    }

    #[test]
    fn non_2xx_final_response_is_acknowledged_inside_the_transaction() {
        let mut h = Harness::new();
        let id = h.send(invite_with_route("z9hG4bKinv1"), UDP);
        let request = h.last_sent_request();
        h.receive_response(&request, StatusCode::BUSY_HERE);
        let ack = h.last_sent_request();
        assert_eq!(ack.method(), &Method::Ack);
        assert_eq!(ack.uri(), request.uri());
        let response_to = h
            .last_received_response()
            .headers()
            .get(&HeaderName::To)
            .cloned();
        assert_eq!(ack.headers().get(&HeaderName::To).cloned(), response_to);
        for name in [HeaderName::From, HeaderName::CallId, HeaderName::Route] {
            assert_eq!(
                field_values(&ack, &name),
                field_values(&request, &name),
                "{name:?}"
            );
        }
        assert_eq!(
            field_values(&ack, &HeaderName::Via),
            ["SIP/2.0/UDP client.example.com:5060;branch=z9hG4bKinv1"]
        );
        assert_eq!(field_values(&ack, &HeaderName::CSeq), ["1 ACK"]);
        assert!(matches!(
            &h.events()[..],
            [TransactionEvent::Response { response, .. }] if response.status() == StatusCode::BUSY_HERE
        ));
        assert_eq!(h.layer.state(id), Some(TransactionState::Completed));
    }

    #[test]
    fn retransmitted_final_response_is_answered_with_the_same_ack_bytes_until_timer_d() {
        let mut h = Harness::new();
        let id = h.send(invite("z9hG4bKinv1"), UDP);
        let request = h.last_sent_request();
        h.receive_response(&request, StatusCode::BUSY_HERE);
        let first_ack = h.drain_transmits().pop().unwrap().payload;
        h.advance(ms(1_000));
        h.receive_response(&request, StatusCode::BUSY_HERE);
        let again = h.drain_transmits();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].payload, first_ack);
        assert_eq!(
            again[0].payload.as_ptr(),
            first_ack.as_ptr(),
            "ACK bytes reused"
        );
        assert_eq!(
            h.events().len(),
            1,
            "the retransmission is not passed to the TU"
        );
        h.advance(ms(31_999));
        assert_eq!(h.layer.state(id), Some(TransactionState::Completed));
        h.advance(ms(32_000));
        assert_eq!(h.events(), [TransactionEvent::Terminated { id }]);
        assert!(h.layer.is_empty());
    }

    #[test]
    fn reliable_transport_terminates_right_after_the_ack() {
        let mut h = Harness::new();
        let id = h.send(invite("z9hG4bKinv1"), TCP);
        let request = h.last_sent_request();
        h.receive_response(&request, StatusCode::BUSY_HERE);
        assert_eq!(h.last_sent_request().method(), &Method::Ack);
        assert!(matches!(
            &h.events()[..],
            [TransactionEvent::Response { .. }, TransactionEvent::Terminated { id: t }] if *t == id
        ));
    }

    #[test]
    fn reliable_transport_sends_the_invite_once() {
        let mut h = Harness::new();
        let id = h.send(invite("z9hG4bKinv1"), TCP);
        h.advance(ms(32_000));
        assert_eq!(h.sent_count(), 1);
        assert_eq!(
            h.events(),
            [
                TransactionEvent::Timeout {
                    id,
                    timer: Timer::B
                },
                TransactionEvent::Terminated { id }
            ]
        );
    }

    #[test]
    fn accepted_state_passes_2xx_retransmissions_to_the_tu_until_timer_m() {
        let mut h = Harness::new();
        let id = h.send(invite("z9hG4bKinv1"), UDP);
        let request = h.last_sent_request();
        h.receive_response(&request, StatusCode::OK);
        assert_eq!(h.layer.state(id), Some(TransactionState::Accepted));
        assert_eq!(h.sent_count(), 1, "no ACK for a 2xx from the transaction");
        h.advance(ms(500));
        h.receive_response(&request, StatusCode::OK);
        h.receive_response(&request, StatusCode::RINGING);
        let events = h.events();
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| matches!(
            e,
            TransactionEvent::Response { response, .. } if response.status() == StatusCode::OK
        )));
        h.advance(ms(32_000));
        assert_eq!(h.events(), [TransactionEvent::Terminated { id }]);
        assert_eq!(h.sent_count(), 1, "nothing was retransmitted");
    }

    #[test]
    fn provisional_after_final_is_ignored() {
        let mut h = Harness::new();
        let _id = h.send(invite("z9hG4bKinv1"), UDP);
        let request = h.last_sent_request();
        h.receive_response(&request, StatusCode::NOT_FOUND);
        h.events();
        h.receive_response(&request, StatusCode::RINGING);
        assert!(h.events().is_empty());
    }

    #[test]
    fn transport_error_while_calling_is_reported() {
        let mut h = Harness::new();
        let id = h.send(invite("z9hG4bKinv1"), TCP);
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
