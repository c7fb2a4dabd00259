//! Per-CPU, per-world register contexts and the world-switch register set.
//!
//! While a lower EL runs, SP_EL3 points at that world's [`WorldContext`]. The exception entry code
//! (`entry.rs`) stores x0–x30, SP_EL0, ELR_EL3 and SPSR_EL3 into it, switches to the CPU's EL3
//! stack (`el3_stack_top`) and calls the Rust handler, which returns the context to resume; the exit
//! code loads SCR_EL3, ELR_EL3, SPSR_EL3, SP_EL0 and x0–x30 from it and ERETs. The EL2 system
//! registers and PAuth keys ([`El2Sysregs`]) are saved and restored by Rust only when the world
//! changes (see [`switch_el2`]).

use core::mem::offset_of;

/// The two lower worlds this monitor runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum World {
    /// Non-secure (host, NS-EL2).
    NonSecure = 0,
    /// Realm (the RMM at R-EL2).
    Realm = 1,
}

/// The EL2 (and PAuth) registers switched between worlds; the set of TF-A's
/// `cm_el2_sysregs_context_save/restore` plus the GIC EL2 registers (interface < 1.0) and the PAuth
/// keys. Feature-gated registers are switched only when the feature is present.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct El2Sysregs {
    pub actlr: u64,
    pub afsr0: u64,
    pub afsr1: u64,
    pub amair: u64,
    pub cnthctl: u64,
    pub cntvoff: u64,
    pub cptr: u64,
    pub elr: u64,
    pub esr: u64,
    pub far: u64,
    pub hacr: u64,
    pub hcr: u64,
    pub hpfar: u64,
    pub hstr: u64,
    pub mair: u64,
    pub mdcr: u64,
    pub sctlr: u64,
    pub spsr: u64,
    pub sp: u64,
    pub tcr: u64,
    pub tpidr: u64,
    pub vbar: u64,
    pub vmpidr: u64,
    pub vpidr: u64,
    pub vtcr: u64,
    pub ttbr0: u64,
    pub vttbr: u64,
    // VHE
    pub contextidr: u64,
    pub ttbr1: u64,
    // GIC EL2 (saved by EL3 for RMM-EL3 interface < 1.0)
    pub icc_sre: u64,
    pub ich_hcr: u64,
    pub ich_vmcr: u64,
    // feature-gated
    pub hfgrtr: u64,
    pub hfgwtr: u64,
    pub hfgitr: u64,
    pub hdfgrtr: u64,
    pub hdfgwtr: u64,
    pub cntpoff: u64,
    pub vdisr: u64,
    pub vsesr: u64,
    pub hcrx: u64,
    pub tcr2: u64,
    pub sctlr2: u64,
    pub pire0: u64,
    pub pir: u64,
    pub s2pir: u64,
    pub por: u64,
    pub gcscr: u64,
    pub gcspr: u64,
    pub tfsr: u64,
    pub mpam2: u64,
    pub vncr: u64,
    pub trfcr: u64,
    pub scxtnum: u64,
    /// APIA, APIB, APDA, APDB, APGA keys (lo, hi each).
    pub pauth: [u64; 10],
}

/// SCTLR_EL2 RES1 bits (EL2 MMU and caches off) — the initial value for both worlds.
pub const SCTLR_EL2_RES1: u64 = (1 << 4)
    | (1 << 5)
    | (1 << 11)
    | (1 << 16)
    | (1 << 18)
    | (1 << 22)
    | (1 << 23)
    | (1 << 28)
    | (1 << 29);
/// ICC_SRE_EL2 initial value: SRE | DFB | DIB | Enable.
pub const ICC_SRE_EL2_INIT: u64 = 0xF;

/// One world's saved state on one CPU.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug)]
pub struct WorldContext {
    /// x0–x30.
    pub gpr: [u64; 31],
    /// SP_EL0.
    pub sp_el0: u64,
    /// ELR_EL3: where the world resumes.
    pub elr_el3: u64,
    /// SPSR_EL3: the world's PSTATE.
    pub spsr_el3: u64,
    /// SCR_EL3 while this world runs (NS / NSE select the world).
    pub scr_el3: u64,
    /// The CPU's EL3 stack top, loaded into SP on exception entry.
    pub el3_stack_top: u64,
    /// Which world this is.
    pub world: World,
    /// The CPU this context belongs to.
    pub cpu: u64,
    /// EL2 registers and PAuth keys (Rust only).
    pub el2: El2Sysregs,
}

impl WorldContext {
    /// A zeroed context of `world` on `cpu`.
    pub const fn new(world: World, cpu: u64) -> Self {
        WorldContext {
            gpr: [0; 31],
            sp_el0: 0,
            elr_el3: 0,
            spsr_el3: 0,
            scr_el3: 0,
            el3_stack_top: 0,
            world,
            cpu,
            el2: El2Sysregs {
                actlr: 0,
                afsr0: 0,
                afsr1: 0,
                amair: 0,
                cnthctl: 0,
                cntvoff: 0,
                cptr: 0,
                elr: 0,
                esr: 0,
                far: 0,
                hacr: 0,
                hcr: 0,
                hpfar: 0,
                hstr: 0,
                mair: 0,
                mdcr: 0,
                sctlr: 0,
                spsr: 0,
                sp: 0,
                tcr: 0,
                tpidr: 0,
                vbar: 0,
                vmpidr: 0,
                vpidr: 0,
                vtcr: 0,
                ttbr0: 0,
                vttbr: 0,
                contextidr: 0,
                ttbr1: 0,
                icc_sre: 0,
                ich_hcr: 0,
                ich_vmcr: 0,
                hfgrtr: 0,
                hfgwtr: 0,
                hfgitr: 0,
                hdfgrtr: 0,
                hdfgwtr: 0,
                cntpoff: 0,
                vdisr: 0,
                vsesr: 0,
                hcrx: 0,
                tcr2: 0,
                sctlr2: 0,
                pire0: 0,
                pir: 0,
                s2pir: 0,
                por: 0,
                gcscr: 0,
                gcspr: 0,
                tfsr: 0,
                mpam2: 0,
                vncr: 0,
                trfcr: 0,
                scxtnum: 0,
                pauth: [0; 10],
            },
        }
    }

    /// Resets the context for a fresh entry at EL2h (DAIF masked) at `entry` with x0..x3 = `args`.
    pub fn reset_for_entry(
        &mut self,
        scr_el3: u64,
        entry: u64,
        args: [u64; 4],
        el2_init: El2Sysregs,
    ) {
        let (world, cpu, stack) = (self.world, self.cpu, self.el3_stack_top);
        *self = WorldContext::new(world, cpu);
        self.el3_stack_top = stack;
        self.gpr[..4].copy_from_slice(&args);
        self.elr_el3 = entry;
        self.spsr_el3 = SPSR_EL2H_DAIF_MASKED;
        self.scr_el3 = scr_el3;
        self.el2 = el2_init;
    }
}

/// SPSR for entering EL2h with D, A, I, F masked.
pub const SPSR_EL2H_DAIF_MASKED: u64 = 0x3C9;

/// Byte offsets the assembly uses (checked below).
pub mod offsets {
    use super::*;
    /// `gpr[0]`.
    pub const GPR: usize = offset_of!(WorldContext, gpr);
    /// `sp_el0`.
    pub const SP_EL0: usize = offset_of!(WorldContext, sp_el0);
    /// `elr_el3`.
    pub const ELR_EL3: usize = offset_of!(WorldContext, elr_el3);
    /// `spsr_el3`.
    pub const SPSR_EL3: usize = offset_of!(WorldContext, spsr_el3);
    /// `scr_el3`.
    pub const SCR_EL3: usize = offset_of!(WorldContext, scr_el3);
    /// `el3_stack_top`.
    pub const STACK_TOP: usize = offset_of!(WorldContext, el3_stack_top);
}

const _: () = {
    // `stp`/`ldp` of x0..x29 use signed 7-bit scaled immediates (max 504); ldr/str of the others
    // use unsigned 12-bit scaled immediates (max 32760). All offsets must be 8-byte aligned.
    assert!(offsets::GPR == 0);
    assert!(offsets::GPR + 30 * 8 <= 504);
    assert!(offsets::SP_EL0.is_multiple_of(8) && offsets::SP_EL0 <= 32760);
    assert!(offsets::ELR_EL3.is_multiple_of(8) && offsets::ELR_EL3 <= 32760);
    assert!(offsets::SPSR_EL3.is_multiple_of(8) && offsets::SPSR_EL3 <= 32760);
    assert!(offsets::SCR_EL3.is_multiple_of(8) && offsets::SCR_EL3 <= 32760);
    assert!(offsets::STACK_TOP.is_multiple_of(8) && offsets::STACK_TOP <= 32760);
    assert!(core::mem::align_of::<WorldContext>() >= 16);
};

#[cfg(target_os = "none")]
pub use hw::{restore_el2, switch_el2};

#[cfg(target_os = "none")]
mod hw {
    use super::El2Sysregs;
    use crate::arch::{isb, read_sysreg, write_sysreg};
    use crate::features::Features;

    macro_rules! save_regs {
        ($r:ident; $($field:ident = $name:literal),* $(,)?) => { $( $r.$field = read_sysreg!($name); )* };
    }
    macro_rules! restore_regs {
        ($r:ident; $($field:ident = $name:literal),* $(,)?) => { $( write_sysreg!($name, $r.$field); )* };
    }
    macro_rules! el2_regs {
        ($mac:ident, $r:ident, $f:ident) => {
            $mac!($r;
                actlr = "actlr_el2", afsr0 = "afsr0_el2", afsr1 = "afsr1_el2", amair = "amair_el2",
                cnthctl = "cnthctl_el2", cntvoff = "cntvoff_el2", cptr = "cptr_el2", elr = "elr_el2",
                esr = "esr_el2", far = "far_el2", hacr = "hacr_el2", hcr = "hcr_el2", hpfar = "hpfar_el2",
                hstr = "hstr_el2", mair = "mair_el2", mdcr = "mdcr_el2", sctlr = "sctlr_el2",
                spsr = "spsr_el2", sp = "sp_el2", tcr = "tcr_el2", tpidr = "tpidr_el2", vbar = "vbar_el2",
                vmpidr = "vmpidr_el2", vpidr = "vpidr_el2", vtcr = "vtcr_el2", ttbr0 = "ttbr0_el2",
                vttbr = "vttbr_el2",
                contextidr = "S3_4_C13_C0_1", ttbr1 = "S3_4_C2_C0_1",
                icc_sre = "S3_4_C12_C9_5", ich_hcr = "S3_4_C12_C11_0", ich_vmcr = "S3_4_C12_C11_7",
            );
            if $f.fgt {
                $mac!($r; hfgrtr = "S3_4_C1_C1_4", hfgwtr = "S3_4_C1_C1_5", hfgitr = "S3_4_C1_C1_6",
                    hdfgrtr = "S3_4_C3_C1_4", hdfgwtr = "S3_4_C3_C1_5");
            }
            if $f.ecv_poff { $mac!($r; cntpoff = "S3_4_C14_C0_6"); }
            if $f.ras { $mac!($r; vdisr = "S3_4_C12_C1_1", vsesr = "S3_4_C5_C2_3"); }
            if $f.hcx { $mac!($r; hcrx = "S3_4_C1_C2_2"); }
            if $f.tcr2 { $mac!($r; tcr2 = "S3_4_C2_C0_3"); }
            if $f.sctlr2 { $mac!($r; sctlr2 = "S3_4_C1_C0_3"); }
            if $f.s1pie { $mac!($r; pire0 = "S3_4_C10_C2_2", pir = "S3_4_C10_C2_3"); }
            if $f.s2pie { $mac!($r; s2pir = "S3_4_C10_C2_5"); }
            if $f.s1poe { $mac!($r; por = "S3_4_C10_C2_4"); }
            if $f.gcs { $mac!($r; gcscr = "S3_4_C2_C5_0", gcspr = "S3_4_C2_C5_1"); }
            if $f.mte2 { $mac!($r; tfsr = "S3_4_C5_C6_0"); }
            if $f.mpam { $mac!($r; mpam2 = "S3_4_C10_C5_0"); }
            if $f.nv2 { $mac!($r; vncr = "S3_4_C2_C2_0"); }
            if $f.trf { $mac!($r; trfcr = "S3_4_C1_C2_1"); }
            if $f.csv2_2 { $mac!($r; scxtnum = "S3_4_C13_C0_7"); }
        };
    }

    /// Saves this CPU's EL2 registers and PAuth keys into `regs`.
    fn save_el2(regs: &mut El2Sysregs, features: &Features) {
        el2_regs!(save_regs, regs, features);
        if features.pauth {
            let k = &mut regs.pauth;
            k[0] = read_sysreg!("S3_0_C2_C1_0");
            k[1] = read_sysreg!("S3_0_C2_C1_1");
            k[2] = read_sysreg!("S3_0_C2_C1_2");
            k[3] = read_sysreg!("S3_0_C2_C1_3");
            k[4] = read_sysreg!("S3_0_C2_C2_0");
            k[5] = read_sysreg!("S3_0_C2_C2_1");
            k[6] = read_sysreg!("S3_0_C2_C2_2");
            k[7] = read_sysreg!("S3_0_C2_C2_3");
            k[8] = read_sysreg!("S3_0_C2_C3_0");
            k[9] = read_sysreg!("S3_0_C2_C3_1");
        }
    }

    /// Loads this CPU's EL2 registers and PAuth keys from `regs`.
    pub fn restore_el2(regs: &El2Sysregs, features: &Features) {
        el2_regs!(restore_regs, regs, features);
        if features.pauth {
            let k = &regs.pauth;
            write_sysreg!("S3_0_C2_C1_0", k[0]);
            write_sysreg!("S3_0_C2_C1_1", k[1]);
            write_sysreg!("S3_0_C2_C1_2", k[2]);
            write_sysreg!("S3_0_C2_C1_3", k[3]);
            write_sysreg!("S3_0_C2_C2_0", k[4]);
            write_sysreg!("S3_0_C2_C2_1", k[5]);
            write_sysreg!("S3_0_C2_C2_2", k[6]);
            write_sysreg!("S3_0_C2_C2_3", k[7]);
            write_sysreg!("S3_0_C2_C3_0", k[8]);
            write_sysreg!("S3_0_C2_C3_1", k[9]);
        }
        isb();
    }

    /// Saves the running world's EL2 state into `from` and loads `to`'s.
    pub fn switch_el2(from: &mut El2Sysregs, to: &El2Sysregs, features: &Features) {
        save_el2(from, features);
        restore_el2(to, features);
    }
}
