//! Giving freed heap back to the operating system after a burst of transactions.
//!
//! A burst (say 10,000 REGISTERs in ten seconds) allocates per-transaction state that lives until Timer J
//! fires 32 s later. glibc's allocator keeps the freed pages in its arenas, so without help the process's
//! RSS stays at the burst's peak long after the transactions are gone. Once the live transaction count has
//! fallen to a quarter of its peak, the proxy asks the allocator to return its free pages (`malloc_trim`),
//! so RSS follows the live state (bindings, flows) again. The decision is a plain state machine
//! ([`BurstTrim`]); only [`release_free_memory`] touches the allocator.
//!
//! The `tandem` binary itself allocates with jemalloc (`src/main.rs`), which returns freed pages on its own
//! and far better (docs/bench-proxy.md, "Memory per registered user"); the trim then walks an almost empty
//! glibc heap. It stays for this library running on glibc's malloc (its tests, other binaries).

/// Peaks smaller than this are not worth a trim.
const MIN_PEAK: usize = 1024;

/// Watches the live transaction count and says when a burst has drained.
#[derive(Debug, Default)]
pub(super) struct BurstTrim {
    peak: usize,
}

impl BurstTrim {
    /// Feed the live transaction count (once per housekeeping tick); true when a trim is due.
    pub(super) fn observe(&mut self, live: usize) -> bool {
        if live > self.peak {
            self.peak = live;
            return false;
        }
        if self.peak >= MIN_PEAK && live.saturating_mul(4) <= self.peak {
            self.peak = live;
            return true;
        }
        false
    }
}

/// Returns free heap pages to the operating system (glibc; a no-op with other C libraries).
pub(super) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only walks glibc's own arenas under their locks; it is
    // safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::BurstTrim;

    #[test]
    fn a_drained_burst_is_trimmed_once_and_small_ones_never() {
        let mut trim = BurstTrim::default();
        // A small peak never asks for a trim.
        assert!(!trim.observe(500));
        assert!(!trim.observe(0));
        // A burst: rising, then falling; the trim comes once the count is at a quarter of the peak.
        assert!(!trim.observe(8000));
        assert!(!trim.observe(10_000));
        assert!(!trim.observe(6000));
        assert!(!trim.observe(2501));
        assert!(trim.observe(2500));
        // The peak restarts from there: no second trim while the count keeps falling slowly.
        assert!(!trim.observe(1000));
        // Down from 2500 to 0 is a drained peak of 2500: one more trim, then nothing until the next burst.
        assert!(trim.observe(0));
        assert!(!trim.observe(0));
    }
}
