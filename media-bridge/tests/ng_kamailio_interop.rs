//! Kamailio's own `rtpengine` module drives the NG server: a real Kamailio process (the Debian `kamailio`
//! package) runs `rtpengine_offer` on an INVITE, `rtpengine_answer` on its 200 OK and `rtpengine_delete`
//! on the BYE, with the WebRTC ↔ SIP flags. The media engine is a stand-in that records the typed requests
//! and returns fixed SDP bodies, which must come out in the SIP messages Kamailio forwards.
//!
//! Without Kamailio installed the test prints why and passes; set `TANDEM_REQUIRE_KAMAILIO=1` (as CI does
//! where Kamailio is installed) to make its absence a failure. `TANDEM_KAMAILIO` overrides the binary path.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tandem_media_bridge::ng::{
    CallStats, Delete, DeleteReply, Dtls, Flag, Ice, List, MediaControl, NgServer, NgServerConfig,
    Query, Replace, RtcpMux, Sdes, SdpReply, SdpRequest, TransportOverride, TransportProtocol,
};
use tokio::net::UdpSocket;
use tokio::time::timeout;

/// Bound on each wait so a broken setup fails instead of hanging; not a performance assertion.
const PATIENCE: Duration = Duration::from_secs(20);

const OFFER_FLAGS: &str = "ICE=remove DTLS=off RTP/AVP rtcp-mux-demux replace-origin \
     replace-session-connection trust-address SDES-off codec-strip-G722 label=webrtc";
const ANSWER_FLAGS: &str = "ICE=force DTLS=passive UDP/TLS/RTP/SAVPF rtcp-mux-require replace-origin \
     replace-session-connection SDES-off";

const BROWSER_SDP: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
     m=audio 51372 UDP/TLS/RTP/SAVPF 111 9 0\r\nc=IN IP4 198.51.100.23\r\n\
     a=ice-ufrag:F7gI\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n\
     a=fingerprint:sha-256 D1:2C:BE:AD:C4:F6:64:5C:25:16:11:9C:AF:E7:0F:73:79:36:4E:9C:1E:15:54:39:0C:06:8B:ED:96:86:00:39\r\n\
     a=setup:actpass\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:9 G722/8000\r\n\
     a=rtpmap:0 PCMU/8000\r\n";
const PHONE_SDP: &str = "v=0\r\no=root 1938347507 1938347507 IN IP4 127.0.0.1\r\ns=Phone\r\n\
     c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 10480 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const RELAY_OFFER_SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=relay\r\nc=IN IP4 127.0.0.1\r\n\
     t=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const RELAY_ANSWER_SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=relay\r\nc=IN IP4 127.0.0.1\r\n\
     t=0 0\r\nm=audio 30002 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n";

#[derive(Debug)]
enum Recorded {
    Offer(SdpRequest),
    Answer(SdpRequest),
    Delete(Delete),
}

#[derive(Default)]
struct RecordingEngine {
    requests: Mutex<Vec<Recorded>>,
    ignored: Mutex<Vec<String>>,
}

impl MediaControl for RecordingEngine {
    type Error = String;

    async fn offer(&self, request: SdpRequest) -> Result<SdpReply, String> {
        self.requests.lock().unwrap().push(Recorded::Offer(request));
        Ok(SdpReply::new(RELAY_OFFER_SDP))
    }

    async fn answer(&self, request: SdpRequest) -> Result<SdpReply, String> {
        self.requests
            .lock()
            .unwrap()
            .push(Recorded::Answer(request));
        Ok(SdpReply::new(RELAY_ANSWER_SDP))
    }

    async fn delete(&self, request: Delete) -> Result<DeleteReply, String> {
        self.requests
            .lock()
            .unwrap()
            .push(Recorded::Delete(request));
        Ok(DeleteReply::default())
    }

    async fn query(&self, _: Query) -> Result<CallStats, String> {
        Err("not used".into())
    }

    async fn list(&self, _: List) -> Result<Vec<Bytes>, String> {
        Err("not used".into())
    }

    fn ignored(
        &self,
        _: SocketAddr,
        command: &'static str,
        ignored: &[tandem_media_bridge::ng::Ignored],
    ) {
        let mut log = self.ignored.lock().unwrap();
        log.extend(ignored.iter().map(|i| format!("{command}: {i}")));
    }
}

/// A Kamailio process, in its own process group with the workers it forks, stopped when dropped.
struct Kamailio {
    child: Child,
    dir: PathBuf,
}

impl Kamailio {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kamailio.log")).unwrap_or_default()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // SIGTERM lets the main process stop and reap its workers; if a busy worker holds it up (Kamailio
        // waits up to a minute), kill the whole group, which is certainly ours while the main process lives.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let group = format!("-{pid}");
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn kamailio_binary() -> Option<PathBuf> {
    let path = std::env::var_os("TANDEM_KAMAILIO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/kamailio"));
    path.exists().then_some(path)
}

fn config(sip_port: u16, ng: SocketAddr, downstream: SocketAddr) -> String {
    format!(
        r#"#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:{sip_port}
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "rtpengine.so"
modparam("rtpengine", "rtpengine_sock", "udp:{ng}")
request_route {{
    if (is_method("INVITE") && has_body("application/sdp")) {{
        if (!rtpengine_offer("{OFFER_FLAGS}")) {{
            sl_send_reply("500", "rtpengine offer failed");
            exit;
        }}
        $du = "sip:{downstream}";
        forward();
        exit;
    }}
    if (is_method("BYE")) {{
        if (!rtpengine_delete()) {{
            sl_send_reply("500", "rtpengine delete failed");
            exit;
        }}
        sl_send_reply("200", "OK");
        exit;
    }}
    sl_send_reply("404", "Not here");
}}
onreply_route {{
    if (status == "200" && has_body("application/sdp")) {{
        rtpengine_answer("{ANSWER_FLAGS}");
    }}
}}
"#
    )
}

async fn free_udp_port() -> u16 {
    let probe = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    probe.local_addr().unwrap().port()
}

fn start_kamailio(binary: &PathBuf, cfg: &str) -> Kamailio {
    let dir = std::env::temp_dir().join(format!("tandem-kamailio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg_path = dir.join("kamailio.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let log = std::fs::File::create(dir.join("kamailio.log")).unwrap();
    let child = Command::new(binary)
        .arg("-f")
        .arg(&cfg_path)
        .args(["-DD", "-E"])
        .arg("-Y")
        .arg(&dir)
        .arg("-w")
        .arg(&dir)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Kamailio { child, dir }
}

async fn receive(socket: &UdpSocket, what: &str, kamailio: &Kamailio) -> String {
    let mut buf = vec![0u8; 65_536];
    match timeout(PATIENCE, socket.recv_from(&mut buf)).await {
        Ok(Ok((len, _))) => String::from_utf8_lossy(&buf[..len]).into_owned(),
        _ => panic!("no {what} from Kamailio; its log:\n{}", kamailio.log()),
    }
}

fn body(message: &str) -> &str {
    message.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

fn headers<'a>(message: &'a str, name: &str) -> Vec<&'a str> {
    message
        .split("\r\n")
        .take_while(|line| !line.is_empty())
        .filter(|line| {
            line.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
        .collect()
}

fn sip_message(start_line: &str, headers: &[String], body: &str) -> String {
    let mut message = format!("{start_line}\r\n");
    for h in headers {
        message.push_str(h);
        message.push_str("\r\n");
    }
    if !body.is_empty() {
        message.push_str("Content-Type: application/sdp\r\n");
    }
    message.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    message
}

#[tokio::test]
async fn kamailio_rtpengine_module_drives_offer_answer_and_delete() {
    let Some(binary) = kamailio_binary() else {
        assert!(
            std::env::var_os("TANDEM_REQUIRE_KAMAILIO").is_none(),
            "TANDEM_REQUIRE_KAMAILIO is set but Kamailio is not installed"
        );
        eprintln!("skipped: Kamailio is not installed (apt-get install kamailio)");
        return;
    };

    let engine = Arc::new(RecordingEngine::default());
    let ng_config = NgServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..NgServerConfig::default()
    };
    let server = NgServer::bind(ng_config, Arc::clone(&engine))
        .await
        .unwrap();
    let ng_addr = server.local_addr().unwrap();
    let mut stats = server.stats();
    tokio::spawn(server.run());

    let caller = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let callee = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sip_port = free_udp_port().await;
    let kamailio_addr: SocketAddr = ([127, 0, 0, 1], sip_port).into();
    let kamailio = start_kamailio(
        &binary,
        &config(sip_port, ng_addr, callee.local_addr().unwrap()),
    );

    // Kamailio pings every rtpengine it is configured with when it starts.
    let up = timeout(PATIENCE, stats.wait_for(|s| s.requests >= 1)).await;
    assert!(
        up.is_ok(),
        "Kamailio never pinged the NG server; its log:\n{}",
        kamailio.log()
    );

    let caller_port = caller.local_addr().unwrap().port();
    let call_headers = [
        format!("Via: SIP/2.0/UDP 127.0.0.1:{caller_port};branch=z9hG4bK776asdhds"),
        "Max-Forwards: 70".to_owned(),
        "From: <sip:alice@example.com>;tag=1928301774".to_owned(),
        "To: <sip:bob@example.com>".to_owned(),
        "Call-ID: a84b4c76e66710@pc33.example.com".to_owned(),
        "CSeq: 314159 INVITE".to_owned(),
        format!("Contact: <sip:alice@127.0.0.1:{caller_port}>"),
    ];
    let invite = sip_message(
        &format!("INVITE sip:bob@127.0.0.1:{sip_port} SIP/2.0"),
        &call_headers,
        BROWSER_SDP,
    );
    caller
        .send_to(invite.as_bytes(), kamailio_addr)
        .await
        .unwrap();

    // The INVITE reaches the callee with the relay's SDP in place of the browser's.
    let forwarded = receive(&callee, "forwarded INVITE", &kamailio).await;
    assert!(forwarded.starts_with("INVITE "), "{forwarded}");
    assert_eq!(body(&forwarded), RELAY_OFFER_SDP);

    // The callee answers; Kamailio runs rtpengine_answer on the 200 and relays it to the caller.
    let mut ok_headers: Vec<String> = headers(&forwarded, "Via")
        .iter()
        .map(|v| v.to_string())
        .collect();
    for name in ["From", "Call-ID", "CSeq"] {
        ok_headers.extend(headers(&forwarded, name).iter().map(|v| v.to_string()));
    }
    ok_headers.push("To: <sip:bob@example.com>;tag=as6c3f7a1e".to_owned());
    ok_headers.push("Contact: <sip:bob@127.0.0.1>".to_owned());
    let ok = sip_message("SIP/2.0 200 OK", &ok_headers, PHONE_SDP);
    callee.send_to(ok.as_bytes(), kamailio_addr).await.unwrap();
    let relayed = receive(&caller, "relayed 200 OK", &kamailio).await;
    assert!(relayed.starts_with("SIP/2.0 200 OK"), "{relayed}");
    assert_eq!(body(&relayed), RELAY_ANSWER_SDP);

    // The caller hangs up; Kamailio runs rtpengine_delete and answers the BYE itself.
    let mut bye_headers = call_headers.to_vec();
    bye_headers[0] = format!("Via: SIP/2.0/UDP 127.0.0.1:{caller_port};branch=z9hG4bKbye1");
    bye_headers[3] = "To: <sip:bob@example.com>;tag=as6c3f7a1e".to_owned();
    bye_headers[5] = "CSeq: 314160 BYE".to_owned();
    let bye = sip_message(
        &format!("BYE sip:bob@127.0.0.1:{sip_port} SIP/2.0"),
        &bye_headers,
        "",
    );
    caller.send_to(bye.as_bytes(), kamailio_addr).await.unwrap();
    let bye_ok = receive(&caller, "200 to the BYE", &kamailio).await;
    assert!(bye_ok.starts_with("SIP/2.0 200 OK"), "{bye_ok}");

    let requests = engine.requests.lock().unwrap();
    let [
        Recorded::Offer(offer),
        Recorded::Answer(answer),
        Recorded::Delete(delete),
    ] = &requests[..]
    else {
        panic!("expected offer, answer, delete; the engine saw {requests:?}");
    };

    assert_eq!(&offer.call_id[..], b"a84b4c76e66710@pc33.example.com");
    assert_eq!(&offer.from_tag[..], b"1928301774");
    assert_eq!(offer.sdp, BROWSER_SDP.as_bytes());
    let o = &offer.options;
    assert_eq!(o.ice, Some(Ice::Remove));
    assert_eq!(o.dtls, Some(Dtls::Off));
    assert_eq!(
        o.transport_protocol,
        Some(TransportOverride::Protocol(TransportProtocol::RtpAvp))
    );
    assert_eq!(o.rtcp_mux, [RtcpMux::Demux]);
    assert_eq!(o.replace, [Replace::Origin, Replace::SessionConnection]);
    assert_eq!(o.sdes, [Sdes::Off]);
    assert_eq!(o.flags, [Flag::TrustAddress]);
    assert_eq!(o.codec.strip, [Bytes::from_static(b"G722")]);
    assert_eq!(o.label.as_deref(), Some(&b"webrtc"[..]));
    assert_eq!(o.received_from, Some("127.0.0.1".parse().unwrap()));
    assert!(o.supports_load_limit);

    assert_eq!(&answer.from_tag[..], b"1928301774");
    assert_eq!(answer.to_tag.as_deref(), Some(&b"as6c3f7a1e"[..]));
    assert_eq!(answer.sdp, PHONE_SDP.as_bytes());
    let a = &answer.options;
    assert_eq!(a.ice, Some(Ice::Force));
    assert_eq!(a.dtls, Some(Dtls::Passive));
    assert_eq!(
        a.transport_protocol,
        Some(TransportOverride::Protocol(
            TransportProtocol::UdpTlsRtpSavpf
        ))
    );
    assert_eq!(a.rtcp_mux, [RtcpMux::Require]);

    assert_eq!(&delete.call_id[..], b"a84b4c76e66710@pc33.example.com");
    assert_eq!(delete.from_tag.as_deref(), Some(&b"1928301774"[..]));

    assert!(
        engine.ignored.lock().unwrap().is_empty(),
        "Kamailio sent entries the decoder did not understand: {:?}",
        engine.ignored.lock().unwrap()
    );
}
