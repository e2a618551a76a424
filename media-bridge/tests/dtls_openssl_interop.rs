//! Interop with an independent DTLS-SRTP implementation: OpenSSL's `s_server` / `s_client` over
//! UDP on loopback. Both ends must export the same `EXTRACTOR-dtls_srtp` keying material and
//! agree on the protection profile.
//!
//! Needs the `openssl` command (Debian package `openssl`). Without it the tests are skipped with a
//! message, except under `CI=true`, where they fail.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant};

use tandem_media_bridge::dtls::{
    CertificateFingerprint, DtlsCertificate, DtlsConfig, DtlsError, DtlsEvent, DtlsRole,
    DtlsTransport, HashFunction, SrtpKeys,
};
use tandem_rtp_core::srtp::SrtpProfile;

/// Wall-clock budget for one handshake or one line of OpenSSL output (a busy machine is slow).
const PATIENCE: Duration = Duration::from_secs(30);

fn openssl_available() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the openssl command is required under CI (Debian package openssl)"
    );
    eprintln!("SKIPPED: DTLS interop test needs the openssl command (Debian package openssl)");
    false
}

fn openssl(args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A P-256 certificate made by OpenSSL, in a scratch directory removed on drop.
struct PeerIdentity {
    dir: PathBuf,
}

impl PeerIdentity {
    fn generate() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tandem-dtls-interop-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let identity = PeerIdentity { dir };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=openssl-peer",
            "-keyout",
            &identity.path("key.pem"),
            "-out",
            &identity.path("cert.pem"),
        ]);
        openssl(&[
            "x509",
            "-in",
            &identity.path("cert.pem"),
            "-outform",
            "DER",
            "-out",
            &identity.path("cert.der"),
        ]);
        identity
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    fn fingerprint(&self) -> CertificateFingerprint {
        let der = std::fs::read(self.path("cert.der")).expect("cert.der");
        CertificateFingerprint::of_certificate(HashFunction::Sha256, &der)
    }
}

impl Drop for PeerIdentity {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `openssl s_server` or `s_client`, its stdout as lines; killed on drop.
struct OpensslPeer {
    child: Child,
    // Held open: s_server/s_client quit on EOF of stdin.
    _stdin: ChildStdin,
    lines: Receiver<String>,
    transcript: Vec<String>,
}

impl OpensslPeer {
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn openssl");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        OpensslPeer {
            child,
            _stdin: stdin,
            lines,
            transcript: Vec::new(),
        }
    }

    /// The rest of the first line starting with `prefix` (after trimming).
    fn wait_for(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                panic!(
                    "openssl never printed {prefix:?}; it printed:\n{}",
                    self.transcript.join("\n")
                );
            };
            let trimmed = line.trim().to_owned();
            self.transcript.push(line);
            if let Some(rest) = trimmed.strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
        }
    }

    fn keying_material(&mut self) -> String {
        self.wait_for("Keying material:")
    }
}

impl Drop for OpensslPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn srtp_args(profiles: &str, material_len: usize) -> Vec<String> {
    [
        "-use_srtp",
        profiles,
        "-keymatexport",
        "EXTRACTOR-dtls_srtp",
        "-keymatexportlen",
        &material_len.to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Runs our side of the handshake over `socket` in real time until it connects or fails.
fn handshake(
    socket: &UdpSocket,
    transport: &mut DtlsTransport,
    mut peer: Option<SocketAddr>,
) -> Result<SrtpKeys, DtlsError> {
    let deadline = Instant::now() + PATIENCE;
    let mut buf = vec![0; 65_536];
    loop {
        while let Some(datagram) = transport.poll_transmit() {
            let to = peer.expect("a server only answers");
            socket.send_to(&datagram, to).expect("send");
        }
        match transport.poll_event() {
            Some(DtlsEvent::Connected { keys, .. }) => return Ok(keys),
            Some(DtlsEvent::Failed(error)) => return Err(error),
            Some(other) => panic!("unexpected {other:?}"),
            None => {}
        }
        let now = Instant::now();
        assert!(now < deadline, "no handshake within {PATIENCE:?}");
        let wait = transport
            .poll_timeout()
            .map_or(Duration::from_millis(100), |at| {
                at.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(100));
        socket.set_read_timeout(Some(wait)).expect("timeout");
        match socket.recv_from(&mut buf) {
            Ok((len, from)) => {
                peer.get_or_insert(from);
                transport.handle_packet(Instant::now(), &buf[..len]);
            }
            Err(_) => transport.handle_timeout(Instant::now()),
        }
    }
}

/// The exporter output as RFC 5764 §4.2 lays it out, in OpenSSL's upper-case hex.
fn exported_hex(keys: &SrtpKeys) -> String {
    let (client_key, server_key, client_salt, server_salt) = match keys.role() {
        DtlsRole::Client => (
            keys.local_master_key(),
            keys.remote_master_key(),
            keys.local_master_salt(),
            keys.remote_master_salt(),
        ),
        DtlsRole::Server => (
            keys.remote_master_key(),
            keys.local_master_key(),
            keys.remote_master_salt(),
            keys.local_master_salt(),
        ),
    };
    [client_key, server_key, client_salt, server_salt]
        .concat()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

fn our_config() -> DtlsConfig {
    DtlsConfig::new(DtlsCertificate::generate().expect("certificate")).expect("config")
}

fn loopback_socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind loopback")
}

/// Starts `openssl s_server` on a free loopback port; returns it and its address.
fn s_server(identity: &PeerIdentity, srtp: &[String]) -> (OpensslPeer, SocketAddr) {
    let mut args: Vec<String> = [
        "s_server",
        "-dtls1_2",
        "-accept",
        "127.0.0.1:0",
        "-verify",
        "1",
        "-cert",
        &identity.path("cert.pem"),
        "-key",
        &identity.path("key.pem"),
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend_from_slice(srtp);
    let mut server = OpensslPeer::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let address = server.wait_for("ACCEPT");
    let address = address.parse().expect("ACCEPT host:port");
    (server, address)
}

fn s_client(identity: &PeerIdentity, server: SocketAddr, srtp: &[String]) -> OpensslPeer {
    let mut args: Vec<String> = [
        "s_client",
        "-dtls1_2",
        "-connect",
        &server.to_string(),
        "-cert",
        &identity.path("cert.pem"),
        "-key",
        &identity.path("key.pem"),
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend_from_slice(srtp);
    OpensslPeer::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn our_client_and_openssl_s_server_export_the_same_cm80_keys() {
    if !openssl_available() {
        return;
    }
    let identity = PeerIdentity::generate();
    // OpenSSL offers only AES_CM_128_HMAC_SHA1_80; we offer GCM too and must settle for it.
    let (mut server, address) = s_server(&identity, &srtp_args("SRTP_AES128_CM_SHA1_80", 60));
    let config = our_config();
    let now = Instant::now();
    let mut client =
        DtlsTransport::new(&config, DtlsRole::Client, Some(identity.fingerprint()), now);
    let socket = loopback_socket();
    let keys = handshake(&socket, &mut client, Some(address)).expect("handshake");
    assert_eq!(keys.profile(), SrtpProfile::Aes128CmHmacSha1_80);
    assert_eq!(
        server.wait_for("SRTP Extension negotiated, profile="),
        "SRTP_AES128_CM_SHA1_80"
    );
    assert_eq!(server.keying_material(), exported_hex(&keys));
}

#[test]
fn our_server_and_openssl_s_client_export_the_same_keys_with_our_preferred_profile() {
    if !openssl_available() {
        return;
    }
    let identity = PeerIdentity::generate();
    let config = our_config();
    let socket = loopback_socket();
    let address = socket.local_addr().expect("address");
    let mut server = DtlsTransport::new(
        &config,
        DtlsRole::Server,
        Some(identity.fingerprint()),
        Instant::now(),
    );
    // OpenSSL lists CM80 first; the server's choice is ours: GCM (RFC 5764 §4.1.1), 56 bytes.
    let srtp = srtp_args("SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM", 56);
    let mut client = s_client(&identity, address, &srtp);
    let keys = handshake(&socket, &mut server, None).expect("handshake");
    assert_eq!(keys.profile(), SrtpProfile::AeadAes128Gcm);
    assert_eq!(
        client.wait_for("SRTP Extension negotiated, profile="),
        "SRTP_AEAD_AES_128_GCM"
    );
    assert_eq!(client.keying_material(), exported_hex(&keys));
}

#[test]
fn our_server_settles_for_cm80_when_openssl_offers_nothing_else() {
    if !openssl_available() {
        return;
    }
    let identity = PeerIdentity::generate();
    let config = our_config();
    let socket = loopback_socket();
    let address = socket.local_addr().expect("address");
    let mut server = DtlsTransport::new(
        &config,
        DtlsRole::Server,
        Some(identity.fingerprint()),
        Instant::now(),
    );
    let mut client = s_client(&identity, address, &srtp_args("SRTP_AES128_CM_SHA1_80", 60));
    let keys = handshake(&socket, &mut server, None).expect("handshake");
    assert_eq!(keys.profile(), SrtpProfile::Aes128CmHmacSha1_80);
    assert_eq!(client.keying_material(), exported_hex(&keys));
}

#[test]
fn our_client_refuses_an_openssl_certificate_that_does_not_match_the_fingerprint() {
    if !openssl_available() {
        return;
    }
    let (identity, stranger) = (PeerIdentity::generate(), PeerIdentity::generate());
    let (_server, address) = s_server(&identity, &srtp_args("SRTP_AES128_CM_SHA1_80", 60));
    let config = our_config();
    let mut client = DtlsTransport::new(
        &config,
        DtlsRole::Client,
        Some(stranger.fingerprint()),
        Instant::now(),
    );
    let socket = loopback_socket();
    let result = handshake(&socket, &mut client, Some(address));
    assert_eq!(result.err(), Some(DtlsError::FingerprintMismatch));
}
