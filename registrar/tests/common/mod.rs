//! Fixtures shared by the store tests: one store per backend, each in its own namespace (temp file, schema,
//! key prefix) so parallel tests and CI reruns never meet, and removed again when the fixture is dropped,
//! even after a failed assertion.
//!
//! PostgreSQL and Redis come from `DATABASE_URL` and `REDIS_URL`. Without the variable a test prints a loud
//! `SKIPPED` line and passes, except under `CI=true`, where a missing variable or an unreachable service
//! fails the test.

#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tandem_registrar::{Flow, FlowToken};
use tandem_sip_core::{Message, Request, Transport, parse_message};

type Cleanup = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// A store and what removes its data afterwards.
pub struct Fixture<S> {
    pub store: S,
    cleanup: Option<Cleanup>,
    _dir: Option<tempfile::TempDir>,
}

impl<S> Drop for Fixture<S> {
    fn drop(&mut self) {
        let Some(cleanup) = self.cleanup.take() else {
            return;
        };
        // Drop cannot await, and may run inside a runtime: clean up on a thread with its own runtime.
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(cleanup()),
                Err(e) => eprintln!("cleanup runtime failed: {e}"),
            }
        })
        .join();
        if done.is_err() {
            eprintln!("cleanup panicked");
        }
    }
}

/// A name no other test or test run uses: process id, time and a counter.
pub fn unique_name(prefix: &str) -> String {
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

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The value of `var`, or `None` after a loud skip notice; under `CI=true` a missing variable panics.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!("{var} is not set, and CI=true makes that a failure, not a skip"),
        _ => {
            // Straight to stderr: the test harness captures `eprintln!`, and a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n========== SKIPPED: {var} not set ==========\n"
            );
            None
        }
    }
}

#[cfg(feature = "memory")]
pub fn memory() -> Fixture<tandem_registrar::MemoryStore> {
    Fixture {
        store: tandem_registrar::MemoryStore::with_shards(4),
        cleanup: None,
        _dir: None,
    }
}

#[cfg(feature = "sqlite")]
pub async fn sqlite() -> Fixture<tandem_registrar::SqliteStore> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let store = tandem_registrar::SqliteStore::open(dir.path().join("registrar.db"))
        .await
        .unwrap_or_else(|e| panic!("open SQLite: {e}"));
    Fixture {
        store,
        cleanup: None,
        _dir: Some(dir),
    }
}

#[cfg(feature = "postgres")]
pub async fn postgres() -> Option<Fixture<tandem_registrar::PostgresStore>> {
    let url = service_url("DATABASE_URL")?;
    let schema = unique_name("tandem_test");
    let store = tandem_registrar::PostgresStore::connect_in_schema(&url, &schema)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL={url} is unreachable: {e}"));
    let cleanup: Cleanup = Box::new(move || {
        Box::pin(async move {
            match sqlx::PgPool::connect(&url).await {
                Ok(pool) => {
                    let drop =
                        sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                    if let Err(e) = sqlx::query(drop).execute(&pool).await {
                        eprintln!("dropping schema {schema}: {e}");
                    }
                    pool.close().await;
                }
                Err(e) => eprintln!("cleanup connect: {e}"),
            }
        })
    });
    Some(Fixture {
        store,
        cleanup: Some(cleanup),
        _dir: None,
    })
}

#[cfg(feature = "redis")]
/// A Redis store with a fresh prefix; `prefix` lets a second store share it.
pub async fn redis_with_prefix(url: &str, prefix: &str) -> tandem_registrar::RedisStore {
    let config = tandem_registrar::RedisConfig::new(url).with_prefix(prefix);
    tandem_registrar::RedisStore::connect(config)
        .await
        .unwrap_or_else(|e| panic!("Redis at REDIS_URL={url} is unreachable: {e}"))
}

#[cfg(feature = "redis")]
pub async fn redis() -> Option<Fixture<tandem_registrar::RedisStore>> {
    let url = service_url("REDIS_URL")?;
    let prefix = unique_name("tandem-test");
    let store = redis_with_prefix(&url, &prefix).await;
    Some(Fixture {
        store,
        cleanup: Some(redis_cleanup(url, prefix)),
        _dir: None,
    })
}

#[cfg(feature = "redis")]
/// Deletes every key under `prefix`.
pub fn redis_cleanup(url: String, prefix: String) -> Cleanup {
    Box::new(move || {
        Box::pin(async move {
            let result: redis::RedisResult<()> = async {
                let client = redis::Client::open(url.as_str())?;
                let mut connection = client.get_multiplexed_async_connection().await?;
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{prefix}:*"))
                    .query_async(&mut connection)
                    .await?;
                if !keys.is_empty() {
                    let _: usize = redis::cmd("DEL")
                        .arg(keys)
                        .query_async(&mut connection)
                        .await?;
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                eprintln!("Redis cleanup of {prefix}: {e}");
            }
        })
    })
}

/// Wrap a store with a cleanup (for tests that build their own stores).
pub fn fixture<S>(store: S, cleanup: Cleanup) -> Fixture<S> {
    Fixture {
        store,
        cleanup: Some(cleanup),
        _dir: None,
    }
}

/// The start of virtual time: the current second. Redis TTLs run on the server's clock, so virtual time
/// starts at the real time and only moves forward from there by what a test adds.
pub fn start() -> SystemTime {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

pub fn flow(token: &'static str) -> Flow {
    Flow::new(
        FlowToken::new(token),
        Transport::Tcp,
        "198.51.100.7:40312"
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
    )
}

/// A REGISTER for `user@example.com` with `extra` header lines.
pub fn register(user: &str, call_id: &str, cseq: u32, extra: &[&str]) -> Request {
    let mut text = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/TCP 198.51.100.7:40312;branch=z9hG4bK{call_id}{cseq}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:{user}@example.com>\r\n\
         From: <sip:{user}@example.com>;tag=t1\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n"
    );
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    match parse_message(Bytes::from(text)) {
        Ok(Message::Request(r)) => r,
        other => panic!("test REGISTER does not parse: {other:?}"),
    }
}
