//! RFC 3261 §18.1.1 between two endpoints over real loopback sockets: a request too large for UDP goes over
//! TCP with a TCP Via, a small one stays on UDP, and a refused TCP connection falls back to UDP; the same
//! decisions in the sans-IO `UserAgent` on its own.

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tandem_sip_core::endpoint::{
    DialogEnd, Endpoint, Outbound, ServerTransaction, UaEvent, UserAgent, UserAgentConfig,
};
use tandem_sip_core::header::Transport;
use tandem_sip_core::{
    HeaderName, Message, Method, Request, StatusCode, Target, TransportKind, Uri, parse_message,
};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

/// An SDP body of about 2000 bytes: well over the 1300 bytes §18.1.1 allows on UDP.
fn large_sdp() -> String {
    format!("{SDP}a=x-padding:{}\r\n", "x".repeat(2000))
}

/// An endpoint listening for UDP and TCP on the same loopback port, as a `sip:` URI without a transport
/// parameter promises (RFC 3261 §19.1.2).
async fn endpoint_on_one_port() -> Endpoint {
    for _ in 0..20 {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let built = Endpoint::builder()
            .bind_udp(addr)
            .bind_tcp(addr)
            .build()
            .await;
        if let Ok(endpoint) = built {
            return endpoint;
        }
    }
    panic!("no loopback port free for both UDP and TCP")
}

async fn udp_only_endpoint() -> Endpoint {
    Endpoint::builder()
        .bind_udp("127.0.0.1:0".parse().unwrap())
        .build()
        .await
        .unwrap()
}

/// `sip:user@ADDR` for the endpoint's UDP listener: UDP by default.
fn sip_uri(endpoint: &Endpoint, user: &str) -> Uri {
    let addr = endpoint.local_addr(TransportKind::Udp).unwrap();
    Uri::parse(&format!("sip:{user}@{addr}").into_bytes().into()).unwrap()
}

fn top_via_transport(request: &Request) -> Transport {
    request
        .headers()
        .via()
        .expect("no Via")
        .expect("bad Via")
        .transport()
        .clone()
}

/// Every test ends within this bound, whatever goes wrong.
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test took too long")
}

async fn next_incoming(endpoint: &Endpoint) -> ServerTransaction {
    endpoint.incoming().await.expect("endpoint closed")
}

#[tokio::test]
async fn large_invite_to_a_sip_uri_goes_over_tcp_with_a_tcp_via_and_is_answered() {
    bounded(async {
        let (uac, uas) = (endpoint_on_one_port().await, endpoint_on_one_port().await);
        let callee = tokio::spawn({
            let uas = uas.clone();
            async move {
                let invite = next_incoming(&uas).await;
                let seen = (
                    invite.source().transport,
                    top_via_transport(invite.request()),
                );
                let mut call = uas.create_uas(invite, SDP).await.unwrap();
                (seen, call.ended().await)
            }
        });
        let mut call = uac
            .create_uac(sip_uri(&uas, "uas"), large_sdp())
            .await
            .unwrap();
        call.bye().await.unwrap();
        let ((transport, via), end) = callee.await.unwrap();
        assert_eq!(transport, TransportKind::Tcp);
        assert_eq!(via, Transport::Tcp);
        assert_eq!(end, DialogEnd::RemoteBye);
    })
    .await;
}

#[tokio::test]
async fn small_request_to_a_sip_uri_stays_on_udp() {
    bounded(async {
        let (uac, uas) = (endpoint_on_one_port().await, endpoint_on_one_port().await);
        let server = tokio::spawn({
            let uas = uas.clone();
            async move {
                let mut options = next_incoming(&uas).await;
                let seen = (
                    options.source().transport,
                    top_via_transport(options.request()),
                );
                options.reply(StatusCode::OK).await.unwrap();
                seen
            }
        });
        let mut options = uac
            .request(Method::Options, sip_uri(&uas, "uas"))
            .send()
            .await
            .unwrap();
        let response = options.final_response().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let (transport, via) = server.await.unwrap();
        assert_eq!(transport, TransportKind::Udp);
        assert_eq!(via, Transport::Udp);
    })
    .await;
}

#[tokio::test]
async fn large_request_falls_back_to_udp_when_the_tcp_connection_is_refused() {
    bounded(async {
        // The peer has no TCP listener: connecting to its port is refused.
        let (uac, uas) = (endpoint_on_one_port().await, udp_only_endpoint().await);
        let server = tokio::spawn({
            let uas = uas.clone();
            async move {
                let mut options = next_incoming(&uas).await;
                let seen = (
                    options.source().transport,
                    top_via_transport(options.request()),
                    options.request().body().len(),
                );
                options.reply(StatusCode::OK).await.unwrap();
                seen
            }
        });
        let body = large_sdp();
        let mut options = uac
            .request(Method::Options, sip_uri(&uas, "uas"))
            .body("application/sdp", body.clone())
            .send()
            .await
            .unwrap();
        let response = options.final_response().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let (transport, via, len) = server.await.unwrap();
        assert_eq!(transport, TransportKind::Udp);
        assert_eq!(via, Transport::Udp);
        assert_eq!(len, body.len());
    })
    .await;
}

/// A sans-IO user agent at 192.0.2.1 with a transport for each of `kinds`.
fn user_agent(kinds: &[TransportKind]) -> UserAgent {
    let local = SocketAddr::from(([192, 0, 2, 1], 5060));
    UserAgent::new(UserAgentConfig {
        local_addresses: kinds.iter().map(|&kind| (kind, local)).collect(),
        ..UserAgentConfig::default()
    })
}

/// Send an OPTIONS with `body` to 192.0.2.2 over UDP and return what the user agent puts on the wire.
fn send_options(ua: &mut UserAgent, now: Instant, body: String) -> Outbound {
    let peer = Target::new(TransportKind::Udp, SocketAddr::from(([192, 0, 2, 2], 5060)));
    let uri = Uri::parse(&Bytes::from_static(b"sip:bob@192.0.2.2")).unwrap();
    let request = ua
        .request(Method::Options, uri, TransportKind::Udp)
        .header(HeaderName::ContentType, "application/sdp")
        .body(Bytes::from(body))
        .build();
    ua.send_request(now, request, peer, None).unwrap();
    ua.poll_transmit().expect("nothing sent")
}

fn sent_request(out: &Outbound) -> Request {
    match parse_message(out.payload.clone()) {
        Ok(Message::Request(request)) => request,
        other => panic!("not a request: {other:?}"),
    }
}

fn branch(request: &Request) -> Option<String> {
    let via = request.headers().via()?.ok()?;
    via.branch()
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

#[test]
fn user_agent_with_tcp_sends_a_large_udp_request_over_tcp_with_a_tcp_via() {
    let mut ua = user_agent(&[TransportKind::Udp, TransportKind::Tcp]);
    let out = send_options(&mut ua, Instant::now(), large_sdp());
    assert_eq!(out.target.transport, TransportKind::Tcp);
    assert_eq!(out.target.addr, SocketAddr::from(([192, 0, 2, 2], 5060)));
    assert_eq!(top_via_transport(&sent_request(&out)), Transport::Tcp);
}

#[test]
fn user_agent_keeps_a_small_request_on_udp() {
    let mut ua = user_agent(&[TransportKind::Udp, TransportKind::Tcp]);
    let out = send_options(&mut ua, Instant::now(), SDP.to_owned());
    assert_eq!(out.target.transport, TransportKind::Udp);
    assert_eq!(top_via_transport(&sent_request(&out)), Transport::Udp);
}

#[test]
fn user_agent_without_tcp_keeps_a_large_request_on_udp() {
    let mut ua = user_agent(&[TransportKind::Udp]);
    let out = send_options(&mut ua, Instant::now(), large_sdp());
    assert_eq!(out.target.transport, TransportKind::Udp);
    assert_eq!(top_via_transport(&sent_request(&out)), Transport::Udp);
}

#[test]
fn user_agent_resends_over_udp_when_the_tcp_send_fails() {
    let now = Instant::now();
    let mut ua = user_agent(&[TransportKind::Udp, TransportKind::Tcp]);
    let first = send_options(&mut ua, now, large_sdp());
    ua.handle_transport_error(now, first.transaction.expect("sent in a transaction"));
    let retry = ua.poll_transmit().expect("no fallback over UDP");
    assert_eq!(retry.target.transport, TransportKind::Udp);
    let (first, again) = (sent_request(&first), sent_request(&retry));
    assert_eq!(top_via_transport(&again), Transport::Udp);
    assert_ne!(branch(&first), branch(&again));
    assert_eq!(again.body(), first.body());
    let ended =
        std::iter::from_fn(|| ua.poll_event()).any(|e| matches!(e, UaEvent::RequestEnded { .. }));
    assert!(!ended, "the request ended instead of falling back");
}
