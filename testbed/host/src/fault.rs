//! Synchronous exceptions at NS-EL2: expected faults of a probe access are recorded and skipped;
//! anything else is fatal (reported, then SYSTEM_OFF with a failure status).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::{console, psci};

static ARMED: AtomicBool = AtomicBool::new(false);
static FAULTED: AtomicBool = AtomicBool::new(false);
static ESR: AtomicU64 = AtomicU64::new(0);
static FAR: AtomicU64 = AtomicU64::new(0);

/// Exit status for an unexpected exception in the driver.
pub const EXIT_UNEXPECTED_EXCEPTION: u64 = 99;

/// A recorded fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// ESR_EL2.
    pub esr: u64,
    /// FAR_EL2.
    pub far: u64,
}

impl Fault {
    /// ESR.EC.
    pub const fn ec(&self) -> u64 {
        (self.esr >> 26) & 0x3F
    }

    /// ESR.ISS.DFSC.
    pub const fn dfsc(&self) -> u64 {
        self.esr & 0x3F
    }

    /// A data abort at the current EL with DFSC "Granule Protection Fault, not on a table walk".
    pub const fn is_gpf(&self) -> bool {
        self.ec() == 0x25 && self.dfsc() == 0x28
    }
}

/// Reads the 64-bit word at `pa` (MMU off), returning the fault instead if the access faults.
/// Only the primary CPU uses probes.
pub fn probe_read(pa: u64) -> Result<u64, Fault> {
    FAULTED.store(false, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    let mut value: u64 = 0;
    // SAFETY: a single `ldr` from a physical address (MMU off at NS-EL2). If it faults, the exception
    // handler sees ARMED, records the fault and resumes at the next instruction, leaving `value`.
    // The load is not a Rust reference, so no aliasing rules are involved.
    unsafe {
        core::arch::asm!("ldr {v}, [{a}]", v = inout(reg) value, a = in(reg) pa, options(nostack, readonly))
    };
    ARMED.store(false, Ordering::SeqCst);
    if FAULTED.load(Ordering::SeqCst) {
        Err(Fault {
            esr: ESR.load(Ordering::SeqCst),
            far: FAR.load(Ordering::SeqCst),
        })
    } else {
        Ok(value)
    }
}

#[unsafe(no_mangle)]
extern "C" fn host_sync_exception(esr: u64, far: u64, elr: u64) -> u64 {
    if ARMED.swap(false, Ordering::SeqCst) {
        ESR.store(esr, Ordering::SeqCst);
        FAR.store(far, Ordering::SeqCst);
        FAULTED.store(true, Ordering::SeqCst);
        return elr + 4;
    }
    console::print_unlocked(format_args!(
        "host: FATAL unexpected synchronous exception: ESR_EL2 {esr:#x} FAR_EL2 {far:#x} ELR_EL2 {elr:#x}\n"
    ));
    psci::system_off(EXIT_UNEXPECTED_EXCEPTION)
}

#[unsafe(no_mangle)]
extern "C" fn host_fatal_exception(kind: u64) -> ! {
    console::print_unlocked(format_args!(
        "host: FATAL unexpected exception (vector {kind})\n"
    ));
    psci::system_off(EXIT_UNEXPECTED_EXCEPTION)
}
