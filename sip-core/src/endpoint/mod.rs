//! The endpoint: what turns the sans-IO layers into a running SIP user agent.
//!
//! - [`UserAgent`] (always available, sans-IO): the transaction user core above the
//!   [`crate::transaction::TransactionLayer`] — request screening, CANCEL, dialogs, 2xx retransmission and
//!   ACK, digest retries.
//! - `Endpoint` (feature `tokio`): the async driver owning the transports and a [`UserAgent`], with the
//!   application API (client transaction handles, incoming server transactions, dialog helpers, a B2BUA).

mod addressing;
#[cfg(feature = "tokio")]
mod driver;
mod error;
#[cfg(feature = "tokio")]
mod handles;
mod ok_retransmission;
#[cfg(feature = "tokio")]
mod outgoing;
#[cfg(feature = "tokio")]
mod sessions;
mod user_agent;

pub use addressing::target_for_uri;
pub use error::EndpointError;
pub use user_agent::{
    DialogEnd, DialogRef, IncomingRequest, Outbound, RequestId, RequestOutcome, UaEvent, UaLoad,
    UserAgent, UserAgentConfig,
};

#[cfg(feature = "tokio")]
pub use driver::{Endpoint, EndpointBuilder};
#[cfg(feature = "tokio")]
pub use handles::{
    ClientTransactionHandle, DialogEvent, DialogHandle, DialogRequest, ServerTransaction,
};
#[cfg(feature = "tokio")]
pub use outgoing::{OutgoingRequest, resolve};
#[cfg(feature = "tokio")]
pub use sessions::{B2bua, Leg};
