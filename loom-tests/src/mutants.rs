//! Mutants: replicas of one protocol step of Warden with a deliberate bug, built only here.
//!
//! Each replica does what the real command does through Warden's public API (the real granule
//! table, RTT tables, walks, RD and machine), except for the one step that is weakened; the models
//! drive it exactly as they drive the real command, and the mutant tests require loom to report the
//! violation. The granule word layout mirrored here is documented in `warden::granule`:
//! `[3:0]` state, `[7]` CLAIMED, `[31:8]` reference count.

use warden::granule::GranuleState;
use warden::platform::Machine;
use warden::realm::Rd;
use warden::rec::Rec;
use warden::rtt::RttTable;
use warden::rtt::entry::{EntryKind, RttEntry};
use warden::rtt::walk::{index_at, rtt_walk};
use warden::rtt::walk_cache::{BLOCK_SHIFT, CachedWalk, WalkCache};
use warden::sync::{AtomicU32, AtomicU64, Ordering, UnsafeCell, spin_loop};
use warden::trace::ring::Ring;
use warden_abi::addr::Pa;
use warden_abi::rtt::RmiRipas;
use warden_abi::status::RmiStatus;
use warden_abi::trace::TraceRecord;

use crate::world::{RD, World};

const CLAIMED: u32 = 1 << 7;
const REF_ONE: u32 = 1 << 8;
const STATE_MASK: u32 = 0xF;

fn input() -> RmiStatus {
    RmiStatus::input()
}

/// The RD of the standard Realm, shared (as `share_rd` does), or RMI_ERROR_INPUT.
fn share_rd(
    w: &World,
) -> Result<warden::granule::Shared<'_, 'static, crate::world::LoomMachine>, RmiStatus> {
    w.rmm()
        .granules()
        .share(Pa(RD), GranuleState::Rd)
        .map_err(|_| input())
}

// ---------------------------------------------------------------------------------------------
// Granule table
// ---------------------------------------------------------------------------------------------

/// GRANULE_DELEGATE whose claim is a **split CAS**: a load that checks (state, unclaimed, no
/// references), then a separate store of the claim. Two DELEGATEs can both "claim".
pub fn delegate_split_claim(w: &World, pa: u64) -> RmiStatus {
    let word = w.word_ref(pa);
    let idle = GranuleState::Undelegated.bits();
    if word.load(Ordering::Acquire) != idle {
        return input();
    }
    // BUG: the check above and this store are not one atomic step.
    word.store(idle | CLAIMED, Ordering::Relaxed);
    if w.machine().gtsi_delegate(Pa(pa)).is_err() {
        word.store(idle, Ordering::Release); // released unchanged
        return input();
    }
    word.store(GranuleState::Delegated.bits(), Ordering::Release);
    RmiStatus::SUCCESS
}

/// GRANULE_DELEGATE that **commits before EL3 has moved the granule to the Realm PAS** (the
/// linearisation point moved before the transition's effect): an UNDELEGATE in that window claims a
/// DELEGATED granule that is still in the NS PAS and scrubs it through the Realm PAS.
pub fn delegate_commit_early(w: &World, pa: u64) -> RmiStatus {
    let Ok(claim) = w.rmm().granules().claim(Pa(pa), GranuleState::Undelegated) else {
        return input();
    };
    // BUG: the commit belongs after the GTSI call.
    claim.commit(GranuleState::Delegated);
    if w.machine().gtsi_delegate(Pa(pa)).is_err() {
        return input();
    }
    RmiStatus::SUCCESS
}

/// A two-granule command (the acquisition phase of REALM_CREATE: RD and starting RTT, both
/// DELEGATED) that claims in **role order** (RD, then RTT) instead of address order, then releases
/// both unchanged. Two such commands with the roles swapped can each hold one granule and wait for
/// the other forever.
pub fn claim_pair_role_order(w: &World, rd: u64, rtt: u64) -> RmiStatus {
    let g = w.rmm().granules();
    // BUG: address order is what makes waiting acyclic.
    let Ok(first) = g.claim(Pa(rd), GranuleState::Delegated) else {
        return input();
    };
    let Ok(second) = g.claim(Pa(rtt), GranuleState::Delegated) else {
        return input();
    };
    drop((second, first));
    RmiStatus::SUCCESS
}

/// A shared reference taken with a **split increment**: a load that checks (state, unclaimed),
/// then a separate `fetch_add`. A claim can slip in between, so the "shared" granule can be retired
/// under the reader. The reader then reads the RD as RTT_READ_ENTRY does (its state and config).
pub fn read_rd_split_share(w: &World) -> RmiStatus {
    let word = w.word_ref(RD);
    let cur = word.load(Ordering::Acquire);
    if cur & STATE_MASK != GranuleState::Rd.bits() || cur & CLAIMED != 0 {
        return input();
    }
    // BUG: the check above and the increment are not one atomic step.
    word.fetch_add(REF_ONE, Ordering::Acquire);
    // SAFETY: what the replica believes (wrongly, which is the bug): the granule holds an RD for as
    // long as this reference is counted. A mutant only; loom catches the use after retire.
    let rd = unsafe { w.machine().realm_granule(Pa(RD)).cast::<Rd>().as_ref() };
    let _ = (rd.state(), rd.num_recs(), rd.config().vmid);
    word.fetch_sub(REF_ONE, Ordering::Release);
    RmiStatus::SUCCESS
}

/// A shared reference to the RD taken with a **relaxed CAS** (no acquire), then the RD's
/// measurements extended as RTT_INIT_RIPAS does: nothing orders the RD's initialisation by
/// REALM_CREATE before this reader's use of it.
pub fn extend_rim_relaxed_share(w: &World) -> RmiStatus {
    let word = w.word_ref(RD);
    let idle = GranuleState::Rd.bits();
    let mut cur = idle;
    loop {
        if cur & STATE_MASK != idle {
            return input();
        }
        if cur & CLAIMED != 0 {
            spin_loop();
            cur = word.load(Ordering::Relaxed);
            continue;
        }
        // BUG: Relaxed instead of Acquire.
        match word.compare_exchange(cur, cur + REF_ONE, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break,
            Err(now) => cur = now,
        }
    }
    // SAFETY: the granule holds an RD while referenced (as in `Shared::object`); what the replica
    // gets wrong is only the ordering, which loom reports.
    let rd = unsafe { w.machine().realm_granule(Pa(RD)).cast::<Rd>().as_ref() };
    rd.with_measurements(|m| {
        let rim = *m.rim();
        m.set_rim(rim);
    });
    word.fetch_sub(REF_ONE, Ordering::Release);
    RmiStatus::SUCCESS
}

// ---------------------------------------------------------------------------------------------
// RTT entries and tables
// ---------------------------------------------------------------------------------------------

/// Entry `i` of `table` as the raw atomic it is (RttTable is `repr(C)`: 512 `AtomicU64`s).
fn raw_entry(table: &RttTable, i: usize) -> &AtomicU64 {
    assert!(i < warden::rtt::RTT_ENTRIES);
    // SAFETY: RttTable is `#[repr(C)]` with exactly one field, `[AtomicU64; 512]`.
    unsafe { &*(table as *const RttTable).cast::<AtomicU64>().add(i) }
}

/// DATA_CREATE_UNKNOWN whose publication is a **split CAS**: the entry is re-checked with a load,
/// then written with a plain store. Two creators of one IPA can both "publish".
pub fn data_create_unknown_split_publish(w: &World, data: u64, ipa: u64) -> RmiStatus {
    let g = w.rmm().granules();
    if g.state(Pa(data)) != Some(GranuleState::Delegated) {
        return input();
    }
    let rd = match share_rd(w) {
        Ok(rd) => rd,
        Err(e) => return e,
    };
    let realm = rd.object::<Rd>();
    let walk = rtt_walk(g, realm, ipa, 3);
    if walk.level < 3 || !matches!(walk.kind(), EntryKind::Unassigned(_)) {
        return RmiStatus::rtt(walk.level);
    }
    let Ok(mut claim) = g.claim(Pa(data), GranuleState::Delegated) else {
        return input();
    };
    claim.zero();
    let table = walk.rtt();
    let EntryKind::Unassigned(ripas) = table.entry(walk.index).kind(3) else {
        return RmiStatus::rtt(3);
    };
    // BUG: the check above and this store are not one compare-and-swap.
    raw_entry(table, walk.index).store(RttEntry::assigned(data, ripas, 3).0, Ordering::Release);
    claim.commit(GranuleState::Data);
    RmiStatus::SUCCESS
}

/// DATA_CREATE (unmeasured contents, flags 0) whose RIM extension is **split across two critical
/// sections**: the RIM is read under the RD's lock, extended outside it, and written back under it
/// again. Two DATA_CREATEs on neighbouring IPAs can lose one extension.
pub fn data_create_split_rim(w: &World, data: u64, ipa: u64) -> RmiStatus {
    let g = w.rmm().granules();
    let rd = match share_rd(w) {
        Ok(rd) => rd,
        Err(e) => return e,
    };
    let realm = rd.object::<Rd>();
    let walk = rtt_walk(g, realm, ipa, 3);
    if walk.level < 3 || !matches!(walk.kind(), EntryKind::Unassigned(_)) {
        return RmiStatus::rtt(walk.level);
    }
    let Ok(mut claim) = g.claim(Pa(data), GranuleState::Delegated) else {
        return input();
    };
    claim.zero();
    if walk
        .rtt()
        .replace(
            walk.index,
            walk.entry,
            RttEntry::assigned(data, RmiRipas::Ram, 3),
        )
        .is_err()
    {
        return RmiStatus::rtt(3);
    }
    let algo = realm.config().hash_algo;
    // BUG: read and write of the RIM are two critical sections, not one.
    let rim = realm.with_measurements(|m| *m.rim());
    let rim = warden::measure::rim_extend_data(algo, &rim, ipa, 0, None);
    realm.with_measurements(|m| m.set_rim(rim));
    claim.commit(GranuleState::Data);
    RmiStatus::SUCCESS
}

/// DATA_DESTROY that claims the DATA granule named by the entry with `claim` instead of
/// `claim_owned`: it does **not wait for the creator's commit** (DATA_CREATE publishes the entry
/// before it commits the granule DATA), so it finds the granule still DELEGATED-and-claimed.
/// Returns (status, X1).
pub fn data_destroy_without_owner_wait(w: &World, ipa: u64) -> (RmiStatus, u64) {
    let g = w.rmm().granules();
    let rd = match share_rd(w) {
        Ok(rd) => rd,
        Err(e) => return (e, 0),
    };
    let realm = rd.object::<Rd>();
    let walk = rtt_walk(g, realm, ipa, 3);
    let (EntryKind::Assigned(data, ripas), 3) = (walk.kind(), walk.level) else {
        return (RmiStatus::rtt(walk.level), 0);
    };
    let ripas = if ripas == RmiRipas::Ram {
        RmiRipas::Destroyed
    } else {
        ripas
    };
    if walk
        .rtt()
        .replace(walk.index, walk.entry, RttEntry::unassigned(ripas))
        .is_err()
    {
        return (RmiStatus::rtt(3), 0);
    }
    // BUG: `claim` fails at once while the creator still holds the granule in DELEGATED.
    let mut claim = g
        .claim(Pa(data), GranuleState::Data)
        .expect("ASSIGNED entry names DATA");
    claim.zero();
    claim.commit(GranuleState::Delegated);
    (RmiStatus::SUCCESS, data)
}

/// RTT_CREATE (of a level-3 table at `ipa`) that **commits the new table before publishing it** in
/// the parent entry: if the CAS on the parent loses to another RTT_CREATE, the committed table is
/// left behind, in state RTT and linked from nowhere.
pub fn rtt_create_commit_before_publish(w: &World, rtt: u64, ipa: u64) -> RmiStatus {
    let g = w.rmm().granules();
    let rd = match share_rd(w) {
        Ok(rd) => rd,
        Err(e) => return e,
    };
    let realm = rd.object::<Rd>();
    if g.state(Pa(rtt)) != Some(GranuleState::Delegated) {
        return input();
    }
    loop {
        let walk = rtt_walk(g, realm, ipa, 2);
        if walk.level < 2 || matches!(walk.kind(), EntryKind::Table(_)) {
            return RmiStatus::rtt(walk.level);
        }
        let Ok(claim) = g.claim(Pa(rtt), GranuleState::Delegated) else {
            return input();
        };
        // BUG: the commit belongs after the parent entry names the table.
        claim.prepare(RttTable::unfolded(walk.entry, 3)).commit();
        if walk
            .rtt()
            .replace(walk.index, walk.entry, RttEntry::table(rtt))
            .is_ok()
        {
            return RmiStatus::SUCCESS;
        }
    }
}

/// RTT_DESTROY (of a level-3 table) that checks **liveness before claiming** the table: it peeks
/// through a shared reference, drops it, then claims. A DATA_CREATE can land in between, and its
/// mapping is destroyed with the table. Returns the status.
pub fn rtt_destroy_check_then_claim(w: &World, ipa: u64) -> RmiStatus {
    let g = w.rmm().granules();
    let rd = match share_rd(w) {
        Ok(rd) => rd,
        Err(e) => return e,
    };
    let realm = rd.object::<Rd>();
    let walk = rtt_walk(g, realm, ipa, 2);
    let (2, EntryKind::Table(child)) = (walk.level, walk.kind()) else {
        return RmiStatus::rtt(walk.level);
    };
    // BUG: the liveness answer is stale as soon as the shared reference is dropped.
    let live = match g.share_owned(Pa(child), GranuleState::Rtt) {
        Ok(s) => s.object::<RttTable>().is_live(3),
        Err(_) => return RmiStatus::rtt(2),
    };
    if live {
        return RmiStatus::rtt(3);
    }
    let Ok(claim) = g.claim_owned(Pa(child), GranuleState::Rtt) else {
        return RmiStatus::rtt(2);
    };
    realm.bump_rtt_generation();
    walk.rtt()
        .replace(
            walk.index,
            walk.entry,
            RttEntry::unassigned(RmiRipas::Destroyed),
        )
        .expect("a claimed child's TABLE entry cannot change");
    claim.retire::<RttTable>(GranuleState::Delegated);
    RmiStatus::SUCCESS
}

/// RTT_FOLD (of a level-3 table) that **retires the table before unlinking it** from its parent:
/// for a moment the parent's TABLE entry names a DELEGATED granule.
pub fn rtt_fold_retire_first(w: &World, ipa: u64) -> RmiStatus {
    let g = w.rmm().granules();
    let rd = match share_rd(w) {
        Ok(rd) => rd,
        Err(e) => return e,
    };
    let realm = rd.object::<Rd>();
    let walk = rtt_walk(g, realm, ipa, 2);
    let (2, EntryKind::Table(child)) = (walk.level, walk.kind()) else {
        return RmiStatus::rtt(walk.level);
    };
    let Ok(claim) = g.claim_owned(Pa(child), GranuleState::Rtt) else {
        return RmiStatus::rtt(2);
    };
    let Ok(folded) = claim.object::<RttTable>().folded(3) else {
        return RmiStatus::rtt(3);
    };
    realm.bump_rtt_generation();
    // BUG: the parent entry must stop naming the table before the table is retired.
    claim.retire::<RttTable>(GranuleState::Delegated);
    walk.rtt()
        .replace(walk.index, walk.entry, folded)
        .expect("a claimed child's TABLE entry cannot change");
    RmiStatus::SUCCESS
}

/// A per-CPU walk cache used like `Rmm::walk` does, except that a hit **validates the RTT
/// generation before taking the shared reference** that pins the cached table: the table can be
/// destroyed and re-created elsewhere between the check and the reference.
pub struct CacheValidatedTooEarly {
    cache: WalkCache,
}

impl Default for CacheValidatedTooEarly {
    fn default() -> Self {
        Self {
            cache: WalkCache::new(),
        }
    }
}

impl CacheValidatedTooEarly {
    /// RTT_READ_ENTRY at level 3 through this cache → (walk level, entry).
    pub fn read_entry(&self, w: &World, ipa: u64) -> Result<(i8, RttEntry), RmiStatus> {
        let g = w.rmm().granules();
        let rd = share_rd(w)?;
        let realm = rd.object::<Rd>();
        let cpu = w.machine().cpu_id();
        if let Some(c) = self.cache.lookup(cpu, RD, ipa)
            && c.incarnation == realm.incarnation()
            // BUG: this check must come after the shared reference below.
            && realm.rtt_generation() == c.generation
            && let Ok(table) = g.share(Pa(c.table), GranuleState::Rtt)
        {
            return Ok((3, table.object::<RttTable>().entry(index_at(ipa, 3))));
        }
        let generation = realm.rtt_generation();
        let walk = rtt_walk(g, realm, ipa, 3);
        if walk.level == 3 {
            self.cache.fill(
                cpu,
                CachedWalk {
                    rd: RD,
                    incarnation: realm.incarnation(),
                    block: ipa >> BLOCK_SHIFT,
                    table: walk.table.pa().raw(),
                    generation,
                },
            );
        }
        Ok((walk.level, walk.entry))
    }
}

// ---------------------------------------------------------------------------------------------
// VMID allocator
// ---------------------------------------------------------------------------------------------

/// What the VMID models need of an allocator.
pub trait Vmids: Send + Sync {
    /// Reserves `vmid`; false if already held.
    fn reserve(&self, vmid: u16) -> bool;
    /// Releases a held `vmid`.
    fn release(&self, vmid: u16);
    /// Whether `vmid` is held.
    fn is_reserved(&self, vmid: u16) -> bool;
}

impl Vmids for warden::realm::VmidAllocator {
    fn reserve(&self, vmid: u16) -> bool {
        warden::realm::VmidAllocator::reserve(self, vmid)
    }
    fn release(&self, vmid: u16) {
        warden::realm::VmidAllocator::release(self, vmid);
    }
    fn is_reserved(&self, vmid: u16) -> bool {
        warden::realm::VmidAllocator::is_reserved(self, vmid)
    }
}

/// A VMID bitmap (the first 128 VMIDs) whose reserve and release are **split read-modify-writes**
/// (a load, then a store of the new word) instead of `fetch_or`/`fetch_and`.
pub struct SplitRmwVmids {
    bits: [AtomicU64; 2],
}

impl Default for SplitRmwVmids {
    fn default() -> Self {
        Self {
            bits: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }
}

impl Vmids for SplitRmwVmids {
    fn reserve(&self, vmid: u16) -> bool {
        let (word, bit) = (&self.bits[usize::from(vmid) / 64], 1u64 << (vmid % 64));
        let old = word.load(Ordering::Acquire);
        if old & bit != 0 {
            return false;
        }
        // BUG: not one atomic read-modify-write.
        word.store(old | bit, Ordering::Release);
        true
    }
    fn release(&self, vmid: u16) {
        let (word, bit) = (&self.bits[usize::from(vmid) / 64], 1u64 << (vmid % 64));
        let old = word.load(Ordering::Acquire);
        word.store(old & !bit, Ordering::Release);
    }
    fn is_reserved(&self, vmid: u16) -> bool {
        self.bits[usize::from(vmid) / 64].load(Ordering::Acquire) & (1u64 << (vmid % 64)) != 0
    }
}

// ---------------------------------------------------------------------------------------------
// The RIM lock (src/lock.rs)
// ---------------------------------------------------------------------------------------------

/// What the lock model needs of a lock around a `u64`.
pub trait Lock: Send + Sync {
    /// Runs `f` with exclusive access to the value.
    fn with_value(&self, f: &mut dyn FnMut(&mut u64));
}

impl Lock for warden::lock::SpinLock<u64> {
    fn with_value(&self, f: &mut dyn FnMut(&mut u64)) {
        self.with(|v| f(v));
    }
}

/// `warden::lock::SpinLock` whose acquiring CAS is **Relaxed** instead of Acquire: the holder's
/// accesses are not ordered after the previous holder's.
pub struct RelaxedSpinLock {
    held: warden::sync::AtomicU32,
    value: warden::sync::UnsafeCell<u64>,
}

// SAFETY: meant to serialise access to `value` (the bug is in the ordering, which loom reports).
unsafe impl Sync for RelaxedSpinLock {}

impl Default for RelaxedSpinLock {
    fn default() -> Self {
        Self {
            held: warden::sync::AtomicU32::new(0),
            value: warden::sync::UnsafeCell::new(0),
        }
    }
}

impl Lock for RelaxedSpinLock {
    fn with_value(&self, f: &mut dyn FnMut(&mut u64)) {
        // BUG: Relaxed instead of Acquire.
        while self
            .held
            .compare_exchange(0, 1, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            while self.held.load(Ordering::Relaxed) != 0 {
                spin_loop();
            }
        }
        // SAFETY: the lock is held (only the ordering is wrong, which loom reports).
        self.value.with_mut(|p| f(unsafe { &mut *p }));
        self.held.store(0, Ordering::Release);
    }
}

// ---------------------------------------------------------------------------------------------
// One walk-cache slot (the sequence count of src/rtt/walk_cache.rs)
// ---------------------------------------------------------------------------------------------

/// What the slot model needs: fill and look up one CPU's slot (CPU 0).
pub trait Slot: Send + Sync {
    /// `WalkCache::fill(0, walk)`.
    fn fill(&self, walk: CachedWalk);
    /// `WalkCache::lookup(0, rd, ipa)`.
    fn lookup(&self, rd: u64, ipa: u64) -> Option<CachedWalk>;
}

impl Slot for WalkCache {
    fn fill(&self, walk: CachedWalk) {
        WalkCache::fill(self, 0, walk);
    }
    fn lookup(&self, rd: u64, ipa: u64) -> Option<CachedWalk> {
        WalkCache::lookup(self, 0, rd, ipa)
    }
}

/// A walk-cache slot whose lookup **does not re-check the sequence count** after reading the
/// fields (a replica of `WalkCache`'s slot otherwise): it can return a slot torn between two fills.
#[derive(Default)]
pub struct SlotWithoutRecheck {
    seq: AtomicU64,
    rd: AtomicU64,
    incarnation: AtomicU64,
    block: AtomicU64,
    table: AtomicU64,
    generation: AtomicU64,
}

impl Slot for SlotWithoutRecheck {
    fn fill(&self, walk: CachedWalk) {
        let seq = self.seq.load(Ordering::Relaxed);
        if seq & 1 != 0
            || self
                .seq
                .compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        warden::sync::fence(Ordering::Release);
        self.rd.store(walk.rd, Ordering::Relaxed);
        self.incarnation.store(walk.incarnation, Ordering::Relaxed);
        self.block.store(walk.block, Ordering::Relaxed);
        self.table.store(walk.table, Ordering::Relaxed);
        self.generation.store(walk.generation, Ordering::Relaxed);
        self.seq.store(seq + 2, Ordering::Release);
    }
    fn lookup(&self, rd: u64, ipa: u64) -> Option<CachedWalk> {
        let seq = self.seq.load(Ordering::Acquire);
        if seq & 1 != 0 {
            return None;
        }
        let found = CachedWalk {
            rd: self.rd.load(Ordering::Relaxed),
            incarnation: self.incarnation.load(Ordering::Relaxed),
            block: self.block.load(Ordering::Relaxed),
            table: self.table.load(Ordering::Relaxed),
            generation: self.generation.load(Ordering::Relaxed),
        };
        // BUG: no fence and no second read of the sequence count.
        if found.table == 0 {
            return None;
        }
        (found.rd == rd && found.block == ipa >> BLOCK_SHIFT).then_some(found)
    }
}

// ---------------------------------------------------------------------------------------------
// The per-CPU trace ring (src/trace/ring.rs)
// ---------------------------------------------------------------------------------------------

/// What the trace-ring model needs of a ring.
pub trait TraceRing: Send + Sync {
    /// Pushes `r` (the ring's own CPU only); false if dropped.
    fn push(&self, r: TraceRecord) -> bool;
    /// Drains everything available into `out` and consumes it; returns the drops reported.
    fn drain(&self, out: &mut Vec<TraceRecord>) -> u64;
    /// Drops counted since boot.
    fn dropped_total(&self) -> u64;
}

impl<const N: usize> TraceRing for Ring<N> {
    fn push(&self, r: TraceRecord) -> bool {
        Ring::push(self, r)
    }
    fn drain(&self, out: &mut Vec<TraceRecord>) -> u64 {
        let d = self.begin_drain();
        let mut buf = vec![TraceRecord::ZERO; d.available()];
        let n = d.copy(0, &mut buf);
        out.extend_from_slice(&buf[..n]);
        let dropped = d.dropped_since_last();
        d.consume(n, dropped);
        dropped
    }
    fn dropped_total(&self) -> u64 {
        Ring::dropped_total(self)
    }
}

/// Which step of the ring protocol a [`RingReplica`] weakens.
#[derive(Clone, Copy, Debug)]
pub enum RingBug {
    /// The push publishes `head` with a **Relaxed** store: a drainer can read a slot before the
    /// producer's write of it is visible.
    RelaxedPublish,
    /// The push reads `tail` with a **Relaxed** load: the producer can overwrite a slot a drainer
    /// consumed without its read being ordered before the write.
    RelaxedTail,
}

/// A two-slot replica of `warden::trace::ring::Ring` (same protocol, same orderings) except for
/// one weakened step.
pub struct RingReplica {
    bug: RingBug,
    head: AtomicU32,
    tail: AtomicU32,
    draining: AtomicU32,
    dropped: AtomicU64,
    reported: AtomicU64,
    slots: [UnsafeCell<TraceRecord>; 2],
}

// SAFETY: meant to follow the ring protocol (the weakened step is the bug loom reports).
unsafe impl Sync for RingReplica {}

impl RingReplica {
    /// An empty ring with `bug`.
    pub fn new(bug: RingBug) -> Self {
        Self {
            bug,
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            draining: AtomicU32::new(0),
            dropped: AtomicU64::new(0),
            reported: AtomicU64::new(0),
            slots: [
                UnsafeCell::new(TraceRecord::ZERO),
                UnsafeCell::new(TraceRecord::ZERO),
            ],
        }
    }
}

impl TraceRing for RingReplica {
    fn push(&self, r: TraceRecord) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        // BUG (RelaxedTail): Relaxed instead of Acquire.
        let tail_order = if matches!(self.bug, RingBug::RelaxedTail) {
            Ordering::Relaxed
        } else {
            Ordering::Acquire
        };
        let tail = self.tail.load(tail_order);
        if head.wrapping_sub(tail) as usize >= self.slots.len() {
            self.dropped
                .store(self.dropped.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            return false;
        }
        // SAFETY: the slot at `head` is outside `[tail, head)` (per the protocol being replicated).
        self.slots[head as usize % 2].with_mut(|slot| unsafe { slot.write(r) });
        // BUG (RelaxedPublish): Relaxed instead of Release.
        let publish = if matches!(self.bug, RingBug::RelaxedPublish) {
            Ordering::Relaxed
        } else {
            Ordering::Release
        };
        self.head.store(head.wrapping_add(1), publish);
        true
    }
    fn drain(&self, out: &mut Vec<TraceRecord>) -> u64 {
        while self
            .draining
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spin_loop();
        }
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        let n = head.wrapping_sub(tail);
        for i in 0..n {
            // SAFETY: the slot is in `[tail, head)` (per the protocol being replicated).
            out.push(
                self.slots[tail.wrapping_add(i) as usize % 2].with(|slot| unsafe { slot.read() }),
            );
        }
        let dropped = self
            .dropped
            .load(Ordering::Relaxed)
            .wrapping_sub(self.reported.load(Ordering::Relaxed));
        self.reported.store(
            self.reported.load(Ordering::Relaxed).wrapping_add(dropped),
            Ordering::Relaxed,
        );
        self.tail.store(tail.wrapping_add(n), Ordering::Release);
        self.draining.store(0, Ordering::Release);
        dropped
    }
    fn dropped_total(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------------------------------------
// REC_DESTROY's acquisition of the REC (src/rmi/rec.rs)
// ---------------------------------------------------------------------------------------------

/// REC_DESTROY whose exclusive acquisition of the REC (the real one: `try_claim`, one CAS from
/// (REC, unclaimed, no references)) is a **split CAS**: a load that finds no references, then a
/// separate store of the claim. A REC_ENTER's shared reference can slip in between and is erased;
/// the REC is retired under the running REC_ENTER. Otherwise as the real command (aux granules
/// scrubbed to DELEGATED, the REC dropped in place and scrubbed, the RD's REC count decremented).
pub fn rec_destroy_split_claim(w: &World, rec: u64) -> RmiStatus {
    let g = w.rmm().granules();
    let word = w.word_ref(rec);
    let idle = GranuleState::Rec.bits();
    loop {
        {
            let Ok(shared) = g.share(Pa(rec), GranuleState::Rec) else {
                return input();
            };
            if shared.object::<Rec>().is_running() {
                return RmiStatus::rec();
            }
        }
        let cur = word.load(Ordering::Acquire);
        if cur & STATE_MASK != idle {
            return input();
        }
        if cur != idle {
            spin_loop();
            continue;
        }
        // BUG: the check above and this store are not one compare-and-swap.
        word.store(idle | CLAIMED, Ordering::Relaxed);
        break;
    }
    let base = w.machine().realm_granule(Pa(rec));
    // SAFETY: what the replica believes (wrongly, which is the bug): the granule holds a REC that
    // nobody else references. A mutant only; loom catches the use after retire.
    let rec_obj = unsafe { base.cast::<Rec>().as_ref() };
    let (owner, aux): (Pa, Vec<Pa>) = (rec_obj.owner(), rec_obj.aux().to_vec());
    for a in aux {
        let mut c = g
            .claim_owned(a, GranuleState::RecAux)
            .expect("a REC's aux granule is REC_AUX");
        c.zero();
        c.commit(GranuleState::Delegated);
    }
    // SAFETY: as above (the replica of `Claimed::retire`).
    unsafe {
        core::ptr::drop_in_place(base.cast::<Rec>().as_ptr());
        base.as_ptr()
            .write_bytes(0, warden_abi::addr::GRANULE_SIZE as usize);
    }
    word.store(GranuleState::Delegated.bits(), Ordering::Release);
    let rd = g
        .share(owner, GranuleState::Rd)
        .expect("a REC's owner is an RD");
    rd.object::<Rd>().remove_rec();
    RmiStatus::SUCCESS
}
