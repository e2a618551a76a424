//! The client side of digest authentication (RFC 3261 §22.2, §22.3, RFC 7616 §3.4, RFC 8760 §2.4): answering
//! 401/407 challenges and authorizing later requests with the same nonce.

use super::algorithm::{Algorithm, QopAuth, request_digest};
use super::{AuthError, ChallengeKind};
use crate::header::{
    Authorization, Challenge, Credentials, HeaderName, ProxyAuthenticate, ProxyAuthorization,
    WwwAuthenticate,
};
use crate::message::{HeaderField, Request, Response};
use crate::random;
use std::fmt;

/// Most realms answered at once (one per proxy on the path asking for credentials, plus the UAS).
const MAX_REALMS: usize = 8;

/// A digest client for one user: it answers 401/407 challenges and then authorizes every request it is
/// given, reusing each realm's nonce with an incremented nonce count until the server asks again.
///
/// ```no_run
/// # use tandem_sip_core::{Request, Response};
/// # fn send(_: &Request) -> Response { unimplemented!() }
/// # fn next_request() -> Request { unimplemented!() }
/// use tandem_sip_core::auth::DigestClient;
///
/// let mut client = DigestClient::new("alice", "password");
/// let mut request = next_request();
/// let response = send(&request);
/// if client.handle_challenge(&response).is_ok() {
///     let mut retry = next_request(); // new CSeq and branch
///     client.authorize(&mut retry);
///     send(&retry);
/// }
/// ```
#[derive(Clone)]
pub struct DigestClient {
    username: String,
    password: String,
    realms: Vec<RealmState>,
}

/// What the client knows about one realm's challenge.
#[derive(Debug, Clone)]
struct RealmState {
    kind: ChallengeKind,
    realm: Vec<u8>,
    nonce: Vec<u8>,
    opaque: Option<Vec<u8>>,
    algorithm: Algorithm,
    qop_auth: bool,
    nc: u32,
    ha1: String,
}

impl fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password and HA1s stay out of logs.
        f.debug_struct("DigestClient")
            .field("username", &self.username)
            .field("realms", &self.realms.len())
            .finish_non_exhaustive()
    }
}

impl DigestClient {
    /// A client for `username` with `password`.
    pub fn new(username: &str, password: &str) -> DigestClient {
        DigestClient {
            username: username.to_owned(),
            password: password.to_owned(),
            realms: Vec::new(),
        }
    }

    /// Learn the challenges of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) `response`: for every
    /// realm, the strongest algorithm this client supports among the Digest challenges offered, with
    /// `qop=auth` when offered (a challenge offering only `auth-int` is skipped).
    ///
    /// Errors: [`AuthError::NotAChallenge`] for another status, [`AuthError::NoUsableChallenge`] when no
    /// challenge can be answered, and [`AuthError::CredentialsRejected`] when a realm this client already
    /// answered challenges again without `stale=true` — the password is wrong, and trying again would loop.
    pub fn handle_challenge(&mut self, response: &Response) -> Result<(), AuthError> {
        let kind = ChallengeKind::from_status(response.status()).ok_or(AuthError::NotAChallenge)?;
        let mut chosen: Vec<(Challenge, Algorithm)> = Vec::new();
        for challenge in challenges(response, kind) {
            let Some(algorithm) = usable(&challenge) else {
                continue;
            };
            let same_realm = chosen
                .iter()
                .position(|(c, _)| c.realm() == challenge.realm());
            let Some(i) = same_realm else {
                if chosen.len() < MAX_REALMS {
                    chosen.push((challenge, algorithm));
                }
                continue;
            };
            if let Some(entry) = chosen.get_mut(i)
                && entry.1 < algorithm
            {
                *entry = (challenge, algorithm);
            }
        }
        if chosen.is_empty() {
            return Err(AuthError::NoUsableChallenge);
        }
        for (challenge, algorithm) in chosen {
            self.learn(kind, &challenge, algorithm)?;
        }
        Ok(())
    }

    fn learn(
        &mut self,
        kind: ChallengeKind,
        challenge: &Challenge,
        algorithm: Algorithm,
    ) -> Result<(), AuthError> {
        let realm = challenge.realm().unwrap_or_default().into_owned();
        let existing = self
            .realms
            .iter()
            .position(|r| r.kind == kind && r.realm == realm);
        if let Some(i) = existing {
            let answered = self.realms.get(i).is_some_and(|r| r.nc > 0);
            if answered && !challenge.stale() {
                self.realms.remove(i);
                return Err(AuthError::CredentialsRejected {
                    realm: String::from_utf8_lossy(&realm).into_owned(),
                });
            }
            self.realms.remove(i);
        } else if self.realms.len() >= MAX_REALMS {
            self.realms.remove(0);
        }
        let ha1 =
            algorithm.hash_joined(&[self.username.as_bytes(), &realm, self.password.as_bytes()]);
        self.realms.push(RealmState {
            kind,
            nonce: challenge.nonce().unwrap_or_default().into_owned(),
            opaque: challenge.opaque().map(|o| o.into_owned()),
            realm,
            algorithm,
            qop_auth: challenge.qop_options().next().is_some(),
            nc: 0,
            ha1,
        });
        Ok(())
    }

    /// Whether the client holds a challenge to answer.
    pub fn has_challenge(&self) -> bool {
        !self.realms.is_empty()
    }

    /// Add credentials for every realm learnt to `request` (Authorization or Proxy-Authorization, replacing
    /// any the request carried), each with the next nonce count and a fresh cnonce. Call it on every request
    /// sent after a challenge — the retry (with a new CSeq) and later requests to the same server.
    pub fn authorize(&mut self, request: &mut Request) {
        let mut uri = Vec::new();
        request.uri().write_to(&mut uri);
        let method = request.method().as_bytes().to_vec();
        let fields = self.authorization(&method, &uri, None);
        let headers = request.headers_mut();
        headers.remove_all(&HeaderName::Authorization);
        headers.remove_all(&HeaderName::ProxyAuthorization);
        for field in fields {
            headers.push(field);
        }
    }

    /// The credential header fields for a request of `method` to `digest_uri`, one per realm learnt, each
    /// with the next nonce count. `cnonce` fixes the client nonce (for reproducible traces and tests);
    /// `None` draws a fresh random one.
    pub fn authorization(
        &mut self,
        method: &[u8],
        digest_uri: &[u8],
        cnonce: Option<&str>,
    ) -> Vec<HeaderField> {
        let username = self.username.as_bytes();
        self.realms
            .iter_mut()
            .map(|state| {
                let cnonce =
                    cnonce.map_or_else(|| random::hex(&random::bytes::<16>()), str::to_owned);
                state.nc = state.nc.saturating_add(1);
                let credentials = state.credentials(username, method, digest_uri, &cnonce);
                match state.kind {
                    ChallengeKind::Www => HeaderField::from_typed(&Authorization(credentials)),
                    ChallengeKind::Proxy => {
                        HeaderField::from_typed(&ProxyAuthorization(credentials))
                    }
                }
            })
            .collect()
    }
}

impl RealmState {
    fn credentials(
        &self,
        username: &[u8],
        method: &[u8],
        digest_uri: &[u8],
        cnonce: &str,
    ) -> Credentials {
        let nc = format!("{:08x}", self.nc);
        let qop = self.qop_auth.then_some(QopAuth {
            nc: nc.as_bytes(),
            cnonce: cnonce.as_bytes(),
        });
        let response = request_digest(
            self.algorithm,
            self.ha1.as_bytes(),
            &self.nonce,
            qop,
            method,
            digest_uri,
        );
        let mut c = Credentials::new("Digest");
        let p = c.params_mut();
        p.push_quoted("username", username);
        p.push_quoted("realm", &self.realm);
        p.push_quoted("uri", digest_uri);
        p.push_token("algorithm", self.algorithm.as_str());
        p.push_quoted("nonce", &self.nonce);
        if self.qop_auth {
            p.push_token("nc", &nc);
            p.push_quoted("cnonce", cnonce.as_bytes());
            p.push_token("qop", "auth");
        }
        p.push_quoted("response", response.as_bytes());
        if let Some(opaque) = &self.opaque {
            p.push_quoted("opaque", opaque);
        }
        c
    }
}

/// Every challenge of the header matching `kind`; fields that do not parse are skipped.
fn challenges(response: &Response, kind: ChallengeKind) -> Vec<Challenge> {
    let headers = response.headers();
    match kind {
        ChallengeKind::Www => headers
            .typed_all::<WwwAuthenticate>()
            .filter_map(|c| c.ok().map(|c| c.0))
            .collect(),
        ChallengeKind::Proxy => headers
            .typed_all::<ProxyAuthenticate>()
            .filter_map(|c| c.ok().map(|c| c.0))
            .collect(),
    }
}

/// The algorithm to answer `challenge` with, if this client can: a Digest challenge with a realm and a nonce,
/// a supported algorithm (MD5 when absent), and `auth` among the qop options when there are any.
fn usable(challenge: &Challenge) -> Option<Algorithm> {
    if !challenge.is_digest() || challenge.realm().is_none() || challenge.nonce().is_none() {
        return None;
    }
    let algorithm = match challenge.algorithm() {
        None => Algorithm::Md5,
        Some(token) => Algorithm::from_token(&token)?,
    };
    let mut options = challenge.qop_options().peekable();
    if options.peek().is_some() && !options.any(|q| q.eq_ignore_ascii_case(b"auth")) {
        return None;
    }
    Some(algorithm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::StatusCode;
    use proptest::prelude::*;

    #[test]
    fn keeps_one_state_per_realm_with_the_strongest_algorithm() {
        let response = Response::builder(StatusCode::UNAUTHORIZED)
            .header(
                HeaderName::WwwAuthenticate,
                "Digest realm=\"a\", nonce=\"1\", algorithm=MD5",
            )
            .header(
                HeaderName::WwwAuthenticate,
                "Digest realm=\"a\", nonce=\"1\", algorithm=SHA-512-256",
            )
            .header(
                HeaderName::WwwAuthenticate,
                "Digest realm=\"a\", nonce=\"1\", algorithm=SHA-256",
            )
            .header(
                HeaderName::WwwAuthenticate,
                "Digest realm=\"b\", nonce=\"2\"",
            )
            .build();
        let mut client = DigestClient::new("u", "p");
        client.handle_challenge(&response).unwrap();
        let algorithms: Vec<(Vec<u8>, Algorithm, bool)> = client
            .realms
            .iter()
            .map(|r| (r.realm.clone(), r.algorithm, r.qop_auth))
            .collect();
        assert_eq!(
            algorithms,
            vec![
                (b"a".to_vec(), Algorithm::Sha512_256, false),
                (b"b".to_vec(), Algorithm::Md5, false)
            ]
        );
        // Without qop the credentials carry neither nc nor cnonce (RFC 2069).
        let fields = client.authorization(b"INVITE", b"sip:x", None);
        let c = fields[1].parse::<Authorization>().unwrap();
        assert!(c.nc().is_none() && c.cnonce().is_none() && c.qop().is_none());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let client = DigestClient::new("alice", "s3cret-password");
        assert!(!format!("{client:?}").contains("s3cret"));
    }

    proptest! {
        #[test]
        fn arbitrary_challenges_never_panic(value in "[ -~]{0,160}") {
            let response = Response::builder(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
                .header(HeaderName::ProxyAuthenticate, value)
                .build();
            let mut client = DigestClient::new("u", "p");
            if client.handle_challenge(&response).is_ok() {
                let fields = client.authorization(b"INVITE", b"sip:x", None);
                prop_assert_eq!(fields.len(), 1);
            }
        }
    }
}
