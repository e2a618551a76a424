//! Mutated RFC 4475 torture messages never make the parser, the stream framer, a typed header view, a URI
//! accessor or validation panic, and every error offset stays inside the input.
//!
//! Each case takes one archived message and applies random byte flips, insertions, deletions, a truncation, or
//! line-level edits (a line duplicated, dropped or swapped), then runs everything a proxy or UAS would run on it.

use bytes::Bytes;
use proptest::prelude::*;
use tandem_sip_core::header::{
    Accept, Allow, Authorization, CSeq, CallId, Contact, ContentLength, ContentType, Date, Event,
    Expires, FromHeader, MaxForwards, MinExpires, Path, ProxyAuthenticate, ProxyAuthorization,
    ProxyRequire, Reason, RecordRoute, ReferTo, ReferredBy, Require, RetryAfter, Route, Server,
    SubscriptionState, Supported, ToHeader, TypedHeader, Unsupported, UserAgent, Via, Warning,
    WwwAuthenticate,
};
use tandem_sip_core::{
    Frame, Headers, Limits, Message, Method, ParseError, Rejection, Role, StreamFramer, Uri,
    ValidationPolicy, parse_message, parse_message_head, validate_request, validate_response,
};

mod rfc4475_corpus;

const CORPUS: [&[u8]; 49] = {
    let mut bytes: [&[u8]; 49] = [&[]; 49];
    let mut i = 0;
    while i < 49 {
        bytes[i] = rfc4475_corpus::FILES[i].1;
        i += 1;
    }
    bytes
};

/// One edit of a message.
#[derive(Debug, Clone)]
enum Edit {
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
    Truncate(prop::sample::Index),
    DuplicateLine(prop::sample::Index),
    DropLine(prop::sample::Index),
    SwapLines(prop::sample::Index, prop::sample::Index),
}

/// Bytes that matter to SIP parsers, weighted above arbitrary ones.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(b" \t\r\n:;,=<>\"\\%@?&/[]().*0-9".to_vec()),
        1 => any::<u8>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<prop::sample::Index>;
    prop_oneof![
        4 => (at(), interesting_byte()).prop_map(|(i, b)| Edit::Flip(i, b)),
        4 => (at(), interesting_byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
        3 => at().prop_map(Edit::Delete),
        1 => at().prop_map(Edit::Truncate),
        1 => at().prop_map(Edit::DuplicateLine),
        1 => at().prop_map(Edit::DropLine),
        1 => (at(), at()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

fn lines(wire: &[u8]) -> Vec<Vec<u8>> {
    wire.split_inclusive(|&c| c == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn apply(wire: &mut Vec<u8>, edit: &Edit) {
    let len = wire.len();
    match edit {
        Edit::Flip(i, b) if len > 0 => wire[i.index(len)] = *b,
        Edit::Insert(i, b) => wire.insert(i.index(len + 1), *b),
        Edit::Delete(i) if len > 0 => {
            wire.remove(i.index(len));
        }
        Edit::Truncate(i) => wire.truncate(i.index(len + 1)),
        Edit::DuplicateLine(i) | Edit::DropLine(i) | Edit::SwapLines(i, _) => {
            let mut ls = lines(wire);
            if ls.is_empty() {
                return;
            }
            let a = i.index(ls.len());
            match edit {
                Edit::DuplicateLine(_) => ls.insert(a, ls[a].clone()),
                Edit::DropLine(_) => {
                    ls.remove(a);
                }
                Edit::SwapLines(_, j) => {
                    let b = j.index(ls.len());
                    ls.swap(a, b);
                }
                _ => {}
            }
            *wire = ls.concat();
        }
        _ => {}
    }
}

fn check_offset(e: &ParseError, len: usize) -> Result<(), TestCaseError> {
    prop_assert!(
        e.offset <= len,
        "offset {} past the input ({len} bytes): {e}",
        e.offset
    );
    Ok(())
}

/// Every value of `H`: parse it, write it and parse the written form again (it must parse).
fn every<H: TypedHeader + std::fmt::Debug>(
    headers: &Headers,
    len: usize,
) -> Result<(), TestCaseError> {
    for value in headers.typed_all::<H>() {
        match value {
            Ok(h) => {
                let mut out = Vec::new();
                h.write_to(&mut out);
                let again = H::parse(&Bytes::from(out.clone()));
                prop_assert!(
                    again.is_ok(),
                    "{:?} wrote {:?}, which does not parse",
                    h,
                    String::from_utf8_lossy(&out)
                );
            }
            Err(e) => check_offset(&e, len)?,
        }
    }
    Ok(())
}

fn uri_accessors(uri: &Uri) {
    let _ = uri.equivalent(uri);
    let _ = uri.to_string();
    if let Some(sip) = uri.as_sip() {
        let _ = sip.user_unescaped();
        let _ = sip.password_unescaped();
        let _ = (
            sip.transport(),
            sip.maddr(),
            sip.is_loose_route(),
            sip.host().ip(),
        );
        for h in sip.headers().iter() {
            let _ = (h.decoded_name(), h.decoded_value());
        }
        for p in sip.params().iter() {
            let _ = p.decoded_value();
        }
    }
    if let Some(tel) = uri.as_tel() {
        let _ = (tel.digits().count(), tel.phone_context(), tel.is_global());
    }
}

fn typed_views(headers: &Headers, len: usize) -> Result<(), TestCaseError> {
    every::<Via>(headers, len)?;
    every::<FromHeader>(headers, len)?;
    every::<ToHeader>(headers, len)?;
    every::<CallId>(headers, len)?;
    every::<CSeq>(headers, len)?;
    every::<MaxForwards>(headers, len)?;
    every::<ContentLength>(headers, len)?;
    every::<Contact>(headers, len)?;
    every::<Route>(headers, len)?;
    every::<RecordRoute>(headers, len)?;
    every::<Path>(headers, len)?;
    every::<ReferTo>(headers, len)?;
    every::<ReferredBy>(headers, len)?;
    every::<ContentType>(headers, len)?;
    every::<Accept>(headers, len)?;
    every::<Allow>(headers, len)?;
    every::<Supported>(headers, len)?;
    every::<Require>(headers, len)?;
    every::<ProxyRequire>(headers, len)?;
    every::<Unsupported>(headers, len)?;
    every::<Expires>(headers, len)?;
    every::<MinExpires>(headers, len)?;
    every::<Date>(headers, len)?;
    every::<RetryAfter>(headers, len)?;
    every::<Warning>(headers, len)?;
    every::<Reason>(headers, len)?;
    every::<Event>(headers, len)?;
    every::<SubscriptionState>(headers, len)?;
    every::<UserAgent>(headers, len)?;
    every::<Server>(headers, len)?;
    every::<Authorization>(headers, len)?;
    every::<ProxyAuthorization>(headers, len)?;
    every::<WwwAuthenticate>(headers, len)?;
    every::<ProxyAuthenticate>(headers, len)?;
    for via in headers.vias().flatten() {
        let _ = (
            via.branch(),
            via.received_ip(),
            via.rport(),
            via.ttl(),
            via.has_rfc3261_branch(),
        );
    }
    for contact in headers.contacts().flatten() {
        let _ = (
            contact.q(),
            contact.expires(),
            contact.sip_instance(),
            contact.reg_id(),
        );
        if let Some(addr) = contact.address() {
            let _ = addr.display_name();
            uri_accessors(addr.uri());
        }
    }
    for addr in [
        headers.from().and_then(Result::ok).map(|f| f.0),
        headers.to().and_then(Result::ok).map(|t| t.0),
    ]
    .into_iter()
    .flatten()
    {
        let _ = (addr.display_name(), addr.tag());
        uri_accessors(addr.uri());
    }
    Ok(())
}

fn policies() -> [ValidationPolicy; 3] {
    let registrar = ValidationPolicy::new(Role::Uas {
        supported: vec!["path".into()],
        allowed: vec![Method::Register, Method::Options, Method::Message],
        accepted: Vec::new(),
    });
    [
        ValidationPolicy::uas(),
        ValidationPolicy::proxy(),
        registrar,
    ]
}

fn exercise(wire: Vec<u8>) -> Result<(), TestCaseError> {
    let len = wire.len();
    let bytes = Bytes::from(wire);
    match parse_message(bytes.clone()) {
        Ok(Message::Request(r)) => {
            typed_views(r.headers(), len)?;
            uri_accessors(r.uri());
            for policy in policies() {
                if let Err(rejection) = validate_request(&r, &policy) {
                    let reply = rejection.response(&r, Some("tag"));
                    prop_assert!(
                        parse_message(reply.to_bytes()).is_ok(),
                        "reply does not parse: {reply:?}"
                    );
                }
            }
            let _ = parse_message(r.to_bytes());
        }
        Ok(Message::Response(r)) => {
            typed_views(r.headers(), len)?;
            for policy in policies() {
                let _ = validate_response(&r, &policy);
            }
            let _ = parse_message(r.to_bytes());
        }
        Err(e) => {
            check_offset(&e, len)?;
            let rejection = Rejection::from_parse_error(&e);
            if let Ok(Message::Request(head)) = parse_message_head(bytes.clone(), &Limits::DEFAULT)
            {
                let _ = rejection.response(&head, None);
            }
        }
    }
    let mut framer = StreamFramer::new(Limits::DEFAULT);
    for chunk in bytes.chunks(97) {
        if framer.push(chunk).is_err() {
            break;
        }
        loop {
            match framer.poll() {
                Ok(Some(Frame::Message(m))) => typed_views(m.headers(), len)?,
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return Ok(()),
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_torture_messages_never_panic(
        file in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let mut wire = file.get(&CORPUS).to_vec();
        for e in &edits {
            apply(&mut wire, e);
        }
        exercise(wire)?;
    }
}

#[test]
fn unmutated_torture_messages_pass_the_same_checks() {
    for wire in CORPUS {
        if let Err(e) = exercise(wire.to_vec()) {
            panic!("{e}");
        }
    }
}
