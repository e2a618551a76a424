//! `tandem sip parse` run as a process on RFC 4475 torture messages and on standard input.

use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// An RFC 4475 message from tandem-sip-core's test data.
fn rfc4475(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../sip-core/tests/data/rfc4475")
        .join(name)
}

fn tandem(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .output()
        .expect("the tandem binary runs")
}

fn parse_file(name: &str, extra: &[&str]) -> Output {
    let path = rfc4475(name);
    let mut args = vec!["sip", "parse", path.to_str().expect("UTF-8 path")];
    args.extend_from_slice(extra);
    tandem(&args)
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

/// The header fields called `canonical`, in order.
fn fields<'a>(message: &'a Value, canonical: &str) -> Vec<&'a Value> {
    message["headers"]
        .as_array()
        .expect("headers array")
        .iter()
        .filter(|h| h["canonical"] == canonical)
        .collect()
}

#[test]
fn valid_request_prints_start_line_headers_and_typed_views() {
    let out = parse_file("wsinv.dat", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = json(&out);
    assert_eq!(m["type"], "request");
    assert_eq!(m["start_line"]["method"], "INVITE");
    assert_eq!(m["start_line"]["uri"]["scheme"], "sip");
    assert_eq!(m["start_line"]["uri"]["user"], "vivekg");
    assert_eq!(m["start_line"]["version"], "SIP/2.0");
    // Leading zeros are accepted: CSeq 0009 and Max-Forwards 0068.
    let cseq = fields(&m, "CSeq")[0];
    assert_eq!(cseq["typed"]["seq"], 9);
    assert_eq!(cseq["typed"]["method"], "INVITE");
    assert_eq!(fields(&m, "Max-Forwards")[0]["typed"], 68);
    // Names are kept as received (`TO`, the compact `m`), with their canonical form beside them.
    let to = fields(&m, "To")[0];
    assert_eq!(to["name"], "TO");
    assert_eq!(to["typed"]["uri"]["user"], "vivekg");
    assert_eq!(to["typed"]["tag"], "1918181833n");
    let contact = fields(&m, "Contact")[0];
    assert_eq!(contact["name"], "m");
    assert_eq!(contact["typed"][0]["display_name"], "Quoted string \"\"");
    assert_eq!(contact["typed"][0]["q"], 0.33);
    let via = fields(&m, "Via");
    assert_eq!(via[0]["typed"][0]["transport"], "UDP");
    assert_eq!(via[0]["typed"][0]["branch"], "390skdjuw");
    assert_eq!(fields(&m, "Content-Type")[0]["typed"]["subtype"], "sdp");
    assert_eq!(m["body"]["content_type"], "application/sdp");
    assert_eq!(m["body"]["length"], 150);
}

#[test]
fn list_headers_show_every_element() {
    let out = parse_file("longreq.dat", &[]);
    assert!(out.status.success());
    let m = json(&out);
    let entries: usize = fields(&m, "Via")
        .iter()
        .map(|f| f["typed"].as_array().expect("Via elements").len())
        .sum();
    assert_eq!(entries, 34);
}

#[test]
fn response_prints_status_line() {
    let out = parse_file("unreason.dat", &[]);
    assert!(out.status.success());
    let m = json(&out);
    assert_eq!(m["type"], "response");
    assert_eq!(m["start_line"]["status"], 200);
    assert!(
        m["start_line"]["reason"]
            .as_str()
            .expect("reason text")
            .starts_with("= 2**3 * 5**2")
    );
}

#[test]
fn malformed_typed_value_is_reported_with_its_offset_in_the_message() {
    // The message parses (values are kept raw) but its CSeq number is out of range.
    let out = parse_file("scalar02.dat", &[]);
    assert!(out.status.success());
    let m = json(&out);
    let cseq = fields(&m, "CSeq")[0];
    assert!(cseq.get("typed").is_none());
    assert_eq!(cseq["typed_error"]["kind"], "value out of range");
    assert_eq!(cseq["typed_error"]["offset"], cseq["offset"]);
}

#[test]
fn unparseable_message_exits_1_with_the_offset_on_stderr() {
    let out = parse_file("ltgtruri.dat", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error at byte 7: syntax error: expected URI scheme"),
        "{stderr}"
    );
}

#[test]
fn body_framing_error_exits_1_and_validate_says_400_can_be_sent() {
    let out = parse_file("clerr.dat", &["--validate"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Content-Length does not match the body"),
        "{stderr}"
    );
    let v = json(&out);
    assert_eq!(v["validation"]["status"], 400);
    assert_eq!(v["validation"]["answerable"], true);
}

#[test]
fn validate_reports_the_uas_reply() {
    for (file, status) in [
        ("badvers.dat", 505),
        ("mismatch01.dat", 400),
        ("unkscm.dat", 416),
        ("bext01.dat", 420),
        ("invut.dat", 415),
    ] {
        let out = parse_file(file, &["--validate"]);
        assert!(out.status.success(), "{file}");
        let v = &json(&out)["validation"];
        assert_eq!(v["verdict"], "reject", "{file}");
        assert_eq!(v["status"], status, "{file}");
    }
}

#[test]
fn validate_accepts_a_well_formed_request() {
    let out = parse_file("inv2543.dat", &["--validate"]);
    assert!(out.status.success());
    assert_eq!(json(&out)["validation"]["verdict"], "accept");
}

#[test]
fn dash_reads_standard_input() {
    let message = b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["sip", "parse", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the tandem binary runs");
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(message)
        .expect("write stdin");
    let out = child.wait_with_output().expect("tandem exits");
    assert!(out.status.success());
    let m = json(&out);
    assert_eq!(m["start_line"]["method"], "OPTIONS");
    assert_eq!(fields(&m, "Via")[0]["typed"][0]["host"], "a.example.com");
}

#[test]
fn missing_file_is_an_error_of_its_own() {
    let out = tandem(&["sip", "parse", "/nonexistent/message.sip"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading /nonexistent/message.sip"));
}
