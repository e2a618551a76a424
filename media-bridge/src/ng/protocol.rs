//! NG framing and request decoding.
//!
//! A datagram is `<cookie> <bencoded dictionary>`: the cookie is any run of bytes without a space, chosen
//! by the client (Kamailio sends `<server id>_<random>_<sequence>`), and the reply carries the same cookie so
//! the client can match it; a retransmission reuses its cookie. The dictionary's `command` says what to do.
//! [`Request::decode`] turns the dictionary into a typed [`Command`] and an [`Ignored`] list of everything
//! it did not act on.

use bytes::{BufMut, Bytes, BytesMut};
use tandem_rtp_core::telephone_event::DtmfDigit;

use super::bencode::{self, BencodeError, Dict, Limits, Value, ValueKind};
use super::media_options::{Ignored, MediaOptions, number};
use super::word;

/// The conventional NG control port (rtpengine's `listen-ng` in Kamailio's examples).
pub const DEFAULT_PORT: u16 = 22222;

/// The longest cookie accepted. Kamailio's are under 35 bytes.
pub const MAX_COOKIE_LEN: usize = 128;

/// Why a datagram could not be turned into a request. Its `Display` text is what goes into a reply's
/// `error-reason`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NgError {
    /// The datagram has no space, or starts with one, so there is no cookie to answer with.
    #[error("no cookie: expected '<cookie> <dictionary>'")]
    MissingCookie,
    /// The cookie is longer than [`MAX_COOKIE_LEN`].
    #[error("cookie longer than {limit} bytes")]
    CookieTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The datagram is larger than the configured limit (it may have been truncated on receipt).
    #[error("request of {length} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The datagram's length as received.
        length: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The dictionary is not well-formed bencode; offsets count from the start of the dictionary.
    #[error("malformed bencode: {0}")]
    Bencode(#[from] BencodeError),
    /// The bencoded value is not a dictionary.
    #[error("request is a {0}, not a dictionary")]
    NotADictionary(ValueKind),
    /// A key the command needs is absent (or empty).
    #[error("missing key '{0}'")]
    MissingKey(&'static str),
    /// A key the command needs has a value of the wrong type.
    #[error("key '{key}' must be a {expected}")]
    WrongType {
        /// The key.
        key: &'static str,
        /// The type it must have.
        expected: ValueKind,
    },
    /// A key the command needs has a value out of range.
    #[error("invalid value for '{key}': {reason}")]
    InvalidValue {
        /// The key.
        key: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The command is not one this server implements (the name, lossily decoded and shortened).
    #[error("unsupported command '{0}'")]
    UnsupportedCommand(String),
}

/// A datagram split into its cookie and its bencoded body; both are slices of the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The cookie, to be echoed in the reply.
    pub cookie: Bytes,
    /// The bencoded dictionary after the separating space.
    pub body: Bytes,
}

impl Frame {
    /// Split `datagram` at its first space. Only the first [`MAX_COOKIE_LEN`] + 1 bytes are searched.
    pub fn parse(datagram: &Bytes) -> Result<Frame, NgError> {
        let window = datagram.get(..=MAX_COOKIE_LEN).unwrap_or(datagram);
        match window.iter().position(|&b| b == b' ') {
            Some(0) => Err(NgError::MissingCookie),
            Some(space) => Ok(Frame {
                cookie: datagram.slice(..space),
                body: datagram.slice(space + 1..),
            }),
            None if datagram.len() > MAX_COOKIE_LEN => Err(NgError::CookieTooLong {
                limit: MAX_COOKIE_LEN,
            }),
            None => Err(NgError::MissingCookie),
        }
    }
}

/// `<cookie> <bencoded body>`, as one buffer.
pub fn encode_frame(cookie: &[u8], body: &Value) -> Bytes {
    let mut out = BytesMut::with_capacity(cookie.len() + 1 + body.encoded_len());
    out.put_slice(cookie);
    out.put_u8(b' ');
    body.encode(&mut out);
    out.freeze()
}

/// A decoded request: what to do and what was ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The command with its arguments.
    pub command: Command,
    /// Keys, flags and values that were not acted on, in wire order. Log them: a script may be using an
    /// option this relay does not implement.
    pub ignored: Vec<Ignored>,
}

/// An NG command.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `ping`: liveness check, answered `pong`.
    Ping,
    /// `offer`: the SDP of an offer, to be rewritten for its receiver.
    Offer(SdpRequest),
    /// `answer`: the SDP of an answer, to be rewritten for the offerer.
    Answer(SdpRequest),
    /// `delete`: end a call (or one branch of it).
    Delete(Delete),
    /// `query`: statistics of a call.
    Query(Query),
    /// `list`: the Call-IDs of active calls.
    List(List),
    /// `play DTMF`: inject RFC 4733 events into a call.
    PlayDtmf(PlayDtmf),
    /// `start recording`: record a call's decrypted media.
    StartRecording(CallRef),
    /// `stop recording`: stop recording a call.
    StopRecording(CallRef),
}

impl Command {
    /// The command's NG name.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Ping => "ping",
            Command::Offer(_) => "offer",
            Command::Answer(_) => "answer",
            Command::Delete(_) => "delete",
            Command::Query(_) => "query",
            Command::List(_) => "list",
            Command::PlayDtmf(_) => "play DTMF",
            Command::StartRecording(_) => "start recording",
            Command::StopRecording(_) => "stop recording",
        }
    }
}

/// An `offer` or `answer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpRequest {
    /// `call-id`: the SIP Call-ID.
    pub call_id: Bytes,
    /// `from-tag`: the tag of the party that sent this SDP.
    pub from_tag: Bytes,
    /// `to-tag`: the tag of the party that receives it (always present in an answer).
    pub to_tag: Option<Bytes>,
    /// `via-branch`: the Via branch, to tell forked branches apart.
    pub via_branch: Option<Bytes>,
    /// `sdp`: the SDP body to rewrite.
    pub sdp: Bytes,
    /// How to rewrite it and treat the media.
    pub options: MediaOptions,
}

/// A `delete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// `call-id`.
    pub call_id: Bytes,
    /// `from-tag`: delete only this party's side (Kamailio always sends it).
    pub from_tag: Option<Bytes>,
    /// `to-tag`.
    pub to_tag: Option<Bytes>,
    /// `via-branch`: delete only this branch.
    pub via_branch: Option<Bytes>,
    /// The `fatal` flag: an unknown call is an error rather than a warning.
    pub fatal: bool,
    /// `delete-delay`: seconds to keep the call before deleting it (0: at once).
    pub delete_delay: Option<u32>,
}

/// A `query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// `call-id`.
    pub call_id: Bytes,
    /// `from-tag`.
    pub from_tag: Option<Bytes>,
    /// `to-tag`.
    pub to_tag: Option<Bytes>,
}

/// A `play DTMF`: the party tagged `from_tag` "presses" the keys; the events go to the other party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayDtmf {
    /// `call-id`.
    pub call_id: Bytes,
    /// `from-tag`: the party the digits come from (the caller when absent).
    pub from_tag: Option<Bytes>,
    /// `to-tag`.
    pub to_tag: Option<Bytes>,
    /// `code` (or `digit`): one or more of `0`–`9`, `*`, `#`, `A`–`D`, or an event number 0–15.
    pub digits: Vec<DtmfDigit>,
    /// `duration` in milliseconds (rtpengine's default: 100).
    pub duration_ms: Option<u32>,
    /// `volume` in -dBm0 (a negative number is read as its magnitude, as rtpengine does; default 8).
    pub volume: Option<u8>,
    /// `pause` between digits in milliseconds (default 100).
    pub pause_ms: Option<u32>,
}

/// A command that names a call (`start recording`, `stop recording`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRef {
    /// `call-id`.
    pub call_id: Bytes,
    /// `from-tag`.
    pub from_tag: Option<Bytes>,
}

/// A `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct List {
    /// `limit`: the most Call-IDs to return (default [`List::DEFAULT_LIMIT`]).
    pub limit: u32,
}

impl List {
    /// rtpengine's default.
    pub const DEFAULT_LIMIT: u32 = 32;
}

impl Request {
    /// Decode a request dictionary (a [`Frame`]'s body) within `limits`.
    pub fn decode(body: &Bytes, limits: &Limits) -> Result<Request, NgError> {
        let value = bencode::decode_with(body, limits)?;
        let Value::Dict(dict) = value else {
            return Err(NgError::NotADictionary(value.kind()));
        };
        let command = required_bytes(&dict, "command")?;
        let mut ignored = Vec::new();
        let command = match () {
            () if word::eq(&command, "ping") => decode_ping(&dict, &mut ignored),
            () if word::eq(&command, "offer") => {
                Command::Offer(decode_sdp(&dict, false, &mut ignored)?)
            }
            () if word::eq(&command, "answer") => {
                Command::Answer(decode_sdp(&dict, true, &mut ignored)?)
            }
            () if word::eq(&command, "delete") => {
                Command::Delete(decode_delete(&dict, &mut ignored)?)
            }
            () if word::eq(&command, "query") => Command::Query(decode_query(&dict, &mut ignored)?),
            () if word::eq(&command, "list") => Command::List(decode_list(&dict, &mut ignored)?),
            () if word::eq(&command, "play DTMF") => {
                Command::PlayDtmf(decode_play_dtmf(&dict, &mut ignored)?)
            }
            () if word::eq(&command, "start recording") => {
                Command::StartRecording(decode_call_ref(&dict, &mut ignored)?)
            }
            () if word::eq(&command, "stop recording") => {
                Command::StopRecording(decode_call_ref(&dict, &mut ignored)?)
            }
            () => return Err(unsupported(&command)),
        };
        Ok(Request { command, ignored })
    }
}

fn unsupported(command: &[u8]) -> NgError {
    let shown = command.get(..64).unwrap_or(command);
    NgError::UnsupportedCommand(String::from_utf8_lossy(shown).into_owned())
}

/// Keys that any command may carry and that need no action: Kamailio adds `supports` and
/// `sip-message-type` to everything, and `received-from` whenever the script passed flags.
fn is_envelope(key: &[u8]) -> bool {
    ["command", "supports", "sip-message-type", "received-from"]
        .iter()
        .any(|k| word::eq(key, k))
}

fn ignore_key(key: &Bytes, value: &Value, ignored: &mut Vec<Ignored>) {
    ignored.push(Ignored::Key {
        key: key.clone(),
        value: value.clone(),
    });
}

fn decode_ping(dict: &Dict, ignored: &mut Vec<Ignored>) -> Command {
    for (key, value) in dict.iter().filter(|(k, _)| !is_envelope(k)) {
        ignore_key(key, value, ignored);
    }
    Command::Ping
}

/// The call identifiers every call command carries.
#[derive(Default)]
struct CallIds {
    call_id: Option<Bytes>,
    from_tag: Option<Bytes>,
    to_tag: Option<Bytes>,
    via_branch: Option<Bytes>,
}

impl CallIds {
    /// Take `key` if it is one of the identifiers. A later entry overrides an earlier one.
    fn take(&mut self, key: &[u8], value: &Value) -> Result<bool, NgError> {
        let (slot, name) = match () {
            () if word::eq(key, "call-id") => (&mut self.call_id, "call-id"),
            () if word::eq(key, "from-tag") => (&mut self.from_tag, "from-tag"),
            () if word::eq(key, "to-tag") => (&mut self.to_tag, "to-tag"),
            () if word::eq(key, "via-branch") => (&mut self.via_branch, "via-branch"),
            () => return Ok(false),
        };
        let bytes = value.as_bytes().ok_or(NgError::WrongType {
            key: name,
            expected: ValueKind::Bytes,
        })?;
        *slot = Some(bytes.clone()).filter(|b| !b.is_empty());
        Ok(true)
    }

    fn call_id(&mut self) -> Result<Bytes, NgError> {
        self.call_id.take().ok_or(NgError::MissingKey("call-id"))
    }
}

fn decode_sdp(
    dict: &Dict,
    answer: bool,
    ignored: &mut Vec<Ignored>,
) -> Result<SdpRequest, NgError> {
    let mut ids = CallIds::default();
    let mut sdp = None;
    let mut options = MediaOptions::default();
    for (key, value) in dict.iter() {
        if ids.take(key, value)? {
            continue;
        }
        if word::eq(key, "sdp") {
            sdp = Some(value.as_bytes().cloned().ok_or(NgError::WrongType {
                key: "sdp",
                expected: ValueKind::Bytes,
            })?);
            continue;
        }
        if options.apply(key, value, ignored) || is_envelope(key) {
            continue;
        }
        ignore_key(key, value, ignored);
    }
    let to_tag = ids.to_tag.take();
    if answer && to_tag.is_none() {
        return Err(NgError::MissingKey("to-tag"));
    }
    Ok(SdpRequest {
        call_id: ids.call_id()?,
        from_tag: ids.from_tag.take().ok_or(NgError::MissingKey("from-tag"))?,
        to_tag,
        via_branch: ids.via_branch.take(),
        sdp: sdp.ok_or(NgError::MissingKey("sdp"))?,
        options,
    })
}

fn decode_delete(dict: &Dict, ignored: &mut Vec<Ignored>) -> Result<Delete, NgError> {
    let mut ids = CallIds::default();
    let mut fatal = false;
    let mut delete_delay = None;
    for (key, value) in dict.iter() {
        if ids.take(key, value)? || is_envelope(key) {
            continue;
        }
        if word::eq(key, "flags") {
            fatal |= take_delete_flags(value, ignored);
        } else if word::eq(key, "delete-delay") {
            match number(value) {
                Some(seconds) => delete_delay = Some(seconds),
                None => ignored.push(Ignored::Value {
                    key: key.clone(),
                    value: value.clone(),
                }),
            }
        } else {
            ignore_key(key, value, ignored);
        }
    }
    Ok(Delete {
        call_id: ids.call_id()?,
        from_tag: ids.from_tag,
        to_tag: ids.to_tag,
        via_branch: ids.via_branch,
        fatal,
        delete_delay,
    })
}

/// The `flags` of a delete: returns whether `fatal` was among them; reports the others.
fn take_delete_flags(value: &Value, ignored: &mut Vec<Ignored>) -> bool {
    let items = match value {
        Value::List(l) => l.as_slice(),
        other => std::slice::from_ref(other),
    };
    let mut fatal = false;
    for item in items {
        match item.as_bytes() {
            Some(flag) if word::eq(flag, "fatal") => fatal = true,
            Some(flag) => ignored.push(Ignored::Flag(flag.clone())),
            None => ignored.push(Ignored::Value {
                key: Bytes::from_static(b"flags"),
                value: item.clone(),
            }),
        }
    }
    fatal
}

fn decode_query(dict: &Dict, ignored: &mut Vec<Ignored>) -> Result<Query, NgError> {
    let mut ids = CallIds::default();
    for (key, value) in dict.iter() {
        if ids.take(key, value)? || is_envelope(key) {
            continue;
        }
        ignore_key(key, value, ignored);
    }
    if let Some(branch) = ids.via_branch.take() {
        ignore_key(
            &Bytes::from_static(b"via-branch"),
            &Value::Bytes(branch),
            ignored,
        );
    }
    Ok(Query {
        call_id: ids.call_id()?,
        from_tag: ids.from_tag,
        to_tag: ids.to_tag,
    })
}

fn decode_list(dict: &Dict, ignored: &mut Vec<Ignored>) -> Result<List, NgError> {
    let mut limit = List::DEFAULT_LIMIT;
    for (key, value) in dict.iter() {
        if is_envelope(key) {
            continue;
        }
        if word::eq(key, "limit") {
            limit = number(value).ok_or(NgError::InvalidValue {
                key: "limit",
                reason: "must be a non-negative integer",
            })?;
        } else {
            ignore_key(key, value, ignored);
        }
    }
    Ok(List { limit })
}

fn decode_play_dtmf(dict: &Dict, ignored: &mut Vec<Ignored>) -> Result<PlayDtmf, NgError> {
    let mut ids = CallIds::default();
    let mut digits = None;
    let mut duration_ms = None;
    let mut volume = None;
    let mut pause_ms = None;
    for (key, value) in dict.iter() {
        if ids.take(key, value)? || is_envelope(key) {
            continue;
        }
        if word::eq(key, "code") || word::eq(key, "digit") {
            digits = Some(dtmf_digits(value)?);
        } else if word::eq(key, "duration") {
            duration_ms = Some(number(value).ok_or(NgError::InvalidValue {
                key: "duration",
                reason: "must be a non-negative integer (milliseconds)",
            })?);
        } else if word::eq(key, "pause") {
            pause_ms = Some(number(value).ok_or(NgError::InvalidValue {
                key: "pause",
                reason: "must be a non-negative integer (milliseconds)",
            })?);
        } else if word::eq(key, "volume") {
            volume = Some(dtmf_volume(value).ok_or(NgError::InvalidValue {
                key: "volume",
                reason: "must be an integer (dBm0)",
            })?);
        } else {
            ignore_key(key, value, ignored);
        }
    }
    Ok(PlayDtmf {
        call_id: ids.call_id()?,
        from_tag: ids.from_tag,
        to_tag: ids.to_tag,
        digits: digits.ok_or(NgError::MissingKey("code"))?,
        duration_ms,
        volume,
        pause_ms,
    })
}

/// `code`: a string of digits, or one event number.
fn dtmf_digits(value: &Value) -> Result<Vec<DtmfDigit>, NgError> {
    const BAD: NgError = NgError::InvalidValue {
        key: "code",
        reason: "must be DTMF digits (0-9, *, #, A-D) or an event number 0-15",
    };
    match value {
        Value::Integer(i) => {
            let code = u8::try_from(*i).map_err(|_| BAD)?;
            Ok(vec![DtmfDigit::from_event_code(code).ok_or(BAD)?])
        }
        Value::Bytes(b) if !b.is_empty() && b.len() <= 64 => b
            .iter()
            .map(|&c| DtmfDigit::from_char(char::from(c)).ok_or(BAD))
            .collect(),
        _ => Err(BAD),
    }
}

/// `volume`: dBm0 as an integer or digit string; the sign is dropped, and the level capped at 63.
fn dtmf_volume(value: &Value) -> Option<u8> {
    let level = match value {
        Value::Integer(i) => i.unsigned_abs(),
        Value::Bytes(b) => {
            let digits = b.strip_prefix(b"-").unwrap_or(b);
            u64::from(word::parse_u32(digits)?)
        }
        _ => return None,
    };
    Some(level.min(63) as u8)
}

fn decode_call_ref(dict: &Dict, ignored: &mut Vec<Ignored>) -> Result<CallRef, NgError> {
    let mut ids = CallIds::default();
    for (key, value) in dict.iter() {
        if ids.take(key, value)? || is_envelope(key) {
            continue;
        }
        ignore_key(key, value, ignored);
    }
    for (name, id) in [
        ("to-tag", ids.to_tag.take()),
        ("via-branch", ids.via_branch.take()),
    ] {
        if let Some(id) = id {
            ignore_key(
                &Bytes::from_static(name.as_bytes()),
                &Value::Bytes(id),
                ignored,
            );
        }
    }
    Ok(CallRef {
        call_id: ids.call_id()?,
        from_tag: ids.from_tag,
    })
}

fn required_bytes(dict: &Dict, key: &'static str) -> Result<Bytes, NgError> {
    let value = dict
        .iter()
        .find(|(k, _)| word::eq(k, key))
        .map(|(_, v)| v)
        .ok_or(NgError::MissingKey(key))?;
    value.as_bytes().cloned().ok_or(NgError::WrongType {
        key,
        expected: ValueKind::Bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ng::media_options::{
        Dtls, Flag, Ice, Replace, RtcpMux, TransportOverride, TransportProtocol,
    };

    fn decode(body: &'static [u8]) -> Result<Request, NgError> {
        Request::decode(&Bytes::from_static(body), &Limits::default())
    }

    #[test]
    fn decodes_play_dtmf_with_digits_or_an_event_number() {
        let r = decode(b"d7:command9:play DTMF7:call-id1:c8:from-tag1:f4:code3:1#A8:durationi250e6:volumei-12ee")
            .unwrap();
        let Command::PlayDtmf(p) = r.command else {
            panic!("{:?}", r.command)
        };
        let chars: String = p.digits.iter().map(|d| d.as_char()).collect();
        assert_eq!(chars, "1#A");
        assert_eq!(
            (p.duration_ms, p.volume, p.pause_ms),
            (Some(250), Some(12), None)
        );
        assert_eq!(p.from_tag.as_deref(), Some(&b"f"[..]));
        let r = decode(b"d7:command9:play-DTMF7:call-id1:c5:digiti11ee").unwrap();
        let Command::PlayDtmf(p) = r.command else {
            panic!()
        };
        assert_eq!(p.digits.len(), 1);
        assert_eq!(p.digits[0].as_char(), '#');
        for bad in [
            &b"d7:command9:play DTMF7:call-id1:c4:code1:xe"[..],
            b"d7:command9:play DTMF7:call-id1:c4:codei16ee",
            b"d7:command9:play DTMF7:call-id1:ce",
            b"d7:command9:play DTMF4:code1:1e",
        ] {
            assert!(
                decode_owned(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn decodes_start_and_stop_recording() {
        let r = decode(b"d7:command15:start recording7:call-id1:c8:from-tag1:fe").unwrap();
        assert_eq!(
            r.command,
            Command::StartRecording(CallRef {
                call_id: Bytes::from_static(b"c"),
                from_tag: Some(Bytes::from_static(b"f")),
            })
        );
        let r = decode(b"d7:command14:stop recording7:call-id1:ce").unwrap();
        assert_eq!(r.command.name(), "stop recording");
    }

    fn decode_owned(body: &[u8]) -> Result<Request, NgError> {
        Request::decode(&Bytes::copy_from_slice(body), &Limits::default())
    }

    #[test]
    fn splits_the_cookie_at_the_first_space() {
        let d = Bytes::from_static(b"5323_1 d7:command4:pinge");
        let f = Frame::parse(&d).unwrap();
        assert_eq!(&f.cookie[..], b"5323_1");
        assert_eq!(&f.body[..], b"d7:command4:pinge");
    }

    #[test]
    fn rejects_a_datagram_without_cookie() {
        for d in [&b"d7:command4:pinge"[..], b" d7:command4:pinge", b""] {
            assert_eq!(
                Frame::parse(&Bytes::copy_from_slice(d)),
                Err(NgError::MissingCookie)
            );
        }
    }

    #[test]
    fn accepts_a_cookie_of_the_maximum_length() {
        let mut d = vec![b'7'; MAX_COOKIE_LEN];
        d.extend_from_slice(b" de");
        let f = Frame::parse(&Bytes::from(d)).unwrap();
        assert_eq!(f.cookie.len(), MAX_COOKIE_LEN);
        assert_eq!(&f.body[..], b"de");
    }

    #[test]
    fn rejects_an_overlong_cookie() {
        let mut d = vec![b'7'; MAX_COOKIE_LEN + 1];
        d.extend_from_slice(b" de");
        assert_eq!(
            Frame::parse(&Bytes::from(d)),
            Err(NgError::CookieTooLong {
                limit: MAX_COOKIE_LEN
            })
        );
    }

    #[test]
    fn frames_a_reply_with_the_cookie() {
        let reply = Value::from(Dict::new().with("result", "pong"));
        assert_eq!(
            &encode_frame(b"5323_1", &reply)[..],
            b"5323_1 d6:result4:ponge"
        );
    }

    #[test]
    fn decodes_ping() {
        let r = decode(b"d7:command4:pinge").unwrap();
        assert_eq!(r.command, Command::Ping);
        assert!(r.ignored.is_empty());
    }

    #[test]
    fn decodes_an_offer_with_options_and_keeps_unknown_keys() {
        let r = decode(
            b"d7:command5:offer7:call-id3:abc8:from-tag2:ft3:sdp4:v=0\n3:ICE5:force4:DTLS7:passive\
              8:ICE-lite7:forwarde",
        )
        .unwrap();
        let Command::Offer(offer) = r.command else {
            panic!("not an offer: {:?}", r.command)
        };
        assert_eq!(&offer.call_id[..], b"abc");
        assert_eq!(&offer.from_tag[..], b"ft");
        assert_eq!(offer.to_tag, None);
        assert_eq!(&offer.sdp[..], b"v=0\n");
        assert_eq!(offer.options.ice, Some(Ice::Force));
        assert_eq!(offer.options.dtls, Some(Dtls::Passive));
        assert_eq!(
            r.ignored,
            [Ignored::Key {
                key: Bytes::from_static(b"ICE-lite"),
                value: "forward".into()
            }]
        );
    }

    #[test]
    fn accepts_keys_spelled_with_spaces() {
        let r = decode(
            b"d7:command5:offer7:call-id1:c8:from-tag1:f3:sdp1:x18:transport protocol8:RTP/AVPFe",
        )
        .unwrap();
        let Command::Offer(offer) = r.command else {
            panic!()
        };
        assert_eq!(
            offer.options.transport_protocol,
            Some(TransportOverride::Protocol(TransportProtocol::RtpAvpf))
        );
    }

    #[test]
    fn an_answer_needs_a_to_tag() {
        let e = decode(b"d7:command6:answer7:call-id1:c8:from-tag1:f3:sdp1:xe").unwrap_err();
        assert_eq!(e, NgError::MissingKey("to-tag"));
    }

    #[test]
    fn an_offer_needs_call_id_from_tag_and_sdp() {
        let e = decode(b"d7:command5:offer8:from-tag1:f3:sdp1:xe").unwrap_err();
        assert_eq!(e, NgError::MissingKey("call-id"));
        let e = decode(b"d7:command5:offer7:call-id1:c3:sdp1:xe").unwrap_err();
        assert_eq!(e, NgError::MissingKey("from-tag"));
        let e = decode(b"d7:command5:offer7:call-id1:c8:from-tag0:3:sdp1:xe").unwrap_err();
        assert_eq!(e, NgError::MissingKey("from-tag"));
        let e = decode(b"d7:command5:offer7:call-id1:c8:from-tag1:fe").unwrap_err();
        assert_eq!(e, NgError::MissingKey("sdp"));
    }

    #[test]
    fn rejects_a_call_id_that_is_not_a_string() {
        let e = decode(b"d7:command5:query7:call-idi5ee").unwrap_err();
        assert_eq!(
            e,
            NgError::WrongType {
                key: "call-id",
                expected: ValueKind::Bytes
            }
        );
    }

    #[test]
    fn rejects_unknown_and_missing_commands() {
        assert_eq!(
            decode(b"d7:command10:frobnicatee").unwrap_err(),
            NgError::UnsupportedCommand("frobnicate".into())
        );
        assert_eq!(
            decode(b"d3:foo3:bare").unwrap_err(),
            NgError::MissingKey("command")
        );
        assert_eq!(
            decode(b"d7:commandi1ee").unwrap_err(),
            NgError::WrongType {
                key: "command",
                expected: ValueKind::Bytes
            }
        );
        assert_eq!(
            decode(b"le").unwrap_err(),
            NgError::NotADictionary(ValueKind::List)
        );
    }

    #[test]
    fn reports_malformed_bencode_with_its_offset() {
        let e = decode(b"d7:command4:pin").unwrap_err();
        let NgError::Bencode(b) = e else {
            panic!("{e:?}")
        };
        assert_eq!(b.offset, 10);
    }

    #[test]
    fn decodes_delete_with_fatal_and_delay() {
        let r = decode(
            b"d7:command6:delete7:call-id1:c8:from-tag1:f5:flagsl5:fatal3:fooe12:delete delayi0ee",
        )
        .unwrap();
        let Command::Delete(d) = r.command else {
            panic!()
        };
        assert!(d.fatal);
        assert_eq!(d.delete_delay, Some(0));
        assert_eq!(d.to_tag, None);
        assert_eq!(r.ignored, [Ignored::Flag(Bytes::from_static(b"foo"))]);
    }

    #[test]
    fn decodes_query_and_list() {
        let r = decode(b"d7:command5:query7:call-id1:c8:from-tag1:fe").unwrap();
        assert!(matches!(r.command, Command::Query(ref q) if &q.call_id[..] == b"c"));
        let r = decode(b"d7:command4:liste").unwrap();
        assert_eq!(r.command, Command::List(List { limit: 32 }));
        let r = decode(b"d7:command4:list5:limiti5ee").unwrap();
        assert_eq!(r.command, Command::List(List { limit: 5 }));
        assert!(matches!(
            decode(b"d7:command4:list5:limiti-1ee"),
            Err(NgError::InvalidValue { key: "limit", .. })
        ));
    }

    #[test]
    fn kamailio_envelope_keys_are_not_reported() {
        let r = decode(
            b"d8:supportsl10:load limite7:command6:delete7:call-id1:c8:from-tag1:f\
              13:received-froml3:IP49:127.0.0.1e16:sip-message-type11:sip requeste",
        )
        .unwrap();
        assert!(r.ignored.is_empty(), "{:?}", r.ignored);
    }

    #[test]
    fn decodes_flags_into_options() {
        let r = decode(
            b"d7:command5:offer7:call-id1:c8:from-tag1:f3:sdp1:x\
              5:flagsl13:trust-address14:replace-origin14:rtcp-mux-demuxe\
              7:replacel18:session-connectionee",
        )
        .unwrap();
        let Command::Offer(o) = r.command else {
            panic!()
        };
        assert_eq!(o.options.flags, [Flag::TrustAddress]);
        assert_eq!(
            o.options.replace,
            [Replace::Origin, Replace::SessionConnection]
        );
        assert_eq!(o.options.rtcp_mux, [RtcpMux::Demux]);
    }
}
