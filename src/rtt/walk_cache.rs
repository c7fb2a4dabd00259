//! The per-CPU RTT walk cache: each CPU remembers the level-3 table it walked to last, so the next
//! command on the same 2 MiB block of the same Realm skips the walk.
//!
//! # Why a cached table can be trusted
//! A slot records (RD address, the Realm's incarnation, IPA block, table address, the Realm's RTT
//! generation read *before* the walk that filled it). A hit takes a shared reference on the table
//! (so it cannot be destroyed while used), then requires the Realm's current incarnation and
//! generation to equal the slot's. RTT_DESTROY and RTT_FOLD bump the generation before unlinking a
//! table, and an RD reused for a new Realm has a new incarnation, so equality means no table of this
//! Realm has been unlinked since the fill: the cached table is still the one at that block. A stale
//! slot can only miss, never name a destroyed or re-purposed table.
//!
//! # Ownership
//! A slot is written only by its CPU, between commands; a sequence count (odd while written) keeps
//! a reader from using a torn slot even if two threads share a CPU index (host tests). Slots are
//! cache-line padded so CPUs never share a line.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU64, Ordering};

/// CPUs with a slot; a CPU with a higher index walks without a cache.
pub const MAX_CPUS: usize = 16;

/// Bits of IPA covered by one level-3 table.
pub const BLOCK_SHIFT: u32 = 21;

#[derive(Default)]
struct Slot {
    seq: AtomicU64,
    rd: AtomicU64,
    incarnation: AtomicU64,
    block: AtomicU64,
    table: AtomicU64,
    generation: AtomicU64,
}

/// What a slot remembers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachedWalk {
    /// The RD's address.
    pub rd: u64,
    /// The Realm's incarnation.
    pub incarnation: u64,
    /// `ipa >> BLOCK_SHIFT`.
    pub block: u64,
    /// The level-3 table's address.
    pub table: u64,
    /// The Realm's RTT generation before the walk that found the table.
    pub generation: u64,
}

/// One slot per CPU.
pub struct WalkCache {
    slots: [CachePadded<Slot>; MAX_CPUS],
}

impl Default for WalkCache {
    fn default() -> Self {
        Self::new()
    }
}

impl WalkCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self { slots: core::array::from_fn(|_| CachePadded::new(Slot::default())) }
    }

    /// The table CPU `cpu` remembers for (`rd`, `ipa`'s block), if any (not yet validated).
    #[inline]
    pub fn lookup(&self, cpu: usize, rd: u64, ipa: u64) -> Option<CachedWalk> {
        let slot = self.slots.get(cpu)?;
        let seq = slot.seq.load(Ordering::Acquire);
        if seq & 1 != 0 {
            return None;
        }
        let found = CachedWalk {
            rd: slot.rd.load(Ordering::Relaxed),
            incarnation: slot.incarnation.load(Ordering::Relaxed),
            block: slot.block.load(Ordering::Relaxed),
            table: slot.table.load(Ordering::Relaxed),
            generation: slot.generation.load(Ordering::Relaxed),
        };
        // The fields were read between two equal, even sequence counts: they belong together.
        crate::sync::fence(Ordering::Acquire);
        if slot.seq.load(Ordering::Relaxed) != seq || found.table == 0 {
            return None;
        }
        (found.rd == rd && found.block == ipa >> BLOCK_SHIFT).then_some(found)
    }

    /// Remembers `walk` for CPU `cpu`; skipped if another thread is writing the slot.
    #[inline]
    pub fn fill(&self, cpu: usize, walk: CachedWalk) {
        let Some(slot) = self.slots.get(cpu) else { return };
        let seq = slot.seq.load(Ordering::Relaxed);
        if seq & 1 != 0 || slot.seq.compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return;
        }
        crate::sync::fence(Ordering::Release);
        slot.rd.store(walk.rd, Ordering::Relaxed);
        slot.incarnation.store(walk.incarnation, Ordering::Relaxed);
        slot.block.store(walk.block, Ordering::Relaxed);
        slot.table.store(walk.table, Ordering::Relaxed);
        slot.generation.store(walk.generation, Ordering::Relaxed);
        slot.seq.store(seq + 2, Ordering::Release);
    }
}
