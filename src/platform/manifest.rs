//! Validation of the boot manifest (v0.3) EL3 hands over in the shared buffer: the RMM's policy
//! on what it accepts, as pure functions over a [`SharedBuffer`].
//!
//! Owns the rules of checks 4–6 of the cold boot (see `arch::aarch64::boot`): the manifest
//! version (major 0, minor ≥ 3), the console list (inside the shared buffer, 8-byte aligned,
//! checksum by every word or — as TF-A v2.12 produces it — by every word but `name`), and the DRAM
//! bank list (1 to [`MAX_DRAM_BANKS`] banks inside the shared buffer, each non-zero and 4 KiB
//! aligned, ascending, disjoint, below the PA range, checksum). The raw layouts and the checksum
//! rule are `warden_abi::manifest`'s. What the firmware does with an accepted manifest (which
//! console driver, whether DRAM fits its own map and granule table) stays in the firmware.
//!
//! This module never touches memory itself: it reads the buffer only through
//! [`SharedBuffer::read_word`], and only at 8-byte aligned addresses inside the buffer (the
//! firmware reads physical memory there; the host build and the fuzzer read a byte array).

use core::fmt;

use arrayvec::ArrayVec;
use warden_abi::addr::GRANULE_SIZE;
use warden_abi::el3::SHARED_BUFFER_SIZE;
use warden_abi::manifest::{ConsoleInfo, NsDramBank, PlatInfoList, RmmBootManifest, checksum_ok};
use warden_abi::status::BootError;
use warden_abi::version::{BOOT_MANIFEST_0_3, InterfaceVersion};

use super::dram::{DramBank, MAX_DRAM_BANKS};

/// The EL3 ↔ RMM shared buffer, as the manifest's arrays are read from it.
pub trait SharedBuffer {
    /// Physical address of the buffer's first byte (x3 at cold boot; 4 KiB aligned).
    fn base(&self) -> u64;

    /// The 64-bit little-endian word at physical address `pa`. Callers in this module pass only
    /// 8-byte aligned addresses with `[pa, pa + 8)` inside `[base, base + SHARED_BUFFER_SIZE)`.
    fn read_word(&self, pa: u64) -> u64;
}

/// Why a manifest was refused; [`Refusal::boot_error`] is the `RMM_BOOT_COMPLETE` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The version is not 0.x with x ≥ 3 (or bit 31 is set): the raw field.
    Version(u32),
    /// The console array is not inside the shared buffer or not 8-byte aligned.
    ConsoleArray {
        /// `plat_console.num`.
        num: u64,
        /// `plat_console.ptr`.
        ptr: u64,
    },
    /// The console list's checksum is wrong (by either accepted rule).
    ConsoleChecksum,
    /// Not 1 to [`MAX_DRAM_BANKS`] DRAM banks, or a null array pointer.
    BankCount(u64),
    /// The bank array is not inside the shared buffer or not 8-byte aligned.
    BankArray(u64),
    /// Bank `index` is empty, at 0, or not 4 KiB aligned.
    BankInvalid {
        /// Index of the bank.
        index: u64,
        /// Its base.
        base: u64,
        /// Its size.
        size: u64,
    },
    /// Bank `index` starts below the end of the previous one.
    BankOrder {
        /// Index of the bank.
        index: u64,
        /// Its base.
        base: u64,
    },
    /// Bank `index` wraps or reaches beyond the `pa_bits` PA range.
    BankBeyondPaRange {
        /// Index of the bank.
        index: u64,
        /// The implemented PA width.
        pa_bits: u8,
    },
    /// The bank list's checksum is wrong.
    BankChecksum,
}

impl Refusal {
    /// The `RMM_BOOT_COMPLETE` error this refusal reports.
    pub const fn boot_error(self) -> BootError {
        match self {
            Refusal::Version(_) => BootError::ManifestVersionNotSupported,
            _ => BootError::ManifestDataError,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Refusal::Version(v) => write!(f, "version {v:#x} (Warden needs 0.x with x >= 3)"),
            Refusal::ConsoleArray { num, ptr } => {
                write!(f, "{num} consoles at {ptr:#x}: not inside the shared buffer")
            }
            Refusal::ConsoleChecksum => write!(f, "console list checksum"),
            Refusal::BankCount(n) => write!(f, "{n} DRAM banks (1 to {MAX_DRAM_BANKS})"),
            Refusal::BankArray(ptr) => write!(f, "DRAM bank array at {ptr:#x} outside the shared buffer"),
            Refusal::BankInvalid { index, base, size } => {
                write!(f, "DRAM bank {index}: {base:#x}+{size:#x} empty or unaligned")
            }
            Refusal::BankOrder { index, base } => {
                write!(f, "DRAM bank {index} at {base:#x}: not ascending and disjoint")
            }
            Refusal::BankBeyondPaRange { index, pa_bits } => {
                write!(f, "DRAM bank {index} beyond the {pa_bits}-bit PA range")
            }
            Refusal::BankChecksum => write!(f, "DRAM bank list checksum"),
        }
    }
}

/// An accepted manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest version.
    pub version: InterfaceVersion,
    /// The first console, if the list has any.
    pub console: Option<ConsoleInfo>,
    /// The DRAM banks, ascending and disjoint.
    pub banks: ArrayVec<DramBank, MAX_DRAM_BANKS>,
}

/// Checks 4–6 of the cold boot in order: [`version`], [`console`], [`dram_banks`].
pub fn validate(header: &RmmBootManifest, buf: &impl SharedBuffer, pa_bits: u8) -> Result<Manifest, Refusal> {
    let version = version(header)?;
    let console = console(&header.plat_console, buf)?;
    let banks = dram_banks(&header.plat_dram, buf, pa_bits)?;
    Ok(Manifest { version, console, banks })
}

/// The manifest version, if Warden supports it: major 0, minor ≥ 3 (TF-RMM's compatibility rule).
pub fn version(header: &RmmBootManifest) -> Result<InterfaceVersion, Refusal> {
    header
        .decoded_version()
        .filter(|v| v.major == BOOT_MANIFEST_0_3.major && v.minor >= BOOT_MANIFEST_0_3.minor)
        .ok_or(Refusal::Version(header.version))
}

/// `[ptr, ptr + len)` as an 8-byte aligned range inside the shared buffer.
fn in_buffer(buf: &impl SharedBuffer, ptr: u64, len: u64) -> Option<u64> {
    let end = ptr.checked_add(len)?;
    let buf_end = buf.base().checked_add(SHARED_BUFFER_SIZE)?;
    (ptr.is_multiple_of(8) && ptr >= buf.base() && end <= buf_end).then_some(ptr)
}

/// The `N` words of entry `i` of the array at `base` (validated by `in_buffer` for every entry).
fn entry_words<const N: usize>(buf: &impl SharedBuffer, base: u64, i: u64) -> [u64; N] {
    let at = base + i * (N as u64 * 8);
    core::array::from_fn(|w| buf.read_word(at + w as u64 * 8))
}

fn console_info(w: [u64; 6]) -> ConsoleInfo {
    ConsoleInfo { base: w[0], map_pages: w[1], name: w[2].to_le_bytes(), clk_in_hz: w[3], baud_rate: w[4], flags: w[5] }
}

/// The first console of `list` (`None` for an empty list with a valid checksum).
pub fn console(list: &PlatInfoList, buf: &impl SharedBuffer) -> Result<Option<ConsoleInfo>, Refusal> {
    const WORDS: usize = size_of::<ConsoleInfo>() / 8;
    if list.num == 0 {
        return if checksum_ok(list, core::iter::empty()) { Ok(None) } else { Err(Refusal::ConsoleChecksum) };
    }
    let bytes = list.num.checked_mul(size_of::<ConsoleInfo>() as u64);
    let Some(base) = bytes.and_then(|b| in_buffer(buf, list.ptr, b)) else {
        return Err(Refusal::ConsoleArray { num: list.num, ptr: list.ptr });
    };
    let entry = |i| console_info(entry_words::<WORDS>(buf, base, i));
    let all = (0..list.num).flat_map(|i| entry(i).words());
    let without_name = (0..list.num).flat_map(|i| {
        let c = entry(i);
        [c.base, c.map_pages, c.clk_in_hz, c.baud_rate, c.flags]
    });
    if !checksum_ok(list, all) && !checksum_ok(list, without_name) {
        return Err(Refusal::ConsoleChecksum);
    }
    Ok(Some(entry(0)))
}

/// The DRAM banks of `list`, below the `pa_bits` PA range.
pub fn dram_banks(
    list: &PlatInfoList,
    buf: &impl SharedBuffer,
    pa_bits: u8,
) -> Result<ArrayVec<DramBank, MAX_DRAM_BANKS>, Refusal> {
    const WORDS: usize = size_of::<NsDramBank>() / 8;
    if list.num == 0 || list.num > MAX_DRAM_BANKS as u64 || list.ptr == 0 {
        return Err(Refusal::BankCount(list.num));
    }
    let base = in_buffer(buf, list.ptr, list.num * size_of::<NsDramBank>() as u64).ok_or(Refusal::BankArray(list.ptr))?;
    let entry = |i| {
        let [base, size] = entry_words::<WORDS>(buf, base, i);
        NsDramBank { base, size }
    };
    let mut banks = ArrayVec::new();
    let mut prev_end = 0u64;
    for index in 0..list.num {
        let b = entry(index);
        if b.base == 0 || b.size == 0 || !(b.base | b.size).is_multiple_of(GRANULE_SIZE) {
            return Err(Refusal::BankInvalid { index, base: b.base, size: b.size });
        }
        if b.base < prev_end {
            return Err(Refusal::BankOrder { index, base: b.base });
        }
        let end = b.base.checked_add(b.size).filter(|&e| u128::from(e) <= 1u128 << pa_bits);
        let Some(end) = end else {
            return Err(Refusal::BankBeyondPaRange { index, pa_bits });
        };
        prev_end = end;
        banks.push(DramBank { base: b.base, size: b.size });
    }
    if !checksum_ok(list, (0..list.num).flat_map(|i| entry(i).words())) {
        return Err(Refusal::BankChecksum);
    }
    Ok(banks)
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use warden_abi::manifest::checksum_for;

    use super::*;

    /// A shared buffer at `base` holding `bytes` (zero beyond).
    struct Buf {
        base: u64,
        bytes: Vec<u8>,
    }

    impl SharedBuffer for Buf {
        fn base(&self) -> u64 {
            self.base
        }
        fn read_word(&self, pa: u64) -> u64 {
            let off = (pa - self.base) as usize;
            assert!(pa.is_multiple_of(8) && off + 8 <= SHARED_BUFFER_SIZE as usize, "read outside the buffer at {pa:#x}");
            let mut w = [0u8; 8];
            for (i, b) in w.iter_mut().enumerate() {
                *b = self.bytes.get(off + i).copied().unwrap_or(0);
            }
            u64::from_le_bytes(w)
        }
    }

    const BASE: u64 = 0x418F_F000;

    fn put(bytes: &mut Vec<u8>, off: usize, words: &[u64]) {
        bytes.resize(bytes.len().max(off + words.len() * 8), 0);
        for (i, w) in words.iter().enumerate() {
            bytes[off + i * 8..off + i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
    }

    /// A valid manifest: one PL011 console at +0x40, `banks` at +0x100.
    fn manifest(banks: &[(u64, u64)]) -> (RmmBootManifest, Buf) {
        let mut bytes = Vec::new();
        let console = ConsoleInfo {
            base: 0x0900_0000,
            map_pages: 1,
            name: *b"pl011\0\0\0",
            clk_in_hz: 24_000_000,
            baud_rate: 115_200,
            flags: 0,
        };
        put(&mut bytes, 0x40, &console.words());
        let words: Vec<u64> = banks.iter().flat_map(|&(b, s)| [b, s]).collect();
        put(&mut bytes, 0x100, &words);
        let n = banks.len() as u64;
        let header = RmmBootManifest {
            version: 3,
            padding: 0,
            plat_data: 0,
            plat_dram: PlatInfoList { num: n, ptr: BASE + 0x100, checksum: checksum_for(n, BASE + 0x100, words.iter().copied()) },
            plat_console: PlatInfoList { num: 1, ptr: BASE + 0x40, checksum: checksum_for(1, BASE + 0x40, console.words().into_iter()) },
        };
        (header, Buf { base: BASE, bytes })
    }

    #[test]
    fn a_valid_manifest_is_accepted() {
        let (h, buf) = manifest(&[(0x4190_0000, 0x1000_0000), (0x8000_0000, 0x4000_0000)]);
        let m = validate(&h, &buf, 40).expect("valid");
        assert_eq!(m.version, BOOT_MANIFEST_0_3);
        assert_eq!(m.console.map(|c| c.name), Some(*b"pl011\0\0\0"));
        assert_eq!(m.banks.len(), 2);
    }

    #[test]
    fn refusals_and_their_boot_errors() {
        let (mut h, buf) = manifest(&[(0x4190_0000, 0x1000)]);
        h.version = 0x1_0003;
        assert_eq!(validate(&h, &buf, 40), Err(Refusal::Version(0x1_0003)));
        assert_eq!(Refusal::Version(0).boot_error(), BootError::ManifestVersionNotSupported);
        let (mut h, buf) = manifest(&[(0x4190_0000, 0x1000)]);
        h.plat_console.ptr = BASE + 0xFF0;
        assert!(matches!(validate(&h, &buf, 40), Err(Refusal::ConsoleArray { .. })));
        let (mut h, buf) = manifest(&[(0x4190_0000, 0x1000)]);
        h.plat_dram.checksum ^= 1;
        assert_eq!(validate(&h, &buf, 40), Err(Refusal::BankChecksum));
        assert_eq!(Refusal::BankChecksum.boot_error(), BootError::ManifestDataError);
        let (h, buf) = manifest(&[(0x8000_0000, 0x2000), (0x8000_1000, 0x1000)]);
        assert_eq!(validate(&h, &buf, 40), Err(Refusal::BankOrder { index: 1, base: 0x8000_1000 }));
        let (h, buf) = manifest(&[(0xFF_FFFF_F000, 0x2000)]);
        assert_eq!(validate(&h, &buf, 40), Err(Refusal::BankBeyondPaRange { index: 0, pa_bits: 40 }));
    }

    #[test]
    fn a_buffer_at_the_top_of_the_address_space_is_refused_not_wrapped() {
        let (mut h, mut buf) = manifest(&[(0x4190_0000, 0x1000)]);
        buf.base = 0xFFFF_FFFF_FFFF_F000;
        h.plat_console.num = 0;
        h.plat_console.checksum = 0;
        h.plat_console.ptr = 0;
        h.plat_dram.ptr = buf.base + 0x100;
        assert_eq!(validate(&h, &buf, 48), Err(Refusal::BankArray(buf.base + 0x100)));
    }
}
