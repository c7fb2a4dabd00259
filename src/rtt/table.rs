//! The object in an RTT granule: 512 entries, each changed by atomic operations, and the pure
//! questions asked of a whole table (liveness, homogeneity, `top`).

use super::entry::{EntryKind, OA_MASK, RttEntry};
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

/// The single entry a homogeneous table folds into (`RMI_RTT_FOLD`), or why it cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotHomogeneous;

impl RttTable {
    /// A table whose entry `i` is `fill(i)`.
    pub fn new(fill: impl Fn(usize) -> RttEntry) -> Self {
        Self { entries: core::array::from_fn(|i| AtomicU64::new(fill(i).0)) }
    }

    /// The 512 entries that unfolding `parent` (an entry of a level-`level − 1` table) gives at
    /// `level`: the same state and RIPAS everywhere, with contiguous addresses for a block.
    pub fn unfolded(parent: RttEntry, level: i8) -> Self {
        let size = 1u64 << (12 + 9 * (3 - level as u32));
        match parent.kind(level - 1) {
            EntryKind::Assigned(pa, r) => Self::new(|i| RttEntry::assigned(pa + i as u64 * size, r, level)),
            EntryKind::AssignedNs(desc) => Self::new(|i| RttEntry::assigned_ns(desc + i as u64 * size, level)),
            EntryKind::Unassigned(r) => Self::new(|_| RttEntry::unassigned(r)),
            EntryKind::UnassignedNs | EntryKind::Table(_) => Self::new(|_| RttEntry::unassigned_ns()),
        }
    }

    /// Entry `i`.
    #[inline]
    pub fn entry(&self, i: usize) -> RttEntry {
        RttEntry(self.entries[i].load(Ordering::Acquire))
    }

    /// Replaces entry `i` if it is still `old`; returns what it found otherwise. The release
    /// publishes everything written before (a new table's entries before the TABLE entry that
    /// points at it).
    #[inline]
    pub fn replace(&self, i: usize, old: RttEntry, new: RttEntry) -> Result<(), RttEntry> {
        self.entries[i].compare_exchange(old.0, new.0, Ordering::AcqRel, Ordering::Acquire).map(|_| ()).map_err(RttEntry)
    }

    /// Whether the table must not be destroyed (`RttIsLive`): some entry is ASSIGNED or TABLE.
    pub fn is_live(&self, level: i8) -> bool {
        (0..RTT_ENTRIES).any(|i| self.entry(i).keeps_table_live(level))
    }

    /// The entry of a level-`level − 1` table that this level-`level` table folds into, if it is
    /// homogeneous: all UNASSIGNED with one RIPAS, all UNASSIGNED_NS, or (level 2 or 3 only) all
    /// ASSIGNED with one RIPAS, or all ASSIGNED_NS with one set of attributes, at contiguous
    /// addresses whose first is aligned to the parent's entry size.
    pub fn folded(&self, level: i8) -> Result<RttEntry, NotHomogeneous> {
        let first = self.entry(0);
        let size = 1u64 << (12 + 9 * (3 - level as u32));
        let parent_size = size * RTT_ENTRIES as u64;
        let same = |expect: &dyn Fn(usize) -> RttEntry| (1..RTT_ENTRIES).all(|i| self.entry(i) == expect(i));
        let folded = match first.kind(level) {
            EntryKind::Unassigned(r) if same(&|_| first) => RttEntry::unassigned(r),
            EntryKind::UnassignedNs if same(&|_| first) => RttEntry::unassigned_ns(),
            EntryKind::Assigned(pa, r)
                if level >= 2 && pa % parent_size == 0 && same(&|i| RttEntry::assigned(pa + i as u64 * size, r, level)) =>
            {
                RttEntry::assigned(pa, r, level - 1)
            }
            EntryKind::AssignedNs(desc)
                if level >= 2
                    && (desc & OA_MASK).is_multiple_of(parent_size)
                    && same(&|i| RttEntry::assigned_ns(desc + i as u64 * size, level)) =>
            {
                RttEntry::assigned_ns(desc, level - 1)
            }
            _ => return Err(NotHomogeneous),
        };
        Ok(folded)
    }

    /// `top` for an entry that is not changed: the IPA of entry `index` if it is live, else of the
    /// next live entry after it, else the end of the table. `ipa` is any address inside entry
    /// `index`'s range; `level` is the table's level.
    pub fn next_live(&self, ipa: u64, index: usize, level: i8) -> u64 {
        if self.entry(index).is_live(level) {
            return ipa;
        }
        self.next_live_after(ipa, index, level)
    }

    /// The IPA of the first live entry after `index`, or the end of the table.
    pub fn next_live_after(&self, ipa: u64, index: usize, level: i8) -> u64 {
        let size = 1u64 << (12 + 9 * (3 - level as u32));
        let base = ipa & !(size - 1);
        let next = (index + 1..RTT_ENTRIES).find(|&i| self.entry(i).is_live(level)).unwrap_or(RTT_ENTRIES);
        base + (next - index) as u64 * size
    }
}
