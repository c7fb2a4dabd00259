//! The REC switch: entering a Realm from R-EL2 and coming back, in `global_asm!`, and the Rust that
//! decides which state moves when.
//!
//! # The round trip
//! [`FirmwareMachine::run_realm`](super::FirmwareMachine) calls `warden_rec_run(ctx)`, which pushes
//! Warden's callee-saved registers on its main stack (`SP_EL0`, Warden runs with `SPSel = 0`),
//! switches to `SP_EL2` (the per-CPU exception stack) and parks two words at its top — the
//! `RecContext` pointer and Warden's main stack pointer — then loads the Realm's `SP_EL0`,
//! `ELR_EL2 = pc`, `SPSR_EL2 = pstate` and X0–X30 from the context and `ERET`s. Every exception
//! from the Realm arrives at the lower-EL vectors (`super::exception`) on that `SP_EL2`: the vector
//! stashes X0/X1, stores X0–X30, `ELR_EL2`, `SPSR_EL2` and `SP_EL0` into the context named by the
//! parked pointer, restores Warden's `SP_EL0`, selects it again and returns to the caller of
//! `warden_rec_run` with the exit kind and `ESR_EL2`. All offsets are `offset_of!` operands,
//! checked below.
//!
//! # Which registers move on which path (the register budget)
//! * **Every round trip** (Realm → Warden → Realm): X0–X30, `SP_EL0`, `ELR_EL2`, `SPSR_EL2` (saved
//!   and restored), `ESR_EL2` (read); `FAR_EL2`/`HPFAR_EL2` are read for every synchronous trap but
//!   an `SMC`. That is all an RSI call that Warden answers (RSI_VERSION, IPA_STATE_GET, …) costs:
//!   34 stores + 34 loads + 4 system-register reads + 4 writes, plus 12 callee-saved registers of
//!   Warden's own call frame.
//! * **Synchronous traps other than `SMC`** (aborts, HVC, MSR/MRS, WFx, …) may be answered by
//!   injecting an exception (`rec::inject`), which reads `el1.vbar` and writes
//!   `el1.esr/far/elr/spsr`: those five registers are copied into the context on the trap, and the
//!   four writable ones are written back on the next entry of the same loop (`el1_dirty`). Nothing
//!   else of EL1 moves. An `SMC` (RSI/PSCI) never injects — an RSI error is a return value — so it
//!   pays nothing for this; logic that ever injects on an `SMC` must say so here.
//! * **FP/SIMD** moves lazily: `CPTR_EL2.TFP` traps the Realm's first FP/SIMD instruction of an
//!   entry (EC 0x07, handled here, never seen by logic): the Host's Q0–Q31/FPCR/FPSR go to a
//!   per-CPU area, the Realm's come from the REC's first auxiliary granule
//!   ([`RunConfig::fp_area`], zeroed at REC_CREATE, so a new REC starts with zeroed FP state),
//!   `TFP` is cleared and the instruction re-executes. On the way back to the Host the Realm's state
//!   is saved into the aux granule and the Host's restored, only if the Realm used FP. Warden is
//!   softfloat and never touches FP registers itself, so the Realm's FP state stays live across the
//!   whole loop. SVE (`CPTR_EL2.TZ`, EC 0x19) and SME (`TSM`, EC 0x1D) are not offered to Realms:
//!   their traps inject an Undefined Instruction here. EL3 does not switch FP/SVE registers
//!   between worlds, so the Host's live SVE state (Z0–Z31 above bit 127, P0–P15, FFR), which
//!   loading the Realm's Q registers would destroy, is saved too — at the largest vector length,
//!   with `ZCR_EL2` — unless the RMI call that entered set the SMCCC SVE hint (FID bit 16: no live
//!   SVE state; [`note_rmi_call`]). That is 8.5 KiB each way at 2048-bit vectors, paid only on
//!   the first FP use of an entry.
//! * **Self-hosted debug** moves lazily too: `MDCR_EL2.TDA/TDOSA` trap the Realm's first debug
//!   register access (MSR/MRS with Op0 = 2, handled here); the Host's implemented breakpoint and
//!   watchpoint registers and OS lock state go to a per-CPU area, the Realm's come from its first
//!   aux granule ([`DEBUG_AREA_OFFSET`]), the traps are cleared and the access re-executes. A
//!   Realm whose `MDSCR_EL1` enables debug exceptions (MDE, KDE, SS) gets its debug state loaded
//!   eagerly on entry, so the Host's breakpoints never fire in it. Back to the Host only if moved.
//! * **Entering from the Host** (the first `run_realm` of an `RMI_REC_ENTER` on this CPU), on top:
//!   the Host's EL1/EL0 system registers and EL1 timers are saved per CPU and the Realm's loaded
//!   from the context (23 + 4 registers each way, and the 10 PAuth key halves when the CPU has
//!   FEAT_PAuth — then `HCR_EL2.API/APK` let the Realm use its keys untrapped); the GIC virtual interface (`ICH_HCR_EL2` with
//!   `En`, the implemented `ICH_LR<n>_EL2`, `ICH_AP0R/AP1R<n>_EL2`, `ICH_VMCR_EL2`) is loaded;
//!   `HCR_EL2`, `VTTBR_EL2`, `VTCR_EL2`, `VMPIDR_EL2`, `CPTR_EL2`, `CNTHCTL_EL2` and the debug
//!   traps of `MDCR_EL2` are set for the Realm.
//! * **Leaving to the Host** ([`leave_realm`]): the reverse — Realm EL1 registers (but an
//!   exception logic injected on this exit, which the context holds and the hardware not yet),
//!   PAuth keys and timers into the context, the Host's back; debug registers if they moved; GIC state into the context with `ICH_MISR_EL2`, then
//!   `ICH_HCR_EL2 = 0`; FP as above; `HCR_EL2` back to Warden's own value.
//!
//! Which of the two entry paths runs is decided per CPU by [`CpuSwitch::live`]: the REC whose EL1,
//! GIC and timer state is live in this CPU's hardware, set by a full entry and cleared by
//! [`leave_realm`]. A REC runs on one CPU at a time (its RUNNING state), and `leave_realm` always
//! ends an entry's loop, so the state never stays live across a return to the Host.
//!
//! # Timers
//! `CNTVOFF_EL2 = 0` (the Realm's virtual counter is the physical one), and EL1 may use the physical
//! counter and timer (`CNTHCTL_EL2.EL1PCTEN/EL1PCEN`). A Realm timer that was asserted at the last
//! exit (`ENABLE`, `ISTATUS`, not `IMASK`) has its output masked for this entry with FEAT_RME's
//! `CNTHCTL_EL2.CNTVMASK/CNTPMASK`: the Host injects its virtual interrupt, and without the mask the
//! level-sensitive PPI would make the Realm exit with an IRQ for ever. The mask is re-decided on the
//! next entry from the Host, after the Realm has handled the interrupt (a Host injecting a level
//! interrupt sets the LR's EOI maintenance bit, so the Realm's EOI brings it back).

use core::cell::UnsafeCell;
use core::mem::{offset_of, size_of};

use super::layout::MAX_CPUS;
use super::sysreg::{isb, read_sysreg, write_sysreg};
use crate::platform::{RealmTrap, RunConfig};
use crate::rec::context::{El1Sysregs, GicState, RecContext, TimerState};
use crate::rec::inject::{Injected, inject};

/// Exit kinds the lower-EL vectors hand back (x0 of `warden_rec_run`).
pub mod kind {
    /// A synchronous exception.
    pub const SYNC: u64 = 0;
    /// A physical IRQ.
    pub const IRQ: u64 = 1;
    /// A physical FIQ.
    pub const FIQ: u64 = 2;
    /// An SError.
    pub const SERROR: u64 = 3;
}

/// What `warden_rec_run` returns (in x0, x1).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct RunExit {
    kind: u64,
    esr: u64,
}

/// ESR_EL2 exception classes the switch handles itself or looks at.
mod ec {
    /// FP/SIMD access trapped by `CPTR_EL2.TFP`.
    pub const FP: u64 = 0x07;
    /// MSR/MRS/system instruction trapped.
    pub const SYSREG: u64 = 0x18;
    /// SMC from AArch64 (RSI, PSCI).
    pub const SMC64: u64 = 0x17;
    /// SVE access trapped by `CPTR_EL2.TZ`.
    pub const SVE: u64 = 0x19;
    /// SME access trapped by `CPTR_EL2.TSM`.
    pub const SME: u64 = 0x1D;
}

/// `HCR_EL2` while a Realm runs (E2H = 0, TGE = 0): stage 2 on (VM), set/way invalidation as clean
/// (SWIO), stage-1 walks to Device memory fault (PTW), physical FIQ/IRQ/SError to EL2 (FMO, IMO,
/// AMO), broadcast TLB/IC maintenance (FB, a REC may move between CPUs) and inner-shareable
/// barriers (BSU), trapped ID group 3 (TID3, sanitised by Warden), SMC (TSC), IMPDEF registers
/// (TIDCP), ACTLR_EL1 (TACR), AArch64 EL1 (RW), external aborts to EL2 (TEA), and the stage-2
/// memory type forced by the RTTs (FWB: the RTT MemAttr encoding assumes FEAT_S2FWB), and granule
/// protection faults at EL1/EL0 taken to EL2 (GPF, FEAT_RME: a Realm reaching Realm-PAS memory
/// through an unprotected mapping stops in Warden, which injects an SEA and tells the Host, instead
/// of faulting at the Realm's own EL1). PAuth (API, APK) is added at entry when the CPU has it.
pub const HCR_REALM: u64 = (1 << 0)
    | (1 << 1)
    | (1 << 2)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 9)
    | (0b01 << 10)
    | (1 << 18)
    | (1 << 19)
    | (1 << 20)
    | (1 << 21)
    | (1 << 31)
    | (1 << 37)
    | (1 << 46)
    | (1 << 48);
/// `HCR_EL2.APK | API`: the Realm's PAuth key registers and instructions are not trapped.
const HCR_PAUTH: u64 = (1 << 40) | (1 << 41);
/// `HCR_EL2.TWI`.
const HCR_TWI: u64 = 1 << 13;
/// `HCR_EL2.TWE`.
const HCR_TWE: u64 = 1 << 14;

/// `CPTR_EL2` (E2H = 0) RES1 bits: [7:0], 9, 12 (TSM: traps SME when implemented), 13.
const CPTR_RES1: u64 = 0xFF | (1 << 9) | (1 << 12) | (1 << 13);
/// `CPTR_EL2.TZ`: trap SVE.
const CPTR_TZ: u64 = 1 << 8;
/// `CPTR_EL2.TFP`: trap FP/SIMD.
const CPTR_TFP: u64 = 1 << 10;
/// `CPTR_EL2.TTA`: trap trace registers.
const CPTR_TTA: u64 = 1 << 20;
/// `CPTR_EL2.TAM`: trap activity monitors.
const CPTR_TAM: u64 = 1 << 30;
/// `CPTR_EL2` when a Realm is entered: FP trapped until first use, SVE/SME/trace/AMU trapped.
pub const CPTR_REALM: u64 = CPTR_RES1 | CPTR_TZ | CPTR_TFP | CPTR_TTA | CPTR_TAM;

/// `CNTHCTL_EL2` (E2H = 0): EL1PCTEN | EL1PCEN — EL1/EL0 use the physical counter and timer.
const CNTHCTL_REALM: u64 = 0b11;
/// `CNTHCTL_EL2.CNTVMASK` (FEAT_RME): the EL1 virtual timer's output is masked.
const CNTHCTL_CNTVMASK: u64 = 1 << 18;
/// `CNTHCTL_EL2.CNTPMASK` (FEAT_RME): the EL1 physical timer's output is masked.
const CNTHCTL_CNTPMASK: u64 = 1 << 19;
/// `CNTx_CTL_EL0` ENABLE | IMASK | ISTATUS.
const TIMER_ENABLE: u64 = 1;
const TIMER_IMASK: u64 = 2;
const TIMER_ISTATUS: u64 = 4;

/// `MDCR_EL2.TDOSA`: trap the OS lock and power-down debug registers.
const MDCR_TDOSA: u64 = 1 << 10;
/// `MDCR_EL2.TDA`: trap the other debug registers (breakpoints, watchpoints, MDSCR_EL1, …).
const MDCR_TDA: u64 = 1 << 9;
/// `MDSCR_EL1` bits that let the Realm's breakpoints, watchpoints or single step fire: SS, KDE, MDE.
const MDSCR_DEBUG_ACTIVE: u64 = (1 << 0) | (1 << 13) | (1 << 15);

/// `ICH_HCR_EL2.En`.
const ICH_HCR_EN: u64 = 1;

/// The FP/SIMD register file: Q0–Q31, FPCR, FPSR (the layout `warden_fp_save/restore` use).
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug)]
pub struct FpState {
    /// Q0–Q31 (low and high halves).
    pub q: [[u64; 2]; 32],
    /// FPCR.
    pub fpcr: u64,
    /// FPSR.
    pub fpsr: u64,
}

const _: () = {
    assert!(size_of::<FpState>() == 528);
    assert!(offset_of!(FpState, fpcr) == 512 && offset_of!(FpState, fpsr) == 520);
    assert!(size_of::<FpState>() <= 4096);
};

/// The SVE register file at the CPU's largest vector length (up to 2048 bits): Z0–Z31, then
/// P0–P15, then FFR (the layout `warden_sve_save/restore` use: `mul vl` offsets at the VL in force,
/// which [`fp_switch_in`] sets to the maximum for both).
#[repr(C, align(16))]
pub struct SveState {
    /// Z0–Z31 (VL bytes each), P0–P15 and FFR (VL/8 bytes each).
    bytes: [u8; SVE_Z_BYTES + SVE_P_BYTES],
}

/// Bytes of Z0–Z31 at the architectural maximum vector length (2048 bits).
const SVE_Z_BYTES: usize = 32 * 256;
/// Bytes of P0–P15 and FFR at the maximum vector length.
const SVE_P_BYTES: usize = 17 * 32;

/// The self-hosted debug registers a Realm may use: every implemented breakpoint and watchpoint
/// (16 at most) and the OS lock state. Kept after the REC's [`FpState`] in its first auxiliary
/// granule (zeroed at REC_CREATE: no breakpoint enabled, OS lock clear).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DebugState {
    /// DBGBCR<n>_EL1.
    pub bcr: [u64; 16],
    /// DBGBVR<n>_EL1.
    pub bvr: [u64; 16],
    /// DBGWCR<n>_EL1.
    pub wcr: [u64; 16],
    /// DBGWVR<n>_EL1.
    pub wvr: [u64; 16],
    /// OSLSR_EL1.OSLK (bit 1), OSDLR_EL1.DLK (bit 0). (DBGPRCR_EL1, a power-down request to an
    /// external debugger, is not switched: QEMU does not implement it, and a Realm's request
    /// could only keep the core powered.)
    pub os_locks: u64,
}

/// Where the REC's [`DebugState`] lives in its first auxiliary granule.
pub const DEBUG_AREA_OFFSET: u64 = 1024;

const _: () = {
    assert!(size_of::<FpState>() as u64 <= DEBUG_AREA_OFFSET);
    assert!(DEBUG_AREA_OFFSET as usize + size_of::<DebugState>() <= 4096);
};

/// The Host's EL1/EL0 state this CPU saved on a full entry (everything of [`El1Sysregs`] but
/// `SP_EL0`, which EL3 switches with the GPRs, and the EL1 timers).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct HostEl1 {
    el1: El1Sysregs,
    timer: TimerState,
}

/// One CPU's switch state.
#[repr(C, align(64))]
pub struct CpuSwitch {
    /// Address of the REC whose EL1/GIC/timer state is live in this CPU's hardware, 0 if none.
    live: u64,
    /// `ctx.el1.{esr,far,elr,spsr}` must be written to hardware before the next entry.
    el1_dirty: bool,
    /// The Realm's FP/SIMD state is loaded (the Host's is in `host_fp`).
    realm_fp: bool,
    /// The live REC's FP save area.
    fp_area: u64,
    /// The Realm's debug registers are loaded (the Host's are in `host_debug`).
    realm_debug: bool,
    /// The Host's SVE state is in `host_sve` (saved on the Realm's first FP use).
    host_sve_saved: bool,
    /// The current RMI call did not set the SMCCC SVE hint: the Host may have live SVE state.
    host_sve_live: bool,
    /// The Host's `ZCR_EL2`, while `host_sve_saved`.
    host_zcr: u64,
    host: HostEl1,
    host_fp: FpState,
    host_debug: DebugState,
    host_sve: SveState,
}

/// A CPU's [`CpuSwitch`], touched only by that CPU.
#[repr(transparent)]
struct CpuSlot(UnsafeCell<CpuSwitch>);

// SAFETY: each CPU only ever touches its own slot (indexed by TPIDR_EL2, the CPU index set at boot).
unsafe impl Sync for CpuSlot {}

#[allow(clippy::declare_interior_mutable_const)]
const SLOT_INIT: CpuSlot = CpuSlot(UnsafeCell::new(CpuSwitch {
    live: 0,
    el1_dirty: false,
    realm_fp: false,
    fp_area: 0,
    realm_debug: false,
    host_sve_saved: false,
    host_sve_live: true,
    host_zcr: 0,
    host: HostEl1 {
        el1: El1Sysregs {
            sctlr: 0,
            tcr: 0,
            ttbr0: 0,
            ttbr1: 0,
            mair: 0,
            amair: 0,
            vbar: 0,
            contextidr: 0,
            tpidr_el1: 0,
            tpidr_el0: 0,
            tpidrro_el0: 0,
            cpacr: 0,
            esr: 0,
            far: 0,
            par: 0,
            afsr0: 0,
            afsr1: 0,
            sp_el0: 0,
            sp_el1: 0,
            elr: 0,
            spsr: 0,
            cntkctl: 0,
            mdscr: 0,
            csselr: 0,
            pauth: [0; 10],
        },
        timer: TimerState {
            cntv_ctl: 0,
            cntv_cval: 0,
            cntp_ctl: 0,
            cntp_cval: 0,
        },
    },
    host_fp: FpState {
        q: [[0; 2]; 32],
        fpcr: 0,
        fpsr: 0,
    },
    host_debug: DebugState {
        bcr: [0; 16],
        bvr: [0; 16],
        wcr: [0; 16],
        wvr: [0; 16],
        os_locks: 0,
    },
    host_sve: SveState {
        bytes: [0; SVE_Z_BYTES + SVE_P_BYTES],
    },
}));

static SWITCH: [CpuSlot; MAX_CPUS] = [SLOT_INIT; MAX_CPUS];

/// This CPU's switch state.
///
/// # Safety
/// The caller must not hold another reference from this function (one per call chain): each CPU
/// only reaches its own slot, so no other CPU aliases it.
#[inline(always)]
unsafe fn this_cpu() -> &'static mut CpuSwitch {
    let cpu = read_sysreg!("tpidr_el2") as usize;
    // SAFETY: TPIDR_EL2 is this CPU's index (< MAX_CPUS, set at boot); only this CPU touches the
    // slot and the caller holds no other reference.
    unsafe { &mut *SWITCH[cpu].0.get() }
}

/// The static hardware properties the switch needs (from the boot's ID register reads).
#[derive(Clone, Copy, Debug)]
pub struct SwitchConfig {
    /// Implemented list registers (ICH_VTR_EL2.ListRegs + 1), at most 16.
    pub num_lrs: usize,
    /// Implemented ICH_AP0R/AP1R registers: 1, 2 or 4 (from ICH_VTR_EL2.PREbits).
    pub num_aprs: usize,
    /// VTCR_EL2.PS for the PA range.
    pub vtcr_ps: u64,
    /// VTCR_EL2.VS (16-bit VMIDs).
    pub vmid16: bool,
    /// FEAT_PAuth: the Realm's keys are switched and its PAuth use is not trapped.
    pub pauth: bool,
    /// FEAT_SVE: the Host's SVE state is preserved around the Realm's FP use.
    pub sve: bool,
    /// Implemented breakpoints (ID_AA64DFR0_EL1.BRPs + 1).
    pub num_bps: usize,
    /// Implemented watchpoints (ID_AA64DFR0_EL1.WRPs + 1).
    pub num_wps: usize,
}

impl SwitchConfig {
    /// Reads the GIC's virtual interface properties; `pa_bits` and `vmid_bits` from the features.
    pub fn read(pa_bits: u8, vmid_bits: u8) -> Self {
        let vtr = read_sysreg!("S3_4_C12_C11_1"); // ICH_VTR_EL2
        let prebits = ((vtr >> 26) & 0x7) + 1;
        let num_aprs = match prebits {
            7 => 4,
            6 => 2,
            _ => 1,
        };
        let isar1 = read_sysreg!("id_aa64isar1_el1");
        let isar2 = read_sysreg!("S3_0_C0_C6_2"); // ID_AA64ISAR2_EL1
        let pfr0 = read_sysreg!("id_aa64pfr0_el1");
        let dfr0 = read_sysreg!("id_aa64dfr0_el1");
        // APA 7:4, API 11:8, GPA 27:24, GPI 31:28; APA3 15:12, GPA3 11:8 (ISAR2).
        let pauth = isar1 & 0xFF00_0FF0 != 0 || isar2 & 0xFF00 != 0;
        Self {
            num_lrs: ((vtr & 0x1F) as usize + 1).min(16),
            num_aprs,
            vtcr_ps: vtcr_ps(pa_bits),
            vmid16: vmid_bits == 16,
            pauth,
            sve: (pfr0 >> 32) & 0xF != 0,
            num_bps: ((dfr0 >> 12) & 0xF) as usize + 1,
            num_wps: ((dfr0 >> 20) & 0xF) as usize + 1,
        }
    }
}

/// `VTCR_EL2.PS` for a PA width.
const fn vtcr_ps(pa_bits: u8) -> u64 {
    match pa_bits {
        32 => 0b000,
        36 => 0b001,
        40 => 0b010,
        42 => 0b011,
        44 => 0b100,
        _ => 0b101,
    }
}

/// `VTCR_EL2` for a Realm's stage 2: T0SZ = 64 − IPA width, SL0 from the starting level (4 KiB
/// granule: level 0 → 2, 1 → 1, 2 → 0, 3 → 3 with FEAT_TTST), inner-shareable write-back RAWA
/// walks, 4 KiB granule, PS for the PA range, VS for 16-bit VMIDs, NSA = 1 (the NS bit of an
/// unprotected descriptor selects the NS PAS, as TF-RMM sets it; NSW = 0) and RES1 bit 31.
pub fn vtcr(cfg: &SwitchConfig, run: &RunConfig) -> u64 {
    let t0sz = 64 - u64::from(run.ipa_width);
    let sl0: u64 = match run.start_level {
        0 => 2,
        1 => 1,
        2 => 0,
        _ => 3,
    };
    let vs = if cfg.vmid16 { 1 << 19 } else { 0 };
    (1 << 31)
        | (1 << 30)
        | vs
        | (cfg.vtcr_ps << 16)
        | (0b11 << 12)
        | (0b01 << 10)
        | (0b01 << 8)
        | (sl0 << 6)
        | t0sz
}

/// Saves or restores the EL1/EL0 registers of [`El1Sysregs`] but `SP_EL0` (which the assembly
/// switches on every round trip). `$dir` is `save` or `load`.
macro_rules! el1_regs {
    ($dir:ident, $r:expr) => {
        el1_regs!(@each $dir, $r;
            sctlr "sctlr_el1", tcr "tcr_el1", ttbr0 "ttbr0_el1", ttbr1 "ttbr1_el1", mair "mair_el1",
            amair "amair_el1", vbar "vbar_el1", contextidr "contextidr_el1", tpidr_el1 "tpidr_el1",
            tpidr_el0 "tpidr_el0", tpidrro_el0 "tpidrro_el0", cpacr "cpacr_el1", esr "esr_el1",
            far "far_el1", par "par_el1", afsr0 "afsr0_el1", afsr1 "afsr1_el1", sp_el1 "sp_el1",
            elr "elr_el1", spsr "spsr_el1", cntkctl "cntkctl_el1", mdscr "mdscr_el1",
            csselr "csselr_el1")
    };
    (@each save, $r:expr; $($f:ident $n:literal),*) => {{ $($r.$f = read_sysreg!($n);)* }};
    (@each load, $r:expr; $($f:ident $n:literal),*) => {{
        // SAFETY: EL1/EL0 registers do not affect Warden at EL2 (E2H = 0); they are the state of
        // the context about to run at EL1/EL0.
        $(unsafe { write_sysreg!($n, $r.$f) };)*
    }};
}

/// Saves or loads the PAuth keys (`[u64; 10]`, lo/hi of APIA, APIB, APDA, APDB, APGA).
macro_rules! pauth_keys {
    ($dir:ident, $k:expr) => {
        pauth_keys!(@each $dir, $k;
            0 "S3_0_C2_C1_0", 1 "S3_0_C2_C1_1", 2 "S3_0_C2_C1_2", 3 "S3_0_C2_C1_3",
            4 "S3_0_C2_C2_0", 5 "S3_0_C2_C2_1", 6 "S3_0_C2_C2_2", 7 "S3_0_C2_C2_3",
            8 "S3_0_C2_C3_0", 9 "S3_0_C2_C3_1")
    };
    (@each save, $k:expr; $($i:literal $n:literal),*) => {{ $($k[$i] = read_sysreg!($n);)* }};
    (@each load, $k:expr; $($i:literal $n:literal),*) => {{
        // SAFETY: the keys are EL1 state of the context about to run; Warden is built without
        // pointer authentication, so its own code never uses them.
        $(unsafe { write_sysreg!($n, $k[$i]) };)*
    }};
}

/// Defines `dbg_read(op2, i)` and `dbg_write(op2, i, v)` for breakpoint/watchpoint register
/// `S2_0_C0_C<i>_<op2>` (`op2` 4 = DBGBVR, 5 = DBGBCR, 6 = DBGWVR, 7 = DBGWCR; `i` < 16).
macro_rules! dbg_regs {
    ($($n:literal)*) => {
        /// Reads breakpoint/watchpoint register `i` of kind `op2` (0 for an index out of range).
        fn dbg_read(op2: u8, i: usize) -> u64 {
            let mut v: u64 = 0;
            // SAFETY: reading a debug register at EL2 has no side effects and touches no memory.
            unsafe {
                match (op2, i) {
                    $(
                        (4, $n) => core::arch::asm!(concat!("mrs {}, S2_0_C0_C", $n, "_4"), out(reg) v, options(nomem, nostack, preserves_flags)),
                        (5, $n) => core::arch::asm!(concat!("mrs {}, S2_0_C0_C", $n, "_5"), out(reg) v, options(nomem, nostack, preserves_flags)),
                        (6, $n) => core::arch::asm!(concat!("mrs {}, S2_0_C0_C", $n, "_6"), out(reg) v, options(nomem, nostack, preserves_flags)),
                        (7, $n) => core::arch::asm!(concat!("mrs {}, S2_0_C0_C", $n, "_7"), out(reg) v, options(nomem, nostack, preserves_flags)),
                    )*
                    _ => {}
                }
            }
            v
        }

        /// Writes breakpoint/watchpoint register `i` of kind `op2` (ignored out of range).
        fn dbg_write(op2: u8, i: usize, v: u64) {
            // SAFETY: breakpoints and watchpoints act only on EL1/EL0, under the MDSCR_EL1 of the
            // context about to run; Warden never enables debug exceptions at EL2.
            unsafe {
                match (op2, i) {
                    $(
                        (4, $n) => core::arch::asm!(concat!("msr S2_0_C0_C", $n, "_4, {}"), in(reg) v, options(nostack, preserves_flags)),
                        (5, $n) => core::arch::asm!(concat!("msr S2_0_C0_C", $n, "_5, {}"), in(reg) v, options(nostack, preserves_flags)),
                        (6, $n) => core::arch::asm!(concat!("msr S2_0_C0_C", $n, "_6, {}"), in(reg) v, options(nostack, preserves_flags)),
                        (7, $n) => core::arch::asm!(concat!("msr S2_0_C0_C", $n, "_7, {}"), in(reg) v, options(nostack, preserves_flags)),
                    )*
                    _ => {}
                }
            }
        }
    };
}

dbg_regs!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);

/// Saves this CPU's self-hosted debug registers (the implemented ones) into `d`.
fn debug_save(cfg: &SwitchConfig, d: &mut DebugState) {
    for i in 0..cfg.num_bps {
        d.bvr[i] = dbg_read(4, i);
        d.bcr[i] = dbg_read(5, i);
    }
    for i in 0..cfg.num_wps {
        d.wvr[i] = dbg_read(6, i);
        d.wcr[i] = dbg_read(7, i);
    }
    let oslk = read_sysreg!("S2_0_C1_C1_4") & 0b10; // OSLSR_EL1.OSLK
    let dlk = read_sysreg!("S2_0_C1_C3_4") & 0b1; // OSDLR_EL1.DLK
    d.os_locks = oslk | dlk;
}

/// Loads the debug registers saved in `d`.
fn debug_load(cfg: &SwitchConfig, d: &DebugState) {
    for i in 0..cfg.num_bps {
        dbg_write(4, i, d.bvr[i]);
        dbg_write(5, i, d.bcr[i]);
    }
    for i in 0..cfg.num_wps {
        dbg_write(6, i, d.wvr[i]);
        dbg_write(7, i, d.wcr[i]);
    }
    // SAFETY: the OS lock and double lock of the context about to run; they gate only
    // self-hosted debug of EL1/EL0 and external debug, which Warden does not use.
    unsafe {
        write_sysreg!("S2_0_C1_C0_4", (d.os_locks >> 1) & 1); // OSLAR_EL1
        write_sysreg!("S2_0_C1_C3_4", d.os_locks & 1); // OSDLR_EL1
    }
}

macro_rules! timer_regs {
    (save, $t:expr) => {{
        $t.cntv_ctl = read_sysreg!("cntv_ctl_el0");
        $t.cntv_cval = read_sysreg!("cntv_cval_el0");
        $t.cntp_ctl = read_sysreg!("cntp_ctl_el0");
        $t.cntp_cval = read_sysreg!("cntp_cval_el0");
    }};
    (load, $t:expr) => {{
        // SAFETY: the EL1 timers belong to the context about to run; Warden uses no EL1 timer.
        unsafe {
            write_sysreg!("cntv_cval_el0", $t.cntv_cval);
            write_sysreg!("cntv_ctl_el0", $t.cntv_ctl);
            write_sysreg!("cntp_cval_el0", $t.cntp_cval);
            write_sysreg!("cntp_ctl_el0", $t.cntp_ctl);
        }
    }};
}

/// `ICH_LR<i>_EL2` (i < 16).
fn read_lr(i: usize) -> u64 {
    macro_rules! lr {
        ($($i:literal $n:literal),*) => { match i { $($i => read_sysreg!($n),)* _ => 0 } };
    }
    lr!(0 "S3_4_C12_C12_0", 1 "S3_4_C12_C12_1", 2 "S3_4_C12_C12_2", 3 "S3_4_C12_C12_3",
        4 "S3_4_C12_C12_4", 5 "S3_4_C12_C12_5", 6 "S3_4_C12_C12_6", 7 "S3_4_C12_C12_7",
        8 "S3_4_C12_C13_0", 9 "S3_4_C12_C13_1", 10 "S3_4_C12_C13_2", 11 "S3_4_C12_C13_3",
        12 "S3_4_C12_C13_4", 13 "S3_4_C12_C13_5", 14 "S3_4_C12_C13_6", 15 "S3_4_C12_C13_7")
}

/// Writes `ICH_LR<i>_EL2` (i < 16).
fn write_lr(i: usize, v: u64) {
    macro_rules! lr {
        ($($i:literal $n:literal),*) => {
            // SAFETY: a list register of the virtual CPU interface, which only the Realm about to
            // run sees.
            match i { $($i => unsafe { write_sysreg!($n, v) },)* _ => {} }
        };
    }
    lr!(0 "S3_4_C12_C12_0", 1 "S3_4_C12_C12_1", 2 "S3_4_C12_C12_2", 3 "S3_4_C12_C12_3",
        4 "S3_4_C12_C12_4", 5 "S3_4_C12_C12_5", 6 "S3_4_C12_C12_6", 7 "S3_4_C12_C12_7",
        8 "S3_4_C12_C13_0", 9 "S3_4_C12_C13_1", 10 "S3_4_C12_C13_2", 11 "S3_4_C12_C13_3",
        12 "S3_4_C12_C13_4", 13 "S3_4_C12_C13_5", 14 "S3_4_C12_C13_6", 15 "S3_4_C12_C13_7")
}

/// Reads `ICH_AP0R<i>_EL2` and `ICH_AP1R<i>_EL2` (i < 4).
fn read_apr(i: usize) -> (u64, u64) {
    match i {
        0 => (read_sysreg!("S3_4_C12_C8_0"), read_sysreg!("S3_4_C12_C9_0")),
        1 => (read_sysreg!("S3_4_C12_C8_1"), read_sysreg!("S3_4_C12_C9_1")),
        2 => (read_sysreg!("S3_4_C12_C8_2"), read_sysreg!("S3_4_C12_C9_2")),
        _ => (read_sysreg!("S3_4_C12_C8_3"), read_sysreg!("S3_4_C12_C9_3")),
    }
}

/// Writes `ICH_AP0R<i>_EL2` and `ICH_AP1R<i>_EL2` (i < 4).
fn write_apr(i: usize, ap0: u64, ap1: u64) {
    // SAFETY: active-priority registers of the virtual CPU interface the Realm is about to use.
    unsafe {
        match i {
            0 => {
                write_sysreg!("S3_4_C12_C8_0", ap0);
                write_sysreg!("S3_4_C12_C9_0", ap1);
            }
            1 => {
                write_sysreg!("S3_4_C12_C8_1", ap0);
                write_sysreg!("S3_4_C12_C9_1", ap1);
            }
            2 => {
                write_sysreg!("S3_4_C12_C8_2", ap0);
                write_sysreg!("S3_4_C12_C9_2", ap1);
            }
            _ => {
                write_sysreg!("S3_4_C12_C8_3", ap0);
                write_sysreg!("S3_4_C12_C9_3", ap1);
            }
        }
    }
}

/// Loads the Realm's GIC virtual interface state.
fn gic_load(cfg: &SwitchConfig, g: &GicState) {
    for i in 0..cfg.num_lrs {
        write_lr(i, g.lrs[i]);
    }
    for i in 0..cfg.num_aprs {
        write_apr(i, g.ap0r[i], g.ap1r[i]);
    }
    // SAFETY: the virtual CPU interface belongs to the Realm about to run.
    unsafe {
        write_sysreg!("S3_4_C12_C11_7", g.vmcr); // ICH_VMCR_EL2
        write_sysreg!("S3_4_C12_C11_0", g.hcr | ICH_HCR_EN); // ICH_HCR_EL2
    }
}

/// Saves the Realm's GIC virtual interface state (with `ICH_MISR_EL2`) and disables it.
fn gic_save(cfg: &SwitchConfig, g: &mut GicState) {
    for i in 0..cfg.num_lrs {
        g.lrs[i] = read_lr(i);
    }
    for i in 0..cfg.num_aprs {
        (g.ap0r[i], g.ap1r[i]) = read_apr(i);
    }
    g.vmcr = read_sysreg!("S3_4_C12_C11_7");
    g.misr = read_sysreg!("S3_4_C12_C11_2");
    g.hcr = read_sysreg!("S3_4_C12_C11_0") & !ICH_HCR_EN;
    // SAFETY: turns the virtual CPU interface off; no Realm runs on this CPU until the next entry.
    unsafe { write_sysreg!("S3_4_C12_C11_0", 0u64) };
}

/// Whether a timer's output is asserted (enabled, condition met, not masked by the Realm).
const fn asserted(ctl: u64) -> bool {
    ctl & (TIMER_ENABLE | TIMER_IMASK | TIMER_ISTATUS) == TIMER_ENABLE | TIMER_ISTATUS
}

/// The full entry from the Host: saves the Host's EL1 state, loads the Realm's and configures EL2
/// for it (see the module docs). Out of line: it runs once per `RMI_REC_ENTER`, not per trap.
#[inline(never)]
fn enter_from_host(
    cpu: &mut CpuSwitch,
    cfg: &SwitchConfig,
    rec: u64,
    ctx: &RecContext,
    run: &RunConfig,
) {
    el1_regs!(save, cpu.host.el1);
    timer_regs!(save, cpu.host.timer);
    el1_regs!(load, ctx.el1);
    timer_regs!(load, ctx.timer);
    let mut hcr = HCR_REALM;
    if cfg.pauth {
        pauth_keys!(save, cpu.host.el1.pauth);
        pauth_keys!(load, ctx.el1.pauth);
        hcr |= HCR_PAUTH;
    }
    gic_load(cfg, &ctx.gic);
    cpu.fp_area = run.fp_area;
    // Debug registers move lazily, like FP: trapped (TDA, TDOSA) until the Realm's first access —
    // unless its MDSCR_EL1 lets breakpoints, watchpoints or single step fire, when the Host's must
    // not stay live under it.
    let mdcr = read_sysreg!("mdcr_el2") | MDCR_TDA | MDCR_TDOSA;
    // SAFETY: MDCR_EL2's debug traps only affect EL1/EL0.
    unsafe { write_sysreg!("mdcr_el2", mdcr) };
    cpu.realm_debug = false;
    if ctx.el1.mdscr & MDSCR_DEBUG_ACTIVE != 0 {
        debug_switch_in(cpu, cfg);
    }
    let mut cnthctl = CNTHCTL_REALM;
    if asserted(ctx.timer.cntv_ctl) {
        cnthctl |= CNTHCTL_CNTVMASK;
    }
    if asserted(ctx.timer.cntp_ctl) {
        cnthctl |= CNTHCTL_CNTPMASK;
    }
    if run.trap_wfi {
        hcr |= HCR_TWI;
    }
    if run.trap_wfe {
        hcr |= HCR_TWE;
    }
    // SAFETY: EL2 controls of the EL1&0 regime the Realm runs in; none affects Warden's own EL2
    // translation (VM/VTTBR/VTCR apply to EL1&0 only), and CPTR traps only what Warden never uses.
    unsafe {
        write_sysreg!("cnthctl_el2", cnthctl);
        write_sysreg!("vmpidr_el2", run.mpidr | (1 << 31));
        write_sysreg!("vtcr_el2", vtcr(cfg, run));
        write_sysreg!("vttbr_el2", run.rtt_base | (u64::from(run.vmid) << 48));
        write_sysreg!("cptr_el2", CPTR_REALM);
        write_sysreg!("hcr_el2", hcr);
    }
    cpu.live = rec;
    cpu.el1_dirty = false;
    cpu.realm_fp = false;
}

/// The Realm's first debug-register access in this entry (or an entry with its debug active): the
/// Host's breakpoints, watchpoints and OS lock state out, the Realm's in, the traps off.
#[inline(never)]
fn debug_switch_in(cpu: &mut CpuSwitch, cfg: &SwitchConfig) {
    debug_save(cfg, &mut cpu.host_debug);
    // SAFETY: the live REC's first aux granule (Realm PAS, identity mapped, owned by the REC), at
    // DEBUG_AREA_OFFSET, beside its FP state (asserted to fit).
    let realm = unsafe { &*((cpu.fp_area + DEBUG_AREA_OFFSET) as *const DebugState) };
    debug_load(cfg, realm);
    let mdcr = read_sysreg!("mdcr_el2") & !(MDCR_TDA | MDCR_TDOSA);
    // SAFETY: as in `enter_from_host`.
    unsafe { write_sysreg!("mdcr_el2", mdcr) };
    isb();
    cpu.realm_debug = true;
}

/// Whether a trapped MSR/MRS (`esr`) names a debug register (Op0 = 2): what `MDCR_EL2.TDA/TDOSA`
/// trap while the Realm's debug state is not loaded.
const fn is_debug_sysreg(esr: u64) -> bool {
    (esr >> 20) & 0b11 == 0b10
}

/// Records the SMCCC SVE hint of the RMI call this CPU is about to serve (FID bit 16 set: the Host
/// has no live SVE state, so only its FP/SIMD registers need preserving if a Realm uses FP).
#[inline(always)]
pub fn note_rmi_call(fid: u64) {
    // SAFETY: the only reference to this CPU's slot in this call chain.
    let cpu = unsafe { this_cpu() };
    cpu.host_sve_live = fid & (1 << 16) == 0;
}

unsafe extern "C" {
    /// Runs the Realm from `ctx` until it traps to EL2 (see the module docs).
    fn warden_rec_run(ctx: *mut RecContext) -> RunExit;
    /// Stores Q0–Q31, FPCR, FPSR at `area` (CPTR_EL2.TFP must be clear).
    fn warden_fp_save(area: *mut FpState);
    /// Loads Q0–Q31, FPCR, FPSR from `area` (CPTR_EL2.TFP must be clear).
    fn warden_fp_restore(area: *const FpState);
    /// Stores Z0–Z31, P0–P15, FFR at `area` at the current VL (CPTR_EL2.TZ/TFP must be clear).
    fn warden_sve_save(area: *mut SveState);
    /// Loads Z0–Z31, P0–P15, FFR from `area` at the current VL (CPTR_EL2.TZ/TFP must be clear).
    fn warden_sve_restore(area: *const SveState);
}

/// `Machine::run_realm` on the hardware: runs the REC at `rec` from `ctx` until a trap that logic
/// must see (see the module docs for what is current in `ctx` then).
pub fn run_realm(cfg: &SwitchConfig, rec: u64, ctx: &mut RecContext, run: &RunConfig) -> RealmTrap {
    // SAFETY: the only reference to this CPU's slot in this call chain.
    let cpu = unsafe { this_cpu() };
    if cpu.live != rec {
        enter_from_host(cpu, cfg, rec, ctx, run);
    } else if cpu.el1_dirty {
        // SAFETY: the live Realm's exception registers, as logic left them in the context.
        unsafe {
            write_sysreg!("esr_el1", ctx.el1.esr);
            write_sysreg!("far_el1", ctx.el1.far);
            write_sysreg!("elr_el1", ctx.el1.elr);
            write_sysreg!("spsr_el1", ctx.el1.spsr);
        }
        cpu.el1_dirty = false;
    }
    loop {
        // SAFETY: `ctx` is the live REC's context, exclusively borrowed; EL2 is configured for it.
        let exit = unsafe { warden_rec_run(ctx) };
        match exit.kind {
            kind::SYNC => {
                let class = exit.esr >> 26;
                if class == ec::SMC64 {
                    return RealmTrap::Sync {
                        esr: exit.esr,
                        far: 0,
                        hpfar: 0,
                    };
                }
                let far = read_sysreg!("far_el2");
                let hpfar = read_sysreg!("hpfar_el2");
                ctx.el1.vbar = read_sysreg!("vbar_el1");
                ctx.el1.esr = read_sysreg!("esr_el1");
                ctx.el1.far = read_sysreg!("far_el1");
                ctx.el1.elr = read_sysreg!("elr_el1");
                ctx.el1.spsr = read_sysreg!("spsr_el1");
                match class {
                    ec::FP => fp_switch_in(cpu, cfg),
                    ec::SYSREG if !cpu.realm_debug && is_debug_sysreg(exit.esr) => {
                        debug_switch_in(cpu, cfg);
                    }
                    ec::SVE | ec::SME => {
                        inject(ctx, Injected::UndefCurrent);
                        // SAFETY: as for `el1_dirty` above.
                        unsafe {
                            write_sysreg!("esr_el1", ctx.el1.esr);
                            write_sysreg!("elr_el1", ctx.el1.elr);
                            write_sysreg!("spsr_el1", ctx.el1.spsr);
                        }
                    }
                    _ => {
                        cpu.el1_dirty = true;
                        return RealmTrap::Sync {
                            esr: exit.esr,
                            far,
                            hpfar,
                        };
                    }
                }
            }
            kind::IRQ => return RealmTrap::Irq,
            kind::FIQ => return RealmTrap::Fiq,
            _ => return RealmTrap::SError { esr: exit.esr },
        }
    }
}

/// The Realm's first FP/SIMD use in this entry: the Host's registers out, the Realm's in, FP
/// untrapped.
#[inline(never)]
fn fp_switch_in(cpu: &mut CpuSwitch, cfg: &SwitchConfig) {
    // SAFETY: clearing TFP lets Warden (below) and the Realm (on return) use FP/SIMD; Warden itself
    // never does otherwise.
    unsafe { write_sysreg!("cptr_el2", CPTR_REALM & !CPTR_TFP) };
    isb();
    // SAFETY: FP is untrapped; `host_fp` is this CPU's area.
    unsafe { warden_fp_save(&mut cpu.host_fp) };
    if cfg.sve && cpu.host_sve_live {
        sve_save_host(cpu);
    }
    // SAFETY: FP is untrapped; `fp_area` is the live REC's first aux granule (Realm PAS, identity
    // mapped, owned by the REC and used for nothing else).
    unsafe { warden_fp_restore(cpu.fp_area as *const FpState) };
    cpu.realm_fp = true;
}

/// Saves the Host's whole SVE state (Z0–Z31 beyond their low 128 bits, P0–P15, FFR) at the largest
/// vector length, which loading the Realm's FP registers would otherwise destroy. SVE is untrapped
/// only for this, and trapped again before the Realm runs (Realms are not offered SVE).
fn sve_save_host(cpu: &mut CpuSwitch) {
    // SAFETY: untraps SVE (and ZCR_EL2) at EL2, and for the Realm until the write below.
    unsafe { write_sysreg!("cptr_el2", CPTR_REALM & !(CPTR_TFP | CPTR_TZ)) };
    isb();
    cpu.host_zcr = read_sysreg!("S3_4_C1_C2_0"); // ZCR_EL2
    // SAFETY: ZCR_EL2.LEN = max makes the save cover any vector length the Host used (ZCR_EL3
    // bounds it to what EL3 allows).
    unsafe { write_sysreg!("S3_4_C1_C2_0", 0xFu64) };
    isb();
    // SAFETY: SVE is untrapped; `host_sve` is this CPU's area, sized for the largest VL.
    unsafe { warden_sve_save(&mut cpu.host_sve) };
    // SAFETY: SVE trapped again for the Realm; FP stays untrapped.
    unsafe { write_sysreg!("cptr_el2", CPTR_REALM & !CPTR_TFP) };
    isb();
    cpu.host_sve_saved = true;
}

/// Restores the Host's SVE state saved by [`sve_save_host`] (after its FP/SIMD registers, whose
/// restore cleared the upper bits), and its `ZCR_EL2`.
fn sve_restore_host(cpu: &mut CpuSwitch) {
    // SAFETY: as in `sve_save_host`; the VL is still the maximum the save used.
    unsafe { write_sysreg!("cptr_el2", CPTR_REALM & !(CPTR_TFP | CPTR_TZ)) };
    isb();
    // SAFETY: SVE is untrapped; the area holds what `warden_sve_save` stored at this VL.
    unsafe {
        warden_sve_restore(&cpu.host_sve);
        write_sysreg!("S3_4_C1_C2_0", cpu.host_zcr);
    }
    cpu.host_sve_saved = false;
}

/// `Machine::leave_realm` on the hardware: the REC's live state into `ctx`, the Host's back.
#[inline(never)]
pub fn leave_realm(cfg: &SwitchConfig, rec: u64, ctx: &mut RecContext) {
    // SAFETY: the only reference to this CPU's slot in this call chain.
    let cpu = unsafe { this_cpu() };
    if cpu.live != rec || rec == 0 {
        return;
    }
    let sp_el0 = ctx.el1.sp_el0;
    // An exception logic injected on the way out (e.g. the SEA for a granule protection fault that
    // also exits to the Host) is in the context, not yet in the hardware: the context wins.
    let injected = (ctx.el1.esr, ctx.el1.far, ctx.el1.elr, ctx.el1.spsr);
    el1_regs!(save, ctx.el1);
    ctx.el1.sp_el0 = sp_el0;
    if cpu.el1_dirty {
        (ctx.el1.esr, ctx.el1.far, ctx.el1.elr, ctx.el1.spsr) = injected;
    }
    timer_regs!(save, ctx.timer);
    gic_save(cfg, &mut ctx.gic);
    el1_regs!(load, cpu.host.el1);
    timer_regs!(load, cpu.host.timer);
    if cfg.pauth {
        pauth_keys!(save, ctx.el1.pauth);
        pauth_keys!(load, cpu.host.el1.pauth);
    }
    if cpu.realm_debug {
        // SAFETY: as in `debug_switch_in`.
        let realm = unsafe { &mut *((cpu.fp_area + DEBUG_AREA_OFFSET) as *mut DebugState) };
        debug_save(cfg, realm);
        debug_load(cfg, &cpu.host_debug);
        cpu.realm_debug = false;
    }
    if cpu.realm_fp {
        // SAFETY: FP is untrapped while `realm_fp`; the areas are as in `fp_switch_in`.
        unsafe {
            warden_fp_save(cpu.fp_area as *mut FpState);
            warden_fp_restore(&cpu.host_fp);
        }
        if cpu.host_sve_saved {
            sve_restore_host(cpu);
        }
        cpu.realm_fp = false;
    }
    // SAFETY: back to Warden's own EL2 configuration: no stage 2, FP trapped for the next Realm.
    unsafe {
        write_sysreg!("cptr_el2", CPTR_REALM);
        write_sysreg!("hcr_el2", super::mmu::HCR);
    }
    isb();
    cpu.live = 0;
    cpu.el1_dirty = false;
}

/// Offsets the assembly uses.
const CTX_X2: usize = offset_of!(RecContext, gprs) + 2 * 8;
const CTX_X30: usize = offset_of!(RecContext, gprs) + 30 * 8;
const CTX_PC: usize = offset_of!(RecContext, pc);
const CTX_SP_EL0: usize = offset_of!(RecContext, el1) + offset_of!(El1Sysregs, sp_el0);

const _: () = {
    assert!(offset_of!(RecContext, gprs) == 0);
    assert!(CTX_PC == 31 * 8, "pc follows X30");
    assert!(
        offset_of!(RecContext, pstate) == CTX_PC + 8,
        "ldp/stp of pc and pstate"
    );
    assert!(CTX_SP_EL0.is_multiple_of(8) && CTX_SP_EL0 < 32760);
    assert!(size_of::<RunExit>() == 16);
};

// warden_rec_run(x0 = ctx): see the module docs. The lower-EL vectors enter warden_rec_exit with
// the Realm's x0/x1 pushed on SP_EL2 and the exit kind in x1.
core::arch::global_asm!(
    r#"
    .pushsection .text.warden_rec_switch, "ax"
    .global warden_rec_run
    .type warden_rec_run, %function
    .balign 64
warden_rec_run:
    stp x29, x30, [sp, #-96]!
    stp x19, x20, [sp, #16]
    stp x21, x22, [sp, #32]
    stp x23, x24, [sp, #48]
    stp x25, x26, [sp, #64]
    stp x27, x28, [sp, #80]
    mov x1, sp
    msr spsel, #1
    stp x0, x1, [sp, #-16]!
    ldp x2, x3, [x0, #{pc}]
    ldr x4, [x0, #{sp_el0}]
    msr elr_el2, x2
    msr spsr_el2, x3
    msr sp_el0, x4
    ldp x2, x3, [x0, #{x2} + 16 * 0]
    ldp x4, x5, [x0, #{x2} + 16 * 1]
    ldp x6, x7, [x0, #{x2} + 16 * 2]
    ldp x8, x9, [x0, #{x2} + 16 * 3]
    ldp x10, x11, [x0, #{x2} + 16 * 4]
    ldp x12, x13, [x0, #{x2} + 16 * 5]
    ldp x14, x15, [x0, #{x2} + 16 * 6]
    ldp x16, x17, [x0, #{x2} + 16 * 7]
    ldp x18, x19, [x0, #{x2} + 16 * 8]
    ldp x20, x21, [x0, #{x2} + 16 * 9]
    ldp x22, x23, [x0, #{x2} + 16 * 10]
    ldp x24, x25, [x0, #{x2} + 16 * 11]
    ldp x26, x27, [x0, #{x2} + 16 * 12]
    ldp x28, x29, [x0, #{x2} + 16 * 13]
    ldr x30, [x0, #{x30}]
    ldp x0, x1, [x0]
    eret
    dsb nsh
    isb
    .size warden_rec_run, . - warden_rec_run

    // From the lower-EL vectors: SP_EL2 -> [realm x0, realm x1, ctx, Warden's SP_EL0]; x1 = kind.
    .global warden_rec_exit
    .balign 64
warden_rec_exit:
    ldr x0, [sp, #16]
    stp x2, x3, [x0, #{x2} + 16 * 0]
    stp x4, x5, [x0, #{x2} + 16 * 1]
    stp x6, x7, [x0, #{x2} + 16 * 2]
    stp x8, x9, [x0, #{x2} + 16 * 3]
    stp x10, x11, [x0, #{x2} + 16 * 4]
    stp x12, x13, [x0, #{x2} + 16 * 5]
    stp x14, x15, [x0, #{x2} + 16 * 6]
    stp x16, x17, [x0, #{x2} + 16 * 7]
    stp x18, x19, [x0, #{x2} + 16 * 8]
    stp x20, x21, [x0, #{x2} + 16 * 9]
    stp x22, x23, [x0, #{x2} + 16 * 10]
    stp x24, x25, [x0, #{x2} + 16 * 11]
    stp x26, x27, [x0, #{x2} + 16 * 12]
    stp x28, x29, [x0, #{x2} + 16 * 13]
    str x30, [x0, #{x30}]
    ldp x2, x3, [sp], #16
    stp x2, x3, [x0]
    mrs x2, elr_el2
    mrs x3, spsr_el2
    mrs x4, sp_el0
    stp x2, x3, [x0, #{pc}]
    str x4, [x0, #{sp_el0}]
    ldr x2, [sp, #8]
    add sp, sp, #16
    msr sp_el0, x2
    msr spsel, #0
    mov x0, x1
    mrs x1, esr_el2
    ldp x19, x20, [sp, #16]
    ldp x21, x22, [sp, #32]
    ldp x23, x24, [sp, #48]
    ldp x25, x26, [sp, #64]
    ldp x27, x28, [sp, #80]
    ldp x29, x30, [sp], #96
    ret

    // FP/SIMD register file save/restore (x0 = area). Warden is softfloat: only these touch FP.
    .arch_extension fp
    .arch_extension simd
    .global warden_fp_save
    .balign 16
warden_fp_save:
    stp q0, q1, [x0, #32 * 0]
    stp q2, q3, [x0, #32 * 1]
    stp q4, q5, [x0, #32 * 2]
    stp q6, q7, [x0, #32 * 3]
    stp q8, q9, [x0, #32 * 4]
    stp q10, q11, [x0, #32 * 5]
    stp q12, q13, [x0, #32 * 6]
    stp q14, q15, [x0, #32 * 7]
    stp q16, q17, [x0, #32 * 8]
    stp q18, q19, [x0, #32 * 9]
    stp q20, q21, [x0, #32 * 10]
    stp q22, q23, [x0, #32 * 11]
    stp q24, q25, [x0, #32 * 12]
    stp q26, q27, [x0, #32 * 13]
    stp q28, q29, [x0, #32 * 14]
    stp q30, q31, [x0, #32 * 15]
    mrs x1, fpcr
    mrs x2, fpsr
    add x0, x0, #{fpcr}
    stp x1, x2, [x0]
    ret

    .global warden_fp_restore
    .balign 16
warden_fp_restore:
    ldp q0, q1, [x0, #32 * 0]
    ldp q2, q3, [x0, #32 * 1]
    ldp q4, q5, [x0, #32 * 2]
    ldp q6, q7, [x0, #32 * 3]
    ldp q8, q9, [x0, #32 * 4]
    ldp q10, q11, [x0, #32 * 5]
    ldp q12, q13, [x0, #32 * 6]
    ldp q14, q15, [x0, #32 * 7]
    ldp q16, q17, [x0, #32 * 8]
    ldp q18, q19, [x0, #32 * 9]
    ldp q20, q21, [x0, #32 * 10]
    ldp q22, q23, [x0, #32 * 11]
    ldp q24, q25, [x0, #32 * 12]
    ldp q26, q27, [x0, #32 * 13]
    ldp q28, q29, [x0, #32 * 14]
    ldp q30, q31, [x0, #32 * 15]
    add x0, x0, #{fpcr}
    ldp x1, x2, [x0]
    msr fpcr, x1
    msr fpsr, x2
    ret

    // SVE register file save/restore (x0 = area; Z at [0, 32 VL), P then FFR after {sve_p}).
    .arch_extension sve
    .global warden_sve_save
    .balign 16
warden_sve_save:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    str z\n, [x0, #\n, mul vl]
    .endr
    add x0, x0, #{sve_p}
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    str p\n, [x0, #\n, mul vl]
    .endr
    rdffr p0.b
    str p0, [x0, #16, mul vl]
    ldr p0, [x0, #0, mul vl]
    ret

    .global warden_sve_restore
    .balign 16
warden_sve_restore:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ldr z\n, [x0, #\n, mul vl]
    .endr
    add x0, x0, #{sve_p}
    ldr p0, [x0, #16, mul vl]
    wrffr p0.b
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    ldr p\n, [x0, #\n, mul vl]
    .endr
    ret
    .popsection
    "#,
    pc = const CTX_PC,
    sp_el0 = const CTX_SP_EL0,
    x2 = const CTX_X2,
    x30 = const CTX_X30,
    fpcr = const offset_of!(FpState, fpcr),
    sve_p = const SVE_Z_BYTES,
);
