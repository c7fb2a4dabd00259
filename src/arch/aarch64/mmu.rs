//! Warden's R-EL2 stage-1 translation: the non-VHE EL2 regime (`HCR_EL2.E2H = 0`, one range
//! through `TTBR0_EL2`, 48-bit VAs, 4 KiB granule, four levels).
//!
//! The map, built once by the cold-boot CPU with the MMU off and then shared read-only by all CPUs:
//! * the image at its load address (VA = PA), text RX, read-only data RO, the rest RW/XN, with
//!   4 KiB pages where permissions change, and the stacks' guard pages left unmapped;
//! * every DRAM bank of the boot manifest, identity mapped with descriptor NS = 0 — the **Realm
//!   PAS** alias, through which Warden reaches delegated granules (`Machine::realm_granule`);
//! * every DRAM bank again at VA = PA + [`NS_ALIAS_OFFSET`] with NS = 1 — the **NS PAS** alias,
//!   used only by the fault-safe copy of Host memory;
//! * the boot console (Device-nGnRE) and the EL3 shared buffer.
//!
//! DRAM is mapped in the largest blocks alignment allows (1 GiB, 2 MiB); only the 2 MiB blocks that
//! Warden's own region cuts into use pages. Why non-VHE: Warden needs one address range, and the
//! EL2 regime keeps `TCR_EL2`/`SCTLR_EL2` in their simple format; nothing in RMM 1.0 needs E2H.

use core::cell::UnsafeCell;

/// Where the NS PAS alias of DRAM starts: VA = PA + this. Banks must end at or below it (128 TiB).
pub const NS_ALIAS_OFFSET: u64 = 1 << 47;

/// Tables in the pool (enough for 8 banks, the image, the console and both aliases).
pub const POOL_TABLES: usize = 64;

const ENTRIES: usize = 512;

/// `MAIR_EL2`: attribute 0 Device-nGnRE, 1 Normal write-back RAWA (inner and outer), 2 Normal
/// non-cacheable.
pub const MAIR: u64 = 0x04 | (0xff << 8) | (0x44 << 16);
const ATTR_DEVICE: u64 = 0;
const ATTR_NORMAL: u64 = 1;

/// `SCTLR_EL2` RES1 bits (E2H = 0 layout).
const SCTLR_RES1: u64 = (1 << 29)
    | (1 << 28)
    | (1 << 23)
    | (1 << 22)
    | (1 << 18)
    | (1 << 16)
    | (1 << 11)
    | (1 << 5)
    | (1 << 4);
/// `SCTLR_EL2` before the MMU is on: I-cache on, SP alignment check, MMU and D-cache off.
pub const SCTLR_MMU_OFF: u64 = SCTLR_RES1 | (1 << 12) | (1 << 3);
/// `SCTLR_EL2` with the MMU on: M, C, I, SA and WXN (no writable page is executable).
pub const SCTLR_MMU_ON: u64 = SCTLR_MMU_OFF | (1 << 0) | (1 << 2) | (1 << 19);
/// `HCR_EL2` while Warden runs: RW (EL1 is AArch64), E2H = 0, TGE = 0, no stage 2 for EL2.
pub const HCR: u64 = 1 << 31;

/// `TCR_EL2` (E2H = 0) for a physical address range of `pa_bits`.
pub const fn tcr(pa_bits: u8) -> u64 {
    let ps = match pa_bits {
        32 => 0b000,
        36 => 0b001,
        40 => 0b010,
        42 => 0b011,
        44 => 0b100,
        _ => 0b101, // 48 bits; wider PAs need LPA/LPA2 descriptors, which Warden does not use
    };
    let t0sz = 16; // 48-bit VAs
    let irgn0 = 0b01 << 8; // write-back RAWA walks
    let orgn0 = 0b01 << 10;
    let sh0 = 0b11 << 12; // inner shareable
    let tg0 = 0b00 << 14; // 4 KiB
    (1 << 31) | (1 << 23) | (ps << 16) | tg0 | sh0 | orgn0 | irgn0 | t0sz
}

/// The access a mapping allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read and execute (text).
    ReadExecute,
    /// Read only, never executed.
    ReadOnly,
    /// Read and write, never executed.
    ReadWrite,
    /// Device registers: read and write, never executed, Device-nGnRE.
    Device,
}

/// The PAS a mapping's output addresses are in (the descriptor's NS bit, in Realm state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pas {
    /// NS = 0: Realm PAS.
    Realm,
    /// NS = 1: Non-secure PAS.
    NonSecure,
}

fn leaf_attrs(access: Access, pas: Pas) -> u64 {
    const AF: u64 = 1 << 10;
    const AP_RO: u64 = 1 << 7;
    const AP1_RES1: u64 = 1 << 6; // one privilege level: AP[1] is RES1
    const NS: u64 = 1 << 5;
    const SH_INNER: u64 = 0b11 << 8;
    const XN: u64 = 1 << 54;
    let ns = if pas == Pas::NonSecure { NS } else { 0 };
    let base = AF | AP1_RES1 | ns;
    match access {
        Access::ReadExecute => base | AP_RO | SH_INNER | (ATTR_NORMAL << 2),
        Access::ReadOnly => base | AP_RO | SH_INNER | XN | (ATTR_NORMAL << 2),
        Access::ReadWrite => base | SH_INNER | XN | (ATTR_NORMAL << 2),
        Access::Device => base | XN | (ATTR_DEVICE << 2),
    }
}

/// A mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The page-table pool is exhausted.
    NoTables,
    /// The range overlaps an existing mapping, or is not page aligned, or leaves the VA space.
    BadRange,
}

#[repr(C, align(4096))]
struct Table([u64; ENTRIES]);

/// The page-table pool (NOLOAD; tables are zeroed as they are handed out).
#[repr(C, align(4096))]
pub struct TablePool(UnsafeCell<[Table; POOL_TABLES]>);

// SAFETY: written only by the cold-boot CPU before any other CPU runs (`Builder` is created once,
// then dropped); afterwards only the hardware table walkers read it.
unsafe impl Sync for TablePool {}

/// The pool itself.
#[unsafe(link_section = ".warden_tables")]
pub static TABLES: TablePool = TablePool(UnsafeCell::new(
    [const { Table([0; ENTRIES]) }; POOL_TABLES],
));

impl TablePool {
    /// The pool's address range `(base, size)`.
    pub fn range(&self) -> (u64, u64) {
        (self.0.get() as u64, core::mem::size_of::<Self>() as u64)
    }
}

/// Builds the translation tables: one root, then mappings added in any order (without overlap).
pub struct Builder {
    pool: *mut Table,
    used: usize,
}

impl Builder {
    /// A builder over the static pool, with a fresh root table.
    ///
    /// # Safety
    /// Call at most once, on the cold-boot CPU, before the tables are in use by any CPU; the
    /// pool's memory must be addressable at its link-relative address (MMU off, or identity map).
    pub unsafe fn new() -> Result<Self, MapError> {
        let mut b = Self {
            pool: TABLES.0.get().cast::<Table>(),
            used: 0,
        };
        b.alloc()?;
        Ok(b)
    }

    /// The root table's address (`TTBR0_EL2.BADDR`).
    pub fn root(&self) -> u64 {
        self.pool as u64
    }

    /// Tables used so far.
    pub fn tables_used(&self) -> usize {
        self.used
    }

    fn alloc(&mut self) -> Result<*mut Table, MapError> {
        if self.used == POOL_TABLES {
            return Err(MapError::NoTables);
        }
        // SAFETY: `used < POOL_TABLES`, so the table is inside the pool; the builder is the only
        // user of the pool (see `new`), and a table is handed out once.
        let t = unsafe { self.pool.add(self.used) };
        // SAFETY: as above; zeroing makes every entry invalid.
        unsafe { t.write_bytes(0, 1) };
        self.used += 1;
        Ok(t)
    }

    /// Maps `[va, va + size)` to `[pa, pa + size)`; all three page aligned.
    pub fn map(
        &mut self,
        va: u64,
        pa: u64,
        size: u64,
        access: Access,
        pas: Pas,
    ) -> Result<(), MapError> {
        let aligned = (va | pa | size).is_multiple_of(4096);
        let end = va.checked_add(size).ok_or(MapError::BadRange)?;
        if !aligned || end > 1 << 48 || pa.checked_add(size).is_none() {
            return Err(MapError::BadRange);
        }
        if size == 0 {
            return Ok(());
        }
        let root = self.pool;
        self.map_level(root, 0, va, pa, size, leaf_attrs(access, pas))
    }

    fn map_level(
        &mut self,
        table: *mut Table,
        level: u32,
        mut va: u64,
        mut pa: u64,
        size: u64,
        attrs: u64,
    ) -> Result<(), MapError> {
        let shift = 39 - 9 * level;
        let block = 1u64 << shift;
        let end = va + size;
        while va < end {
            let index = ((va >> shift) as usize) % ENTRIES;
            let chunk = ((va | (block - 1)) + 1).min(end) - va;
            // SAFETY: `table` is a table of this builder's pool and `index < ENTRIES`.
            let entry = unsafe { &mut (*table).0[index] };
            if level >= 1 && chunk == block && pa.is_multiple_of(block) {
                if *entry != 0 {
                    return Err(MapError::BadRange);
                }
                *entry = pa | attrs | if level == 3 { 0b11 } else { 0b01 };
            } else {
                let next = match *entry & 0b11 {
                    0b00 if level < 3 => {
                        let t = self.alloc()?;
                        *entry = t as u64 | 0b11;
                        t
                    }
                    0b11 if level < 3 => (*entry & 0x0000_ffff_ffff_f000) as *mut Table,
                    _ => return Err(MapError::BadRange),
                };
                self.map_level(next, level + 1, va, pa, chunk, attrs)?;
            }
            va += chunk;
            pa += chunk;
        }
        Ok(())
    }
}
