//! Prometheus metrics of `tandem media` and the tiny HTTP server exposing them at `/metrics`.
//!
//! NG commands are counted as they complete. Traffic comes from the packet path's per-stream statistics
//! (reported by the workers every `stats_interval`): [`MediaMetrics::sample`] reads them, and keeps the last
//! figures of streams that went away so that the totals never go down. It runs once a second and on every
//! scrape, so the counters of a stream deleted between two samples lose at most that stream's last second.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tandem_media_bridge::ng::NgStats;
use tandem_media_bridge::session::StreamId;
use tandem_media_bridge::{DropReason, MediaRelay, StreamStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const REASONS: usize = DropReason::ALL.len();

/// Cumulative counters of one stream (or of all streams).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficTotals {
    /// RTP packets received from endpoints.
    pub rtp_packets: u64,
    /// RTP bytes received from endpoints.
    pub rtp_bytes: u64,
    /// RTCP packets received from endpoints.
    pub rtcp_packets: u64,
    /// RTCP bytes received from endpoints.
    pub rtcp_bytes: u64,
    /// RTP and RTCP packets sent towards endpoints (what was relayed).
    pub relayed_packets: u64,
    /// Datagrams dropped, indexed like [`DropReason::ALL`].
    pub drops: [u64; REASONS],
}

impl TrafficTotals {
    fn of(stats: &StreamStats) -> Self {
        TrafficTotals {
            rtp_packets: stats.traffic.rtp.packets,
            rtp_bytes: stats.traffic.rtp.bytes,
            rtcp_packets: stats.traffic.rtcp.packets,
            rtcp_bytes: stats.traffic.rtcp.bytes,
            relayed_packets: stats.sent_rtp.saturating_add(stats.sent_rtcp),
            drops: stats.drops,
        }
    }

    fn add(&mut self, other: &TrafficTotals) {
        self.rtp_packets = self.rtp_packets.saturating_add(other.rtp_packets);
        self.rtp_bytes = self.rtp_bytes.saturating_add(other.rtp_bytes);
        self.rtcp_packets = self.rtcp_packets.saturating_add(other.rtcp_packets);
        self.rtcp_bytes = self.rtcp_bytes.saturating_add(other.rtcp_bytes);
        self.relayed_packets = self.relayed_packets.saturating_add(other.relayed_packets);
        for (total, n) in self.drops.iter_mut().zip(other.drops) {
            *total = total.saturating_add(n);
        }
    }
}

/// What one sample saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// Calls held by the relay.
    pub sessions: u64,
    /// Media streams (one per leg and media section) not rejected.
    pub streams: u64,
    /// Ports left in the pool.
    pub ports_available: u64,
    /// Port pairs skipped so far because something else held them (they could not be bound).
    pub ports_skipped: u64,
    /// Traffic since start, deleted streams included.
    pub totals: TrafficTotals,
}

#[derive(Debug, Default)]
struct Streams {
    live: HashMap<StreamId, TrafficTotals>,
    retired: TrafficTotals,
}

/// Counters and gauges, shared between the NG server, the sampler and the HTTP endpoint.
#[derive(Debug, Default)]
pub struct MediaMetrics {
    commands: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    streams: Mutex<Streams>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MediaMetrics {
    /// Count an NG command that completed (`ok` false when it answered with an error result).
    pub fn command(&self, name: &'static str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        *lock(&self.commands).entry((name, result)).or_insert(0) += 1;
    }

    /// NG commands completed with `name` and `result` (`ok` or `error`) so far.
    pub fn commands_of(&self, name: &str, result: &str) -> u64 {
        lock(&self.commands)
            .iter()
            .filter(|((n, r), _)| *n == name && *r == result)
            .map(|(_, v)| *v)
            .sum()
    }

    /// Read the relay's calls and the packet path's statistics now.
    pub fn sample(&self, relay: &MediaRelay) -> Sample {
        let (calls, ports_available, ports_skipped) = {
            let control = relay.relay().lock().unwrap_or_else(PoisonError::into_inner);
            let calls: Vec<_> = control
                .call_ids()
                .filter_map(|id| control.query(id).ok())
                .collect();
            let pool = control.port_pool();
            (calls, pool.available(), pool.skipped())
        };
        let mut sample = Sample {
            sessions: calls.len() as u64,
            ports_available: ports_available as u64,
            ports_skipped,
            ..Sample::default()
        };
        let mut seen = HashSet::new();
        let mut fresh = Vec::new();
        for media in calls.iter().flat_map(|c| &c.legs).flat_map(|l| &l.media) {
            if media.rejected {
                continue;
            }
            sample.streams += 1;
            seen.insert(media.id);
            if let Some(stats) = relay.stream_stats(media.id) {
                fresh.push((media.id, TrafficTotals::of(&stats)));
            }
        }
        let mut streams = lock(&self.streams);
        let Streams { live, retired } = &mut *streams;
        live.retain(|id, last| {
            let keep = seen.contains(id);
            if !keep {
                retired.add(last);
            }
            keep
        });
        for (id, totals) in fresh {
            live.insert(id, totals);
        }
        let mut totals = *retired;
        for stream in live.values() {
            totals.add(stream);
        }
        sample.totals = totals;
        sample
    }

    /// The Prometheus text exposition: a fresh [`MediaMetrics::sample`] of `relay` and the NG server's
    /// counters.
    pub fn render(&self, relay: &MediaRelay, ng: &NgStats) -> String {
        let sample = self.sample(relay);
        let mut out = String::new();
        for (name, kind, help, value) in [
            ("sessions", "gauge", "Calls held.", sample.sessions),
            (
                "streams",
                "gauge",
                "Media streams (per leg and media section).",
                sample.streams,
            ),
            (
                "ports_available",
                "gauge",
                "Free ports in the media port pool.",
                sample.ports_available,
            ),
            (
                "ports_skipped_total",
                "counter",
                "Port pairs skipped because they could not be bound (held by another process).",
                sample.ports_skipped,
            ),
            (
                "packets_relayed_total",
                "counter",
                "RTP and RTCP packets sent towards endpoints.",
                sample.totals.relayed_packets,
            ),
            (
                "ng_datagrams_total",
                "counter",
                "NG datagrams received.",
                ng.datagrams,
            ),
            (
                "ng_requests_total",
                "counter",
                "NG requests decoded (ping included, cached retransmissions not).",
                ng.requests,
            ),
            (
                "ng_retransmissions_total",
                "counter",
                "NG retransmissions answered from the cache.",
                ng.retransmissions,
            ),
            (
                "ng_bad_datagrams_total",
                "counter",
                "NG datagrams that were not a valid request.",
                ng.bad_datagrams,
            ),
        ] {
            let _ = writeln!(out, "# HELP tandem_media_{name} {help}");
            let _ = writeln!(out, "# TYPE tandem_media_{name} {kind}");
            let _ = writeln!(out, "tandem_media_{name} {value}");
        }
        let by_io = relay.workers_by_io();
        out.push_str(
            "# HELP tandem_media_workers Packet-path worker threads, by the I/O back end they run on.\n",
        );
        out.push_str("# TYPE tandem_media_workers gauge\n");
        for (io, n) in [("io_uring", by_io.io_uring), ("epoll", by_io.epoll)] {
            let _ = writeln!(out, "tandem_media_workers{{io=\"{io}\"}} {n}");
        }
        let t = &sample.totals;
        out.push_str(
            "# HELP tandem_media_packets_received_total Packets received from endpoints.\n",
        );
        out.push_str("# TYPE tandem_media_packets_received_total counter\n");
        let _ = writeln!(
            out,
            "tandem_media_packets_received_total{{kind=\"rtp\"}} {}",
            t.rtp_packets
        );
        let _ = writeln!(
            out,
            "tandem_media_packets_received_total{{kind=\"rtcp\"}} {}",
            t.rtcp_packets
        );
        out.push_str("# HELP tandem_media_bytes_received_total Bytes received from endpoints.\n");
        out.push_str("# TYPE tandem_media_bytes_received_total counter\n");
        let _ = writeln!(
            out,
            "tandem_media_bytes_received_total{{kind=\"rtp\"}} {}",
            t.rtp_bytes
        );
        let _ = writeln!(
            out,
            "tandem_media_bytes_received_total{{kind=\"rtcp\"}} {}",
            t.rtcp_bytes
        );
        out.push_str(
            "# HELP tandem_media_drops_total Datagrams dropped by the packet path, by reason.\n",
        );
        out.push_str("# TYPE tandem_media_drops_total counter\n");
        for (reason, n) in DropReason::ALL.iter().zip(t.drops) {
            let _ = writeln!(
                out,
                "tandem_media_drops_total{{reason=\"{}\"}} {n}",
                reason_label(*reason)
            );
        }
        out.push_str(
            "# HELP tandem_media_ng_commands_total NG commands executed by the relay, by result.\n",
        );
        out.push_str("# TYPE tandem_media_ng_commands_total counter\n");
        for ((command, result), n) in lock(&self.commands).iter() {
            let _ = writeln!(
                out,
                "tandem_media_ng_commands_total{{command=\"{command}\",result=\"{result}\"}} {n}"
            );
        }
        out
    }
}

/// The label of a drop reason.
pub fn reason_label(reason: DropReason) -> &'static str {
    match reason {
        DropReason::WrongSource => "wrong_source",
        DropReason::SrtpUnprotect => "srtp_unprotect",
        DropReason::NoKeys => "no_keys",
        DropReason::NoDestination => "no_destination",
        DropReason::Malformed => "malformed",
        DropReason::Unexpected => "unexpected",
        DropReason::SendFailed => "send_failed",
        _ => "other",
    }
}

/// Serve `GET /metrics` on `listener` until the task is aborted; `render` makes the body.
pub async fn serve(listener: TcpListener, render: Arc<dyn Fn() -> String + Send + Sync>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let render = Arc::clone(&render);
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            let head = buf.get(..n).unwrap_or_default();
            let (status, body) = if head.starts_with(b"GET /metrics") {
                // Sampling takes the control-plane lock briefly; keep it off the async workers.
                let body = tokio::task::spawn_blocking(move || render())
                    .await
                    .unwrap_or_default();
                ("200 OK", body)
            } else {
                ("404 Not Found", String::from("not found\n"))
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
        });
    }
}

/// Bind the metrics listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_commands_by_name_and_result() {
        let metrics = MediaMetrics::default();
        metrics.command("offer", true);
        metrics.command("offer", true);
        metrics.command("answer", false);
        assert_eq!(metrics.commands_of("offer", "ok"), 2);
        assert_eq!(metrics.commands_of("answer", "error"), 1);
        assert_eq!(metrics.commands_of("answer", "ok"), 0);
    }

    #[test]
    fn totals_add_every_field() {
        let mut a = TrafficTotals {
            rtp_packets: 1,
            rtp_bytes: 172,
            relayed_packets: 1,
            ..TrafficTotals::default()
        };
        let mut b = a;
        b.drops[0] = 3;
        b.rtcp_packets = 2;
        a.add(&b);
        assert_eq!(a.rtp_packets, 2);
        assert_eq!(a.rtp_bytes, 344);
        assert_eq!(a.rtcp_packets, 2);
        assert_eq!(a.relayed_packets, 2);
        assert_eq!(a.drops[0], 3);
    }

    #[test]
    fn every_drop_reason_has_its_own_label() {
        let labels: HashSet<_> = DropReason::ALL.iter().map(|r| reason_label(*r)).collect();
        assert_eq!(labels.len(), DropReason::ALL.len());
        assert!(!labels.contains("other"));
    }
}
