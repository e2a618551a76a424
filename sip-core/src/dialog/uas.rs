//! Receiving requests within a dialog and answering them (RFC 3261 §12.2.2, §14.2, §15.1.2).

use super::glare::overlapping_invite_retry_after;
use super::uac::is_target_refresh;
use super::{Dialog, DialogError, DialogId, DialogState, required};
use crate::header::{CSeq, RetryAfter};
use crate::message::{HeaderField, Request, Response};
use crate::method::{Method, StatusCode};
use crate::validate::Rejection;
use std::borrow::Cow;

/// What the TU does with a request received within a dialog; see [`Dialog::handle_request`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestAction {
    /// Process the request (an ACK is absorbed by the TU: it ends the 2xx retransmissions).
    Accept,
    /// Answer with this rejection ([`Rejection::response`]); the request goes no further: 500 for an out of
    /// order CSeq, or an overlapping INVITE (with Retry-After), 491 for glare, 481 in a terminated dialog.
    Reject(Rejection),
}

/// A rejection with the status code's canonical reason phrase.
fn rejection(status: StatusCode) -> Rejection {
    Rejection {
        status,
        reason: Cow::Borrowed(status.canonical_reason()),
        headers: Vec::new(),
        header: None,
        cause: None,
    }
}

impl Dialog {
    /// Process a request the peer sent within the dialog (RFC 3261 §12.2.2, §14.2), after the transaction layer
    /// matched it to a new server transaction. CANCEL belongs to the transaction layer and is accepted as is.
    ///
    /// * A CSeq lower than the remote sequence number is out of order: 500. Otherwise the number is recorded
    ///   (the first one at a UAC).
    /// * An INVITE while this UA's own INVITE is pending is glare: 491 (§14.1). An INVITE while the peer's
    ///   previous INVITE is unanswered: 500 with a random Retry-After of 0–10 s (§14.2).
    /// * An accepted INVITE, UPDATE, SUBSCRIBE or NOTIFY with a Contact replaces the remote target.
    /// * A request in a terminated dialog: 481.
    ///
    /// A request whose Call-ID or tags name another dialog is [`DialogError::NotThisDialog`]; one that names
    /// no known dialog is answered with [`unknown_dialog_response`].
    pub fn handle_request(&mut self, request: &Request) -> Result<RequestAction, DialogError> {
        if DialogId::from_received_request(request)?.as_ref() != Some(&self.id) {
            return Err(DialogError::NotThisDialog);
        }
        let method = request.method();
        if matches!(method, Method::Ack | Method::Cancel) {
            return Ok(RequestAction::Accept);
        }
        if self.state == DialogState::Terminated {
            return Ok(RequestAction::Reject(rejection(
                StatusCode::CALL_DOES_NOT_EXIST,
            )));
        }
        let cseq: CSeq = required(request.headers())?;
        if self.remote_seq.is_some_and(|remote| cseq.seq < remote) {
            return Ok(RequestAction::Reject(rejection(
                StatusCode::SERVER_INTERNAL_ERROR,
            )));
        }
        self.remote_seq = Some(cseq.seq);
        if *method == Method::Invite {
            if let Some(rejection) = self.invite_conflict() {
                return Ok(RequestAction::Reject(rejection));
            }
            self.pending_remote_invite = Some(cseq.seq);
        }
        if is_target_refresh(method) {
            self.refresh_target(request.headers())?;
        }
        Ok(RequestAction::Accept)
    }

    /// Why an INVITE received now cannot proceed, if it cannot.
    fn invite_conflict(&self) -> Option<Rejection> {
        if self.pending_remote_invite.is_some() {
            let mut r = rejection(StatusCode::SERVER_INTERNAL_ERROR);
            r.headers.push(HeaderField::from_typed(&RetryAfter::new(
                overlapping_invite_retry_after(),
            )));
            return Some(r);
        }
        self.pending_invite
            .map(|_| rejection(StatusCode::REQUEST_PENDING))
    }

    /// Record a response this UA sent to a request the peer sent within the dialog, including later responses
    /// to the dialog-creating INVITE: a 2xx to an INVITE confirms an early dialog, a final non-2xx to the
    /// initial INVITE terminates it, a 2xx to a BYE terminates the dialog (RFC 3261 §15.1.2). A Contact in a
    /// 2xx to a target refresh becomes the local Contact.
    pub fn handle_sent_response(&mut self, response: &Response) -> Result<(), DialogError> {
        if super::id::to_tag(response.headers())?.as_ref() != Some(&self.id.local_tag) {
            return Err(DialogError::NotThisDialog);
        }
        let cseq: CSeq = required(response.headers())?;
        let status = response.status();
        if !status.is_final() {
            return Ok(());
        }
        if cseq.method == Method::Invite {
            if self.pending_remote_invite == Some(cseq.seq) {
                self.pending_remote_invite = None;
            }
            if self.state == DialogState::Early {
                self.state = if status.is_success() {
                    DialogState::Confirmed
                } else {
                    DialogState::Terminated
                };
            }
        }
        if status.is_success() && cseq.method == Method::Bye {
            self.state = DialogState::Terminated;
        }
        if status.is_success()
            && is_target_refresh(&cseq.method)
            && let Some(contact) = super::first_contact(response.headers())?
        {
            self.local_contact = Some(contact);
        }
        Ok(())
    }
}

/// The answer to a request whose To tag names a dialog this UA does not have (RFC 3261 §12.2.2): 481
/// (Call/Transaction Does Not Exist). `None` for an ACK, which is never answered, and for a request without
/// a To tag, which is outside any dialog.
pub fn unknown_dialog_response(request: &Request) -> Option<Response> {
    if *request.method() == Method::Ack {
        return None;
    }
    let to = request.headers().to()?.ok()?;
    to.tag()?;
    Some(Response::from_request(request, StatusCode::CALL_DOES_NOT_EXIST, None).build())
}
