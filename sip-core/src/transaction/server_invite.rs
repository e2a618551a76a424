//! The INVITE server transaction (RFC 3261 §17.2.1, figure 7, with RFC 6026's Accepted state).

use super::timers::{due, earliest};
use super::{
    Outbox, Target, Timer, TimerConfig, TransactionError, TransactionEvent, TransactionId,
    TransactionState,
};
use crate::message::{Request, Response};
use crate::method::StatusCode;
use bytes::Bytes;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// Answers INVITE retransmissions with the last response, sends `100 Trying` if the TU is slow, retransmits
/// a non-2xx final response on unreliable transports (Timer G) until the ACK arrives or Timer H fires, and
/// after a 2xx absorbs INVITE retransmissions until Timer L (RFC 6026).
#[derive(Debug)]
pub(crate) struct ServerInvite {
    id: TransactionId,
    source: Target,
    /// The INVITE, kept only until a response exists (to build `100 Trying` from).
    invite: Option<Request>,
    last_response: Option<Bytes>,
    state: State,
    timer_trying: Option<Instant>,
    timer_g: Option<Instant>,
    interval_g: Duration,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
}

impl ServerInvite {
    /// A transaction for `invite`, received from `source`.
    pub(crate) fn new(
        id: TransactionId,
        invite: Request,
        source: Target,
        now: Instant,
        config: &TimerConfig,
    ) -> ServerInvite {
        ServerInvite {
            id,
            source,
            invite: Some(invite),
            last_response: None,
            state: State::Proceeding,
            timer_trying: Some(now + config.trying_delay),
            timer_g: None,
            interval_g: config.t1,
            timer_h: None,
            timer_i: None,
            timer_l: None,
        }
    }

    pub(crate) fn state(&self) -> TransactionState {
        match self.state {
            State::Proceeding => TransactionState::Proceeding,
            State::Completed => TransactionState::Completed,
            State::Confirmed => TransactionState::Confirmed,
            State::Accepted => TransactionState::Accepted,
            State::Terminated => TransactionState::Terminated,
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        earliest([
            self.timer_trying,
            self.timer_g,
            self.timer_h,
            self.timer_i,
            self.timer_l,
        ])
    }

    /// The INVITE was received again.
    pub(crate) fn on_retransmission(&self, out: &mut Outbox) {
        // In Proceeding the last provisional (if any) is repeated, in Completed the final response; after a
        // 2xx or the ACK retransmissions are absorbed.
        if matches!(self.state, State::Proceeding | State::Completed)
            && let Some(response) = &self.last_response
        {
            out.send(self.id, self.source, response.clone());
        }
    }

    /// An ACK matched this transaction.
    pub(crate) fn on_ack(
        &mut self,
        ack: Request,
        source: Target,
        now: Instant,
        config: &TimerConfig,
        out: &mut Outbox,
    ) {
        match self.state {
            State::Completed => {
                self.timer_g = None;
                self.timer_h = None;
                if self.source.transport.is_reliable() {
                    self.state = State::Terminated;
                } else {
                    self.state = State::Confirmed;
                    self.timer_i = Some(now + config.t4);
                }
            }
            // RFC 6026 §7.1: an ACK in Accepted goes to the TU (it acknowledges the 2xx).
            State::Accepted => out.event(TransactionEvent::Ack {
                id: Some(self.id),
                request: ack,
                source,
            }),
            _ => {}
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
        let status = response.status();
        match self.state {
            State::Proceeding => {}
            // The TU retransmits its 2xx itself (§13.3.1.4), and a forking proxy may forward several.
            State::Accepted if status.is_success() => {}
            _ => return Err(TransactionError::InvalidState(self.state())),
        }
        let wire = response.to_bytes();
        out.send(self.id, self.source, wire.clone());
        self.timer_trying = None;
        self.invite = None;
        if status.is_provisional() {
            self.last_response = Some(wire);
        } else if status.is_success() {
            self.accept(now, config);
        } else {
            self.last_response = Some(wire);
            self.complete(now, config);
        }
        Ok(())
    }

    fn accept(&mut self, now: Instant, config: &TimerConfig) {
        if self.state == State::Accepted {
            return;
        }
        self.state = State::Accepted;
        self.last_response = None;
        self.timer_l = Some(now + config.timeout());
    }

    fn complete(&mut self, now: Instant, config: &TimerConfig) {
        self.state = State::Completed;
        self.timer_h = Some(now + config.timeout());
        if !self.source.transport.is_reliable() {
            self.interval_g = config.t1;
            self.timer_g = Some(now + config.t1);
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, config: &TimerConfig, out: &mut Outbox) {
        if due(self.timer_h, now) {
            // The ACK never came (§17.2.1).
            out.event(TransactionEvent::Timeout {
                id: self.id,
                timer: Timer::H,
            });
            self.terminate();
            return;
        }
        if due(self.timer_i, now) || due(self.timer_l, now) {
            self.terminate();
            return;
        }
        if due(self.timer_trying, now) {
            self.send_trying(out);
        }
        if due(self.timer_g, now) {
            if let Some(response) = &self.last_response {
                out.send(self.id, self.source, response.clone());
            }
            self.interval_g = self.interval_g.saturating_mul(2).min(config.t2);
            self.timer_g = Some(now + self.interval_g);
        }
    }

    /// §17.2.1: a `100 Trying` when the TU has not answered within [`TimerConfig::trying_delay`].
    fn send_trying(&mut self, out: &mut Outbox) {
        self.timer_trying = None;
        let Some(invite) = self.invite.take() else {
            return;
        };
        let wire = Response::from_request(&invite, StatusCode::TRYING, None)
            .build()
            .to_bytes();
        out.send(self.id, self.source, wire.clone());
        self.last_response = Some(wire);
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Outbox) {
        out.event(TransactionEvent::TransportError { id: self.id });
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.invite = None;
        self.timer_trying = None;
        self.timer_g = None;
        self.timer_h = None;
        self.timer_i = None;
        self.timer_l = None;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Timer, TransactionError, TransactionEvent, TransactionState};
    use crate::message::Response;
    use crate::method::{Method, StatusCode};

    #[test]
    fn sends_100_trying_200_ms_after_an_unanswered_invite() {
        let mut h = Harness::new();
        let (id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs1"), UDP);
        h.advance(ms(199));
        assert_eq!(h.sent_count(), 0);
        h.advance(ms(200));
        let trying = h.last_sent_response();
        assert_eq!(trying.status(), StatusCode::TRYING);
        assert_eq!(
            trying.headers().get(&crate::HeaderName::Via),
            invite.headers().get(&crate::HeaderName::Via)
        );
        assert_eq!(h.layer.state(id), Some(TransactionState::Proceeding));
        h.advance(ms(10_000));
        assert_eq!(h.sent_count(), 1, "100 Trying is sent once");
    }

    #[test]
    fn no_100_trying_when_the_tu_answers_first() {
        let mut h = Harness::new();
        let (id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs1"), UDP);
        h.advance(ms(150));
        h.respond(id, &invite, StatusCode::RINGING);
        h.advance(ms(1_000));
        assert_eq!(h.sent_count(), 1);
        assert_eq!(h.last_sent_response().status(), StatusCode::RINGING);
    }

    #[test]
    fn retransmitted_invite_gets_the_last_provisional_response_again() {
        let mut h = Harness::new();
        let (id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs1"), UDP);
        h.receive(invite.clone(), UDP);
        assert_eq!(h.sent_count(), 0, "nothing to repeat yet");
        h.respond(id, &invite, StatusCode::RINGING);
        h.receive(invite.clone(), UDP);
        let sent = h.drain_transmits();
        assert_eq!(sent.len(), 2);
        assert_eq!(
            sent[0].payload.as_ptr(),
            sent[1].payload.as_ptr(),
            "same bytes"
        );
        assert!(h.events().is_empty(), "retransmissions are absorbed");
    }

    #[test]
    fn timer_g_retransmits_a_non_2xx_final_response_doubling_up_to_t2() {
        let mut h = Harness::new();
        let (id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs1"), UDP);
        h.respond(id, &invite, StatusCode::BUSY_HERE);
        let times = h.retransmission_times_until(ms(20_000));
        assert_eq!(times, [500, 1500, 3500, 7500, 11500, 15500, 19500]);
        let payloads: Vec<_> = h.drain_transmits().into_iter().map(|t| t.payload).collect();
        assert!(payloads.windows(2).all(|w| w[0].as_ptr() == w[1].as_ptr()));
    }

    #[test]
    fn timer_h_reports_the_missing_ack_and_removes_the_transaction() {
        let mut h = Harness::new();
        let (id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs1"), UDP);
        h.respond(id, &invite, StatusCode::BUSY_HERE);
        h.advance(ms(31_999));
        assert!(h.events().is_empty());
        h.advance(ms(32_000));
        assert_eq!(
            h.events(),
            [
                TransactionEvent::Timeout {
                    id,
                    timer: Timer::H
                },
                TransactionEvent::Terminated { id }
            ]
        );
        assert!(h.layer.is_empty());
    }

    #[test]
    fn ack_for_a_non_2xx_response_is_absorbed_and_confirms() {
        let mut h = Harness::new();
        let (id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs1"), UDP);
        h.respond(id, &invite, StatusCode::BUSY_HERE);
        h.advance(ms(600));
        let response = h.last_sent_response();
        let ack = ack_for(&invite, &response);
        h.receive(ack.clone(), UDP);
        assert_eq!(h.layer.state(id), Some(TransactionState::Confirmed));
        h.receive(ack, UDP);
        h.receive(invite, UDP);
        let sent_before = h.sent_count();
        h.advance(ms(5_599));
        assert_eq!(
            h.sent_count(),
            sent_before,
            "no more Timer G, INVITE absorbed"
        );
        assert!(h.events().is_empty());
        h.advance(ms(5_600));
        assert_eq!(h.events(), [TransactionEvent::Terminated { id }]);
        assert!(h.layer.is_empty());
    }

    #[test]
    fn retransmitted_invite_in_completed_gets_the_final_response() {
        let mut h = Harness::new();
        let (id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs1"), UDP);
        h.respond(id, &invite, StatusCode::NOT_FOUND);
        h.receive(invite, UDP);
        let sent = h.drain_transmits();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].payload, sent[1].payload);
    }

    #[test]
    fn reliable_transport_has_no_timer_g_and_no_timer_i() {
        let mut h = Harness::new();
        let (id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs1"), TCP);
        h.respond(id, &invite, StatusCode::BUSY_HERE);
        h.advance(ms(10_000));
        assert_eq!(h.sent_count(), 1);
        let ack = ack_for(&invite, &h.last_sent_response());
        h.receive(ack, TCP);
        assert_eq!(h.events(), [TransactionEvent::Terminated { id }]);
        assert!(h.layer.is_empty());
    }

    #[test]
    fn accepted_absorbs_invite_retransmissions_and_passes_acks_to_the_tu() {
        let mut h = Harness::new();
        let (id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs1"), UDP);
        h.respond(id, &invite, StatusCode::OK);
        assert_eq!(h.layer.state(id), Some(TransactionState::Accepted));
        h.receive(invite.clone(), UDP);
        assert_eq!(
            h.sent_count(),
            1,
            "INVITE retransmission absorbed after a 2xx"
        );
        // The TU retransmits its 2xx (§13.3.1.4) through the transaction.
        h.respond(id, &invite, StatusCode::OK);
        assert_eq!(h.sent_count(), 2);
        // An ACK reusing the INVITE's branch matches the transaction and is handed to the TU.
        let ack = ack_for(&invite, &h.last_sent_response());
        h.receive(ack, UDP);
        assert!(matches!(
            &h.events()[..],
            [TransactionEvent::Ack { id: Some(t), request, .. }] if *t == id && request.method() == &Method::Ack
        ));
        h.advance(ms(31_999));
        assert_eq!(h.layer.state(id), Some(TransactionState::Accepted));
        h.advance(ms(32_000));
        assert_eq!(h.events(), [TransactionEvent::Terminated { id }]);
    }

    #[test]
    fn a_second_final_response_is_refused() {
        let mut h = Harness::new();
        let (id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs1"), UDP);
        h.respond(id, &invite, StatusCode::BUSY_HERE);
        let again = Response::from_request(&invite, StatusCode::OK, Some("uas")).build();
        assert_eq!(
            h.layer.respond(h.now, id, again),
            Err(TransactionError::InvalidState(TransactionState::Completed))
        );
        let provisional = Response::from_request(&invite, StatusCode::RINGING, Some("uas")).build();
        assert_eq!(
            h.layer.respond(h.now, id, provisional.clone()),
            Err(TransactionError::InvalidState(TransactionState::Completed))
        );
    }

    #[test]
    fn transport_error_sending_a_response_is_reported() {
        let mut h = Harness::new();
        let (id, invite) = h.receive_new_request(incoming_invite("z9hG4bKs1"), TCP);
        h.respond(id, &invite, StatusCode::RINGING);
        h.layer.handle_transport_error(h.now, id);
        assert_eq!(
            h.events(),
            [
                TransactionEvent::TransportError { id },
                TransactionEvent::Terminated { id }
            ]
        );
    }
}
