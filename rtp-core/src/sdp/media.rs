//! Media descriptions (`m=` sections, RFC 8866 §5.14) and the accessors and edits a relay needs.

use std::fmt;
use std::net::IpAddr;

use bytestring::ByteString;

use super::codec::Codec;
use super::error::FieldError;
use super::scanner::{Scanner, is_token_char};
use super::session::{Bandwidth, Connection, MAX_ITEMS, too_many_items};
use super::{Attribute, Direction, Fmtp, Rtpmap};

/// One media section: the `m=` line and its `i=`, `c=`, `b=`, `k=` and `a=` lines.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaDescription {
    /// Media type as written: `audio`, `video`, `application`, `text`, `image`, …
    pub media: ByteString,
    /// Transport port; 0 marks a rejected or removed stream (RFC 3264 §6, §8.2).
    pub port: u16,
    /// The `/<number of ports>` suffix, if any.
    pub port_count: Option<u32>,
    /// Transport protocol: `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, `UDP/DTLS/SCTP`, …
    pub protocol: ByteString,
    /// Media formats: RTP payload type numbers for RTP, otherwise protocol-specific tokens.
    pub formats: Vec<ByteString>,
    /// `i=`: media title.
    pub information: Option<ByteString>,
    /// `c=` lines (several only for multicast).
    pub connections: Vec<Connection>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `k=` (obsolete), verbatim.
    pub key: Option<ByteString>,
    /// `a=` lines, in order.
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// A media section `m=<media> <port> <protocol> <formats>` with nothing else.
    pub fn new(
        media: impl Into<ByteString>,
        port: u16,
        protocol: impl Into<ByteString>,
        formats: Vec<ByteString>,
    ) -> Self {
        MediaDescription {
            media: media.into(),
            port,
            port_count: None,
            protocol: protocol.into(),
            formats,
            information: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        }
    }

    pub(crate) fn parse_media_line(text: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(text);
        let media = s.token("media type")?;
        s.space()?;
        let port = s.u16("port (0-65535)")?;
        let port_count = if s.eat(b'/') {
            let at = s.pos();
            let n = s.u32("number of ports")?;
            if n == 0 {
                return Err(FieldError::out_of_range(at, "non-zero number of ports"));
            }
            Some(n)
        } else {
            None
        };
        s.space()?;
        // proto = token *("/" token); token-char has no '/', so taking token-chars and '/' and checking the
        // shape afterwards is equivalent.
        let proto_at = s.pos();
        let protocol = s.take(|b| is_token_char(b) || b == b'/', "transport protocol")?;
        if protocol.split('/').any(str::is_empty) {
            return Err(FieldError::syntax(
                proto_at,
                "transport protocol (tokens separated by '/')",
            ));
        }
        let mut formats = Vec::new();
        while !s.is_empty() {
            if formats.len() >= MAX_ITEMS {
                return Err(too_many_items(s.pos()));
            }
            s.space()?;
            formats.push(s.token("media format")?);
        }
        if formats.is_empty() {
            return Err(s.error("SP and at least one media format"));
        }
        Ok(MediaDescription::new(media, port, protocol, formats).with_port_count(port_count))
    }

    fn with_port_count(mut self, port_count: Option<u32>) -> Self {
        self.port_count = port_count;
        self
    }

    /// Whether the stream is rejected or removed (port 0).
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// Whether the protocol is RTP-based (`RTP/…` or `…/RTP/…`), so formats are payload type numbers.
    pub fn is_rtp(&self) -> bool {
        self.protocol
            .split('/')
            .any(|p| p.eq_ignore_ascii_case("RTP"))
    }

    /// The direction attribute of this section, if it has one (see
    /// [`crate::sdp::SessionDescription::direction_of`] for the effective direction).
    pub fn direction(&self) -> Option<Direction> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
    }

    /// Sets the direction attribute: replaces the first one in place (dropping any others) or appends one.
    pub fn set_direction(&mut self, direction: Direction) {
        let mut seen = false;
        self.attributes.retain_mut(|a| {
            if !matches!(a, Attribute::Direction(_)) {
                return true;
            }
            if seen {
                return false;
            }
            seen = true;
            *a = Attribute::Direction(direction);
            true
        });
        if !seen {
            self.attributes.push(Attribute::Direction(direction));
        }
    }

    /// The `a=mid` value.
    pub fn mid(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Mid(m) => Some(&**m),
            _ => None,
        })
    }

    /// The `a=rtpmap` lines.
    pub fn rtpmaps(&self) -> impl Iterator<Item = &Rtpmap> {
        self.attributes.iter().filter_map(|a| match a {
            Attribute::Rtpmap(r) => Some(r),
            _ => None,
        })
    }

    /// The `a=rtpmap` for payload type `pt`.
    pub fn rtpmap(&self, pt: u8) -> Option<&Rtpmap> {
        self.rtpmaps().find(|r| r.payload_type == pt)
    }

    /// The `a=fmtp` for format `format`.
    pub fn fmtp(&self, format: &str) -> Option<&Fmtp> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Fmtp(f) if f.format == format => Some(f),
            _ => None,
        })
    }

    /// The RTP codecs of this section in `m=` order: each payload type resolved through `a=rtpmap` or, for
    /// static payload types without one, the RFC 3551 table. Formats that resolve to nothing are skipped.
    pub fn codecs(&self) -> Vec<Codec> {
        if !self.is_rtp() {
            return Vec::new();
        }
        self.formats
            .iter()
            .filter_map(|f| {
                let pt = f.parse::<u8>().ok().filter(|pt| *pt <= 127)?;
                let mut codec = match self.rtpmap(pt) {
                    Some(r) => Codec::from_rtpmap(r),
                    None => Codec::from_static_payload_type(pt)?,
                };
                codec.fmtp = self.fmtp(f).map(|x| x.parameters.clone());
                Some(codec)
            })
            .collect()
    }

    /// Attributes named `name` (typed or not).
    pub fn attributes_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Attribute> + 'a {
        self.attributes.iter().filter(move |a| a.name() == name)
    }

    /// Whether an attribute named `name` is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.name() == name)
    }

    /// Removes every attribute named `name`; returns how many were removed.
    pub fn remove_attributes(&mut self, name: &str) -> usize {
        let before = self.attributes.len();
        self.attributes.retain(|a| a.name() != name);
        before - self.attributes.len()
    }

    /// Sets the transport port (0 rejects the stream, keeping the `m=` line).
    pub fn set_port(&mut self, port: u16) {
        self.port = port;
    }

    /// Rejects or removes the stream (RFC 3264 §6, §8.2): port 0; the `m=` line and its formats stay.
    pub fn reject(&mut self) {
        self.port = 0;
        self.port_count = None;
    }

    /// Replaces this section's `c=` lines with one pointing at `ip`.
    pub fn set_connection_address(&mut self, ip: IpAddr) {
        self.connections.clear();
        self.connections.push(Connection::from_ip(ip));
    }

    /// Sets the `a=rtcp` port/address (RFC 3605), replacing an existing one in place or appending one.
    pub fn set_rtcp(&mut self, port: u16, ip: Option<IpAddr>) {
        let rtcp = Attribute::Rtcp(super::Rtcp {
            port,
            connection: ip.map(Connection::from_ip),
        });
        match self
            .attributes
            .iter_mut()
            .find(|a| matches!(a, Attribute::Rtcp(_)))
        {
            Some(a) => *a = rtcp,
            None => self.attributes.push(rtcp),
        }
    }
}

impl fmt::Display for MediaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.protocol)?;
        for fmt in &self.formats {
            write!(f, " {fmt}")?;
        }
        f.write_str("\r\n")?;
        if let Some(i) = &self.information {
            write!(f, "i={i}\r\n")?;
        }
        for c in &self.connections {
            write!(f, "c={c}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={b}\r\n")?;
        }
        if let Some(k) = &self.key {
            write!(f, "k={k}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        Ok(())
    }
}
