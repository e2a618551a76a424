//! Dialog-level helpers in the spirit of drachtio-srf: answer an INVITE ([`Endpoint::create_uas`]), place a
//! call ([`Endpoint::create_uac`]), and join two legs ([`Endpoint::create_b2bua`]).

use super::EndpointError;
use super::driver::Endpoint;
use super::handles::{ClientTransactionHandle, DialogEvent, DialogHandle, ServerTransaction};
use super::outgoing::OutgoingRequest;
use super::user_agent::DialogEnd;
use crate::header::{HeaderName, MaxForwards};
use crate::message::{HeaderField, Response};
use crate::method::{Method, StatusCode};
use crate::uri::Uri;
use bytes::Bytes;

/// The Content-Type of session descriptions.
const SDP: &str = "application/sdp";

impl Endpoint {
    /// Answer INVITE `invite` with 200 carrying `answer` (an SDP body; empty for none) and wait for the ACK:
    /// the confirmed dialog. The 2xx is retransmitted until the ACK arrives (RFC 3261 §13.3.1.4); without
    /// one after 64·T1 the session is ended with BYE and this fails with [`EndpointError::AckTimeout`].
    /// Fails with [`EndpointError::Cancelled`] if the peer cancelled the INVITE first.
    pub async fn create_uas(
        &self,
        mut invite: ServerTransaction,
        answer: impl Into<Bytes>,
    ) -> Result<DialogHandle, EndpointError> {
        let answer = answer.into();
        let mut ok = invite.response(StatusCode::OK);
        if !answer.is_empty() {
            ok = ok.header(HeaderName::ContentType, SDP).body(answer);
        }
        self.accept(&mut invite, ok.build()).await
    }

    /// Send 2xx `response` on `invite`, then wait for the ACK.
    pub(super) async fn accept(
        &self,
        invite: &mut ServerTransaction,
        response: Response,
    ) -> Result<DialogHandle, EndpointError> {
        let attach = match invite.respond_in(response).await {
            Ok(attach) => attach,
            Err(_) if invite.is_cancelled() => return Err(EndpointError::Cancelled),
            Err(error) => return Err(error),
        };
        let mut dialog = DialogHandle::from_attach(attach.ok_or(EndpointError::BadRequest(
            "the INVITE creates no dialog (no Contact, or already within one)",
        ))?);
        let mut early = Vec::new();
        let result = loop {
            match dialog.next_event().await {
                Some(DialogEvent::Ack(_)) => break Ok(()),
                Some(DialogEvent::Ended(DialogEnd::AckTimeout)) => {
                    break Err(EndpointError::AckTimeout);
                }
                Some(DialogEvent::Ended(_)) | None => break Err(EndpointError::UnknownDialog),
                Some(other) => early.push(other),
            }
        };
        for event in early {
            dialog.push_back(event);
        }
        result.map(|()| dialog)
    }

    /// Call `uri` with INVITE carrying `offer` (an SDP body) and return the dialog of the first 2xx (already
    /// acknowledged); a non-2xx final response is [`EndpointError::Refused`]. See
    /// [`Endpoint::create_uac_with`] for credentials, headers or a target.
    pub async fn create_uac(
        &self,
        uri: Uri,
        offer: impl Into<Bytes>,
    ) -> Result<DialogHandle, EndpointError> {
        let offer = offer.into();
        let mut invite = self.request(Method::Invite, uri);
        if !offer.is_empty() {
            invite = invite.body(SDP, offer);
        }
        self.create_uac_with(invite).await
    }

    /// Send `invite` (from [`Endpoint::request`] with [`Method::Invite`]) and return the dialog of its first
    /// 2xx. Provisional responses are skipped; 401/407 are answered when the request has credentials.
    pub async fn create_uac_with(
        &self,
        invite: OutgoingRequest,
    ) -> Result<DialogHandle, EndpointError> {
        let mut call = invite.send().await?;
        answered_dialog(&mut call).await
    }

    /// Relay INVITE `incoming` to `target` as a back-to-back user agent: a new INVITE (own Call-ID, tags and
    /// CSeq; the same body; Max-Forwards one less) goes out, its provisional responses (above 100) and final
    /// response come back on `incoming`, and a CANCEL of `incoming` cancels it. Once answered, the
    /// [`B2bua`] holds both confirmed legs; [`B2bua::run`] relays requests within them and BYE.
    ///
    /// `Max-Forwards: 0` on `incoming` is answered 483 (Too Many Hops): the loop ends here.
    pub async fn create_b2bua(
        &self,
        mut incoming: ServerTransaction,
        target: Uri,
    ) -> Result<B2bua, EndpointError> {
        let hops = incoming
            .request()
            .headers()
            .max_forwards()
            .and_then(Result::ok)
            .map_or(70, |m| m.0);
        if hops == 0 {
            incoming.reply(StatusCode::TOO_MANY_HOPS).await?;
            return Err(EndpointError::BadRequest("Max-Forwards reached 0"));
        }
        let mut invite = self
            .request(Method::Invite, target)
            .replace(HeaderField::from_typed(&MaxForwards(hops - 1)));
        let body = incoming.request().body().clone();
        if !body.is_empty() {
            let content_type = incoming
                .request()
                .headers()
                .get(&HeaderName::ContentType)
                .map_or(Bytes::from_static(SDP.as_bytes()), |f| f.value().clone());
            invite = invite
                .replace(HeaderField::new(HeaderName::ContentType, content_type))
                .body_bytes(body);
        }
        let mut outgoing = match invite.send().await {
            Ok(handle) => handle,
            Err(error) => {
                let _ = incoming.reply(StatusCode::SERVICE_UNAVAILABLE).await;
                return Err(error);
            }
        };
        self.relay_call(incoming, &mut outgoing).await
    }

    /// Relay the progress of `outgoing` onto `incoming` until the final response.
    async fn relay_call(
        &self,
        mut incoming: ServerTransaction,
        outgoing: &mut ClientTransactionHandle,
    ) -> Result<B2bua, EndpointError> {
        loop {
            let response = tokio::select! {
                response = outgoing.response() => response,
                () = incoming.cancelled() => {
                    outgoing.cancel();
                    continue;
                }
            };
            let Some(response) = response else {
                let status = match outgoing.outcome() {
                    Some(super::RequestOutcome::Timeout) => StatusCode::REQUEST_TIMEOUT,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                };
                let _ = incoming.reply(status).await;
                return Err(EndpointError::Timeout);
            };
            let status = response.status();
            if status.as_u16() == 100 {
                continue;
            }
            let relayed = mirror(&incoming, &response);
            if status.is_provisional() {
                let _ = incoming.respond(relayed).await;
                continue;
            }
            if !status.is_success() {
                let _ = incoming.respond(relayed).await;
                return Err(EndpointError::Refused(Box::new(response)));
            }
            let b = outgoing.take_dialog().ok_or(EndpointError::UnknownDialog)?;
            let a = self.accept(&mut incoming, relayed).await?;
            return Ok(B2bua { a, b });
        }
    }
}

/// Wait for the first 2xx of INVITE `call` and take its dialog.
async fn answered_dialog(
    call: &mut ClientTransactionHandle,
) -> Result<DialogHandle, EndpointError> {
    let response = call.final_response().await?;
    if !response.status().is_success() {
        return Err(EndpointError::Refused(Box::new(response)));
    }
    call.take_dialog().ok_or(EndpointError::UnknownDialog)
}

/// `response` from one leg as a response on `incoming`: same status, reason phrase and body.
fn mirror(incoming: &ServerTransaction, response: &Response) -> Response {
    let mut relayed = incoming
        .response(response.status())
        .reason(response.reason().clone());
    if !response.body().is_empty() {
        if let Some(content_type) = response.headers().get(&HeaderName::ContentType) {
            relayed = relayed.field(content_type.clone());
        }
        relayed = relayed.body(response.body().clone());
    }
    relayed.build()
}

/// The two confirmed legs of a call relayed by [`Endpoint::create_b2bua`]: `a` towards the caller, `b`
/// towards the callee. Dropping it hangs both legs up.
#[derive(Debug)]
pub struct B2bua {
    /// The leg towards the caller (the UAS side).
    pub a: DialogHandle,
    /// The leg towards the callee (the UAC side).
    pub b: DialogHandle,
}

/// Which leg of a [`B2bua`] ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// The caller's leg.
    A,
    /// The callee's leg.
    B,
}

impl B2bua {
    /// Relay until one leg ends: requests within one leg (re-INVITE, INFO, UPDATE …) go to the other with
    /// the same body and their final response comes back; a BYE on one leg is answered there and sent on
    /// the other. Returns the leg that ended first and why.
    pub async fn run(mut self) -> (Leg, DialogEnd) {
        loop {
            let (leg, event) = tokio::select! {
                event = self.a.next_event() => (Leg::A, event),
                event = self.b.next_event() => (Leg::B, event),
            };
            let (from, to) = match leg {
                Leg::A => (&mut self.a, &mut self.b),
                Leg::B => (&mut self.b, &mut self.a),
            };
            match event {
                Some(DialogEvent::Request(request)) => relay_request(request, to).await,
                Some(DialogEvent::Ack(_)) => {}
                Some(DialogEvent::Ended(reason)) => {
                    let _ = to.bye().await;
                    return (leg, reason);
                }
                None => {
                    let _ = to.bye().await;
                    return (leg, from.end().unwrap_or(DialogEnd::Lost));
                }
            }
        }
    }
}

/// Send `request`'s method and body on dialog `to` and answer `request` with the final response.
async fn relay_request(mut request: ServerTransaction, to: &mut DialogHandle) {
    let method = request.request().method().clone();
    let mut out = to.request(method);
    let body = request.request().body().clone();
    if !body.is_empty() {
        let content_type = request
            .request()
            .headers()
            .get(&HeaderName::ContentType)
            .and_then(|f| std::str::from_utf8(f.value()).ok().map(str::to_owned))
            .unwrap_or_else(|| SDP.to_owned());
        out = out.body(&content_type, body);
    }
    let response = match out.send().await {
        Ok(mut handle) => handle.final_response().await.ok(),
        Err(_) => None,
    };
    let relayed = match &response {
        Some(response) => mirror(&request, response),
        None => request.response(StatusCode::SERVER_INTERNAL_ERROR).build(),
    };
    let _ = request.respond(relayed).await;
}
