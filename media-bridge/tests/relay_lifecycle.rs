//! Calls over their lifetime: ports taken and given back, updates for the packet path, statistics, expiry of
//! silent calls, ICE restarts, and requests that fail without changing anything.

mod relay_support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_support::*;
use tandem_media_bridge::session::{
    AnswerRequest, Counters, DeleteRequest, IceMode, Keying, MediaOptions, MediaUpdate,
    OfferRequest, PortClaim, PortPair, Relay, RtcpMuxMode, SessionError, Traffic,
    TransportProtocol,
};
use tandem_rtp_core::SessionDescription;
use tandem_rtp_core::sdp::Attribute;

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
    m=audio 49170 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
const ANSWER: &str = "v=0\r\no=- 2 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n\
    m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fn small_relay(pairs: u16) -> Relay {
    Relay::new(config().with_ports(30000..=30000 + pairs * 2 - 1)).unwrap()
}

fn call(relay: &mut Relay, id: &str) -> Result<SessionDescription, SessionError> {
    relay.offer(OfferRequest::new(id, "a", parse(OFFER)), now())
}

fn established(relay: &mut Relay, id: &str) {
    call(relay, id).unwrap();
    relay
        .answer(AnswerRequest::new(id, "a", "b", parse(ANSWER)), now())
        .unwrap();
}

fn towards_sip() -> MediaOptions {
    let mut o = MediaOptions::default();
    o.transport_protocol = Some(TransportProtocol::RtpAvp);
    o.ice = IceMode::Remove;
    o.rtcp_mux = RtcpMuxMode::Demux;
    o
}

#[test]
fn port_pool_exhaustion_refuses_the_call_and_delete_frees_its_ports() {
    let mut relay = small_relay(4);
    call(&mut relay, "one").unwrap();
    call(&mut relay, "two").unwrap();
    assert_eq!(relay.port_pool().in_use(), 4);

    let err = call(&mut relay, "three").unwrap_err();
    assert_eq!(err, SessionError::PortsExhausted { pairs: 4 });
    assert_eq!(relay.call_count(), 2);

    let freed: Vec<_> = relay
        .query("one")
        .unwrap()
        .legs
        .iter()
        .filter_map(|l| l.media[0].local_ports)
        .collect();
    relay.delete(&DeleteRequest::new("one")).unwrap();
    assert_eq!(relay.port_pool().in_use(), 2);
    call(&mut relay, "three").unwrap();
    let reused: Vec<_> = relay
        .query("three")
        .unwrap()
        .legs
        .iter()
        .filter_map(|l| l.media[0].local_ports)
        .collect();
    assert_eq!(reused, freed, "the freed pairs are the only free ones");
}

/// A driver's claim that refuses the pairs whose RTP port is in `taken` and keeps the ones it granted.
#[derive(Debug, Default, Clone)]
struct Claims {
    taken: Vec<u16>,
    held: Arc<Mutex<BTreeSet<u16>>>,
}

impl PortClaim for Claims {
    fn claim(&mut self, pair: PortPair) -> bool {
        !self.taken.contains(&pair.rtp()) && self.held.lock().unwrap().insert(pair.rtp())
    }

    fn release(&mut self, pair: PortPair) {
        assert!(
            self.held.lock().unwrap().remove(&pair.rtp()),
            "{pair} released twice"
        );
    }
}

#[test]
fn pairs_the_driver_cannot_claim_are_skipped_and_claimed_pairs_are_released_with_the_call() {
    let mut relay = small_relay(5);
    let claims = Claims {
        taken: vec![30000, 30004],
        ..Claims::default()
    };
    let held = Arc::clone(&claims.held);
    relay.set_port_claim(Box::new(claims));
    established(&mut relay, "one");
    assert_eq!(*held.lock().unwrap(), BTreeSet::from([30002, 30006]));
    assert_eq!(relay.port_pool().skipped(), 2);
    let ports: BTreeSet<u16> = relay
        .query("one")
        .unwrap()
        .legs
        .iter()
        .filter_map(|l| l.media[0].local_ports.map(PortPair::rtp))
        .collect();
    assert_eq!(ports, BTreeSet::from([30002, 30006]));

    // One claimable pair is left, and a call needs two: it is refused and gives back the one it claimed.
    assert!(matches!(
        call(&mut relay, "two"),
        Err(SessionError::PortsExhausted { .. })
    ));
    assert_eq!(held.lock().unwrap().len(), 2);
    assert_eq!(relay.port_pool().skipped(), 4);
    relay.delete(&DeleteRequest::new("one")).unwrap();
    assert!(held.lock().unwrap().is_empty(), "released with the call");
}

#[test]
fn a_call_that_gets_one_pair_of_two_gives_it_back() {
    let mut relay = small_relay(3);
    call(&mut relay, "one").unwrap();
    let err = call(&mut relay, "two").unwrap_err();
    assert!(matches!(err, SessionError::PortsExhausted { .. }));
    assert_eq!(
        relay.port_pool().in_use(),
        2,
        "the pair taken for the caller went back"
    );
    assert_eq!(relay.port_pool().available(), 1);
}

#[test]
fn delete_frees_ports_and_removes_every_published_stream() {
    let mut relay = relay();
    established(&mut relay, "c");
    let published = upserts(&drain(&mut relay));
    assert_eq!(published.len(), 2);

    let stats = relay
        .delete(&DeleteRequest::new("c").with_tags("a", Some("b".into())))
        .unwrap();
    assert_eq!(stats.call_id, "c");
    assert_eq!(relay.port_pool().in_use(), 0);
    assert_eq!(relay.call_count(), 0);
    let mut removed: Vec<_> = drain(&mut relay)
        .into_iter()
        .map(|u| match u {
            MediaUpdate::Remove { id, ports } => (id, ports),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    removed.sort();
    let mut expected: Vec<_> = published.iter().map(|m| (m.id, m.ports)).collect();
    expected.sort();
    assert_eq!(removed, expected);
    assert_eq!(
        relay.query("c").unwrap_err(),
        SessionError::CallNotFound {
            call_id: "c".into()
        }
    );
    assert!(relay.media(published[0].id).is_none());
}

#[test]
fn delete_refuses_unknown_calls_and_tags() {
    let mut relay = relay();
    established(&mut relay, "c");
    assert!(matches!(
        relay.delete(&DeleteRequest::new("nope")),
        Err(SessionError::CallNotFound { .. })
    ));
    assert!(matches!(
        relay.delete(&DeleteRequest::new("c").with_tags("stranger", None)),
        Err(SessionError::LegNotFound { .. })
    ));
    assert_eq!(relay.call_count(), 1);
}

#[test]
fn query_reports_each_leg_and_stream_with_the_traffic_fed_in() {
    let mut relay = relay();
    let start = now();
    let request =
        OfferRequest::new("c", "a", sample("chromium-offer-audio.sdp")).with_options(towards_sip());
    relay.offer(request, start).unwrap();
    relay
        .answer(AnswerRequest::new("c", "a", "b", parse(ANSWER)), start)
        .unwrap();
    let before = relay.query("c").unwrap();
    let browser_stream = before.legs[0].media[0].id;
    let mut traffic = Traffic::new(
        Counters {
            packets: 500,
            bytes: 86_000,
            errors: 2,
        },
        Counters {
            packets: 5,
            bytes: 400,
            errors: 0,
        },
        Some(start + Duration::from_secs(10)),
    );
    traffic.latched = Some("192.0.2.2:39487".parse().unwrap());
    traffic.jitter = Some(Duration::from_millis(3));
    assert!(relay.record_traffic(browser_stream, traffic));

    let stats = relay.query("c").unwrap();
    assert_eq!(stats.legs.len(), 2);
    assert_eq!(stats.legs[0].tag.as_deref(), Some("a"));
    assert_eq!(stats.legs[1].tag.as_deref(), Some("b"));
    let browser = &stats.legs[0].media[0];
    assert_eq!(browser.media_type, "audio");
    assert_eq!(browser.protocol, Some(TransportProtocol::UdpTlsRtpSavpf));
    assert_eq!(browser.keying, Keying::Dtls);
    assert!(browser.ice && browser.rtcp_mux && !browser.rejected);
    assert_eq!(
        browser.advertised_rtp,
        Some("192.0.2.2:39487".parse().unwrap())
    );
    assert_eq!(browser.advertised_rtcp, browser.advertised_rtp);
    assert_eq!(browser.traffic, traffic);
    let phone = &stats.legs[1].media[0];
    assert_eq!(phone.keying, Keying::None);
    assert!(!phone.ice && !phone.rtcp_mux);
    assert_eq!(
        phone.advertised_rtcp,
        Some("198.51.100.20:40001".parse().unwrap())
    );
    assert_ne!(phone.local_ports, browser.local_ports);
    let (rtp, rtcp) = stats.totals();
    assert_eq!((rtp.packets, rtp.errors, rtcp.bytes), (500, 2, 400));
    assert_eq!(stats.last_packet(), traffic.last_packet);
    assert!(!relay.record_traffic(tandem_media_bridge::session::StreamId(9999), traffic));
}

#[test]
fn list_names_every_call() {
    let mut relay = relay();
    established(&mut relay, "one");
    call(&mut relay, "two").unwrap();
    let mut ids: Vec<_> = relay.call_ids().collect();
    ids.sort();
    assert_eq!(ids, ["one", "two"]);
}

#[test]
fn sweep_expires_calls_silent_for_the_media_timeout() {
    let mut relay = relay();
    let start = now();
    relay
        .offer(OfferRequest::new("quiet", "a", parse(OFFER)), start)
        .unwrap();
    relay
        .offer(OfferRequest::new("talking", "a", parse(OFFER)), start)
        .unwrap();
    let timeout = relay.config().media_timeout;
    assert_eq!(relay.poll_timeout(), Some(start + timeout));
    let stream = relay.query("talking").unwrap().legs[0].media[0].id;
    relay.record_traffic(
        stream,
        Traffic::new(
            Counters::default(),
            Counters::default(),
            Some(start + timeout / 2),
        ),
    );
    drain(&mut relay);

    assert!(relay.sweep(start + timeout / 2).is_empty());
    let expired = relay.sweep(start + timeout);
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].call_id, "quiet");
    assert_eq!(relay.call_count(), 1);
    assert_eq!(relay.port_pool().in_use(), 2);
    assert_eq!(
        drain(&mut relay).len(),
        2,
        "both streams of the expired call removed"
    );
    assert_eq!(relay.poll_timeout(), Some(start + timeout / 2 + timeout));
}

#[test]
fn ice_restart_in_a_reoffer_gives_new_local_credentials() {
    let mut relay = relay();
    let offer = sample("chromium-offer-audio.sdp");
    relay
        .offer(
            OfferRequest::new("c", "a", offer.clone()).with_options(towards_sip()),
            now(),
        )
        .unwrap();
    let first = reparse(
        &relay
            .answer(AnswerRequest::new("c", "a", "b", parse(ANSWER)), now())
            .unwrap(),
    );
    let first_ufrag = values(&first.media[0].attributes, "ice-ufrag");

    // The same offer again: no restart, same credentials.
    relay
        .offer(
            OfferRequest::new("c", "a", offer.clone()).with_options(towards_sip()),
            now(),
        )
        .unwrap();
    let again = reparse(
        &relay
            .answer(AnswerRequest::new("c", "a", "b", parse(ANSWER)), now())
            .unwrap(),
    );
    assert_eq!(values(&again.media[0].attributes, "ice-ufrag"), first_ufrag);

    // New ufrag and pwd from the browser: an ICE restart (RFC 8445 §9).
    let restarted = offer
        .to_string()
        .replace("ice-ufrag:HsDU", "ice-ufrag:Rst2")
        .replace(
            "ice-pwd:fxUU0DFIVB3ogUoQ87On9ytv",
            "ice-pwd:NewPassword0123456789abcd",
        );
    let forwarded = relay
        .offer(
            OfferRequest::new("c", "a", parse(&restarted)).with_options(towards_sip()),
            now(),
        )
        .unwrap();
    assert!(
        !reparse(&forwarded).media[0].has_attribute("ice-ufrag"),
        "the SIP side sees no ICE"
    );
    let back = reparse(
        &relay
            .answer(AnswerRequest::new("c", "a", "b", parse(ANSWER)), now())
            .unwrap(),
    );
    let ufrag = values(&back.media[0].attributes, "ice-ufrag");
    assert_eq!(ufrag.len(), 1);
    assert_ne!(ufrag, first_ufrag);
    let browser = leg_media(&relay, "c", Some("a"), 0);
    let ice = browser.ice.as_ref().unwrap();
    assert_eq!(ice.generation, 1);
    assert_eq!(ice.local.ufrag(), ufrag[0]);
    assert_eq!(ice.remote.as_ref().map(|c| c.ufrag()), Some("Rst2"));
    assert!(back.attributes.contains(&Attribute::IceLite));
}

#[test]
fn an_identical_reoffer_publishes_nothing() {
    let mut relay = relay();
    established(&mut relay, "c");
    let versions: Vec<_> = upserts(&drain(&mut relay))
        .iter()
        .map(|m| (m.id, m.version))
        .collect();
    established(&mut relay, "c");
    assert!(
        drain(&mut relay).is_empty(),
        "nothing changed for the packet path"
    );
    let again: Vec<_> = versions
        .iter()
        .map(|(id, _)| (*id, relay.media(*id).unwrap().version))
        .collect();
    assert_eq!(again, versions);
}

#[test]
fn an_answer_with_the_wrong_number_of_sections_changes_nothing() {
    let mut relay = relay();
    call(&mut relay, "c").unwrap();
    drain(&mut relay);
    let two = format!("{ANSWER}m=video 0 RTP/AVP 96\r\n");
    let err = relay
        .answer(AnswerRequest::new("c", "a", "b", parse(&two)), now())
        .unwrap_err();
    assert_eq!(
        err,
        SessionError::MediaCountMismatch {
            offered: 1,
            answered: 2
        }
    );
    assert!(relay.poll_update().is_none());
    relay
        .answer(AnswerRequest::new("c", "a", "b", parse(ANSWER)), now())
        .unwrap();
}

#[test]
fn answers_need_a_call_and_the_offerers_tag() {
    let mut relay = relay();
    let answer = || AnswerRequest::new("c", "a", "b", parse(ANSWER));
    assert!(matches!(
        relay.answer(answer(), now()),
        Err(SessionError::CallNotFound { .. })
    ));
    call(&mut relay, "c").unwrap();
    let wrong = AnswerRequest::new("c", "b", "a", parse(ANSWER));
    assert!(matches!(
        relay.answer(wrong, now()),
        Err(SessionError::LegNotFound { .. })
    ));
}

#[test]
fn a_later_answer_to_the_same_offer_replaces_the_earlier_one() {
    let mut relay = relay();
    call(&mut relay, "c").unwrap();
    // 183 Session Progress with PCMU only...
    let early = ANSWER.replace(" 0 101\r\n", " 0\r\n");
    let first = reparse(
        &relay
            .answer(AnswerRequest::new("c", "a", "b", parse(&early)), now())
            .unwrap(),
    );
    assert_eq!(formats(&first.media[0]), ["0"]);
    // ...then 200 OK from another branch of the fork, on another port, with telephone-event too.
    let ok = ANSWER.replace("40000", "40010");
    let second = reparse(
        &relay
            .answer(AnswerRequest::new("c", "a", "b2", parse(&ok)), now())
            .unwrap(),
    );
    assert_eq!(formats(&second.media[0]), ["0", "101"]);
    assert_eq!(second.media[0].port, first.media[0].port);
    let callee = leg_media(&relay, "c", Some("b2"), 0);
    assert_eq!(
        callee.remote_rtp,
        Some("198.51.100.20:40010".parse().unwrap())
    );
    assert_eq!(callee.telephone_event(), Some(101));
    assert!(
        relay
            .query("c")
            .unwrap()
            .legs
            .iter()
            .all(|l| l.tag.as_deref() != Some("b"))
    );
}

#[test]
fn an_offer_from_an_unknown_tag_of_a_known_call_is_refused() {
    let mut relay = relay();
    established(&mut relay, "c");
    let err = relay
        .offer(OfferRequest::new("c", "intruder", parse(OFFER)), now())
        .unwrap_err();
    assert!(matches!(err, SessionError::LegNotFound { .. }));
}

#[test]
fn a_reoffer_may_add_sections_but_not_remove_them() {
    let mut relay = relay();
    established(&mut relay, "c");
    let with_video = format!("{OFFER}m=video 49180 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n");
    let out = reparse(
        &relay
            .offer(OfferRequest::new("c", "a", parse(&with_video)), now())
            .unwrap(),
    );
    assert_eq!(out.media.len(), 2);
    assert_ne!(out.media[1].port, 0);
    assert_eq!(relay.port_pool().in_use(), 4);
    let err = relay
        .offer(OfferRequest::new("c", "a", parse(OFFER)), now())
        .unwrap_err();
    assert_eq!(
        err,
        SessionError::MediaRemoved {
            existing: 2,
            offered: 1
        }
    );
}

#[test]
fn the_relay_refuses_a_configuration_it_cannot_advertise() {
    let config = tandem_media_bridge::session::RelayConfig::new("0.0.0.0".parse().unwrap());
    assert!(matches!(
        Relay::new(config),
        Err(SessionError::InvalidConfig { .. })
    ));
    let empty = config_with_ports(30001..=30001);
    assert!(matches!(
        Relay::new(empty),
        Err(SessionError::InvalidPortRange { .. })
    ));
}

fn config_with_ports(
    ports: std::ops::RangeInclusive<u16>,
) -> tandem_media_bridge::session::RelayConfig {
    config().with_ports(ports)
}
