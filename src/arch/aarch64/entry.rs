//! The entry point (`_start`, the image's first instruction): relocation, cold and warm boot up to
//! the first Rust code, stacks, and turning the MMU on.
//!
//! EL3 enters at `_start` in R-EL2h with the MMU off and DAIF masked, with (RMM ↔ EL3 interface 0.x,
//! as TF-A v2.12 delivers it) x0 = linear CPU index, and at cold boot x1 = interface version,
//! x2 = CPU count, x3 = shared buffer PA; at warm boot (PSCI CPU_ON) x1–x3 are RES0.
//!
//! Cold or warm is decided by `COLD_BOOT_PENDING`, a word of `.data` that is 1 in the image and
//! cleared once the cold boot has relocated the image and built the page tables (like TF-RMM's
//! `cold_boot_flag`). EL3 runs the cold boot on one CPU and only starts others (warm boots) after
//! its `RMM_BOOT_COMPLETE`, so the cold boot runs alone.
//!
//! Cold boot, with the MMU off:
//! 1. apply every `R_AARCH64_RELATIVE` relocation of `.rela.dyn` for the load address (anything
//!    else → `RMM_BOOT_COMPLETE(UNKNOWN)`), zero `.bss`;
//! 2. set up this CPU's stacks (CPU index clamped: a bad index is reported by step 3) and call
//!    `boot::cold_early` (Rust, MMU off): validate the boot arguments and the manifest, start the
//!    console, build the page tables and [`BootParams`]; it reports failures to EL3 itself;
//! 3. clear `COLD_BOOT_PENDING`, invalidate the data cache over the image (everything so far was
//!    written with the cache off), turn the MMU on and call `boot::cold_main`.
//!
//! Warm boot: check x0 against the CPU count, set up stacks, turn the MMU on with the cold boot's
//! [`BootParams`] and call `boot::warm_main`.

use core::cell::UnsafeCell;
use core::mem::offset_of;
use core::sync::atomic::AtomicU32;

use warden_abi::fid::el3::BOOT_COMPLETE;
use warden_abi::status::BootError;

use super::boot::{cold_early, cold_main, warm_main};
use super::layout::{EXCEPTION_STACK_TOP, MAIN_STACK_TOP, MAX_CPUS, STACK_SLOT_SIZE, STACKS};
use super::mmu::{HCR, SCTLR_MMU_OFF};

/// What every CPU needs to turn its MMU on, written by the cold boot with the MMU off (so it is in
/// memory, where a warm-booting CPU with its MMU and caches off reads it). Its own cache lines.
#[repr(C, align(128))]
#[derive(Clone, Copy, Debug, Default)]
pub struct BootParams {
    /// `MAIR_EL2`.
    pub mair: u64,
    /// `TCR_EL2`.
    pub tcr: u64,
    /// `TTBR0_EL2`.
    pub ttbr0: u64,
    /// `SCTLR_EL2` with the MMU on.
    pub sctlr: u64,
    /// CPU count from the cold boot (x2): warm boots with x0 at or above it are refused.
    pub num_cpus: u64,
}

const _: () = {
    assert!(offset_of!(BootParams, mair) + 8 == offset_of!(BootParams, tcr));
    assert!(offset_of!(BootParams, ttbr0) + 8 == offset_of!(BootParams, sctlr));
    assert!(offset_of!(BootParams, num_cpus) % 8 == 0);
};

/// A value written only by the cold-boot CPU while no other CPU runs Warden (transparent: the
/// assembly addresses the value through the cell's symbol).
#[repr(transparent)]
pub struct ColdBootCell<T>(UnsafeCell<T>);

// SAFETY: written only during the cold boot, before EL3 starts any other CPU in Warden; read-only
// afterwards (see the module docs).
unsafe impl<T: Sync> Sync for ColdBootCell<T> {}

impl<T: Copy> ColdBootCell<T> {
    /// A cell holding `v`.
    pub const fn new(v: T) -> Self {
        Self(UnsafeCell::new(v))
    }

    /// Replaces the value.
    ///
    /// # Safety
    /// Only on the cold-boot CPU, before `RMM_BOOT_COMPLETE`, with no reference to the value alive.
    pub unsafe fn set(&self, v: T) {
        // SAFETY: no other CPU runs and no reference exists (the caller's contract).
        unsafe { *self.0.get() = v };
    }

    /// The value.
    pub fn get(&self) -> T {
        // SAFETY: after the cold boot the value never changes; during it only this CPU runs.
        unsafe { *self.0.get() }
    }
}

/// The parameters for turning the MMU on (see [`BootParams`]).
pub static BOOT_PARAMS: ColdBootCell<BootParams> = ColdBootCell::new(BootParams {
    mair: 0,
    tcr: 0,
    ttbr0: 0,
    sctlr: 0,
    num_cpus: 0,
});

/// 1 until the cold boot has relocated the image and built the page tables (in `.data`: the
/// image carries the 1, so it is valid before anything has run).
static COLD_BOOT_PENDING: AtomicU32 = AtomicU32::new(1);

/// `R_AARCH64_RELATIVE`.
const R_AARCH64_RELATIVE: u64 = 1027;

core::arch::global_asm!(
    r#"
    .pushsection .text.warden_entry, "ax"
    .global _start
    .type _start, %function
_start:
    msr daifset, #0xf
    mov x19, x0
    mov x20, x1
    mov x21, x2
    mov x22, x3
    ldr x9, ={sctlr_off}
    msr sctlr_el2, x9
    ldr x9, ={hcr}
    msr hcr_el2, x9
    adrp x9, warden_vectors
    add x9, x9, :lo12:warden_vectors
    msr vbar_el2, x9
    isb
    adrp x9, {pending}
    ldr w10, [x9, :lo12:{pending}]
    cbz w10, warden_warm_entry

    // ---- Cold boot: relocate (delta = run-time base - link-time base).
    adrp x9, __image_start
    add x9, x9, :lo12:__image_start
    adrp x10, __link_base
    ldr x10, [x10, :lo12:__link_base]
    sub x11, x9, x10
    adrp x12, __rela_start
    add x12, x12, :lo12:__rela_start
    adrp x13, __rela_end
    add x13, x13, :lo12:__rela_end
warden_reloc_loop:
    cmp x12, x13
    b.hs warden_reloc_done
    ldp x14, x15, [x12], #16
    ldr x16, [x12], #8
    cmp x15, #{r_relative}
    b.ne warden_boot_unknown
    add x14, x14, x11
    add x16, x16, x11
    str x16, [x14]
    b warden_reloc_loop
warden_reloc_done:
    // Relocations only ever patch data, but make sure no stale instruction is fetched anyway.
    ic iallu
    dsb nsh
    isb
    adrp x12, __bss_start
    add x12, x12, :lo12:__bss_start
    adrp x13, __bss_end
    add x13, x13, :lo12:__bss_end
warden_bss_loop:
    cmp x12, x13
    b.hs warden_bss_done
    stp xzr, xzr, [x12], #16
    b warden_bss_loop
warden_bss_done:
    mov x9, x19
    cmp x9, #{max_cpus}
    csel x9, x9, xzr, lo
    bl warden_set_stacks
    mov x0, x19
    mov x1, x20
    mov x2, x21
    mov x3, x22
    bl {cold_early}
    adrp x9, {pending}
    str wzr, [x9, :lo12:{pending}]
    adrp x0, __image_start
    add x0, x0, :lo12:__image_start
    adrp x1, __image_end
    add x1, x1, :lo12:__image_end
    bl warden_inv_dcache
    bl warden_enable_mmu
    mov x0, x19
    bl {cold_main}
    b warden_park

    // ---- Warm boot.
warden_warm_entry:
    adrp x9, {params}
    add x9, x9, :lo12:{params}
    ldr x10, [x9, #{p_num_cpus}]
    cmp x19, x10
    b.hs warden_warm_bad_cpu
    mov x9, x19
    bl warden_set_stacks
    bl warden_enable_mmu
    mov x0, x19
    bl {warm_main}
    b warden_park
warden_warm_bad_cpu:
    ldr x0, ={boot_complete}
    ldr x1, ={cpu_id_out_of_range}
    smc #0
    b warden_park

warden_boot_unknown:
    ldr x0, ={boot_complete}
    ldr x1, ={unknown}
    smc #0
warden_park:
    wfe
    b warden_park

    // x9 = CPU index: SP_EL2 = its exception stack, SP_EL0 = its main stack (selected), TPIDR_EL2
    // = the index. Clobbers x10-x12.
warden_set_stacks:
    adrp x10, {stacks}
    add x10, x10, :lo12:{stacks}
    ldr x11, ={slot_size}
    madd x10, x9, x11, x10
    ldr x11, ={exc_top}
    add x12, x10, x11
    msr spsel, #1
    mov sp, x12
    ldr x11, ={main_top}
    add x12, x10, x11
    msr sp_el0, x12
    msr spsel, #0
    msr tpidr_el2, x9
    ret

    // Invalidates the data cache (to the PoC) for [x0, x1). Clobbers x0, x2-x4.
warden_inv_dcache:
    mrs x2, ctr_el0
    ubfx x2, x2, #16, #4
    mov x3, #4
    lsl x3, x3, x2
    sub x4, x3, #1
    bic x0, x0, x4
warden_inv_dcache_loop:
    dc ivac, x0
    add x0, x0, x3
    cmp x0, x1
    b.lo warden_inv_dcache_loop
    dsb sy
    ret

    // Turns the MMU on with BOOT_PARAMS. Clobbers x9-x13.
warden_enable_mmu:
    adrp x9, {params}
    add x9, x9, :lo12:{params}
    ldp x10, x11, [x9, #{p_mair}]
    ldp x12, x13, [x9, #{p_ttbr0}]
    msr mair_el2, x10
    msr tcr_el2, x11
    msr ttbr0_el2, x12
    isb
    tlbi alle2
    dsb nsh
    isb
    msr sctlr_el2, x13
    isb
    ret
    .size _start, . - _start
    .popsection
    "#,
    sctlr_off = const SCTLR_MMU_OFF,
    hcr = const HCR,
    pending = sym COLD_BOOT_PENDING,
    r_relative = const R_AARCH64_RELATIVE,
    max_cpus = const MAX_CPUS,
    cold_early = sym cold_early,
    cold_main = sym cold_main,
    warm_main = sym warm_main,
    params = sym BOOT_PARAMS,
    p_num_cpus = const offset_of!(BootParams, num_cpus),
    p_mair = const offset_of!(BootParams, mair),
    p_ttbr0 = const offset_of!(BootParams, ttbr0),
    boot_complete = const BOOT_COMPLETE,
    cpu_id_out_of_range = const BootError::CpuIdOutOfRange.to_x1(),
    unknown = const BootError::Unknown.to_x1(),
    stacks = sym STACKS,
    slot_size = const STACK_SLOT_SIZE,
    exc_top = const EXCEPTION_STACK_TOP,
    main_top = const MAIN_STACK_TOP,
);
