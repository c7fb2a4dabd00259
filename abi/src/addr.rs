//! Typed addresses and RTT levels.
//!
//! Owns [`Pa`] (a physical address as passed in an RMI register), [`Ipa`]
//! (an intermediate physical address of a Realm), the granule size, and
//! [`Level`], an RTT level in the spec's range −1…3 for the 4 KiB granule.
//! These are values the host *alleges*; the types only record what a
//! register means, they never imply that the address is valid or mapped.

use core::fmt;

/// Size of a granule (the unit of delegation and of RTT pages): 4 KiB.
pub const GRANULE_SIZE: u64 = 4096;
/// log2 of [`GRANULE_SIZE`].
pub const GRANULE_SHIFT: u32 = 12;

const _: () = assert!(1u64 << GRANULE_SHIFT == GRANULE_SIZE);

/// `true` if `v` is a multiple of `size`; `size == 0` is never satisfied.
const fn aligned(v: u64, size: u64) -> bool {
    if size.is_power_of_two() {
        v & (size - 1) == 0
    } else {
        size != 0 && v.is_multiple_of(size)
    }
}

macro_rules! address_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[repr(transparent)]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
        pub struct $name(pub u64);

        impl $name {
            /// Wraps a raw register value.
            pub const fn new(raw: u64) -> Self {
                Self(raw)
            }

            /// The raw 64-bit value.
            pub const fn raw(self) -> u64 {
                self.0
            }

            /// `true` if the address is aligned to [`GRANULE_SIZE`].
            pub const fn is_granule_aligned(self) -> bool {
                self.0 & (GRANULE_SIZE - 1) == 0
            }

            /// `true` if the address is a multiple of `size`.
            ///
            /// `size` is normally a power of two (a level's entry size, or
            /// `rtt_num_start × 4 KiB`); any other non-zero value is handled
            /// with a division. `size == 0` returns `false`.
            pub const fn is_aligned(self, size: u64) -> bool {
                aligned(self.0, size)
            }

            /// Rounds down to a multiple of `size`, which must be a power of
            /// two (otherwise the result is unspecified but never panics).
            pub const fn align_down(self, size: u64) -> Self {
                Self(self.0 & !size.wrapping_sub(1))
            }

            /// `self + offset`, or `None` on overflow of 64 bits.
            pub const fn checked_add(self, offset: u64) -> Option<Self> {
                match self.0.checked_add(offset) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }
        }

        impl From<u64> for $name {
            fn from(v: u64) -> Self {
                Self(v)
            }
        }

        impl From<$name> for u64 {
            fn from(v: $name) -> u64 {
                v.0
            }
        }

        impl fmt::LowerHex for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::LowerHex::fmt(&self.0, f)
            }
        }
    };
}

address_type!(
    /// A physical address (an RMI `Address` argument naming a granule, a
    /// parameter page, or a host page). Says nothing about its PAS.
    Pa
);
address_type!(
    /// An intermediate physical address in a Realm's IPA space.
    Ipa
);

/// An RTT level for the 4 KiB granule: −1 (LPA2 start level) … 3 (pages).
///
/// The only way to build one is [`Level::new`] / [`Level::from_raw`], so a
/// `Level` is always in range.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Level(i8);

impl Level {
    /// Lowest level (the 16-entry LPA2 start table, 52-bit IPA).
    pub const MIN: i8 = -1;
    /// Highest level (4 KiB pages).
    pub const MAX: i8 = 3;
    /// Level 3, where DATA granules are mapped (`RMM_RTT_PAGE_LEVEL`).
    pub const PAGE: Level = Level(3);

    /// `Some` if `MIN <= l <= MAX`.
    pub const fn new(l: i8) -> Option<Level> {
        if l >= Self::MIN && l <= Self::MAX {
            Some(Level(l))
        } else {
            None
        }
    }

    /// Decodes an RMI `level` register, which the spec types as Int64:
    /// the register is reinterpreted as `i64` and must lie in −1…3.
    pub fn from_raw(v: u64) -> Option<Level> {
        let l = v as i64;
        if l >= Self::MIN as i64 && l <= Self::MAX as i64 {
            Some(Level(l as i8))
        } else {
            None
        }
    }

    /// The level number.
    pub const fn get(self) -> i8 {
        self.0
    }

    /// The level as an Int64 register value (−1 becomes `u64::MAX`).
    pub const fn to_raw(self) -> u64 {
        self.0 as i64 as u64
    }

    /// log2 of the size of the IPA range one entry at this level maps:
    /// 12 at level 3, then 9 more bits per level up (48 at level −1).
    pub const fn entry_shift(self) -> u32 {
        GRANULE_SHIFT + 9 * (3 - self.0) as u32
    }

    /// Size of the IPA range one entry at this level maps:
    /// 3 → 4 KiB, 2 → 2 MiB, 1 → 1 GiB, 0 → 512 GiB, −1 → 256 TiB.
    pub const fn entry_size(self) -> u64 {
        1u64 << self.entry_shift()
    }

    /// The next level down (towards pages), or `None` at level 3.
    pub const fn child(self) -> Option<Level> {
        Level::new(self.0 + 1)
    }

    /// The next level up (towards the root), or `None` at level −1.
    pub const fn parent(self) -> Option<Level> {
        Level::new(self.0 - 1)
    }
}

impl From<Level> for i8 {
    fn from(l: Level) -> i8 {
        l.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment() {
        assert!(Pa(0x8000_0000).is_granule_aligned());
        assert!(!Pa(0x8000_0008).is_granule_aligned());
        assert!(Ipa(0x20_0000).is_aligned(0x20_0000));
        assert!(!Ipa(0x1000).is_aligned(0x20_0000));
        assert!(Pa(0x3000).is_aligned(0x3000));
        assert!(!Pa(0x2000).is_aligned(0x3000));
        assert!(!Pa(0).is_aligned(0));
        assert_eq!(Pa(0x1234_5fff).align_down(GRANULE_SIZE), Pa(0x1234_5000));
        assert_eq!(Pa(u64::MAX).checked_add(1), None);
        assert_eq!(Ipa(1).checked_add(1), Some(Ipa(2)));
        assert_eq!(Pa(0x1000).raw(), 0x1000);
    }

    #[test]
    fn level_range() {
        assert_eq!(Level::from_raw(u64::MAX).map(Level::get), Some(-1));
        assert_eq!(Level::from_raw((-2i64) as u64), None);
        assert_eq!(Level::from_raw(0).map(Level::get), Some(0));
        assert_eq!(Level::from_raw(3).map(Level::get), Some(3));
        assert_eq!(Level::from_raw(4), None);
        assert_eq!(Level::from_raw(0x1_0000_0003), None);
        assert_eq!(Level::from_raw(0xFF), None);
        assert_eq!(Level::new(-2), None);
        assert_eq!(Level::new(4), None);
        assert_eq!(Level::new(-1).unwrap().to_raw(), u64::MAX);
        assert_eq!(Level::PAGE.child(), None);
        assert_eq!(Level::new(-1).unwrap().parent(), None);
        assert_eq!(Level::new(2).unwrap().child(), Some(Level::PAGE));
    }

    #[test]
    fn level_sizes() {
        let size = |l| Level::new(l).unwrap().entry_size();
        assert_eq!(size(3), 4 << 10);
        assert_eq!(size(2), 2 << 20);
        assert_eq!(size(1), 1 << 30);
        assert_eq!(size(0), 512 << 30);
        assert_eq!(size(-1), 256 << 40);
        assert_eq!(Level::new(-1).unwrap().entry_shift(), 48);
    }
}
