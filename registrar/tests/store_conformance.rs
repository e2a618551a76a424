//! One behaviour suite, run against every store backend: memory always, SQLite in a temp file, PostgreSQL
//! with `DATABASE_URL`, Redis with `REDIS_URL` (see `common` for skips and CI).
#![cfg(any(
    feature = "memory",
    feature = "sqlite",
    feature = "postgres",
    feature = "redis"
))]

mod common;

use bytes::Bytes;
use std::time::{Duration, SystemTime};
use tandem_registrar::{
    Aor, Binding, BindingChange, BindingKey, Credential, CredentialStore, DigestAlgorithm, Flow,
    FlowToken, Ha1, LocationStore, Registrar, RegistrarConfig, RegistrarService,
};
use tandem_sip_core::header::{Path, QValue};
use tandem_sip_core::{CallId, NameAddr, Transport, TypedHeader};

fn aor(text: &str) -> Aor {
    Aor::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A binding of `user` at `host`, expiring `ttl` seconds after `now`, with every optional field set.
fn binding(now: SystemTime, host: &str, ttl: u64, q: Option<u16>) -> Binding {
    let contact = NameAddr::parse(&Bytes::from(format!(
        "\"Phone\" <sip:alice@{host};transport=tcp>;+sip.instance=\"<urn:uuid:{host}>\""
    )))
    .unwrap_or_else(|e| panic!("{e}"));
    let mut b = Binding::new(
        BindingKey::new(format!("sip:alice@{host};transport=tcp")),
        contact,
        now + secs(ttl),
        CallId::new(Bytes::from_static(b"call-1@198.51.100.7")).unwrap_or_else(|e| panic!("{e}")),
        3,
    );
    b.q = q.and_then(QValue::from_thousandths);
    b.instance = Some(format!("<urn:uuid:{host}>"));
    b.reg_id = Some(1);
    b.path = vec![
        Path::parse(&Bytes::from_static(b"<sip:edge.example.com;lr;ob>"))
            .unwrap_or_else(|e| panic!("{e}")),
    ];
    b.flow = Some(Flow::new(
        FlowToken::new(vec![0u8, 1, 2, 0xff]),
        Transport::Wss,
        "[2001:db8::7]:443"
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
    ));
    b.user_agent = Some("test-phone/1.0".into());
    b
}

fn upsert(b: &Binding) -> BindingChange {
    BindingChange::Upsert(b.clone())
}

async fn upserted_bindings_read_back_equal_in_q_order<S: LocationStore>(store: &S) {
    let now = common::start();
    let alice = aor("sip:alice@example.com");
    let low = binding(now, "192.0.2.1", 600, Some(100));
    let high = binding(now, "192.0.2.2", 600, Some(900));
    let plain = binding(now, "192.0.2.3", 600, None);
    store
        .apply(&alice, &[upsert(&low), upsert(&high), upsert(&plain)])
        .await
        .unwrap_or_else(|e| panic!("apply: {e}"));
    let read = store
        .bindings(&alice, now)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(read, vec![plain, high, low]);
}

async fn upsert_replaces_the_binding_with_the_same_key<S: LocationStore>(store: &S) {
    let now = common::start();
    let alice = aor("sip:alice@example.com");
    let first = binding(now, "192.0.2.1", 600, None);
    store
        .apply(&alice, &[upsert(&first)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut refreshed = first.clone();
    refreshed.expires_at = now + secs(3600);
    refreshed.cseq = 4;
    refreshed.flow = Some(common::flow("reconnected"));
    store
        .apply(&alice, &[upsert(&refreshed)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let read = store
        .bindings(&alice, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read, vec![refreshed]);
}

async fn remove_deletes_only_the_named_binding<S: LocationStore>(store: &S) {
    let now = common::start();
    let alice = aor("sip:alice@example.com");
    let a = binding(now, "192.0.2.1", 600, None);
    let b = binding(now, "192.0.2.2", 600, None);
    store
        .apply(&alice, &[upsert(&a), upsert(&b)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .apply(
            &alice,
            &[
                BindingChange::Remove(a.key.clone()),
                BindingChange::Remove(BindingKey::new("never-registered")),
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let read = store
        .bindings(&alice, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read, vec![b]);
}

async fn bindings_of_other_aors_are_untouched<S: LocationStore>(store: &S) {
    let now = common::start();
    let alice = aor("sip:alice@example.com");
    let bob = aor("sip:bob@example.com");
    let a = binding(now, "192.0.2.1", 600, None);
    store
        .apply(&alice, &[upsert(&a)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .apply(&bob, &[upsert(&a), BindingChange::Remove(a.key.clone())])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store
            .bindings(&alice, now)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        vec![a]
    );
    assert!(
        store
            .bindings(&bob, now)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
}

async fn expired_bindings_are_not_read_even_before_a_sweep<S: LocationStore>(store: &S) {
    let now = common::start();
    let alice = aor("sip:alice@example.com");
    let short = binding(now, "192.0.2.1", 60, None);
    let long = binding(now, "192.0.2.2", 600, None);
    store
        .apply(&alice, &[upsert(&short), upsert(&long)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let later = now + secs(60);
    let read = store
        .bindings(&alice, later)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read, vec![long]);
    assert_eq!(
        store
            .binding_count(later)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        1
    );
}

async fn sweep_removes_expired_bindings_and_counts_them<S: LocationStore>(store: &S) {
    let now = common::start();
    let alice = aor("sip:alice@example.com");
    let bob = aor("sip:bob@example.com");
    let carol = aor("sip:carol@example.com");
    store
        .apply(
            &alice,
            &[
                upsert(&binding(now, "192.0.2.1", 60, None)),
                upsert(&binding(now, "192.0.2.2", 600, None)),
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .apply(&bob, &[upsert(&binding(now, "192.0.2.3", 30, None))])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .apply(&carol, &[upsert(&binding(now, "192.0.2.4", 900, None))])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.sweep(now).await.unwrap_or_else(|e| panic!("{e}")), 0);
    let later = now + secs(61);
    assert_eq!(
        store.sweep(later).await.unwrap_or_else(|e| panic!("{e}")),
        2
    );
    assert_eq!(
        store.sweep(later).await.unwrap_or_else(|e| panic!("{e}")),
        0
    );
    // After the sweep even a reader at the earlier time no longer finds them.
    assert_eq!(
        store
            .binding_count(now)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        2
    );
    assert_eq!(
        store.aors(now).await.unwrap_or_else(|e| panic!("{e}")),
        vec![alice, carol]
    );
}

async fn aors_and_count_list_only_live_registrations<S: LocationStore>(store: &S) {
    let now = common::start();
    assert!(
        store
            .aors(now)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    assert_eq!(
        store
            .binding_count(now)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        0
    );
    let users = ["zoe", "alice", "mallory"];
    for (i, user) in users.iter().enumerate() {
        let target = aor(&format!("sip:{user}@example.com"));
        let ttl = 100 * (i as u64 + 1);
        store
            .apply(
                &target,
                &[
                    upsert(&binding(now, "192.0.2.1", ttl, None)),
                    upsert(&binding(now, "192.0.2.2", ttl, None)),
                ],
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(
        store.aors(now).await.unwrap_or_else(|e| panic!("{e}")),
        vec![
            aor("sip:alice@example.com"),
            aor("sip:mallory@example.com"),
            aor("sip:zoe@example.com")
        ]
    );
    assert_eq!(
        store
            .binding_count(now)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        6
    );
    // zoe's bindings (100 s) have lapsed at +150 s.
    let later = now + secs(150);
    assert_eq!(
        store.aors(later).await.unwrap_or_else(|e| panic!("{e}")),
        vec![aor("sip:alice@example.com"), aor("sip:mallory@example.com")]
    );
    assert_eq!(
        store
            .binding_count(later)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        4
    );
}

async fn removing_the_last_binding_forgets_the_aor<S: LocationStore>(store: &S) {
    let now = common::start();
    let alice = aor("sip:alice@example.com");
    let a = binding(now, "192.0.2.1", 600, None);
    store
        .apply(&alice, &[upsert(&a)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .apply(&alice, &[BindingChange::Remove(a.key.clone())])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        store
            .aors(now)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    assert_eq!(
        store
            .binding_count(now)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        0
    );
}

async fn credentials_are_kept_as_ha1_per_algorithm<S: CredentialStore>(store: &S) {
    let alice = Credential::from_password("alice", "example.com", "wonderland");
    store
        .put_credential(&alice)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for algorithm in DigestAlgorithm::ALL {
        let stored = store
            .ha1("alice", "example.com", algorithm)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stored.as_ref(), alice.ha1(algorithm), "{algorithm}");
    }
    let none = store
        .ha1("alice", "other.example.com", DigestAlgorithm::Md5)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none, None);
    let none = store
        .ha1("bob", "example.com", DigestAlgorithm::Md5)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none, None);
}

async fn provisioning_replaces_every_ha1_and_removal_forgets_them<S: CredentialStore>(store: &S) {
    let old = Credential::from_password("bob", "example.com", "old");
    store
        .put_credential(&old)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sha_only = Ha1::from_password(DigestAlgorithm::Sha256, "bob", "example.com", "new");
    let new = Credential::from_ha1("bob", "example.com", [sha_only.clone()]);
    store
        .put_credential(&new)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let md5 = store
        .ha1("bob", "example.com", DigestAlgorithm::Md5)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(md5, None);
    let sha = store
        .ha1("bob", "example.com", DigestAlgorithm::Sha256)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sha, Some(sha_only));
    assert!(
        store
            .remove_credential("bob", "example.com")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    assert!(
        !store
            .remove_credential("bob", "example.com")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let gone = store
        .ha1("bob", "example.com", DigestAlgorithm::Sha256)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(gone, None);
}

async fn service_registers_refreshes_and_deregisters_through_the_store<S: LocationStore>(store: S) {
    let service = RegistrarService::new(Registrar::new(RegistrarConfig::default()), store);
    let now = common::start();
    let alice = aor("sip:alice@example.com");
    let contact = "Contact: <sip:alice@198.51.100.7:40312;transport=tcp>;expires=600";
    let flow = common::flow("tcp-1");

    let first = common::register("alice", "c1", 1, &[contact]);
    let out = service
        .handle(now, &first, &flow)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.response.status().as_u16(), 200);
    let stored = service
        .store()
        .bindings(&alice, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored, out.bindings);
    assert_eq!(stored.len(), 1);

    // A stale retransmission of an older REGISTER is refused and changes nothing.
    let stale = common::register("alice", "c1", 1, &[contact]);
    let out = service
        .handle(now, &stale, &flow)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.response.status().as_u16(), 500);

    let later = now + secs(300);
    let refresh = common::register("alice", "c1", 2, &[contact]);
    service
        .handle(later, &refresh, &flow)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let stored = service
        .store()
        .bindings(&alice, later)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.first().map(|b| b.remaining(later)), Some(600));

    let bye = common::register("alice", "c1", 3, &["Contact: *", "Expires: 0"]);
    let out = service
        .handle(later, &bye, &flow)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.response.status().as_u16(), 200);
    assert!(
        service
            .store()
            .bindings(&alice, later)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
}

async fn service_replaces_an_outbound_flow_on_reregistration<S: LocationStore>(store: S) {
    let service = RegistrarService::new(Registrar::new(RegistrarConfig::default()), store);
    let now = common::start();
    let alice = aor("sip:alice@example.com");
    let contact = |host: &str| {
        format!(
            "Contact: <sip:alice@{host};transport=ws;ob>;+sip.instance=\"<urn:uuid:0f1e>\";reg-id=1;expires=300"
        )
    };
    let first = common::register(
        "alice",
        "ws-a",
        1,
        &["Supported: outbound", &contact("a.invalid")],
    );
    service
        .handle(now, &first, &common::flow("ws-conn-1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The browser reconnected on a new WebSocket with a new Call-ID.
    let second = common::register(
        "alice",
        "ws-b",
        1,
        &["Supported: outbound", &contact("b.invalid")],
    );
    let out = service
        .handle(now + secs(10), &second, &common::flow("ws-conn-2"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.response.status().as_u16(), 200);
    let stored = service
        .store()
        .bindings(&alice, now + secs(10))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].flow.as_ref().map(|f| &f.token),
        Some(&FlowToken::new("ws-conn-2"))
    );
}

/// One test per behaviour for a backend; `$fixture` yields `Option<Fixture<_>>` (`None` = skipped).
macro_rules! conformance {
    ($backend:ident, $fixture:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn upserted_bindings_read_back_equal_in_q_order() {
                let Some(f) = $fixture else { return };
                super::upserted_bindings_read_back_equal_in_q_order(&f.store).await;
            }

            #[tokio::test]
            async fn upsert_replaces_the_binding_with_the_same_key() {
                let Some(f) = $fixture else { return };
                super::upsert_replaces_the_binding_with_the_same_key(&f.store).await;
            }

            #[tokio::test]
            async fn remove_deletes_only_the_named_binding() {
                let Some(f) = $fixture else { return };
                super::remove_deletes_only_the_named_binding(&f.store).await;
            }

            #[tokio::test]
            async fn bindings_of_other_aors_are_untouched() {
                let Some(f) = $fixture else { return };
                super::bindings_of_other_aors_are_untouched(&f.store).await;
            }

            #[tokio::test]
            async fn expired_bindings_are_not_read_even_before_a_sweep() {
                let Some(f) = $fixture else { return };
                super::expired_bindings_are_not_read_even_before_a_sweep(&f.store).await;
            }

            #[tokio::test]
            async fn sweep_removes_expired_bindings_and_counts_them() {
                let Some(f) = $fixture else { return };
                super::sweep_removes_expired_bindings_and_counts_them(&f.store).await;
            }

            #[tokio::test]
            async fn aors_and_count_list_only_live_registrations() {
                let Some(f) = $fixture else { return };
                super::aors_and_count_list_only_live_registrations(&f.store).await;
            }

            #[tokio::test]
            async fn removing_the_last_binding_forgets_the_aor() {
                let Some(f) = $fixture else { return };
                super::removing_the_last_binding_forgets_the_aor(&f.store).await;
            }

            #[tokio::test]
            async fn credentials_are_kept_as_ha1_per_algorithm() {
                let Some(f) = $fixture else { return };
                super::credentials_are_kept_as_ha1_per_algorithm(&f.store).await;
            }

            #[tokio::test]
            async fn provisioning_replaces_every_ha1_and_removal_forgets_them() {
                let Some(f) = $fixture else { return };
                super::provisioning_replaces_every_ha1_and_removal_forgets_them(&f.store).await;
            }

            #[tokio::test]
            async fn service_registers_refreshes_and_deregisters_through_the_store() {
                let Some(f) = $fixture else { return };
                super::service_registers_refreshes_and_deregisters_through_the_store(&f.store)
                    .await;
            }

            #[tokio::test]
            async fn service_replaces_an_outbound_flow_on_reregistration() {
                let Some(f) = $fixture else { return };
                super::service_replaces_an_outbound_flow_on_reregistration(&f.store).await;
            }
        }
    };
}

#[cfg(feature = "memory")]
conformance!(memory, Some(common::memory()));
#[cfg(feature = "sqlite")]
conformance!(sqlite, Some(common::sqlite().await));
#[cfg(feature = "postgres")]
conformance!(postgres, common::postgres().await);
#[cfg(feature = "redis")]
conformance!(redis, common::redis().await);
