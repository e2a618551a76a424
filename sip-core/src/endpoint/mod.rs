//! The endpoint: what turns the sans-IO layers into a running SIP user agent.
//!
//! - [`UserAgent`] (always available, sans-IO): the transaction user core above the
//!   [`crate::transaction::TransactionLayer`] — request screening, CANCEL, dialogs, 2xx retransmission and
//!   ACK, digest retries.
//! - `Endpoint` (feature `tokio`): the async driver owning the transports and a [`UserAgent`], with the
//!   application API (client transaction handles, incoming server transactions, dialog helpers, a B2BUA).

mod addressing;
mod error;
mod ok_retransmission;
mod user_agent;

pub use addressing::target_for_uri;
pub use error::EndpointError;
pub use user_agent::{
    DialogEnd, DialogRef, IncomingRequest, Outbound, RequestId, RequestOutcome, UaEvent, UaLoad,
    UserAgent, UserAgentConfig,
};
