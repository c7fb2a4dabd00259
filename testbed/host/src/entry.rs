//! Reset entry (primary, x0 = DTB), CPU_ON entry (x0 = CPU index), and the NS-EL2 vector table.

use core::cell::UnsafeCell;
use core::mem::size_of;

/// CPUs this driver may run on.
pub const MAX_CPUS: usize = 4;
/// Stack bytes per CPU.
pub const STACK_SIZE: usize = 32 * 1024;

/// Per-CPU stacks.
#[repr(C, align(16))]
pub struct Stacks(UnsafeCell<[[u8; STACK_SIZE]; MAX_CPUS]>);

// SAFETY: each CPU only uses its own slice (selected in the entry code).
unsafe impl Sync for Stacks {}

static HOST_STACKS: Stacks = Stacks(UnsafeCell::new([[0; STACK_SIZE]; MAX_CPUS]));

/// Bytes the exception entry code pushes (x0–x18, x29, x30 and padding), a multiple of 16.
const FRAME: usize = 22 * 8;

const _: () = assert!(size_of::<Stacks>() == STACK_SIZE * MAX_CPUS && FRAME.is_multiple_of(16));

core::arch::global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    mov     x19, x0                 // DTB
    adrp    x1, {stacks}
    add     x1, x1, :lo12:{stacks}
    mov     x2, #{stack_size}
    add     sp, x1, x2              // CPU 0 stack top
    adrp    x1, host_vectors
    add     x1, x1, :lo12:host_vectors
    msr     vbar_el2, x1
    isb
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
1:  cmp     x0, x1
    b.hs    2f
    str     xzr, [x0], #8
    b       1b
2:  mov     x0, x19
    bl      host_main
3:  wfi
    b       3b

    // PSCI CPU_ON entry: x0 = context id = CPU index.
    .global host_secondary_entry
host_secondary_entry:
    cmp     x0, #{max_cpus}
    b.hs    3b
    adrp    x1, {stacks}
    add     x1, x1, :lo12:{stacks}
    add     x2, x0, #1
    mov     x3, #{stack_size}
    madd    x1, x2, x3, x1
    mov     sp, x1
    adrp    x1, host_vectors
    add     x1, x1, :lo12:host_vectors
    msr     vbar_el2, x1
    isb
    bl      host_secondary_main
    b       3b

    .section .text.vectors, "ax"
    .balign 2048
host_vectors:
    .irp kind, 0, 1, 2, 3
    .balign 128
    mov     x0, #\kind
    b       host_fatal_entry
    .endr
    .balign 128                     // current EL with SP_ELx, synchronous
    b       host_sync_entry
    .irp kind, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 128
    mov     x0, #\kind
    b       host_fatal_entry
    .endr

    .text
host_fatal_entry:
    bl      host_fatal_exception
    b       .

host_sync_entry:
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    str     x30, [sp, #160]
    mrs     x0, esr_el2
    mrs     x1, far_el2
    mrs     x2, elr_el2
    bl      host_sync_exception     // returns the ELR to resume at
    msr     elr_el2, x0
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x29, [sp, #144]
    ldr     x30, [sp, #160]
    add     sp, sp, #{frame}
    eret
    "#,
    stacks = sym HOST_STACKS,
    stack_size = const STACK_SIZE,
    max_cpus = const MAX_CPUS,
    frame = const FRAME,
);

unsafe extern "C" {
    /// The CPU_ON entry point (pass it to PSCI CPU_ON with the CPU index as context id).
    pub fn host_secondary_entry() -> !;
}
