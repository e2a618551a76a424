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

/// A SIPp process that is killed and reaped when dropped — when its test fails an assertion or panics, or
/// when the future waiting for it is dropped — so that a failing test never leaves SIPp running.
#[derive(Debug)]
pub struct Sipp {
    child: Option<Child>,
}

impl Sipp {
    /// Start `command` (a `sipp` command line).
    pub fn spawn(mut command: Command) -> Sipp {
        Sipp {
            child: Some(command.spawn().expect("sipp starts")),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Wait for the process to exit, without blocking the runtime; on failure print what it wrote to a
    /// piped stderr. The process is polled (not waited for on a blocking thread) so that dropping this
    /// future drops the guard, which kills it.
    pub async fn wait(mut self) -> ExitStatus {
        loop {
            let child = self.child.as_mut().expect("a running sipp");
            if let Some(status) = child.try_wait().expect("sipp status") {
                if !status.success() {
                    let mut errors = String::new();
                    if let Some(mut stderr) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut stderr, &mut errors);
                    }
                    let _ = writeln!(std::io::stderr(), "sipp exited with {status}: {errors}");
                }
                self.child = None;
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Kill the process now (a UAS that runs until stopped) and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Run a SIPp command to its end without blocking the runtime (killed if the caller gives up on it).
pub async fn run(command: Command) -> ExitStatus {
    Sipp::spawn(command).wait().await
}

/// Wait for a SIPp process without blocking the runtime.
pub async fn wait(sipp: Sipp) -> ExitStatus {
    sipp.wait().await
}
