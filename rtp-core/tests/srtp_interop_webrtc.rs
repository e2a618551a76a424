//! Interoperability with the `webrtc-srtp` crate (webrtc-rs), both directions, every profile.
//!
//! Not covered here: authenticated-only SRTCP (E flag clear), which `webrtc-srtp` never sends and
//! does not verify; the RFC 7714 §17.3/§17.4 vectors and libsrtp's reference packets cover it.

use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};
use webrtc_srtp::context::Context as TheirContext;
use webrtc_srtp::protection_profile::ProtectionProfile as TheirProfile;

const SSRC: u32 = 0xdead_beef;

/// Sequence numbers running over the 16-bit wrap, so the rollover counter goes 0 → 1.
fn wrapping_sequence() -> impl Iterator<Item = u16> {
    (65_530..=65_535).chain(0..=5)
}

fn their_profile(profile: SrtpProfile) -> TheirProfile {
    match profile {
        SrtpProfile::Aes128CmHmacSha1_80 => TheirProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32 => TheirProfile::Aes128CmHmacSha1_32,
        SrtpProfile::AeadAes128Gcm => TheirProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm => TheirProfile::AeadAes256Gcm,
        other => panic!("no webrtc-srtp counterpart for {other:?}"),
    }
}

struct Keys {
    profile: SrtpProfile,
    key: Vec<u8>,
    salt: Vec<u8>,
}

impl Keys {
    fn new(profile: SrtpProfile) -> Self {
        let key = (0..profile.master_key_len())
            .map(|i| (i * 7 + 3) as u8)
            .collect();
        let salt = (0..profile.master_salt_len())
            .map(|i| (i * 13 + 5) as u8)
            .collect();
        Keys { profile, key, salt }
    }

    fn ours(&self) -> SrtpContext {
        SrtpContext::new(&SrtpPolicy::new(self.profile), &self.key, &self.salt).unwrap()
    }

    fn theirs(&self) -> TheirContext {
        TheirContext::new(
            &self.key,
            &self.salt,
            their_profile(self.profile),
            None,
            None,
        )
        .unwrap()
    }
}

/// A 12-byte header RTP packet with a 160-byte payload that depends on `seq`.
fn rtp(seq: u16) -> Vec<u8> {
    let mut packet = vec![0x80, 0x00];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    packet.extend_from_slice(&SSRC.to_be_bytes());
    packet.extend((0..160).map(|i| (i as u16 ^ seq) as u8));
    packet
}

/// The same with two CSRCs and a one-byte-header extension (RFC 8285), which stay in clear.
fn rtp_with_extension(seq: u16) -> Vec<u8> {
    let plain = rtp(seq);
    let mut packet = plain[..12].to_vec();
    packet[0] = 0x80 | 0x10 | 2;
    packet.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
    packet.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 0x10, 0x7f, 0x00, 0x00]);
    packet.extend_from_slice(&plain[12..]);
    packet
}

fn rtcp_receiver_report(fill: u8) -> Vec<u8> {
    let mut packet = vec![0x81, 201, 0x00, 0x07];
    packet.extend_from_slice(&SSRC.to_be_bytes());
    packet.extend_from_slice(&[fill; 24]);
    packet
}

fn protect_rtp(ours: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + ours.profile().rtp_overhead(), 0);
    let len = ours.protect_rtp(&mut buf, plain.len()).unwrap();
    buf.truncate(len);
    buf
}

fn unprotect_rtp(ours: &mut SrtpContext, srtp: &[u8]) -> Vec<u8> {
    let mut buf = srtp.to_vec();
    let len = ours.unprotect_rtp(&mut buf).unwrap();
    buf.truncate(len);
    buf
}

#[test]
fn webrtc_srtp_decrypts_what_we_protect_across_a_sequence_wrap() {
    for profile in SrtpProfile::ALL {
        let keys = Keys::new(profile);
        let (mut ours, mut theirs) = (keys.ours(), keys.theirs());
        for seq in wrapping_sequence() {
            for plain in [rtp(seq), rtp_with_extension(seq.wrapping_add(100))] {
                let srtp = protect_rtp(&mut ours, &plain);
                let decrypted = theirs
                    .decrypt_rtp(&srtp)
                    .unwrap_or_else(|e| panic!("{profile:?} seq {seq}: {e}"));
                assert_eq!(decrypted[..], plain[..], "{profile:?} seq {seq}");
            }
        }
        assert_eq!(ours.roc(SSRC), Some(1));
    }
}

#[test]
fn we_unprotect_what_webrtc_srtp_encrypts_across_a_sequence_wrap() {
    for profile in SrtpProfile::ALL {
        let keys = Keys::new(profile);
        let (mut ours, mut theirs) = (keys.ours(), keys.theirs());
        for seq in wrapping_sequence() {
            for plain in [rtp(seq), rtp_with_extension(seq.wrapping_add(100))] {
                let srtp = theirs.encrypt_rtp(&plain).unwrap();
                assert_eq!(
                    unprotect_rtp(&mut ours, &srtp),
                    plain,
                    "{profile:?} seq {seq}"
                );
            }
        }
        assert_eq!(ours.roc(SSRC), Some(1));
    }
}

#[test]
fn we_unprotect_webrtc_srtp_packets_reordered_around_the_wrap() {
    for profile in SrtpProfile::ALL {
        let keys = Keys::new(profile);
        let (mut ours, mut theirs) = (keys.ours(), keys.theirs());
        let sent: Vec<(u16, Vec<u8>)> = wrapping_sequence()
            .map(|seq| (seq, theirs.encrypt_rtp(&rtp(seq)).unwrap().to_vec()))
            .collect();
        // 65530, 65531, 0, 65533, 2, 65532, 1, 65535, 65534, 3, 5, 4
        for position in [0, 1, 6, 3, 8, 2, 7, 5, 4, 9, 11, 10] {
            let (seq, srtp) = &sent[position];
            assert_eq!(
                unprotect_rtp(&mut ours, srtp),
                rtp(*seq),
                "{profile:?} seq {seq}"
            );
        }
    }
}

#[test]
fn srtcp_round_trips_with_webrtc_srtp_in_both_directions() {
    for profile in SrtpProfile::ALL {
        let keys = Keys::new(profile);
        let (mut ours_tx, mut theirs_rx) = (keys.ours(), keys.theirs());
        let (mut ours_rx, mut theirs_tx) = (keys.ours(), keys.theirs());
        for fill in 0..5u8 {
            let plain = rtcp_receiver_report(fill);

            let mut buf = plain.clone();
            buf.resize(plain.len() + profile.rtcp_overhead(), 0);
            let len = ours_tx.protect_rtcp(&mut buf, plain.len()).unwrap();
            let decrypted = theirs_rx
                .decrypt_rtcp(&buf[..len])
                .unwrap_or_else(|e| panic!("{profile:?}: {e}"));
            assert_eq!(decrypted[..], plain[..], "{profile:?} ours → theirs");

            let mut srtcp = theirs_tx.encrypt_rtcp(&plain).unwrap().to_vec();
            let len = ours_rx.unprotect_rtcp(&mut srtcp).unwrap();
            assert_eq!(srtcp[..len], plain[..], "{profile:?} theirs → ours");
        }
    }
}

#[test]
fn packets_protected_under_other_keys_are_refused() {
    for profile in SrtpProfile::ALL {
        let keys = Keys::new(profile);
        let mut other = Keys::new(profile);
        other.key[0] ^= 1;
        let srtp = other.theirs().encrypt_rtp(&rtp(1)).unwrap().to_vec();
        let mut buf = srtp.clone();
        assert_eq!(
            keys.ours().unprotect_rtp(&mut buf),
            Err(tandem_rtp_core::SrtpError::AuthenticationFailed),
            "{profile:?}"
        );
    }
}
