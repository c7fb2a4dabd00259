//! AArch64 system-register access and barriers for EL3 (firmware builds only).

/// Reads a system register by name or `S<op0>_<op1>_C<n>_C<m>_<op2>` encoding.
macro_rules! read_sysreg {
    ($name:literal) => {{
        let value: u64;
        // SAFETY: reading a system register has no memory effects; every register named at a call
        // site exists on the QEMU `max` CPU or is read only after its ID-register feature check.
        unsafe {
            core::arch::asm!(concat!("mrs {v}, ", $name), v = out(reg) value,
                options(nomem, nostack, preserves_flags))
        };
        value
    }};
}

/// Writes a system register by name or encoding.
macro_rules! write_sysreg {
    ($name:literal, $value:expr) => {{
        let value: u64 = $value;
        // SAFETY: EL3 owns every system register it writes; call sites write lower-EL context
        // registers (no effect on EL3 execution) or EL3 configuration during init, and only
        // registers that exist (checked against the ID registers where they are optional).
        unsafe {
            core::arch::asm!(concat!("msr ", $name, ", {v}"), v = in(reg) value,
                options(nostack, preserves_flags))
        };
    }};
}

pub(crate) use {read_sysreg, write_sysreg};

/// `ISB`.
#[inline(always)]
pub fn isb() {
    // SAFETY: a barrier instruction has no operands and cannot violate memory safety.
    unsafe { core::arch::asm!("isb", options(nostack, preserves_flags)) };
}

/// `DSB SY`.
#[inline(always)]
pub fn dsb_sy() {
    // SAFETY: a barrier instruction has no operands and cannot violate memory safety.
    unsafe { core::arch::asm!("dsb sy", options(nostack, preserves_flags)) };
}

/// `DSB OSH`.
#[inline(always)]
pub fn dsb_osh() {
    // SAFETY: a barrier instruction has no operands and cannot violate memory safety.
    unsafe { core::arch::asm!("dsb osh", options(nostack, preserves_flags)) };
}

/// `DSB OSHST`.
#[inline(always)]
pub fn dsb_oshst() {
    // SAFETY: a barrier instruction has no operands and cannot violate memory safety.
    unsafe { core::arch::asm!("dsb oshst", options(nostack, preserves_flags)) };
}

/// `WFI`: sleep until an interrupt is pending (the caller re-checks its condition).
#[inline(always)]
pub fn wfi() {
    // SAFETY: WFI only suspends execution until a wake-up event.
    unsafe { core::arch::asm!("wfi", options(nomem, nostack, preserves_flags)) };
}

/// `TLBI PAALL` (this PE): invalidate cached GPT information.
#[inline(always)]
pub fn tlbi_paall() {
    // SAFETY: `sys #6, c8, c7, #4` is TLBI PAALL; it only drops cached GPT entries.
    unsafe { core::arch::asm!("sys #6, c8, c7, #4", options(nostack, preserves_flags)) };
}

/// `TLBI RPALOS` for one 4 KiB granule: drop cached GPT information for `pa` on all PEs.
#[inline(always)]
pub fn tlbi_rpalos_4k(pa: u64) {
    let xt = pa >> 12; // SIZE [47:44] = 0 (4 KB), BaseADDR [39:0] = PA[51:12]
    // SAFETY: `sys #6, c8, c4, #7` is TLBI RPALOS; it only drops cached GPT entries.
    unsafe {
        core::arch::asm!("sys #6, c8, c4, #7, {x}", x = in(reg) xt, options(nostack, preserves_flags))
    };
}

/// `DC CIPAPA`: clean and invalidate `pa` in the PAS selected by bits [63:62] (NS, NSE) to the PoPA.
#[inline(always)]
pub fn dc_cipapa(pa_with_pas: u64) {
    // SAFETY: `sys #6, c7, c14, #1` is DC CIPAPA; cleaning and invalidating a line by PA keeps its
    // data (dirty data is written back) and needs no mapping.
    unsafe {
        core::arch::asm!("sys #6, c7, c14, #1, {x}", x = in(reg) pa_with_pas, options(nostack, preserves_flags))
    };
}

/// `DC CIPAPA` PAS bits (NS = bit 63, NSE = bit 62).
pub mod pas_bits {
    /// Non-secure PAS: NS = 1, NSE = 0.
    pub const NS: u64 = 1 << 63;
    /// Realm PAS: NS = 1, NSE = 1.
    pub const REALM: u64 = (1 << 63) | (1 << 62);
}

/// This CPU's MPIDR_EL1.
pub fn mpidr() -> u64 {
    read_sysreg!("mpidr_el1")
}

/// This CPU's linear index (MPIDR Aff0; the reset code parks any other CPU).
pub fn this_cpu() -> usize {
    (mpidr() & 0xFF) as usize
}
