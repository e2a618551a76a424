//! The relay behind the NG protocol: Kamailio-style requests go through the sans-IO NG endpoint (framing,
//! bencode, option decoding) into [`RelayControl`], and the replies are decoded again.

mod relay_support;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use relay_support::*;
use tandem_media_bridge::ng::bencode::{self, Dict, Value};
use tandem_media_bridge::ng::{Action, Command, EndpointConfig, Frame, NgEndpoint, execute};
use tandem_media_bridge::session::{
    DtlsMode, IceMode, RelayControl, RtcpMuxMode, TransportProtocol, from_ng_options,
};
use tandem_rtp_core::SessionDescription;
use tandem_rtp_core::sdp::{Attribute, Setup};

const CALL: &str = "a84b4c76e66710@pc33.example.com";
const BROWSER: &str = "1928301774";
const PHONE: &str = "as6c3f7a1e";

const PHONE_ANSWER: &str = "v=0\r\no=root 1938347507 1938347507 IN IP4 192.0.2.50\r\ns=Asterisk\r\n\
    c=IN IP4 192.0.2.50\r\nt=0 0\r\nm=audio 10480 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n\
    a=sendrecv\r\n";

/// The NG endpoint and the relay behind it, driven one datagram at a time.
struct Harness {
    endpoint: NgEndpoint,
    control: RelayControl,
    next_cookie: u32,
}

impl Harness {
    fn new() -> Self {
        Harness {
            endpoint: NgEndpoint::new(EndpointConfig::default()),
            control: RelayControl::new(Arc::new(Mutex::new(relay()))),
            next_cookie: 0,
        }
    }

    /// Sends `request` as a datagram and returns the reply dictionary.
    fn send(&mut self, request: Dict) -> Dict {
        self.next_cookie += 1;
        let cookie = format!("5323_{}", self.next_cookie);
        let datagram =
            tandem_media_bridge::ng::encode_frame(cookie.as_bytes(), &Value::Dict(request));
        let peer = "127.0.0.1:40000".parse().unwrap();
        let reply = match self
            .endpoint
            .handle_datagram(Instant::now(), peer, datagram)
        {
            Action::Execute(pending) => {
                let reply = block_on(execute(&self.control, pending.request.command));
                self.endpoint.complete(pending.peer, pending.cookie, &reply)
            }
            Action::Reply(bytes) => bytes,
            other => panic!("unexpected {other:?}"),
        };
        let frame = Frame::parse(&reply).unwrap();
        assert_eq!(&frame.cookie[..], cookie.as_bytes());
        match bencode::decode(&frame.body).unwrap() {
            Value::Dict(d) => d,
            other => panic!("reply is {other:?}"),
        }
    }
}

/// Polls a future that never waits (the relay's NG verbs complete at once).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the relay's NG verbs never wait"),
    }
}

fn list(words: &[&'static str]) -> Value {
    Value::from(words.iter().map(|w| Value::from(*w)).collect::<Vec<_>>())
}

fn get<'d>(d: &'d Dict, key: &str) -> &'d Value {
    d.get(key.as_bytes())
        .unwrap_or_else(|| panic!("no {key:?} in reply"))
}

fn text<'d>(d: &'d Dict, key: &str) -> &'d str {
    get(d, key).as_str().unwrap()
}

fn reply_sdp(d: &Dict) -> SessionDescription {
    assert_eq!(text(d, "result"), "ok", "{d:?}");
    reparse(&text(d, "sdp").parse().unwrap())
}

fn offer_request() -> Dict {
    Dict::new()
        .with("sdp", sample("chromium-offer-audio.sdp").to_string())
        .with("ICE", "remove")
        .with("DTLS", "off")
        .with("transport-protocol", "RTP/AVP")
        .with(
            "flags",
            list(&["trust-address", "strict-source", "frobnicate"]),
        )
        .with("replace", list(&["origin", "session-connection"]))
        .with("codec", Dict::new().with("strip", list(&["G722"])))
        .with("rtcp-mux", list(&["demux"]))
        .with("call-id", CALL)
        .with("from-tag", BROWSER)
        .with("command", "offer")
}

fn answer_request() -> Dict {
    Dict::new()
        .with("sdp", PHONE_ANSWER)
        .with("ICE", "force")
        .with("DTLS", "passive")
        .with("transport-protocol", "UDP/TLS/RTP/SAVPF")
        .with("rtcp-mux", list(&["require"]))
        .with("replace", list(&["origin", "session-connection"]))
        .with("call-id", CALL)
        .with("from-tag", BROWSER)
        .with("to-tag", PHONE)
        .with("command", "answer")
}

fn by_id(command: &'static str) -> Dict {
    Dict::new()
        .with("call-id", CALL)
        .with("from-tag", BROWSER)
        .with("to-tag", PHONE)
        .with("command", command)
}

#[test]
fn kamailio_webrtc_to_sip_call_over_ng_offer_answer_query_list_delete() {
    let mut ng = Harness::new();

    let offer = reply_sdp(&ng.send(offer_request()));
    let m = &offer.media[0];
    assert_eq!(&*m.protocol, "RTP/AVP");
    assert_eq!(connection(&offer, 0), RELAY_IP);
    assert_eq!(&*offer.origin.address, RELAY_IP);
    assert!(!formats(m).contains(&"9".to_owned()), "codec-strip-G722");
    assert!(!has(m, "ice-ufrag") && !has(m, "fingerprint") && !has(m, "rtcp-mux"));

    let answer = reply_sdp(&ng.send(answer_request()));
    let m = &answer.media[0];
    assert_eq!(&*m.protocol, "UDP/TLS/RTP/SAVPF");
    assert!(answer.attributes.contains(&Attribute::IceLite));
    assert!(m.attributes.contains(&Attribute::Setup(Setup::Passive)));
    assert!(has(m, "rtcp-mux") && has(m, "candidate"));
    assert_eq!(formats(m), ["0", "8", "126"]);

    let query = ng.send(by_id("query"));
    assert_eq!(text(&query, "result"), "ok");
    let tags = get(&query, "tags").as_dict().unwrap();
    let browser = tags.get(BROWSER.as_bytes()).unwrap().as_dict().unwrap();
    assert_eq!(text(browser, "in dialogue with"), PHONE);
    let media = get(browser, "medias").as_list().unwrap()[0]
        .as_dict()
        .unwrap();
    assert_eq!(text(media, "protocol"), "UDP/TLS/RTP/SAVPF");
    let flags: Vec<_> = get(media, "flags")
        .as_list()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(flags.contains(&"ICE") && flags.contains(&"DTLS-SRTP") && flags.contains(&"rtcp-mux"));
    let phone = tags.get(PHONE.as_bytes()).unwrap().as_dict().unwrap();
    let phone_media = get(phone, "medias").as_list().unwrap()[0]
        .as_dict()
        .unwrap();
    assert_eq!(
        get(phone_media, "streams").as_list().unwrap().len(),
        2,
        "RTP and RTCP apart"
    );

    let listed = ng.send(Dict::new().with("command", "list"));
    let calls: Vec<_> = get(&listed, "calls")
        .as_list()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(calls, [CALL]);

    let deleted = ng.send(by_id("delete"));
    assert_eq!(text(&deleted, "result"), "ok");
    let relay = ng.control.relay().lock().unwrap();
    assert_eq!(relay.call_count(), 0);
    assert_eq!(relay.port_pool().in_use(), 0);
    drop(relay);

    let gone = ng.send(by_id("query"));
    assert_eq!(text(&gone, "result"), "error");
    assert!(text(&gone, "error-reason").contains("no call"));
}

#[test]
fn deleting_an_unknown_call_warns_unless_fatal() {
    let mut ng = Harness::new();
    let reply = ng.send(by_id("delete"));
    assert_eq!(text(&reply, "result"), "ok");
    assert!(text(&reply, "warning").contains("no call"));
    let fatal = ng.send(by_id("delete").with("flags", list(&["fatal"])));
    assert_eq!(text(&fatal, "result"), "error");
}

#[test]
fn malformed_sdp_gets_an_error_result_and_no_call() {
    let mut ng = Harness::new();
    let reply = ng.send(offer_request().with("sdp", "v=0\r\nthis is not SDP\r\n"));
    assert_eq!(text(&reply, "result"), "error");
    assert!(text(&reply, "error-reason").contains("invalid SDP"));
    assert_eq!(ng.control.relay().lock().unwrap().call_count(), 0);
}

#[test]
fn ng_flags_map_to_typed_options_and_unknown_ones_are_reported() {
    let body = Value::Dict(offer_request()).to_bytes();
    let request = tandem_media_bridge::ng::Request::decode(&body, &Default::default()).unwrap();
    let Command::Offer(offer) = request.command else {
        panic!("not an offer");
    };
    let (options, unsupported) = from_ng_options(&offer.options);
    assert_eq!(options.ice, IceMode::Remove);
    assert_eq!(options.dtls, DtlsMode::Off);
    assert_eq!(options.transport_protocol, Some(TransportProtocol::RtpAvp));
    assert_eq!(options.rtcp_mux, RtcpMuxMode::Demux);
    assert!(options.replace_origin && options.replace_session_connection);
    assert_eq!(options.codec_strip, ["G722"]);
    assert_eq!(unsupported, ["flag strict-source"]);
    // The word the NG decoder itself does not know is in its own ignored list, for the server to log.
    assert_eq!(request.ignored.len(), 1);
}
