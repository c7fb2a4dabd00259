//! `rtt_walk`: from a Realm's starting tables down to a target level, as a sequence of loads through
//! the Realm-PAS mapping — no per-level map/unmap.
//!
//! # Protocol (no table can be destroyed under a walker)
//! A walker holds a shared reference on the table it is reading. To step down, it reads the TABLE
//! entry, takes a shared reference on the child granule (`share_owned`: waiting while the child's
//! owner — its creator or destroyer — holds it claimed), then re-reads the entry: if it still names
//! the child, the child is this Realm's table at this IPA, and the parent's reference is dropped
//! (hand over hand). RTT_DESTROY and RTT_FOLD claim the child exclusively, which waits for every
//! walker inside it to leave; they change the parent entry *before* committing the child to
//! DELEGATED, so a walker whose `share_owned` fails re-reads a changed entry. Starting tables are
//! protected by the walker's shared reference on the RD (only REALM_DESTROY frees them, and it
//! claims the RD).
//!
//! Entries themselves change by compare-and-swap on the table the walk returns, so commands on
//! different entries of one table — DATA_CREATE on neighbouring IPAs — proceed in parallel.

use warden_abi::addr::{GRANULE_SIZE, Pa};

use super::entry::{EntryKind, RttEntry};
use super::table::{RTT_ENTRIES, RttTable};
use crate::granule::{GranuleState, GranuleTable, Shared};
use crate::platform::Machine;
use crate::realm::Rd;

/// Where a walk stopped: the table holding the entry (shared), the entry's index, level and value.
pub struct Walk<'t, 'a, M: Machine> {
    /// The level of the table holding the entry (≤ the target level).
    pub level: i8,
    /// The table holding the entry.
    pub table: Shared<'t, 'a, M>,
    /// The entry's index in that table.
    pub index: usize,
    /// The entry's value when the walk read it.
    pub entry: RttEntry,
}

impl<M: Machine> Walk<'_, '_, M> {
    /// The table holding the entry.
    pub fn rtt(&self) -> &RttTable {
        self.table.object::<RttTable>()
    }

    /// The entry's abstract state.
    pub fn kind(&self) -> EntryKind {
        self.entry.kind(self.level)
    }
}

/// Address bits below the entries of a level-`level` table.
pub const fn entry_shift(level: i8) -> u32 {
    12 + 9 * (3 - level) as u32
}

/// The index of `ipa` in the level-`level` table that covers it.
pub const fn index_at(ipa: u64, level: i8) -> usize {
    ((ipa >> entry_shift(level)) as usize) & (RTT_ENTRIES - 1)
}

/// The starting-level table (address) and index that cover `ipa` (below 2^ipa_width).
pub fn start_position(rd: &Rd, ipa: u64) -> (Pa, usize) {
    let c = rd.config();
    let global = (ipa >> entry_shift(c.rtt_level_start)) as usize;
    let table = c.rtt_base.raw() + (global / RTT_ENTRIES) as u64 * GRANULE_SIZE;
    (Pa(table), global % RTT_ENTRIES)
}

/// Walks `rd`'s tables towards `ipa` at `target` level (≥ the starting level), stopping early at
/// the first entry that is not a TABLE.
pub fn rtt_walk<'t, 'a, M: Machine>(granules: &'t GranuleTable<'a, M>, rd: &Rd, ipa: u64, target: i8) -> Walk<'t, 'a, M> {
    let (start, index) = start_position(rd, ipa);
    // The RD is shared by the caller, so its starting tables are RTTs that nobody claims.
    let table = granules.share(start, GranuleState::Rtt).expect("starting RTT of a live Realm");
    walk_from(granules, table, rd.config().rtt_level_start, index, ipa, target)
}

/// Continues a walk from `table` (level `level`, entry `index`).
pub fn walk_from<'t, 'a, M: Machine>(
    granules: &'t GranuleTable<'a, M>,
    mut table: Shared<'t, 'a, M>,
    mut level: i8,
    mut index: usize,
    ipa: u64,
    target: i8,
) -> Walk<'t, 'a, M> {
    loop {
        let entry = table.object::<RttTable>().entry(index);
        let child_pa = match entry.kind(level) {
            EntryKind::Table(pa) if level < target => Pa(pa),
            _ => return Walk { level, table, index, entry },
        };
        match granules.share_owned(child_pa, GranuleState::Rtt) {
            Ok(child) if table.object::<RttTable>().entry(index) == entry => {
                table = child;
                level += 1;
                index = index_at(ipa, level);
            }
            // The entry changed under us (the child was destroyed or folded, or was never ours):
            // read it again at this level.
            Ok(_) | Err(_) => {
                assert!(table.object::<RttTable>().entry(index) != entry, "TABLE entry names a non-RTT granule");
            }
        }
    }
}
