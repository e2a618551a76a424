//! The crate's one error type, nesting each layer's own error.

use crate::dtls::DtlsError;
use crate::ice::IceError;
use crate::ng::NgError;
use crate::session::SessionError;
use crate::stun::StunError;
use crate::worker::WorkerError;

/// Any error from this crate. Each variant wraps the error type of one layer, which carries the details.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A STUN message could not be parsed, verified or written.
    #[error("STUN: {0}")]
    Stun(#[from] StunError),
    /// The ICE agent refused an operation (bad credentials, candidate limits, no randomness).
    #[error("ICE: {0}")]
    Ice(#[from] IceError),
    /// DTLS-SRTP: certificate, fingerprint, handshake or key export.
    #[error(transparent)]
    Dtls(#[from] DtlsError),
    /// An NG control request could not be decoded (see [`crate::ng::NgError`]).
    #[error(transparent)]
    Ng(#[from] NgError),
    /// The relay's control plane refused an offer, answer, delete or query.
    #[error("session: {0}")]
    Session(#[from] SessionError),
    /// The packet path could not start (sockets, threads) or has stopped.
    #[error("data plane: {0}")]
    Worker(#[from] WorkerError),
}
