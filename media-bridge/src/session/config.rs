//! How the relay is set up: its addresses, ports, certificate fingerprint, keying and timeouts.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use tandem_rtp_core::srtp::SrtpProfile;

use super::PortPool;
use crate::dtls::{CertificateFingerprint, DtlsRole};
use crate::ice::IceConfig;

/// A named address the relay advertises in SDP (rtpengine's `interface`). Legs on different interfaces let
/// one relay bridge a private and a public network (`direction=internal external`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// The name the `direction` option refers to.
    pub name: String,
    /// The address written in `c=`, `o=` (when replaced) and ICE candidates.
    pub advertised: IpAddr,
}

impl Interface {
    /// An interface called `name` advertising `advertised`.
    pub fn new(name: impl Into<String>, advertised: IpAddr) -> Self {
        Interface {
            name: name.into(),
            advertised,
        }
    }
}

/// The relay's configuration. Built with [`RelayConfig::new`] and adjusted field by field.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct RelayConfig {
    /// The advertised addresses; the first is the default. Never empty when built with [`RelayConfig::new`].
    pub interfaces: Vec<Interface>,
    /// The UDP port range RTP/RTCP pairs are taken from.
    pub ports: RangeInclusive<u16>,
    /// Our DTLS certificate's fingerprint (`a=fingerprint`), needed to offer or answer DTLS-SRTP: the
    /// [`DtlsCertificate`](crate::dtls::DtlsCertificate) the data plane handshakes with stays there; the
    /// control plane only announces its hash.
    pub fingerprint: Option<CertificateFingerprint>,
    /// Our role when answering a DTLS `actpass` offer without a `DTLS=active|passive` option.
    ///
    /// Server (passive) by default, unlike rtpengine's client default: an ICE-lite relay learns where to send
    /// only when the peer's checks arrive, and the peer, as DTLS client, starts the handshake on the path it
    /// just validated, so no ClientHello is sent before a path exists.
    pub dtls_answer_role: DtlsRole,
    /// The SRTP suites offered in our own `a=crypto` lines, in preference order.
    pub sdes_suites: Vec<SrtpProfile>,
    /// A call with no media in either direction for this long (and no signalling) is expired by
    /// [`Relay::sweep`](super::Relay::sweep). rtpengine's default is 60 s.
    pub media_timeout: Duration,
    /// Most calls held at once.
    pub max_calls: usize,
    /// Settings for the ICE-lite agents of ICE legs.
    pub ice: IceConfig,
}

impl RelayConfig {
    /// Most media sections in one call.
    pub const MAX_MEDIA: usize = 16;

    /// One interface named `default` advertising `advertised`, ports 30000–40000, no DTLS fingerprint, SDES
    /// suites AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM, AEAD_AES_256_GCM, a 60 s
    /// media timeout and at most 100 000 calls.
    pub fn new(advertised: IpAddr) -> Self {
        RelayConfig {
            interfaces: vec![Interface::new("default", advertised)],
            ports: PortPool::DEFAULT_RANGE,
            fingerprint: None,
            dtls_answer_role: DtlsRole::Server,
            sdes_suites: vec![
                SrtpProfile::Aes128CmHmacSha1_80,
                SrtpProfile::Aes128CmHmacSha1_32,
                SrtpProfile::AeadAes128Gcm,
                SrtpProfile::AeadAes256Gcm,
            ],
            media_timeout: Duration::from_secs(60),
            max_calls: 100_000,
            ice: IceConfig::default(),
        }
    }

    /// The same configuration with this port range.
    pub fn with_ports(mut self, ports: RangeInclusive<u16>) -> Self {
        self.ports = ports;
        self
    }

    /// The same configuration announcing this DTLS certificate fingerprint.
    pub fn with_fingerprint(mut self, fingerprint: CertificateFingerprint) -> Self {
        self.fingerprint = Some(fingerprint);
        self
    }

    /// The same configuration with one more interface.
    pub fn with_interface(mut self, interface: Interface) -> Self {
        self.interfaces.push(interface);
        self
    }
}
