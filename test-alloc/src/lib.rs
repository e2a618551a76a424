//! A global allocator for memory-footprint and allocation-count tests: the system allocator, keeping a running
//! total of the heap bytes requested and not yet freed, and a count of allocations. A test binary installs it
//! and reads [`live`] (or [`allocations`]) around the work it measures:
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
//! The total is process-wide: a binary measuring with it should hold a single test, so that no other test
//! allocates while it counts. Not for production use (a relaxed atomic add per allocation).
#![warn(missing_docs, unreachable_pub)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

static LIVE: AtomicIsize = AtomicIsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

/// Heap bytes requested and not yet freed since the process started (through [`LiveBytes`]).
pub fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Allocations (`alloc`, `alloc_zeroed` and `realloc` calls) made since the process started (through
/// [`LiveBytes`]): what allocation-count tests read around the work they measure.
pub fn allocations() -> usize {
    CALLS.load(Ordering::Relaxed)
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
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(signed(layout.size()), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
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
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(signed(new_size) - signed(layout.size()), Ordering::Relaxed);
        }
        p
    }
}
