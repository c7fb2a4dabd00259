//! Baseline: a granule table in TF-RMM's style, for comparison with Warden's.
//!
//! One `u16` descriptor per granule holding a lock bit, the state and a reference count, as TF-RMM
//! (v0.5, `lib/granule`) packs it. Every transition takes the lock by spinning (test, then
//! compare-and-swap with acquire ordering), checks the state under the lock, changes it, and releases
//! the lock with a release store: two atomic read-modify-writes/stores plus the spin, versus Warden's
//! one CAS and one store with no waiting on state mismatch.

use std::sync::atomic::{AtomicU16, Ordering};

const LOCK: u16 = 1 << 15;
const STATE_MASK: u16 = 0x7;

/// The baseline table.
pub struct BaselineTable {
    words: Vec<AtomicU16>,
    base: u64,
}

/// Granule states, encoded as TF-RMM does (NS = 0, DELEGATED = 1, …).
pub mod state {
    /// Not delegated.
    pub const NS: u16 = 0;
    /// Delegated.
    pub const DELEGATED: u16 = 1;
}

impl BaselineTable {
    /// A table of `granules` granules from physical address `base`, all NS.
    pub fn new(base: u64, granules: usize) -> Self {
        Self { words: (0..granules).map(|_| AtomicU16::new(0)).collect(), base }
    }

    /// TF-RMM's `addr_to_idx` for one DRAM bank: the index of the granule at `pa`, if any.
    #[inline]
    pub fn index(&self, pa: u64) -> Option<usize> {
        let i = (pa.wrapping_sub(self.base) >> 12) as usize;
        (pa >= self.base && i < self.words.len() && pa & 0xFFF == 0).then_some(i)
    }

    fn lock(&self, i: usize) -> u16 {
        let w = &self.words[i];
        loop {
            let cur = w.load(Ordering::Relaxed);
            if cur & LOCK == 0
                && w.compare_exchange_weak(cur, cur | LOCK, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return cur;
            }
            std::hint::spin_loop();
        }
    }

    fn unlock(&self, i: usize, value: u16) {
        self.words[i].store(value & !LOCK, Ordering::Release);
    }

    /// `find_lock_granule` + state check + `granule_set_state` + unlock: the shape of TF-RMM's
    /// delegate/undelegate around the EL3 call (`el3` runs under the lock, as in TF-RMM).
    pub fn transition(&self, pa: u64, from: u16, to: u16, el3: impl FnOnce()) -> bool {
        let Some(i) = self.index(pa) else { return false };
        let cur = self.lock(i);
        if cur & STATE_MASK != from {
            self.unlock(i, cur);
            return false;
        }
        el3();
        self.unlock(i, (cur & !STATE_MASK) | to);
        true
    }

    /// The state of granule `i`.
    pub fn state(&self, i: usize) -> u16 {
        self.words[i].load(Ordering::Acquire) & STATE_MASK
    }
}
