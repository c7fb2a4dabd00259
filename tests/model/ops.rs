//! The operation layer of the model-based testing, one piece of code for its two users: the
//! model-based test (`tests/model.rs`, operations drawn by proptest) and the fuzz crate's
//! `rmi_sequence` target (`fuzz/src/sequence.rs`, operations decoded from libFuzzer's bytes by
//! `arbitrary`). Both include this file with `#[path]`, next to the reference model, which must be
//! reachable as `crate::spec` (`tests/model/spec.rs`).
//!
//! Owns:
//! * the argument selectors of the operations ([`At`], [`PaSel`], [`RecSel`]): plain bytes, so
//!   that proptest and `arbitrary` both produce them;
//! * their resolution into concrete arguments against the model's current state ([`Profile`]):
//!   mostly aimed at what the model holds (the level where a walk stops, a granule in the state
//!   the command needs, an entry in the state it needs), sometimes off by a little (misaligned,
//!   wrong level, wrong state, not an RD, MMIO, Secure, beyond DRAM);
//! * the encoding of a [`Call`] as an FID and X1… ([`encode`]);
//! * the driver ([`Case`], over the user's [`Harness`]): a call run on Warden and on the model
//!   with X0–X4 compared, and the steps the operations are made of (each command with resolved
//!   arguments; tables down to a level; a 2 MiB block filled with DATA or ASSIGNED_NS, then
//!   folded, unfolded or destroyed; REC create/destroy cycles; REALM_DESTROY and re-creation).
//!
//! The users run on different machines and tune the mix differently, so each brings a
//! [`Profile`] (addresses, IPA and granule sets, the cut points between aimed and off arguments,
//! the few generators that differ); their operation vocabularies differ too (the fuzz target's
//! variant order is its corpus format), so each keeps its own `Op` and dispatches it onto the
//! steps here. This module must never reach Warden or the host machine except through the
//! [`Harness`] hooks, never choose anything at random (every choice is a function of a selector
//! and the model's state, so that a proptest seed or a fuzz input replays exactly), and never
//! change what a selector resolves to under a profile by accident: the model test's coverage
//! assertions and the fuzz corpus both depend on it.

use warden::granule::GranuleState;
use warden_abi::fid::rmi;
use warden_abi::rec_params::RmiRecParams;
use zerocopy::{FromZeros, IntoBytes};

use crate::spec::{Call, GRANULE, Gran, MAX_RECS, Model, NS_HALF, OA_MASK, REC_AUX_COUNT, RecParams, Regs, Rtte, mpidr_of, size};

/// 1 GiB.
pub const GIB: u64 = 1 << 30;
/// 2 MiB.
pub const MIB2: u64 = 2 << 20;
/// Host PA that unprotected IPAs map to: IPA bits 29:0 are added, so maps are contiguous.
pub const HOST_NS: u64 = 0xC000_0000;
/// Host attributes of an unprotected mapping: Normal WB, read-write.
pub const WB_RW: u64 = (0b110 << 2) | (0b11 << 6);
/// Normal non-cacheable, read-only.
pub const NC_RO: u64 = (0b101 << 2) | (0b01 << 6);
/// Device nGnRE, read-write.
pub const DEV_RW: u64 = (0b001 << 2) | (0b11 << 6);
/// The attributes the generators pick from (the last: none).
pub const ATTRS: [u64; 4] = [WB_RW, NC_RO, DEV_RW, 0];

/// An (IPA, level) argument: a page of the profile's set, a level (aimed at the model's tree
/// below [`Profile::aim_below`]), and how to mangle the IPA.
#[derive(Clone, Copy, Debug)]
pub struct At {
    /// Which page.
    pub page: u8,
    /// Aimed or not, and which level if not.
    pub level: u8,
    /// How to move the IPA off the happy path ([`Profile::mangle_cuts`]).
    pub mangle: u8,
}

/// A granule argument: mostly one of the pool in the state the command wants, sometimes any of
/// the pool, sometimes an odd address ([`Profile::pick_cuts`]).
#[derive(Clone, Copy, Debug)]
pub struct PaSel {
    /// Aimed, any of the pool, or odd.
    pub pick: u8,
    /// Which one.
    pub idx: u8,
}

/// REC_CREATE's selectors besides the RD and the REC: each mostly picks the valid value.
#[derive(Clone, Copy, Debug)]
pub struct RecSel {
    /// Where the parameters are ([`Profile::rec_params_arg`]).
    pub params: u8,
    /// The MPIDR ([`mpidr_arg`]).
    pub mpidr: u8,
    /// `num_aux` ([`num_aux_arg`]).
    pub num_aux: u8,
    /// Which aux entry to spoil, and how ([`Profile::mangle_aux`]).
    pub aux: u8,
    /// `flags` ([`rec_flags_arg`]).
    pub flags: u8,
}

/// Which pages an argument prefers.
#[derive(Clone, Copy, Debug)]
pub enum Pages {
    /// Any page of the set.
    All,
    /// Mostly protected pages.
    Protected,
    /// Mostly unprotected pages.
    Unprotected,
}

/// What differs between the users: the machine's addresses, the sets arguments are drawn from,
/// and how often they are aimed or off.
#[derive(Debug)]
pub struct Profile {
    /// The Realm's RD.
    pub rd: u64,
    /// Its first starting RTT (the second follows).
    pub rtt: u64,
    /// Where the Host writes `RmiRealmParams` for REALM_CREATE.
    pub params: u64,
    /// Where the Host writes `RmiRecParams` for REC_CREATE.
    pub rec_params: u64,
    /// DATA_CREATE's source (NS, never delegated).
    pub src: u64,
    /// An MMIO address (no memory).
    pub mmio: u64,
    /// Secure memory.
    pub secure: u64,
    /// The end of delegable DRAM (the first address beyond it).
    pub dram_end: u64,
    /// The first granule of the pool the operations draw from.
    pub pool_base: u64,
    /// Granules in the pool.
    pub pool_len: u64,
    /// Protected pages.
    pub p_pages: &'static [u64],
    /// Unprotected pages.
    pub u_pages: &'static [u64],
    /// Unprotected 2 MiB blocks the ASSIGNED_NS fills use.
    pub u_blocks: &'static [u64],
    /// Level arguments when not aimed.
    pub levels: &'static [i64],
    /// [`At::level`] below this: aimed at the model's tree.
    pub aim_below: u8,
    /// [`At::mangle`] up to `[0]`: the aligned IPA; then up to each cut: the page itself, +2 KiB,
    /// +4 KiB, bit 40 set, the other half, the top of the address space; beyond: 0.
    pub mangle_cuts: [u8; 7],
    /// An RD selector below this: the RD; else one of [`Profile::rd_odd`].
    pub rd_cut: u8,
    /// Addresses that are not the RD.
    pub rd_odd: &'static [u64],
    /// [`PaSel::pick`] below `[0]`: a pool granule in the wanted state (and the selector that
    /// delegates one first if none is DELEGATED); below `[1]`: any pool granule; else odd.
    pub pick_cuts: [u8; 2],
    /// Odd picks of a DATA, REC or REC_AUX granule: the `idx`-th of them (else the first).
    pub odd_nth: bool,
    /// A DATA IPA aimed at the wrong state only where the walk reaches level 3 or an ASSIGNED
    /// block (else anywhere not in the wanted state).
    pub wrong_data_reachable: bool,
    /// Junk past `num_aux`: entry 5 MMIO + 2 KiB and entry 15 the first aux granule (else
    /// entry 15 MMIO + 2 KiB); entry 4 is always the REC.
    pub aux_tail_alias: bool,
    /// DATA_CREATE's source.
    pub src_arg: fn(u8) -> u64,
    /// Where REC_CREATE's parameters are.
    pub rec_params_arg: fn(&Model, u8) -> u64,
}

impl Profile {
    /// Granule `i` (modulo the pool's size) of the pool.
    pub fn pool(&self, i: u64) -> u64 {
        self.pool_base + (i % self.pool_len) * GRANULE
    }

    /// Every page of the set: protected, then unprotected.
    pub fn pages(&self) -> impl Iterator<Item = u64> {
        self.p_pages.iter().chain(self.u_pages).copied()
    }

    /// An RD argument.
    pub fn rd_arg(&self, v: u8) -> u64 {
        if v < self.rd_cut { self.rd } else { self.rd_odd[v as usize % self.rd_odd.len()] }
    }

    /// A level argument that is not aimed.
    pub fn level_arg(&self, at: At) -> i64 {
        self.levels[at.level as usize % self.levels.len()]
    }

    /// Moves `page` (aligned to `align`) off the happy path for a few values of `v`.
    pub fn mangle(&self, page: u64, align: u64, v: u8) -> u64 {
        let ipa = page & !(align - 1);
        match self.mangle_cuts.iter().position(|&cut| v <= cut) {
            Some(0) => ipa,
            Some(1) => page,
            Some(2) => ipa + 0x800,
            Some(3) => ipa + GRANULE,
            Some(4) => ipa | (1 << 40),
            Some(5) => ipa ^ NS_HALF,
            Some(_) => 0xFFFF_FFFF_FFFF_F000 & !(align - 1),
            None => 0,
        }
    }

    /// The page an [`At`] names.
    pub fn page_of(&self, at: At, pages: Pages) -> u64 {
        let list: Vec<u64> = match pages {
            Pages::Protected if at.page < 232 => self.p_pages.to_vec(),
            Pages::Unprotected if at.page < 232 => self.u_pages.to_vec(),
            _ => self.pages().collect(),
        };
        list[at.page as usize % list.len()]
    }

    /// Whether an argument is aimed at the model's tree (which needs a Realm to walk).
    pub fn aimed(&self, m: &Model, at: At, page: u64) -> bool {
        at.level < self.aim_below && m.realm.is_some() && Model::in_range(page)
    }

    /// (ipa, level) for RTT_CREATE: aimed, the level below where the walk for the page stops.
    pub fn create_at(&self, m: &Model, at: At) -> (u64, u64) {
        let page = self.page_of(at, Pages::All);
        let level = if self.aimed(m, at, page) { (m.lookup(page, 3).0 + 1).min(3) } else { self.level_arg(at) };
        (self.mangle(page, size(level.clamp(2, 3) - 1), at.mangle), level as u64)
    }

    /// (ipa, level) for RTT_DESTROY and RTT_FOLD: aimed, the deepest table that covers the page.
    pub fn table_at(&self, m: &Model, at: At) -> (u64, u64) {
        let page = self.page_of(at, Pages::All);
        let level = if self.aimed(m, at, page) { m.lookup(page, 3).0.max(2) } else { self.level_arg(at) };
        (self.mangle(page, size(level.clamp(2, 3) - 1), at.mangle), level as u64)
    }

    /// (ipa, level) for commands naming an entry: aimed, the level where the walk for the page
    /// stops.
    pub fn entry_at(&self, m: &Model, at: At, pages: Pages) -> (u64, u64) {
        let page = self.page_of(at, pages);
        let level = if self.aimed(m, at, page) { m.lookup(page, 3).0 } else { self.level_arg(at) };
        (self.mangle(page, size(level.clamp(1, 3)), at.mangle), level as u64)
    }

    /// (ipa, level) for RTT_UNMAP_UNPROTECTED: aimed, an ASSIGNED_NS entry covering a page if any
    /// (or, for a quarter of them, a page with a level-3 table: mostly not ASSIGNED_NS).
    pub fn unmap_at(&self, m: &Model, at: At) -> (u64, u64) {
        if self.aimed(m, at, 0) {
            let wrong = wrong_state(at);
            let c: Vec<(u64, i64)> = self
                .u_pages
                .iter()
                .filter_map(|&p| match m.lookup(p, 3) {
                    (3, _) if wrong => Some((p, 3)),
                    (l, Rtte::AssignedNs(_)) if !wrong => Some((p & !(size(l) - 1), l)),
                    _ => None,
                })
                .collect();
            if !c.is_empty() {
                let (ipa, l) = c[at.page as usize % c.len()];
                return (self.mangle(ipa, size(l), at.mangle), l as u64);
            }
        }
        self.entry_at(m, at, Pages::Unprotected)
    }

    /// `base` for RTT_INIT_RIPAS: aimed, the start of an UNASSIGNED entry covering a protected
    /// page (or, for a quarter of them, of an entry in another state).
    pub fn init_base(&self, m: &Model, at: At) -> u64 {
        if self.aimed(m, at, 0) {
            let wrong = wrong_state(at);
            let c: Vec<u64> = self
                .p_pages
                .iter()
                .filter_map(|&p| {
                    let (l, e) = m.lookup(p, 3);
                    (wrong != matches!(e, Rtte::Unassigned(_))).then_some(p & !(size(l) - 1))
                })
                .collect();
            if !c.is_empty() {
                return self.mangle(c[at.page as usize % c.len()], GRANULE, at.mangle);
            }
        }
        self.entry_at(m, at, Pages::Protected).0
    }

    /// A page IPA for the DATA commands: aimed, one whose entry is as `want` says (or, for a
    /// quarter of them, one in another state; see [`Profile::wrong_data_reachable`]).
    pub fn data_ipa(&self, m: &Model, at: At, want: fn(i64, Rtte) -> bool) -> u64 {
        let mut page = self.page_of(at, Pages::Protected);
        if self.aimed(m, at, 0) {
            let wrong = wrong_state(at);
            let reachable = |l: i64, e: Rtte| !self.wrong_data_reachable || l == 3 || matches!(e, Rtte::Assigned(..));
            let c: Vec<u64> = self
                .p_pages
                .iter()
                .copied()
                .filter(|&p| {
                    let (l, e) = m.lookup(p, 3);
                    if wrong { !want(l, e) && reachable(l, e) } else { want(l, e) }
                })
                .collect();
            if !c.is_empty() {
                page = c[at.page as usize % c.len()];
            }
        }
        self.mangle(page, GRANULE, at.mangle)
    }

    /// A granule argument that should be in state `want`.
    pub fn gran_arg(&self, m: &Model, s: PaSel, want: Gran) -> u64 {
        let idx = u64::from(s.idx);
        let [aimed, any] = self.pick_cuts;
        if s.pick < aimed {
            let c: Vec<u64> = (0..self.pool_len).map(|i| self.pool(i)).filter(|&p| m.gran(p) == Some(want)).collect();
            return if c.is_empty() { self.pool(idx) } else { c[s.idx as usize % c.len()] };
        }
        if s.pick < any {
            return self.pool(idx);
        }
        let n = if self.odd_nth { s.idx as usize } else { 0 };
        match s.idx % 11 {
            0 => self.rd,
            1 => self.rtt,
            2 => self.rtt + GRANULE,
            3 => self.pool(idx) + 0x800,
            4 => self.mmio,
            5 => self.secure,
            6 => self.dram_end,
            7 => nth_in(m, Gran::Data, n).unwrap_or(self.pool(idx)),
            8 => m.granules.iter().find(|(p, g)| **g == Gran::Rtt && **p > self.rtt + GRANULE).map_or(self.rtt, |(p, _)| *p),
            9 => nth_in(m, Gran::Rec, n).unwrap_or(self.pool(idx)),
            _ => nth_in(m, Gran::RecAux, n).unwrap_or(self.pool(idx)),
        }
    }

    /// Spoils one aux entry (or none) of a valid list for a few values of `v`.
    pub fn mangle_aux(&self, m: &Model, rec: u64, aux: &mut [u64; 16], v: u8) {
        let k = (v as usize / 8) % REC_AUX_COUNT as usize;
        if v < 176 {
            return;
        }
        aux[k] = match v % 8 {
            0 => aux[(k + 1) % REC_AUX_COUNT as usize],
            1 => rec,
            2 => aux[k] + 0x800,
            3 => self.src,
            4 => self.rd,
            5 => [Gran::Rec, Gran::RecAux, Gran::Data, Gran::Rtt]
                .into_iter()
                .find_map(|g| nth_in(m, g, v as usize))
                .unwrap_or(self.rtt),
            6 => self.mmio,
            _ => self.dram_end,
        };
    }
}

/// Whether an aimed argument aims at an entry in the wrong state (a quarter of them).
pub fn wrong_state(at: At) -> bool {
    at.level.is_multiple_of(4)
}

/// A level-3 UNASSIGNED entry (DATA_CREATE's target).
pub fn unassigned_page(l: i64, e: Rtte) -> bool {
    l == 3 && matches!(e, Rtte::Unassigned(_))
}

/// A level-3 ASSIGNED entry (DATA_DESTROY's target).
pub fn assigned_page(l: i64, e: Rtte) -> bool {
    l == 3 && matches!(e, Rtte::Assigned(..))
}

/// Some granule in state `g` (the `n`-th modulo their number), if any.
pub fn nth_in(m: &Model, g: Gran, n: usize) -> Option<u64> {
    let c: Vec<u64> = m.granules.iter().filter(|(_, s)| **s == g).map(|(p, _)| *p).collect();
    (!c.is_empty()).then(|| c[n % c.len()])
}

/// REC_CREATE's MPIDR: mostly the one of the Realm's next index.
pub fn mpidr_arg(m: &Model, v: u8) -> u64 {
    let i = m.rec_index;
    match v {
        0..=219 => mpidr_of(i),
        _ => match v % 8 {
            0 => mpidr_of(i + 1),
            1 => mpidr_of(i.checked_sub(1).unwrap_or(5)),
            2 => mpidr_of(i) | 0x10,
            3 => mpidr_of(i) | 0x80,
            4 => mpidr_of(i) | (1 << 32),
            5 => mpidr_of(i) | (1 << 63),
            6 => i,
            _ => mpidr_of(i + 16),
        },
    }
}

/// REC_CREATE's `num_aux`: mostly REC_AUX_COUNT.
pub fn num_aux_arg(v: u8) -> u64 {
    if v < 230 { REC_AUX_COUNT } else { [0, 3, 5, 16, 17, u64::MAX, 1, 2][v as usize % 8] }
}

/// REC_CREATE's `flags`: bit 0 is `runnable`; bits 63:1 are SBZ (no failure condition: ignored).
pub fn rec_flags_arg(v: u8) -> u64 {
    [0, 1, 1, 1 | (u64::from(v) << 4)][v as usize % 4]
}

/// DATA_CREATE's `flags`: bit 0 is `measure`; bits 63:1 are SBZ (no failure condition: ignored).
pub fn flags_arg(v: u8) -> u64 {
    [0, 1, 1 | (u64::from(v) << 8), 0][v as usize % 4]
}

/// The contiguous host address an unprotected `ipa` maps to at `level`.
pub fn ns_addr(ipa: u64, level: i64) -> u64 {
    (HOST_NS + (ipa & (GIB - 1))) & !(size(level) - 1) & OA_MASK
}

/// RTT_MAP_UNPROTECTED's descriptor: mostly valid, sometimes misaligned or with a bit the Host
/// may not set.
pub fn desc_arg(ipa: u64, level: u64, v: u8) -> u64 {
    let addr = ns_addr(ipa, (level as i64).clamp(1, 3));
    let attrs = ATTRS[v as usize % ATTRS.len()];
    match v {
        0..=207 => addr | attrs,
        208..=223 => (addr + GRANULE) | attrs,
        _ => match v % 8 {
            0 => addr | attrs | 0b11,
            1 => addr | attrs | (1 << 10),
            2 => addr | (0b100 << 2) | (0b11 << 6),
            3 => addr | attrs | (1 << 55),
            4 => addr | attrs | (1 << 5),
            5 => addr | attrs | (1 << 48),
            6 => addr | attrs | (0b11 << 8),
            _ => (addr + 0x800) | attrs,
        },
    }
}

/// RTT_INIT_RIPAS's `top` for `base`: within the entry, the block, the table, beyond, or odd.
pub fn top_arg(base: u64, v: u8) -> u64 {
    match v % 16 {
        0 | 1 => base.wrapping_add(GRANULE),
        2 => base.wrapping_add(3 * GRANULE),
        3 | 4 => (base | (MIB2 - 1)).wrapping_add(1),
        5 => (base | (GIB - 1)).wrapping_add(1),
        6 => base.wrapping_add(MIB2),
        7 => base,
        8 => base.wrapping_sub(GRANULE),
        9 => base.wrapping_add(0x800),
        10 => NS_HALF,
        11 => NS_HALF + GRANULE,
        12 => base.wrapping_add(2 * GIB),
        13 => u64::MAX,
        14 => base.wrapping_add(0x11000),
        _ => base.wrapping_add(GIB),
    }
}

/// A call as its FID and X1….
pub fn encode(call: &Call) -> (u64, Vec<u64>) {
    match *call {
        Call::Delegate(pa) => (rmi::GRANULE_DELEGATE, vec![pa]),
        Call::Undelegate(pa) => (rmi::GRANULE_UNDELEGATE, vec![pa]),
        Call::RttCreate(rd, rtt, ipa, level) => (rmi::RTT_CREATE, vec![rd, rtt, ipa, level]),
        Call::RttDestroy(rd, ipa, level) => (rmi::RTT_DESTROY, vec![rd, ipa, level]),
        Call::RttFold(rd, ipa, level) => (rmi::RTT_FOLD, vec![rd, ipa, level]),
        Call::ReadEntry(rd, ipa, level) => (rmi::RTT_READ_ENTRY, vec![rd, ipa, level]),
        Call::InitRipas(rd, base, top) => (rmi::RTT_INIT_RIPAS, vec![rd, base, top]),
        Call::Map(rd, ipa, level, desc) => (rmi::RTT_MAP_UNPROTECTED, vec![rd, ipa, level, desc]),
        Call::Unmap(rd, ipa, level) => (rmi::RTT_UNMAP_UNPROTECTED, vec![rd, ipa, level]),
        Call::DataCreate(rd, data, ipa, src, flags) => (rmi::DATA_CREATE, vec![rd, data, ipa, src, flags]),
        Call::DataCreateUnknown(rd, data, ipa) => (rmi::DATA_CREATE_UNKNOWN, vec![rd, data, ipa]),
        Call::DataDestroy(rd, ipa) => (rmi::DATA_DESTROY, vec![rd, ipa]),
        Call::Activate(rd) => (rmi::REALM_ACTIVATE, vec![rd]),
        Call::RealmCreate(rd, params) => (rmi::REALM_CREATE, vec![rd, params]),
        Call::RealmDestroy(rd) => (rmi::REALM_DESTROY, vec![rd]),
        Call::RecCreate(rd, rec, params, _) => (rmi::REC_CREATE, vec![rd, rec, params]),
        Call::RecDestroy(rec) => (rmi::REC_DESTROY, vec![rec]),
        Call::RecAuxCount(rd) => (rmi::REC_AUX_COUNT, vec![rd]),
    }
}

/// The model's name for a granule state Warden records.
pub fn model_state(s: GranuleState) -> Gran {
    match s {
        GranuleState::Undelegated => Gran::Undelegated,
        GranuleState::Delegated => Gran::Delegated,
        GranuleState::Rd => Gran::Rd,
        GranuleState::Rtt => Gran::Rtt,
        GranuleState::Data => Gran::Data,
        GranuleState::Rec => Gran::Rec,
        GranuleState::RecAux => Gran::RecAux,
    }
}

/// For REC_CREATE whose parameters are in a page the Host owns (UNDELEGATED in the model, or the
/// NS page holding a misaligned address): that page and the `RmiRecParams` to write there first.
/// Elsewhere the call must fail before reading them.
pub fn rec_params_page(m: &Model, call: &Call) -> Option<(u64, RmiRecParams)> {
    let Call::RecCreate(_, _, params, p) = *call else { return None };
    let page = params & !(GRANULE - 1);
    if m.gran(page) != Some(Gran::Undelegated) {
        return None;
    }
    let mut raw = RmiRecParams::new_zeroed();
    raw.flags = p.flags;
    raw.mpidr = p.mpidr;
    raw.pc = 0x1000;
    raw.num_aux = p.num_aux;
    raw.aux = p.aux;
    Some((page, raw))
}

/// What a user brings to a [`Case`]: how to reach its machine, what to record, how a
/// disagreement is reported.
pub trait Harness {
    /// What a disagreement becomes (`Infallible` for a user that panics instead).
    type Error;

    /// Writes `bytes` into the Host's memory at `pa`.
    fn write(&mut self, pa: u64, bytes: &[u8]);
    /// Writes the standard Realm's parameters (VMID 1, starting RTTs at [`Profile::rtt`]) at
    /// [`Profile::params`], for REALM_CREATE.
    fn write_params(&mut self);
    /// Issues an RMI call; returns X0–X4.
    fn call(&mut self, fid: u64, args: &[u64]) -> Regs;
    /// Issues an RMI call for the whole-tree comparison at the end (thousands of reads): the
    /// user may skip its per-call checks here.
    fn call_unchecked(&mut self, fid: u64, args: &[u64]) -> Regs {
        self.call(fid, args)
    }
    /// Records a call Warden and the model both made, with the model's notable transitions
    /// (before the results are compared).
    fn record(&mut self, call: &Call, expect: &Regs, got: &Regs, events: &[&'static str]);
    /// A disagreement, with the user's account of the case so far.
    fn fail(&self, what: String) -> Self::Error;
}

/// One case's run: the user's [`Harness`] talking to Warden, the model, the user's [`Profile`],
/// and the steps the operations are made of. A user dispatches its own `Op` onto the steps; every
/// step returns `Err(`[`Harness::fail`]`(…))` at the first disagreement.
pub struct Case<H> {
    /// The user's side.
    pub host: H,
    /// The model.
    pub m: Model,
    /// The user's profile.
    pub p: &'static Profile,
}

impl<H: Harness> Case<H> {
    /// Runs `call` on both and compares X0–X4.
    pub fn exec(&mut self, call: Call) -> Result<Regs, H::Error> {
        if let Some((page, raw)) = rec_params_page(&self.m, &call) {
            self.host.write(page, raw.as_bytes());
        }
        let expect = self.m.apply(&call);
        let (fid, args) = encode(&call);
        let got = self.host.call(fid, &args);
        self.host.record(&call, &expect, &got, &self.m.events);
        if got != expect {
            return Err(self.host.fail(format!("{call:#x?}\n  Warden returned {got:#x?}\n  the model expects {expect:#x?}")));
        }
        Ok(got)
    }

    /// READ_ENTRY of every page of the set at level 3.
    pub fn compare_pages(&mut self) -> Result<(), H::Error> {
        let p = self.p;
        for ipa in p.pages() {
            let expect = self.m.expect_read(ipa, 3);
            let got = self.host.call(rmi::RTT_READ_ENTRY, &[p.rd, ipa, 3]);
            if got != expect {
                return Err(self.host.fail(format!("READ_ENTRY({ipa:#x}, 3): Warden {got:#x?}, model {expect:#x?}")));
            }
        }
        Ok(())
    }

    /// Every entry of every table of the model, through READ_ENTRY at the table's level.
    pub fn full_compare(&mut self) -> Result<(), H::Error> {
        let rd = self.p.rd;
        for (ipa, level, _) in self.m.all_entries() {
            let expect = self.m.expect_read(ipa, level);
            let got = self.host.call_unchecked(rmi::RTT_READ_ENTRY, &[rd, ipa, level as u64]);
            if got != expect {
                return Err(self.host.fail(format!("final READ_ENTRY({ipa:#x}, {level}): Warden {got:#x?}, model {expect:#x?}")));
            }
        }
        Ok(())
    }

    /// A granule of the pool in state DELEGATED (delegating one if needed).
    pub fn delegated_granule(&mut self) -> Result<Option<u64>, H::Error> {
        let p = self.p;
        let pool: Vec<u64> = (0..p.pool_len).map(|i| p.pool(i)).collect();
        if let Some(&pa) = pool.iter().find(|&&pa| self.m.gran(pa) == Some(Gran::Delegated)) {
            return Ok(Some(pa));
        }
        if let Some(&pa) = pool.iter().find(|&&pa| self.m.gran(pa) == Some(Gran::Undelegated)) {
            self.exec(Call::Delegate(pa))?;
            return Ok(Some(pa));
        }
        Ok(None)
    }

    /// A granule argument that should be DELEGATED: like the Host, delegates one first if the
    /// selector aims at a DELEGATED granule and there is none.
    pub fn delegated_arg(&mut self, s: PaSel) -> Result<u64, H::Error> {
        let p = self.p;
        if s.pick < p.pick_cuts[0] && !(0..p.pool_len).any(|i| self.m.gran(p.pool(i)) == Some(Gran::Delegated)) {
            self.delegated_granule()?;
        }
        Ok(p.gran_arg(&self.m, s, Gran::Delegated))
    }

    /// `n` DELEGATED granules of the pool other than `not` (delegating some if needed; fewer if
    /// the pool has run out).
    pub fn delegated_granules(&mut self, n: usize, not: u64) -> Result<Vec<u64>, H::Error> {
        let p = self.p;
        let mut v: Vec<u64> = (0..p.pool_len)
            .map(|i| p.pool(i))
            .filter(|&pa| pa != not && self.m.gran(pa) == Some(Gran::Delegated))
            .take(n)
            .collect();
        while v.len() < n {
            let Some(pa) = (0..p.pool_len).map(|i| p.pool(i)).find(|&pa| self.m.gran(pa) == Some(Gran::Undelegated))
            else {
                break;
            };
            self.exec(Call::Delegate(pa))?;
            v.push(pa);
        }
        Ok(v)
    }

    /// A valid REC_CREATE (if the pool has room); returns the REC.
    pub fn rec_create_valid(&mut self, flags: u64) -> Result<Option<u64>, H::Error> {
        let Some(rec) = self.delegated_granule()? else { return Ok(None) };
        let got = self.delegated_granules(REC_AUX_COUNT as usize, rec)?;
        if got.len() < REC_AUX_COUNT as usize || self.m.recs.len() as u64 >= MAX_RECS {
            return Ok(None);
        }
        let mut aux = [0; 16];
        aux[..got.len()].copy_from_slice(&got);
        let p = RecParams { flags, mpidr: mpidr_of(self.m.rec_index), num_aux: REC_AUX_COUNT, aux };
        let r = self.exec(Call::RecCreate(self.p.rd, rec, self.p.rec_params, p))?;
        Ok((r[0] == 0).then_some(rec))
    }

    /// RTT_CREATE down to `target` for `page` where the model has no table yet.
    pub fn tables(&mut self, page: u64, target: i64) -> Result<(), H::Error> {
        if self.m.realm.is_none() {
            return Ok(());
        }
        for l in 2..=target {
            let ipa = page & !(size(l - 1) - 1);
            if self.m.table(ipa, l).is_some() {
                continue;
            }
            let Some(rtt) = self.delegated_granule()? else { return Ok(()) };
            self.exec(Call::RttCreate(self.p.rd, rtt, ipa, l as u64))?;
        }
        Ok(())
    }

    /// After a fill of `block`: `then` ≡ 0 (mod 4): RTT_DESTROY of its table (live if it holds
    /// DATA); 1: fold, then DATA_DESTROY / UNMAP of a page of the folded block (RMI_ERROR_RTT at
    /// level 2); 2: fold and unfold; 3: fold.
    pub fn fold_then(&mut self, block: u64, then: u8) -> Result<(), H::Error> {
        let rd = self.p.rd;
        if then.is_multiple_of(4) {
            self.exec(Call::RttDestroy(rd, block, 3))?;
            return Ok(());
        }
        self.exec(Call::RttFold(rd, block, 3))?;
        match then % 4 {
            1 => {
                let ipa = block + u64::from(then >> 2) * GRANULE;
                self.exec(if block < NS_HALF { Call::DataDestroy(rd, ipa) } else { Call::Unmap(rd, ipa, 3) })?;
            }
            2 => self.tables(block, 3)?,
            _ => {}
        }
        Ok(())
    }

    /// GRANULE_DELEGATE (mostly of an UNDELEGATED pool granule).
    pub fn delegate(&mut self, s: PaSel) -> Result<(), H::Error> {
        let pa = self.p.gran_arg(&self.m, s, Gran::Undelegated);
        self.exec(Call::Delegate(pa)).map(drop)
    }

    /// GRANULE_UNDELEGATE (mostly of a DELEGATED pool granule).
    pub fn undelegate(&mut self, s: PaSel) -> Result<(), H::Error> {
        let pa = self.p.gran_arg(&self.m, s, Gran::Delegated);
        self.exec(Call::Undelegate(pa)).map(drop)
    }

    /// RTT_CREATE.
    pub fn rtt_create(&mut self, rd: u8, rtt: PaSel, at: At) -> Result<(), H::Error> {
        let rtt = self.delegated_arg(rtt)?;
        let p = self.p;
        let (ipa, level) = p.create_at(&self.m, at);
        self.exec(Call::RttCreate(p.rd_arg(rd), rtt, ipa, level)).map(drop)
    }

    /// RTT_DESTROY.
    pub fn rtt_destroy(&mut self, rd: u8, at: At) -> Result<(), H::Error> {
        let p = self.p;
        let (ipa, level) = p.table_at(&self.m, at);
        self.exec(Call::RttDestroy(p.rd_arg(rd), ipa, level)).map(drop)
    }

    /// RTT_FOLD.
    pub fn rtt_fold(&mut self, rd: u8, at: At) -> Result<(), H::Error> {
        let p = self.p;
        let (ipa, level) = p.table_at(&self.m, at);
        self.exec(Call::RttFold(p.rd_arg(rd), ipa, level)).map(drop)
    }

    /// RTT_READ_ENTRY.
    pub fn read_entry(&mut self, rd: u8, at: At) -> Result<(), H::Error> {
        let p = self.p;
        let (ipa, level) = p.entry_at(&self.m, at, Pages::All);
        self.exec(Call::ReadEntry(p.rd_arg(rd), ipa, level)).map(drop)
    }

    /// RTT_INIT_RIPAS.
    pub fn init_ripas(&mut self, rd: u8, base: At, top: u8) -> Result<(), H::Error> {
        let p = self.p;
        let base = p.init_base(&self.m, base);
        self.exec(Call::InitRipas(p.rd_arg(rd), base, top_arg(base, top))).map(drop)
    }

    /// RTT_MAP_UNPROTECTED.
    pub fn map(&mut self, rd: u8, at: At, desc: u8) -> Result<(), H::Error> {
        let p = self.p;
        let (ipa, level) = p.entry_at(&self.m, at, Pages::Unprotected);
        self.exec(Call::Map(p.rd_arg(rd), ipa, level, desc_arg(ipa, level, desc))).map(drop)
    }

    /// RTT_UNMAP_UNPROTECTED.
    pub fn unmap(&mut self, rd: u8, at: At) -> Result<(), H::Error> {
        let p = self.p;
        let (ipa, level) = p.unmap_at(&self.m, at);
        self.exec(Call::Unmap(p.rd_arg(rd), ipa, level)).map(drop)
    }

    /// DATA_CREATE.
    pub fn data_create(&mut self, rd: u8, data: PaSel, at: At, src: u8, flags: u8) -> Result<(), H::Error> {
        let data = self.delegated_arg(data)?;
        let p = self.p;
        let ipa = p.data_ipa(&self.m, at, unassigned_page);
        self.exec(Call::DataCreate(p.rd_arg(rd), data, ipa, (p.src_arg)(src), flags_arg(flags))).map(drop)
    }

    /// DATA_CREATE_UNKNOWN.
    pub fn data_create_unknown(&mut self, rd: u8, data: PaSel, at: At) -> Result<(), H::Error> {
        let data = self.delegated_arg(data)?;
        let p = self.p;
        let ipa = p.data_ipa(&self.m, at, unassigned_page);
        self.exec(Call::DataCreateUnknown(p.rd_arg(rd), data, ipa)).map(drop)
    }

    /// DATA_DESTROY.
    pub fn data_destroy(&mut self, rd: u8, at: At) -> Result<(), H::Error> {
        let p = self.p;
        let ipa = p.data_ipa(&self.m, at, assigned_page);
        self.exec(Call::DataDestroy(p.rd_arg(rd), ipa)).map(drop)
    }

    /// REALM_ACTIVATE.
    pub fn activate(&mut self, rd: u8) -> Result<(), H::Error> {
        let rd = self.p.rd_arg(rd);
        self.exec(Call::Activate(rd)).map(drop)
    }

    /// REC_CREATE of a DELEGATED granule (mostly) with REC_AUX_COUNT DELEGATED aux granules
    /// (junk past them, see [`Profile::aux_tail_alias`]), each selector of `sel` mostly valid.
    pub fn rec_create(&mut self, rd: u8, rec: PaSel, sel: RecSel) -> Result<(), H::Error> {
        let rec = self.delegated_arg(rec)?;
        let got = self.delegated_granules(REC_AUX_COUNT as usize, rec)?;
        let (p, m) = (self.p, &self.m);
        let mut list = [0; 16];
        list[..got.len()].copy_from_slice(&got);
        // Entries past num_aux are not looked at: junk there.
        list[REC_AUX_COUNT as usize] = rec;
        if p.aux_tail_alias {
            list[REC_AUX_COUNT as usize + 1] = p.mmio + 0x800;
            list[15] = got.first().copied().unwrap_or(p.rd);
        } else {
            list[15] = p.mmio + 0x800;
        }
        p.mangle_aux(m, rec, &mut list, sel.aux);
        let params = RecParams {
            flags: rec_flags_arg(sel.flags),
            mpidr: mpidr_arg(m, sel.mpidr),
            num_aux: num_aux_arg(sel.num_aux),
            aux: list,
        };
        let call = Call::RecCreate(p.rd_arg(rd), rec, (p.rec_params_arg)(m, sel.params), params);
        self.exec(call).map(drop)
    }

    /// REC_AUX_COUNT.
    pub fn rec_aux_count(&mut self, rd: u8) -> Result<(), H::Error> {
        let rd = self.p.rd_arg(rd);
        self.exec(Call::RecAuxCount(rd)).map(drop)
    }

    /// REALM_DESTROY (`prep`: after REC_DESTROY of every REC); on success REALM_CREATE again.
    pub fn realm_destroy(&mut self, rd: u8, prep: bool) -> Result<(), H::Error> {
        if prep {
            for rec in self.m.recs.keys().copied().collect::<Vec<_>>() {
                self.exec(Call::RecDestroy(rec))?;
            }
        }
        let p = self.p;
        self.exec(Call::RealmDestroy(p.rd_arg(rd)))?;
        if self.m.realm.is_none() {
            self.host.write_params();
            self.exec(Call::RealmCreate(p.rd, p.params))?;
        }
        Ok(())
    }

    /// `last + 1` valid REC_CREATE, each followed by REC_DESTROY (the REC index keeps growing;
    /// stops early if the pool runs out).
    pub fn rec_cycle(&mut self, last: u8) -> Result<(), H::Error> {
        for i in 0..=last {
            match self.rec_create_valid(u64::from(i & 1))? {
                Some(rec) => {
                    self.exec(Call::RecDestroy(rec))?;
                }
                None => break,
            }
        }
        Ok(())
    }

    /// Tables down to `level` for a page of the set, then (`fold`) RTT_FOLD of the level-3 one.
    pub fn build_tables(&mut self, page: u8, level: i64, fold: bool) -> Result<(), H::Error> {
        let p = self.p;
        let pages: Vec<u64> = p.pages().collect();
        let page = pages[page as usize % pages.len()];
        self.tables(page, level)?;
        if fold && self.m.realm.is_some() {
            self.exec(Call::RttFold(p.rd, page & !(MIB2 - 1), 3))?;
        }
        Ok(())
    }

    /// Tables down to level 3 for the protected 2 MiB `block`, then, by `kind`: 0: DATA_CREATE_UNKNOWN
    /// of all 512 pages (RIPAS kept); 1: DATA_CREATE (RAM); 2: RTT_INIT_RIPAS of the block, then
    /// DATA_CREATE_UNKNOWN; 3: RTT_INIT_RIPAS only. The DATA granules are the 512 from `first`
    /// (delegated as needed).
    pub fn fill_data(&mut self, block: u64, first: u64, kind: u8) -> Result<(), H::Error> {
        let p = self.p;
        self.tables(block, 3)?;
        if kind >= 2 {
            self.exec(Call::InitRipas(p.rd, block, block + MIB2))?;
        }
        if kind == 3 {
            return Ok(());
        }
        for i in 0..512 {
            let pa = first + i * GRANULE;
            if self.m.gran(pa) == Some(Gran::Undelegated) {
                self.exec(Call::Delegate(pa))?;
            }
            let ipa = block + i * GRANULE;
            let call =
                if kind == 1 { Call::DataCreate(p.rd, pa, ipa, p.src, 0) } else { Call::DataCreateUnknown(p.rd, pa, ipa) };
            self.exec(call)?;
        }
        Ok(())
    }

    /// Tables, then ASSIGNED_NS in all 512 entries of an unprotected 2 MiB block with contiguous
    /// host addresses (sometimes not 2 MiB aligned: it must not fold), then [`Case::fold_then`].
    pub fn fill_ns(&mut self, block: u8, attr: u8, then: u8) -> Result<(), H::Error> {
        let p = self.p;
        let b = p.u_blocks[block as usize % p.u_blocks.len()];
        self.tables(b, 3)?;
        let attrs = ATTRS[attr as usize % 3];
        let shift = if attr >= 192 { GRANULE } else { 0 };
        for i in 0..512 {
            let ipa = b + i * GRANULE;
            self.exec(Call::Map(p.rd, ipa, 3, (ns_addr(ipa, 3) + shift) | attrs))?;
        }
        self.fold_then(b, then)
    }
}
