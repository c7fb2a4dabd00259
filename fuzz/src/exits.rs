//! The `rec_exit` target: arbitrary `RmiRecEnter` contents and arbitrary Realm exits.
//!
//! Owns the Realm's vocabulary ([`Step`]: an SMC — RSI, PSCI, SMCCC or any FID, and well-formed
//! IPA_STATE_SET, CPU_ON, AFFINITY_INFO and HOST_CALL requests —, HVC, data and
//! instruction aborts at chosen IPAs with arbitrary syndromes, system register traps, WFx, raw
//! synchronous exceptions with any EC/ISS/FAR/HPFAR, IRQ, FIQ, SError), played through
//! `HostMachine::script` on an ACTIVE Realm whose IPA space holds every kind of entry (ASSIGNED RAM,
//! UNASSIGNED RAM/EMPTY/DESTROYED, UNASSIGNED_NS, ASSIGNED_NS, out of range), and the Host's side
//! (REC_ENTER with any `RmiRecEnter`, PSCI_COMPLETE, RTT_SET_RIPAS, a few RTT/DATA commands).
//!
//! Checked on every REC_ENTER, besides the status table and state consistency: the `RmiRecExit`
//! carries only what DEN0137 allows for its exit reason (§4.3 "all exit fields not set for a given
//! exit reason are zero", §8.2/§8.3 sanitised ESR, page-offset-only FAR for emulatable aborts, no
//! Realm GPR outside the permitted ones). Every script ends in an IRQ, so a Realm can never run past
//! its script: an entry that does not return is a hang in Warden.

use arbitrary::{Arbitrary, Unstructured};
use warden::platform::RealmTrap;
use warden::rec::context::RecContext;
use warden_abi::addr::Pa;
use warden_abi::fid::{RsiCommand, SMCCC_SVE_HINT, psci, rmi, smccc};
use warden_abi::rec_run::{RmiRecEnter, RmiRecExit, RmiRecExitReason};
use zerocopy::{FromZeros, IntoBytes};

use crate::Signature;
use crate::harness::{Shape, self, GRANULE, IPA, MMIO, NS_IPA, RD, RUN, SECURE, World, with_world};

const IL: u64 = 1 << 25;
const EC_SHIFT: u32 = 26;
/// ESR bits a Host may see for an abort it cannot emulate (§8.3): EC, IL, SET, FnV, EA, xFSC.
const NON_EMULATABLE: u64 = (0x3F << EC_SHIFT) | IL | (0b11 << 11) | (1 << 10) | (1 << 9) | 0x3F;
/// ... and for an emulatable one: also ISV, SAS, SF, WnR (never SSE, SRT).
const EMULATABLE: u64 = NON_EMULATABLE | (1 << 24) | (0b11 << 22) | (1 << 15) | (1 << 6);
/// SError syndrome bits a Host may see (§8.2): EC, IDS, AET, EA, DFSC.
const SERROR: u64 = (0x3F << EC_SHIFT) | (1 << 24) | (0b111 << 10) | (1 << 9) | 0x3F;

/// A Realm-side value: one of a few that reach interesting paths, or any.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Value {
    /// One of [`VALUES`].
    Pick(u8),
    /// Any.
    Raw(u64),
}

/// Values a Realm passes often: IPAs of each kind of entry, MPIDRs, RIPAS values, sizes.
pub const VALUES: [u64; 24] = [
    IPA,
    IPA + GRANULE,
    IPA + 2 * GRANULE,
    IPA + 4 * GRANULE,
    IPA + 6 * GRANULE,
    NS_IPA,
    NS_IPA + GRANULE,
    0,
    1,
    2,
    0x100,
    64,
    IPA + 0x20_0000,
    1 << 39,
    1 << 40,
    (1 << 39) - GRANULE,
    IPA + 0x800,
    IPA + 0x10,
    u64::MAX,
    0x4000_0000,
    IPA & !0x1F_FFFF,
    IPA + 0x100,
    0x1_0000,
    0x8000_0000,
];

impl Value {
    fn get(self) -> u64 {
        match self {
            Value::Pick(i) => VALUES[i as usize % VALUES.len()],
            Value::Raw(v) => v,
        }
    }
}

/// The function an SMC names.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum SmcFid {
    /// An RSI command (index into `RsiCommand::ALL`), maybe with the SVE hint.
    Rsi(u8, bool),
    /// A PSCI function (SMC32/SMC64 fnum 0x00–0x14).
    Psci(u8, bool),
    /// SMCCC_VERSION or SMCCC_ARCH_FEATURES.
    Smccc(bool),
    /// Any FID.
    Raw(u64),
}

impl SmcFid {
    fn get(self) -> u64 {
        match self {
            SmcFid::Rsi(i, sve) => {
                RsiCommand::ALL[i as usize % RsiCommand::ALL.len()].fid() | if sve { SMCCC_SVE_HINT } else { 0 }
            }
            SmcFid::Psci(n, smc64) => (if smc64 { psci::FID_MIN_64 } else { psci::FID_MIN_32 }) + u64::from(n % 0x15),
            SmcFid::Smccc(features) => if features { smccc::ARCH_FEATURES } else { smccc::VERSION },
            SmcFid::Raw(f) => f,
        }
    }
}

/// Fault status codes a Realm abort may report: translation, access flag, permission faults at
/// each level, synchronous external aborts (plain and on a walk), or any 6-bit value.
const FSC: [u8; 12] = [0x04, 0x05, 0x06, 0x07, 0x0B, 0x0F, 0x0D, 0x10, 0x14, 0x17, 0x21, 0x3F];

/// One thing the Realm does before it traps to EL2.
#[derive(Arbitrary, Debug, Clone)]
pub enum Step {
    /// SMC with X0 = fid, X1–X6 = args.
    Smc {
        /// X0.
        fid: SmcFid,
        /// X1–X6.
        args: [Value; 6],
    },
    /// HVC (immediate).
    Hvc(u16),
    /// A data abort at `ipa` (HPFAR) from virtual address `va` (FAR), with the given syndrome.
    DataAbort {
        /// The faulting IPA.
        ipa: Value,
        /// FAR_EL2.
        va: u64,
        /// ISS bits 24:6 raw (ISV, SAS, SSE, SRT, SF, AR, VNCR, SET, FnV, EA, CM, S1PTW, WnR).
        iss: u32,
        /// Index into the fault status codes (or the raw low 6 bits).
        fsc: u8,
    },
    /// An instruction abort at `ipa`.
    InstrAbort {
        /// The faulting IPA.
        ipa: Value,
        /// Fault status code selector.
        fsc: u8,
    },
    /// An MSR/MRS trap: ISS raw, with `value` in the register it names.
    Sysreg {
        /// ISS (24:0).
        iss: u32,
        /// The value of Rt.
        value: u64,
    },
    /// WFI/WFE/WFIT/WFET (`ti`: ISS.TI).
    Wfx(u8),
    /// Any synchronous exception.
    RawSync {
        /// EC.
        ec: u8,
        /// ISS (24:0) and IL.
        iss: u32,
        /// FAR_EL2.
        far: u64,
        /// HPFAR_EL2.
        hpfar: u64,
    },
    /// A physical IRQ.
    Irq,
    /// A physical FIQ.
    Fiq,
    /// An SError with this ESR.
    SError(u64),
    /// A well-formed RSI_IPA_STATE_SET: `pages` granules from a protected IPA of [`VALUES`] to
    /// RIPAS `ripas` (0 EMPTY, 1 RAM, else invalid), with `flags` (bit 0: CHANGE_DESTROYED).
    IpaStateSet {
        /// Base selector.
        base: u8,
        /// Granules.
        pages: u8,
        /// RIPAS.
        ripas: u8,
        /// Flags.
        flags: u8,
    },
    /// PSCI_CPU_ON (SMC64) of REC `target` (MPIDR index) at `entry`.
    CpuOn {
        /// Target REC index.
        target: u8,
        /// Entry point.
        entry: Value,
    },
    /// PSCI_AFFINITY_INFO (SMC64) of REC `target` at affinity level `level`.
    AffinityInfo {
        /// Target REC index.
        target: u8,
        /// Lowest affinity level.
        level: u8,
    },
    /// RSI_HOST_CALL with its `RsiHostCall` at `ipa`.
    HostCall(Value),
    /// Sets a register of the Realm (X`n`, PSTATE, VBAR_EL1, SCTLR_EL1) and then traps as `SMC`
    /// with X0 = `fid`.
    Poke {
        /// Which register: 0–30 X`n`, 31 PSTATE, 32 VBAR_EL1, 33 SCTLR_EL1, 34 the PC.
        reg: u8,
        /// Its new value.
        value: u64,
        /// The SMC's X0.
        fid: SmcFid,
    },
}

fn fsc(sel: u8) -> u64 {
    if sel < 200 { u64::from(FSC[sel as usize % FSC.len()]) } else { u64::from(sel & 0x3F) }
}

fn hpfar(ipa: u64) -> u64 {
    (ipa >> 12) << 4
}

fn smc(ctx: &mut RecContext, fid: u64, args: &[u64]) -> RealmTrap {
    ctx.gprs[0] = fid;
    ctx.gprs[1..=args.len()].copy_from_slice(args);
    RealmTrap::Sync { esr: harness::SMC_ESR, far: 0, hpfar: 0 }
}

impl Step {
    /// What the Realm does, as a script step.
    pub fn play(self, ctx: &mut RecContext) -> RealmTrap {
        let sync = |ec: u64, iss: u64, far: u64, hpfar: u64| RealmTrap::Sync { esr: (ec << EC_SHIFT) | IL | iss, far, hpfar };
        match self {
            Step::Smc { fid, args } => smc(ctx, fid.get(), &args.map(Value::get)),
            Step::Hvc(imm) => sync(0x16, u64::from(imm), 0, 0),
            Step::DataAbort { ipa, va, iss, fsc: f } => {
                let ipa = ipa.get();
                let iss = (u64::from(iss) & 0x1FF_FFC0) | fsc(f);
                // The register a write stores from holds something recognisable.
                let srt = ((iss >> 16) & 0x1F) as usize;
                if srt < 31 {
                    ctx.gprs[srt] = 0x5EC2_E700_0000_0000 | srt as u64;
                }
                sync(0x24, iss, va, hpfar(ipa))
            }
            Step::InstrAbort { ipa, fsc: f } => {
                let ipa = ipa.get();
                sync(0x20, fsc(f), ipa, hpfar(ipa))
            }
            Step::Sysreg { iss, value } => {
                let iss = u64::from(iss) & 0x1FF_FFFF;
                let rt = ((iss >> 5) & 0x1F) as usize;
                if rt < 31 {
                    ctx.gprs[rt] = value;
                }
                sync(0x18, iss, 0, 0)
            }
            Step::Wfx(ti) => sync(0x01, u64::from(ti & 3), 0, 0),
            Step::RawSync { ec, iss, far, hpfar } => RealmTrap::Sync {
                esr: (u64::from(ec & 0x3F) << EC_SHIFT) | (u64::from(iss) & 0x3FF_FFFF),
                far,
                hpfar,
            },
            Step::Irq => RealmTrap::Irq,
            Step::Fiq => RealmTrap::Fiq,
            Step::SError(esr) => RealmTrap::SError { esr },
            Step::IpaStateSet { base, pages, ripas, flags } => {
                let base = [IPA, IPA + GRANULE, IPA + 2 * GRANULE, IPA + 4 * GRANULE, IPA + 6 * GRANULE, IPA + 0x20_0000][base as usize % 6];
                let top = base + (u64::from(pages % 16) + 1) * GRANULE;
                smc(ctx, RsiCommand::IpaStateSet.fid(), &[base, top, u64::from(ripas % 3), u64::from(flags & 1)])
            }
            Step::CpuOn { target, entry } => smc(ctx, psci::CPU_ON_64, &[u64::from(target % 3), entry.get(), 0x1234]),
            Step::AffinityInfo { target, level } => {
                smc(ctx, psci::AFFINITY_INFO_64, &[u64::from(target % 3), u64::from(level % 2)])
            }
            Step::HostCall(ipa) => smc(ctx, RsiCommand::HostCall.fid(), &[ipa.get()]),
            Step::Poke { reg, value, fid } => {
                match reg % 35 {
                    r @ 0..=30 => ctx.gprs[r as usize] = value,
                    31 => ctx.pstate = value,
                    32 => ctx.el1.vbar = value,
                    33 => ctx.el1.sctlr = value,
                    _ => ctx.pc = value,
                }
                ctx.gprs[0] = fid.get();
                RealmTrap::Sync { esr: harness::SMC_ESR, far: 0, hpfar: 0 }
            }
        }
    }
}

/// Queues `steps` for the REC at `rec`, then an IRQ so that the entry always ends.
pub fn script(w: &World<'_>, rec: u64, steps: &[Step]) {
    for s in steps.iter().cloned() {
        w.m.script(Pa(rec), move |ctx, _| s.play(ctx));
    }
    w.script_irq(rec);
}

/// Where REC_ENTER's `run_ptr` points.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum RunSel {
    /// The Host's run granule.
    Run,
    /// Another NS granule.
    OtherNs,
    /// Misaligned, Realm PAS, Secure, MMIO or beyond DRAM.
    Bad(u8),
}

/// The Host's `RmiRecEnter`.
#[derive(Arbitrary, Debug, Clone)]
pub struct Enter {
    /// `flags`: mostly the five defined bits, sometimes any value.
    pub flags: Result<u8, u64>,
    /// `gprs[0..4]` (the rest zero).
    pub gprs: [u64; 4],
    /// `gicv3_hcr`: mostly host-controllable bits, sometimes any.
    pub hcr: Result<u16, u64>,
    /// `gicv3_lrs[0..4]`.
    pub lrs: [u64; 4],
}

impl Enter {
    /// The `RmiRecEnter` the Host writes into its `RmiRecRun` (`rec_exit`'s REC_ENTER, `rmi_fid`'s
    /// NS page).
    pub fn bytes(&self) -> RmiRecEnter {
        let mut r = RmiRecEnter::new_zeroed();
        r.flags = match self.flags {
            Ok(small) => u64::from(small & 0x1F),
            Err(raw) => raw,
        };
        r.gprs[..4].copy_from_slice(&self.gprs);
        r.gicv3_hcr = match self.hcr {
            Ok(bits) => u64::from(bits) & warden_abi::rec_run::GICV3_HCR_HOST_MASK,
            Err(raw) => raw,
        };
        r.gicv3_lrs[..4].copy_from_slice(&self.lrs);
        r
    }
}

/// One thing the Host does.
#[derive(Arbitrary, Debug, Clone)]
pub enum Action {
    /// REC_ENTER of REC `rec` (0/1, or a bad address) after scripting `steps`.
    Enter {
        /// Which REC (0, 1; ≥ 2: not a REC).
        rec: u8,
        /// `run_ptr`.
        run: RunSel,
        /// The `RmiRecEnter`.
        enter: Enter,
        /// What the Realm does (then an IRQ).
        steps: Vec<Step>,
    },
    /// PSCI_COMPLETE(calling, target, status).
    PsciComplete {
        /// Calling REC selector.
        calling: u8,
        /// Target REC selector.
        target: u8,
        /// PSCI status selector (or raw).
        status: Result<u8, u64>,
    },
    /// RTT_SET_RIPAS(rd, rec, base, top): from the last RIPAS_CHANGE exit, or any.
    SetRipas {
        /// REC selector.
        rec: u8,
        /// Use the last exit's range.
        from_exit: bool,
        /// Base (if not from the exit).
        base: Value,
        /// Top (if not from the exit, or a cut-off).
        top: Value,
    },
    /// A Host command that changes what the Realm's IPAs hold.
    Host {
        /// Which: DATA_DESTROY, DATA_CREATE_UNKNOWN, RTT_UNMAP_UNPROTECTED, RTT_MAP_UNPROTECTED,
        /// RTT_READ_ENTRY, REC_DESTROY.
        cmd: u8,
        /// The IPA.
        ipa: Value,
    },
    /// Scripts the answers of the next `irq_pending` polls (attestation signing yields on them).
    Irqs(u8),
}

/// The input of `rec_exit`.
#[derive(Debug)]
pub struct Input {
    /// What the Host does, in order (at most 24 actions).
    pub actions: Vec<Action>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let actions = harness::items(u, 24, |a: &mut Action| {
            if let Action::Enter { steps, .. } = a {
                steps.truncate(6);
            }
            true
        })?;
        Ok(Input { actions })
    }
}

/// PSCI return codes a Host may complete with (and a few it may not).
const PSCI_STATUS: [u64; 6] = [0, (-2i64) as u64, (-4i64) as u64, (-9i64) as u64, (-1i64) as u64, 1];

fn rec_sel(recs: &[u64], sel: u8) -> u64 {
    match sel {
        0..=199 => recs[sel as usize % recs.len()],
        200..=219 => RD,
        220..=239 => recs[0] + 0x800,
        _ => MMIO,
    }
}

fn run_ptr(w: &World<'_>, other_ns: u64, run: RunSel) -> u64 {
    match run {
        RunSel::Run => RUN,
        RunSel::OtherNs => other_ns,
        RunSel::Bad(b) => match b % 6 {
            0 => RUN + 8,
            1 => RD,
            2 => SECURE,
            3 => MMIO,
            4 => harness::DRAM + harness::DRAM_SIZE,
            _ => w.nth_in(warden::granule::GranuleState::Data, b as usize).unwrap_or(RD),
        },
    }
}

/// Checks an `RmiRecExit` of a successful REC_ENTER against what §4.3/§8 allow for its reason.
pub fn check_exit(e: &RmiRecExit) -> Result<RmiRecExitReason, String> {
    let reason = RmiRecExitReason::from_raw(e.exit_reason).ok_or_else(|| format!("exit_reason {:#x}", e.exit_reason))?;
    use RmiRecExitReason::*;
    let fail = |what: &str| Err(format!("{reason:?} exit: {what}"));
    if e.imm > 0xFFFF || (e.imm != 0 && reason != HostCall) {
        return fail(&format!("imm = {:#x}", e.imm));
    }
    if e.pmu_ovf_status > 1 {
        return fail(&format!("pmu_ovf_status = {:#x}", e.pmu_ovf_status));
    }
    let ripas = [e.ripas_base, e.ripas_top, e.ripas_value];
    if reason == RipasChange {
        if e.ripas_value > 1 || e.ripas_base >= e.ripas_top || !(e.ripas_base | e.ripas_top).is_multiple_of(GRANULE) {
            return fail(&format!("RIPAS change {ripas:#x?}"));
        }
    } else if ripas != [0; 3] {
        return fail(&format!("ripas fields {ripas:#x?}"));
    }
    let syndrome = [e.esr, e.far, e.hpfar];
    match reason {
        Sync => {
            let ec = e.esr >> EC_SHIFT;
            if ec == 0x24 && e.esr & !EMULATABLE != 0 {
                return fail(&format!("data abort ESR {:#x} shows bits beyond {EMULATABLE:#x}", e.esr));
            }
            if ec == 0x24 && e.esr & (1 << 24) != 0 && e.far & !0xFFF != 0 {
                return fail(&format!("emulatable abort FAR {:#x} beyond the page offset", e.far));
            }
            if (ec == 0x24 && e.esr & (1 << 24) == 0 || ec == 0x20) && e.far != 0 {
                return fail(&format!("non-emulatable abort FAR {:#x}", e.far));
            }
            if ec == 0x20 && e.esr & !NON_EMULATABLE != 0 {
                return fail(&format!("instruction abort ESR {:#x}", e.esr));
            }
        }
        Serror if e.esr & !SERROR != 0 || e.far != 0 || e.hpfar != 0 => {
            return fail(&format!("SError syndrome {syndrome:#x?}"));
        }
        Serror => {}
        _ if syndrome != [0; 3] => return fail(&format!("esr/far/hpfar {syndrome:#x?}")),
        _ => {}
    }
    let gprs_allowed = match reason {
        Sync => 1,
        Psci => 4,
        HostCall => 31,
        Irq | Fiq | Serror | RipasChange => 0,
    };
    if let Some(i) = (gprs_allowed..31).find(|&i| e.gprs[i] != 0) {
        return fail(&format!("gprs[{i}] = {:#x} (the reason allows gprs[0..{gprs_allowed}])", e.gprs[i]));
    }
    Ok(reason)
}

/// Sets up the Realm: ACTIVE, REC 0 runnable and REC 1 not, IPA ASSIGNED RAM, IPA+4K UNASSIGNED
/// EMPTY, IPA+8K…+16K UNASSIGNED RAM, IPA+24K UNASSIGNED DESTROYED, NS_IPA UNASSIGNED_NS,
/// NS_IPA+4K ASSIGNED_NS.
fn setup(w: &World<'_>) -> Vec<u64> {
    w.realm();
    w.tables(IPA);
    w.tables(NS_IPA);
    w.data(IPA);
    w.ok(rmi::RTT_INIT_RIPAS, &[RD, IPA + 2 * GRANULE, IPA + 4 * GRANULE]);
    let d = w.data(IPA + 6 * GRANULE);
    let x = w.ok(rmi::DATA_DESTROY, &[RD, IPA + 6 * GRANULE]);
    assert_eq!(x[1], d);
    w.ok(rmi::RTT_MAP_UNPROTECTED, &[RD, NS_IPA + GRANULE, 3, 0xC000_1000 | (0b110 << 2) | (0b11 << 6)]);
    let recs = vec![w.rec(0, true, harness::PC), w.rec(1, false, harness::PC)];
    w.ok(rmi::REALM_ACTIVATE, &[RD]);
    recs
}

/// Runs one input; panics on any violation. Returns what it exercised.
pub fn run(data: &[u8]) -> Signature {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return Signature::new() };
    with_world(Shape::TwoBanks, |w| {
        let recs = setup(w);
        let other_ns = w.fresh_ns();
        let mut last_exit: Option<RmiRecExit> = None;
        for action in &input.actions {
            match action {
                Action::Enter { rec, run, enter, steps } => {
                    let rec = if *rec < 240 { recs[*rec as usize % 2] } else { rec_sel(&recs, *rec) };
                    let run = run_ptr(w, other_ns, *run);
                    if w.state(rec) == Some(warden::granule::GranuleState::Rec) {
                        script(w, rec, steps);
                    }
                    let e = enter.bytes();
                    let ns = w.m.host_write(Pa(run), e.as_bytes()).is_ok();
                    if ns && run.is_multiple_of(GRANULE) {
                        w.write(run + 0x800, &[0xEE; 0x800]);
                    }
                    let x = w.call(rmi::REC_ENTER, &[rec, run]);
                    if x[0] == 0 {
                        let mut exit = RmiRecExit::new_zeroed();
                        w.m.host_read(Pa(run + 0x800), exit.as_mut_bytes()).expect("run granule is NS");
                        match check_exit(&exit) {
                            Ok(reason) => w.note("exit", format!("{reason:?} EC {:#x}", exit.esr >> EC_SHIFT)),
                            Err(why) => panic!(
                                "REC_ENTER({rec:#x}, {run:#x}) with {enter:x?} and Realm steps {steps:x?}: {why}\n  exit: esr {:#x} far {:#x} hpfar {:#x} gprs {:#x?} ripas {:#x}..{:#x} ({}) imm {:#x}",
                                exit.esr, exit.far, exit.hpfar, exit.gprs, exit.ripas_base, exit.ripas_top, exit.ripas_value, exit.imm
                            ),
                        }
                        last_exit = Some(exit);
                    }
                }
                Action::PsciComplete { calling, target, status } => {
                    let status = match status {
                        Ok(s) => PSCI_STATUS[*s as usize % PSCI_STATUS.len()],
                        Err(raw) => *raw,
                    };
                    // Mostly REC 0 completing a request about REC 1 (the one CPU_ON can name).
                    let calling = if *calling < 160 { recs[0] } else { rec_sel(&recs, *calling) };
                    let target = if *target < 160 { recs[1] } else { rec_sel(&recs, *target) };
                    w.call(rmi::PSCI_COMPLETE, &[calling, target, status]);
                }
                Action::SetRipas { rec, from_exit, base, top } => {
                    let (b, t) = match (&last_exit, from_exit) {
                        (Some(e), true) => (e.ripas_base, e.ripas_top.min(top.get().max(e.ripas_base + GRANULE))),
                        _ => (base.get(), top.get()),
                    };
                    w.call(rmi::RTT_SET_RIPAS, &[RD, rec_sel(&recs, *rec), b, t]);
                }
                Action::Host { cmd, ipa } => {
                    let ipa = ipa.get() & !(GRANULE - 1);
                    match cmd % 6 {
                        0 => {
                            w.call(rmi::DATA_DESTROY, &[RD, ipa]);
                        }
                        1 => {
                            if let Some(d) = w.nth_in(warden::granule::GranuleState::Delegated, 0) {
                                w.call(rmi::DATA_CREATE_UNKNOWN, &[RD, d, ipa]);
                            }
                        }
                        2 => {
                            w.call(rmi::RTT_UNMAP_UNPROTECTED, &[RD, ipa, 3]);
                        }
                        3 => {
                            w.call(rmi::RTT_MAP_UNPROTECTED, &[RD, ipa, 3, 0xC000_0000 | (0b001 << 2) | (0b01 << 6)]);
                        }
                        4 => {
                            w.call(rmi::RTT_READ_ENTRY, &[RD, ipa, 3]);
                        }
                        _ => {
                            w.call(rmi::REC_DESTROY, &[recs[usize::from(*cmd) % 2]]);
                        }
                    }
                }
                Action::Irqs(n) => w.m.script_irqs((0..n % 8).map(|i| i % 2 == 0)),
            }
        }
        w.check_deep();
        w.sig.take()
    })
}
