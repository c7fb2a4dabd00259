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
    banks: ArrayVec<Bank, MAX_DRAM_BANKS>,
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
