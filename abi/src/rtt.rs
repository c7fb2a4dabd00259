//! Small RMI enumerations and bitfields used by the RTT and DATA commands.
//!
//! Owns [`RmiRipas`], [`RmiRttEntryState`], [`RmiHashAlgorithm`],
//! [`RmiResponse`] and [`RmiDataFlags`]. Every `from_raw` takes the whole
//! register or slot, so a value with non-zero unused upper bits is rejected
//! (SBZ) rather than truncated.

use bitflags::bitflags;

/// `RmiRipas`: the Realm IPA state of a protected IPA (8-bit).
///
/// The 1.1 value DEV (3) is deliberately absent.
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RmiRipas {
    /// `RMI_EMPTY`.
    Empty = 0,
    /// `RMI_RAM`.
    Ram = 1,
    /// `RMI_DESTROYED`.
    Destroyed = 2,
}

impl RmiRipas {
    /// Decodes a register or slot; `None` unless it is 0, 1 or 2.
    pub const fn from_raw(v: u64) -> Option<Self> {
        match v {
            0 => Some(Self::Empty),
            1 => Some(Self::Ram),
            2 => Some(Self::Destroyed),
            _ => None,
        }
    }

    /// The register value.
    pub const fn to_raw(self) -> u64 {
        self as u64
    }
}

/// `RmiRttEntryState` as returned by `RMI_RTT_READ_ENTRY` (8-bit, 1.0
/// values; NS and protected entries share UNASSIGNED/ASSIGNED).
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RmiRttEntryState {
    /// `RMI_UNASSIGNED`.
    Unassigned = 0,
    /// `RMI_ASSIGNED`.
    Assigned = 1,
    /// `RMI_TABLE`.
    Table = 2,
}

impl RmiRttEntryState {
    /// Decodes a register; `None` unless it is 0, 1 or 2.
    pub const fn from_raw(v: u64) -> Option<Self> {
        match v {
            0 => Some(Self::Unassigned),
            1 => Some(Self::Assigned),
            2 => Some(Self::Table),
            _ => None,
        }
    }

    /// The register value.
    pub const fn to_raw(self) -> u64 {
        self as u64
    }
}

/// `RmiHashAlgorithm` / `RsiHashAlgorithm` (8-bit): the RIM/REM hash.
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RmiHashAlgorithm {
    /// `RMI_HASH_SHA_256`.
    Sha256 = 0,
    /// `RMI_HASH_SHA_512`.
    Sha512 = 1,
}

impl RmiHashAlgorithm {
    /// Decodes a register or slot; `None` unless it is 0 or 1.
    pub const fn from_raw(v: u64) -> Option<Self> {
        match v {
            0 => Some(Self::Sha256),
            1 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The register value.
    pub const fn to_raw(self) -> u64 {
        self as u64
    }

    /// Digest length in bytes (32 or 64). Measurements are stored
    /// zero-extended to 64 bytes regardless.
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// `RmiResponse` / `RsiResponse` (1-bit): the host's answer to a RIPAS
/// change request.
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RmiResponse {
    /// `RMI_ACCEPT`.
    Accept = 0,
    /// `RMI_REJECT`.
    Reject = 1,
}

impl RmiResponse {
    /// Decodes a register; `None` unless it is 0 or 1.
    pub const fn from_raw(v: u64) -> Option<Self> {
        match v {
            0 => Some(Self::Accept),
            1 => Some(Self::Reject),
            _ => None,
        }
    }

    /// The register value.
    pub const fn to_raw(self) -> u64 {
        self as u64
    }
}

bitflags! {
    /// `RmiDataFlags`: X5 of `RMI_DATA_CREATE`. Bits 63:1 SBZ.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub struct RmiDataFlags: u64 {
        /// Measure the contents of the granule (`RMI_MEASURE_CONTENT`).
        const MEASURE = 1 << 0;
    }
}

impl RmiDataFlags {
    /// Decodes X5; `None` if any SBZ bit (63:1) is set.
    pub const fn decode(v: u64) -> Option<Self> {
        Self::from_bits(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ripas() {
        assert_eq!(RmiRipas::from_raw(0), Some(RmiRipas::Empty));
        assert_eq!(RmiRipas::from_raw(1), Some(RmiRipas::Ram));
        assert_eq!(RmiRipas::from_raw(2), Some(RmiRipas::Destroyed));
        assert_eq!(RmiRipas::from_raw(3), None); // DEV is 1.1 only
        assert_eq!(RmiRipas::from_raw(0x101), None);
        assert_eq!(RmiRipas::Destroyed.to_raw(), 2);
    }

    #[test]
    fn entry_state() {
        for v in 0..3 {
            assert_eq!(RmiRttEntryState::from_raw(v).unwrap().to_raw(), v);
        }
        assert_eq!(RmiRttEntryState::from_raw(3), None);
        assert_eq!(RmiRttEntryState::from_raw(1 << 8), None);
    }

    #[test]
    fn hash_algorithm() {
        assert_eq!(
            RmiHashAlgorithm::from_raw(0),
            Some(RmiHashAlgorithm::Sha256)
        );
        assert_eq!(
            RmiHashAlgorithm::from_raw(1),
            Some(RmiHashAlgorithm::Sha512)
        );
        assert_eq!(RmiHashAlgorithm::from_raw(2), None); // SHA-384 is 2.0 only
        assert_eq!(RmiHashAlgorithm::from_raw(0x100), None);
        assert_eq!(RmiHashAlgorithm::Sha256.digest_len(), 32);
        assert_eq!(RmiHashAlgorithm::Sha512.digest_len(), 64);
    }

    #[test]
    fn response() {
        assert_eq!(RmiResponse::from_raw(0), Some(RmiResponse::Accept));
        assert_eq!(RmiResponse::from_raw(1), Some(RmiResponse::Reject));
        assert_eq!(RmiResponse::from_raw(2), None);
    }

    #[test]
    fn data_flags() {
        assert_eq!(RmiDataFlags::decode(0), Some(RmiDataFlags::empty()));
        assert_eq!(RmiDataFlags::decode(1), Some(RmiDataFlags::MEASURE));
        assert_eq!(RmiDataFlags::decode(2), None);
        assert_eq!(RmiDataFlags::decode(1 << 63 | 1), None);
    }
}
