//! The non-INVITE server transaction (RFC 3261 §17.2.2, figure 8, with RFC 4320's rules on 100 and 408).

use super::timers::{due, earliest};
use super::{
    Outbox, Target, Timer, TimerConfig, TransactionError, TransactionEvent, TransactionId,
    TransactionState,
};
use crate::message::Response;
use crate::method::StatusCode;
use bytes::Bytes;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// Answers request retransmissions with the last response and absorbs them for 64·T1 after the final
/// response on unreliable transports (Timer J).
///
/// RFC 3261 gives the Trying and Proceeding states no timer, but RFC 4320 §4.2 forbids the 408 a TU would
/// send when it cannot answer in time; so that such a transaction does not live forever, it ends 64·T1 after
/// the request, when the client's Timer F has fired and no response could matter any more, reported as
/// [`Timer::F`].
#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    id: TransactionId,
    source: Target,
    state: State,
    last_response: Option<Bytes>,
    /// The earliest a `100` may go out over an unreliable transport (RFC 4320 §4.1).
    trying_allowed_at: Instant,
    held_trying: Option<Bytes>,
    timer_trying: Option<Instant>,
    timer_f: Option<Instant>,
    timer_j: Option<Instant>,
}

impl ServerNonInvite {
    /// A transaction for a request received from `source`.
    pub(crate) fn new(
        id: TransactionId,
        source: Target,
        now: Instant,
        config: &TimerConfig,
    ) -> ServerNonInvite {
        ServerNonInvite {
            id,
            source,
            state: State::Trying,
            last_response: None,
            trying_allowed_at: now + config.e_reaches_t2(),
            held_trying: None,
            timer_trying: None,
            timer_f: Some(now + config.timeout()),
            timer_j: None,
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
        earliest([self.timer_trying, self.timer_f, self.timer_j])
    }

    /// The request was received again: repeat the last response (none yet in Trying: absorbed).
    pub(crate) fn on_retransmission(&self, out: &mut Outbox) {
        if let Some(response) = &self.last_response {
            out.send(self.id, self.source, response.clone());
        }
    }

    /// The TU's response.
    pub(crate) fn respond(
        &mut self,
        response: &Response,
        now: Instant,
        config: &TimerConfig,
        out: &mut Outbox,
    ) -> Result<(), TransactionError> {
        if matches!(self.state, State::Completed | State::Terminated) {
            return Err(TransactionError::InvalidState(self.state()));
        }
        let status = response.status();
        if status.is_provisional() {
            return self.provisional(response, now, out);
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            return Err(TransactionError::forbidden(status));
        }
        let wire = response.to_bytes();
        out.send(self.id, self.source, wire.clone());
        self.held_trying = None;
        self.timer_trying = None;
        self.timer_f = None;
        self.last_response = Some(wire);
        if self.source.transport.is_reliable() {
            self.state = State::Terminated;
        } else {
            self.state = State::Completed;
            self.timer_j = Some(now + config.timeout());
        }
        Ok(())
    }

    fn provisional(
        &mut self,
        response: &Response,
        now: Instant,
        out: &mut Outbox,
    ) -> Result<(), TransactionError> {
        let status = response.status();
        if status != StatusCode::TRYING {
            return Err(TransactionError::forbidden(status));
        }
        let wire = response.to_bytes();
        if !self.source.transport.is_reliable() && now < self.trying_allowed_at {
            self.held_trying = Some(wire);
            self.timer_trying = Some(self.trying_allowed_at);
            return Ok(());
        }
        self.send_provisional(wire, out);
        Ok(())
    }

    fn send_provisional(&mut self, wire: Bytes, out: &mut Outbox) {
        out.send(self.id, self.source, wire.clone());
        self.last_response = Some(wire);
        self.state = State::Proceeding;
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        if due(self.timer_f, now) {
            out.event(TransactionEvent::Timeout {
                id: self.id,
                timer: Timer::F,
            });
            self.terminate();
            return;
        }
        if due(self.timer_j, now) {
            self.terminate();
            return;
        }
        if due(self.timer_trying, now) {
            self.timer_trying = None;
            if let Some(wire) = self.held_trying.take() {
                self.send_provisional(wire, out);
            }
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Outbox) {
        out.event(TransactionEvent::TransportError { id: self.id });
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.held_trying = None;
        self.timer_trying = None;
        self.timer_f = None;
        self.timer_j = None;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Timer, TransactionError, TransactionEvent, TransactionState};
    use crate::message::Response;
    use crate::method::StatusCode;

    #[test]
    fn retransmitted_request_is_absorbed_before_the_tu_answers() {
        let mut h = Harness::new();
        let (id, request) = h.receive_new_request(incoming_options("z9hG4bKn1"), UDP);
        h.receive(request, UDP);
        assert_eq!(h.sent_count(), 0);
        assert!(h.events().is_empty());
        assert_eq!(h.layer.state(id), Some(TransactionState::Trying));
    }

    #[test]
    fn retransmitted_request_gets_the_final_response_again_until_timer_j() {
        let mut h = Harness::new();
        let (id, request) = h.receive_new_request(incoming_options("z9hG4bKn1"), UDP);
        h.respond(id, &request, StatusCode::OK);
        h.advance(ms(10_000));
        h.receive(request.clone(), UDP);
        let sent = h.drain_transmits();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].payload.as_ptr(), sent[1].payload.as_ptr());
        h.advance(ms(31_999));
        assert_eq!(h.layer.state(id), Some(TransactionState::Completed));
        h.advance(ms(32_000));
        assert_eq!(h.events(), [TransactionEvent::Terminated { id }]);
        // After Timer J the same request is a new transaction.
        h.receive(request, UDP);
        assert!(matches!(
            &h.events()[..],
            [TransactionEvent::NewRequest { .. }]
        ));
    }

    #[test]
    fn never_sends_100_trying_on_its_own() {
        let mut h = Harness::new();
        let (id, _request) = h.receive_new_request(incoming_options("z9hG4bKn1"), UDP);
        h.advance(ms(31_999));
        assert_eq!(h.sent_count(), 0);
        assert_eq!(h.layer.state(id), Some(TransactionState::Trying));
    }

    #[test]
    fn unanswered_request_ends_silently_when_the_client_has_given_up() {
        let mut h = Harness::new();
        let (id, request) = h.receive_new_request(incoming_options("z9hG4bKn1"), UDP);
        h.advance(ms(32_000));
        assert_eq!(h.sent_count(), 0, "no 408 (RFC 4320 §4.2)");
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
        let late = Response::from_request(&request, StatusCode::OK, Some("uas")).build();
        assert_eq!(
            h.layer.respond(h.now, id, late),
            Err(TransactionError::UnknownTransaction(id))
        );
    }

    #[test]
    fn tu_100_over_udp_waits_until_timer_e_would_reach_t2() {
        let mut h = Harness::new();
        let (id, request) = h.receive_new_request(incoming_options("z9hG4bKn1"), UDP);
        h.advance(ms(100));
        h.respond(id, &request, StatusCode::TRYING);
        assert_eq!(h.sent_count(), 0);
        assert_eq!(h.layer.state(id), Some(TransactionState::Trying));
        h.advance(ms(3_499));
        assert_eq!(h.sent_count(), 0);
        h.advance(ms(3_500));
        assert_eq!(h.last_sent_response().status(), StatusCode::TRYING);
        assert_eq!(h.layer.state(id), Some(TransactionState::Proceeding));
    }

    #[test]
    fn held_100_is_dropped_when_the_final_response_comes_first() {
        let mut h = Harness::new();
        let (id, request) = h.receive_new_request(incoming_options("z9hG4bKn1"), UDP);
        h.respond(id, &request, StatusCode::TRYING);
        h.advance(ms(1_000));
        h.respond(id, &request, StatusCode::OK);
        h.advance(ms(5_000));
        let sent = h.drain_transmits();
        assert_eq!(sent.len(), 1);
        assert_eq!(h.last_sent_response().status(), StatusCode::OK);
    }

    #[test]
    fn tu_100_over_tcp_goes_out_at_once() {
        let mut h = Harness::new();
        let (id, request) = h.receive_new_request(incoming_options("z9hG4bKn1"), TCP);
        h.respond(id, &request, StatusCode::TRYING);
        assert_eq!(h.last_sent_response().status(), StatusCode::TRYING);
        assert_eq!(h.layer.state(id), Some(TransactionState::Proceeding));
    }

    #[test]
    fn refuses_408_and_provisionals_other_than_100_per_rfc_4320() {
        let mut h = Harness::new();
        let (id, request) = h.receive_new_request(incoming_options("z9hG4bKn1"), UDP);
        for status in [StatusCode::REQUEST_TIMEOUT, StatusCode::RINGING] {
            let response = Response::from_request(&request, status, Some("uas")).build();
            assert_eq!(
                h.layer.respond(h.now, id, response),
                Err(TransactionError::ForbiddenResponse(status.as_u16()))
            );
        }
        assert_eq!(h.sent_count(), 0);
        assert_eq!(h.layer.state(id), Some(TransactionState::Trying));
    }

    #[test]
    fn reliable_transport_terminates_on_the_final_response() {
        let mut h = Harness::new();
        let (id, request) = h.receive_new_request(incoming_options("z9hG4bKn1"), TCP);
        h.respond(id, &request, StatusCode::OK);
        assert_eq!(h.events(), [TransactionEvent::Terminated { id }]);
        assert!(h.layer.is_empty());
    }
}
