//! The two I/O back ends of the workers, each asked for explicitly (the rest of the data-plane tests run on
//! the default, `MediaIo::Auto`; `TANDEM_MEDIA_IO=epoll cargo test` runs them on epoll): a burst larger
//! than one receive batch relayed both ways in order and counted, and a deleted call's ports free to bind
//! again (io_uring keeps a socket open while a receive is armed on it, so the worker must cancel it). The
//! relay reports which back end its worker runs on.

mod data_plane_support;

use std::net::UdpSocket;

use data_plane_support::*;
use tandem_media_bridge::session::DeleteRequest;
use tandem_media_bridge::{DataPlaneConfig, MediaIo, MediaRelay, RelayConfig};

const BURST: u16 = 300;

fn relay(first: u16, io: MediaIo) -> MediaRelay {
    let config = RelayConfig::new(LOCALHOST.parse().unwrap()).with_ports(first..=first + 9);
    let data_plane = DataPlaneConfig::new()
        .with_workers(1)
        .with_bind(LOCALHOST.parse().unwrap())
        .with_io(io);
    MediaRelay::start(config, data_plane).unwrap()
}

/// Whether the workers get io_uring here; says so loudly when they do not.
fn kernel_offers_io_uring() -> bool {
    let offered = MediaIo::io_uring_offered();
    if !offered {
        eprintln!("\n========== NO io_uring HERE: the workers run on epoll ==========\n");
    }
    offered
}

fn burst_both_ways_then_delete(first: u16, io: MediaIo) {
    let relay = relay(first, io);
    let by_io = relay.workers_by_io();
    let on_io_uring = io == MediaIo::IoUring && kernel_offers_io_uring();
    assert_eq!(
        (by_io.io_uring, by_io.epoll),
        if on_io_uring { (1, 0) } else { (0, 1) },
        "{io:?}: the worker reports the back end it runs on"
    );
    let caller = endpoint();
    let callee = endpoint();
    let (to_callee, to_caller, _) = negotiate(
        &relay,
        "io-burst",
        sdp(port(&caller), "RTP/AVP", "0", ""),
        plain_options(),
        sdp(port(&callee), "RTP/AVP", "0", ""),
    );
    for (from, to, relay_port, ssrc) in [
        (&caller, &callee, to_caller, 0x1111),
        (&callee, &caller, to_callee, 0x2222),
    ] {
        // Paced in groups so that loopback's socket buffers never overflow, but each group larger than
        // one receive batch.
        for group in 0..BURST / 50 {
            for seq in group * 50..(group + 1) * 50 {
                from.send_to(
                    &rtp(0, false, seq, ssrc, &[seq as u8; 160]),
                    relay_at(relay_port),
                )
                .unwrap();
            }
            for seq in group * 50..(group + 1) * 50 {
                let (got, _) = recv(to);
                assert_eq!(
                    u16::from_be_bytes([got[2], got[3]]),
                    seq,
                    "{io:?}: in order, none lost"
                );
                assert_eq!(got.len(), 172);
            }
        }
    }
    relay.sync().unwrap();
    let call = relay.relay().lock().unwrap().query("io-burst").unwrap();
    let caller_id = call.legs[0].media[0].id;
    let callee_id = call.legs[1].media[0].id;
    assert_eq!(
        relay.stream_stats(caller_id).unwrap().traffic.rtp.packets,
        u64::from(BURST),
        "{io:?}"
    );
    // Sends are counted on the stream they leave from, when they complete.
    assert_eq!(
        relay.stream_stats(callee_id).unwrap().sent_rtp,
        u64::from(BURST),
        "{io:?}"
    );
    assert_eq!(
        relay.stream_stats(caller_id).unwrap().sent_rtp,
        u64::from(BURST),
        "{io:?}"
    );

    relay
        .relay()
        .lock()
        .unwrap()
        .delete(&DeleteRequest::new("io-burst"))
        .unwrap();
    relay.sync().unwrap();
    for relay_port in [to_caller, to_callee] {
        UdpSocket::bind((LOCALHOST, relay_port))
            .unwrap_or_else(|e| panic!("{io:?}: port {relay_port} still held: {e}"));
    }
}

#[test]
fn io_uring_relays_a_burst_both_ways_and_lets_go_of_deleted_ports() {
    burst_both_ways_then_delete(42300, MediaIo::IoUring);
}

#[test]
fn epoll_relays_a_burst_both_ways_and_lets_go_of_deleted_ports() {
    burst_both_ways_then_delete(42400, MediaIo::Epoll);
}

#[test]
fn the_io_back_end_names_parse() {
    assert_eq!(MediaIo::parse("epoll"), Some(MediaIo::Epoll));
    assert_eq!(MediaIo::parse("io_uring"), Some(MediaIo::IoUring));
    assert_eq!(MediaIo::parse("IO-URING"), Some(MediaIo::IoUring));
    assert_eq!(MediaIo::parse("auto"), Some(MediaIo::Auto));
    assert_eq!(MediaIo::parse("kqueue"), None);
}
