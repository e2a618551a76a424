//! Prometheus metrics of `tandem proxy` and the tiny HTTP server exposing them at `/metrics`, with the
//! dispatcher administration routes (`GET /dispatcher`, `POST /dispatcher/reload`, see [`super::admin`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tandem_sip_core::proxy::ProxyStats;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Counters and gauges, shared between the proxy loop and the HTTP endpoint.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<String, u64>>,
    responses: Mutex<BTreeMap<u16, u64>>,
    /// Transactions in the transaction layer.
    pub transactions: AtomicU64,
    /// Bindings in the location store.
    pub registrations: AtomicU64,
    /// Sources banned now.
    pub banned_sources: AtomicU64,
    /// Messages dropped because their source was banned (`dropped_total{reason="flood"}`).
    pub dropped: AtomicU64,
    /// Bans issued.
    pub bans: AtomicU64,
    /// Failed authentications.
    pub auth_failures: AtomicU64,
    /// Datagrams and streams the transport layer found malformed (including garbage it dropped itself and
    /// connections closed on a framing error), copied from its counters by housekeeping.
    pub transport_malformed: AtomicU64,
    /// Connections open now, copied from the transport layer by housekeeping.
    pub connections: AtomicU64,
    malformed: Mutex<BTreeMap<&'static str, u64>>,
    drops: Mutex<BTreeMap<&'static str, u64>>,
    destinations: Mutex<Vec<(u32, String, String)>>,
    /// The proxy core's counters (Timer C, responses without the caller's Via), copied by housekeeping.
    /// The proxy core's counters as last published by each shard (index = shard).
    core: Mutex<Vec<ProxyStats>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    /// Count a request received.
    pub fn request(&self, method: &str) {
        let mut map = lock(&self.requests);
        match map.get_mut(method) {
            Some(n) => *n += 1,
            None => {
                map.insert(method.to_owned(), 1);
            }
        }
    }

    /// Count a response relayed or sent.
    pub fn response(&self, code: u16) {
        *lock(&self.responses).entry(code).or_insert(0) += 1;
    }

    /// Count a malformed or invalid message that reached the proxy over `transport` (answered with an error
    /// or dropped).
    pub fn malformed(&self, transport: &'static str) {
        *lock(&self.malformed).entry(transport).or_insert(0) += 1;
    }

    /// Malformed messages counted for `transport` so far.
    pub fn malformed_of(&self, transport: &str) -> u64 {
        lock(&self.malformed).get(transport).copied().unwrap_or(0)
    }

    /// Count a message dropped without an answer, for `reason` (flood drops have their own counter).
    pub fn drop_for(&self, reason: &'static str) {
        *lock(&self.drops).entry(reason).or_insert(0) += 1;
    }

    /// Messages dropped for `reason` so far.
    pub fn dropped_for(&self, reason: &str) -> u64 {
        match reason {
            "flood" => self.dropped.load(Ordering::Relaxed),
            _ => lock(&self.drops).get(reason).copied().unwrap_or(0),
        }
    }

    /// Requests received with `method` so far.
    pub fn requests_of(&self, method: &str) -> u64 {
        lock(&self.requests).get(method).copied().unwrap_or(0)
    }

    /// Responses with status `code` relayed or sent so far.
    pub fn responses_of(&self, code: u16) -> u64 {
        lock(&self.responses).get(&code).copied().unwrap_or(0)
    }

    /// Replace the dispatcher destination states (set, URI, state).
    pub fn set_destinations(&self, destinations: Vec<(u32, String, String)>) {
        *lock(&self.destinations) = destinations;
    }

    /// The destination states last published.
    pub fn destinations(&self) -> Vec<(u32, String, String)> {
        lock(&self.destinations).clone()
    }

    /// Publish the counters of shard `shard`'s proxy core (they only grow: the latest copy replaces that
    /// shard's previous one).
    pub fn set_core(&self, shard: usize, stats: ProxyStats) {
        let mut cores = lock(&self.core);
        if cores.len() <= shard {
            cores.resize(shard + 1, ProxyStats::default());
        }
        if let Some(slot) = cores.get_mut(shard) {
            *slot = stats;
        }
    }

    /// The proxy cores' counters last published, summed over the shards.
    pub fn core(&self) -> ProxyStats {
        let mut sum = ProxyStats::default();
        for s in lock(&self.core).iter() {
            sum.timer_c_cancelled += s.timer_c_cancelled;
            sum.timer_c_timed_out += s.timer_c_timed_out;
            sum.no_via_dropped += s.no_via_dropped;
            sum.no_via_bad_gateway += s.no_via_bad_gateway;
        }
        sum
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# TYPE tandem_proxy_requests_total counter\n");
        for (method, n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "tandem_proxy_requests_total{{method=\"{method}\"}} {n}"
            );
        }
        out.push_str("# TYPE tandem_proxy_responses_total counter\n");
        for (code, n) in lock(&self.responses).iter() {
            let _ = writeln!(out, "tandem_proxy_responses_total{{code=\"{code}\"}} {n}");
        }
        out.push_str("# TYPE tandem_proxy_malformed_total counter\n");
        for (transport, n) in lock(&self.malformed).iter() {
            let _ = writeln!(
                out,
                "tandem_proxy_malformed_total{{transport=\"{transport}\"}} {n}"
            );
        }
        out.push_str("# TYPE tandem_proxy_dropped_total counter\n");
        let _ = writeln!(
            out,
            "tandem_proxy_dropped_total{{reason=\"flood\"}} {}",
            self.dropped.load(Ordering::Relaxed)
        );
        for (reason, n) in lock(&self.drops).iter() {
            let _ = writeln!(out, "tandem_proxy_dropped_total{{reason=\"{reason}\"}} {n}");
        }
        for (name, kind, value) in [
            ("transactions", "gauge", &self.transactions),
            ("registrations", "gauge", &self.registrations),
            ("banned_sources", "gauge", &self.banned_sources),
            ("connections", "gauge", &self.connections),
            ("bans_total", "counter", &self.bans),
            ("auth_failures_total", "counter", &self.auth_failures),
            (
                "transport_malformed_total",
                "counter",
                &self.transport_malformed,
            ),
        ] {
            let _ = writeln!(out, "# TYPE tandem_proxy_{name} {kind}");
            let _ = writeln!(out, "tandem_proxy_{name} {}", value.load(Ordering::Relaxed));
        }
        let core = self.core();
        let outcomes = [
            (
                "timer_c_fired_total",
                [
                    ("cancel", core.timer_c_cancelled),
                    ("timeout", core.timer_c_timed_out),
                ],
            ),
            (
                "responses_without_via_total",
                [
                    ("dropped", core.no_via_dropped),
                    ("502", core.no_via_bad_gateway),
                ],
            ),
        ];
        for (name, series) in outcomes {
            let _ = writeln!(out, "# TYPE tandem_proxy_{name} counter");
            for (outcome, n) in series {
                let _ = writeln!(out, "tandem_proxy_{name}{{outcome=\"{outcome}\"}} {n}");
            }
        }
        out.push_str("# TYPE tandem_proxy_destination_up gauge\n");
        for (set, uri, state) in lock(&self.destinations).iter() {
            let up = u8::from(state == "Active");
            let _ = writeln!(
                out,
                "tandem_proxy_destination_up{{set=\"{set}\",uri=\"{uri}\",state=\"{state}\"}} {up}"
            );
        }
        out
    }
}

/// Serve `GET /metrics` on `listener` until the task is aborted; with `admin`, also `GET /dispatcher` (the
/// state of every destination, JSON) and `POST /dispatcher/reload` (re-read the destination list).
pub async fn serve(
    listener: TcpListener,
    metrics: std::sync::Arc<Metrics>,
    admin: Option<super::admin::Admin>,
) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        let admin = admin.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            let head = buf.get(..n).unwrap_or_default();
            let (status, content_type, body) = route(head, &metrics, admin.as_ref()).await;
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
        });
    }
}

const TEXT: &str = "text/plain; version=0.0.4";
const JSON: &str = "application/json";

/// The status line, content type and body for a request whose head is `head`.
async fn route(
    head: &[u8],
    metrics: &Metrics,
    admin: Option<&super::admin::Admin>,
) -> (&'static str, &'static str, String) {
    let line = head
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let method = words.next().unwrap_or_default();
    let target = words.next().unwrap_or_default();
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let not_found = ("404 Not Found", TEXT, String::from("not found\n"));
    match (method, path, admin) {
        (b"GET", b"/metrics", _) => ("200 OK", TEXT, metrics.render()),
        (b"GET", b"/dispatcher", Some(admin)) => match admin.state_json().await {
            Some(state) => ("200 OK", JSON, format!("{state:#}\n")),
            None => ("503 Service Unavailable", TEXT, "proxy stopped\n".into()),
        },
        (b"POST", b"/dispatcher/reload", Some(admin)) => {
            let (code, body) = admin.reload_json().await;
            let status = match code {
                200 => "200 OK",
                422 => "422 Unprocessable Content",
                _ => "503 Service Unavailable",
            };
            (status, JSON, format!("{body}\n"))
        }
        (_, b"/dispatcher" | b"/dispatcher/reload", Some(_)) => (
            "405 Method Not Allowed",
            TEXT,
            "GET /dispatcher, POST /dispatcher/reload\n".into(),
        ),
        _ => not_found,
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
    fn the_proxy_cores_counters_are_exported_by_outcome() {
        let metrics = Metrics::default();
        let mut stats = ProxyStats::default();
        stats.timer_c_cancelled = 1;
        stats.timer_c_timed_out = 2;
        stats.no_via_dropped = 3;
        stats.no_via_bad_gateway = 4;
        metrics.set_core(0, stats);
        let mut other = ProxyStats::default();
        other.timer_c_cancelled = 10;
        metrics.set_core(2, other);
        let text = metrics.render();
        for line in [
            "# TYPE tandem_proxy_timer_c_fired_total counter",
            "tandem_proxy_timer_c_fired_total{outcome=\"cancel\"} 11",
            "tandem_proxy_timer_c_fired_total{outcome=\"timeout\"} 2",
            "# TYPE tandem_proxy_responses_without_via_total counter",
            "tandem_proxy_responses_without_via_total{outcome=\"dropped\"} 3",
            "tandem_proxy_responses_without_via_total{outcome=\"502\"} 4",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} missing:\n{text}");
        }
    }
}
