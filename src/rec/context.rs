//! The architectural state of a REC: what the CPU holds while the Realm runs, and what Warden keeps
//! for it while it does not.
//!
//! `#[repr(C)]` because the REC switch (assembly, `arch::aarch64`) saves and restores these fields
//! by offset; every offset it uses is taken with `offset_of!` and asserted at compile time there.
//! Logic reads and writes the fields directly; the firmware guarantees they are current whenever
//! logic runs (the switch saves what an exit changed before any handler looks).

/// EL1/EL0 system registers of a Realm, saved on exits to the Host and restored on entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct El1Sysregs {
    /// SCTLR_EL1.
    pub sctlr: u64,
    /// TCR_EL1.
    pub tcr: u64,
    /// TTBR0_EL1.
    pub ttbr0: u64,
    /// TTBR1_EL1.
    pub ttbr1: u64,
    /// MAIR_EL1.
    pub mair: u64,
    /// AMAIR_EL1.
    pub amair: u64,
    /// VBAR_EL1.
    pub vbar: u64,
    /// CONTEXTIDR_EL1.
    pub contextidr: u64,
    /// TPIDR_EL1.
    pub tpidr_el1: u64,
    /// TPIDR_EL0.
    pub tpidr_el0: u64,
    /// TPIDRRO_EL0.
    pub tpidrro_el0: u64,
    /// CPACR_EL1.
    pub cpacr: u64,
    /// ESR_EL1.
    pub esr: u64,
    /// FAR_EL1.
    pub far: u64,
    /// PAR_EL1.
    pub par: u64,
    /// AFSR0_EL1.
    pub afsr0: u64,
    /// AFSR1_EL1.
    pub afsr1: u64,
    /// SP_EL0.
    pub sp_el0: u64,
    /// SP_EL1.
    pub sp_el1: u64,
    /// ELR_EL1.
    pub elr: u64,
    /// SPSR_EL1.
    pub spsr: u64,
    /// CNTKCTL_EL1.
    pub cntkctl: u64,
    /// MDSCR_EL1.
    pub mdscr: u64,
    /// CSSELR_EL1 (the cache level whose CCSIDR_EL1 the Realm reads).
    pub csselr: u64,
    /// Pointer authentication keys: APIAKey, APIBKey, APDAKey, APDBKey, APGAKey (lo, hi each).
    /// Switched only when the CPU implements FEAT_PAuth.
    pub pauth: [u64; 10],
}

/// The Realm's view of the GICv3 virtual CPU interface.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GicState {
    /// ICH_HCR_EL2 (Host-controlled bits from `RmiRecEnter`, Warden's own on top).
    pub hcr: u64,
    /// ICH_LR<n>_EL2.
    pub lrs: [u64; 16],
    /// ICH_VMCR_EL2.
    pub vmcr: u64,
    /// ICH_MISR_EL2 at the last exit.
    pub misr: u64,
    /// ICH_AP0R<n>_EL2.
    pub ap0r: [u64; 4],
    /// ICH_AP1R<n>_EL2.
    pub ap1r: [u64; 4],
}

/// The Realm's EL1 timers.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerState {
    /// CNTV_CTL_EL0.
    pub cntv_ctl: u64,
    /// CNTV_CVAL_EL0.
    pub cntv_cval: u64,
    /// CNTP_CTL_EL0.
    pub cntp_ctl: u64,
    /// CNTP_CVAL_EL0.
    pub cntp_cval: u64,
}

/// Everything of a REC's CPU state that Warden keeps.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecContext {
    /// X0–X30.
    pub gprs: [u64; 31],
    /// The PC the Realm resumes at (ELR_EL2 on entry).
    pub pc: u64,
    /// PSTATE the Realm resumes with (SPSR_EL2 on entry).
    pub pstate: u64,
    /// EL1/EL0 system registers.
    pub el1: El1Sysregs,
    /// GIC virtual CPU interface.
    pub gic: GicState,
    /// Timers.
    pub timer: TimerState,
}

/// PSTATE of a REC at its first entry and after PSCI_CPU_ON: EL1h, D, A, I, F masked.
pub const PSTATE_EL1H_MASKED: u64 = 0x3C5;

/// SCTLR_EL1 at reset: the RES1 bits (LSMAOE, nTLSMD, SPAN, EIS, TSCXT, EOS, bits 28/29/23/22/20/11),
/// MMU and caches off, little-endian.
pub const SCTLR_EL1_RESET: u64 = (1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 20) | (1 << 11);

/// SCTLR_EL1.EE: exceptions taken to EL1 are big-endian.
pub const SCTLR_EL1_EE: u64 = 1 << 25;

impl RecContext {
    /// The state of a REC at creation or PSCI_CPU_ON: `pc`, X0–X7 given, the rest zero.
    pub fn reset(pc: u64, x0_7: &[u64; 8]) -> Self {
        let mut ctx = Self { pc, pstate: PSTATE_EL1H_MASKED, ..Self::default() };
        ctx.gprs[..8].copy_from_slice(x0_7);
        ctx.el1.sctlr = SCTLR_EL1_RESET;
        ctx
    }
}
