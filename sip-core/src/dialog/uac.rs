//! Sending requests within a dialog and processing their responses (RFC 3261 §12.2.1, §13.2.2.4, §14.1).

use super::id::{DialogId, generate_branch};
use super::{Dialog, DialogError, DialogState, RouteSet, first_contact, required};
use crate::header::{CSeq, FromHeader, HeaderName, MAX_CSEQ, MaxForwards, NameAddr, ToHeader, Via};
use crate::message::{HeaderField, Headers, Request, RequestBuilder, Response};
use crate::method::Method;
use bytes::Bytes;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Max-Forwards of every request a UA originates (RFC 3261 §8.1.1.6).
const MAX_FORWARDS: u8 = 70;

/// What the TU does after [`Dialog::handle_response`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseAction {
    /// Nothing more for the dialog: the TU processes the response as it wishes.
    Continue,
    /// A 2xx to an INVITE: build the ACK with [`Dialog::ack`], send it, and hand it to [`Dialog::ack_sent`]
    /// so that retransmissions of this 2xx get the same ACK.
    SendAck {
        /// The CSeq number of the INVITE being acknowledged.
        cseq: u32,
    },
    /// A retransmission of a 2xx already acknowledged: send this ACK again (RFC 3261 §13.2.2.4).
    ResendAck(Box<Request>),
    /// The peer refused the request with 491 (glare): retry after a delay drawn from this range with
    /// [`super::random_delay`] (RFC 3261 §14.1).
    RetryAfter(RangeInclusive<Duration>),
    /// The dialog is now terminated (failed initial INVITE, 481 or 408, response to a BYE).
    Terminated,
}

impl Dialog {
    /// Start a request of `method` within the dialog (RFC 3261 §12.2.1.1): BYE, re-INVITE, UPDATE, INFO,
    /// REFER, NOTIFY, PRACK, OPTIONS, MESSAGE, SUBSCRIBE or an extension.
    ///
    /// The builder holds `via` (given a fresh `z9hG4bK` branch when it has none), `Max-Forwards: 70`, the Route
    /// set, To and From with the dialog's tags, Call-ID, the next local CSeq and, for target refresh requests
    /// and REFER, the local Contact. The Request-URI is the remote target, or the first route when it is a
    /// strict router. The TU adds the rest (body, RAck, Event, Refer-To, credentials) and builds it.
    ///
    /// Sending an INVITE marks it pending until its final response: a second INVITE, or one while the
    /// peer's INVITE is unanswered, is refused with [`DialogError::InvitePending`] (§14.1). ACK and CANCEL are
    /// refused: see [`Dialog::ack`] and [`cancel_request`].
    pub fn request(&mut self, method: Method, via: Via) -> Result<RequestBuilder, DialogError> {
        if matches!(method, Method::Ack | Method::Cancel) {
            return Err(DialogError::UnsupportedMethod(method));
        }
        if self.state == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        let invite = method == Method::Invite;
        if invite && (self.pending_invite.is_some() || self.pending_remote_invite.is_some()) {
            return Err(DialogError::InvitePending);
        }
        let seq = self.next_local_seq()?;
        let with_contact = is_target_refresh(&method) || method == Method::Refer;
        let mut builder = self.start(method, seq, via);
        if with_contact && let Some(contact) = &self.local_contact {
            builder = builder.field(HeaderField::new(HeaderName::Contact, written(contact)));
        }
        if invite {
            self.pending_invite = Some(seq);
        }
        Ok(builder)
    }

    /// Start the ACK for a 2xx `response` to an INVITE (RFC 3261 §13.2.2.4): built like any request within
    /// the dialog, with the INVITE's CSeq number and method ACK, and `via` with a fresh branch when it has
    /// none. Call it after [`Dialog::handle_response`] so that a remote target refreshed by the 2xx is used.
    ///
    /// The TU adds a body when the 2xx carried the offer, and the INVITE's credentials; once sent, it hands
    /// the ACK to [`Dialog::ack_sent`].
    pub fn ack(&self, response: &Response, via: Via) -> Result<RequestBuilder, DialogError> {
        let cseq: CSeq = required(response.headers())?;
        if !response.status().is_success() || cseq.method != Method::Invite {
            return Err(DialogError::NotA2xxToInvite);
        }
        self.check_response_id(response)?;
        Ok(self.start(Method::Ack, cseq.seq, via))
    }

    /// Remember the ACK sent for a 2xx, so that [`Dialog::handle_response`] answers the 2xx's
    /// retransmissions with it.
    pub fn ack_sent(&mut self, ack: &Request) {
        if let Some(Ok(cseq)) = ack.headers().cseq() {
            self.last_ack = Some((cseq.seq, ack.clone()));
        }
    }

    /// Process a response to a request this UA sent within the dialog, including the dialog-creating INVITE
    /// (RFC 3261 §12.2.1.2, §13.2.2.4, §14.1). See [`ResponseAction`] for what the TU does next.
    ///
    /// * 1xx to the initial INVITE with a Contact: the early dialog's remote target is updated.
    /// * 2xx to an INVITE: the early dialog is confirmed and its route set recomputed from the 2xx; a
    ///   target refresh updates the remote target; the TU must ACK. A 2xx already acknowledged is a
    ///   retransmission and gets the same ACK again.
    /// * 2xx to UPDATE, SUBSCRIBE or NOTIFY with a Contact: the remote target is updated.
    /// * A final non-2xx to the initial INVITE, 481 or 408 to any request, or any final response to a BYE:
    ///   the dialog terminates.
    /// * 491: the TU retries after a delay from the §14.1 range.
    ///
    /// A response whose Call-ID or tags name another dialog (another fork, say) is
    /// [`DialogError::NotThisDialog`].
    pub fn handle_response(&mut self, response: &Response) -> Result<ResponseAction, DialogError> {
        self.check_response_id(response)?;
        let cseq: CSeq = required(response.headers())?;
        let status = response.status();
        if status.is_provisional() {
            if cseq.method == Method::Invite && self.state == DialogState::Early {
                self.refresh_target(response.headers())?;
            }
            return Ok(ResponseAction::Continue);
        }
        if cseq.method == Method::Invite && self.pending_invite == Some(cseq.seq) {
            self.pending_invite = None;
        }
        if status.is_success() {
            return self.handle_success(response, &cseq);
        }
        let code = status.as_u16();
        let ends_dialog = cseq.method == Method::Bye
            || code == 481
            || code == 408
            || (cseq.method == Method::Invite && self.state == DialogState::Early);
        if ends_dialog {
            self.state = DialogState::Terminated;
            return Ok(ResponseAction::Terminated);
        }
        if code == 491 {
            return Ok(ResponseAction::RetryAfter(self.glare_backoff()));
        }
        Ok(ResponseAction::Continue)
    }

    fn handle_success(
        &mut self,
        response: &Response,
        cseq: &CSeq,
    ) -> Result<ResponseAction, DialogError> {
        match cseq.method {
            Method::Invite => {
                if let Some((seq, ack)) = &self.last_ack
                    && *seq == cseq.seq
                {
                    return Ok(ResponseAction::ResendAck(Box::new(ack.clone())));
                }
                if self.state == DialogState::Early {
                    self.route_set = RouteSet::from_response_record_route(response.headers())?;
                    self.state = DialogState::Confirmed;
                }
                self.refresh_target(response.headers())?;
                Ok(ResponseAction::SendAck { cseq: cseq.seq })
            }
            Method::Bye => {
                self.state = DialogState::Terminated;
                Ok(ResponseAction::Terminated)
            }
            ref m if is_target_refresh(m) => {
                self.refresh_target(response.headers())?;
                Ok(ResponseAction::Continue)
            }
            _ => Ok(ResponseAction::Continue),
        }
    }

    /// Replace the remote target with the message's Contact, if it has one.
    pub(super) fn refresh_target(&mut self, headers: &Headers) -> Result<(), DialogError> {
        if let Some(contact) = first_contact(headers)? {
            self.remote_target = contact.uri().clone();
        }
        Ok(())
    }

    /// Check that a received response names this dialog: same Call-ID, From tag = local tag, To tag = remote
    /// tag.
    fn check_response_id(&self, response: &Response) -> Result<(), DialogError> {
        if DialogId::from_received_response(response)? != self.id {
            return Err(DialogError::NotThisDialog);
        }
        Ok(())
    }

    fn next_local_seq(&mut self) -> Result<u32, DialogError> {
        // A UAS's first request may start anywhere below 2^31 (§12.2.1.1); 1 leaves the most room.
        let next = match self.local_seq {
            None => 1,
            Some(seq) if seq >= MAX_CSEQ => return Err(DialogError::CSeqExhausted),
            Some(seq) => seq + 1,
        };
        self.local_seq = Some(next);
        Ok(next)
    }

    /// The request line and the header fields every request within the dialog carries.
    fn start(&self, method: Method, seq: u32, via: Via) -> RequestBuilder {
        let target = self.route_set.target(&self.remote_target);
        let via = if via.branch().is_some() {
            via
        } else {
            via.with_branch(&generate_branch())
        };
        let mut builder = Request::builder(method.clone(), target.uri.clone())
            .typed(&via)
            .typed(&MaxForwards(MAX_FORWARDS));
        for route in target.route_fields() {
            builder = builder.field(route);
        }
        builder
            .typed(&ToHeader(self.remote_uri.clone()))
            .typed(&FromHeader(self.local_uri.clone()))
            .field(HeaderField::new(
                HeaderName::CallId,
                self.id.call_id.as_bytes().clone(),
            ))
            .typed(&CSeq { seq, method })
    }
}

/// Requests that replace the remote target with their Contact: INVITE (RFC 3261 §12.2), UPDATE (RFC 3311),
/// SUBSCRIBE and NOTIFY (RFC 6665).
pub(super) fn is_target_refresh(method: &Method) -> bool {
    matches!(
        method,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify
    )
}

/// The CANCEL for a pending `request` (RFC 3261 §9.1): same Request-URI, top Via, Route, Call-ID, From, To and
/// CSeq number as the request, method CANCEL. CANCEL never takes a new local CSeq.
pub fn cancel_request(request: &Request) -> Result<Request, DialogError> {
    let headers = request.headers();
    let cseq: CSeq = required(headers)?;
    let via = headers
        .elements(HeaderName::Via)
        .next()
        .ok_or(DialogError::MissingHeader(HeaderName::Via))?;
    let mut builder = Request::builder(Method::Cancel, request.uri().clone())
        .header(HeaderName::Via, via.value.clone())
        .typed(&MaxForwards(MAX_FORWARDS));
    for route in headers.get_all(&HeaderName::Route) {
        builder = builder.field(route.clone());
    }
    for name in [HeaderName::To, HeaderName::From, HeaderName::CallId] {
        let field = headers
            .get(&name)
            .ok_or_else(|| DialogError::MissingHeader(name.clone()))?;
        builder = builder.field(field.clone());
    }
    Ok(builder
        .typed(&CSeq {
            seq: cseq.seq,
            method: Method::Cancel,
        })
        .build())
}

fn written(addr: &NameAddr) -> Bytes {
    let mut out = Vec::new();
    addr.write_to(&mut out);
    Bytes::from(out)
}
