//! SIP datagram parsing: no input panics. A message that parses answers every typed accessor without panicking,
//! every typed header value that parses writes back to a value that parses equal, and the message written out
//! parses back equal to itself.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use std::fmt::Debug;
use tandem_sip_core::header::{
    Accept, Allow, Authorization, CSeq, CallId, Contact, ContentLength, ContentType, Date, Event,
    Expires, FromHeader, MaxForwards, MinExpires, Path, ProxyAuthenticate, ProxyAuthorization,
    ProxyRequire, Reason, RecordRoute, ReferTo, ReferredBy, Require, RetryAfter, Route, Server,
    SubscriptionState, Supported, ToHeader, TypedHeader, Unsupported, UserAgent, Via, Warning,
    WwwAuthenticate,
};
use tandem_sip_core::{
    HeaderField, HeaderName, Headers, Limits, Message, parse_message, parse_message_head,
    parse_message_with,
};

fuzz_target!(|data: &[u8]| {
    let wire = Bytes::copy_from_slice(data);
    // The head-only parse (used to answer 400 to badly framed requests) must not panic either.
    let _ = parse_message_head(wire.clone(), &Limits::default());
    let Ok(message) = parse_message(wire) else {
        return;
    };
    read_every_accessor(message.headers());
    for field in message.headers() {
        round_trip_typed(field);
    }
    check_written_form_parses_equal(&message);
});

/// The convenience accessors a proxy or UA uses; their results are not checked, only that they return.
fn read_every_accessor(headers: &Headers) {
    if let Some(Ok(via)) = headers.via() {
        let _ = (
            via.branch(),
            via.rport(),
            via.received_ip(),
            via.ttl(),
            via.maddr(),
        );
    }
    let _ = headers.vias().count();
    if let Some(Ok(from)) = headers.from() {
        let _ = (from.tag(), from.display_name());
    }
    if let Some(Ok(to)) = headers.to() {
        let _ = to.tag();
    }
    let _ = headers.call_id();
    let _ = headers.cseq();
    let _ = headers.max_forwards();
    let _ = headers.content_length();
    for contact in headers.contacts().flatten() {
        let _ = (
            contact.q(),
            contact.expires(),
            contact.sip_instance(),
            contact.reg_id(),
        );
    }
    let _ = headers.routes().count();
    let _ = headers.record_routes().count();
}

/// Parse the field with the typed view its name calls for, and round-trip every value that parses.
fn round_trip_typed(field: &HeaderField) {
    match field.name() {
        HeaderName::Accept => each::<Accept>(field),
        HeaderName::Allow => each::<Allow>(field),
        HeaderName::Authorization => each::<Authorization>(field),
        HeaderName::CallId => each::<CallId>(field),
        HeaderName::Contact => each::<Contact>(field),
        HeaderName::ContentLength => each::<ContentLength>(field),
        HeaderName::ContentType => each::<ContentType>(field),
        HeaderName::CSeq => each::<CSeq>(field),
        HeaderName::Date => each::<Date>(field),
        HeaderName::Event => each::<Event>(field),
        HeaderName::Expires => each::<Expires>(field),
        HeaderName::From => each::<FromHeader>(field),
        HeaderName::MaxForwards => each::<MaxForwards>(field),
        HeaderName::MinExpires => each::<MinExpires>(field),
        HeaderName::Path => each::<Path>(field),
        HeaderName::ProxyAuthenticate => each::<ProxyAuthenticate>(field),
        HeaderName::ProxyAuthorization => each::<ProxyAuthorization>(field),
        HeaderName::ProxyRequire => each::<ProxyRequire>(field),
        HeaderName::Reason => each::<Reason>(field),
        HeaderName::RecordRoute => each::<RecordRoute>(field),
        HeaderName::ReferTo => each::<ReferTo>(field),
        HeaderName::ReferredBy => each::<ReferredBy>(field),
        HeaderName::Require => each::<Require>(field),
        HeaderName::RetryAfter => each::<RetryAfter>(field),
        HeaderName::Route => each::<Route>(field),
        HeaderName::Server => each::<Server>(field),
        HeaderName::SubscriptionState => each::<SubscriptionState>(field),
        HeaderName::Supported => each::<Supported>(field),
        HeaderName::To => each::<ToHeader>(field),
        HeaderName::Unsupported => each::<Unsupported>(field),
        HeaderName::UserAgent => each::<UserAgent>(field),
        HeaderName::Via => each::<Via>(field),
        HeaderName::Warning => each::<Warning>(field),
        HeaderName::WwwAuthenticate => each::<WwwAuthenticate>(field),
        _ => {}
    }
}

/// Every value of the field (each list element for a list header), parsed as `H` and, if it parses, written and
/// parsed again.
fn each<H: TypedHeader + PartialEq + Debug>(field: &HeaderField) {
    if H::LIST {
        for element in field.elements() {
            check_typed_round_trip::<H>(element.parse::<H>());
        }
    } else {
        check_typed_round_trip::<H>(field.parse::<H>());
    }
}

fn check_typed_round_trip<H: TypedHeader + PartialEq + Debug>(
    parsed: Result<H, tandem_sip_core::ParseError>,
) {
    let Ok(value) = parsed else {
        return;
    };
    let mut written = Vec::new();
    value.write_to(&mut written);
    let again = H::parse(&Bytes::from(written.clone()))
        .unwrap_or_else(|e| panic!("{value:?} written as {written:?} does not parse: {e}"));
    assert_eq!(
        again,
        value,
        "written as {:?}",
        String::from_utf8_lossy(&written)
    );
}

/// The written message parses back equal. Writing may lengthen lines (bare LF becomes CRLF, `Name:value` gains a
/// space), so the second parse allows longer lines and messages; the field and Via counts do not change.
fn check_written_form_parses_equal(message: &Message) {
    let written = message.to_bytes();
    let roomy = Limits {
        max_message_size: usize::MAX / 4,
        max_line_length: usize::MAX / 4,
        ..Limits::default()
    };
    let again = parse_message_with(written.clone(), &roomy)
        .unwrap_or_else(|e| panic!("written form does not parse: {e}: {written:?}"));
    assert_eq!(&again, message, "written as {written:?}");
}
