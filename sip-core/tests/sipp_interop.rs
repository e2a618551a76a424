//! Interoperability with SIPp (Debian package `sip-tester`): SIPp UAC → Tandem UAS and Tandem UAC → SIPp
//! UAS over UDP, TCP and TLS, with packet loss, and with digest authentication both ways.
//!
//! The Tandem side is the crate's `uas` and `uac` examples, run in this process on ephemeral ports; SIPp
//! runs as a child process with the scenarios in `tests/sipp/` and a global timeout, so every run is
//! bounded. Debian's SIPp is built without TLS: for TLS, `socat` carries SIPp's TCP over TLS (with the
//! development certificate written to a temporary directory).
//!
//! Without `sipp` (or `socat`) the tests print a loud SKIPPED, and fail when `CI=true`.

#[path = "../examples/uac.rs"]
#[allow(dead_code)]
mod uac;
#[path = "../examples/uas.rs"]
#[allow(dead_code)]
mod uas;

use clap::Parser;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tandem_sip_core::TransportKind;
use tandem_sip_core::endpoint::Endpoint;
use tandem_sip_core::transport::tls::DevCertificate;

/// SIPp's global bound on every run, in seconds.
const SIPP_TIMEOUT_SECS: u32 = 60;

/// Whether `program` is on the PATH; when it is not, say so loudly, and fail under CI.
fn available(program: &str, package: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    if found {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("`{program}` is missing: install the Debian package `{package}`");
    }
    eprintln!("\n*** SKIPPED: `{program}` is not installed (Debian package `{package}`) ***\n");
    false
}

fn have_sipp() -> bool {
    available("sipp", "sip-tester")
}

fn have_sipp_and_socat() -> bool {
    have_sipp() && available("socat", "socat")
}

/// A directory for SIPp's files and certificates, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("tandem-sipp-{}-{name}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scenario(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp");
    dir.join(name).to_string_lossy().into_owned()
}

/// A loopback port free for both UDP and TCP right now.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// What a SIPp run ended with.
#[derive(Debug)]
struct SippOutcome {
    code: Option<i32>,
    successful: u64,
    failed: u64,
    errors: String,
}

impl SippOutcome {
    /// SIPp's exit code 0 means every call succeeded.
    fn assert_all_succeeded(&self, calls: u64) {
        let errors = &self.errors;
        assert_eq!(self.code, Some(0), "SIPp failed: {self:?}\n{errors}");
        assert_eq!((self.successful, self.failed), (calls, 0), "{errors}");
    }
}

/// A SIPp process with its scratch directory.
struct Sipp {
    child: Child,
    scratch: Scratch,
}

impl Sipp {
    /// Start SIPp with `args`, bounded by the global timeout, writing its screen and errors to scratch files.
    fn start(name: &str, args: &[&str]) -> Sipp {
        let scratch = Scratch::new(name);
        let screen = scratch.path("screen.txt");
        let errors = scratch.path("errors.txt");
        let timeout = format!("{SIPP_TIMEOUT_SECS}s");
        let child = Command::new("sipp")
            .args(args)
            .args(["-nostdin", "-timeout", &timeout, "-timeout_error"])
            .args(["-trace_screen", "-screen_file"])
            .arg(&screen)
            .args(["-trace_err", "-error_file"])
            .arg(&errors)
            .current_dir(&scratch.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sipp starts");
        Sipp { child, scratch }
    }

    /// Wait for SIPp to exit (off the async runtime) and read its counts.
    async fn finish(self) -> SippOutcome {
        let Sipp { child, scratch } = self;
        let output = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let screen = std::fs::read_to_string(scratch.path("screen.txt")).unwrap_or_default();
        let mut errors = std::fs::read_to_string(scratch.path("errors.txt")).unwrap_or_default();
        errors.push_str(&String::from_utf8_lossy(&output.stderr));
        errors.truncate(4000);
        SippOutcome {
            code: output.status.code(),
            successful: count(&screen, "Successful call"),
            failed: count(&screen, "Failed call"),
            errors,
        }
    }
}

/// The cumulative column of a SIPp statistics screen line such as `  Successful call  |  0  |  20`.
fn count(screen: &str, label: &str) -> u64 {
    screen
        .lines()
        .filter(|line| line.trim_start().starts_with(label))
        .filter_map(|line| line.rsplit('|').next()?.trim().parse().ok())
        .next_back()
        .unwrap_or(0)
}

/// Wait until something listens on `port`: the port can no longer be bound. (Connecting to probe would
/// show SIPp a connection that carries no call, which it counts as a failed one.)
async fn wait_listening(port: u16, tcp: bool) {
    for _ in 0..200 {
        let up = match tcp {
            true => TcpListener::bind(("127.0.0.1", port)).is_err(),
            false => UdpSocket::bind(("127.0.0.1", port)).is_err(),
        };
        if up {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nothing listens on port {port}");
}

/// A `socat` bridge between a plain TCP side and a TLS side, stopped on drop.
struct Bridge(Child);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Bridge {
    /// Accept TCP on `listen` and carry it over TLS to `tls_server` (certificate not checked).
    fn tcp_to_tls(listen: u16, tls_server: SocketAddr) -> Bridge {
        Bridge::start(&[
            format!("TCP-LISTEN:{listen},bind=127.0.0.1,reuseaddr,fork"),
            format!("OPENSSL:{tls_server},verify=0"),
        ])
    }

    /// Accept TLS on `listen` with `cert`/`key` and carry it as TCP to `tcp_server`.
    fn tls_to_tcp(listen: u16, cert: &Path, key: &Path, tcp_server: u16) -> Bridge {
        Bridge::start(&[
            format!(
                "OPENSSL-LISTEN:{listen},bind=127.0.0.1,reuseaddr,fork,cert={},key={},verify=0",
                cert.display(),
                key.display()
            ),
            format!("TCP:127.0.0.1:{tcp_server}"),
        ])
    }

    /// Start the bridge `make` builds for a free port, and wait until it listens there. The port is free
    /// when picked but may be taken before socat binds it (tests run in parallel); socat then exits, and
    /// another port is tried.
    async fn listening(make: impl Fn(u16) -> Bridge) -> (u16, Bridge) {
        for _ in 0..5 {
            let port = free_port();
            let mut bridge = make(port);
            for _ in 0..200 {
                if TcpListener::bind(("127.0.0.1", port)).is_err() {
                    return (port, bridge);
                }
                if let Ok(Some(status)) = bridge.0.try_wait() {
                    eprintln!("socat on port {port} exited ({status}); trying another port");
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        panic!("socat does not listen on any of 5 ports");
    }

    fn start(args: &[String]) -> Bridge {
        let child = Command::new("socat")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat starts");
        Bridge(child)
    }
}

/// Start the example UAS with `args` (ephemeral ports: pass `127.0.0.1:0`).
async fn start_uas(args: &[&str]) -> Endpoint {
    let mut argv = vec!["uas"];
    argv.extend_from_slice(args);
    uas::start(&uas::Options::parse_from(argv)).await.unwrap()
}

/// Run the example UAC with `args` against `sipp`, and let SIPp finish before the UAC's endpoint (and its
/// connections) go: SIPp counts a call whose connection closes during its final wait as failed.
async fn run_uac(args: &[&str], sipp: Sipp) -> (uac::Report, SippOutcome) {
    let mut argv = vec!["uac"];
    argv.extend_from_slice(args);
    let options = uac::Options::parse_from(argv);
    let endpoint = uac::endpoint(&options).await.unwrap();
    let report = uac::run_on(&endpoint, &options).await.unwrap();
    let outcome = sipp.finish().await;
    drop(endpoint);
    (report, outcome)
}

fn addr(endpoint: &Endpoint, kind: TransportKind) -> String {
    endpoint.local_addr(kind).unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------------
// SIPp UAC → Tandem UAS

async fn sipp_calls_uas(transport: &str, uas_args: &[&str], calls: u64) {
    let uas = start_uas(uas_args).await;
    let kind = if transport == "u1" {
        TransportKind::Udp
    } else {
        TransportKind::Tcp
    };
    let calls_text = calls.to_string();
    let outcome = Sipp::start(
        "uac",
        &[
            "-sf",
            &scenario("invite_uac.xml"),
            &addr(&uas, kind),
            "-t",
            transport,
            "-s",
            "uas",
            "-m",
            &calls_text,
            "-r",
            "20",
        ],
    )
    .finish()
    .await;
    outcome.assert_all_succeeded(calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_calls_tandem_uas_over_udp() {
    if have_sipp() {
        sipp_calls_uas("u1", &["--udp", "127.0.0.1:0"], 20).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_calls_tandem_uas_over_tcp() {
    if have_sipp() {
        sipp_calls_uas("t1", &["--tcp", "127.0.0.1:0"], 20).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_calls_tandem_uas_over_tls() {
    if !have_sipp_and_socat() {
        return;
    }
    let uas = start_uas(&["--tls", "127.0.0.1:0"]).await;
    let tls_server = uas.local_addr(TransportKind::Tls).unwrap();
    let (port, _bridge) = Bridge::listening(|port| Bridge::tcp_to_tls(port, tls_server)).await;
    let remote = format!("127.0.0.1:{port}");
    let outcome = Sipp::start(
        "uac-tls",
        &[
            "-sf",
            &scenario("invite_uac.xml"),
            &remote,
            "-t",
            "t1",
            "-s",
            "uas",
            "-m",
            "10",
        ],
    )
    .finish()
    .await;
    outcome.assert_all_succeeded(10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_options_get_200() {
    if !have_sipp() {
        return;
    }
    let uas = start_uas(&["--udp", "127.0.0.1:0"]).await;
    let outcome = Sipp::start(
        "options",
        &[
            "-sf",
            &scenario("options_uac.xml"),
            &addr(&uas, TransportKind::Udp),
            "-m",
            "50",
            "-r",
            "50",
        ],
    )
    .finish()
    .await;
    outcome.assert_all_succeeded(50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_losing_10_percent_of_messages_completes_every_call() {
    if !have_sipp() {
        return;
    }
    let uas = start_uas(&["--udp", "127.0.0.1:0"]).await;
    let outcome = Sipp::start(
        "lossy-uac",
        &[
            "-sf",
            &scenario("invite_uac.xml"),
            &addr(&uas, TransportKind::Udp),
            "-s",
            "uas",
            "-lost",
            "10",
            "-m",
            "40",
            "-r",
            "10",
        ],
    )
    .finish()
    .await;
    outcome.assert_all_succeeded(40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_registers_and_calls_through_digest_challenges() {
    if !have_sipp() {
        return;
    }
    // SIPp answers only the first challenge, and only MD5.
    let uas = start_uas(&[
        "--udp",
        "127.0.0.1:0",
        "--auth",
        "alice:secret",
        "--algorithms",
        "MD5",
    ])
    .await;
    let remote = addr(&uas, TransportKind::Udp);
    let register = Sipp::start(
        "register-auth",
        &[
            "-sf",
            &scenario("register_auth_uac.xml"),
            &remote,
            "-s",
            "alice",
            "-au",
            "alice",
            "-ap",
            "secret",
            "-m",
            "5",
        ],
    )
    .finish()
    .await;
    register.assert_all_succeeded(5);
    // SIPp's digest-uri defaults to the remote address; it must name the Request-URI (RFC 7616 §3.4.6).
    let auth_uri = format!("bob@{remote}");
    let invite = Sipp::start(
        "invite-auth",
        &[
            "-sf",
            &scenario("invite_auth_uac.xml"),
            &remote,
            "-s",
            "bob",
            "-au",
            "alice",
            "-ap",
            "secret",
            "-auth_uri",
            &auth_uri,
            "-m",
            "5",
        ],
    )
    .finish()
    .await;
    invite.assert_all_succeeded(5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_with_a_wrong_password_is_refused() {
    if !have_sipp() {
        return;
    }
    let uas = start_uas(&[
        "--udp",
        "127.0.0.1:0",
        "--auth",
        "alice:secret",
        "--algorithms",
        "MD5",
    ])
    .await;
    let outcome = Sipp::start(
        "register-wrong",
        &[
            "-sf",
            &scenario("register_auth_uac.xml"),
            &addr(&uas, TransportKind::Udp),
            "-s",
            "alice",
            "-au",
            "alice",
            "-ap",
            "wrong",
            "-m",
            "2",
            "-recv_timeout",
            "5s",
        ],
    )
    .finish()
    .await;
    assert_ne!(outcome.code, Some(0), "{outcome:#?}");
    assert_eq!(outcome.successful, 0, "{outcome:#?}");
}

// ---------------------------------------------------------------------------------------------------
// Tandem UAC → SIPp UAS

/// Start a SIPp UAS on a free port with `scenario_file`, `calls` calls and `extra` arguments.
async fn sipp_uas(
    name: &str,
    scenario_file: &str,
    transport: &str,
    calls: u64,
    extra: &[&str],
) -> (Sipp, u16) {
    let port = free_port();
    let port_text = port.to_string();
    let calls_text = calls.to_string();
    let mut args = vec![
        "-sf",
        scenario_file,
        "-i",
        "127.0.0.1",
        "-p",
        &port_text,
        "-t",
        transport,
        "-m",
        &calls_text,
    ];
    args.extend_from_slice(extra);
    let sipp = Sipp::start(name, &args);
    wait_listening(port, transport == "t1").await;
    (sipp, port)
}

async fn uac_calls_sipp(transport: &str, uri_transport: &str, calls: u64) {
    let (sipp, port) = sipp_uas("uas", &scenario("invite_uas.xml"), transport, calls, &[]).await;
    let target = format!("sip:service@127.0.0.1:{port}{uri_transport}");
    let calls_text = calls.to_string();
    let args = [
        "--target",
        &target,
        "--calls",
        &calls_text,
        "--concurrency",
        "4",
    ];
    let (report, outcome) = run_uac(&args, sipp).await;
    assert_eq!((report.ok, report.failed), (calls as usize, 0));
    outcome.assert_all_succeeded(calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tandem_uac_calls_sipp_uas_over_udp() {
    if have_sipp() {
        uac_calls_sipp("u1", "", 20).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tandem_uac_calls_sipp_uas_over_tcp() {
    if have_sipp() {
        uac_calls_sipp("t1", ";transport=tcp", 20).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tandem_uac_calls_sipp_uas_over_tls() {
    if !have_sipp_and_socat() {
        return;
    }
    let (sipp, port) = sipp_uas("uas-tls", &scenario("invite_uas.xml"), "t1", 10, &[]).await;
    let scratch = Scratch::new("cert");
    let cert = DevCertificate::generate(&["localhost", "127.0.0.1"]).unwrap();
    let (cert_file, key_file) = (scratch.path("cert.pem"), scratch.path("key.pem"));
    std::fs::write(&cert_file, cert.cert_pem()).unwrap();
    std::fs::write(&key_file, cert.key_pem()).unwrap();
    let (tls_port, _bridge) =
        Bridge::listening(|tls| Bridge::tls_to_tcp(tls, &cert_file, &key_file, port)).await;
    let target = format!("sip:service@127.0.0.1:{tls_port};transport=tls");
    let ca = cert_file.to_string_lossy().into_owned();
    let args = [
        "--target",
        &target,
        "--calls",
        "10",
        "--concurrency",
        "2",
        "--ca",
        &ca,
    ];
    let (report, outcome) = run_uac(&args, sipp).await;
    assert_eq!((report.ok, report.failed), (10, 0));
    outcome.assert_all_succeeded(10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tandem_uac_completes_every_call_with_a_sipp_uas_losing_10_percent() {
    if !have_sipp() {
        return;
    }
    // Loss on the INVITEs and BYEs SIPp receives and the 200s it sends; see the scenario for why not all.
    let (sipp, port) = sipp_uas(
        "lossy-uas",
        &scenario("invite_uas_lossy.xml"),
        "u1",
        30,
        &[],
    )
    .await;
    let target = format!("sip:service@127.0.0.1:{port}");
    let args = ["--target", &target, "--calls", "30", "--concurrency", "5"];
    let (report, outcome) = run_uac(&args, sipp).await;
    assert_eq!((report.ok, report.failed), (30, 0));
    outcome.assert_all_succeeded(30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tandem_uac_answers_sipp_digest_challenges_for_register_and_invite() {
    if !have_sipp() {
        return;
    }
    let (sipp, port) = sipp_uas(
        "register-challenge",
        &scenario("register_challenge_uas.xml"),
        "u1",
        5,
        &[],
    )
    .await;
    let target = format!("sip:registrar@127.0.0.1:{port}");
    let creds = ["--user", "alice", "--password", "secret"];
    let mut args = vec!["--target", target.as_str(), "--register", "5"];
    args.extend_from_slice(&creds);
    let (report, outcome) = run_uac(&args, sipp).await;
    assert_eq!((report.ok, report.failed), (5, 0));
    outcome.assert_all_succeeded(5);

    let (sipp, port) = sipp_uas(
        "invite-challenge",
        &scenario("invite_challenge_uas.xml"),
        "u1",
        5,
        &[],
    )
    .await;
    let target = format!("sip:bob@127.0.0.1:{port}");
    let mut args = vec![
        "--target",
        target.as_str(),
        "--calls",
        "5",
        "--concurrency",
        "2",
    ];
    args.extend_from_slice(&creds);
    let (report, outcome) = run_uac(&args, sipp).await;
    assert_eq!((report.ok, report.failed), (5, 0));
    outcome.assert_all_succeeded(5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tandem_uac_with_a_wrong_password_fails_the_sipp_challenge() {
    if !have_sipp() {
        return;
    }
    let (sipp, port) = sipp_uas(
        "register-wrong",
        &scenario("register_challenge_uas.xml"),
        "u1",
        2,
        &[],
    )
    .await;
    let target = format!("sip:registrar@127.0.0.1:{port}");
    let args = [
        "--target",
        &target,
        "--register",
        "2",
        "--user",
        "alice",
        "--password",
        "wrong",
    ];
    let (report, outcome) = run_uac(&args, sipp).await;
    assert_eq!((report.ok, report.failed), (0, 2));
    assert_ne!(outcome.code, Some(0), "{outcome:#?}");
}
