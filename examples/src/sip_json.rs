//! JSON views of parsed SIP messages: the start line, every header field as received with its typed view where
//! tandem-sip-core has one, and the body's length and type.
//!
//! Byte strings that are not UTF-8 are shown with U+FFFD replacement characters.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use tandem_sip_core::header::{
    Accept, Allow, Authorization, CSeq, CallId, Contact, ContentLength, ContentType, Date, Event,
    Expires, FromHeader, MaxForwards, MediaType, MinExpires, NameAddr, Path, ProxyAuthenticate,
    ProxyAuthorization, ProxyRequire, Reason, RecordRoute, ReferTo, ReferredBy, Require,
    RetryAfter, Route, Rport, Server, SubState, SubscriptionState, Supported, ToHeader,
    TypedHeader, Unsupported, UserAgent, Via, Warning, WwwAuthenticate,
};
use tandem_sip_core::{HeaderField, HeaderName, Message, Params, ParseError, Uri};

/// The whole message.
pub(crate) fn message(message: &Message) -> Value {
    let (kind, start_line) = match message {
        Message::Request(r) => (
            "request",
            json!({
                "method": r.method().as_str(),
                "uri": uri(r.uri()),
                "version": r.version().to_string(),
            }),
        ),
        Message::Response(r) => (
            "response",
            json!({
                "version": r.version().to_string(),
                "status": r.status().as_u16(),
                "reason": text(r.reason()),
            }),
        ),
    };
    let headers = message.headers();
    let content_type = headers
        .get(&HeaderName::ContentType)
        .map(|f| text(f.value()));
    json!({
        "type": kind,
        "start_line": start_line,
        "headers": headers.iter().map(field).collect::<Vec<_>>(),
        "body": { "length": message.body().len(), "content_type": content_type },
    })
}

/// One header field: the name as received and its canonical form, the raw value and where it starts in the
/// message, and `typed` (or `typed_error`) where a typed view exists.
fn field(field: &HeaderField) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), text(field.raw_name()));
    out.insert("canonical".into(), json!(field.name().as_str()));
    out.insert("value".into(), text(field.value()));
    out.insert("offset".into(), json!(field.offset()));
    if let Some(typed) = typed(field) {
        match typed {
            Ok(value) => out.insert("typed".into(), value),
            Err(error) => out.insert("typed_error".into(), parse_error(&error)),
        };
    }
    Value::Object(out)
}

/// A header field written on one line, `Name: value`.
pub(crate) fn field_line(field: &HeaderField) -> String {
    let mut line = Vec::new();
    field.write_to(&mut line);
    String::from_utf8_lossy(&line).trim_end().to_owned()
}

/// A parse error: offset (from the start of the message), kind and what was expected.
pub(crate) fn parse_error(error: &ParseError) -> Value {
    json!({
        "offset": error.offset,
        "kind": error.kind.to_string(),
        "expected": error.expected,
    })
}

/// The typed view of a field whose header has one: `None` for other headers.
fn typed(field: &HeaderField) -> Option<Result<Value, ParseError>> {
    Some(match field.name() {
        HeaderName::Via => each::<Via>(field, via),
        HeaderName::From => each::<FromHeader>(field, |f| name_addr(f)),
        HeaderName::To => each::<ToHeader>(field, |t| name_addr(t)),
        HeaderName::Route => each::<Route>(field, |r| name_addr(r)),
        HeaderName::RecordRoute => each::<RecordRoute>(field, |r| name_addr(r)),
        HeaderName::Path => each::<Path>(field, |p| name_addr(p)),
        HeaderName::ReferTo => each::<ReferTo>(field, |r| name_addr(r)),
        HeaderName::ReferredBy => each::<ReferredBy>(field, |r| name_addr(r)),
        HeaderName::Contact => each::<Contact>(field, contact),
        HeaderName::CallId => each::<CallId>(field, |c| text(c.as_bytes())),
        HeaderName::CSeq => each::<CSeq>(
            field,
            |c| json!({ "seq": c.seq, "method": c.method.as_str() }),
        ),
        HeaderName::MaxForwards => each::<MaxForwards>(field, |m| json!(m.0)),
        HeaderName::ContentLength => each::<ContentLength>(field, |c| json!(c.0)),
        HeaderName::Expires => each::<Expires>(field, |e| json!(e.0)),
        HeaderName::MinExpires => each::<MinExpires>(field, |e| json!(e.0)),
        HeaderName::ContentType => each::<ContentType>(field, |c| media_type(&c.0)),
        HeaderName::Accept => each::<Accept>(field, |a| media_type(&a.0)),
        HeaderName::Allow => each::<Allow>(field, |a| json!(a.0.as_str())),
        HeaderName::Supported => each::<Supported>(field, |s| text(s.tag())),
        HeaderName::Require => each::<Require>(field, |r| text(r.tag())),
        HeaderName::ProxyRequire => each::<ProxyRequire>(field, |r| text(r.tag())),
        HeaderName::Unsupported => each::<Unsupported>(field, |u| text(u.tag())),
        HeaderName::UserAgent => each::<UserAgent>(field, |u| text(u.as_bytes())),
        HeaderName::Server => each::<Server>(field, |s| text(s.as_bytes())),
        HeaderName::Authorization => each::<Authorization>(field, |a| {
            auth(
                a.scheme(),
                a.params().iter().map(|p| (p.name, p.decoded_value())),
            )
        }),
        HeaderName::ProxyAuthorization => each::<ProxyAuthorization>(field, |a| {
            auth(
                a.scheme(),
                a.params().iter().map(|p| (p.name, p.decoded_value())),
            )
        }),
        HeaderName::WwwAuthenticate => each::<WwwAuthenticate>(field, |a| {
            auth(
                a.scheme(),
                a.params().iter().map(|p| (p.name, p.decoded_value())),
            )
        }),
        HeaderName::ProxyAuthenticate => each::<ProxyAuthenticate>(field, |a| {
            auth(
                a.scheme(),
                a.params().iter().map(|p| (p.name, p.decoded_value())),
            )
        }),
        HeaderName::Event => each::<Event>(
            field,
            |e| json!({ "type": text(e.event_type()), "params": params(e.params()) }),
        ),
        HeaderName::SubscriptionState => each::<SubscriptionState>(field, |s| {
            json!({
                "state": sub_state(&s.state()),
                "expires": s.expires(),
                "params": params(s.params()),
            })
        }),
        HeaderName::Reason => each::<Reason>(field, |r| {
            json!({
                "protocol": text(r.protocol()),
                "cause": r.cause(),
                "text": r.text().map(|t| text(&t)),
            })
        }),
        HeaderName::RetryAfter => each::<RetryAfter>(field, |r| {
            json!({
                "seconds": r.seconds(),
                "duration": r.duration(),
                "comment": r.comment().map(|c| text(c)),
            })
        }),
        HeaderName::Warning => each::<Warning>(
            field,
            |w| json!({ "code": w.code(), "agent": text(w.agent()), "text": text(&w.text()) }),
        ),
        HeaderName::Date => each::<Date>(field, |d| json!({ "unix_time": d.unix_time() })),
        _ => return None,
    })
}

/// Parse the field as `H` and show it with `show`: one value, or an array of the elements of a list header.
/// The first element that does not parse makes the whole field a `typed_error`.
fn each<H: TypedHeader>(
    field: &HeaderField,
    show: impl Fn(&H) -> Value,
) -> Result<Value, ParseError> {
    if !H::LIST {
        return field.parse::<H>().map(|h| show(&h));
    }
    field
        .elements()
        .map(|element| element.parse::<H>().map(|h| show(&h)))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn via(via: &Via) -> Value {
    let rport = match via.rport() {
        None => Value::Null,
        Some(Rport::Requested) => json!(true),
        Some(Rport::Port(port)) => json!(port),
    };
    json!({
        "protocol": format!(
            "{}/{}",
            String::from_utf8_lossy(via.protocol_name()),
            String::from_utf8_lossy(via.protocol_version())
        ),
        "transport": text(via.transport().as_bytes()),
        "host": via.host().to_string(),
        "port": via.port(),
        "branch": via.branch().map(text),
        "received": via.received().map(text),
        "rport": rport,
        "params": params(via.params()),
    })
}

fn name_addr(addr: &NameAddr) -> Value {
    json!({
        "display_name": addr.display_name().map(|d| text(&d)),
        "uri": uri(addr.uri()),
        "tag": addr.tag().map(text),
        "params": params(addr.params()),
    })
}

fn contact(contact: &Contact) -> Value {
    let Some(addr) = contact.address() else {
        return json!({ "wildcard": true });
    };
    let mut out = name_addr(addr);
    out["q"] = json!(contact.q().map(|q| f64::from(q.thousandths()) / 1000.0));
    out["expires"] = json!(contact.expires());
    out
}

fn sub_state(state: &SubState) -> Value {
    match state {
        SubState::Active => json!("active"),
        SubState::Pending => json!("pending"),
        SubState::Terminated => json!("terminated"),
        SubState::Other(other) => text(other),
    }
}

fn media_type(media: &MediaType) -> Value {
    json!({
        "type": text(media.mtype()),
        "subtype": text(media.subtype()),
        "params": params(media.params()),
    })
}

fn auth<'a>(
    scheme: &Bytes,
    params: impl Iterator<Item = (&'a [u8], std::borrow::Cow<'a, [u8]>)>,
) -> Value {
    let params: Vec<Value> = params
        .map(|(name, value)| json!({ "name": text(name), "value": text(&value) }))
        .collect();
    json!({ "scheme": text(scheme), "params": params })
}

/// A URI: its text, and its parts for SIP, SIPS and TEL URIs.
fn uri(uri: &Uri) -> Value {
    let mut written = Vec::new();
    uri.write_to(&mut written);
    let mut out = json!({ "text": text(&written), "scheme": text(uri.scheme()) });
    if let Some(sip) = uri.as_sip() {
        out["user"] = json!(sip.user().map(|u| text(u)));
        out["host"] = json!(sip.host().to_string());
        out["port"] = json!(sip.port());
        out["params"] = params(sip.params());
        let headers: Vec<Value> = sip
            .headers()
            .iter()
            .map(|h| json!({ "name": text(&h.decoded_name()), "value": text(&h.decoded_value()) }))
            .collect();
        out["headers"] = Value::Array(headers);
    } else if let Some(tel) = uri.as_tel() {
        out["number"] = text(tel.number());
        out["params"] = params(tel.params());
    }
    out
}

/// Parameters in order, names and values as received (`null` for a parameter without a value).
fn params(params: &Params) -> Value {
    Value::Array(
        params
            .iter()
            .map(|p| json!({ "name": text(p.name()), "value": p.value().map(text) }))
            .collect(),
    )
}

fn text(bytes: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}
