//! `tandem proxy` in process, driven by real SIPp user agents over UDP on loopback.
//!
//! Needs `sipp` (Debian package `sip-tester`); without it the tests say so and pass, except under `CI=true`
//! where a missing SIPp fails them.

mod common;
use common::{Sipp, free_udp_port, run, scenario, sipp_available, wait};

use std::net::SocketAddr;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tandem_sip_core::TransportKind;
use tandem_stack::proxy::{ProxyConfig, RunningProxy, start};

/// A proxy on an ephemeral UDP port for `localhost`/`127.0.0.1`, users alice and bob, plus `extra` TOML.
async fn proxy(extra: &str) -> (RunningProxy, SocketAddr) {
    started(config(extra)).await
}

/// The configuration [`proxy`] starts.
fn config(extra: &str) -> ProxyConfig {
    let text = format!(
        r#"
        [proxy]
        domains = ["localhost", "127.0.0.1"]
        udp = "127.0.0.1:0"
        # Two proxy loops: every test also checks that messages are steered to the right one.
        shards = 2
        metrics = "127.0.0.1:0"
        [[users]]
        username = "alice"
        password = "alice-secret"
        [[users]]
        username = "bob"
        password = "bob-secret"
        {extra}
        "#
    );
    let mut config = ProxyConfig::from_toml(&text).expect("valid configuration");
    config.proxy.tcp = None;
    config
}

async fn started(config: ProxyConfig) -> (RunningProxy, SocketAddr) {
    let proxy = start(config).await.expect("proxy starts");
    let addr = proxy.local_addr(TransportKind::Udp).expect("udp listener");
    (proxy, addr)
}

fn sipp(proxy: SocketAddr, args: &[&str]) -> Command {
    let mut command = Command::new("sipp");
    command
        .arg(proxy.to_string())
        .args([
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-timeout",
            "30s",
            "-timeout_error",
        ])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

async fn register(proxy: SocketAddr, user: &str, password: &str, contact: &str) -> ExitStatus {
    let register = scenario("register_auth.xml");
    let contact_key = contact.to_owned();
    run(sipp(
        proxy,
        &[
            "-sf",
            &register,
            "-m",
            "1",
            "-key",
            "user",
            user,
            "-key",
            "contact",
            &contact_key,
            "-au",
            user,
            "-ap",
            password,
        ],
    ))
    .await
}

fn uas(proxy: SocketAddr, port: u16, calls: u32) -> Sipp {
    let scenario = scenario("uas_rr.xml");
    Sipp::spawn(sipp(
        proxy,
        &[
            "-sf",
            &scenario,
            "-p",
            &port.to_string(),
            "-m",
            &calls.to_string(),
        ],
    ))
}

/// `count` calls to `service` from alice, who answers the proxy's 407 challenge (uac_auth.xml).
async fn calls(proxy: SocketAddr, service: &str, count: u32, rate: u32) -> ExitStatus {
    calls_as(proxy, "alice", "alice-secret", service, count, rate).await
}

async fn calls_as(
    proxy: SocketAddr,
    user: &str,
    password: &str,
    service: &str,
    count: u32,
    rate: u32,
) -> ExitStatus {
    let scenario = scenario("uac_auth.xml");
    // SIPp's digest-uri defaults to sip:host:port; the proxy checks it against the Request-URI.
    let auth_uri = format!("{service}@{proxy}");
    run(sipp(
        proxy,
        &[
            "-sf",
            &scenario,
            "-s",
            service,
            "-key",
            "user",
            user,
            "-au",
            user,
            "-ap",
            password,
            "-auth_uri",
            &auth_uri,
            "-m",
            &count.to_string(),
            "-r",
            &rate.to_string(),
            "-d",
            "100",
        ],
    ))
    .await
}

/// One call to `service` from another domain (a carrier): SIPp on 127.0.0.2, From `sipp@127.0.0.2`, no
/// credentials (uac_rr.xml).
async fn inbound_call(proxy: SocketAddr, service: &str) -> ExitStatus {
    let scenario = scenario("uac_rr.xml");
    let mut command = sipp(
        proxy,
        &["-sf", &scenario, "-s", service, "-m", "1", "-d", "100"],
    );
    // The last -i wins: the call comes from 127.0.0.2, outside the proxy's domains.
    command.args(["-i", "127.0.0.2"]);
    run(command).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_with_digest_auth_is_challenged_then_accepted() {
    if !sipp_available() {
        return;
    }
    let (proxy, addr) = proxy("").await;
    assert!(
        register(addr, "alice", "alice-secret", "127.0.0.1:5999")
            .await
            .success()
    );
    assert!(
        !register(addr, "alice", "wrong", "127.0.0.1:5999")
            .await
            .success()
    );
    assert!(proxy.metrics().auth_failures.load(Ordering::Relaxed) >= 1);
}

/// The configuration [`proxy`] starts, with `shards` proxy loops instead of 2.
fn with_shards(shards: usize) -> ProxyConfig {
    let mut config = config("");
    config.proxy.shards = Some(shards);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_between_two_registered_uas_goes_through() {
    call_between_two_registered_uas(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_between_two_registered_uas_goes_through_a_single_shard() {
    call_between_two_registered_uas(1).await;
}

async fn call_between_two_registered_uas(shards: usize) {
    if !sipp_available() {
        return;
    }
    let (_proxy, addr) = started(with_shards(shards)).await;
    let bob_port = free_udp_port();
    assert!(
        register(addr, "bob", "bob-secret", &format!("127.0.0.1:{bob_port}"))
            .await
            .success()
    );
    assert!(
        register(addr, "alice", "alice-secret", "127.0.0.1:5998")
            .await
            .success()
    );
    let bob = uas(addr, bob_port, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(calls(addr, "bob", 1, 1).await.success(), "the call failed");
    assert!(
        wait(bob).await.success(),
        "bob did not take exactly one call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_to_an_unregistered_or_unknown_user_fail() {
    if !sipp_available() {
        return;
    }
    let (proxy, addr) = proxy("").await;
    // bob is provisioned but not registered (480), carol is unknown (404): both calls fail.
    assert!(!calls(addr, "bob", 1, 1).await.success());
    assert!(!calls(addr, "carol", 1, 1).await.success());
    let metrics = proxy.metrics();
    assert!(
        metrics.requests_of("INVITE") >= 4,
        "challenged, then authorized"
    );
    assert_eq!(metrics.responses_of(480), 1);
    assert_eq!(metrics.responses_of(404), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_from_our_user_is_challenged_and_passes_with_proxy_authorization() {
    if !sipp_available() {
        return;
    }
    let (proxy, addr) = proxy("").await;
    let bob_port = free_udp_port();
    assert!(
        register(addr, "bob", "bob-secret", &format!("127.0.0.1:{bob_port}"))
            .await
            .success()
    );
    let bob = uas(addr, bob_port, 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        calls(addr, "bob", 3, 10).await.success(),
        "authenticated calls failed"
    );
    assert!(wait(bob).await.success(), "bob did not take three calls");
    let metrics = proxy.metrics();
    assert_eq!(
        metrics.responses_of(407),
        3,
        "every call was challenged once"
    );
    assert_eq!(metrics.auth_failures.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_a_wrong_password_is_refused_and_repeated_failures_ban_the_source() {
    if !sipp_available() {
        return;
    }
    let (proxy, addr) = proxy("[flood]\nmax_auth_failures = 3\nban_secs = 60\n").await;
    let bob_port = free_udp_port();
    assert!(
        register(addr, "bob", "bob-secret", &format!("127.0.0.1:{bob_port}"))
            .await
            .success()
    );
    // bob's UA is never started: a call that got through would time out, not be refused.
    assert!(
        !calls_as(addr, "alice", "wrong", "bob", 1, 1)
            .await
            .success()
    );
    let metrics = proxy.metrics();
    assert!(metrics.auth_failures.load(Ordering::Relaxed) >= 1);
    assert_eq!(
        metrics.requests_of("INVITE"),
        2,
        "no INVITE was forwarded to bob"
    );
    assert!(
        !calls_as(addr, "alice", "wrong", "bob", 2, 10)
            .await
            .success()
    );
    assert!(metrics.bans.load(Ordering::Relaxed) >= 1, "no ban issued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_from_another_domain_to_our_user_is_not_challenged() {
    if !sipp_available() {
        return;
    }
    let (proxy, addr) = proxy("").await;
    let bob_port = free_udp_port();
    assert!(
        register(addr, "bob", "bob-secret", &format!("127.0.0.1:{bob_port}"))
            .await
            .success()
    );
    let bob = uas(addr, bob_port, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        inbound_call(addr, "bob").await.success(),
        "the inbound call failed"
    );
    assert!(wait(bob).await.success(), "bob did not take the call");
    assert_eq!(proxy.metrics().responses_of(407), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_invite_off_calls_from_our_users_are_not_challenged() {
    if !sipp_available() {
        return;
    }
    let mut config = config("");
    config.proxy.auth_invite = false;
    let (proxy, addr) = started(config).await;
    let bob_port = free_udp_port();
    assert!(
        register(addr, "bob", "bob-secret", &format!("127.0.0.1:{bob_port}"))
            .await
            .success(),
        "REGISTER is still authenticated"
    );
    let bob = uas(addr, bob_port, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // uac_rr.xml sends no credentials and its From (sipp@127.0.0.1) is in our domains.
    let scenario = scenario("uac_rr.xml");
    let status = run(sipp(
        addr,
        &["-sf", &scenario, "-s", "bob", "-m", "1", "-d", "100"],
    ))
    .await;
    assert!(status.success(), "the call failed");
    assert!(wait(bob).await.success(), "bob did not take the call");
    assert_eq!(proxy.metrics().responses_of(407), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_to_9999_are_split_round_robin_over_two_uas() {
    if !sipp_available() {
        return;
    }
    let (p1, p2) = (free_udp_port(), free_udp_port());
    let extra = format!(
        "[dispatcher]\ndestinations = \"1 sip:127.0.0.1:{p1}\\n1 sip:127.0.0.1:{p2}\\n\"\n\
         algorithm = \"round-robin\"\nprobing = false\n[[routes]]\nprefix = \"9999\"\nset = 1\n"
    );
    let (_proxy, addr) = proxy(&extra).await;
    // Each UAS exits successfully only after exactly five calls: the split is 5/5.
    let first = uas(addr, p1, 5);
    let second = uas(addr, p2, 5);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        calls(addr, "9999", 10, 10).await.success(),
        "some calls failed"
    );
    assert!(wait(first).await.success(), "first UAS did not get 5 calls");
    assert!(
        wait(second).await.success(),
        "second UAS did not get 5 calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_source_is_banned_while_another_source_keeps_working() {
    if !sipp_available() {
        return;
    }
    let extra = "[flood]\nwindow_ms = 1000\nmax_requests = 50\nban_secs = 60\n";
    let (proxy, addr) = proxy(extra).await;
    let flood = scenario("options_flood.xml");
    let mut command = Command::new("sipp");
    command
        .arg(addr.to_string())
        .args([
            "-i",
            "127.0.0.2",
            "-nostdin",
            "-timeout",
            "20s",
            "-sf",
            &flood,
        ])
        .args(["-m", "400", "-r", "400"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    run(command).await;
    let metrics = proxy.metrics();
    assert!(metrics.bans.load(Ordering::Relaxed) >= 1, "no ban issued");
    assert!(
        metrics.dropped.load(Ordering::Relaxed) > 0,
        "nothing dropped"
    );
    // 127.0.0.1 is another source: its REGISTER still succeeds.
    assert!(
        register(addr, "alice", "alice-secret", "127.0.0.1:5997")
            .await
            .success()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_uas_is_probed_down_and_new_calls_keep_succeeding() {
    if !sipp_available() {
        return;
    }
    let (p1, p2) = (free_udp_port(), free_udp_port());
    let extra = format!(
        "[dispatcher]\ndestinations = \"1 sip:127.0.0.1:{p1}\\n1 sip:127.0.0.1:{p2}\\n\"\n\
         algorithm = \"round-robin\"\nprobing = true\nprobe_interval_ms = 200\n\
         probe_timeout_ms = 300\ndown_threshold = 1\nno_answer_ms = 1000\n\
         [[routes]]\nprefix = \"9999\"\nset = 1\n"
    );
    let (proxy, addr) = proxy(&extra).await;
    // -aa answers the OPTIONS probes.
    let scenario_path = scenario("uas_rr.xml");
    let start_uas = |port: u16| {
        Sipp::spawn(sipp(
            addr,
            &["-sf", &scenario_path, "-p", &port.to_string(), "-aa"],
        ))
    };
    let mut doomed = start_uas(p1);
    let mut survivor = start_uas(p2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Calls in flight while the UAS dies may fail (their BYE has nowhere to go); calls made afterwards
    // must not.
    let traffic = tokio::spawn(calls(addr, "9999", 10, 10));
    tokio::time::sleep(Duration::from_millis(500)).await;
    doomed.kill();
    let _ = traffic.await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let status = calls(addr, "9999", 10, 10).await;
    let states = proxy.metrics().destinations();
    survivor.kill();
    assert!(status.success(), "calls after a UAS went away failed");
    let down = states
        .iter()
        .find(|(_, uri, _)| uri.contains(&p1.to_string()))
        .map(|(_, _, state)| state.clone());
    assert_ne!(down.as_deref(), Some("Active"), "states: {states:?}");
}

/// A SIPp UAS on `port` that rings, must be CANCELled, and answers 487 (uas_cancelled.xml).
fn uas_cancelled(proxy: SocketAddr, port: u16) -> Sipp {
    let scenario = scenario("uas_cancelled.xml");
    Sipp::spawn(sipp(
        proxy,
        &["-sf", &scenario, "-p", &port.to_string(), "-m", "1"],
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_forks_to_both_contacts_and_the_ringing_one_is_cancelled_when_the_other_answers() {
    forked_call_cancels_the_ringing_contact(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_call_cancels_the_ringing_contact_with_a_single_shard() {
    forked_call_cancels_the_ringing_contact(1).await;
}

async fn forked_call_cancels_the_ringing_contact(shards: usize) {
    if !sipp_available() {
        return;
    }
    let (proxy, addr) = started(with_shards(shards)).await;
    let (ringing_port, answering_port) = (free_udp_port(), free_udp_port());
    // One AOR, two contacts.
    for port in [ringing_port, answering_port] {
        assert!(
            register(addr, "bob", "bob-secret", &format!("127.0.0.1:{port}"))
                .await
                .success()
        );
    }
    let ringing = uas_cancelled(addr, ringing_port);
    let answering = uas(addr, answering_port, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // From another domain: not challenged, so the INVITE is forked at once.
    assert!(
        inbound_call(addr, "bob").await.success(),
        "the caller did not get the 200"
    );
    assert!(
        wait(answering).await.success(),
        "the answering contact did not take the call"
    );
    assert!(
        wait(ringing).await.success(),
        "the ringing contact was not CANCELled (or did not get the ACK of its 487)"
    );
    let metrics = proxy.metrics();
    assert_eq!(metrics.requests_of("INVITE"), 1);
    assert_eq!(
        metrics.responses_of(487),
        0,
        "the 487 of the cancelled branch is not forwarded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timer_c_cancels_a_branch_that_rings_too_long() {
    if !sipp_available() {
        return;
    }
    // Timer C far below the RFC's 3 minutes, for the test.
    let (proxy, addr) = proxy("[timers]\ntimer_c_ms = 1000\n").await;
    let port = free_udp_port();
    assert!(
        register(addr, "bob", "bob-secret", &format!("127.0.0.1:{port}"))
            .await
            .success()
    );
    let ringing = uas_cancelled(addr, port);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let scenario = scenario("invite_487.xml");
    let mut caller = sipp(addr, &["-sf", &scenario, "-s", "bob", "-m", "1"]);
    // From another domain (127.0.0.2): not challenged.
    caller.args(["-i", "127.0.0.2"]);
    assert!(
        run(caller).await.success(),
        "the caller did not get the 487 of the cancelled branch"
    );
    assert!(
        wait(ringing).await.success(),
        "the ringing contact was not CANCELled"
    );
    assert_eq!(proxy.metrics().responses_of(487), 1);
    // The branch had answered 180: Timer C cancelled it rather than counting a 408.
    let metrics = proxy.metrics_addr().expect("metrics listener");
    wait_for_line(
        metrics,
        "tandem_proxy_timer_c_fired_total{outcome=\"cancel\"} 1",
    )
    .await;
    let body = scrape(metrics).await;
    assert!(
        body.lines()
            .any(|l| l == "tandem_proxy_timer_c_fired_total{outcome=\"timeout\"} 0"),
        "{body}"
    );
}

/// The body of `GET /metrics` at `addr`.
async fn scrape(addr: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("metrics connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("metrics request");
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .await
        .expect("metrics read");
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

/// Wait (bounded: the proxy publishes its core's counters once a second) until `/metrics` at `addr`
/// has `line`.
async fn wait_for_line(addr: SocketAddr, line: &str) {
    let mut body = String::new();
    for _ in 0..50 {
        body = scrape(addr).await;
        if body.lines().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/metrics never showed {line:?}:\n{body}");
}

/// Whether process `pid` exists (and is not yet reaped).
fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_sipp_guard_kills_its_process_when_dropped_and_when_its_test_panics() {
    if !sipp_available() {
        return;
    }
    // A UAS waiting for calls that never come: it runs until killed.
    let idle_uas = || {
        let mut command = Command::new("sipp");
        command
            .args(["-sn", "uas", "-i", "127.0.0.1", "-nostdin"])
            .args(["-p", &free_udp_port().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Sipp::spawn(command)
    };
    let guard = idle_uas();
    let pid = guard.id();
    assert!(alive(pid));
    drop(guard);
    assert!(!alive(pid), "a dropped guard left sipp {pid} running");

    let mut pid = 0;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let guard = idle_uas();
        pid = guard.id();
        panic!("a failing test");
    }));
    assert!(outcome.is_err());
    assert!(pid != 0);
    assert!(!alive(pid), "a panicking test left sipp {pid} running");
}
