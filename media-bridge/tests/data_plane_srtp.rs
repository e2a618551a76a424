//! The packet path between an SDES-SRTP leg and a plain RTP leg: the test endpoint keys its own
//! `SrtpContext`s from the SDP, as a phone would.

mod data_plane_support;

use data_plane_support::*;
use tandem_media_bridge::DropReason;
use tandem_rtp_core::sdes::{Crypto, CryptoSuite};
use tandem_rtp_core::sdp::{Attribute, MediaDescription};
use tandem_rtp_core::srtp::{SrtpContext, SrtpPolicy, SrtpProfile};

fn context_of(line: &Crypto) -> SrtpContext {
    let profile = SrtpProfile::from_sdes_name(line.suite.name()).unwrap();
    let (key, salt) = line.key_params[0].split(&line.suite).unwrap();
    SrtpContext::new(&SrtpPolicy::new(profile), key, salt).unwrap()
}

fn crypto_of(media: &MediaDescription) -> Crypto {
    media
        .attributes
        .iter()
        .find_map(|a| match a {
            Attribute::Crypto(c) => Some(c.clone()),
            _ => None,
        })
        .expect("an a=crypto line")
}

#[test]
fn sdes_leg_and_plain_leg_exchange_media_through_srtp_translation() {
    let relay = start_relay(41400);
    let phone = endpoint();
    let plain = endpoint();
    let ours = Crypto::generate(1, CryptoSuite::from_name("AES_CM_128_HMAC_SHA1_80")).unwrap();
    let line = format!("a=crypto:{}\r\n", ours);
    let (to_plain, to_phone, answer) = negotiate(
        &relay,
        "sdes-plain",
        sdp(port(&phone), "RTP/SAVP", "0", &line),
        plain_options(),
        sdp(port(&plain), "RTP/AVP", "0", ""),
    );
    let relays_key = crypto_of(&answer.media[0]);
    let mut protect = context_of(&ours);
    let mut unprotect = context_of(&relays_key);

    let payload = [0x5a; 160];
    let mut buf = [0u8; 256];
    let packet = rtp(0, false, 1, 0xfeed, &payload);
    buf[..packet.len()].copy_from_slice(&packet);
    let len = protect.protect_rtp(&mut buf, packet.len()).unwrap();
    assert_ne!(&buf[12..172], &payload[..], "the phone sends ciphertext");
    phone.send_to(&buf[..len], relay_at(to_phone)).unwrap();
    let (got, _) = recv(&plain);
    assert_eq!(got, packet, "the plain side gets the clear packet");

    let back = rtp(0, false, 7, 0xbeef, b"from the plain side");
    plain.send_to(&back, relay_at(to_plain)).unwrap();
    let (mut got, _) = recv(&phone);
    assert_eq!(got.len(), back.len() + 10, "an 80-bit tag was added");
    let clear = unprotect.unprotect_rtp(&mut got).unwrap();
    assert_eq!(&got[..clear], &back[..]);

    // A forged packet (bad tag) is dropped and counted; the next good one still passes.
    let forged = rtp(0, false, 2, 0xfeed, &[0; 170]);
    phone.send_to(&forged, relay_at(to_phone)).unwrap();
    let packet = rtp(0, false, 3, 0xfeed, b"after the forgery");
    buf[..packet.len()].copy_from_slice(&packet);
    let len = protect.protect_rtp(&mut buf, packet.len()).unwrap();
    phone.send_to(&buf[..len], relay_at(to_phone)).unwrap();
    assert_eq!(recv(&plain).0, packet);

    relay.sync().unwrap();
    let stats = relay.relay().lock().unwrap().query("sdes-plain").unwrap();
    let phone_stream = stats.legs[0].media[0].id;
    let dp = relay.stream_stats(phone_stream).unwrap();
    assert_eq!(dp.dropped(DropReason::SrtpUnprotect), 1);
    assert_eq!(dp.traffic.rtp.packets, 2);
}
