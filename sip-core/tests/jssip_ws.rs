//! Interop with a real SIP-over-WebSocket client: JsSIP, in Node.js, registers with digest authentication
//! and places a call through an endpoint listening on WS and on WSS (RFC 7118), hangs up and unregisters.
//!
//! The endpoint acts as registrar and UAS. It checks that every request arrives over the WebSocket transport
//! (Via and source), on one flow, that its responses reach JsSIP, and that its own request within the dialog
//! (an INFO to a Contact JsSIP made up under `.invalid`) reaches JsSIP over that same flow.
//!
//! Needs `node` and `npm` (the JsSIP client lives in `tests/jssip/`, see its README): without them the tests
//! are skipped with a message, except under `CI=true`, where they fail.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tandem_sip_core::auth::{Algorithm, DigestServer, ha1};
use tandem_sip_core::endpoint::{DialogEnd, Endpoint, ServerTransaction};
use tandem_sip_core::header::Expires;
use tandem_sip_core::transport::tls::DevCertificate;
use tandem_sip_core::{Contact, Method, StatusCode, Target, Transport, TransportKind};

const REALM: &str = "tandem.test";
const USER: &str = "alice";
const PASSWORD: &str = "wonderland";
const CALLEE: &str = "echo";
/// The longest registration the registrar grants.
const MAX_EXPIRES: u32 = 3600;
const ANSWER: &str = "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=tandem\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const INFO_TYPE: &str = "application/x-tandem-check";
const INFO_BODY: &str = "same flow";
/// What the client is given before it gives up (it exits nonzero then); the test waits a little longer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// One request as the endpoint received it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    via: Option<Transport>,
    source: Target,
    /// The Expires a REGISTER asked for (Contact parameter, else header).
    expires: Option<u32>,
    authenticated: bool,
}

/// What the registrar+UAS saw and did, for the assertions once the client has exited.
#[derive(Debug, Default)]
struct Log {
    requests: Vec<Seen>,
    acked: bool,
    info_status: Option<StatusCode>,
    call_end: Option<DialogEnd>,
    failures: Vec<String>,
}

type SharedLog = Arc<Mutex<Log>>;

fn record(log: &SharedLog, f: impl FnOnce(&mut Log)) {
    f(&mut log.lock().unwrap());
}

/// The registrar+UAS: answers REGISTER (after a digest challenge) and INVITE (100 by the endpoint, 180, 200
/// with SDP, then an INFO of its own within the dialog), until the client unregisters.
async fn serve(endpoint: Endpoint, log: SharedLog) {
    let digest = DigestServer::new(REALM, b"jssip interop test nonce secret!")
        .with_algorithms(&[Algorithm::Md5]);
    while let Some(tx) = endpoint.incoming().await {
        match tx.request().method() {
            Method::Register => {
                if register(tx, &digest, &log).await == Some(0) {
                    return;
                }
            }
            Method::Invite => {
                let endpoint = endpoint.clone();
                let log = log.clone();
                let digest = digest.clone();
                tokio::spawn(async move { answer(endpoint, tx, &digest, &log).await });
            }
            other => {
                let other = other.clone();
                record(&log, |l| l.failures.push(format!("unexpected {other:?}")));
                let mut tx = tx;
                let _ = tx.reply(StatusCode::NOT_IMPLEMENTED).await;
            }
        }
    }
}

fn seen(tx: &ServerTransaction, authenticated: bool) -> Seen {
    let request = tx.request();
    let contact_expires = request
        .headers()
        .contacts()
        .filter_map(Result::ok)
        .find_map(|c| c.expires());
    let header_expires = request
        .headers()
        .typed::<Expires>()
        .and_then(Result::ok)
        .map(|e| e.0);
    Seen {
        method: request.method().clone(),
        via: request
            .headers()
            .via()
            .and_then(Result::ok)
            .map(|v| v.transport().clone()),
        source: tx.source(),
        expires: contact_expires.or(header_expires),
        authenticated,
    }
}

/// Check the credentials (answering 401 when missing or wrong); the authenticated user, or `None`.
async fn authenticate(
    tx: &mut ServerTransaction,
    digest: &DigestServer,
    log: &SharedLog,
) -> Option<String> {
    let user = tx
        .authenticate(digest, |user, algorithm| {
            (user == USER).then(|| ha1(algorithm, user, REALM, PASSWORD))
        })
        .await
        .ok()
        .flatten();
    record(log, |l| l.requests.push(seen(tx, user.is_some())));
    user
}

/// Answer a REGISTER; the granted expiry once authenticated.
async fn register(
    mut tx: ServerTransaction,
    digest: &DigestServer,
    log: &SharedLog,
) -> Option<u32> {
    authenticate(&mut tx, digest, log).await?;
    let asked = log.lock().unwrap().requests.last()?.expires;
    let granted = asked.unwrap_or(MAX_EXPIRES).min(MAX_EXPIRES);
    let mut ok = tx.response(StatusCode::OK);
    if granted > 0 {
        // The registrar returns the bindings it holds, here the one just registered (RFC 3261 §10.3 step 8).
        for contact in tx.request().headers().contacts().filter_map(Result::ok) {
            let Contact::Address(mut address) = contact else {
                continue;
            };
            address
                .params_mut()
                .set("expires", Some(&granted.to_string()));
            ok = ok.typed(&Contact::Address(address));
        }
    }
    let response = ok.build();
    if let Err(error) = tx.respond(response).await {
        record(log, |l| l.failures.push(format!("REGISTER 200: {error}")));
    }
    Some(granted)
}

/// Answer an INVITE with 180 and 200, send an INFO within the dialog, and wait for the caller's BYE.
async fn answer(
    endpoint: Endpoint,
    mut invite: ServerTransaction,
    digest: &DigestServer,
    log: &SharedLog,
) {
    if authenticate(&mut invite, digest, log).await.is_none() {
        return;
    }
    for status in [StatusCode::TRYING, StatusCode::RINGING] {
        if let Err(error) = invite.reply(status).await {
            record(log, |l| l.failures.push(format!("{status}: {error}")));
            return;
        }
    }
    let mut dialog = match endpoint.create_uas(invite, ANSWER).await {
        Ok(dialog) => dialog,
        Err(error) => {
            record(log, |l| l.failures.push(format!("200/ACK: {error}")));
            return;
        }
    };
    record(log, |l| l.acked = true);
    let info = async {
        dialog
            .request(Method::Info)
            .body(INFO_TYPE, INFO_BODY)
            .send()
            .await?
            .final_response()
            .await
    }
    .await;
    match info {
        Ok(response) => record(log, |l| l.info_status = Some(response.status())),
        Err(error) => record(log, |l| l.failures.push(format!("INFO: {error}"))),
    }
    let end = dialog.ended().await;
    record(log, |l| l.call_end = Some(end));
}

/// The client's directory, its npm packages installed (once, from the lock file); `None` when Node.js or npm
/// is missing and the test is to be skipped.
fn client_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jssip");
    for tool in ["node", "npm"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            let message =
                format!("`{tool}` was not found: the JsSIP interop tests need Node.js 20+ and npm");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
            // Straight to stderr, past the test harness's capture, so that the skip is seen.
            let _ = writeln!(std::io::stderr(), "SKIPPED: {message}");
            return None;
        }
    }
    install_packages(&dir);
    Some(dir)
}

/// `npm ci` when `node_modules` is missing. A lock file keeps concurrent test processes (nextest runs each test
/// in its own) from installing into the same directory at once.
fn install_packages(dir: &Path) {
    let lock = std::fs::File::create(Path::new(env!("CARGO_TARGET_TMPDIR")).join("jssip-npm.lock"))
        .expect("create the npm lock file");
    lock.lock().expect("lock the npm lock file");
    if dir.join("node_modules/jssip/package.json").exists()
        && dir.join("node_modules/ws/package.json").exists()
    {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("run npm ci");
    assert!(
        status.success(),
        "npm ci in {} failed: {status}",
        dir.display()
    );
}

struct ClientRun {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Run the client against `url` and wait for it (killing it if it outlives its own timeout by far).
async fn run_client(dir: &Path, url: &str, ca: Option<&Path>) -> ClientRun {
    let mut command = Command::new("node");
    command
        .current_dir(dir)
        .arg("register_and_call.mjs")
        .args([url, USER, REALM, "--password", PASSWORD, "--callee", CALLEE])
        .arg("--expect-info")
        .args(["--timeout-ms", &CLIENT_TIMEOUT.as_millis().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(ca) = ca {
        command.arg("--ca").arg(ca);
    }
    let mut child = command.spawn().expect("start node");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let limit = tokio::time::Instant::now() + CLIENT_TIMEOUT + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if tokio::time::Instant::now() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    ClientRun {
        success: status.is_some_and(|s| s.success()),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Start the endpoint (WS and WSS listeners), run JsSIP against `kind`, and check both sides.
async fn jssip_registers_and_calls_over(kind: TransportKind) {
    let Some(dir) = client_dir() else {
        return;
    };
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let certificate = DevCertificate::generate(&["localhost", "127.0.0.1"]).unwrap();
    let endpoint = Endpoint::builder()
        .bind_ws(loopback)
        .bind_wss(loopback)
        .tls_server(certificate.server_config().unwrap())
        .allow(Method::Register)
        .user("echo")
        .build()
        .await
        .unwrap();
    let addr = endpoint.local_addr(kind).unwrap();
    let (url, ca) = match kind {
        TransportKind::Wss => {
            let ca = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("jssip-dev-ca-{}.pem", addr.port()));
            std::fs::write(&ca, certificate.cert_pem()).unwrap();
            (format!("wss://{addr}"), Some(ca))
        }
        _ => (format!("ws://{addr}"), None),
    };

    let log = SharedLog::default();
    let server = tokio::spawn(serve(endpoint.clone(), log.clone()));
    let client = run_client(&dir, &url, ca.as_deref()).await;
    server.abort();
    let stats = endpoint.transports().stats();
    let log = log.lock().unwrap();

    let report = format!(
        "client stdout:\n{}\nclient stderr:\n{}\nendpoint saw: {:#?}\ntransport stats: {stats:?}",
        client.stdout, client.stderr, *log
    );
    eprintln!("{report}");
    assert!(client.success, "JsSIP did not finish\n{report}");
    assert!(log.failures.is_empty(), "{report}");
    for line in [
        "result: ok",
        "invite-responses: 401 100 180 200",
        "answered: 200 sdp=yes",
        "ack: sent",
        "bye: 200",
        "unregistered: 200",
        "connections: 1",
    ] {
        assert!(client.stdout.contains(line), "missing `{line}`\n{report}");
    }
    let info = format!("info: {INFO_TYPE} \"{INFO_BODY}\"");
    assert!(client.stdout.contains(&info), "missing `{info}`\n{report}");

    // REGISTER, INVITE and the final un-REGISTER, each challenged and then sent with credentials.
    let methods: Vec<(Method, bool)> = log
        .requests
        .iter()
        .map(|s| (s.method.clone(), s.authenticated))
        .collect();
    assert_eq!(
        methods,
        [
            (Method::Register, false),
            (Method::Register, true),
            (Method::Invite, false),
            (Method::Invite, true),
            (Method::Register, false),
            (Method::Register, true),
        ],
        "{report}"
    );
    let via = match kind {
        TransportKind::Wss => Transport::Wss,
        _ => Transport::Ws,
    };
    let flow = log.requests[0].source.flow;
    assert!(flow.is_some(), "{report}");
    for request in &log.requests {
        assert_eq!(request.via.as_ref(), Some(&via), "{report}");
        assert_eq!(request.source.transport, kind, "{report}");
        assert_eq!(request.source.flow, flow, "not on one flow\n{report}");
    }
    assert_eq!(log.requests[1].expires, Some(300), "{report}");
    assert_eq!(log.requests[5].expires, Some(0), "{report}");
    assert!(log.acked, "{report}");
    assert_eq!(log.info_status, Some(StatusCode::OK), "{report}");
    assert_eq!(log.call_end, Some(DialogEnd::RemoteBye), "{report}");
    // ACK and BYE came over the same connection too: JsSIP opened exactly one, and this endpoint never opens
    // WebSocket connections.
    assert_eq!(stats.connections_opened, 1, "{report}");
    assert_eq!(stats.handshakes_failed, 0, "{report}");
}

#[tokio::test]
async fn jssip_registers_and_calls_over_ws() {
    jssip_registers_and_calls_over(TransportKind::Ws).await;
}

#[tokio::test]
async fn jssip_registers_and_calls_over_wss_with_the_dev_certificate() {
    jssip_registers_and_calls_over(TransportKind::Wss).await;
}
