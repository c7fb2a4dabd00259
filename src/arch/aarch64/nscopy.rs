//! The fault-safe copy between Warden and Host (NS PAS) memory.
//!
//! The Host's addresses are allegations: a "NS" granule may in fact be delegated (Realm PAS), or
//! Secure/Root memory. Warden reaches Host memory only through the NS PAS alias of DRAM
//! ([`super::mmu::NS_ALIAS_OFFSET`]) and only with the two routines below, whose every access to
//! Host memory is listed in the exception-fixup table: a granule protection fault or external abort
//! there resumes at the routine's fixup label, which returns 1 instead of 0. Accesses to Warden's own
//! buffer are not listed — a fault there is a Warden bug and stays fatal.
//!
//! Both routines copy 16 bytes at a time (LDP/STP) when source and destination are 8-byte aligned
//! and the length is a multiple of 16 (every RMI structure and granule, wherever the compiler put
//! Warden's copy of it), else 8 bytes at a time when all three are 8-byte aligned, else byte by
//! byte; they use only x0–x5 and never the stack.

unsafe extern "C" {
    /// Copies `len` bytes from Host memory at `src` (an NS-alias VA) to `dst`; 0, or 1 on a fault.
    fn warden_ns_read(dst: *mut u8, src: *const u8, len: usize) -> u64;
    /// Copies `len` bytes from `src` to Host memory at `dst` (an NS-alias VA); 0, or 1 on a fault.
    fn warden_ns_write(dst: *mut u8, src: *const u8, len: usize) -> u64;
}

/// The Host memory access faulted (granule protection fault or external abort).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyFault;

/// Copies from the NS-alias address `src` into `dst`.
///
/// # Safety
/// `src..src + dst.len()` must be mapped in the NS alias (it may fault: that is the point).
pub unsafe fn read(src: u64, dst: &mut [u8]) -> Result<(), CopyFault> {
    // SAFETY: `dst` is a valid exclusive buffer; `src` is mapped (the caller's contract), and a
    // fault on it is turned into a return value by the fixup table.
    match unsafe { warden_ns_read(dst.as_mut_ptr(), src as *const u8, dst.len()) } {
        0 => Ok(()),
        _ => Err(CopyFault),
    }
}

/// Copies `src` to the NS-alias address `dst`.
///
/// # Safety
/// As [`read`], for `dst..dst + src.len()`.
pub unsafe fn write(dst: u64, src: &[u8]) -> Result<(), CopyFault> {
    // SAFETY: as in `read`, with the roles swapped.
    match unsafe { warden_ns_write(dst as *mut u8, src.as_ptr(), src.len()) } {
        0 => Ok(()),
        _ => Err(CopyFault),
    }
}

// Each `warden_extable` entry is two words, `insn - .` and `fixup - .`, each relative to its own
// address (see `exception::FixupEntry`).
core::arch::global_asm!(
    r#"
    .pushsection .text.warden_nscopy, "ax"
    .balign 16
    .global warden_ns_read
    .hidden warden_ns_read
    .type warden_ns_read, %function
warden_ns_read:
    cbz x2, warden_ns_read_ok
    orr x3, x0, x1
    tst x3, #7
    b.ne warden_ns_read_bytes
    tst x2, #15
    b.eq warden_ns_read_pairs
    tst x2, #7
    b.ne warden_ns_read_bytes
warden_ns_read_words:
warden_ns_read_ld8:
    ldr x4, [x1], #8
    str x4, [x0], #8
    subs x2, x2, #8
    b.ne warden_ns_read_words
    b warden_ns_read_ok
warden_ns_read_bytes:
warden_ns_read_ld1:
    ldrb w4, [x1], #1
    strb w4, [x0], #1
    subs x2, x2, #1
    b.ne warden_ns_read_bytes
    b warden_ns_read_ok
warden_ns_read_pairs:
warden_ns_read_ld16:
    ldp x4, x5, [x1], #16
    stp x4, x5, [x0], #16
    subs x2, x2, #16
    b.ne warden_ns_read_pairs
warden_ns_read_ok:
    mov x0, #0
    ret
warden_ns_read_fault:
    mov x0, #1
    ret
    .size warden_ns_read, . - warden_ns_read

    .balign 16
    .global warden_ns_write
    .hidden warden_ns_write
    .type warden_ns_write, %function
warden_ns_write:
    cbz x2, warden_ns_write_ok
    orr x3, x0, x1
    tst x3, #7
    b.ne warden_ns_write_bytes
    tst x2, #15
    b.eq warden_ns_write_pairs
    tst x2, #7
    b.ne warden_ns_write_bytes
warden_ns_write_words:
    ldr x4, [x1], #8
warden_ns_write_st8:
    str x4, [x0], #8
    subs x2, x2, #8
    b.ne warden_ns_write_words
    b warden_ns_write_ok
warden_ns_write_bytes:
    ldrb w4, [x1], #1
warden_ns_write_st1:
    strb w4, [x0], #1
    subs x2, x2, #1
    b.ne warden_ns_write_bytes
    b warden_ns_write_ok
warden_ns_write_pairs:
    ldp x4, x5, [x1], #16
warden_ns_write_st16:
    stp x4, x5, [x0], #16
    subs x2, x2, #16
    b.ne warden_ns_write_pairs
warden_ns_write_ok:
    mov x0, #0
    ret
warden_ns_write_fault:
    mov x0, #1
    ret
    .size warden_ns_write, . - warden_ns_write
    .popsection

    .pushsection .warden_extable, "a"
    .balign 4
    .word warden_ns_read_ld16 - .
    .word warden_ns_read_fault - .
    .word warden_ns_read_ld8 - .
    .word warden_ns_read_fault - .
    .word warden_ns_read_ld1 - .
    .word warden_ns_read_fault - .
    .word warden_ns_write_st16 - .
    .word warden_ns_write_fault - .
    .word warden_ns_write_st8 - .
    .word warden_ns_write_fault - .
    .word warden_ns_write_st1 - .
    .word warden_ns_write_fault - .
    .popsection
    "#
);
