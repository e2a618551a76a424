//! SRTP and SRTCP (RFC 3711) with the AES-CM/HMAC-SHA1 and AES-GCM (RFC 7714) profiles, in place
//! on caller buffers and without allocating per packet.
//!
//! An [`SrtpContext`] holds the session keys derived from a master key and salt (as SDES or
//! DTLS-SRTP deliver them), and per SSRC the rollover counter, replay window and SRTCP index.
//! Protect with the context of your own keys, unprotect with the context of the peer's:
//!
//! ```
//! use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};
//! let policy = SrtpPolicy::new(SrtpProfile::Aes128CmHmacSha1_80);
//! let (key, salt) = ([7u8; 16], [9u8; 14]); // from a=crypto or the DTLS-SRTP exporter
//! let mut sender = SrtpContext::new(&policy, &key, &salt)?;
//! let mut receiver = SrtpContext::new(&policy, &key, &salt)?;
//! let mut buf = [0u8; 1500]; // RTP header + 160-byte payload, room for the tag behind
//! buf[..12].copy_from_slice(&[0x80, 0, 0, 1, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe]);
//! let srtp_len = sender.protect_rtp(&mut buf, 12 + 160)?; // encrypts, appends the tag
//! let rtp_len = receiver.unprotect_rtp(&mut buf[..srtp_len])?; // authenticates, decrypts
//! assert_eq!((srtp_len, rtp_len), (182, 172));
//! # Ok::<(), tandem_rtp_core::srtp::SrtpError>(())
//! ```
//!
//! Not supported: MKI, key derivation rates other than 0, the NULL cipher, RFC 6904 header
//! extension encryption.

mod context;
mod error;
mod key_derivation;
mod packet_index;
mod policy;
mod profile;
pub mod provider;
mod replay;
#[cfg(test)]
mod test_vectors;
mod transform;

pub use context::SrtpContext;
pub use error::SrtpError;
pub use policy::SrtpPolicy;
pub use profile::SrtpProfile;
pub use replay::ReplayWindow;
