//! Shared by the data-plane tests: a relay on 127.0.0.1 with its own port range, endpoints as plain UDP
//! sockets, RTP packet building.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use tandem_media_bridge::session::{
    AnswerRequest, IceMode, MediaOptions, OfferRequest, RtcpMuxMode, TransportProtocol,
};
use tandem_media_bridge::{DataPlaneConfig, MediaRelay, RelayConfig};
use tandem_rtp_core::SessionDescription;

pub const LOCALHOST: &str = "127.0.0.1";

/// A running relay on 127.0.0.1 taking ports from `first..=first+99` (each test its own range).
pub fn start_relay(first: u16) -> MediaRelay {
    let config = RelayConfig::new(LOCALHOST.parse().unwrap()).with_ports(first..=first + 99);
    let data_plane = DataPlaneConfig::new()
        .with_workers(2)
        .with_bind(LOCALHOST.parse().unwrap());
    MediaRelay::start(config, data_plane).unwrap()
}

/// A UDP socket on 127.0.0.1 that gives up reading after a generous bound (a failing test, not a timing
/// assertion).
pub fn endpoint() -> UdpSocket {
    let s = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Two sockets on consecutive ports (RTP, RTCP), for endpoints without rtcp-mux.
pub fn endpoint_pair() -> (UdpSocket, UdpSocket) {
    for _ in 0..50 {
        let rtp = endpoint();
        let port = rtp.local_addr().unwrap().port();
        if port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind((LOCALHOST, port + 1)) {
            rtcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            return (rtp, rtcp);
        }
    }
    panic!("no two consecutive free ports");
}

pub fn port(s: &UdpSocket) -> u16 {
    s.local_addr().unwrap().port()
}

/// An audio SDP from 127.0.0.1 at `port` with `profile`, payload types and extra attribute lines.
pub fn sdp(port: u16, profile: &str, pts: &str, extra: &str) -> SessionDescription {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} {profile} {pts}\r\n{extra}"
    )
    .parse()
    .unwrap()
}

/// Options for a plain RTP/AVP far side without ICE.
pub fn plain_options() -> MediaOptions {
    let mut o = MediaOptions::default();
    o.transport_protocol = Some(TransportProtocol::RtpAvp);
    o.ice = IceMode::Remove;
    o.rtcp_mux = RtcpMuxMode::Demux;
    o
}

/// Runs offer and answer through the relay; returns (relay port facing the callee, relay port facing
/// the caller, the answer the caller gets).
pub fn negotiate(
    relay: &MediaRelay,
    call: &str,
    offer: SessionDescription,
    options: MediaOptions,
    answer: SessionDescription,
) -> (u16, u16, SessionDescription) {
    let now = std::time::Instant::now();
    let mut control = relay.relay().lock().unwrap();
    let forwarded = control
        .offer(
            OfferRequest::new(call, "caller", offer).with_options(options),
            now,
        )
        .unwrap();
    let back = control
        .answer(AnswerRequest::new(call, "caller", "callee", answer), now)
        .unwrap();
    drop(control);
    relay.sync().unwrap();
    (forwarded.media[0].port, back.media[0].port, back)
}

pub fn relay_at(port: u16) -> SocketAddr {
    SocketAddr::new(LOCALHOST.parse().unwrap(), port)
}

/// An RTP packet: version 2, `pt` (with marker bit if `marker`), `seq`, timestamp `seq * 160`, `ssrc`, then
/// `payload`.
pub fn rtp(pt: u8, marker: bool, seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// A minimal RTCP receiver report without report blocks from `ssrc`.
pub fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

/// Receives one datagram; returns it and its source.
pub fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = s.recv_from(&mut buf).expect("a relayed datagram");
    (buf[..n].to_vec(), from)
}
