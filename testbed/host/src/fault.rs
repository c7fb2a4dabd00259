//! Synchronous exceptions at NS-EL2: expected faults of a probe access are recorded and skipped;
//! anything else is fatal (reported, then SYSTEM_OFF with a failure status).
//!
//! Owns the probe accesses ([`probe_read`], [`probe_write`]): one load or store that may fault, per
//! CPU at a time (each CPU has its own probe state, so a CPU can probe while another one runs a
//! Realm or probes too). Never turns an exception outside an armed probe into anything but a fatal
//! stop.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::entry::MAX_CPUS;
use crate::{console, psci};

/// One CPU's probe state.
struct ProbeState {
    /// A probe instruction is about to run on this CPU: a synchronous exception is its fault.
    armed: AtomicBool,
    /// The probe faulted.
    faulted: AtomicBool,
    /// ESR_EL2 and FAR_EL2 of that fault.
    esr: AtomicU64,
    far: AtomicU64,
}

static PROBES: [ProbeState; MAX_CPUS] = [const {
    ProbeState {
        armed: AtomicBool::new(false),
        faulted: AtomicBool::new(false),
        esr: AtomicU64::new(0),
        far: AtomicU64::new(0),
    }
}; MAX_CPUS];

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

    /// ESR.ISS.WnR: the faulting access was a write.
    pub const fn is_write(&self) -> bool {
        self.esr & (1 << 6) != 0
    }
}

/// This CPU's index (MPIDR_EL1.Aff0; QEMU virt numbers its CPUs 0..n in Aff0).
fn this_cpu() -> usize {
    let mpidr: u64;
    // SAFETY: reads an ID register; no side effects.
    unsafe { core::arch::asm!("mrs {}, mpidr_el1", out(reg) mpidr, options(nomem, nostack)) };
    ((mpidr & 0xFF) as usize).min(MAX_CPUS - 1)
}

/// Arms this CPU's probe, runs `access` (one instruction that may fault) and reports its fault.
fn probe(access: impl FnOnce()) -> Result<(), Fault> {
    let p = &PROBES[this_cpu()];
    p.faulted.store(false, Ordering::SeqCst);
    p.armed.store(true, Ordering::SeqCst);
    access();
    p.armed.store(false, Ordering::SeqCst);
    if p.faulted.load(Ordering::SeqCst) {
        Err(Fault {
            esr: p.esr.load(Ordering::SeqCst),
            far: p.far.load(Ordering::SeqCst),
        })
    } else {
        Ok(())
    }
}

/// Reads the 64-bit word at `pa` (MMU off), returning the fault instead if the access faults.
pub fn probe_read(pa: u64) -> Result<u64, Fault> {
    let mut value: u64 = 0;
    probe(|| {
        // SAFETY: a single `ldr` from a physical address (MMU off at NS-EL2). If it faults, the
        // exception handler sees this CPU's probe armed, records the fault and resumes at the next
        // instruction, leaving `value`. The load is not a Rust reference, so no aliasing rules are
        // involved.
        unsafe {
            core::arch::asm!("ldr {v}, [{a}]", v = inout(reg) value, a = in(reg) pa, options(nostack, readonly))
        };
    })?;
    Ok(value)
}

/// Writes the 64-bit word `value` at `pa` (MMU off), returning the fault instead if the access
/// faults. The caller must own `pa` if the write can succeed: it is a plain store.
pub fn probe_write(pa: u64, value: u64) -> Result<(), Fault> {
    probe(|| {
        // SAFETY: a single `str` to a physical address (MMU off at NS-EL2) that the caller names
        // as memory no Rust object occupies (a granule it delegated, or NS memory it owns). If it
        // faults, the handler records the fault and resumes at the next instruction.
        unsafe {
            core::arch::asm!("str {v}, [{a}]", v = in(reg) value, a = in(reg) pa, options(nostack))
        };
    })
}

#[unsafe(no_mangle)]
extern "C" fn host_sync_exception(esr: u64, far: u64, elr: u64) -> u64 {
    let p = &PROBES[this_cpu()];
    if p.armed.swap(false, Ordering::SeqCst) {
        p.esr.store(esr, Ordering::SeqCst);
        p.far.store(far, Ordering::SeqCst);
        p.faulted.store(true, Ordering::SeqCst);
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
