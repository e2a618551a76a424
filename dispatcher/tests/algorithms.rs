//! Each algorithm's promised split, measured over many synthetic requests.

mod support;

use std::time::Duration;
use support::*;
use tandem_dispatcher::{Algorithm, DestinationState, Error, SelectInput};
use tandem_sip_core::HeaderName;

const THREE: &str = "1 sip:10.0.0.1:5060\n1 sip:10.0.0.2:5060\n1 sip:10.0.0.3:5060\n";

#[test]
fn hash_over_call_id_sends_every_request_of_a_call_to_one_destination() {
    let (mut d, _) = dispatcher(THREE, quiet_config());
    for call in 0..200 {
        let call_id = format!("call-{call}@client.example");
        let invite = invite("sip:9999@proxy", "sip:a@x", "sip:9999@proxy", &call_id);
        let bye = invite.clone();
        let a = first(&d.select(1, Algorithm::HashCallId, &invite).unwrap());
        // Other algorithms in between must not disturb the hash.
        d.select(1, Algorithm::RoundRobin, SelectInput::None)
            .unwrap();
        let b = first(&d.select(1, Algorithm::HashCallId, &bye).unwrap());
        assert_eq!(a, b);
    }
}

/// Builds the i-th synthetic request.
type MakeRequest = fn(usize) -> tandem_sip_core::Request;

#[test]
fn hash_algorithms_spread_many_keys_evenly() {
    let cases: [(Algorithm, MakeRequest); 5] = [
        (Algorithm::HashCallId, |i| {
            invite(
                "sip:9999@p",
                "sip:a@x",
                "sip:b@y",
                &format!("{i:x}-call@host"),
            )
        }),
        (Algorithm::HashFromUri, |i| {
            invite(
                "sip:9999@p",
                &format!("sip:user{i}@x.example"),
                "sip:b@y",
                "c",
            )
        }),
        (Algorithm::HashToUri, |i| {
            invite("sip:9999@p", "sip:a@x", &format!("sip:{i}@y.example"), "c")
        }),
        (Algorithm::HashRequestUri, |i| {
            invite(&format!("sip:{i}@gw.example"), "sip:a@x", "sip:b@y", "c")
        }),
        (Algorithm::HashRequestUriUser, |i| {
            invite(
                &format!("sip:+3315550{i:04}@gw.example"),
                "sip:a@x",
                "sip:b@y",
                "c",
            )
        }),
    ];
    for (algorithm, make) in cases {
        let (mut d, _) = dispatcher(THREE, quiet_config());
        let mut counts = std::collections::HashMap::new();
        for i in 0..9000 {
            let selection = d.select(1, algorithm, &make(i)).unwrap();
            *counts.entry(first(&selection)).or_insert(0usize) += 1;
        }
        assert_eq!(counts.len(), 3, "{algorithm}: {counts:?}");
        for n in counts.values() {
            assert!(near(*n, 3000.0, 0.1), "{algorithm}: {counts:?}");
        }
    }
}

#[test]
fn hash_over_auth_username_keeps_a_user_on_one_destination() {
    let (mut d, _) = dispatcher(THREE, quiet_config());
    let mut seen = std::collections::HashSet::new();
    for call in 0..50 {
        let r =
            tandem_sip_core::Request::builder(tandem_sip_core::Method::Invite, uri("sip:9999@p"))
                .header(HeaderName::CallId, format!("c{call}"))
                .header(
                    HeaderName::ProxyAuthorization,
                    "Digest username=\"6001\", realm=\"r\"",
                )
                .build();
        seen.insert(first(
            &d.select(1, Algorithm::HashAuthUsername, &r).unwrap(),
        ));
    }
    assert_eq!(seen.len(), 1);
}

#[test]
fn hash_without_its_key_falls_back_to_round_robin() {
    let (mut d, _) = dispatcher(THREE, quiet_config());
    let no_user = invite("sip:gw.example", "sip:a@x", "sip:b@y", "c");
    let picks: Vec<String> = (0..3)
        .map(|_| {
            first(
                &d.select(1, Algorithm::HashRequestUriUser, &no_user)
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        picks,
        [
            "sip:10.0.0.1:5060",
            "sip:10.0.0.2:5060",
            "sip:10.0.0.3:5060"
        ]
    );
}

#[test]
fn round_robin_alternates_exactly() {
    let (mut d, _) = dispatcher("1 sip:10.0.0.1\n1 sip:10.0.0.2\n", quiet_config());
    let picks: Vec<String> = (0..6)
        .map(|_| {
            first(
                &d.select(1, Algorithm::RoundRobin, SelectInput::None)
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        picks,
        [
            "sip:10.0.0.1",
            "sip:10.0.0.2",
            "sip:10.0.0.1",
            "sip:10.0.0.2",
            "sip:10.0.0.1",
            "sip:10.0.0.2"
        ]
    );
}

#[test]
fn round_robin_shares_evenly_among_usable_destinations() {
    let (mut d, _) = dispatcher(THREE, quiet_config());
    d.set_state(id(&d, 1, "sip:10.0.0.2:5060"), DestinationState::Inactive)
        .unwrap();
    let counts = count_picks(&mut d, 1, Algorithm::RoundRobin, 1000, |_| String::new());
    assert_eq!(counts.get("sip:10.0.0.1:5060"), Some(&500));
    assert_eq!(counts.get("sip:10.0.0.3:5060"), Some(&500));
    assert_eq!(counts.get("sip:10.0.0.2:5060"), None);
}

#[test]
fn random_covers_destinations_evenly_with_a_seeded_source() {
    let (mut d, _) = dispatcher(THREE, quiet_config());
    let counts = count_picks(&mut d, 1, Algorithm::Random, 30_000, |_| String::new());
    assert_eq!(counts.len(), 3);
    for n in counts.values() {
        assert!(near(*n, 10_000.0, 0.05), "{counts:?}");
    }
}

#[test]
fn random_is_reproducible_with_the_same_seed() {
    let run = || {
        let (mut d, _) = dispatcher(THREE, quiet_config());
        (0..50)
            .map(|_| first(&d.select(1, Algorithm::Random, SelectInput::None).unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn weight_splits_eighty_twenty() {
    let list = "1 sip:10.0.0.1 0 0 weight=80\n1 sip:10.0.0.2 0 0 weight=20\n";
    let (mut d, _) = dispatcher(list, quiet_config());
    let counts = count_picks(&mut d, 1, Algorithm::Weight, 10_000, |i| i.to_string());
    assert!(near(counts["sip:10.0.0.1"], 8000.0, 0.02), "{counts:?}");
    assert!(near(counts["sip:10.0.0.2"], 2000.0, 0.02), "{counts:?}");
}

#[test]
fn weight_interleaves_picks_rather_than_batching_them() {
    let list = "1 sip:10.0.0.1 0 0 weight=50\n1 sip:10.0.0.2 0 0 weight=50\n";
    let (mut d, _) = dispatcher(list, quiet_config());
    let picks: Vec<String> = (0..100)
        .map(|_| first(&d.select(1, Algorithm::Weight, SelectInput::None).unwrap()))
        .collect();
    let longest_run = picks
        .chunk_by(|a, b| a == b)
        .map(<[String]>::len)
        .max()
        .unwrap();
    assert!(longest_run < 20, "longest run {longest_run}");
}

#[test]
fn weight_pick_of_an_inactive_destination_moves_to_the_next_in_set_order() {
    let list = "1 sip:10.0.0.1 0 0 weight=50\n1 sip:10.0.0.2 0 0 weight=25\n1 sip:10.0.0.3 0 0 weight=25\n";
    let (mut d, _) = dispatcher(list, quiet_config());
    d.set_state(id(&d, 1, "sip:10.0.0.1"), DestinationState::Inactive)
        .unwrap();
    let counts = count_picks(&mut d, 1, Algorithm::Weight, 1000, |i| i.to_string());
    // Kamailio semantics: the down destination's share goes to its successor in the set.
    assert!(near(counts["sip:10.0.0.2"], 750.0, 0.02), "{counts:?}");
    assert!(near(counts["sip:10.0.0.3"], 250.0, 0.02), "{counts:?}");
}

#[test]
fn relative_weight_splits_over_active_destinations_only() {
    let list = "1 sip:10.0.0.1 0 0 rweight=1\n1 sip:10.0.0.2 0 0 rweight=2\n1 sip:10.0.0.3 0 0 rweight=1\n";
    let (mut d, _) = dispatcher(list, quiet_config());
    let counts = count_picks(&mut d, 1, Algorithm::RelativeWeight, 10_000, |i| {
        i.to_string()
    });
    assert!(near(counts["sip:10.0.0.1"], 2500.0, 0.02), "{counts:?}");
    assert!(near(counts["sip:10.0.0.2"], 5000.0, 0.02), "{counts:?}");
    assert!(near(counts["sip:10.0.0.3"], 2500.0, 0.02), "{counts:?}");

    d.set_state(id(&d, 1, "sip:10.0.0.3"), DestinationState::Inactive)
        .unwrap();
    let counts = count_picks(&mut d, 1, Algorithm::RelativeWeight, 9_000, |i| {
        i.to_string()
    });
    assert!(near(counts["sip:10.0.0.1"], 3000.0, 0.03), "{counts:?}");
    assert!(near(counts["sip:10.0.0.2"], 6000.0, 0.03), "{counts:?}");
    assert!(!counts.contains_key("sip:10.0.0.3"));

    d.set_state(id(&d, 1, "sip:10.0.0.3"), DestinationState::Active)
        .unwrap();
    let counts = count_picks(&mut d, 1, Algorithm::RelativeWeight, 10_000, |i| {
        i.to_string()
    });
    assert!(near(counts["sip:10.0.0.3"], 2500.0, 0.02), "{counts:?}");
}

#[test]
fn priority_orders_by_priority_then_list_order() {
    let list = "1 sip:low.example 0 1\n1 sip:high.example 0 10\n1 sip:mid-a.example 0 5\n1 sip:mid-b.example 0 5\n";
    let (mut d, _) = dispatcher(list, quiet_config());
    let selection = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
    assert_eq!(
        order(&selection),
        [
            "sip:high.example",
            "sip:mid-a.example",
            "sip:mid-b.example",
            "sip:low.example"
        ]
    );
    // Always the same first pick while it is up; the next one when it is down.
    let again = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
    assert_eq!(first(&again), "sip:high.example");
    d.set_state(id(&d, 1, "sip:high.example"), DestinationState::Disabled)
        .unwrap();
    let without = d.select(1, Algorithm::Priority, SelectInput::None).unwrap();
    assert_eq!(first(&without), "sip:mid-a.example");
}

#[test]
fn call_load_picks_the_least_loaded_and_respects_maxload() {
    let list = "1 sip:10.0.0.1 0 0 duid=a;maxload=2\n1 sip:10.0.0.2 0 0 duid=b;maxload=3\n";
    let (mut d, now) = dispatcher(list, quiet_config());
    let mut placed = Vec::new();
    for call in 0..5 {
        let call_id = format!("call-{call}");
        let selection = d.select(1, Algorithm::CallLoad, SelectInput::None).unwrap();
        let chosen = selection.current().unwrap().id();
        d.call_started(call_id.as_bytes(), chosen, now).unwrap();
        placed.push(first(&selection));
    }
    // Least loaded first (ties to the first in the set), until each is at its maxload.
    assert_eq!(
        placed,
        [
            "sip:10.0.0.1",
            "sip:10.0.0.2",
            "sip:10.0.0.1",
            "sip:10.0.0.2",
            "sip:10.0.0.2"
        ]
    );
    assert_eq!(d.active_calls(id(&d, 1, "sip:10.0.0.1")), Some(2));
    assert_eq!(d.active_calls(id(&d, 1, "sip:10.0.0.2")), Some(3));
    assert_eq!(
        d.select(1, Algorithm::CallLoad, SelectInput::None)
            .unwrap_err(),
        Error::NoDestination(1)
    );
    // Other algorithms ignore maxload.
    assert!(
        d.select(1, Algorithm::RoundRobin, SelectInput::None)
            .is_ok()
    );

    assert_eq!(d.call_ended(b"call-0"), Some(id(&d, 1, "sip:10.0.0.1")));
    let selection = d.select(1, Algorithm::CallLoad, SelectInput::None).unwrap();
    assert_eq!(order(&selection), ["sip:10.0.0.1"]);
}

#[test]
fn call_load_spreads_evenly_without_maxload() {
    let (mut d, now) = dispatcher(THREE, quiet_config());
    for call in 0..300 {
        let s = d.select(1, Algorithm::CallLoad, SelectInput::None).unwrap();
        d.call_started(
            format!("c{call}").as_bytes(),
            s.current().unwrap().id(),
            now,
        )
        .unwrap();
    }
    for uri in [
        "sip:10.0.0.1:5060",
        "sip:10.0.0.2:5060",
        "sip:10.0.0.3:5060",
    ] {
        assert_eq!(d.active_calls(id(&d, 1, uri)), Some(100));
    }
}

#[test]
fn parallel_returns_every_usable_destination() {
    let (mut d, _) = dispatcher(THREE, quiet_config());
    d.set_state(id(&d, 1, "sip:10.0.0.2:5060"), DestinationState::Inactive)
        .unwrap();
    let s = d.select(1, Algorithm::Parallel, SelectInput::None).unwrap();
    assert_eq!(order(&s), ["sip:10.0.0.1:5060", "sip:10.0.0.3:5060"]);
}

#[test]
fn latency_prefers_the_fastest_measured_destination() {
    let mut config = quiet_config();
    config.probe.mode = tandem_dispatcher::ProbeMode::All;
    let (mut d, now) = dispatcher(THREE, config);
    let mut probes = Vec::new();
    while let Some(p) = d.poll_probe(now) {
        probes.push(p);
    }
    for p in probes {
        let rtt = match p.uri.to_string().as_str() {
            "sip:10.0.0.1:5060" => Some(Duration::from_millis(80)),
            "sip:10.0.0.2:5060" => Some(Duration::from_millis(20)),
            _ => None, // unmeasured: last
        };
        if let Some(rtt) = rtt {
            let ok = tandem_dispatcher::ProbeOutcome::Response(tandem_sip_core::StatusCode::OK);
            d.handle_probe_reply(p.id, ok, now + rtt);
        }
    }
    let s = d.select(1, Algorithm::Latency, SelectInput::None).unwrap();
    assert_eq!(
        order(&s),
        [
            "sip:10.0.0.2:5060",
            "sip:10.0.0.1:5060",
            "sip:10.0.0.3:5060"
        ]
    );
}

#[test]
fn unknown_set_and_all_down_sets_are_errors() {
    let (mut d, _) = dispatcher("1 sip:10.0.0.1 4\n", quiet_config());
    assert_eq!(
        d.select(2, Algorithm::RoundRobin, SelectInput::None)
            .unwrap_err(),
        Error::UnknownSet(2)
    );
    for algorithm in Algorithm::ALL {
        assert_eq!(
            d.select(1, algorithm, "key").unwrap_err(),
            Error::NoDestination(1),
            "{algorithm}"
        );
    }
}

#[test]
fn every_algorithm_skips_inactive_and_disabled_destinations() {
    let list = "1 sip:a.example 1 0 weight=90;rweight=90\n1 sip:b.example 4 0 weight=5;rweight=5\n1 sip:c.example 0 0 weight=5;rweight=5\n";
    let (mut d, _) = dispatcher(list, quiet_config());
    for algorithm in Algorithm::ALL {
        for i in 0..20 {
            let key = format!("k{i}");
            let s = d.select(1, algorithm, key.as_str()).unwrap();
            assert_eq!(order(&s), ["sip:c.example"], "{algorithm}");
        }
    }
}
