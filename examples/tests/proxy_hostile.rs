//! `tandem proxy` under malformed and hostile input, over UDP, TCP and WebSocket on loopback.
//!
//! Every batch sends its messages to a proxy started in process, checks each answer (or that the message was
//! dropped and counted), then checks that the proxy still answers OPTIONS and REGISTER, that `/metrics` counted
//! the rejections and drops by the right amounts, and that once the (shortened) transaction timers have run
//! out the transaction gauge is back to zero and no connection is left open: nothing crashed, nothing leaked.
//!
//! All waits are bounded and wait for a state (a reply, a counter, a gauge), never for a duration to pass.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, TestRng, TestRunner};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tandem_sip_core::proxy::forward::{branch_for, loop_hash};
use tandem_sip_core::{
    Frame, HeaderName, Limits, Message, StreamFramer, TransportKind, parse_message,
};
use tandem_stack::proxy::{ProxyConfig, RunningProxy, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[path = "../../sip-core/tests/rfc4475_corpus/mod.rs"]
mod rfc4475_corpus;

/// The longest wait for a reply, a counter or a gauge.
const STATE_WAIT: Duration = Duration::from_secs(20);
/// The proxy's parser size limit in these tests.
const MAX_MESSAGE: usize = 8192;
/// The proxy's stream message timeout in these tests (a slow sender is cut off after it).
const MESSAGE_TIMEOUT_MS: u64 = 1000;

const TRANSACTIONS: &str = "tandem_proxy_transactions";
const CONNECTIONS: &str = "tandem_proxy_connections";
const TRANSPORT_MALFORMED: &str = "tandem_proxy_transport_malformed_total";

fn malformed(transport: &str) -> String {
    format!("tandem_proxy_malformed_total{{transport=\"{transport}\"}}")
}

fn dropped(reason: &str) -> String {
    format!("tandem_proxy_dropped_total{{reason=\"{reason}\"}}")
}

/// How the proxy must handle one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Processed normally, with this final answer.
    Reply(u16),
    /// Parsed, then refused by the proxy's checks with this answer (counted as malformed).
    Checked(u16),
    /// Not parsable as a whole, answered from its head with this status (counted by the transport and the
    /// proxy).
    Unparsable(u16),
    /// Not parsable as a whole, and its head lacks what an answer needs (Via, From, To, Call-ID, CSeq):
    /// dropped and counted by the transport and the proxy.
    Unanswerable,
    /// A response matching no transaction: dropped and counted.
    Stray,
    /// A response failing the checks: dropped and counted.
    BadResponse,
    /// An ACK failing the checks: never answered (RFC 3261 §17.2.1), dropped and counted.
    BadAck,
    /// An ACK that does not route through the proxy, for a foreign target: not relayed, counted.
    ForeignAck,
    /// Not a message at all: dropped and counted by the transport.
    Garbage,
    /// On a stream: the connection is closed without a reply (a framing error, counted by the transport).
    Closed,
    /// On a stream: closed on a framing error, after any answers to earlier complete messages.
    ClosedAnyway,
    /// On a stream: the message never completes and the connection is closed after the message timeout.
    TimedOut,
}

/// The RFC 4475 messages and their handling over a datagram transport (UDP, WebSocket), with the domains
/// `example.com` and `example.org` served, no authentication and no registered user.
fn datagram_expectation(name: &str) -> Expect {
    use Expect::*;
    match name {
        // Valid requests: routed (403 for a foreign domain, 404 for an unknown user) or registered (200).
        "wsinv" | "esc01" | "esc02" => Reply(403),
        "intmeth" | "lwsdisp" | "longreq" | "semiuri" | "transports" | "mpart01" | "baddate"
        | "invut" | "sdp01" | "inv2543" => Reply(404),
        "escnull" | "dblreq" | "regaut01" | "cparam01" | "cparam02" | "regescrt" => Reply(200),
        // The registrar reads Contact and the AOR (after the proxy passed the request on): a Contact with an
        // escaped header outside <> is malformed (400); a non-SIP To is no address-of-record of a served
        // domain (404, RFC 3261 §10.3 step 5; RFC 4475 allows 400 too).
        "regbadct" => Reply(400),
        "unksm2" => Reply(404),
        "unreason" | "noreason" => Stray,
        "scalarlg" | "bcast" => BadResponse,
        "bigcode" => Garbage,
        "clerr" | "ncl" => Unparsable(400),
        // The Request-Line itself does not parse, so the request has no head to answer from: dropped.
        "ltgtruri" | "lwsruri" | "lwsstart" | "trws" => Garbage,
        "badinv01" | "scalar02" | "quotbal" | "escruri" | "badaspec" | "baddn" | "mismatch01"
        | "mismatch02" | "badbranch" | "insuf" | "multi01" | "mcl01" => Checked(400),
        "badvers" => Checked(505),
        "unkscm" | "novelsc" => Checked(416),
        "bext01" => Checked(420),
        "zeromf" => Checked(483),
        other => panic!("no expectation for {other}"),
    }
}

/// The same over TCP, where a message is framed by its Content-Length: what cannot be framed or parsed
/// closes the connection (where the next message starts is unknown), and what never completes times out.
fn stream_expectation(name: &str) -> Expect {
    match name {
        // No blank line after the header section: the head never ends.
        "baddn" => Expect::TimedOut,
        // Content-Length 9999 is over the 8 KiB limit: the message can never be taken in.
        "clerr" => Expect::Closed,
        // A complete REGISTER, then an INVITE whose body is 5 bytes longer than its Content-Length: the
        // leftover `C` is a framing error that closes the connection, which may beat the REGISTER's 200.
        "dblreq" => Expect::ClosedAnyway,
        // Negative and conflicting Content-Length; no Content-Length at all (mandatory on streams).
        "ncl" | "mcl01" | "inv2543" => Expect::Closed,
        _ => match datagram_expectation(name) {
            Expect::Unparsable(_) | Expect::Garbage => Expect::Closed,
            other => other,
        },
    }
}

/// What the proxy counters must have moved by after a batch.
#[derive(Debug, Default)]
struct Deltas {
    malformed: f64,
    transport_malformed: f64,
    stray: f64,
    invalid_response: f64,
    invalid_ack: f64,
    foreign_ack: f64,
    unanswerable: f64,
}

impl Deltas {
    fn add(&mut self, expect: Expect) {
        match expect {
            Expect::Checked(_) => self.malformed += 1.0,
            Expect::Unparsable(_) => {
                self.malformed += 1.0;
                self.transport_malformed += 1.0;
            }
            Expect::Stray => self.stray += 1.0,
            Expect::BadResponse => {
                self.malformed += 1.0;
                self.invalid_response += 1.0;
            }
            Expect::BadAck => {
                self.malformed += 1.0;
                self.invalid_ack += 1.0;
            }
            Expect::ForeignAck => self.foreign_ack += 1.0,
            Expect::Unanswerable => {
                self.malformed += 1.0;
                self.transport_malformed += 1.0;
                self.unanswerable += 1.0;
            }
            Expect::Garbage | Expect::Closed | Expect::ClosedAnyway => {
                self.transport_malformed += 1.0
            }
            Expect::Reply(_) | Expect::TimedOut => {}
        }
    }
}

/// Read `/metrics` at `addr`.
async fn scrape(addr: SocketAddr) -> Scrape {
    let mut stream = TcpStream::connect(addr).await.expect("metrics connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("metrics request");
    let mut text = String::new();
    tokio::time::timeout(STATE_WAIT, stream.read_to_string(&mut text))
        .await
        .expect("metrics answer in time")
        .expect("metrics read");
    let body = text.split("\r\n\r\n").nth(1).expect("an HTTP body");
    let series = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect();
    Scrape(series)
}

/// Wait (bounded) until `series` reaches `target` in the metrics at `addr`.
async fn wait_counted(addr: SocketAddr, series: &str, target: f64) {
    let deadline = Instant::now() + STATE_WAIT;
    while scrape(addr).await.get(series) < target {
        assert!(Instant::now() < deadline, "{series} never reached {target}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long to listen for the answer to a datagram.
enum Wait {
    /// Until a final response arrives.
    Reply,
    /// For a message that must get no answer: until `series` reaches `target` at `metrics` (the proxy has
    /// dealt with it), then take what arrived meanwhile.
    Counted {
        metrics: SocketAddr,
        series: String,
        target: f64,
    },
}

/// `/metrics` as series → value.
#[derive(Debug, Clone)]
struct Scrape(HashMap<String, f64>);

impl Scrape {
    fn get(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }
}

struct Harness {
    _proxy: RunningProxy,
    udp: SocketAddr,
    tcp: SocketAddr,
    ws: SocketAddr,
    metrics: SocketAddr,
    counter: u32,
}

impl Harness {
    /// A proxy on ephemeral loopback ports for `localhost`, `127.0.0.1`, `example.com` and `example.org`,
    /// without authentication or flood guard (the tests send many messages from one address), with
    /// transaction timers 25 times shorter than RFC 3261's and small message limits.
    async fn start() -> Harness {
        // `RUST_LOG=debug` shows what the proxy decided for each message.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let text = format!(
            r#"
            [proxy]
            domains = ["localhost", "127.0.0.1", "example.com", "example.org"]
            udp = "127.0.0.1:0"
            # Two proxy loops: every test also checks that messages are steered to the right one.
            shards = 2
            tcp = "127.0.0.1:0"
            ws = "127.0.0.1:0"
            metrics = "127.0.0.1:0"
            auth = false
            [dispatcher]
            probing = false
            [flood]
            enabled = false
            [timers]
            t1_ms = 20
            t2_ms = 160
            t4_ms = 200
            [limits]
            max_message_size = {MAX_MESSAGE}
            message_timeout_ms = {MESSAGE_TIMEOUT_MS}
            "#
        );
        let config = ProxyConfig::from_toml(&text).expect("valid configuration");
        let proxy = start(config).await.expect("proxy starts");
        let udp = proxy.local_addr(TransportKind::Udp).expect("udp listener");
        let tcp = proxy.local_addr(TransportKind::Tcp).expect("tcp listener");
        let ws = proxy.local_addr(TransportKind::Ws).expect("ws listener");
        let metrics = proxy.metrics_addr().expect("metrics listener");
        Harness {
            _proxy: proxy,
            udp,
            tcp,
            ws,
            metrics,
            counter: 0,
        }
    }

    fn next_id(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    async fn scrape(&self) -> Scrape {
        scrape(self.metrics).await
    }

    /// Poll `/metrics` until `done` holds (bounded), and return that scrape.
    async fn wait_metrics(&self, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
        let deadline = Instant::now() + STATE_WAIT;
        loop {
            let scrape = self.scrape().await;
            if done(&scrape) {
                return scrape;
            }
            assert!(
                Instant::now() < deadline,
                "metrics never reached: {what}; last scrape: {:?}",
                scrape.0
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait until the counters reached `before` + `deltas`, then check they did not overshoot.
    async fn assert_counted(&self, before: &Scrape, transport: &str, deltas: &Deltas) {
        let expected = [
            (malformed(transport), deltas.malformed),
            (TRANSPORT_MALFORMED.to_owned(), deltas.transport_malformed),
            (dropped("unmatched_response"), deltas.stray),
            (dropped("invalid_response"), deltas.invalid_response),
            (dropped("invalid_ack"), deltas.invalid_ack),
            (dropped("foreign_ack"), deltas.foreign_ack),
            (dropped("unanswerable"), deltas.unanswerable),
        ];
        let after = self
            .wait_metrics("the expected counters", |s| {
                expected
                    .iter()
                    .all(|(series, delta)| s.get(series) >= before.get(series) + delta)
            })
            .await;
        for (series, delta) in &expected {
            assert_eq!(
                after.get(series) - before.get(series),
                *delta,
                "{series} moved by the wrong amount"
            );
        }
    }

    /// The proxy still answers OPTIONS (UDP and TCP) and REGISTER normally.
    async fn assert_healthy(&mut self) {
        let id = self.next_id();
        let options = request("OPTIONS", "sip:127.0.0.1", &format!("health-o{id}"), "");
        assert_eq!(
            udp_exchange(self.udp, options.as_bytes(), Wait::Reply).await,
            Some(200),
            "OPTIONS over UDP"
        );
        let options = request("OPTIONS", "sip:localhost", &format!("health-t{id}"), "");
        assert_eq!(
            tcp_exchange(self.tcp, options.as_bytes()).await,
            StreamOutcome::Final(200),
            "OPTIONS over TCP"
        );
        let register = request(
            "REGISTER",
            "sip:localhost",
            &format!("health-r{id}"),
            "Contact: <sip:alice@127.0.0.1:9>\r\nExpires: 60\r\n",
        )
        .replace("sip:hostile@localhost", "sip:alice@localhost");
        assert_eq!(
            udp_exchange(self.udp, register.as_bytes(), Wait::Reply).await,
            Some(200),
            "REGISTER over UDP"
        );
    }

    /// Once the transaction timers have run out, no transaction and no connection is left.
    async fn assert_drained(&self) {
        self.wait_metrics("no transaction and no connection left", |s| {
            s.0.contains_key(TRANSACTIONS)
                && s.get(TRANSACTIONS) == 0.0
                && s.get(CONNECTIONS) == 0.0
        })
        .await;
    }

    /// Health, then drain: the end of every batch.
    async fn assert_survived(&mut self) {
        self.assert_healthy().await;
        self.assert_drained().await;
    }
}

/// A well-formed request from `hostile@localhost`, with `extra` header lines (each ending in CRLF).
fn request(method: &str, uri: &str, call_id: &str, extra: &str) -> String {
    format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{call_id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:hostile@localhost>;tag=h{call_id}\r\n\
         To: <sip:hostile@localhost>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    )
}

/// `wire` without its header lines starting with `name:`.
fn without(wire: &str, name: &str) -> String {
    wire.split_inclusive("\r\n")
        .filter(|line| !line.starts_with(&format!("{name}:")))
        .collect()
}

/// `wire` with the value of the header `name` replaced.
fn with(wire: &str, name: &str, value: &str) -> String {
    wire.split_inclusive("\r\n")
        .map(|line| match line.starts_with(&format!("{name}:")) {
            true => format!("{name}: {value}\r\n"),
            false => line.to_owned(),
        })
        .collect()
}

fn final_status(bytes: &[u8]) -> Option<u16> {
    match parse_message(Bytes::copy_from_slice(bytes)) {
        Ok(Message::Response(r)) if !r.status().is_provisional() => Some(r.status().as_u16()),
        _ => None,
    }
}

/// Send `wire` from a fresh UDP socket and return the first final response's status, or `None` if none
/// comes.
async fn udp_exchange(proxy: SocketAddr, wire: &[u8], wait: Wait) -> Option<u16> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("udp bind");
    socket.send_to(wire, proxy).await.expect("udp send");
    let mut buf = vec![0u8; 65_536];
    if let Wait::Counted {
        metrics,
        series,
        target,
    } = wait
    {
        wait_counted(metrics, &series, target).await;
        // The proxy has decided; a reply it sent is on its way through loopback.
        tokio::time::sleep(Duration::from_millis(50)).await;
        while let Ok((n, _)) = socket.try_recv_from(&mut buf) {
            if let Some(status) = final_status(buf.get(..n).unwrap_or_default()) {
                return Some(status);
            }
        }
        return None;
    }
    let deadline = tokio::time::Instant::now() + STATE_WAIT;
    loop {
        let received = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await;
        let Ok(Ok((n, _))) = received else {
            return None;
        };
        if let Some(status) = final_status(buf.get(..n).unwrap_or_default()) {
            return Some(status);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamOutcome {
    /// The first final response.
    Final(u16),
    /// The proxy closed the connection without a final response.
    Closed,
}

/// Read from `stream` until a final response or the end of the connection (bounded).
async fn read_final(stream: &mut TcpStream) -> StreamOutcome {
    let mut framer = StreamFramer::new(Limits::DEFAULT);
    let mut buf = vec![0u8; 16_384];
    let deadline = tokio::time::Instant::now() + STATE_WAIT;
    loop {
        while let Ok(Some(frame)) = framer.poll() {
            if let Frame::Message(Message::Response(r)) = frame
                && !r.status().is_provisional()
            {
                return StreamOutcome::Final(r.status().as_u16());
            }
        }
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .expect("the proxy answers or closes in time");
        match read {
            Ok(0) | Err(_) => return StreamOutcome::Closed,
            Ok(n) => framer
                .push(buf.get(..n).unwrap_or_default())
                .expect("the proxy's responses frame"),
        }
    }
}

/// Send `wire` on a fresh TCP connection and wait for a final response or the proxy closing it.
async fn tcp_exchange(proxy: SocketAddr, wire: &[u8]) -> StreamOutcome {
    let mut stream = TcpStream::connect(proxy).await.expect("tcp connect");
    stream.write_all(wire).await.expect("tcp send");
    read_final(&mut stream).await
}

/// A WebSocket client speaking the `sip` subprotocol (RFC 7118), sending raw payloads.
struct WsClient {
    socket: tokio_tungstenite::WebSocketStream<TcpStream>,
}

impl WsClient {
    async fn connect(proxy: SocketAddr) -> WsClient {
        let mut request = format!("ws://{proxy}/")
            .into_client_request()
            .expect("a ws request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "sip".parse().expect("a header value"),
        );
        let tcp = TcpStream::connect(proxy).await.expect("ws connect");
        let (socket, _) = tokio_tungstenite::client_async(request, tcp)
            .await
            .expect("ws upgrade");
        WsClient { socket }
    }

    async fn send(&mut self, wire: &[u8]) {
        let message = match std::str::from_utf8(wire) {
            Ok(text) => WsMessage::text(text),
            Err(_) => WsMessage::binary(wire.to_vec()),
        };
        self.socket.send(message).await.expect("ws send");
    }

    /// The status of the next final response, or `None` once `until` resolves first (bounded).
    async fn final_status(&mut self, until: Option<(SocketAddr, &str, f64)>) -> Option<u16> {
        let counted = async {
            match until {
                Some((metrics, series, target)) => {
                    wait_counted(metrics, series, target).await;
                    // The proxy has decided; a reply it sent is on its way through loopback.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::pin!(counted);
        let deadline = tokio::time::Instant::now() + STATE_WAIT;
        loop {
            let next = tokio::select! {
                biased;
                next = tokio::time::timeout_at(deadline, self.socket.next()) => next,
                () = &mut counted => return None,
            };
            match next.expect("a ws message in time") {
                Some(Ok(WsMessage::Text(text))) => {
                    if let Some(status) = final_status(text.as_bytes()) {
                        return Some(status);
                    }
                }
                Some(Ok(WsMessage::Binary(bytes))) => {
                    if let Some(status) = final_status(&bytes) {
                        return Some(status);
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("the ws connection ended: {other:?}"),
            }
        }
    }
}

impl Harness {
    /// How to wait for the answer to a datagram expected to be handled as `expect`.
    async fn wait_for(&self, expect: Expect) -> Wait {
        match settle_series(expect) {
            Some(series) => {
                let target = self.scrape().await.get(&series) + 1.0;
                Wait::Counted {
                    metrics: self.metrics,
                    series,
                    target,
                }
            }
            None => Wait::Reply,
        }
    }

    /// Send `wire` over UDP and check it is handled as `expect`.
    async fn udp_case(&self, what: &str, wire: &[u8], expect: Expect) {
        let wait = self.wait_for(expect).await;
        let got = udp_exchange(self.udp, wire, wait).await;
        assert_eq!(got, answer(expect), "{what} over UDP ({expect:?})");
    }

    /// Send `wire` on a fresh TCP connection and check it is handled as `expect`.
    async fn tcp_case(&self, what: &str, wire: &[u8], expect: Expect) {
        let settle = match settle_series_stream(expect) {
            Some(series) => Some((self.scrape().await.get(&series) + 1.0, series)),
            None => None,
        };
        let mut stream = TcpStream::connect(self.tcp).await.expect("tcp connect");
        stream.write_all(wire).await.expect("tcp send");
        if let Some((target, series)) = settle {
            // Once the proxy has counted the message, hang up: it must have sent nothing.
            wait_counted(self.metrics, &series, target).await;
            let _ = stream.shutdown().await;
        }
        if expect == Expect::ClosedAnyway {
            while read_final(&mut stream).await != StreamOutcome::Closed {}
            return;
        }
        let got = read_final(&mut stream).await;
        let wanted = match answer(expect) {
            Some(status) => StreamOutcome::Final(status),
            None => StreamOutcome::Closed,
        };
        assert_eq!(got, wanted, "{what} over TCP ({expect:?})");
    }
}

/// Over a stream, the series a dropped message moves (for the stream cases that need to hang up).
fn settle_series_stream(expect: Expect) -> Option<String> {
    match expect {
        Expect::Stray | Expect::BadResponse | Expect::BadAck | Expect::ForeignAck => {
            settle_series(expect)
        }
        _ => None,
    }
}

/// The series that moves when a message expected to get no answer has been dealt with.
fn settle_series(expect: Expect) -> Option<String> {
    match expect {
        Expect::Stray => Some(dropped("unmatched_response")),
        Expect::BadResponse => Some(dropped("invalid_response")),
        Expect::BadAck => Some(dropped("invalid_ack")),
        Expect::ForeignAck => Some(dropped("foreign_ack")),
        Expect::Unanswerable => Some(dropped("unanswerable")),
        Expect::Garbage => Some(TRANSPORT_MALFORMED.to_owned()),
        _ => None,
    }
}

/// The status an expectation answers with, if any.
fn answer(expect: Expect) -> Option<u16> {
    match expect {
        Expect::Reply(s) | Expect::Checked(s) | Expect::Unparsable(s) => Some(s),
        _ => None,
    }
}

/// The RFC 4475 messages, REGISTERs last: a binding they create would otherwise turn a later request's 404
/// into a fork to a contact (all of them in TEST-NET or in DNS, unreachable here).
fn corpus() -> Vec<(&'static str, &'static [u8])> {
    let mut files = rfc4475_corpus::FILES.to_vec();
    files.sort_by_key(|(_, wire)| wire.starts_with(b"REGISTER "));
    files
}

/// What identifies a request's server transaction (RFC 3261 §17.2.3): its method and top Via.
fn transaction_key(wire: &[u8]) -> Option<String> {
    let Ok(Message::Request(request)) = parse_message(Bytes::copy_from_slice(wire)) else {
        return None;
    };
    let via = request.headers().get(&HeaderName::Via)?.value().clone();
    Some(format!(
        "{} {}",
        request.method().as_str(),
        String::from_utf8_lossy(&via)
    ))
}

impl Harness {
    /// Several torture messages share a branch and sent-by (cparam01 and cparam02 are both REGISTERs from
    /// `saturn.example.com:5060;branch=z9hG4bKkdjuw`): while the first one's transaction lives, the second
    /// is its retransmission and is answered where the first came from. Wait for such a transaction to end.
    async fn before_sending(&self, wire: &[u8], seen: &mut std::collections::HashSet<String>) {
        if let Some(key) = transaction_key(wire)
            && !seen.insert(key)
        {
            self.wait_metrics("the earlier transaction with this key to end", |s| {
                s.0.contains_key(TRANSACTIONS) && s.get(TRANSACTIONS) == 0.0
            })
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4475_torture_messages_over_udp() {
    let mut h = Harness::start().await;
    let before = h.scrape().await;
    let mut deltas = Deltas::default();
    let mut seen = std::collections::HashSet::new();
    for (name, wire) in corpus() {
        let expect = datagram_expectation(name);
        deltas.add(expect);
        h.before_sending(wire, &mut seen).await;
        h.udp_case(name, wire, expect).await;
    }
    h.assert_counted(&before, "udp", &deltas).await;
    h.assert_survived().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4475_torture_messages_over_tcp() {
    let mut h = Harness::start().await;
    let before = h.scrape().await;
    let mut deltas = Deltas::default();
    let mut seen = std::collections::HashSet::new();
    for (name, wire) in corpus() {
        let expect = stream_expectation(name);
        deltas.add(expect);
        h.before_sending(wire, &mut seen).await;
        h.tcp_case(name, wire, expect).await;
    }
    h.assert_counted(&before, "tcp", &deltas).await;
    h.assert_survived().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4475_torture_messages_over_websocket() {
    let mut h = Harness::start().await;
    let before = h.scrape().await;
    let mut deltas = Deltas::default();
    let mut client = WsClient::connect(h.ws).await;
    let mut seen = std::collections::HashSet::new();
    for (name, wire) in corpus() {
        let expect = datagram_expectation(name);
        deltas.add(expect);
        let settle = match settle_series(expect) {
            Some(series) => Some((h.scrape().await.get(&series) + 1.0, series)),
            None => None,
        };
        h.before_sending(wire, &mut seen).await;
        client.send(wire).await;
        let until = settle
            .as_ref()
            .map(|(target, series)| (h.metrics, series.as_str(), *target));
        let got = client.final_status(until).await;
        assert_eq!(got, answer(expect), "{name} over WS ({expect:?})");
    }
    let _ = client.socket.close(None).await;
    h.assert_counted(&before, "ws", &deltas).await;
    h.assert_survived().await;
}

/// Seeded bytes, so that a failure replays.
fn noise(seed: u8, len: usize) -> Vec<u8> {
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]);
    (0..len).map(|_| rng.random::<u8>()).collect()
}

/// An OPTIONS whose header section holds `lines` extra `X-Pad` lines of `width` bytes each.
fn padded(call_id: &str, lines: usize, width: usize) -> String {
    let pad: String = (0..lines)
        .map(|i| format!("X-Pad-{i}: {}\r\n", "p".repeat(width)))
        .collect();
    request("OPTIONS", "sip:127.0.0.1", call_id, &pad)
}

/// `count` Via lines on top of an OPTIONS.
fn many_vias(call_id: &str, count: usize) -> String {
    let vias: String = (0..count)
        .map(|i| {
            format!(
                "Via: SIP/2.0/UDP 192.0.2.{}:5060;branch=z9hG4bKv{i}\r\n",
                i % 250
            )
        })
        .collect();
    request("OPTIONS", "sip:127.0.0.1", call_id, "").replacen("Via:", &format!("{vias}Via:"), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_truncated_oversized_and_absurd_datagrams_over_udp() {
    let mut h = Harness::start().await;
    let before = h.scrape().await;
    let options = request("OPTIONS", "sip:127.0.0.1", "trunc", "");
    let mut random = noise(1, 1200);
    random.retain(|&b| b != b'\r' && b != b'\n');
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("binary noise", random, Expect::Garbage),
        (
            "NUL and 0xFF",
            b"\0\0\xff\xfe\0SIP\0".to_vec(),
            Expect::Garbage,
        ),
        (
            "plain text",
            b"hello, proxy\r\n\r\n".to_vec(),
            Expect::Garbage,
        ),
        (
            "HTTP request",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            Expect::Garbage,
        ),
        (
            "bare status line",
            b"SIP/2.0 200\r\n\r\n".to_vec(),
            Expect::BadResponse,
        ),
        (
            "truncated in the request line",
            options.as_bytes().get(..20).unwrap_or_default().to_vec(),
            Expect::Garbage,
        ),
        (
            "truncated in a header name",
            options
                .split_inclusive("CSeq")
                .next()
                .unwrap_or_default()
                .as_bytes()
                .to_vec(),
            Expect::Garbage,
        ),
        (
            "body shorter than Content-Length",
            with(&options, "Content-Length", "100").into_bytes(),
            Expect::Unparsable(400),
        ),
        (
            "no Via and a body shorter than Content-Length",
            without(&with(&options, "Content-Length", "100"), "Via").into_bytes(),
            Expect::Unanswerable,
        ),
        (
            "over the size limit",
            padded("big", 20, 500).into_bytes(),
            Expect::Unparsable(513),
        ),
        (
            "near the largest datagram",
            padded("huge", 120, 500).into_bytes(),
            Expect::Unparsable(513),
        ),
        (
            // Longer than the message limit too: cut on receipt, then answered like any oversized request
            // whose mandatory headers came before the cut.
            "a line over the line limit",
            padded("longline", 1, 9000).into_bytes(),
            Expect::Unparsable(513),
        ),
        (
            "300 header fields",
            padded("many", 300, 1).into_bytes(),
            Expect::Garbage,
        ),
        (
            "100 Vias",
            many_vias("vias", 100).into_bytes(),
            Expect::Garbage,
        ),
    ];
    // Keep-alives are neither answered nor counted as malformed (the counts below would be off).
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("udp bind");
    socket.send_to(b"\r\n\r\n", h.udp).await.expect("udp send");
    let mut deltas = Deltas::default();
    for (what, wire, expect) in &cases {
        deltas.add(*expect);
        h.udp_case(what, wire, *expect).await;
    }
    h.assert_counted(&before, "udp", &deltas).await;
    h.assert_survived().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_lengths_slow_senders_and_oversized_messages_over_tcp() {
    let mut h = Harness::start().await;
    let before = h.scrape().await;
    let mut deltas = Deltas::default();
    let options = request("OPTIONS", "sip:127.0.0.1", "tcp-cl", "");
    let (head, _) = options
        .split_once("Content-Length")
        .expect("a Content-Length line");

    // Content-Length 500, 10 bytes of body, then the client closes: no answer, no crash.
    let mut stream = TcpStream::connect(h.tcp).await.expect("tcp connect");
    let partial = format!("{head}Content-Length: 500\r\n\r\n0123456789");
    stream.write_all(partial.as_bytes()).await.expect("send");
    stream.shutdown().await.expect("half-close");
    assert_eq!(read_final(&mut stream).await, StreamOutcome::Closed);
    deltas.add(Expect::TimedOut);

    // The same, but the client keeps the connection open: cut off after the message timeout.
    h.tcp_case(
        "partial body, kept open",
        partial.as_bytes(),
        Expect::TimedOut,
    )
    .await;
    deltas.add(Expect::TimedOut);

    // Slowloris: a valid OPTIONS one byte at a time, slower than the message timeout allows.
    let mut stream = TcpStream::connect(h.tcp).await.expect("tcp connect");
    let slow = request("OPTIONS", "sip:127.0.0.1", "slowloris", "");
    let mut sent = 0;
    let mut buf = [0u8; 512];
    for byte in slow.as_bytes() {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        sent += 1;
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => panic!(
                "slowloris got an answer: {:?}",
                String::from_utf8_lossy(buf.get(..n).unwrap_or_default())
            ),
            Err(_) => {}
        }
    }
    assert!(
        sent < slow.len(),
        "the proxy let a {}-byte message trickle in for {sent} bytes",
        slow.len()
    );
    deltas.add(Expect::TimedOut);

    // Content-Length 0 followed by junk: the first message is answered, the junk closes the connection.
    let mut stream = TcpStream::connect(h.tcp).await.expect("tcp connect");
    let wire = request("OPTIONS", "sip:127.0.0.1", "tcp-short", "");
    stream.write_all(wire.as_bytes()).await.expect("send");
    assert_eq!(read_final(&mut stream).await, StreamOutcome::Final(200));
    stream
        .write_all(b"this is not SIP at all\r\n\r\n")
        .await
        .expect("send");
    assert_eq!(read_final(&mut stream).await, StreamOutcome::Closed);
    deltas.add(Expect::Closed);

    // Oversized and absurd messages cannot be framed: closed.
    let mut junk = noise(2, 3000);
    junk.extend_from_slice(b"\r\n\r\n");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "over the size limit",
            padded("tcp-big", 20, 500).into_bytes(),
        ),
        ("300 header fields", padded("tcp-many", 300, 1).into_bytes()),
        ("100 Vias", many_vias("tcp-vias", 100).into_bytes()),
        ("binary noise", junk),
        (
            "negative Content-Length",
            with(&options, "Content-Length", "-5").into_bytes(),
        ),
    ];
    for (what, wire) in &cases {
        h.tcp_case(what, wire, Expect::Closed).await;
        deltas.add(Expect::Closed);
    }
    h.assert_counted(&before, "tcp", &deltas).await;
    h.assert_survived().await;
}

/// Which transport a protocol case goes over.
#[derive(Debug, Clone, Copy)]
enum Over {
    Udp,
    Tcp,
}

/// Requests that violate the protocol or the proxy's policy, each with its answer.
fn violations(h: &Harness, over: Over, victim: SocketAddr) -> Vec<(String, String, Expect)> {
    let tag = match over {
        Over::Udp => "u",
        Over::Tcp => "t",
    };
    let id = |name: &str| format!("{name}-{tag}");
    let options = |name: &str| request("OPTIONS", "sip:bob@localhost", &id(name), "");
    let mut cases = Vec::new();
    for header in ["Via", "From", "To", "Call-ID", "CSeq"] {
        cases.push((
            format!("missing {header}"),
            without(&options(&format!("no-{header}")), header),
            Expect::Checked(400),
        ));
    }
    cases.push((
        "CSeq method mismatch".into(),
        with(&options("cseq"), "CSeq", "1 INVITE"),
        Expect::Checked(400),
    ));
    cases.push((
        "Max-Forwards 0".into(),
        with(&options("mf0"), "Max-Forwards", "0"),
        Expect::Checked(483),
    ));
    cases.push((
        "Max-Forwards not a number".into(),
        with(&options("mfx"), "Max-Forwards", "many"),
        Expect::Checked(400),
    ));
    cases.push((
        "SIP/3.0".into(),
        options("v3").replacen("SIP/2.0\r\n", "SIP/3.0\r\n", 1),
        Expect::Checked(505),
    ));
    cases.push((
        "unknown Proxy-Require".into(),
        request(
            "OPTIONS",
            "sip:bob@localhost",
            &id("preq"),
            "Proxy-Require: teleportation\r\n",
        ),
        Expect::Checked(420),
    ));
    cases.push((
        "mailto Request-URI".into(),
        request("OPTIONS", "mailto:bob@localhost", &id("mailto"), ""),
        Expect::Checked(416),
    ));
    // A request carrying this proxy's own Via with the loop hash it would compute: a loop (§16.3 step 4).
    let looped = request("INVITE", "sip:bob@localhost", &id("loop"), "");
    let Ok(Message::Request(parsed)) = parse_message(Bytes::from(looped.clone())) else {
        panic!("the loop request parses");
    };
    let own_via = format!(
        "Via: SIP/2.0/UDP {};branch={}\r\n",
        h.udp,
        branch_for(loop_hash(&parsed), 1)
    );
    cases.push((
        "Via loop".into(),
        looped.replacen("Max-Forwards", &format!("{own_via}Max-Forwards"), 1),
        Expect::Reply(482),
    ));
    for (what, method, uri) in [
        (
            "OPTIONS for a foreign domain",
            "OPTIONS",
            "sip:bob@evil.example",
        ),
        (
            "INVITE for a foreign domain",
            "INVITE",
            "sip:bob@evil.example",
        ),
        (
            "REGISTER for a foreign domain",
            "REGISTER",
            "sip:evil.example",
        ),
    ] {
        cases.push((
            what.into(),
            request(method, uri, &id(&what.replace(' ', "-")), ""),
            Expect::Reply(403),
        ));
    }
    // Open-relay attempts towards `victim` (not one of the proxy's addresses or domains): a forged To-tag
    // makes the request look in-dialog; a preloaded Route names the victim as the next hop.
    let victim_uri = format!("sip:victim@{victim}");
    cases.push((
        "in-dialog request to a foreign target without our Route".into(),
        request("BYE", &victim_uri, &id("relay-bye"), "").replacen(
            "To: <sip:hostile@localhost>",
            "To: <sip:hostile@localhost>;tag=forged",
            1,
        ),
        Expect::Reply(403),
    ));
    cases.push((
        "initial request with a preloaded foreign Route".into(),
        request(
            "INVITE",
            "sip:nobody@localhost",
            &id("relay-route"),
            &format!("Route: <sip:{victim};lr>\r\n"),
        ),
        Expect::Reply(404),
    ));
    cases.push((
        "ACK to a foreign target without our Route".into(),
        request("ACK", &victim_uri, &id("relay-ack"), "").replacen(
            "To: <sip:hostile@localhost>",
            "To: <sip:hostile@localhost>;tag=forged",
            1,
        ),
        Expect::ForeignAck,
    ));
    cases.push((
        "CANCEL matching no INVITE".into(),
        request("CANCEL", "sip:bob@localhost", &id("cancel"), ""),
        Expect::Reply(481),
    ));
    cases.push((
        "ACK without Call-ID".into(),
        without(
            &request("ACK", "sip:bob@localhost", &id("badack"), ""),
            "Call-ID",
        ),
        Expect::BadAck,
    ));
    cases.push((
        "response matching no transaction".into(),
        format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKnosuch{tag}\r\n\
             From: <sip:a@localhost>;tag=1\r\nTo: <sip:b@localhost>;tag=2\r\nCall-ID: stray-{tag}\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            h.udp
        ),
        Expect::Stray,
    ));
    cases.push((
        "response with two CSeq values".into(),
        format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKnosuch2{tag}\r\n\
             From: <sip:a@localhost>;tag=1\r\nTo: <sip:b@localhost>;tag=2\r\nCall-ID: bad-{tag}\r\n\
             CSeq: 1 OPTIONS\r\nCSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            h.udp
        ),
        Expect::BadResponse,
    ));
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_violations_get_their_error_replies_over_udp_and_tcp() {
    let mut h = Harness::start().await;
    // 127.0.0.2 is loopback too, but not an address of the proxy: anything arriving there was relayed.
    let victim = UdpSocket::bind("127.0.0.2:0").await.expect("victim bind");
    let victim_addr = victim.local_addr().expect("victim address");
    for over in [Over::Udp, Over::Tcp] {
        let before = h.scrape().await;
        let mut deltas = Deltas::default();
        for (what, wire, expect) in violations(&h, over, victim_addr) {
            deltas.add(expect);
            match over {
                Over::Udp => h.udp_case(&what, wire.as_bytes(), expect).await,
                Over::Tcp => h.tcp_case(&what, wire.as_bytes(), expect).await,
            }
        }
        let transport = match over {
            Over::Udp => "udp",
            Over::Tcp => "tcp",
        };
        h.assert_counted(&before, transport, &deltas).await;
        h.assert_survived().await;
    }
    let mut buf = [0u8; 2048];
    if let Ok((n, from)) = victim.try_recv_from(&mut buf) {
        panic!(
            "the proxy relayed to a foreign target ({from}): {}",
            String::from_utf8_lossy(buf.get(..n).unwrap_or_default())
        );
    }
}

/// One edit of a torture message.
#[derive(Debug, Clone)]
enum Edit {
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
    Truncate(prop::sample::Index),
    DuplicateLine(prop::sample::Index),
    DropLine(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<prop::sample::Index>;
    let byte = || {
        prop_oneof![
            3 => prop::sample::select(b" \t\r\n:;,=<>\"%@0-".to_vec()),
            1 => any::<u8>(),
        ]
    };
    prop_oneof![
        4 => (at(), byte()).prop_map(|(i, b)| Edit::Flip(i, b)),
        4 => (at(), byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
        3 => at().prop_map(Edit::Delete),
        1 => at().prop_map(Edit::Truncate),
        1 => at().prop_map(Edit::DuplicateLine),
        1 => at().prop_map(Edit::DropLine),
    ]
}

fn apply(wire: &mut Vec<u8>, edit: &Edit) {
    let len = wire.len();
    let lines = || -> Vec<Vec<u8>> {
        wire.split_inclusive(|&c| c == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    };
    match edit {
        Edit::Flip(i, b) if len > 0 => {
            if let Some(slot) = wire.get_mut(i.index(len)) {
                *slot = *b;
            }
        }
        Edit::Insert(i, b) => wire.insert(i.index(len + 1), *b),
        Edit::Delete(i) if len > 0 => {
            wire.remove(i.index(len));
        }
        Edit::Truncate(i) => wire.truncate(i.index(len + 1)),
        Edit::DuplicateLine(i) => {
            let mut l = lines();
            if !l.is_empty() {
                let at = i.index(l.len());
                let copy = l.get(at).cloned().unwrap_or_default();
                l.insert(at, copy);
                *wire = l.concat();
            }
        }
        Edit::DropLine(i) => {
            let mut l = lines();
            if !l.is_empty() {
                l.remove(i.index(l.len()));
                *wire = l.concat();
            }
        }
        _ => {}
    }
}

/// `count` mutated torture messages, from a fixed seed.
fn mutated(seed: u8, count: usize) -> Vec<Vec<u8>> {
    let strategy = (
        0..rfc4475_corpus::FILES.len(),
        prop::collection::vec(edit(), 1..5),
    );
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    );
    (0..count)
        .map(|_| {
            let (file, edits) = strategy
                .new_tree(&mut runner)
                .expect("a mutation")
                .current();
            let mut wire = rfc4475_corpus::FILES
                .get(file)
                .map(|(_, bytes)| bytes.to_vec())
                .unwrap_or_default();
            for e in &edits {
                apply(&mut wire, e);
            }
            wire
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_mutated_torture_messages_leaves_the_proxy_healthy() {
    let mut h = Harness::start().await;
    let before = h.scrape().await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("udp bind");
    let burst = mutated(42, 400);
    for (n, chunk) in burst.chunks(25).enumerate() {
        for wire in chunk {
            socket.send_to(wire, h.udp).await.expect("udp send");
        }
        // Pace the burst so that the proxy's socket buffer does not overflow (the kernel would drop
        // datagrams unseen): its answer to an OPTIONS sent after the chunk means it has read the chunk.
        let ping = request("OPTIONS", "sip:127.0.0.1", &format!("pace-{n}"), "");
        assert_eq!(
            udp_exchange(h.udp, ping.as_bytes(), Wait::Reply).await,
            Some(200),
            "OPTIONS after {} mutated datagrams",
            (n + 1) * 25
        );
    }
    for wire in mutated(43, 40) {
        let mut stream = TcpStream::connect(h.tcp).await.expect("tcp connect");
        // The proxy may close first (a framing error): that is one of the outcomes.
        let _ = stream.write_all(&wire).await;
        let _ = stream.shutdown().await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(STATE_WAIT, stream.read_to_end(&mut sink)).await;
    }
    h.assert_survived().await;
    let after = h.scrape().await;
    assert!(
        after.get(&malformed("udp")) > before.get(&malformed("udp")),
        "no mutated datagram was refused"
    );
    assert!(
        after.get(TRANSPORT_MALFORMED) > before.get(TRANSPORT_MALFORMED),
        "no mutated message was malformed"
    );
}

/// A proxy for `localhost` and `127.0.0.1` on an ephemeral UDP port with `[proxy] relay = RELAY`.
async fn relay_proxy(relay: &str) -> (RunningProxy, SocketAddr) {
    let text = format!(
        r#"
        [proxy]
        domains = ["localhost", "127.0.0.1"]
        udp = "127.0.0.1:0"
        # Two proxy loops: every test also checks that messages are steered to the right one.
        shards = 2
        metrics = "127.0.0.1:0"
        auth = false
        relay = "{relay}"
        [dispatcher]
        probing = false
        "#
    );
    let mut config = ProxyConfig::from_toml(&text).expect("valid configuration");
    config.proxy.tcp = None;
    let proxy = start(config).await.expect("proxy starts");
    let udp = proxy.local_addr(TransportKind::Udp).expect("udp listener");
    (proxy, udp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_open_forwards_an_in_dialog_request_to_a_foreign_target_that_own_domains_refuses() {
    // 127.0.0.2 is loopback too, but not an address or domain of the proxy.
    let victim = UdpSocket::bind("127.0.0.2:0").await.expect("victim bind");
    let victim_addr = victim.local_addr().expect("victim address");
    let bye = |call_id: &str| {
        request("BYE", &format!("sip:victim@{victim_addr}"), call_id, "").replacen(
            "To: <sip:hostile@localhost>",
            "To: <sip:hostile@localhost>;tag=remote",
            1,
        )
    };

    let (_closed, addr) = relay_proxy("own-domains").await;
    let refused = udp_exchange(addr, bye("relay-closed").as_bytes(), Wait::Reply).await;
    assert_eq!(refused, Some(403));

    let (_open, addr) = relay_proxy("open").await;
    let caller = UdpSocket::bind("127.0.0.1:0").await.expect("caller bind");
    caller
        .send_to(bye("relay-open").as_bytes(), addr)
        .await
        .expect("send");
    let mut buf = vec![0u8; 65_536];
    let (n, from) = tokio::time::timeout(STATE_WAIT, victim.recv_from(&mut buf))
        .await
        .expect("the open relay forwarded the BYE")
        .expect("victim receive");
    let Ok(Message::Request(relayed)) =
        parse_message(Bytes::copy_from_slice(buf.get(..n).unwrap_or_default()))
    else {
        panic!("not a request");
    };
    assert_eq!(relayed.headers().get_all(&HeaderName::Via).count(), 2);
    assert_eq!(
        relayed
            .headers()
            .get(&HeaderName::CallId)
            .map(|c| c.value().to_vec()),
        Some(b"relay-open".to_vec())
    );
    // The victim's 200 goes back through the proxy to the caller.
    let ok =
        tandem_sip_core::Response::from_request(&relayed, tandem_sip_core::StatusCode::OK, None)
            .build();
    victim.send_to(&ok.to_bytes(), from).await.expect("answer");
    let deadline = tokio::time::Instant::now() + STATE_WAIT;
    loop {
        let (n, _) = tokio::time::timeout_at(deadline, caller.recv_from(&mut buf))
            .await
            .expect("the 200 came back")
            .expect("caller receive");
        if let Some(status) = final_status(buf.get(..n).unwrap_or_default()) {
            assert_eq!(status, 200);
            break;
        }
    }
}
