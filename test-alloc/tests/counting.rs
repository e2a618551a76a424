//! `CountingAllocator` counts the allocation calls of the calling thread, and only those.

use std::hint::black_box;
use tandem_test_alloc::{CountingAllocator, allocations_during, counts_allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn counts_allocations_and_reallocations_of_this_thread_only() {
    assert!(counts_allocations());
    assert_eq!(allocations_during(|| drop(black_box(vec![1u8]))), 1);
    let grown = allocations_during(|| {
        let mut v = black_box(Vec::<u8>::with_capacity(1));
        v.extend_from_slice(&[0; 64]);
        drop(black_box(v));
    });
    assert_eq!(grown, 2, "the allocation and its reallocation");
    assert_eq!(
        allocations_during(|| {
            black_box([0u8; 64]);
        }),
        0
    );
    // Another thread's allocations count there, not here (spawning and joining allocate a little here).
    let before = tandem_test_alloc::allocation_calls();
    let elsewhere = std::thread::spawn(|| {
        for _ in 0..100 {
            drop(black_box(vec![0u8; 16]));
        }
        allocations_during(|| drop(black_box(vec![1u8])))
    });
    assert_eq!(elsewhere.join().unwrap(), 1);
    let here = tandem_test_alloc::allocation_calls() - before;
    assert!(here < 100, "{here} allocations counted on this thread");
}
