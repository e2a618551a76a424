//! What a context is configured with besides its keys.

use super::{ReplayWindow, SrtpProfile};

/// The settings of an SRTP context: profile, replay window, SRTCP encryption, stream limit.
///
/// ```
/// use tandem_rtp_core::srtp::{SrtpPolicy, SrtpProfile};
/// let policy = SrtpPolicy::new(SrtpProfile::AeadAes128Gcm).with_replay_window(512);
/// assert_eq!(policy.replay_window(), 512);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpPolicy {
    profile: SrtpProfile,
    replay_window: usize,
    encrypt_rtcp: bool,
    max_streams: usize,
}

impl SrtpPolicy {
    /// Default limit on SSRCs one context tracks; each costs about 100 bytes.
    pub const DEFAULT_MAX_STREAMS: usize = 64;

    /// `profile` with a 128-packet replay window, encrypted SRTCP and up to 64 SSRCs.
    pub fn new(profile: SrtpProfile) -> Self {
        SrtpPolicy {
            profile,
            replay_window: ReplayWindow::DEFAULT_SIZE,
            encrypt_rtcp: true,
            max_streams: Self::DEFAULT_MAX_STREAMS,
        }
    }

    /// Sets how many packet indices behind the highest one are still accepted (`1..=32768`,
    /// checked when the context is built), for SRTP and SRTCP alike.
    pub fn with_replay_window(mut self, packets: usize) -> Self {
        self.replay_window = packets;
        self
    }

    /// Whether outgoing SRTCP is encrypted (E flag set, the default) or only authenticated.
    /// Incoming SRTCP is accepted either way, as its E flag says.
    pub fn with_rtcp_encryption(mut self, encrypt: bool) -> Self {
        self.encrypt_rtcp = encrypt;
        self
    }

    /// Sets how many SSRCs the context tracks; packets of one more SSRC are refused with
    /// [`SrtpError::TooManyStreams`](super::SrtpError::TooManyStreams).
    pub fn with_max_streams(mut self, streams: usize) -> Self {
        self.max_streams = streams;
        self
    }

    /// The protection profile.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// The replay window size in packets.
    pub fn replay_window(&self) -> usize {
        self.replay_window
    }

    /// Whether outgoing SRTCP is encrypted.
    pub fn encrypts_rtcp(&self) -> bool {
        self.encrypt_rtcp
    }

    /// The SSRC limit.
    pub fn max_streams(&self) -> usize {
        self.max_streams
    }
}
