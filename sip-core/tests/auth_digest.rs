//! Digest authentication end to end (RFC 7616, RFC 8760, RFC 3261 §22): the RFC 7616 §3.9.1 examples, client
//! and server round trips for 401 and 407, nonce reuse with nc, stale nonces, tampered nonces, wrong
//! digest-uri, wrong password, malformed credentials.

use bytes::Bytes;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tandem_sip_core::auth::{Algorithm, ha1};
use tandem_sip_core::header::{Authorization, WwwAuthenticate};
use tandem_sip_core::{
    AuthError, ChallengeKind, DigestClient, DigestServer, HeaderField, HeaderName, Message,
    Request, Response, StatusCode, parse_message,
};

const REALM: &str = "example.com";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn register(cseq: u32) -> Request {
    let text = format!(
        "REGISTER sip:example.com SIP/2.0\r
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKreg{cseq}\r
Max-Forwards: 70\r
From: <sip:alice@example.com>;tag=a73kszlfl\r
To: <sip:alice@example.com>\r
Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.10\r
CSeq: {cseq} REGISTER\r
Contact: <sip:alice@192.0.2.10>\r
Content-Length: 0\r
\r
"
    );
    match parse_message(Bytes::from(text)) {
        Ok(Message::Request(r)) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

/// The message as the other side receives it.
fn over_the_wire_request(request: &Request) -> Request {
    match parse_message(request.to_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn over_the_wire_response(response: &Response) -> Response {
    match parse_message(response.to_bytes()) {
        Ok(Message::Response(r)) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// Alice's HA1 for the algorithm asked, as a credential store would return it.
fn alice(username: &str, algorithm: Algorithm) -> Option<String> {
    (username == "alice").then(|| ha1(algorithm, "alice", REALM, "wonderland"))
}

/// The 401 a server sends to a request without credentials.
fn first_challenge(server: &DigestServer, now: SystemTime) -> Response {
    let request = register(1);
    let error = server
        .verify(&request, ChallengeKind::Www, now, alice)
        .unwrap_err();
    assert_eq!(error, AuthError::MissingCredentials);
    over_the_wire_response(&server.reject(&request, &error, ChallengeKind::Www, now, Some("srv")))
}

/// A client that has answered the first challenge, and its authorized request with CSeq `cseq`.
fn authorized(client: &mut DigestClient, cseq: u32) -> Request {
    let mut request = register(cseq);
    client.authorize(&mut request);
    over_the_wire_request(&request)
}

fn credentials(request: &Request) -> Authorization {
    request.headers().typed::<Authorization>().unwrap().unwrap()
}

/// `request` with its Authorization value rewritten by `edit`.
fn with_credentials(request: &Request, edit: impl Fn(&str) -> String) -> Request {
    let mut request = request.clone();
    let field = request
        .headers_mut()
        .get_mut(&HeaderName::Authorization)
        .unwrap();
    let edited = edit(&String::from_utf8_lossy(field.value()));
    field.set_value(edited);
    over_the_wire_request(&request)
}

#[test]
fn client_reproduces_the_rfc7616_sha256_and_md5_examples() {
    // RFC 7616 §3.9.1: the server offers SHA-256 then MD5.
    let challenge = |algorithm: &str| {
        format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={algorithm}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        )
    };
    let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    let both = Response::builder(StatusCode::UNAUTHORIZED)
        .header(HeaderName::WwwAuthenticate, challenge("SHA-256"))
        .header(HeaderName::WwwAuthenticate, challenge("MD5"))
        .build();
    let mut client = DigestClient::new("Mufasa", "Circle of Life");
    client.handle_challenge(&both).unwrap();
    let fields = client.authorization(b"GET", b"/dir/index.html", Some(cnonce));
    let sha = fields[0].parse::<Authorization>().unwrap();
    assert_eq!(sha.algorithm().unwrap().as_ref(), b"SHA-256");
    assert_eq!(
        sha.response().unwrap().as_ref(),
        b"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    assert_eq!(sha.nc(), Some(1));
    assert_eq!(sha.qop().unwrap().as_ref(), b"auth");
    assert_eq!(sha.cnonce().unwrap().as_ref(), cnonce.as_bytes());
    assert_eq!(
        sha.opaque().unwrap().as_ref(),
        b"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
    );
    assert_eq!(sha.uri().unwrap().as_ref(), b"/dir/index.html");

    let md5_only = Response::builder(StatusCode::UNAUTHORIZED)
        .header(HeaderName::WwwAuthenticate, challenge("MD5"))
        .build();
    let mut client = DigestClient::new("Mufasa", "Circle of Life");
    client.handle_challenge(&md5_only).unwrap();
    let fields = client.authorization(b"GET", b"/dir/index.html", Some(cnonce));
    let md5 = fields[0].parse::<Authorization>().unwrap();
    assert_eq!(
        md5.response().unwrap().as_ref(),
        b"8ca523f5e9506fed4657c9700eebdbec"
    );
}

#[test]
fn server_challenges_with_sha256_first_then_md5_and_one_signed_nonce() {
    let server = DigestServer::new(REALM, SECRET);
    let challenge = first_challenge(&server, at(0));
    assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
    let offered: Vec<WwwAuthenticate> = challenge
        .headers()
        .typed_all::<WwwAuthenticate>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(offered.len(), 2);
    assert_eq!(offered[0].algorithm().unwrap().as_ref(), b"SHA-256");
    assert_eq!(offered[1].algorithm().unwrap().as_ref(), b"MD5");
    assert_eq!(offered[0].nonce(), offered[1].nonce());
    for c in &offered {
        assert_eq!(c.realm().unwrap().as_ref(), REALM.as_bytes());
        assert_eq!(c.qop_options().collect::<Vec<_>>(), [&b"auth"[..]]);
        assert!(c.opaque().is_some());
        assert!(!c.stale());
    }
    let to = challenge.headers().get(&HeaderName::To).unwrap();
    assert!(to.value().ends_with(b";tag=srv"));
}

#[test]
fn client_and_server_round_trip_with_sha256() {
    let server = DigestServer::new(REALM, SECRET);
    let mut client = DigestClient::new("alice", "wonderland");
    client
        .handle_challenge(&first_challenge(&server, at(0)))
        .unwrap();
    let request = authorized(&mut client, 2);
    assert_eq!(
        credentials(&request).algorithm().unwrap().as_ref(),
        b"SHA-256"
    );
    let mut asked = None;
    let user = server.verify(&request, ChallengeKind::Www, at(1), |u, a| {
        asked = Some((u.to_owned(), a));
        alice(u, a)
    });
    assert_eq!(user, Ok("alice".to_owned()));
    assert_eq!(asked, Some(("alice".to_owned(), Algorithm::Sha256)));
}

#[test]
fn md5_only_client_is_verified_with_the_md5_ha1() {
    let server = DigestServer::new(REALM, SECRET);
    let challenge = first_challenge(&server, at(0));
    // Keep only the MD5 challenge, as an old phone would understand it.
    let mut md5_only = challenge.clone();
    md5_only
        .headers_mut()
        .remove_first(&HeaderName::WwwAuthenticate);
    let mut client = DigestClient::new("alice", "wonderland");
    client.handle_challenge(&md5_only).unwrap();
    let request = authorized(&mut client, 2);
    assert_eq!(credentials(&request).algorithm().unwrap().as_ref(), b"MD5");
    assert_eq!(
        server.verify(&request, ChallengeKind::Www, at(1), alice),
        Ok("alice".to_owned())
    );
    // A store handing back the SHA-256 HA1 for an MD5 request fails: the values differ per algorithm.
    let wrong_store = |u: &str, _| alice(u, Algorithm::Sha256);
    assert!(matches!(
        server.verify(&request, ChallengeKind::Www, at(1), wrong_store),
        Err(AuthError::BadCredentials { .. })
    ));
}

#[test]
fn later_requests_reuse_the_nonce_with_an_incremented_nc() {
    let server = DigestServer::new(REALM, SECRET);
    let mut client = DigestClient::new("alice", "wonderland");
    client
        .handle_challenge(&first_challenge(&server, at(0)))
        .unwrap();
    let first = authorized(&mut client, 2);
    let second = authorized(&mut client, 3);
    let (a, b) = (credentials(&first), credentials(&second));
    assert_eq!(a.nonce(), b.nonce());
    assert_eq!((a.nc(), b.nc()), (Some(1), Some(2)));
    assert_ne!(a.cnonce(), b.cnonce());
    assert_eq!(
        server.verify(&second, ChallengeKind::Www, at(10), alice),
        Ok("alice".to_owned())
    );
}

#[test]
fn expired_nonce_with_right_digest_is_stale_and_the_client_answers_again() {
    let server = DigestServer::new(REALM, SECRET).with_nonce_lifetime(Duration::from_secs(300));
    let mut client = DigestClient::new("alice", "wonderland");
    client
        .handle_challenge(&first_challenge(&server, at(0)))
        .unwrap();
    let late = authorized(&mut client, 2);
    let error = server
        .verify(&late, ChallengeKind::Www, at(301), alice)
        .unwrap_err();
    assert_eq!(error, AuthError::Stale);
    let rechallenge =
        over_the_wire_response(&server.reject(&late, &error, ChallengeKind::Www, at(301), None));
    assert_eq!(rechallenge.status(), StatusCode::UNAUTHORIZED);
    assert!(
        rechallenge
            .headers()
            .typed_all::<WwwAuthenticate>()
            .all(|c| c.unwrap().stale())
    );
    client.handle_challenge(&rechallenge).unwrap();
    let retry = authorized(&mut client, 3);
    assert_eq!(credentials(&retry).nc(), Some(1));
    assert_eq!(
        server.verify(&retry, ChallengeKind::Www, at(302), alice),
        Ok("alice".to_owned())
    );
}

#[test]
fn expired_nonce_with_wrong_password_is_not_stale() {
    let server = DigestServer::new(REALM, SECRET);
    let mut client = DigestClient::new("alice", "looking-glass");
    client
        .handle_challenge(&first_challenge(&server, at(0)))
        .unwrap();
    let request = authorized(&mut client, 2);
    assert_eq!(
        server.verify(&request, ChallengeKind::Www, at(1000), alice),
        Err(AuthError::BadCredentials {
            username: "alice".into()
        })
    );
}

#[test]
fn tampered_or_foreign_nonce_is_invalid() {
    let server = DigestServer::new(REALM, SECRET);
    let mut client = DigestClient::new("alice", "wonderland");
    client
        .handle_challenge(&first_challenge(&server, at(0)))
        .unwrap();
    let request = authorized(&mut client, 2);
    let nonce = String::from_utf8(credentials(&request).nonce().unwrap().into_owned()).unwrap();
    let mut forged = nonce.clone().into_bytes();
    forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let tampered = with_credentials(&request, |v| v.replace(&nonce, &forged));
    assert_eq!(
        server.verify(&tampered, ChallengeKind::Www, at(1), alice),
        Err(AuthError::InvalidNonce)
    );
    let other_server = DigestServer::new(REALM, b"another secret entirely");
    assert_eq!(
        other_server.verify(&request, ChallengeKind::Www, at(1), alice),
        Err(AuthError::InvalidNonce)
    );
}

#[test]
fn digest_uri_other_than_the_request_uri_gets_400() {
    let server = DigestServer::new(REALM, SECRET);
    let mut client = DigestClient::new("alice", "wonderland");
    client
        .handle_challenge(&first_challenge(&server, at(0)))
        .unwrap();
    let request = authorized(&mut client, 2);
    let moved = with_credentials(&request, |v| {
        v.replace(
            "uri=\"sip:example.com\"",
            "uri=\"sip:elsewhere.example.com\"",
        )
    });
    let error = server
        .verify(&moved, ChallengeKind::Www, at(1), alice)
        .unwrap_err();
    assert_eq!(error, AuthError::UriMismatch);
    let response = server.reject(&moved, &error, ChallengeKind::Www, at(1), None);
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // An equivalent spelling of the same URI is fine.
    let same = with_credentials(&request, |v| {
        v.replace("uri=\"sip:example.com\"", "uri=\"sip:EXAMPLE.com\"")
    });
    assert!(server.check(&same, ChallengeKind::Www, at(1)).is_ok());
}

#[test]
fn wrong_password_is_refused_and_the_client_stops_after_one_try() {
    let server = DigestServer::new(REALM, SECRET);
    let mut client = DigestClient::new("alice", "looking-glass");
    client
        .handle_challenge(&first_challenge(&server, at(0)))
        .unwrap();
    let request = authorized(&mut client, 2);
    let error = server
        .verify(&request, ChallengeKind::Www, at(1), alice)
        .unwrap_err();
    assert_eq!(
        error,
        AuthError::BadCredentials {
            username: "alice".into()
        }
    );
    let again =
        over_the_wire_response(&server.reject(&request, &error, ChallengeKind::Www, at(1), None));
    assert_eq!(
        client.handle_challenge(&again),
        Err(AuthError::CredentialsRejected {
            realm: REALM.into()
        })
    );
    assert!(!client.has_challenge());
}

#[test]
fn unknown_user_is_refused_like_a_wrong_password() {
    let server = DigestServer::new(REALM, SECRET);
    let mut client = DigestClient::new("mallory", "wonderland");
    client
        .handle_challenge(&first_challenge(&server, at(0)))
        .unwrap();
    let request = authorized(&mut client, 2);
    assert_eq!(
        server.verify(&request, ChallengeKind::Www, at(1), alice),
        Err(AuthError::BadCredentials {
            username: "mallory".into()
        })
    );
}

#[test]
fn proxy_challenge_round_trip_uses_proxy_headers() {
    let server = DigestServer::new(REALM, SECRET);
    let invite = register(1);
    let challenge = over_the_wire_response(&server.reject(
        &invite,
        &AuthError::MissingCredentials,
        ChallengeKind::Proxy,
        at(0),
        None,
    ));
    assert_eq!(
        challenge.status(),
        StatusCode::PROXY_AUTHENTICATION_REQUIRED
    );
    assert!(challenge.headers().contains(&HeaderName::ProxyAuthenticate));
    let mut client = DigestClient::new("alice", "wonderland");
    client.handle_challenge(&challenge).unwrap();
    let request = authorized(&mut client, 2);
    assert!(request.headers().contains(&HeaderName::ProxyAuthorization));
    assert!(!request.headers().contains(&HeaderName::Authorization));
    assert_eq!(
        server.verify(&request, ChallengeKind::Www, at(1), alice),
        Err(AuthError::MissingCredentials)
    );
    assert_eq!(
        server.verify(&request, ChallengeKind::Proxy, at(1), alice),
        Ok("alice".to_owned())
    );
}

/// A rewrite of an Authorization value.
type Edit = fn(&str) -> String;

#[test]
fn malformed_or_unsupported_credentials_are_typed() {
    let server = DigestServer::new(REALM, SECRET);
    let mut client = DigestClient::new("alice", "wonderland");
    client
        .handle_challenge(&first_challenge(&server, at(0)))
        .unwrap();
    let request = authorized(&mut client, 2);
    let cases: [(Edit, AuthError); 6] = [
        (
            |v| v.replace(", nc=00000001", ""),
            AuthError::Malformed("nc"),
        ),
        (
            |v| v.replace("username=\"alice\", ", ""),
            AuthError::Malformed("username"),
        ),
        (
            |v| v.replace("qop=auth", "qop=auth-int"),
            AuthError::UnsupportedQop,
        ),
        (
            |v| v.replace("algorithm=SHA-256", "algorithm=SHA-512-256"),
            AuthError::UnsupportedAlgorithm,
        ),
        (
            |v| v.replace("realm=\"example.com\"", "realm=\"example.org\""),
            AuthError::MissingCredentials,
        ),
        (|v| format!("{v}, \""), AuthError::Malformed("credentials")),
    ];
    for (edit, expected) in cases {
        let edited = with_credentials(&request, edit);
        assert_eq!(
            server.verify(&edited, ChallengeKind::Www, at(1), alice),
            Err(expected.clone()),
            "{expected:?}"
        );
    }
    let error = AuthError::Malformed("nc");
    assert_eq!(
        server
            .reject(&request, &error, ChallengeKind::Www, at(1), None)
            .status(),
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn rfc2069_credentials_without_qop_are_accepted() {
    let server = DigestServer::new(REALM, SECRET);
    let challenge = first_challenge(&server, at(0));
    let nonce = challenge
        .headers()
        .typed::<WwwAuthenticate>()
        .unwrap()
        .unwrap()
        .nonce()
        .unwrap()
        .into_owned();
    let nonce = String::from_utf8(nonce).unwrap();
    let ha1 = ha1(Algorithm::Md5, "alice", REALM, "wonderland");
    let ha2 = md5_hex(b"REGISTER:sip:example.com");
    let response = md5_hex(format!("{ha1}:{nonce}:{ha2}").as_bytes());
    let mut request = register(2);
    request.headers_mut().push(HeaderField::new(
        HeaderName::Authorization,
        format!(
            "Digest username=\"alice\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:example.com\", response=\"{response}\""
        ),
    ));
    let request = over_the_wire_request(&request);
    assert_eq!(
        server.verify(&request, ChallengeKind::Www, at(1), alice),
        Ok("alice".to_owned())
    );
}

/// MD5 in lower-case hex, computed independently of the crate's digest code.
fn md5_hex(input: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(input)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn client_ignores_challenges_it_cannot_answer() {
    let mut client = DigestClient::new("alice", "wonderland");
    let ok = Response::builder(StatusCode::OK).build();
    assert_eq!(client.handle_challenge(&ok), Err(AuthError::NotAChallenge));
    let unusable = Response::builder(StatusCode::UNAUTHORIZED)
        .header(HeaderName::WwwAuthenticate, "Basic realm=\"x\"")
        .header(
            HeaderName::WwwAuthenticate,
            "Digest realm=\"x\", nonce=\"n\", algorithm=MD5-sess",
        )
        .header(
            HeaderName::WwwAuthenticate,
            "Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\"",
        )
        .build();
    assert_eq!(
        client.handle_challenge(&unusable),
        Err(AuthError::NoUsableChallenge)
    );
    assert!(!client.has_challenge());
}
