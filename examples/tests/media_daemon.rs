//! `tandem media` as a real process: the `tandem` binary started with a temporary configuration on
//! ephemeral NG and metrics ports, driven over UDP with the NG protocol (ping, offer, answer, query, delete)
//! while two test sockets exchange RTP through it — plain RTP both ways, then SDES-SRTP on one side and
//! plain RTP on the other — and stopped with SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use tandem_media_bridge::ng::bencode::{self, Dict, Value};
use tandem_media_bridge::ng::{Frame, encode_frame};
use tandem_rtp_core::SessionDescription;
use tandem_rtp_core::sdes::{Crypto, CryptoSuite};
use tandem_rtp_core::sdp::Attribute;
use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};

/// Generous bound on every read: a failing test, never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(10);

/// The daemon process; killed if the test fails before it is stopped.
struct Daemon {
    child: Child,
    ng: SocketAddr,
    metrics: SocketAddr,
    _stdout: BufReader<ChildStdout>,
    _dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A media port range of its own for this process (below the ephemeral range, so sockets other tests bind
/// to port 0 never take it).
fn port_range() -> (u16, u16) {
    let first = 10_000 + (std::process::id() % 500) as u16 * 20;
    (first, first + 19)
}

fn start_daemon() -> Daemon {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (port_min, port_max) = port_range();
    let path = dir.path().join("media.toml");
    std::fs::write(
        &path,
        format!(
            "[media]\nng = \"127.0.0.1:0\"\nmetrics = \"127.0.0.1:0\"\nbind = \"127.0.0.1\"\n\
             port_min = {port_min}\nport_max = {port_max}\nworkers = 2\nstats_interval_ms = 50\n"
        ),
    )
    .expect("write the configuration");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["media", "--config"])
        .arg(&path)
        .env_remove("TANDEM_MEDIA_NG")
        .env_remove("TANDEM_MEDIA_METRICS")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tandem media");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the readiness line");
    // "tandem media: ng=127.0.0.1:P metrics=127.0.0.1:Q"
    let field = |name: &str| -> SocketAddr {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
            .parse()
            .expect("an address")
    };
    Daemon {
        ng: field("ng="),
        metrics: field("metrics="),
        child,
        _stdout: stdout,
        _dir: dir,
    }
}

/// A minimal NG client: one request, one reply, matched by cookie.
struct Ng {
    socket: UdpSocket,
    server: SocketAddr,
    next: u32,
}

impl Ng {
    fn new(server: SocketAddr) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_read_timeout(Some(PATIENCE)).expect("timeout");
        Ng {
            socket,
            server,
            next: 0,
        }
    }

    fn request(&mut self, request: Dict) -> Dict {
        self.next += 1;
        let cookie = format!("{}_{}", std::process::id(), self.next);
        let datagram = encode_frame(cookie.as_bytes(), &Value::Dict(request));
        self.socket.send_to(&datagram, self.server).expect("send");
        let mut buf = vec![0u8; 65_536];
        let n = self.socket.recv(&mut buf).expect("an NG reply");
        let bytes = bytes::Bytes::copy_from_slice(&buf[..n]);
        let frame = Frame::parse(&bytes).expect("a framed reply");
        assert_eq!(&frame.cookie[..], cookie.as_bytes());
        match bencode::decode(&frame.body).expect("bencode") {
            Value::Dict(d) => d,
            other => panic!("reply is {other:?}"),
        }
    }
}

fn text<'a>(d: &'a Dict, key: &str) -> &'a str {
    d.get(key.as_bytes())
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {key} in {d:?}"))
}

fn sdp(port: u16, profile: &str, extra: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} {profile} 0\r\na=rtpmap:0 PCMU/8000\r\n{extra}"
    )
}

fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    s
}

fn port(s: &UdpSocket) -> u16 {
    s.local_addr().expect("address").port()
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn recv(s: &UdpSocket) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    let (n, _) = s.recv_from(&mut buf).expect("a relayed datagram");
    buf[..n].to_vec()
}

fn relay_port(reply: &Dict) -> (u16, SessionDescription) {
    let sdp: SessionDescription = text(reply, "sdp").parse().expect("rewritten SDP");
    (sdp.media[0].port, sdp)
}

fn offer(call: &str, sdp: String) -> Dict {
    Dict::new()
        .with("command", "offer")
        .with("call-id", call.to_owned())
        .with("from-tag", "caller")
        .with("sdp", sdp)
}

fn answer(call: &str, sdp: String) -> Dict {
    Dict::new()
        .with("command", "answer")
        .with("call-id", call.to_owned())
        .with("from-tag", "caller")
        .with("to-tag", "callee")
        .with("sdp", sdp)
}

fn scrape(metrics: SocketAddr) -> String {
    let mut stream = TcpStream::connect(metrics).expect("connect to /metrics");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut body = String::new();
    stream.read_to_string(&mut body).expect("response");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    body
}

fn metric(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{body}"))
}

fn context_of(line: &Crypto) -> SrtpContext {
    let profile = SrtpProfile::from_sdes_name(line.suite.name()).expect("a known suite");
    let (key, salt) = line.key_params[0].split(&line.suite).expect("key and salt");
    SrtpContext::new(&SrtpPolicy::new(profile), key, salt).expect("an SRTP context")
}

/// The relay's workers learn of an answer within the control interval after it: until then a datagram to
/// the call's (already bound) ports has nowhere to go and is dropped. Sends `probe(k)` (k = 0, 1, …) until one reaches `to`, then drains what else arrives.
fn warm_up(mut probe: impl FnMut(u16), to: &UdpSocket) {
    to.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut arrived = false;
    for k in 0..100 {
        probe(k);
        let mut buf = [0u8; 2048];
        if to.recv_from(&mut buf).is_ok() {
            arrived = true;
            break;
        }
    }
    assert!(arrived, "the relay never forwarded a probe");
    let mut buf = [0u8; 2048];
    while to.recv_from(&mut buf).is_ok() {}
    to.set_read_timeout(Some(PATIENCE)).expect("timeout");
}

/// Plain RTP both ways between `a` (the caller) and `b` (the callee) through relay ports `to_a`/`to_b`.
fn exchange_plain(a: &UdpSocket, b: &UdpSocket, to_a: SocketAddr, to_b: SocketAddr, count: u16) {
    for seq in 1..=count {
        let forth = rtp(seq, 0xa11ce, &[0x11; 160]);
        a.send_to(&forth, to_a).expect("send");
        assert_eq!(
            recv(b),
            forth,
            "the callee gets the caller's packet unchanged"
        );
        let back = rtp(seq, 0xb0b, &[0x22; 160]);
        b.send_to(&back, to_b).expect("send");
        assert_eq!(
            recv(a),
            back,
            "the caller gets the callee's packet unchanged"
        );
    }
}

#[test]
fn relays_rtp_and_srtp_under_ng_control_and_stops_on_sigterm() {
    let mut daemon = start_daemon();
    let mut ng = Ng::new(daemon.ng);
    let local = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));

    let pong = ng.request(Dict::new().with("command", "ping"));
    assert_eq!(text(&pong, "result"), "pong");
    // Another process holds the RTP port of the range's first pair: the relay skips that pair.
    let (port_min, _) = port_range();
    let held = UdpSocket::bind(("127.0.0.1", port_min)).expect("the first port of our range");

    // Plain RTP/AVP on both sides.
    let (a, b) = (udp(), udp());
    let reply = ng.request(offer("plain-call", sdp(port(&a), "RTP/AVP", "")));
    assert_eq!(text(&reply, "result"), "ok", "{reply:?}");
    let (to_b, forwarded) = relay_port(&reply);
    assert_eq!(&*forwarded.media[0].protocol, "RTP/AVP");
    let reply = ng.request(answer("plain-call", sdp(port(&b), "RTP/AVP", "")));
    assert_eq!(text(&reply, "result"), "ok", "{reply:?}");
    let (to_a, _) = relay_port(&reply);
    assert_ne!(
        to_a,
        port(&a),
        "the caller talks to the relay, not to the callee"
    );
    assert!(
        ![to_a, to_b].contains(&port(&held)),
        "a held pair is not given out"
    );
    warm_up(
        |k| drop(a.send_to(&rtp(1000 + k, 0xa11ce, &[0; 160]), local(to_a))),
        &b,
    );
    warm_up(
        |k| drop(b.send_to(&rtp(1000 + k, 0xb0b, &[0; 160]), local(to_b))),
        &a,
    );
    exchange_plain(&a, &b, local(to_a), local(to_b), 5);

    // SDES-SRTP caller, plain RTP/AVP callee.
    let (phone, plain) = (udp(), udp());
    let ours = Crypto::generate(1, CryptoSuite::from_name("AES_CM_128_HMAC_SHA1_80")).expect("key");
    let reply = ng.request(
        offer(
            "srtp-call",
            sdp(port(&phone), "RTP/SAVP", &format!("a=crypto:{ours}\r\n")),
        )
        .with("transport-protocol", "RTP/AVP"),
    );
    assert_eq!(text(&reply, "result"), "ok", "{reply:?}");
    let (to_plain, forwarded) = relay_port(&reply);
    assert_eq!(&*forwarded.media[0].protocol, "RTP/AVP");
    let reply = ng.request(answer("srtp-call", sdp(port(&plain), "RTP/AVP", "")));
    assert_eq!(text(&reply, "result"), "ok", "{reply:?}");
    let (to_phone, answered) = relay_port(&reply);
    let relays_key = answered.media[0]
        .attributes
        .iter()
        .find_map(|a| match a {
            Attribute::Crypto(c) => Some(c.clone()),
            _ => None,
        })
        .expect("the relay's a=crypto in the answer to the SRTP caller");
    let mut protect = context_of(&ours);
    let mut unprotect = context_of(&relays_key);
    warm_up(
        |k| {
            let clear = rtp(k + 1, 0x5eed, &[0; 160]);
            let mut buf = [0u8; 256];
            buf[..clear.len()].copy_from_slice(&clear);
            let len = protect.protect_rtp(&mut buf, clear.len()).expect("protect");
            drop(phone.send_to(&buf[..len], local(to_phone)));
        },
        &plain,
    );
    warm_up(
        |k| drop(plain.send_to(&rtp(k + 1, 0xcafe, &[0; 160]), local(to_plain))),
        &phone,
    );
    for seq in 200..205u16 {
        let clear = rtp(seq, 0x5eed, &[0x33; 160]);
        let mut buf = [0u8; 256];
        buf[..clear.len()].copy_from_slice(&clear);
        let len = protect.protect_rtp(&mut buf, clear.len()).expect("protect");
        phone.send_to(&buf[..len], local(to_phone)).expect("send");
        assert_eq!(
            recv(&plain),
            clear,
            "the plain side gets the decrypted packet"
        );
        let back = rtp(seq, 0xcafe, &[0x44; 160]);
        plain.send_to(&back, local(to_plain)).expect("send");
        let mut got = recv(&phone);
        assert_eq!(got.len(), back.len() + 10, "an 80-bit SRTP tag was added");
        let n = unprotect
            .unprotect_rtp(&mut got)
            .expect("the relay's SRTP authenticates");
        assert_eq!(&got[..n], &back[..]);
    }

    // query shows the counters once the workers reported them (every 50 ms here); bounded wait.
    let mut packets = 0;
    for _ in 0..100 {
        let reply = ng.request(
            Dict::new()
                .with("command", "query")
                .with("call-id", "plain-call"),
        );
        assert_eq!(text(&reply, "result"), "ok", "{reply:?}");
        packets = reply
            .get(b"totals")
            .and_then(Value::as_dict)
            .and_then(|t| t.get(b"RTP"))
            .and_then(Value::as_dict)
            .and_then(|r| r.get(b"packets"))
            .and_then(Value::as_integer)
            .expect("totals.RTP.packets");
        if packets >= 12 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        packets >= 12,
        "5 packets each way and the probes on the plain call, got {packets}"
    );

    let body = scrape(daemon.metrics);
    assert_eq!(metric(&body, "tandem_media_sessions"), 2);
    assert_eq!(metric(&body, "tandem_media_streams"), 4);
    assert_eq!(metric(&body, "tandem_media_ports_skipped_total"), 1);
    assert!(metric(&body, "tandem_media_packets_received_total{kind=\"rtp\"}") >= 10);
    assert!(metric(&body, "tandem_media_packets_relayed_total") >= 10);
    assert_eq!(
        metric(
            &body,
            "tandem_media_ng_commands_total{command=\"offer\",result=\"ok\"}"
        ),
        2
    );
    assert_eq!(
        metric(&body, "tandem_media_drops_total{reason=\"srtp_unprotect\"}"),
        0
    );

    for call in ["plain-call", "srtp-call"] {
        let reply = ng.request(
            Dict::new()
                .with("command", "delete")
                .with("call-id", call)
                .with("from-tag", "caller"),
        );
        assert_eq!(text(&reply, "result"), "ok", "{reply:?}");
    }
    let reply = ng.request(
        Dict::new()
            .with("command", "query")
            .with("call-id", "plain-call"),
    );
    assert_eq!(text(&reply, "result"), "error", "a deleted call is gone");
    let body = scrape(daemon.metrics);
    assert_eq!(metric(&body, "tandem_media_sessions"), 0);
    assert!(
        metric(&body, "tandem_media_packets_received_total{kind=\"rtp\"}") >= 10,
        "totals survive the deletion of the calls"
    );

    let status = Command::new("kill")
        .args(["-TERM", &daemon.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let mut exit = None;
    for _ in 0..200 {
        if let Some(s) = daemon.child.try_wait().expect("wait") {
            exit = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let exit = exit.expect("tandem media exits after SIGTERM");
    assert!(exit.success(), "clean exit, got {exit:?}");
}

#[test]
fn an_invalid_configuration_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("media.toml");
    std::fs::write(&path, "[media]\nport_min = 5000\nport_max = 4000\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["media", "--config"])
        .arg(&path)
        .output()
        .expect("run tandem media");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("port_min"), "{stderr}");
}
