//! The `rmi_sequence` target: structure-aware RMI command sequences, every result checked against
//! the reference model of the model-based tests ([`crate::spec`], i.e. `tests/model/spec.rs`).
//!
//! Owns the operation vocabulary ([`Op`], derived with `arbitrary`) and its resolution into
//! concrete calls against the model's current state — mostly arguments aimed at what the model
//! holds (the level where a walk stops, a granule in the state the command needs, an entry in the
//! state it needs), sometimes off by a little (misaligned, wrong level, wrong state, not an RD, MMIO,
//! Secure, beyond DRAM) — plus macro operations that build deep states (tables to level 3, a 2 MiB
//! block filled with DATA or ASSIGNED_NS then folded/unfolded/destroyed, REC create/destroy
//! cycles, REALM_DESTROY and re-creation). After every call X0–X4 of Warden and of the model must
//! be equal (and allowed by [`crate::status`]); after every operation every granule's state and
//! READ_ENTRY of every IPA of the set must agree; at the end every entry of every model table is
//! compared and the deep consistency check runs. The single-bank machine matches the model's one
//! range of delegable DRAM.

use arbitrary::{Arbitrary, Unstructured};
use warden::granule::GranuleState;
use warden_abi::fid::rmi;
use warden_abi::rec_params::RmiRecParams;
use zerocopy::{FromZeros, IntoBytes};

use crate::Signature;
use crate::harness::{Shape, 
    BLOCK, BLOCK_DRAM_SIZE, DRAM, GRANULE, MMIO, PARAMS, POOL, REC_PARAMS, RD, ROOT, RTT, SECURE, SRC, World, params, with_world,
};
use crate::spec::{Call, Gran, MAX_RECS, Model, NS_HALF, OA_MASK, REC_AUX_COUNT, RecParams, Rtte, mpidr_of, size};

const GIB: u64 = 1 << 30;
const MIB2: u64 = 2 << 20;
/// The end of the block machine's DRAM.
const DRAM_END: u64 = DRAM + BLOCK_DRAM_SIZE;
/// Granules the operations draw from.
const POOL_LEN: u64 = 48;
/// Host PA that unprotected IPAs map to (IPA bits [29:0] added: contiguous maps).
const HOST_NS: u64 = 0xC000_0000;
/// Protected pages: two adjacent 2 MiB blocks of one 1 GiB region, others.
const P_PAGES: [u64; 7] = [0x4020_0000, 0x4020_1000, 0x403F_F000, 0x4040_0000, 0x0, 0x3000, 0x8000_0000];
/// Unprotected pages.
const U_PAGES: [u64; 5] =
    [NS_HALF | 0x20_0000, NS_HALF | 0x20_1000, NS_HALF | 0x3F_F000, NS_HALF | 0x40_0000, NS_HALF | 0x4000_0000];
const P_BLOCKS: [u64; 2] = [0x4020_0000, 0x4040_0000];
const U_BLOCKS: [u64; 2] = [NS_HALF | 0x20_0000, NS_HALF | 0x40_0000];
/// Level arguments when not aimed: mostly 2 and 3, sometimes 1, 0 and invalid ones.
const LEVELS: [i64; 10] = [3, 3, 3, 2, 2, 1, 0, 4, -1, 3];
/// Host attributes of unprotected mappings: Normal WB RW, Normal NC RO, Device nGnRE RW, none.
const ATTRS: [u64; 4] = [(0b110 << 2) | (0b11 << 6), (0b101 << 2) | (0b01 << 6), (0b001 << 2) | (0b11 << 6), 0];

/// An (IPA, level) argument: a page of the set, a level (aimed at the model's tree below 160) and
/// how to mangle the IPA.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct At {
    page: u8,
    level: u8,
    mangle: u8,
}

/// A granule argument: mostly one of the pool in the state the command wants, sometimes any.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Gsel {
    pick: u8,
    idx: u8,
}

/// One abstract operation (`rd`: mostly the RD, sometimes an address that is not one).
#[derive(Arbitrary, Debug, Clone)]
#[allow(missing_docs)] // the variants' fields are selectors, resolved by `Case::run`
pub enum Op {
    /// GRANULE_DELEGATE.
    Delegate(Gsel),
    /// GRANULE_UNDELEGATE.
    Undelegate(Gsel),
    /// RTT_CREATE.
    RttCreate { rd: u8, rtt: Gsel, at: At },
    /// RTT_DESTROY.
    RttDestroy { rd: u8, at: At },
    /// RTT_FOLD.
    RttFold { rd: u8, at: At },
    /// RTT_READ_ENTRY.
    ReadEntry { rd: u8, at: At },
    /// RTT_INIT_RIPAS.
    InitRipas { rd: u8, base: At, top: u8 },
    /// RTT_MAP_UNPROTECTED.
    Map { rd: u8, at: At, desc: u8 },
    /// RTT_UNMAP_UNPROTECTED.
    Unmap { rd: u8, at: At },
    /// DATA_CREATE.
    DataCreate { rd: u8, data: Gsel, at: At, src: u8, flags: u8 },
    /// DATA_CREATE_UNKNOWN.
    DataCreateUnknown { rd: u8, data: Gsel, at: At },
    /// DATA_DESTROY.
    DataDestroy { rd: u8, at: At },
    /// REALM_ACTIVATE.
    Activate { rd: u8 },
    /// REALM_DESTROY (`prep`: after REC_DESTROY of every REC); on success REALM_CREATE again.
    RealmDestroy { rd: u8, prep: bool },
    /// REC_CREATE; each selector mostly picks the valid value.
    RecCreate { rd: u8, rec: Gsel, params: u8, mpidr: u8, num_aux: u8, aux: u8, flags: u8 },
    /// REC_DESTROY (mostly of a REC of the Realm).
    RecDestroy(Gsel),
    /// REC_AUX_COUNT.
    RecAuxCount { rd: u8 },
    /// Macro: tables down to level 2 (`depth` even) or 3 for a page, then maybe fold the deepest.
    Tables { page: u8, depth: u8 },
    /// Macro: tables, 512 DATA pages in a protected 2 MiB block, then destroy/fold/unfold.
    FillBlock { block: u8, kind: u8, then: u8 },
    /// Macro: tables, 512 ASSIGNED_NS pages in an unprotected 2 MiB block, then the same.
    FillNs { block: u8, attr: u8, then: u8 },
    /// Macro: `n` valid REC_CREATE/REC_DESTROY pairs (the REC index grows).
    RecCycle { n: u8 },
}

/// The input of `rmi_sequence`: at most 48 operations, at most two block fills.
#[derive(Debug)]
pub struct Input {
    /// The operations.
    pub ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut ops = Vec::new();
        let mut fills = 0;
        while ops.len() < 48 && !u.is_empty() {
            let op: Op = u.arbitrary()?;
            if matches!(op, Op::FillBlock { .. } | Op::FillNs { .. }) {
                fills += 1;
                if fills > 2 {
                    continue;
                }
            }
            ops.push(op);
        }
        Ok(Input { ops })
    }
}

fn pool(i: u64) -> u64 {
    POOL + (i % POOL_LEN) * GRANULE
}

fn rd_arg(v: u8) -> u64 {
    if v < 240 { RD } else { [RD + 0x10, RTT, POOL, MMIO, RD + GRANULE, ROOT, SRC, DRAM_END][v as usize % 8] }
}

fn level_arg(at: At) -> i64 {
    LEVELS[at.level as usize % LEVELS.len()]
}

fn mangle(page: u64, align: u64, v: u8) -> u64 {
    let ipa = page & !(align - 1);
    match v {
        0..=215 => ipa,
        216..=223 => page,
        224..=231 => ipa + 0x800,
        232..=239 => ipa + GRANULE,
        240..=243 => ipa | (1 << 40),
        244..=247 => ipa ^ NS_HALF,
        248..=251 => 0xFFFF_FFFF_FFFF_F000 & !(align - 1),
        _ => 0,
    }
}

#[derive(Clone, Copy)]
enum Pages {
    All,
    Protected,
    Unprotected,
}

fn page_of(at: At, pages: Pages) -> u64 {
    let all: Vec<u64> = P_PAGES.into_iter().chain(U_PAGES).collect();
    let list: &[u64] = match pages {
        Pages::Protected if at.page < 232 => &P_PAGES,
        Pages::Unprotected if at.page < 232 => &U_PAGES,
        _ => &all,
    };
    list[at.page as usize % list.len()]
}

/// Aimed at the model's tree (the Realm must exist for the model to walk it).
fn aimed(m: &Model, at: At, page: u64) -> bool {
    at.level < 160 && m.realm.is_some() && Model::in_range(page)
}

fn wrong_state(at: At) -> bool {
    at.level.is_multiple_of(4)
}

fn create_at(m: &Model, at: At) -> (u64, u64) {
    let page = page_of(at, Pages::All);
    let level = if aimed(m, at, page) { (m.lookup(page, 3).0 + 1).min(3) } else { level_arg(at) };
    (mangle(page, size(level.clamp(2, 3) - 1), at.mangle), level as u64)
}

fn table_at(m: &Model, at: At) -> (u64, u64) {
    let page = page_of(at, Pages::All);
    let level = if aimed(m, at, page) { m.lookup(page, 3).0.max(2) } else { level_arg(at) };
    (mangle(page, size(level.clamp(2, 3) - 1), at.mangle), level as u64)
}

fn entry_at(m: &Model, at: At, pages: Pages) -> (u64, u64) {
    let page = page_of(at, pages);
    let level = if aimed(m, at, page) { m.lookup(page, 3).0 } else { level_arg(at) };
    (mangle(page, size(level.clamp(1, 3)), at.mangle), level as u64)
}

/// An ASSIGNED_NS entry covering an unprotected page if aimed (a quarter: a level-3 entry).
fn unmap_at(m: &Model, at: At) -> (u64, u64) {
    if aimed(m, at, 0) {
        let wrong = wrong_state(at);
        let c: Vec<(u64, i64)> = U_PAGES
            .into_iter()
            .filter_map(|p| match m.lookup(p, 3) {
                (3, _) if wrong => Some((p, 3)),
                (l, Rtte::AssignedNs(_)) if !wrong => Some((p & !(size(l) - 1), l)),
                _ => None,
            })
            .collect();
        if !c.is_empty() {
            let (ipa, l) = c[at.page as usize % c.len()];
            return (mangle(ipa, size(l), at.mangle), l as u64);
        }
    }
    entry_at(m, at, Pages::Unprotected)
}

/// The start of an UNASSIGNED entry covering a protected page if aimed (a quarter: another state).
fn init_base(m: &Model, at: At) -> u64 {
    if aimed(m, at, 0) {
        let wrong = wrong_state(at);
        let c: Vec<u64> = P_PAGES
            .into_iter()
            .filter_map(|p| {
                let (l, e) = m.lookup(p, 3);
                (wrong != matches!(e, Rtte::Unassigned(_))).then_some(p & !(size(l) - 1))
            })
            .collect();
        if !c.is_empty() {
            return mangle(c[at.page as usize % c.len()], GRANULE, at.mangle);
        }
    }
    entry_at(m, at, Pages::Protected).0
}

/// A protected page whose level-3 entry is as `want` says if aimed (a quarter: another state).
fn data_ipa(m: &Model, at: At, want: fn(i64, Rtte) -> bool) -> u64 {
    let mut page = page_of(at, Pages::Protected);
    if aimed(m, at, 0) {
        let wrong = wrong_state(at);
        let c: Vec<u64> = P_PAGES
            .into_iter()
            .filter(|&p| {
                let (l, e) = m.lookup(p, 3);
                if wrong { !want(l, e) } else { want(l, e) }
            })
            .collect();
        if !c.is_empty() {
            page = c[at.page as usize % c.len()];
        }
    }
    mangle(page, GRANULE, at.mangle)
}

fn unassigned_page(l: i64, e: Rtte) -> bool {
    l == 3 && matches!(e, Rtte::Unassigned(_))
}

fn assigned_page(l: i64, e: Rtte) -> bool {
    l == 3 && matches!(e, Rtte::Assigned(..))
}

fn nth_in(m: &Model, g: Gran, n: usize) -> Option<u64> {
    let c: Vec<u64> = m.granules.iter().filter(|(_, s)| **s == g).map(|(p, _)| *p).collect();
    (!c.is_empty()).then(|| c[n % c.len()])
}

fn gran_arg(m: &Model, s: Gsel, want: Gran) -> u64 {
    let idx = u64::from(s.idx);
    match s.pick {
        0..=199 => {
            let c: Vec<u64> = (0..POOL_LEN).map(pool).filter(|&p| m.gran(p) == Some(want)).collect();
            if c.is_empty() { pool(idx) } else { c[s.idx as usize % c.len()] }
        }
        200..=229 => pool(idx),
        _ => match s.idx % 11 {
            0 => RD,
            1 => RTT,
            2 => RTT + GRANULE,
            3 => pool(idx) + 0x800,
            4 => MMIO,
            5 => SECURE,
            6 => DRAM_END,
            7 => nth_in(m, Gran::Data, s.idx as usize).unwrap_or(pool(idx)),
            8 => m.granules.iter().find(|(p, g)| **g == Gran::Rtt && **p > RTT + GRANULE).map_or(RTT, |(p, _)| *p),
            9 => nth_in(m, Gran::Rec, s.idx as usize).unwrap_or(pool(idx)),
            _ => nth_in(m, Gran::RecAux, s.idx as usize).unwrap_or(pool(idx)),
        },
    }
}

fn src_arg(v: u8) -> u64 {
    if v < 220 { SRC } else { [SRC + 8, MMIO, SECURE, ROOT, RD, pool(u64::from(v)), DRAM_END][v as usize % 7] }
}

fn flags_arg(v: u8) -> u64 {
    [0, 1, 1 | (u64::from(v) << 8), 0][v as usize % 4]
}

fn ns_addr(ipa: u64, level: i64) -> u64 {
    (HOST_NS + (ipa & (GIB - 1))) & !(size(level) - 1) & OA_MASK
}

fn desc_arg(ipa: u64, level: u64, v: u8) -> u64 {
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

fn top_arg(base: u64, v: u8) -> u64 {
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

fn rec_params_arg(m: &Model, v: u8) -> u64 {
    match v {
        0..=219 => REC_PARAMS,
        _ => match v % 8 {
            0 => REC_PARAMS + 8,
            1 => REC_PARAMS + 0x800,
            2 => nth_in(m, Gran::Delegated, v as usize).unwrap_or(RTT),
            3 => MMIO,
            4 => SECURE,
            5 => RD,
            6 => DRAM_END,
            _ => nth_in(m, Gran::Rec, 0).unwrap_or(SRC),
        },
    }
}

fn mpidr_arg(m: &Model, v: u8) -> u64 {
    let i = m.rec_index;
    if v < 220 {
        return mpidr_of(i);
    }
    match v % 8 {
        0 => mpidr_of(i + 1),
        1 => mpidr_of(i.checked_sub(1).unwrap_or(5)),
        2 => mpidr_of(i) | 0x10,
        3 => mpidr_of(i) | 0x80,
        4 => mpidr_of(i) | (1 << 32),
        5 => mpidr_of(i) | (1 << 63),
        6 => i,
        _ => mpidr_of(i + 16),
    }
}

fn num_aux_arg(v: u8) -> u64 {
    if v < 230 { REC_AUX_COUNT } else { [0, 3, 5, 16, 17, u64::MAX, 1, 2][v as usize % 8] }
}

fn mangle_aux(m: &Model, rec: u64, aux: &mut [u64; 16], v: u8) {
    let k = (v as usize / 8) % REC_AUX_COUNT as usize;
    if v < 176 {
        return;
    }
    aux[k] = match v % 8 {
        0 => aux[(k + 1) % REC_AUX_COUNT as usize],
        1 => rec,
        2 => aux[k] + 0x800,
        3 => SRC,
        4 => RD,
        5 => [Gran::Rec, Gran::RecAux, Gran::Data, Gran::Rtt].into_iter().find_map(|g| nth_in(m, g, v as usize)).unwrap_or(RTT),
        6 => MMIO,
        _ => DRAM_END,
    };
}

fn encode(call: &Call) -> (u64, Vec<u64>) {
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

fn model_state(s: GranuleState) -> Gran {
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

/// One input's run: the Host, the model, and the calls made so far (for failure messages).
struct Case<'w, 'a> {
    w: &'w World<'a>,
    m: Model,
    trace: Vec<String>,
}

impl Case<'_, '_> {
    fn fail(&self, what: String) -> ! {
        let recent = self.trace.len().saturating_sub(60);
        panic!(
            "Warden and the reference model disagree: {what}\n--- the last calls ({} in all) ---\n{}",
            self.trace.len(),
            self.trace[recent..].join("\n")
        );
    }

    /// Runs `call` on both and compares X0–X4.
    fn exec(&mut self, call: Call) -> [u64; 5] {
        if let Call::RecCreate(_, _, params, p) = call {
            let page = params & !(GRANULE - 1);
            if self.m.gran(page) == Some(Gran::Undelegated) {
                let mut raw = RmiRecParams::new_zeroed();
                raw.flags = p.flags;
                raw.mpidr = p.mpidr;
                raw.pc = 0x1000;
                raw.num_aux = p.num_aux;
                raw.aux = p.aux;
                self.w.write(page, raw.as_bytes());
            }
        }
        let expect = self.m.apply(&call);
        let (fid, args) = encode(&call);
        let got = self.w.call(fid, &args);
        self.trace.push(format!("{call:x?} -> {got:x?}"));
        for e in &self.m.events {
            self.w.note("event", *e);
        }
        if got != expect {
            self.fail(format!("{call:#x?}\n  Warden returned {got:#x?}\n  the model expects {expect:#x?}"));
        }
        got
    }

    /// Every granule's state, and READ_ENTRY of every page of the set at level 3.
    fn sweep(&mut self) {
        let live = self.w.live_granules();
        for &(pa, s) in &live {
            if self.m.gran(pa) != Some(model_state(s)) {
                self.fail(format!("granule {pa:#x}: Warden {s:?}, model {:?}", self.m.gran(pa)));
            }
        }
        if live.len() != self.m.granules.len() {
            let mine: Vec<u64> = live.iter().map(|(p, _)| *p).collect();
            let theirs: Vec<&u64> = self.m.granules.keys().filter(|p| !mine.contains(p)).collect();
            self.fail(format!("granules the model holds but Warden has UNDELEGATED: {theirs:x?}"));
        }
        for ipa in P_PAGES.into_iter().chain(U_PAGES) {
            let expect = self.m.expect_read(ipa, 3);
            let got = self.w.call(rmi::RTT_READ_ENTRY, &[RD, ipa, 3]);
            if got != expect {
                self.fail(format!("READ_ENTRY({ipa:#x}, 3): Warden {got:#x?}, model {expect:#x?}"));
            }
        }
    }

    fn full_compare(&mut self) {
        for (ipa, level, _) in self.m.all_entries() {
            let expect = self.m.expect_read(ipa, level);
            let got = self.w.raw(rmi::RTT_READ_ENTRY, &[RD, ipa, level as u64]);
            if got != expect {
                self.fail(format!("final READ_ENTRY({ipa:#x}, {level}): Warden {got:#x?}, model {expect:#x?}"));
            }
        }
    }

    /// A DELEGATED pool granule (delegating one if needed).
    fn delegated_granule(&mut self) -> Option<u64> {
        let pool: Vec<u64> = (0..POOL_LEN).map(pool).collect();
        if let Some(&pa) = pool.iter().find(|&&p| self.m.gran(p) == Some(Gran::Delegated)) {
            return Some(pa);
        }
        let pa = *pool.iter().find(|&&p| self.m.gran(p) == Some(Gran::Undelegated))?;
        self.exec(Call::Delegate(pa));
        Some(pa)
    }

    fn delegated_arg(&mut self, s: Gsel) -> u64 {
        if s.pick < 200 && !(0..POOL_LEN).any(|i| self.m.gran(pool(i)) == Some(Gran::Delegated)) {
            self.delegated_granule();
        }
        gran_arg(&self.m, s, Gran::Delegated)
    }

    fn delegated_granules(&mut self, n: usize, not: u64) -> Vec<u64> {
        let mut v: Vec<u64> =
            (0..POOL_LEN).map(pool).filter(|&p| p != not && self.m.gran(p) == Some(Gran::Delegated)).take(n).collect();
        while v.len() < n {
            let Some(pa) = (0..POOL_LEN).map(pool).find(|&p| self.m.gran(p) == Some(Gran::Undelegated)) else { break };
            self.exec(Call::Delegate(pa));
            v.push(pa);
        }
        v
    }

    fn rec_create_valid(&mut self, flags: u64) -> Option<u64> {
        let rec = self.delegated_granule()?;
        let got = self.delegated_granules(REC_AUX_COUNT as usize, rec);
        if got.len() < REC_AUX_COUNT as usize || self.m.recs.len() as u64 >= MAX_RECS {
            return None;
        }
        let mut aux = [0; 16];
        aux[..got.len()].copy_from_slice(&got);
        let p = RecParams { flags, mpidr: mpidr_of(self.m.rec_index), num_aux: REC_AUX_COUNT, aux };
        let r = self.exec(Call::RecCreate(RD, rec, REC_PARAMS, p));
        (r[0] == 0).then_some(rec)
    }

    fn tables(&mut self, page: u64, target: i64) {
        if self.m.realm.is_none() {
            return;
        }
        for l in 2..=target {
            let ipa = page & !(size(l - 1) - 1);
            if self.m.table(ipa, l).is_some() {
                continue;
            }
            let Some(rtt) = self.delegated_granule() else { return };
            self.exec(Call::RttCreate(RD, rtt, ipa, l as u64));
        }
    }

    /// After a fill: 0 destroy the table; 1 fold then destroy/unmap a page of the block; 2 fold
    /// and unfold; 3 fold.
    fn fold_then(&mut self, block: u64, then: u8) {
        if then.is_multiple_of(4) {
            self.exec(Call::RttDestroy(RD, block, 3));
            return;
        }
        self.exec(Call::RttFold(RD, block, 3));
        match then % 4 {
            1 => {
                let ipa = block + u64::from(then >> 2) * GRANULE;
                self.exec(if block < NS_HALF { Call::DataDestroy(RD, ipa) } else { Call::Unmap(RD, ipa, 3) });
            }
            2 => self.tables(block, 3),
            _ => {}
        }
    }

    fn run(&mut self, op: &Op) {
        match *op {
            Op::Delegate(s) => {
                let pa = gran_arg(&self.m, s, Gran::Undelegated);
                self.exec(Call::Delegate(pa));
            }
            Op::Undelegate(s) => {
                let pa = gran_arg(&self.m, s, Gran::Delegated);
                self.exec(Call::Undelegate(pa));
            }
            Op::RttCreate { rd, rtt, at } => {
                let rtt = self.delegated_arg(rtt);
                let (ipa, level) = create_at(&self.m, at);
                self.exec(Call::RttCreate(rd_arg(rd), rtt, ipa, level));
            }
            Op::RttDestroy { rd, at } => {
                let (ipa, level) = table_at(&self.m, at);
                self.exec(Call::RttDestroy(rd_arg(rd), ipa, level));
            }
            Op::RttFold { rd, at } => {
                let (ipa, level) = table_at(&self.m, at);
                self.exec(Call::RttFold(rd_arg(rd), ipa, level));
            }
            Op::ReadEntry { rd, at } => {
                let (ipa, level) = entry_at(&self.m, at, Pages::All);
                self.exec(Call::ReadEntry(rd_arg(rd), ipa, level));
            }
            Op::InitRipas { rd, base, top } => {
                let base = init_base(&self.m, base);
                self.exec(Call::InitRipas(rd_arg(rd), base, top_arg(base, top)));
            }
            Op::Map { rd, at, desc } => {
                let (ipa, level) = entry_at(&self.m, at, Pages::Unprotected);
                self.exec(Call::Map(rd_arg(rd), ipa, level, desc_arg(ipa, level, desc)));
            }
            Op::Unmap { rd, at } => {
                let (ipa, level) = unmap_at(&self.m, at);
                self.exec(Call::Unmap(rd_arg(rd), ipa, level));
            }
            Op::DataCreate { rd, data, at, src, flags } => {
                let data = self.delegated_arg(data);
                let ipa = data_ipa(&self.m, at, unassigned_page);
                self.exec(Call::DataCreate(rd_arg(rd), data, ipa, src_arg(src), flags_arg(flags)));
            }
            Op::DataCreateUnknown { rd, data, at } => {
                let data = self.delegated_arg(data);
                let ipa = data_ipa(&self.m, at, unassigned_page);
                self.exec(Call::DataCreateUnknown(rd_arg(rd), data, ipa));
            }
            Op::DataDestroy { rd, at } => {
                let ipa = data_ipa(&self.m, at, assigned_page);
                self.exec(Call::DataDestroy(rd_arg(rd), ipa));
            }
            Op::Activate { rd } => {
                self.exec(Call::Activate(rd_arg(rd)));
            }
            Op::RealmDestroy { rd, prep } => {
                if prep {
                    for rec in self.m.recs.keys().copied().collect::<Vec<_>>() {
                        self.exec(Call::RecDestroy(rec));
                    }
                }
                self.exec(Call::RealmDestroy(rd_arg(rd)));
                if self.m.realm.is_none() {
                    self.w.write(PARAMS, params(RTT, 1).encode().as_bytes());
                    self.exec(Call::RealmCreate(RD, PARAMS));
                }
            }
            Op::RecCreate { rd, rec, params, mpidr, num_aux, aux, flags } => {
                let rec = self.delegated_arg(rec);
                let got = self.delegated_granules(REC_AUX_COUNT as usize, rec);
                let mut list = [0; 16];
                list[..got.len()].copy_from_slice(&got);
                // Entries past num_aux are not looked at: junk there.
                list[REC_AUX_COUNT as usize] = rec;
                list[15] = MMIO + 0x800;
                mangle_aux(&self.m, rec, &mut list, aux);
                let p = RecParams {
                    flags: [0, 1, 1, 1 | (u64::from(flags) << 4)][flags as usize % 4],
                    mpidr: mpidr_arg(&self.m, mpidr),
                    num_aux: num_aux_arg(num_aux),
                    aux: list,
                };
                self.exec(Call::RecCreate(rd_arg(rd), rec, rec_params_arg(&self.m, params), p));
            }
            Op::RecDestroy(s) => {
                let rec = if s.pick < 220 {
                    nth_in(&self.m, Gran::Rec, s.idx as usize).unwrap_or(pool(u64::from(s.idx)))
                } else {
                    gran_arg(&self.m, s, Gran::Rec)
                };
                self.exec(Call::RecDestroy(rec));
            }
            Op::RecAuxCount { rd } => {
                self.exec(Call::RecAuxCount(rd_arg(rd)));
            }
            Op::RecCycle { n } => {
                for i in 0..=(n % 20) {
                    match self.rec_create_valid(u64::from(i & 1)) {
                        Some(rec) => {
                            self.exec(Call::RecDestroy(rec));
                        }
                        None => break,
                    }
                }
            }
            Op::Tables { page, depth } => {
                let pages: Vec<u64> = P_PAGES.into_iter().chain(U_PAGES).collect();
                let page = pages[page as usize % pages.len()];
                self.tables(page, if depth.is_multiple_of(2) { 2 } else { 3 });
                if depth % 4 == 3 && self.m.realm.is_some() {
                    self.exec(Call::RttFold(RD, page & !(MIB2 - 1), 3));
                }
            }
            Op::FillBlock { block, kind, then } => {
                let b = P_BLOCKS[block as usize % P_BLOCKS.len()];
                self.tables(b, 3);
                // 0: DATA_CREATE_UNKNOWN, 1: DATA_CREATE, 2: RTT_INIT_RIPAS then DATA_CREATE_UNKNOWN.
                let kind = kind % 3;
                if kind == 2 {
                    self.exec(Call::InitRipas(RD, b, b + MIB2));
                }
                for i in 0..512 {
                    let pa = BLOCK + i * GRANULE;
                    if self.m.gran(pa) == Some(Gran::Undelegated) {
                        self.exec(Call::Delegate(pa));
                    }
                    let ipa = b + i * GRANULE;
                    let call = if kind == 1 { Call::DataCreate(RD, pa, ipa, SRC, 0) } else { Call::DataCreateUnknown(RD, pa, ipa) };
                    self.exec(call);
                }
                self.fold_then(b, then);
            }
            Op::FillNs { block, attr, then } => {
                let b = U_BLOCKS[block as usize % U_BLOCKS.len()];
                self.tables(b, 3);
                let attrs = ATTRS[attr as usize % 3];
                // Sometimes contiguous but not 2 MiB aligned (must not fold).
                let shift = if attr >= 192 { GRANULE } else { 0 };
                for i in 0..512 {
                    let ipa = b + i * GRANULE;
                    self.exec(Call::Map(RD, ipa, 3, (ns_addr(ipa, 3) + shift) | attrs));
                }
                self.fold_then(b, then);
            }
        }
        if let Err(why) = self.w.check_changed(&[]) {
            self.fail(format!("inconsistent state after {op:?}: {why}"));
        }
        self.sweep();
    }
}

/// Runs one input; panics on any disagreement or violation. Returns what it exercised.
pub fn run(data: &[u8]) -> Signature {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return Signature::new() };
    with_world(Shape::Block, |w| {
        w.realm();
        // Granules named by a call are checked after it; the whole table after each operation.
        w.batch.set(true);
        let mut case = Case { w, m: Model::new((DRAM, BLOCK_DRAM_SIZE), RD, RTT), trace: Vec::new() };
        case.sweep();
        for op in &input.ops {
            case.trace.push(format!("-- {op:?}"));
            case.run(op);
        }
        case.full_compare();
        w.check_deep();
        w.sig.take()
    })
}
