//! The Granule Protection Table: building it, and the GTSI granule transitions.
//!
//! Configuration: PPS = 1 TB (40 bits), PGS = 4 KB, L0GPTSZ = 30 (1 GB per L0 entry), so the L0 table
//! has 1024 entries (8 KiB) and each L1 table 16384 entries (128 KiB, one 4-bit GPI per 4 KB granule,
//! 16 per 64-bit entry). Every 1 GB region that holds a non-ANY GPI gets an L1 table of granules
//! descriptors; all other L0 entries are ANY blocks. No contiguous descriptors are used, so a
//! transition never has to shatter anything.
//!
//! The table logic works on a [`GptStore`] so it is unit-tested on the host; the firmware store
//! accesses the tables in Root SRAM with volatile accesses.

use warden_abi::status::El3Status;

/// Granule size (PGS = 4 KB).
pub const GRANULE: u64 = 0x1000;
/// Physical address size protected by the GPT (PPS = 1 TB).
pub const PPS_BITS: u32 = 40;
/// Bytes per L0 entry (L0GPTSZ = 30).
pub const L0_SPAN: u64 = 1 << 30;
/// Number of L0 entries.
pub const L0_ENTRIES: usize = 1 << (PPS_BITS - 30);
/// Entries per L1 table (16 granules per entry).
pub const L1_ENTRIES: usize = (L0_SPAN / GRANULE / 16) as usize;
/// Size of one L1 table in bytes.
pub const L1_TABLE_BYTES: u64 = (L1_ENTRIES * 8) as u64;

/// GPCCR_EL3 for MMU-off EL3: PPS = 0b010 (1 TB), PGS = 4 KB, SH = Outer Shareable, IRGN = ORGN =
/// Non-cacheable (QEMU treats Non-cacheable with another shareability as a walk fault).
pub const GPCCR_CONFIG: u64 = 0b010 | (0b10 << 12);
/// GPCCR_EL3.GPC: enable granule protection checks.
pub const GPCCR_GPC: u64 = 1 << 16;

/// Granule Protection Information values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Gpi {
    /// No access from any PAS.
    NoAccess = 0b0000,
    /// Secure PAS only.
    Secure = 0b1000,
    /// Non-secure PAS only.
    NonSecure = 0b1001,
    /// Root PAS only.
    Root = 0b1010,
    /// Realm PAS only.
    Realm = 0b1011,
    /// Any PAS.
    Any = 0b1111,
}

impl Gpi {
    /// Decodes a 4-bit GPI field.
    pub const fn from_bits(bits: u64) -> Option<Gpi> {
        match bits & 0xF {
            0b0000 => Some(Gpi::NoAccess),
            0b1000 => Some(Gpi::Secure),
            0b1001 => Some(Gpi::NonSecure),
            0b1010 => Some(Gpi::Root),
            0b1011 => Some(Gpi::Realm),
            0b1111 => Some(Gpi::Any),
            _ => None,
        }
    }

    /// The GPI replicated into all 16 fields of an L1 granules descriptor.
    pub const fn replicated(self) -> u64 {
        (self as u64) * 0x1111_1111_1111_1111
    }

    /// The name used on the console.
    pub const fn name(self) -> &'static str {
        match self {
            Gpi::NoAccess => "NO_ACCESS",
            Gpi::Secure => "SECURE",
            Gpi::NonSecure => "NS",
            Gpi::Root => "ROOT",
            Gpi::Realm => "REALM",
            Gpi::Any => "ANY",
        }
    }
}

/// An L0 block descriptor with `gpi` for the whole 1 GB.
pub const fn l0_block(gpi: Gpi) -> u64 {
    ((gpi as u64) << 4) | 0b0001
}

/// An L0 table descriptor pointing at an L1 table.
pub const fn l0_table(l1_pa: u64) -> u64 {
    (l1_pa & 0x000F_FFFF_FFFF_F000) | 0b0011
}

/// A physical region with one GPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Base PA (granule aligned).
    pub base: u64,
    /// Size in bytes (granule multiple).
    pub size: u64,
    /// Its GPI.
    pub gpi: Gpi,
}

/// Storage of the L0 table and the L1 tables (PA-addressed).
pub trait GptStore {
    /// Reads L0 entry `index`.
    fn l0(&self, index: usize) -> u64;
    /// Writes L0 entry `index`.
    fn set_l0(&mut self, index: usize, value: u64);
    /// Reads L1 entry `index` of the table at PA `table`.
    fn l1(&self, table: u64, index: usize) -> u64;
    /// Writes L1 entry `index` of the table at PA `table`.
    fn set_l1(&mut self, table: u64, index: usize, value: u64);
}

/// Why the GPT could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// A region is misaligned, empty or beyond the PPS.
    BadRegion(Region),
    /// More 1 GB regions need L1 tables than fit in the L1 area.
    OutOfL1Tables,
}

/// Builds the tables: every L0 entry ANY, then an L1 table (filled with ANY) for each 1 GB that a
/// region touches, then the regions' GPIs (later regions win). Returns the number of L1 tables.
pub fn build<S: GptStore>(
    store: &mut S,
    l1_base: u64,
    l1_capacity: usize,
    regions: &[Region],
) -> Result<usize, BuildError> {
    for index in 0..L0_ENTRIES {
        store.set_l0(index, l0_block(Gpi::Any));
    }
    let mut tables = 0;
    for region in regions {
        let end = region.base.saturating_add(region.size);
        if region.size == 0
            || !region.base.is_multiple_of(GRANULE)
            || !region.size.is_multiple_of(GRANULE)
            || end > (1 << PPS_BITS)
        {
            return Err(BuildError::BadRegion(*region));
        }
        for gb in (region.base / L0_SPAN)..end.div_ceil(L0_SPAN) {
            let gb = gb as usize;
            if store.l0(gb) & 0b11 != 0b11 {
                if tables == l1_capacity {
                    return Err(BuildError::OutOfL1Tables);
                }
                let table = l1_base + tables as u64 * L1_TABLE_BYTES;
                for i in 0..L1_ENTRIES {
                    store.set_l1(table, i, Gpi::Any.replicated());
                }
                store.set_l0(gb, l0_table(table));
                tables += 1;
            }
        }
        let mut pa = region.base;
        while pa < end {
            // Whole 64 KiB entries at once where possible.
            if pa.is_multiple_of(16 * GRANULE) && end - pa >= 16 * GRANULE {
                let (table, index, _) = locate(store, pa).ok_or(BuildError::BadRegion(*region))?;
                store.set_l1(table, index, region.gpi.replicated());
                pa += 16 * GRANULE;
            } else {
                write_gpi(store, pa, region.gpi).ok_or(BuildError::BadRegion(*region))?;
                pa += GRANULE;
            }
        }
    }
    Ok(tables)
}

/// The L1 table PA, entry index and nibble shift of `pa`, if an L1 table covers it.
fn locate<S: GptStore>(store: &S, pa: u64) -> Option<(u64, usize, u32)> {
    if pa >= 1 << PPS_BITS {
        return None;
    }
    let l0 = store.l0((pa / L0_SPAN) as usize);
    if l0 & 0b1111 != 0b0011 {
        return None;
    }
    let table = l0 & 0x000F_FFFF_FFFF_F000;
    let granule = (pa % L0_SPAN) / GRANULE;
    Some((table, (granule / 16) as usize, ((granule % 16) * 4) as u32))
}

fn write_gpi<S: GptStore>(store: &mut S, pa: u64, gpi: Gpi) -> Option<()> {
    let (table, index, shift) = locate(store, pa)?;
    let entry = store.l1(table, index);
    store.set_l1(
        table,
        index,
        (entry & !(0xF << shift)) | ((gpi as u64) << shift),
    );
    Some(())
}

/// The GPI of the granule holding `pa`; L0 blocks report their GPI.
pub fn gpi_of<S: GptStore>(store: &S, pa: u64) -> Option<Gpi> {
    if pa >= 1 << PPS_BITS {
        return None;
    }
    match locate(store, pa) {
        Some((table, index, shift)) => Gpi::from_bits(store.l1(table, index) >> shift),
        None => {
            let l0 = store.l0((pa / L0_SPAN) as usize);
            if l0 & 0b1111 == 0b0001 {
                Gpi::from_bits(l0 >> 4)
            } else {
                None
            }
        }
    }
}

/// The cache/TLB maintenance a transition needs, in order (firmware: real instructions; host tests:
/// recorded).
pub trait Maintenance {
    /// `DC CIPAPA` of `pa` in the PAS of `gpi` (Realm or NS).
    fn clean_inval_pa(&mut self, pa: u64, pas: Gpi);
    /// `DSB OSHST`, `TLBI RPALOS` (4 KB) of `pa`, `DSB OSH`.
    fn tlbi_granule(&mut self, pa: u64);
    /// `DSB OSH` (completion of the cache maintenance).
    fn dsb(&mut self);
}

/// Checks the GTSI address argument: one 4 KB granule covered by an L1 table.
fn check_granule<S: GptStore>(store: &S, pa: u64) -> Result<(), El3Status> {
    if !pa.is_multiple_of(GRANULE) || locate(store, pa).is_none() {
        return Err(El3Status::BadAddr);
    }
    Ok(())
}

/// `RMM_GTSI_DELEGATE`: NS → Realm (TF-A `gpt_delegate_pas` order).
pub fn delegate<S: GptStore, M: Maintenance>(
    store: &mut S,
    m: &mut M,
    pa: u64,
) -> Result<(), El3Status> {
    check_granule(store, pa)?;
    if gpi_of(store, pa) != Some(Gpi::NonSecure) {
        return Err(El3Status::BadPas);
    }
    // Drop lines speculatively fetched in the target PAS, switch, then push the old PAS's data out.
    m.clean_inval_pa(pa, Gpi::Realm);
    m.dsb();
    write_gpi(store, pa, Gpi::Realm).ok_or(El3Status::BadAddr)?;
    m.tlbi_granule(pa);
    m.clean_inval_pa(pa, Gpi::NonSecure);
    m.dsb();
    Ok(())
}

/// `RMM_GTSI_UNDELEGATE`: Realm → NS via NO_ACCESS (TF-A `gpt_undelegate_pas` order).
pub fn undelegate<S: GptStore, M: Maintenance>(
    store: &mut S,
    m: &mut M,
    pa: u64,
) -> Result<(), El3Status> {
    check_granule(store, pa)?;
    if gpi_of(store, pa) != Some(Gpi::Realm) {
        return Err(El3Status::BadPas);
    }
    write_gpi(store, pa, Gpi::NoAccess).ok_or(El3Status::BadAddr)?;
    m.tlbi_granule(pa);
    m.clean_inval_pa(pa, Gpi::Realm);
    m.clean_inval_pa(pa, Gpi::NonSecure);
    m.dsb();
    write_gpi(store, pa, Gpi::NonSecure).ok_or(El3Status::BadAddr)?;
    m.tlbi_granule(pa);
    Ok(())
}

/// The platform's PAS regions (shared/design/architecture.md §4). Later entries override earlier.
pub fn qemu_regions() -> [Region; 4] {
    use crate::platform::*;
    [
        Region {
            base: ROOT_RAM_BASE,
            size: ROOT_RAM_SIZE,
            gpi: Gpi::Root,
        },
        Region {
            base: DRAM_BASE,
            size: DRAM_SIZE,
            gpi: Gpi::NonSecure,
        },
        Region {
            base: RMM_BASE,
            size: RMM_SIZE,
            gpi: Gpi::Realm,
        },
        Region {
            base: RMM_SHARED_PAGE,
            size: RMM_SHARED_PAGE_SIZE,
            gpi: Gpi::Realm,
        },
    ]
}

#[cfg(target_os = "none")]
pub use hw::{GlobalGpt, enable_on_this_cpu};

#[cfg(target_os = "none")]
mod hw {
    use super::*;
    use crate::arch::{self, pas_bits, read_sysreg, write_sysreg};
    use crate::platform::{GPT_L0_BASE, GPT_L1_BASE};
    use core::sync::atomic::{AtomicBool, Ordering};

    /// The tables in Root SRAM, accessed by physical address (EL3 runs with the MMU off).
    pub struct RootSramStore;

    impl GptStore for RootSramStore {
        fn l0(&self, index: usize) -> u64 {
            assert!(index < L0_ENTRIES);
            // SAFETY: the L0 table occupies L0_ENTRIES u64s at GPT_L0_BASE in Root SRAM, reserved
            // for it (platform.rs asserts it is outside the linked image); the index is checked.
            unsafe { core::ptr::read_volatile((GPT_L0_BASE as *const u64).add(index)) }
        }
        fn set_l0(&mut self, index: usize, value: u64) {
            assert!(index < L0_ENTRIES);
            // SAFETY: as in `l0`.
            unsafe { core::ptr::write_volatile((GPT_L0_BASE as *mut u64).add(index), value) }
        }
        fn l1(&self, table: u64, index: usize) -> u64 {
            assert!(table >= GPT_L1_BASE && index < L1_ENTRIES);
            // SAFETY: `table` comes from an L0 descriptor written by `build`, which only points
            // into the L1 area (capacity checked there); the index is checked.
            unsafe { core::ptr::read_volatile((table as *const u64).add(index)) }
        }
        fn set_l1(&mut self, table: u64, index: usize, value: u64) {
            assert!(table >= GPT_L1_BASE && index < L1_ENTRIES);
            // SAFETY: as in `l1`.
            unsafe { core::ptr::write_volatile((table as *mut u64).add(index), value) }
        }
    }

    /// The real barrier / TLBI / DC sequence.
    struct Hw;

    impl Maintenance for Hw {
        fn clean_inval_pa(&mut self, pa: u64, pas: Gpi) {
            let bits = if pas == Gpi::Realm {
                pas_bits::REALM
            } else {
                pas_bits::NS
            };
            arch::dc_cipapa(pa | bits);
        }
        fn tlbi_granule(&mut self, pa: u64) {
            arch::dsb_oshst();
            arch::tlbi_rpalos_4k(pa);
            arch::dsb_osh();
        }
        fn dsb(&mut self) {
            arch::dsb_osh();
        }
    }

    /// The one GPT of the system, with the lock that serialises transitions.
    pub struct GlobalGpt;

    static LOCK: AtomicBool = AtomicBool::new(false);

    impl GlobalGpt {
        /// Builds the tables for the QEMU regions (primary CPU, before GPC is enabled anywhere).
        pub fn build() -> Result<usize, BuildError> {
            let capacity = (crate::platform::GPT_L1_SIZE / L1_TABLE_BYTES) as usize;
            let result = super::build(&mut RootSramStore, GPT_L1_BASE, capacity, &qemu_regions());
            arch::dsb_sy();
            result
        }

        fn locked<T>(f: impl FnOnce(&mut RootSramStore) -> T) -> T {
            while LOCK
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                core::hint::spin_loop();
            }
            let value = f(&mut RootSramStore);
            LOCK.store(false, Ordering::Release);
            value
        }

        /// `RMM_GTSI_DELEGATE`.
        pub fn delegate(pa: u64) -> Result<(), El3Status> {
            Self::locked(|s| super::delegate(s, &mut Hw, pa))
        }

        /// `RMM_GTSI_UNDELEGATE`.
        pub fn undelegate(pa: u64) -> Result<(), El3Status> {
            Self::locked(|s| super::undelegate(s, &mut Hw, pa))
        }

        /// Runs `f` with the Realm granule at `pa` (the EL3 ↔ RMM shared page) made Root for the
        /// duration, so that EL3, which runs MMU-off in the Root PAS, can read and write it; then
        /// gives it back to the Realm PAS. The RMM's cached lines are pushed out first and dropped
        /// after. Used by the attestation services, whose buffers are in the shared page.
        pub fn with_realm_granule_as_root<T>(pa: u64, f: impl FnOnce() -> T) -> Result<T, El3Status> {
            Self::locked(|s| {
                if super::gpi_of(s, pa) != Some(Gpi::Realm) {
                    return Err(El3Status::BadPas);
                }
                let mut m = Hw;
                m.clean_inval_pa(pa, Gpi::Realm);
                m.dsb();
                super::write_gpi(s, pa, Gpi::Root).ok_or(El3Status::BadAddr)?;
                m.tlbi_granule(pa);
                m.dsb();
                let value = f();
                m.dsb();
                super::write_gpi(s, pa, Gpi::Realm).ok_or(El3Status::BadAddr)?;
                m.tlbi_granule(pa);
                m.clean_inval_pa(pa, Gpi::Realm);
                m.dsb();
                Ok(value)
            })
        }
    }

    /// Programs GPTBR_EL3/GPCCR_EL3 and turns granule protection checks on for this CPU.
    pub fn enable_on_this_cpu() -> u64 {
        write_sysreg!("S3_6_C2_C1_4", GPT_L0_BASE >> 12); // GPTBR_EL3
        write_sysreg!("S3_6_C2_C1_6", GPCCR_CONFIG); // GPCCR_EL3
        arch::isb();
        arch::tlbi_paall();
        arch::dsb_sy();
        arch::isb();
        write_sysreg!("S3_6_C2_C1_6", GPCCR_CONFIG | GPCCR_GPC);
        arch::isb();
        arch::tlbi_paall();
        arch::dsb_sy();
        arch::isb();
        read_sysreg!("S3_6_C2_C1_6")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::vec::Vec;

    #[derive(Default)]
    struct MapStore {
        l0: HashMap<usize, u64>,
        l1: HashMap<(u64, usize), u64>,
    }

    impl GptStore for MapStore {
        fn l0(&self, i: usize) -> u64 {
            assert!(i < L0_ENTRIES);
            self.l0.get(&i).copied().unwrap_or(0)
        }
        fn set_l0(&mut self, i: usize, v: u64) {
            assert!(i < L0_ENTRIES);
            self.l0.insert(i, v);
        }
        fn l1(&self, t: u64, i: usize) -> u64 {
            assert!(i < L1_ENTRIES);
            *self.l1.get(&(t, i)).expect("read of an unwritten L1 entry")
        }
        fn set_l1(&mut self, t: u64, i: usize, v: u64) {
            assert!(i < L1_ENTRIES);
            self.l1.insert((t, i), v);
        }
    }

    #[derive(Default)]
    struct Log(Vec<String>);

    impl Maintenance for Log {
        fn clean_inval_pa(&mut self, pa: u64, pas: Gpi) {
            self.0.push(format!("dc {pa:#x} {}", pas.name()));
        }
        fn tlbi_granule(&mut self, pa: u64) {
            self.0.push(format!("tlbi {pa:#x}"));
        }
        fn dsb(&mut self) {
            self.0.push("dsb".into());
        }
    }

    fn built() -> MapStore {
        let mut s = MapStore::default();
        let tables = build(&mut s, 0x0EF0_0000, 8, &qemu_regions()).unwrap();
        assert_eq!(tables, 4, "GB 0 (Root SRAM) and GB 1..3 (DRAM)");
        s
    }

    #[test]
    fn layout_sizes() {
        assert_eq!(L0_ENTRIES * 8, 8 * 1024);
        assert_eq!(L1_TABLE_BYTES, 128 * 1024);
        assert_eq!(GPCCR_CONFIG | GPCCR_GPC, 0x12002);
        assert_eq!(l0_block(Gpi::Any), 0xF1);
        assert_eq!(Gpi::NonSecure.replicated(), 0x9999_9999_9999_9999);
    }

    #[test]
    fn qemu_map() {
        let s = built();
        let cases = [
            (0x0000_0000, Gpi::Any),
            (0x0900_0000, Gpi::Any),
            (0x0DFF_F000, Gpi::Any),
            (0x0E00_0000, Gpi::Root),
            (0x0EFF_F000, Gpi::Root),
            (0x0F00_0000, Gpi::Any),
            (0x4000_0000, Gpi::NonSecure),
            (0x400F_F000, Gpi::NonSecure),
            (0x4010_0000, Gpi::Realm),
            (0x418F_E000, Gpi::Realm),
            (0x418F_F000, Gpi::Realm),
            (0x4190_0000, Gpi::NonSecure),
            (0x6000_0000, Gpi::NonSecure),
            (0xFFFF_F000, Gpi::NonSecure),
            (0x1_0000_0000, Gpi::Any),
            (0xFF_FFFF_F000, Gpi::Any),
        ];
        for (pa, gpi) in cases {
            assert_eq!(gpi_of(&s, pa), Some(gpi), "pa {pa:#x}");
        }
        assert_eq!(s.l0(0), l0_table(0x0EF0_0000));
        assert_eq!(s.l0(4), l0_block(Gpi::Any));
        assert_eq!(gpi_of(&s, 1 << 40), None);
    }

    #[test]
    fn delegate_round_trip_and_sequences() {
        let mut s = built();
        let mut log = Log::default();
        let pa = 0x8000_0000;
        delegate(&mut s, &mut log, pa).unwrap();
        assert_eq!(gpi_of(&s, pa), Some(Gpi::Realm));
        assert_eq!(
            gpi_of(&s, pa + GRANULE),
            Some(Gpi::NonSecure),
            "neighbour untouched"
        );
        assert_eq!(
            log.0,
            [
                "dc 0x80000000 REALM",
                "dsb",
                "tlbi 0x80000000",
                "dc 0x80000000 NS",
                "dsb"
            ]
        );
        assert_eq!(
            delegate(&mut s, &mut Log::default(), pa),
            Err(El3Status::BadPas)
        );

        let mut log = Log::default();
        undelegate(&mut s, &mut log, pa).unwrap();
        assert_eq!(gpi_of(&s, pa), Some(Gpi::NonSecure));
        assert_eq!(
            log.0,
            [
                "tlbi 0x80000000",
                "dc 0x80000000 REALM",
                "dc 0x80000000 NS",
                "dsb",
                "tlbi 0x80000000"
            ]
        );
        assert_eq!(
            undelegate(&mut s, &mut Log::default(), pa),
            Err(El3Status::BadPas)
        );
    }

    #[test]
    fn gtsi_errors() {
        let mut s = built();
        let m = &mut Log::default();
        assert_eq!(
            delegate(&mut s, m, 0x8000_0010),
            Err(El3Status::BadAddr),
            "misaligned"
        );
        assert_eq!(
            delegate(&mut s, m, 0x1_0000_0000),
            Err(El3Status::BadAddr),
            "no L1 table (ANY block)"
        );
        assert_eq!(
            delegate(&mut s, m, 1 << 40),
            Err(El3Status::BadAddr),
            "beyond PPS"
        );
        assert_eq!(
            delegate(&mut s, m, 0x0E00_0000),
            Err(El3Status::BadPas),
            "Root"
        );
        assert_eq!(
            delegate(&mut s, m, 0x0900_0000),
            Err(El3Status::BadPas),
            "MMIO (ANY)"
        );
        assert_eq!(
            delegate(&mut s, m, 0x4010_0000),
            Err(El3Status::BadPas),
            "already Realm"
        );
        assert_eq!(
            undelegate(&mut s, m, 0x4190_0000),
            Err(El3Status::BadPas),
            "NS"
        );
        assert!(m.0.is_empty(), "no maintenance on failure");
    }

    #[test]
    fn bad_regions_rejected() {
        let mut s = MapStore::default();
        let r = Region {
            base: 0x1000_0800,
            size: 0x1000,
            gpi: Gpi::Root,
        };
        assert_eq!(
            build(&mut s, 0x0EF0_0000, 8, &[r]),
            Err(BuildError::BadRegion(r))
        );
        let many: Vec<Region> = (0..3)
            .map(|i| Region {
                base: i * L0_SPAN,
                size: GRANULE,
                gpi: Gpi::Root,
            })
            .collect();
        assert_eq!(
            build(&mut s, 0x0EF0_0000, 2, &many),
            Err(BuildError::OutOfL1Tables)
        );
    }
}
