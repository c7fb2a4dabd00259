//! The `manifest` target: arbitrary boot manifests through `warden::platform::manifest`, the rules
//! the firmware's cold boot applies (checks 4–6 of `arch::aarch64::boot`).
//!
//! Owns the input format — either raw shared-buffer bytes, or a manifest built from parts (version,
//! consoles, DRAM banks mostly laid out ascending, arrays anywhere in the buffer, checksums right,
//! right by the name-less console rule, or arbitrary, counts and pointers overridable) — and the
//! oracle: a reference validator written here from the spec text (§9.2 of the ABI notes plus the
//! policy listed in `boot.rs`'s docs) whose verdict and result must equal Warden's; Warden may read
//! the buffer only at aligned words inside it; an accepted bank list must also be accepted by
//! `DramLayout::new` with the same granule count and a consistent granule numbering.

use arbitrary::{Arbitrary, Unstructured};
use warden::platform::manifest::{self, SharedBuffer};
use warden::platform::{DramBank, DramLayout};
use warden_abi::el3::SHARED_BUFFER_SIZE;
use warden_abi::manifest::{ConsoleInfo, PlatInfoList, RmmBootManifest, checksum_for};
use warden_abi::status::BootError;
use warden_abi::addr::Pa;
use zerocopy::{FromBytes, IntoBytes};

use crate::Signature;

const SIZE: usize = SHARED_BUFFER_SIZE as usize;

/// The shared buffer as the fuzzer fills it.
pub struct Buffer {
    /// Its PA.
    pub base: u64,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl Buffer {
    fn word(&self, pa: u64) -> Option<u64> {
        let off = usize::try_from(pa.checked_sub(self.base)?).ok()?;
        let b = self.bytes.get(off..off.checked_add(8)?)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }
}

impl SharedBuffer for Buffer {
    fn base(&self) -> u64 {
        self.base
    }

    fn read_word(&self, pa: u64) -> u64 {
        assert!(pa.is_multiple_of(8), "the manifest rules read a misaligned word at {pa:#x}");
        self.word(pa).unwrap_or_else(|| panic!("the manifest rules read {pa:#x}, outside the buffer at {:#x}", self.base))
    }
}

/// How a list's checksum is written.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Checksum {
    /// Right (every word).
    Right,
    /// Right by the rule that leaves out the console names.
    WithoutNames,
    /// Off by this much.
    Off(u64),
}

/// A DRAM bank.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Bank {
    /// `gap` granules after the previous bank's end (the first after 0x4000_0000), `size` granules
    /// (0: 1 GiB).
    Next {
        /// Granules of gap.
        gap: u16,
        /// Size in granules.
        size: u16,
    },
    /// A base from [`BASES`] (or any, above 7), `size` granules.
    At(u8, u64, u16),
    /// Any base and size.
    Raw(u64, u64),
}

/// Bank bases at the edges of the rules: 0, one granule, the usual DRAM base, just below the
/// 32/40/48/52-bit PA limits, the top of the address space.
const BASES: [u64; 8] =
    [0, 0x1000, 0x4000_0000, (1 << 32) - 0x1000, (1 << 40) - 0x1000, (1 << 48) - 0x1000, (1 << 52) - 0x1000, 0xFFFF_FFFF_FFFF_F000];

/// A console.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Console {
    /// Base, map_pages, clk_in_hz, baud_rate, flags.
    pub words: [u64; 5],
    /// Named "pl011".
    pub pl011: bool,
}

/// A manifest built from parts.
#[derive(Arbitrary, Debug, Clone)]
pub struct Built {
    /// The buffer's page (PA = page × 4 KiB, or the top of the address space for `u32::MAX`).
    pub page: u32,
    /// Selects the PA width.
    pub pa_bits: u8,
    /// Minor version 0.x, or any raw version.
    pub version: Result<u8, u32>,
    /// The consoles and how their list is laid out.
    pub consoles: (Vec<Console>, Layout),
    /// The banks, the same.
    pub banks: (Vec<Bank>, Layout),
}

/// Where a list's array goes and how its descriptor is written.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Layout {
    /// Offset of the array in the buffer (8-byte aligned unless `tweak` ≥ 240).
    pub offset: u16,
    /// ≥ 240: misalign the array; 224–239: override `num` with `value`; 208–223: override `ptr`.
    pub tweak: u8,
    /// The override's value.
    pub value: u64,
    /// The checksum.
    pub checksum: Checksum,
}

impl Layout {
    fn offset(self) -> usize {
        let o = usize::from(self.offset) % SIZE;
        if self.tweak >= 240 { o } else { o & !7 }
    }

    fn num(self) -> Option<u64> {
        (224..240).contains(&self.tweak).then_some(self.value)
    }

    fn ptr(self) -> Option<u64> {
        (208..224).contains(&self.tweak).then_some(self.value)
    }
}

/// The input of `manifest`.
#[derive(Arbitrary, Debug, Clone)]
pub enum Input {
    /// Raw buffer bytes.
    Raw {
        /// Buffer page.
        page: u32,
        /// PA width selector.
        pa_bits: u8,
        /// The bytes (the header is the first 64).
        bytes: Vec<u8>,
    },
    /// Built from parts.
    Built(Built),
}

const PA_BITS: [u8; 7] = [32, 36, 40, 42, 44, 48, 52];

fn buffer_base(page: u32) -> u64 {
    if page == u32::MAX { 0xFFFF_FFFF_FFFF_F000 } else { u64::from(page) << 12 }
}

fn put(bytes: &mut [u8], off: usize, words: &[u64]) {
    for (i, w) in words.iter().enumerate() {
        let at = off + i * 8;
        if let Some(dst) = bytes.get_mut(at..at + 8) {
            dst.copy_from_slice(&w.to_le_bytes());
        }
    }
}

fn list(words: &[u64], names: &[u64], n: u64, ptr: u64, c: Checksum, num: Option<u64>, p: Option<u64>) -> PlatInfoList {
    let (num, ptr) = (num.unwrap_or(n), p.unwrap_or(ptr));
    let checksum = match c {
        Checksum::Right => checksum_for(num, ptr, words.iter().copied()),
        Checksum::WithoutNames => {
            checksum_for(num, ptr, words.iter().copied()).wrapping_add(names.iter().fold(0u64, |a, b| a.wrapping_add(*b)))
        }
        Checksum::Off(d) => checksum_for(num, ptr, words.iter().copied()).wrapping_add(d),
    };
    PlatInfoList { num, ptr, checksum }
}

impl Built {
    fn lay_out(&self) -> (u64, u8, Vec<u8>) {
        let base = buffer_base(self.page);
        let mut bytes = vec![0u8; SIZE];
        let (consoles, cl) = &self.consoles;
        let consoles = &consoles[..consoles.len().min(4)];
        let c_off = cl.offset();
        let mut c_words = Vec::new();
        let mut names = Vec::new();
        for c in consoles {
            let name = u64::from_le_bytes(if c.pl011 { *b"pl011\0\0\0" } else { *b"uart\0\0\0\0" });
            let w = [c.words[0], c.words[1], name, c.words[2], c.words[3], c.words[4]];
            c_words.extend(w);
            names.push(name);
        }
        put(&mut bytes, c_off, &c_words);
        let (banks, bl) = &self.banks;
        let banks = &banks[..banks.len().min(10)];
        let b_off = bl.offset();
        let mut end = 0x4000_0000u64;
        let mut b_words = Vec::new();
        for b in banks {
            let (bb, bs) = match *b {
                Bank::Next { gap, size } => {
                    let size = if size == 0 { 1 << 30 } else { u64::from(size) << 12 };
                    (end.wrapping_add(u64::from(gap) << 12), size)
                }
                Bank::At(sel, any, size) => {
                    (BASES.get(usize::from(sel)).copied().unwrap_or(any), u64::from(size) << 12)
                }
                Bank::Raw(bb, bs) => (bb, bs),
            };
            end = bb.wrapping_add(bs);
            b_words.extend([bb, bs]);
        }
        put(&mut bytes, b_off, &b_words);
        let version = match self.version {
            Ok(minor) => u32::from(minor),
            Err(raw) => raw,
        };
        let header = RmmBootManifest {
            version,
            padding: 0,
            plat_data: 0,
            plat_dram: list(&b_words, &[], banks.len() as u64, base.wrapping_add(b_off as u64), bl.checksum, bl.num(), bl.ptr()),
            plat_console: list(
                &c_words,
                &names,
                consoles.len() as u64,
                base.wrapping_add(c_off as u64),
                cl.checksum,
                cl.num(),
                cl.ptr(),
            ),
        };
        bytes[..64].copy_from_slice(header.as_bytes());
        (base, PA_BITS[self.pa_bits as usize % PA_BITS.len()], bytes)
    }
}

/// What the reference validator accepts: the first console and the banks.
type Accepted = (Option<ConsoleInfo>, Vec<(u64, u64)>);

/// The reference validator: the rules as the spec and `boot.rs`'s docs state them.
fn reference(h: &RmmBootManifest, buf: &Buffer, pa_bits: u8) -> Result<Accepted, BootError> {
    let data = BootError::ManifestDataError;
    if h.version >> 31 != 0 || h.version >> 16 != 0 || h.version & 0xFFFF < 3 {
        return Err(BootError::ManifestVersionNotSupported);
    }
    let end = buf.base.checked_add(SHARED_BUFFER_SIZE);
    // The array of `num` entries of `len` bytes at `ptr`: all of it inside the buffer, 8-aligned.
    let array = |l: &PlatInfoList, len: u64| -> Option<Vec<u64>> {
        let bytes = l.num.checked_mul(len)?;
        let last = l.ptr.checked_add(bytes)?;
        if !l.ptr.is_multiple_of(8) || l.ptr < buf.base || last > end? {
            return None;
        }
        (0..bytes / 8).map(|i| buf.word(l.ptr + i * 8)).collect()
    };
    let sum_ok = |l: &PlatInfoList, words: &[u64]| {
        words.iter().fold(l.num.wrapping_add(l.ptr).wrapping_add(l.checksum), |a, w| a.wrapping_add(*w)) == 0
    };
    let c = &h.plat_console;
    let console = if c.num == 0 {
        if !sum_ok(c, &[]) {
            return Err(data);
        }
        None
    } else {
        let words = array(c, 48).ok_or(data)?;
        let no_names: Vec<u64> = words.iter().enumerate().filter(|(i, _)| i % 6 != 2).map(|(_, w)| *w).collect();
        if !sum_ok(c, &words) && !sum_ok(c, &no_names) {
            return Err(data);
        }
        Some(ConsoleInfo {
            base: words[0],
            map_pages: words[1],
            name: words[2].to_le_bytes(),
            clk_in_hz: words[3],
            baud_rate: words[4],
            flags: words[5],
        })
    };
    let d = &h.plat_dram;
    if d.num == 0 || d.num > 8 || d.ptr == 0 {
        return Err(data);
    }
    let words = array(d, 16).ok_or(data)?;
    let mut banks = Vec::new();
    let mut prev_end = 0u128;
    for b in words.chunks(2) {
        let (base, size) = (b[0], b[1]);
        let end = u128::from(base) + u128::from(size);
        if base == 0 || size == 0 || base % 4096 != 0 || size % 4096 != 0 || u128::from(base) < prev_end {
            return Err(data);
        }
        if end > u128::from(u64::MAX) || end > 1u128 << pa_bits {
            return Err(data);
        }
        prev_end = end;
        banks.push((base, size));
    }
    if !sum_ok(d, &words) {
        return Err(data);
    }
    Ok((console, banks))
}

/// Runs one input; panics on any violation. Returns what it exercised.
pub fn run(data: &[u8]) -> Signature {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return Signature::new() };
    let (base, pa_bits, mut bytes) = match input {
        Input::Raw { page, pa_bits, bytes } => (buffer_base(page), PA_BITS[pa_bits as usize % PA_BITS.len()], bytes),
        Input::Built(b) => b.lay_out(),
    };
    bytes.resize(SIZE, 0);
    let buf = Buffer { base, bytes };
    let header = RmmBootManifest::read_from_bytes(&buf.bytes[..64]).expect("64 bytes");
    let got = manifest::validate(&header, &buf, pa_bits);
    let want = reference(&header, &buf, pa_bits);
    let mut sig = Signature::new();
    match (&got, &want) {
        (Ok(m), Ok((console, banks))) => {
            let mine: Vec<(u64, u64)> = m.banks.iter().map(|b| (b.base, b.size)).collect();
            assert_eq!(&mine, banks, "accepted banks differ from the reference's");
            assert_eq!(m.console.as_ref(), console.as_ref(), "accepted console differs from the reference's");
            check_layout(&m.banks, pa_bits);
            sig.insert(("accepted".into(), format!("{} banks, console {}", banks.len(), console.is_some())));
        }
        (Err(e), Err(r)) => {
            assert_eq!(e.boot_error(), *r, "Warden refuses with {e:?} ({:?}), the reference with {r:?}", e.boot_error());
            let what = format!("{e:?}");
            sig.insert(("refused".into(), what.split([' ', '(', '{']).next().unwrap_or_default().to_string()));
        }
        _ => panic!("Warden says {got:x?}, the reference says {want:x?}\n  header {header:x?}"),
    }
    sig
}

/// An accepted bank list makes a `DramLayout` with the same granules, numbered consecutively.
fn check_layout(banks: &[DramBank], pa_bits: u8) {
    let layout = DramLayout::new(banks, pa_bits).expect("the manifest rules accepted banks DramLayout refuses");
    let total: u64 = banks.iter().map(|b| b.size >> 12).sum();
    assert_eq!(layout.granules() as u64, total, "granule count");
    let mut first = 0u64;
    for b in banks {
        assert_eq!(layout.index(Pa(b.base)), Some(first as usize), "index of bank {:#x}", b.base);
        let last = b.base + b.size - 4096;
        assert_eq!(layout.index(Pa(last)), Some((first + (b.size >> 12) - 1) as usize), "index of {last:#x}");
        assert_eq!(layout.index(Pa(b.base + b.size)).is_some(), banks.iter().any(|o| o.base == b.base + b.size));
        first += b.size >> 12;
    }
}
