//! The crate's error type.

use crate::ice::IceError;
use crate::ng::NgError;
use crate::stun::StunError;

/// Every error this crate returns, one variant per layer.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A STUN message could not be parsed, verified or written.
    #[error("STUN: {0}")]
    Stun(#[from] StunError),
    /// The ICE agent refused an operation (bad credentials, candidate limits, no randomness).
    #[error("ICE: {0}")]
    Ice(#[from] IceError),
    /// An NG control request could not be decoded (see [`crate::ng::NgError`]).
    #[error(transparent)]
    Ng(#[from] NgError),
}
