//! The UAS side: screening requests, CANCEL, requests within dialogs, responses and 2xx retransmission.

use super::{DialogEnd, DialogRef, IncomingRequest, Outbound, ServerEntry, UaEvent, UserAgent};
use crate::dialog::{Dialog, DialogId, RequestAction, unknown_dialog_response};
use crate::endpoint::error::EndpointError;
use crate::endpoint::ok_retransmission::OkRetransmission;
use crate::error::ParseError;
use crate::header::{CSeq, HeaderName, MaxForwards};
use crate::message::{Message, Request, Response};
use crate::method::{Method, StatusCode};
use crate::transaction::{Target, TransactionId};
use crate::validate::{Rejection, validate_request};
use std::time::Instant;

impl UserAgent {
    /// Screen a request and feed it to the transaction layer; a request the layer cannot match (no usable
    /// Via or CSeq) is answered statelessly when it can be.
    pub(super) fn incoming_request(&mut self, now: Instant, request: Request, source: Target) {
        let rejection = match self.screen(&request) {
            Ok(()) => None,
            // A rejected ACK is never answered (RFC 3261 §17.2.1).
            Err(_) if *request.method() == Method::Ack => return,
            Err(rejection) => Some(rejection),
        };
        let Some(rejection) = rejection else {
            // Well-formed requests always carry what matching needs.
            let _ = self
                .layer
                .handle_incoming(now, Message::Request(request), source);
            return;
        };
        if !answerable(&request) {
            return;
        }
        let copy = request.clone();
        self.pending_rejection = Some(rejection);
        if self
            .layer
            .handle_incoming(now, Message::Request(request), source)
            .is_err()
            && let Some(rejection) = self.pending_rejection.take()
        {
            self.reply_statelessly(&copy, &rejection, source);
        }
    }

    /// The checks of RFC 3261 §8.2 with the configured policy, then the Max-Forwards rule.
    fn screen(&self, request: &Request) -> Result<(), Rejection> {
        validate_request(request, &self.config.policy)?;
        let zero_hops =
            request.headers().max_forwards().and_then(Result::ok) == Some(MaxForwards(0));
        if self.config.reject_zero_max_forwards
            && zero_hops
            && !matches!(request.method(), Method::Options | Method::Ack)
        {
            return Err(Rejection {
                status: StatusCode::TOO_MANY_HOPS,
                reason: StatusCode::TOO_MANY_HOPS.canonical_reason().into(),
                headers: Vec::new(),
                header: Some(HeaderName::MaxForwards),
                cause: None,
            });
        }
        Ok(())
    }

    /// Feed a request the parser rejected: `head` is its start line and header fields, `error` why it failed.
    /// It is answered statelessly (400 with a reason phrase naming the problem, 513 when too large, per
    /// [`Rejection::from_parse_error`]) when it has the Via, From, To, Call-ID and CSeq a reply needs and is
    /// not an ACK; otherwise dropped.
    pub fn handle_malformed(
        &mut self,
        _now: Instant,
        head: &Request,
        error: &ParseError,
        source: Target,
    ) {
        if *head.method() == Method::Ack {
            return;
        }
        let rejection = Rejection::from_parse_error(error);
        self.reply_statelessly(head, &rejection, source);
    }

    /// Send `rejection`'s reply to `request` outside any transaction, if the reply can be routed.
    fn reply_statelessly(&mut self, request: &Request, rejection: &Rejection, source: Target) {
        if !answerable(request) {
            return;
        }
        let tag = crate::dialog::generate_tag();
        let response = rejection.response(request, Some(&tag));
        self.transmits.push_back(Outbound {
            transaction: None,
            target: source,
            payload: response.to_bytes(),
        });
    }

    /// A new server transaction: refuse it, route it to its dialog, or hand it to the application.
    pub(super) fn on_new_request(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: Request,
        source: Target,
    ) {
        if let Some(rejection) = self.pending_rejection.take() {
            let tag = crate::dialog::generate_tag();
            let _ = self
                .layer
                .respond(now, id, rejection.response(&request, Some(&tag)));
            return;
        }
        if *request.method() == Method::Cancel {
            return self.on_cancel(now, id, &request);
        }
        match DialogId::from_received_request(&request) {
            Ok(None) => {}
            Ok(Some(dialog_id)) => {
                match self.dialog_by_id.get(&dialog_id).copied() {
                    Some(dialog) => self.on_dialog_request(now, id, request, source, dialog),
                    None => {
                        if let Some(response) = unknown_dialog_response(&request) {
                            let _ = self.layer.respond(now, id, response);
                        }
                    }
                }
                return;
            }
            Err(_) => {
                let response = Response::from_request(&request, StatusCode::BAD_REQUEST, None);
                let _ = self.layer.respond(now, id, response.build());
                return;
            }
        }
        let to_tag = crate::dialog::generate_tag();
        self.announce(id, request, source, to_tag, None);
    }

    /// Track server transaction `id` and hand its request to the application.
    fn announce(
        &mut self,
        id: TransactionId,
        request: Request,
        source: Target,
        to_tag: String,
        dialog: Option<DialogRef>,
    ) {
        let method = request.method().clone();
        let invite = (method == Method::Invite).then(|| request.clone());
        self.servers.insert(
            id,
            ServerEntry {
                method,
                to_tag: to_tag.clone(),
                source,
                invite,
                dialog,
                final_sent: false,
            },
        );
        self.events
            .push_back(UaEvent::Request(Box::new(IncomingRequest {
                transaction: id,
                request,
                source,
                to_tag,
                dialog,
            })));
    }

    /// A request within `dialog`: the dialog checks it; BYE is answered here and ends the dialog.
    fn on_dialog_request(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: Request,
        source: Target,
        dialog: DialogRef,
    ) {
        let Some(entry) = self.dialogs.get_mut(&dialog) else {
            return;
        };
        let local_tag = String::from_utf8_lossy(&entry.dialog.id().local_tag).into_owned();
        let action = match entry.dialog.handle_request(&request) {
            Ok(action) => action,
            Err(_) => {
                let response = Response::from_request(&request, StatusCode::BAD_REQUEST, None);
                let _ = self.layer.respond(now, id, response.build());
                return;
            }
        };
        match action {
            RequestAction::Reject(rejection) => {
                let _ = self.layer.respond(now, id, rejection.response(&request, None));
            }
            _ if *request.method() == Method::Bye => {
                let ok = Response::from_request(&request, StatusCode::OK, None).build();
                let _ = entry.dialog.handle_sent_response(&ok);
                let _ = self.layer.respond(now, id, ok);
                self.end_dialog(dialog, DialogEnd::RemoteBye);
            }
            _ => self.announce(id, request, source, local_tag, Some(dialog)),
        }
    }

    /// CANCEL (RFC 3261 §9.2): 200 and 487 on the INVITE if it has no final response yet; 481 without INVITE.
    fn on_cancel(&mut self, now: Instant, id: TransactionId, cancel: &Request) {
        let invite = self.layer.invite_for_cancel(id);
        let entry = invite.and_then(|invite| self.servers.get(&invite).map(|e| (invite, e)));
        let Some((invite, entry)) = entry else {
            let status = match invite {
                // An INVITE the UA answered itself (a rejection): the CANCEL matched, nothing to terminate.
                Some(_) => StatusCode::OK,
                None => StatusCode::CALL_DOES_NOT_EXIST,
            };
            let tag = crate::dialog::generate_tag();
            let response = Response::from_request(cancel, status, Some(&tag)).build();
            let _ = self.layer.respond(now, id, response);
            return;
        };
        let ok = Response::from_request(cancel, StatusCode::OK, Some(&entry.to_tag)).build();
        let terminated = match (&entry.invite, entry.final_sent) {
            (Some(request), false) => Some(
                Response::from_request(
                    request,
                    StatusCode::REQUEST_TERMINATED,
                    Some(&entry.to_tag),
                )
                .build(),
            ),
            _ => None,
        };
        let _ = self.layer.respond(now, id, ok);
        if let Some(response) = terminated
            && self.respond(now, invite, response).is_ok()
        {
            self.events.push_back(UaEvent::Cancelled {
                transaction: invite,
            });
        }
    }

    /// An ACK outside any transaction: the ACK for a 2xx, which ends its retransmission.
    pub(super) fn on_ack(&mut self, now: Instant, request: Request, _source: Target) {
        let Ok(Some(id)) = DialogId::from_received_request(&request) else {
            return;
        };
        let Some(&dialog) = self.dialog_by_id.get(&id) else {
            return;
        };
        let Some(entry) = self.dialogs.get(&dialog) else {
            return;
        };
        let seq = request.headers().cseq().and_then(Result::ok).map(|c| c.seq);
        let acknowledged = entry.ok.as_ref().is_some_and(|ok| Some(ok.cseq) == seq);
        if !acknowledged {
            return;
        }
        let hang_up = entry.bye_after_ack;
        self.stop_ok(dialog);
        self.events.push_back(UaEvent::Ack {
            dialog,
            request: Box::new(request),
        });
        if hang_up {
            self.hang_up(now, dialog, DialogEnd::Released);
        }
    }

    /// Send `response` on server transaction `transaction`; returns the dialog of the transaction, if any:
    /// the one a 101–199 with a To tag or a 2xx to an INVITE creates, or the one the request was in.
    ///
    /// A Contact for the transport the request came over is added to a 101–299 response to an INVITE that
    /// has none. A 2xx to an INVITE is retransmitted until its ACK arrives.
    pub fn respond(
        &mut self,
        now: Instant,
        transaction: TransactionId,
        response: Response,
    ) -> Result<Option<DialogRef>, EndpointError> {
        let Some(entry) = self.servers.get(&transaction) else {
            // Not announced to the application: let the layer say why (unknown, or a wrong kind).
            self.layer.respond(now, transaction, response)?;
            self.pump(now);
            return Ok(None);
        };
        let result = if entry.method == Method::Invite {
            self.respond_invite(now, transaction, response)
        } else {
            self.respond_other(now, transaction, response)
        };
        self.pump(now);
        result
    }

    fn respond_other(
        &mut self,
        now: Instant,
        transaction: TransactionId,
        response: Response,
    ) -> Result<Option<DialogRef>, EndpointError> {
        let dialog = self.servers.get(&transaction).and_then(|e| e.dialog);
        let Some(dialog) = dialog else {
            let is_final = response.status().is_final();
            self.layer.respond(now, transaction, response)?;
            self.mark_final(transaction, is_final);
            return Ok(None);
        };
        let is_final = response.status().is_final();
        self.layer.respond(now, transaction, response.clone())?;
        self.mark_final(transaction, is_final);
        if let Some(entry) = self.dialogs.get_mut(&dialog) {
            let _ = entry.dialog.handle_sent_response(&response);
            if entry.dialog.state() == crate::dialog::DialogState::Terminated {
                self.end_dialog(dialog, DialogEnd::LocalBye);
                return Ok(None);
            }
        }
        Ok(Some(dialog))
    }

    fn mark_final(&mut self, transaction: TransactionId, is_final: bool) {
        if let Some(entry) = self.servers.get_mut(&transaction) {
            entry.final_sent |= is_final;
        }
    }

    fn respond_invite(
        &mut self,
        now: Instant,
        transaction: TransactionId,
        mut response: Response,
    ) -> Result<Option<DialogRef>, EndpointError> {
        let Some(entry) = self.servers.get(&transaction) else {
            return Err(EndpointError::UnknownRequest);
        };
        let status = response.status().as_u16();
        let source = entry.source;
        if (101..300).contains(&status) && !response.headers().contains(&HeaderName::Contact) {
            let contact = self.contact(source.transport);
            response
                .headers_mut()
                .push(super::name_addr_field(HeaderName::Contact, &contact));
        }
        self.layer.respond(now, transaction, response.clone())?;
        self.mark_final(transaction, response.status().is_final());
        let dialog = self.dialog_for_sent_response(transaction, &response, source);
        let Some(dialog) = dialog else {
            return Ok(None);
        };
        if response.status().is_success() {
            self.start_ok(now, transaction, dialog, response);
        } else if self
            .dialogs
            .get(&dialog)
            .is_some_and(|e| e.dialog.state() == crate::dialog::DialogState::Terminated)
        {
            self.end_dialog(dialog, DialogEnd::NotAnswered);
            return Ok(None);
        }
        Ok(Some(dialog))
    }

    /// The dialog `response` (sent on INVITE server transaction `transaction`) creates or updates.
    fn dialog_for_sent_response(
        &mut self,
        transaction: TransactionId,
        response: &Response,
        source: Target,
    ) -> Option<DialogRef> {
        let entry = self.servers.get(&transaction)?;
        if let Some(dialog) = entry.dialog {
            let state = self.dialogs.get_mut(&dialog)?;
            let _ = state.dialog.handle_sent_response(response);
            return Some(dialog);
        }
        let invite = entry.invite.as_ref()?;
        let dialog = Dialog::new_uas(invite, response).ok()?;
        let reference = self.add_dialog(dialog, source, None, Vec::new());
        if let Some(entry) = self.servers.get_mut(&transaction) {
            entry.dialog = Some(reference);
        }
        Some(reference)
    }

    /// Retransmit `response` (a 2xx on `transaction`) in `dialog` until its ACK.
    fn start_ok(
        &mut self,
        now: Instant,
        transaction: TransactionId,
        dialog: DialogRef,
        response: Response,
    ) {
        let Some(seq) = response
            .headers()
            .typed::<CSeq>()
            .and_then(Result::ok)
            .map(|c| c.seq)
        else {
            return;
        };
        self.stop_ok(dialog);
        let Some(entry) = self.dialogs.get_mut(&dialog) else {
            return;
        };
        let ok = OkRetransmission::start(transaction, response, seq, now, &self.config.timers);
        self.ok_deadlines.insert((ok.deadline(), dialog));
        entry.ok = Some(ok);
    }

    /// A server transaction ended.
    pub(super) fn on_server_terminated(&mut self, id: TransactionId) {
        let Some(entry) = self.servers.remove(&id) else {
            return;
        };
        if !entry.final_sent
            && let Some(dialog) = entry.dialog
            && self
                .dialogs
                .get(&dialog)
                .is_some_and(|d| d.dialog.state() == crate::dialog::DialogState::Early)
        {
            self.end_dialog(dialog, DialogEnd::NotAnswered);
        }
        self.events
            .push_back(UaEvent::ServerEnded { transaction: id });
    }
}

/// Whether a reply to `request` can be built and routed: it needs a parsable Via and the From, To, Call-ID
/// and CSeq to copy (RFC 3261 §8.2.6.2); without them the request is dropped.
fn answerable(request: &Request) -> bool {
    let headers = request.headers();
    [
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ]
    .iter()
    .all(|name| headers.contains(name))
        && matches!(headers.via(), Some(Ok(_)))
}
