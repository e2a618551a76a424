//! Heap allocations per REGISTER on the path `tandem proxy` gives it with the memory store (parse, validate,
//! transaction layer, proxy core, registrar, response bytes; see `common/register_path.rs`), counted by a
//! global allocator at the steady state of a registration burst (older transactions end while new ones
//! start). The bound fails if the per-REGISTER work grows allocations again.
//!
//! This binary holds a single test so that no other test allocates while it counts.
#![cfg(feature = "memory")]

#[path = "common/register_path.rs"]
mod register_path;

use register_path::{GAP, RegisterPath, sipp_register};
use std::time::{Duration, Instant, UNIX_EPOCH};
use tandem_test_alloc::{CountingAllocator, allocation_calls as allocations, counts_allocations};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// REGISTERs before counting: 64·T1 of virtual time, so that transactions already end as new ones start.
const WARM_UP: usize = 8_000;
/// REGISTERs counted.
const COUNTED: usize = 4_000;

/// Allocations one REGISTER may cost, from the datagram to the response bytes (the datagram's own buffer is
/// not counted): 33 when this bound was set, 58 before the registrar found the AOR once, the loop hash
/// and the host checks stopped printing URIs and the 200 (OK) was built with its fields sized once.
const MAX_ALLOCATIONS_PER_REGISTER: usize = 36;

#[test]
fn a_register_costs_a_bounded_number_of_allocations() {
    assert!(
        counts_allocations(),
        "the counting allocator is not installed"
    );
    let mut path = RegisterPath::new();
    let start = Instant::now();
    let wall = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let datagrams: Vec<_> = (0..WARM_UP + COUNTED).map(sipp_register).collect();
    let mut counted = 0;
    let mut responses = Vec::with_capacity(COUNTED);
    for (i, datagram) in datagrams.into_iter().enumerate() {
        let at = GAP * u32::try_from(i).unwrap_or(u32::MAX);
        let before = allocations();
        let sent = path.handle(start + at, wall + at, datagram);
        if i >= WARM_UP {
            counted += allocations() - before;
            responses.extend(sent);
        }
    }
    // Every REGISTER was answered 200 once, and the burst did not pile up transactions.
    assert_eq!(responses.len(), COUNTED);
    assert!(
        responses
            .iter()
            .all(|r| r.starts_with(b"SIP/2.0 200 OK\r\n"))
    );
    assert!(
        path.transactions() < 8_000,
        "{} transactions open",
        path.transactions()
    );
    let per_register = counted as f64 / COUNTED as f64;
    println!("{per_register:.2} allocations per REGISTER");
    assert!(
        per_register <= MAX_ALLOCATIONS_PER_REGISTER as f64,
        "{per_register:.2} allocations per REGISTER, more than {MAX_ALLOCATIONS_PER_REGISTER}"
    );
}
