//! The crate's error type.

/// Everything that can go wrong in this crate.
///
/// The sans-IO [`crate::Registrar`] never fails: it answers every REGISTER with a response. Errors come from
/// building values out of untrusted text ([`crate::Aor`], [`crate::Ha1`]) and from the stores.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A URI that cannot be an address-of-record (not `sip:`/`sips:`, or not valid UTF-8 once unescaped).
    #[error("not an address-of-record: {reason}")]
    InvalidAor {
        /// Why the URI was refused.
        reason: &'static str,
    },
    /// An HA1 value that is not the lower- or upper-case hex digest of its algorithm.
    #[error("HA1 for {algorithm} must be {expected_len} hex digits")]
    InvalidHa1 {
        /// The algorithm the value was given for.
        algorithm: &'static str,
        /// The number of hex digits that algorithm produces.
        expected_len: usize,
    },
    /// A stored value that cannot be read back (written by another program or another version).
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt {
        /// Which stored value (`"contact"`, `"flow remote address"`, …).
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The SQL database failed (SQLite or PostgreSQL backend).
    #[cfg(feature = "sql")]
    #[error("SQL store: {0}")]
    Sql(#[from] sqlx::Error),
    /// Applying the embedded SQL migrations failed.
    #[cfg(feature = "sql")]
    #[error("SQL migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The Redis server failed or could not be reached.
    #[cfg(feature = "redis")]
    #[error("Redis store: {0}")]
    Redis(#[from] redis::RedisError),
}

impl Error {
    /// A [`Error::Corrupt`] for `what`.
    #[cfg(any(feature = "record", feature = "memory"))]
    pub(crate) fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> Error {
        Error::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}
