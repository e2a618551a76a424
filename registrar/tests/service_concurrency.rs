//! The service on a multi-threaded runtime: its futures are `Send`, and REGISTERs racing for the same or
//! different AORs all land.
#![cfg(feature = "memory")]

mod common;

use std::sync::Arc;
use tandem_registrar::{
    Aor, LocationStore, MemoryStore, Registrar, RegistrarConfig, RegistrarService,
};

fn service() -> Arc<RegistrarService<MemoryStore>> {
    let mut config = RegistrarConfig::default();
    config.max_contacts = None;
    Arc::new(RegistrarService::new(
        Registrar::new(config),
        MemoryStore::new(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_many_aors_all_land() {
    let service = service();
    let now = common::start();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let service = Arc::clone(&service);
        tasks.push(tokio::spawn(async move {
            let contact = format!("Contact: <sip:u{i}@198.51.100.{}>;expires=600", i % 250);
            let request = common::register(&format!("u{i}"), &format!("c{i}"), 1, &[&contact]);
            service.handle(now, &request, &common::flow("tcp")).await
        }));
    }
    for task in tasks {
        let outcome = task
            .await
            .unwrap_or_else(|e| panic!("task: {e}"))
            .unwrap_or_else(|e| panic!("store: {e}"));
        assert_eq!(outcome.response.status().as_u16(), 200);
    }
    assert_eq!(service.store().binding_count(now).await.ok(), Some(64));
    assert_eq!(
        service.store().aors(now).await.map(|a| a.len()).ok(),
        Some(64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_aor_keep_every_contact() {
    let service = service();
    let now = common::start();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let service = Arc::clone(&service);
        tasks.push(tokio::spawn(async move {
            let contact = format!("Contact: <sip:alice@198.51.100.{i}>;expires=600");
            let request = common::register("alice", &format!("phone-{i}"), 1, &[&contact]);
            service.handle(now, &request, &common::flow("tcp")).await
        }));
    }
    for task in tasks {
        let outcome = task
            .await
            .unwrap_or_else(|e| panic!("task: {e}"))
            .unwrap_or_else(|e| panic!("store: {e}"));
        assert_eq!(outcome.response.status().as_u16(), 200);
    }
    let alice = Aor::parse("sip:alice@example.com").unwrap_or_else(|e| panic!("{e}"));
    let bindings = service
        .store()
        .bindings(&alice, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bindings.len(), 32);
}
