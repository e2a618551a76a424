//! Dispatcher selection cost: one `select` per routed call, over a 10-destination set.

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use tandem_dispatcher::{
    Algorithm, Dispatcher, DispatcherConfig, DispatcherList, ProbeConfig, ProbeMode, SelectInput,
};
use tandem_sip_core::{HeaderName, Method, Request, Uri};

fn dispatcher() -> Dispatcher {
    let list: String = (0..10)
        .map(|i| {
            format!(
                "1 sip:10.0.0.{i}:5060 0 0 weight={w};rweight={w}\n",
                w = 5 + i
            )
        })
        .collect();
    let config = DispatcherConfig {
        seed: Some(1),
        probe: ProbeConfig {
            mode: ProbeMode::Off,
            ..ProbeConfig::default()
        },
        ..DispatcherConfig::default()
    };
    Dispatcher::new(
        DispatcherList::parse(&list).unwrap(),
        config,
        Instant::now(),
    )
}

fn invite() -> Request {
    let uri = Uri::parse(&Bytes::from_static(b"sip:9999@proxy.example.com")).unwrap();
    Request::builder(Method::Invite, uri)
        .header(
            HeaderName::From,
            "\"Alice\" <sip:alice@example.com>;tag=1928301774",
        )
        .header(HeaderName::To, "<sip:9999@proxy.example.com>")
        .header(HeaderName::CallId, "a84b4c76e66710@pc33.example.com")
        .build()
}

fn select(c: &mut Criterion) {
    let mut group = c.benchmark_group("dispatcher/select");
    let request = invite();
    for algorithm in [
        Algorithm::HashCallId,
        Algorithm::HashFromUri,
        Algorithm::RoundRobin,
        Algorithm::Random,
        Algorithm::Weight,
        Algorithm::RelativeWeight,
        Algorithm::CallLoad,
    ] {
        let mut d = dispatcher();
        group.bench_function(algorithm.name(), |b| {
            b.iter(|| d.select(1, algorithm, SelectInput::Request(black_box(&request))))
        });
    }
    group.finish();
}

criterion_group!(benches, select);
criterion_main!(benches);
