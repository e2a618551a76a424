//! Shared helpers for the dispatcher's integration tests.
#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tandem_dispatcher::{
    Algorithm, DestinationId, Dispatcher, DispatcherConfig, DispatcherList, ProbeConfig, ProbeMode,
    ProbeOutcome, Selection,
};
use tandem_sip_core::{HeaderName, Method, Request, StatusCode, Uri};

pub fn uri(text: &str) -> Uri {
    Uri::parse(&Bytes::copy_from_slice(text.as_bytes())).unwrap()
}

/// An INVITE to `ruri` with the given From, To and Call-ID.
pub fn invite(ruri: &str, from: &str, to: &str, call_id: &str) -> Request {
    Request::builder(Method::Invite, uri(ruri))
        .header(HeaderName::From, format!("<{from}>;tag=f1"))
        .header(HeaderName::To, format!("<{to}>"))
        .header(HeaderName::CallId, call_id.to_owned())
        .build()
}

/// A configuration with a fixed seed and probing off (tests that probe turn it on).
pub fn quiet_config() -> DispatcherConfig {
    DispatcherConfig {
        seed: Some(42),
        probe: ProbeConfig {
            mode: ProbeMode::Off,
            ..ProbeConfig::default()
        },
        ..DispatcherConfig::default()
    }
}

pub fn dispatcher(list: &str, config: DispatcherConfig) -> (Dispatcher, Instant) {
    let now = Instant::now();
    (
        Dispatcher::new(DispatcherList::parse(list).unwrap(), config, now),
        now,
    )
}

/// The id of the destination of `set` with URI `text`.
pub fn id(d: &Dispatcher, set: u32, text: &str) -> DestinationId {
    d.find(set, &uri(text)).unwrap()
}

/// The URI of the first pick, as text.
pub fn first(selection: &Selection) -> String {
    selection.current().unwrap().uri().to_string()
}

/// The URIs of a selection's candidates in order.
pub fn order(selection: &Selection) -> Vec<String> {
    selection
        .candidates()
        .iter()
        .map(|c| c.uri().to_string())
        .collect()
}

/// How many of `picks` selections with keys `key(i)` went to each URI.
pub fn count_picks(
    d: &mut Dispatcher,
    set: u32,
    algorithm: Algorithm,
    picks: usize,
    key: impl Fn(usize) -> String,
) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for i in 0..picks {
        let k = key(i);
        let selection = d.select(set, algorithm, k.as_str()).unwrap();
        *counts.entry(first(&selection)).or_insert(0) += 1;
    }
    counts
}

/// Whether `value` is within `tolerance` (a fraction) of `expected`.
pub fn near(value: usize, expected: f64, tolerance: f64) -> bool {
    (value as f64 - expected).abs() <= expected * tolerance
}

/// Answer every due probe at `now` with `answer(uri)` after `rtt`; returns how many were answered.
pub fn answer_probes(
    d: &mut Dispatcher,
    now: Instant,
    rtt: Duration,
    answer: impl Fn(&str) -> Option<u16>,
) -> usize {
    let mut probes = Vec::new();
    while let Some(p) = d.poll_probe(now) {
        probes.push(p);
    }
    let mut answered = 0;
    for p in probes {
        if let Some(code) = answer(&p.uri.to_string()) {
            let outcome = ProbeOutcome::Response(StatusCode::new(code).unwrap());
            assert!(d.handle_probe_reply(p.id, outcome, now + rtt));
            answered += 1;
        }
    }
    answered
}
