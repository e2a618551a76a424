//! The crate's one error type, nesting each layer's own error.

/// Any error from this crate. Each variant wraps the error type of one layer, which carries the
/// details.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// DTLS-SRTP: certificate, fingerprint, handshake or key export.
    #[error(transparent)]
    Dtls(#[from] crate::dtls::DtlsError),
}
