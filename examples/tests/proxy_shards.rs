//! `tandem proxy` with several shards (proxy loops), driven by plain UDP sockets on loopback: tests that fail
//! when a message is steered to a shard that does not hold its transaction, or when state that must be
//! shared (the flood guard, the dispatcher's probes) is kept per shard.
//!
//! All waits are bounded and wait for a state (replies, a counter), never for a duration to pass.

use bytes::Bytes;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_sip_core::transport::shard_for_call_id;
use tandem_sip_core::{Message, Method, Request, Response, StatusCode, parse_message};
use tandem_sip_core::{TransportKind, header::HeaderName};
use tandem_stack::proxy::{ProxyConfig, RunningProxy, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The longest wait for replies or a counter.
const STATE_WAIT: Duration = Duration::from_secs(20);

/// A proxy for `localhost` without authentication, with `shards` loops and `extra` TOML sections.
async fn proxy(shards: usize, extra: &str) -> (RunningProxy, SocketAddr, SocketAddr) {
    let text = format!(
        r#"
        [proxy]
        domains = ["localhost", "127.0.0.1"]
        udp = "127.0.0.1:0"
        metrics = "127.0.0.1:0"
        auth = false
        shards = {shards}
        {extra}
        "#
    );
    let mut config = ProxyConfig::from_toml(&text).expect("valid configuration");
    config.proxy.tcp = None;
    let proxy = start(config).await.expect("proxy starts");
    assert_eq!(proxy.shards(), shards);
    let sip = proxy.local_addr(TransportKind::Udp).expect("udp listener");
    let http = proxy.metrics_addr().expect("metrics listener");
    (proxy, sip, http)
}

fn parse(bytes: &[u8]) -> Option<Message> {
    parse_message(Bytes::copy_from_slice(bytes)).ok()
}

fn call_id(message: &Message) -> String {
    message
        .headers()
        .get(&HeaderName::CallId)
        .map(|f| String::from_utf8_lossy(f.value()).trim().to_owned())
        .unwrap_or_default()
}

fn cseq_method(response: &Response) -> Option<Method> {
    response
        .headers()
        .cseq()
        .and_then(Result::ok)
        .map(|c| c.method)
}

/// A request from `alice@localhost` at `from`, Via branch `z9hG4bK<branch>`.
fn request(
    method: &str,
    uri: &str,
    from: SocketAddr,
    id: &str,
    branch: &str,
    to_tag: &str,
) -> String {
    let to_tag = match to_tag {
        "" => String::new(),
        tag => format!(";tag={tag}"),
    };
    // A tag is a token: no `@`.
    let from_tag = id.replace('@', "-");
    format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@localhost>;tag=a{from_tag}\r\n\
         To: <sip:bob@localhost>{to_tag}\r\n\
         Call-ID: {id}\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:alice@{from}>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Receive on `socket`, handing each message to `handle`, until it returns `true` (done) or the wait runs
/// out; `false` if it ran out.
async fn receive_until(socket: &UdpSocket, mut handle: impl FnMut(Message) -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + STATE_WAIT;
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok(Ok((n, _))) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
        else {
            return false;
        };
        if let Some(message) = parse(buf.get(..n).unwrap_or_default())
            && handle(message)
        {
            return true;
        }
    }
}

/// A UAS on `socket`: rings on every INVITE, answers a CANCEL 200 and its INVITE 487. Returns the Call-IDs
/// of the CANCELs it received, once it has `expected` of them.
async fn ringing_uas(socket: Arc<UdpSocket>, expected: usize) -> HashSet<String> {
    let mut invites: HashMap<String, Request> = HashMap::new();
    let mut cancelled = HashSet::new();
    let mut buf = vec![0u8; 65_536];
    let deadline = tokio::time::Instant::now() + STATE_WAIT;
    while cancelled.len() < expected {
        let Ok(Ok((n, from))) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
        else {
            break;
        };
        let Some(Message::Request(request)) = parse(buf.get(..n).unwrap_or_default()) else {
            continue;
        };
        let id = call_id(&Message::Request(request.clone()));
        let tag = format!("b{}", id.replace('@', "-"));
        let mut replies = Vec::new();
        match request.method() {
            Method::Invite => {
                replies.push(
                    Response::from_request(&request, StatusCode::RINGING, Some(&tag)).build(),
                );
                invites.insert(id, request);
            }
            Method::Cancel => {
                replies.push(Response::from_request(&request, StatusCode::OK, Some(&tag)).build());
                if let Some(invite) = invites.get(&id) {
                    let terminated = StatusCode::new(487).expect("487 is a status code");
                    replies.push(Response::from_request(invite, terminated, Some(&tag)).build());
                }
                cancelled.insert(id);
            }
            _ => {}
        }
        for reply in replies {
            socket
                .send_to(&reply.to_bytes(), from)
                .await
                .expect("uas send");
        }
    }
    cancelled
}

/// Calls from one UAC to a UAS registered as bob: all INVITEs at once, then, once each rings, all their
/// CANCELs. Every CANCEL must be answered 200 by the proxy (a CANCEL on another shard than its INVITE gets
/// 481), reach the UAS, and every INVITE must end in the UAS's 487.
async fn cancelled_calls(shards: usize, calls: usize) {
    let (_proxy, sip, _) = proxy(shards, "[flood]\nenabled = false").await;
    let uas = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("uas bind"));
    let uas_addr = uas.local_addr().expect("uas address");
    let uac = UdpSocket::bind("127.0.0.1:0").await.expect("uac bind");
    let uac_addr = uac.local_addr().expect("uac address");

    // Register bob's contact (the UAS), from the UAS's socket.
    let register = request("REGISTER", "sip:localhost", uas_addr, "reg-bob", "reg", "")
        .replace("From: <sip:alice@localhost>", "From: <sip:bob@localhost>")
        .replace(
            &format!("Contact: <sip:alice@{uas_addr}>"),
            &format!("Contact: <sip:bob@{uas_addr}>"),
        );
    uas.send_to(register.as_bytes(), sip)
        .await
        .expect("register send");
    let mut registered = None;
    let answered = receive_until(&uas, |m| {
        if let Message::Response(r) = m {
            registered = Some(r.status().as_u16());
        }
        registered.is_some()
    })
    .await;
    assert!(
        answered && registered == Some(200),
        "REGISTER: {registered:?}"
    );

    let uas_task = tokio::spawn(ringing_uas(uas.clone(), calls));
    let ids: Vec<String> = (0..calls)
        .map(|n| format!("shard-call-{n}-{shards}@127.0.0.1"))
        .collect();
    let per_shard = ids.iter().fold(vec![0usize; shards], |mut counts, id| {
        counts[shard_for_call_id(id.as_bytes(), shards)] += 1;
        counts
    });
    assert!(
        per_shard.iter().all(|&n| n > 0),
        "every shard gets calls: {per_shard:?}"
    );
    for (n, id) in ids.iter().enumerate() {
        let invite = request(
            "INVITE",
            "sip:bob@localhost",
            uac_addr,
            id,
            &format!("i{n}"),
            "",
        );
        uac.send_to(invite.as_bytes(), sip)
            .await
            .expect("invite send");
    }
    let mut ringing = HashSet::new();
    let rang = receive_until(&uac, |m| {
        if let Message::Response(r) = &m
            && r.status() == StatusCode::RINGING
        {
            ringing.insert(call_id(&m));
        }
        ringing.len() == calls
    })
    .await;
    assert!(rang, "{} of {calls} calls rang", ringing.len());

    for (n, id) in ids.iter().enumerate() {
        let cancel = request(
            "CANCEL",
            "sip:bob@localhost",
            uac_addr,
            id,
            &format!("i{n}"),
            "",
        );
        uac.send_to(cancel.as_bytes(), sip)
            .await
            .expect("cancel send");
    }
    let mut cancel_answers: HashMap<String, u16> = HashMap::new();
    let mut invite_answers: HashMap<String, u16> = HashMap::new();
    let mut acks = Vec::new();
    let ended = receive_until(&uac, |m| {
        let id = call_id(&m);
        let Message::Response(r) = m else {
            return false;
        };
        let status = r.status().as_u16();
        match cseq_method(&r) {
            Some(Method::Cancel) => {
                cancel_answers.insert(id, status);
            }
            Some(Method::Invite) if status >= 200 => {
                let to_tag = r
                    .headers()
                    .to()
                    .and_then(Result::ok)
                    .and_then(|to| to.tag().map(|t| String::from_utf8_lossy(t).into_owned()))
                    .unwrap_or_default();
                invite_answers.insert(id, status);
                acks.push((r, to_tag));
            }
            _ => {}
        }
        cancel_answers.len() == calls && invite_answers.len() == calls
    })
    .await;
    assert!(
        ended,
        "{shards} shards: {} CANCELs and {} INVITEs of {calls} answered",
        cancel_answers.len(),
        invite_answers.len()
    );
    // The ACK of each 487 (hop by hop: the proxy's server transaction absorbs it).
    for (response, to_tag) in acks {
        let id = call_id(&Message::Response(response.clone()));
        let n = ids.iter().position(|i| *i == id).expect("one of our calls");
        let ack = request(
            "ACK",
            "sip:bob@localhost",
            uac_addr,
            &id,
            &format!("i{n}"),
            &to_tag,
        );
        uac.send_to(ack.as_bytes(), sip).await.expect("ack send");
    }
    assert!(
        cancel_answers.values().all(|&s| s == 200),
        "{cancel_answers:?}"
    );
    assert!(
        invite_answers.values().all(|&s| s == 487),
        "{invite_answers:?}"
    );
    let cancelled = uas_task.await.expect("uas task");
    assert_eq!(cancelled.len(), calls, "CANCELs that reached the UAS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_and_their_cancels_stay_on_one_shard() {
    for shards in [1, 2, 3] {
        cancelled_calls(shards, 120).await;
    }
}

/// One HTTP/1.1 GET; the body.
async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("http connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("http send");
    let mut text = String::new();
    tokio::time::timeout(STATE_WAIT, stream.read_to_string(&mut text))
        .await
        .expect("http answer in time")
        .expect("http read");
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

/// A metric's value in `/metrics`.
async fn metric(addr: SocketAddr, series: &str) -> f64 {
    http_get(addr, "/metrics")
        .await
        .lines()
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(name, _)| *name == series)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatcher_probes_are_answered_on_the_shard_that_sent_them() {
    let shards = 4;
    let destination = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let port = destination.local_addr().expect("address").port();
    let extra = format!(
        "[dispatcher]\ndestinations = \"1 sip:127.0.0.1:{port}\"\nprobing = true\n\
         probe_interval_ms = 20\nprobe_timeout_ms = 2000\ndown_threshold = 1"
    );
    let (_proxy, _, http) = proxy(shards, &extra).await;
    // Answer probes 200 until 12 came, checking each one's Call-ID steers to shard 0 (where probes run).
    let mut probe_ids = Vec::new();
    let mut buf = vec![0u8; 65_536];
    let deadline = tokio::time::Instant::now() + STATE_WAIT;
    while probe_ids.len() < 12 {
        let (n, from) = tokio::time::timeout_at(deadline, destination.recv_from(&mut buf))
            .await
            .expect("probes keep coming")
            .expect("recv");
        let Some(Message::Request(options)) = parse(buf.get(..n).unwrap_or_default()) else {
            continue;
        };
        assert_eq!(*options.method(), Method::Options);
        let id = call_id(&Message::Request(options.clone()));
        assert_eq!(
            shard_for_call_id(id.as_bytes(), shards),
            0,
            "probe Call-ID {id}"
        );
        let ok = Response::from_request(&options, StatusCode::OK, Some("d")).build();
        destination
            .send_to(&ok.to_bytes(), from)
            .await
            .expect("send");
        probe_ids.push(id);
    }
    let distinct: HashSet<&String> = probe_ids.iter().collect();
    assert_eq!(
        distinct.len(),
        probe_ids.len(),
        "every probe has its own Call-ID"
    );
    // Every answered probe reached its transaction: the destination is up with its latency measured.
    let uri = format!("sip:127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        let state: Value =
            serde_json::from_str(&http_get(http, "/dispatcher").await).expect("json");
        let d = state["sets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["destinations"].as_array().into_iter().flatten())
            .find(|d| d["uri"] == uri.as_str())
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(d["state"], "active", "{state:#}");
        if d["latency_ms"]["count"].as_u64() >= Some(10) {
            break;
        }
        assert!(
            started.elapsed() < STATE_WAIT,
            "probe answers not counted: {state:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_flooding_every_shard_is_counted_once_over_all_of_them() {
    let shards = 2;
    let limit = 40;
    let extra = format!(
        "[flood]\nenabled = true\nmax_requests = {limit}\nwindow_ms = 60000\nban_secs = 60"
    );
    let (_proxy, sip, http) = proxy(shards, &extra).await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let from = socket.local_addr().expect("address");
    // 30 requests for each shard: under the limit on either alone, over it together.
    let mut per_shard = vec![0usize; shards];
    let mut ids = Vec::new();
    let mut n = 0;
    while ids.len() < 30 * shards {
        n += 1;
        let id = format!("flood-{n}@127.0.0.1");
        let shard = shard_for_call_id(id.as_bytes(), shards);
        if per_shard[shard] < 30 {
            per_shard[shard] += 1;
            ids.push(id);
        }
    }
    for (n, id) in ids.iter().enumerate() {
        let options = request("OPTIONS", "sip:localhost", from, id, &format!("o{n}"), "");
        socket.send_to(options.as_bytes(), sip).await.expect("send");
    }
    // Every request is accounted for: `limit` allowed, one banning the source, the rest dropped.
    let dropped = (ids.len() - limit) as f64;
    let started = Instant::now();
    while metric(http, "tandem_proxy_dropped_total{reason=\"flood\"}").await < dropped {
        assert!(
            started.elapsed() < STATE_WAIT,
            "flood drops never reached {dropped}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(metric(http, "tandem_proxy_bans_total").await, 1.0);
    let mut answered = 0;
    let done = receive_until(&socket, |m| {
        if let Message::Response(r) = m
            && r.status() == StatusCode::OK
        {
            answered += 1;
        }
        answered >= limit
    })
    .await;
    assert!(done, "{answered} of the first {limit} requests answered");
    assert_eq!(
        metric(http, "tandem_proxy_requests_total{method=\"OPTIONS\"}").await,
        limit as f64
    );
}
