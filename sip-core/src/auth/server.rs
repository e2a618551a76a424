//! The server side of digest authentication (RFC 3261 §22.1, §22.3, RFC 7616 §3.3, §3.4): challenges with
//! stateless nonces, and verification of credentials against a stored HA1.

use super::algorithm::{Algorithm, QopAuth, request_digest};
use super::nonce::{NonceKey, NonceStatus};
use super::{AuthError, ChallengeKind};
use crate::header::{
    Authorization, Challenge, Credentials, ProxyAuthenticate, ProxyAuthorization, WwwAuthenticate,
};
use crate::message::{HeaderField, Request, Response};
use crate::method::StatusCode;
use crate::uri::Uri;
use bytes::Bytes;
use std::fmt;
use std::time::{Duration, SystemTime};
use subtle::ConstantTimeEq;

/// Default nonce lifetime: five minutes, after which a correct answer gets `stale=true`.
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// A digest authenticator for one realm, stateless: nonces carry their issue time signed with the secret, so
/// any number of servers sharing the secret accept each other's nonces and nothing is stored per client.
///
/// It offers SHA-256 then MD5 by default (RFC 8760 §2.4: one challenge per algorithm, preferred first), with
/// `qop="auth"` and an opaque value. Being stateless, it cannot detect a replayed nonce count within the
/// nonce lifetime; keep the lifetime short.
///
/// ```
/// use std::time::SystemTime;
/// use tandem_sip_core::auth::{Algorithm, ChallengeKind, DigestServer, ha1};
///
/// let server = DigestServer::new("example.com", b"a long random secret");
/// let challenges = server.challenges(ChallengeKind::Www, SystemTime::now(), false);
/// assert_eq!(challenges.len(), 2); // SHA-256 and MD5
/// // Provisioning stores HA1s, never the password:
/// let stored = ha1(Algorithm::Sha256, "alice", "example.com", "password");
/// assert_eq!(stored.len(), 64);
/// ```
#[derive(Clone)]
pub struct DigestServer {
    realm: String,
    key: NonceKey,
    opaque: String,
    nonce_lifetime: Duration,
    algorithms: Vec<Algorithm>,
}

impl fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of logs.
        f.debug_struct("DigestServer")
            .field("realm", &self.realm)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// Credentials that passed every check but the password: look up the user's HA1 for
/// [`DigestAttempt::algorithm`] (asynchronously if need be) and finish with [`DigestAttempt::verify`].
#[derive(Debug, Clone)]
pub struct DigestAttempt {
    username: String,
    algorithm: Algorithm,
    nonce: Bytes,
    qop: Option<(Bytes, Bytes)>,
    method: Bytes,
    digest_uri: Bytes,
    response: Vec<u8>,
    stale: bool,
}

impl DigestServer {
    /// An authenticator for `realm` signing nonces with `secret` (use 32 random bytes, shared by every server
    /// of the realm).
    pub fn new(realm: &str, secret: &[u8]) -> DigestServer {
        let key = NonceKey::new(secret);
        DigestServer {
            realm: realm.to_owned(),
            opaque: key.opaque(realm.as_bytes()),
            key,
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        }
    }

    /// Set how long a nonce stays fresh.
    pub fn with_nonce_lifetime(mut self, lifetime: Duration) -> DigestServer {
        self.nonce_lifetime = lifetime;
        self
    }

    /// Set the algorithms offered, preferred first (an empty list keeps the current one).
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> DigestServer {
        if !algorithms.is_empty() {
            self.algorithms = algorithms.to_vec();
        }
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// One challenge header field per algorithm offered, all with one fresh nonce issued at `now`, `qop="auth"`,
    /// the opaque value, and `stale=true` when `stale`.
    pub fn challenges(
        &self,
        kind: ChallengeKind,
        now: SystemTime,
        stale: bool,
    ) -> Vec<HeaderField> {
        let nonce = self.key.issue(self.realm.as_bytes(), now);
        self.algorithms
            .iter()
            .map(|algorithm| {
                let mut c = Challenge::new("Digest");
                let p = c.params_mut();
                p.push_quoted("realm", self.realm.as_bytes());
                p.push_quoted("qop", b"auth");
                p.push_token("algorithm", algorithm.as_str());
                p.push_quoted("nonce", nonce.as_bytes());
                p.push_quoted("opaque", self.opaque.as_bytes());
                if stale {
                    p.push_token("stale", "true");
                }
                match kind {
                    ChallengeKind::Www => HeaderField::from_typed(&WwwAuthenticate(c)),
                    ChallengeKind::Proxy => HeaderField::from_typed(&ProxyAuthenticate(c)),
                }
            })
            .collect()
    }

    /// The response refusing `request` for `error`: 400 for malformed credentials or a digest-uri that does not
    /// match the Request-URI, otherwise 401 or 407 with fresh challenges (`stale=true` for
    /// [`AuthError::Stale`]). `to_tag` is the tag a UAS adds to the To; a proxy passes `None`.
    pub fn reject(
        &self,
        request: &Request,
        error: &AuthError,
        kind: ChallengeKind,
        now: SystemTime,
        to_tag: Option<&str>,
    ) -> Response {
        if matches!(error, AuthError::Malformed(_) | AuthError::UriMismatch) {
            return Response::from_request(request, StatusCode::BAD_REQUEST, to_tag).build();
        }
        let stale = matches!(error, AuthError::Stale);
        let mut builder = Response::from_request(request, kind.status(), to_tag);
        for field in self.challenges(kind, now, stale) {
            builder = builder.field(field);
        }
        builder.build()
    }

    /// Check the credentials `request` carries for this realm (Authorization for [`ChallengeKind::Www`],
    /// Proxy-Authorization for [`ChallengeKind::Proxy`]) up to the password: syntax, algorithm offered, qop,
    /// digest-uri matching the Request-URI, opaque, nonce signature and age.
    ///
    /// An expired but genuine nonce is not an error yet: RFC 7616 §3.3 sends `stale=true` only when the
    /// digest is right, which [`DigestAttempt::verify`] decides.
    pub fn check(
        &self,
        request: &Request,
        kind: ChallengeKind,
        now: SystemTime,
    ) -> Result<DigestAttempt, AuthError> {
        let credentials = self.find_credentials(request, kind)?;
        let p = credentials.params();
        let text = |name: &'static str| {
            p.value(name)
                .map(|v| Bytes::copy_from_slice(&v))
                .ok_or(AuthError::Malformed(name))
        };
        let username = String::from_utf8(text("username")?.to_vec())
            .map_err(|_| AuthError::Malformed("username"))?;
        let algorithm = match credentials.algorithm() {
            None => Algorithm::Md5,
            Some(token) => Algorithm::from_token(&token).ok_or(AuthError::UnsupportedAlgorithm)?,
        };
        if !self.algorithms.contains(&algorithm) {
            return Err(AuthError::UnsupportedAlgorithm);
        }
        let nonce = text("nonce")?;
        let digest_uri = text("uri")?;
        if !uri_matches(&digest_uri, request.uri()) {
            return Err(AuthError::UriMismatch);
        }
        let response = text("response")?.to_ascii_lowercase();
        if response.len() != algorithm.hex_len() {
            return Err(AuthError::Malformed("response"));
        }
        let qop = qop_inputs(&credentials)?;
        if credentials
            .opaque()
            .is_some_and(|o| o.as_ref() != self.opaque.as_bytes())
        {
            return Err(AuthError::InvalidNonce);
        }
        let stale = match self
            .key
            .check(&nonce, self.realm.as_bytes(), now, self.nonce_lifetime)
        {
            NonceStatus::Fresh => false,
            NonceStatus::Expired => true,
            NonceStatus::Invalid => return Err(AuthError::InvalidNonce),
        };
        Ok(DigestAttempt {
            username,
            algorithm,
            nonce,
            qop,
            method: Bytes::copy_from_slice(request.method().as_bytes()),
            digest_uri,
            response,
            stale,
        })
    }

    /// [`DigestServer::check`] then [`DigestAttempt::verify`] with the HA1 `lookup` returns for a username and
    /// algorithm (`None` for an unknown user). Returns the authenticated username.
    pub fn verify(
        &self,
        request: &Request,
        kind: ChallengeKind,
        now: SystemTime,
        lookup: impl FnOnce(&str, Algorithm) -> Option<String>,
    ) -> Result<String, AuthError> {
        let attempt = self.check(request, kind, now)?;
        let ha1 = lookup(attempt.username(), attempt.algorithm());
        attempt.verify(ha1.as_deref())
    }

    /// The first Digest credentials for this realm; a field that does not parse makes the request malformed.
    fn find_credentials(
        &self,
        request: &Request,
        kind: ChallengeKind,
    ) -> Result<Credentials, AuthError> {
        for field in request.headers().get_all(&kind.credentials_header()) {
            let parsed = match kind {
                ChallengeKind::Www => field.parse::<Authorization>().map(|a| a.0),
                ChallengeKind::Proxy => field.parse::<ProxyAuthorization>().map(|a| a.0),
            };
            let credentials = parsed.map_err(|_| AuthError::Malformed("credentials"))?;
            if credentials.is_digest()
                && credentials
                    .realm()
                    .is_some_and(|r| r.as_ref() == self.realm.as_bytes())
            {
                return Ok(credentials);
            }
        }
        Err(AuthError::MissingCredentials)
    }
}

impl DigestAttempt {
    /// The username the credentials claim.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The algorithm the credentials use: look up the HA1 for this one.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Finish verification with the user's stored HA1 for [`DigestAttempt::algorithm`] (`None` for an unknown
    /// user). The response is compared in constant time. A right answer to an expired nonce is
    /// [`AuthError::Stale`]; a wrong one [`AuthError::BadCredentials`], whatever the nonce's age.
    pub fn verify(self, ha1: Option<&str>) -> Result<String, AuthError> {
        let bad = || AuthError::BadCredentials {
            username: self.username.clone(),
        };
        let ha1 = ha1.ok_or_else(bad)?.to_ascii_lowercase();
        let qop = self.qop.as_ref().map(|(nc, cnonce)| QopAuth { nc, cnonce });
        let expected = request_digest(
            self.algorithm,
            ha1.as_bytes(),
            &self.nonce,
            qop,
            &self.method,
            &self.digest_uri,
        );
        if !bool::from(expected.as_bytes().ct_eq(&self.response)) {
            return Err(bad());
        }
        if self.stale {
            return Err(AuthError::Stale);
        }
        Ok(self.username)
    }
}

/// `nc` and `cnonce` when the credentials use `qop=auth`; `None` for RFC 2069 credentials without qop.
fn qop_inputs(credentials: &Credentials) -> Result<Option<(Bytes, Bytes)>, AuthError> {
    let Some(qop) = credentials.qop() else {
        return Ok(None);
    };
    if !qop.eq_ignore_ascii_case(b"auth") {
        return Err(AuthError::UnsupportedQop);
    }
    let nc = credentials
        .params()
        .value("nc")
        .filter(|nc| nc.len() == 8 && nc.iter().all(u8::is_ascii_hexdigit))
        .ok_or(AuthError::Malformed("nc"))?;
    let cnonce = credentials
        .cnonce()
        .filter(|c| !c.is_empty())
        .ok_or(AuthError::Malformed("cnonce"))?;
    Ok(Some((
        Bytes::copy_from_slice(&nc),
        Bytes::copy_from_slice(&cnonce),
    )))
}

/// Whether a digest-uri names the Request-URI: URI equivalence (RFC 3261 §19.1.4) when it parses, the exact
/// wire form otherwise.
fn uri_matches(digest_uri: &Bytes, request_uri: &Uri) -> bool {
    match Uri::parse(digest_uri) {
        Ok(uri) => uri.equivalent(request_uri),
        Err(_) => {
            let mut written = Vec::new();
            request_uri.write_to(&mut written);
            written == digest_uri.as_ref()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::parse::parse_message;
    use proptest::prelude::*;
    use std::time::UNIX_EPOCH;

    fn request_with(credentials: &str) -> Option<Request> {
        let text = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nAuthorization: {credentials}\r\nContent-Length: 0\r\n\r\n"
        );
        match parse_message(Bytes::from(text)) {
            Ok(Message::Request(r)) => Some(r),
            _ => None,
        }
    }

    proptest! {
        #[test]
        fn arbitrary_credentials_never_panic(value in "[ -~]{0,160}") {
            let server = DigestServer::new("example.com", b"k");
            if let Some(request) = request_with(&value) {
                let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
                let _ = server.verify(&request, ChallengeKind::Www, now, |_, a| {
                    Some(super::super::ha1(a, "a", "example.com", "p"))
                });
            }
        }

        #[test]
        fn digest_shaped_credentials_never_panic(
            user in "[a-z]{0,8}",
            nonce in "[A-Za-z0-9_-]{0,60}",
            uri in "[a-z:.@]{0,20}",
            response in "[0-9a-fA-F]{0,70}",
            nc in "[0-9a-z]{0,10}",
            algorithm in "(MD5|SHA-256|SHA-512-256|md5|x)",
        ) {
            let value = format!(
                "Digest username=\"{user}\", realm=\"example.com\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm={algorithm}, qop=auth, nc={nc}, cnonce=\"c\""
            );
            let server = DigestServer::new("example.com", b"k");
            if let Some(request) = request_with(&value) {
                let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
                let result = server.verify(&request, ChallengeKind::Www, now, |_, _| Some(String::new()));
                prop_assert!(result.is_err());
            }
        }
    }
}
