//! The NG server on a loopback UDP socket, driven by a client socket, with a stand-in media engine that
//! records what it was asked (the relay engine replaces it later).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tandem_media_bridge::ng::bencode::{self, Dict, Value};
use tandem_media_bridge::ng::{
    CallStats, Counters, Delete, DeleteReply, Frame, Ice, Ignored, List, MediaControl, NgError,
    NgServer, NgServerConfig, NgStats, Query, SdpReply, SdpRequest, StatsWatch, Totals,
};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::time::timeout;

/// Generous bound so a broken server fails the test instead of hanging it; not a performance assertion.
const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Default)]
struct RecordingEngine {
    calls: Mutex<Vec<String>>,
    ignored: Mutex<Vec<String>>,
    rejected: Mutex<Vec<String>>,
}

impl RecordingEngine {
    fn record(&self, what: String) {
        self.calls.lock().unwrap().push(what);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl MediaControl for RecordingEngine {
    type Error = String;

    async fn offer(&self, request: SdpRequest) -> Result<SdpReply, String> {
        self.record(format!(
            "offer {} ice={:?}",
            String::from_utf8_lossy(&request.call_id),
            request.options.ice
        ));
        let mut sdp = request.sdp.to_vec();
        sdp.extend_from_slice(b"a=relayed\r\n");
        Ok(SdpReply::new(sdp))
    }

    async fn answer(&self, request: SdpRequest) -> Result<SdpReply, String> {
        self.record(format!(
            "answer {}",
            String::from_utf8_lossy(&request.call_id)
        ));
        assert!(
            &request.call_id[..] != b"boom",
            "the stand-in engine panics on call-id boom"
        );
        Ok(SdpReply::new(request.sdp))
    }

    async fn delete(&self, request: Delete) -> Result<DeleteReply, String> {
        self.record(format!(
            "delete {}",
            String::from_utf8_lossy(&request.call_id)
        ));
        Err("Unknown call-id".into())
    }

    async fn query(&self, request: Query) -> Result<CallStats, String> {
        self.record(format!(
            "query {}",
            String::from_utf8_lossy(&request.call_id)
        ));
        Ok(CallStats {
            created: 1_700_000_000,
            totals: Totals {
                rtp: Counters {
                    packets: 3,
                    bytes: 516,
                    errors: 0,
                },
                rtcp: Counters::default(),
            },
            ..CallStats::default()
        })
    }

    async fn list(&self, request: List) -> Result<Vec<Bytes>, String> {
        self.record(format!("list {}", request.limit));
        Ok((0..10).map(|n| Bytes::from(format!("call-{n}"))).collect())
    }

    fn ignored(&self, _peer: SocketAddr, command: &'static str, ignored: &[Ignored]) {
        let mut log = self.ignored.lock().unwrap();
        log.extend(ignored.iter().map(|i| format!("{command}: {i}")));
    }

    fn rejected(&self, _peer: SocketAddr, error: &NgError) {
        self.rejected.lock().unwrap().push(error.to_string());
    }
}

struct Harness {
    engine: Arc<RecordingEngine>,
    client: UdpSocket,
    server: SocketAddr,
    stats: StatsWatch,
    _stop: oneshot::Sender<()>,
}

impl Harness {
    async fn start() -> Harness {
        let engine = Arc::new(RecordingEngine::default());
        let config = NgServerConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            ..NgServerConfig::default()
        };
        let server = NgServer::bind(config, Arc::clone(&engine)).await.unwrap();
        let addr = server.local_addr().unwrap();
        let stats = server.stats();
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        Harness {
            engine,
            client,
            server: addr,
            stats,
            _stop: stop,
        }
    }

    async fn send(&self, datagram: &[u8]) {
        self.client.send_to(datagram, self.server).await.unwrap();
    }

    async fn receive(&self) -> Bytes {
        let mut buf = vec![0u8; 70_000];
        let (len, from) = timeout(PATIENCE, self.client.recv_from(&mut buf))
            .await
            .expect("no reply from the NG server")
            .unwrap();
        assert_eq!(from, self.server);
        buf.truncate(len);
        Bytes::from(buf)
    }

    /// Send a request and return the reply dictionary, checking the cookie came back.
    async fn exchange(&self, cookie: &str, body: &[u8]) -> Dict {
        self.send(&[cookie.as_bytes(), b" ", body].concat()).await;
        reply_dict(&self.receive().await, cookie)
    }

    async fn stats_when(&mut self, done: impl Fn(&NgStats) -> bool) -> NgStats {
        timeout(PATIENCE, self.stats.wait_for(|s| done(s)))
            .await
            .expect("the counters never reached the expected state")
            .expect("the server stopped")
    }
}

fn reply_dict(datagram: &Bytes, cookie: &str) -> Dict {
    let frame = Frame::parse(datagram).unwrap();
    assert_eq!(&frame.cookie[..], cookie.as_bytes());
    match bencode::decode(&frame.body).unwrap() {
        Value::Dict(d) => d,
        other => panic!("reply is not a dictionary: {other}"),
    }
}

fn text<'a>(d: &'a Dict, key: &str) -> Option<&'a str> {
    d.get(key.as_bytes()).and_then(Value::as_str)
}

const OFFER: &[u8] = b"d3:sdp29:v=0\r\nm=audio 4000 RTP/AVP 0\r\n3:ICE6:remove\
    7:call-id6:call-18:from-tag2:ft7:command5:offer8:T.38-ish2:yee";

#[tokio::test]
async fn answers_ping_with_pong() {
    let h = Harness::start().await;
    h.send(b"5323_1 d7:command4:pinge").await;
    assert_eq!(&h.receive().await[..], b"5323_1 d6:result4:ponge");
    assert!(h.engine.calls().is_empty());
}

#[tokio::test]
async fn relays_an_offer_to_the_engine_and_returns_its_sdp() {
    let h = Harness::start().await;
    let reply = h.exchange("8_1", OFFER).await;
    assert_eq!(text(&reply, "result"), Some("ok"));
    assert_eq!(
        text(&reply, "sdp"),
        Some("v=0\r\nm=audio 4000 RTP/AVP 0\r\na=relayed\r\n")
    );
    assert_eq!(
        h.engine.calls(),
        [format!("offer call-1 ice={:?}", Some(Ice::Remove))]
    );
    assert_eq!(
        *h.engine.ignored.lock().unwrap(),
        [r#"offer: unknown key "T.38-ish" = "ye""#]
    );
}

#[tokio::test]
async fn a_retransmitted_offer_is_answered_from_the_cache_not_executed_again() {
    let mut h = Harness::start().await;
    let datagram = [&b"9_1 "[..], OFFER].concat();
    h.send(&datagram).await;
    let first = h.receive().await;
    h.send(&datagram).await;
    let second = h.receive().await;
    assert_eq!(first, second);
    assert_eq!(h.engine.calls().len(), 1);
    let stats = h.stats_when(|s| s.retransmissions == 1).await;
    assert_eq!(stats.requests, 1);
}

#[tokio::test]
async fn garbage_with_a_cookie_gets_an_error_result() {
    let mut h = Harness::start().await;
    let reply = h.exchange("10_1", b"d7:command5:offer3:sdpi1").await;
    assert_eq!(text(&reply, "result"), Some("error"));
    let reason = text(&reply, "error-reason").unwrap();
    assert!(reason.starts_with("malformed bencode"), "{reason}");
    assert!(h.engine.calls().is_empty());
    assert_eq!(h.stats_when(|s| s.bad_datagrams == 1).await.unanswerable, 0);
    assert_eq!(h.engine.rejected.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn garbage_without_a_cookie_is_counted_and_the_server_keeps_serving() {
    let mut h = Harness::start().await;
    h.send(b"\x00\xff\xfe-garbage-without-space").await;
    h.send(b"nospace").await;
    let stats = h.stats_when(|s| s.unanswerable == 2).await;
    assert_eq!(stats.bad_datagrams, 2);
    h.send(b"11_1 d7:command4:pinge").await;
    assert_eq!(&h.receive().await[..], b"11_1 d6:result4:ponge");
}

#[tokio::test]
async fn an_unknown_command_gets_an_error_result() {
    let h = Harness::start().await;
    let reply = h.exchange("12_1", b"d7:command10:block DTMFe").await;
    assert_eq!(text(&reply, "result"), Some("error"));
    assert_eq!(
        text(&reply, "error-reason"),
        Some("unsupported command 'block DTMF'")
    );
}

#[tokio::test]
async fn an_engine_error_becomes_an_error_reason() {
    let h = Harness::start().await;
    let reply = h
        .exchange(
            "13_1",
            b"d7:command6:delete7:call-id6:call-18:from-tag2:fte",
        )
        .await;
    assert_eq!(text(&reply, "result"), Some("error"));
    assert_eq!(text(&reply, "error-reason"), Some("Unknown call-id"));
    assert_eq!(h.engine.calls(), ["delete call-1"]);
}

#[tokio::test]
async fn query_and_list_return_the_engine_results() {
    let h = Harness::start().await;
    let reply = h
        .exchange("14_1", b"d7:command5:query7:call-id6:call-1e")
        .await;
    let totals = reply.get(b"totals").and_then(Value::as_dict).unwrap();
    assert_eq!(
        totals.get(b"RTP").unwrap().to_string(),
        r#"{"packets": 3, "bytes": 516, "errors": 0}"#
    );
    let reply = h.exchange("14_2", b"d7:command4:list5:limiti4ee").await;
    let calls = reply.get(b"calls").and_then(Value::as_list).unwrap();
    assert_eq!(calls.len(), 4);
    assert_eq!(h.engine.calls(), ["query call-1", "list 4"]);
}

#[tokio::test]
async fn the_same_cookie_from_two_clients_is_executed_for_each() {
    let h = Harness::start().await;
    let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let datagram = [&b"15_1 "[..], OFFER].concat();
    h.send(&datagram).await;
    h.receive().await;
    other.send_to(&datagram, h.server).await.unwrap();
    let mut buf = vec![0u8; 70_000];
    let (len, _) = timeout(PATIENCE, other.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf[..len].starts_with(b"15_1 d6:result2:ok"));
    assert_eq!(h.engine.calls().len(), 2);
}

#[tokio::test]
async fn a_panicking_engine_still_gets_the_client_an_answer() {
    let h = Harness::start().await;
    let reply = h
        .exchange(
            "16_1",
            b"d7:command6:answer7:call-id4:boom8:from-tag1:f6:to-tag1:t3:sdp3:v=0e",
        )
        .await;
    assert_eq!(text(&reply, "error-reason"), Some("internal error"));
    h.send(b"16_2 d7:command4:pinge").await;
    assert_eq!(&h.receive().await[..], b"16_2 d6:result4:ponge");
}
