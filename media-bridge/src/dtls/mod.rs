//! DTLS-SRTP (RFC 5764) for WebRTC legs, sans-IO, on the [`dimpl`](https://docs.rs/dimpl) DTLS
//! engine.
//!
//! A process generates one [`DtlsCertificate`] and announces its [`fingerprint`]
//! (`a=fingerprint:sha-256 …`) in every SDP it sends. Per WebRTC leg, the `a=setup` attributes
//! decide the [`DtlsRole`] (RFC 8842), the peer's `a=fingerprint` becomes a
//! [`CertificateFingerprint`], and a [`DtlsTransport`] runs the handshake on the datagrams the
//! demultiplexer classifies as DTLS (RFC 7983). When it reports [`DtlsEvent::Connected`], the
//! [`SrtpKeys`] give the SRTP contexts of `tandem-rtp-core`:
//!
//! ```
//! use std::time::Instant;
//! use tandem_media_bridge::dtls::{DtlsCertificate, DtlsConfig, DtlsEvent, DtlsRole, DtlsTransport};
//!
//! let ours = DtlsConfig::new(DtlsCertificate::generate()?)?;
//! let theirs = DtlsConfig::new(DtlsCertificate::generate()?)?;
//! let now = Instant::now();
//! // Each side got the other's fingerprint from SDP.
//! let mut client = DtlsTransport::new(&ours, DtlsRole::Client, Some(theirs.certificate().fingerprint().clone()), now);
//! let mut server = DtlsTransport::new(&theirs, DtlsRole::Server, Some(ours.certificate().fingerprint().clone()), now);
//! // An I/O loop sends what poll_transmit gives and feeds what arrives; here, in memory.
//! for _ in 0..10 {
//!     while let Some(datagram) = client.poll_transmit() { server.handle_packet(now, &datagram); }
//!     while let Some(datagram) = server.poll_transmit() { client.handle_packet(now, &datagram); }
//! }
//! let Some(DtlsEvent::Connected { keys, .. }) = client.poll_event() else { panic!("not connected") };
//! let mut outbound = keys.outbound_context(&keys.policy())?; // protect what we send
//! let mut inbound = keys.inbound_context(&keys.policy())?; // unprotect what we receive
//! # Ok::<(), tandem_media_bridge::dtls::DtlsError>(())
//! ```
//!
//! [`fingerprint`]: DtlsCertificate::fingerprint

mod certificate;
mod config;
mod error;
mod fingerprint;
mod role;
mod srtp_keys;
mod transport;

pub use certificate::DtlsCertificate;
pub use config::{DtlsConfig, DtlsConfigBuilder};
pub use error::DtlsError;
pub use fingerprint::{CertificateFingerprint, HashFunction};
pub use role::DtlsRole;
pub use srtp_keys::SrtpKeys;
pub use transport::{DtlsEvent, DtlsTransport};
