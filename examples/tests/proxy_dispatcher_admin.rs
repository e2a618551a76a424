//! `tandem proxy` in process: the dispatcher administration API (`GET /dispatcher`, `POST
//! /dispatcher/reload`, SIGHUP) over the metrics listener, with the list in a file (and SIPp calls to 9999
//! running across the reloads) or in a PostgreSQL table.
//!
//! Needs `sipp` (Debian package `sip-tester`) and, for the database test, `DATABASE_URL`; without them
//! the tests say so loudly and pass, except under `CI=true` where they fail.

mod common;
use common::{Sipp, free_udp_port, run, scenario, sipp_available, skip};

use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;
use tandem_sip_core::TransportKind;
use tandem_stack::proxy::{ProxyConfig, RunningProxy, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn proxy(dispatcher: &str) -> (RunningProxy, SocketAddr, SocketAddr) {
    let text = format!(
        r#"
        [proxy]
        domains = ["localhost", "127.0.0.1"]
        udp = "127.0.0.1:0"
        # Two proxy loops: every test also checks that messages are steered to the right one.
        shards = 2
        metrics = "127.0.0.1:0"
        # SIPp calls as sipp@127.0.0.1, one of our domains: this test is about the dispatcher, not 407s.
        auth_invite = false
        [dispatcher]
        algorithm = "round-robin"
        {dispatcher}
        [[routes]]
        prefix = "9999"
        set = 1
        "#
    );
    let mut config = ProxyConfig::from_toml(&text).expect("valid configuration");
    config.proxy.tcp = None;
    let proxy = start(config).await.expect("proxy starts");
    let sip = proxy.local_addr(TransportKind::Udp).expect("udp listener");
    let http = proxy.metrics_addr().expect("metrics listener");
    (proxy, sip, http)
}

/// One HTTP/1.1 exchange (the endpoint closes the connection after its reply): status code and body.
async fn exchange(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect to the admin endpoint");
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .await
        .expect("read the reply");
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {reply:?}"));
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn state(addr: SocketAddr) -> Value {
    let (status, body) = exchange(addr, "GET", "/dispatcher").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("GET /dispatcher is not JSON ({e}): {body}"))
}

async fn reload(addr: SocketAddr) -> (u16, Value) {
    let (status, body) = exchange(addr, "POST", "/dispatcher/reload").await;
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("reload reply ({e}): {body}"));
    (status, json)
}

/// The URIs of set `set`, in the order the API lists them.
fn uris(state: &Value, set: u64) -> Vec<String> {
    let sets = state["sets"].as_array().cloned().unwrap_or_default();
    let Some(set) = sets.iter().find(|s| s["id"] == set) else {
        return Vec::new();
    };
    let mut uris: Vec<String> = set["destinations"]
        .as_array()
        .map(|ds| {
            ds.iter()
                .filter_map(|d| d["uri"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    uris.sort();
    uris
}

fn sorted<const N: usize>(uris: [String; N]) -> Vec<String> {
    let mut uris = uris.to_vec();
    uris.sort();
    uris
}

fn destination<'a>(state: &'a Value, uri: &str) -> &'a Value {
    state["sets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["destinations"].as_array().into_iter().flatten())
        .find(|d| d["uri"] == uri)
        .unwrap_or_else(|| panic!("{uri} is not listed: {state:#}"))
}

fn write_list(path: &Path, ports: &[u16]) {
    let text: String = ports
        .iter()
        .map(|p| format!("1 sip:127.0.0.1:{p} 0 0 weight=10;duid=uas-{p}\n"))
        .collect();
    std::fs::write(path, text).expect("write the list");
}

fn uas(proxy: SocketAddr, port: u16) -> Sipp {
    // -aa answers the OPTIONS probes.
    let mut command = Command::new("sipp");
    command
        .arg(proxy.to_string())
        .args([
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-sf",
            &scenario("uas_rr.xml"),
        ])
        .args(["-p", &port.to_string(), "-aa"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Sipp::spawn(command)
}

async fn calls(proxy: SocketAddr, count: u32, rate: u32) -> ExitStatus {
    let mut command = Command::new("sipp");
    command
        .arg(proxy.to_string())
        .args([
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-timeout",
            "60s",
            "-timeout_error",
        ])
        .args(["-sf", &scenario("uac_rr.xml"), "-s", "9999"])
        .args([
            "-m",
            &count.to_string(),
            "-r",
            &rate.to_string(),
            "-d",
            "100",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    run(command).await
}

/// Poll `GET /dispatcher` until `done` holds (bounded: 100 tries, 100 ms apart).
async fn wait_for(addr: SocketAddr, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = state(addr).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition never held; last state: {last:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloading_the_list_file_adds_and_removes_destinations_without_failing_calls() {
    if !sipp_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let list = dir.path().join("dispatcher.list");
    let (p1, p2, p3) = (free_udp_port(), free_udp_port(), free_udp_port());
    write_list(&list, &[p1, p2]);
    let (proxy, sip, http) = proxy(&format!(
        "list = {:?}\nprobing = true\nprobe_interval_ms = 200\nprobe_timeout_ms = 500\n",
        list.display().to_string()
    ))
    .await;
    let mut agents = vec![uas(sip, p1), uas(sip, p2), uas(sip, p3)];
    let uri = |p: u16| format!("sip:127.0.0.1:{p}");

    // Both listed destinations are up and their probes answered.
    let before = wait_for(http, |s| {
        [p1, p2]
            .iter()
            .map(|&p| destination(s, &uri(p)))
            .all(|d| d["state"] == "active" && d["latency_ms"]["count"].as_u64() > Some(0))
    })
    .await;
    assert_eq!(uris(&before, 1), sorted([uri(p1), uri(p2)]));
    assert_eq!(before["source"], format!("file:{}", list.display()));
    let d1 = destination(&before, &uri(p1));
    assert_eq!(d1["weight"], 10);
    assert_eq!(d1["duid"], format!("uas-{p1}"));
    assert_eq!(d1["attrs"], format!("weight=10;duid=uas-{p1}"));
    assert_eq!(
        (d1["flags"].as_u64(), d1["priority"].as_i64()),
        (Some(0), Some(0))
    );
    assert!(d1["latency_ms"]["count"].as_u64() > Some(0), "{d1:#}");
    for key in ["avg", "min", "max", "last"] {
        assert!(d1["latency_ms"][key].is_f64(), "{key}: {d1:#}");
    }
    assert!(d1["active_calls"].is_u64(), "{d1:#}");

    // 200 calls to 9999 run while the list is reloaded three times.
    let traffic = tokio::spawn(calls(sip, 200, 50));
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // HTTP reload: p2 removed, p3 added, p1 kept with its state.
    write_list(&list, &[p1, p3]);
    let (status, summary) = reload(http).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        (&summary["kept"], &summary["added"], &summary["removed"]),
        (&Value::from(1), &Value::from(1), &Value::from(1)),
        "{summary}"
    );
    let after = state(http).await;
    assert_eq!(uris(&after, 1), sorted([uri(p1), uri(p3)]));
    assert_eq!(destination(&after, &uri(p1))["state"], "active");
    // A call load is counted while calls are up (answered dispatched INVITEs, until their BYE).
    let loaded = wait_for(http, |s| {
        [p1, p3]
            .iter()
            .any(|&p| destination(s, &uri(p))["active_calls"].as_u64() > Some(0))
    })
    .await;
    assert!(loaded["tracked_calls"].as_u64() > Some(0), "{loaded:#}");

    // A broken list is refused and the live one stays.
    std::fs::write(&list, "1 this-is-not-a-uri\n").expect("write");
    let (status, refused) = reload(http).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(uris(&state(http).await, 1), sorted([uri(p1), uri(p3)]));

    // SIGHUP reloads too: p2 comes back.
    write_list(&list, &[p1, p2, p3]);
    let hup = Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(hup.success());
    wait_for(http, |s| uris(s, 1) == sorted([uri(p1), uri(p2), uri(p3)])).await;

    let status = traffic.await.expect("traffic task");
    let done = state(http).await;
    for agent in &mut agents {
        agent.kill();
    }
    assert!(
        status.success(),
        "calls failed across the reloads: {status}"
    );
    // Every call ended with its BYE, so none is counted any more.
    assert_eq!(done["tracked_calls"], 0, "{done:#}");
    drop(proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_reject_other_methods_and_paths() {
    let (_proxy, _sip, http) =
        proxy("destinations = \"1 sip:127.0.0.1:5999\"\nprobing = false\n").await;
    assert_eq!(exchange(http, "POST", "/dispatcher").await.0, 405);
    assert_eq!(exchange(http, "GET", "/dispatcher/reload").await.0, 405);
    assert_eq!(exchange(http, "GET", "/nothing").await.0, 404);
    let (status, summary) = reload(http).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["kept"], 1);
    let s = state(http).await;
    assert_eq!(s["source"], "inline");
    // Probing is off: the destination is taken as active without probes.
    assert_eq!(destination(&s, "sip:127.0.0.1:5999")["state"], "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_can_come_from_a_postgres_table_and_be_reloaded() {
    use tandem_dispatcher::DestinationRow;
    use tandem_dispatcher::source::PostgresSource;
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => return skip("DATABASE_URL not set"),
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let schema = format!("tandem_proxy_dispatcher_{}_{nanos}", std::process::id());
    let table = PostgresSource::connect_in_schema(&url, &schema)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at DATABASE_URL={url} is unreachable: {e}"));
    let row = |port: u16, attrs: &str| DestinationRow {
        setid: 1,
        destination: format!("sip:127.0.0.1:{port}"),
        flags: 0,
        priority: 3,
        attrs: attrs.into(),
    };
    table
        .insert(&row(5997, "weight=40"), "a")
        .await
        .expect("insert");
    table.insert(&row(5998, ""), "b").await.expect("insert");
    let separator = if url.contains('?') { '&' } else { '?' };
    let source = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    let (proxy, _sip, http) = proxy(&format!("source = {source:?}\nprobing = false\n")).await;

    let before = state(http).await;
    assert_eq!(
        uris(&before, 1),
        ["sip:127.0.0.1:5997", "sip:127.0.0.1:5998"]
    );
    assert_eq!(destination(&before, "sip:127.0.0.1:5997")["weight"], 40);
    assert_eq!(destination(&before, "sip:127.0.0.1:5997")["priority"], 3);
    assert!(
        before["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("postgres://"))
    );

    table.delete(1, "sip:127.0.0.1:5998").await.expect("delete");
    table
        .insert(&row(5996, "duid=new"), "c")
        .await
        .expect("insert");
    let (status, summary) = reload(http).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        (&summary["added"], &summary["removed"]),
        (&Value::from(1), &Value::from(1))
    );
    let after = state(http).await;
    assert_eq!(
        uris(&after, 1),
        ["sip:127.0.0.1:5996", "sip:127.0.0.1:5997"]
    );
    assert_eq!(destination(&after, "sip:127.0.0.1:5996")["duid"], "new");
    drop(proxy);

    let drop_schema = sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    sqlx::query(drop_schema)
        .execute(table.pool())
        .await
        .expect("drop the test schema");
}
