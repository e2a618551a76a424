//! `tandem proxy`: the SIP edge of the reference stack — a transaction-stateful proxy with a registrar
//! (digest authentication), parallel forking to registered contacts, dispatcher sets for configured
//! Request-URI prefixes, Record-Route and loose routing, and a pike-like anti-flood guard.
//!
//! The protocol rules are sans-IO: the §16 proxy core is `tandem_sip_core::proxy`, the anti-flood guard is
//! [`flood`]; [`server`] is the async driver on sip-core's transport and transaction layers.

pub mod admin;
pub mod config;
mod dispatcher_wake;
pub mod flood;
pub mod metrics;
pub mod server;
pub mod store;
mod trim;

pub use config::ProxyConfig;
pub use server::{ProxyError, RunningProxy, start};
pub use store::{ProxyStore, StoreSpec};
