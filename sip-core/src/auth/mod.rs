//! Digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760, compatible with RFC 2617 and RFC 2069
//! clients), sans-IO: the caller passes the current time and looks credentials up itself.
//!
//! * [`DigestServer`] challenges requests (401 / 407) offering SHA-256 and MD5 with stateless HMAC-signed
//!   nonces, and verifies credentials against a stored HA1 — never a password — in constant time, with a
//!   typed outcome ([`AuthError`] says why a request is refused and [`DigestServer::reject`] builds the
//!   answer). [`DigestServer::check`] and [`DigestAttempt::verify`] split verification around an
//!   asynchronous HA1 lookup.
//! * [`DigestClient`] answers challenges with the strongest algorithm offered and keeps authorizing later
//!   requests with the same nonce and an incremented nonce count, until the server says the nonce is stale.
//! * [`ha1`] computes the value a credential store keeps for a user, per algorithm.

mod algorithm;
mod client;
mod nonce;
mod server;

pub use algorithm::{Algorithm, ha1};
pub use client::DigestClient;
pub use server::{DEFAULT_NONCE_LIFETIME, DigestAttempt, DigestServer};

use crate::header::HeaderName;
use crate::method::StatusCode;

/// Who challenges: the UAS or registrar (401, WWW-Authenticate / Authorization) or a proxy (407,
/// Proxy-Authenticate / Proxy-Authorization).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeKind {
    /// A UAS or registrar: 401 Unauthorized.
    Www,
    /// A proxy: 407 Proxy Authentication Required.
    Proxy,
}

impl ChallengeKind {
    /// The challenge status: 401 or 407.
    pub fn status(self) -> StatusCode {
        match self {
            ChallengeKind::Www => StatusCode::UNAUTHORIZED,
            ChallengeKind::Proxy => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        }
    }

    /// The kind a 401 or 407 response challenges with; `None` for other statuses.
    pub fn from_status(status: StatusCode) -> Option<ChallengeKind> {
        match status.as_u16() {
            401 => Some(ChallengeKind::Www),
            407 => Some(ChallengeKind::Proxy),
            _ => None,
        }
    }

    /// The header field carrying challenges: WWW-Authenticate or Proxy-Authenticate.
    pub fn challenge_header(self) -> HeaderName {
        match self {
            ChallengeKind::Www => HeaderName::WwwAuthenticate,
            ChallengeKind::Proxy => HeaderName::ProxyAuthenticate,
        }
    }

    /// The header field carrying credentials: Authorization or Proxy-Authorization.
    pub fn credentials_header(self) -> HeaderName {
        match self {
            ChallengeKind::Www => HeaderName::Authorization,
            ChallengeKind::Proxy => HeaderName::ProxyAuthorization,
        }
    }
}

/// Why authentication did not succeed, on either side.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The request carries no Digest credentials for this realm: challenge it.
    #[error("no credentials for this realm")]
    MissingCredentials,
    /// The credentials lack a parameter or have a malformed one (named): answer 400.
    #[error("malformed credentials: bad or missing {0}")]
    Malformed(&'static str),
    /// The credentials use an algorithm this server does not offer: challenge again.
    #[error("digest algorithm not offered")]
    UnsupportedAlgorithm,
    /// The credentials use a qop other than `auth`: challenge again.
    #[error("qop not offered")]
    UnsupportedQop,
    /// The digest-uri does not name the Request-URI: answer 400 (RFC 7616 §3.4.6).
    #[error("digest-uri does not match the Request-URI")]
    UriMismatch,
    /// The nonce (or opaque) was not issued by this realm's servers: challenge again, not stale.
    #[error("nonce not issued by this server")]
    InvalidNonce,
    /// The digest is right but the nonce expired: challenge again with `stale=true`.
    #[error("nonce expired")]
    Stale,
    /// Wrong password, or unknown user: challenge again (or refuse with 403 by policy).
    #[error("bad credentials for {username:?}")]
    BadCredentials {
        /// The username the credentials claimed.
        username: String,
    },
    /// Client side: the response is not a 401 or 407.
    #[error("not a 401 or 407 response")]
    NotAChallenge,
    /// Client side: no challenge offers a supported scheme, algorithm and qop.
    #[error("no challenge this client can answer")]
    NoUsableChallenge,
    /// Client side: the realm challenged again, without `stale=true`, after credentials were sent.
    #[error("credentials rejected by realm {realm:?}")]
    CredentialsRejected {
        /// The realm that refused them.
        realm: String,
    },
}
