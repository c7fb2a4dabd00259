//! The stage-2 entry encoding: what sits in each 64-bit RTT entry.
//!
//! Valid descriptors are what the MMU walks (tables, and mapped pages/blocks); every other abstract
//! state lives in an *invalid* descriptor (bits `[1:0]` = 0b00, ignored by hardware), in software
//! bits chosen by Warden:
//!
//! | bits | meaning in an invalid descriptor |
//! |---|---|
//! | `[4:2]` | HIPAS: 0 UNASSIGNED, 1 ASSIGNED (protected, RIPAS not RAM), 2 UNASSIGNED_NS |
//! | `[6:5]` | RIPAS (protected entries): 0 EMPTY, 1 RAM, 2 DESTROYED |
//!
//! An all-zero entry is UNASSIGNED with RIPAS EMPTY, so a zeroed table is a valid empty one.
//! Pure functions only.

use warden_abi::rtt::RmiRipas;

const HIPAS_SHIFT: u32 = 2;
const HIPAS_MASK: u64 = 0b111 << HIPAS_SHIFT;
const RIPAS_SHIFT: u32 = 5;
const RIPAS_MASK: u64 = 0b11 << RIPAS_SHIFT;
const DESC_TYPE_MASK: u64 = 0b11;
const DESC_TABLE: u64 = 0b11;

const HIPAS_UNASSIGNED: u64 = 0;
const HIPAS_ASSIGNED: u64 = 1;
const HIPAS_UNASSIGNED_NS: u64 = 2;

/// One RTT entry, as stored in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct RttEntry(pub u64);

/// The abstract state of an entry (the spec's RTTE state with its RIPAS where it has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// UNASSIGNED, protected, with this RIPAS.
    Unassigned(RmiRipas),
    /// ASSIGNED, protected, with this RIPAS.
    Assigned(RmiRipas),
    /// UNASSIGNED_NS.
    UnassignedNs,
    /// ASSIGNED_NS.
    AssignedNs,
    /// TABLE.
    Table,
}

impl RttEntry {
    /// UNASSIGNED with the given RIPAS.
    pub const fn unassigned(ripas: RmiRipas) -> Self {
        Self((HIPAS_UNASSIGNED << HIPAS_SHIFT) | ((ripas as u64) << RIPAS_SHIFT))
    }

    /// UNASSIGNED_NS.
    pub const fn unassigned_ns() -> Self {
        Self(HIPAS_UNASSIGNED_NS << HIPAS_SHIFT)
    }

    /// Decodes the abstract state.
    pub const fn kind(self) -> EntryKind {
        if self.0 & DESC_TYPE_MASK == DESC_TABLE {
            return EntryKind::Table;
        }
        if self.0 & DESC_TYPE_MASK != 0 {
            // A valid block or page: ASSIGNED with RIPAS RAM, or ASSIGNED_NS (bit 55, NS).
            return if self.0 & (1 << 55) != 0 { EntryKind::AssignedNs } else { EntryKind::Assigned(RmiRipas::Ram) };
        }
        let ripas = match (self.0 & RIPAS_MASK) >> RIPAS_SHIFT {
            1 => RmiRipas::Ram,
            2 => RmiRipas::Destroyed,
            _ => RmiRipas::Empty,
        };
        match (self.0 & HIPAS_MASK) >> HIPAS_SHIFT {
            HIPAS_ASSIGNED => EntryKind::Assigned(ripas),
            HIPAS_UNASSIGNED_NS => EntryKind::UnassignedNs,
            _ => EntryKind::Unassigned(ripas),
        }
    }

    /// Whether the entry is live (ASSIGNED or TABLE): a table holding one cannot be destroyed.
    pub const fn is_live(self) -> bool {
        matches!(self.kind(), EntryKind::Assigned(_) | EntryKind::Table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_unassigned_empty() {
        assert_eq!(RttEntry(0).kind(), EntryKind::Unassigned(RmiRipas::Empty));
        assert_eq!(RttEntry::unassigned(RmiRipas::Empty), RttEntry(0));
    }

    #[test]
    fn software_states_round_trip() {
        for r in [RmiRipas::Empty, RmiRipas::Ram, RmiRipas::Destroyed] {
            assert_eq!(RttEntry::unassigned(r).kind(), EntryKind::Unassigned(r));
            assert!(!RttEntry::unassigned(r).is_live());
        }
        assert_eq!(RttEntry::unassigned_ns().kind(), EntryKind::UnassignedNs);
        assert!(!RttEntry::unassigned_ns().is_live());
        assert_eq!(RttEntry(0x4000_0003).kind(), EntryKind::Table);
        assert!(RttEntry(0x4000_0003).is_live());
    }
}
