//! RFC 4475 "SIP Torture Test Messages": one test per message of the archive (`tests/data/rfc4475/*.dat`,
//! byte-exact), each asserting the handling `INDEX.tsv` expects.
//!
//! Roles: "UAS" is [`ValidationPolicy::uas`] (INVITE, ACK, CANCEL, BYE, OPTIONS; application/sdp), "registrar"
//! a UAS allowing REGISTER and OPTIONS, "proxy" [`ValidationPolicy::proxy`]. A parser rejection is answered
//! with [`Rejection::from_parse_error`], replying from [`parse_message_head`] where the head is intact.
//!
//! | file | category | asserted outcome |
//! |---|---|---|
//! | wsinv | valid | parses; folded values, `J Rosenberg \"`, Max-Forwards 68, CSeq 9, 3 Vias, raw unknown headers; UAS and proxy accept |
//! | intmeth | valid | parses; extension method verbatim, To display name with BEL/NUL/DEL; UAS 501 + Allow, proxy accepts |
//! | esc01 | valid | parses; escaped user parts and params equal their characters, `value%41` not `valueA`; UAS accepts |
//! | escnull | valid | parses; `null-%00-null` unescapes to 11 bytes; two distinct Contacts; registrar accepts |
//! | esc02 | valid | parses; method `RE%47IST%45R` is unknown, 2 Contacts; UAS/registrar 501 + Allow |
//! | lwsdisp | valid | parses; display name `caller`; UAS accepts |
//! | longreq | valid | parses; long values intact, 34 Vias; UAS accepts |
//! | dblreq | valid | parses the REGISTER only (Content-Length 0), trailing INVITE dropped; registrar accepts |
//! | semiuri | valid | parses; user part `user;par=u@example.net`, no URI params; UAS accepts |
//! | transports | valid | parses; UDP, SCTP, TLS, UNKNOWN, TCP Vias; UAS and proxy accept |
//! | mpart01 | valid | parses; 553-byte body with NUL, bare CR and bare LF; proxy and a multipart UAS accept |
//! | unreason | valid | parses; UTF-8 reason phrase kept; response passes validation |
//! | noreason | valid | parses; empty reason phrase; response passes validation |
//! | badinv01 | invalid | parses; UAS and proxy 400 `Malformed Via`; Contact's typed view fails too |
//! | clerr | invalid | parser: ContentLengthMismatch → 400 replied from the head; a stream framer waits for more |
//! | ncl | invalid | parser: Syntax at the `-` of Content-Length → 400 replied from the head |
//! | scalar02 | invalid | parses; 400 `CSeq out of range`; Max-Forwards, Expires, Contact expires OutOfRange |
//! | scalarlg | invalid | parses; response discarded (`CSeq out of range`); Retry-After and Warning OutOfRange |
//! | quotbal | invalid | parses; 400 `Malformed To` with the error on the To line |
//! | ltgtruri | invalid | parser: Syntax at `<` of the Request-URI → 400 |
//! | lwsruri | invalid | parser: Syntax in the Request-Line → 400 |
//! | lwsstart | invalid | parser: Syntax at the second SP → 400 |
//! | trws | invalid | parser: Syntax at the SP after SIP/2.0 → 400 |
//! | escruri | invalid | parses; UAS and proxy 400 `Request-URI with headers` |
//! | baddate | invalid | parses; typed Date rejects EST; validation ignores Date (accepts) |
//! | regbadct | invalid | parses; registrar 400 `Malformed Contact`; proxy (does not read Contact) accepts |
//! | badaspec | invalid | parses; UAS and proxy 400 `Malformed To` |
//! | baddn | invalid | parses (no empty line: datagram end ends the head); UAS and proxy 400 `Malformed From` |
//! | badvers | invalid | parses SIP/7.0; UAS and proxy 505 |
//! | mismatch01 | invalid | parses; UAS and proxy 400 CSeq method mismatch |
//! | mismatch02 | invalid | parses; UAS 501 + Allow, proxy 400 CSeq method mismatch |
//! | bigcode | invalid | parser: Syntax in the Status-Line (status code is not 3 digits) → dropped |
//! | badbranch | transaction | parses; UAS and proxy 400 naming the Via branch |
//! | insuf | application | parses; UAS and proxy 400 `Missing From, To, Call-ID` |
//! | unkscm | application | parses; UAS and proxy 416 |
//! | novelsc | application | parses; UAS and proxy 416 |
//! | unksm2 | application | parses; proxy accepts, registrar 400 (AOR not SIP/SIPS) |
//! | bext01 | application | parses; UAS 420 Unsupported = Require tags, proxy 420 Unsupported = Proxy-Require tags |
//! | invut | application | parses; UAS 415 + Accept, proxy accepts |
//! | regaut01 | application | parses; proxy and registrar accept, non-registrar UAS 405 + Allow |
//! | multi01 | application | parses; UAS and proxy 400 `Multiple values in From, To, Call-ID, CSeq, Max-Forwards` |
//! | mcl01 | application | parses (first length frames); UAS and proxy 400 `Multiple values in Content-Length`; stream framer fails |
//! | bcast | application | parses; user agent discards (two Vias), proxy discards (broadcast Via) |
//! | zeromf | application | parses; proxy 483 (or accepts if it answers OPTIONS itself), UAS accepts |
//! | cparam01 | application | parses; registrar accepts; `unknownparam` is a Contact header param, not a URI param |
//! | cparam02 | application | parses; registrar accepts; `unknownparam` is a URI param |
//! | regescrt | application | parses; registrar accepts; Contact URI keeps `?Route=%3C…%3E` |
//! | sdp01 | application | parses; UAS 406 (+ Warning 399 with a warn-agent), proxy accepts |
//! | inv2543 | backcompat | parses; UAS and proxy accept without branch/Max-Forwards/Content-Length |

use bytes::Bytes;
use std::borrow::Cow;
use tandem_sip_core::header::{
    Accept, Authorization, Date, Expires, MediaType, RetryAfter, Warning,
};
use tandem_sip_core::{
    HeaderName, Host, Limits, Message, Method, ParseError, ParseErrorKind, Rejection, Request,
    Response, Role, StatusCode, StreamFramer, Transport, Uri, ValidationPolicy, parse_message,
    parse_message_head, validate_request, validate_response,
};

macro_rules! dat {
    ($name:literal) => {
        Bytes::from_static(include_bytes!(concat!("data/rfc4475/", $name, ".dat")))
    };
}

mod rfc4475_corpus;

fn request(wire: Bytes) -> Request {
    match parse_message(wire) {
        Ok(Message::Request(r)) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn response(wire: Bytes) -> Response {
    match parse_message(wire) {
        Ok(Message::Response(r)) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn parse_error(wire: &Bytes) -> ParseError {
    parse_message(wire.clone()).expect_err("the parser should reject this message")
}

fn uas() -> ValidationPolicy {
    ValidationPolicy::uas()
}

fn proxy() -> ValidationPolicy {
    ValidationPolicy::proxy()
}

fn registrar() -> ValidationPolicy {
    ValidationPolicy::new(Role::Uas {
        supported: Vec::new(),
        allowed: vec![Method::Register, Method::Options],
        accepted: Vec::new(),
    })
}

fn rejection(r: &Request, policy: &ValidationPolicy) -> Rejection {
    validate_request(r, policy).expect_err("validation should reject this request")
}

/// Status code and reason phrase of the rejection of `r` under `policy`.
fn verdict(r: &Request, policy: &ValidationPolicy) -> (u16, Cow<'static, str>) {
    let e = rejection(r, policy);
    (e.status.as_u16(), e.reason)
}

/// The value of the reply header `name` a rejection asks for.
fn reply_header(e: &Rejection, name: &HeaderName) -> Vec<u8> {
    e.headers
        .iter()
        .find(|f| f.name() == name)
        .map(|f| f.value().to_vec())
        .unwrap_or_default()
}

/// The line of `wire` (without its line ending) that holds byte `offset`.
fn line_at(wire: &[u8], offset: usize) -> &[u8] {
    let start = wire[..offset.min(wire.len())]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |p| p + 1);
    let end = wire[start..]
        .iter()
        .position(|&c| c == b'\r' || c == b'\n')
        .map_or(wire.len(), |p| start + p);
    &wire[start..end]
}

/// The line holding the error behind a rejection.
fn cause_line<'a>(wire: &'a [u8], e: &Rejection) -> &'a [u8] {
    line_at(
        wire,
        e.cause
            .as_ref()
            .expect("rejection has a parse error")
            .offset,
    )
}

fn uri(text: &'static str) -> Uri {
    Uri::parse(&Bytes::from_static(text.as_bytes())).expect("test URI parses")
}

fn raw<'a>(r: &'a Request, name: &'static str) -> &'a [u8] {
    let name = HeaderName::from_bytes(Bytes::from_static(name.as_bytes()));
    r.headers().get(&name).expect("header present").value()
}

fn domain(name: &'static str) -> Host {
    Host::Domain(Bytes::from_static(name.as_bytes()))
}

#[test]
fn index_lists_exactly_the_archived_messages_and_each_has_a_test() {
    let index = include_str!("data/rfc4475/INDEX.tsv");
    let mut listed: Vec<&str> = index
        .lines()
        .skip(1)
        .filter_map(|line| line.split('\t').next()?.strip_suffix(".dat"))
        .collect();
    listed.sort_unstable();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc4475");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .expect("data directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".dat").map(str::to_owned))
        .collect();
    on_disk.sort_unstable();
    let mut covered: Vec<&str> = rfc4475_corpus::FILES
        .iter()
        .map(|(name, _)| *name)
        .collect();
    covered.sort_unstable();
    assert_eq!(listed.len(), 49);
    assert_eq!(listed, on_disk);
    assert_eq!(listed, covered);
}

// ---------------------------------------------------------------------------------------------------------
// 3.1.1 Valid messages

#[test]
fn wsinv_parses_with_folded_lines_and_compact_forms() {
    let r = request(dat!("wsinv"));
    let h = r.headers();
    assert_eq!(r.method(), &Method::Invite);
    assert!(r.uri().as_sip().unwrap().params().contains("unknownparam"));
    let to = h.to().unwrap().unwrap();
    assert!(to.display_name().is_none());
    assert_eq!(to.tag(), Some(&b"1918181833n"[..]));
    let from = h.from().unwrap().unwrap();
    assert_eq!(from.display_name().unwrap().as_ref(), br#"J Rosenberg \""#);
    assert_eq!(from.tag(), Some(&b"98asjd8"[..]));
    assert_eq!(h.max_forwards().unwrap().unwrap().0, 68);
    let cseq = h.cseq().unwrap().unwrap();
    assert_eq!((cseq.seq, &cseq.method), (9, &Method::Invite));
    assert_eq!(
        h.call_id().unwrap().unwrap().as_bytes().as_ref(),
        b"wsinv.ndaksdj@192.0.2.1"
    );
    let vias: Vec<_> = h.vias().map(Result::unwrap).collect();
    let summary: Vec<_> = vias
        .iter()
        .map(|v| {
            (
                v.transport().clone(),
                v.host().clone(),
                v.branch().map(<[u8]>::to_vec),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                Transport::Udp,
                Host::Ipv4([192, 0, 2, 2].into()),
                Some(b"390skdjuw".to_vec())
            ),
            (
                Transport::Tcp,
                domain("spindle.example.com"),
                Some(b"z9hG4bK9ikj8".to_vec())
            ),
            (
                Transport::Udp,
                Host::Ipv4([192, 168, 255, 111].into()),
                Some(b"z9hG4bK30239".to_vec())
            ),
        ]
    );
    assert_eq!(
        h.get(&HeaderName::Subject).map(|f| f.value().is_empty()),
        Some(true)
    );
    assert_eq!(
        raw(&r, "NewFangledHeader"),
        b"newfangled value\r\n continued newfangled value"
    );
    assert_eq!(raw(&r, "UnknownHeaderWithUnusualValue"), b";;,,;;,;");
    let route = h.routes().next().unwrap().unwrap();
    assert!(route.uri().as_sip().unwrap().is_loose_route());
    let contact = h.contacts().next().unwrap().unwrap();
    let addr = contact.address().unwrap();
    assert_eq!(
        addr.display_name().unwrap().as_ref(),
        br#"Quoted string """#
    );
    assert_eq!(addr.params().value("newparam"), Some(&b"newvalue"[..]));
    assert!(addr.params().contains("secondparam"));
    assert_eq!(contact.q().map(|q| q.thousandths()), Some(330));
    assert_eq!(
        (h.content_length().unwrap().unwrap().0, r.body().len()),
        (150, 150)
    );
    assert!(r.body().starts_with(b"v=0\r\n"));
    assert_eq!(validate_request(&r, &uas()), Ok(()));
    assert_eq!(validate_request(&r, &proxy()), Ok(()));
}

#[test]
fn intmeth_keeps_the_unknown_method_verbatim_and_a_uas_answers_501() {
    let r = request(dat!("intmeth"));
    let method = b"!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(r.method(), &Method::Extension(Bytes::from_static(method)));
    assert_eq!(
        r.headers().cseq().unwrap().unwrap().method.as_bytes(),
        method
    );
    let sip = r.uri().as_sip().unwrap();
    assert_eq!(
        sip.user().unwrap().as_ref(),
        b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    );
    assert_eq!(
        sip.password().unwrap().as_ref(),
        b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    );
    let to = r.headers().to().unwrap().unwrap();
    assert_eq!(
        to.display_name().unwrap().as_ref(),
        b"BEL:\x07 NUL:\x00 DEL:\x7f"
    );
    let from = r.headers().from().unwrap().unwrap();
    assert_eq!(
        from.display_name().unwrap().as_ref(),
        b"token1~` token2'+_ token3*%!.-"
    );
    assert_eq!(from.tag(), Some(&b"_token~1'+`*%!-."[..]));
    let param = from.params().get("fromParam''~+*_!.-%").unwrap();
    assert_eq!(
        param.decoded_value().unwrap().as_ref(),
        "работающий".as_bytes()
    );
    assert_eq!(
        r.headers().call_id().unwrap().unwrap().as_bytes().as_ref(),
        br#"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#
    );
    assert_eq!(
        r.headers().via().unwrap().unwrap().branch(),
        Some(&b"z9hG4bK-.!%66*_+`'~"[..])
    );
    assert_eq!(
        raw(&r, "extensionHeader-!.%*+_`'~"),
        "\u{feff}大停電".as_bytes()
    );
    let e = rejection(&r, &uas());
    assert_eq!(e.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        reply_header(&e, &HeaderName::Allow),
        b"INVITE, ACK, CANCEL, BYE, OPTIONS"
    );
    assert_eq!(validate_request(&r, &proxy()), Ok(()));
}

#[test]
fn esc01_escaped_uri_parts_are_equivalent_to_their_characters() {
    let r = request(dat!("esc01"));
    let ruri = r.uri().as_sip().unwrap();
    assert_eq!(
        ruri.user_unescaped().unwrap().as_ref(),
        b"sips:user@example.com"
    );
    assert_eq!(ruri.host(), &domain("example.net"));
    let to = r.headers().to().unwrap().unwrap();
    assert!(to.uri().equivalent(&uri("sip:user@example.com")));
    let from = r.headers().from().unwrap().unwrap();
    let from_user = from.uri().as_sip().unwrap().user_unescaped().unwrap();
    assert_eq!(from_user.as_ref(), b"I have spaces");
    let contact = r.headers().contacts().next().unwrap().unwrap();
    let curi = contact.address().unwrap().uri();
    let csip = curi.as_sip().unwrap();
    assert_eq!(csip.user_unescaped().unwrap().as_ref(), b"caller");
    assert!(csip.is_loose_route());
    let name = csip.params().get("name").unwrap();
    assert_eq!(name.decoded_value().unwrap().as_ref(), b"value%41");
    assert!(curi.equivalent(&uri("sip:caller@host5.example.net;lr;name=value%2541")));
    assert!(!curi.equivalent(&uri("sip:caller@host5.example.net;lr;name=valueA")));
    assert_eq!(validate_request(&r, &uas()), Ok(()));
}

#[test]
fn escnull_escaped_nul_is_kept_whole_and_contacts_stay_distinct() {
    let r = request(dat!("escnull"));
    let to = r.headers().to().unwrap().unwrap();
    let aor = to
        .uri()
        .as_sip()
        .unwrap()
        .user_unescaped()
        .unwrap()
        .into_owned();
    assert_eq!(aor, b"null-\0-null");
    let from = r.headers().from().unwrap().unwrap();
    assert!(from.uri().equivalent(to.uri()));
    let contacts: Vec<_> = r.headers().contacts().map(Result::unwrap).collect();
    let users: Vec<Vec<u8>> = contacts
        .iter()
        .map(|c| {
            c.address()
                .unwrap()
                .uri()
                .as_sip()
                .unwrap()
                .user_unescaped()
                .unwrap()
                .into_owned()
        })
        .collect();
    assert_eq!(users, vec![b"\0".to_vec(), b"\0\0".to_vec()]);
    let (a, b) = (
        contacts[0].address().unwrap(),
        contacts[1].address().unwrap(),
    );
    assert!(!a.uri().equivalent(b.uri()));
    assert_eq!(validate_request(&r, &registrar()), Ok(()));
}

#[test]
fn esc02_escaped_method_is_unknown_and_escaped_header_name_is_not_contact() {
    let r = request(dat!("esc02"));
    assert_eq!(
        r.method(),
        &Method::Extension(Bytes::from_static(b"RE%47IST%45R"))
    );
    assert_ne!(r.method(), &Method::Register);
    let to = r.headers().to().unwrap().unwrap();
    assert_eq!(to.display_name().unwrap().as_ref(), b"%Z%45");
    assert_eq!(r.headers().contacts().count(), 2);
    assert_eq!(raw(&r, "C%6Fntact"), b"<sip:alias2@host2.example.com>");
    assert_eq!(
        r.headers().via().unwrap().unwrap().branch(),
        Some(&b"z9hG4bK209%fzsnel234"[..])
    );
    for policy in [uas(), registrar()] {
        let e = rejection(&r, &policy);
        assert_eq!(e.status, StatusCode::NOT_IMPLEMENTED);
        assert!(!reply_header(&e, &HeaderName::Allow).is_empty());
    }
}

#[test]
fn lwsdisp_display_name_may_touch_the_angle_bracket() {
    let r = request(dat!("lwsdisp"));
    let from = r.headers().from().unwrap().unwrap();
    assert_eq!(from.display_name().unwrap().as_ref(), b"caller");
    assert!(from.uri().equivalent(&uri("sip:caller@example.com")));
    assert_eq!(from.tag(), Some(&b"323"[..]));
    assert_eq!(validate_request(&r, &uas()), Ok(()));
}

#[test]
fn longreq_parses_long_values_and_34_vias() {
    let r = request(dat!("longreq"));
    let h = r.headers();
    let to = h.to().unwrap().unwrap();
    let name = to.display_name().unwrap();
    assert!(name.starts_with(b"I have a user name of extremeextreme"));
    assert!(name.ends_with(b"extreme proportion"));
    let to_uri = to.uri().as_sip().unwrap();
    assert_eq!(to_uri.port(), Some(6000));
    let long = to_uri.params().value("unknownparam1").unwrap();
    assert!(long.starts_with(b"verylonglong") && long.ends_with(b"longvalue"));
    let valueless = to_uri.params().iter().last().unwrap();
    assert!(valueless.name().ends_with(b"ParameterNameWithNoValue"));
    assert!(valueless.value().is_none());
    let from = h.from().unwrap().unwrap();
    assert!(from.tag().unwrap().ends_with(b"982982424"));
    assert_eq!(from.tag().unwrap().len(), 155);
    let call_id = h.call_id().unwrap().unwrap();
    assert!(call_id.as_bytes().ends_with(b"reallylongcallid"));
    assert_eq!(h.vias().count(), 34);
    assert!(
        h.vias()
            .all(|v| v.is_ok_and(|v| v.transport() == &Transport::Tcp))
    );
    let last = h.vias().last().unwrap().unwrap();
    assert_eq!(last.received(), Some(&b"192.0.2.5"[..]));
    assert!(last.branch().unwrap().ends_with(b"longbranchvalue"));
    let first = h.via().unwrap().unwrap();
    assert_eq!(first.host(), &domain("sip33.example.com"));
    let unknown = raw(
        &r,
        "Unknown-LongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLong-Name",
    );
    assert!(unknown.starts_with(b"unknown-longlong") && unknown.ends_with(b"parameter-value"));
    assert_eq!(r.body().len(), 150);
    assert_eq!(validate_request(&r, &uas()), Ok(()));
}

#[test]
fn dblreq_handles_only_the_first_request_of_the_datagram() {
    let wire = dat!("dblreq");
    let r = request(wire.clone());
    assert_eq!(r.method(), &Method::Register);
    assert_eq!(r.headers().content_length().unwrap().unwrap().0, 0);
    assert!(r.body().is_empty());
    let forwarded = r.to_bytes();
    let trailing = b"INVITE sip:joe@example.com";
    assert!(wire.windows(trailing.len()).any(|w| w == trailing));
    assert!(!forwarded.windows(trailing.len()).any(|w| w == trailing));
    assert!(forwarded.len() < wire.len());
    assert_eq!(validate_request(&r, &registrar()), Ok(()));
}

#[test]
fn semiuri_user_part_holds_semicolon_and_escaped_at() {
    let r = request(dat!("semiuri"));
    let sip = r.uri().as_sip().unwrap();
    assert_eq!(
        sip.user_unescaped().unwrap().as_ref(),
        b"user;par=u@example.net"
    );
    assert_eq!(sip.host(), &domain("example.com"));
    assert!(sip.params().is_empty());
    let accept: Vec<MediaType> = r
        .headers()
        .typed_all::<Accept>()
        .map(|a| a.unwrap().0)
        .collect();
    assert_eq!(accept.len(), 6);
    assert!(accept[5].is("message", "sipfrag"));
    assert_eq!(validate_request(&r, &uas()), Ok(()));
}

#[test]
fn transports_accepts_known_and_unknown_via_transports() {
    let r = request(dat!("transports"));
    let transports: Vec<Transport> = r
        .headers()
        .vias()
        .map(|v| v.unwrap().transport().clone())
        .collect();
    assert_eq!(
        transports,
        vec![
            Transport::Udp,
            Transport::Sctp,
            Transport::Tls,
            Transport::Other(Bytes::from_static(b"UNKNOWN")),
            Transport::Tcp,
        ]
    );
    assert_eq!(validate_request(&r, &uas()), Ok(()));
    assert_eq!(validate_request(&r, &proxy()), Ok(()));
}

#[test]
fn mpart01_frames_binary_multipart_body_by_content_length() {
    let wire = dat!("mpart01");
    let r = request(wire.clone());
    let body = r.body();
    assert_eq!(body.len(), 553);
    assert!(wire.ends_with(body));
    assert!(body.contains(&0));
    let bare_cr = body.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n');
    let bare_lf = body.windows(2).any(|w| w[0] != b'\r' && w[1] == b'\n');
    assert!(bare_cr && bare_lf);
    assert!(body.ends_with(b"--7a9cbec02ceef655--\r\n"));
    let ct = r
        .headers()
        .typed::<tandem_sip_core::ContentType>()
        .unwrap()
        .unwrap();
    assert!(ct.0.is("multipart", "mixed"));
    assert_eq!(
        ct.0.params().value("boundary"),
        Some(&b"7a9cbec02ceef655"[..])
    );
    // Parsers must accept it whatever the application makes of the body.
    let multipart_uas = ValidationPolicy::new(Role::Uas {
        supported: Vec::new(),
        allowed: vec![Method::Message],
        accepted: vec![MediaType::new("multipart", "mixed")],
    });
    assert_eq!(validate_request(&r, &multipart_uas), Ok(()));
    assert_eq!(validate_request(&r, &proxy()), Ok(()));
}

#[test]
fn unreason_keeps_a_utf8_reason_phrase() {
    let r = response(dat!("unreason"));
    assert_eq!(r.status(), StatusCode::OK);
    let expected = "= 2**3 * 5**2 но сто девяносто девять - простое";
    assert_eq!(r.reason().as_ref(), expected.as_bytes());
    assert_eq!(r.body().len(), 154);
    assert_eq!(validate_response(&r, &uas()), Ok(()));
    assert_eq!(validate_response(&r, &proxy()), Ok(()));
}

#[test]
fn noreason_accepts_an_empty_reason_phrase() {
    let r = response(dat!("noreason"));
    assert_eq!(r.status(), StatusCode::TRYING);
    assert!(r.reason().is_empty());
    assert_eq!(validate_response(&r, &uas()), Ok(()));
}

// ---------------------------------------------------------------------------------------------------------
// 3.1.2 Invalid messages

#[test]
fn badinv01_empty_via_and_contact_params_get_400() {
    let wire = dat!("badinv01");
    let r = request(wire.clone());
    for policy in [uas(), proxy()] {
        let e = rejection(&r, &policy);
        assert_eq!(
            (e.status.as_u16(), e.reason.as_ref()),
            (400, "Bad Request - Malformed Via")
        );
        assert!(cause_line(&wire, &e).starts_with(b"Via: "));
    }
    let contact_error = r.headers().contacts().find_map(Result::err).unwrap();
    assert!(line_at(&wire, contact_error.offset).starts_with(b"Contact: "));
}

#[test]
fn clerr_content_length_beyond_the_datagram_gets_400() {
    let wire = dat!("clerr");
    let e = parse_error(&wire);
    assert_eq!(
        (e.kind, e.offset),
        (ParseErrorKind::ContentLengthMismatch, wire.len())
    );
    let head = match parse_message_head(wire.clone(), &Limits::DEFAULT) {
        Ok(Message::Request(r)) => r,
        other => panic!("head should parse: {other:?}"),
    };
    let reply = Rejection::from_parse_error(&e).response(&head, Some("x"));
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.reason().as_ref(),
        b"Bad Request - Content-Length does not match the body"
    );
    assert_eq!(reply.headers().call_id(), head.headers().call_id());
    // On a stream the missing body may still arrive.
    let mut framer = StreamFramer::new(Limits::DEFAULT);
    framer.push(&wire).unwrap();
    assert!(matches!(framer.poll(), Ok(None)));
}

#[test]
fn ncl_negative_content_length_is_rejected() {
    let wire = dat!("ncl");
    let e = parse_error(&wire);
    assert_eq!(e.kind, ParseErrorKind::Syntax);
    assert_eq!(line_at(&wire, e.offset), b"Content-Length: -999");
    assert_eq!(wire[e.offset], b'-');
    let Ok(Message::Request(head)) = parse_message_head(wire.clone(), &Limits::DEFAULT) else {
        panic!("head should parse")
    };
    let reply = Rejection::from_parse_error(&e).response(&head, None);
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let mut framer = StreamFramer::new(Limits::DEFAULT);
    framer.push(&wire).unwrap();
    assert_eq!(
        framer.poll().map(|_| ()).map_err(|e| e.kind),
        Err(ParseErrorKind::Syntax)
    );
}

#[test]
fn scalar02_out_of_range_cseq_gets_400() {
    let wire = dat!("scalar02");
    let r = request(wire.clone());
    for policy in [registrar(), proxy()] {
        let e = rejection(&r, &policy);
        assert_eq!(
            (e.status.as_u16(), e.reason.as_ref()),
            (400, "Bad Request - CSeq out of range")
        );
        assert_eq!(
            e.cause.as_ref().map(|c| c.kind),
            Some(ParseErrorKind::OutOfRange)
        );
        assert!(cause_line(&wire, &e).starts_with(b"CSeq: "));
    }
    let h = r.headers();
    let mf = h.max_forwards().unwrap().unwrap_err();
    assert_eq!(
        (mf.kind, line_at(&wire, mf.offset)),
        (ParseErrorKind::OutOfRange, &b"Max-Forwards: 300"[..])
    );
    let expires = h.typed::<Expires>().unwrap().unwrap_err();
    assert_eq!(expires.kind, ParseErrorKind::OutOfRange);
    assert!(line_at(&wire, expires.offset).starts_with(b"Expires: 1000"));
    let contact = h.contacts().next().unwrap().unwrap_err();
    assert_eq!(contact.kind, ParseErrorKind::OutOfRange);
    assert_eq!(
        line_at(&wire, contact.offset),
        b"  ;expires=280297596632815"
    );
}

#[test]
fn scalarlg_out_of_range_response_scalars_are_discarded() {
    let wire = dat!("scalarlg");
    let r = response(wire.clone());
    for policy in [uas(), proxy()] {
        let d = validate_response(&r, &policy).unwrap_err();
        assert_eq!(
            (d.reason.as_ref(), d.header),
            ("CSeq out of range", Some(HeaderName::CSeq))
        );
    }
    let h = r.headers();
    let retry = h.typed::<RetryAfter>().unwrap().unwrap_err();
    assert_eq!(retry.kind, ParseErrorKind::OutOfRange);
    assert!(line_at(&wire, retry.offset).starts_with(b"Retry-After: "));
    let warning = h.typed::<Warning>().unwrap().unwrap_err();
    assert_eq!(warning.kind, ParseErrorKind::OutOfRange);
    assert!(line_at(&wire, warning.offset).starts_with(b"Warning: 1812"));
}

#[test]
fn quotbal_unterminated_display_name_quote_gets_400() {
    let wire = dat!("quotbal");
    let r = request(wire.clone());
    for policy in [uas(), proxy()] {
        let e = rejection(&r, &policy);
        assert_eq!(
            (e.status.as_u16(), e.reason.as_ref()),
            (400, "Bad Request - Malformed To")
        );
        assert_eq!(
            cause_line(&wire, &e),
            b"To: \"Mr. J. User <sip:j.user@example.com>"
        );
    }
}

#[test]
fn ltgtruri_bracketed_request_uri_is_rejected() {
    let wire = dat!("ltgtruri");
    let e = parse_error(&wire);
    assert_eq!((e.kind, e.offset), (ParseErrorKind::Syntax, 7));
    assert_eq!(wire[e.offset], b'<');
    assert_eq!(
        Rejection::from_parse_error(&e).status,
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn lwsruri_space_in_request_uri_is_rejected() {
    let wire = dat!("lwsruri");
    let e = parse_error(&wire);
    assert_eq!(e.kind, ParseErrorKind::Syntax);
    assert_eq!(
        line_at(&wire, e.offset),
        b"INVITE sip:user@example.com; lr SIP/2.0"
    );
    assert_eq!(&wire[e.offset..e.offset + 2], b"lr");
    assert_eq!(
        Rejection::from_parse_error(&e).status,
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn lwsstart_extra_spaces_in_request_line_are_rejected() {
    let wire = dat!("lwsstart");
    let e = parse_error(&wire);
    assert_eq!((e.kind, e.offset), (ParseErrorKind::Syntax, 7));
    assert_eq!(&wire[6..8], b"  ");
    assert_eq!(
        Rejection::from_parse_error(&e).status,
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn trws_trailing_space_after_version_is_rejected() {
    let wire = dat!("trws");
    let e = parse_error(&wire);
    assert_eq!(e.kind, ParseErrorKind::Syntax);
    assert_eq!(
        line_at(&wire, e.offset),
        b"OPTIONS sip:remote-target@example.com SIP/2.0  "
    );
    assert_eq!(&wire[e.offset - 7..e.offset + 1], b"SIP/2.0 ");
    assert_eq!(
        Rejection::from_parse_error(&e).status,
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn escruri_request_uri_with_headers_gets_400() {
    let r = request(dat!("escruri"));
    let sip = r.uri().as_sip().unwrap();
    let route = sip.headers().iter().next().unwrap();
    assert_eq!(route.decoded_name().as_ref(), b"Route");
    assert_eq!(route.decoded_value().as_ref(), b"<sip:example.com>");
    assert!(!r.headers().contains(&HeaderName::Route));
    for policy in [uas(), proxy()] {
        assert_eq!(
            verdict(&r, &policy),
            (400, "Bad Request - Request-URI with headers".into())
        );
    }
}

#[test]
fn baddate_non_gmt_date_is_ignored_by_validation_and_rejected_by_the_typed_view() {
    let wire = dat!("baddate");
    let r = request(wire.clone());
    let e = r.headers().typed::<Date>().unwrap().unwrap_err();
    assert_eq!(&wire[e.offset..e.offset + 4], b" EST");
    assert!(line_at(&wire, e.offset).starts_with(b"Date: "));
    assert_eq!(validate_request(&r, &uas()), Ok(()));
    assert_eq!(validate_request(&r, &proxy()), Ok(()));
}

#[test]
fn regbadct_unbracketed_contact_with_headers_gets_400_at_a_registrar() {
    let wire = dat!("regbadct");
    let r = request(wire.clone());
    let e = rejection(&r, &registrar());
    assert_eq!(
        (e.status.as_u16(), e.reason.as_ref()),
        (400, "Bad Request - Malformed Contact")
    );
    let at = e.cause.as_ref().unwrap().offset;
    assert_eq!(wire[at], b'?');
    assert!(line_at(&wire, at).starts_with(b"Contact: "));
    // A proxy does not read Contact (RFC 3261 §16.3 step 1) and passes the request on.
    assert_eq!(validate_request(&r, &proxy()), Ok(()));
}

#[test]
fn badaspec_spaces_inside_angle_brackets_get_400() {
    let wire = dat!("badaspec");
    let r = request(wire.clone());
    for policy in [uas(), proxy()] {
        let e = rejection(&r, &policy);
        assert_eq!(
            (e.status.as_u16(), e.reason.as_ref()),
            (400, "Bad Request - Malformed To")
        );
        assert_eq!(
            cause_line(&wire, &e),
            b"To: \"Watson, Thomas\" < sip:t.watson@example.org >"
        );
    }
}

#[test]
fn baddn_unquoted_display_name_with_comma_gets_400() {
    let wire = dat!("baddn");
    assert!(wire.ends_with(b"l: 0\r\n"));
    let r = request(wire.clone());
    for policy in [uas(), proxy()] {
        let e = rejection(&r, &policy);
        assert_eq!(
            (e.status.as_u16(), e.reason.as_ref()),
            (400, "Bad Request - Malformed From")
        );
        let at = e.cause.as_ref().unwrap().offset;
        assert_eq!(wire[at], b',');
        assert!(line_at(&wire, at).starts_with(b"From:    Bell, Alexander"));
    }
    assert!(r.headers().to().unwrap().is_err());
}

#[test]
fn badvers_sip_7_0_gets_505() {
    let r = request(dat!("badvers"));
    assert_eq!((r.version().major(), r.version().minor()), (7, 0));
    for policy in [uas(), proxy()] {
        let e = rejection(&r, &policy);
        assert_eq!(e.status, StatusCode::VERSION_NOT_SUPPORTED);
        assert_eq!(
            e.response(&r, Some("t")).status(),
            StatusCode::VERSION_NOT_SUPPORTED
        );
    }
}

#[test]
fn mismatch01_cseq_method_mismatch_gets_400() {
    let r = request(dat!("mismatch01"));
    for policy in [uas(), proxy()] {
        let e = rejection(&r, &policy);
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.reason,
            "Bad Request - CSeq method does not match the request method"
        );
        assert_eq!(e.header, Some(HeaderName::CSeq));
    }
}

#[test]
fn mismatch02_unknown_method_gets_501_at_a_uas_and_400_at_a_proxy() {
    let r = request(dat!("mismatch02"));
    assert_eq!(r.method().as_bytes(), b"NEWMETHOD");
    let e = rejection(&r, &uas());
    assert_eq!(e.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        reply_header(&e, &HeaderName::Allow),
        b"INVITE, ACK, CANCEL, BYE, OPTIONS"
    );
    assert_eq!(
        verdict(&r, &proxy()),
        (
            400,
            "Bad Request - CSeq method does not match the request method".into()
        )
    );
}

#[test]
fn bigcode_status_code_above_699_is_rejected() {
    let wire = dat!("bigcode");
    let e = parse_error(&wire);
    // Status-Code is 3DIGIT: the fourth digit is where the Status-Line stops following the grammar.
    assert_eq!((e.kind, e.offset), (ParseErrorKind::Syntax, 11));
    assert_eq!(
        line_at(&wire, e.offset),
        b"SIP/2.0 4294967301 better not break the receiver"
    );
}

// ---------------------------------------------------------------------------------------------------------
// 3.2 Transaction layer

#[test]
fn badbranch_bare_magic_cookie_branch_gets_400() {
    let r = request(dat!("badbranch"));
    assert_eq!(
        r.headers().via().unwrap().unwrap().branch(),
        Some(&b"z9hG4bK"[..])
    );
    for policy in [uas(), proxy()] {
        let e = rejection(&r, &policy);
        assert_eq!(
            (e.status, &e.header),
            (StatusCode::BAD_REQUEST, &Some(HeaderName::Via))
        );
        assert_eq!(
            e.reason,
            "Bad Request - Via branch has nothing after the magic cookie"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// 3.3 Application layer

#[test]
fn insuf_missing_call_id_from_and_to_get_400() {
    let r = request(dat!("insuf"));
    for policy in [uas(), proxy()] {
        let e = rejection(&r, &policy);
        assert_eq!(
            (e.status.as_u16(), e.reason.as_ref()),
            (400, "Bad Request - Missing From, To, Call-ID")
        );
        let reply = e.response(&r, Some("t"));
        assert!(reply.headers().via().is_some() && reply.headers().cseq().is_some());
    }
}

#[test]
fn unkscm_unknown_request_uri_scheme_gets_416() {
    let r = request(dat!("unkscm"));
    assert_eq!(r.uri().scheme(), b"nobodyKnowsThisScheme");
    for policy in [uas(), proxy()] {
        assert_eq!(
            rejection(&r, &policy).status,
            StatusCode::UNSUPPORTED_URI_SCHEME
        );
    }
}

#[test]
fn novelsc_unaccepted_request_uri_scheme_gets_416() {
    let r = request(dat!("novelsc"));
    assert_eq!(r.uri().scheme(), b"soap.beep");
    for policy in [uas(), proxy()] {
        assert_eq!(
            rejection(&r, &policy).status,
            StatusCode::UNSUPPORTED_URI_SCHEME
        );
    }
}

#[test]
fn unksm2_non_sip_aor_is_forwarded_by_a_proxy_and_refused_by_a_registrar() {
    let r = request(dat!("unksm2"));
    let h = r.headers();
    assert_eq!(h.to().unwrap().unwrap().uri().scheme(), b"isbn");
    assert_eq!(h.from().unwrap().unwrap().uri().scheme(), b"http");
    let contact = h.contacts().next().unwrap().unwrap();
    assert_eq!(contact.address().unwrap().uri().scheme(), b"name");
    assert_eq!(validate_request(&r, &proxy()), Ok(()));
    let e = rejection(&r, &registrar());
    assert_eq!((e.status.as_u16(), &e.header), (400, &Some(HeaderName::To)));
    assert_eq!(
        e.reason,
        "Bad Request - Address-of-record must be a SIP or SIPS URI"
    );
}

#[test]
fn bext01_unsupported_option_tags_get_420_by_role() {
    let r = request(dat!("bext01"));
    let e = rejection(&r, &uas());
    assert_eq!(e.status, StatusCode::BAD_EXTENSION);
    assert_eq!(
        reply_header(&e, &HeaderName::Unsupported),
        b"nothingSupportsThis, nothingSupportsThisEither"
    );
    let reply = e.response(&r, Some("t"));
    assert_eq!(
        reply
            .headers()
            .get(&HeaderName::Unsupported)
            .map(|f| f.value().clone()),
        Some(Bytes::from_static(
            b"nothingSupportsThis, nothingSupportsThisEither"
        ))
    );
    let e = rejection(&r, &proxy());
    assert_eq!(e.status, StatusCode::BAD_EXTENSION);
    assert_eq!(
        reply_header(&e, &HeaderName::Unsupported),
        b"noProxiesSupportThis, norDoAnyProxiesSupportThis"
    );
}

#[test]
fn invut_unknown_body_type_gets_415_at_a_uas() {
    let r = request(dat!("invut"));
    let e = rejection(&r, &uas());
    assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(reply_header(&e, &HeaderName::Accept), b"application/sdp");
    assert_eq!(validate_request(&r, &proxy()), Ok(()));
}

#[test]
fn regaut01_unknown_authorization_scheme_is_passed_on() {
    let r = request(dat!("regaut01"));
    let auth = r.headers().typed::<Authorization>().unwrap().unwrap();
    assert_eq!(auth.scheme().as_ref(), b"NoOneKnowsThisScheme");
    assert!(!auth.is_digest());
    assert_eq!(validate_request(&r, &proxy()), Ok(()));
    assert_eq!(validate_request(&r, &registrar()), Ok(()));
    let e = rejection(&r, &uas());
    assert_eq!(e.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        reply_header(&e, &HeaderName::Allow),
        b"INVITE, ACK, CANCEL, BYE, OPTIONS"
    );
}

#[test]
fn multi01_repeated_single_valued_headers_get_400() {
    let r = request(dat!("multi01"));
    for policy in [uas(), proxy()] {
        let e = rejection(&r, &policy);
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.reason,
            "Bad Request - Multiple values in From, To, Call-ID, CSeq, Max-Forwards"
        );
        assert_eq!(e.header, Some(HeaderName::From));
    }
}

#[test]
fn mcl01_conflicting_content_lengths_get_400() {
    let wire = dat!("mcl01");
    let r = request(wire.clone());
    // On a datagram the first Content-Length frames the body; validation then refuses the conflict.
    assert_eq!(r.body().as_ref(), b"There's no wa");
    for policy in [uas(), proxy()] {
        let e = rejection(&r, &policy);
        assert_eq!(
            (e.status.as_u16(), e.reason.as_ref()),
            (400, "Bad Request - Multiple values in Content-Length")
        );
        assert_eq!(e.header, Some(HeaderName::ContentLength));
    }
    let mut framer = StreamFramer::new(Limits::DEFAULT);
    framer.push(&wire).unwrap();
    let e = framer.poll().map(|_| ()).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::ContentLengthMismatch);
}

#[test]
fn bcast_response_via_broadcast_is_discarded() {
    let r = response(dat!("bcast"));
    let second = r.headers().vias().nth(1).unwrap().unwrap();
    assert_eq!(second.host(), &Host::Ipv4([255, 255, 255, 255].into()));
    let d = validate_response(&r, &uas()).unwrap_err();
    assert_eq!(d.reason, "More than one Via");
    let d = validate_response(&r, &proxy()).unwrap_err();
    assert_eq!(
        (d.reason.as_ref(), d.header),
        ("Via to a broadcast address", Some(HeaderName::Via))
    );
}

#[test]
fn zeromf_zero_max_forwards_gets_483_at_a_proxy_only() {
    let r = request(dat!("zeromf"));
    assert_eq!(r.headers().max_forwards().unwrap().unwrap().0, 0);
    assert_eq!(rejection(&r, &proxy()).status, StatusCode::TOO_MANY_HOPS);
    let answers_options = ValidationPolicy::new(Role::Proxy {
        supported: Vec::new(),
        answers_at_zero_max_forwards: vec![Method::Options],
    });
    assert_eq!(validate_request(&r, &answers_options), Ok(()));
    assert_eq!(validate_request(&r, &uas()), Ok(()));
}

#[test]
fn cparam01_addr_spec_contact_param_belongs_to_the_header() {
    let r = request(dat!("cparam01"));
    assert_eq!(validate_request(&r, &registrar()), Ok(()));
    let contact = r.headers().contacts().next().unwrap().unwrap();
    let addr = contact.address().unwrap();
    assert!(!addr.is_bracketed());
    assert!(addr.params().contains("unknownparam"));
    let binding = addr.uri().as_sip().unwrap();
    assert!(binding.params().is_empty());
    assert_eq!(binding.to_string(), "sip:+19725552222@gw1.example.net");
}

#[test]
fn cparam02_bracketed_contact_param_belongs_to_the_uri() {
    let r = request(dat!("cparam02"));
    assert_eq!(validate_request(&r, &registrar()), Ok(()));
    let contact = r.headers().contacts().next().unwrap().unwrap();
    let addr = contact.address().unwrap();
    assert!(addr.params().is_empty());
    let binding = addr.uri().as_sip().unwrap();
    assert!(binding.params().contains("unknownparam"));
    assert_eq!(
        binding.to_string(),
        "sip:+19725552222@gw1.example.net;unknownparam"
    );
}

#[test]
fn regescrt_escaped_route_in_contact_uri_is_kept() {
    let r = request(dat!("regescrt"));
    assert_eq!(validate_request(&r, &registrar()), Ok(()));
    let contact = r.headers().contacts().next().unwrap().unwrap();
    let binding = contact.address().unwrap().uri();
    let route = binding.as_sip().unwrap().headers().iter().next().unwrap();
    assert_eq!(route.decoded_name().as_ref(), b"Route");
    assert_eq!(route.decoded_value().as_ref(), b"<sip:sip.example.com>");
    assert_eq!(
        binding.to_string(),
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    );
}

#[test]
fn sdp01_accept_without_sdp_gets_406() {
    let r = request(dat!("sdp01"));
    let e = rejection(&r, &uas());
    assert_eq!(
        (e.status.as_u16(), e.reason.as_ref()),
        (406, "Not Acceptable")
    );
    let mut with_agent = uas();
    with_agent.warn_agent = Some("uas.example.com".into());
    let e = rejection(&r, &with_agent);
    let warning = e
        .headers
        .iter()
        .find(|f| f.name() == &HeaderName::Warning)
        .unwrap();
    let warning: Warning = warning.parse().unwrap();
    assert_eq!(
        (warning.code(), warning.agent().as_ref()),
        (399, &b"uas.example.com"[..])
    );
    assert_eq!(validate_request(&r, &proxy()), Ok(()));
}

// ---------------------------------------------------------------------------------------------------------
// 3.4 Backward compatibility

#[test]
fn inv2543_rfc2543_request_is_accepted() {
    let r = request(dat!("inv2543"));
    let h = r.headers();
    assert!(h.max_forwards().is_none() && h.content_length().is_none());
    assert_eq!(h.via().unwrap().unwrap().branch(), None);
    assert_eq!(r.body().len(), 105);
    assert_eq!(validate_request(&r, &uas()), Ok(()));
    assert_eq!(validate_request(&r, &proxy()), Ok(()));
}
