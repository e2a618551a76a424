//! The options of an `offer` or `answer`: how the relay should rewrite the SDP and treat the media.
//!
//! Kamailio's `rtpengine` module turns a script's flag string (`ICE=remove DTLS=off RTP/AVP rtcp-mux-demux
//! replace-origin replace-session-connection trust-address`) into dictionary entries: `key=value` words
//! become string entries (`"ICE": "remove"`), `replace-…`, `rtcp-mux-…`, `SDES-…` and `codec-…` words become
//! lists (`"replace": ["origin"]`, `"codec": {"strip": [...]}`), transport words become
//! `"transport-protocol"`, and any other bare word goes into the `"flags"` list. rtpengine also accepts the
//! prefixed words inside `"flags"` (`"flags": ["SDES-off", "codec-strip-PCMA"]`), and so does this decoder.
//! Anything not understood is kept as an [`Ignored`] entry for the caller to log.

use std::fmt;
use std::net::IpAddr;

use bytes::Bytes;

use super::bencode::{Value, write_quoted};
use super::word;

/// An entry of a request this decoder did not act on. The request still succeeds; the caller should log it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// A dictionary key this decoder does not know (or does not use for this command), with its value.
    Key {
        /// The key as sent.
        key: Bytes,
        /// Its value as sent.
        value: Value,
    },
    /// A word of the `flags` list this decoder does not know.
    Flag(Bytes),
    /// A known key whose value is not one this decoder understands (`"ICE": "sometimes"`), or has the wrong
    /// type. For list-valued keys, one entry per item not understood.
    Value {
        /// The key the value belongs to.
        key: Bytes,
        /// The value (or list item) as sent.
        value: Value,
    },
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ignored::Key { key, value } => {
                f.write_str("unknown key ")?;
                write_quoted(f, key)?;
                write!(f, " = {value}")
            }
            Ignored::Flag(flag) => {
                f.write_str("unknown flag ")?;
                write_quoted(f, flag)
            }
            Ignored::Value { key, value } => {
                write!(f, "unsupported value {value} for ")?;
                write_quoted(f, key)
            }
        }
    }
}

/// What to do with ICE attributes (`ICE=…`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ice {
    /// `remove`: strip all ICE attributes (towards a plain SIP endpoint).
    Remove,
    /// `force`: strip the peer's candidates and offer the relay as the only candidate (towards WebRTC).
    Force,
    /// `default`: behave like `force` if the incoming SDP had ICE, otherwise add none.
    Default,
    /// `force-relay`: keep the peer's candidates except `relay` ones and add the relay as a `relay`
    /// candidate.
    ForceRelay,
    /// `optional`: add the relay as a low-priority candidate.
    Optional,
}

impl Ice {
    const WORDS: [(&'static str, Ice); 5] = [
        ("remove", Ice::Remove),
        ("force", Ice::Force),
        ("default", Ice::Default),
        ("force-relay", Ice::ForceRelay),
        ("optional", Ice::Optional),
    ];

    /// The NG spelling.
    pub fn as_str(self) -> &'static str {
        lookup_name(&Self::WORDS, self)
    }
}

/// DTLS-SRTP behaviour (`DTLS=…`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtls {
    /// `off` (also `no`, `disable`): neither offer nor accept DTLS-SRTP.
    Off,
    /// `passive`: prefer the passive (server) role in the handshake.
    Passive,
    /// `active`: prefer the active (client) role.
    Active,
}

impl Dtls {
    const WORDS: [(&'static str, Dtls); 5] = [
        ("off", Dtls::Off),
        ("no", Dtls::Off),
        ("disable", Dtls::Off),
        ("passive", Dtls::Passive),
        ("active", Dtls::Active),
    ];

    /// The NG spelling.
    pub fn as_str(self) -> &'static str {
        lookup_name(&Self::WORDS, self)
    }
}

/// An RTP profile as written on an SDP `m=` line.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportProtocol {
    /// `RTP/AVP`: plain RTP.
    RtpAvp,
    /// `RTP/AVPF`: plain RTP with RTCP feedback.
    RtpAvpf,
    /// `RTP/SAVP`: SRTP (keys by SDES).
    RtpSavp,
    /// `RTP/SAVPF`: SRTP with RTCP feedback.
    RtpSavpf,
    /// `UDP/TLS/RTP/SAVP`: DTLS-SRTP.
    UdpTlsRtpSavp,
    /// `UDP/TLS/RTP/SAVPF`: DTLS-SRTP with RTCP feedback (WebRTC).
    UdpTlsRtpSavpf,
}

impl TransportProtocol {
    const WORDS: [(&'static str, TransportProtocol); 6] = [
        ("RTP/AVP", TransportProtocol::RtpAvp),
        ("RTP/AVPF", TransportProtocol::RtpAvpf),
        ("RTP/SAVP", TransportProtocol::RtpSavp),
        ("RTP/SAVPF", TransportProtocol::RtpSavpf),
        ("UDP/TLS/RTP/SAVP", TransportProtocol::UdpTlsRtpSavp),
        ("UDP/TLS/RTP/SAVPF", TransportProtocol::UdpTlsRtpSavpf),
    ];

    /// The SDP spelling.
    pub fn as_str(self) -> &'static str {
        lookup_name(&Self::WORDS, self)
    }

    /// Parse the SDP spelling (ASCII case ignored).
    pub fn parse(input: &[u8]) -> Option<Self> {
        lookup(&Self::WORDS, input)
    }
}

/// The `transport-protocol` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportOverride {
    /// Rewrite the SDP to this profile and translate media to and from it.
    Protocol(TransportProtocol),
    /// `accept` (answers only): go along with an answer whose profile differs from the offer's.
    Accept,
}

/// One `rtcp-mux` option (RFC 5761 handling).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpMux {
    /// `offer`: offer rtcp-mux even if the offerer did not.
    Offer,
    /// `require`: offer rtcp-mux without a separate RTCP port, as WebRTC expects.
    Require,
    /// `demux`: accept rtcp-mux from the offerer but do not offer it onwards.
    Demux,
    /// `accept`: accept rtcp-mux and offer it onwards if it was offered.
    Accept,
    /// `reject`: reject rtcp-mux if offered.
    Reject,
}

impl RtcpMux {
    const WORDS: [(&'static str, RtcpMux); 5] = [
        ("offer", RtcpMux::Offer),
        ("require", RtcpMux::Require),
        ("demux", RtcpMux::Demux),
        ("accept", RtcpMux::Accept),
        ("reject", RtcpMux::Reject),
    ];

    /// The NG spelling.
    pub fn as_str(self) -> &'static str {
        lookup_name(&Self::WORDS, self)
    }
}

/// One part of the SDP to rewrite with the relay's own values (`replace-…`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// `origin`: the address in the `o=` line.
    Origin,
    /// `session-connection`: the session-level `c=` line.
    SessionConnection,
    /// `session-name`: the `s=` line.
    SessionName,
    /// `SDP-version`: keep the `o=` version consistent, increasing when the SDP changes.
    SdpVersion,
    /// `force-increment-sdp-ver`: increase the `o=` version even when the SDP is unchanged.
    ForceIncrementSdpVersion,
    /// `username`: keep the `o=` username the same towards each endpoint.
    Username,
    /// `zero-address`: replace a zero (hold) address with a real one.
    ZeroAddress,
}

impl Replace {
    const WORDS: [(&'static str, Replace); 7] = [
        ("origin", Replace::Origin),
        ("session-connection", Replace::SessionConnection),
        ("session-name", Replace::SessionName),
        ("SDP-version", Replace::SdpVersion),
        ("force-increment-sdp-ver", Replace::ForceIncrementSdpVersion),
        ("username", Replace::Username),
        ("zero-address", Replace::ZeroAddress),
    ];

    /// The NG spelling.
    pub fn as_str(self) -> &'static str {
        lookup_name(&Self::WORDS, self)
    }
}

/// One `SDES` option (SDES-SRTP keying, RFC 4568).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sdes {
    /// `off` (also `no`, `disable`): do not offer SDES.
    Off,
    /// `no-SUITE`: leave this crypto suite out of the offer.
    NoSuite(Bytes),
    /// `only-SUITE`: offer only the suites named this way.
    OnlySuite(Bytes),
    /// `nonew`: accept offered suites but add none.
    NoNew,
    /// `pad`: keep base64 padding in `a=crypto` keys.
    Pad,
    /// `lifetime`: add the `2^31` key lifetime.
    Lifetime,
    /// `static`: keep the negotiated suite on a re-INVITE.
    Static,
    /// `unencrypted_srtp`: set the RFC 4568 session parameter.
    UnencryptedSrtp,
    /// `unencrypted_srtcp`: set the RFC 4568 session parameter.
    UnencryptedSrtcp,
    /// `unauthenticated_srtp`: set the RFC 4568 session parameter.
    UnauthenticatedSrtp,
    /// `encrypted_srtp`: clear `unencrypted_srtp`.
    EncryptedSrtp,
    /// `encrypted_srtcp`: clear `unencrypted_srtcp`.
    EncryptedSrtcp,
    /// `authenticated_srtp`: clear `unauthenticated_srtp`.
    AuthenticatedSrtp,
}

impl Sdes {
    const WORDS: [(&'static str, Sdes); 13] = [
        ("off", Sdes::Off),
        ("no", Sdes::Off),
        ("disable", Sdes::Off),
        ("nonew", Sdes::NoNew),
        ("pad", Sdes::Pad),
        ("lifetime", Sdes::Lifetime),
        ("static", Sdes::Static),
        ("unencrypted_srtp", Sdes::UnencryptedSrtp),
        ("unencrypted_srtcp", Sdes::UnencryptedSrtcp),
        ("unauthenticated_srtp", Sdes::UnauthenticatedSrtp),
        ("encrypted_srtp", Sdes::EncryptedSrtp),
        ("encrypted_srtcp", Sdes::EncryptedSrtcp),
        ("authenticated_srtp", Sdes::AuthenticatedSrtp),
    ];

    fn parse(input: &Bytes) -> Option<Sdes> {
        if let Some(suite) = word::strip_prefix(input, "no-") {
            return Some(Sdes::NoSuite(suite));
        }
        if let Some(suite) = word::strip_prefix(input, "only-") {
            return Some(Sdes::OnlySuite(suite));
        }
        Self::WORDS
            .iter()
            .find(|(w, _)| word::eq(input, w))
            .map(|(_, s)| s.clone())
    }
}

/// A relay behaviour switched on by a word in the `flags` list.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `trust-address`: use the addresses in the SDP (rtpengine's default).
    TrustAddress,
    /// `SIP-source-address`: ignore SDP addresses; use `received-from` until media arrives.
    SipSourceAddress,
    /// `symmetric`: the endpoint sends from where it receives (the default).
    Symmetric,
    /// `asymmetric`: the endpoint does not use symmetric RTP; do not learn its address.
    Asymmetric,
    /// `unidirectional`: forward one-way media too.
    Unidirectional,
    /// `strict-source`: after learning, drop packets from any other source.
    StrictSource,
    /// `media-handover`: after learning, re-learn the source when it changes.
    MediaHandover,
    /// `port-latching`: keep local ports when the remote port changes.
    PortLatching,
    /// `no-port-latching`: let a remote port change change the local port.
    NoPortLatching,
    /// `reset`: forget what was learned about the endpoints (ICE, SRTP support).
    Reset,
    /// `reject-ICE`: reject ICE offered in this offer.
    RejectIce,
    /// `trickle-ICE`: advertise trickle ICE support.
    TrickleIce,
    /// `generate-mid`: add `a=mid` when missing.
    GenerateMid,
    /// `original-sendrecv`: keep the SDP's direction attributes.
    OriginalSendrecv,
    /// `single-codec`: keep only the first codec in an answer.
    SingleCodec,
    /// `reuse-codecs` (also `no-codec-renegotiation`): keep the codecs chosen earlier in the call.
    ReuseCodecs,
    /// `no-rtcp-attribute`: omit `a=rtcp`.
    NoRtcpAttribute,
    /// `full-rtcp-attribute`: write `a=rtcp` with the address.
    FullRtcpAttribute,
    /// `loop-protect`: mark the SDP so the relay does not process its own output again.
    LoopProtect,
    /// `inject-DTMF`: make the streams available for DTMF injection.
    InjectDtmf,
    /// `pierce-NAT`: send empty packets to open the peer's NAT binding.
    PierceNat,
    /// `strip-extmap`: remove `a=extmap` attributes.
    StripExtmap,
}

impl Flag {
    const WORDS: [(&'static str, Flag); 23] = [
        ("trust-address", Flag::TrustAddress),
        ("SIP-source-address", Flag::SipSourceAddress),
        ("symmetric", Flag::Symmetric),
        ("asymmetric", Flag::Asymmetric),
        ("unidirectional", Flag::Unidirectional),
        ("strict-source", Flag::StrictSource),
        ("media-handover", Flag::MediaHandover),
        ("port-latching", Flag::PortLatching),
        ("no-port-latching", Flag::NoPortLatching),
        ("reset", Flag::Reset),
        ("reject-ICE", Flag::RejectIce),
        ("trickle-ICE", Flag::TrickleIce),
        ("generate-mid", Flag::GenerateMid),
        ("original-sendrecv", Flag::OriginalSendrecv),
        ("single-codec", Flag::SingleCodec),
        ("reuse-codecs", Flag::ReuseCodecs),
        ("no-codec-renegotiation", Flag::ReuseCodecs),
        ("no-rtcp-attribute", Flag::NoRtcpAttribute),
        ("full-rtcp-attribute", Flag::FullRtcpAttribute),
        ("loop-protect", Flag::LoopProtect),
        ("inject-DTMF", Flag::InjectDtmf),
        ("pierce-NAT", Flag::PierceNat),
        ("strip-extmap", Flag::StripExtmap),
    ];

    /// The NG spelling.
    pub fn as_str(self) -> &'static str {
        lookup_name(&Self::WORDS, self)
    }
}

/// An address family (`IP4`/`IP6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFamily {
    /// `IP4`.
    Ip4,
    /// `IP6`.
    Ip6,
}

impl AddressFamily {
    const WORDS: [(&'static str, AddressFamily); 2] =
        [("IP4", AddressFamily::Ip4), ("IP6", AddressFamily::Ip6)];

    /// The NG spelling.
    pub fn as_str(self) -> &'static str {
        lookup_name(&Self::WORDS, self)
    }
}

/// Codec manipulations (`codec` dictionary, or `codec-strip-…` style flags). Each entry is a codec name as
/// the operator wrote it (`PCMA`, `opus/48000/2`, `all`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodecOptions {
    /// `strip`: remove these codecs from the SDP.
    pub strip: Vec<Bytes>,
    /// `mask`: hide these codecs from the far side but accept them for transcoding.
    pub mask: Vec<Bytes>,
    /// `offer`: keep only these (and reorder to this order).
    pub offer: Vec<Bytes>,
    /// `transcode`: add these, transcoding as needed.
    pub transcode: Vec<Bytes>,
    /// `except`: keep these when stripping or masking `all`.
    pub except: Vec<Bytes>,
    /// `accept`: accept these towards the offerer even if the far side rejects them.
    pub accept: Vec<Bytes>,
    /// `consume`: like `mask`, and engage transcoding.
    pub consume: Vec<Bytes>,
    /// `set`: codec parameters (bitrate) for implicitly accepted codecs.
    pub set: Vec<Bytes>,
}

impl CodecOptions {
    /// Whether no codec manipulation was asked for.
    pub fn is_empty(&self) -> bool {
        self.strip.is_empty()
            && self.mask.is_empty()
            && self.offer.is_empty()
            && self.transcode.is_empty()
            && self.except.is_empty()
            && self.accept.is_empty()
            && self.consume.is_empty()
            && self.set.is_empty()
    }

    /// The list for a `codec` dictionary key, if the key is one of those above.
    fn list_mut(&mut self, key: &[u8]) -> Option<&mut Vec<Bytes>> {
        let list = match () {
            () if word::eq(key, "strip") => &mut self.strip,
            () if word::eq(key, "mask") => &mut self.mask,
            () if word::eq(key, "offer") => &mut self.offer,
            () if word::eq(key, "transcode") => &mut self.transcode,
            () if word::eq(key, "except") => &mut self.except,
            () if word::eq(key, "accept") => &mut self.accept,
            () if word::eq(key, "consume") => &mut self.consume,
            () if word::eq(key, "set") => &mut self.set,
            () => return None,
        };
        Some(list)
    }

    /// Apply a `codec-OP-NAME` flag word (or `transcode-NAME`). Returns false if it is not one.
    fn apply_flag(&mut self, flag: &Bytes) -> bool {
        const OPS: [&str; 8] = [
            "strip",
            "mask",
            "offer",
            "transcode",
            "except",
            "accept",
            "consume",
            "set",
        ];
        if let Some(name) = word::strip_prefix(flag, "transcode-") {
            self.transcode.push(name);
            return true;
        }
        let Some(rest) = word::strip_prefix(flag, "codec-") else {
            return false;
        };
        for op in OPS {
            let Some(name) = word::strip_prefix(&rest, op)
                .filter(|n| matches!(n.first(), Some(b'-' | b'_' | b' ')))
            else {
                continue;
            };
            if let Some(list) = self.list_mut(op.as_bytes()) {
                list.push(name.slice(1..));
                return true;
            }
        }
        false
    }
}

/// Everything an `offer` or `answer` may ask of the relay besides the SDP and the call identifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaOptions {
    /// `ICE`.
    pub ice: Option<Ice>,
    /// `DTLS`.
    pub dtls: Option<Dtls>,
    /// `SDES` options, in order.
    pub sdes: Vec<Sdes>,
    /// `transport-protocol`.
    pub transport_protocol: Option<TransportOverride>,
    /// `rtcp-mux` options, in order, without repeats.
    pub rtcp_mux: Vec<RtcpMux>,
    /// `replace` options, in order, without repeats.
    pub replace: Vec<Replace>,
    /// `direction`: the logical interfaces of the message's sender and of its receiver (normally two).
    pub direction: Vec<Bytes>,
    /// `codec` manipulations.
    pub codec: CodecOptions,
    /// `received-from`: the SIP source address of the message.
    pub received_from: Option<IpAddr>,
    /// `media-address`: use this instead of the SDP's addresses.
    pub media_address: Option<IpAddr>,
    /// `address-family`: the family the SDP's receiver wants.
    pub address_family: Option<AddressFamily>,
    /// `record-call` (or the `record-call` flag): record the call, or explicitly not.
    pub record_call: Option<bool>,
    /// `label` (or `from-label`): a free-form name for this party, reported in statistics.
    pub label: Option<Bytes>,
    /// `ptime`: the packetisation time in milliseconds towards the receiver.
    pub ptime: Option<u32>,
    /// Behaviour flags from the `flags` list, in order, without repeats.
    pub flags: Vec<Flag>,
    /// `supports` listed `load limit`: over capacity, answer `"result": "load limit"` instead of an error.
    pub supports_load_limit: bool,
}

impl MediaOptions {
    /// Whether a flag was given.
    pub fn has_flag(&self, flag: Flag) -> bool {
        self.flags.contains(&flag)
    }

    /// Whether an `rtcp-mux` option was given.
    pub fn has_rtcp_mux(&self, option: RtcpMux) -> bool {
        self.rtcp_mux.contains(&option)
    }

    /// Whether a `replace` option was given.
    pub fn has_replace(&self, option: Replace) -> bool {
        self.replace.contains(&option)
    }

    /// Apply one dictionary entry of an offer or answer. Returns false if `key` is not an option key (the
    /// caller reports it); values not understood go to `ignored`.
    pub(crate) fn apply(&mut self, key: &Bytes, value: &Value, ignored: &mut Vec<Ignored>) -> bool {
        let mut bad = |value: &Value| {
            ignored.push(Ignored::Value {
                key: key.clone(),
                value: value.clone(),
            })
        };
        match () {
            () if word::eq(key, "flags") => self.apply_flags(value, ignored),
            () if word::eq(key, "replace") => for_each_word(value, &mut bad, |w| {
                push_unique(&mut self.replace, lookup(&Replace::WORDS, w)?);
                Some(())
            }),
            () if word::eq(key, "rtcp-mux") => for_each_word(value, &mut bad, |w| {
                push_unique(&mut self.rtcp_mux, lookup(&RtcpMux::WORDS, w)?);
                Some(())
            }),
            () if word::eq(key, "SDES") => for_each_word(value, &mut bad, |w| {
                self.sdes.push(Sdes::parse(w)?);
                Some(())
            }),
            () if word::eq(key, "direction") => for_each_word(value, &mut bad, |w| {
                self.direction.push(w.clone());
                Some(())
            }),
            () if word::eq(key, "codec") => self.apply_codec(key, value, ignored),
            () if word::eq(key, "ICE") => {
                set_word(&mut self.ice, value, bad, |w| lookup(&Ice::WORDS, w))
            }
            () if word::eq(key, "DTLS") => {
                set_word(&mut self.dtls, value, bad, |w| lookup(&Dtls::WORDS, w))
            }
            () if word::eq(key, "transport-protocol") => {
                set_word(&mut self.transport_protocol, value, bad, transport_override)
            }
            () if word::eq(key, "address-family") => {
                set_word(&mut self.address_family, value, bad, |w| {
                    lookup(&AddressFamily::WORDS, w)
                })
            }
            () if word::eq(key, "media-address") => {
                set_word(&mut self.media_address, value, bad, parse_ip)
            }
            () if word::eq(key, "record-call") => {
                set_word(&mut self.record_call, value, bad, yes_no)
            }
            () if word::eq(key, "label") || word::eq(key, "from-label") => {
                set_word(&mut self.label, value, bad, |w| Some(w.clone()))
            }
            () if word::eq(key, "received-from") => self.apply_received_from(value, bad),
            () if word::eq(key, "ptime") => match number(value) {
                Some(ms) => self.ptime = Some(ms),
                None => bad(value),
            },
            () if word::eq(key, "supports") => {
                for item in items(value) {
                    if item.as_bytes().is_some_and(|w| word::eq(w, "load limit")) {
                        self.supports_load_limit = true;
                    }
                }
            }
            () => return false,
        }
        true
    }

    fn apply_flags(&mut self, value: &Value, ignored: &mut Vec<Ignored>) {
        for item in items(value) {
            match item.as_bytes() {
                Some(flag) => {
                    if !self.apply_flag(flag) {
                        ignored.push(Ignored::Flag(flag.clone()));
                    }
                }
                None => ignored.push(Ignored::Value {
                    key: Bytes::from_static(b"flags"),
                    value: item.clone(),
                }),
            }
        }
    }

    /// Apply one word of the `flags` list. Returns false if the word is not understood.
    fn apply_flag(&mut self, flag: &Bytes) -> bool {
        if let Some(Some(r)) =
            word::strip_prefix(flag, "replace-").map(|w| lookup(&Replace::WORDS, &w))
        {
            push_unique(&mut self.replace, r);
            return true;
        }
        if let Some(Some(m)) =
            word::strip_prefix(flag, "rtcp-mux-").map(|w| lookup(&RtcpMux::WORDS, &w))
        {
            push_unique(&mut self.rtcp_mux, m);
            return true;
        }
        if let Some(Some(s)) = word::strip_prefix(flag, "SDES-").map(|w| Sdes::parse(&w)) {
            self.sdes.push(s);
            return true;
        }
        if self.codec.apply_flag(flag) {
            return true;
        }
        if word::eq(flag, "record-call") {
            self.record_call = Some(true);
            return true;
        }
        match lookup(&Flag::WORDS, flag) {
            Some(f) => {
                push_unique(&mut self.flags, f);
                true
            }
            None => false,
        }
    }

    fn apply_codec(&mut self, key: &Bytes, value: &Value, ignored: &mut Vec<Ignored>) {
        let Some(dict) = value.as_dict() else {
            ignored.push(Ignored::Value {
                key: key.clone(),
                value: value.clone(),
            });
            return;
        };
        for (op, names) in dict.iter() {
            let Some(list) = self.codec.list_mut(op) else {
                ignored.push(Ignored::Key {
                    key: Bytes::from([&b"codec-"[..], op].concat()),
                    value: names.clone(),
                });
                continue;
            };
            for name in items(names) {
                match name.as_bytes() {
                    Some(n) => list.push(n.clone()),
                    None => ignored.push(Ignored::Value {
                        key: key.clone(),
                        value: name.clone(),
                    }),
                }
            }
        }
    }

    /// `received-from` is `[family, address]`; the address alone (as a string) is accepted too.
    fn apply_received_from(&mut self, value: &Value, mut bad: impl FnMut(&Value)) {
        let address = match value {
            Value::List(l) if l.len() == 2 => l.get(1),
            Value::Bytes(_) => Some(value),
            _ => None,
        };
        match address.and_then(Value::as_bytes).and_then(parse_ip) {
            Some(ip) => self.received_from = Some(ip),
            None => bad(value),
        }
    }
}

/// The items of a list-valued option; a single string counts as a one-item list.
fn items(value: &Value) -> &[Value] {
    match value {
        Value::List(l) => l,
        other => std::slice::from_ref(other),
    }
}

/// Run `f` on each string item of a list-valued option; items that are not strings, or that `f` does not
/// understand (returns None), go to `bad`.
fn for_each_word(
    value: &Value,
    bad: &mut impl FnMut(&Value),
    mut f: impl FnMut(&Bytes) -> Option<()>,
) {
    for item in items(value) {
        if item.as_bytes().and_then(&mut f).is_none() {
            bad(item);
        }
    }
}

/// Set a single-valued option from a string value; a later entry overrides an earlier one, as in rtpengine.
fn set_word<T>(
    slot: &mut Option<T>,
    value: &Value,
    mut bad: impl FnMut(&Value),
    parse: impl FnOnce(&Bytes) -> Option<T>,
) {
    match value.as_bytes().and_then(parse) {
        Some(v) => *slot = Some(v),
        None => bad(value),
    }
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

fn lookup<T: Clone>(words: &[(&str, T)], input: &[u8]) -> Option<T> {
    words
        .iter()
        .find(|(w, _)| word::eq(input, w))
        .map(|(_, v)| v.clone())
}

fn lookup_name<T: PartialEq>(words: &[(&'static str, T)], value: T) -> &'static str {
    words
        .iter()
        .find(|(_, v)| *v == value)
        .map_or("", |(w, _)| w)
}

fn transport_override(input: &Bytes) -> Option<TransportOverride> {
    if word::eq(input, "accept") {
        return Some(TransportOverride::Accept);
    }
    TransportProtocol::parse(input).map(TransportOverride::Protocol)
}

fn parse_ip(input: &Bytes) -> Option<IpAddr> {
    std::str::from_utf8(input).ok()?.parse().ok()
}

fn yes_no(input: &Bytes) -> Option<bool> {
    if word::eq(input, "yes") || word::eq(input, "on") {
        Some(true)
    } else if word::eq(input, "no") || word::eq(input, "off") {
        Some(false)
    } else {
        None
    }
}

/// A non-negative number sent as an integer or as a digit string (Kamailio sends `key=value` words as
/// strings).
pub(crate) fn number(value: &Value) -> Option<u32> {
    match value {
        Value::Integer(i) => u32::try_from(*i).ok(),
        Value::Bytes(b) => word::parse_u32(b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    fn list(words: &[&'static str]) -> Value {
        Value::List(words.iter().map(|w| Value::from(*w)).collect())
    }

    fn apply(options: &mut MediaOptions, key: &'static str, value: Value) -> Vec<Ignored> {
        let mut ignored = Vec::new();
        assert!(
            options.apply(&b(key), &value, &mut ignored),
            "{key} not an option key"
        );
        ignored
    }

    #[test]
    fn reads_the_webrtc_to_sip_options() {
        let mut o = MediaOptions::default();
        assert!(apply(&mut o, "ICE", "remove".into()).is_empty());
        assert!(apply(&mut o, "DTLS", "off".into()).is_empty());
        assert!(apply(&mut o, "transport-protocol", "RTP/AVP".into()).is_empty());
        assert!(apply(&mut o, "rtcp-mux", list(&["demux"])).is_empty());
        assert!(apply(&mut o, "replace", list(&["origin", "session-connection"])).is_empty());
        assert!(apply(&mut o, "SDES", list(&["off"])).is_empty());
        assert_eq!(o.ice, Some(Ice::Remove));
        assert_eq!(o.dtls, Some(Dtls::Off));
        assert_eq!(
            o.transport_protocol,
            Some(TransportOverride::Protocol(TransportProtocol::RtpAvp))
        );
        assert_eq!(o.rtcp_mux, [RtcpMux::Demux]);
        assert_eq!(o.replace, [Replace::Origin, Replace::SessionConnection]);
        assert_eq!(o.sdes, [Sdes::Off]);
    }

    #[test]
    fn understands_prefixed_words_in_the_flags_list() {
        let mut o = MediaOptions::default();
        let flags = list(&[
            "trust-address",
            "replace-origin",
            "rtcp-mux-offer",
            "SDES-no-AES_CM_128_HMAC_SHA1_32",
            "codec-strip-PCMA",
            "codec-mask-all",
            "transcode-opus",
            "record-call",
            "strict source",
        ]);
        assert!(apply(&mut o, "flags", flags).is_empty());
        assert_eq!(o.flags, [Flag::TrustAddress, Flag::StrictSource]);
        assert_eq!(o.replace, [Replace::Origin]);
        assert_eq!(o.rtcp_mux, [RtcpMux::Offer]);
        assert_eq!(o.sdes, [Sdes::NoSuite(b("AES_CM_128_HMAC_SHA1_32"))]);
        assert_eq!(o.codec.strip, [b("PCMA")]);
        assert_eq!(o.codec.mask, [b("all")]);
        assert_eq!(o.codec.transcode, [b("opus")]);
        assert_eq!(o.record_call, Some(true));
    }

    #[test]
    fn keeps_unknown_flags_and_values_for_the_log() {
        let mut o = MediaOptions::default();
        let ignored = apply(&mut o, "flags", list(&["frobnicate", "trust-address"]));
        assert_eq!(ignored, [Ignored::Flag(b("frobnicate"))]);
        let ignored = apply(&mut o, "ICE", "sometimes".into());
        assert_eq!(
            ignored,
            [Ignored::Value {
                key: b("ICE"),
                value: "sometimes".into()
            }]
        );
        assert_eq!(o.ice, None);
        assert_eq!(
            ignored[0].to_string(),
            r#"unsupported value "sometimes" for "ICE""#
        );
        let ignored = apply(&mut o, "rtcp-mux", list(&["demux", "sideways"]));
        assert_eq!(ignored.len(), 1);
        assert_eq!(o.rtcp_mux, [RtcpMux::Demux]);
    }

    #[test]
    fn reports_a_key_it_does_not_know_to_the_caller() {
        let mut o = MediaOptions::default();
        let mut ignored = Vec::new();
        assert!(!o.apply(&b("ICE-lite"), &"forward".into(), &mut ignored));
        assert!(ignored.is_empty());
    }

    #[test]
    fn reads_the_codec_dictionary() {
        let mut o = MediaOptions::default();
        let codec = crate::ng::bencode::Dict::new()
            .with("strip", list(&["PCMA", "G729"]))
            .with("offer", "PCMU")
            .with("shuffle", list(&["x"]));
        let ignored = apply(&mut o, "codec", codec.into());
        assert_eq!(o.codec.strip, [b("PCMA"), b("G729")]);
        assert_eq!(o.codec.offer, [b("PCMU")]);
        assert_eq!(
            ignored,
            [Ignored::Key {
                key: b("codec-shuffle"),
                value: list(&["x"])
            }]
        );
    }

    #[test]
    fn reads_received_from_and_numbers_sent_as_strings() {
        let mut o = MediaOptions::default();
        assert!(apply(&mut o, "received-from", list(&["IP4", "192.0.2.7"])).is_empty());
        assert_eq!(o.received_from, Some("192.0.2.7".parse().unwrap()));
        assert!(apply(&mut o, "ptime", "20".into()).is_empty());
        assert_eq!(o.ptime, Some(20));
        assert_eq!(apply(&mut o, "ptime", Value::Integer(-5)).len(), 1);
        assert_eq!(
            apply(&mut o, "received-from", list(&["IP4", "nowhere"])).len(),
            1
        );
    }

    #[test]
    fn later_entries_override_earlier_ones() {
        let mut o = MediaOptions::default();
        apply(&mut o, "ICE", "force".into());
        apply(&mut o, "ICE", "remove".into());
        assert_eq!(o.ice, Some(Ice::Remove));
    }

    #[test]
    fn names_round_trip_through_their_spelling() {
        for (w, v) in TransportProtocol::WORDS {
            assert_eq!(TransportProtocol::parse(w.as_bytes()), Some(v));
            assert_eq!(v.as_str(), w);
        }
        assert_eq!(Dtls::Off.as_str(), "off");
        assert_eq!(Flag::ReuseCodecs.as_str(), "reuse-codecs");
    }
}
