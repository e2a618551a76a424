//! `tandem media`: the media relay daemon (the rtpengine role) — media-bridge's [`MediaRelay`] (worker
//! threads, batched socket I/O, latching, SRTP/DTLS ↔ RTP translation) controlled over the NG protocol
//! (Kamailio's `rtpengine` module talks to it unchanged), with Prometheus metrics.
//!
//! [`MediaRelay`]: tandem_media_bridge::MediaRelay

pub mod config;
pub mod metrics;
pub mod server;

pub use config::MediaConfig;
pub use server::{MediaError, RunningMedia, start};
