//! Two proxies sharing one PostgreSQL database see the same registrations.
#![cfg(feature = "postgres")]

mod common;

use tandem_registrar::{
    Aor, LocationStore, PostgresStore, Registrar, RegistrarConfig, RegistrarService,
};

#[tokio::test]
async fn a_registration_through_one_proxy_is_seen_at_the_other() {
    let Some(first) = common::postgres().await else {
        return;
    };
    let url = common::service_url("DATABASE_URL").unwrap_or_default();
    // The same schema as the first store, reached over a second pool.
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(first.store.pool())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let second = PostgresStore::connect_in_schema(&url, &schema)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let service = RegistrarService::new(Registrar::new(RegistrarConfig::default()), &first.store);
    let now = common::start();
    let register = common::register(
        "carol",
        "pg-1",
        1,
        &["Contact: <sip:carol@198.51.100.9>;expires=600"],
    );
    let outcome = service
        .handle(now, &register, &common::flow("proxy-a"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let carol = Aor::parse("sip:carol@example.com").unwrap_or_else(|e| panic!("{e}"));
    let seen = second
        .bindings(&carol, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen, outcome.bindings);
    assert_eq!(seen.len(), 1);
    second.pool().close().await;
}
