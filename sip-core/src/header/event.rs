//! `Event` and `Subscription-State` (RFC 6665 §8.2).

use crate::error::ParseError;
use crate::grammar;
use crate::header::{HeaderName, TypedHeader};
use crate::params::Params;
use bytes::Bytes;

/// Parse `token *( SEMI generic-param )`.
fn token_with_params(value: &Bytes, expected: &'static str) -> Result<(Bytes, Params), ParseError> {
    let b = &value[..];
    let start = grammar::skip_lws(b, 0);
    let end = grammar::token(b, start, expected)?;
    let (params, pe) = Params::parse_header(value, end)?;
    grammar::end(b, pe, "\";\" or end of value")?;
    Ok((value.slice(start..end), params))
}

fn write_token_with_params(token: &[u8], params: &Params, out: &mut Vec<u8>) {
    out.extend_from_slice(token);
    params.write_to(out);
}

/// `Event: package[.template];id=…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    event_type: Bytes,
    params: Params,
}

impl Event {
    /// The event type (`presence`, `dialog`, `refer`, `message-summary`, `presence.winfo`, …).
    pub fn event_type(&self) -> &Bytes {
        &self.event_type
    }

    /// The `id` parameter.
    pub fn id(&self) -> Option<&[u8]> {
        self.params.value("id")
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }
}

impl TypedHeader for Event {
    const NAME: HeaderName = HeaderName::Event;
    const LIST: bool = false;

    fn parse(value: &Bytes) -> Result<Event, ParseError> {
        let (event_type, params) = token_with_params(value, "event type")?;
        Ok(Event { event_type, params })
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        write_token_with_params(&self.event_type, &self.params, out)
    }
}

/// The state in a `Subscription-State` header field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubState {
    /// `active`
    Active,
    /// `pending`
    Pending,
    /// `terminated`
    Terminated,
    /// An extension state, as received.
    Other(Bytes),
}

/// `Subscription-State: active;expires=600`, `terminated;reason=timeout;retry-after=30`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriptionState {
    state: Bytes,
    params: Params,
}

impl SubscriptionState {
    /// The state.
    pub fn state(&self) -> SubState {
        let s = &self.state[..];
        if s.eq_ignore_ascii_case(b"active") {
            SubState::Active
        } else if s.eq_ignore_ascii_case(b"pending") {
            SubState::Pending
        } else if s.eq_ignore_ascii_case(b"terminated") {
            SubState::Terminated
        } else {
            SubState::Other(self.state.clone())
        }
    }

    /// The `expires` parameter in seconds (`None` if absent or invalid).
    pub fn expires(&self) -> Option<u32> {
        delta(self.params.value("expires")?)
    }

    /// The `reason` parameter (`deactivated`, `probation`, `rejected`, `timeout`, `giveup`, `noresource`, …).
    pub fn reason(&self) -> Option<&[u8]> {
        self.params.value("reason")
    }

    /// The `retry-after` parameter in seconds (`None` if absent or invalid).
    pub fn retry_after(&self) -> Option<u32> {
        delta(self.params.value("retry-after")?)
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }
}

fn delta(raw: &[u8]) -> Option<u32> {
    let (v, end) = grammar::delta_seconds(raw, 0).ok()?;
    (end == raw.len()).then_some(v)
}

impl TypedHeader for SubscriptionState {
    const NAME: HeaderName = HeaderName::SubscriptionState;
    const LIST: bool = false;

    fn parse(value: &Bytes) -> Result<SubscriptionState, ParseError> {
        let (state, params) = token_with_params(value, "subscription state")?;
        Ok(SubscriptionState { state, params })
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        write_token_with_params(&self.state, &self.params, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::test_support::{err_at, round_trip, written};

    #[test]
    fn event_exposes_type_and_id() {
        let e: Event = round_trip("presence");
        assert_eq!(e.event_type().as_ref(), b"presence");
        assert_eq!(e.id(), None);
        let e: Event = round_trip("refer ; id = 93809824");
        assert_eq!(e.id(), Some(&b"93809824"[..]));
        assert_eq!(written(&e), "refer;id=93809824");
        assert_eq!(
            round_trip::<Event>("presence.winfo").event_type().as_ref(),
            b"presence.winfo"
        );
    }

    #[test]
    fn subscription_state_exposes_state_and_parameters() {
        let s: SubscriptionState = round_trip("active;expires=600");
        assert_eq!(s.state(), SubState::Active);
        assert_eq!(s.expires(), Some(600));
        let s: SubscriptionState = round_trip("terminated;reason=timeout;retry-after=30");
        assert_eq!(s.state(), SubState::Terminated);
        assert_eq!(s.reason(), Some(&b"timeout"[..]));
        assert_eq!(s.retry_after(), Some(30));
        let s: SubscriptionState = round_trip("Pending");
        assert_eq!(s.state(), SubState::Pending);
        let s: SubscriptionState = round_trip("waiting;expires=x");
        assert_eq!(s.state(), SubState::Other(Bytes::from_static(b"waiting")));
        assert_eq!(s.expires(), None);
    }

    #[test]
    fn rejects_missing_type_and_bad_parameters() {
        assert_eq!(err_at::<Event>(";id=1"), 0);
        assert_eq!(err_at::<Event>("dialog;"), 7);
        assert_eq!(err_at::<SubscriptionState>("active expires=1"), 7);
    }
}
