//! A load-independent REGISTER workload for profiling: `N` SIPp-like REGISTERs (distinct AORs) through the
//! path `tandem proxy` gives them with the memory store (parse, validate, transaction layer, proxy core,
//! registrar, response bytes), in virtual time, without sockets.
//!
//! ```sh
//! cargo build --release -p tandem-registrar --example register_cost
//! valgrind --tool=callgrind target/release/examples/register_cost 20000
//! ```
//!
//! Instructions per REGISTER: run it for two counts and divide the difference of the totals by the
//! difference of the counts (the set-up and the warm-up cancel out).

#[path = "../tests/common/register_path.rs"]
mod register_path;

use register_path::{GAP, RegisterPath, sipp_register};
use std::time::{Duration, Instant, UNIX_EPOCH};

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    // Build every datagram first, as a socket would hand them over.
    let datagrams: Vec<_> = (0..count).map(sipp_register).collect();
    let mut path = RegisterPath::new();
    let start = Instant::now();
    let wall = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut bytes = 0;
    for (i, datagram) in datagrams.into_iter().enumerate() {
        let at = GAP * u32::try_from(i).unwrap_or(u32::MAX);
        for payload in path.handle(start + at, wall + at, datagram) {
            bytes += payload.len();
        }
    }
    println!(
        "{count} REGISTERs, {bytes} response bytes, {} transactions open",
        path.transactions()
    );
}
