//! What an endpoint's SDP says about one of its media sections: where it receives, how it keys SRTP, its ICE
//! credentials and codecs. Read once per offer or answer, before anything is rewritten.

use std::net::{IpAddr, SocketAddr};

use tandem_rtp_core::sdes::Crypto;
use tandem_rtp_core::sdp::{
    Attribute, Codec, Direction, Fingerprint, MediaDescription, SessionDescription, Setup,
};

use super::{SessionError, TransportProtocol};
use crate::ice::Credentials;

/// One media section of an endpoint's SDP, as the relay needs it.
#[derive(Debug, Clone)]
pub(crate) struct PeerMedia {
    /// `audio`, `video`, …
    pub(crate) media_type: String,
    /// The profile, when it is one the relay carries.
    pub(crate) protocol: Option<TransportProtocol>,
    /// Port 0: the section is rejected or removed.
    pub(crate) rejected: bool,
    /// Where the endpoint receives RTP, unless on hold with `c=0.0.0.0` or not yet known (ICE with port 9).
    pub(crate) rtp: Option<SocketAddr>,
    /// Where the endpoint receives RTCP when it is not muxed: `a=rtcp` (RFC 3605) or the RTP port + 1.
    pub(crate) rtcp: Option<SocketAddr>,
    /// RFC 2543 hold (`c=0.0.0.0` without ICE): forwarded as such.
    pub(crate) legacy_hold: bool,
    /// `a=rtcp-mux`.
    pub(crate) rtcp_mux: bool,
    /// `a=ice-ufrag` / `a=ice-pwd` (media level, else session level).
    pub(crate) ice: Option<Credentials>,
    /// `a=fingerprint` (media level, else session level).
    pub(crate) fingerprint: Option<Fingerprint>,
    /// `a=setup` (media level, else session level).
    pub(crate) setup: Option<Setup>,
    /// The `a=crypto` lines, in order.
    pub(crate) cryptos: Vec<Crypto>,
    /// The codecs in `m=` order, numbered as this endpoint receives them.
    pub(crate) codecs: Vec<Codec>,
    /// The direction in force (media level, else session level, else `sendrecv`).
    pub(crate) direction: Direction,
    /// `a=mid`.
    pub(crate) mid: Option<String>,
}

impl PeerMedia {
    /// Reads section `index` of `sdp`. `source` replaces the SDP's IP address when the caller asked for the
    /// SIP source address.
    pub(crate) fn read(
        sdp: &SessionDescription,
        index: usize,
        media: &MediaDescription,
        source: Option<IpAddr>,
    ) -> Result<Self, SessionError> {
        let legacy_hold = sdp.is_legacy_hold(media);
        let ip = match sdp.connection_of(media) {
            Some(c) => Some(c.ip().ok_or_else(|| SessionError::InvalidAddress {
                index,
                address: c.address.to_string(),
            })?),
            None => None,
        };
        let ip = source.or(ip).filter(|ip| !ip.is_unspecified());
        let rtp = ip
            .filter(|_| media.port > 9 && !legacy_hold)
            .map(|ip| SocketAddr::new(ip, media.port));
        let rtcp = rtp.and_then(|rtp| rtcp_address(media, rtp, source.is_some()));
        Ok(PeerMedia {
            media_type: media.media.to_string(),
            protocol: TransportProtocol::parse(&media.protocol),
            rejected: media.is_rejected(),
            rtp,
            rtcp,
            legacy_hold,
            rtcp_mux: media.has_attribute("rtcp-mux"),
            ice: ice_credentials(sdp, media)?,
            fingerprint: find(sdp, media, |a| match a {
                Attribute::Fingerprint(f) => Some(f.clone()),
                _ => None,
            }),
            setup: find(sdp, media, |a| match a {
                Attribute::Setup(s) => Some(*s),
                _ => None,
            }),
            cryptos: media
                .attributes
                .iter()
                .filter_map(|a| match a {
                    Attribute::Crypto(c) => Some(c.clone()),
                    _ => None,
                })
                .collect(),
            codecs: media.codecs(),
            direction: sdp.direction_of(media),
            mid: media.mid().map(str::to_owned),
        })
    }

    /// Whether the relay can carry this section: an RTP profile it knows and a non-zero port.
    pub(crate) fn is_relayable(&self) -> bool {
        self.protocol.is_some() && !self.rejected
    }
}

/// RFC 3605: `a=rtcp:<port> [<address>]`, else the RTP port + 1 on the RTP address. A SIP-source override
/// replaces the address in `a=rtcp` too.
fn rtcp_address(
    media: &MediaDescription,
    rtp: SocketAddr,
    source_override: bool,
) -> Option<SocketAddr> {
    let explicit = media.attributes.iter().find_map(|a| match a {
        Attribute::Rtcp(r) => Some(r),
        _ => None,
    });
    let Some(rtcp) = explicit else {
        return rtp
            .port()
            .checked_add(1)
            .map(|p| SocketAddr::new(rtp.ip(), p));
    };
    let ip = match (&rtcp.connection, source_override) {
        (Some(c), false) => c.ip()?,
        _ => rtp.ip(),
    };
    (!ip.is_unspecified() && rtcp.port > 9).then(|| SocketAddr::new(ip, rtcp.port))
}

/// The first attribute `pick` accepts, media level first, then session level (RFC 8839 and RFC 8122 allow
/// both levels for ICE credentials and fingerprints).
fn find<T>(
    sdp: &SessionDescription,
    media: &MediaDescription,
    pick: impl Fn(&Attribute) -> Option<T>,
) -> Option<T> {
    media
        .attributes
        .iter()
        .find_map(&pick)
        .or_else(|| sdp.attributes.iter().find_map(&pick))
}

fn ice_credentials(
    sdp: &SessionDescription,
    media: &MediaDescription,
) -> Result<Option<Credentials>, SessionError> {
    let ufrag = find(sdp, media, |a| match a {
        Attribute::IceUfrag(u) => Some(u.clone()),
        _ => None,
    });
    let pwd = find(sdp, media, |a| match a {
        Attribute::IcePwd(p) => Some(p.clone()),
        _ => None,
    });
    match (ufrag, pwd) {
        (Some(ufrag), Some(pwd)) => Ok(Some(Credentials::new(&*ufrag, &*pwd)?)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> PeerMedia {
        let sdp: SessionDescription = text.parse().unwrap();
        PeerMedia::read(&sdp, 0, &sdp.media[0], None).unwrap()
    }

    #[test]
    fn reads_rfc_3605_rtcp_address_and_falls_back_to_port_plus_one() {
        let base = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        let plain = read(base);
        assert_eq!(plain.rtp, Some("192.0.2.1:4000".parse().unwrap()));
        assert_eq!(plain.rtcp, Some("192.0.2.1:4001".parse().unwrap()));
        let explicit = read(&format!("{base}a=rtcp:5005 IN IP4 192.0.2.9\r\n"));
        assert_eq!(explicit.rtcp, Some("192.0.2.9:5005".parse().unwrap()));
    }

    #[test]
    fn legacy_hold_has_no_address() {
        let held = read(
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
        );
        assert!(held.legacy_hold);
        assert_eq!(held.rtp, None);
    }

    #[test]
    fn refuses_host_names_in_connection_lines() {
        let sdp: SessionDescription =
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 pbx.example.com\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
                .parse()
                .unwrap();
        let err = PeerMedia::read(&sdp, 0, &sdp.media[0], None).unwrap_err();
        assert!(matches!(err, SessionError::InvalidAddress { index: 0, .. }));
    }
}
