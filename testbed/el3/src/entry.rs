//! Reset code, the EL3 vector table, and the context save/restore around lower-EL exceptions.

use core::cell::UnsafeCell;
use core::mem::size_of;
use core::sync::atomic::AtomicU64;

use crate::context::{WorldContext, offsets};
use crate::platform::CPU_COUNT;

/// Bytes of EL3 stack per CPU.
pub const STACK_SIZE: usize = 16 * 1024;

/// SCTLR_EL3 at reset: RES1 bits, I-cache on, SP alignment check; MMU and D-cache off.
const SCTLR_EL3_INIT: u64 = 0x30C5_0830 | (1 << 12) | (1 << 3);

/// The per-CPU EL3 stacks. Not zeroed at boot (`.noinit`): secondaries use theirs while the primary
/// clears `.bss`.
#[repr(C, align(16))]
pub struct Stacks(UnsafeCell<[[u8; STACK_SIZE]; CPU_COUNT]>);

// SAFETY: each CPU only ever uses its own stack slice, selected by MPIDR in the reset code.
unsafe impl Sync for Stacks {}

#[unsafe(link_section = ".noinit.stacks")]
static EL3_STACKS: Stacks = Stacks(UnsafeCell::new([[0; STACK_SIZE]; CPU_COUNT]));

/// The boot gate: secondaries wait (WFI) until the primary has initialised memory and sets it to
/// [`GATE_OPEN`]. In `.noinit` so that clearing `.bss` cannot race with secondaries reading it;
/// SYSTEM_RESET closes it before resetting the machine.
#[unsafe(link_section = ".noinit.gate")]
pub static BOOT_GATE: AtomicU64 = AtomicU64::new(0);

/// [`BOOT_GATE`] value meaning "primary initialised".
pub const GATE_OPEN: u64 = 0x6761_7465_6f70_656e;

const _: () = assert!(size_of::<Stacks>() == STACK_SIZE * CPU_COUNT);

core::arch::global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    mrs     x19, mpidr_el1
    and     x20, x19, #0xff
    mov     x21, #0xff00
    movk    x21, #0xff, lsl #16
    movk    x21, #0xff, lsl #32
    and     x21, x19, x21
    cbnz    x21, 9f                 // Aff1..Aff3 must be 0
    cmp     x20, #{cpu_count}
    b.hs    9f                      // and Aff0 < CPU_COUNT

    adrp    x0, el3_vectors
    add     x0, x0, :lo12:el3_vectors
    msr     vbar_el3, x0
    ldr     x0, ={sctlr}
    msr     sctlr_el3, x0
    isb

    adrp    x0, {stacks}
    add     x0, x0, :lo12:{stacks}
    add     x1, x20, #1
    mov     x2, #{stack_size}
    madd    x0, x1, x2, x0
    mov     sp, x0

    cbnz    x20, 5f
    // Primary: copy .data from flash, clear .bss.
    ldr     x0, =__data_start
    ldr     x1, =__data_end
    ldr     x2, =__data_lma
1:  cmp     x0, x1
    b.hs    2f
    ldr     x3, [x2], #8
    str     x3, [x0], #8
    b       1b
2:  ldr     x0, =__bss_start
    ldr     x1, =__bss_end
3:  cmp     x0, x1
    b.hs    4f
    str     xzr, [x0], #8
    b       3b
4:  mov     x0, x20
    bl      el3_primary_main
    b       9f
5:  mov     x0, x20
    bl      el3_secondary_main
9:  wfi
    b       9b
    .ltorg

    // ---------------------------------------------------------------------------------------
    .section .text.vectors, "ax"
    .balign 2048
el3_vectors:
    .irp kind, 0, 1, 2, 3, 4, 5, 6, 7
    .balign 128
    mov     x0, #\kind
    b       el3_crash_entry
    .endr
    .balign 128                     // lower EL, AArch64, synchronous
    b       el3_lower_sync
    .irp kind, 9, 10, 11, 12, 13, 14, 15
    .balign 128
    mov     x0, #\kind
    b       el3_crash_entry
    .endr

    .text
    .balign 4
el3_crash_entry:
    // Any exception we do not expect. Use a fresh stack for this CPU and report.
    mrs     x1, mpidr_el1
    and     x1, x1, #0xff
    adrp    x2, {stacks}
    add     x2, x2, :lo12:{stacks}
    add     x1, x1, #1
    mov     x3, #{stack_size}
    madd    x2, x1, x3, x2
    mov     sp, x2
    bl      el3_crash
    b       .

    // A synchronous exception from the lower world whose context SP_EL3 points at.
el3_lower_sync:
    stp     x0, x1,   [sp, #({gpr} + 0)]
    stp     x2, x3,   [sp, #({gpr} + 16)]
    stp     x4, x5,   [sp, #({gpr} + 32)]
    stp     x6, x7,   [sp, #({gpr} + 48)]
    stp     x8, x9,   [sp, #({gpr} + 64)]
    stp     x10, x11, [sp, #({gpr} + 80)]
    stp     x12, x13, [sp, #({gpr} + 96)]
    stp     x14, x15, [sp, #({gpr} + 112)]
    stp     x16, x17, [sp, #({gpr} + 128)]
    stp     x18, x19, [sp, #({gpr} + 144)]
    stp     x20, x21, [sp, #({gpr} + 160)]
    stp     x22, x23, [sp, #({gpr} + 176)]
    stp     x24, x25, [sp, #({gpr} + 192)]
    stp     x26, x27, [sp, #({gpr} + 208)]
    stp     x28, x29, [sp, #({gpr} + 224)]
    str     x30,      [sp, #({gpr} + 240)]
    mrs     x0, sp_el0
    str     x0, [sp, #{sp_el0}]
    mrs     x0, elr_el3
    str     x0, [sp, #{elr_el3}]
    mrs     x0, spsr_el3
    str     x0, [sp, #{spsr_el3}]
    mov     x0, sp
    ldr     x1, [x0, #{stack_top}]
    mov     sp, x1
    bl      el3_handle_lower_sync
    // fall through with x0 = context to resume

    // el3_exit_to_world(ctx: *mut WorldContext) -> !
    .global el3_exit_to_world
el3_exit_to_world:
    mov     sp, x0
    ldr     x1, [sp, #{scr_el3}]
    msr     scr_el3, x1
    ldr     x1, [sp, #{elr_el3}]
    msr     elr_el3, x1
    ldr     x1, [sp, #{spsr_el3}]
    msr     spsr_el3, x1
    ldr     x1, [sp, #{sp_el0}]
    msr     sp_el0, x1
    isb
    ldp     x0, x1,   [sp, #({gpr} + 0)]
    ldp     x2, x3,   [sp, #({gpr} + 16)]
    ldp     x4, x5,   [sp, #({gpr} + 32)]
    ldp     x6, x7,   [sp, #({gpr} + 48)]
    ldp     x8, x9,   [sp, #({gpr} + 64)]
    ldp     x10, x11, [sp, #({gpr} + 80)]
    ldp     x12, x13, [sp, #({gpr} + 96)]
    ldp     x14, x15, [sp, #({gpr} + 112)]
    ldp     x16, x17, [sp, #({gpr} + 128)]
    ldp     x18, x19, [sp, #({gpr} + 144)]
    ldp     x20, x21, [sp, #({gpr} + 160)]
    ldp     x22, x23, [sp, #({gpr} + 176)]
    ldp     x24, x25, [sp, #({gpr} + 192)]
    ldp     x26, x27, [sp, #({gpr} + 208)]
    ldp     x28, x29, [sp, #({gpr} + 224)]
    ldr     x30,      [sp, #({gpr} + 240)]
    eret
    "#,
    cpu_count = const CPU_COUNT,
    sctlr = const SCTLR_EL3_INIT,
    stacks = sym EL3_STACKS,
    stack_size = const STACK_SIZE,
    gpr = const offsets::GPR,
    sp_el0 = const offsets::SP_EL0,
    elr_el3 = const offsets::ELR_EL3,
    spsr_el3 = const offsets::SPSR_EL3,
    scr_el3 = const offsets::SCR_EL3,
    stack_top = const offsets::STACK_TOP,
);

unsafe extern "C" {
    /// Loads `ctx` (SCR_EL3, ELR_EL3, SPSR_EL3, SP_EL0, x0–x30) and ERETs into its world. SP_EL3 is
    /// left pointing at `ctx` for the next exception.
    fn el3_exit_to_world(ctx: *mut WorldContext) -> !;
}

/// The top of `cpu`'s EL3 stack.
pub fn stack_top(cpu: usize) -> u64 {
    assert!(cpu < CPU_COUNT);
    EL3_STACKS.0.get() as u64 + ((cpu + 1) * STACK_SIZE) as u64
}

/// Enters the world of `ctx`; never returns (the next exception arrives at `el3_lower_sync`).
///
/// # Safety
/// `ctx` must be this CPU's context with a valid `el3_stack_top`, and must stay valid (it is static).
/// No Rust frames of the caller are used after the call.
pub unsafe fn enter_world(ctx: *mut WorldContext) -> ! {
    // SAFETY: guaranteed by the caller; the asm only reads the context.
    unsafe { el3_exit_to_world(ctx) }
}
