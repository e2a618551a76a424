//! `tandem media` as a real process: the `tandem` binary started with a temporary configuration on
//! ephemeral NG and metrics ports, driven over UDP with the NG protocol (ping, offer, answer, query, delete)
//! while two test sockets exchange RTP through it — plain RTP both ways, then SDES-SRTP on one side and
//! plain RTP on the other — and stopped with SIGTERM. Then the workers' I/O back end: under a seccomp
//! filter that takes io_uring away, `io = "auto"` and `io = "io_uring"` fall back to epoll (the latter with a
//! warning), relay a call and say so on `/metrics` and in the log; without it, where the kernel offers
//! io_uring, `auto` runs on io_uring.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;
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
    /// Collects the daemon's log (stderr), echoing it, until the daemon exits.
    log: Option<JoinHandle<String>>,
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

impl Daemon {
    /// SIGTERM; asserts a clean exit (bounded wait) and returns everything the daemon logged.
    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let mut exit = None;
        for _ in 0..200 {
            if let Some(s) = self.child.try_wait().expect("wait") {
                exit = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let exit = exit.expect("tandem media exits after SIGTERM");
        assert!(exit.success(), "clean exit, got {exit:?}");
        let log = self.log.take().expect("the log reader");
        log.join()
            .expect("the log reader ends when the daemon's stderr closes")
    }
}

/// How a test starts its daemon.
struct Launch {
    /// Which of this process's media port ranges it uses: one per test, since they run concurrently.
    slot: u16,
    /// `[media] io`.
    io: &'static str,
    /// Under a seccomp filter that fails `io_uring_setup` with ENOSYS ([`no_io_uring`]).
    without_io_uring: bool,
    /// Under a seccomp filter that refuses the rings a registered file table ([`no_io_uring`]).
    without_registered_files: bool,
    /// Started with this soft limit on open files (the hard limit unchanged).
    open_files: Option<u64>,
}

impl Launch {
    const DEFAULT: Launch = Launch {
        slot: 0,
        io: "auto",
        without_io_uring: false,
        without_registered_files: false,
        open_files: None,
    };
}

/// A media port range of its own for this process and `slot` (0..6; below the ephemeral range, so
/// sockets other tests bind to port 0 never take it).
fn port_range(slot: u16) -> (u16, u16) {
    let first = 10_000 + (std::process::id() % 200) as u16 * 96 + slot * 16;
    (first, first + 15)
}

fn start_daemon(launch: Launch) -> Daemon {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (port_min, port_max) = port_range(launch.slot);
    let path = dir.path().join("media.toml");
    std::fs::write(
        &path,
        format!(
            "[media]\nng = \"127.0.0.1:0\"\nmetrics = \"127.0.0.1:0\"\nbind = \"127.0.0.1\"\n\
             port_min = {port_min}\nport_max = {port_max}\nworkers = 2\nstats_interval_ms = 50\n\
             io = \"{}\"\n",
            launch.io
        ),
    )
    .expect("write the configuration");
    let mut command = Command::new(env!("CARGO_BIN_EXE_tandem"));
    command
        .args(["media", "--config"])
        .arg(&path)
        .env_remove("TANDEM_MEDIA_NG")
        .env_remove("TANDEM_MEDIA_METRICS")
        .env_remove("TANDEM_MEDIA_IO")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if launch.without_io_uring {
        no_io_uring::apply(&mut command, &no_io_uring::NO_SETUP);
    }
    if launch.without_registered_files {
        no_io_uring::apply(&mut command, &no_io_uring::NO_REGISTERED_FILES);
    }
    if let Some(soft) = launch.open_files {
        lower_open_files(&mut command, soft);
    }
    let mut child = command.spawn().expect("start tandem media");
    let stderr = child.stderr.take().expect("stderr");
    let log = std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
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
        log: Some(log),
        _dir: dir,
    }
}

/// Makes `command`'s process start with `soft` as its soft limit on open files.
fn lower_open_files(command: &mut Command, soft: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before `execve`: two async-signal-safe system calls on
    // a struct on its own stack, nothing that allocates or locks.
    unsafe {
        command.pre_exec(move || {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit.rlim_cur = soft.min(limit.rlim_max);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The soft and hard limits on open files of process `pid`, from `/proc/PID/limits`.
fn open_files_of(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("read the limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match numbers.as_slice() {
        [soft, hard, ..] => (*soft, *hard),
        _ => panic!("unexpected limits line {line:?}"),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn raises_its_open_files_limit_to_the_hard_limit_at_start() {
    // The hard limit of this process is the child's too; the child starts with a soft limit of 256.
    let (_, hard) = open_files_of(std::process::id());
    if hard <= 256 {
        panic!("this test needs a hard limit on open files above 256, not {hard}");
    }
    let daemon = start_daemon(Launch {
        slot: 4,
        open_files: Some(256),
        ..Launch::DEFAULT
    });
    let (soft, now_hard) = open_files_of(daemon.child.id());
    assert_eq!(now_hard, hard, "the hard limit is left alone");
    assert_eq!(
        soft,
        hard.min(1 << 20),
        "the soft limit is raised to the hard one"
    );
    let log = daemon.stop();
    assert!(
        log.contains("open files limit raised") && log.contains("from=256"),
        "the raise is logged: {log}"
    );
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
    let daemon = start_daemon(Launch::DEFAULT);
    let mut ng = Ng::new(daemon.ng);
    let local = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));

    let pong = ng.request(Dict::new().with("command", "ping"));
    assert_eq!(text(&pong, "result"), "pong");
    // Another process holds the RTP port of the range's first pair: the relay skips that pair.
    let (port_min, _) = port_range(Launch::DEFAULT.slot);
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
    flow_plain(&a, &b, local(to_a), local(to_b));

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

    daemon.stop();
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

/// Seccomp-BPF filters, installed in the daemon's process before it runs, that take part of io_uring away
/// and allow every other system call. [`no_io_uring::NO_SETUP`] fails `io_uring_setup(2)` with ENOSYS, as a
/// kernel without io_uring (or a container runtime's default profile) would; [`no_io_uring::NO_REGISTERED_FILES`]
/// fails `io_uring_register(2)`'s `IORING_REGISTER_FILES2` with EINVAL, as a kernel before 5.19 would. Needs
/// no privilege: `PR_SET_NO_NEW_PRIVS` first, then the filter.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod no_io_uring {
    use std::mem::offset_of;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    /// `AUDIT_ARCH_*` of this target (`EM_*` | `__AUDIT_ARCH_64BIT` | `__AUDIT_ARCH_LE`,
    /// `<linux/audit.h>`; the libc crate does not have them): system call numbers mean something only for
    /// one architecture.
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xc000_003e;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xc000_00b7;

    /// `BPF_STMT`.
    const fn statement(code: u32, k: u32) -> libc::sock_filter {
        libc::sock_filter {
            code: code as u16,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// `BPF_JUMP`: on `k`, skip `on_true` instructions, else `on_false`.
    const fn jump(code: u32, k: u32, on_true: u8, on_false: u8) -> libc::sock_filter {
        libc::sock_filter {
            code: code as u16,
            jt: on_true,
            jf: on_false,
            k,
        }
    }

    const LOAD_WORD: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    const JUMP_IF_EQUAL: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    const RETURN: u32 = libc::BPF_RET | libc::BPF_K;

    /// `IORING_REGISTER_FILES2` (`<linux/io_uring.h>`): what a sparse file table is registered with.
    const IORING_REGISTER_FILES2: u32 = 13;

    /// Another architecture, or another call, is allowed; `io_uring_setup` gets ENOSYS.
    pub const NO_SETUP: [libc::sock_filter; 6] = [
        statement(LOAD_WORD, offset_of!(libc::seccomp_data, arch) as u32),
        jump(JUMP_IF_EQUAL, AUDIT_ARCH, 0, 3),
        statement(LOAD_WORD, offset_of!(libc::seccomp_data, nr) as u32),
        jump(JUMP_IF_EQUAL, libc::SYS_io_uring_setup as u32, 0, 1),
        statement(
            RETURN,
            libc::SECCOMP_RET_ERRNO | (libc::ENOSYS as u32 & libc::SECCOMP_RET_DATA),
        ),
        statement(RETURN, libc::SECCOMP_RET_ALLOW),
    ];

    /// Another architecture, call or `io_uring_register` opcode is allowed; registering a file table gets
    /// EINVAL. The opcode is the low word of the second argument (both targets are little-endian).
    pub const NO_REGISTERED_FILES: [libc::sock_filter; 8] = [
        statement(LOAD_WORD, offset_of!(libc::seccomp_data, arch) as u32),
        jump(JUMP_IF_EQUAL, AUDIT_ARCH, 0, 5),
        statement(LOAD_WORD, offset_of!(libc::seccomp_data, nr) as u32),
        jump(JUMP_IF_EQUAL, libc::SYS_io_uring_register as u32, 0, 3),
        statement(
            LOAD_WORD,
            (offset_of!(libc::seccomp_data, args) + std::mem::size_of::<u64>()) as u32,
        ),
        jump(JUMP_IF_EQUAL, IORING_REGISTER_FILES2, 0, 1),
        statement(
            RETURN,
            libc::SECCOMP_RET_ERRNO | (libc::EINVAL as u32 & libc::SECCOMP_RET_DATA),
        ),
        statement(RETURN, libc::SECCOMP_RET_ALLOW),
    ];

    /// Makes `command`'s process start under `filter` (inherited by all its threads, and kept across
    /// `execve`).
    pub fn apply(command: &mut Command, filter: &'static [libc::sock_filter]) {
        // SAFETY: the closure runs in the forked child before `execve`, where only async-signal-safe
        // calls are allowed: it makes two `prctl` calls and builds an `io::Error` from errno, nothing that
        // allocates or locks. The program it points the kernel at is a constant, alive for the whole call
        // (the kernel copies it), and never written to despite the `*mut` of `sock_fprog`.
        unsafe {
            command.pre_exec(move || {
                let program = libc::sock_fprog {
                    len: filter.len() as libc::c_ushort,
                    filter: filter.as_ptr().cast_mut(),
                };
                let one: libc::c_ulong = 1;
                let zero: libc::c_ulong = 0;
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, one, zero, zero, zero) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let mode = libc::c_ulong::from(libc::SECCOMP_MODE_FILTER);
                let program: *const libc::sock_fprog = &program;
                if libc::prctl(libc::PR_SET_SECCOMP, mode, program) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// Elsewhere the fallback tests do not run.
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod no_io_uring {
    pub const NO_SETUP: [(); 0] = [];
    pub const NO_REGISTERED_FILES: [(); 0] = [];

    pub fn apply(_: &mut std::process::Command, _: &[()]) {
        unreachable!("the io_uring fallback tests run on Linux x86-64 and AArch64 only");
    }
}

/// Whether this kernel lets a process create a ring set up like the media workers' (single issuer,
/// deferred task work: Linux 6.1 or later, io_uring not disabled); says so loudly when it does not.
#[cfg(target_os = "linux")]
fn kernel_offers_io_uring() -> bool {
    let offered = tandem_media_bridge::MediaIo::io_uring_offered();
    if !offered {
        common::skip("this kernel offers no io_uring: the io_uring half of the back-end test");
    }
    offered
}

/// A plain call relayed both ways through `daemon` (5 packets each way after the warm-up); returns the
/// Plain RTP both ways between `a` and `b` through the relay ports `to_a` (a's side) and `to_b`: warmed
/// up until each side hears the other (latching), then five packets each way checked.
fn flow_plain(a: &UdpSocket, b: &UdpSocket, to_a: SocketAddr, to_b: SocketAddr) {
    warm_up(
        |k| drop(a.send_to(&rtp(1000 + k, 0xa11ce, &[0; 160]), to_a)),
        b,
    );
    warm_up(
        |k| drop(b.send_to(&rtp(1000 + k, 0xb0b, &[0; 160]), to_b)),
        a,
    );
    exchange_plain(a, b, to_a, to_b, 5);
}

/// metrics once the workers' counters show it (bounded wait).
fn relay_a_call(daemon: &Daemon, call: &str) -> String {
    let mut ng = Ng::new(daemon.ng);
    let local = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let (a, b) = (udp(), udp());
    let reply = ng.request(offer(call, sdp(port(&a), "RTP/AVP", "")));
    assert_eq!(text(&reply, "result"), "ok", "{reply:?}");
    let (to_b, _) = relay_port(&reply);
    let reply = ng.request(answer(call, sdp(port(&b), "RTP/AVP", "")));
    assert_eq!(text(&reply, "result"), "ok", "{reply:?}");
    let (to_a, _) = relay_port(&reply);
    flow_plain(&a, &b, local(to_a), local(to_b));
    let mut body = String::new();
    for _ in 0..100 {
        body = scrape(daemon.metrics);
        if metric(&body, "tandem_media_packets_relayed_total") >= 10 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        metric(&body, "tandem_media_packets_received_total{kind=\"rtp\"}") >= 10,
        "packets in, counted:\n{body}"
    );
    assert!(
        metric(&body, "tandem_media_packets_relayed_total") >= 10,
        "packets out, counted:\n{body}"
    );
    body
}

/// The `tandem_media_workers` gauge: (on io_uring, on epoll).
fn workers_by_io(body: &str) -> (u64, u64) {
    (
        metric(body, "tandem_media_workers{io=\"io_uring\"}"),
        metric(body, "tandem_media_workers{io=\"epoll\"}"),
    )
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn without_io_uring_auto_falls_back_to_epoll_and_relays() {
    let log = relay_without_io_uring(1, "auto");
    assert_eq!(
        log.matches("media worker running (no io_uring)").count(),
        2,
        "one line per worker saying it runs on epoll, and why:\n{log}"
    );
    assert!(
        !log.contains("io_uring asked for but unavailable"),
        "no warning when io_uring was not asked for:\n{log}"
    );
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn without_io_uring_an_explicit_io_uring_falls_back_to_epoll_with_a_warning() {
    let log = relay_without_io_uring(2, "io_uring");
    let warnings = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("io_uring asked for but unavailable"))
        .count();
    assert_eq!(warnings, 2, "one warning per worker:\n{log}");
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
/// A daemon with `io` under the filter that takes io_uring away relays a call with both workers on epoll
/// (the gauge says so); returns its log.
fn relay_without_io_uring(slot: u16, io: &'static str) -> String {
    let daemon = start_daemon(Launch {
        slot,
        io,
        without_io_uring: true,
        without_registered_files: false,
        open_files: None,
    });
    let body = relay_a_call(&daemon, &format!("no-io-uring-{io}"));
    assert_eq!(
        workers_by_io(&body),
        (0, 2),
        "both workers on epoll:\n{body}"
    );
    daemon.stop()
}

#[cfg(target_os = "linux")]
#[test]
fn with_io_uring_offered_auto_runs_the_workers_on_it() {
    if !kernel_offers_io_uring() {
        return;
    }
    let daemon = start_daemon(Launch {
        slot: 3,
        ..Launch::DEFAULT
    });
    let body = relay_a_call(&daemon, "io-uring-auto");
    assert_eq!(
        workers_by_io(&body),
        (2, 0),
        "both workers on io_uring:\n{body}"
    );
    let log = daemon.stop();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("media worker running") && l.contains("io=\"io_uring\""))
            .count(),
        2,
        "one line per worker saying it runs on io_uring:\n{log}"
    );
    assert_eq!(
        log.matches("registered_files=true").count(),
        2,
        "both rings have a registered file table:\n{log}"
    );
}

/// A kernel that refuses the rings a registered file table (before 5.19): the io_uring workers name
/// their sockets by descriptor and relay as well.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn without_registered_files_the_io_uring_workers_relay_by_descriptor() {
    if !kernel_offers_io_uring() {
        return;
    }
    let daemon = start_daemon(Launch {
        slot: 5,
        without_registered_files: true,
        ..Launch::DEFAULT
    });
    let body = relay_a_call(&daemon, "no-registered-files");
    assert_eq!(
        workers_by_io(&body),
        (2, 0),
        "both workers still on io_uring:\n{body}"
    );
    let log = daemon.stop();
    assert_eq!(
        log.matches("registered_files=false").count(),
        2,
        "both rings without a registered file table:\n{log}"
    );
}
