//! A real browser through the relay: headless Chromium (the Debian package, driven by `playwright-core`,
//! see `tests/browser/`) opens an RTCPeerConnection with its fake microphone and sends its offer to a small
//! HTTP signaling server in this test; the offer goes through media-bridge to a plain RTP/AVP (or SDES
//! RTP/SAVP) endpoint in the test, a UDP socket that answers with PCMU and telephone-event. Audio flows
//! both ways through `MediaRelay` (ICE-lite, DTLS-SRTP, rtcp-mux towards the browser), then the page sends
//! an RFC 4733 digit with RTCDTMFSender. Controlled in-process through [`Relay`] and over NG.
//!
//! Needs `node`, `npm` and `/usr/bin/chromium` (or `$CHROMIUM`): without them the tests are skipped with a
//! message, except under `CI=true`, where they fail.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tandem_media_bridge::dtls::{DtlsCertificate, DtlsConfig};
use tandem_media_bridge::ng::bencode::{self, Dict, Value};
use tandem_media_bridge::ng::{Frame, NgServer, NgServerConfig, encode_frame};
use tandem_media_bridge::session::{
    AnswerRequest, DtlsMode, IceMode, MediaOptions, OfferRequest, RtcpMuxMode, TransportProtocol,
};
use tandem_media_bridge::{DataPlaneConfig, DropReason, MediaRelay, Relay, RelayConfig};
use tandem_rtp_core::SessionDescription;
use tandem_rtp_core::g711;
use tandem_rtp_core::rtp::RtpPacket;
use tandem_rtp_core::sdes::Crypto;
use tandem_rtp_core::sdp::Attribute;
use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};
use tandem_rtp_core::telephone_event::{DtmfDigit, decode_events};
use tandem_rtp_core::tone::{Cadence, Tone};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The digit the page sends with RTCDTMFSender.
const DIGIT: char = '7';
/// The telephone-event payload type the plain endpoint answers with (Chromium numbers it 126).
const PHONE_EVENT_PT: u8 = 101;
/// Bound on the whole browser run (launch, call, DTMF).
const BROWSER_BOUND: Duration = Duration::from_secs(120);

#[test]
fn chromium_to_plain_rtp_through_the_in_process_relay() {
    browser_call(Case::new(Control::InProcess, PlainLeg::Avp));
}

#[test]
fn chromium_to_sdes_srtp_through_the_in_process_relay() {
    browser_call(Case::new(Control::InProcess, PlainLeg::Savp));
}

#[test]
fn chromium_to_plain_rtp_through_ng_with_kamailio_flags() {
    browser_call(Case::new(Control::Ng, PlainLeg::Avp));
}

/// The relay answers `a=setup:active`: it is the DTLS client and Chromium the server.
#[test]
fn chromium_as_dtls_server_when_the_relay_answers_active() {
    let mut case = Case::new(Control::InProcess, PlainLeg::Avp);
    case.dtls = DtlsMode::Active;
    browser_call(case);
}

/// The browser stops sending media for four times the relay's consent timeout: what it still sends (its
/// connectivity checks every ~2.5 s, and RTCP) keeps the ICE-lite leg's consent, the relay answers every
/// check, Chromium never sees it go idle, and media resumes.
#[test]
fn a_silent_browser_stays_connected_past_the_relays_consent_timeout() {
    let mut case = Case::new(Control::InProcess, PlainLeg::Avp);
    case.consent_timeout = Some(Duration::from_secs(5));
    case.quiet = Duration::from_secs(20);
    browser_call(case);
}

/// After audio flows, the page restarts ICE (`restartIce()` and a new offer, a re-INVITE through the relay):
/// the relay answers with new credentials, Chromium selects a new pair, and media keeps flowing both ways.
#[test]
fn an_ice_restart_from_the_browser_keeps_media_flowing() {
    let mut case = Case::new(Control::InProcess, PlainLeg::Avp);
    case.restart = true;
    browser_call(case);
}

/// The other direction: the plain endpoint calls the browser. The relay turns the phone's RTP/AVP offer into
/// a WebRTC offer (ICE-lite, `a=setup:actpass`, rtcp-mux) that Chromium accepts, and Chromium's answer
/// (`a=setup:active`) makes the relay the DTLS server.
#[test]
fn a_plain_rtp_caller_reaches_chromium_through_the_relay() {
    let mut case = Case::new(Control::InProcess, PlainLeg::Avp);
    case.incoming = true;
    browser_call(case);
}

/// One browser call.
#[derive(Debug, Clone, Copy)]
struct Case {
    control: Control,
    leg: PlainLeg,
    /// The DTLS role the relay takes towards the browser (in-process control).
    dtls: DtlsMode,
    /// The relay's ICE consent timeout, when not the default.
    consent_timeout: Option<Duration>,
    /// How long the browser sends no media (its track replaced by none) before the digit.
    quiet: Duration,
    /// Whether the page restarts ICE with a new offer once audio flows.
    restart: bool,
    /// Whether the plain endpoint makes the offer (the browser answers).
    incoming: bool,
}

impl Case {
    fn new(control: Control, leg: PlainLeg) -> Self {
        Case {
            control,
            leg,
            dtls: DtlsMode::Default,
            consent_timeout: None,
            quiet: Duration::ZERO,
            restart: false,
            incoming: false,
        }
    }
}

/// How the signaling server talks to the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    InProcess,
    Ng,
}

/// The profile of the plain endpoint's leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlainLeg {
    Avp,
    Savp,
}

impl PlainLeg {
    fn protocol(self) -> &'static str {
        match self {
            PlainLeg::Avp => "RTP/AVP",
            PlainLeg::Savp => "RTP/SAVP",
        }
    }
}

fn browser_call(case: Case) {
    let Case { control, leg, .. } = case;
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let dtls = DtlsConfig::new(DtlsCertificate::generate().expect("certificate")).expect("DTLS");
    let mut config = RelayConfig::new(LOCALHOST)
        .with_ports(free_port_range(8))
        .with_fingerprint(dtls.certificate().fingerprint().clone());
    if let Some(timeout) = case.consent_timeout {
        config.ice.consent_timeout = timeout;
    }
    let relay = MediaRelay::start(
        config,
        DataPlaneConfig::new()
            .with_workers(1)
            .with_bind(LOCALHOST)
            .with_dtls(dtls),
    )
    .expect("start the relay");

    let phone = Phone::bind();
    let phone_rtp = phone.rtp.local_addr().expect("phone address");
    let (setup_tx, setup_rx) = mpsc::channel();
    let finish = Arc::new(AtomicBool::new(false));
    let phone_thread = {
        let finish = Arc::clone(&finish);
        let bound = BROWSER_BOUND + case.quiet + Duration::from_secs(10);
        std::thread::spawn(move || phone.run(&setup_rx, &finish, bound))
    };

    let offers = Arc::new(AtomicUsize::new(0));
    let signaling = Signaling {
        offers: Arc::clone(&offers),
        leg,
        dtls: case.dtls,
        phone_rtp,
        setup: Mutex::new(Some(setup_tx)),
        control: match control {
            Control::InProcess => Route::InProcess(Arc::clone(relay.relay())),
            Control::Ng => Route::Ng(start_ng_server(&relay)),
        },
    };
    let server = SignalingServer::start(signaling);

    let outcome = tools.run(
        &format!("http://{}/", server.address),
        DIGIT,
        case.quiet,
        &[(case.restart, "restart"), (case.incoming, "incoming")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, flag)| *flag)
            .collect::<Vec<_>>()
            .join(","),
    );
    finish.store(true, Ordering::SeqCst);
    let heard = phone_thread.join().expect("the phone thread");
    relay.sync().expect("relay sync");
    let stats = relay_stats(&relay);
    let browser_unexpected = browser_leg_drops(&relay, DropReason::Unexpected);
    server.stop();

    let result = match outcome {
        Ok(result) => result,
        Err(failure) => panic!("{failure}\nphone: {heard:?}\nrelay: {stats}"),
    };
    let inbound = number(&result, "inbound");
    let outbound = number(&result, "outbound");
    eprintln!(
        "{control:?}/{leg:?}: Chromium {} selected {} (DTLS {}, SRTP {}): inbound {inbound} ({}), outbound \
         {outbound} ({}); phone got {} PCMU packets (peak {}, {} loud), {} telephone-event packets {:?}, \
         {} RTCP; relay: {stats}",
        text(&result, "browserVersion"),
        text(&result, "selectedPair"),
        text(&result, "dtlsCipher"),
        text(&result, "srtpCipher"),
        text(&result, "inboundCodec"),
        text(&result, "outboundCodec"),
        heard.audio_packets,
        heard.peak,
        heard.loud_packets,
        heard.event_packets,
        heard.digits,
        heard.rtcp_packets,
    );
    assert!(inbound > 100, "browser received {inbound} audio packets");
    assert!(outbound > 100, "browser sent {outbound} audio packets");
    assert_eq!(text(&result, "inboundCodec"), "audio/PCMU");
    assert_eq!(text(&result, "outboundCodec"), "audio/PCMU");
    assert_eq!(heard.undecryptable, 0, "phone: {heard:?}");
    assert!(
        heard.audio_packets > 100,
        "the phone got {} PCMU packets from the browser: {heard:?}",
        heard.audio_packets
    );
    // Chromium's fake microphone beeps: the decoded G.711 is not all silence.
    assert!(
        heard.loud_packets > 0,
        "the browser's audio decoded as silence: {heard:?}"
    );
    let digit = DtmfDigit::from_char(DIGIT).expect("a DTMF digit");
    assert!(
        heard.digits.contains(&digit),
        "telephone-event for {DIGIT} not received: {heard:?}"
    );
    assert!(heard.digit_ended, "no end packet for the digit: {heard:?}");
    assert!(
        heard.digits.iter().all(|d| *d == digit),
        "other digits: {heard:?}"
    );
    // The phone's RTCP (own port) reaches the browser as SRTCP on the muxed port.
    assert!(
        number(&result, "remoteOutboundReports") > 0,
        "no RTCP sender report of the phone reached the browser ({} sent)",
        heard.sent_reports
    );
    if case.restart {
        let restart = &result["restart"];
        eprintln!("ICE restart: {restart}");
        let field = |k: &str| restart[k].as_str().unwrap_or_default().to_owned();
        assert_ne!(
            field("browserUfragBefore"),
            field("browserUfragAfter"),
            "{restart}"
        );
        assert_ne!(
            field("relayUfragBefore"),
            field("relayUfragAfter"),
            "the relay kept its credentials on an ICE restart: {restart}"
        );
        assert_ne!(
            field("pairBefore"),
            field("pairAfter"),
            "no new pair: {restart}"
        );
        assert_eq!(offers.load(Ordering::SeqCst), 2);
    }
    if case.incoming {
        assert_eq!(offers.load(Ordering::SeqCst), 1, "the phone's one offer");
        let remote = text(&result, "remote");
        assert!(
            remote.contains("a=ice-lite") && remote.contains("a=setup:actpass"),
            "{remote}"
        );
        let local = text(&result, "local");
        assert!(local.contains("a=setup:active"), "{local}");
        // Chromium starts DTLS as soon as ICE connects, before its answer reaches the relay: the relay takes
        // its ClientHello instead of dropping it and waiting for a retransmission.
        assert_eq!(browser_unexpected, 0, "DTLS or STUN dropped: {stats}");
    }
    if !case.quiet.is_zero() {
        let quiet = &result["quiet"];
        eprintln!("quiet period: {quiet}; events {}", result["events"]);
        let events = result["events"].as_array().cloned().unwrap_or_default();
        assert!(
            !events
                .iter()
                .filter_map(|e| e.as_str())
                .any(|e| e.ends_with("disconnected") || e.ends_with("failed")),
            "Chromium saw the relay go away while it sent no media: {events:?}"
        );
        assert_eq!(quiet["connectionAfter"].as_str(), Some("connected"));
        // The relay answered the browser's checks all along: its consent never expired.
        let checks = quiet["checksSent"].as_u64().unwrap_or(0);
        let answered = quiet["checkResponses"].as_u64().unwrap_or(0);
        assert!(
            checks >= 3 && answered + 1 >= checks,
            "the relay stopped answering a silent browser's checks: {quiet}"
        );
        let before = quiet["outboundBefore"].as_u64().unwrap_or(u64::MAX);
        let after = quiet["outboundAfter"].as_u64().unwrap_or(0);
        assert!(after <= before + 5, "the browser kept sending: {quiet}");
        let heard_during = quiet["inboundAfter"]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(quiet["inboundBefore"].as_u64().unwrap_or(0));
        assert!(
            heard_during > 100,
            "the relay stopped sending to a silent browser: {quiet}"
        );
        assert!(
            heard.audio_packets > before + 25,
            "the browser's media did not reach the phone after the quiet period: {heard:?} {quiet}"
        );
    }
}

/// Packets dropped for `reason` on the browser's leg.
fn browser_leg_drops(relay: &MediaRelay, reason: DropReason) -> u64 {
    let ids: Vec<_> = {
        let control = relay.relay().lock().expect("relay lock");
        control.query(CALL_ID).map_or_else(
            |_| Vec::new(),
            |call| {
                call.legs
                    .iter()
                    .filter(|leg| leg.tag.as_deref() == Some(BROWSER_TAG))
                    .flat_map(|leg| leg.media.iter().map(|m| m.id))
                    .collect()
            },
        )
    };
    ids.into_iter()
        .filter_map(|id| relay.stream_stats(id))
        .map(|s| s.dropped(reason))
        .sum()
}

/// The relay's per-stream packet statistics, for messages.
fn relay_stats(relay: &MediaRelay) -> String {
    let ids: Vec<_> = {
        let control = relay.relay().lock().expect("relay lock");
        control
            .call_ids()
            .filter_map(|call| control.query(call).ok())
            .flat_map(|stats| {
                stats
                    .legs
                    .iter()
                    .flat_map(|leg| leg.media.iter().map(|m| m.id))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let mut out = String::new();
    for id in ids {
        if let Some(s) = relay.stream_stats(id) {
            let drops: Vec<_> = DropReason::ALL
                .into_iter()
                .filter(|r| s.dropped(*r) > 0)
                .map(|r| format!("{r:?}={}", s.dropped(r)))
                .collect();
            out.push_str(&format!(
                "[{id}: rtp in {} rtcp in {} drops {drops:?}] ",
                s.traffic.rtp.packets, s.traffic.rtcp.packets
            ));
        }
    }
    out
}

fn number(result: &serde_json::Value, key: &str) -> u64 {
    result[key].as_u64().unwrap_or(0)
}

fn text<'a>(result: &'a serde_json::Value, key: &str) -> &'a str {
    result[key].as_str().unwrap_or("?")
}

// ---------------------------------------------------------------------------------------------------------
// The browser: node + playwright-core + Chromium.

struct BrowserTools {
    dir: PathBuf,
    chromium: PathBuf,
}

impl BrowserTools {
    /// Node.js, npm and Chromium, with the driver's npm packages installed; `None` (skip) when one is missing
    /// outside CI.
    fn find() -> Option<Self> {
        let chromium = std::env::var_os("CHROMIUM")
            .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
        if !chromium.exists() {
            return skip(&format!(
                "{} was not found: the browser tests need the Debian package `chromium`",
                chromium.display()
            ));
        }
        for tool in ["node", "npm"] {
            let found = Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !found {
                return skip(&format!(
                    "`{tool}` was not found: the browser tests need Node.js 20+ and npm"
                ));
            }
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
        install_packages(&dir);
        Some(BrowserTools { dir, chromium })
    }

    /// Runs the page's call in Chromium; the page's result, or what went wrong with node's output.
    fn run(
        &self,
        url: &str,
        digit: char,
        quiet: Duration,
        flags: &str,
    ) -> Result<serde_json::Value, String> {
        let mut command = Command::new("node");
        command
            .arg(self.dir.join("drive.mjs"))
            .arg(url)
            .arg(digit.to_string())
            .arg(quiet.as_millis().to_string())
            .arg(flags)
            .current_dir(&self.dir)
            .env("CHROMIUM", &self.chromium)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that Chromium goes with node whatever happens.
            .process_group(0);
        let child = command.spawn().map_err(|e| format!("spawn node: {e}"))?;
        let mut guard = ProcessGroup(child);
        let stdout = drain(guard.0.stdout.take());
        let stderr = drain(guard.0.stderr.take());
        let deadline = Instant::now() + BROWSER_BOUND + quiet;
        let status = loop {
            match guard.0.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(None) | Err(_) => break None,
            }
        };
        drop(guard);
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        eprintln!("--- node/Chromium log ---\n{stderr}--- end ---");
        let Some(status) = status else {
            return Err(format!(
                "the browser run did not end within {BROWSER_BOUND:?}\n{stderr}"
            ));
        };
        if !status.success() {
            return Err(format!("drive.mjs failed ({status}):\n{stderr}"));
        }
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .ok_or_else(|| format!("no result from drive.mjs; stdout: {stdout}\n{stderr}"))?;
        serde_json::from_str(line).map_err(|e| format!("unreadable result {line}: {e}"))
    }
}

/// Kills the whole process group (node and the browser it launched) when dropped.
struct ProcessGroup(Child);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            // SAFETY: kill(2) with a negative pid signals the group that `process_group(0)` created for
            // this child; it touches no memory.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = self.0.wait();
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

fn skip<T>(message: &str) -> Option<T> {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    eprintln!("SKIPPED: {message}");
    None
}

/// `npm ci` when `node_modules` is missing. A lock file keeps concurrent test processes from installing at
/// once.
fn install_packages(dir: &Path) {
    let lock =
        std::fs::File::create(Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-npm.lock"))
            .expect("create the npm lock file");
    lock.lock().expect("lock the npm lock file");
    if dir
        .join("node_modules/playwright-core/package.json")
        .exists()
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

/// A free range of `count` ports (even start) for the relay's pool: every port bound once to check. Each
/// call in this process gets a range of its own (the relay binds its ports only when a call needs them, so a
/// probe alone would not keep two relays of parallel tests apart).
fn free_port_range(count: u16) -> std::ops::RangeInclusive<u16> {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Below Linux's ephemeral range, so that sockets bound to port 0 elsewhere do not take them.
    const FIRST: u16 = 20_000;
    const SLOTS: u16 = 12_000 / 16;
    let seed = (std::process::id() % u32::from(SLOTS)) as u16;
    for _ in 0..SLOTS {
        let slot = (seed + NEXT.fetch_add(1, Ordering::SeqCst)) % SLOTS;
        let base = FIRST + slot * 16;
        let probes: Vec<_> = (base..base + count)
            .map(|p| UdpSocket::bind((LOCALHOST, p)))
            .collect();
        if probes.iter().all(Result::is_ok) {
            return base..=base + count - 1;
        }
    }
    panic!("no free range of {count} UDP ports");
}

// ---------------------------------------------------------------------------------------------------------
// The plain endpoint: a SIP phone's media as a UDP socket pair.

/// What the phone needs once the relay's offer is known.
struct PhoneSetup {
    relay: SocketAddr,
    /// The relay's RTCP port for this leg.
    relay_rtcp: SocketAddr,
    /// SDES: (protect what we send, unprotect what the relay sends).
    srtp: Option<(SrtpContext, SrtpContext)>,
}

/// What the phone received.
#[derive(Debug, Default)]
struct Heard {
    audio_packets: u64,
    /// Largest decoded sample magnitude.
    peak: i32,
    /// PCMU packets with a sample louder than -30 dBFS.
    loud_packets: u64,
    other_packets: u64,
    event_packets: u64,
    digits: Vec<DtmfDigit>,
    digit_ended: bool,
    rtcp_packets: u64,
    undecryptable: u64,
    sent: u64,
    sent_reports: u64,
    setup_missing: bool,
}

struct Phone {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

impl Phone {
    fn bind() -> Self {
        for _ in 0..50 {
            let rtp = UdpSocket::bind((LOCALHOST, 0)).expect("bind");
            let Some(next) = rtp.local_addr().expect("address").port().checked_add(1) else {
                continue;
            };
            if let Ok(rtcp) = UdpSocket::bind((LOCALHOST, next)) {
                rtcp.set_nonblocking(true).expect("nonblocking");
                return Phone { rtp, rtcp };
            }
        }
        panic!("no two consecutive free ports");
    }

    /// Sends a paced 440 Hz PCMU tone to the relay and reads what comes back until told to finish (then
    /// until the digit's end packet, or a short bound).
    fn run(self, setup: &Receiver<PhoneSetup>, finish: &AtomicBool, bound: Duration) -> Heard {
        let mut heard = Heard::default();
        // Until the relay's SDP names its address, or the browser run is over without it.
        let waiting_since = Instant::now();
        let PhoneSetup {
            relay,
            relay_rtcp,
            mut srtp,
        } = loop {
            match setup.recv_timeout(Duration::from_millis(100)) {
                Ok(setup) => break setup,
                Err(mpsc::RecvTimeoutError::Timeout)
                    if !finish.load(Ordering::SeqCst) && waiting_since.elapsed() < bound => {}
                Err(_) => {
                    heard.setup_missing = true;
                    return heard;
                }
            }
        };
        let mut tone = Tone::single(440.0, -10.0, Cadence::continuous());
        let mut pcm = [0i16; 160];
        let mut decoded = [0i16; 1024];
        let mut buf = [0u8; 2048];
        let ssrc = 0x5eed_0001_u32;
        let mut seq = 0u16;
        let mut next_send = Instant::now();
        let deadline = Instant::now() + bound;
        let mut next_report = Instant::now();
        let mut finish_by = None;
        loop {
            let now = Instant::now();
            if now >= deadline || finish_by.is_some_and(|f| now >= f) {
                break;
            }
            if finish_by.is_none() && finish.load(Ordering::SeqCst) {
                finish_by = Some(now + Duration::from_secs(2));
            }
            if now >= next_send {
                tone.fill(&mut pcm);
                let mut packet = [0u8; 12 + 160 + 16];
                packet[0] = 0x80;
                packet[2..4].copy_from_slice(&seq.to_be_bytes());
                packet[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
                packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
                g711::ulaw_encode_slice(&pcm, &mut packet[12..172]);
                let len = match &mut srtp {
                    Some((protect, _)) => protect.protect_rtp(&mut packet, 172).expect("protect"),
                    None => 172,
                };
                if self.rtp.send_to(&packet[..len], relay).is_ok() {
                    heard.sent += 1;
                }
                seq = seq.wrapping_add(1);
                next_send += Duration::from_millis(20);
            }
            if now >= next_report {
                // An RTCP sender report from the RTCP port (rtcp-mux-demux on this side).
                let mut report = [0u8; 28 + 32];
                report[..4].copy_from_slice(&[0x80, 200, 0, 6]);
                report[4..8].copy_from_slice(&ssrc.to_be_bytes());
                report[8..12]
                    .copy_from_slice(&(3_900_000_000u32 + u32::from(seq) / 50).to_be_bytes());
                report[16..20].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
                report[20..24].copy_from_slice(&u32::from(seq).to_be_bytes());
                report[24..28].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
                let len = match &mut srtp {
                    Some((protect, _)) => protect.protect_rtcp(&mut report, 28).expect("protect"),
                    None => 28,
                };
                if self.rtcp.send_to(&report[..len], relay_rtcp).is_ok() {
                    heard.sent_reports += 1;
                }
                next_report += Duration::from_millis(500);
            }
            while let Ok((n, _)) = self.rtcp.recv_from(&mut buf) {
                if n > 0 {
                    heard.rtcp_packets += 1;
                }
            }
            let wait = next_send
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            self.rtp.set_read_timeout(Some(wait)).expect("timeout");
            let Ok((n, _)) = self.rtp.recv_from(&mut buf) else {
                continue;
            };
            let packet = &mut buf[..n];
            let len = match &mut srtp {
                Some((_, unprotect)) => match unprotect.unprotect_rtp(packet) {
                    Ok(len) => len,
                    Err(_) => {
                        heard.undecryptable += 1;
                        continue;
                    }
                },
                None => n,
            };
            let Ok(rtp) = RtpPacket::parse(&packet[..len]) else {
                heard.other_packets += 1;
                continue;
            };
            match rtp.payload_type() {
                0 => {
                    heard.audio_packets += 1;
                    let count = g711::ulaw_decode_slice(rtp.payload(), &mut decoded);
                    let peak = decoded[..count]
                        .iter()
                        .map(|s| i32::from(*s).abs())
                        .max()
                        .unwrap_or(0);
                    heard.peak = heard.peak.max(peak);
                    // -30 dBFS.
                    if peak > 1036 {
                        heard.loud_packets += 1;
                    }
                }
                PHONE_EVENT_PT => {
                    heard.event_packets += 1;
                    if let Ok(events) = decode_events(rtp.payload()) {
                        for event in events {
                            if let Some(digit) = event.digit()
                                && !heard.digits.contains(&digit)
                            {
                                heard.digits.push(digit);
                            }
                            heard.digit_ended |= event.end;
                        }
                    }
                }
                _ => heard.other_packets += 1,
            }
            if finish_by.is_some() && heard.digit_ended {
                break;
            }
        }
        heard
    }
}

// ---------------------------------------------------------------------------------------------------------
// Signaling: the page's offer through the relay to the phone and back.

enum Route {
    InProcess(Arc<Mutex<Relay>>),
    Ng(NgClient),
}

struct Signaling {
    /// Offers received so far.
    offers: Arc<AtomicUsize>,
    leg: PlainLeg,
    dtls: DtlsMode,
    phone_rtp: SocketAddr,
    setup: Mutex<Option<Sender<PhoneSetup>>>,
    control: Route,
}

const CALL_ID: &str = "browser-call@tandem.test";
const BROWSER_TAG: &str = "browser-tag";
const PHONE_TAG: &str = "phone-tag";

impl Signaling {
    /// The browser's offer in, the browser's answer out.
    async fn offer(&self, browser_offer: &str) -> Result<String, String> {
        let version = self.offers.fetch_add(1, Ordering::SeqCst) + 1;
        let offer: SessionDescription = browser_offer
            .parse()
            .map_err(|e| format!("browser offer: {e}"))?;
        let to_phone = match &self.control {
            Route::InProcess(relay) => {
                let mut options = MediaOptions::default();
                options.transport_protocol = Some(match self.leg {
                    PlainLeg::Avp => TransportProtocol::RtpAvp,
                    PlainLeg::Savp => TransportProtocol::RtpSavp,
                });
                options.ice = IceMode::Remove;
                options.rtcp_mux = RtcpMuxMode::Demux;
                let request = OfferRequest::new(CALL_ID, BROWSER_TAG, offer).with_options(options);
                let mut relay = relay.lock().map_err(|e| e.to_string())?;
                relay
                    .offer(request, Instant::now())
                    .map_err(|e| format!("relay offer: {e}"))?
                    .to_string()
            }
            Route::Ng(ng) => {
                let request = Dict::new()
                    .with("command", "offer")
                    .with("call-id", CALL_ID)
                    .with("from-tag", BROWSER_TAG)
                    .with("sdp", browser_offer.to_owned())
                    .with("ICE", "remove")
                    .with("transport-protocol", self.leg.protocol())
                    .with("rtcp-mux", list(&["demux"]))
                    .with("replace", list(&["origin", "session-connection"]))
                    .with("flags", list(&["trust-address"]));
                ng.sdp(request).await?
            }
        };
        let to_phone: SessionDescription = to_phone
            .parse()
            .map_err(|e| format!("the relay's offer to the phone does not parse: {e}"))?;
        let (phone_answer, setup) = self.phone_answer(&to_phone, version)?;
        if let Some(tx) = self.setup.lock().map_err(|e| e.to_string())?.take() {
            let _ = tx.send(setup);
        }
        let answer = match &self.control {
            Route::InProcess(relay) => {
                let mut options = MediaOptions::default();
                options.dtls = self.dtls;
                let request = AnswerRequest::new(CALL_ID, BROWSER_TAG, PHONE_TAG, phone_answer)
                    .with_options(options);
                let mut relay = relay.lock().map_err(|e| e.to_string())?;
                relay
                    .answer(request, Instant::now())
                    .map_err(|e| format!("relay answer: {e}"))?
                    .to_string()
            }
            Route::Ng(ng) => {
                let request = Dict::new()
                    .with("command", "answer")
                    .with("call-id", CALL_ID)
                    .with("from-tag", BROWSER_TAG)
                    .with("to-tag", PHONE_TAG)
                    .with("sdp", phone_answer.to_string())
                    .with("ICE", "force")
                    .with("DTLS", "passive")
                    .with("transport-protocol", "UDP/TLS/RTP/SAVPF")
                    .with("rtcp-mux", list(&["offer"]))
                    .with("replace", list(&["origin", "session-connection"]))
                    .with("flags", list(&["trust-address"]));
                ng.sdp(request).await?
            }
        };
        Ok(answer)
    }

    /// The phone calls: its offer through the relay, the WebRTC offer out for the browser.
    fn incoming(&self) -> Result<String, String> {
        self.offers.fetch_add(1, Ordering::SeqCst);
        let port = self.phone_rtp.port();
        let offer: SessionDescription = format!(
            "v=0\r\no=phone 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 8 {PHONE_EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:{PHONE_EVENT_PT} telephone-event/8000\r\na=fmtp:{PHONE_EVENT_PT} 0-15\r\n\
             a=ptime:20\r\na=sendrecv\r\n"
        )
        .parse()
        .map_err(|e| format!("the phone's offer: {e}"))?;
        let Route::InProcess(relay) = &self.control else {
            return Err("incoming calls are driven in-process".into());
        };
        // What Kamailio asks for with a SIP caller's INVITE towards a browser.
        let mut options = MediaOptions::default();
        options.transport_protocol = Some(TransportProtocol::UdpTlsRtpSavpf);
        options.ice = IceMode::Force;
        options.rtcp_mux = RtcpMuxMode::Require;
        let request = OfferRequest::new(CALL_ID, PHONE_TAG, offer).with_options(options);
        let mut relay = relay.lock().map_err(|e| e.to_string())?;
        Ok(relay
            .offer(request, Instant::now())
            .map_err(|e| format!("relay offer: {e}"))?
            .to_string())
    }

    /// The browser's answer through the relay; the phone learns where to send.
    fn browser_answer(&self, browser_answer: &str) -> Result<String, String> {
        let answer: SessionDescription = browser_answer
            .parse()
            .map_err(|e| format!("browser answer: {e}"))?;
        let Route::InProcess(relay) = &self.control else {
            return Err("incoming calls are driven in-process".into());
        };
        let to_phone = {
            let mut relay = relay.lock().map_err(|e| e.to_string())?;
            let request = AnswerRequest::new(CALL_ID, PHONE_TAG, BROWSER_TAG, answer);
            relay
                .answer(request, Instant::now())
                .map_err(|e| format!("relay answer: {e}"))?
        };
        let (relay, relay_rtcp) = relay_addresses(&to_phone)?;
        if let Some(tx) = self.setup.lock().map_err(|e| e.to_string())?.take() {
            let _ = tx.send(PhoneSetup {
                relay,
                relay_rtcp,
                srtp: None,
            });
        }
        Ok("ok".into())
    }

    /// The phone's answer to the relay's offer: PCMU and telephone-event at its own address (and its own
    /// SDES key), plus what the phone thread needs to send and receive.
    fn phone_answer(
        &self,
        offer: &SessionDescription,
        version: usize,
    ) -> Result<(SessionDescription, PhoneSetup), String> {
        let media = offer.media.first().ok_or("no media in the relay's offer")?;
        if &*media.protocol != self.leg.protocol() {
            return Err(format!("the relay offered {} to the phone", media.protocol));
        }
        let (relay, relay_rtcp) = relay_addresses(offer)?;
        let port = self.phone_rtp.port();
        let (crypto_line, srtp) = match self.leg {
            PlainLeg::Avp => (String::new(), None),
            PlainLeg::Savp => {
                let relays = media
                    .attributes
                    .iter()
                    .find_map(|a| match a {
                        Attribute::Crypto(c) => Some(c.clone()),
                        _ => None,
                    })
                    .ok_or("no a=crypto in the relay's RTP/SAVP offer")?;
                let ours = Crypto::generate(relays.tag, relays.suite.clone())
                    .map_err(|e| format!("generate a key: {e}"))?;
                let srtp = (context_of(&ours)?, context_of(&relays)?);
                (format!("a=crypto:{ours}\r\n"), Some(srtp))
            }
        };
        let answer = format!(
            "v=0\r\no=phone 1 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} {} 0 {PHONE_EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:{PHONE_EVENT_PT} telephone-event/8000\r\na=fmtp:{PHONE_EVENT_PT} 0-15\r\n\
             a=ptime:20\r\n{crypto_line}a=sendrecv\r\n",
            self.leg.protocol()
        );
        let answer = answer
            .parse()
            .map_err(|e| format!("the phone's answer: {e}"))?;
        Ok((
            answer,
            PhoneSetup {
                relay,
                relay_rtcp,
                srtp,
            },
        ))
    }
}

/// The relay's RTP and RTCP addresses in an SDP it wrote for the plain side (rtcp-mux-demux: `a=rtcp`).
fn relay_addresses(sdp: &SessionDescription) -> Result<(SocketAddr, SocketAddr), String> {
    let media = sdp.media.first().ok_or("no media in the relay's SDP")?;
    let address = sdp
        .connection_of(media)
        .map(|c| c.address.to_string())
        .ok_or("no connection address")?;
    let relay: SocketAddr = format!("{address}:{}", media.port)
        .parse()
        .map_err(|e| format!("relay address: {e}"))?;
    let rtcp_port = media
        .attributes
        .iter()
        .find(|a| a.name() == "rtcp")
        .and_then(|a| {
            let text = a.to_string();
            text.split_once(':')?
                .1
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .ok_or("no a=rtcp in the relay's SDP for the plain side (rtcp-mux-demux)")?;
    Ok((relay, SocketAddr::new(relay.ip(), rtcp_port)))
}

fn context_of(line: &Crypto) -> Result<SrtpContext, String> {
    let profile = SrtpProfile::from_sdes_name(line.suite.name()).ok_or("unknown SDES suite")?;
    let (key, salt) = line
        .key_params
        .first()
        .and_then(|k| k.split(&line.suite))
        .ok_or("no key")?;
    SrtpContext::new(&SrtpPolicy::new(profile), key, salt).map_err(|e| e.to_string())
}

fn list(words: &[&'static str]) -> Value {
    Value::from(words.iter().map(|w| Value::from(*w)).collect::<Vec<_>>())
}

// ---------------------------------------------------------------------------------------------------------
// NG: the relay's NG server on an ephemeral loopback port, and a client that speaks to it over UDP.

struct NgClient {
    server: SocketAddr,
    /// Keeps the server's runtime thread alive; it ends with the process's test.
    _thread: std::thread::JoinHandle<()>,
}

fn start_ng_server(relay: &MediaRelay) -> NgClient {
    let control = Arc::new(relay.control());
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let config = NgServerConfig {
                bind: SocketAddr::new(LOCALHOST, 0),
                ..NgServerConfig::default()
            };
            let server = NgServer::bind(config, control).await.expect("bind NG");
            let _ = tx.send(server.local_addr().expect("NG address"));
            // Serves until the test process ends (bounded by the test itself).
            let _ = tokio::time::timeout(BROWSER_BOUND * 2, server.run()).await;
        });
    });
    let server = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the NG server started");
    NgClient {
        server,
        _thread: thread,
    }
}

impl NgClient {
    /// Sends `request` and returns the reply's SDP (`result` must be `ok`).
    async fn sdp(&self, request: Dict) -> Result<String, String> {
        let socket = tokio::net::UdpSocket::bind((LOCALHOST, 0))
            .await
            .map_err(|e| e.to_string())?;
        let cookie = format!("{}_{}", std::process::id(), rand_suffix());
        let datagram = encode_frame(cookie.as_bytes(), &Value::Dict(request));
        let mut buf = vec![0u8; 65_536];
        for _ in 0..5 {
            socket
                .send_to(&datagram, self.server)
                .await
                .map_err(|e| e.to_string())?;
            let Ok(received) =
                tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf)).await
            else {
                continue;
            };
            let (n, _) = received.map_err(|e| e.to_string())?;
            let reply = bytes::Bytes::copy_from_slice(&buf[..n]);
            let frame = Frame::parse(&reply).map_err(|e| format!("NG reply: {e}"))?;
            let Ok(Value::Dict(dict)) = bencode::decode(&frame.body) else {
                return Err("NG reply is not a dictionary".into());
            };
            let field = |key: &str| {
                dict.get(key.as_bytes())
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            if field("result").as_deref() != Some("ok") {
                return Err(format!("NG error: {dict:?}"));
            }
            return field("sdp").ok_or_else(|| "NG reply without sdp".to_owned());
        }
        Err("no NG reply".into())
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

// ---------------------------------------------------------------------------------------------------------
// The HTTP signaling server: GET / serves the page, POST /offer takes an SDP offer and returns the answer.

struct SignalingServer {
    address: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl SignalingServer {
    fn start(signaling: Signaling) -> Self {
        let (address_tx, address_rx) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind((LOCALHOST, 0))
                    .await
                    .expect("bind HTTP");
                let _ = address_tx.send(listener.local_addr().expect("HTTP address"));
                let signaling = Arc::new(signaling);
                let mut stopped = std::pin::pin!(stopped);
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let signaling = Arc::clone(&signaling);
                            tokio::spawn(async move {
                                let _ = tokio::time::timeout(
                                    Duration::from_secs(30),
                                    serve(stream, &signaling),
                                )
                                .await;
                            });
                        }
                    }
                }
            });
        });
        let address = address_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the signaling server started");
        SignalingServer {
            address,
            stop,
            thread,
        }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// One HTTP/1.1 request (the connection is closed after the response).
async fn serve(mut stream: tokio::net::TcpStream, signaling: &Signaling) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if data.len() > 64 * 1024 {
            return Ok(());
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&data[..header_end]).into_owned();
    let mut lines = BufReader::new(head.as_bytes()).lines();
    let request_line = lines.next().and_then(Result::ok).unwrap_or_default();
    let length = lines
        .map_while(Result::ok)
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .next()
        .unwrap_or(0);
    if length > 64 * 1024 {
        return Ok(());
    }
    while data.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        data.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&data[header_end..header_end + length]).into_owned();
    let mut parts = request_line.split_whitespace();
    let (status, content_type, content) = match (parts.next(), parts.next()) {
        (Some("GET"), Some("/")) => (
            "200 OK",
            "text/html; charset=utf-8",
            include_str!("browser/page.html").to_owned(),
        ),
        (Some("POST"), Some("/offer")) => match signaling.offer(&body).await {
            Ok(answer) => ("200 OK", "application/sdp", answer),
            Err(error) => ("500 Internal Server Error", "text/plain", error),
        },
        (Some("POST"), Some("/incoming")) => match signaling.incoming() {
            Ok(offer) => ("200 OK", "application/sdp", offer),
            Err(error) => ("500 Internal Server Error", "text/plain", error),
        },
        (Some("POST"), Some("/answer")) => match signaling.browser_answer(&body) {
            Ok(ok) => ("200 OK", "text/plain", ok),
            Err(error) => ("500 Internal Server Error", "text/plain", error),
        },
        (Some("GET"), Some("/favicon.ico")) => ("204 No Content", "text/plain", String::new()),
        _ => ("404 Not Found", "text/plain", "not found".to_owned()),
    };
    let mut response = Vec::new();
    let _ = write!(
        response,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{content}",
        content.len()
    );
    stream.write_all(&response).await?;
    stream.shutdown().await
}
