//! Global allocators for tests, forwarding to the system allocator:
//!
//! - [`LiveBytes`] keeps a running total of the heap bytes requested and not yet freed, for memory-footprint
//!   tests. A test binary installs it and reads [`live`] around the work it measures:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: tandem_test_alloc::LiveBytes = tandem_test_alloc::LiveBytes;
//!
//! let before = tandem_test_alloc::live();
//! // ... build what is measured ...
//! let held = tandem_test_alloc::live() - before;
//! ```
//!
//!   That total is process-wide: a binary measuring with it should hold a single test, so that no other test
//!   allocates while it counts.
//! - [`CountingAllocator`] counts each thread's allocation calls, for "allocates nothing" tests and the
//!   benches' allocations per operation:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: tandem_test_alloc::CountingAllocator = tandem_test_alloc::CountingAllocator;
//!
//! assert!(tandem_test_alloc::counts_allocations());
//! assert_eq!(tandem_test_alloc::allocations_during(|| { /* the hot path */ }), 0);
//! ```
//!
//! Not for production use (bookkeeping on every allocation).
#![warn(missing_docs, unreachable_pub)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// Heap bytes requested and not yet freed since the process started (through [`LiveBytes`]).
pub fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// `n` as a signed byte count (saturating; no allocation is that large).
pub fn signed(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

/// The system allocator, counting live bytes; install it with `#[global_allocator]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveBytes;

// SAFETY: every call forwards to `System` with the caller's arguments; the counter is bookkeeping only.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(signed(layout.size()), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(signed(layout.size()), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(signed(layout.size()), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(signed(new_size) - signed(layout.size()), Ordering::Relaxed);
        }
        p
    }
}

thread_local! {
    /// Allocation calls made by this thread through [`CountingAllocator`].
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

/// Allocation calls (`alloc`, `alloc_zeroed`, `realloc`) the current thread made so far through
/// [`CountingAllocator`].
pub fn allocation_calls() -> usize {
    CALLS.try_with(Cell::get).unwrap_or(0)
}

/// Allocation calls `f` made on the current thread (through [`CountingAllocator`]). Other threads, such as
/// the test harness's, do not disturb the count.
pub fn allocations_during(f: impl FnOnce()) -> usize {
    let before = allocation_calls();
    f();
    allocation_calls().wrapping_sub(before)
}

/// Whether [`CountingAllocator`] is this binary's global allocator (an allocation made now is counted):
/// without it every count reads 0, which would pass any "allocates nothing" check.
pub fn counts_allocations() -> bool {
    allocations_during(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(1)))) > 0
}

/// The system allocator, counting each thread's allocation calls (allocations and reallocations, not
/// frees); install it with `#[global_allocator]` and read [`allocations_during`]. The count is per thread,
/// a const-initialised cell: one add per allocation, nothing allocated to keep it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

fn count_call() {
    // After the thread's locals are gone (never, for a cell without a destructor) the call is not counted.
    let _ = CALLS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call forwards to `System` with the caller's arguments; the counter is bookkeeping only.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_call();
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_call();
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_call();
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
