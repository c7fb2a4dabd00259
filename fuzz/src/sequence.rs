//! The `rmi_sequence` target: structure-aware RMI command sequences, every result checked against
//! the reference model of the model-based tests ([`crate::spec`], i.e. `tests/model/spec.rs`).
//!
//! Owns the operation vocabulary ([`Op`], derived with `arbitrary`: its variant order and fields
//! are the corpus's format) and this machine's [`Profile`]. The operations are resolved into
//! concrete calls against the model's current state by the model-based tests' operation layer
//! ([`crate::ops`], i.e. `tests/model/ops.rs`) — mostly arguments aimed at what the model holds
//! (the level where a walk stops, a granule in the state the command needs, an entry in the state
//! it needs), sometimes off by a little (misaligned, wrong level, wrong state, not an RD, MMIO,
//! Secure, beyond DRAM) — plus macro operations that build deep states (tables to level 3, a 2 MiB
//! block filled with DATA or ASSIGNED_NS then folded/unfolded/destroyed, REC create/destroy
//! cycles, REALM_DESTROY and re-creation). After every call X0–X4 of Warden and of the model must
//! be equal (and allowed by [`crate::status`]); after every operation every granule's state and
//! READ_ENTRY of every IPA of the set must agree; at the end every entry of every model table is
//! compared and the deep consistency check runs. The single-bank machine matches the model's one
//! range of delegable DRAM. This module must never resolve arguments or drive calls by itself:
//! that belongs in `crate::ops`, where the model-based test runs the same code.

use std::convert::Infallible;

use arbitrary::{Arbitrary, Unstructured};
use zerocopy::IntoBytes;

use crate::Signature;
use crate::harness::{self, BLOCK, BLOCK_DRAM_SIZE, DRAM, GRANULE, MMIO, PARAMS, POOL, REC_PARAMS, RD, ROOT, RTT, SECURE, SRC, Shape, World, params, with_world};
use crate::ops::{At, Case, Harness, PaSel, Profile, RecSel, model_state, nth_in};
use crate::spec::{Call, Gran, Model, NS_HALF, Regs};

/// The end of the block machine's DRAM.
const DRAM_END: u64 = DRAM + BLOCK_DRAM_SIZE;
/// Protected pages: two adjacent 2 MiB blocks of one 1 GiB region, others.
const P_PAGES: [u64; 7] = [0x4020_0000, 0x4020_1000, 0x403F_F000, 0x4040_0000, 0x0, 0x3000, 0x8000_0000];
/// Unprotected pages.
const U_PAGES: [u64; 5] =
    [NS_HALF | 0x20_0000, NS_HALF | 0x20_1000, NS_HALF | 0x3F_F000, NS_HALF | 0x40_0000, NS_HALF | 0x4000_0000];
const P_BLOCKS: [u64; 2] = [0x4020_0000, 0x4040_0000];
const U_BLOCKS: [u64; 2] = [NS_HALF | 0x20_0000, NS_HALF | 0x40_0000];

/// The block machine's profile: more IPA arguments aimed at the model's tree than the model
/// test's profile, and more of the other arguments off.
static PROFILE: Profile = Profile {
    rd: RD,
    rtt: RTT,
    params: PARAMS,
    rec_params: REC_PARAMS,
    src: SRC,
    mmio: MMIO,
    secure: SECURE,
    dram_end: DRAM_END,
    pool_base: POOL,
    pool_len: 48,
    p_pages: &P_PAGES,
    u_pages: &U_PAGES,
    u_blocks: &U_BLOCKS,
    // Mostly 2 and 3, sometimes 1, 0 and invalid ones.
    levels: &[3, 3, 3, 2, 2, 1, 0, 4, -1, 3],
    aim_below: 160,
    mangle_cuts: [215, 223, 231, 239, 243, 247, 251],
    rd_cut: 240,
    rd_odd: &[RD + 0x10, RTT, POOL, MMIO, RD + GRANULE, ROOT, SRC, DRAM_END],
    pick_cuts: [200, 230],
    odd_nth: true,
    wrong_data_reachable: false,
    aux_tail_alias: false,
    src_arg,
    rec_params_arg,
};

// The shared selectors, decoded as `#[derive(Arbitrary)]` would (one byte per field, in order):
// the corpus's format.
impl<'a> Arbitrary<'a> for At {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(At { page: u.arbitrary()?, level: u.arbitrary()?, mangle: u.arbitrary()? })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (3, Some(3))
    }
}

impl<'a> Arbitrary<'a> for PaSel {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(PaSel { pick: u.arbitrary()?, idx: u.arbitrary()? })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (2, Some(2))
    }
}

/// One abstract operation (`rd`: mostly the RD, sometimes an address that is not one).
#[derive(Arbitrary, Debug, Clone)]
#[allow(missing_docs)] // the variants' fields are selectors, resolved by `Case::run`
pub enum Op {
    /// GRANULE_DELEGATE.
    Delegate(PaSel),
    /// GRANULE_UNDELEGATE.
    Undelegate(PaSel),
    /// RTT_CREATE.
    RttCreate { rd: u8, rtt: PaSel, at: At },
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
    DataCreate { rd: u8, data: PaSel, at: At, src: u8, flags: u8 },
    /// DATA_CREATE_UNKNOWN.
    DataCreateUnknown { rd: u8, data: PaSel, at: At },
    /// DATA_DESTROY.
    DataDestroy { rd: u8, at: At },
    /// REALM_ACTIVATE.
    Activate { rd: u8 },
    /// REALM_DESTROY (`prep`: after REC_DESTROY of every REC); on success REALM_CREATE again.
    RealmDestroy { rd: u8, prep: bool },
    /// REC_CREATE; each selector mostly picks the valid value.
    RecCreate { rd: u8, rec: PaSel, params: u8, mpidr: u8, num_aux: u8, aux: u8, flags: u8 },
    /// REC_DESTROY (mostly of a REC of the Realm).
    RecDestroy(PaSel),
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
        let mut fills = 0;
        // At most two block fills (each is over a thousand calls).
        let ops = harness::items(u, 48, |op: &mut Op| {
            if !matches!(op, Op::FillBlock { .. } | Op::FillNs { .. }) {
                return true;
            }
            fills += 1;
            fills <= 2
        })?;
        Ok(Input { ops })
    }
}

/// DATA_CREATE's source: mostly SRC, sometimes not an NS page.
fn src_arg(v: u8) -> u64 {
    if v < 220 { SRC } else { [SRC + 8, MMIO, SECURE, ROOT, RD, PROFILE.pool(u64::from(v)), DRAM_END][v as usize % 7] }
}

/// Where REC_CREATE's parameters are: mostly REC_PARAMS, sometimes misaligned, delegated, or not
/// memory the Host owns.
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

/// The fuzz target's side of an input's run: the Host, and the calls made so far (for failure
/// messages).
struct Fuzzer<'w, 'a> {
    w: &'w World<'a>,
    trace: Vec<String>,
}

impl Harness for Fuzzer<'_, '_> {
    /// Disagreements panic ([`Fuzzer::disagree`]).
    type Error = Infallible;

    fn write(&mut self, pa: u64, bytes: &[u8]) {
        self.w.write(pa, bytes);
    }

    fn write_params(&mut self) {
        self.w.write(PARAMS, params(RTT, 1).encode().as_bytes());
    }

    /// Checked against the spec's table and the machine's state ([`World::call`]).
    fn call(&mut self, fid: u64, args: &[u64]) -> Regs {
        self.w.call(fid, args)
    }

    /// Unchecked ([`World::raw`]): the final comparison reads every entry of every table.
    fn call_unchecked(&mut self, fid: u64, args: &[u64]) -> Regs {
        self.w.raw(fid, args)
    }

    fn record(&mut self, call: &Call, _expect: &Regs, got: &Regs, events: &[&'static str]) {
        self.trace.push(format!("{call:x?} -> {got:x?}"));
        for e in events {
            self.w.note("event", *e);
        }
    }

    fn fail(&self, what: String) -> Infallible {
        self.disagree(what)
    }
}

impl Fuzzer<'_, '_> {
    fn disagree(&self, what: String) -> ! {
        let recent = self.trace.len().saturating_sub(60);
        panic!(
            "Warden and the reference model disagree: {what}\n--- the last calls ({} in all) ---\n{}",
            self.trace.len(),
            self.trace[recent..].join("\n")
        );
    }
}

impl Case<Fuzzer<'_, '_>> {
    /// Every granule's state, and READ_ENTRY of every page of the set at level 3.
    fn sweep(&mut self) -> Result<(), Infallible> {
        let live = self.host.w.live_granules();
        for &(pa, s) in &live {
            if self.m.gran(pa) != Some(model_state(s)) {
                self.host.disagree(format!("granule {pa:#x}: Warden {s:?}, model {:?}", self.m.gran(pa)));
            }
        }
        if live.len() != self.m.granules.len() {
            let mine: Vec<u64> = live.iter().map(|(p, _)| *p).collect();
            let theirs: Vec<&u64> = self.m.granules.keys().filter(|p| !mine.contains(p)).collect();
            self.host.disagree(format!("granules the model holds but Warden has UNDELEGATED: {theirs:x?}"));
        }
        self.compare_pages()
    }

    fn run(&mut self, op: &Op) -> Result<(), Infallible> {
        match *op {
            Op::Delegate(s) => self.delegate(s)?,
            Op::Undelegate(s) => self.undelegate(s)?,
            Op::RttCreate { rd, rtt, at } => self.rtt_create(rd, rtt, at)?,
            Op::RttDestroy { rd, at } => self.rtt_destroy(rd, at)?,
            Op::RttFold { rd, at } => self.rtt_fold(rd, at)?,
            Op::ReadEntry { rd, at } => self.read_entry(rd, at)?,
            Op::InitRipas { rd, base, top } => self.init_ripas(rd, base, top)?,
            Op::Map { rd, at, desc } => self.map(rd, at, desc)?,
            Op::Unmap { rd, at } => self.unmap(rd, at)?,
            Op::DataCreate { rd, data, at, src, flags } => self.data_create(rd, data, at, src, flags)?,
            Op::DataCreateUnknown { rd, data, at } => self.data_create_unknown(rd, data, at)?,
            Op::DataDestroy { rd, at } => self.data_destroy(rd, at)?,
            Op::Activate { rd } => self.activate(rd)?,
            Op::RealmDestroy { rd, prep } => self.realm_destroy(rd, prep)?,
            Op::RecCreate { rd, rec, params, mpidr, num_aux, aux, flags } => {
                self.rec_create(rd, rec, RecSel { params, mpidr, num_aux, aux, flags })?
            }
            Op::RecDestroy(s) => {
                let rec = if s.pick < 220 {
                    nth_in(&self.m, Gran::Rec, s.idx as usize).unwrap_or(PROFILE.pool(u64::from(s.idx)))
                } else {
                    PROFILE.gran_arg(&self.m, s, Gran::Rec)
                };
                self.exec(Call::RecDestroy(rec))?;
            }
            Op::RecAuxCount { rd } => self.rec_aux_count(rd)?,
            Op::RecCycle { n } => self.rec_cycle(n % 20)?,
            Op::Tables { page, depth } => {
                self.build_tables(page, if depth.is_multiple_of(2) { 2 } else { 3 }, depth % 4 == 3)?
            }
            Op::FillBlock { block, kind, then } => {
                // 0: DATA_CREATE_UNKNOWN, 1: DATA_CREATE, 2: RTT_INIT_RIPAS then DATA_CREATE_UNKNOWN.
                let b = P_BLOCKS[block as usize % P_BLOCKS.len()];
                self.fill_data(b, BLOCK, kind % 3)?;
                self.fold_then(b, then)?;
            }
            Op::FillNs { block, attr, then } => self.fill_ns(block, attr, then)?,
        }
        if let Err(why) = self.host.w.check_changed(&[]) {
            self.host.disagree(format!("inconsistent state after {op:?}: {why}"));
        }
        self.sweep()
    }
}

/// Runs one input; panics on any disagreement or violation. Returns what it exercised.
pub fn run(data: &[u8]) -> Signature {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return Signature::new() };
    with_world(Shape::Block, |w| {
        w.realm();
        // Granules named by a call are checked after it; the whole table after each operation.
        w.batch.set(true);
        let host = Fuzzer { w, trace: Vec::new() };
        let mut case = Case { host, m: Model::new((DRAM, BLOCK_DRAM_SIZE), RD, RTT), p: &PROFILE };
        let Ok(()) = case.sweep();
        for op in &input.ops {
            case.host.trace.push(format!("-- {op:?}"));
            let Ok(()) = case.run(op);
        }
        let Ok(()) = case.full_compare();
        w.check_deep();
        w.sig.take()
    })
}
