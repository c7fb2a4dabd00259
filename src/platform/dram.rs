//! The delegable DRAM: which physical granules the Host may delegate to Realms.
//!
//! Owns the mapping between a physical address and a granule index (used by the granule table).
//! The common case — one bank — is one subtraction and one compare; with several banks (at most
//! [`MAX_DRAM_BANKS`], ascending and disjoint, as the boot manifest guarantees) it is a short scan
//! over precomputed index offsets. This module only computes; it never touches memory.

use arrayvec::ArrayVec;
use warden_abi::addr::{GRANULE_SHIFT, GRANULE_SIZE, Pa};

/// Most DRAM banks Warden accepts from the boot manifest.
pub const MAX_DRAM_BANKS: usize = 8;
/// Most banks of a layout: the manifest's, each RMM-memory hole able to split one in two.
const MAX_LAYOUT_BANKS: usize = MAX_DRAM_BANKS + 4;

/// One bank of delegable DRAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DramBank {
    /// First byte of the bank (granule aligned).
    pub base: u64,
    /// Size in bytes (a non-zero multiple of the granule size).
    pub size: u64,
}

/// Why a list of banks was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DramLayoutError {
    /// No banks, or more than [`MAX_DRAM_BANKS`].
    BankCount,
    /// A bank is empty, not granule aligned, or wraps the address space.
    BadBank,
    /// Banks are not ascending and disjoint.
    Order,
    /// A bank reaches beyond the implemented physical address range.
    BeyondPaRange,
}

#[derive(Clone, Copy, Debug)]
struct Bank {
    base: u64,
    end: u64,
    first_index: usize,
}

/// The delegable DRAM, as validated banks with a precomputed granule numbering.
#[derive(Clone, Debug)]
pub struct DramLayout {
    banks: ArrayVec<Bank, MAX_LAYOUT_BANKS>,
    granules: usize,
}

impl DramLayout {
    /// Validates `banks` (ascending, disjoint, granule aligned, below `2^pa_bits`) and numbers their
    /// granules consecutively.
    pub fn new(banks: &[DramBank], pa_bits: u8) -> Result<Self, DramLayoutError> {
        if banks.is_empty() || banks.len() > MAX_DRAM_BANKS {
            return Err(DramLayoutError::BankCount);
        }
        let pa_limit = 1u128 << pa_bits;
        let mut out = ArrayVec::new();
        let mut granules = 0usize;
        let mut prev_end = 0u64;
        for (i, b) in banks.iter().enumerate() {
            let end = b.base.checked_add(b.size).ok_or(DramLayoutError::BadBank)?;
            if b.size == 0 || b.base % GRANULE_SIZE != 0 || b.size % GRANULE_SIZE != 0 {
                return Err(DramLayoutError::BadBank);
            }
            if i > 0 && b.base < prev_end {
                return Err(DramLayoutError::Order);
            }
            if u128::from(end) > pa_limit {
                return Err(DramLayoutError::BeyondPaRange);
            }
            out.push(Bank { base: b.base, end, first_index: granules });
            granules += (b.size >> GRANULE_SHIFT) as usize;
            prev_end = end;
        }
        Ok(Self { banks: out, granules })
    }

    /// Like [`DramLayout::new`], but without the granules of each `[start, end)` in `holes` — the
    /// RMM's own memory inside a bank (its image, stack, granule table, and the EL3 shared page),
    /// which the boot manifest reports as DRAM but which must never be delegable: without the
    /// holes, GRANULE_DELEGATE of Warden's own code would depend on EL3 refusing it. A bank a hole
    /// cuts in two becomes two banks (so up to `2 × holes` more than the manifest gave).
    pub fn with_holes(banks: &[DramBank], pa_bits: u8, holes: &[(u64, u64)]) -> Result<Self, DramLayoutError> {
        let mut layout = Self::new(banks, pa_bits)?;
        for &(start, end) in holes {
            let start = start & !(GRANULE_SIZE - 1);
            let end = end.div_ceil(GRANULE_SIZE) * GRANULE_SIZE;
            let mut cut: ArrayVec<Bank, MAX_LAYOUT_BANKS> = ArrayVec::new();
            for b in &layout.banks {
                for (lo, hi) in [(b.base, b.end.min(start)), (b.base.max(end), b.end)] {
                    if lo < hi {
                        cut.try_push(Bank { base: lo, end: hi, first_index: 0 }).map_err(|_| DramLayoutError::BankCount)?;
                    }
                }
            }
            if cut.is_empty() {
                return Err(DramLayoutError::BankCount);
            }
            layout.banks = cut;
        }
        let mut granules = 0usize;
        for b in &mut layout.banks {
            b.first_index = granules;
            granules += ((b.end - b.base) >> GRANULE_SHIFT) as usize;
        }
        layout.granules = granules;
        Ok(layout)
    }

    /// Number of granules in all banks.
    pub fn granules(&self) -> usize {
        self.granules
    }

    /// The granule index of `pa` if it lies in delegable DRAM (`PaIsDelegable`); `pa` need not be
    /// aligned (the index is that of the granule containing it).
    #[inline]
    pub fn index(&self, pa: Pa) -> Option<usize> {
        let pa = pa.raw();
        // The first bank is checked without a loop: one bank is the common machine.
        let first = &self.banks[0];
        if pa >= first.base && pa < first.end {
            return Some(((pa - first.base) >> GRANULE_SHIFT) as usize);
        }
        self.banks[1..]
            .iter()
            .find(|b| pa >= b.base && pa < b.end)
            .map(|b| b.first_index + ((pa - b.base) >> GRANULE_SHIFT) as usize)
    }

    /// The banks, in ascending order.
    pub fn banks(&self) -> impl Iterator<Item = DramBank> + '_ {
        self.banks.iter().map(|b| DramBank { base: b.base, size: b.end - b.base })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: u64 = GRANULE_SIZE;

    #[test]
    fn holes_cut_banks_and_renumber() {
        let banks = [DramBank { base: 0x4000_0000, size: 0x1000_0000 }];
        // Warden's region inside the bank, and the shared page right after it.
        let l = DramLayout::with_holes(&banks, 40, &[(0x4010_0000, 0x418F_F000), (0x418F_F000, 0x4190_0000)]).unwrap();
        let got: ArrayVec<DramBank, 4> = l.banks().collect();
        assert_eq!(
            got.as_slice(),
            [DramBank { base: 0x4000_0000, size: 0x10_0000 }, DramBank { base: 0x4190_0000, size: 0x5000_0000 - 0x4190_0000 }]
        );
        assert_eq!(l.granules(), (0x1000_0000 - 0x180_0000) / G as usize);
        assert_eq!(l.index(Pa(0x400F_F000)), Some(0xFF));
        assert_eq!(l.index(Pa(0x4010_0000)), None, "Warden's image is not delegable");
        assert_eq!(l.index(Pa(0x418F_F000)), None, "the EL3 shared page is not delegable");
        assert_eq!(l.index(Pa(0x4190_0000)), Some(0x100), "numbering continues after the hole");
    }

    #[test]
    fn holes_outside_or_covering() {
        let banks = [DramBank { base: 0x8000_0000, size: 16 * G }];
        let same = DramLayout::with_holes(&banks, 40, &[(0x4000_0000, 0x4000_1000)]).unwrap();
        assert_eq!(same.granules(), 16);
        // A hole at a bank's edge trims it; unaligned ends round outward to whole granules.
        let trimmed = DramLayout::with_holes(&banks, 40, &[(0x8000_0000, 0x8000_0001)]).unwrap();
        assert_eq!(trimmed.granules(), 15);
        assert_eq!(trimmed.index(Pa(0x8000_1000)), Some(0));
        // Nothing left: refused.
        assert_eq!(
            DramLayout::with_holes(&banks, 40, &[(0x8000_0000, 0x8001_0000)]).unwrap_err(),
            DramLayoutError::BankCount
        );
    }
}
