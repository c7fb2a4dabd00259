//! The boot manifest v0.3 the monitor writes at the base of the EL3 ↔ RMM shared page.
//!
//! Page layout (offsets from the shared page base):
//! `+0` [`RmmBootManifest`] (64 B), `+64` one [`NsDramBank`] (16 B), `+80` one [`ConsoleInfo`] (48 B).
//! Both lists carry the checksum of `warden_abi::manifest::checksum_for` (count + pointer + checksum
//! + every 64-bit word of the array ≡ 0 mod 2^64), the rule TF-RMM validates.

use warden_abi::manifest::{
    CONSOLE_NAME_LEN, ConsoleInfo, NsDramBank, PlatInfoList, RmmBootManifest, checksum_for,
};

use crate::platform;

/// Offset of the DRAM bank array in the page.
pub const DRAM_BANKS_OFFSET: u64 = 64;
/// Offset of the console array in the page.
pub const CONSOLES_OFFSET: u64 = 80;
/// Number of 64-bit words the monitor writes (the rest of the page is zeroed).
pub const WORDS: usize = 16;

/// The manifest for a shared page at `page_pa`, as the 64-bit words of the page's first 128 bytes.
pub fn words(page_pa: u64) -> [u64; WORDS] {
    let bank = NsDramBank {
        base: platform::DRAM_BASE,
        size: platform::DRAM_SIZE,
    };
    let mut name = [0u8; CONSOLE_NAME_LEN];
    name[..5].copy_from_slice(b"pl011");
    let console = ConsoleInfo {
        base: platform::UART0_BASE,
        map_pages: 1,
        name,
        clk_in_hz: platform::UART0_CLK_IN_HZ,
        baud_rate: platform::UART0_BAUD,
        flags: 0,
    };
    let banks_pa = page_pa + DRAM_BANKS_OFFSET;
    let consoles_pa = page_pa + CONSOLES_OFFSET;
    let manifest = RmmBootManifest {
        version: platform::BOOT_MANIFEST_VERSION.encode() as u32,
        padding: 0,
        plat_data: 0,
        plat_dram: PlatInfoList {
            num: 1,
            ptr: banks_pa,
            checksum: checksum_for(1, banks_pa, bank.words().into_iter()),
        },
        plat_console: PlatInfoList {
            num: 1,
            ptr: consoles_pa,
            checksum: checksum_for(1, consoles_pa, console.words().into_iter()),
        },
    };
    let mut w = [0u64; WORDS];
    w[0] = u64::from(manifest.version) | (u64::from(manifest.padding) << 32);
    w[1] = manifest.plat_data;
    w[2] = manifest.plat_dram.num;
    w[3] = manifest.plat_dram.ptr;
    w[4] = manifest.plat_dram.checksum;
    w[5] = manifest.plat_console.num;
    w[6] = manifest.plat_console.ptr;
    w[7] = manifest.plat_console.checksum;
    w[8..10].copy_from_slice(&bank.words());
    w[10..16].copy_from_slice(&console.words());
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_abi::manifest::checksum_ok;

    #[test]
    fn manifest_words_validate() {
        let page = platform::RMM_SHARED_PAGE;
        let w = words(page);
        assert_eq!(w[0], 0x3, "version 0.3");
        let dram = PlatInfoList {
            num: w[2],
            ptr: w[3],
            checksum: w[4],
        };
        assert_eq!(dram.ptr, page + 64);
        assert!(checksum_ok(&dram, w[8..10].iter().copied()));
        let console = PlatInfoList {
            num: w[5],
            ptr: w[6],
            checksum: w[7],
        };
        assert_eq!(console.ptr, page + 80);
        assert!(checksum_ok(&console, w[10..16].iter().copied()));
        assert_eq!((w[8], w[9]), (0x4000_0000, 3 << 30));
        assert_eq!(w[10], 0x0900_0000);
        assert_eq!(&w[12].to_le_bytes()[..6], b"pl011\0");
        // Offsets match the ABI struct layouts.
        assert_eq!(
            core::mem::size_of::<RmmBootManifest>() as u64,
            DRAM_BANKS_OFFSET
        );
        assert_eq!(
            DRAM_BANKS_OFFSET + core::mem::size_of::<NsDramBank>() as u64,
            CONSOLES_OFFSET
        );
        assert_eq!(
            CONSOLES_OFFSET as usize + core::mem::size_of::<ConsoleInfo>(),
            WORDS * 8
        );
    }
}
