//! The SRTP cryptographic context: keys, per-SSRC rollover and replay state, and the four verbs.

use core::fmt;

use super::key_derivation::{SRTCP_LABELS, SRTP_LABELS, SessionKeys};
use super::packet_index::{estimate_index, roc_of};
use super::provider::{CryptoProvider, default_provider};
use super::transform::{MAX_SRTCP_INDEX, SrtcpTrailer, Transform, prefix_mut};
use super::{ReplayWindow, SrtpError, SrtpPolicy, SrtpProfile};
use crate::rtcp::first_ssrc;
use crate::rtp::RtpPacket;

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
        let packet = prefix_mut(buf, len)?;
        let header = HeaderFields::read(packet)?;
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
        let header = HeaderFields::read(packet)?;
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
        let packet = prefix_mut(buf, len)?;
        let ssrc = first_ssrc(packet)?;
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
        let ssrc = first_ssrc(packet)?;
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

/// The RTP header fields SRTP works with, read through the RTP module's header view (the payload
/// may be ciphertext, so padding is not interpreted).
struct HeaderFields {
    /// Bytes up to the payload: fixed header, CSRC list, header extension (never encrypted).
    len: usize,
    sequence: u16,
    ssrc: u32,
}

impl HeaderFields {
    fn read(packet: &[u8]) -> Result<Self, SrtpError> {
        let header = RtpPacket::parse_header(packet)?;
        Ok(HeaderFields {
            len: header.header_len(),
            sequence: header.sequence_number(),
            ssrc: header.ssrc(),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    const SSRC: u32 = 0x1234_5678;

    fn policy() -> SrtpPolicy {
        SrtpPolicy::new(SrtpProfile::Aes128CmHmacSha1_80)
    }

    fn context(policy: SrtpPolicy) -> SrtpContext {
        SrtpContext::new(&policy, &[0x11; 16], &[0x22; 14]).unwrap()
    }

    /// An RTP packet of `ssrc` with sequence number `seq` and a payload derived from it.
    fn rtp(ssrc: u32, seq: u16) -> Vec<u8> {
        let mut packet = vec![0x80, 0];
        packet.extend_from_slice(&seq.to_be_bytes());
        packet.extend_from_slice(&[0, 0, 0, 0]);
        packet.extend_from_slice(&ssrc.to_be_bytes());
        packet.extend((0..20).map(|i| (seq as u8).wrapping_add(i)));
        packet
    }

    fn protect(sender: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
        let mut buf = plain.to_vec();
        buf.resize(plain.len() + 32, 0);
        let len = sender.protect_rtp(&mut buf, plain.len()).unwrap();
        buf.truncate(len);
        buf
    }

    fn unprotect(receiver: &mut SrtpContext, srtp: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let mut buf = srtp.to_vec();
        let len = receiver.unprotect_rtp(&mut buf)?;
        buf.truncate(len);
        Ok(buf)
    }

    #[test]
    fn the_rollover_counter_advances_across_a_sequence_wrap() {
        let (mut sender, mut receiver) = (context(policy()), context(policy()));
        for seq in (65_530..=65_535).chain(0..=5) {
            let srtp = protect(&mut sender, &rtp(SSRC, seq));
            assert_eq!(
                unprotect(&mut receiver, &srtp).unwrap(),
                rtp(SSRC, seq),
                "seq {seq}"
            );
        }
        assert_eq!(sender.roc(SSRC), Some(1));
        assert_eq!(receiver.roc(SSRC), Some(1));
    }

    #[test]
    fn packets_reordered_around_the_wrap_keep_their_own_rollover_counter() {
        let (mut sender, mut receiver) = (context(policy()), context(policy()));
        let sent: Vec<(u16, Vec<u8>)> = [65_533, 65_534, 65_535, 0, 1, 2]
            .into_iter()
            .map(|seq| (seq, protect(&mut sender, &rtp(SSRC, seq))))
            .collect();
        for position in [0, 3, 2, 4, 1, 5] {
            let (seq, srtp) = &sent[position];
            assert_eq!(
                unprotect(&mut receiver, srtp).unwrap(),
                rtp(SSRC, *seq),
                "seq {seq}"
            );
        }
        assert_eq!(receiver.roc(SSRC), Some(1));
    }

    #[test]
    fn a_replayed_packet_is_rejected() {
        let (mut sender, mut receiver) = (context(policy()), context(policy()));
        let first = protect(&mut sender, &rtp(SSRC, 7));
        let second = protect(&mut sender, &rtp(SSRC, 8));
        unprotect(&mut receiver, &first).unwrap();
        unprotect(&mut receiver, &second).unwrap();
        assert_eq!(
            unprotect(&mut receiver, &first),
            Err(SrtpError::Replayed { index: 7 })
        );
        assert_eq!(
            unprotect(&mut receiver, &second),
            Err(SrtpError::Replayed { index: 8 })
        );
    }

    #[test]
    fn a_packet_older_than_the_window_is_rejected() {
        let small = policy().with_replay_window(64);
        let (mut sender, mut receiver) = (context(small), context(small));
        let old = protect(&mut sender, &rtp(SSRC, 100));
        let new = protect(&mut sender, &rtp(SSRC, 164));
        unprotect(&mut receiver, &new).unwrap();
        assert_eq!(
            unprotect(&mut receiver, &old),
            Err(SrtpError::TooOld { index: 100 })
        );
    }

    #[test]
    fn a_forged_packet_moves_neither_the_rollover_counter_nor_the_window() {
        let (mut sender, mut receiver) = (context(policy()), context(policy()));
        unprotect(&mut receiver, &protect(&mut sender, &rtp(SSRC, 65_000))).unwrap();
        // Sequence number 100 would be read as the next rollover; its tag is garbage.
        let mut forged = protect(&mut context(policy()), &rtp(SSRC, 100));
        let last = forged.len() - 1;
        forged[last] ^= 0xff;
        assert_eq!(
            unprotect(&mut receiver, &forged),
            Err(SrtpError::AuthenticationFailed)
        );
        assert_eq!(receiver.roc(SSRC), Some(0));
        // The genuine packets around it still pass, including the genuine 100 of ROC 1.
        for seq in (65_001..=65_535).step_by(89).chain([0, 100]) {
            let srtp = protect(&mut sender, &rtp(SSRC, seq));
            assert_eq!(
                unprotect(&mut receiver, &srtp).unwrap(),
                rtp(SSRC, seq),
                "seq {seq}"
            );
        }
        assert_eq!(receiver.roc(SSRC), Some(1));
    }

    #[test]
    fn protecting_the_same_index_twice_is_refused() {
        let mut sender = context(policy());
        protect(&mut sender, &rtp(SSRC, 1));
        let mut buf = rtp(SSRC, 1);
        buf.resize(64, 0);
        assert_eq!(
            sender.protect_rtp(&mut buf, 32),
            Err(SrtpError::Replayed { index: 1 })
        );
    }

    #[test]
    fn a_signalled_rollover_counter_lets_a_receiver_join_a_stream_in_progress() {
        let mut sender = context(policy());
        sender.set_roc(SSRC, 5).unwrap();
        let srtp = protect(&mut sender, &rtp(SSRC, 10));
        assert_eq!(
            unprotect(&mut context(policy()), &srtp),
            Err(SrtpError::AuthenticationFailed)
        );
        let mut receiver = context(policy());
        receiver.set_roc(SSRC, 5).unwrap();
        assert_eq!(unprotect(&mut receiver, &srtp).unwrap(), rtp(SSRC, 10));
        assert_eq!(receiver.roc(SSRC), Some(5));
    }

    fn rtcp(ssrc: u32) -> Vec<u8> {
        let mut packet = vec![0x80, 201, 0, 7];
        packet.extend_from_slice(&ssrc.to_be_bytes());
        packet.extend((0..24).map(|i| i as u8));
        packet
    }

    fn protect_rtcp(sender: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
        let mut buf = plain.to_vec();
        buf.resize(plain.len() + 32, 0);
        let len = sender.protect_rtcp(&mut buf, plain.len()).unwrap();
        buf.truncate(len);
        buf
    }

    #[test]
    fn srtcp_indices_count_from_zero_and_replays_are_rejected() {
        for profile in SrtpProfile::ALL {
            let policy = SrtpPolicy::new(profile);
            let key = vec![1u8; profile.master_key_len()];
            let salt = vec![2u8; profile.master_salt_len()];
            let mut sender = SrtpContext::new(&policy, &key, &salt).unwrap();
            let mut receiver = SrtpContext::new(&policy, &key, &salt).unwrap();
            let first = protect_rtcp(&mut sender, &rtcp(SSRC));
            let second = protect_rtcp(&mut sender, &rtcp(SSRC));
            // E flag set, index 0: before the tag for AES-CM, last for AEAD (RFC 7714 §9.1).
            let word_at = if profile.is_aead() {
                first.len() - 4
            } else {
                first.len() - 14
            };
            assert_eq!(first[word_at..word_at + 4], [0x80, 0, 0, 0], "{profile:?}");
            for srtcp in [&first, &second] {
                let mut buf = srtcp.clone();
                assert_eq!(
                    receiver.unprotect_rtcp(&mut buf),
                    Ok(rtcp(SSRC).len()),
                    "{profile:?}"
                );
                assert_eq!(buf[..rtcp(SSRC).len()], rtcp(SSRC));
            }
            let mut replay = first.clone();
            assert_eq!(
                receiver.unprotect_rtcp(&mut replay),
                Err(SrtpError::Replayed { index: 0 })
            );
        }
    }

    #[test]
    fn unencrypted_srtcp_leaves_the_report_readable_and_still_authenticates_it() {
        for profile in SrtpProfile::ALL {
            let policy = SrtpPolicy::new(profile).with_rtcp_encryption(false);
            let key = vec![1u8; profile.master_key_len()];
            let salt = vec![2u8; profile.master_salt_len()];
            let mut sender = SrtpContext::new(&policy, &key, &salt).unwrap();
            let srtcp = protect_rtcp(&mut sender, &rtcp(SSRC));
            assert_eq!(srtcp[..rtcp(SSRC).len()], rtcp(SSRC), "{profile:?}");
            let mut tampered = srtcp.clone();
            tampered[10] ^= 1;
            let mut receiver = SrtpContext::new(&policy, &key, &salt).unwrap();
            assert_eq!(
                receiver.unprotect_rtcp(&mut tampered),
                Err(SrtpError::AuthenticationFailed)
            );
            let mut genuine = srtcp.clone();
            assert_eq!(receiver.unprotect_rtcp(&mut genuine), Ok(rtcp(SSRC).len()));
        }
    }

    #[test]
    fn new_ssrcs_beyond_the_limit_are_refused() {
        let limited = policy().with_max_streams(2);
        let mut sender = context(limited);
        protect(&mut sender, &rtp(1, 0));
        protect(&mut sender, &rtp(2, 0));
        let mut buf = rtp(3, 0);
        buf.resize(64, 0);
        assert_eq!(
            sender.protect_rtp(&mut buf, 32),
            Err(SrtpError::TooManyStreams { limit: 2 })
        );
    }

    #[test]
    fn forged_packets_of_unknown_ssrcs_take_no_stream_slot() {
        let limited = policy().with_max_streams(1);
        let mut receiver = context(limited);
        for ssrc in 100..110 {
            let forged = protect(&mut context(policy().with_max_streams(1)), &rtp(ssrc, 0));
            let mut forged = forged.clone();
            forged[12] ^= 1;
            assert_eq!(
                unprotect(&mut receiver, &forged),
                Err(SrtpError::AuthenticationFailed)
            );
        }
        let genuine = protect(&mut context(limited), &rtp(7, 0));
        assert_eq!(unprotect(&mut receiver, &genuine).unwrap(), rtp(7, 0));
    }

    #[test]
    fn csrcs_and_header_extension_stay_in_clear() {
        let mut plain = rtp(SSRC, 9);
        plain[0] |= 0x10 | 2;
        let payload = plain.split_off(12);
        plain.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]); // two CSRCs
        plain.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0]); // one-word extension
        plain.extend_from_slice(&payload);
        let (mut sender, mut receiver) = (context(policy()), context(policy()));
        let srtp = protect(&mut sender, &plain);
        assert_eq!(srtp[..28], plain[..28]);
        assert_ne!(srtp[28..plain.len()], plain[28..]);
        assert_eq!(unprotect(&mut receiver, &srtp).unwrap(), plain);
    }

    #[test]
    fn malformed_headers_are_refused_with_the_rtp_or_rtcp_error() {
        use crate::rtcp::RtcpErrorKind;
        use crate::rtp::RtpErrorKind;

        let mut receiver = context(policy());
        let rtp_kind = |receiver: &mut SrtpContext, mut packet: Vec<u8>| match receiver
            .unprotect_rtp(&mut packet)
        {
            Err(SrtpError::Rtp(e)) => (e.kind, e.offset),
            other => panic!("expected an RTP header error, got {other:?}"),
        };
        assert_eq!(
            rtp_kind(&mut receiver, vec![0x80; 11]),
            (RtpErrorKind::Truncated, 0)
        );
        assert_eq!(
            rtp_kind(&mut receiver, vec![0x40; 40]),
            (RtpErrorKind::Version(1), 0)
        );
        let mut csrcs = rtp(SSRC, 1);
        csrcs[0] |= 0x0f; // 15 CSRCs do not fit in 32 bytes
        assert_eq!(
            rtp_kind(&mut receiver, csrcs),
            (RtpErrorKind::Truncated, 12)
        );
        let mut extension = rtp(SSRC, 1);
        extension[0] |= 0x10;
        extension[12..16].copy_from_slice(&[0xbe, 0xde, 0, 9]); // 36 bytes announced
        assert_eq!(
            rtp_kind(&mut receiver, extension),
            (RtpErrorKind::Truncated, 16)
        );

        let mut short_rtcp = rtcp(SSRC);
        short_rtcp.truncate(6);
        assert!(matches!(
            receiver.unprotect_rtcp(&mut short_rtcp),
            Err(SrtpError::Rtcp(e)) if e.kind == RtcpErrorKind::Truncated && e.offset == 4
        ));
        let mut version_3 = rtcp(SSRC);
        version_3[0] = 0xc0;
        assert!(matches!(
            receiver.unprotect_rtcp(&mut version_3),
            Err(SrtpError::Rtcp(e)) if e.kind == RtcpErrorKind::Version(3)
        ));
        assert_eq!(receiver.roc(SSRC), None);
    }

    #[test]
    fn protect_needs_room_for_the_tag() {
        let mut sender = context(policy());
        let mut buf = rtp(SSRC, 0);
        let len = buf.len();
        assert_eq!(
            sender.protect_rtp(&mut buf, len),
            Err(SrtpError::BufferTooSmall {
                needed: len + 10,
                available: len
            })
        );
        assert_eq!(
            sender.protect_rtp(&mut buf, len + 1),
            Err(SrtpError::BufferTooSmall {
                needed: len + 1,
                available: len
            })
        );
        // The refused packet did not consume its index.
        buf.resize(len + 10, 0);
        assert_eq!(sender.protect_rtp(&mut buf, len), Ok(len + 10));
    }

    #[test]
    fn construction_checks_key_salt_and_window_sizes() {
        let policy = SrtpPolicy::new(SrtpProfile::AeadAes256Gcm);
        assert_eq!(
            SrtpContext::new(&policy, &[0; 16], &[0; 12]).unwrap_err(),
            SrtpError::MasterKeyLength {
                expected: 32,
                actual: 16
            }
        );
        assert_eq!(
            SrtpContext::new(&policy, &[0; 32], &[0; 14]).unwrap_err(),
            SrtpError::MasterSaltLength {
                expected: 12,
                actual: 14
            }
        );
        assert_eq!(
            SrtpContext::new(&policy.with_replay_window(0), &[0; 32], &[0; 12]).unwrap_err(),
            SrtpError::ReplayWindowSize { size: 0 }
        );
    }
}
