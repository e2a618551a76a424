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
#![warn(missing_docs, unreachable_pub)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Calls per measurement in [`print_allocations`].
pub const RUNS: usize = 1000;

/// The system allocator, counting allocations and reallocations while a measurement is running.
///
/// Counting is switched on only inside [`allocations_per_call`], so the timed runs of a bench pay one
/// relaxed load per allocation and nothing else.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn count() {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this wrapper, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as for `dealloc`, and the caller upholds `realloc`'s size contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Heap allocations (reallocations included) per call of `f`, averaged over `runs` calls.
///
/// One call runs first, uncounted, so that one-off lazy initialisation is not charged to every call.
///
/// # Panics
/// When [`CountingAllocator`] is not the global allocator of this binary: the figure would read 0.
pub fn allocations_per_call(runs: usize, mut f: impl FnMut()) -> f64 {
    assert!(
        counts_allocations(),
        "install tandem_benches::CountingAllocator as #[global_allocator] to count allocations"
    );
    f();
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    for _ in 0..runs {
        f();
    }
    COUNTING.store(false, Ordering::Relaxed);
    ALLOCATIONS.load(Ordering::Relaxed) as f64 / runs.max(1) as f64
}

/// Prints `allocations/op WHAT: N` for [`RUNS`] calls of `f` (see [`allocations_per_call`]).
pub fn print_allocations(what: &str, f: impl FnMut()) {
    println!("allocations/op {what}: {}", allocations_per_call(RUNS, f));
}

/// Whether allocations made now reach the counter.
fn counts_allocations() -> bool {
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    drop(black_box(Vec::<u8>::with_capacity(1)));
    COUNTING.store(false, Ordering::Relaxed);
    ALLOCATIONS.load(Ordering::Relaxed) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

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
