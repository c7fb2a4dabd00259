//! The object in an RTT granule: 512 entries, each changed by atomic operations.

use super::entry::RttEntry;
use crate::granule::{GranuleObject, GranuleState};
use crate::sync::{AtomicU64, Ordering};

/// Entries per 4 KiB table.
pub const RTT_ENTRIES: usize = 512;

/// A Realm Translation Table: exactly the 4 KiB the MMU walks.
#[repr(C, align(4096))]
pub struct RttTable {
    entries: [AtomicU64; RTT_ENTRIES],
}

// SAFETY: RttTable is the only type whose STATE is Rtt, and it is exactly one granule.
unsafe impl GranuleObject for RttTable {
    const STATE: GranuleState = GranuleState::Rtt;
}

impl RttTable {
    /// A table whose entry `i` is `fill(i)`.
    pub fn new(fill: impl Fn(usize) -> RttEntry) -> Self {
        Self { entries: core::array::from_fn(|i| AtomicU64::new(fill(i).0)) }
    }

    /// Entry `i`.
    #[inline]
    pub fn entry(&self, i: usize) -> RttEntry {
        RttEntry(self.entries[i].load(Ordering::Acquire))
    }

    /// Whether any entry is live (`RttIsLive`).
    pub fn is_live(&self) -> bool {
        (0..RTT_ENTRIES).any(|i| self.entry(i).is_live())
    }
}
