//! Warden's EL2 exception vectors, the exception-fixup table, and the fatal-exception report.
//!
//! Warden runs with `SPSel = 0` (its main stack in `SP_EL0`), so an exception Warden itself takes
//! arrives at the "current EL with SP0" vectors and runs on the per-CPU exception stack (`SP_EL2`).
//! The only exceptions Warden expects from itself are the faults of the fault-safe Host-memory copy
//! ([`super::nscopy`]): a synchronous data abort whose fault status is a granule protection fault
//! or a synchronous external abort, at an instruction listed in the fixup table, resumes at that
//! instruction's fixup label, which makes the copy return an error. Anything else — any other
//! fault, an exception on the exception stack, IRQ/FIQ/SError (masked while Warden runs) — prints
//! ESR/ELR/FAR and parks the CPU. Exceptions from a lower EL are a Realm's traps: they go to the
//! REC switch's exit path ([`super::rec_switch`]).

use core::mem::{offset_of, size_of};

use super::layout::{EXCEPTION_STACK_TOP, MAX_CPUS, STACK_SLOT_SIZE, STACKS};
use super::sysreg::read_sysreg;

/// The registers saved on exception entry, in the layout the vector code stores them.
#[repr(C)]
#[derive(Debug)]
pub struct ExceptionFrame {
    /// x0–x30.
    pub x: [u64; 31],
    /// `ELR_EL2`: where the exception was taken (written back on return).
    pub elr: u64,
    /// `SPSR_EL2` (written back on return).
    pub spsr: u64,
    /// `SP_EL0` at the exception (Warden's main stack pointer).
    pub sp_el0: u64,
}

const FRAME_SIZE: usize = size_of::<ExceptionFrame>();
const _: () = {
    assert!(FRAME_SIZE == 272 && FRAME_SIZE.is_multiple_of(16));
    assert!(offset_of!(ExceptionFrame, x) == 0);
    assert!(offset_of!(ExceptionFrame, elr) == 248 && offset_of!(ExceptionFrame, spsr) == 256);
    assert!(offset_of!(ExceptionFrame, sp_el0) == 264);
};

/// Which vector an exception came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum VectorKind {
    /// Synchronous, from Warden itself (SP0): the only one that can be fixed up.
    SyncSp0 = 0,
    /// IRQ/FIQ/SError from Warden itself.
    AsyncSp0 = 1,
    /// Any exception while on the exception stack (SPx).
    Nested = 2,
    /// Synchronous from a lower EL (a Realm): not used by the vectors (the REC switch takes these).
    SyncLower = 3,
    /// IRQ/FIQ/SError from a lower EL: not used by the vectors (the REC switch takes these).
    AsyncLower = 4,
}

/// One exception-fixup entry: offsets, relative to the entry's own fields, of a faultable
/// instruction and of the code that turns its fault into an error (position independent: no
/// relocation needed).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FixupEntry {
    insn: i32,
    fixup: i32,
}

unsafe extern "C" {
    static __extable_start: FixupEntry;
    static __extable_end: FixupEntry;
}

/// The fixup address for a fault at `pc`, if `pc` is a listed instruction.
pub fn fixup_for(pc: u64) -> Option<u64> {
    let start = &raw const __extable_start;
    let end = &raw const __extable_end;
    let count = (end as usize - start as usize) / size_of::<FixupEntry>();
    (0..count).find_map(|i| {
        // SAFETY: `i < count`, so the entry lies between the linker's table bounds.
        let e = unsafe { start.add(i) };
        let insn_at = e as u64 + offset_of!(FixupEntry, insn) as u64;
        let fixup_at = e as u64 + offset_of!(FixupEntry, fixup) as u64;
        // SAFETY: as above; the table is read-only data.
        let FixupEntry { insn, fixup } = unsafe { e.read() };
        (insn_at.wrapping_add_signed(i64::from(insn)) == pc)
            .then(|| fixup_at.wrapping_add_signed(i64::from(fixup)))
    })
}

/// ESR_EL2.EC: data abort taken without a change of EL.
const EC_DATA_ABORT_SAME_EL: u64 = 0x25;

/// Whether a data-abort fault status code is one the fault-safe copy turns into an error: a
/// granule protection fault (not on a table walk: 0b101000; on a walk at level −1…3:
/// 0b100011–0b100111) or a synchronous external abort (0b010000, or on a walk 0b010011–0b010111).
pub fn is_copy_fault(dfsc: u64) -> bool {
    matches!(dfsc, 0b101000 | 0b100011..=0b100111 | 0b010000 | 0b010011..=0b010111)
}

/// Rust side of every vector (called from the assembly with the saved frame).
extern "C" fn handle_exception(frame: &mut ExceptionFrame, kind: u64) {
    let esr = read_sysreg!("esr_el2");
    let far = read_sysreg!("far_el2");
    if kind == VectorKind::SyncSp0 as u64
        && esr >> 26 == EC_DATA_ABORT_SAME_EL
        && is_copy_fault(esr & 0x3f)
        && let Some(fixup) = fixup_for(frame.elr)
    {
        frame.elr = fixup;
        return;
    }
    let what = match kind {
        0 => "synchronous exception in Warden",
        1 => "interrupt or SError in Warden",
        2 => "exception on the exception stack",
        3 => "synchronous exception from a lower EL",
        _ => "interrupt or SError from a lower EL",
    };
    super::fatal(format_args!(
        "{what}: ESR_EL2={esr:#x} ELR_EL2={:#x} FAR_EL2={far:#x} SPSR_EL2={:#x} SP_EL0={:#x} x30={:#x}",
        frame.elr, frame.spsr, frame.sp_el0, frame.x[30]
    ));
}

// The vector table. Each entry branches to a stub that saves the frame on the current stack
// (`SP_EL2`), calls `handle_exception(frame, kind)` and restores everything it saved; the SPx
// (nested) entries first reset `SP_EL2` to the top of this CPU's exception stack, so a fault on an
// overflowed exception stack still reports.
core::arch::global_asm!(
    r#"
    .pushsection .text.warden_vectors, "ax"
    .balign 2048
    .global warden_vectors
warden_vectors:
    // Current EL with SP0
    .balign 128
    mov x17, #{sync_sp0}
    b warden_exc_save_stub
    .balign 128
    mov x17, #{async_sp0}
    b warden_exc_save_stub
    .balign 128
    mov x17, #{async_sp0}
    b warden_exc_save_stub
    .balign 128
    mov x17, #{async_sp0}
    b warden_exc_save_stub
    // Current EL with SPx
    .balign 128
    b warden_exc_nested
    .balign 128
    b warden_exc_nested
    .balign 128
    b warden_exc_nested
    .balign 128
    b warden_exc_nested
    // Lower EL, AArch64: a Realm trapped (the REC switch, rec_switch.rs). SP_EL2 holds the
    // switch's two parked words; x0/x1 go below them, x1 = the exit kind.
    .balign 128
    stp x0, x1, [sp, #-16]!
    mov x1, #{k_sync}
    b warden_rec_exit
    .balign 128
    stp x0, x1, [sp, #-16]!
    mov x1, #{k_irq}
    b warden_rec_exit
    .balign 128
    stp x0, x1, [sp, #-16]!
    mov x1, #{k_fiq}
    b warden_rec_exit
    .balign 128
    stp x0, x1, [sp, #-16]!
    mov x1, #{k_serror}
    b warden_rec_exit
    // Lower EL, AArch32 (a Realm's EL0 in AArch32, if the hardware has it): the same.
    .balign 128
    stp x0, x1, [sp, #-16]!
    mov x1, #{k_sync}
    b warden_rec_exit
    .balign 128
    stp x0, x1, [sp, #-16]!
    mov x1, #{k_irq}
    b warden_rec_exit
    .balign 128
    stp x0, x1, [sp, #-16]!
    mov x1, #{k_fiq}
    b warden_rec_exit
    .balign 128
    stp x0, x1, [sp, #-16]!
    mov x1, #{k_serror}
    b warden_rec_exit
    .balign 128

warden_exc_nested:
    // Fatal anyway: restart SP_EL2 at the top of this CPU's exception stack.
    mrs x17, tpidr_el2
    cmp x17, #{max_cpus}
    csel x17, x17, xzr, lo
    adrp x16, {stacks}
    add x16, x16, :lo12:{stacks}
    ldr x15, ={slot_size}
    madd x16, x17, x15, x16
    add x16, x16, #{exc_top}
    mov sp, x16
    mov x17, #{nested}

    // x17 (kind) and x15/x16 on the nested path are clobbered before saving: the Rust handler
    // does not need them, and the fixable (SP0 synchronous) path only loses x17, which SMCCC and
    // the copy routines treat as scratch (IP1).
warden_exc_save_stub:
    sub sp, sp, #{frame_size}
    stp x0, x1, [sp, #16 * 0]
    stp x2, x3, [sp, #16 * 1]
    stp x4, x5, [sp, #16 * 2]
    stp x6, x7, [sp, #16 * 3]
    stp x8, x9, [sp, #16 * 4]
    stp x10, x11, [sp, #16 * 5]
    stp x12, x13, [sp, #16 * 6]
    stp x14, x15, [sp, #16 * 7]
    stp x16, x17, [sp, #16 * 8]
    stp x18, x19, [sp, #16 * 9]
    stp x20, x21, [sp, #16 * 10]
    stp x22, x23, [sp, #16 * 11]
    stp x24, x25, [sp, #16 * 12]
    stp x26, x27, [sp, #16 * 13]
    stp x28, x29, [sp, #16 * 14]
    mrs x0, elr_el2
    mrs x1, spsr_el2
    mrs x2, sp_el0
    str x30, [sp, #{x30}]
    stp x0, x1, [sp, #{elr}]
    str x2, [sp, #{sp_el0}]
    mov x0, sp
    mov x1, x17
    bl {handler}
    ldp x0, x1, [sp, #{elr}]
    msr elr_el2, x0
    msr spsr_el2, x1
    ldr x30, [sp, #{x30}]
    ldp x0, x1, [sp, #16 * 0]
    ldp x2, x3, [sp, #16 * 1]
    ldp x4, x5, [sp, #16 * 2]
    ldp x6, x7, [sp, #16 * 3]
    ldp x8, x9, [sp, #16 * 4]
    ldp x10, x11, [sp, #16 * 5]
    ldp x12, x13, [sp, #16 * 6]
    ldp x14, x15, [sp, #16 * 7]
    ldp x16, x17, [sp, #16 * 8]
    ldp x18, x19, [sp, #16 * 9]
    ldp x20, x21, [sp, #16 * 10]
    ldp x22, x23, [sp, #16 * 11]
    ldp x24, x25, [sp, #16 * 12]
    ldp x26, x27, [sp, #16 * 13]
    ldp x28, x29, [sp, #16 * 14]
    add sp, sp, #{frame_size}
    eret
    .popsection
    "#,
    sync_sp0 = const VectorKind::SyncSp0 as u64,
    async_sp0 = const VectorKind::AsyncSp0 as u64,
    nested = const VectorKind::Nested as u64,
    k_sync = const super::rec_switch::kind::SYNC,
    k_irq = const super::rec_switch::kind::IRQ,
    k_fiq = const super::rec_switch::kind::FIQ,
    k_serror = const super::rec_switch::kind::SERROR,
    max_cpus = const MAX_CPUS,
    stacks = sym STACKS,
    slot_size = const STACK_SLOT_SIZE,
    exc_top = const EXCEPTION_STACK_TOP,
    frame_size = const FRAME_SIZE,
    x30 = const offset_of!(ExceptionFrame, x) + 30 * 8,
    elr = const offset_of!(ExceptionFrame, elr),
    sp_el0 = const offset_of!(ExceptionFrame, sp_el0),
    handler = sym handle_exception,
);
