//! An ICE-lite agent (RFC 8445 §2.5) for the relay side of one rtcp-muxed media stream.
//!
//! A lite agent gathers only host candidates, sends no connectivity checks and is always the controlled
//! agent: it answers the peer's Binding requests, learns the pair the peer nominates with USE-CANDIDATE, and
//! — because it never checks on its own — treats every authenticated incoming check as proof the peer is
//! still there (consent freshness, RFC 7675). Browsers drop ICE-lite peers that stop answering, so every
//! valid check is answered at once.
//!
//! Sans-IO, quinn style: feed [`IceAgent::handle_binding_request`] with datagrams and the current time,
//! send back what it returns, and drive [`IceAgent::poll_timeout`] / [`IceAgent::handle_timeout`] /
//! [`IceAgent::poll_event`].
//!
//! ```
//! use tandem_media_bridge::ice::{Credentials, IceAgent, IceConfig};
//!
//! let mut agent = IceAgent::new(IceConfig::default())?;
//! agent.add_host_candidate("203.0.113.7:30000".parse().unwrap())?;
//! agent.set_remote_credentials(Credentials::new("Brws", "browser+password+0123456789")?);
//! for line in agent.sdp().lines() {
//!     println!("{line}"); // a=ice-lite, a=ice-ufrag:…, a=ice-pwd:…, a=candidate:…, a=end-of-candidates
//! }
//! assert_eq!(agent.poll_timeout(), None); // consent is armed by the first valid check
//! # Ok::<(), tandem_media_bridge::ice::IceError>(())
//! ```

mod agent;
mod candidate;
mod consent;
mod credentials;
mod sdp;

use std::net::SocketAddr;

pub use agent::{BindingResponse, IceAgent, IceConfig, MAX_HOST_CANDIDATES};
pub use candidate::Candidate;
pub use credentials::Credentials;
pub use sdp::{IceSdp, SdpAttribute};

/// What the agent reports to its owner, drained with [`IceAgent::poll_event`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The peer nominated (or re-nominated) the pair ending at this remote address: send media there.
    Selected(SocketAddr),
    /// No valid check (nor authenticated media) arrived for the consent timeout: the leg is dead.
    ConsentExpired,
}

/// Why the ICE agent refused an operation.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IceError {
    /// An `ice-ufrag` or `ice-pwd` breaks RFC 8839's grammar.
    #[error("invalid {field} at character {offset}: expected {expected}")]
    InvalidCredential {
        /// `"ice-ufrag"` or `"ice-pwd"`.
        field: &'static str,
        /// Offset of the offending character (or the length, for a length problem).
        offset: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// The system's random number generator failed, so no credentials could be made.
    #[error("no system randomness for ICE credentials")]
    Randomness,
    /// A host candidate address cannot be advertised (unspecified address, port 0, or a duplicate).
    #[error("host candidate {address}: expected {expected}")]
    InvalidCandidate {
        /// The refused address.
        address: SocketAddr,
        /// What was expected.
        expected: &'static str,
    },
    /// More than [`MAX_HOST_CANDIDATES`] host candidates.
    #[error("too many host candidates (at most {MAX_HOST_CANDIDATES})")]
    TooManyCandidates,
}
