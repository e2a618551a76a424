//! What the application holds: client transaction handles, server transactions and dialogs.

use super::EndpointError;
use super::driver::Command;
use super::user_agent::{DialogEnd, DialogRef, IncomingRequest, RequestId, RequestOutcome};
use crate::auth::{Algorithm, AuthError, ChallengeKind, DigestServer};
use crate::dialog::DialogId;
use crate::header::HeaderName;
use crate::message::{HeaderField, Request, Response, ResponseBuilder};
use crate::method::{Method, StatusCode};
use crate::transaction::{Target, TransactionId};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::time::SystemTime;
use tokio::sync::{mpsc, oneshot};

/// A response or the end of a request, from the driver to a [`ClientTransactionHandle`].
pub(super) enum ClientUpdate {
    Response {
        response: Box<Response>,
        dialog: Option<DialogRef>,
        attach: Option<DialogAttach>,
    },
    Ended(RequestOutcome),
}

/// What a new [`DialogHandle`] is made of, created by the driver when the application first hears of a
/// dialog.
#[derive(Debug)]
pub(super) struct DialogAttach {
    pub(super) dialog: DialogRef,
    pub(super) id: DialogId,
    pub(super) events: mpsc::UnboundedReceiver<DialogEvent>,
    pub(super) commands: mpsc::UnboundedSender<Command>,
}

/// The responses to a request sent through the endpoint, across digest retries.
///
/// Dropping the handle does not stop the request (use [`ClientTransactionHandle::cancel`] for an INVITE);
/// dialogs its responses created and that were not taken with [`ClientTransactionHandle::take_dialog`] are
/// let go (a confirmed one is hung up with BYE).
#[derive(Debug)]
pub struct ClientTransactionHandle {
    id: RequestId,
    updates: mpsc::UnboundedReceiver<ClientUpdate>,
    commands: mpsc::UnboundedSender<Command>,
    outcome: Option<RequestOutcome>,
    dialogs: HashMap<DialogRef, DialogHandle>,
    last_dialog: Option<DialogRef>,
}

impl std::fmt::Debug for ClientUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientUpdate::Response { response, .. } => {
                write!(f, "Response({})", response.status())
            }
            ClientUpdate::Ended(outcome) => write!(f, "Ended({outcome:?})"),
        }
    }
}

impl ClientTransactionHandle {
    pub(super) fn new(
        id: RequestId,
        updates: mpsc::UnboundedReceiver<ClientUpdate>,
        commands: mpsc::UnboundedSender<Command>,
    ) -> ClientTransactionHandle {
        ClientTransactionHandle {
            id,
            updates,
            commands,
            outcome: None,
            dialogs: HashMap::new(),
            last_dialog: None,
        }
    }

    /// The request's id in the user agent.
    pub fn id(&self) -> RequestId {
        self.id
    }

    /// The next response (provisional or final; for an INVITE, already acknowledged 2xx); `None` once the
    /// request is over ([`ClientTransactionHandle::outcome`] says how).
    pub async fn response(&mut self) -> Option<Response> {
        if self.outcome.is_some() {
            return None;
        }
        match self.updates.recv().await {
            Some(ClientUpdate::Response {
                response,
                dialog,
                attach,
            }) => {
                if let Some(attach) = attach {
                    self.dialogs
                        .insert(attach.dialog, DialogHandle::from_attach(attach));
                }
                self.last_dialog = dialog;
                Some(*response)
            }
            Some(ClientUpdate::Ended(outcome)) => {
                self.outcome = Some(outcome);
                None
            }
            None => {
                self.outcome = Some(RequestOutcome::TransportError);
                None
            }
        }
    }

    /// Skip provisional responses and return the final one; fails when the request ended without one.
    pub async fn final_response(&mut self) -> Result<Response, EndpointError> {
        loop {
            match self.response().await {
                Some(response) if response.status().is_final() => return Ok(response),
                Some(_) => continue,
                None => {
                    return Err(match self.outcome {
                        Some(RequestOutcome::Timeout) => EndpointError::Timeout,
                        Some(RequestOutcome::TransportError) => EndpointError::TransportFailed,
                        _ => EndpointError::Closed,
                    });
                }
            }
        }
    }

    /// How the request ended, once [`ClientTransactionHandle::response`] has returned `None`.
    pub fn outcome(&self) -> Option<RequestOutcome> {
        self.outcome
    }

    /// The dialog of the last response returned (an early dialog for a 1xx with a To tag, the confirmed
    /// one for a 2xx to an INVITE), to keep; `None` if it had none or it was taken already.
    pub fn take_dialog(&mut self) -> Option<DialogHandle> {
        self.dialogs.remove(&self.last_dialog?)
    }

    /// Cancel the INVITE (RFC 3261 §9.1); its final response (487, or a 2xx that crossed the CANCEL) still
    /// comes through [`ClientTransactionHandle::response`].
    pub fn cancel(&self) {
        let _ = self.commands.send(Command::Cancel(self.id));
    }
}

/// A request received outside any dialog (from [`super::Endpoint::incoming`]) or within one (from
/// [`DialogHandle::next_event`]), to answer.
///
/// Dropped without a final response, it answers 500 so that the transaction ends.
#[derive(Debug)]
pub struct ServerTransaction {
    inner: Box<IncomingRequest>,
    commands: mpsc::UnboundedSender<Command>,
    final_sent: bool,
    cancelled: Option<oneshot::Receiver<()>>,
    was_cancelled: bool,
    /// The early dialog a provisional response created, kept for the final response.
    early: Option<DialogAttach>,
}

impl ServerTransaction {
    pub(super) fn new(
        inner: Box<IncomingRequest>,
        commands: mpsc::UnboundedSender<Command>,
        cancelled: Option<oneshot::Receiver<()>>,
    ) -> ServerTransaction {
        ServerTransaction {
            inner,
            commands,
            final_sent: false,
            cancelled,
            was_cancelled: false,
            early: None,
        }
    }

    /// The request.
    pub fn request(&self) -> &Request {
        &self.inner.request
    }

    /// Where the request came from (and where responses go).
    pub fn source(&self) -> Target {
        self.inner.source
    }

    /// The server transaction's id.
    pub fn transaction(&self) -> TransactionId {
        self.inner.transaction
    }

    /// The To tag responses carry.
    pub fn to_tag(&self) -> &str {
        &self.inner.to_tag
    }

    /// A response with `status` and this transaction's To tag; add to it and pass it to
    /// [`ServerTransaction::respond`].
    pub fn response(&self, status: StatusCode) -> ResponseBuilder {
        self.inner.response(status)
    }

    pub(super) async fn respond_in(
        &mut self,
        response: Response,
    ) -> Result<Option<DialogAttach>, EndpointError> {
        let is_final = response.status().is_final();
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Respond {
                transaction: self.inner.transaction,
                response: Box::new(response),
                reply: Some(reply),
            })
            .map_err(|_| EndpointError::Closed)?;
        let attach = rx.await.map_err(|_| EndpointError::Closed)??;
        self.final_sent |= is_final;
        Ok(attach.or_else(|| self.early.take()))
    }

    /// Send `response` (provisional or final). A 101–299 to an INVITE gets a Contact if it has none; a 2xx
    /// to an INVITE is retransmitted until the ACK. Use [`super::Endpoint::create_uas`] to keep the dialog a
    /// 2xx creates: without a handle it lasts until the peer's BYE.
    pub async fn respond(&mut self, response: Response) -> Result<(), EndpointError> {
        let provisional = response.status().is_provisional();
        let attach = self.respond_in(response).await?;
        if provisional {
            // Kept for the final response (a 2xx confirms it; see `Endpoint::create_uas`).
            self.early = attach;
        }
        Ok(())
    }

    /// Send a response with `status` and nothing else.
    pub async fn reply(&mut self, status: StatusCode) -> Result<(), EndpointError> {
        let response = self.response(status).build();
        self.respond(response).await
    }

    /// Wait until the peer cancels this INVITE (the endpoint has then answered 487); never returns for other
    /// requests.
    pub async fn cancelled(&mut self) {
        if self.was_cancelled {
            return;
        }
        match self.cancelled.as_mut() {
            Some(rx) => {
                if rx.await.is_ok() {
                    self.was_cancelled = true;
                    self.final_sent = true;
                    return;
                }
                self.cancelled = None;
                std::future::pending().await
            }
            None => std::future::pending().await,
        }
    }

    /// Whether the peer has cancelled this INVITE.
    pub fn is_cancelled(&mut self) -> bool {
        if let Some(rx) = self.cancelled.as_mut()
            && rx.try_recv().is_ok()
        {
            self.was_cancelled = true;
            self.final_sent = true;
        }
        self.was_cancelled
    }

    /// Check the request's digest credentials with `server` (RFC 7616), looking the user's HA1 up with
    /// `lookup`. Returns the authenticated username; otherwise answers the request itself (401 with fresh
    /// challenges, `stale=true` for an expired nonce, or 400 for malformed credentials) and returns `None`.
    pub async fn authenticate(
        &mut self,
        server: &DigestServer,
        lookup: impl FnOnce(&str, Algorithm) -> Option<String>,
    ) -> Result<Option<String>, EndpointError> {
        let now = SystemTime::now();
        let error: AuthError = match server.verify(self.request(), ChallengeKind::Www, now, lookup)
        {
            Ok(user) => return Ok(Some(user)),
            Err(error) => error,
        };
        let response = server.reject(
            self.request(),
            &error,
            ChallengeKind::Www,
            now,
            Some(self.to_tag()),
        );
        self.respond(response).await?;
        Ok(None)
    }
}

impl Drop for ServerTransaction {
    fn drop(&mut self) {
        if self.final_sent || *self.request().method() == Method::Ack {
            return;
        }
        let response = self.response(StatusCode::SERVER_INTERNAL_ERROR).build();
        let _ = self.commands.send(Command::Respond {
            transaction: self.inner.transaction,
            response: Box::new(response),
            reply: None,
        });
    }
}

/// Something that happened in a dialog, from [`DialogHandle::next_event`].
#[non_exhaustive]
#[derive(Debug)]
pub enum DialogEvent {
    /// A request within the dialog to answer (re-INVITE, INFO, UPDATE, REFER, NOTIFY …; BYE is answered
    /// by the endpoint and comes as [`DialogEvent::Ended`]).
    Request(ServerTransaction),
    /// The ACK for this side's 2xx.
    Ack(Box<Request>),
    /// The dialog ended.
    Ended(DialogEnd),
}

/// One dialog of the endpoint: send requests within it, receive the peer's, hang up.
///
/// Dropping the handle lets the dialog go: a confirmed dialog is hung up with BYE.
#[derive(Debug)]
pub struct DialogHandle {
    reference: DialogRef,
    id: DialogId,
    events: mpsc::UnboundedReceiver<DialogEvent>,
    commands: mpsc::UnboundedSender<Command>,
    pending: VecDeque<DialogEvent>,
    ended: Option<DialogEnd>,
}

impl DialogHandle {
    pub(super) fn from_attach(attach: DialogAttach) -> DialogHandle {
        DialogHandle {
            reference: attach.dialog,
            id: attach.id,
            events: attach.events,
            commands: attach.commands,
            pending: VecDeque::new(),
            ended: None,
        }
    }

    /// The dialog's reference in the user agent.
    pub fn reference(&self) -> DialogRef {
        self.reference
    }

    /// The dialog identifier (Call-ID and tags).
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// Why the dialog ended, once it has.
    pub fn end(&self) -> Option<DialogEnd> {
        self.ended
    }

    /// Put an event back to be returned first by [`DialogHandle::next_event`].
    pub(super) fn push_back(&mut self, event: DialogEvent) {
        self.pending.push_back(event);
    }

    /// The next event; `None` once the dialog has ended and its last event was returned.
    pub async fn next_event(&mut self) -> Option<DialogEvent> {
        if let Some(event) = self.pending.pop_front() {
            return Some(event);
        }
        if self.ended.is_some() {
            return None;
        }
        let event = self.events.recv().await;
        match &event {
            Some(DialogEvent::Ended(reason)) => self.ended = Some(*reason),
            None => self.ended = Some(DialogEnd::Lost),
            _ => {}
        }
        event
    }

    /// Wait for the dialog to end, answering requests within it meanwhile: 488 (Not Acceptable Here) to a
    /// re-INVITE, 200 to anything else.
    pub async fn ended(&mut self) -> DialogEnd {
        while let Some(event) = self.next_event().await {
            if let DialogEvent::Request(mut request) = event {
                let status = match request.request().method() {
                    Method::Invite => StatusCode::new(488).unwrap_or(StatusCode::BUSY_HERE),
                    _ => StatusCode::OK,
                };
                let _ = request.reply(status).await;
            }
        }
        self.ended.unwrap_or(DialogEnd::Lost)
    }

    /// Start a request of `method` within the dialog (re-INVITE, INFO, UPDATE, REFER, NOTIFY, BYE …).
    pub fn request(&mut self, method: Method) -> DialogRequest<'_> {
        DialogRequest {
            dialog: self,
            method,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Hang up: send BYE and wait for its final response. The dialog ends when the BYE is sent.
    pub async fn bye(&mut self) -> Result<Response, EndpointError> {
        let mut handle = self.request(Method::Bye).send().await?;
        self.ended = Some(DialogEnd::LocalBye);
        handle.final_response().await
    }
}

impl Drop for DialogHandle {
    fn drop(&mut self) {
        if self.ended.is_none() {
            let _ = self.commands.send(Command::Release(self.reference));
        }
    }
}

/// A request within a dialog being put together; see [`DialogHandle::request`].
#[derive(Debug)]
#[must_use]
pub struct DialogRequest<'a> {
    dialog: &'a mut DialogHandle,
    method: Method,
    headers: Vec<HeaderField>,
    body: Bytes,
}

impl DialogRequest<'_> {
    /// Add a header field.
    pub fn header(mut self, name: HeaderName, value: impl Into<Bytes>) -> Self {
        self.headers.push(HeaderField::new(name, value));
        self
    }

    /// Set the body and its Content-Type.
    pub fn body(mut self, content_type: &str, body: impl Into<Bytes>) -> Self {
        self.headers.push(HeaderField::new(
            HeaderName::ContentType,
            Bytes::copy_from_slice(content_type.as_bytes()),
        ));
        self.body = body.into();
        self
    }

    /// Send it; the responses come through the returned handle.
    pub async fn send(self) -> Result<ClientTransactionHandle, EndpointError> {
        let (updates, update_rx) = mpsc::unbounded_channel();
        let (reply, rx) = oneshot::channel();
        let commands = self.dialog.commands.clone();
        commands
            .send(Command::InDialog {
                dialog: self.dialog.reference,
                method: self.method,
                headers: self.headers,
                body: self.body,
                updates,
                reply,
            })
            .map_err(|_| EndpointError::Closed)?;
        let id = rx.await.map_err(|_| EndpointError::Closed)??;
        Ok(ClientTransactionHandle::new(id, update_rx, commands))
    }
}
