//! The RTT commands: `RMI_RTT_CREATE`, `RMI_RTT_DESTROY`, `RMI_RTT_FOLD`, `RMI_RTT_READ_ENTRY`,
//! `RMI_RTT_MAP_UNPROTECTED`, `RMI_RTT_UNMAP_UNPROTECTED` and `RMI_RTT_INIT_RIPAS`.
//!
//! Each checks its failure conditions in the spec's order against one walk, then changes one entry
//! by compare-and-swap. A CAS that loses to a concurrent command means the checks were answered
//! against a state that no longer holds: the command runs again from the walk, so its result is the
//! one some serial order gives. Removing or downgrading a valid mapping requests the TLB
//! invalidation before any granule it named can be reused.

use warden_abi::addr::{GRANULE_SIZE, Level, Pa};
use warden_abi::rtt::RmiRipas;
use warden_abi::status::RmiStatus;

use super::RmiReturn;
use crate::granule::GranuleState;
use crate::measure::rim_extend_ripas;
use crate::platform::{Machine, TlbInvalidation};
use crate::realm::{Rd, RealmState};
use crate::rec::Rec;
use crate::rmm::Rmm;
use crate::rtt::entry::{EntryKind, RttEntry, host_ns_desc_valid, OA_MASK};
use crate::rtt::table::{RTT_ENTRIES, RttTable};
use crate::rtt::walk::entry_shift;

/// Bytes mapped by one entry of a level-`level` table.
pub(crate) const fn entry_size(level: i8) -> u64 {
    1 << entry_shift(level)
}

/// Whether `ipa` is inside the Realm's IPA space.
pub(crate) fn ipa_in_range(realm: &Rd, ipa: u64) -> bool {
    ipa >> realm.config().ipa_width == 0
}

/// Whether `ipa` is a protected IPA (below 2^(w−1)).
pub(crate) fn ipa_protected(realm: &Rd, ipa: u64) -> bool {
    ipa >> (realm.config().ipa_width - 1) == 0
}

/// A table RTT_DESTROY or RTT_FOLD unlinked: its address, and `top` after it.
struct Unlinked {
    table: u64,
    top: u64,
}

/// The level argument, if it names a level in `[min, 3]`.
fn level_in(raw: u64, min: i8) -> Option<i8> {
    Level::from_raw(raw).map(Level::get).filter(|&l| l >= min)
}

impl<M: Machine> Rmm<'_, M> {
    fn tlbi_block(&self, realm: &Rd, ipa: u64, level: i8) {
        let size = entry_size(level);
        self.machine().tlb_invalidate(TlbInvalidation::Ipa { vmid: realm.config().vmid, ipa: ipa & !(size - 1), size });
    }

    /// RMI_RTT_CREATE.
    #[inline(never)]
    pub(super) fn rtt_create(&self, rd: u64, rtt: u64, ipa: u64, level: u64) -> Result<(), RmiStatus> {
        let rd = self.share_rd(rd)?;
        let realm = rd.object::<Rd>();
        let input = RmiStatus::input();
        let level = level_in(level, realm.config().rtt_level_start + 1).ok_or(input)?; // level_bound
        let parent_level = level - 1;
        if !ipa.is_multiple_of(entry_size(parent_level)) || !ipa_in_range(realm, ipa) {
            return Err(input); // ipa_align, ipa_bound
        }
        let rtt = Pa(rtt);
        if !rtt.is_granule_aligned() || self.granules.state(rtt) != Some(GranuleState::Delegated) {
            return Err(input); // rtt_align, rtt_bound, rtt_state
        }
        if rtt.raw() >> 48 != 0 {
            return Err(input); // rtt_bound2 (no LPA2)
        }
        loop {
            let walk = self.walk(rd.pa(), realm, ipa, parent_level);
            if walk.level < parent_level {
                return Err(RmiStatus::rtt(walk.level)); // rtt_walk
            }
            if matches!(walk.kind(), EntryKind::Table(_)) {
                return Err(RmiStatus::rtt(walk.level)); // rtte_state
            }
            let claim = self.granules.claim(rtt, GranuleState::Delegated).map_err(|_| input)?;
            let child = claim.prepare(RttTable::unfolded(walk.entry, level));
            self.machine().sync_table_writes();
            if walk.rtt().replace(walk.index, walk.entry, RttEntry::table(rtt.raw())).is_ok() {
                child.commit();
                if walk.entry.is_valid() {
                    // A block became a table of the same mappings: stale block entries must go.
                    self.tlbi_block(realm, ipa, parent_level);
                }
                return Ok(());
            }
            // The parent entry changed under us: the prepared table is dropped and the claim
            // released; answer again against the new state.
        }
    }

    /// The shape RTT_DESTROY and RTT_FOLD share: check the arguments, walk to the TABLE entry above
    /// the level-`level` table covering `ipa`, claim that table (which waits for every walker inside
    /// it to leave), let `new_parent` decide the parent's new entry from the table's contents (or
    /// fail with the command's own condition), then unlink it — generation bumped first, TLBs
    /// invalidated after — and retire it to DELEGATED. Errors carry `top` for the commands that
    /// report it (the next live entry after a failed walk; `ipa` for the table's own condition).
    fn unlink_table(
        &self,
        rd: u64,
        ipa: u64,
        level: u64,
        new_parent: impl Fn(&Rd, &RttTable, i8) -> Result<RttEntry, RmiStatus>,
    ) -> Result<Unlinked, (RmiStatus, u64)> {
        let rd = self.share_rd(rd).map_err(|e| (e, 0))?;
        let realm = rd.object::<Rd>();
        let input = (RmiStatus::input(), 0);
        let level = level_in(level, realm.config().rtt_level_start + 1).ok_or(input)?; // level_bound
        let parent_level = level - 1;
        if !ipa.is_multiple_of(entry_size(parent_level)) || !ipa_in_range(realm, ipa) {
            return Err(input); // ipa_align, ipa_bound
        }
        loop {
            let walk = self.walk(rd.pa(), realm, ipa, parent_level);
            // rtt_walk (the walk stopped above the parent level, necessarily at a non-TABLE
            // entry) and rtte_state (the parent entry is not a TABLE).
            let EntryKind::Table(table_pa) = walk.kind() else {
                return Err((RmiStatus::rtt(walk.level), walk.rtt().next_live(ipa, walk.index, walk.level)));
            };
            // Claim the table, then check that the parent still names it: between the walk and the
            // claim a concurrent command may have unlinked it — and the granule may even have
            // become another table since. Under the claim, a parent entry naming the table cannot
            // change (only RTT_DESTROY/RTT_FOLD of this table change it, and they need the claim).
            let Ok(table) = self.granules.claim_owned(Pa(table_pa), GranuleState::Rtt) else { continue };
            if walk.rtt().entry(walk.index) != walk.entry {
                continue;
            }
            let parent = new_parent(realm, table.object::<RttTable>(), level).map_err(|e| (e, ipa))?;
            realm.bump_rtt_generation();
            self.machine().sync_table_writes();
            walk.rtt().replace(walk.index, walk.entry, parent).expect("a claimed table's TABLE entry cannot change");
            self.tlbi_block(realm, ipa, parent_level);
            table.retire::<RttTable>(GranuleState::Delegated);
            return Ok(Unlinked { table: table_pa, top: walk.rtt().next_live_after(ipa, walk.index, walk.level) });
        }
    }

    /// RMI_RTT_DESTROY: X1 = the table's address (success), X2 = top (success and RMI_ERROR_RTT).
    #[inline(never)]
    pub(super) fn rtt_destroy(&self, rd: u64, ipa: u64, level: u64) -> RmiReturn {
        let unlinked = self.unlink_table(rd, ipa, level, |realm, table, level| {
            if table.is_live(level) {
                return Err(RmiStatus::rtt(level)); // rtt_live
            }
            Ok(if ipa_protected(realm, ipa) { RttEntry::unassigned(RmiRipas::Destroyed) } else { RttEntry::unassigned_ns() })
        });
        match unlinked {
            Ok(u) => RmiReturn::ok(&[u.table, u.top]),
            Err((status, top)) if status.rtt_level().is_some() => RmiReturn::with(status, &[0, top]),
            Err((status, _)) => RmiReturn::err(status),
        }
    }

    /// RMI_RTT_FOLD: X1 = the folded table's address.
    #[inline(never)]
    pub(super) fn rtt_fold(&self, rd: u64, ipa: u64, level: u64) -> RmiReturn {
        let unlinked = self.unlink_table(rd, ipa, level, |_, table, level| {
            table.folded(level).map_err(|_| RmiStatus::rtt(level)) // rtt_homo
        });
        match unlinked {
            Ok(u) => RmiReturn::ok(&[u.table]),
            Err((status, _)) => RmiReturn::err(status),
        }
    }

    /// RMI_RTT_READ_ENTRY: X1 walk level, X2 state, X3 desc, X4 ripas.
    pub(super) fn rtt_read_entry(&self, rd: u64, ipa: u64, level: u64) -> RmiReturn {
        let rd = match self.share_rd(rd) {
            Ok(rd) => rd,
            Err(e) => return RmiReturn::err(e),
        };
        let realm = rd.object::<Rd>();
        let Some(level) = level_in(level, realm.config().rtt_level_start) else {
            return RmiReturn::err(RmiStatus::input()); // level_bound
        };
        if !ipa.is_multiple_of(entry_size(level)) || !ipa_in_range(realm, ipa) {
            return RmiReturn::err(RmiStatus::input()); // ipa_align, ipa_bound
        }
        let walk = self.walk(rd.pa(), realm, ipa, level);
        let (state, desc, ripas) = walk.entry.read_entry(walk.level);
        RmiReturn::ok(&[walk.level as u64, state.to_raw(), desc, ripas.to_raw()])
    }

    /// RMI_RTT_MAP_UNPROTECTED.
    pub(super) fn rtt_map_unprotected(&self, rd: u64, ipa: u64, level: u64, desc: u64) -> Result<(), RmiStatus> {
        let input = RmiStatus::input();
        if !host_ns_desc_valid(desc) {
            return Err(input); // attr_valid
        }
        let rd = self.share_rd(rd)?;
        let realm = rd.object::<Rd>();
        let level = level_in(level, realm.config().rtt_level_start.max(1)).ok_or(input)?; // level_bound
        let size = entry_size(level);
        if !(desc & OA_MASK).is_multiple_of(size) {
            return Err(input); // addr_align (addr_bound: the descriptor cannot hold a PA ≥ 2^48)
        }
        if !ipa.is_multiple_of(size) || !ipa_in_range(realm, ipa) || ipa_protected(realm, ipa) {
            return Err(input); // ipa_align, ipa_bound
        }
        loop {
            let walk = self.walk(rd.pa(), realm, ipa, level);
            if walk.level < level || walk.kind() != EntryKind::UnassignedNs {
                return Err(RmiStatus::rtt(walk.level)); // rtt_walk, rtte_state
            }
            self.machine().sync_table_writes();
            if walk.rtt().replace(walk.index, walk.entry, RttEntry::assigned_ns(desc, level)).is_ok() {
                return Ok(());
            }
        }
    }

    /// RMI_RTT_UNMAP_UNPROTECTED: X1 = top (success and RMI_ERROR_RTT).
    pub(super) fn rtt_unmap_unprotected(&self, rd: u64, ipa: u64, level: u64) -> RmiReturn {
        let rd = match self.share_rd(rd) {
            Ok(rd) => rd,
            Err(e) => return RmiReturn::err(e),
        };
        let realm = rd.object::<Rd>();
        let input = RmiReturn::err(RmiStatus::input());
        let Some(level) = level_in(level, realm.config().rtt_level_start.max(1)) else { return input };
        if !ipa.is_multiple_of(entry_size(level)) || !ipa_in_range(realm, ipa) || ipa_protected(realm, ipa) {
            return input;
        }
        loop {
            let walk = self.walk(rd.pa(), realm, ipa, level);
            if walk.level < level || !matches!(walk.kind(), EntryKind::AssignedNs(_)) {
                let top = walk.rtt().next_live(ipa, walk.index, walk.level);
                return RmiReturn::with(RmiStatus::rtt(walk.level), &[top]);
            }
            if walk.rtt().replace(walk.index, walk.entry, RttEntry::unassigned_ns()).is_ok() {
                self.tlbi_block(realm, ipa, level);
                return RmiReturn::ok(&[walk.rtt().next_live_after(ipa, walk.index, walk.level)]);
            }
        }
    }

    /// RMI_RTT_INIT_RIPAS: X1 = the top of the range whose RIPAS became RAM.
    #[inline(never)]
    pub(super) fn rtt_init_ripas(&self, rd: u64, base: u64, top: u64) -> RmiReturn {
        let rd = match self.share_rd(rd) {
            Ok(rd) => rd,
            Err(e) => return RmiReturn::err(e),
        };
        let realm = rd.object::<Rd>();
        let input = RmiReturn::err(RmiStatus::input());
        if top <= base {
            return input; // size_valid
        }
        // top_bound: `top − 4 KiB` in the spec's 64-bit address arithmetic (a top below 4 KiB wraps
        // to an unprotected address).
        if !ipa_protected(realm, top.wrapping_sub(GRANULE_SIZE)) {
            return input;
        }
        if realm.state() != RealmState::New {
            return RmiReturn::err(RmiStatus::realm(0)); // realm_state
        }
        let walk = self.walk(rd.pa(), realm, base, 3);
        let size = entry_size(walk.level);
        if !base.is_multiple_of(size) {
            return RmiReturn::err(RmiStatus::rtt(walk.level)); // base_align
        }
        if !matches!(walk.kind(), EntryKind::Unassigned(_)) {
            return RmiReturn::err(RmiStatus::rtt(walk.level)); // rtte_state
        }
        if !top.is_multiple_of(GRANULE_SIZE) {
            return input; // top_gran_align
        }
        // Each entry of the run is set to RAM and measured, in ascending order, under the RIM lock
        // so that the extensions of one command are contiguous.
        let table = walk.rtt();
        let algo = realm.config().hash_algo;
        let walk_top = realm.with_measurements(|m| {
            let mut ipa = base;
            let mut index = walk.index;
            while index < RTT_ENTRIES && ipa + size <= top {
                let mut entry = table.entry(index);
                loop {
                    if !matches!(entry.kind(walk.level), EntryKind::Unassigned(_)) {
                        return ipa;
                    }
                    match table.replace(index, entry, RttEntry::unassigned(RmiRipas::Ram)) {
                        Ok(()) => break,
                        Err(now) => entry = now,
                    }
                }
                let rim = rim_extend_ripas(algo, m.rim(), ipa, ipa + size);
                m.set_rim(rim);
                ipa += size;
                index += 1;
            }
            ipa
        });
        if walk_top == base {
            return RmiReturn::err(RmiStatus::rtt(walk.level)); // no_progress
        }
        RmiReturn::ok(&[walk_top])
    }
}

impl<M: Machine> Rmm<'_, M> {
    /// RMI_RTT_SET_RIPAS: the Host applies (part of) a RIPAS change the Realm asked for.
    /// X1 = the top of the range changed.
    #[inline(never)]
    pub(super) fn rtt_set_ripas(&self, rd: u64, rec: u64, base: u64, top: u64) -> RmiReturn {
        let rd = match self.share_rd(rd) {
            Ok(rd) => rd,
            Err(e) => return RmiReturn::err(e),
        };
        let realm = rd.object::<Rd>();
        let input = RmiReturn::err(RmiStatus::input());
        let rec_pa = Pa(rec);
        if !rec_pa.is_granule_aligned() {
            return input; // rec_align
        }
        let Ok(rec_ref) = self.granules.share(rec_pa, GranuleState::Rec) else {
            return input; // rec_bound, rec_gran_state
        };
        let rec = rec_ref.object::<Rec>();
        let Ok(mut guard) = rec.lock() else {
            return RmiReturn::err(RmiStatus::rec()); // rec_state
        };
        if rec.owner() != rd.pa() {
            return RmiReturn::err(RmiStatus::rec()); // rec_owner
        }
        let request = guard.with(|i| i.ripas);
        if top <= base {
            return input; // size_valid
        }
        if base != request.addr {
            return input; // base_bound
        }
        if top > request.top {
            return input; // top_bound
        }
        let value = RmiRipas::from_raw(u64::from(request.value)).unwrap_or(RmiRipas::Empty);
        let walk = self.walk(rd.pa(), realm, base, 3);
        let ripas_of = |e: RttEntry| match e.kind(walk.level) {
            EntryKind::Unassigned(r) | EntryKind::Assigned(_, r) => Some(r),
            _ => None,
        };
        let size = entry_size(walk.level);
        if !base.is_multiple_of(size) && ripas_of(walk.entry) != Some(value) {
            return RmiReturn::err(RmiStatus::rtt(walk.level)); // base_align
        }
        if !top.is_multiple_of(GRANULE_SIZE) {
            return input; // top_gran_align
        }
        // The run: entries that are not TABLE (nor DESTROYED, unless the Realm allowed it), each
        // changed if it lies wholly below `top`, passed over if it already has the value.
        let table = walk.rtt();
        let mut ipa = base;
        let mut index = walk.index;
        let mut invalidate = false;
        while ipa < top && index < RTT_ENTRIES {
            let entry = table.entry(index);
            let Some(current) = ripas_of(entry) else { break };
            let end = (ipa & !(size - 1)) + size;
            if current == value {
                ipa = end.min(top);
                index += 1;
                continue;
            }
            if (current == RmiRipas::Destroyed && !request.change_destroyed) || !ipa.is_multiple_of(size) || end > top {
                break;
            }
            let new = entry.with_ripas(value, walk.level);
            if table.replace(index, entry, new).is_err() {
                continue; // changed under us: look again
            }
            invalidate |= entry.is_valid();
            ipa = end;
            index += 1;
        }
        if ipa == base {
            return RmiReturn::err(RmiStatus::rtt(walk.level)); // no_progress
        }
        if invalidate {
            // Mappings went from RAM to EMPTY: nothing may still use them.
            self.machine().tlb_invalidate(TlbInvalidation::Ipa { vmid: realm.config().vmid, ipa: base, size: ipa - base });
        } else {
            self.machine().sync_table_writes();
        }
        guard.with(|i| i.ripas.addr = ipa);
        RmiReturn::ok(&[ipa])
    }
}
