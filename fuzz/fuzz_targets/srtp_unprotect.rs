//! SRTP/SRTCP unprotect on arbitrary bytes must never panic, and anything protect accepts must
//! unprotect back to itself.
//!
//! The first byte picks the profile (bits 0–1), RTP or RTCP (bit 2) and the mode (bit 3):
//! unprotect the rest as received bytes, or protect the rest as a plain packet and check the
//! round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};

fn context(profile: SrtpProfile, encrypt_rtcp: bool) -> SrtpContext {
    let policy = SrtpPolicy::new(profile).with_rtcp_encryption(encrypt_rtcp);
    let key = vec![0x42; profile.master_key_len()];
    let salt = vec![0x24; profile.master_salt_len()];
    SrtpContext::new(&policy, &key, &salt).expect("valid key sizes")
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, packet)) = data.split_first() else {
        return;
    };
    let profile = SrtpProfile::ALL[usize::from(selector & 0b11)];
    let rtcp = selector & 0b100 != 0;
    let round_trip = selector & 0b1000 != 0;
    let encrypt_rtcp = selector & 0b1_0000 == 0;
    let mut receiver = context(profile, encrypt_rtcp);

    if !round_trip {
        let mut bytes = packet.to_vec();
        let result = if rtcp {
            receiver.unprotect_rtcp(&mut bytes)
        } else {
            receiver.unprotect_rtp(&mut bytes)
        };
        assert!(result.is_err(), "unkeyed bytes authenticated");
        return;
    }

    let mut sender = context(profile, encrypt_rtcp);
    let mut buf = packet.to_vec();
    buf.resize(
        packet.len() + profile.rtcp_overhead().max(profile.rtp_overhead()),
        0,
    );
    let protected = if rtcp {
        sender.protect_rtcp(&mut buf, packet.len())
    } else {
        sender.protect_rtp(&mut buf, packet.len())
    };
    let Ok(len) = protected else {
        return;
    };
    let unprotected = if rtcp {
        receiver.unprotect_rtcp(&mut buf[..len])
    } else {
        receiver.unprotect_rtp(&mut buf[..len])
    };
    let plain_len = unprotected.expect("a packet we protected must unprotect");
    assert_eq!(&buf[..plain_len], packet);
});
