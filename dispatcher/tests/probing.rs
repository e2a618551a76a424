//! Health probing in virtual time: thresholds, timeouts, reply codes, modes and recovery.

mod support;

use std::time::{Duration, Instant};
use support::*;
use tandem_dispatcher::{
    Algorithm, DestinationState, Dispatcher, DispatcherConfig, DispatcherEvent, ProbeConfig,
    ProbeMode, ProbeOutcome, ReplyCodes, SelectInput, StateCause,
};
use tandem_sip_core::{Method, StatusCode};

const SECOND: Duration = Duration::from_secs(1);
const TWO: &str = "1 sip:10.0.0.1:5080\n1 sip:10.0.0.2:5080\n";

fn probing(mode: ProbeMode) -> DispatcherConfig {
    DispatcherConfig {
        seed: Some(1),
        probe: ProbeConfig {
            mode,
            interval: 10 * SECOND,
            timeout: 4 * SECOND,
            down_threshold: 3,
            up_threshold: 2,
            ..ProbeConfig::default()
        },
        ..DispatcherConfig::default()
    }
}

/// Run probe rounds every interval from `start` for `rounds` rounds; `answer(uri)` gives a reply code or
/// `None` for silence (the probe then times out). Returns the time after the last round.
fn run_rounds(
    d: &mut Dispatcher,
    start: Instant,
    rounds: u32,
    answer: impl Fn(&str) -> Option<u16>,
) -> Instant {
    let mut now = start;
    for _ in 0..rounds {
        answer_probes(d, now, Duration::from_millis(5), &answer);
        now += 10 * SECOND;
        d.handle_timeout(now);
    }
    now
}

fn states(d: &Dispatcher) -> Vec<DestinationState> {
    d.destinations(1).map(|id| d.state(id).unwrap()).collect()
}

#[test]
fn silent_destination_goes_down_after_the_down_threshold() {
    let (mut d, t0) = dispatcher(TWO, probing(ProbeMode::All));
    let dead = |u: &str| (u != "sip:10.0.0.2:5080").then_some(200);
    let now = run_rounds(&mut d, t0, 2, dead);
    assert_eq!(
        states(&d),
        [DestinationState::Active, DestinationState::Trying]
    );
    run_rounds(&mut d, now, 1, dead);
    assert_eq!(
        states(&d),
        [DestinationState::Active, DestinationState::Inactive]
    );
    let events: Vec<_> = std::iter::from_fn(|| d.poll_event()).collect();
    assert!(matches!(
        events.last(),
        Some(DispatcherEvent::StateChanged {
            from: DestinationState::Trying,
            to: DestinationState::Inactive,
            cause: StateCause::Probe,
            ..
        })
    ));
}

#[test]
fn inactive_destinations_are_skipped_and_recovered_after_successful_probes() {
    let (mut d, t0) = dispatcher(TWO, probing(ProbeMode::All));
    let now = run_rounds(&mut d, t0, 3, |u| (u != "sip:10.0.0.2:5080").then_some(200));
    for _ in 0..10 {
        let s = d
            .select(1, Algorithm::RoundRobin, SelectInput::None)
            .unwrap();
        assert_eq!(order(&s), ["sip:10.0.0.1:5080"]);
    }
    // It comes back: one good probe is not enough (up threshold 2), two are.
    let now = run_rounds(&mut d, now, 1, |_| Some(200));
    assert_eq!(states(&d)[1], DestinationState::Inactive);
    run_rounds(&mut d, now, 1, |_| Some(200));
    assert_eq!(states(&d)[1], DestinationState::Active);
    let picks = count_picks(&mut d, 1, Algorithm::RoundRobin, 10, |_| String::new());
    assert_eq!(picks.get("sip:10.0.0.2:5080"), Some(&5));
}

#[test]
fn probes_are_sent_once_per_interval_per_destination() {
    let (mut d, t0) = dispatcher(TWO, probing(ProbeMode::All));
    assert_eq!(answer_probes(&mut d, t0, Duration::ZERO, |_| Some(200)), 2);
    assert!(d.poll_probe(t0 + 9 * SECOND).is_none());
    assert_eq!(d.poll_timeout(), Some(t0 + 10 * SECOND));
    assert_eq!(
        answer_probes(&mut d, t0 + 10 * SECOND, Duration::ZERO, |_| Some(200)),
        2
    );
}

#[test]
fn a_destination_with_a_probe_in_flight_gets_no_second_probe() {
    let (mut d, t0) = dispatcher("1 sip:10.0.0.1", probing(ProbeMode::All));
    let probe = d.poll_probe(t0).unwrap();
    assert!(d.poll_probe(t0 + SECOND).is_none());
    assert_eq!(d.poll_timeout(), Some(probe.deadline));
    assert_eq!(probe.deadline, t0 + 4 * SECOND);
}

#[test]
fn probe_timeouts_come_from_handle_timeout_and_late_replies_are_ignored() {
    let (mut d, t0) = dispatcher("1 sip:10.0.0.1", probing(ProbeMode::All));
    let probe = d.poll_probe(t0).unwrap();
    d.handle_timeout(t0 + 4 * SECOND);
    let target = d.destinations(1).next().unwrap();
    assert_eq!(d.state(target), Some(DestinationState::Trying));
    let late = ProbeOutcome::Response(StatusCode::OK);
    assert!(!d.handle_probe_reply(probe.id, late, t0 + 5 * SECOND));
    assert_eq!(d.state(target), Some(DestinationState::Trying));
    // The next probe is due one interval after the failed one was sent.
    assert_eq!(d.poll_timeout(), Some(t0 + 10 * SECOND));
}

#[test]
fn accepted_reply_codes_decide_success() {
    let (mut d, t0) = dispatcher("1 sip:10.0.0.1", probing(ProbeMode::All));
    let target = d.destinations(1).next().unwrap();
    // 404 and 501 mean the server is alive (the default codes)…
    let now = run_rounds(&mut d, t0, 3, |_| Some(404));
    run_rounds(&mut d, now, 1, |_| Some(501));
    assert_eq!(d.state(target), Some(DestinationState::Active));
    // …but 503 does not.
    run_rounds(&mut d, now + 10 * SECOND, 3, |_| Some(503));
    assert_eq!(d.state(target), Some(DestinationState::Inactive));
}

#[test]
fn custom_reply_codes_replace_the_defaults() {
    let mut config = probing(ProbeMode::All);
    config.probe.reply_codes = ReplyCodes::parse("code=200").unwrap();
    config.probe.down_threshold = 1;
    let (mut d, t0) = dispatcher("1 sip:10.0.0.1", config);
    run_rounds(&mut d, t0, 1, |_| Some(404));
    assert_eq!(states(&d), [DestinationState::Inactive]);
}

#[test]
fn flagged_mode_probes_only_flagged_destinations() {
    let list = "1 sip:10.0.0.1 0\n1 sip:10.0.0.2 8\n";
    let (mut d, t0) = dispatcher(list, probing(ProbeMode::Flagged));
    let mut probed = Vec::new();
    for round in 0..3 {
        while let Some(p) = d.poll_probe(t0 + round * 10 * SECOND) {
            probed.push(p.uri.to_string());
            d.handle_probe_reply(p.id, ProbeOutcome::Response(StatusCode::OK), t0);
        }
    }
    assert_eq!(probed, ["sip:10.0.0.2"; 3]);
}

#[test]
fn flagged_mode_probes_a_destination_taken_down_by_traffic_back_up() {
    let mut config = probing(ProbeMode::Flagged);
    config.probe.down_threshold = 1;
    config.probe.up_threshold = 1;
    let (mut d, t0) = dispatcher("1 sip:10.0.0.1\n1 sip:10.0.0.2\n", config);
    assert!(d.poll_probe(t0).is_none());
    let mut s = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
    d.on_failure(&mut s, tandem_dispatcher::FailureReason::Timeout);
    assert_eq!(states(&d)[0], DestinationState::Inactive);
    let p = d
        .poll_probe(t0 + 10 * SECOND)
        .expect("the downed destination is probed");
    assert_eq!(p.uri.to_string(), "sip:10.0.0.1");
    d.handle_probe_reply(
        p.id,
        ProbeOutcome::Response(StatusCode::OK),
        t0 + 10 * SECOND,
    );
    assert_eq!(states(&d)[0], DestinationState::Active);
}

#[test]
fn inactive_mode_probes_only_destinations_out_of_service() {
    let (mut d, t0) = dispatcher(
        "1 sip:10.0.0.1 0\n1 sip:10.0.0.2 1\n",
        probing(ProbeMode::Inactive),
    );
    let p = d.poll_probe(t0).unwrap();
    assert_eq!(p.uri.to_string(), "sip:10.0.0.2");
    assert!(d.poll_probe(t0).is_none());
}

#[test]
fn disabled_destinations_are_never_probed() {
    let (mut d, t0) = dispatcher("1 sip:10.0.0.1 4\n", probing(ProbeMode::All));
    for round in 0..5 {
        assert!(d.poll_probe(t0 + round * 10 * SECOND).is_none());
    }
}

#[test]
fn probing_off_sends_nothing_and_sets_no_timer() {
    let (mut d, t0) = dispatcher(TWO, probing(ProbeMode::Off));
    assert!(d.poll_probe(t0).is_none());
    assert_eq!(d.poll_timeout(), None);
}

#[test]
fn new_destinations_can_wait_for_probes_before_taking_traffic() {
    let mut config = probing(ProbeMode::All);
    config.new_destination_state = DestinationState::Probing;
    let (mut d, t0) = dispatcher(TWO, config);
    assert_eq!(states(&d), [DestinationState::Probing; 2]);
    assert!(
        d.select(1, Algorithm::RoundRobin, SelectInput::None)
            .is_err()
    );
    let now = run_rounds(&mut d, t0, 1, |_| Some(200));
    assert_eq!(states(&d), [DestinationState::Probing; 2]);
    run_rounds(&mut d, now, 1, |u| {
        (u == "sip:10.0.0.1:5080").then_some(200)
    });
    assert_eq!(
        states(&d),
        [DestinationState::Active, DestinationState::Probing]
    );
}

#[test]
fn latency_statistics_follow_probe_round_trips() {
    let (mut d, t0) = dispatcher("1 sip:10.0.0.1", probing(ProbeMode::All));
    let target = d.destinations(1).next().unwrap();
    for (round, ms) in [10u64, 30, 20].into_iter().enumerate() {
        let now = t0 + round as u32 * 10 * SECOND;
        let p = d.poll_probe(now).unwrap();
        let reply = ProbeOutcome::Response(StatusCode::OK);
        d.handle_probe_reply(p.id, reply, now + Duration::from_millis(ms));
    }
    let stats = d.latency(target).unwrap();
    assert_eq!(stats.count(), 3);
    assert_eq!(stats.max(), Some(Duration::from_millis(30)));
    assert_eq!(stats.min(), Some(Duration::from_millis(10)));
    let mean = stats.mean().unwrap().as_secs_f64();
    assert!((mean - 0.020).abs() < 1e-9);
    let summary = d.snapshot().sets[0].destinations[0].latency;
    assert_eq!(summary.count, 3);
    assert!(summary.std_dev_ms.unwrap() > 0.0);
    assert_eq!(
        d.snapshot().sets[0].destinations[0].last_probe_status,
        Some(200)
    );
}

#[test]
fn probe_requests_carry_what_the_driver_needs() {
    let list = "3 sip:10.0.0.9:5070;transport=tcp 0 0 socket=tcp:192.0.2.1:5060\n";
    let (mut d, t0) = dispatcher(list, probing(ProbeMode::All));
    let p = d.poll_probe(t0).unwrap();
    assert_eq!(p.set_id, 3);
    assert_eq!(p.transport, tandem_sip_core::TransportKind::Tcp);
    assert_eq!(p.socket.unwrap().to_string(), "tcp:192.0.2.1:5060");
    assert_eq!(*p.request.method(), Method::Options);
    assert_eq!(p.request.uri(), &p.uri);
    assert_eq!(d.snapshot().probes_in_flight, 1);
}
