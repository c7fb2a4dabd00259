//! The reference model: the abstract state of DEN0137 1.0-rel0 (§5, §6 of the ABI notes) for one
//! Realm and a handful of granules, and what each RMI command does to it.
//!
//! Written from the spec's abstract state, not from Warden: an RTT is 512 abstract entries
//! (UNASSIGNED(ripas), ASSIGNED(pa, ripas), UNASSIGNED_NS, ASSIGNED_NS(desc), TABLE(pa)), tables are
//! keyed by (level, first IPA), granules by PA. Each command checks its failure conditions in the
//! order the spec lists them and returns the five result registers X0..X4 it must produce (outputs
//! a command does not define are zero: "outputs not defined MBZ").
//!
//! Choices where the spec is loose (Warden's, modelled on purpose):
//! * `top` outputs: if the entry where the walk stopped is live (ASSIGNED, ASSIGNED_NS or TABLE) →
//!   the `ipa` argument; else the IPA of the next live entry after it in the same 4 KiB table, else
//!   the end of that table (TF-RMM's `skip_non_live_entries`).
//! * A table is live for RTT_DESTROY if it holds an ASSIGNED or TABLE entry (ASSIGNED_NS does not
//!   count).
//! * RTT_DESTROY leaves UNASSIGNED/DESTROYED behind in the protected half, UNASSIGNED_NS in the
//!   unprotected half.
//! * RTT_INIT_RIPAS turns entries to RAM from `base` while each is UNASSIGNED (any RIPAS) and ends
//!   at or below `top`, stopping at the end of the table.
//! * READ_ENTRY of a TABLE entry reports RIPAS EMPTY; of an ASSIGNED entry whatever its RIPAS, the PA.
//! * DATA_CREATE's flag bits other than `measure` are SBZ without a failure condition: ignored.
//! * The starting level is two concatenated level-1 tables; each 4 KiB table is one RTT for `top`
//!   (here they coincide with the protected and unprotected halves anyway).
//! * REC_CREATE: an `mpidr` with an SBZ bit set ([7:4], [63:32]) is not an RmiRecMpidr and names no
//!   REC index: it fails mpidr_index. `flags` bits 63:1 are SBZ without a failure condition: ignored.
//!   `aux` entries past `num_aux` are not looked at. num_recs: at most 2^MAX_RECS_ORDER − 1 RECs,
//!   with Warden's MAX_RECS_ORDER (10) — unreachable on the small machine (16 MiB of DRAM).
//! * REALM_DESTROY's realm_live: the Realm has a REC, or a starting RTT holds an ASSIGNED or TABLE
//!   entry (ASSIGNED_NS does not count, as for RTT_DESTROY).
//! * REALM_CREATE is modelled only for the harness's fixed parameters (valid, supported, VMID 1):
//!   params_*, rd_*, rtt_state and vmid_valid; it is used to recreate the Realm after a successful
//!   REALM_DESTROY.

use std::collections::BTreeMap;

/// 4 KiB.
pub const GRANULE: u64 = 0x1000;
/// The Realm's IPA width (`params()` of the harness).
pub const IPA_WIDTH: u32 = 40;
/// First unprotected IPA.
pub const NS_HALF: u64 = 1 << (IPA_WIDTH - 1);
/// The starting level of the Realm.
pub const START_LEVEL: i64 = 1;
/// Entries per table.
pub const ENTRIES: usize = 512;
/// Output address bits of a descriptor (no LPA2): [47:12].
pub const OA_MASK: u64 = 0x0000_FFFF_FFFF_F000;
/// Host-controlled attribute bits of an unprotected descriptor: MemAttr[2:0] (bits 4:2), S2AP (7:6).
pub const NS_ATTR_MASK: u64 = (0b111 << 2) | (0b11 << 6);

/// Bytes mapped by one entry of a level-`level` table.
pub const fn size(level: i64) -> u64 {
    1 << (12 + 9 * (3 - level))
}

/// RIPAS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ripas {
    /// EMPTY (0).
    Empty = 0,
    /// RAM (1).
    Ram = 1,
    /// DESTROYED (2).
    Destroyed = 2,
}

/// The abstract state of one RTT entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rtte {
    /// UNASSIGNED, with its RIPAS.
    Unassigned(Ripas),
    /// ASSIGNED: DATA address (the first of a block) and RIPAS.
    Assigned(u64, Ripas),
    /// UNASSIGNED_NS.
    UnassignedNs,
    /// ASSIGNED_NS: the Host's descriptor (address, MemAttr, S2AP).
    AssignedNs(u64),
    /// TABLE: the next-level RTT's address.
    Table(u64),
}

impl Rtte {
    /// `RttEntryIsLive`, for `top`.
    fn live(self) -> bool {
        matches!(self, Rtte::Assigned(..) | Rtte::AssignedNs(_) | Rtte::Table(_))
    }
}

/// Granule states (`None` from [`Model::gran`] outside delegable DRAM).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gran {
    /// UNDELEGATED (GPT: NS in this model — no granule is ever made Secure).
    Undelegated,
    /// DELEGATED.
    Delegated,
    /// RD.
    Rd,
    /// RTT.
    Rtt,
    /// DATA.
    Data,
    /// REC.
    Rec,
    /// REC_AUX.
    RecAux,
}

/// Realm state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealmState {
    /// REALM_NEW.
    New,
    /// REALM_ACTIVE.
    Active,
}

/// One RTT.
#[derive(Clone, Debug)]
pub struct Rtt {
    /// Its granule.
    pub pa: u64,
    /// Its entries.
    pub e: Vec<Rtte>,
}

/// A concrete RMI call (arguments exactly as put in X1…).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// GRANULE_DELEGATE(addr).
    Delegate(u64),
    /// GRANULE_UNDELEGATE(addr).
    Undelegate(u64),
    /// RTT_CREATE(rd, rtt, ipa, level).
    RttCreate(u64, u64, u64, u64),
    /// RTT_DESTROY(rd, ipa, level).
    RttDestroy(u64, u64, u64),
    /// RTT_FOLD(rd, ipa, level).
    RttFold(u64, u64, u64),
    /// RTT_READ_ENTRY(rd, ipa, level).
    ReadEntry(u64, u64, u64),
    /// RTT_INIT_RIPAS(rd, base, top).
    InitRipas(u64, u64, u64),
    /// RTT_MAP_UNPROTECTED(rd, ipa, level, desc).
    Map(u64, u64, u64, u64),
    /// RTT_UNMAP_UNPROTECTED(rd, ipa, level).
    Unmap(u64, u64, u64),
    /// DATA_CREATE(rd, data, ipa, src, flags).
    DataCreate(u64, u64, u64, u64, u64),
    /// DATA_CREATE_UNKNOWN(rd, data, ipa).
    DataCreateUnknown(u64, u64, u64),
    /// DATA_DESTROY(rd, ipa).
    DataDestroy(u64, u64),
    /// REALM_ACTIVATE(rd).
    Activate(u64),
    /// REALM_CREATE(rd, params) with the harness's fixed parameters at `params`.
    RealmCreate(u64, u64),
    /// REALM_DESTROY(rd).
    RealmDestroy(u64),
    /// REC_CREATE(rd, rec, params) with `RmiRecParams` `.3` written at `params` (if NS).
    RecCreate(u64, u64, u64, RecParams),
    /// REC_DESTROY(rec).
    RecDestroy(u64),
    /// REC_AUX_COUNT(rd).
    RecAuxCount(u64),
}

/// The fields of an `RmiRecParams` the model looks at (the rest is zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecParams {
    /// `flags`.
    pub flags: u64,
    /// `mpidr`.
    pub mpidr: u64,
    /// `num_aux`.
    pub num_aux: u64,
    /// `aux[0..15]`.
    pub aux: [u64; 16],
}

/// What REC_AUX_COUNT reports (Warden's choice, constant).
pub const REC_AUX_COUNT: u64 = 4;
/// 2^MAX_RECS_ORDER − 1 with the MAX_RECS_ORDER Warden reports (10).
pub const MAX_RECS: u64 = (1 << 10) - 1;
/// Bits of an RmiRecMpidr that may be set: Aff0[3:0], Aff1, Aff2, Aff3.
pub const MPIDR_VALID: u64 = 0xFFFF_FF0F;

/// The RmiRecMpidr of REC index `i` (Aff0 = i[3:0], Aff1 = i[11:4], Aff2 = i[19:12], Aff3 = i[27:20]).
pub const fn mpidr_of(i: u64) -> u64 {
    (i & 0xF) | ((i >> 4) & 0xFF) << 8 | ((i >> 12) & 0xFF) << 16 | ((i >> 20) & 0xFF) << 24
}

/// `RecIndex(mpidr)`; `None` if an SBZ bit is set.
pub const fn rec_index_of(mpidr: u64) -> Option<u64> {
    if mpidr & !MPIDR_VALID != 0 {
        return None;
    }
    Some((mpidr & 0xF) + 16 * ((mpidr >> 8) & 0xFF) + 16 * 256 * ((mpidr >> 16) & 0xFF) + 16 * 256 * 256 * ((mpidr >> 24) & 0xFF))
}

impl Call {
    /// The command's name.
    pub fn name(&self) -> &'static str {
        match self {
            Call::Delegate(..) => "GRANULE_DELEGATE",
            Call::Undelegate(..) => "GRANULE_UNDELEGATE",
            Call::RttCreate(..) => "RTT_CREATE",
            Call::RttDestroy(..) => "RTT_DESTROY",
            Call::RttFold(..) => "RTT_FOLD",
            Call::ReadEntry(..) => "RTT_READ_ENTRY",
            Call::InitRipas(..) => "RTT_INIT_RIPAS",
            Call::Map(..) => "RTT_MAP_UNPROTECTED",
            Call::Unmap(..) => "RTT_UNMAP_UNPROTECTED",
            Call::DataCreate(..) => "DATA_CREATE",
            Call::DataCreateUnknown(..) => "DATA_CREATE_UNKNOWN",
            Call::DataDestroy(..) => "DATA_DESTROY",
            Call::Activate(..) => "REALM_ACTIVATE",
            Call::RealmCreate(..) => "REALM_CREATE",
            Call::RealmDestroy(..) => "REALM_DESTROY",
            Call::RecCreate(..) => "REC_CREATE",
            Call::RecDestroy(..) => "REC_DESTROY",
            Call::RecAuxCount(..) => "REC_AUX_COUNT",
        }
    }
}

/// X0..X4.
pub type Regs = [u64; 5];

const SUCCESS: u64 = 0;
const ERROR_INPUT: u64 = 1;
const ERROR_REALM: u64 = 2;
const ERROR_RTT: u64 = 4;

fn ok(out: &[u64]) -> Regs {
    let mut r = [SUCCESS, 0, 0, 0, 0];
    r[1..=out.len()].copy_from_slice(out);
    r
}

fn input() -> Regs {
    [ERROR_INPUT, 0, 0, 0, 0]
}

fn realm_err() -> Regs {
    [ERROR_REALM, 0, 0, 0, 0]
}

fn rtt_err(level: i64, out: &[u64]) -> Regs {
    let mut r = ok(out);
    r[0] = ((level as u8 as u64) << 8) | ERROR_RTT;
    r
}

/// Where a walk stopped: the table's key and the entry's index.
#[derive(Clone, Copy, Debug)]
struct Walk {
    level: i64,
    base: u64,
    index: usize,
}

/// The model of one Warden with one Realm.
#[derive(Clone, Debug)]
pub struct Model {
    /// Delegable DRAM: [dram, dram + dram_size).
    pub dram: (u64, u64),
    /// The RD.
    pub rd: u64,
    /// Realm state (`None` between REALM_DESTROY and REALM_CREATE).
    pub realm: Option<RealmState>,
    /// The starting RTTs of the harness's parameters (REALM_CREATE).
    pub start_rtt: u64,
    /// The Realm's `rec_index`: the MPIDR index the next REC must have.
    pub rec_index: u64,
    /// The Realm's RECs and their aux granules (their number is the Realm's `num_recs`).
    pub recs: BTreeMap<u64, Vec<u64>>,
    /// Granules that are not UNDELEGATED (DRAM granules absent here are UNDELEGATED).
    pub granules: BTreeMap<u64, Gran>,
    /// RTTs by (level, first IPA).
    pub tables: BTreeMap<(i64, u64), Rtt>,
    /// Notable transitions of the last command, for coverage.
    pub events: Vec<&'static str>,
}

impl Model {
    /// The state right after REALM_CREATE of a 40-bit Realm starting at level 1 with two
    /// concatenated tables at `rtt`, RD at `rd`.
    pub fn new(dram: (u64, u64), rd: u64, rtt: u64) -> Self {
        let mut m = Model {
            dram,
            rd,
            realm: None,
            start_rtt: rtt,
            rec_index: 0,
            recs: BTreeMap::new(),
            granules: BTreeMap::new(),
            tables: BTreeMap::new(),
            events: Vec::new(),
        };
        m.create_realm();
        m
    }

    /// REALM_CREATE's success: RD, starting RTTs, REALM_NEW, rec_index 0, no RECs.
    fn create_realm(&mut self) {
        let (rd, rtt) = (self.rd, self.start_rtt);
        self.realm = Some(RealmState::New);
        self.rec_index = 0;
        self.recs.clear();
        self.granules.insert(rd, Gran::Rd);
        self.granules.insert(rtt, Gran::Rtt);
        self.granules.insert(rtt + GRANULE, Gran::Rtt);
        // Protected start entries UNASSIGNED/EMPTY, unprotected ones UNASSIGNED_NS.
        self.tables.insert((1, 0), Rtt { pa: rtt, e: vec![Rtte::Unassigned(Ripas::Empty); ENTRIES] });
        self.tables.insert((1, NS_HALF), Rtt { pa: rtt + GRANULE, e: vec![Rtte::UnassignedNs; ENTRIES] });
    }

    /// The state of the granule at `pa` (aligned down), `None` outside delegable DRAM.
    pub fn gran(&self, pa: u64) -> Option<Gran> {
        let pa = pa & !(GRANULE - 1);
        if pa < self.dram.0 || pa - self.dram.0 >= self.dram.1 {
            return None;
        }
        Some(*self.granules.get(&pa).unwrap_or(&Gran::Undelegated))
    }

    fn set_gran(&mut self, pa: u64, g: Gran) {
        if g == Gran::Undelegated {
            self.granules.remove(&pa);
        } else {
            self.granules.insert(pa, g);
        }
    }

    /// `_align` and `_state` of a granule argument (`_bound` is part of `_state` here: a PA
    /// outside DRAM has no state).
    fn is(&self, pa: u64, g: Gran) -> bool {
        pa.is_multiple_of(GRANULE) && self.gran(pa) == Some(g)
    }

    /// rd_align, rd_bound, rd_state.
    fn rd_ok(&self, rd: u64) -> bool {
        self.is(rd, Gran::Rd)
    }

    /// `RttLevelIsValid` for commands naming a table to create/destroy/fold: (start, 3].
    fn table_level(raw: u64) -> Option<i64> {
        let l = raw as i64;
        (START_LEVEL < l && l <= 3).then_some(l)
    }

    /// `RttLevelIsBlockOrPage` (and ≥ the starting level).
    fn map_level(raw: u64) -> Option<i64> {
        let l = raw as i64;
        (START_LEVEL.max(1) <= l && l <= 3).then_some(l)
    }

    pub fn in_range(ipa: u64) -> bool {
        ipa >> IPA_WIDTH == 0
    }

    fn protected(ipa: u64) -> bool {
        ipa < NS_HALF
    }

    /// Walks towards `ipa` (in range) down to level `target`, stopping at the first non-TABLE entry.
    fn walk(&self, ipa: u64, target: i64) -> Walk {
        let mut level = START_LEVEL;
        let mut base = ipa & !(size(START_LEVEL) * ENTRIES as u64 - 1);
        loop {
            let index = ((ipa - base) / size(level)) as usize;
            let t = &self.tables[&(level, base)];
            match t.e[index] {
                Rtte::Table(pa) if level < target => {
                    base = ipa & !(size(level) - 1);
                    level += 1;
                    assert_eq!(self.tables[&(level, base)].pa, pa, "model: TABLE entry and table disagree");
                }
                _ => return Walk { level, base, index },
            }
        }
    }

    fn entry(&self, w: Walk) -> Rtte {
        self.tables[&(w.level, w.base)].e[w.index]
    }

    fn set_entry(&mut self, w: Walk, e: Rtte) {
        self.tables.get_mut(&(w.level, w.base)).expect("walked table").e[w.index] = e;
    }

    /// The IPA of the first live entry after the walk's in its table, or the table's end.
    fn top_after(&self, w: Walk) -> u64 {
        let t = &self.tables[&(w.level, w.base)];
        let next = (w.index + 1..ENTRIES).find(|&i| t.e[i].live()).unwrap_or(ENTRIES);
        w.base + next as u64 * size(w.level)
    }

    /// `top` for an entry the command did not change.
    fn top_skip(&self, w: Walk, ipa: u64) -> u64 {
        if self.entry(w).live() { ipa } else { self.top_after(w) }
    }

    /// Runs `call` on the model: the registers Warden must return, and the new state.
    pub fn apply(&mut self, call: &Call) -> Regs {
        self.events.clear();
        match *call {
            Call::Delegate(pa) => self.delegate(pa),
            Call::Undelegate(pa) => self.undelegate(pa),
            Call::RttCreate(rd, rtt, ipa, level) => self.rtt_create(rd, rtt, ipa, level),
            Call::RttDestroy(rd, ipa, level) => self.rtt_destroy(rd, ipa, level),
            Call::RttFold(rd, ipa, level) => self.rtt_fold(rd, ipa, level),
            Call::ReadEntry(rd, ipa, level) => self.read_entry(rd, ipa, level),
            Call::InitRipas(rd, base, top) => self.init_ripas(rd, base, top),
            Call::Map(rd, ipa, level, desc) => self.map(rd, ipa, level, desc),
            Call::Unmap(rd, ipa, level) => self.unmap(rd, ipa, level),
            Call::DataCreate(rd, data, ipa, src, _flags) => self.data_create(rd, data, ipa, Some(src)),
            Call::DataCreateUnknown(rd, data, ipa) => self.data_create(rd, data, ipa, None),
            Call::DataDestroy(rd, ipa) => self.data_destroy(rd, ipa),
            Call::Activate(rd) => self.activate(rd),
            Call::RealmCreate(rd, params) => self.realm_create(rd, params),
            Call::RealmDestroy(rd) => self.realm_destroy(rd),
            Call::RecCreate(rd, rec, params, p) => self.rec_create(rd, rec, params, &p),
            Call::RecDestroy(rec) => self.rec_destroy(rec),
            Call::RecAuxCount(rd) => self.rec_aux_count(rd),
        }
    }

    /// gran_align; gran_bound; gran_state; gran_gpt (never true here: no granule is made Secure).
    fn delegate(&mut self, pa: u64) -> Regs {
        if !self.is(pa, Gran::Undelegated) {
            return input();
        }
        self.set_gran(pa, Gran::Delegated);
        ok(&[])
    }

    /// gran_align; gran_bound; gran_state.
    fn undelegate(&mut self, pa: u64) -> Regs {
        if !self.is(pa, Gran::Delegated) {
            return input();
        }
        self.set_gran(pa, Gran::Undelegated);
        ok(&[])
    }

    /// The 512 entries of a level-`level` table unfolded from its parent entry `parent`.
    fn unfold(parent: Rtte, level: i64) -> Vec<Rtte> {
        let s = size(level);
        (0..ENTRIES as u64)
            .map(|i| match parent {
                Rtte::Unassigned(r) => Rtte::Unassigned(r),
                Rtte::UnassignedNs => Rtte::UnassignedNs,
                Rtte::Assigned(pa, r) => Rtte::Assigned(pa + i * s, r),
                Rtte::AssignedNs(desc) => Rtte::AssignedNs(desc + i * s),
                Rtte::Table(_) => unreachable!("unfolding a TABLE entry"),
            })
            .collect()
    }

    /// rd_*; level_bound; ipa_align; ipa_bound; rtt_align; rtt_bound; rtt_state; rtt_bound2 (n/a);
    /// rtt_walk; rtte_state.
    fn rtt_create(&mut self, rd: u64, rtt: u64, ipa: u64, level: u64) -> Regs {
        if !self.rd_ok(rd) {
            return input();
        }
        let Some(l) = Self::table_level(level) else { return input() };
        if !ipa.is_multiple_of(size(l - 1)) || !Self::in_range(ipa) {
            return input();
        }
        if !self.is(rtt, Gran::Delegated) {
            return input();
        }
        let w = self.walk(ipa, l - 1);
        if w.level < l - 1 {
            return rtt_err(w.level, &[]);
        }
        let parent = self.entry(w);
        if matches!(parent, Rtte::Table(_)) {
            return rtt_err(w.level, &[]);
        }
        match parent {
            Rtte::Assigned(..) => self.events.push("unfold ASSIGNED block"),
            Rtte::AssignedNs(_) => self.events.push("unfold ASSIGNED_NS block"),
            Rtte::Unassigned(Ripas::Ram) => self.events.push("unfold UNASSIGNED RAM"),
            _ => {}
        }
        self.tables.insert((l, ipa), Rtt { pa: rtt, e: Self::unfold(parent, l) });
        self.set_entry(w, Rtte::Table(rtt));
        self.set_gran(rtt, Gran::Rtt);
        ok(&[])
    }

    /// rd_*; level_bound; ipa_align; ipa_bound; rtt_walk; rtte_state (both with top); rtt_live.
    fn rtt_destroy(&mut self, rd: u64, ipa: u64, level: u64) -> Regs {
        if !self.rd_ok(rd) {
            return input();
        }
        let Some(l) = Self::table_level(level) else { return input() };
        if !ipa.is_multiple_of(size(l - 1)) || !Self::in_range(ipa) {
            return input();
        }
        let w = self.walk(ipa, l - 1);
        if w.level < l - 1 || !matches!(self.entry(w), Rtte::Table(_)) {
            return rtt_err(w.level, &[0, self.top_skip(w, ipa)]);
        }
        let child = &self.tables[&(l, ipa)];
        if child.e.iter().any(|e| matches!(e, Rtte::Assigned(..) | Rtte::Table(_))) {
            self.events.push("RTT_DESTROY of a live table");
            return rtt_err(l, &[0, ipa]);
        }
        if child.e.iter().any(|e| matches!(e, Rtte::AssignedNs(_))) {
            self.events.push("RTT_DESTROY drops ASSIGNED_NS entries");
        }
        let child_pa = child.pa;
        self.tables.remove(&(l, ipa));
        self.set_entry(w, if Self::protected(ipa) { Rtte::Unassigned(Ripas::Destroyed) } else { Rtte::UnassignedNs });
        self.set_gran(child_pa, Gran::Delegated);
        ok(&[child_pa, self.top_after(w)])
    }

    /// The entry a homogeneous level-`l` table folds into (`aligned`: with the spec's alignment
    /// rule for blocks; without it only to tell why a fold failed).
    fn folded(t: &Rtt, l: i64, aligned: bool) -> Option<Rtte> {
        let s = size(l);
        let all = |f: &dyn Fn(u64) -> Rtte| t.e.iter().enumerate().all(|(i, e)| *e == f(i as u64));
        match t.e[0] {
            Rtte::Unassigned(r) if all(&|_| Rtte::Unassigned(r)) => Some(Rtte::Unassigned(r)),
            Rtte::UnassignedNs if all(&|_| Rtte::UnassignedNs) => Some(Rtte::UnassignedNs),
            Rtte::Assigned(pa, r)
                if l >= 2 && (!aligned || pa.is_multiple_of(size(l - 1))) && all(&|i| Rtte::Assigned(pa + i * s, r)) =>
            {
                Some(Rtte::Assigned(pa, r))
            }
            Rtte::AssignedNs(desc)
                if l >= 2
                    && (!aligned || (desc & OA_MASK).is_multiple_of(size(l - 1)))
                    && all(&|i| Rtte::AssignedNs(desc + i * s)) =>
            {
                Some(Rtte::AssignedNs(desc))
            }
            _ => None,
        }
    }

    /// rd_*; level_bound; ipa_align; ipa_bound; rtt_walk; rtte_state; rtt_homo.
    fn rtt_fold(&mut self, rd: u64, ipa: u64, level: u64) -> Regs {
        if !self.rd_ok(rd) {
            return input();
        }
        let Some(l) = Self::table_level(level) else { return input() };
        if !ipa.is_multiple_of(size(l - 1)) || !Self::in_range(ipa) {
            return input();
        }
        let w = self.walk(ipa, l - 1);
        if w.level < l - 1 || !matches!(self.entry(w), Rtte::Table(_)) {
            return rtt_err(w.level, &[]);
        }
        let child = &self.tables[&(l, ipa)];
        let Some(parent) = Self::folded(child, l, true) else {
            self.events.push(match Self::folded(child, l, false) {
                Some(Rtte::Assigned(..)) => "RTT_FOLD of contiguous ASSIGNED pages not aligned to the block",
                Some(Rtte::AssignedNs(..)) => "RTT_FOLD of contiguous ASSIGNED_NS pages not aligned to the block",
                _ => "RTT_FOLD of a non-homogeneous table",
            });
            return rtt_err(l, &[]);
        };
        self.events.push(match parent {
            Rtte::Unassigned(Ripas::Empty) => "fold UNASSIGNED EMPTY",
            Rtte::Unassigned(Ripas::Ram) => "fold UNASSIGNED RAM",
            Rtte::Unassigned(Ripas::Destroyed) => "fold UNASSIGNED DESTROYED",
            Rtte::UnassignedNs => "fold UNASSIGNED_NS",
            Rtte::Assigned(_, Ripas::Ram) => "fold ASSIGNED RAM block",
            Rtte::Assigned(..) => "fold ASSIGNED EMPTY/DESTROYED block",
            Rtte::AssignedNs(_) if l == 2 => "fold ASSIGNED_NS 1 GiB block",
            Rtte::AssignedNs(_) => "fold ASSIGNED_NS 2 MiB block",
            Rtte::Table(_) => unreachable!(),
        });
        let child_pa = child.pa;
        self.tables.remove(&(l, ipa));
        self.set_entry(w, parent);
        self.set_gran(child_pa, Gran::Delegated);
        ok(&[child_pa])
    }

    /// rd_*; level_bound (start ≤ level ≤ 3); ipa_align (to `level`); ipa_bound.
    fn read_entry(&mut self, rd: u64, ipa: u64, level: u64) -> Regs {
        if !self.rd_ok(rd) {
            return input();
        }
        let l = level as i64;
        if !(START_LEVEL..=3).contains(&l) || !ipa.is_multiple_of(size(l)) || !Self::in_range(ipa) {
            return input();
        }
        let w = self.walk(ipa, l);
        let (state, desc, ripas) = match self.entry(w) {
            Rtte::Unassigned(r) => (0, 0, r as u64),
            Rtte::Assigned(pa, r) => (1, pa, r as u64),
            Rtte::UnassignedNs => (0, 0, 0),
            Rtte::AssignedNs(desc) => (1, desc, 0),
            Rtte::Table(pa) => (2, pa, 0),
        };
        ok(&[w.level as u64, state, desc, ripas])
    }

    /// `RttDescriptorIsValidForUnprotected` (without address alignment): only OA, MemAttr[2:0] and
    /// S2AP may be set, and MemAttr is not the FWB reserved 0b100.
    pub fn ns_desc_valid(desc: u64) -> bool {
        desc & !(OA_MASK | NS_ATTR_MASK) == 0 && (desc >> 2) & 0b111 != 0b100
    }

    /// attr_valid; rd_*; level_bound; addr_align; addr_bound; ipa_align; ipa_bound; rtt_walk;
    /// rtte_state.
    fn map(&mut self, rd: u64, ipa: u64, level: u64, desc: u64) -> Regs {
        if !Self::ns_desc_valid(desc) || !self.rd_ok(rd) {
            return input();
        }
        let Some(l) = Self::map_level(level) else { return input() };
        if !(desc & OA_MASK).is_multiple_of(size(l)) {
            return input();
        }
        if !ipa.is_multiple_of(size(l)) || !Self::in_range(ipa) || Self::protected(ipa) {
            return input();
        }
        let w = self.walk(ipa, l);
        if w.level < l || self.entry(w) != Rtte::UnassignedNs {
            return rtt_err(w.level, &[]);
        }
        self.set_entry(w, Rtte::AssignedNs(desc));
        ok(&[])
    }

    /// rd_*; level_bound; ipa_align; ipa_bound; rtt_walk; rtte_state (both with top).
    fn unmap(&mut self, rd: u64, ipa: u64, level: u64) -> Regs {
        if !self.rd_ok(rd) {
            return input();
        }
        let Some(l) = Self::map_level(level) else { return input() };
        if !ipa.is_multiple_of(size(l)) || !Self::in_range(ipa) || Self::protected(ipa) {
            return input();
        }
        let w = self.walk(ipa, l);
        if w.level < l || !matches!(self.entry(w), Rtte::AssignedNs(_)) {
            return rtt_err(w.level, &[self.top_skip(w, ipa)]);
        }
        self.set_entry(w, Rtte::UnassignedNs);
        ok(&[self.top_after(w)])
    }

    /// rd_*; size_valid; top_bound; realm_state; base_align; rtte_state; top_gran_align;
    /// no_progress.
    fn init_ripas(&mut self, rd: u64, base: u64, top: u64) -> Regs {
        if !self.rd_ok(rd) {
            return input();
        }
        if top <= base {
            return input();
        }
        // top_bound: AddrIsProtected(top − 4 KiB), computed on 64-bit addresses (a `top` below one
        // granule wraps to an address that is not protected).
        if !Self::protected(top.wrapping_sub(GRANULE)) {
            return input();
        }
        if self.realm != Some(RealmState::New) {
            return realm_err();
        }
        let w = self.walk(base, 3);
        let s = size(w.level);
        if !base.is_multiple_of(s) {
            return rtt_err(w.level, &[]);
        }
        if !matches!(self.entry(w), Rtte::Unassigned(_)) {
            return rtt_err(w.level, &[]);
        }
        if !top.is_multiple_of(GRANULE) {
            return input();
        }
        let (mut ipa, mut i) = (base, w.index);
        let t = self.tables.get_mut(&(w.level, w.base)).expect("walked table");
        while i < ENTRIES && ipa + s <= top && matches!(t.e[i], Rtte::Unassigned(_)) {
            t.e[i] = Rtte::Unassigned(Ripas::Ram);
            ipa += s;
            i += 1;
        }
        if ipa == base {
            return rtt_err(w.level, &[]);
        }
        if w.level < 3 {
            self.events.push("RTT_INIT_RIPAS of a block entry");
        }
        ok(&[ipa])
    }

    /// DATA_CREATE (`src` given): src_align; src_bound; src_pas; data_align; data_bound; data_state;
    /// rd_*; ipa_align; ipa_bound; realm_state; rtt_walk; rtte_state.
    /// DATA_CREATE_UNKNOWN: the same without src_* and realm_state.
    fn data_create(&mut self, rd: u64, data: u64, ipa: u64, src: Option<u64>) -> Regs {
        if let Some(src) = src {
            // src_pas: only UNDELEGATED granules are in the NS PAS.
            if !self.is(src, Gran::Undelegated) {
                return input();
            }
        }
        if !self.is(data, Gran::Delegated) || !self.rd_ok(rd) {
            return input();
        }
        if !ipa.is_multiple_of(GRANULE) || !Self::in_range(ipa) || !Self::protected(ipa) {
            return input();
        }
        if src.is_some() && self.realm != Some(RealmState::New) {
            return realm_err();
        }
        let w = self.walk(ipa, 3);
        if w.level < 3 {
            return rtt_err(w.level, &[]);
        }
        let Rtte::Unassigned(r) = self.entry(w) else { return rtt_err(w.level, &[]) };
        let ripas = if src.is_some() { Ripas::Ram } else { r };
        self.set_entry(w, Rtte::Assigned(data, ripas));
        self.set_gran(data, Gran::Data);
        ok(&[])
    }

    /// rd_*; ipa_align; ipa_bound; rtt_walk; rtte_state (both with top).
    fn data_destroy(&mut self, rd: u64, ipa: u64) -> Regs {
        if !self.rd_ok(rd) {
            return input();
        }
        if !ipa.is_multiple_of(GRANULE) || !Self::in_range(ipa) || !Self::protected(ipa) {
            return input();
        }
        let w = self.walk(ipa, 3);
        let e = self.entry(w);
        let (3, Rtte::Assigned(pa, r)) = (w.level, e) else {
            if w.level < 3 && matches!(e, Rtte::Assigned(..)) {
                self.events.push("DATA_DESTROY of a block");
            }
            return rtt_err(w.level, &[0, self.top_skip(w, ipa)]);
        };
        let r = if r == Ripas::Ram { Ripas::Destroyed } else { r };
        self.set_entry(w, Rtte::Unassigned(r));
        self.set_gran(pa, Gran::Delegated);
        ok(&[pa, self.top_after(w)])
    }

    /// rd_*; realm_state.
    fn activate(&mut self, rd: u64) -> Regs {
        if !self.rd_ok(rd) {
            return input();
        }
        if self.realm != Some(RealmState::New) {
            return realm_err();
        }
        self.realm = Some(RealmState::Active);
        ok(&[])
    }

    /// REALM_CREATE with the harness's fixed parameters: params_align, params_bound, params_pas
    /// (params_valid, params_supp: the parameters are valid); alias (n/a: rd is not a start RTT
    /// here); rd_align, rd_bound, rd_state; rtt_align, rtt_num_level (valid); rtt_state; vmid_valid
    /// (VMID 1 is in use while the Realm exists).
    fn realm_create(&mut self, rd: u64, params: u64) -> Regs {
        if !self.is(params, Gran::Undelegated) || !self.is(rd, Gran::Delegated) {
            return input();
        }
        let rtt = self.start_rtt;
        if !self.is(rtt, Gran::Delegated) || !self.is(rtt + GRANULE, Gran::Delegated) || self.realm.is_some() {
            return input();
        }
        assert_eq!(rd, self.rd, "model: one Realm, at its RD");
        self.create_realm();
        ok(&[])
    }

    /// rd_align, rd_bound, rd_state; realm_live (RECs, or a live starting RTT) → RMI_ERROR_REALM.
    fn realm_destroy(&mut self, rd: u64) -> Regs {
        if !self.rd_ok(rd) {
            return input();
        }
        if !self.recs.is_empty() {
            self.events.push("REALM_DESTROY of a Realm with RECs");
            return realm_err();
        }
        let live = [(1, 0), (1, NS_HALF)]
            .iter()
            .any(|k| self.tables[k].e.iter().any(|e| matches!(e, Rtte::Assigned(..) | Rtte::Table(_))));
        if live {
            self.events.push("REALM_DESTROY of a Realm with a live starting RTT");
            return realm_err();
        }
        if self.tables[&(1, NS_HALF)].e.iter().any(|e| matches!(e, Rtte::AssignedNs(_))) {
            self.events.push("REALM_DESTROY drops ASSIGNED_NS blocks");
        }
        assert_eq!(self.tables.len(), 2, "model: only the starting RTTs are left");
        for (_, t) in std::mem::take(&mut self.tables) {
            self.set_gran(t.pa, Gran::Delegated);
        }
        self.set_gran(rd, Gran::Delegated);
        self.realm = None;
        ok(&[])
    }

    /// REC_CREATE's sixteen failure conditions in the spec's order.
    fn rec_create(&mut self, rd: u64, rec: u64, params: u64, p: &RecParams) -> Regs {
        // Whether a condition after realm_state/num_recs (all RMI_ERROR_INPUT) is also true: the
        // only orderings the result shows are those between INPUT and REALM conditions.
        let later_input = |m: &Self| {
            let aux = &p.aux[..REC_AUX_COUNT as usize];
            rec_index_of(p.mpidr) != Some(m.rec_index)
                || p.num_aux != REC_AUX_COUNT
                || aux.iter().enumerate().any(|(i, a)| *a == rec || aux[i + 1..].contains(a) || !m.is(*a, Gran::Delegated))
        };
        let fail = |m: &mut Self, why: &'static str, r: Regs| {
            m.events.push(why);
            if r[0] == ERROR_INPUT && m.realm.is_some() && m.realm != Some(RealmState::New) && why != "REC_CREATE fails rd_*" {
                m.events.push("REC_CREATE: params_*/rec_* before realm_state");
            }
            if r[0] == ERROR_REALM && later_input(m) {
                m.events.push("REC_CREATE: realm_state before a later INPUT condition");
            }
            r
        };
        // params_align, params_bound, params_pas.
        if !self.is(params, Gran::Undelegated) {
            return fail(self, "REC_CREATE fails params_*", input());
        }
        // rec_align, rec_bound, rec_state.
        if !self.is(rec, Gran::Delegated) {
            return fail(self, "REC_CREATE fails rec_*", input());
        }
        // rd_align, rd_bound, rd_state.
        if !self.rd_ok(rd) {
            return fail(self, "REC_CREATE fails rd_*", input());
        }
        if self.realm != Some(RealmState::New) {
            return fail(self, "REC_CREATE fails realm_state", realm_err());
        }
        if self.recs.len() as u64 >= MAX_RECS {
            return fail(self, "REC_CREATE fails num_recs", realm_err());
        }
        if rec_index_of(p.mpidr) != Some(self.rec_index) {
            return fail(self, "REC_CREATE fails mpidr_index", input());
        }
        if p.num_aux != REC_AUX_COUNT {
            return fail(self, "REC_CREATE fails num_aux", input());
        }
        let aux = &p.aux[..REC_AUX_COUNT as usize];
        if aux.iter().any(|a| !a.is_multiple_of(GRANULE)) {
            return fail(self, "REC_CREATE fails aux_align", input());
        }
        if aux.iter().enumerate().any(|(i, a)| *a == rec || aux[i + 1..].contains(a)) {
            return fail(self, "REC_CREATE fails aux_alias", input());
        }
        if aux.iter().any(|&a| !self.is(a, Gran::Delegated)) {
            return fail(self, "REC_CREATE fails aux_state", input());
        }
        let aux = aux.to_vec();
        for &a in &aux {
            self.set_gran(a, Gran::RecAux);
        }
        self.set_gran(rec, Gran::Rec);
        self.recs.insert(rec, aux);
        if self.rec_index >= 16 {
            self.events.push("REC_CREATE with Aff1 set");
        }
        self.rec_index += 1;
        ok(&[])
    }

    /// rec_align, rec_bound, rec_gran_state (rec_state: a REC never runs here).
    fn rec_destroy(&mut self, rec: u64) -> Regs {
        if !self.is(rec, Gran::Rec) {
            return input();
        }
        let aux = self.recs.remove(&rec).expect("model: a REC granule is a REC of the Realm");
        for a in aux {
            self.set_gran(a, Gran::Delegated);
        }
        self.set_gran(rec, Gran::Delegated);
        ok(&[])
    }

    /// rd_align, rd_bound, rd_state.
    fn rec_aux_count(&mut self, rd: u64) -> Regs {
        if !self.rd_ok(rd) {
            return input();
        }
        ok(&[REC_AUX_COUNT])
    }

    /// Every (ipa, level) naming an entry of a table of the model, with the READ_ENTRY result the
    /// walk must give (used for a whole-tree comparison).
    pub fn all_entries(&self) -> Vec<(u64, i64, Rtte)> {
        let mut v = Vec::new();
        for (&(level, base), t) in &self.tables {
            for (i, e) in t.e.iter().enumerate() {
                v.push((base + i as u64 * size(level), level, *e));
            }
        }
        v
    }

    /// Where a walk towards `ipa` (in range) down to `target` stops, and the entry there.
    pub fn lookup(&self, ipa: u64, target: i64) -> (i64, Rtte) {
        let w = self.walk(ipa, target);
        (w.level, self.entry(w))
    }

    /// The level-`level` table covering `ipa`, if it exists.
    pub fn table(&self, ipa: u64, level: i64) -> Option<&Rtt> {
        let span = size(level) * ENTRIES as u64;
        self.tables.get(&(level, ipa & !(span - 1)))
    }

    /// What READ_ENTRY(ipa, level) must return (for a walk that reaches a real table).
    pub fn expect_read(&mut self, ipa: u64, level: i64) -> Regs {
        let rd = self.rd;
        self.read_entry(rd, ipa, level as u64)
    }
}
