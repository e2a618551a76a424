//! The crate's error type.

/// Every error this crate returns, one variant per layer.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An NG control request could not be decoded (see [`crate::ng::NgError`]).
    #[error(transparent)]
    Ng(#[from] crate::ng::NgError),
}
