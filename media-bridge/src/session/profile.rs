//! RTP profiles as an `m=` line names them, and what each implies for keying and RTCP feedback.

use std::fmt;

/// The transport protocol of an RTP media section (the third field of `m=`).
///
/// Each side of a relayed call speaks its own; the relay translates between them. Keying follows the profile:
/// `RTP/SAVP` and `RTP/SAVPF` use SDES (`a=crypto`, RFC 4568), `UDP/TLS/RTP/SAVP(F)` use DTLS-SRTP (RFC 5764).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportProtocol {
    /// `RTP/AVP`: plain RTP (RFC 3551), what most SIP equipment speaks.
    RtpAvp,
    /// `RTP/AVPF`: plain RTP with RTCP feedback (RFC 4585).
    RtpAvpf,
    /// `RTP/SAVP`: SRTP keyed by SDES (RFC 3711, RFC 4568).
    RtpSavp,
    /// `RTP/SAVPF`: SRTP with RTCP feedback, keyed by SDES (RFC 5124).
    RtpSavpf,
    /// `UDP/TLS/RTP/SAVP`: SRTP keyed by DTLS (RFC 5764).
    UdpTlsRtpSavp,
    /// `UDP/TLS/RTP/SAVPF`: SRTP with RTCP feedback keyed by DTLS: WebRTC (RFC 8827).
    UdpTlsRtpSavpf,
}

/// How a profile agrees on SRTP keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keying {
    /// No SRTP: plain RTP.
    None,
    /// `a=crypto` lines in SDP (RFC 4568).
    Sdes,
    /// A DTLS handshake on the media path (RFC 5764), authenticated by `a=fingerprint`.
    Dtls,
}

impl TransportProtocol {
    const ALL: [TransportProtocol; 6] = [
        TransportProtocol::RtpAvp,
        TransportProtocol::RtpAvpf,
        TransportProtocol::RtpSavp,
        TransportProtocol::RtpSavpf,
        TransportProtocol::UdpTlsRtpSavp,
        TransportProtocol::UdpTlsRtpSavpf,
    ];

    /// The `m=` spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransportProtocol::RtpAvp => "RTP/AVP",
            TransportProtocol::RtpAvpf => "RTP/AVPF",
            TransportProtocol::RtpSavp => "RTP/SAVP",
            TransportProtocol::RtpSavpf => "RTP/SAVPF",
            TransportProtocol::UdpTlsRtpSavp => "UDP/TLS/RTP/SAVP",
            TransportProtocol::UdpTlsRtpSavpf => "UDP/TLS/RTP/SAVPF",
        }
    }

    /// The profile an `m=` line names (ASCII case ignored); `None` for anything else (`UDP/DTLS/SCTP`,
    /// `TCP/RTP/AVP`, `udptl`, …), which the relay does not carry.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text))
    }

    /// How this profile agrees on SRTP keys.
    pub const fn keying(self) -> Keying {
        match self {
            TransportProtocol::RtpAvp | TransportProtocol::RtpAvpf => Keying::None,
            TransportProtocol::RtpSavp | TransportProtocol::RtpSavpf => Keying::Sdes,
            TransportProtocol::UdpTlsRtpSavp | TransportProtocol::UdpTlsRtpSavpf => Keying::Dtls,
        }
    }

    /// Whether media is SRTP.
    pub const fn is_secure(self) -> bool {
        !matches!(self.keying(), Keying::None)
    }

    /// Whether the profile carries RTCP feedback (`…F`, RFC 4585), so `a=rtcp-fb` and reduced-size RTCP
    /// belong in its SDP.
    pub const fn has_feedback(self) -> bool {
        matches!(
            self,
            TransportProtocol::RtpAvpf
                | TransportProtocol::RtpSavpf
                | TransportProtocol::UdpTlsRtpSavpf
        )
    }
}

impl fmt::Display for TransportProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling_case_insensitively() {
        for p in TransportProtocol::ALL {
            assert_eq!(TransportProtocol::parse(p.as_str()), Some(p));
            assert_eq!(
                TransportProtocol::parse(&p.as_str().to_ascii_lowercase()),
                Some(p)
            );
        }
        assert_eq!(TransportProtocol::parse("UDP/DTLS/SCTP"), None);
        assert_eq!(TransportProtocol::parse("RTP/AVP/TCP"), None);
    }

    #[test]
    fn keying_follows_the_profile() {
        assert_eq!(TransportProtocol::RtpAvp.keying(), Keying::None);
        assert_eq!(TransportProtocol::RtpSavpf.keying(), Keying::Sdes);
        assert_eq!(TransportProtocol::UdpTlsRtpSavpf.keying(), Keying::Dtls);
        assert!(TransportProtocol::UdpTlsRtpSavpf.has_feedback());
        assert!(!TransportProtocol::RtpSavp.has_feedback());
    }
}
