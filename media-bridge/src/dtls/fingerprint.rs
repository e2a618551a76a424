//! Certificate fingerprints (RFC 8122 `a=fingerprint`): computing them and checking a presented
//! certificate against the one the peer announced in SDP.

use core::fmt;

use bytestring::ByteString;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use tandem_rtp_core::sdp::Fingerprint;

use super::DtlsError;

/// A hash function of the RFC 8122 registry that fingerprints may use.
///
/// MD2 and MD5 are in the registry too but are refused: RFC 8122 §5 forbids new use of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashFunction {
    /// `sha-1` (20 bytes), still sent by some older SIP equipment.
    Sha1,
    /// `sha-224` (28 bytes).
    Sha224,
    /// `sha-256` (32 bytes), what browsers send and what this crate announces.
    Sha256,
    /// `sha-384` (48 bytes).
    Sha384,
    /// `sha-512` (64 bytes).
    Sha512,
}

impl HashFunction {
    /// The SDP token (`sha-256`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            HashFunction::Sha1 => "sha-1",
            HashFunction::Sha224 => "sha-224",
            HashFunction::Sha256 => "sha-256",
            HashFunction::Sha384 => "sha-384",
            HashFunction::Sha512 => "sha-512",
        }
    }

    /// The hash function for an SDP token; case-insensitive, since RFC 8122 §5 takes the token
    /// from the (case-insensitive) TLS registry names and stacks differ in case.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            HashFunction::Sha1,
            HashFunction::Sha224,
            HashFunction::Sha256,
            HashFunction::Sha384,
            HashFunction::Sha512,
        ]
        .into_iter()
        .find(|hash| hash.as_str().eq_ignore_ascii_case(name))
    }

    /// Length in bytes of a digest.
    pub const fn digest_len(self) -> usize {
        match self {
            HashFunction::Sha1 => 20,
            HashFunction::Sha224 => 28,
            HashFunction::Sha256 => 32,
            HashFunction::Sha384 => 48,
            HashFunction::Sha512 => 64,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashFunction::Sha1 => Sha1::digest(data).to_vec(),
            HashFunction::Sha224 => Sha224::digest(data).to_vec(),
            HashFunction::Sha256 => Sha256::digest(data).to_vec(),
            HashFunction::Sha384 => Sha384::digest(data).to_vec(),
            HashFunction::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// The fingerprint of a DTLS certificate: a hash function and the digest of the certificate's
/// DER encoding (RFC 8122 §5).
///
/// Displays as the value of `a=fingerprint:` (`sha-256 AB:CD:…`, upper-case hex), and converts
/// from and to the SDP attribute type [`Fingerprint`] of `tandem-rtp-core`:
///
/// ```
/// use tandem_media_bridge::dtls::{CertificateFingerprint, HashFunction};
/// let der = b"not really a certificate";
/// let ours = CertificateFingerprint::of_certificate(HashFunction::Sha256, der);
/// let line = format!("a=fingerprint:{ours}");
/// assert!(line.starts_with("a=fingerprint:sha-256 "));
/// assert!(ours.matches(der));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CertificateFingerprint {
    hash: HashFunction,
    digest: Vec<u8>,
}

impl CertificateFingerprint {
    /// The fingerprint of the certificate `der` with `hash`.
    pub fn of_certificate(hash: HashFunction, der: &[u8]) -> Self {
        CertificateFingerprint {
            hash,
            digest: hash.digest(der),
        }
    }

    /// A fingerprint from its parts, refusing a digest of the wrong length for `hash`.
    pub fn new(hash: HashFunction, digest: &[u8]) -> Result<Self, DtlsError> {
        if digest.len() != hash.digest_len() {
            return Err(DtlsError::FingerprintLength {
                hash_function: hash.as_str(),
                expected: hash.digest_len(),
                actual: digest.len(),
            });
        }
        Ok(CertificateFingerprint {
            hash,
            digest: digest.to_vec(),
        })
    }

    /// The peer's fingerprint from a parsed `a=fingerprint` attribute; refuses unknown or
    /// forbidden hash functions and digests of the wrong length.
    pub fn from_sdp(attribute: &Fingerprint) -> Result<Self, DtlsError> {
        let name = &*attribute.hash_function;
        let hash =
            HashFunction::from_name(name).ok_or_else(|| DtlsError::UnsupportedHashFunction {
                name: attribute.hash_function.clone(),
            })?;
        Self::new(hash, &attribute.value)
    }

    /// The `a=fingerprint` attribute value for SDP.
    pub fn to_sdp(&self) -> Fingerprint {
        Fingerprint {
            hash_function: ByteString::from_static(self.hash.as_str()),
            value: self.digest.clone(),
        }
    }

    /// The hash function.
    pub fn hash_function(&self) -> HashFunction {
        self.hash
    }

    /// The digest bytes.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    /// Whether the certificate `der` has this fingerprint.
    pub fn matches(&self, der: &[u8]) -> bool {
        // Both sides are public (the fingerprint travels in SDP), so no constant-time compare.
        self.hash.digest(der) == self.digest
    }
}

impl fmt::Display for CertificateFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.hash.as_str())?;
        for (i, byte) in self.digest.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CertificateFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificateFingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_rtp_core::sdp::Attribute;

    fn sdp_fingerprint(line: &str) -> Fingerprint {
        match Attribute::parse(line) {
            Ok(Attribute::Fingerprint(fingerprint)) => fingerprint,
            other => panic!("not a fingerprint attribute: {other:?}"),
        }
    }

    #[test]
    fn sha256_of_abc_formats_as_rfc_8122_upper_case_hex() {
        // FIPS 180-2 test vector: SHA-256("abc").
        let fp = CertificateFingerprint::of_certificate(HashFunction::Sha256, b"abc");
        assert_eq!(
            fp.to_string(),
            "sha-256 BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn sdp_attribute_round_trips_through_the_rtp_core_parser() {
        let fp = CertificateFingerprint::of_certificate(HashFunction::Sha384, b"certificate");
        let parsed = sdp_fingerprint(&format!("fingerprint:{fp}"));
        assert_eq!(CertificateFingerprint::from_sdp(&parsed).unwrap(), fp);
        assert_eq!(fp.to_sdp(), parsed);
    }

    #[test]
    fn accepts_every_sha_hash_in_any_case() {
        for (name, hash) in [
            ("SHA-1", HashFunction::Sha1),
            ("sha-224", HashFunction::Sha224),
            ("Sha-256", HashFunction::Sha256),
            ("sha-384", HashFunction::Sha384),
            ("sha-512", HashFunction::Sha512),
        ] {
            let digest = hash.digest(b"x");
            let attr = Fingerprint {
                hash_function: ByteString::from(name),
                value: digest.clone(),
            };
            let fp = CertificateFingerprint::from_sdp(&attr).unwrap();
            assert_eq!(fp.hash_function(), hash);
            assert!(fp.matches(b"x"));
            assert!(!fp.matches(b"y"));
        }
    }

    #[test]
    fn refuses_md5_and_unknown_hash_functions() {
        for name in ["md5", "md2", "sha-3", ""] {
            let attr = Fingerprint {
                hash_function: ByteString::from(name),
                value: vec![0; 16],
            };
            assert!(matches!(
                CertificateFingerprint::from_sdp(&attr),
                Err(DtlsError::UnsupportedHashFunction { .. })
            ));
        }
    }

    #[test]
    fn refuses_a_digest_of_the_wrong_length() {
        let attr = Fingerprint {
            hash_function: ByteString::from_static("sha-256"),
            value: vec![0xab; 20],
        };
        assert_eq!(
            CertificateFingerprint::from_sdp(&attr),
            Err(DtlsError::FingerprintLength {
                hash_function: "sha-256",
                expected: 32,
                actual: 20
            })
        );
    }
}
