//! Helpers shared by the integration tests that drive `tandem proxy` with SIPp.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::Write;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};

/// Whether this is a CI run, where a missing peer or service is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Print a skip notice the test harness does not swallow; under `CI=true`, fail instead.
pub fn skip(what: &str) {
    assert!(
        !in_ci(),
        "{what}, and CI=true makes that a failure, not a skip"
    );
    let _ = writeln!(
        std::io::stderr(),
        "\n========== SKIPPED: {what} ==========\n"
    );
}

/// Whether `sipp` runs here (skips loudly, or fails under CI, when it does not).
pub fn sipp_available() -> bool {
    let found = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        skip("sipp is not installed (apt-get install sip-tester)");
    }
    found
}

/// The path of a SIPp scenario in `tests/sipp/`.
pub fn scenario(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "sipp", name]
        .iter()
        .collect();
    path.display().to_string()
}

/// A UDP port that was free a moment ago on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral port");
    socket.local_addr().expect("local address").port()
}

/// Run a SIPp command to its end without blocking the runtime.
pub async fn run(mut command: Command) -> ExitStatus {
    tokio::task::spawn_blocking(move || command.status().expect("sipp runs"))
        .await
        .expect("sipp task")
}

/// Wait for a SIPp process without blocking the runtime.
pub async fn wait(mut child: Child) -> ExitStatus {
    tokio::task::spawn_blocking(move || child.wait().expect("sipp waits"))
        .await
        .expect("sipp task")
}
