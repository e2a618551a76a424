//! NG replies: what the media engine returns for each command, and their dictionaries on the wire.
//!
//! Every reply has a `result`: `pong` for ping, `ok` for success (with an optional human-readable
//! `warning`), `error` with an `error-reason`. The `query` (and optionally `delete`) statistics follow
//! rtpengine's layout: `created`, `last signal`, `tags` (one dictionary per SIP tag with its `medias` and
//! their `streams`) and `totals` with `RTP` and `RTCP` counters.

use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;

use super::bencode::{Dict, Value};
use super::media_options::TransportProtocol;

/// The longest `error-reason` or `warning` sent; longer texts are cut at a character boundary.
pub const MAX_REASON_LEN: usize = 512;

/// A reply to one request.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `{"result": "pong"}`.
    Pong,
    /// An offer's or answer's rewritten SDP.
    Sdp(SdpReply),
    /// A delete's outcome.
    Deleted(DeleteReply),
    /// A query's statistics.
    Query(CallStats),
    /// A list's Call-IDs.
    List(Vec<Bytes>),
    /// `{"result": "ok"}` with an optional warning: a command that returns nothing else (`play DTMF`,
    /// `start recording`, `stop recording`).
    Done(Option<String>),
    /// `{"result": "error", "error-reason": …}`.
    Error(String),
}

impl Reply {
    /// An error reply with `reason`'s text.
    pub fn error(reason: impl fmt::Display) -> Reply {
        Reply::Error(reason.to_string())
    }

    /// The reply dictionary.
    pub fn to_dict(&self) -> Dict {
        match self {
            Reply::Pong => Dict::new().with("result", "pong"),
            Reply::Sdp(r) => with_warning(ok().with("sdp", r.sdp.clone()), r.warning.as_deref()),
            Reply::Deleted(r) => {
                let mut d = with_warning(ok(), r.warning.as_deref());
                if let Some(stats) = &r.stats {
                    stats.write_into(&mut d);
                }
                d
            }
            Reply::Query(stats) => {
                let mut d = ok();
                stats.write_into(&mut d);
                d
            }
            Reply::Done(warning) => with_warning(ok(), warning.as_deref()),
            Reply::List(calls) => {
                let calls = calls.iter().cloned().map(Value::Bytes).collect::<Vec<_>>();
                ok().with("calls", calls)
            }
            Reply::Error(reason) => Dict::new()
                .with("result", "error")
                .with("error-reason", shortened(reason)),
        }
    }
}

fn ok() -> Dict {
    Dict::new().with("result", "ok")
}

fn with_warning(d: Dict, warning: Option<&str>) -> Dict {
    match warning {
        Some(w) => d.with("warning", shortened(w)),
        None => d,
    }
}

fn shortened(text: &str) -> String {
    let mut end = text.len().min(MAX_REASON_LEN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The result of an offer or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpReply {
    /// The rewritten SDP for the SIP proxy to put into the message.
    pub sdp: Bytes,
    /// A non-fatal problem to report (`warning`).
    pub warning: Option<String>,
}

impl SdpReply {
    /// A reply with this SDP and no warning.
    pub fn new(sdp: impl Into<Bytes>) -> Self {
        SdpReply {
            sdp: sdp.into(),
            warning: None,
        }
    }
}

/// The result of a delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteReply {
    /// Final statistics of the deleted call, if the engine reports them.
    pub stats: Option<CallStats>,
    /// A non-fatal problem (rtpengine warns rather than fails on an unknown call unless `fatal` was set).
    pub warning: Option<String>,
}

/// Packet counters of a stream, or of a call in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets relayed.
    pub packets: u64,
    /// Bytes relayed.
    pub bytes: u64,
    /// Packets that could not be relayed (decryption failures, wrong source, …).
    pub errors: u64,
}

impl Counters {
    fn to_dict(self) -> Dict {
        Dict::new()
            .with("packets", self.packets)
            .with("bytes", self.bytes)
            .with("errors", self.errors)
    }
}

/// Statistics of a call, as reported by `query`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallStats {
    /// When the call was created, in seconds since the UNIX epoch.
    pub created: u64,
    /// When the last signalling event (offer, answer, …) happened, in seconds since the UNIX epoch.
    pub last_signal: u64,
    /// One entry per SIP tag known in the call.
    pub tags: Vec<TagStats>,
    /// Counters over all streams, RTP and RTCP apart.
    pub totals: Totals,
}

impl CallStats {
    fn write_into(&self, d: &mut Dict) {
        d.insert("created", self.created);
        d.insert("last signal", self.last_signal);
        let tags = self
            .tags
            .iter()
            .map(|t| (t.tag.clone(), Value::Dict(t.to_dict())))
            .collect::<Dict>();
        d.insert("tags", tags);
        d.insert(
            "totals",
            Dict::new()
                .with("RTP", self.totals.rtp.to_dict())
                .with("RTCP", self.totals.rtcp.to_dict()),
        );
    }
}

/// Counters over all streams of a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// RTP packets.
    pub rtp: Counters,
    /// RTCP packets.
    pub rtcp: Counters,
}

/// One party (SIP tag) of a call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagStats {
    /// The SIP tag (empty for a side that has not signalled its tag yet).
    pub tag: Bytes,
    /// The label given in the offer or answer.
    pub label: Option<Bytes>,
    /// When this tag was first seen, in seconds since the UNIX epoch.
    pub created: u64,
    /// The tag of the other side of the dialogue.
    pub in_dialogue_with: Option<Bytes>,
    /// One entry per SDP media section.
    pub medias: Vec<MediaStats>,
}

impl TagStats {
    fn to_dict(&self) -> Dict {
        let mut d = Dict::new()
            .with("tag", self.tag.clone())
            .with("created", self.created);
        if let Some(label) = &self.label {
            d.insert("label", label.clone());
        }
        if let Some(peer) = &self.in_dialogue_with {
            d.insert("in dialogue with", peer.clone());
        }
        let medias = self
            .medias
            .iter()
            .map(|m| Value::Dict(m.to_dict()))
            .collect::<Vec<_>>();
        d.with("medias", medias)
    }
}

/// A state flag of a media section in `query` output.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaFlag {
    /// `initialized`: both sides have been signalled.
    Initialized,
    /// `rtcp-mux`: RTP and RTCP share a port.
    RtcpMux,
    /// `DTLS-SRTP`: keyed by DTLS.
    DtlsSrtp,
    /// `SDES`: keyed by SDES.
    Sdes,
    /// `passthrough`: relayed without decryption.
    Passthrough,
    /// `ICE`: ICE is in use.
    Ice,
}

impl MediaFlag {
    /// The rtpengine spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaFlag::Initialized => "initialized",
            MediaFlag::RtcpMux => "rtcp-mux",
            MediaFlag::DtlsSrtp => "DTLS-SRTP",
            MediaFlag::Sdes => "SDES",
            MediaFlag::Passthrough => "passthrough",
            MediaFlag::Ice => "ICE",
        }
    }
}

/// One SDP media section of a party.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// Position of the section in the SDP, from 1.
    pub index: u32,
    /// The media type (`audio`, `video`).
    pub media_type: Bytes,
    /// The section's profile, if recognised.
    pub protocol: Option<TransportProtocol>,
    /// State flags.
    pub flags: Vec<MediaFlag>,
    /// The packet streams of the section (usually RTP and RTCP).
    pub streams: Vec<StreamStats>,
}

impl MediaStats {
    fn to_dict(&self) -> Dict {
        let mut d = Dict::new()
            .with("index", self.index)
            .with("type", self.media_type.clone());
        if let Some(p) = self.protocol {
            d.insert("protocol", p.as_str());
        }
        let flags = self
            .flags
            .iter()
            .map(|f| Value::from(f.as_str()))
            .collect::<Vec<_>>();
        let streams = self
            .streams
            .iter()
            .map(|s| Value::Dict(s.to_dict()))
            .collect::<Vec<_>>();
        d.with("flags", flags).with("streams", streams)
    }
}

/// Whether a stream carries RTP or RTCP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StreamKind {
    /// RTP (or RTP and RTCP multiplexed).
    #[default]
    Rtp,
    /// RTCP on its own port.
    Rtcp,
}

/// One packet stream: a local port and the peer it relays to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// RTP or RTCP.
    pub kind: StreamKind,
    /// The relay's local port (absent for an inactive stream).
    pub local_port: Option<u16>,
    /// Where packets are sent (the learned peer address).
    pub endpoint: Option<SocketAddr>,
    /// The address the peer advertised in its SDP.
    pub advertised_endpoint: Option<SocketAddr>,
    /// The SRTP crypto suite in effect (`AES_CM_128_HMAC_SHA1_80`).
    pub crypto_suite: Option<Bytes>,
    /// When the last packet arrived, in seconds since the UNIX epoch (0: never).
    pub last_packet: u64,
    /// Counters of packets received on this stream.
    pub stats: Counters,
    /// `jitter`: interarrival jitter of the peer's RTP, in milliseconds.
    pub jitter_ms: Option<u64>,
    /// `packets lost`: RTP packets from the peer lost on the way (RFC 3550 cumulative loss).
    pub packets_lost: Option<u64>,
    /// `round-trip time`: to the peer, from RTCP (LSR/DLSR), in microseconds (rtpengine's unit).
    pub rtt_us: Option<u64>,
}

impl StreamStats {
    fn to_dict(&self) -> Dict {
        let mut d = Dict::new();
        if let Some(port) = self.local_port {
            d.insert("local port", port);
        }
        if let Some(endpoint) = self.endpoint {
            d.insert("endpoint", endpoint_dict(endpoint));
        }
        if let Some(endpoint) = self.advertised_endpoint {
            d.insert("advertised endpoint", endpoint_dict(endpoint));
        }
        if let Some(suite) = &self.crypto_suite {
            d.insert("crypto suite", suite.clone());
        }
        if let Some(jitter) = self.jitter_ms {
            d.insert("jitter", jitter);
        }
        if let Some(lost) = self.packets_lost {
            d.insert("packets lost", lost);
        }
        if let Some(rtt) = self.rtt_us {
            d.insert("round-trip time", rtt);
        }
        let kind = match self.kind {
            StreamKind::Rtp => "RTP",
            StreamKind::Rtcp => "RTCP",
        };
        d.with("last packet", self.last_packet)
            .with("flags", vec![Value::from(kind)])
            .with("stats", self.stats.to_dict())
    }
}

fn endpoint_dict(addr: SocketAddr) -> Dict {
    let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
    Dict::new()
        .with("family", family)
        .with("address", addr.ip().to_string())
        .with("port", addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(reply: &Reply) -> Bytes {
        Value::from(reply.to_dict()).to_bytes()
    }

    #[test]
    fn encodes_pong_and_errors_like_rtpengine() {
        assert_eq!(&wire(&Reply::Pong)[..], b"d6:result4:ponge");
        assert_eq!(
            &wire(&Reply::error("Unknown call-id"))[..],
            b"d6:result5:error12:error-reason15:Unknown call-ide"
        );
    }

    #[test]
    fn encodes_an_sdp_reply_with_its_warning() {
        let reply = Reply::Sdp(SdpReply {
            sdp: Bytes::from_static(b"v=0\r\n"),
            warning: Some("codec stripped".into()),
        });
        assert_eq!(
            &wire(&reply)[..],
            &b"d6:result2:ok3:sdp5:v=0\r\n7:warning14:codec strippede"[..]
        );
    }

    #[test]
    fn cuts_a_long_reason_at_a_character_boundary() {
        let reason = "é".repeat(MAX_REASON_LEN);
        let Reply::Error(text) = Reply::error(&reason) else {
            panic!()
        };
        let d = Reply::Error(text).to_dict();
        let sent = d.get(b"error-reason").and_then(Value::as_str).unwrap();
        assert!(sent.len() <= MAX_REASON_LEN && sent.len() >= MAX_REASON_LEN - 1);
    }

    #[test]
    fn encodes_list_as_calls() {
        let reply = Reply::List(vec![Bytes::from_static(b"a@b"), Bytes::from_static(b"c@d")]);
        assert_eq!(&wire(&reply)[..], b"d6:result2:ok5:callsl3:a@b3:c@dee");
    }

    #[test]
    fn encodes_query_statistics_in_rtpengine_layout() {
        let stats = CallStats {
            created: 1_700_000_000,
            last_signal: 1_700_000_005,
            tags: vec![TagStats {
                tag: Bytes::from_static(b"ft"),
                label: Some(Bytes::from_static(b"caller")),
                created: 1_700_000_000,
                in_dialogue_with: Some(Bytes::from_static(b"tt")),
                medias: vec![MediaStats {
                    index: 1,
                    media_type: Bytes::from_static(b"audio"),
                    protocol: Some(TransportProtocol::UdpTlsRtpSavpf),
                    flags: vec![MediaFlag::Initialized, MediaFlag::RtcpMux],
                    streams: vec![StreamStats {
                        local_port: Some(30000),
                        endpoint: Some("192.0.2.1:4000".parse().unwrap()),
                        last_packet: 1_700_000_010,
                        stats: Counters {
                            packets: 10,
                            bytes: 1720,
                            errors: 0,
                        },
                        ..StreamStats::default()
                    }],
                }],
            }],
            totals: Totals {
                rtp: Counters {
                    packets: 10,
                    bytes: 1720,
                    errors: 0,
                },
                rtcp: Counters::default(),
            },
        };
        let d = Reply::Query(stats).to_dict();
        assert_eq!(d.get(b"result").and_then(Value::as_str), Some("ok"));
        assert_eq!(
            d.get(b"last signal").and_then(Value::as_integer),
            Some(1_700_000_005)
        );
        let tag = d
            .get(b"tags")
            .and_then(Value::as_dict)
            .and_then(|t| t.get(b"ft"))
            .unwrap();
        let media = &tag
            .as_dict()
            .unwrap()
            .get(b"medias")
            .unwrap()
            .as_list()
            .unwrap()[0];
        let media = media.as_dict().unwrap();
        assert_eq!(
            media.get(b"protocol").and_then(Value::as_str),
            Some("UDP/TLS/RTP/SAVPF")
        );
        let stream = &media.get(b"streams").unwrap().as_list().unwrap()[0];
        let endpoint = stream
            .as_dict()
            .unwrap()
            .get(b"endpoint")
            .unwrap()
            .to_string();
        assert_eq!(
            endpoint,
            r#"{"family": "IPv4", "address": "192.0.2.1", "port": 4000}"#
        );
        let rtp = d
            .get(b"totals")
            .and_then(Value::as_dict)
            .and_then(|t| t.get(b"RTP"))
            .unwrap();
        assert_eq!(
            rtp.to_string(),
            r#"{"packets": 10, "bytes": 1720, "errors": 0}"#
        );
    }

    #[test]
    fn saturates_counters_above_i64() {
        let d = Counters {
            packets: u64::MAX,
            ..Counters::default()
        }
        .to_dict();
        assert_eq!(
            d.get(b"packets").and_then(Value::as_integer),
            Some(i64::MAX)
        );
    }
}
