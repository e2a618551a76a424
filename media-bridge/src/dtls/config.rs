//! Settings shared by every DTLS association of a process: the certificate and the engine's
//! retransmission and size limits.

use std::sync::Arc;
use std::time::Duration;

use super::{DtlsCertificate, DtlsError};

/// The certificate and DTLS engine settings, built once and shared (cloning is cheap).
///
/// Building runs the crypto provider's self-tests (key exchange, signatures, AEAD): do it once at
/// start-up, not per call.
///
/// ```
/// use std::time::Duration;
/// use tandem_media_bridge::dtls::{DtlsCertificate, DtlsConfig};
/// let config = DtlsConfig::builder(DtlsCertificate::generate()?)
///     .mtu(1200)
///     .initial_retransmission_timeout(Duration::from_millis(500))
///     .build()?;
/// println!("a=fingerprint:{}", config.certificate().fingerprint());
/// # Ok::<(), tandem_media_bridge::dtls::DtlsError>(())
/// ```
#[derive(Clone)]
pub struct DtlsConfig {
    certificate: DtlsCertificate,
    engine: Arc<dimpl::Config>,
}

impl DtlsConfig {
    /// The default settings (see [`DtlsConfigBuilder`]) with `certificate`.
    pub fn new(certificate: DtlsCertificate) -> Result<Self, DtlsError> {
        Self::builder(certificate).build()
    }

    /// Settings to adjust before [`build`](DtlsConfigBuilder::build).
    pub fn builder(certificate: DtlsCertificate) -> DtlsConfigBuilder {
        DtlsConfigBuilder {
            certificate,
            mtu: DtlsConfigBuilder::DEFAULT_MTU,
            initial_rto: DtlsConfigBuilder::DEFAULT_INITIAL_RTO,
            retransmissions: DtlsConfigBuilder::DEFAULT_RETRANSMISSIONS,
            handshake_timeout: DtlsConfigBuilder::DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// The local certificate, whose fingerprint goes into SDP.
    pub fn certificate(&self) -> &DtlsCertificate {
        &self.certificate
    }

    pub(crate) fn engine(&self) -> Arc<dimpl::Config> {
        Arc::clone(&self.engine)
    }
}

impl core::fmt::Debug for DtlsConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DtlsConfig")
            .field("certificate", &self.certificate)
            .field("mtu", &self.engine.mtu())
            .field("initial_rto", &self.engine.flight_start_rto())
            .field("retransmissions", &self.engine.flight_retries())
            .field("handshake_timeout", &self.engine.handshake_timeout())
            .finish()
    }
}

/// Builder of a [`DtlsConfig`].
#[derive(Debug)]
#[must_use]
pub struct DtlsConfigBuilder {
    certificate: DtlsCertificate,
    mtu: usize,
    initial_rto: Duration,
    retransmissions: usize,
    handshake_timeout: Duration,
}

impl DtlsConfigBuilder {
    /// Default largest datagram sent, in bytes: below the 1200 bytes WebRTC assumes every path
    /// carries, leaving room for a TURN channel header.
    pub const DEFAULT_MTU: usize = 1150;
    /// Default first retransmission timeout (RFC 6347 §4.2.4.1), doubled per retry.
    pub const DEFAULT_INITIAL_RTO: Duration = Duration::from_secs(1);
    /// Default retransmissions of one flight before the handshake fails.
    pub const DEFAULT_RETRANSMISSIONS: usize = 4;
    /// Default time the whole handshake may take.
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(40);

    /// Largest datagram to send, in bytes (at least 64); handshake messages are fragmented to fit.
    pub fn mtu(mut self, bytes: usize) -> Self {
        self.mtu = bytes;
        self
    }

    /// First retransmission timeout of a flight; doubled (with ±25 % jitter) per retry.
    pub fn initial_retransmission_timeout(mut self, rto: Duration) -> Self {
        self.initial_rto = rto;
        self
    }

    /// How often a flight is retransmitted without answer before the handshake fails.
    pub fn retransmissions(mut self, count: usize) -> Self {
        self.retransmissions = count;
        self
    }

    /// Time the whole handshake may take before it fails.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Validates the settings and the crypto provider.
    pub fn build(self) -> Result<DtlsConfig, DtlsError> {
        // WebRTC authenticates both ends by certificate fingerprint, so the server must ask
        // for the client's certificate (RFC 8827 §6.5); dimpl does by default, we say it anyway.
        let engine = dimpl::Config::builder()
            .mtu(self.mtu)
            .flight_start_rto(self.initial_rto)
            .flight_retries(self.retransmissions)
            .handshake_timeout(self.handshake_timeout)
            .require_client_certificate(true)
            .build()
            .map_err(DtlsError::Config)?;
        Ok(DtlsConfig {
            certificate: self.certificate,
            engine: Arc::new(engine),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_an_mtu_too_small_for_a_record() {
        let cert = DtlsCertificate::generate().unwrap();
        let result = DtlsConfig::builder(cert).mtu(10).build();
        assert!(matches!(result, Err(DtlsError::Config(_))));
    }

    #[test]
    fn refuses_a_zero_retransmission_timeout() {
        let cert = DtlsCertificate::generate().unwrap();
        let result = DtlsConfig::builder(cert)
            .initial_retransmission_timeout(Duration::ZERO)
            .build();
        assert!(matches!(result, Err(DtlsError::Config(_))));
    }
}
