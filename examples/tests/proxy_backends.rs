//! `tandem proxy` on each persistent registrar store, driven by real SIPp user agents over UDP on loopback:

#![cfg(all(feature = "sqlite", feature = "postgres", feature = "redis"))]
//! PostgreSQL (`DATABASE_URL`), Redis (`REDIS_URL`, two proxies sharing it) and SQLite (a temporary file).
//!
//! Each test keeps its data in its own namespace (a PostgreSQL schema, a Redis key prefix, a temporary
//! file) and removes it afterwards, so parallel runs never meet. Without `sipp` or a service URL a test says
//! so loudly and passes, except under `CI=true`, where it fails.

mod common;
use common::{Sipp, free_udp_port, in_ci, run, scenario, sipp_available, skip, wait};

use std::net::SocketAddr;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tandem_registrar::{Aor, Binding, DigestAlgorithm, Ha1, LocationStore};
use tandem_sip_core::TransportKind;
use tandem_stack::proxy::{ProxyConfig, RunningProxy, start};

/// The value of `var`, or `None` after a loud skip notice; under `CI=true` a missing variable fails.
fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(!in_ci(), "{var} is not set and CI=true");
            skip(&format!("{var} is not set"));
            None
        }
    }
}

/// A name no other test or test run uses: a prefix, the process id, the time and a counter.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `cleanup` when dropped, even after a failed assertion, on a thread with its own runtime (drop
/// cannot await, and runs inside the test's runtime).
struct Cleanup(Option<CleanupFn>);

type CleanupFn = Box<dyn FnOnce(&tokio::runtime::Runtime) + Send>;

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Some(cleanup) = self.0.take() else {
            return;
        };
        let done = std::thread::spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => cleanup(&runtime),
                Err(e) => eprintln!("cleanup runtime failed: {e}"),
            }
        })
        .join();
        if done.is_err() {
            eprintln!("cleanup panicked");
        }
    }
}

/// A proxy on an ephemeral UDP port for `localhost`/`127.0.0.1` (realm `localhost`), users alice and bob,
/// with `registrar` as the body of its `[registrar]` section.
async fn proxy(registrar: &str) -> (RunningProxy, SocketAddr) {
    let text = format!(
        r#"
        [proxy]
        domains = ["localhost", "127.0.0.1"]
        udp = "127.0.0.1:0"
        # Two proxy loops: every test also checks that messages are steered to the right one.
        shards = 2
        metrics = "127.0.0.1:0"
        [registrar]
        {registrar}
        [[users]]
        username = "alice"
        password = "alice-secret"
        [[users]]
        username = "bob"
        password = "bob-secret"
        "#
    );
    let mut config = ProxyConfig::from_toml(&text).expect("valid configuration");
    config.proxy.tcp = None;
    // These tests are about the registrar's storage: calls go unchallenged (the 407 for INVITE is tested
    // in proxy_sipp).
    config.proxy.auth_invite = false;
    let proxy = start(config).await.expect("proxy starts");
    let addr = proxy.local_addr(TransportKind::Udp).expect("udp listener");
    (proxy, addr)
}

fn sipp(proxy: SocketAddr, args: &[&str]) -> Command {
    let mut command = Command::new("sipp");
    command
        .arg(proxy.to_string())
        .args([
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-timeout",
            "30s",
            "-timeout_error",
        ])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// REGISTER (or, with `unregister_auth.xml`, de-REGISTER) `user` with digest authentication.
async fn register_with(
    scenario_name: &str,
    proxy: SocketAddr,
    user: &str,
    port: u16,
) -> ExitStatus {
    let path = scenario(scenario_name);
    let contact = format!("127.0.0.1:{port}");
    let password = format!("{user}-secret");
    run(sipp(
        proxy,
        &[
            "-sf", &path, "-m", "1", "-key", "user", user, "-key", "contact", &contact, "-au",
            user, "-ap", &password,
        ],
    ))
    .await
}

async fn register(proxy: SocketAddr, user: &str, port: u16) -> ExitStatus {
    register_with("register_auth.xml", proxy, user, port).await
}

async fn unregister(proxy: SocketAddr, user: &str, port: u16) -> ExitStatus {
    register_with("unregister_auth.xml", proxy, user, port).await
}

/// A SIPp UAS on `port` that exits successfully after exactly `calls` calls.
fn uas(proxy: SocketAddr, port: u16, calls: u32) -> Sipp {
    let path = scenario("uas_rr.xml");
    Sipp::spawn(sipp(
        proxy,
        &[
            "-sf",
            &path,
            "-p",
            &port.to_string(),
            "-m",
            &calls.to_string(),
        ],
    ))
}

/// One call from a SIPp UAC to `user` through `proxy` (INVITE, 200, ACK, BYE).
async fn call(proxy: SocketAddr, user: &str) -> ExitStatus {
    let path = scenario("uac_rr.xml");
    run(sipp(
        proxy,
        &["-sf", &path, "-s", user, "-m", "1", "-d", "100"],
    ))
    .await
}

/// One INVITE to `user` through `proxy` that must be answered 480.
async fn call_answered_480(proxy: SocketAddr, user: &str) -> ExitStatus {
    let path = scenario("invite_480.xml");
    run(sipp(proxy, &["-sf", &path, "-s", user, "-m", "1"])).await
}

/// A call to `user` through `via`, answered by a SIPp UAS on `port`: the call and the UAS both succeed.
async fn call_reaches(via: SocketAddr, user: &str, port: u16) {
    let callee = uas(via, port, 1);
    // Let the UAS bind its port before the INVITE comes (SIPp has no readiness signal).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = call(via, user).await;
    // On failure the UAS guard kills the callee.
    assert!(
        status.success(),
        "the call to {user} through {via} failed: {status}"
    );
    assert!(
        wait(callee).await.success(),
        "{user}'s UAS did not take exactly one call"
    );
}

fn bob_aor() -> Aor {
    Aor::parse("sip:bob@127.0.0.1").expect("valid AOR")
}

/// `bindings` holds exactly one binding, whose contact is on 127.0.0.1:`port`.
fn assert_bound_at(bindings: &[Binding], port: u16) {
    assert_eq!(bindings.len(), 1, "bindings: {bindings:?}");
    let contact = bindings[0].uri().to_string();
    assert!(
        contact.contains(&format!("127.0.0.1:{port}")),
        "contact {contact} is not bob's UAS on port {port}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_registration_with_digest_auth_is_stored_and_a_call_reaches_it() {
    let Some(url) = service_url("DATABASE_URL") else {
        return;
    };
    if !sipp_available() {
        return;
    }
    let schema = unique_name("tandem_proxy");
    let _cleanup = {
        let (url, schema) = (url.clone(), schema.clone());
        Cleanup(Some(Box::new(move |runtime| {
            runtime.block_on(async {
                let Ok(pool) = sqlx::PgPool::connect(&url).await else {
                    return;
                };
                // `schema` is a plain identifier made by `unique_name`.
                let drop = sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                if let Err(e) = sqlx::query(drop).execute(&pool).await {
                    eprintln!("dropping schema {schema}: {e}");
                }
                pool.close().await;
            });
        })))
    };
    let (_proxy, addr) = proxy(&format!(
        "store = \"{url}\"\npostgres_schema = \"{schema}\"\n"
    ))
    .await;
    let bob_port = free_udp_port();
    assert!(
        register(addr, "bob", bob_port).await.success(),
        "REGISTER failed"
    );

    // The binding and the credentials are rows in this test's schema; the credentials are HA1 only.
    let pool = sqlx::PgPool::connect(&url)
        .await
        .expect("connect to PostgreSQL");
    let contacts: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT contact FROM {schema}.registrar_location WHERE aor = $1"
    )))
    .bind(bob_aor().as_str())
    .fetch_all(&pool)
    .await
    .expect("read the location table");
    assert_eq!(contacts.len(), 1, "rows: {contacts:?}");
    assert!(contacts[0].contains(&format!("127.0.0.1:{bob_port}")));
    let md5: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT ha1 FROM {schema}.registrar_credential \
         WHERE username = 'bob' AND realm = 'localhost' AND algorithm = 'MD5'"
    )))
    .fetch_one(&pool)
    .await
    .expect("bob's MD5 HA1 is stored");
    let expected = Ha1::from_password(DigestAlgorithm::Md5, "bob", "localhost", "bob-secret");
    assert_eq!(md5, expected.as_str());
    let leaked: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {schema}.registrar_credential WHERE ha1 LIKE '%secret%'"
    )))
    .fetch_one(&pool)
    .await
    .expect("read the credential table");
    assert_eq!(leaked, 0, "a password was stored");
    pool.close().await;

    call_reaches(addr, "bob", bob_port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_registration_through_one_proxy_is_reachable_through_another() {
    let Some(url) = service_url("REDIS_URL") else {
        return;
    };
    if !sipp_available() {
        return;
    }
    let prefix = unique_name("tandem_proxy_test");
    let _cleanup = {
        let (url, prefix) = (url.clone(), prefix.clone());
        Cleanup(Some(Box::new(move |runtime| {
            runtime.block_on(async {
                if let Err(e) = delete_keys(&url, &prefix).await {
                    eprintln!("deleting keys {prefix}:*: {e}");
                }
            });
        })))
    };
    let registrar = format!("store = \"{url}\"\nredis_prefix = \"{prefix}\"\n");
    let (_a, proxy_a) = proxy(&registrar).await;
    let (_b, proxy_b) = proxy(&registrar).await;
    let store = tandem_registrar::RedisStore::connect(
        tandem_registrar::RedisConfig::new(url.as_str()).with_prefix(&prefix),
    )
    .await
    .expect("connect to Redis");
    let mut changes = store.watch().await.expect("subscribe to the change feed");

    let bob_port = free_udp_port();
    assert!(
        register(proxy_a, "bob", bob_port).await.success(),
        "REGISTER through A failed"
    );
    // The registration was published on `<prefix>:registrations` and is in the shared store.
    let event = tokio::time::timeout(Duration::from_secs(10), changes.next())
        .await
        .expect("a change is published")
        .expect("the feed is open")
        .expect("the change decodes");
    assert_eq!(event.aor, bob_aor());
    let bindings = store
        .bindings(&bob_aor(), SystemTime::now())
        .await
        .expect("read Redis");
    assert_bound_at(&bindings, bob_port);

    // A call through B, which never saw the REGISTER, reaches bob.
    call_reaches(proxy_b, "bob", bob_port).await;

    // De-registered through A: B finds bob provisioned but unbound and answers 480.
    assert!(
        unregister(proxy_a, "bob", bob_port).await.success(),
        "de-REGISTER through A failed"
    );
    assert!(
        call_answered_480(proxy_b, "bob").await.success(),
        "B did not answer 480 after bob de-registered through A"
    );
}

async fn delete_keys(url: &str, prefix: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let mut cursor: u64 = 0;
    // Bounded: a test run creates a handful of keys; 1,000 SCAN rounds is far beyond that.
    for _ in 0..1000 {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await?;
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(&keys)
                .query_async::<()>(&mut connection)
                .await?;
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_registration_is_stored_in_the_file_and_a_call_reaches_it() {
    if !sipp_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("registrar.db");
    let (proxy_handle, addr) = proxy(&format!("store = \"sqlite:{}\"\n", path.display())).await;
    let bob_port = free_udp_port();
    assert!(
        register(addr, "bob", bob_port).await.success(),
        "REGISTER failed"
    );
    call_reaches(addr, "bob", bob_port).await;
    drop(proxy_handle);

    // The binding outlives the proxy: it is in the file.
    let store = tandem_registrar::SqliteStore::open(&path)
        .await
        .expect("open the file again");
    let bindings = store
        .bindings(&bob_aor(), SystemTime::now())
        .await
        .expect("read SQLite");
    assert_bound_at(&bindings, bob_port);
    store.pool().close().await;
}
