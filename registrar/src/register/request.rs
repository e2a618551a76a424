//! Reading what a REGISTER asks for: its contacts, the Expires header, Path, the extensions it supports or
//! requires. Everything here reads untrusted header values, so every step is bounded and fallible.

use super::reply::Reject;
use bytes::Bytes;
use tandem_sip_core::header::{Expires, Path, QValue, Require, Supported};
use tandem_sip_core::{Contact, HeaderName, NameAddr, Request};

/// Most Contact entries one REGISTER may carry; more is answered with 400 before any is parsed.
pub(crate) const MAX_REQUEST_CONTACTS: usize = 32;
/// Most Path entries one REGISTER may carry.
pub(crate) const MAX_PATH_ENTRIES: usize = 16;
/// Longest `+sip.instance` accepted (a `<urn:uuid:…>` is 47 bytes).
const MAX_INSTANCE: usize = 256;
/// Most bytes of User-Agent kept with a binding.
const MAX_USER_AGENT: usize = 256;
/// RFC 3261 §10.3 step 6: a malformed expiration "SHOULD be treated as equivalent to 3600".
const MALFORMED_EXPIRES: u32 = 3600;
/// Option tags this registrar implements: RFC 3327 and RFC 5626.
pub(crate) const UNDERSTOOD: [&str; 2] = ["path", "outbound"];

/// One contact address of a REGISTER.
#[derive(Debug)]
pub(crate) struct ContactEntry {
    /// The contact without its `expires` parameter.
    pub(crate) contact: NameAddr,
    /// The `expires` parameter (a malformed one reads as 3600).
    pub(crate) expires: Option<u32>,
    pub(crate) q: Option<QValue>,
    pub(crate) instance: Option<String>,
    pub(crate) reg_id: Option<u32>,
}

/// What the Contact header fields of a REGISTER ask for.
#[derive(Debug)]
pub(crate) enum Contacts {
    /// No Contact: a query for the current bindings.
    Query,
    /// `Contact: *`, alone.
    Wildcard,
    /// Contact addresses to add, refresh or remove.
    List(Vec<ContactEntry>),
}

/// Read the Contact header fields (RFC 3261 §10.3 step 6: `*` must stand alone).
pub(crate) fn contacts(request: &Request) -> Result<Contacts, Reject> {
    let elements = request.headers().elements(HeaderName::Contact);
    let mut list = Vec::new();
    let mut wildcard = false;
    for (n, element) in elements.enumerate() {
        if n >= MAX_REQUEST_CONTACTS {
            return Err(Reject::BadRequest("Too Many Contacts In Request"));
        }
        if element.value.first() == Some(&b'*') {
            match element.parse::<Contact>() {
                Ok(Contact::Wildcard) => wildcard = true,
                _ => return Err(Reject::BadRequest("Malformed Contact")),
            }
            continue;
        }
        list.push(contact_entry(&element.value)?);
    }
    match (wildcard, list.is_empty()) {
        (false, true) => Ok(Contacts::Query),
        (false, false) => Ok(Contacts::List(list)),
        (true, true) => Ok(Contacts::Wildcard),
        (true, false) => Err(Reject::BadRequest("Wildcard Contact Must Stand Alone")),
    }
}

fn contact_entry(value: &Bytes) -> Result<ContactEntry, Reject> {
    let mut contact =
        NameAddr::parse(value).map_err(|_| Reject::BadRequest("Malformed Contact"))?;
    let params = contact.params();
    let q = match params.value("q") {
        None => None,
        Some(raw) => Some(QValue::parse(raw).ok_or(Reject::BadRequest("Malformed Contact q"))?),
    };
    let reg_id = match params.value("reg-id") {
        None => None,
        Some(raw) => Some(decimal(raw).ok_or(Reject::BadRequest("Malformed Contact reg-id"))?),
    };
    let expires = params
        .get("expires")
        .map(|p| p.value().and_then(decimal).unwrap_or(MALFORMED_EXPIRES));
    let instance = match params.get("+sip.instance").and_then(|p| p.decoded_value()) {
        None => None,
        Some(v) if v.is_empty() => None,
        Some(v) if v.len() > MAX_INSTANCE => {
            return Err(Reject::BadRequest("Contact +sip.instance Too Long"));
        }
        Some(v) => Some(
            String::from_utf8(v.into_owned())
                .map_err(|_| Reject::BadRequest("Malformed Contact +sip.instance"))?,
        ),
    };
    contact.params_mut().remove("expires");
    Ok(ContactEntry {
        contact,
        expires,
        q,
        instance,
        reg_id,
    })
}

/// A non-empty run of digits as a `u32`, saturating (an expiration beyond 2^32-1 s is "forever", which the
/// registrar shortens to its maximum anyway).
fn decimal(raw: &[u8]) -> Option<u32> {
    if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = raw.iter().fold(0u64, |acc, &c| {
        acc.saturating_mul(10).saturating_add(u64::from(c - b'0'))
    });
    Some(u32::try_from(value).unwrap_or(u32::MAX))
}

/// The Expires header field: `None` when absent, 3600 when malformed (RFC 3261 §10.3 step 6).
pub(crate) fn expires_header(request: &Request) -> Option<u32> {
    let field = request.headers().get(&HeaderName::Expires)?;
    match field.parse::<Expires>() {
        Ok(Expires(v)) => Some(v),
        Err(_) => Some(decimal(field.value().trim_ascii()).unwrap_or(MALFORMED_EXPIRES)),
    }
}

/// The Path entries of the request, first first (RFC 3327).
pub(crate) fn path(request: &Request) -> Result<Vec<Path>, Reject> {
    let mut entries = Vec::new();
    for entry in request.headers().typed_all::<Path>() {
        if entries.len() == MAX_PATH_ENTRIES {
            return Err(Reject::BadRequest("Too Many Path Entries"));
        }
        entries.push(entry.map_err(|_| Reject::BadRequest("Malformed Path"))?);
    }
    Ok(entries)
}

/// Whether the request lists `tag` in Supported.
pub(crate) fn supports(request: &Request, tag: &str) -> bool {
    request
        .headers()
        .typed_all::<Supported>()
        .any(|s| s.is_ok_and(|s| s.is(tag)))
}

/// RFC 3261 §10.3 step 2: every option tag in Require must be one this registrar implements.
pub(crate) fn check_require(request: &Request) -> Result<(), Reject> {
    let mut unsupported = Vec::new();
    for tag in request.headers().typed_all::<Require>() {
        let tag = tag.map_err(|_| Reject::BadRequest("Malformed Require"))?;
        if !UNDERSTOOD.iter().any(|known| tag.is(known)) && unsupported.len() < 8 {
            unsupported.push(tag.tag().clone());
        }
    }
    if unsupported.is_empty() {
        Ok(())
    } else {
        Err(Reject::BadExtension(unsupported))
    }
}

/// The number of Via entries: 1 when the registrar is the UA's first hop (RFC 5626 §6).
pub(crate) fn via_count(request: &Request) -> usize {
    request.headers().elements(HeaderName::Via).count()
}

/// The User-Agent, cut to a bounded length at a character boundary.
pub(crate) fn user_agent(request: &Request) -> Option<String> {
    let raw = request.headers().get(&HeaderName::UserAgent)?.value();
    // The usual value (short printable ASCII) comes out unchanged: copy it once.
    if raw.len() <= MAX_USER_AGENT && raw.iter().all(|&c| (b' '..0x7f).contains(&c)) {
        return std::str::from_utf8(raw).ok().map(str::to_owned);
    }
    // Folded lines and other control characters become spaces: the value ends up on dashboards and logs.
    let text: String = String::from_utf8_lossy(raw)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut end = text.len().min(MAX_USER_AGENT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_contact_value(text: &str) -> Result<ContactEntry, Reject> {
        contact_entry(&Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn malformed_expires_parameter_reads_as_3600() {
        let e = parse_contact_value("<sip:a@192.0.2.1>;expires=soon").unwrap();
        assert_eq!(e.expires, Some(3600));
        let e = parse_contact_value("<sip:a@192.0.2.1>;expires").unwrap();
        assert_eq!(e.expires, Some(3600));
    }

    #[test]
    fn huge_expires_saturates() {
        let e = parse_contact_value("<sip:a@192.0.2.1>;expires=280297596632815").unwrap();
        assert_eq!(e.expires, Some(u32::MAX));
    }

    #[test]
    fn expires_parameter_is_removed_from_the_stored_contact() {
        let e = parse_contact_value(
            "<sip:a@192.0.2.1>;expires=60;q=0.5;+sip.instance=\"<urn:uuid:1>\";reg-id=2",
        )
        .unwrap();
        assert!(!e.contact.params().contains("expires"));
        assert!(e.contact.params().contains("q"));
        assert_eq!(e.q, QValue::from_thousandths(500));
        assert_eq!(e.instance.as_deref(), Some("<urn:uuid:1>"));
        assert_eq!(e.reg_id, Some(2));
    }

    #[test]
    fn overlong_instance_is_rejected() {
        let long = format!(
            "<sip:a@192.0.2.1>;+sip.instance=\"<urn:{}>\"",
            "x".repeat(300)
        );
        assert!(parse_contact_value(&long).is_err());
    }

    #[test]
    fn malformed_q_and_reg_id_are_rejected() {
        assert!(parse_contact_value("<sip:a@192.0.2.1>;q=2").is_err());
        assert!(parse_contact_value("<sip:a@192.0.2.1>;reg-id=x").is_err());
    }
}
