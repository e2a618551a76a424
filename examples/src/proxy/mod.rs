//! `tandem proxy`: the SIP edge of the reference stack — a transaction-stateful proxy with a registrar
//! (digest authentication), parallel forking to registered contacts, dispatcher sets for configured
//! Request-URI prefixes, Record-Route and loose routing, and a pike-like anti-flood guard.
//!
//! The protocol rules are sans-IO ([`forward`], [`response_context`], [`flood`]); [`server`] is the async
//! driver on sip-core's transport and transaction layers.

pub mod admin;
pub mod config;
pub mod flood;
pub mod forward;
pub mod metrics;
pub mod response_context;
pub mod server;
pub mod store;

pub use config::ProxyConfig;
pub use server::{ProxyError, RunningProxy, start};
pub use store::{ProxyStore, StoreSpec};
