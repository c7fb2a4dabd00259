//! Exceptions Warden injects into a Realm (an SEA for an access to EMPTY or out-of-range memory, an
//! Undefined Instruction for HVC), built on the REC's saved state as the architecture would take
//! them to EL1. Pure functions.

use super::context::{PSTATE_EL1H_MASKED, RecContext};

/// ESR exception classes used here.
pub mod ec {
    /// Unknown reason (an undefined instruction).
    pub const UNKNOWN: u64 = 0x00;
    /// Instruction abort from a lower EL.
    pub const IABT_LOWER: u64 = 0x20;
    /// Instruction abort from the current EL.
    pub const IABT_CURRENT: u64 = 0x21;
    /// Data abort from a lower EL.
    pub const DABT_LOWER: u64 = 0x24;
    /// Data abort from the current EL.
    pub const DABT_CURRENT: u64 = 0x25;
}

/// ESR.IL: a 32-bit instruction.
pub const ESR_IL: u64 = 1 << 25;
/// Fault status code: synchronous external abort, not on a table walk.
pub const FSC_SEA: u64 = 0x10;

/// What to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injected {
    /// An Undefined Instruction exception for the instruction *before* the REC's PC (a trapped HVC,
    /// whose preferred return address is the next instruction).
    UndefPrevious,
    /// An Undefined Instruction exception for the instruction at the REC's PC (a trapped system
    /// register access Warden does not emulate).
    UndefCurrent,
    /// A synchronous external abort on a data access at the REC's PC, to virtual address `far`.
    DataAbort {
        /// The faulting virtual address (FAR_EL2 at the trap).
        far: u64,
    },
    /// A synchronous external abort on an instruction fetch at the REC's PC.
    InstructionAbort {
        /// The faulting virtual address.
        far: u64,
    },
}

/// Takes the exception `what` to the Realm's EL1: saves PSTATE and the return address in
/// SPSR_EL1/ELR_EL1, sets ESR_EL1 (and FAR_EL1 for aborts), masks interrupts at EL1h and moves the PC
/// to the right entry of VBAR_EL1 (current EL with SP_EL0 / SP_ELx, or lower EL AArch64).
pub fn inject(ctx: &mut RecContext, what: Injected) {
    let from_el1 = (ctx.pstate >> 2) & 0b11 == 1;
    let sp_elx = ctx.pstate & 1 == 1;
    let vector = match (from_el1, sp_elx) {
        (true, false) => 0x000,
        (true, true) => 0x200,
        (false, _) => 0x400,
    };
    let (esr, elr, far) = match what {
        Injected::UndefPrevious => (ec::UNKNOWN << 26 | ESR_IL, ctx.pc.wrapping_sub(4), None),
        Injected::UndefCurrent => (ec::UNKNOWN << 26 | ESR_IL, ctx.pc, None),
        Injected::DataAbort { far } => {
            let class = if from_el1 { ec::DABT_CURRENT } else { ec::DABT_LOWER };
            (class << 26 | ESR_IL | FSC_SEA, ctx.pc, Some(far))
        }
        Injected::InstructionAbort { far } => {
            let class = if from_el1 { ec::IABT_CURRENT } else { ec::IABT_LOWER };
            (class << 26 | ESR_IL | FSC_SEA, ctx.pc, Some(far))
        }
    };
    ctx.el1.esr = esr;
    if let Some(far) = far {
        ctx.el1.far = far;
    }
    ctx.el1.elr = elr;
    ctx.el1.spsr = ctx.pstate;
    ctx.pstate = PSTATE_EL1H_MASKED;
    ctx.pc = ctx.el1.vbar + vector;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx_at(pstate: u64) -> RecContext {
        let mut c = RecContext { pc: 0x8000_1000, pstate, ..RecContext::default() };
        c.el1.vbar = 0x8020_0000;
        c
    }

    #[test]
    fn sea_from_el1h_goes_to_current_el_spx() {
        let mut c = ctx_at(0x3C5);
        inject(&mut c, Injected::DataAbort { far: 0xdead_0000 });
        assert_eq!(c.pc, 0x8020_0200);
        assert_eq!(c.el1.elr, 0x8000_1000);
        assert_eq!(c.el1.spsr, 0x3C5);
        assert_eq!(c.el1.esr, (0x25 << 26) | (1 << 25) | 0x10);
        assert_eq!(c.el1.far, 0xdead_0000);
        assert_eq!(c.pstate, 0x3C5);
    }

    #[test]
    fn sea_from_el0_goes_to_lower_el_vector() {
        let mut c = ctx_at(0x0);
        inject(&mut c, Injected::InstructionAbort { far: 0x4000 });
        assert_eq!(c.pc, 0x8020_0400);
        assert_eq!(c.el1.esr >> 26, 0x20);
        let mut c = ctx_at(0x3C4); // EL1t
        inject(&mut c, Injected::DataAbort { far: 0 });
        assert_eq!(c.pc, 0x8020_0000);
    }

    #[test]
    fn undef_for_hvc_returns_to_the_hvc() {
        let mut c = ctx_at(0x3C5);
        inject(&mut c, Injected::UndefPrevious);
        assert_eq!(c.el1.elr, 0x8000_0FFC);
        assert_eq!(c.el1.esr, 1 << 25);
    }
}
