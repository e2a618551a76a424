//! Where bindings and credentials live: the async [`LocationStore`] and [`CredentialStore`] traits and their
//! backends, each behind a cargo feature.
//!
//! | backend | feature | notes |
//! |---|---|---|
//! | `MemoryStore` | `memory` (default) | sharded map, one process |
//! | `SqliteStore` | `sqlite` | bundled SQLite, one file; the reference stack's default |
//! | `PostgresStore` | `postgres` | shared by several proxies |
//! | `RedisStore` | `redis` | shared by several proxies, with change notifications |
//!
//! The traits use native `async fn` in traits (written as `fn … -> impl Future + Send` so that callers on a
//! multi-threaded runtime can rely on `Send` futures): no boxing and no `async-trait` macro. The price is that
//! they are not object-safe; code that picks a backend at run time wraps the stores it supports in an enum,
//! or is generic over `S: LocationStore`.
//!
//! Every store keeps expiry in whole milliseconds since the Unix epoch, reads only unexpired bindings, and
//! removes expired ones in [`LocationStore::sweep`], which the application calls periodically.

#[cfg(feature = "memory")]
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "record")]
mod record;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sql")]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "memory")]
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "redis")]
pub use redis::{RedisConfig, RedisStore, RegistrationEvent, RegistrationWatch};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use crate::aor::Aor;
use crate::binding::{Binding, BindingChange};
use crate::credential::{Credential, DigestAlgorithm, Ha1};
use crate::error::Error;
use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

/// The location service (RFC 3261 §10): bindings per address-of-record.
pub trait LocationStore: Send + Sync {
    /// The bindings of `aor` unexpired at `now`, in q order ([`crate::order_by_q`]).
    fn bindings(
        &self,
        aor: &Aor,
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<Binding>, Error>> + Send;

    /// Apply `changes` to the bindings of `aor` atomically: every change or none is visible afterwards, and
    /// readers see either the state before or the state after.
    fn apply(
        &self,
        aor: &Aor,
        changes: &[BindingChange],
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Remove every binding expired at `now`; returns how many were removed.
    fn sweep(&self, now: SystemTime) -> impl Future<Output = Result<usize, Error>> + Send;

    /// Every AOR with at least one binding unexpired at `now`, sorted.
    fn aors(&self, now: SystemTime) -> impl Future<Output = Result<Vec<Aor>, Error>> + Send;

    /// The number of bindings unexpired at `now`, over all AORs.
    fn binding_count(&self, now: SystemTime) -> impl Future<Output = Result<usize, Error>> + Send;
}

/// Digest credentials, kept as HA1 only (see [`crate::credential`]).
pub trait CredentialStore: Send + Sync {
    /// The HA1 of `username` in `realm` for `algorithm`, if one is provisioned.
    fn ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: DigestAlgorithm,
    ) -> impl Future<Output = Result<Option<Ha1>, Error>> + Send;

    /// Provision `credential`, replacing every HA1 held for its username and realm.
    fn put_credential(
        &self,
        credential: &Credential,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Remove the credentials of `username` in `realm`; returns whether there were any.
    fn remove_credential(
        &self,
        username: &str,
        realm: &str,
    ) -> impl Future<Output = Result<bool, Error>> + Send;
}

// A shared store is a store: `Arc<S>` and `&S` forward every call.

impl<S: LocationStore> LocationStore for Arc<S> {
    fn bindings(
        &self,
        aor: &Aor,
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<Binding>, Error>> + Send {
        S::bindings(self, aor, now)
    }

    fn apply(
        &self,
        aor: &Aor,
        changes: &[BindingChange],
    ) -> impl Future<Output = Result<(), Error>> + Send {
        S::apply(self, aor, changes)
    }

    fn sweep(&self, now: SystemTime) -> impl Future<Output = Result<usize, Error>> + Send {
        S::sweep(self, now)
    }

    fn aors(&self, now: SystemTime) -> impl Future<Output = Result<Vec<Aor>, Error>> + Send {
        S::aors(self, now)
    }

    fn binding_count(&self, now: SystemTime) -> impl Future<Output = Result<usize, Error>> + Send {
        S::binding_count(self, now)
    }
}

impl<S: CredentialStore> CredentialStore for Arc<S> {
    fn ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: DigestAlgorithm,
    ) -> impl Future<Output = Result<Option<Ha1>, Error>> + Send {
        S::ha1(self, username, realm, algorithm)
    }

    fn put_credential(
        &self,
        credential: &Credential,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        S::put_credential(self, credential)
    }

    fn remove_credential(
        &self,
        username: &str,
        realm: &str,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        S::remove_credential(self, username, realm)
    }
}

impl<S: LocationStore> LocationStore for &S {
    fn bindings(
        &self,
        aor: &Aor,
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<Binding>, Error>> + Send {
        S::bindings(self, aor, now)
    }

    fn apply(
        &self,
        aor: &Aor,
        changes: &[BindingChange],
    ) -> impl Future<Output = Result<(), Error>> + Send {
        S::apply(self, aor, changes)
    }

    fn sweep(&self, now: SystemTime) -> impl Future<Output = Result<usize, Error>> + Send {
        S::sweep(self, now)
    }

    fn aors(&self, now: SystemTime) -> impl Future<Output = Result<Vec<Aor>, Error>> + Send {
        S::aors(self, now)
    }

    fn binding_count(&self, now: SystemTime) -> impl Future<Output = Result<usize, Error>> + Send {
        S::binding_count(self, now)
    }
}

impl<S: CredentialStore> CredentialStore for &S {
    fn ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: DigestAlgorithm,
    ) -> impl Future<Output = Result<Option<Ha1>, Error>> + Send {
        S::ha1(self, username, realm, algorithm)
    }

    fn put_credential(
        &self,
        credential: &Credential,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        S::put_credential(self, credential)
    }

    fn remove_credential(
        &self,
        username: &str,
        realm: &str,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        S::remove_credential(self, username, realm)
    }
}
