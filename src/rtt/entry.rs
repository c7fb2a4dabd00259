//! The stage-2 entry encoding: what sits in each 64-bit RTT entry. Pure functions only.
//!
//! Valid descriptors are what the MMU walks: tables (levels −1…2), pages (level 3) and blocks
//! (levels 1, 2) for ASSIGNED entries with RIPAS RAM and for ASSIGNED_NS entries. Every other
//! abstract state lives in an *invalid* descriptor (bits `[1:0]` = 0b00, ignored by hardware), in
//! software bits chosen by Warden:
//!
//! | bits | meaning in an invalid descriptor |
//! |---|---|
//! | `[4:2]` | HIPAS: 0 UNASSIGNED, 1 ASSIGNED (protected, RIPAS EMPTY or DESTROYED), 2 UNASSIGNED_NS |
//! | `[6:5]` | RIPAS (protected entries): 0 EMPTY, 1 RAM, 2 DESTROYED |
//! | `[47:12]` | the DATA address, for ASSIGNED |
//!
//! An all-zero entry is UNASSIGNED with RIPAS EMPTY, so a zeroed table is a valid empty one.
//!
//! Valid protected mappings are Normal Write-Back (MemAttr 0b110 under FEAT_S2FWB), read/write,
//! Inner Shareable, with the access flag set (hardware AF/dirty management is off for Realms).
//! Valid unprotected mappings keep the Host's address, MemAttr `[4:2]` and S2AP `[7:6]`; Warden adds
//! AF, NS (bit 55), execute-never (XN `[54:53]` = 0b10) and the shareability (Inner for cacheable
//! memory, Outer otherwise).

use warden_abi::rtt::{RmiRipas, RmiRttEntryState};

const VALID: u64 = 1 << 0;
const TABLE_OR_PAGE: u64 = 1 << 1;
const TYPE_MASK: u64 = 0b11;
/// Output address bits `[47:12]` (4 KiB granule, no LPA2).
pub const OA_MASK: u64 = 0x0000_FFFF_FFFF_F000;
const MEMATTR_MASK: u64 = 0b111 << 2;
const MEMATTR_FWB_NORMAL_WB: u64 = 0b110 << 2;
const MEMATTR_FWB_RESERVED: u64 = 0b100 << 2;
const MEMATTR_BIT5: u64 = 1 << 5;
const S2AP_MASK: u64 = 0b11 << 6;
const S2AP_RW: u64 = 0b11 << 6;
const SH_IS: u64 = 0b11 << 8;
const SH_OS: u64 = 0b10 << 8;
const AF: u64 = 1 << 10;
const XN_EL1_EL0: u64 = 0b10 << 53;
const NS: u64 = 1 << 55;

/// The bits of an ASSIGNED_NS descriptor the Host controls (`RMI_RTT_MAP_UNPROTECTED`'s `desc`).
pub const HOST_NS_ATTR_MASK: u64 = MEMATTR_MASK | S2AP_MASK;

const HIPAS_SHIFT: u32 = 2;
const HIPAS_MASK: u64 = 0b111 << HIPAS_SHIFT;
const RIPAS_SHIFT: u32 = 5;
const RIPAS_MASK: u64 = 0b11 << RIPAS_SHIFT;
const HIPAS_UNASSIGNED: u64 = 0;
const HIPAS_ASSIGNED: u64 = 1;
const HIPAS_UNASSIGNED_NS: u64 = 2;

/// One RTT entry, as stored in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct RttEntry(pub u64);

/// The abstract state of an entry: the spec's RTTE state with what it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// UNASSIGNED (protected IPA), with its RIPAS.
    Unassigned(RmiRipas),
    /// ASSIGNED (protected IPA): the DATA address and the RIPAS.
    Assigned(u64, RmiRipas),
    /// UNASSIGNED_NS.
    UnassignedNs,
    /// ASSIGNED_NS: the Host's descriptor (address, MemAttr, S2AP).
    AssignedNs(u64),
    /// TABLE: the address of the next-level RTT.
    Table(u64),
}

const fn ripas_bits(r: RmiRipas) -> u64 {
    (r as u64) << RIPAS_SHIFT
}

const fn block_or_page(level: i8) -> u64 {
    if level == 3 { VALID | TABLE_OR_PAGE } else { VALID }
}

impl RttEntry {
    /// UNASSIGNED with the given RIPAS.
    pub const fn unassigned(ripas: RmiRipas) -> Self {
        Self((HIPAS_UNASSIGNED << HIPAS_SHIFT) | ripas_bits(ripas))
    }

    /// UNASSIGNED_NS.
    pub const fn unassigned_ns() -> Self {
        Self(HIPAS_UNASSIGNED_NS << HIPAS_SHIFT)
    }

    /// ASSIGNED at `level` mapping `pa` with `ripas`: a valid page/block for RAM, else invalid.
    pub const fn assigned(pa: u64, ripas: RmiRipas, level: i8) -> Self {
        match ripas {
            RmiRipas::Ram => {
                Self(block_or_page(level) | (pa & OA_MASK) | MEMATTR_FWB_NORMAL_WB | S2AP_RW | SH_IS | AF)
            }
            _ => Self((HIPAS_ASSIGNED << HIPAS_SHIFT) | ripas_bits(ripas) | (pa & OA_MASK)),
        }
    }

    /// ASSIGNED_NS at `level` from a Host descriptor already checked by [`host_ns_desc_valid`].
    pub const fn assigned_ns(host_desc: u64, level: i8) -> Self {
        let memattr = host_desc & MEMATTR_MASK;
        let sh = if memattr == MEMATTR_FWB_NORMAL_WB || memattr == (0b111 << 2) { SH_IS } else { SH_OS };
        Self(block_or_page(level) | (host_desc & (OA_MASK | HOST_NS_ATTR_MASK)) | sh | AF | XN_EL1_EL0 | NS)
    }

    /// TABLE pointing at the RTT at `pa`.
    pub const fn table(pa: u64) -> Self {
        Self(VALID | TABLE_OR_PAGE | (pa & OA_MASK))
    }

    /// Decodes the abstract state of an entry of a level-`level` table.
    pub const fn kind(self, level: i8) -> EntryKind {
        let e = self.0;
        if e & VALID != 0 {
            if e & TYPE_MASK == (VALID | TABLE_OR_PAGE) && level < 3 {
                return EntryKind::Table(e & OA_MASK);
            }
            return if e & NS != 0 {
                EntryKind::AssignedNs(e & (OA_MASK | HOST_NS_ATTR_MASK))
            } else {
                EntryKind::Assigned(e & OA_MASK, RmiRipas::Ram)
            };
        }
        let ripas = match (e & RIPAS_MASK) >> RIPAS_SHIFT {
            1 => RmiRipas::Ram,
            2 => RmiRipas::Destroyed,
            _ => RmiRipas::Empty,
        };
        match (e & HIPAS_MASK) >> HIPAS_SHIFT {
            HIPAS_ASSIGNED => EntryKind::Assigned(e & OA_MASK, ripas),
            HIPAS_UNASSIGNED_NS => EntryKind::UnassignedNs,
            _ => EntryKind::Unassigned(ripas),
        }
    }

    /// Whether the MMU can use the entry (a table, or a mapped page or block).
    pub const fn is_valid(self) -> bool {
        self.0 & VALID != 0
    }

    /// `RttEntryIsLive`: ASSIGNED, ASSIGNED_NS or TABLE — what `top` outputs skip to.
    pub const fn is_live(self, level: i8) -> bool {
        !matches!(self.kind(level), EntryKind::Unassigned(_) | EntryKind::UnassignedNs)
    }

    /// Whether the entry keeps its table alive (ASSIGNED or TABLE; ASSIGNED_NS does not):
    /// a table holding one cannot be destroyed.
    pub const fn keeps_table_live(self, level: i8) -> bool {
        matches!(self.kind(level), EntryKind::Assigned(..) | EntryKind::Table(_))
    }

    /// What `RMI_RTT_READ_ENTRY` reports: (state, desc, ripas).
    pub const fn read_entry(self, level: i8) -> (RmiRttEntryState, u64, RmiRipas) {
        match self.kind(level) {
            EntryKind::Unassigned(r) => (RmiRttEntryState::Unassigned, 0, r),
            EntryKind::UnassignedNs => (RmiRttEntryState::Unassigned, 0, RmiRipas::Empty),
            EntryKind::Assigned(pa, r) => (RmiRttEntryState::Assigned, pa, r),
            EntryKind::AssignedNs(desc) => (RmiRttEntryState::Assigned, desc, RmiRipas::Empty),
            EntryKind::Table(pa) => (RmiRttEntryState::Table, pa, RmiRipas::Empty),
        }
    }

    /// The entry with its RIPAS set to `ripas` (UNASSIGNED and ASSIGNED entries; others unchanged).
    pub const fn with_ripas(self, ripas: RmiRipas, level: i8) -> Self {
        match self.kind(level) {
            EntryKind::Unassigned(_) => Self::unassigned(ripas),
            EntryKind::Assigned(pa, _) => Self::assigned(pa, ripas, level),
            _ => self,
        }
    }
}

/// `RttDescriptorIsValidForUnprotected` (without the alignment of the address, which the command
/// checks later as `addr_align`): only the address, MemAttr `[4:2]` and S2AP bits may be set, and
/// MemAttr must not be the FWB reserved encoding.
pub const fn host_ns_desc_valid(desc: u64) -> bool {
    desc & !(OA_MASK | HOST_NS_ATTR_MASK) == 0 && desc & MEMATTR_MASK != MEMATTR_FWB_RESERVED && desc & MEMATTR_BIT5 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const PA: u64 = 0x8840_0000;

    #[test]
    fn zero_is_unassigned_empty() {
        assert_eq!(RttEntry(0).kind(3), EntryKind::Unassigned(RmiRipas::Empty));
        assert_eq!(RttEntry::unassigned(RmiRipas::Empty), RttEntry(0));
    }

    #[test]
    fn every_state_round_trips_at_every_level() {
        for level in -1..=3i8 {
            for r in [RmiRipas::Empty, RmiRipas::Ram, RmiRipas::Destroyed] {
                let u = RttEntry::unassigned(r);
                assert_eq!(u.kind(level), EntryKind::Unassigned(r));
                assert!(!u.is_valid() && !u.is_live(level) && !u.keeps_table_live(level));
                assert_eq!(u.read_entry(level), (RmiRttEntryState::Unassigned, 0, r));
            }
            let ns = RttEntry::unassigned_ns();
            assert_eq!(ns.kind(level), EntryKind::UnassignedNs);
            assert_eq!(ns.read_entry(level), (RmiRttEntryState::Unassigned, 0, RmiRipas::Empty));
            if level < 3 {
                let t = RttEntry::table(PA);
                assert_eq!(t.kind(level), EntryKind::Table(PA));
                assert!(t.is_valid() && t.is_live(level) && t.keeps_table_live(level));
                assert_eq!(t.read_entry(level), (RmiRttEntryState::Table, PA, RmiRipas::Empty));
            }
            if level >= 1 {
                for r in [RmiRipas::Empty, RmiRipas::Ram, RmiRipas::Destroyed] {
                    let a = RttEntry::assigned(PA, r, level);
                    assert_eq!(a.kind(level), EntryKind::Assigned(PA, r), "level {level} {r:?}");
                    assert_eq!(a.is_valid(), r == RmiRipas::Ram);
                    assert!(a.is_live(level) && a.keeps_table_live(level));
                    assert_eq!(a.read_entry(level), (RmiRttEntryState::Assigned, PA, r));
                }
                let desc = PA | (0b110 << 2) | (0b01 << 6);
                let n = RttEntry::assigned_ns(desc, level);
                assert_eq!(n.kind(level), EntryKind::AssignedNs(desc));
                assert!(n.is_valid() && n.is_live(level) && !n.keeps_table_live(level));
                assert_eq!(n.read_entry(level), (RmiRttEntryState::Assigned, desc, RmiRipas::Empty));
            }
        }
    }

    #[test]
    fn valid_descriptors_have_the_architectural_bits() {
        // Level-3 page, Normal WB (FWB), RW, Inner Shareable, AF, not NS, executable.
        let page = RttEntry::assigned(PA, RmiRipas::Ram, 3).0;
        assert_eq!(page, PA | 0b11 | (0b110 << 2) | (0b11 << 6) | (0b11 << 8) | (1 << 10));
        // Level-2 block: descriptor type 0b01.
        assert_eq!(RttEntry::assigned(PA, RmiRipas::Ram, 2).0 & 0b11, 0b01);
        // Unprotected device memory: NS, XN, AF, Outer Shareable; Host bits kept.
        let dev = RttEntry::assigned_ns(PA | (0b11 << 6), 3).0;
        assert_eq!(dev, PA | 0b11 | (0b11 << 6) | (0b10 << 8) | (1 << 10) | (0b10 << 53) | (1 << 55));
        let wb = RttEntry::assigned_ns(PA | (0b110 << 2), 3).0;
        assert_eq!(wb & (0b11 << 8), 0b11 << 8);
    }

    #[test]
    fn host_descriptor_validation() {
        assert!(host_ns_desc_valid(PA | (0b110 << 2) | (0b11 << 6)));
        assert!(host_ns_desc_valid(PA));
        assert!(!host_ns_desc_valid(PA | 0b11), "descriptor type bits are Warden's");
        assert!(!host_ns_desc_valid(PA | (1 << 10)), "AF is Warden's");
        assert!(!host_ns_desc_valid(PA | (0b11 << 8)), "SH is Warden's");
        assert!(!host_ns_desc_valid(PA | (1 << 55)), "NS is Warden's");
        assert!(!host_ns_desc_valid(PA | (0b100 << 2)), "FWB reserved MemAttr");
        assert!(!host_ns_desc_valid(PA | (1 << 5)), "MemAttr[3] is RES0 under FWB");
        assert!(!host_ns_desc_valid(1 << 48), "beyond 48-bit PAs");
    }

    #[test]
    fn ripas_changes_keep_the_address() {
        let a = RttEntry::assigned(PA, RmiRipas::Ram, 3);
        assert_eq!(a.with_ripas(RmiRipas::Destroyed, 3).kind(3), EntryKind::Assigned(PA, RmiRipas::Destroyed));
        assert_eq!(RttEntry::unassigned(RmiRipas::Empty).with_ripas(RmiRipas::Ram, 3), RttEntry::unassigned(RmiRipas::Ram));
        assert_eq!(RttEntry::unassigned_ns().with_ripas(RmiRipas::Ram, 3), RttEntry::unassigned_ns());
    }
}
