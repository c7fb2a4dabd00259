//! The QEMU `virt` platform as this monitor sees it: memory map, devices, CPUs.
//!
//! The layout follows TF-A's `plat/qemu` with RME (shared/spec/el3-gpt-qemu.md §2.2) so the same
//! RMM image runs under either monitor.

use warden_abi::version::InterfaceVersion;

/// Number of CPUs (`-smp 4`); MPIDR Aff0 is the linear index, Aff1..3 are 0.
pub const CPU_COUNT: usize = 4;

/// PL011 UART0: the console of the monitor, the RMM (boot manifest) and the host driver.
pub const UART0_BASE: u64 = 0x0900_0000;
/// UART0 input clock reported in the manifest (as TF-A's qemu platform does).
pub const UART0_CLK_IN_HZ: u64 = 1;
/// UART0 baud rate reported in the manifest.
pub const UART0_BAUD: u64 = 115_200;

/// GICv3 distributor.
pub const GICD_BASE: u64 = 0x0800_0000;
/// First GICv3 redistributor; each CPU has two 64 KiB frames (RD, SGI).
pub const GICR_BASE: u64 = 0x080A_0000;
/// Stride between the redistributors of consecutive CPUs.
pub const GICR_STRIDE: u64 = 0x2_0000;

/// The secure PL061 whose lines drive QEMU's `gpio-pwr` (line 0 power-off, line 1 reset).
pub const SECURE_GPIO_BASE: u64 = 0x090B_0000;
/// Secure GPIO line that requests a system reset.
pub const SECURE_GPIO_RESET_LINE: u32 = 1;

/// Root-PAS SRAM: monitor data, stacks and the GPT tables (QEMU's secure RAM, 16 MiB).
pub const ROOT_RAM_BASE: u64 = 0x0E00_0000;
/// Size of the Root SRAM.
pub const ROOT_RAM_SIZE: u64 = 0x0100_0000;

/// GPT L0 table (8 KiB: PPS 1 TB, 1 GB per entry), inside the Root SRAM.
pub const GPT_L0_BASE: u64 = 0x0EEF_E000;
/// GPT L1 tables (128 KiB each), inside the Root SRAM.
pub const GPT_L1_BASE: u64 = 0x0EF0_0000;
/// Room for L1 tables: 1 MiB = 8 tables.
pub const GPT_L1_SIZE: u64 = 0x0010_0000;

/// Start of DRAM; the DTB QEMU generates for `-bios` boots lives here.
pub const DRAM_BASE: u64 = 0x4000_0000;
/// DRAM size (`-m 3G`).
pub const DRAM_SIZE: u64 = 3 << 30;
/// Where QEMU places the DTB for firmware boots (x0 of the NS entry).
pub const DTB_BASE: u64 = DRAM_BASE;

/// The RMM image (Warden): entry point and start of its Realm-PAS region.
pub const RMM_BASE: u64 = 0x4010_0000;
/// Size of the RMM's Realm region (24 MiB − 4 KiB), excluding the shared page.
pub const RMM_SIZE: u64 = 0x017F_F000;
/// The EL3 ↔ RMM shared page (boot manifest at its base), Realm PAS.
pub const RMM_SHARED_PAGE: u64 = RMM_BASE + RMM_SIZE;
/// Size of the shared page.
pub const RMM_SHARED_PAGE_SIZE: u64 = 0x1000;

/// NS-EL2 entry point of the host driver (`-device loader,addr=0x60000000`).
pub const NS_ENTRY: u64 = 0x6000_0000;

/// The RMM-EL3 interface version passed in x1 at cold boot (TF-A v2.12: 0.4).
pub const RMM_EL3_INTERFACE: InterfaceVersion = InterfaceVersion::new(0, 4);
/// The boot manifest version written into the shared page (TF-A v2.12: 0.3).
pub const BOOT_MANIFEST_VERSION: InterfaceVersion = InterfaceVersion::new(0, 3);

/// `true` if `[pa, pa + len)` lies in NS DRAM outside the Realm region (a valid NS entry point).
pub const fn is_ns_dram(pa: u64, len: u64) -> bool {
    let end = match pa.checked_add(len) {
        Some(end) => end,
        None => return false,
    };
    let in_dram = pa >= DRAM_BASE && end <= DRAM_BASE + DRAM_SIZE;
    let in_realm = pa < RMM_SHARED_PAGE + RMM_SHARED_PAGE_SIZE && end > RMM_BASE;
    in_dram && !in_realm
}

/// The linear CPU index of an MPIDR value, if it names one of our CPUs.
pub const fn cpu_index(mpidr: u64) -> Option<usize> {
    let aff0 = mpidr & 0xFF;
    let upper = mpidr & 0xFF_0000_FF00; // Aff3 [39:32], Aff2 [23:16], Aff1 [15:8]
    if upper == 0 && (aff0 as usize) < CPU_COUNT {
        Some(aff0 as usize)
    } else {
        None
    }
}

const _: () = {
    assert!(
        GPT_L0_BASE.is_multiple_of(0x2000),
        "L0 GPT must be aligned to its size"
    );
    assert!(
        GPT_L1_BASE.is_multiple_of(0x2_0000),
        "L1 GPTs must be 128 KiB aligned"
    );
    assert!(
        GPT_L0_BASE >= ROOT_RAM_BASE + 0x0080_0000,
        "GPT must not overlap the linked image (8 MiB)"
    );
    assert!(GPT_L1_BASE + GPT_L1_SIZE <= ROOT_RAM_BASE + ROOT_RAM_SIZE);
    assert!(RMM_SHARED_PAGE == 0x418F_F000);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ns_dram_excludes_realm_region() {
        assert!(is_ns_dram(NS_ENTRY, 4));
        assert!(is_ns_dram(DRAM_BASE, 4));
        assert!(!is_ns_dram(RMM_BASE, 4));
        assert!(!is_ns_dram(RMM_SHARED_PAGE, 4));
        assert!(is_ns_dram(RMM_SHARED_PAGE + 0x1000, 4));
        assert!(!is_ns_dram(0x0E00_0000, 4));
        assert!(!is_ns_dram(0xFFFF_FFFF, 4));
        assert!(!is_ns_dram(u64::MAX, 4));
    }

    #[test]
    fn mpidr_decoding() {
        assert_eq!(cpu_index(0x8000_0000), Some(0));
        assert_eq!(cpu_index(0x8000_0003), Some(3));
        assert_eq!(cpu_index(0x8000_0004), None);
        assert_eq!(cpu_index(0x8000_0100), None);
    }
}
