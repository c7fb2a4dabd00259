//! The VMID allocator: which VMIDs live Realms hold, one bit each, without a lock.
//!
//! `reserve` is one `fetch_or` on the word holding the bit (the bit it returns says whether the
//! VMID was free: exactly one of two racing reservations of the same VMID sees it free); `release`
//! is one `fetch_and`. Different VMIDs in one word never interfere. 8 KiB covers 16-bit VMIDs.

use crate::sync::{AtomicU64, Ordering};

/// Words of the bitmap: 2^16 VMIDs, 64 per word.
const WORDS: usize = (1 << 16) / 64;

/// The machine-wide VMID bitmap.
pub struct VmidAllocator {
    bits: [AtomicU64; WORDS],
    limit: u32,
}

impl VmidAllocator {
    /// An allocator for `vmid_bits`-bit VMIDs (8 or 16), all free.
    pub fn new(vmid_bits: u8) -> Self {
        Self { bits: core::array::from_fn(|_| AtomicU64::new(0)), limit: 1 << vmid_bits.min(16) }
    }

    /// Whether `vmid` is within the hardware's VMID width.
    pub fn in_range(&self, vmid: u16) -> bool {
        u32::from(vmid) < self.limit
    }

    /// Reserves `vmid`; false if it is out of range or already held.
    pub fn reserve(&self, vmid: u16) -> bool {
        if !self.in_range(vmid) {
            return false;
        }
        let (word, bit) = (usize::from(vmid) / 64, 1u64 << (vmid % 64));
        self.bits[word].fetch_or(bit, Ordering::AcqRel) & bit == 0
    }

    /// Releases a VMID held by a Realm being destroyed.
    pub fn release(&self, vmid: u16) {
        let (word, bit) = (usize::from(vmid) / 64, 1u64 << (vmid % 64));
        let old = self.bits[word].fetch_and(!bit, Ordering::AcqRel);
        debug_assert!(old & bit != 0, "released a VMID that was not held");
    }

    /// Whether `vmid` is held.
    pub fn is_reserved(&self, vmid: u16) -> bool {
        let (word, bit) = (usize::from(vmid) / 64, 1u64 << (vmid % 64));
        self.bits[word].load(Ordering::Acquire) & bit != 0
    }
}
