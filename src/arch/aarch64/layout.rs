//! Warden's own memory: the image sections (from the linker script), the per-CPU stacks, and the
//! region the granule table is carved from.
//!
//! ```text
//!  image base (load address, 4 KiB aligned; 0x4010_0000 on QEMU)
//!  ├─ text                                   RX
//!  ├─ rodata, exception-fixup table, .rela.dyn   RO (relocated once, MMU off)
//!  ├─ data, bss                              RW
//!  ├─ stacks: per CPU [guard 4K | exception stack 8K | guard 4K | main stack 64K]   RW, guards unmapped
//!  ├─ stage-1 page-table pool (64 × 4 KiB)   RW
//!  ├─ granule table: 4 bytes per DRAM granule (3 GiB → 3 MiB), zeroed at cold boot   RW
//!  └─ free … up to the region end (image base + 24 MiB − 4 KiB, or the shared buffer if lower)
//! ```

use core::cell::UnsafeCell;

use warden_abi::addr::GRANULE_SIZE;

/// The most CPUs Warden supports (x2 at cold boot above this is `CPUS_OUT_OF_RANGE`).
pub const MAX_CPUS: usize = 8;
/// Guard gap below each stack: never mapped, so an overflow faults instead of corrupting.
pub const GUARD_SIZE: usize = 4096;
/// Stack for exceptions taken by Warden itself (`SP_EL2`): the fault fixup and the panic report.
pub const EXCEPTION_STACK_SIZE: usize = 8 * 1024;
/// Stack for everything else (`SP_EL0`, selected with `SPSel = 0`): boot and RMI handling. The
/// RMI dispatcher with every command inlined needs about 24 KiB today (4 KiB parameter structures
/// are copied onto the stack), REALM_CREATE's RIM another 5 KiB.
pub const MAIN_STACK_SIZE: usize = 64 * 1024;
/// One CPU's slot in the stack area.
pub const STACK_SLOT_SIZE: usize = GUARD_SIZE + EXCEPTION_STACK_SIZE + GUARD_SIZE + MAIN_STACK_SIZE;
/// Offset of the exception stack's top (initial `SP_EL2`) in a slot.
pub const EXCEPTION_STACK_TOP: usize = GUARD_SIZE + EXCEPTION_STACK_SIZE;
/// Offset of the main stack's top (initial `SP_EL0`) in a slot.
pub const MAIN_STACK_TOP: usize = STACK_SLOT_SIZE;

/// Size of Warden's Realm-PAS region on TF-A's QEMU platform (`PLAT_QEMU_RMM_SIZE`): the most
/// Warden ever assumes it owns from its load address.
pub const DEFAULT_REGION_SIZE: u64 = 24 * 1024 * 1024 - 4096;

const _: () = {
    assert!(STACK_SLOT_SIZE.is_multiple_of(4096) && EXCEPTION_STACK_SIZE.is_multiple_of(4096));
    assert!(EXCEPTION_STACK_TOP.is_multiple_of(16) && MAIN_STACK_TOP.is_multiple_of(16));
};

/// The per-CPU stacks. Only ever touched through the stack pointers the entry code sets up.
#[repr(C, align(4096))]
pub struct StackArea(UnsafeCell<[[u8; STACK_SLOT_SIZE]; MAX_CPUS]>);

// SAFETY: each CPU uses only its own slot, through its stack pointers; Rust never reads the array.
unsafe impl Sync for StackArea {}

/// The stacks (NOLOAD section after .bss; see warden.ld).
#[unsafe(link_section = ".warden_stacks")]
pub static STACKS: StackArea = StackArea(UnsafeCell::new([[0; STACK_SLOT_SIZE]; MAX_CPUS]));

unsafe extern "C" {
    static __image_start: u8;
    static __text_end: u8;
    static __ro_end: u8;
    static __rw_end: u8;
    static __image_end: u8;
    static __rela_start: u8;
    static __rela_end: u8;
    static __link_base: u64;
}

/// The image's sections at their run-time addresses (identity mapped: VA = PA).
#[derive(Clone, Copy, Debug)]
pub struct ImageLayout {
    /// First byte of the image (the entry point).
    pub start: u64,
    /// End of text (page aligned).
    pub text_end: u64,
    /// End of read-only data (page aligned).
    pub ro_end: u64,
    /// End of data and bss (page aligned).
    pub rw_end: u64,
    /// Base of the stack area.
    pub stacks: u64,
    /// End of the image including the page-table pool (page aligned).
    pub end: u64,
    /// The address the image was linked at.
    pub link_base: u64,
    /// Number of relocations applied at cold boot.
    pub relocations: u64,
}

impl ImageLayout {
    /// Reads the linker's symbols (PC-relative, so correct wherever the image runs).
    pub fn current() -> Self {
        let start = (&raw const __image_start) as u64;
        // SAFETY: `__link_base` is an 8-byte word the linker script fills with the link address.
        let link_base = unsafe { core::ptr::read_volatile(&raw const __link_base) };
        let rela = (&raw const __rela_end) as u64 - (&raw const __rela_start) as u64;
        Self {
            start,
            text_end: (&raw const __text_end) as u64,
            ro_end: (&raw const __ro_end) as u64,
            rw_end: (&raw const __rw_end) as u64,
            stacks: STACKS.0.get() as u64,
            end: (&raw const __image_end) as u64,
            link_base,
            relocations: rela / 24,
        }
    }
}

/// Base of CPU `cpu`'s main stack (its lowest byte) and size.
pub fn main_stack(stacks: u64, cpu: usize) -> (u64, u64) {
    (
        stacks + (cpu * STACK_SLOT_SIZE + GUARD_SIZE + EXCEPTION_STACK_SIZE + GUARD_SIZE) as u64,
        MAIN_STACK_SIZE as u64,
    )
}

/// Base of CPU `cpu`'s exception stack and size.
pub fn exception_stack(stacks: u64, cpu: usize) -> (u64, u64) {
    (
        stacks + (cpu * STACK_SLOT_SIZE + GUARD_SIZE) as u64,
        EXCEPTION_STACK_SIZE as u64,
    )
}

/// Rounds `x` up to a whole granule.
pub const fn granule_round_up(x: u64) -> u64 {
    (x + GRANULE_SIZE - 1) & !(GRANULE_SIZE - 1)
}
