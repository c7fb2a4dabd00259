//! RMM Boot Manifest v0.3 (EL3 → RMM, at the base of the shared buffer).
//!
//! Owns the raw layouts [`RmmBootManifest`], [`PlatInfoList`],
//! [`NsDramBank`] and [`ConsoleInfo`], and the list checksum rule shared by
//! the EL3 monitor (which computes it, [`checksum_for`]) and the RMM (which
//! verifies it, [`checksum_ok`]): count + pointer + checksum + Σ of every
//! 64-bit word of the array ≡ 0 (mod 2^64). Range and ordering checks on the
//! banks are RMM policy and live there.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::layout::assert_layout;
use crate::version::InterfaceVersion;

/// A `{count, pointer, checksum}` descriptor of a platform array
/// (`plat_dram`, `plat_console`). 24 bytes.
#[repr(C)]
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct PlatInfoList {
    /// Number of entries in the array.
    pub num: u64,
    /// PA of the array (inside the shared buffer).
    pub ptr: u64,
    /// Checksum; see [`checksum_ok`].
    pub checksum: u64,
}

assert_layout!(PlatInfoList, size = 24;
    num @ 0,
    ptr @ 8,
    checksum @ 16,
);

/// `rmm_manifest` v0.3 (64 bytes).
#[repr(C)]
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct RmmBootManifest {
    /// Manifest version (`[30:16]` major, `[15:0]` minor).
    pub version: u32,
    /// Padding (0).
    pub padding: u32,
    /// PA of optional platform data (0 if none).
    pub plat_data: u64,
    /// Non-secure DRAM banks ([`NsDramBank`] array), v0.2+.
    pub plat_dram: PlatInfoList,
    /// Consoles ([`ConsoleInfo`] array), v0.3+.
    pub plat_console: PlatInfoList,
}

assert_layout!(RmmBootManifest, size = 64;
    version @ 0,
    padding @ 4,
    plat_data @ 8,
    plat_dram @ 16,
    plat_console @ 40,
);

impl RmmBootManifest {
    /// The decoded manifest version, or `None` if bit 31 is set.
    pub const fn decoded_version(&self) -> Option<InterfaceVersion> {
        InterfaceVersion::decode(self.version as u64)
    }
}

/// `ns_dram_bank`: one non-secure DRAM bank (16 bytes).
#[repr(C)]
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct NsDramBank {
    /// Base PA.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
}

assert_layout!(NsDramBank, size = 16;
    base @ 0,
    size @ 8,
);

impl NsDramBank {
    /// The entry's 64-bit words, as summed by the checksum.
    pub const fn words(&self) -> [u64; 2] {
        [self.base, self.size]
    }
}

/// Length of [`ConsoleInfo::name`].
pub const CONSOLE_NAME_LEN: usize = 8;

/// `console_info`: one console (48 bytes).
#[repr(C)]
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct ConsoleInfo {
    /// MMIO base PA.
    pub base: u64,
    /// Number of 4 KiB pages to map.
    pub map_pages: u64,
    /// NUL-padded name, e.g. `b"pl011\0\0\0"`.
    pub name: [u8; CONSOLE_NAME_LEN],
    /// Input clock in Hz.
    pub clk_in_hz: u64,
    /// Baud rate.
    pub baud_rate: u64,
    /// Flags (reserved, 0).
    pub flags: u64,
}

assert_layout!(ConsoleInfo, size = 48;
    base @ 0,
    map_pages @ 8,
    name @ 16,
    clk_in_hz @ 24,
    baud_rate @ 32,
    flags @ 40,
);

impl ConsoleInfo {
    /// The entry's 64-bit words (the name read as a little-endian `u64`),
    /// as summed by the checksum.
    pub const fn words(&self) -> [u64; 6] {
        [
            self.base,
            self.map_pages,
            u64::from_le_bytes(self.name),
            self.clk_in_hz,
            self.baud_rate,
            self.flags,
        ]
    }
}

fn wrapping_sum(num: u64, ptr: u64, words: impl Iterator<Item = u64>) -> u64 {
    words.fold(num.wrapping_add(ptr), u64::wrapping_add)
}

/// `true` if `list.num + list.ptr + list.checksum + Σ words == 0`
/// (wrapping). `words` must yield every 64-bit word of the array
/// `list.ptr` points to (e.g. `base, size` per bank).
pub fn checksum_ok(list: &PlatInfoList, words: impl Iterator<Item = u64>) -> bool {
    wrapping_sum(list.num, list.ptr, words).wrapping_add(list.checksum) == 0
}

/// The `checksum` value to store for an array of `num` entries at `ptr`
/// whose 64-bit words are `words`: the two's complement of their sum.
pub fn checksum_for(num: u64, ptr: u64, words: impl Iterator<Item = u64>) -> u64 {
    wrapping_sum(num, ptr, words).wrapping_neg()
}
