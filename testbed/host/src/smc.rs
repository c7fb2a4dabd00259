//! The SMC conduit: X0–X7 in, X0–X17 out (SMCCC 1.2).

use crate::rmi::Conduit;

/// Issues an SMC with X0–X7 = `regs` and X8–X17 = `high`; returns X0–X17 after the call.
pub fn smc_full(regs: [u64; 8], high: [u64; 10]) -> [u64; 18] {
    let mut r = [0u64; 18];
    r[..8].copy_from_slice(&regs);
    r[8..].copy_from_slice(&high);
    // SAFETY: an SMC to EL3; per SMCCC it may change X0–X17 only, all of which are declared as
    // outputs, and it does not access this program's memory.
    unsafe {
        core::arch::asm!("smc #0",
            inout("x0") r[0], inout("x1") r[1], inout("x2") r[2], inout("x3") r[3],
            inout("x4") r[4], inout("x5") r[5], inout("x6") r[6], inout("x7") r[7],
            inout("x8") r[8], inout("x9") r[9], inout("x10") r[10], inout("x11") r[11],
            inout("x12") r[12], inout("x13") r[13], inout("x14") r[14], inout("x15") r[15],
            inout("x16") r[16], inout("x17") r[17],
            options(nostack));
    }
    r
}

/// Issues an SMC with up to 8 argument registers; returns X0–X3.
pub fn smc(regs: [u64; 8]) -> [u64; 4] {
    let r = smc_full(regs, [0; 10]);
    [r[0], r[1], r[2], r[3]]
}

/// The SMC conduit for the RMI client.
pub struct Smc;

impl Conduit for Smc {
    fn call(&mut self, regs: [u64; 8]) -> [u64; 5] {
        let r = smc_full(regs, [0; 10]);
        [r[0], r[1], r[2], r[3], r[4]]
    }
}
