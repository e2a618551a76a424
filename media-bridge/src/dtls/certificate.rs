//! The local DTLS identity: an ECDSA P-256 key pair and a self-signed certificate, generated once
//! per process and announced by its fingerprint in SDP (RFC 8827 §6.5, RFC 8122).

use core::fmt;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};

use super::{CertificateFingerprint, DtlsError, HashFunction};

/// A self-signed ECDSA P-256 certificate with its private key, for DTLS.
///
/// WebRTC peers do not check names or chains, only that the certificate matches the
/// `a=fingerprint` of the SDP, so one certificate serves every session of a process:
///
/// ```
/// use tandem_media_bridge::dtls::DtlsCertificate;
/// let cert = DtlsCertificate::generate()?;
/// let line = format!("a=fingerprint:{}", cert.fingerprint());
/// assert!(line.starts_with("a=fingerprint:sha-256 "));
/// # Ok::<(), tandem_media_bridge::dtls::DtlsError>(())
/// ```
#[derive(Clone)]
pub struct DtlsCertificate {
    der: Vec<u8>,
    private_key_pkcs8: Vec<u8>,
    fingerprint: CertificateFingerprint,
}

impl DtlsCertificate {
    /// Common name of generated certificates; browsers use `WebRTC` likewise, nobody checks it.
    const COMMON_NAME: &'static str = "tandem";

    /// Generates a fresh P-256 key pair and a certificate valid from 1975 to 4096 (validity is
    /// not checked in WebRTC; a wide window avoids trouble with peers whose clock is off).
    pub fn generate() -> Result<Self, DtlsError> {
        Self::generate_with(CertificateParams::default())
    }

    fn generate_with(mut params: CertificateParams) -> Result<Self, DtlsError> {
        let key_pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(DtlsError::CertificateGeneration)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, Self::COMMON_NAME);
        params.distinguished_name = name;
        let certificate = params
            .self_signed(&key_pair)
            .map_err(DtlsError::CertificateGeneration)?;
        Ok(Self::from_parts(
            certificate.der().to_vec(),
            key_pair.serialize_der(),
        ))
    }

    fn from_parts(der: Vec<u8>, private_key_pkcs8: Vec<u8>) -> Self {
        let fingerprint = CertificateFingerprint::of_certificate(HashFunction::Sha256, &der);
        DtlsCertificate {
            der,
            private_key_pkcs8,
            fingerprint,
        }
    }

    /// A certificate bloated by `names` subject alternative names, to test peers whose
    /// certificate does not fit one datagram.
    #[cfg(test)]
    pub(crate) fn generate_large(names: usize) -> Self {
        let names: Vec<String> = (0..names)
            .map(|i| format!("name-{i}.tandem.invalid"))
            .collect();
        let params = CertificateParams::new(names).expect("valid names");
        Self::generate_with(params).expect("certificate")
    }

    /// The SHA-256 fingerprint to announce in `a=fingerprint` (what every browser accepts).
    pub fn fingerprint(&self) -> &CertificateFingerprint {
        &self.fingerprint
    }

    /// The certificate in DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate and key in the form the DTLS engine takes.
    pub(crate) fn to_engine(&self) -> dimpl::DtlsCertificate {
        dimpl::DtlsCertificate {
            certificate: self.der.clone(),
            private_key: self.private_key_pkcs8.clone(),
        }
    }
}

impl fmt::Debug for DtlsCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("DtlsCertificate")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificates_are_distinct_and_fingerprinted_with_sha256() {
        let a = DtlsCertificate::generate().unwrap();
        let b = DtlsCertificate::generate().unwrap();
        assert_ne!(a.der(), b.der());
        assert_eq!(a.fingerprint().hash_function(), HashFunction::Sha256);
        assert!(a.fingerprint().matches(a.der()));
        assert!(!a.fingerprint().matches(b.der()));
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let cert = DtlsCertificate::generate().unwrap();
        let debug = format!("{cert:?}");
        assert!(debug.contains("sha-256"));
        assert!(!debug.contains("private"));
    }
}
