//! What the Tandem benchmarks in `benches/` share: a counting global allocator, so that every bench can
//! print the heap allocations of one operation next to its time.
//!
//! A bench opts in with one static (a global allocator must be declared by the binary, once):
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: tandem_benches::CountingAllocator = tandem_benches::CountingAllocator;
//! ```
//!
//! and reports with [`print_allocations`] (or [`allocations_per_call`] to build its own table).
//!
//! The allocator is `tandem-test-alloc`'s: it counts each thread's allocation calls, so a measurement sees
//! only the calls its closure makes on the bench's thread, and the timed runs pay one thread-local add per
//! allocation.
#![warn(missing_docs, unreachable_pub)]

pub use tandem_test_alloc::CountingAllocator;

/// Calls per measurement in [`print_allocations`].
pub const RUNS: usize = 1000;

/// Heap allocations (reallocations included) per call of `f`, averaged over `runs` calls.
///
/// One call runs first, uncounted, so that one-off lazy initialisation is not charged to every call.
///
/// # Panics
/// When [`CountingAllocator`] is not the global allocator of this binary: the figure would read 0.
pub fn allocations_per_call(runs: usize, mut f: impl FnMut()) -> f64 {
    assert!(
        tandem_test_alloc::counts_allocations(),
        "install tandem_benches::CountingAllocator as #[global_allocator] to count allocations"
    );
    f();
    let calls = tandem_test_alloc::allocations_during(|| {
        for _ in 0..runs {
            f();
        }
    });
    calls as f64 / runs.max(1) as f64
}

/// Prints `allocations/op WHAT: N` for [`RUNS`] calls of `f` (see [`allocations_per_call`]).
pub fn print_allocations(what: &str, f: impl FnMut()) {
    println!("allocations/op {what}: {}", allocations_per_call(RUNS, f));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    #[global_allocator]
    static ALLOCATOR: CountingAllocator = CountingAllocator;

    #[test]
    fn counts_each_allocation_and_reallocation_of_the_measured_call() {
        assert_eq!(allocations_per_call(10, || drop(black_box(vec![1u8]))), 1.0);
        let grow = || {
            let mut v = black_box(Vec::<u8>::with_capacity(1));
            v.extend_from_slice(&[0; 64]);
            drop(black_box(v));
        };
        assert_eq!(allocations_per_call(10, grow), 2.0);
        assert_eq!(
            allocations_per_call(10, || {
                black_box([0u8; 64]);
            }),
            0.0
        );
    }
}
