//! The ICE-lite agent against a tiny full, controlling ICE agent that builds its checks with the crate's own
//! STUN writer and reads the answers with its parser: interop of writer, parser and agent, in virtual time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tandem_media_bridge::ice::{Credentials, Event, IceAgent, IceConfig, IceError};
use tandem_media_bridge::stun::{
    Class, IntegrityKey, Message, MessageWriter, Method, StunErrorKind, TransactionId,
};

const LITE_UFRAG: &str = "LiTe";
const LITE_PWD: &str = "lite+password+0123456789";
const PEER_UFRAG: &str = "Brws";
const PEER_PWD: &str = "browser+password+0123456789";

/// The controlling side of a browser, reduced to what a check needs.
struct ControllingPeer {
    address: SocketAddr,
    local_ufrag: String,
    remote_ufrag: String,
    remote_key: IntegrityKey,
    next_id: u8,
}

/// What the controlling peer puts in a check.
#[derive(Clone, Copy, Default)]
struct CheckOptions {
    nominate: bool,
    role_controlled: bool,
    wrong_password: bool,
    no_integrity: bool,
    no_fingerprint: bool,
    unknown_required: Option<u16>,
}

impl ControllingPeer {
    /// A peer that learnt the lite agent's credentials from its SDP lines.
    fn from_sdp(address: &str, lite: &IceAgent) -> ControllingPeer {
        let lines: Vec<String> = lite.sdp().lines().collect();
        let value = |prefix: &str| {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
                .expect("attribute present")
                .to_owned()
        };
        ControllingPeer {
            address: address.parse().unwrap(),
            local_ufrag: PEER_UFRAG.to_owned(),
            remote_ufrag: value("a=ice-ufrag:"),
            remote_key: IntegrityKey::short_term(&value("a=ice-pwd:")),
            next_id: 0,
        }
    }

    fn check(&mut self, options: CheckOptions) -> (TransactionId, Vec<u8>) {
        self.next_id += 1;
        let id = TransactionId([self.next_id; 12]);
        let mut buf = [0u8; 256];
        let mut w = MessageWriter::new(&mut buf, Class::Request, Method::BINDING, id).unwrap();
        w.username(&format!("{}:{}", self.remote_ufrag, self.local_ufrag))
            .unwrap();
        w.priority(1_845_501_695).unwrap();
        if options.role_controlled {
            w.ice_controlled(0x1234).unwrap();
        } else {
            w.ice_controlling(0x1234).unwrap();
        }
        if options.nominate {
            w.use_candidate().unwrap();
        }
        if let Some(kind) = options.unknown_required {
            w.raw_attribute(kind, &[0; 4]).unwrap();
        }
        if !options.no_integrity {
            let key = if options.wrong_password {
                IntegrityKey::short_term("not-the-password-0123456789")
            } else {
                self.remote_key.clone()
            };
            w.message_integrity(&key).unwrap();
        }
        if !options.no_fingerprint {
            w.fingerprint().unwrap();
        }
        let len = w.finish();
        (id, buf[..len].to_vec())
    }

    /// Sends a check to `lite` at `now` and returns the parsed-and-owned response bytes, if any.
    fn send(
        &mut self,
        lite: &mut IceAgent,
        now: Instant,
        options: CheckOptions,
    ) -> Option<Vec<u8>> {
        let (id, request) = self.check(options);
        let response = lite.handle_binding_request(now, self.address, &request)?;
        let bytes = response.as_bytes().to_vec();
        let message = Message::parse(&bytes).expect("the lite agent's answer parses");
        assert_eq!(message.transaction_id(), id);
        assert!(
            message.has_fingerprint(),
            "every answer carries FINGERPRINT"
        );
        Some(bytes)
    }

    /// Checks a success response: signed with the lite agent's password, reflecting our address.
    fn expect_success(&self, bytes: &[u8]) {
        let message = Message::parse(bytes).unwrap();
        assert_eq!(message.class(), Class::SuccessResponse);
        message
            .verify_integrity(&self.remote_key)
            .expect("signed with the lite agent's password");
        assert_eq!(message.xor_mapped_address(), Some(self.address));
    }

    fn expect_error(&self, bytes: &[u8], code: u16, signed: bool) {
        let message = Message::parse(bytes).unwrap();
        assert_eq!(message.class(), Class::ErrorResponse);
        assert_eq!(message.error_code().map(|e| e.code), Some(code));
        if signed {
            message.verify_integrity(&self.remote_key).expect("signed");
        } else {
            assert!(!message.has_integrity(), "{code} must not be signed");
        }
    }
}

fn lite_agent() -> IceAgent {
    let mut agent = IceAgent::with_credentials(
        Credentials::new(LITE_UFRAG, LITE_PWD).unwrap(),
        IceConfig::default(),
    );
    agent
        .add_host_candidate("203.0.113.7:30000".parse().unwrap())
        .unwrap();
    agent.set_remote_credentials(Credentials::new(PEER_UFRAG, PEER_PWD).unwrap());
    agent
}

fn nominate() -> CheckOptions {
    CheckOptions {
        nominate: true,
        ..CheckOptions::default()
    }
}

fn events(agent: &mut IceAgent) -> Vec<Event> {
    std::iter::from_fn(|| agent.poll_event()).collect()
}

#[test]
fn full_exchange_answers_checks_and_selects_the_nominated_pair() {
    let t0 = Instant::now();
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);

    let answer = peer
        .send(&mut lite, t0, CheckOptions::default())
        .expect("answered");
    peer.expect_success(&answer);
    assert_eq!(lite.selected(), None, "no nomination yet");
    assert!(events(&mut lite).is_empty());

    let answer = peer
        .send(&mut lite, t0 + Duration::from_millis(50), nominate())
        .unwrap();
    peer.expect_success(&answer);
    assert_eq!(lite.selected(), Some(peer.address));
    assert_eq!(events(&mut lite), vec![Event::Selected(peer.address)]);
}

#[test]
fn ipv6_peer_gets_its_address_reflected() {
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("[2001:db8::20]:50000", &lite);
    let answer = peer.send(&mut lite, Instant::now(), nominate()).unwrap();
    peer.expect_success(&answer);
    assert_eq!(lite.selected(), Some(peer.address));
}

#[test]
fn wrong_password_gets_401_and_changes_no_state() {
    let t0 = Instant::now();
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    let options = CheckOptions {
        nominate: true,
        wrong_password: true,
        ..CheckOptions::default()
    };
    let answer = peer.send(&mut lite, t0, options).expect("answered");
    peer.expect_error(&answer, 401, false);
    assert_eq!(lite.selected(), None);
    assert_eq!(
        lite.poll_timeout(),
        None,
        "consent not armed by a forged check"
    );
    assert!(events(&mut lite).is_empty());
}

#[test]
fn wrong_usernames_get_401() {
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    peer.local_ufrag = "Othr".to_owned();
    let answer = peer.send(&mut lite, Instant::now(), nominate()).unwrap();
    peer.expect_error(&answer, 401, false);

    peer.local_ufrag = PEER_UFRAG.to_owned();
    peer.remote_ufrag = "NotUs".to_owned();
    let answer = peer.send(&mut lite, Instant::now(), nominate()).unwrap();
    peer.expect_error(&answer, 401, false);
    assert_eq!(lite.selected(), None);
}

#[test]
fn accepts_any_peer_ufrag_until_the_remote_credentials_are_known() {
    let mut lite = IceAgent::with_credentials(
        Credentials::new(LITE_UFRAG, LITE_PWD).unwrap(),
        IceConfig::default(),
    );
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    peer.local_ufrag = "Early".to_owned();
    let answer = peer
        .send(&mut lite, Instant::now(), CheckOptions::default())
        .unwrap();
    peer.expect_success(&answer);

    lite.set_remote_credentials(Credentials::new(PEER_UFRAG, PEER_PWD).unwrap());
    let answer = peer
        .send(&mut lite, Instant::now(), CheckOptions::default())
        .unwrap();
    peer.expect_error(&answer, 401, false);
}

#[test]
fn missing_fingerprint_is_dropped_silently() {
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    let options = CheckOptions {
        nominate: true,
        no_fingerprint: true,
        ..CheckOptions::default()
    };
    assert!(peer.send(&mut lite, Instant::now(), options).is_none());
    assert_eq!(lite.selected(), None);
}

#[test]
fn invalid_fingerprint_is_dropped_silently() {
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    let (_, mut request) = peer.check(nominate());
    let last = request.len() - 1;
    request[last] ^= 0x01;
    let err = Message::parse(&request).unwrap_err();
    assert_eq!(err.kind, StunErrorKind::Fingerprint);
    assert!(
        lite.handle_binding_request(Instant::now(), peer.address, &request)
            .is_none()
    );
    assert_eq!(lite.selected(), None);
}

#[test]
fn missing_integrity_gets_400() {
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    let options = CheckOptions {
        nominate: true,
        no_integrity: true,
        ..CheckOptions::default()
    };
    let answer = peer.send(&mut lite, Instant::now(), options).unwrap();
    peer.expect_error(&answer, 400, false);
    assert_eq!(lite.selected(), None);
}

#[test]
fn peer_claiming_the_controlled_role_gets_487_and_changes_no_state() {
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    let options = CheckOptions {
        nominate: true,
        role_controlled: true,
        ..CheckOptions::default()
    };
    let answer = peer.send(&mut lite, Instant::now(), options).unwrap();
    peer.expect_error(&answer, 487, true);
    assert_eq!(lite.selected(), None);
    assert_eq!(lite.poll_timeout(), None);
}

#[test]
fn unknown_comprehension_required_attribute_gets_420_listing_it() {
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    let options = CheckOptions {
        nominate: true,
        unknown_required: Some(0x0031),
        ..CheckOptions::default()
    };
    let answer = peer.send(&mut lite, Instant::now(), options).unwrap();
    peer.expect_error(&answer, 420, true);
    let message = Message::parse(&answer).unwrap();
    let listed: Vec<u16> = message.unknown_attributes().unwrap().iter().collect();
    assert_eq!(listed, vec![0x0031]);
    assert_eq!(lite.selected(), None);
}

#[test]
fn unknown_comprehension_optional_attribute_is_skipped() {
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    let options = CheckOptions {
        nominate: true,
        unknown_required: Some(0xC057),
        ..CheckOptions::default()
    };
    let answer = peer.send(&mut lite, Instant::now(), options).unwrap();
    peer.expect_success(&answer);
}

#[test]
fn indications_and_responses_are_not_answered() {
    let mut lite = lite_agent();
    let peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    for class in [
        Class::Indication,
        Class::SuccessResponse,
        Class::ErrorResponse,
    ] {
        let mut buf = [0u8; 64];
        let mut w =
            MessageWriter::new(&mut buf, class, Method::BINDING, TransactionId([1; 12])).unwrap();
        w.fingerprint().unwrap();
        let len = w.finish();
        assert!(
            lite.handle_binding_request(Instant::now(), peer.address, &buf[..len])
                .is_none()
        );
    }
}

#[test]
fn renomination_switches_the_selected_pair() {
    let t0 = Instant::now();
    let mut lite = lite_agent();
    let mut wifi = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    let mut cellular = ControllingPeer::from_sdp("192.0.2.99:40000", &lite);

    wifi.send(&mut lite, t0, nominate()).unwrap();
    wifi.send(&mut lite, t0 + Duration::from_secs(1), nominate())
        .unwrap();
    assert_eq!(
        events(&mut lite),
        vec![Event::Selected(wifi.address)],
        "same pair: one event"
    );

    let answer = cellular
        .send(&mut lite, t0 + Duration::from_secs(2), nominate())
        .unwrap();
    cellular.expect_success(&answer);
    assert_eq!(lite.selected(), Some(cellular.address));
    assert_eq!(events(&mut lite), vec![Event::Selected(cellular.address)]);

    // A plain check on the old path keeps consent but does not move media back.
    wifi.send(
        &mut lite,
        t0 + Duration::from_secs(3),
        CheckOptions::default(),
    )
    .unwrap();
    assert_eq!(lite.selected(), Some(cellular.address));
}

#[test]
fn media_follows_the_peer_to_a_validated_pair_it_did_not_nominate() {
    let t0 = Instant::now();
    let mut lite = lite_agent();
    let mut loopback = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    let mut lan = ControllingPeer::from_sdp("192.0.2.2:40000", &lite);
    let stranger: std::net::SocketAddr = "192.0.2.66:40000".parse().unwrap();

    loopback.send(&mut lite, t0, nominate()).unwrap();
    // The peer checks another pair without nominating it, then moves its media there (as Chromium does).
    lan.send(&mut lite, t0, CheckOptions::default()).unwrap();
    events(&mut lite);
    assert!(lite.is_validated(lan.address) && lite.is_validated(loopback.address));
    assert!(!lite.is_validated(stranger));
    assert_eq!(lite.selected(), Some(loopback.address));

    assert!(lite.follow_media(lan.address));
    assert_eq!(lite.selected(), Some(lan.address));
    assert_eq!(events(&mut lite), vec![Event::Selected(lan.address)]);
    assert!(!lite.follow_media(lan.address), "already there: no change");
    assert!(
        !lite.follow_media(stranger),
        "never checked: media does not go there"
    );
    assert_eq!(lite.selected(), Some(lan.address));
    assert!(events(&mut lite).is_empty());
}

#[test]
fn consent_expires_after_the_timeout_in_virtual_time() {
    let t0 = Instant::now();
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    assert_eq!(lite.poll_timeout(), None);

    peer.send(&mut lite, t0, nominate()).unwrap();
    events(&mut lite);
    let deadline = lite.poll_timeout().expect("armed by the first valid check");
    assert_eq!(deadline, t0 + Duration::from_secs(30));

    lite.handle_timeout(deadline - Duration::from_millis(1));
    assert!(events(&mut lite).is_empty());
    lite.handle_timeout(deadline);
    assert_eq!(events(&mut lite), vec![Event::ConsentExpired]);
    assert!(lite.is_consent_expired());
    assert_eq!(lite.poll_timeout(), None);

    // A dead leg answers nothing until an ICE restart.
    assert!(
        peer.send(&mut lite, deadline + Duration::from_secs(1), nominate())
            .is_none()
    );
}

#[test]
fn checks_and_authenticated_media_refresh_consent() {
    let t0 = Instant::now();
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    peer.send(&mut lite, t0, nominate()).unwrap();

    for second in (5..=100).step_by(5) {
        let now = t0 + Duration::from_secs(second);
        lite.handle_timeout(now);
        peer.send(&mut lite, now, CheckOptions::default()).unwrap();
    }
    assert!(!lite.is_consent_expired());
    assert_eq!(lite.poll_timeout(), Some(t0 + Duration::from_secs(130)));

    lite.refresh_consent(t0 + Duration::from_secs(125));
    lite.handle_timeout(t0 + Duration::from_secs(150));
    assert!(!lite.is_consent_expired());
    assert_eq!(lite.poll_timeout(), Some(t0 + Duration::from_secs(155)));
}

#[test]
fn failed_checks_do_not_refresh_consent() {
    let t0 = Instant::now();
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    peer.send(&mut lite, t0, nominate()).unwrap();
    let forged = CheckOptions {
        wrong_password: true,
        ..CheckOptions::default()
    };
    peer.send(&mut lite, t0 + Duration::from_secs(20), forged)
        .unwrap();
    assert_eq!(lite.poll_timeout(), Some(t0 + Duration::from_secs(30)));
}

#[test]
fn ice_restart_changes_credentials_and_keeps_the_pair_until_renominated() {
    let t0 = Instant::now();
    let mut lite = lite_agent();
    let mut old_peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    old_peer.send(&mut lite, t0, nominate()).unwrap();
    events(&mut lite);

    let new_remote = Credentials::new("Brw2", "browser+password+second+9876").unwrap();
    let new_local = lite.restart(new_remote).unwrap().clone();
    assert_ne!(new_local.ufrag(), LITE_UFRAG);
    assert_ne!(new_local.pwd(), LITE_PWD);
    assert_eq!(lite.selected(), Some(old_peer.address), "selection kept");

    // The peer has not applied the new answer yet: its old credentials still work.
    let answer = old_peer
        .send(
            &mut lite,
            t0 + Duration::from_secs(1),
            CheckOptions::default(),
        )
        .unwrap();
    old_peer.expect_success(&answer);

    // Then it switches to the new credentials, on a new path, and nominates it.
    let mut new_peer = ControllingPeer::from_sdp("192.0.2.99:40000", &lite);
    new_peer.local_ufrag = "Brw2".to_owned();
    assert_eq!(new_peer.remote_ufrag, new_local.ufrag());
    let answer = new_peer
        .send(
            &mut lite,
            t0 + Duration::from_secs(2),
            CheckOptions::default(),
        )
        .unwrap();
    new_peer.expect_success(&answer);
    assert_eq!(lite.selected(), Some(old_peer.address), "no nomination yet");
    new_peer
        .send(&mut lite, t0 + Duration::from_secs(3), nominate())
        .unwrap();
    assert_eq!(events(&mut lite), vec![Event::Selected(new_peer.address)]);

    // The old credentials are retired once the new ones were used.
    let answer = old_peer
        .send(&mut lite, t0 + Duration::from_secs(4), nominate())
        .unwrap();
    old_peer.expect_error(&answer, 401, false);
    assert_eq!(lite.selected(), Some(new_peer.address));
}

#[test]
fn ice_restart_revives_a_leg_whose_consent_expired() {
    let t0 = Instant::now();
    let mut lite = lite_agent();
    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    peer.send(&mut lite, t0, nominate()).unwrap();
    lite.handle_timeout(t0 + Duration::from_secs(30));
    assert!(lite.is_consent_expired());

    let new_local = Credentials::new("LiT2", "lite+password+second+0123").unwrap();
    let new_remote = Credentials::new("Brw2", "browser+password+second+9876").unwrap();
    lite.restart_with(new_local, new_remote);
    assert!(!lite.is_consent_expired());
    assert_eq!(
        lite.poll_timeout(),
        None,
        "re-armed by the next valid check"
    );

    let mut peer = ControllingPeer::from_sdp("198.51.100.20:50000", &lite);
    peer.local_ufrag = "Brw2".to_owned();
    let answer = peer
        .send(&mut lite, t0 + Duration::from_secs(40), nominate())
        .unwrap();
    peer.expect_success(&answer);
    assert_eq!(lite.poll_timeout(), Some(t0 + Duration::from_secs(70)));
}

#[test]
fn sdp_attributes_describe_an_ice_lite_side() {
    let mut lite = lite_agent();
    lite.add_host_candidate("[2001:db8::7]:30000".parse().unwrap())
        .unwrap();
    lite.add_host_candidate("203.0.113.7:30002".parse().unwrap())
        .unwrap();
    let lines: Vec<String> = lite.sdp().lines().collect();
    assert_eq!(
        lines,
        vec![
            "a=ice-lite".to_owned(),
            format!("a=ice-ufrag:{LITE_UFRAG}"),
            format!("a=ice-pwd:{LITE_PWD}"),
            "a=candidate:1 1 UDP 2130706431 203.0.113.7 30000 typ host".to_owned(),
            "a=candidate:2 1 UDP 2130706175 2001:db8::7 30000 typ host".to_owned(),
            "a=candidate:1 1 UDP 2130705919 203.0.113.7 30002 typ host".to_owned(),
            "a=end-of-candidates".to_owned(),
        ]
    );
    let sdp = lite.sdp();
    assert_eq!(sdp.session.len(), 1);
    assert_eq!(sdp.media.len(), 6);
}

#[test]
fn refuses_unusable_or_too_many_host_candidates() {
    let mut lite = lite_agent();
    let refused = |r: Result<_, IceError>| matches!(r, Err(IceError::InvalidCandidate { .. }));
    assert!(refused(
        lite.add_host_candidate("0.0.0.0:30000".parse().unwrap())
            .map(|_| ())
    ));
    assert!(refused(
        lite.add_host_candidate("203.0.113.7:0".parse().unwrap())
            .map(|_| ())
    ));
    assert!(refused(
        lite.add_host_candidate("203.0.113.7:30000".parse().unwrap())
            .map(|_| ())
    ));
    for port in 1..8 {
        lite.add_host_candidate(SocketAddr::new([203, 0, 113, 8].into(), port))
            .unwrap();
    }
    assert_eq!(
        lite.add_host_candidate("203.0.113.9:1".parse().unwrap())
            .map(|_| ()),
        Err(IceError::TooManyCandidates)
    );
}

#[test]
fn new_agents_get_distinct_random_credentials() {
    let a = IceAgent::new(IceConfig::default()).unwrap();
    let b = IceAgent::new(IceConfig::default()).unwrap();
    assert_ne!(a.local_credentials(), b.local_credentials());
    assert!(a.local_credentials().ufrag().len() >= 4);
    assert!(a.local_credentials().pwd().len() >= 22);
}
