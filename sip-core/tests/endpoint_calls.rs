//! Two endpoints in one process over real loopback sockets: OPTIONS, calls with BYE from either side, CANCEL,
//! digest authentication, in-dialog requests and a B2BUA between them.

use std::net::SocketAddr;
use std::time::Duration;
use tandem_sip_core::auth::{Algorithm, DigestServer, ha1};
use tandem_sip_core::endpoint::{
    DialogEnd, DialogEvent, Endpoint, EndpointError, ServerTransaction,
};
use tandem_sip_core::{HeaderName, Method, StatusCode, TransportKind, Uri};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn endpoint() -> Endpoint {
    Endpoint::builder()
        .bind_udp(loopback())
        .bind_tcp(loopback())
        .allow(Method::Register)
        .build()
        .await
        .unwrap()
}

fn uri_of(endpoint: &Endpoint, kind: TransportKind, user: &str) -> Uri {
    let addr = endpoint.local_addr(kind).unwrap();
    let transport = match kind {
        TransportKind::Tcp => ";transport=tcp",
        _ => "",
    };
    Uri::parse(&format!("sip:{user}@{addr}{transport}").into_bytes().into()).unwrap()
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
async fn options_is_answered_200_over_udp_and_tcp() {
    bounded(async {
        let (uac, uas) = (endpoint().await, endpoint().await);
        let server = tokio::spawn({
            let uas = uas.clone();
            async move {
                for _ in 0..2 {
                    let mut tx = next_incoming(&uas).await;
                    assert_eq!(*tx.request().method(), Method::Options);
                    tx.reply(StatusCode::OK).await.unwrap();
                }
            }
        });
        for kind in [TransportKind::Udp, TransportKind::Tcp] {
            let mut tx = uac
                .request(Method::Options, uri_of(&uas, kind, "uas"))
                .send()
                .await
                .unwrap();
            let response = tx.final_response().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn call_is_set_up_and_hung_up_by_the_caller() {
    bounded(async {
        let (uac, uas) = (endpoint().await, endpoint().await);
        let callee = tokio::spawn({
            let uas = uas.clone();
            async move {
                let mut invite = next_incoming(&uas).await;
                assert_eq!(&invite.request().body()[..], SDP.as_bytes());
                invite
                    .respond(invite.response(StatusCode::RINGING).build())
                    .await
                    .unwrap();
                let mut dialog = uas.create_uas(invite, SDP).await.unwrap();
                dialog.ended().await
            }
        });
        let mut dialog = uac
            .create_uac(uri_of(&uas, TransportKind::Udp, "uas"), SDP)
            .await
            .unwrap();
        let info = dialog
            .request(Method::Info)
            .body("application/dtmf-relay", "Signal=5\r\nDuration=100\r\n")
            .send()
            .await
            .unwrap()
            .final_response()
            .await
            .unwrap();
        assert_eq!(info.status(), StatusCode::OK);
        let bye = dialog.bye().await.unwrap();
        assert_eq!(bye.status(), StatusCode::OK);
        assert_eq!(callee.await.unwrap(), DialogEnd::RemoteBye);
    })
    .await;
}

#[tokio::test]
async fn call_over_tcp_is_hung_up_by_the_callee() {
    bounded(async {
        let (uac, uas) = (endpoint().await, endpoint().await);
        let callee = tokio::spawn({
            let uas = uas.clone();
            async move {
                let invite = next_incoming(&uas).await;
                let mut dialog = uas.create_uas(invite, SDP).await.unwrap();
                dialog.bye().await.unwrap().status()
            }
        });
        let mut dialog = uac
            .create_uac(uri_of(&uas, TransportKind::Tcp, "uas"), SDP)
            .await
            .unwrap();
        assert_eq!(dialog.ended().await, DialogEnd::RemoteBye);
        assert_eq!(callee.await.unwrap(), StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn refused_call_reports_the_final_response() {
    bounded(async {
        let (uac, uas) = (endpoint().await, endpoint().await);
        tokio::spawn({
            let uas = uas.clone();
            async move {
                let mut invite = next_incoming(&uas).await;
                invite.reply(StatusCode::BUSY_HERE).await.unwrap();
            }
        });
        let error = uac
            .create_uac(uri_of(&uas, TransportKind::Udp, "uas"), SDP)
            .await
            .unwrap_err();
        let EndpointError::Refused(response) = error else {
            panic!("{error:?}")
        };
        assert_eq!(response.status(), StatusCode::BUSY_HERE);
    })
    .await;
}

#[tokio::test]
async fn cancel_gets_487_and_the_callee_hears_of_it() {
    bounded(async {
        let (uac, uas) = (endpoint().await, endpoint().await);
        let callee = tokio::spawn({
            let uas = uas.clone();
            async move {
                let mut invite = next_incoming(&uas).await;
                invite.reply(StatusCode::RINGING).await.unwrap();
                invite.cancelled().await;
                invite.is_cancelled()
            }
        });
        let mut call = uac
            .request(Method::Invite, uri_of(&uas, TransportKind::Udp, "uas"))
            .body("application/sdp", SDP)
            .send()
            .await
            .unwrap();
        loop {
            let response = call.response().await.unwrap();
            if response.status() == StatusCode::RINGING {
                break;
            }
        }
        call.cancel();
        let response = call.final_response().await.unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TERMINATED);
        assert!(callee.await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn digest_challenge_is_answered_for_register_and_invite() {
    bounded(async {
        let (uac, uas) = (endpoint().await, endpoint().await);
        let realm = "tandem.test";
        let server = DigestServer::new(realm, b"0123456789abcdef0123456789abcdef");
        let stored = ha1(Algorithm::Sha256, "alice", realm, "secret");
        let stored_md5 = ha1(Algorithm::Md5, "alice", realm, "secret");
        let callee = tokio::spawn({
            let uas = uas.clone();
            async move {
                let mut challenged = 0;
                loop {
                    let mut tx = next_incoming(&uas).await;
                    let lookup = |user: &str, algorithm: Algorithm| {
                        (user == "alice").then(|| match algorithm {
                            Algorithm::Md5 => stored_md5.clone(),
                            _ => stored.clone(),
                        })
                    };
                    let Some(user) = tx.authenticate(&server, lookup).await.unwrap() else {
                        challenged += 1;
                        continue;
                    };
                    assert_eq!(user, "alice");
                    match tx.request().method() {
                        Method::Register => tx.reply(StatusCode::OK).await.unwrap(),
                        _ => {
                            let mut dialog = uas.create_uas(tx, SDP).await.unwrap();
                            dialog.ended().await;
                            return challenged;
                        }
                    }
                }
            }
        });
        let mut register = uac
            .request(
                Method::Register,
                uri_of(&uas, TransportKind::Udp, "registrar"),
            )
            .header(HeaderName::Expires, "60")
            .credentials("alice", "secret")
            .send()
            .await
            .unwrap();
        assert_eq!(
            register.final_response().await.unwrap().status(),
            StatusCode::OK
        );
        let invite = uac
            .request(Method::Invite, uri_of(&uas, TransportKind::Udp, "bob"))
            .body("application/sdp", SDP)
            .credentials("alice", "secret");
        let mut dialog = uac.create_uac_with(invite).await.unwrap();
        dialog.bye().await.unwrap();
        assert_eq!(callee.await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn wrong_password_gets_the_second_challenge_back() {
    bounded(async {
        let (uac, uas) = (endpoint().await, endpoint().await);
        let server = DigestServer::new("tandem.test", b"0123456789abcdef0123456789abcdef");
        tokio::spawn({
            let uas = uas.clone();
            async move {
                while let Some(mut tx) = uas.incoming().await {
                    let right = ha1(Algorithm::Sha256, "alice", "tandem.test", "secret");
                    let _ = tx
                        .authenticate(&server, |_, _| Some(right.clone()))
                        .await
                        .unwrap();
                }
            }
        });
        let mut register = uac
            .request(
                Method::Register,
                uri_of(&uas, TransportKind::Udp, "registrar"),
            )
            .credentials("alice", "wrong")
            .send()
            .await
            .unwrap();
        let response = register.final_response().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn b2bua_relays_ringing_answer_and_bye() {
    bounded(async {
        let (caller, middle, callee) = (endpoint().await, endpoint().await, endpoint().await);
        let callee_task = tokio::spawn({
            let callee = callee.clone();
            async move {
                let mut invite = next_incoming(&callee).await;
                invite.reply(StatusCode::RINGING).await.unwrap();
                let mut dialog = callee.create_uas(invite, SDP).await.unwrap();
                dialog.ended().await
            }
        });
        let target = uri_of(&callee, TransportKind::Udp, "callee");
        let relay = tokio::spawn({
            let middle = middle.clone();
            async move {
                let invite = next_incoming(&middle).await;
                let b2bua = middle.create_b2bua(invite, target).await.unwrap();
                b2bua.run().await
            }
        });
        let mut call = caller
            .request(
                Method::Invite,
                uri_of(&middle, TransportKind::Udp, "middle"),
            )
            .body("application/sdp", SDP)
            .send()
            .await
            .unwrap();
        let mut statuses = Vec::new();
        let dialog = loop {
            let response = call.response().await.unwrap();
            statuses.push(response.status().as_u16());
            if response.status().is_final() {
                break call.take_dialog().unwrap();
            }
        };
        assert!(statuses.contains(&180), "{statuses:?}");
        assert_eq!(statuses.last(), Some(&200));
        let mut dialog = dialog;
        assert_eq!(dialog.bye().await.unwrap().status(), StatusCode::OK);
        assert_eq!(callee_task.await.unwrap(), DialogEnd::RemoteBye);
        let (leg, reason) = relay.await.unwrap();
        assert_eq!(
            (leg, reason),
            (tandem_sip_core::endpoint::Leg::A, DialogEnd::RemoteBye)
        );
    })
    .await;
}

#[tokio::test]
async fn reinvite_within_a_dialog_reaches_the_peer() {
    bounded(async {
        let (uac, uas) = (endpoint().await, endpoint().await);
        let callee = tokio::spawn({
            let uas = uas.clone();
            async move {
                let invite = next_incoming(&uas).await;
                let mut dialog = uas.create_uas(invite, SDP).await.unwrap();
                let Some(DialogEvent::Request(mut reinvite)) = dialog.next_event().await else {
                    panic!("expected a re-INVITE");
                };
                assert_eq!(*reinvite.request().method(), Method::Invite);
                let ok = reinvite
                    .response(StatusCode::OK)
                    .header(HeaderName::ContentType, "application/sdp")
                    .body(SDP)
                    .build();
                reinvite.respond(ok).await.unwrap();
                // The ACK of the re-INVITE's 2xx arrives in the dialog.
                let event = dialog.next_event().await;
                assert!(matches!(event, Some(DialogEvent::Ack(_))), "{event:?}");
                dialog.ended().await
            }
        });
        let mut dialog = uac
            .create_uac(uri_of(&uas, TransportKind::Udp, "uas"), SDP)
            .await
            .unwrap();
        let mut reinvite = dialog
            .request(Method::Invite)
            .body("application/sdp", SDP)
            .send()
            .await
            .unwrap();
        assert_eq!(
            reinvite.final_response().await.unwrap().status(),
            StatusCode::OK
        );
        dialog.bye().await.unwrap();
        assert_eq!(callee.await.unwrap(), DialogEnd::RemoteBye);
    })
    .await;
}
