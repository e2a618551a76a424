//! The SRTP cryptographic context: keys, per-SSRC rollover and replay state, and the four verbs.

use core::fmt;

use super::header::{RtpHeader, rtcp_ssrc};
use super::key_derivation::{SRTCP_LABELS, SRTP_LABELS, SessionKeys};
use super::packet_index::{estimate_index, roc_of};
use super::provider::{CryptoProvider, default_provider};
use super::transform::{MAX_SRTCP_INDEX, SrtcpTrailer, Transform};
use super::{ReplayWindow, SrtpError, SrtpPolicy, SrtpProfile};

/// An SRTP/SRTCP cryptographic context (RFC 3711 §3.2) for one direction of one session.
///
/// Use one context to protect what you send and another, built from the peer's master key, to
/// unprotect what you receive: each tracks, per SSRC, the rollover counter, the replay window
/// and the SRTCP index. All work happens in place on the caller's buffer, without allocating:
///
/// - [`protect_rtp`](Self::protect_rtp) / [`protect_rtcp`](Self::protect_rtcp) take the whole
///   buffer and the packet length `len`, encrypt `buf[..len]` and append the trailer behind it,
///   so `buf` needs [`SrtpProfile::rtp_overhead`] (resp. `rtcp_overhead`) spare bytes; they
///   return the protected length.
/// - [`unprotect_rtp`](Self::unprotect_rtp) / [`unprotect_rtcp`](Self::unprotect_rtcp) take
///   exactly the received packet, check and decrypt it in place and return the plain length.
///
/// A relay can thus unprotect with one context and protect with another in the same buffer.
/// State (rollover counter, replay window) moves only for packets that authenticate; protecting
/// an index twice is refused like a replay, since it would reuse keystream.
pub struct SrtpContext {
    profile: SrtpProfile,
    encrypt_rtcp: bool,
    rtp: Transform,
    rtcp: Transform,
    streams: StreamTable,
}

impl SrtpContext {
    /// A context for `policy` with the master key and salt (from SDES or DTLS-SRTP), on the
    /// [`default_provider`].
    pub fn new(
        policy: &SrtpPolicy,
        master_key: &[u8],
        master_salt: &[u8],
    ) -> Result<Self, SrtpError> {
        Self::with_provider(policy, master_key, master_salt, default_provider())
    }

    /// As [`SrtpContext::new`], with the crypto of `provider`.
    pub fn with_provider(
        policy: &SrtpPolicy,
        master_key: &[u8],
        master_salt: &[u8],
        provider: &dyn CryptoProvider,
    ) -> Result<Self, SrtpError> {
        let profile = policy.profile();
        if master_key.len() != profile.master_key_len() {
            return Err(SrtpError::MasterKeyLength {
                expected: profile.master_key_len(),
                actual: master_key.len(),
            });
        }
        if master_salt.len() != profile.master_salt_len() {
            return Err(SrtpError::MasterSaltLength {
                expected: profile.master_salt_len(),
                actual: master_salt.len(),
            });
        }
        let prf = provider.aes_cm(master_key)?;
        let rtp_keys = SessionKeys::derive(&*prf, profile, master_salt, SRTP_LABELS);
        let rtcp_keys = SessionKeys::derive(&*prf, profile, master_salt, SRTCP_LABELS);
        Self::from_session_keys(policy, provider, &rtp_keys, &rtcp_keys)
    }

    pub(crate) fn from_session_keys(
        policy: &SrtpPolicy,
        provider: &dyn CryptoProvider,
        rtp_keys: &SessionKeys,
        rtcp_keys: &SessionKeys,
    ) -> Result<Self, SrtpError> {
        let profile = policy.profile();
        ReplayWindow::new(policy.replay_window())?;
        Ok(SrtpContext {
            profile,
            encrypt_rtcp: policy.encrypts_rtcp(),
            rtp: Transform::new(provider, profile, rtp_keys, profile.rtp_overhead())?,
            rtcp: Transform::new(provider, profile, rtcp_keys, profile.rtcp_tag_len())?,
            streams: StreamTable::new(policy.max_streams(), policy.replay_window()),
        })
    }

    /// The protection profile.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// Protects the RTP packet `buf[..len]` in place: encrypts its payload and appends the
    /// authentication tag. Returns the SRTP packet length, `len + profile.rtp_overhead()`.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let available = buf.len();
        let packet = buf.get(..len).ok_or(SrtpError::BufferTooSmall {
            needed: len,
            available,
        })?;
        let header = RtpHeader::read(packet)?;
        let stream = self.streams.get_or_insert(header.ssrc)?;
        let index = estimate_index(
            stream.rtp_replay.highest(),
            stream.initial_roc,
            header.sequence,
        )?;
        stream.rtp_replay.check(index)?;
        let protected = self
            .rtp
            .protect_rtp(buf, header.len, len, header.ssrc, index)?;
        stream.rtp_replay.accept(index);
        Ok(protected)
    }

    /// Unprotects the SRTP packet `packet` in place: checks replay and authentication, then
    /// decrypts. Returns the RTP packet length (`packet[..len]`).
    pub fn unprotect_rtp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let header = RtpHeader::read(packet)?;
        if let Some(stream) = self.streams.find_mut(header.ssrc) {
            let index = estimate_index(
                stream.rtp_replay.highest(),
                stream.initial_roc,
                header.sequence,
            )?;
            stream.rtp_replay.check(index)?;
            let len = self
                .rtp
                .unprotect_rtp(packet, header.len, header.ssrc, index)?;
            stream.rtp_replay.accept(index);
            return Ok(len);
        }
        // A new SSRC gets a table slot only once its first packet authenticates.
        self.streams.check_room()?;
        let index = estimate_index(None, 0, header.sequence)?;
        let len = self
            .rtp
            .unprotect_rtp(packet, header.len, header.ssrc, index)?;
        self.streams
            .get_or_insert(header.ssrc)?
            .rtp_replay
            .accept(index);
        Ok(len)
    }

    /// Protects the RTCP packet (or compound packet) `buf[..len]` in place: encrypts it unless
    /// the policy turned SRTCP encryption off, appends E flag, SRTCP index and tag. Returns the
    /// SRTCP packet length, `len + profile.rtcp_overhead()`.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let available = buf.len();
        let packet = buf.get(..len).ok_or(SrtpError::BufferTooSmall {
            needed: len,
            available,
        })?;
        let ssrc = rtcp_ssrc(packet)?;
        let stream = self.streams.get_or_insert(ssrc)?;
        let index = stream.next_srtcp_index;
        if index > MAX_SRTCP_INDEX {
            return Err(SrtpError::IndexExhausted);
        }
        let trailer = SrtcpTrailer {
            index,
            encrypted: self.encrypt_rtcp,
        };
        let protected = self.rtcp.protect_rtcp(buf, len, ssrc, trailer)?;
        stream.next_srtcp_index = index + 1;
        Ok(protected)
    }

    /// Unprotects the SRTCP packet `packet` in place: checks replay of its SRTCP index and
    /// authentication, then decrypts if its E flag is set. Returns the RTCP packet length.
    pub fn unprotect_rtcp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let ssrc = rtcp_ssrc(packet)?;
        let trailer = self.rtcp.srtcp_trailer(packet)?;
        let index = u64::from(trailer.index);
        if let Some(stream) = self.streams.find_mut(ssrc) {
            stream.rtcp_replay.check(index)?;
            let len = self.rtcp.unprotect_rtcp(packet, ssrc, trailer)?;
            stream.rtcp_replay.accept(index);
            return Ok(len);
        }
        self.streams.check_room()?;
        let len = self.rtcp.unprotect_rtcp(packet, ssrc, trailer)?;
        self.streams.get_or_insert(ssrc)?.rtcp_replay.accept(index);
        Ok(len)
    }

    /// The rollover counter of `ssrc`'s highest accepted SRTP packet, or the one assumed for
    /// its first packet; `None` for an SSRC not seen yet.
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        let stream = self.streams.find(ssrc)?;
        Some(
            stream
                .rtp_replay
                .highest()
                .map_or(stream.initial_roc, roc_of),
        )
    }

    /// Sets the rollover counter to assume for the next SRTP packet of `ssrc` (as signalled by
    /// key management, or when joining a stream in progress) and forgets its SRTP replay history.
    pub fn set_roc(&mut self, ssrc: u32, roc: u32) -> Result<(), SrtpError> {
        let stream = self.streams.get_or_insert(ssrc)?;
        stream.initial_roc = roc;
        stream.rtp_replay.reset();
        Ok(())
    }

    /// Sets the next SRTCP index `protect_rtcp` uses for `ssrc` (for known-answer tests).
    #[cfg(test)]
    pub(crate) fn set_next_srtcp_index(&mut self, ssrc: u32, index: u32) {
        if let Ok(stream) = self.streams.get_or_insert(ssrc) {
            stream.next_srtcp_index = index;
        }
    }
}

impl fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("encrypt_rtcp", &self.encrypt_rtcp)
            .field("streams", &self.streams.streams.len())
            .finish_non_exhaustive()
    }
}

/// Per-SSRC state (RFC 3711 §3.2.1, §3.2.3).
#[derive(Debug)]
struct Stream {
    ssrc: u32,
    /// ROC assumed for the first SRTP packet: 0 unless set.
    initial_roc: u32,
    /// SRTP replay window; its highest index is `ROC || s_l`.
    rtp_replay: ReplayWindow,
    rtcp_replay: ReplayWindow,
    /// The SRTCP index of the next packet sent (RFC 3711 §3.3.2: starts at 0).
    next_srtcp_index: u32,
}

/// The streams of a context: a short vector searched linearly (sessions carry few SSRCs), with
/// the last hit checked first. It grows only when a new SSRC is admitted, up to `limit`.
#[derive(Debug)]
struct StreamTable {
    streams: Vec<Stream>,
    last: usize,
    limit: usize,
    replay_window: usize,
}

impl StreamTable {
    fn new(limit: usize, replay_window: usize) -> Self {
        StreamTable {
            streams: Vec::new(),
            last: 0,
            limit,
            replay_window,
        }
    }

    fn position(&self, ssrc: u32) -> Option<usize> {
        match self.streams.get(self.last) {
            Some(stream) if stream.ssrc == ssrc => Some(self.last),
            _ => self.streams.iter().position(|stream| stream.ssrc == ssrc),
        }
    }

    fn find(&self, ssrc: u32) -> Option<&Stream> {
        self.streams.get(self.position(ssrc)?)
    }

    fn find_mut(&mut self, ssrc: u32) -> Option<&mut Stream> {
        let position = self.position(ssrc)?;
        self.last = position;
        self.streams.get_mut(position)
    }

    fn check_room(&self) -> Result<(), SrtpError> {
        if self.streams.len() >= self.limit {
            return Err(SrtpError::TooManyStreams { limit: self.limit });
        }
        Ok(())
    }

    fn get_or_insert(&mut self, ssrc: u32) -> Result<&mut Stream, SrtpError> {
        let position = match self.position(ssrc) {
            Some(position) => position,
            None => {
                self.check_room()?;
                self.streams.push(Stream {
                    ssrc,
                    initial_roc: 0,
                    rtp_replay: ReplayWindow::new(self.replay_window)?,
                    rtcp_replay: ReplayWindow::new(self.replay_window)?,
                    next_srtcp_index: 0,
                });
                self.streams.len() - 1
            }
        };
        self.last = position;
        self.streams
            .get_mut(position)
            .ok_or(SrtpError::TooManyStreams { limit: self.limit })
    }
}
