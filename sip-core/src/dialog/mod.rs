//! Dialogs (RFC 3261 §12): the peer-to-peer relationship an INVITE sets up, sans-IO.
//!
//! A [`Dialog`] holds the state RFC 3261 §12 lists — identifier, local and remote sequence numbers, local and
//! remote URIs, remote target, route set and secure flag — and applies the rules around it:
//!
//! * creation: at the UAC from a 1xx carrying a To tag (early) or a 2xx (confirmed) to its INVITE
//!   ([`Dialog::new_uac`]); at the UAS from the INVITE and the response it sends ([`Dialog::new_uas`]). Each
//!   fork of an INVITE answers with its own To tag and so makes its own [`DialogId`] and dialog;
//! * requests within the dialog ([`Dialog::request`], [`Dialog::ack`]) with the Request-URI, Route set,
//!   From/To tags, Call-ID, CSeq and Max-Forwards filled in, loose or strict routing per §12.2.1.1;
//! * responses to those requests ([`Dialog::handle_response`]): confirming an early dialog, remote target
//!   refresh, ACK for every 2xx and the same ACK again for a retransmitted 2xx, termination on 481/408,
//!   backing off after a 491;
//! * requests from the peer ([`Dialog::handle_request`]): CSeq ordering (500), glare (491), overlapping
//!   INVITEs (500 with Retry-After), remote target refresh; and the responses sent to them
//!   ([`Dialog::handle_sent_response`]).
//!
//! The dialog never sends anything itself and reads no clock: the transaction user (TU) feeds it messages and
//! sends what it builds through the transaction layer.

mod glare;
mod id;
mod route_set;
mod uac;
mod uas;

pub use glare::{glare_backoff, random_delay};
pub use id::{DialogId, generate_branch, generate_call_id, generate_tag};
pub use route_set::{MAX_ROUTE_SET, RequestTarget, RouteSet};
pub use uac::{ResponseAction, cancel_request};
pub use uas::{RequestAction, unknown_dialog_response};

use crate::error::ParseError;
use crate::header::{CSeq, Contact, FromHeader, HeaderName, NameAddr, ToHeader, TypedHeader};
use crate::message::{Headers, Request, Response};
use crate::method::{Method, StatusCode};
use crate::uri::Uri;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Everything that can go wrong building or updating a dialog.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// A header field the dialog needs is absent.
    #[error("missing {0} header field")]
    MissingHeader(HeaderName),
    /// A header field the dialog needs does not parse.
    #[error("invalid {name} header field: {error}")]
    InvalidHeader {
        /// The header field.
        name: HeaderName,
        /// Why it does not parse.
        error: ParseError,
    },
    /// The From or To header field has no tag where the dialog needs one.
    #[error("the {0} header field has no tag")]
    MissingTag(HeaderName),
    /// The message has no Contact address to take the remote target from.
    #[error("no Contact address to take the remote target from")]
    MissingContact,
    /// This response cannot create a dialog (a 100, a final non-2xx, or a 1xx to a request other than INVITE).
    #[error("a {0} response does not create a dialog")]
    NotDialogCreating(StatusCode),
    /// The message's Call-ID or tags name another dialog.
    #[error("the message does not belong to this dialog")]
    NotThisDialog,
    /// The response's CSeq or Call-ID does not match the request it should answer.
    #[error("the response does not answer the request")]
    ResponseMismatch,
    /// The dialog is terminated: no new requests may be sent in it.
    #[error("the dialog is terminated")]
    Terminated,
    /// An INVITE transaction is in progress in the dialog, in one direction or the other (RFC 3261 §14.1).
    #[error("an INVITE transaction is already in progress in this dialog")]
    InvitePending,
    /// ACK and CANCEL are not built with [`Dialog::request`]: see [`Dialog::ack`] and [`cancel_request`].
    #[error("{0} is not built with Dialog::request")]
    UnsupportedMethod(Method),
    /// The local CSeq reached 2^31-1 (RFC 3261 §8.1.1.5).
    #[error("the local CSeq number is exhausted")]
    CSeqExhausted,
    /// The route set would have more entries than [`MAX_ROUTE_SET`].
    #[error("route set of {0} entries exceeds the limit")]
    TooManyRoutes(usize),
    /// An ACK was asked for a response that is not a 2xx to an INVITE.
    #[error("an ACK answers a 2xx response to an INVITE")]
    NotA2xxToInvite,
}

/// The state of a dialog (RFC 3261 §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogState {
    /// Created by a provisional response; the INVITE has no final response yet.
    Early,
    /// Established by a 2xx.
    Confirmed,
    /// Ended by a BYE, a failure of the initial INVITE, or a 481/408 to a request within it.
    Terminated,
}

/// Which side of the dialog-creating INVITE this UA was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// This UA sent the INVITE (and generated the Call-ID).
    Uac,
    /// This UA received the INVITE.
    Uas,
}

/// The state of one dialog, and the rules that keep it; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Dialog {
    id: DialogId,
    role: Role,
    state: DialogState,
    local_uri: NameAddr,
    remote_uri: NameAddr,
    remote_target: Uri,
    route_set: RouteSet,
    local_contact: Option<NameAddr>,
    local_seq: Option<u32>,
    remote_seq: Option<u32>,
    secure: bool,
    /// CSeq of the INVITE this UA sent that has no final response yet.
    pending_invite: Option<u32>,
    /// CSeq of the INVITE this UA received and has not answered with a final response yet.
    pending_remote_invite: Option<u32>,
    /// The ACK sent for the latest 2xx to an INVITE, kept to answer its retransmissions.
    last_ack: Option<(u32, Request)>,
}

impl Dialog {
    /// The dialog a UAC gets from `response` to the `invite` it sent (RFC 3261 §12.1.2): early for a 101–199
    /// with a To tag, confirmed for a 2xx.
    ///
    /// The route set is the response's Record-Route reversed, the remote target its Contact (for a
    /// provisional response without Contact, the INVITE's Request-URI until a later response gives one), the
    /// local sequence number the INVITE's CSeq. The secure flag is set when the Request-URI is a SIPS URI; the
    /// transport must then have been TLS. A 2xx without a To tag (an RFC 2543 UAS) makes an empty remote tag.
    pub fn new_uac(invite: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let req_cseq: CSeq = required(invite.headers())?;
        let resp_cseq: CSeq = required(response.headers())?;
        let id = DialogId::from_received_response(response)?;
        if resp_cseq != req_cseq || id.call_id != id::call_id(invite.headers())? {
            return Err(DialogError::ResponseMismatch);
        }
        let state = creating_state(response.status(), &req_cseq.method)?;
        if state == DialogState::Early && id.remote_tag.is_empty() {
            return Err(DialogError::MissingTag(HeaderName::To));
        }
        let remote_target = match first_contact(response.headers())? {
            Some(contact) => contact.uri().clone(),
            None if state == DialogState::Early => invite.uri().clone(),
            None => return Err(DialogError::MissingContact),
        };
        let FromHeader(local_uri) = required(invite.headers())?;
        let ToHeader(remote_uri) = required(response.headers())?;
        Ok(Dialog {
            id,
            role: Role::Uac,
            state,
            local_uri,
            remote_uri,
            remote_target,
            route_set: RouteSet::from_response_record_route(response.headers())?,
            local_contact: first_contact(invite.headers())?,
            local_seq: Some(req_cseq.seq),
            remote_seq: None,
            secure: is_sips(invite.uri()),
            pending_invite: (state == DialogState::Early).then_some(req_cseq.seq),
            pending_remote_invite: None,
            last_ack: None,
        })
    }

    /// The dialog a UAS gets by sending `response` (101–199 or 2xx, carrying the To tag it chose) to the
    /// received `invite` (RFC 3261 §12.1.1).
    ///
    /// The route set is the request's Record-Route in order, the remote target its Contact, the remote
    /// sequence number its CSeq; the local sequence number stays empty until this UA sends a request. The
    /// secure flag is set when the Request-URI is a SIPS URI (which requires TLS).
    pub fn new_uas(invite: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let cseq: CSeq = required(invite.headers())?;
        let state = creating_state(response.status(), &cseq.method)?;
        let local_tag =
            id::to_tag(response.headers())?.ok_or(DialogError::MissingTag(HeaderName::To))?;
        let id = DialogId {
            call_id: id::call_id(invite.headers())?,
            local_tag,
            remote_tag: id::from_tag_or_empty(invite.headers())?,
        };
        let remote_target = first_contact(invite.headers())?
            .ok_or(DialogError::MissingContact)?
            .uri()
            .clone();
        let FromHeader(remote_uri) = required(invite.headers())?;
        let ToHeader(local_uri) = required(response.headers())?;
        Ok(Dialog {
            id,
            role: Role::Uas,
            state,
            local_uri,
            remote_uri,
            remote_target,
            route_set: RouteSet::from_request_record_route(invite.headers())?,
            local_contact: first_contact(response.headers())?,
            local_seq: None,
            remote_seq: Some(cseq.seq),
            secure: is_sips(invite.uri()),
            pending_invite: None,
            pending_remote_invite: (state == DialogState::Early).then_some(cseq.seq),
            last_ack: None,
        })
    }

    /// The dialog identifier.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// Which side of the dialog-creating INVITE this UA was on.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The dialog state.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// The local URI with the local tag: the From of requests this UA sends.
    pub fn local_uri(&self) -> &NameAddr {
        &self.local_uri
    }

    /// The remote URI with the remote tag: the To of requests this UA sends.
    pub fn remote_uri(&self) -> &NameAddr {
        &self.remote_uri
    }

    /// The remote target: the Request-URI of requests this UA sends (unless a strict router comes first).
    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    /// The route set.
    pub fn route_set(&self) -> &RouteSet {
        &self.route_set
    }

    /// The URI the next request goes to: the first route, or the remote target without a route set.
    pub fn next_hop(&self) -> &Uri {
        self.route_set.next_hop(&self.remote_target)
    }

    /// The Contact this UA puts in target refresh requests (taken from the dialog-creating message it sent).
    pub fn local_contact(&self) -> Option<&NameAddr> {
        self.local_contact.as_ref()
    }

    /// Change the Contact sent in target refresh requests (e.g. after the UA's address changed).
    pub fn set_local_contact(&mut self, contact: NameAddr) {
        self.local_contact = Some(contact);
    }

    /// The CSeq number of the last request this UA sent in the dialog (`None` before the first, at a UAS).
    pub fn local_seq(&self) -> Option<u32> {
        self.local_seq
    }

    /// The CSeq number of the last request the peer sent in the dialog (`None` before the first, at a UAC).
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    /// Whether requests in this dialog must go over TLS (the dialog was created with a SIPS Request-URI).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Whether this UA generated the Call-ID, i.e. was the UAC of the dialog-creating INVITE.
    pub fn is_call_id_owner(&self) -> bool {
        self.role == Role::Uac
    }

    /// The range the delay before retrying a re-INVITE refused with 491 is drawn from (RFC 3261 §14.1); pick
    /// one with [`random_delay`].
    pub fn glare_backoff(&self) -> RangeInclusive<Duration> {
        glare_backoff(self.is_call_id_owner())
    }

    /// End the dialog: the TU calls this when a request within it timed out (RFC 3261 §12.2.1.2) or when it
    /// gives up on it.
    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }
}

/// The state a dialog starts in when created by `status` to a request of `method`.
fn creating_state(status: StatusCode, method: &Method) -> Result<DialogState, DialogError> {
    match status.as_u16() {
        101..=199 if *method == Method::Invite => Ok(DialogState::Early),
        200..=299 => Ok(DialogState::Confirmed),
        _ => Err(DialogError::NotDialogCreating(status)),
    }
}

fn is_sips(uri: &Uri) -> bool {
    uri.as_sip().is_some_and(|u| u.is_secure())
}

/// The value of header `H`, which must be present and well formed.
fn required<H: TypedHeader>(headers: &Headers) -> Result<H, DialogError> {
    headers
        .typed::<H>()
        .ok_or(DialogError::MissingHeader(H::NAME))?
        .map_err(|error| DialogError::InvalidHeader {
            name: H::NAME,
            error,
        })
}

/// The first Contact address; `None` without Contact. The wildcard has no place outside REGISTER.
fn first_contact(headers: &Headers) -> Result<Option<NameAddr>, DialogError> {
    let Some(contact) = headers.contacts().next() else {
        return Ok(None);
    };
    let contact = contact.map_err(|error| DialogError::InvalidHeader {
        name: HeaderName::Contact,
        error,
    })?;
    match contact {
        Contact::Address(addr) => Ok(Some(addr)),
        Contact::Wildcard => Err(DialogError::MissingContact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{MAX_CSEQ, Transport, Via};
    use crate::message::Message;
    use crate::parse::parse_message;
    use crate::uri::Host;
    use bytes::Bytes;

    fn message(text: &str) -> Message {
        parse_message(Bytes::from(text.replace('\n', "\r\n"))).unwrap()
    }

    fn dialog() -> Dialog {
        let Message::Request(invite) = message(
            "INVITE sip:b@example.com SIP/2.0
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>
Call-ID: c1
CSeq: 7 INVITE
Contact: <sip:a@192.0.2.1>

",
        ) else {
            panic!("request");
        };
        let Message::Response(ok) = message(
            "SIP/2.0 200 OK
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>;tag=2
Call-ID: c1
CSeq: 7 INVITE
Contact: <sip:b@192.0.2.2>

",
        ) else {
            panic!("response");
        };
        Dialog::new_uac(&invite, &ok).unwrap()
    }

    fn via() -> Via {
        Via::new(Transport::Udp, Host::Domain(Bytes::from_static(b"a")), None)
    }

    #[test]
    fn local_cseq_stops_below_2_pow_31() {
        let mut d = dialog();
        d.local_seq = Some(MAX_CSEQ - 1);
        assert!(d.request(Method::Info, via()).is_ok());
        assert_eq!(d.local_seq(), Some(MAX_CSEQ));
        assert_eq!(
            d.request(Method::Info, via()).unwrap_err(),
            DialogError::CSeqExhausted
        );
        assert_eq!(d.local_seq(), Some(MAX_CSEQ));
    }

    #[test]
    fn terminate_ends_the_dialog_for_new_requests() {
        let mut d = dialog();
        d.terminate();
        assert_eq!(d.state(), DialogState::Terminated);
        assert_eq!(
            d.request(Method::Bye, via()).unwrap_err(),
            DialogError::Terminated
        );
    }

    #[test]
    fn target_refresh_methods_follow_rfc3261_3311_and_6665() {
        for m in [
            Method::Invite,
            Method::Update,
            Method::Subscribe,
            Method::Notify,
        ] {
            assert!(uac::is_target_refresh(&m), "{m}");
        }
        for m in [
            Method::Bye,
            Method::Info,
            Method::Prack,
            Method::Refer,
            Method::Message,
        ] {
            assert!(!uac::is_target_refresh(&m), "{m}");
        }
    }
}
