//! The Tandem reference stack as a library, so that the `tandem` binary and the integration tests share it.
#![warn(missing_docs, unreachable_pub)]

pub mod config;
pub mod limits;
pub mod media;
pub mod proxy;
