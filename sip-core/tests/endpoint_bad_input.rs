//! Bad input sent to a running endpoint over a raw UDP socket: every request that can be answered gets the
//! reply RFC 3261 asks for, nothing crashes the endpoint, and it keeps answering afterwards.

use std::net::SocketAddr;
use std::time::Duration;
use tandem_sip_core::endpoint::Endpoint;
use tandem_sip_core::{Limits, Message, StatusCode, TransportKind, parse_message};
use tokio::net::UdpSocket;

struct Peer {
    socket: UdpSocket,
    endpoint_addr: SocketAddr,
    _endpoint: Endpoint,
}

async fn peer() -> Peer {
    peer_with_limit(Limits::DEFAULT.max_message_size).await
}

async fn peer_with_limit(max_message_size: usize) -> Peer {
    let limits = Limits {
        max_message_size,
        ..Limits::DEFAULT
    };
    let endpoint = Endpoint::builder()
        .bind_udp("127.0.0.1:0".parse().unwrap())
        .transports(|t| t.limits(limits))
        .build()
        .await
        .unwrap();
    // Answer whatever reaches the application with 200.
    tokio::spawn({
        let endpoint = endpoint.clone();
        async move {
            while let Some(mut tx) = endpoint.incoming().await {
                let _ = tx.reply(StatusCode::OK).await;
            }
        }
    });
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    Peer {
        endpoint_addr: endpoint.local_addr(TransportKind::Udp).unwrap(),
        socket,
        _endpoint: endpoint,
    }
}

impl Peer {
    /// Send `text` (with `\n` line ends turned into CRLF) and return the status and reason of the reply.
    async fn exchange(&self, text: &str) -> Option<(u16, String)> {
        self.send_raw(text.replace('\n', "\r\n").as_bytes()).await
    }

    async fn send_raw(&self, bytes: &[u8]) -> Option<(u16, String)> {
        self.send_raw_within(bytes, Duration::from_secs(5)).await
    }

    /// Send `bytes` and wait up to `wait` for a reply.
    async fn send_raw_within(&self, bytes: &[u8], wait: Duration) -> Option<(u16, String)> {
        self.socket
            .send_to(bytes, self.endpoint_addr)
            .await
            .unwrap();
        let mut buf = vec![0u8; 65536];
        let read = tokio::time::timeout(wait, self.socket.recv(&mut buf)).await;
        let len = read.ok()?.ok()?;
        buf.truncate(len);
        match parse_message(buf.into()).ok()? {
            Message::Response(r) => Some((
                r.status().as_u16(),
                String::from_utf8_lossy(r.reason()).into_owned(),
            )),
            Message::Request(_) => None,
        }
    }

    fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }
}

fn request(method: &str, branch: &str, local: SocketAddr, extra: &str) -> String {
    format!(
        "{method} sip:uas@127.0.0.1 SIP/2.0\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch};rport\n\
         Max-Forwards: 70\n\
         From: <sip:tester@127.0.0.1>;tag=t{branch}\n\
         To: <sip:uas@127.0.0.1>\n\
         Call-ID: {branch}@test\n\
         CSeq: 1 {method}\n\
         {extra}Content-Length: 0\n\n"
    )
}

#[tokio::test]
async fn malformed_cseq_gets_400_with_a_reason() {
    let peer = peer().await;
    let text = request("OPTIONS", "cseq", peer.local(), "")
        .replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS");
    let (status, reason) = peer.exchange(&text).await.unwrap();
    assert_eq!(status, 400);
    assert!(reason.starts_with("Bad Request - "), "{reason}");
}

#[tokio::test]
async fn unparsable_header_block_still_gets_400() {
    let peer = peer().await;
    // The Content-Length promises more body than the datagram carries.
    let text = request("OPTIONS", "length", peer.local(), "")
        .replace("Content-Length: 0", "Content-Length: 500");
    let (status, reason) = peer.exchange(&text).await.unwrap();
    assert_eq!(status, 400);
    assert!(reason.contains("Content-Length"), "{reason}");
}

#[tokio::test]
async fn unsupported_require_gets_420_with_unsupported() {
    let peer = peer().await;
    let text = request("OPTIONS", "require", peer.local(), "Require: 100rel\n");
    assert_eq!(peer.exchange(&text).await.unwrap().0, 420);
}

#[tokio::test]
async fn unknown_method_gets_501_and_known_but_not_allowed_405() {
    let peer = peer().await;
    let text = request("FROBNICATE", "unknown", peer.local(), "");
    assert_eq!(peer.exchange(&text).await.unwrap().0, 501);
    let text = request("PUBLISH", "publish", peer.local(), "");
    assert_eq!(peer.exchange(&text).await.unwrap().0, 405);
}

#[tokio::test]
async fn max_forwards_zero_gets_483_except_options() {
    let peer = peer().await;
    let text = request(
        "INVITE",
        "hops",
        peer.local(),
        "Contact: <sip:t@127.0.0.1>\n",
    )
    .replace("Max-Forwards: 70", "Max-Forwards: 0");
    assert_eq!(peer.exchange(&text).await.unwrap().0, 483);
    let text = request("OPTIONS", "hops2", peer.local(), "")
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    assert_eq!(peer.exchange(&text).await.unwrap().0, 200);
}

#[tokio::test]
async fn oversize_request_gets_513() {
    let peer = peer_with_limit(2048).await;
    let padding = "Subject: padding padding padding padding padding padding padding\n".repeat(60);
    let text = request("OPTIONS", "big", peer.local(), &padding);
    assert_eq!(peer.exchange(&text).await.unwrap().0, 513);
}

#[tokio::test]
async fn request_in_an_unknown_dialog_gets_481() {
    let peer = peer().await;
    let text = request("BYE", "nodialog", peer.local(), "").replace(
        "To: <sip:uas@127.0.0.1>",
        "To: <sip:uas@127.0.0.1>;tag=gone",
    );
    assert_eq!(peer.exchange(&text).await.unwrap().0, 481);
}

#[tokio::test]
async fn cancel_without_invite_gets_481() {
    let peer = peer().await;
    let text = request("CANCEL", "nocancel", peer.local(), "");
    assert_eq!(peer.exchange(&text).await.unwrap().0, 481);
}

#[tokio::test]
async fn garbage_is_dropped_and_the_endpoint_keeps_answering() {
    let peer = peer().await;
    for junk in [
        &b"\x00\x01\x02garbage"[..],
        b"SIP/2.0 200 OK\r\n\r\n",
        b"OPTIONS sip:x SIP/2.0\r\n\r\n",
        b"INVITE sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\n\r\n",
        b"ACK sip:uas@127.0.0.1 SIP/2.0\r\nCSeq: x\r\n\r\n",
    ] {
        // Silence is the expected outcome: a short wait is enough to see that no reply comes first.
        let wait = Duration::from_millis(300);
        assert_eq!(peer.send_raw_within(junk, wait).await, None);
    }
    let text = request("OPTIONS", "after", peer.local(), "");
    assert_eq!(peer.exchange(&text).await.unwrap().0, 200);
}

#[tokio::test]
async fn response_goes_back_to_the_source_port_with_rport() {
    let peer = peer().await;
    // The Via names another port; rport makes the reply come back to the socket that sent the request.
    let text = request("OPTIONS", "rport", peer.local(), "").replace(
        &format!("Via: SIP/2.0/UDP {}", peer.local()),
        "Via: SIP/2.0/UDP 127.0.0.1:9",
    );
    assert_eq!(peer.exchange(&text).await.unwrap().0, 200);
}
