//! Two proxies sharing one Redis: what one registers, the other sees at once, and every change is announced
//! on the registrations channel.
#![cfg(feature = "redis")]

mod common;

use std::time::Duration;
use tandem_registrar::{
    Aor, BindingChange, FlowToken, LocationStore, RedisStore, Registrar, RegistrarConfig,
    RegistrarService, RegistrationEvent, RegistrationWatch,
};

/// Two stores on one prefix, as two proxies would have them, plus the cleanup of that prefix.
async fn two_proxies() -> Option<(common::Fixture<RedisStore>, RedisStore)> {
    let url = common::service_url("REDIS_URL")?;
    let prefix = common::unique_name("tandem-test");
    let first = common::redis_with_prefix(&url, &prefix).await;
    let second = common::redis_with_prefix(&url, &prefix).await;
    Some((
        common::fixture(first, common::redis_cleanup(url, prefix)),
        second,
    ))
}

/// The next event; a watch that stays silent for 10 s is a failure, not a hang.
async fn next_event(watch: &mut RegistrationWatch) -> RegistrationEvent {
    match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(e))) => panic!("undecodable event: {e}"),
        Ok(None) => panic!("the watch closed"),
        Err(_) => panic!("no event within 10 s"),
    }
}

#[tokio::test]
async fn a_registration_through_one_proxy_is_seen_and_announced_at_the_other() {
    let Some((first, second)) = two_proxies().await else {
        return;
    };
    assert_eq!(first.store.channel(), second.channel());
    let mut watch = second
        .watch()
        .await
        .unwrap_or_else(|e| panic!("watch: {e}"));
    let service = RegistrarService::new(Registrar::new(RegistrarConfig::default()), &first.store);
    let now = common::start();
    let alice = Aor::parse("sip:alice@example.com").unwrap_or_else(|e| panic!("{e}"));

    let register = common::register(
        "alice",
        "shared-1",
        1,
        &["Contact: <sip:alice@198.51.100.7:40312;transport=tcp>;expires=600"],
    );
    let outcome = service
        .handle(now, &register, &common::flow("proxy-a-conn-9"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.response.status().as_u16(), 200);

    let seen = second
        .bindings(&alice, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen, outcome.bindings);
    assert_eq!(
        seen[0].flow.as_ref().map(|f| &f.token),
        Some(&FlowToken::new("proxy-a-conn-9"))
    );

    let event = next_event(&mut watch).await;
    assert_eq!(event.aor, alice);
    assert_eq!(event.changes, outcome.changes);

    let bye = common::register("alice", "shared-1", 2, &["Contact: *", "Expires: 0"]);
    service
        .handle(now, &bye, &common::flow("proxy-a-conn-9"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let event = next_event(&mut watch).await;
    assert!(
        matches!(event.changes.as_slice(), [BindingChange::Remove(key)] if *key == seen[0].key),
        "{event:?}"
    );
    assert!(
        second
            .bindings(&alice, now)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
}

#[tokio::test]
async fn expiry_removed_by_one_proxys_sweep_is_announced_to_the_other() {
    let Some((first, second)) = two_proxies().await else {
        return;
    };
    let mut watch = second
        .watch()
        .await
        .unwrap_or_else(|e| panic!("watch: {e}"));
    let service = RegistrarService::new(Registrar::new(RegistrarConfig::default()), &first.store);
    let now = common::start();
    let register = common::register(
        "bob",
        "sweep-1",
        1,
        &["Contact: <sip:bob@198.51.100.8>;expires=60"],
    );
    let outcome = service
        .handle(now, &register, &common::flow("proxy-a-conn-1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    next_event(&mut watch).await;

    let removed = first
        .store
        .sweep(now + Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(removed, 1);
    let event = next_event(&mut watch).await;
    assert_eq!(event.aor.as_str(), "sip:bob@example.com");
    let key = &outcome.bindings[0].key;
    assert!(
        matches!(event.changes.as_slice(), [BindingChange::Remove(k)] if k == key),
        "{event:?}"
    );
}
