//! System-register access, barriers and TLB maintenance for R-EL2 (the few instructions Warden
//! needs, as `asm!` — no crate has TLBI or the GIC/RME registers this needs).
//!
//! Reads are safe: the registers read here have no side effects. Writes are `unsafe` macros that
//! expand to bare `asm!`, so each call site states in its own `// SAFETY:` why that write is sound.

/// Reads a system register by name (or `S<op0>_<op1>_C<n>_C<m>_<op2>` encoding) as `u64`.
macro_rules! read_sysreg {
    ($name:literal) => {{
        let value: u64;
        // SAFETY: reading this system register at EL2 has no side effects and touches no memory.
        unsafe {
            core::arch::asm!(concat!("mrs {}, ", $name), out(reg) value, options(nomem, nostack, preserves_flags))
        };
        value
    }};
}

/// Writes a system register; expands to a bare `asm!` that the caller wraps in `unsafe`.
/// Not `nomem`: a write may change how memory is translated, so it also orders memory accesses
/// for the compiler (the hardware ordering is the caller's `isb`/`dsb`).
macro_rules! write_sysreg {
    ($name:literal, $value:expr) => {
        core::arch::asm!(concat!("msr ", $name, ", {}"), in(reg) $value, options(nostack, preserves_flags))
    };
}

pub(crate) use {read_sysreg, write_sysreg};

/// `ISB`.
#[inline(always)]
pub fn isb() {
    // SAFETY: a barrier has no effect on memory safety.
    unsafe { core::arch::asm!("isb", options(nostack, preserves_flags)) };
}

/// `DSB ISH`: completes earlier memory accesses and TLB maintenance in the inner-shareable domain.
#[inline(always)]
pub fn dsb_ish() {
    // SAFETY: a barrier has no effect on memory safety.
    unsafe { core::arch::asm!("dsb ish", options(nostack, preserves_flags)) };
}

/// `DSB ISHST`: completes earlier stores before the following TLB maintenance.
#[inline(always)]
pub fn dsb_ishst() {
    // SAFETY: a barrier has no effect on memory safety.
    unsafe { core::arch::asm!("dsb ishst", options(nostack, preserves_flags)) };
}

/// `WFE`.
#[inline(always)]
pub fn wfe() {
    // SAFETY: waiting for an event has no effect on memory.
    unsafe { core::arch::asm!("wfe", options(nomem, nostack, preserves_flags)) };
}

/// Whether the EL2 stage-1 MMU is on (`SCTLR_EL2.M`). While it is off every data access is
/// Device-nGnRnE, so code that may run that early must avoid atomics read-modify-writes.
#[inline]
pub fn mmu_enabled() -> bool {
    read_sysreg!("sctlr_el2") & 1 != 0
}

/// `TLBI VMALLS12E1IS` for the VMID currently in `VTTBR_EL2`.
///
/// # Safety
/// Only invalidates TLB entries; the caller must have loaded the intended VMID into `VTTBR_EL2`
/// and must complete it with `DSB ISH`.
#[inline(always)]
pub unsafe fn tlbi_vmalls12e1is() {
    // SAFETY: TLB invalidation never makes a valid translation unsafe (the caller's contract).
    unsafe { core::arch::asm!("tlbi vmalls12e1is", options(nostack, preserves_flags)) };
}

/// `TLBI VMALLE1IS` (stage-1 and combined entries) for the VMID currently in `VTTBR_EL2`.
///
/// # Safety
/// As [`tlbi_vmalls12e1is`].
#[inline(always)]
pub unsafe fn tlbi_vmalle1is() {
    // SAFETY: as above.
    unsafe { core::arch::asm!("tlbi vmalle1is", options(nostack, preserves_flags)) };
}

/// `TLBI IPAS2E1IS, Xt` with `Xt = IPA >> 12` (stage-2 entries of one IPA page, any level).
///
/// # Safety
/// As [`tlbi_vmalls12e1is`].
#[inline(always)]
pub unsafe fn tlbi_ipas2e1is(ipa: u64) {
    let operand = (ipa >> 12) & ((1 << 36) - 1);
    // SAFETY: as above.
    unsafe {
        core::arch::asm!("tlbi ipas2e1is, {}", in(reg) operand, options(nostack, preserves_flags))
    };
}
