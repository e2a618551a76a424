//! The UAC side: sending requests, digest retries, dialogs from responses to INVITEs, ACK for 2xx.

use super::{
    ClientEntry, DialogEnd, DialogRef, MAX_AUTH_ATTEMPTS, Outbound, RequestId, RequestOutcome,
    UaEvent, UserAgent,
};
use crate::auth::{ChallengeKind, DigestClient};
use crate::dialog::{Dialog, DialogId, DialogState, ResponseAction, generate_branch};
use crate::endpoint::addressing::{self, target_for_uri};
use crate::endpoint::error::EndpointError;
use crate::header::{CSeq, HeaderName, Via};
use crate::message::{HeaderField, Message, Request, Response};
use crate::method::Method;
use crate::transaction::{Target, TransactionId, TransportKind};
use crate::transport::{TransportKind as WireKind, set_top_via_transport, transport_for_request};
use crate::validate::validate_response;
use bytes::Bytes;
use std::time::Instant;

impl UserAgent {
    /// Send `request` to `target` in a new client transaction. A top Via for `target`'s transport with a
    /// fresh branch and `rport` is added when the request has none. With `credentials`, a 401 or 407 is
    /// answered by re-sending the request (next CSeq, new branch) with Authorization or
    /// Proxy-Authorization, up to three times, before the challenge is passed on.
    ///
    /// An INVITE sent here creates dialogs from its responses (see [`UaEvent::Response`]) and its 2xx are
    /// acknowledged by the UA.
    ///
    /// A request for a UDP target larger than 1300 bytes goes over TCP to the same address instead, with
    /// its top Via changed to TCP, when the UA has a TCP transport (RFC 3261 §18.1.1); if that send fails
    /// ([`UserAgent::handle_transport_error`]) it is sent again over UDP. Requests within a dialog follow
    /// the same rule.
    pub fn send_request(
        &mut self,
        now: Instant,
        mut request: Request,
        target: Target,
        mut credentials: Option<DigestClient>,
    ) -> Result<RequestId, EndpointError> {
        if !request.headers().contains(&HeaderName::Via) {
            let via = self.via(target.transport);
            request
                .headers_mut()
                .push_front(HeaderField::from_typed(&via));
        }
        if let Some(client) = credentials.as_mut()
            && client.has_challenge()
        {
            client.authorize(&mut request);
        }
        let (target, udp_fallback) = self.route_by_size(&mut request, target);
        let keep = *request.method() == Method::Invite || credentials.is_some();
        let sent = keep.then(|| request.clone());
        let transaction = self.layer.send_request(now, request, target)?;
        let id = RequestId(self.allocate());
        self.track(id, transaction, sent, target, credentials, None, false);
        self.keep_udp_fallback(id, udp_fallback);
        self.pump(now);
        Ok(id)
    }

    /// RFC 3261 §18.1.1: a request for UDP too large for a datagram goes over TCP instead, with its top Via
    /// changed to match, when this UA has a TCP transport (without one it stays on UDP). The path MTU is not
    /// known, so the limit is 1300 bytes. Returns the target to use and, when it changed, the request as it
    /// was with its UDP target, to fall back to if the TCP connection cannot be opened.
    ///
    /// The TCP target is the UDP target's address (the peer's port for both, as in a SIP URI), and the Via
    /// keeps its sent-by: only its transport changes, before the transaction is created.
    fn route_by_size(
        &self,
        request: &mut Request,
        target: Target,
    ) -> (Target, Option<Box<(Request, Target)>>) {
        let has_tcp = self
            .config
            .local_addresses
            .iter()
            .any(|(kind, _)| *kind == TransportKind::Tcp);
        if target.transport != TransportKind::Udp || !has_tcp {
            return (target, None);
        }
        let mut wire = Vec::new();
        request.write_to(&mut wire);
        if transport_for_request(WireKind::Udp, wire.len(), None) != WireKind::Tcp {
            return (target, None);
        }
        let original = request.clone();
        // On error the request is left as it was, and goes over UDP.
        if set_top_via_transport(request, WireKind::Tcp).is_err() {
            return (target, None);
        }
        let tcp = Target::new(TransportKind::Tcp, target.addr);
        (tcp, Some(Box::new((original, target))))
    }

    /// Remember how request `id` goes over UDP if its TCP connection cannot be opened.
    fn keep_udp_fallback(&mut self, id: RequestId, fallback: Option<Box<(Request, Target)>>) {
        if let Some(entry) = self.clients.get_mut(&id) {
            entry.udp_fallback = fallback;
        }
    }

    /// A client transaction could not be sent: a request moved to TCP for its size goes over UDP after
    /// all (RFC 3261 §18.1.1), anything else has failed.
    pub(super) fn on_transport_error(&mut self, now: Instant, transaction: TransactionId) {
        if !self.fall_back_to_udp(now, transaction) {
            self.on_failure(transaction, RequestOutcome::TransportError);
        }
    }

    /// Send the request of `transaction` again over UDP in a new transaction (new branch, same CSeq: the
    /// first one never left), if it was moved to TCP for its size.
    fn fall_back_to_udp(&mut self, now: Instant, transaction: TransactionId) -> bool {
        let Some(&id) = self.client_by_transaction.get(&transaction) else {
            return false;
        };
        let Some(fallback) = self
            .clients
            .get_mut(&id)
            .and_then(|e| e.udp_fallback.take())
        else {
            return false;
        };
        let (mut request, target) = *fallback;
        if renew_branch(&mut request).is_none() {
            return false;
        }
        let Ok(retry) = self.layer.send_request(now, request.clone(), target) else {
            return false;
        };
        if let Some(entry) = self.clients.get_mut(&id) {
            entry.transaction = retry;
            entry.target = target;
            if entry.sent.is_some() {
                entry.sent = Some(request);
            }
        }
        self.client_by_transaction.remove(&transaction);
        self.client_by_transaction.insert(retry, id);
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn track(
        &mut self,
        id: RequestId,
        transaction: TransactionId,
        sent: Option<Request>,
        target: Target,
        credentials: Option<DigestClient>,
        dialog: Option<DialogRef>,
        internal: bool,
    ) {
        self.client_by_transaction.insert(transaction, id);
        self.clients.insert(
            id,
            ClientEntry {
                transaction,
                sent,
                target,
                credentials,
                auth_attempts: 0,
                dialog,
                forks: Vec::new(),
                answered: None,
                finished: false,
                internal,
                failure: None,
                udp_fallback: None,
            },
        );
    }

    /// Send a request of `method` within `dialog` (BYE, re-INVITE, UPDATE, INFO, REFER, NOTIFY …) with
    /// extra header fields and a body (give a Content-Type among `headers` with a body). Credentials that
    /// authorized the dialog's INVITE authorize it too. Sending BYE ends the dialog
    /// ([`DialogEnd::LocalBye`]); the BYE's response still comes as a [`UaEvent::Response`].
    pub fn request_in_dialog(
        &mut self,
        now: Instant,
        dialog: DialogRef,
        method: Method,
        headers: Vec<HeaderField>,
        body: Bytes,
    ) -> Result<RequestId, EndpointError> {
        let id = self.send_in_dialog(now, dialog, method, headers, body, false);
        self.pump(now);
        id
    }

    /// Where requests within `dialog` go, per its next hop.
    fn dialog_target(&self, dialog: DialogRef) -> Option<Target> {
        let entry = self.dialogs.get(&dialog)?;
        target_for_uri(entry.dialog.next_hop(), Some(entry.fallback)).or(Some(entry.fallback))
    }

    pub(super) fn send_in_dialog(
        &mut self,
        now: Instant,
        dialog: DialogRef,
        method: Method,
        headers: Vec<HeaderField>,
        body: Bytes,
        internal: bool,
    ) -> Result<RequestId, EndpointError> {
        let target = self
            .dialog_target(dialog)
            .ok_or(EndpointError::UnknownDialog)?;
        let via = addressing::via(
            target.transport,
            self.config.local_address(target.transport),
        );
        let entry = self
            .dialogs
            .get_mut(&dialog)
            .ok_or(EndpointError::UnknownDialog)?;
        let mut builder = entry.dialog.request(method.clone(), via)?;
        for field in headers {
            builder = builder.field(field);
        }
        let mut request = builder.body(body).build();
        if let Some(client) = entry.credentials.as_mut()
            && client.has_challenge()
        {
            client.authorize(&mut request);
        }
        let (target, udp_fallback) = self.route_by_size(&mut request, target);
        let sent = (method == Method::Invite).then(|| request.clone());
        let transaction = self.layer.send_request(now, request, target)?;
        let id = RequestId(self.allocate());
        self.track(id, transaction, sent, target, None, Some(dialog), internal);
        self.keep_udp_fallback(id, udp_fallback);
        if method == Method::Bye && !internal {
            self.end_dialog(dialog, DialogEnd::LocalBye);
        }
        Ok(id)
    }

    /// Cancel INVITE `request` (RFC 3261 §9.1); its final response (487, or a 2xx that crossed the CANCEL)
    /// still comes as a [`UaEvent::Response`].
    pub fn cancel(&mut self, now: Instant, request: RequestId) -> Result<(), EndpointError> {
        let entry = self
            .clients
            .get(&request)
            .ok_or(EndpointError::UnknownRequest)?;
        let cancel = self.layer.cancel(now, entry.transaction)?;
        self.cancels.insert(cancel);
        self.pump(now);
        Ok(())
    }

    /// Check a response (RFC 3261 §8.1.3) and feed it to its client transaction.
    pub(super) fn incoming_response(&mut self, now: Instant, response: Response, source: Target) {
        if validate_response(&response, &self.config.policy).is_err() {
            return;
        }
        // A response matching no transaction is dropped (RFC 6026 §8.9).
        let _ = self
            .layer
            .handle_incoming(now, Message::Response(response), source);
    }

    /// A response from the transaction layer.
    pub(super) fn on_response(
        &mut self,
        now: Instant,
        transaction: TransactionId,
        response: Response,
    ) {
        if self.cancels.contains(&transaction) {
            return;
        }
        let Some(&id) = self.client_by_transaction.get(&transaction) else {
            return;
        };
        // The connection carried the request: no falling back to UDP any more.
        if let Some(entry) = self.clients.get_mut(&id) {
            entry.udp_fallback = None;
        }
        if ChallengeKind::from_status(response.status()).is_some()
            && self.retry_with_credentials(now, id, &response)
        {
            return;
        }
        let Some(entry) = self.clients.get(&id) else {
            return;
        };
        if let Some(dialog) = entry.dialog {
            return self.on_dialog_response(now, id, dialog, response);
        }
        let invite = entry
            .sent
            .as_ref()
            .is_some_and(|r| *r.method() == Method::Invite);
        if invite {
            return self.on_invite_response(now, id, response);
        }
        self.deliver(id, response, None);
    }

    /// Pass a response on to the application; the first final one ends the request for it.
    fn deliver(&mut self, id: RequestId, response: Response, dialog: Option<DialogRef>) {
        let Some(entry) = self.clients.get_mut(&id) else {
            return;
        };
        let is_final = response.status().is_final();
        if entry.internal || entry.finished {
            entry.finished |= is_final;
            return;
        }
        entry.finished = is_final;
        self.events.push_back(UaEvent::Response {
            request: id,
            response: Box::new(response),
            dialog,
        });
        if is_final {
            self.events.push_back(UaEvent::RequestEnded {
                request: id,
                outcome: RequestOutcome::Answered,
            });
        }
    }

    /// A response to a request sent within `dialog`.
    fn on_dialog_response(
        &mut self,
        _now: Instant,
        id: RequestId,
        dialog: DialogRef,
        response: Response,
    ) {
        let action = self
            .dialogs
            .get_mut(&dialog)
            .and_then(|e| e.dialog.handle_response(&response).ok());
        match action {
            Some(ResponseAction::SendAck { .. }) => {
                self.send_ack(dialog, &response);
                self.deliver(id, response, Some(dialog));
            }
            Some(ResponseAction::ResendAck(ack)) => self.transmit_ack(dialog, &ack),
            Some(ResponseAction::Terminated) => {
                self.deliver(id, response, None);
                self.end_dialog(dialog, DialogEnd::Lost);
            }
            Some(_) => self.deliver(id, response, Some(dialog)),
            None => self.deliver(id, response, None),
        }
    }

    /// A response to a dialog-creating INVITE: early dialogs from 1xx with a To tag, a confirmed one (and
    /// its ACK) per 2xx, the first of which answers the call; the others are hung up (RFC 3261 §13.2.2.4).
    fn on_invite_response(&mut self, now: Instant, id: RequestId, response: Response) {
        let status = response.status();
        let dialog_id = DialogId::from_received_response(&response).ok();
        let tagged = dialog_id.as_ref().is_some_and(|d| !d.remote_tag.is_empty());
        if status.is_provisional() {
            let dialog = match dialog_id {
                Some(dialog_id) if tagged && status.as_u16() > 100 => {
                    self.early_dialog(id, &dialog_id, &response)
                }
                _ => None,
            };
            return self.deliver(id, response, dialog);
        }
        if !status.is_success() {
            let forks = self
                .clients
                .get_mut(&id)
                .map(|e| std::mem::take(&mut e.forks))
                .unwrap_or_default();
            for dialog in forks {
                self.end_dialog(dialog, DialogEnd::NotAnswered);
            }
            return self.deliver(id, response, None);
        }
        let existing = dialog_id.and_then(|d| self.dialog_by_id.get(&d).copied());
        let dialog = match existing {
            Some(dialog) => {
                let action = self
                    .dialogs
                    .get_mut(&dialog)
                    .and_then(|e| e.dialog.handle_response(&response).ok());
                match action {
                    Some(ResponseAction::SendAck { .. }) => self.send_ack(dialog, &response),
                    Some(ResponseAction::ResendAck(ack)) => return self.transmit_ack(dialog, &ack),
                    _ => return,
                }
                dialog
            }
            None => {
                let Some(dialog) = self.new_uac_dialog(id, &response) else {
                    return;
                };
                self.send_ack(dialog, &response);
                dialog
            }
        };
        let answered = self.clients.get_mut(&id).map(|entry| {
            let first = entry.answered.is_none();
            entry.answered.get_or_insert(dialog);
            first
        });
        match answered {
            Some(true) => self.deliver(id, response, Some(dialog)),
            _ => self.hang_up(now, dialog, DialogEnd::NotAnswered),
        }
    }

    /// The early dialog a tagged provisional response creates or refreshes.
    fn early_dialog(
        &mut self,
        id: RequestId,
        dialog_id: &DialogId,
        response: &Response,
    ) -> Option<DialogRef> {
        if let Some(&dialog) = self.dialog_by_id.get(dialog_id) {
            let entry = self.dialogs.get_mut(&dialog)?;
            let _ = entry.dialog.handle_response(response);
            return Some(dialog);
        }
        self.new_uac_dialog(id, response)
    }

    /// A dialog created by `response` to INVITE request `id`.
    fn new_uac_dialog(&mut self, id: RequestId, response: &Response) -> Option<DialogRef> {
        let entry = self.clients.get(&id)?;
        let invite = entry.sent.as_ref()?;
        let dialog = Dialog::new_uac(invite, &super::compact_response(response)).ok()?;
        let credentials: Vec<HeaderField> = invite
            .headers()
            .iter()
            .filter(|f| {
                matches!(
                    f.name(),
                    HeaderName::Authorization | HeaderName::ProxyAuthorization
                )
            })
            .cloned()
            .collect();
        let (target, client) = (entry.target, entry.credentials.clone());
        let reference = self.add_dialog(dialog, target, client, credentials);
        if let Some(entry) = self.clients.get_mut(&id) {
            entry.forks.push(reference);
        }
        Some(reference)
    }

    /// Build, send and remember the ACK for 2xx `response` in `dialog` (RFC 3261 §13.2.2.4).
    fn send_ack(&mut self, dialog: DialogRef, response: &Response) {
        let Some(target) = self.dialog_target(dialog) else {
            return;
        };
        let via = addressing::via(
            target.transport,
            self.config.local_address(target.transport),
        );
        let Some(entry) = self.dialogs.get_mut(&dialog) else {
            return;
        };
        let Ok(mut builder) = entry.dialog.ack(response, via) else {
            return;
        };
        for field in &entry.invite_credentials {
            builder = builder.field(field.clone());
        }
        let ack = builder.build();
        entry.dialog.ack_sent(&ack);
        self.transmits.push_back(Outbound {
            transaction: None,
            target,
            payload: ack.to_bytes(),
        });
    }

    /// Send an ACK again, for a retransmitted 2xx.
    fn transmit_ack(&mut self, dialog: DialogRef, ack: &Request) {
        let Some(target) = self.dialog_target(dialog) else {
            return;
        };
        self.transmits.push_back(Outbound {
            transaction: None,
            target,
            payload: ack.to_bytes(),
        });
    }

    /// Answer a 401/407 to request `id` by sending it again with credentials; `false` when it cannot be
    /// (no credentials, a request within a dialog, the same realm refusing them, too many attempts).
    fn retry_with_credentials(&mut self, now: Instant, id: RequestId, response: &Response) -> bool {
        let Some(entry) = self.clients.get_mut(&id) else {
            return false;
        };
        if entry.dialog.is_some() || entry.auth_attempts >= MAX_AUTH_ATTEMPTS {
            return false;
        }
        let (Some(client), Some(sent)) = (entry.credentials.as_mut(), entry.sent.as_ref()) else {
            return false;
        };
        if client.handle_challenge(response).is_err() {
            return false;
        }
        let Some(mut retry) = next_attempt(sent) else {
            return false;
        };
        client.authorize(&mut retry);
        let (target, old) = (entry.target, entry.transaction);
        let Ok(transaction) = self.layer.send_request(now, retry.clone(), target) else {
            return false;
        };
        let forks = match self.clients.get_mut(&id) {
            Some(entry) => {
                entry.transaction = transaction;
                entry.sent = Some(retry);
                entry.auth_attempts += 1;
                std::mem::take(&mut entry.forks)
            }
            None => Vec::new(),
        };
        self.client_by_transaction.remove(&old);
        self.client_by_transaction.insert(transaction, id);
        for dialog in forks {
            self.end_dialog(dialog, DialogEnd::NotAnswered);
        }
        true
    }

    /// A client transaction timed out or could not be sent.
    pub(super) fn on_failure(&mut self, transaction: TransactionId, outcome: RequestOutcome) {
        let Some(id) = self.client_by_transaction.get(&transaction) else {
            return;
        };
        if let Some(entry) = self.clients.get_mut(id) {
            entry.failure = Some(outcome);
        }
    }

    /// A transaction ended: end the request it carried (or the server transaction).
    pub(super) fn on_terminated(&mut self, transaction: TransactionId) {
        if self.cancels.remove(&transaction) {
            return;
        }
        let Some(id) = self.client_by_transaction.remove(&transaction) else {
            return self.on_server_terminated(transaction);
        };
        let Some(entry) = self.clients.remove(&id) else {
            return;
        };
        for dialog in entry.forks {
            let early = self
                .dialogs
                .get(&dialog)
                .is_some_and(|d| d.dialog.state() == DialogState::Early);
            if early {
                self.end_dialog(dialog, DialogEnd::NotAnswered);
            }
        }
        if entry.finished {
            return;
        }
        // §12.2.1.2: a request within a dialog that timed out ends the dialog like a 408.
        if let Some(dialog) = entry.dialog {
            self.end_dialog(dialog, DialogEnd::Lost);
        }
        if !entry.internal {
            self.events.push_back(UaEvent::RequestEnded {
                request: id,
                outcome: entry.failure.unwrap_or(RequestOutcome::Timeout),
            });
        }
    }
}

/// `sent` again for a new transaction: the next CSeq number and a new branch (RFC 3261 §22.2).
fn next_attempt(sent: &Request) -> Option<Request> {
    let cseq = sent.headers().cseq()?.ok()?;
    let mut retry = sent.clone();
    retry.headers_mut().replace(HeaderField::from_typed(&CSeq {
        seq: cseq.seq.checked_add(1)?,
        method: cseq.method,
    }));
    renew_branch(&mut retry)?;
    Some(retry)
}

/// Give `request`'s top Via a fresh branch, for a new client transaction.
fn renew_branch(request: &mut Request) -> Option<()> {
    let via: Via = request
        .headers()
        .via()?
        .ok()?
        .with_branch(&generate_branch());
    let field = request.headers_mut().get_mut(&HeaderName::Via)?;
    let mut value = Vec::new();
    via.write_to(&mut value);
    field.set_value(value);
    Some(())
}
