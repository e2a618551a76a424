//! Failing over through a selection, and marking destinations that fail in traffic.

mod support;

use support::*;
use tandem_dispatcher::{
    Algorithm, DestinationState, DispatcherConfig, DispatcherEvent, Failover, FailureReason,
    ReplyCodes, SelectInput, StateCause,
};
use tandem_sip_core::StatusCode;

const FOUR: &str = "1 sip:a.example\n1 sip:b.example\n1 sip:c.example\n1 sip:d.example\n";

fn status(code: u16) -> FailureReason {
    FailureReason::Status(StatusCode::new(code).unwrap())
}

fn next_uri(failover: Failover) -> String {
    match failover {
        Failover::Next(c) => c.uri().to_string(),
        other => panic!("expected a next destination, got {other:?}"),
    }
}

fn no_marking() -> DispatcherConfig {
    DispatcherConfig {
        mark_on_failure: false,
        ..quiet_config()
    }
}

#[test]
fn failover_order_follows_the_set_from_the_first_pick() {
    let (mut d, _) = dispatcher(FOUR, no_marking());
    // The second round-robin pick starts at b; the rest follow in set order, wrapping around.
    d.select(1, Algorithm::RoundRobin, SelectInput::None)
        .unwrap();
    let mut s = d
        .select(1, Algorithm::RoundRobin, SelectInput::None)
        .unwrap();
    assert_eq!(first(&s), "sip:b.example");
    assert_eq!(s.remaining().len(), 3);
    assert_eq!(
        next_uri(d.on_failure(&mut s, FailureReason::Timeout)),
        "sip:c.example"
    );
    assert_eq!(next_uri(d.on_failure(&mut s, status(503))), "sip:d.example");
    assert_eq!(
        next_uri(d.on_failure(&mut s, FailureReason::TransportError)),
        "sip:a.example"
    );
    assert_eq!(s.attempts(), 4);
    assert!(matches!(
        d.on_failure(&mut s, status(500)),
        Failover::Exhausted
    ));
    assert!(s.current().is_none());
    assert!(matches!(
        d.on_failure(&mut s, status(500)),
        Failover::Exhausted
    ));
}

#[test]
fn timeout_408_and_5xx_fail_over_other_responses_are_final() {
    let (mut d, _) = dispatcher(FOUR, no_marking());
    for code in [408, 500, 502, 503, 504, 599] {
        let mut s = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
        assert!(
            matches!(d.on_failure(&mut s, status(code)), Failover::Next(_)),
            "{code}"
        );
    }
    for code in [404, 480, 486, 487, 603] {
        let mut s = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
        assert!(
            matches!(d.on_failure(&mut s, status(code)), Failover::Final),
            "{code}"
        );
        assert_eq!(
            first(&s),
            "sip:a.example",
            "a final response leaves the selection where it was"
        );
    }
}

#[test]
fn failover_codes_are_configurable() {
    let config = DispatcherConfig {
        failover_codes: ReplyCodes::parse("code=503;code=486").unwrap(),
        ..no_marking()
    };
    let (mut d, _) = dispatcher(FOUR, config);
    let mut s = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
    assert!(matches!(d.on_failure(&mut s, status(500)), Failover::Final));
    assert_eq!(next_uri(d.on_failure(&mut s, status(486))), "sip:b.example");
    // Timeouts always fail over.
    assert_eq!(
        next_uri(d.on_failure(&mut s, FailureReason::Timeout)),
        "sip:c.example"
    );
}

#[test]
fn failover_skips_destinations_that_went_down_after_the_selection() {
    let (mut d, _) = dispatcher(FOUR, no_marking());
    let mut s = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
    assert_eq!(s.candidates().len(), 4);
    d.set_state(id(&d, 1, "sip:b.example"), DestinationState::Inactive)
        .unwrap();
    d.set_state(id(&d, 1, "sip:c.example"), DestinationState::Disabled)
        .unwrap();
    assert_eq!(
        next_uri(d.on_failure(&mut s, FailureReason::Timeout)),
        "sip:d.example"
    );
}

#[test]
fn failures_in_traffic_take_a_destination_down_at_the_threshold() {
    let (mut d, _) = dispatcher(FOUR, quiet_config()); // marking on, down threshold 3
    let a = id(&d, 1, "sip:a.example");
    for expected in [
        DestinationState::Trying,
        DestinationState::Trying,
        DestinationState::Inactive,
    ] {
        let mut s = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
        assert_eq!(first(&s), "sip:a.example");
        d.on_failure(&mut s, FailureReason::Timeout);
        assert_eq!(d.state(a), Some(expected));
    }
    let s = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
    assert_eq!(first(&s), "sip:b.example");
    let events: Vec<_> = std::iter::from_fn(|| d.poll_event()).collect();
    assert_eq!(events.len(), 2);
    assert!(matches!(
        &events[1],
        DispatcherEvent::StateChanged {
            to: DestinationState::Inactive,
            cause: StateCause::Traffic,
            ..
        }
    ));
    let snapshot = d.snapshot();
    let a_view = &snapshot.set(1).unwrap().destinations[0];
    assert_eq!(a_view.traffic_failures, 3);
    assert!(
        a_view.probing,
        "a destination taken down by traffic is flagged for probing"
    );
}

#[test]
fn final_responses_do_not_count_against_the_destination() {
    let (mut d, _) = dispatcher(FOUR, quiet_config());
    let a = id(&d, 1, "sip:a.example");
    for _ in 0..5 {
        let mut s = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
        d.on_failure(&mut s, status(486));
    }
    assert_eq!(d.state(a), Some(DestinationState::Active));
}

#[test]
fn success_clears_a_trying_destination() {
    let (mut d, _) = dispatcher(FOUR, quiet_config());
    let a = id(&d, 1, "sip:a.example");
    let mut s = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
    d.on_failure(&mut s, status(503));
    d.on_failure(&mut s, status(503));
    assert_eq!(d.state(a), Some(DestinationState::Trying));
    let s = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
    d.on_success(&s);
    assert_eq!(d.state(a), Some(DestinationState::Active));
    // The count restarted: two more failures leave it Trying, not Inactive.
    for _ in 0..2 {
        let mut s = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
        d.on_failure(&mut s, FailureReason::Timeout);
    }
    assert_eq!(d.state(a), Some(DestinationState::Trying));
}

#[test]
fn call_load_failover_moves_the_call_and_skips_full_destinations() {
    let list = "1 sip:a.example 0 0 maxload=1\n1 sip:b.example 0 0 maxload=1\n1 sip:c.example 0 0 maxload=5\n";
    let (mut d, now) = dispatcher(list, no_marking());
    let mut s = d.select(1, Algorithm::CallLoad, SelectInput::None).unwrap();
    assert_eq!(
        order(&s),
        ["sip:a.example", "sip:b.example", "sip:c.example"]
    );
    d.call_started(b"call-1", s.current().unwrap().id(), now)
        .unwrap();
    // Meanwhile another call fills b.
    let b = id(&d, 1, "sip:b.example");
    d.call_started(b"call-2", b, now).unwrap();
    let next = match d.on_failure(&mut s, status(503)) {
        Failover::Next(c) => c,
        other => panic!("{other:?}"),
    };
    assert_eq!(next.uri().to_string(), "sip:c.example");
    d.call_started(b"call-1", next.id(), now).unwrap();
    assert_eq!(d.active_calls(id(&d, 1, "sip:a.example")), Some(0));
    assert_eq!(d.active_calls(next.id()), Some(1));
    assert_eq!(d.call_destination(b"call-1"), Some(next.id()));
}
