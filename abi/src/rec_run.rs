//! `RmiRecRun`: the NS granule shared between host and RMM for `RMI_REC_ENTER`.
//!
//! Owns the raw layouts of [`RmiRecEnter`] (host → RMM, offset 0x000) and
//! [`RmiRecExit`] (RMM → host, offset 0x800), their container
//! [`RmiRecRun`], the entry flags ([`RmiRecEnterFlags`], SBZ enforced by
//! [`RmiRecEnterFlags::decode`]), the exit reason ([`RmiRecExitReason`]) and
//! the PMU overflow status ([`RmiPmuOverflowStatus`]). Exit fields not set
//! for an exit reason are MBZ; the RMM must start each exit from zero.

use bitflags::bitflags;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::layout::assert_layout;

/// Number of GPRs (X0–X30) in `RmiRecEnter` / `RmiRecExit`.
pub const REC_RUN_NR_GPRS: usize = 31;
/// Number of GICv3 list-register slots in `RmiRecEnter` / `RmiRecExit`.
pub const REC_RUN_NR_GIC_LRS: usize = 16;

/// `ICH_HCR_EL2` bits the host may set in `RmiRecEnter.gicv3_hcr`: UIE (1),
/// LRENPIE (2), NPIE (3), VGrp0EIE (4), VGrp0DIE (5), VGrp1EIE (6),
/// VGrp1DIE (7) and TDIR (14). Any other bit set is an invalid entry.
pub const GICV3_HCR_HOST_MASK: u64 = 0b1111_1110 | (1 << 14);

/// Raw `RmiRecEnter` (2048 bytes): host → RMM.
#[repr(C)]
#[derive(Clone, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RmiRecEnter {
    /// `flags` (RmiRecEnterFlags); bits 63:5 SBZ.
    pub flags: u64,
    /// Reserved, 0x008–0x1FF.
    pub reserved_008: [u8; 0x200 - 0x008],
    /// `gprs[0..30]`: register values for completing an exit.
    pub gprs: [u64; REC_RUN_NR_GPRS],
    /// Reserved, 0x2F8–0x2FF.
    pub reserved_2f8: [u8; 0x300 - 0x2F8],
    /// `gicv3_hcr`: ICH_HCR_EL2 value (see [`GICV3_HCR_HOST_MASK`]).
    pub gicv3_hcr: u64,
    /// `gicv3_lrs[0..15]`: `ICH_LR<n>_EL2` values.
    pub gicv3_lrs: [u64; REC_RUN_NR_GIC_LRS],
    /// Reserved, 0x388–0x7FF.
    pub reserved_388: [u8; 0x800 - 0x388],
}

assert_layout!(RmiRecEnter, size = 0x800;
    flags @ 0x000,
    reserved_008 @ 0x008,
    gprs @ 0x200,
    reserved_2f8 @ 0x2F8,
    gicv3_hcr @ 0x300,
    gicv3_lrs @ 0x308,
    reserved_388 @ 0x388,
);

/// Raw `RmiRecExit` (2048 bytes): RMM → host.
#[repr(C)]
#[derive(Clone, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RmiRecExit {
    /// `exit_reason` (RmiRecExitReason, 8 bits, stored zero-extended).
    pub exit_reason: u64,
    /// Reserved, 0x008–0x0FF.
    pub reserved_008: [u8; 0x100 - 0x008],
    /// `esr`: sanitised ESR_EL2.
    pub esr: u64,
    /// `far`: sanitised FAR_EL2.
    pub far: u64,
    /// `hpfar`: HPFAR_EL2.
    pub hpfar: u64,
    /// Reserved, 0x118–0x1FF.
    pub reserved_118: [u8; 0x200 - 0x118],
    /// `gprs[0..30]`.
    pub gprs: [u64; REC_RUN_NR_GPRS],
    /// Reserved, 0x2F8–0x2FF.
    pub reserved_2f8: [u8; 0x300 - 0x2F8],
    /// `gicv3_hcr`.
    pub gicv3_hcr: u64,
    /// `gicv3_lrs[0..15]`.
    pub gicv3_lrs: [u64; REC_RUN_NR_GIC_LRS],
    /// `gicv3_misr`: ICH_MISR_EL2.
    pub gicv3_misr: u64,
    /// `gicv3_vmcr`: ICH_VMCR_EL2.
    pub gicv3_vmcr: u64,
    /// Reserved, 0x398–0x3FF.
    pub reserved_398: [u8; 0x400 - 0x398],
    /// `cntp_ctl`: CNTP_CTL_EL0.
    pub cntp_ctl: u64,
    /// `cntp_cval`: CNTP_CVAL_EL0.
    pub cntp_cval: u64,
    /// `cntv_ctl`: CNTV_CTL_EL0.
    pub cntv_ctl: u64,
    /// `cntv_cval`: CNTV_CVAL_EL0.
    pub cntv_cval: u64,
    /// Reserved, 0x420–0x4FF.
    pub reserved_420: [u8; 0x500 - 0x420],
    /// `ripas_base`: base of the requested RIPAS change.
    pub ripas_base: u64,
    /// `ripas_top`: top of the requested RIPAS change.
    pub ripas_top: u64,
    /// `ripas_value` (RmiRipas, 8 bits, stored zero-extended).
    pub ripas_value: u64,
    /// Reserved, 0x518–0x5FF.
    pub reserved_518: [u8; 0x600 - 0x518],
    /// `imm` (Bits16): host call immediate; bits 63:16 of the slot MBZ.
    pub imm: u64,
    /// Reserved, 0x608–0x6FF.
    pub reserved_608: [u8; 0x700 - 0x608],
    /// `pmu_ovf_status` (RmiPmuOverflowStatus, 8 bits, zero-extended).
    pub pmu_ovf_status: u64,
    /// Reserved, 0x708–0x7FF.
    pub reserved_708: [u8; 0x800 - 0x708],
}

assert_layout!(RmiRecExit, size = 0x800;
    exit_reason @ 0x000,
    reserved_008 @ 0x008,
    esr @ 0x100,
    far @ 0x108,
    hpfar @ 0x110,
    reserved_118 @ 0x118,
    gprs @ 0x200,
    reserved_2f8 @ 0x2F8,
    gicv3_hcr @ 0x300,
    gicv3_lrs @ 0x308,
    gicv3_misr @ 0x388,
    gicv3_vmcr @ 0x390,
    reserved_398 @ 0x398,
    cntp_ctl @ 0x400,
    cntp_cval @ 0x408,
    cntv_ctl @ 0x410,
    cntv_cval @ 0x418,
    reserved_420 @ 0x420,
    ripas_base @ 0x500,
    ripas_top @ 0x508,
    ripas_value @ 0x510,
    reserved_518 @ 0x518,
    imm @ 0x600,
    reserved_608 @ 0x608,
    pmu_ovf_status @ 0x700,
    reserved_708 @ 0x708,
);

/// Raw `RmiRecRun` (4096 bytes): `enter` at 0x000, `exit` at 0x800.
#[repr(C)]
#[derive(Clone, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RmiRecRun {
    /// `enter`: host → RMM.
    pub enter: RmiRecEnter,
    /// `exit`: RMM → host.
    pub exit: RmiRecExit,
}

assert_layout!(RmiRecRun, size = 0x1000;
    enter @ 0x000,
    exit @ 0x800,
);

/// Offset of `RmiRecRun.exit` from the start of the run granule.
pub const REC_RUN_EXIT_OFFSET: usize = core::mem::offset_of!(RmiRecRun, exit);

bitflags! {
    /// `RmiRecEnterFlags`; bits 63:5 SBZ.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub struct RmiRecEnterFlags: u64 {
        /// `emul_mmio`: the host emulated the MMIO access of the last exit.
        const EMUL_MMIO = 1 << 0;
        /// `inject_sea`: inject a synchronous external abort into the Realm.
        const INJECT_SEA = 1 << 1;
        /// `trap_wfi`: trap WFI to the host.
        const TRAP_WFI = 1 << 2;
        /// `trap_wfe`: trap WFE to the host.
        const TRAP_WFE = 1 << 3;
        /// `ripas_response`: 1 = REJECT the RIPAS change request.
        const RIPAS_RESPONSE = 1 << 4;
    }
}

impl RmiRecEnterFlags {
    /// Decodes `RmiRecEnter.flags`; `None` if any SBZ bit (63:5) is set.
    pub const fn decode(v: u64) -> Option<Self> {
        Self::from_bits(v)
    }
}

impl RmiRecEnter {
    /// Decodes [`flags`](Self::flags); `None` if any SBZ bit is set.
    pub const fn decode_flags(&self) -> Option<RmiRecEnterFlags> {
        RmiRecEnterFlags::decode(self.flags)
    }

    /// `true` if `gicv3_hcr` sets only host-controllable bits
    /// ([`GICV3_HCR_HOST_MASK`]).
    pub const fn gicv3_hcr_valid(&self) -> bool {
        self.gicv3_hcr & !GICV3_HCR_HOST_MASK == 0
    }
}

/// `RmiRecExitReason` (8-bit).
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RmiRecExitReason {
    /// `RMI_EXIT_SYNC`: synchronous exception.
    Sync = 0,
    /// `RMI_EXIT_IRQ`.
    Irq = 1,
    /// `RMI_EXIT_FIQ`.
    Fiq = 2,
    /// `RMI_EXIT_PSCI`: PSCI call forwarded to the host.
    Psci = 3,
    /// `RMI_EXIT_RIPAS_CHANGE`: RIPAS change requested by the Realm.
    RipasChange = 4,
    /// `RMI_EXIT_HOST_CALL`: `RSI_HOST_CALL`.
    HostCall = 5,
    /// `RMI_EXIT_SERROR`.
    Serror = 6,
}

impl RmiRecExitReason {
    /// Decodes `RmiRecExit.exit_reason`; `None` for values not in 1.0.
    pub const fn from_raw(v: u64) -> Option<Self> {
        match v {
            0 => Some(Self::Sync),
            1 => Some(Self::Irq),
            2 => Some(Self::Fiq),
            3 => Some(Self::Psci),
            4 => Some(Self::RipasChange),
            5 => Some(Self::HostCall),
            6 => Some(Self::Serror),
            _ => None,
        }
    }

    /// The slot value.
    pub const fn to_raw(self) -> u64 {
        self as u64
    }
}

/// `RmiPmuOverflowStatus` (8-bit).
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RmiPmuOverflowStatus {
    /// `RMI_PMU_OVERFLOW_NOT_ACTIVE`.
    NotActive = 0,
    /// `RMI_PMU_OVERFLOW_ACTIVE`.
    Active = 1,
}

impl RmiPmuOverflowStatus {
    /// Decodes the slot; `None` unless it is 0 or 1.
    pub const fn from_raw(v: u64) -> Option<Self> {
        match v {
            0 => Some(Self::NotActive),
            1 => Some(Self::Active),
            _ => None,
        }
    }

    /// The slot value.
    pub const fn to_raw(self) -> u64 {
        self as u64
    }
}
