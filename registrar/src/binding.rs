//! Bindings (RFC 3261 §10): a contact address bound to an address-of-record until it expires, with the
//! Call-ID/CSeq that last touched it, the Path it was registered through (RFC 3327) and the flow it came in on
//! (RFC 5626).

use bytes::Bytes;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tandem_sip_core::header::{Path, QValue};
use tandem_sip_core::{CallId, NameAddr, Transport, Uri};

/// The transport's name for the connection or flow a request arrived on, opaque to the registrar.
///
/// The transport that received a REGISTER makes one (for example a connection id, or the local socket and the
/// remote address of a UDP flow) and the proxy hands it back to the transport to send a request to that
/// binding over the same flow: the only way to reach a WebSocket client (RFC 7118) or a phone behind a NAT
/// (RFC 5626). It is stored as bytes so that every backend can keep it and another proxy sharing the store can
/// tell whether the flow is one of its own.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FlowToken(Bytes);

impl FlowToken {
    /// A token from the transport's bytes.
    pub fn new(token: impl Into<Bytes>) -> FlowToken {
        FlowToken(token.into())
    }

    /// The token's bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl fmt::Debug for FlowToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlowToken(")?;
        for b in self.0.iter() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// The flow a REGISTER arrived on: the transport's token, the transport protocol and the remote address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Flow {
    /// The transport's opaque name for the flow.
    pub token: FlowToken,
    /// The transport protocol of the flow.
    pub transport: Transport,
    /// The address the request came from (after any NAT: the `received`/`rport` address).
    pub remote: SocketAddr,
}

impl Flow {
    /// A flow from its parts.
    pub fn new(token: FlowToken, transport: Transport, remote: SocketAddr) -> Flow {
        Flow {
            token,
            transport,
            remote,
        }
    }
}

/// Names one binding of an address-of-record; unique within that AOR.
///
/// An RFC 5626 binding is named after its `+sip.instance` and `reg-id` (`<urn:uuid:…>;reg-id=1`), so a new
/// registration of the same flow replaces it whatever its contact URI; any other binding is named after the
/// contact URI as first registered (later registrations of an equivalent URI, RFC 3261 §19.1.4, keep the name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BindingKey(String);

impl BindingKey {
    /// A key from its text (as a store reads it back).
    pub fn new(key: impl Into<String>) -> BindingKey {
        BindingKey(key.into())
    }

    /// The key for an RFC 5626 flow.
    pub(crate) fn for_flow(instance: &str, reg_id: u32) -> BindingKey {
        BindingKey(format!("{instance};reg-id={reg_id}"))
    }

    /// The key for a plain contact.
    pub(crate) fn for_contact(uri: &Uri) -> BindingKey {
        // `uri.to_string()`, written once into one buffer.
        let mut text = Vec::with_capacity(64);
        uri.write_to(&mut text);
        match String::from_utf8(text) {
            Ok(text) => BindingKey(text),
            Err(e) => BindingKey(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One contact bound to an address-of-record.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The binding's name within its AOR.
    pub key: BindingKey,
    /// The contact as registered (display name, URI, header parameters) without its `expires` parameter.
    pub contact: NameAddr,
    /// When the binding expires (whole milliseconds, so that every store keeps it exactly).
    pub expires_at: SystemTime,
    /// The `q` value of the contact, if it had one.
    pub q: Option<QValue>,
    /// The Call-ID of the REGISTER that last refreshed the binding.
    pub call_id: CallId,
    /// The CSeq number of that REGISTER.
    pub cseq: u32,
    /// The `+sip.instance` of the contact (quotes removed, e.g. `<urn:uuid:…>`), if it had one.
    pub instance: Option<String>,
    /// The `reg-id` of an RFC 5626 flow; set only when the registrar honoured outbound for the binding.
    pub reg_id: Option<u32>,
    /// The Path the REGISTER carried (RFC 3327), first entry first: the route to reach the contact.
    pub path: Vec<Path>,
    /// The flow the REGISTER arrived on.
    pub flow: Option<Flow>,
    /// The User-Agent of the registering client, if it sent one (at most 256 bytes kept).
    pub user_agent: Option<String>,
}

impl Binding {
    /// A binding with no q, instance, reg-id, Path, flow or User-Agent.
    pub fn new(
        key: BindingKey,
        contact: NameAddr,
        expires_at: SystemTime,
        call_id: CallId,
        cseq: u32,
    ) -> Binding {
        Binding {
            key,
            contact,
            expires_at,
            q: None,
            call_id,
            cseq,
            instance: None,
            reg_id: None,
            path: Vec::new(),
            flow: None,
            user_agent: None,
        }
    }

    /// The contact URI: where requests for the AOR go.
    pub fn uri(&self) -> &Uri {
        self.contact.uri()
    }

    /// Whether the binding has expired at `now` (it expires at `expires_at` exactly).
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at <= now
    }

    /// Whole seconds left at `now` (0 once expired): the `expires` a 200 (OK) to REGISTER reports.
    pub fn remaining(&self, now: SystemTime) -> u32 {
        let left = self.expires_at.duration_since(now).unwrap_or_default();
        u32::try_from(left.as_secs()).unwrap_or(u32::MAX)
    }

    /// Whether this binding is an RFC 5626 flow (registered with `+sip.instance` and `reg-id`, honoured).
    pub fn is_outbound(&self) -> bool {
        self.reg_id.is_some()
    }
}

/// One change to the bindings of an AOR, as decided by [`crate::Registrar`] and applied by a
/// [`crate::LocationStore`].
// Nearly every change is an upsert; boxing the binding would cost an allocation for the common case.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingChange {
    /// Add the binding, or replace the one with the same key.
    Upsert(Binding),
    /// Remove the binding with this key (nothing happens if there is none).
    Remove(BindingKey),
}

/// Sort bindings the way requests should try them: highest `q` first (a contact without `q` counts as 1.0),
/// then the one expiring last (the freshest registration), then by key so the order is stable.
pub fn order_by_q(bindings: &mut [Binding]) {
    bindings.sort_by(|a, b| {
        let qa = a.q.map_or(1000, QValue::thousandths);
        let qb = b.q.map_or(1000, QValue::thousandths);
        qb.cmp(&qa)
            .then(b.expires_at.cmp(&a.expires_at))
            .then(a.key.cmp(&b.key))
    });
}

/// `time` with its sub-millisecond part dropped.
pub(crate) fn whole_millis(time: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(unix_millis(time).unsigned_abs())
}

/// Milliseconds since the Unix epoch (0 for earlier times, `i64::MAX` far in the future).
pub(crate) fn unix_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The time `ms` milliseconds after the Unix epoch (negative values are the epoch).
#[cfg(any(feature = "record", feature = "memory", test))]
pub(crate) fn from_unix_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(key: &str, q: Option<u16>, expires_ms: i64) -> Binding {
        let uri = Uri::parse(&Bytes::from(format!("sip:{key}@192.0.2.1"))).unwrap();
        let mut b = Binding::new(
            BindingKey::new(key),
            NameAddr::new(uri),
            from_unix_millis(expires_ms),
            CallId::new(Bytes::from_static(b"c")).unwrap(),
            1,
        );
        b.q = q.and_then(QValue::from_thousandths);
        b
    }

    #[test]
    fn orders_by_q_then_freshness_then_key() {
        let mut list = vec![
            binding("low", Some(100), 5_000),
            binding("none-old", None, 1_000),
            binding("half", Some(500), 9_000),
            binding("none-new", None, 2_000),
            binding("one", Some(1000), 2_000),
        ];
        order_by_q(&mut list);
        let keys: Vec<&str> = list.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(keys, ["none-new", "one", "none-old", "half", "low"]);
    }

    #[test]
    fn remaining_counts_whole_seconds_and_stops_at_zero() {
        let b = binding("a", None, 10_500);
        assert_eq!(b.remaining(from_unix_millis(0)), 10);
        assert_eq!(b.remaining(from_unix_millis(10_000)), 0);
        assert!(!b.is_expired(from_unix_millis(10_499)));
        assert!(b.is_expired(from_unix_millis(10_500)));
        assert_eq!(b.remaining(from_unix_millis(20_000)), 0);
    }

    #[test]
    fn whole_millis_drops_the_sub_millisecond_part() {
        let t = UNIX_EPOCH + Duration::from_nanos(1_234_567_891);
        assert_eq!(whole_millis(t), UNIX_EPOCH + Duration::from_millis(1_234));
    }
}
