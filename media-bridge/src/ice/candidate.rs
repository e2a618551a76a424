//! Host candidates on the relay's advertised addresses (RFC 8445 §5.1) and their SDP form (RFC 8839 §5.1).

use std::fmt;
use std::net::SocketAddr;

/// Type preference of host candidates (RFC 8445 §5.1.2.2 recommends 126).
pub(crate) const HOST_TYPE_PREFERENCE: u32 = 126;
/// The only component: RTP and RTCP share it (rtcp-mux).
pub(crate) const COMPONENT_RTP: u16 = 1;

/// A local host candidate: a UDP transport address the relay receives on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    foundation: u32,
    priority: u32,
    address: SocketAddr,
}

impl Candidate {
    /// A host candidate for component 1 with this foundation and local preference (RFC 8445 §5.1.2.1).
    pub(crate) fn host(address: SocketAddr, foundation: u32, local_preference: u16) -> Candidate {
        Candidate {
            foundation,
            priority: priority(HOST_TYPE_PREFERENCE, local_preference, COMPONENT_RTP),
            address,
        }
    }

    /// The foundation: equal for candidates of the same type, base IP address and transport.
    pub fn foundation(&self) -> u32 {
        self.foundation
    }

    /// The component ID (always 1: RTP and RTCP are muxed).
    pub fn component(&self) -> u16 {
        COMPONENT_RTP
    }

    /// The priority, per RFC 8445 §5.1.2.1.
    pub fn priority(&self) -> u32 {
        self.priority
    }

    /// The transport address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl fmt::Display for Candidate {
    /// The value of an `a=candidate` attribute, e.g. `1 1 UDP 2130706431 192.0.2.1 30000 typ host`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} UDP {} {} {} typ host",
            self.foundation,
            COMPONENT_RTP,
            self.priority,
            self.address.ip(),
            self.address.port()
        )
    }
}

/// RFC 8445 §5.1.2.1: priority = 2^24 × type preference + 2^8 × local preference + (256 − component ID).
pub(crate) fn priority(type_preference: u32, local_preference: u16, component: u16) -> u32 {
    (type_preference << 24)
        + (u32::from(local_preference) << 8)
        + (256 - u32::from(component.min(256)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_priority_follows_rfc_8445_formula() {
        // 126 × 2^24 + 65535 × 2^8 + 255: the value browsers give their first host candidate.
        assert_eq!(priority(126, 65535, 1), 2_130_706_431);
        assert_eq!(priority(110, 65535, 1), 1_862_270_975);
        assert_eq!(priority(0, 0, 256), 0);
    }

    #[test]
    fn displays_the_sdp_candidate_value() {
        let c = Candidate::host("192.0.2.1:30000".parse().unwrap(), 1, 65535);
        assert_eq!(c.to_string(), "1 1 UDP 2130706431 192.0.2.1 30000 typ host");
        let c = Candidate::host("[2001:db8::1]:30002".parse().unwrap(), 2, 65534);
        assert_eq!(
            c.to_string(),
            "2 1 UDP 2130706175 2001:db8::1 30002 typ host"
        );
    }
}
