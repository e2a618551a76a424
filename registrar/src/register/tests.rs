//! The REGISTER rules, one test per rule, in virtual time: a registrar, a list standing in for the store, and
//! a clock that only moves when a test says so.

use super::*;
use crate::binding::FlowToken;
use bytes::Bytes;
use std::net::SocketAddr;
use tandem_sip_core::header::MinExpires;
use tandem_sip_core::{HeaderName, Message, Transport, parse_message};

const T0: u64 = 1_700_000_000;

/// A REGISTER for `sip:alice@example.com` with the headers a test adds.
#[derive(Clone)]
struct Register {
    request_uri: String,
    to: String,
    call_id: String,
    cseq: u32,
    vias: usize,
    headers: Vec<String>,
}

fn register() -> Register {
    Register {
        request_uri: "sip:example.com".into(),
        to: "<sip:alice@example.com>".into(),
        call_id: "call-1@192.0.2.10".into(),
        cseq: 1,
        vias: 1,
        headers: Vec::new(),
    }
}

impl Register {
    fn header(mut self, line: &str) -> Register {
        self.headers.push(line.to_owned());
        self
    }

    fn contact(self, value: &str) -> Register {
        self.header(&format!("Contact: {value}"))
    }

    fn cseq(mut self, cseq: u32) -> Register {
        self.cseq = cseq;
        self
    }

    fn call_id(mut self, call_id: &str) -> Register {
        self.call_id = call_id.into();
        self
    }

    fn to(mut self, to: &str) -> Register {
        self.to = to.into();
        self
    }

    fn request_uri(mut self, uri: &str) -> Register {
        self.request_uri = uri.into();
        self
    }

    fn through_proxy(mut self) -> Register {
        self.vias = 2;
        self
    }

    fn text(&self, method: &str) -> String {
        let mut text = format!("{method} {} SIP/2.0\r\n", self.request_uri);
        if self.vias > 1 {
            text.push_str("Via: SIP/2.0/TCP edge.example.com;branch=z9hG4bKedge\r\n");
        }
        text.push_str("Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKua\r\n");
        text.push_str("Max-Forwards: 70\r\n");
        text.push_str(&format!("To: {}\r\n", self.to));
        text.push_str("From: <sip:alice@example.com>;tag=f1\r\n");
        if !self.call_id.is_empty() {
            text.push_str(&format!("Call-ID: {}\r\n", self.call_id));
        }
        text.push_str(&format!("CSeq: {} {method}\r\n", self.cseq));
        for line in &self.headers {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        text
    }

    fn build(&self) -> Request {
        self.build_method("REGISTER")
    }

    fn build_method(&self, method: &str) -> Request {
        match parse_message(Bytes::from(self.text(method))) {
            Ok(Message::Request(r)) => r,
            other => panic!("test request does not parse: {other:?}"),
        }
    }
}

/// A registrar with its bindings and a virtual clock.
struct Harness {
    registrar: Registrar,
    bindings: Vec<Binding>,
    now: SystemTime,
    flow: Flow,
}

fn harness() -> Harness {
    harness_with(RegistrarConfig::default())
}

fn harness_with(config: RegistrarConfig) -> Harness {
    Harness {
        registrar: Registrar::new(config),
        bindings: Vec::new(),
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(T0),
        flow: flow("udp-1", "192.0.2.10:5060"),
    }
}

fn flow(token: &'static str, remote: &str) -> Flow {
    let remote: SocketAddr = remote.parse().unwrap_or_else(|e| panic!("{remote}: {e}"));
    Flow::new(FlowToken::new(token), Transport::Udp, remote)
}

impl Harness {
    /// Send a REGISTER and apply its changes to the bindings, as a store would.
    fn send(&mut self, register: &Register) -> RegisterOutcome {
        let outcome =
            self.registrar
                .handle_register(self.now, &register.build(), &self.flow, &self.bindings);
        for change in &outcome.changes {
            match change {
                BindingChange::Upsert(b) => {
                    self.bindings.retain(|x| x.key != b.key);
                    self.bindings.push(b.clone());
                }
                BindingChange::Remove(key) => self.bindings.retain(|x| x.key != *key),
            }
        }
        outcome
    }

    fn advance(&mut self, seconds: u64) {
        self.now += Duration::from_secs(seconds);
    }

    fn only_binding(&self) -> &Binding {
        assert_eq!(self.bindings.len(), 1, "{:#?}", self.bindings);
        &self.bindings[0]
    }
}

fn status(outcome: &RegisterOutcome) -> u16 {
    outcome.response.status().as_u16()
}

/// The Contact values of a response, as written.
fn contacts(response: &Response) -> Vec<String> {
    response
        .headers()
        .elements(HeaderName::Contact)
        .map(|e| String::from_utf8_lossy(&e.value).into_owned())
        .collect()
}

fn header(response: &Response, name: HeaderName) -> Option<String> {
    response
        .headers()
        .get(&name)
        .map(|f| String::from_utf8_lossy(f.value()).into_owned())
}

fn expires_of(response: &Response) -> Vec<Option<u32>> {
    response
        .headers()
        .contacts()
        .map(|c| c.ok().and_then(|c| c.expires()))
        .collect()
}

// ---- expiration (RFC 3261 §10.3 step 6) ----

#[test]
fn registers_contact_with_its_expires_parameter_and_lists_it_in_the_200() {
    let mut h = harness();
    let out = h.send(&register().contact("<sip:alice@192.0.2.10>;expires=600"));
    assert_eq!(status(&out), 200);
    assert_eq!(h.only_binding().remaining(h.now), 600);
    assert_eq!(
        contacts(&out.response),
        ["<sip:alice@192.0.2.10>;expires=600"]
    );
    assert_eq!(
        out.aor.as_ref().map(Aor::as_str),
        Some("sip:alice@example.com")
    );
}

#[test]
fn expires_header_applies_when_the_contact_has_no_parameter() {
    let mut h = harness();
    h.send(
        &register()
            .header("Expires: 300")
            .contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(h.only_binding().remaining(h.now), 300);
}

#[test]
fn contact_parameter_takes_precedence_over_the_expires_header() {
    let mut h = harness();
    h.send(
        &register()
            .header("Expires: 300")
            .contact("<sip:alice@192.0.2.10>;expires=900"),
    );
    assert_eq!(h.only_binding().remaining(h.now), 900);
}

#[test]
fn default_expiration_applies_without_parameter_or_header() {
    let config = RegistrarConfig {
        default_expires: 1800,
        ..RegistrarConfig::default()
    };
    let mut h = harness_with(config);
    h.send(&register().contact("<sip:alice@192.0.2.10>"));
    assert_eq!(h.only_binding().remaining(h.now), 1800);
}

#[test]
fn malformed_expires_header_counts_as_3600() {
    let mut h = harness();
    h.send(
        &register()
            .header("Expires: soon")
            .contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(h.only_binding().remaining(h.now), 3600);
}

#[test]
fn too_brief_expiration_is_refused_with_423_and_min_expires() {
    let mut h = harness();
    let out = h.send(&register().contact("<sip:alice@192.0.2.10>;expires=59"));
    assert_eq!(status(&out), 423);
    assert_eq!(
        out.rejection,
        Some(RegisterRejection::IntervalTooBrief { min_expires: 60 })
    );
    let min: Option<MinExpires> = out.response.headers().typed().and_then(Result::ok);
    assert_eq!(min, Some(MinExpires(60)));
    assert!(out.changes.is_empty());
    assert!(h.bindings.is_empty());
}

#[test]
fn one_too_brief_contact_refuses_the_whole_request() {
    let mut h = harness();
    let out = h.send(
        &register()
            .contact("<sip:alice@192.0.2.10>;expires=600")
            .contact("<sip:alice@192.0.2.11>;expires=5"),
    );
    assert_eq!(status(&out), 423);
    assert!(h.bindings.is_empty());
}

#[test]
fn expiration_above_the_maximum_is_shortened() {
    let config = RegistrarConfig {
        max_expires: 7200,
        ..RegistrarConfig::default()
    };
    let mut h = harness_with(config);
    let out = h.send(&register().contact("<sip:alice@192.0.2.10>;expires=4294967295"));
    assert_eq!(status(&out), 200);
    assert_eq!(expires_of(&out.response), [Some(7200)]);
}

#[test]
fn zero_expiration_removes_the_binding() {
    let mut h = harness();
    h.send(&register().contact("<sip:alice@192.0.2.10>;expires=600"));
    let out = h.send(
        &register()
            .cseq(2)
            .contact("<sip:alice@192.0.2.10>;expires=0"),
    );
    assert_eq!(status(&out), 200);
    assert!(h.bindings.is_empty());
    assert!(contacts(&out.response).is_empty());
    assert!(matches!(out.changes.as_slice(), [BindingChange::Remove(_)]));
}

#[test]
fn removing_an_unknown_contact_succeeds_and_changes_nothing() {
    let mut h = harness();
    let out = h.send(&register().contact("<sip:alice@192.0.2.10>;expires=0"));
    assert_eq!(status(&out), 200);
    assert!(out.changes.is_empty());
}

#[test]
fn remaining_time_in_the_200_counts_down_in_virtual_time() {
    let mut h = harness();
    h.send(&register().contact("<sip:alice@192.0.2.10>;expires=600"));
    h.advance(100);
    let out = h.send(
        &register()
            .call_id("other")
            .contact("<sip:bob@192.0.2.20>;expires=600"),
    );
    assert_eq!(expires_of(&out.response), [Some(600), Some(500)]);
}

#[test]
fn expired_bindings_are_not_listed_and_are_removed() {
    let mut h = harness();
    h.send(&register().contact("<sip:alice@192.0.2.10>;expires=60"));
    h.advance(60);
    let out = h.send(&register().cseq(2));
    assert_eq!(status(&out), 200);
    assert!(contacts(&out.response).is_empty());
    assert!(matches!(out.changes.as_slice(), [BindingChange::Remove(_)]));
    assert!(h.bindings.is_empty());
}

// ---- Call-ID / CSeq ordering (RFC 3261 §10.3 step 7) ----

#[test]
fn refresh_with_a_higher_cseq_extends_the_binding() {
    let mut h = harness();
    h.send(&register().contact("<sip:alice@192.0.2.10>;expires=600"));
    h.advance(500);
    let out = h.send(
        &register()
            .cseq(2)
            .contact("<sip:alice@192.0.2.10>;expires=600"),
    );
    assert_eq!(status(&out), 200);
    let b = h.only_binding();
    assert_eq!((b.remaining(h.now), b.cseq), (600, 2));
}

#[test]
fn same_call_id_with_a_cseq_not_higher_is_refused_with_500() {
    let mut h = harness();
    h.send(
        &register()
            .cseq(5)
            .contact("<sip:alice@192.0.2.10>;expires=600"),
    );
    for cseq in [5, 4] {
        let out = h.send(
            &register()
                .cseq(cseq)
                .contact("<sip:alice@192.0.2.10>;expires=0"),
        );
        assert_eq!(status(&out), 500, "cseq {cseq}");
        assert_eq!(out.rejection, Some(RegisterRejection::OutOfOrder));
        assert!(out.changes.is_empty());
    }
    assert_eq!(h.only_binding().cseq, 5);
}

#[test]
fn out_of_order_contact_aborts_every_other_update_of_the_request() {
    let mut h = harness();
    h.send(
        &register()
            .cseq(5)
            .contact("<sip:alice@192.0.2.10>;expires=600"),
    );
    let out = h.send(
        &register()
            .cseq(3)
            .contact("<sip:alice@192.0.2.99>;expires=600")
            .contact("<sip:alice@192.0.2.10>;expires=600"),
    );
    assert_eq!(status(&out), 500);
    assert_eq!(h.bindings.len(), 1);
}

#[test]
fn another_call_id_updates_the_binding_whatever_its_cseq() {
    let mut h = harness();
    h.send(
        &register()
            .cseq(50)
            .contact("<sip:alice@192.0.2.10>;expires=600"),
    );
    let out = h.send(
        &register()
            .call_id("rebooted@192.0.2.10")
            .cseq(1)
            .contact("<sip:alice@192.0.2.10>;expires=900"),
    );
    assert_eq!(status(&out), 200);
    let b = h.only_binding();
    assert_eq!(b.call_id.as_bytes().as_ref(), b"rebooted@192.0.2.10");
    assert_eq!((b.cseq, b.remaining(h.now)), (1, 900));
}

#[test]
fn an_equivalent_contact_uri_refreshes_the_same_binding() {
    let mut h = harness();
    h.send(&register().contact("<sip:alice@Phone.Example.com;transport=tcp>;expires=600"));
    let key = h.only_binding().key.clone();
    h.send(
        &register()
            .cseq(2)
            .contact("<sip:alice@phone.example.com;TRANSPORT=TCP>;expires=900"),
    );
    let b = h.only_binding();
    assert_eq!((&b.key, b.remaining(h.now)), (&key, 900));
}

// ---- wildcard (RFC 3261 §10.3 step 6) ----

#[test]
fn wildcard_with_expires_zero_removes_every_binding() {
    let mut h = harness();
    h.send(
        &register()
            .contact("<sip:alice@192.0.2.10>;expires=600")
            .contact("<sip:alice@192.0.2.11>;expires=600"),
    );
    let out = h.send(&register().cseq(2).header("Expires: 0").contact("*"));
    assert_eq!(status(&out), 200);
    assert_eq!(out.changes.len(), 2);
    assert!(h.bindings.is_empty());
}

#[test]
fn wildcard_without_expires_zero_is_refused_with_400() {
    let mut h = harness();
    h.send(&register().contact("<sip:alice@192.0.2.10>;expires=600"));
    for extra in [None, Some("Expires: 60")] {
        let mut r = register().cseq(2).contact("*");
        if let Some(line) = extra {
            r = r.header(line);
        }
        let out = h.send(&r);
        assert_eq!(status(&out), 400, "{extra:?}");
        assert!(matches!(
            out.rejection,
            Some(RegisterRejection::BadRequest(_))
        ));
    }
    assert_eq!(h.bindings.len(), 1);
}

#[test]
fn wildcard_with_other_contacts_is_refused_with_400() {
    let mut h = harness();
    let out = h.send(
        &register()
            .header("Expires: 0")
            .contact("*")
            .contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(status(&out), 400);
    let out = h.send(
        &register()
            .header("Expires: 0")
            .header("Contact: <sip:alice@192.0.2.10>, *"),
    );
    assert_eq!(status(&out), 400);
}

#[test]
fn wildcard_obeys_call_id_and_cseq_ordering() {
    let mut h = harness();
    h.send(
        &register()
            .cseq(7)
            .contact("<sip:alice@192.0.2.10>;expires=600"),
    );
    let out = h.send(&register().cseq(7).header("Expires: 0").contact("*"));
    assert_eq!(status(&out), 500);
    assert_eq!(h.bindings.len(), 1);
    let out = h.send(
        &register()
            .call_id("other")
            .cseq(1)
            .header("Expires: 0")
            .contact("*"),
    );
    assert_eq!(status(&out), 200);
    assert!(h.bindings.is_empty());
}

// ---- queries, q ordering, limits ----

#[test]
fn register_without_contact_lists_the_bindings_and_changes_nothing() {
    let mut h = harness();
    h.send(&register().contact("<sip:alice@192.0.2.10>;expires=600"));
    let out = h.send(&register().cseq(2));
    assert_eq!(status(&out), 200);
    assert!(out.changes.is_empty());
    assert_eq!(
        contacts(&out.response),
        ["<sip:alice@192.0.2.10>;expires=600"]
    );
}

#[test]
fn bindings_are_listed_highest_q_first() {
    let mut h = harness();
    let out = h.send(
        &register()
            .contact("<sip:low@192.0.2.1>;q=0.1;expires=600")
            .contact("<sip:high@192.0.2.2>;q=0.9;expires=600")
            .contact("<sip:mid@192.0.2.3>;q=0.5;expires=600"),
    );
    let users: Vec<String> = out.bindings.iter().map(|b| b.uri().to_string()).collect();
    assert_eq!(
        users,
        [
            "sip:high@192.0.2.2",
            "sip:mid@192.0.2.3",
            "sip:low@192.0.2.1"
        ]
    );
    assert_eq!(
        contacts(&out.response),
        [
            "<sip:high@192.0.2.2>;q=0.9;expires=600",
            "<sip:mid@192.0.2.3>;q=0.5;expires=600",
            "<sip:low@192.0.2.1>;q=0.1;expires=600",
        ]
    );
}

#[test]
fn adding_beyond_max_contacts_is_refused_with_403_but_refreshes_pass() {
    let config = RegistrarConfig {
        max_contacts: Some(2),
        ..RegistrarConfig::default()
    };
    let mut h = harness_with(config);
    h.send(
        &register()
            .contact("<sip:a@192.0.2.1>;expires=600")
            .contact("<sip:b@192.0.2.2>;expires=600"),
    );
    let out = h.send(&register().cseq(2).contact("<sip:c@192.0.2.3>;expires=600"));
    assert_eq!(status(&out), 403);
    assert_eq!(out.rejection, Some(RegisterRejection::TooManyContacts));
    assert_eq!(h.bindings.len(), 2);
    let out = h.send(&register().cseq(3).contact("<sip:a@192.0.2.1>;expires=900"));
    assert_eq!(status(&out), 200);
}

#[test]
fn too_many_contacts_in_one_request_is_refused_before_parsing_them() {
    let mut h = harness();
    let mut r = register();
    for i in 0..=request::MAX_REQUEST_CONTACTS {
        r = r.contact(&format!("<sip:u{i}@192.0.2.1>"));
    }
    assert_eq!(status(&h.send(&r)), 400);
}

// ---- what a binding remembers ----

#[test]
fn binding_remembers_flow_call_id_cseq_and_user_agent() {
    let mut h = harness();
    h.flow = flow("conn-7", "198.51.100.4:40000");
    h.send(
        &register()
            .cseq(3)
            .header("User-Agent: softphone/1.0")
            .contact("<sip:alice@10.0.0.5:5060>;expires=600"),
    );
    let b = h.only_binding();
    assert_eq!(b.flow.as_ref(), Some(&h.flow));
    assert_eq!(b.call_id.as_bytes().as_ref(), b"call-1@192.0.2.10");
    assert_eq!(b.cseq, 3);
    assert_eq!(b.user_agent.as_deref(), Some("softphone/1.0"));
    assert!(!b.is_outbound());
}

// ---- Path (RFC 3327) ----

#[test]
fn path_is_stored_and_echoed_when_the_ua_supports_path() {
    let mut h = harness();
    let out = h.send(
        &register()
            .through_proxy()
            .header("Supported: path")
            .header("Path: <sip:edge.example.com;lr>")
            .contact("<sip:alice@10.0.0.5>;expires=600"),
    );
    assert_eq!(status(&out), 200);
    assert_eq!(
        header(&out.response, HeaderName::Path).as_deref(),
        Some("<sip:edge.example.com;lr>")
    );
    let path: Vec<String> = h
        .only_binding()
        .path
        .iter()
        .map(|p| p.uri().to_string())
        .collect();
    assert_eq!(path, ["sip:edge.example.com;lr"]);
}

#[test]
fn path_is_stored_but_not_echoed_without_supported_path() {
    let mut h = harness();
    let out = h.send(
        &register()
            .through_proxy()
            .header("Path: <sip:edge.example.com;lr>")
            .contact("<sip:alice@10.0.0.5>;expires=600"),
    );
    assert_eq!(status(&out), 200);
    assert_eq!(header(&out.response, HeaderName::Path), None);
    assert_eq!(h.only_binding().path.len(), 1);
}

// ---- outbound (RFC 5626) ----

const INSTANCE: &str = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"";

fn outbound_contact(host: &str, reg_id: u32) -> String {
    format!("<sip:alice@{host};transport=tcp;ob>;{INSTANCE};reg-id={reg_id};expires=600")
}

#[test]
fn outbound_registration_binds_to_the_flow_and_requires_outbound() {
    let mut h = harness();
    let out = h.send(
        &register()
            .header("Supported: outbound")
            .contact(&outbound_contact("192.0.2.10", 1)),
    );
    assert_eq!(status(&out), 200);
    assert_eq!(
        header(&out.response, HeaderName::Require).as_deref(),
        Some("outbound")
    );
    let b = h.only_binding();
    assert!(b.is_outbound());
    assert_eq!(b.reg_id, Some(1));
    assert_eq!(
        b.instance.as_deref(),
        Some("<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>")
    );
    assert_eq!(
        b.flow.as_ref().map(|f| &f.token),
        Some(&FlowToken::new("udp-1"))
    );
    let listed = contacts(&out.response);
    assert!(listed[0].contains("reg-id=1"), "{listed:?}");
}

#[test]
fn registering_the_same_instance_and_reg_id_replaces_the_old_flow() {
    let mut h = harness();
    let r = register().header("Supported: outbound");
    h.send(&r.clone().contact(&outbound_contact("192.0.2.10", 1)));
    h.flow = flow("udp-2", "192.0.2.99:6000");
    let out = h.send(
        &r.call_id("after-reconnect")
            .contact(&outbound_contact("192.0.2.99", 1)),
    );
    assert_eq!(status(&out), 200);
    let b = h.only_binding();
    assert_eq!(
        b.flow.as_ref().map(|f| &f.token),
        Some(&FlowToken::new("udp-2"))
    );
    assert_eq!(b.uri().to_string(), "sip:alice@192.0.2.99;transport=tcp;ob");
}

#[test]
fn another_reg_id_of_the_same_instance_is_a_second_flow() {
    let mut h = harness();
    let r = register().header("Supported: outbound");
    h.send(&r.clone().contact(&outbound_contact("192.0.2.10", 1)));
    h.flow = flow("udp-2", "192.0.2.99:6000");
    h.send(&r.cseq(2).contact(&outbound_contact("192.0.2.10", 2)));
    assert_eq!(h.bindings.len(), 2);
}

#[test]
fn reg_id_without_supported_outbound_makes_a_plain_binding() {
    let mut h = harness();
    let out = h.send(&register().contact(&outbound_contact("192.0.2.10", 1)));
    assert_eq!(status(&out), 200);
    assert_eq!(header(&out.response, HeaderName::Require), None);
    let b = h.only_binding();
    assert!(!b.is_outbound());
    assert!(b.instance.is_some());
}

#[test]
fn outbound_through_a_first_hop_without_ob_is_refused_with_439() {
    let mut h = harness();
    for path in [None, Some("Path: <sip:edge.example.com;lr>")] {
        let mut r = register()
            .through_proxy()
            .header("Supported: outbound, path")
            .contact(&outbound_contact("192.0.2.10", 1));
        if let Some(line) = path {
            r = r.header(line);
        }
        let out = h.send(&r);
        assert_eq!(status(&out), 439, "{path:?}");
        assert_eq!(
            out.rejection,
            Some(RegisterRejection::FirstHopLacksOutbound)
        );
    }
    assert!(h.bindings.is_empty());
}

#[test]
fn outbound_through_a_first_hop_with_ob_in_its_path_is_accepted() {
    let mut h = harness();
    let out = h.send(
        &register()
            .through_proxy()
            .header("Supported: outbound, path")
            .header("Path: <sip:edge.example.com;lr;ob>")
            .contact(&outbound_contact("192.0.2.10", 1)),
    );
    assert_eq!(status(&out), 200);
    assert_eq!(
        header(&out.response, HeaderName::Require).as_deref(),
        Some("outbound")
    );
    assert!(h.only_binding().is_outbound());
}

#[test]
fn outbound_through_two_proxies_needs_ob_from_one_of_the_end_hops() {
    let mut h = harness();
    let r = register()
        .through_proxy()
        .header("Supported: outbound, path")
        .contact(&outbound_contact("192.0.2.10", 1));
    let edge_marked = r
        .clone()
        .header("Path: <sip:core.example.com;lr>, <sip:edge.example.com;lr;ob>");
    assert_eq!(status(&h.send(&edge_marked)), 200);
    let none_marked = r
        .cseq(2)
        .header("Path: <sip:core.example.com;lr>, <sip:edge.example.com;lr>");
    assert_eq!(status(&h.send(&none_marked)), 439);
}

#[test]
fn two_outbound_flows_may_be_removed_in_one_request() {
    let mut h = harness();
    let r = register().header("Supported: outbound");
    h.send(&r.clone().contact(&outbound_contact("192.0.2.10", 1)));
    h.send(
        &r.clone()
            .cseq(2)
            .contact(&outbound_contact("192.0.2.10", 2)),
    );
    let out = h.send(
        &r.cseq(3)
            .header("Expires: 0")
            .contact(&outbound_contact("192.0.2.10", 1).replace(";expires=600", ""))
            .contact(&outbound_contact("192.0.2.10", 2).replace(";expires=600", "")),
    );
    assert_eq!(status(&out), 200);
    assert!(h.bindings.is_empty());
}

#[test]
fn user_agent_is_kept_on_one_line() {
    let mut h = harness();
    h.send(
        &register()
            .header("User-Agent: phone/2\r\n (build 7)")
            .contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(
        h.only_binding().user_agent.as_deref(),
        Some("phone/2   (build 7)")
    );
}

#[test]
fn two_outbound_flows_in_one_request_are_refused_with_400() {
    let mut h = harness();
    let out = h.send(
        &register()
            .header("Supported: outbound")
            .contact(&outbound_contact("192.0.2.10", 1))
            .contact(&outbound_contact("192.0.2.10", 2)),
    );
    assert_eq!(status(&out), 400);
}

// ---- the checks before the bindings (RFC 3261 §10.3 steps 1, 2, 5) ----

#[test]
fn unknown_required_extension_is_refused_with_420_listing_it() {
    let mut h = harness();
    let out = h.send(
        &register()
            .header("Require: path, foo")
            .contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(status(&out), 420);
    assert_eq!(
        header(&out.response, HeaderName::Unsupported).as_deref(),
        Some("foo")
    );
}

#[test]
fn domains_not_served_are_refused_with_404() {
    let config = RegistrarConfig {
        domains: vec!["Example.com".into()],
        ..RegistrarConfig::default()
    };
    let mut h = harness_with(config);
    let ok = h.send(&register().contact("<sip:alice@192.0.2.10>"));
    assert_eq!(status(&ok), 200);
    let foreign_target = h.send(&register().request_uri("sip:other.net").cseq(2));
    assert_eq!(status(&foreign_target), 404);
    let foreign_aor = h.send(&register().to("<sip:alice@other.net>").cseq(3));
    assert_eq!(status(&foreign_aor), 404);
}

#[test]
fn aor_comes_from_the_to_uri_in_canonical_form() {
    let mut h = harness();
    let out = h.send(
        &register()
            .to("\"Alice\" <sips:alice@EXAMPLE.com:5061;transport=tls>")
            .contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(
        out.aor.as_ref().map(Aor::as_str),
        Some("sip:alice@example.com")
    );
}

#[test]
fn non_sip_to_uri_is_refused_with_404() {
    let mut h = harness();
    let out = h.send(&register().to("<tel:+15551234567>"));
    assert_eq!(status(&out), 404);
}

#[test]
fn non_sip_request_uri_is_refused_with_416() {
    let mut h = harness();
    let out = h.send(&register().request_uri("tel:+15551234567"));
    assert_eq!(status(&out), 416);
}

#[test]
fn another_method_is_refused_with_405_allowing_register() {
    let h = harness();
    let request = register().build_method("OPTIONS");
    let out = h.registrar.handle_register(h.now, &request, &h.flow, &[]);
    assert_eq!(status(&out), 405);
    assert_eq!(
        header(&out.response, HeaderName::Allow).as_deref(),
        Some("REGISTER")
    );
}

#[test]
fn missing_call_id_is_refused_with_400() {
    let mut h = harness();
    let out = h.send(&register().call_id("").contact("<sip:alice@192.0.2.10>"));
    assert_eq!(status(&out), 400);
}

#[test]
fn malformed_contact_is_refused_with_400() {
    let mut h = harness();
    let out = h.send(&register().contact("<sip:alice@192.0.2.10"));
    assert_eq!(status(&out), 400);
}

#[test]
fn address_of_record_refusal_carries_the_response() {
    let h = harness();
    let request = register().to("<tel:+1555>").build();
    let refused = h.registrar.address_of_record(&request).unwrap_err();
    assert_eq!(refused.response.status().as_u16(), 404);
    let aor = h.registrar.address_of_record(&register().build()).unwrap();
    assert_eq!(aor.as_str(), "sip:alice@example.com");
}

// ---- the response itself ----

#[test]
fn responses_carry_a_to_tag_stable_across_retransmissions_and_a_date() {
    let mut h = harness();
    let r = register().contact("<sip:alice@192.0.2.10>");
    let first = h.send(&r);
    let again = h.registrar.handle_register(h.now, &r.build(), &h.flow, &[]);
    let to = |o: &RegisterOutcome| o.response.headers().to().and_then(Result::ok);
    let tag = to(&first).and_then(|t| t.tag().map(<[u8]>::to_vec));
    assert!(tag.as_ref().is_some_and(|t| !t.is_empty()));
    assert_eq!(tag, to(&again).and_then(|t| t.tag().map(<[u8]>::to_vec)));
    assert_eq!(
        header(&first.response, HeaderName::Date).as_deref(),
        Some("Tue, 14 Nov 2023 22:13:20 GMT")
    );
}

#[test]
fn server_error_answers_with_500() {
    let h = harness();
    let response = h.registrar.server_error(&register().build());
    assert_eq!(response.status().as_u16(), 500);
}

#[test]
fn inconsistent_config_is_made_consistent() {
    let config = RegistrarConfig {
        min_expires: 600,
        max_expires: 300,
        default_expires: 10,
        ..RegistrarConfig::default()
    };
    let r = Registrar::new(config);
    assert_eq!(
        (
            r.config().min_expires,
            r.config().max_expires,
            r.config().default_expires
        ),
        (600, 600, 600)
    );
}
