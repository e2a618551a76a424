//! The offer/answer model (RFC 3264): building an answer from an offer and local capabilities, direction
//! negotiation, hold and resume, and the session-wide edits a relay applies before forwarding a description.

use std::net::IpAddr;

use bytestring::ByteString;

use super::codec::Codec;
use super::session::{Connection, Origin};
use super::{Attribute, Direction, Fmtp, MediaDescription, SessionDescription};

/// What the answering side supports for one media section.
///
/// Each offered section is matched against the first unused `LocalMedia` with the same media type (and protocol,
/// when [`LocalMedia::protocol`] is set); a section with no match, or with no codec in common, is rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalMedia {
    /// Media type: `audio`, `video`, … (compared case-insensitively).
    pub media: ByteString,
    /// The only protocol accepted (e.g. `RTP/AVP`), or `None` to accept the offered one.
    pub protocol: Option<ByteString>,
    /// The local port written in the answer.
    pub port: u16,
    /// Supported codecs; matched by encoding name, clock rate and channels. A codec's `fmtp` (when set)
    /// replaces the offer's in the answer. Payload type numbers here are ignored: the offerer's are kept.
    pub codecs: Vec<Codec>,
    /// What this side is willing to do; the answer's direction is the offer's reversed, limited by this.
    pub direction: Direction,
    /// Whether to accept `a=rtcp-mux` when offered.
    pub rtcp_mux: bool,
    /// Attributes appended to the accepted section (ICE credentials, fingerprint, `a=crypto`, `a=ptime`, …).
    pub attributes: Vec<Attribute>,
}

impl LocalMedia {
    /// Audio on `port` with `codecs`, send and receive, RTCP multiplexing accepted.
    pub fn audio(port: u16, codecs: Vec<Codec>) -> Self {
        LocalMedia {
            media: ByteString::from_static("audio"),
            protocol: None,
            port,
            codecs,
            direction: Direction::SendRecv,
            rtcp_mux: true,
            attributes: Vec::new(),
        }
    }
}

/// The answering side's session-level identity and its media capabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerOptions {
    /// The answer's `o=` line.
    pub origin: Origin,
    /// The answer's `s=` line.
    pub session_name: ByteString,
    /// The answer's session-level `c=` line (where this side receives media).
    pub connection: Connection,
    /// Local media capabilities, see [`LocalMedia`].
    pub media: Vec<LocalMedia>,
}

/// Encodings that carry no media of their own: a section whose only common codecs are these is rejected.
fn is_auxiliary(name: &str) -> bool {
    [
        "telephone-event",
        "CN",
        "red",
        "rtx",
        "ulpfec",
        "flexfec-03",
    ]
    .iter()
    .any(|n| n.eq_ignore_ascii_case(name))
}

/// Builds the answer to `offer` (RFC 3264 §6).
///
/// The answer has one section per offered section, in the same order. A section is accepted when the offered
/// port is not 0, a [`LocalMedia`] matches it and (for RTP) at least one non-auxiliary codec is in common;
/// the accepted formats keep the offerer's payload type numbers and order, `rtx` is kept only when the
/// payload type it repairs is. The answer's direction is [`Direction::answer`] of the offered one (with the
/// legacy `c=0.0.0.0` hold treated as "offerer does not receive"). Rejected sections keep their `m=` line
/// with port 0. `a=mid` is echoed; `a=group` is not written (a relay adds its own BUNDLE policy).
pub fn create_answer(offer: &SessionDescription, options: &AnswerOptions) -> SessionDescription {
    let mut answer = SessionDescription::new(options.origin.clone(), options.session_name.clone());
    answer.connection = Some(options.connection.clone());
    let mut used = vec![false; options.media.len()];
    for offered in &offer.media {
        let slot = options
            .media
            .iter()
            .zip(used.iter_mut())
            .find(|(local, used)| !**used && local_matches(local, offered));
        let section = slot.and_then(|(local, used)| {
            let section = accept(offer, offered, local)?;
            *used = true;
            Some(section)
        });
        answer
            .media
            .push(section.unwrap_or_else(|| rejected(offered)));
    }
    answer
}

fn local_matches(local: &LocalMedia, offered: &MediaDescription) -> bool {
    offered.port != 0
        && local.media.eq_ignore_ascii_case(&offered.media)
        && local
            .protocol
            .as_ref()
            .is_none_or(|p| p.eq_ignore_ascii_case(&offered.protocol))
}

/// The answer's section for an accepted stream, or `None` when nothing is in common.
fn accept(
    offer: &SessionDescription,
    offered: &MediaDescription,
    local: &LocalMedia,
) -> Option<MediaDescription> {
    let mut section = MediaDescription::new(
        offered.media.clone(),
        local.port,
        offered.protocol.clone(),
        Vec::new(),
    );
    if offered.is_rtp() {
        let codecs = common_codecs(offered, local);
        if codecs.iter().all(|(_, c)| is_auxiliary(&c.encoding_name)) {
            return None;
        }
        for (offered_codec, local_codec) in &codecs {
            push_codec(&mut section, offered, offered_codec, local_codec);
        }
    } else {
        // Non-RTP formats (SCTP, T.38 …) are not negotiated here: the offered ones are accepted.
        section.formats = offered.formats.clone();
    }
    if let Some(mid) = offered.mid() {
        section
            .attributes
            .push(Attribute::Mid(ByteString::from(mid)));
    }
    let offered_direction = offer.effective_direction(offered);
    section.attributes.push(Attribute::Direction(
        offered_direction.answer(local.direction),
    ));
    if local.rtcp_mux && offered.attributes.contains(&Attribute::RtcpMux) {
        section.attributes.push(Attribute::RtcpMux);
    }
    section.attributes.extend(local.attributes.iter().cloned());
    Some(section)
}

/// Offered codecs (in offer order) paired with the local codec of the same encoding.
fn common_codecs(offered: &MediaDescription, local: &LocalMedia) -> Vec<(Codec, Codec)> {
    let mut common: Vec<(Codec, Codec)> = offered
        .codecs()
        .into_iter()
        .filter_map(|o| {
            local
                .codecs
                .iter()
                .find(|l| l.same_encoding(&o))
                .map(|l| (o, l.clone()))
        })
        .collect();
    // RFC 4588: an rtx format is only meaningful next to the format it repairs.
    let accepted: Vec<u8> = common.iter().map(|(o, _)| o.payload_type).collect();
    common.retain(|(o, _)| {
        if !o.encoding_name.eq_ignore_ascii_case("rtx") {
            return true;
        }
        let fmtp = Fmtp {
            format: ByteString::new(),
            parameters: o.fmtp.clone().unwrap_or_default(),
        };
        fmtp.param("apt")
            .and_then(|apt| apt.parse::<u8>().ok())
            .is_some_and(|apt| accepted.contains(&apt))
    });
    common
}

fn push_codec(
    section: &mut MediaDescription,
    offered: &MediaDescription,
    codec: &Codec,
    local: &Codec,
) {
    let pt = codec.payload_type;
    let format = ByteString::from(pt.to_string());
    if let Some(r) = offered.rtpmap(pt) {
        section.attributes.push(Attribute::Rtpmap(r.clone()));
    }
    if let Some(parameters) = local.fmtp.clone().or_else(|| codec.fmtp.clone()) {
        section.attributes.push(Attribute::Fmtp(Fmtp {
            format: format.clone(),
            parameters,
        }));
    }
    section.formats.push(format);
}

fn rejected(offered: &MediaDescription) -> MediaDescription {
    let mut section = MediaDescription::new(
        offered.media.clone(),
        0,
        offered.protocol.clone(),
        offered.formats.clone(),
    );
    if let Some(mid) = offered.mid() {
        section
            .attributes
            .push(Attribute::Mid(ByteString::from(mid)));
    }
    section
}

impl SessionDescription {
    /// The direction attribute in force for `media`: its own, else the session-level one, else `sendrecv`
    /// (RFC 8866 §6.7).
    pub fn direction_of(&self, media: &MediaDescription) -> Direction {
        media
            .direction()
            .or_else(|| self.session_direction())
            .unwrap_or(Direction::SendRecv)
    }

    /// The session-level direction attribute, if any.
    pub fn session_direction(&self) -> Option<Direction> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
    }

    /// The `c=` line that applies to `media`: its first own one, else the session-level one.
    pub fn connection_of<'a>(&'a self, media: &'a MediaDescription) -> Option<&'a Connection> {
        media.connections.first().or(self.connection.as_ref())
    }

    /// Whether `media` uses the RFC 2543 hold (`c=0.0.0.0`, RFC 3264 §8.4).
    ///
    /// ICE endpoints also write `c=IN IP4 0.0.0.0` before they have candidates (RFC 8840), so the address is
    /// only taken as hold when no `a=ice-ufrag` applies to the section.
    pub fn is_legacy_hold(&self, media: &MediaDescription) -> bool {
        let uses_ice = media.has_attribute("ice-ufrag")
            || self.attributes.iter().any(|a| a.name() == "ice-ufrag");
        !uses_ice
            && self
                .connection_of(media)
                .is_some_and(Connection::is_unspecified)
    }

    /// The direction `media` effectively asks for: [`Self::direction_of`], minus receiving when it is on legacy
    /// hold.
    pub fn effective_direction(&self, media: &MediaDescription) -> Direction {
        let d = self.direction_of(media);
        if self.is_legacy_hold(media) {
            Direction::from_flags(d.sends(), false)
        } else {
            d
        }
    }

    /// Whether the writer put `media` on hold: it does not want to receive (`sendonly`, `inactive`, or the
    /// legacy `c=0.0.0.0`).
    pub fn is_on_hold(&self, media: &MediaDescription) -> bool {
        !self.effective_direction(media).receives()
    }

    /// Puts every active section on hold (RFC 3264 §8.4): `sendrecv` becomes `sendonly`, `recvonly` becomes
    /// `inactive`, written as media-level attributes.
    pub fn hold(&mut self) {
        self.redirect_active_media(|d| Direction::from_flags(d.sends(), false));
    }

    /// Takes every active section off hold: `sendonly` becomes `sendrecv`, `inactive` becomes `recvonly`.
    /// A legacy `c=0.0.0.0` is not undone here: set a real address with [`Self::set_connection_address`].
    pub fn resume(&mut self) {
        self.redirect_active_media(|d| Direction::from_flags(d.sends(), true));
    }

    fn redirect_active_media(&mut self, change: impl Fn(Direction) -> Direction) {
        let session = self.session_direction();
        for m in self.media.iter_mut().filter(|m| m.port != 0) {
            let current = m.direction().or(session).unwrap_or(Direction::SendRecv);
            m.set_direction(change(current));
        }
    }

    /// Points the session at `ip`: sets the session-level `c=` line and rewrites every media-level one (a relay
    /// anchoring media on itself). The `o=` line and `a=rtcp` addresses are left alone.
    pub fn set_connection_address(&mut self, ip: IpAddr) {
        self.connection = Some(Connection::from_ip(ip));
        for m in &mut self.media {
            if !m.connections.is_empty() {
                m.set_connection_address(ip);
            }
        }
    }

    /// Increments the `o=` session version, as every changed description must (RFC 3264 §8).
    pub fn bump_version(&mut self) {
        self.origin.session_version = self.origin.session_version.wrapping_add(1);
    }

    /// Keeps only the attributes, at session and media level, for which `keep` returns true (e.g.
    /// `|a| !a.is_ice()` to strip ICE).
    pub fn retain_attributes(&mut self, mut keep: impl FnMut(&Attribute) -> bool) {
        self.attributes.retain(&mut keep);
        for m in &mut self.media {
            m.attributes.retain(&mut keep);
        }
    }

    /// The media section whose `a=mid` is `mid`.
    pub fn media_by_mid(&self, mid: &str) -> Option<&MediaDescription> {
        self.media.iter().find(|m| m.mid() == Some(mid))
    }

    /// The session-level `a=group` with these semantics (e.g. `BUNDLE`).
    pub fn group(&self, semantics: &str) -> Option<&super::Group> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Group(g) if g.semantics.eq_ignore_ascii_case(semantics) => Some(g),
            _ => None,
        })
    }
}
