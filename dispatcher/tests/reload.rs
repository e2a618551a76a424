//! Reloading sets at run time without dropping calls, and the state snapshot.

mod support;

use std::time::Duration;
use support::*;
use tandem_dispatcher::{
    Algorithm, DestinationState, DispatcherConfig, DispatcherEvent, DispatcherList, Failover,
    FailureReason, ProbeConfig, ProbeMode, ProbeOutcome, ReloadSummary, SelectInput, StateCause,
};
use tandem_sip_core::StatusCode;

const SECOND: Duration = Duration::from_secs(1);

fn list(text: &str) -> DispatcherList {
    DispatcherList::parse(text).unwrap()
}

fn probing() -> DispatcherConfig {
    DispatcherConfig {
        seed: Some(5),
        probe: ProbeConfig {
            mode: ProbeMode::All,
            down_threshold: 1,
            up_threshold: 1,
            ..ProbeConfig::default()
        },
        ..DispatcherConfig::default()
    }
}

#[test]
fn remaining_destinations_keep_id_state_statistics_and_calls() {
    let (mut d, t0) = dispatcher("1 sip:a.example\n1 sip:b.example\n", probing());
    let a = id(&d, 1, "sip:a.example");
    let b = id(&d, 1, "sip:b.example");
    answer_probes(&mut d, t0, Duration::from_millis(7), |u| {
        (u == "sip:a.example").then_some(200)
    });
    d.handle_timeout(t0 + 5 * SECOND); // b's probe times out: down
    d.call_started(b"call-1", a, t0).unwrap();
    assert_eq!(d.state(b), Some(DestinationState::Inactive));

    let summary = d.reload(
        list("1 sip:c.example\n1 sip:b.example 0 0 duid=new\n1 sip:a.example\n"),
        t0 + 6 * SECOND,
    );
    assert_eq!(
        summary,
        ReloadSummary {
            added: 1,
            removed: 0,
            kept: 2
        }
    );
    assert_eq!(id(&d, 1, "sip:a.example"), a);
    assert_eq!(id(&d, 1, "sip:b.example"), b);
    assert_eq!(d.state(b), Some(DestinationState::Inactive));
    assert_eq!(d.active_calls(a), Some(1));
    assert_eq!(d.latency(a).unwrap().count(), 1);
    assert_eq!(d.destination(b).unwrap().attrs.duid(), Some("new"));
    let c = id(&d, 1, "sip:c.example");
    assert!(c != a && c != b);
    assert_eq!(d.state(c), Some(DestinationState::Active));
    assert_eq!(d.call_ended(b"call-1"), Some(a));
    assert_eq!(d.active_calls(a), Some(0));
}

#[test]
fn new_destinations_start_as_configured_and_are_probed_from_the_reload() {
    let mut config = probing();
    config.new_destination_state = DestinationState::Probing;
    let (mut d, t0) = dispatcher("1 sip:a.example\n", config);
    answer_probes(&mut d, t0, Duration::ZERO, |_| Some(200));
    let t1 = t0 + 3 * SECOND;
    d.reload(list("1 sip:a.example\n1 sip:b.example\n"), t1);
    assert_eq!(
        d.state(id(&d, 1, "sip:a.example")),
        Some(DestinationState::Active)
    );
    let b = id(&d, 1, "sip:b.example");
    assert_eq!(d.state(b), Some(DestinationState::Probing));
    let probe = d
        .poll_probe(t1)
        .expect("the new destination is probed at once");
    assert_eq!(probe.destination, b);
    assert!(d.poll_probe(t1).is_none(), "a keeps its own schedule");
    d.handle_probe_reply(probe.id, ProbeOutcome::Response(StatusCode::OK), t1);
    assert_eq!(d.state(b), Some(DestinationState::Active));
}

#[test]
fn removed_destinations_lose_their_probes_and_calls_on_them_end_quietly() {
    let (mut d, t0) = dispatcher("1 sip:a.example\n1 sip:b.example\n", probing());
    let b = id(&d, 1, "sip:b.example");
    d.call_started(b"on-b", b, t0).unwrap();
    let mut in_flight = Vec::new();
    while let Some(p) = d.poll_probe(t0) {
        in_flight.push(p);
    }
    let summary = d.reload(list("1 sip:a.example\n"), t0 + SECOND);
    assert_eq!(summary.removed, 1);
    assert_eq!(d.find(1, &uri("sip:b.example")), None);
    assert_eq!(d.state(b), None);
    let b_probe = in_flight.iter().find(|p| p.destination == b).unwrap();
    assert!(!d.handle_probe_reply(b_probe.id, ProbeOutcome::Timeout, t0 + 2 * SECOND));
    assert_eq!(d.call_ended(b"on-b"), Some(b));
    assert_eq!(d.snapshot().probes_in_flight, 1);
}

#[test]
fn selections_made_before_a_reload_stay_usable() {
    let (mut d, _) = dispatcher(
        "1 sip:a.example\n1 sip:b.example\n1 sip:c.example\n",
        quiet_config(),
    );
    let mut s = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
    d.reload(
        list("1 sip:c.example\n2 sip:z.example\n"),
        std::time::Instant::now(),
    );
    assert_eq!(first(&s), "sip:a.example");
    // b was removed but was a valid choice when selected; c remains and is still usable.
    match d.on_failure(&mut s, FailureReason::Timeout) {
        Failover::Next(next) => assert_eq!(next.uri().to_string(), "sip:b.example"),
        other => panic!("{other:?}"),
    }
    match d.on_failure(&mut s, FailureReason::Timeout) {
        Failover::Next(next) => assert_eq!(next.id(), id(&d, 1, "sip:c.example")),
        other => panic!("{other:?}"),
    }
    assert_eq!(d.set_ids().collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn changed_flags_in_the_new_list_override_the_current_state() {
    let (mut d, t0) = dispatcher("1 sip:a.example\n1 sip:b.example\n", quiet_config());
    let a = id(&d, 1, "sip:a.example");
    d.reload(list("1 sip:a.example 4\n1 sip:b.example\n"), t0);
    assert_eq!(d.state(a), Some(DestinationState::Disabled));
    assert!(matches!(
        d.poll_event(),
        Some(DispatcherEvent::StateChanged {
            to: DestinationState::Disabled,
            cause: StateCause::Reload,
            ..
        })
    ));
    d.reload(list("1 sip:a.example 0\n1 sip:b.example\n"), t0);
    assert_eq!(d.state(a), Some(DestinationState::Active));
}

#[test]
fn reload_applies_new_weights() {
    let (mut d, t0) = dispatcher(
        "1 sip:a.example 0 0 weight=50\n1 sip:b.example 0 0 weight=50\n",
        quiet_config(),
    );
    d.reload(
        list("1 sip:a.example 0 0 weight=90\n1 sip:b.example 0 0 weight=10\n"),
        t0,
    );
    let counts = count_picks(&mut d, 1, Algorithm::Weight, 1000, |i| i.to_string());
    assert!(near(counts["sip:a.example"], 900.0, 0.02), "{counts:?}");
}

#[test]
fn snapshot_shows_states_loads_and_attributes_in_selection_order() {
    let text = "1 sip:a.example 0 1 duid=a;maxload=4\n1 sip:b.example 4 9 weight=10\n";
    let (mut d, t0) = dispatcher(text, quiet_config());
    d.call_started(b"x", id(&d, 1, "sip:a.example"), t0)
        .unwrap();
    let snapshot = d.snapshot();
    let set = snapshot.set(1).unwrap();
    let b = &set.destinations[0];
    assert_eq!(
        (b.uri.as_str(), b.state, b.priority, b.weight),
        ("sip:b.example", DestinationState::Disabled, 9, Some(10))
    );
    let a = &set.destinations[1];
    assert_eq!(
        (a.duid.as_deref(), a.maxload, a.active_calls),
        (Some("a"), Some(4), 1)
    );
    assert_eq!(snapshot.tracked_calls, 1);
}

#[cfg(feature = "serde")]
#[test]
fn snapshot_serializes_to_json_and_back() {
    let (d, _) = dispatcher("1 sip:a.example 1 0 duid=a\n", quiet_config());
    let snapshot = d.snapshot();
    let json = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(json["sets"][0]["destinations"][0]["state"], "inactive");
    assert_eq!(json["sets"][0]["destinations"][0]["uri"], "sip:a.example");
    let back: tandem_dispatcher::Snapshot = serde_json::from_value(json).unwrap();
    assert_eq!(back, snapshot);
}

#[test]
fn expired_calls_stop_counting() {
    let mut config = quiet_config();
    config.call_expiry = 60 * SECOND;
    let (mut d, t0) = dispatcher("1 sip:a.example\n", config);
    let a = id(&d, 1, "sip:a.example");
    d.call_started(b"forgotten", a, t0).unwrap();
    let wake = d.poll_timeout().unwrap();
    assert!(wake <= t0 + 60 * SECOND);
    d.handle_timeout(t0 + 30 * SECOND);
    assert_eq!(d.active_calls(a), Some(1));
    d.handle_timeout(t0 + 61 * SECOND);
    assert_eq!(d.active_calls(a), Some(0));
    assert_eq!(d.call_ended(b"forgotten"), None);
}
