//! `tandem sip parse`: read one message, print it as JSON, optionally with the verdict of a UAS's checks.

use crate::sip_json;
use anyhow::Context;
use bytes::Bytes;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tandem_sip_core::{
    Limits, Message, ParseError, Rejection, ValidationPolicy, parse_message, parse_message_head,
    validate_request, validate_response,
};

/// Run the command: `Ok(0)` when the message parsed, `Ok(1)` when it did not, `Err` when the input could not be
/// read or the output written.
pub(crate) fn run(file: Option<PathBuf>, validate: bool) -> anyhow::Result<ExitCode> {
    let wire = read_input(file)?;
    let mut stdout = std::io::stdout().lock();
    match parse_message(wire.clone()) {
        Ok(message) => {
            let mut out = sip_json::message(&message);
            if validate {
                out["validation"] = verdict(&message);
            }
            print_json(&mut stdout, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!(
                "error at byte {}: {}: expected {}",
                error.offset, error.kind, error.expected
            );
            if validate {
                print_json(
                    &mut stdout,
                    &json!({ "validation": parse_error_verdict(&wire, &error) }),
                )?;
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The message bytes from `file`, or from standard input for `-` or no file.
fn read_input(file: Option<PathBuf>) -> anyhow::Result<Bytes> {
    let mut buf = Vec::new();
    match file {
        Some(path) if path.as_os_str() != "-" => {
            buf = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        }
        _ => {
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading standard input")?;
        }
    }
    Ok(Bytes::from(buf))
}

fn print_json(out: &mut impl Write, value: &Value) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).context("writing standard output")?;
    writeln!(out).context("writing standard output")?;
    Ok(())
}

/// What the default UAS ([`ValidationPolicy::uas`]) does with a parsed message: accept it, reject a request
/// with a status code, or discard a response.
fn verdict(message: &Message) -> Value {
    let policy = ValidationPolicy::uas();
    match message {
        Message::Request(request) => match validate_request(request, &policy) {
            Ok(()) => json!({ "verdict": "accept" }),
            // RFC 3261 §17.2.1: an ACK is never answered, so a rejected one is dropped.
            Err(_) if request.method() == &tandem_sip_core::Method::Ack => {
                json!({ "verdict": "drop", "reason": "a rejected ACK is not answered" })
            }
            Err(rejection) => rejection_json(&rejection),
        },
        Message::Response(response) => match validate_response(response, &policy) {
            Ok(()) => json!({ "verdict": "accept" }),
            Err(discard) => json!({
                "verdict": "discard",
                "reason": discard.reason,
                "header": discard.header.as_ref().map(|h| h.as_str().to_owned()),
                "cause": discard.cause.as_deref().map(sip_json::parse_error),
            }),
        },
    }
}

fn rejection_json(rejection: &Rejection) -> Value {
    json!({
        "verdict": "reject",
        "status": rejection.status.as_u16(),
        "reason": rejection.reason,
        "header": rejection.header.as_ref().map(|h| h.as_str().to_owned()),
        "reply_headers": rejection.headers.iter().map(sip_json::field_line).collect::<Vec<_>>(),
        "cause": rejection.cause.as_deref().map(sip_json::parse_error),
    })
}

/// The reply to a message the parser rejected. It can only be sent when the start line and header fields
/// parse (e.g. only the body framing failed) and the message is a request carrying what a reply copies.
fn parse_error_verdict(wire: &Bytes, error: &ParseError) -> Value {
    let mut out = rejection_json(&Rejection::from_parse_error(error));
    let answerable = matches!(
        parse_message_head(wire.clone(), &Limits::default()),
        Ok(Message::Request(ref request)) if request.method() != &tandem_sip_core::Method::Ack
            && request.headers().via().is_some()
            && request.headers().call_id().is_some()
            && request.headers().cseq().is_some()
    );
    out["answerable"] = json!(answerable);
    out
}
