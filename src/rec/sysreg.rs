//! Trapped system register accesses of a Realm: the ID registers Warden presents (sanitised to what
//! the Realm may use), and the GIC SGI registers the Host must emulate. Pure functions.
//!
//! A Realm sees the hardware's ID registers with every feature Warden does not give it hidden:
//! SVE/SME, AMU, MPAM, RME, Secure EL2, MTE, GCS, and the PMU, trace, statistical profiling and
//! branch record buffer features; the breakpoint and watchpoint counts are the Realm's
//! (`num_bps`/`num_wps` from its parameters).
//!
//! Also hidden, because a Realm using them would trap or lose state (an unmodified Linux uses
//! whatever is advertised; QEMU's `-cpu max` advertises all of these):
//! * AArch32 at EL0/EL1 (the AArch32 ID registers read as zero, so claiming it would be
//!   inconsistent);
//! * features whose EL1 state or instructions are gated by `HCRX_EL2` or by negative-polarity
//!   fine-grained traps, which Warden leaves at their trapping reset values: MOPS, LS64,
//!   128-bit system registers, everything in ID_AA64MMFR3 (TCR2, SCTLR2, S1PIE/POE, AIE, D128,
//!   …), and in ID_AA64PFR1 THE (RCWMASK), MTEX, DF2 and PFAR;
//! * ID registers Warden does not know (ID_AA64PFR2, ISAR3, MMFR4, FPFR0, …) read as zero.
//!
//! Pointer authentication is offered as the hardware has it: Warden switches each REC's keys at
//! Host boundaries and leaves `HCR_EL2.API/APK` set while a Realm runs.

/// A system register, as the MRS/MSR trap syndrome names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SysregId {
    /// Op0.
    pub op0: u8,
    /// Op1.
    pub op1: u8,
    /// CRn.
    pub crn: u8,
    /// CRm.
    pub crm: u8,
    /// Op2.
    pub op2: u8,
}

impl SysregId {
    /// A register by its encoding.
    pub const fn new(op0: u8, op1: u8, crn: u8, crm: u8, op2: u8) -> Self {
        Self { op0, op1, crn, crm, op2 }
    }

    /// Whether this is in the ID register space (Op0 3, Op1 0, CRn 0, CRm 1–7).
    pub const fn is_id_space(self) -> bool {
        self.op0 == 3 && self.op1 == 0 && self.crn == 0 && self.crm >= 1 && self.crm <= 7
    }
}

/// ID registers Warden sanitises (others in the ID space pass through or read as zero).
pub mod id {
    use super::SysregId;
    /// ID_AA64PFR0_EL1.
    pub const AA64PFR0: SysregId = SysregId::new(3, 0, 0, 4, 0);
    /// ID_AA64PFR1_EL1.
    pub const AA64PFR1: SysregId = SysregId::new(3, 0, 0, 4, 1);
    /// ID_AA64ZFR0_EL1.
    pub const AA64ZFR0: SysregId = SysregId::new(3, 0, 0, 4, 4);
    /// ID_AA64SMFR0_EL1.
    pub const AA64SMFR0: SysregId = SysregId::new(3, 0, 0, 4, 5);
    /// ID_AA64DFR0_EL1.
    pub const AA64DFR0: SysregId = SysregId::new(3, 0, 0, 5, 0);
    /// ID_AA64DFR1_EL1.
    pub const AA64DFR1: SysregId = SysregId::new(3, 0, 0, 5, 1);
    /// ID_AA64ISAR0_EL1.
    pub const AA64ISAR0: SysregId = SysregId::new(3, 0, 0, 6, 0);
    /// ID_AA64ISAR1_EL1.
    pub const AA64ISAR1: SysregId = SysregId::new(3, 0, 0, 6, 1);
    /// ID_AA64ISAR2_EL1.
    pub const AA64ISAR2: SysregId = SysregId::new(3, 0, 0, 6, 2);
    /// ID_AA64MMFR0_EL1.
    pub const AA64MMFR0: SysregId = SysregId::new(3, 0, 0, 7, 0);
    /// ID_AA64MMFR1_EL1.
    pub const AA64MMFR1: SysregId = SysregId::new(3, 0, 0, 7, 1);
    /// ID_AA64MMFR2_EL1.
    pub const AA64MMFR2: SysregId = SysregId::new(3, 0, 0, 7, 2);
    /// ID_AA64MMFR3_EL1.
    pub const AA64MMFR3: SysregId = SysregId::new(3, 0, 0, 7, 3);
    /// The registers read from the hardware and passed through unchanged.
    pub const PASS_THROUGH: [SysregId; 4] = [AA64ISAR0, AA64MMFR0, AA64MMFR1, AA64MMFR2];
}

/// GIC SGI generation registers (writes exit to the Host, which emulates the IPI).
pub mod gic {
    use super::SysregId;
    /// ICC_SGI1R_EL1.
    pub const SGI1R: SysregId = SysregId::new(3, 0, 12, 11, 5);
    /// ICC_ASGI1R_EL1.
    pub const ASGI1R: SysregId = SysregId::new(3, 1, 12, 11, 6);
    /// ICC_SGI0R_EL1.
    pub const SGI0R: SysregId = SysregId::new(3, 2, 12, 11, 7);
}

/// A decoded MRS/MSR trap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysregAccess {
    /// The register.
    pub reg: SysregId,
    /// The general-purpose register (31 = XZR).
    pub rt: u8,
    /// A read (MRS).
    pub read: bool,
}

/// Decodes the ISS of an EC 0x18 trap.
pub const fn decode(esr: u64) -> SysregAccess {
    let iss = esr & 0x1FF_FFFF;
    SysregAccess {
        reg: SysregId {
            op0: ((iss >> 20) & 0b11) as u8,
            op2: ((iss >> 17) & 0b111) as u8,
            op1: ((iss >> 14) & 0b111) as u8,
            crn: ((iss >> 10) & 0xF) as u8,
            crm: ((iss >> 1) & 0xF) as u8,
        },
        rt: ((iss >> 5) & 0x1F) as u8,
        read: iss & 1 == 1,
    }
}

/// What a Realm may use, for sanitising.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealmFeatures {
    /// Breakpoints minus one.
    pub num_bps: u8,
    /// Watchpoints minus one.
    pub num_wps: u8,
}

const fn clear(v: u64, fields: &[u32]) -> u64 {
    let mut out = v;
    let mut i = 0;
    while i < fields.len() {
        out &= !(0xF << fields[i]);
        i += 1;
    }
    out
}

/// The value a Realm reads from ID register `reg`, given the hardware's value `hw`.
pub const fn sanitise(reg: SysregId, hw: u64, realm: RealmFeatures) -> u64 {
    match reg {
        // SVE 35:32, SEL2 39:36, MPAM 43:40, AMU 47:44, RME 55:52; EL0 3:0 and EL1 7:4 read
        // "AArch64 only" (1) whatever AArch32 support the hardware has.
        id::AA64PFR0 => clear(hw, &[0, 4, 32, 36, 40, 44, 52]) | 0x11,
        // MTE 11:8, MPAM_frac 19:16, SME 27:24, NMI 39:36, GCS 47:44, MTE_frac 43:40, THE 51:48,
        // MTEX 55:52, DF2 59:56, PFAR 63:60.
        id::AA64PFR1 => clear(hw, &[8, 16, 24, 36, 40, 44, 48, 52, 56, 60]),
        // LS64 63:60 (PAuth's APA 7:4, API 11:8, GPA 27:24, GPI 31:28 kept).
        id::AA64ISAR1 => clear(hw, &[60]),
        // MOPS 19:16, SYSREG_128 35:32 (PAuth's GPA3 11:8, APA3 15:12, PAC_frac 27:24 kept).
        id::AA64ISAR2 => clear(hw, &[16, 32]),
        id::AA64ZFR0 | id::AA64SMFR0 | id::AA64DFR1 | id::AA64MMFR3 => 0,
        id::AA64DFR0 => {
            // Keep DebugVer 3:0; PMUVer 11:8, TraceVer 7:4, CTX_CMPs 31:28, PMSVer 35:32, TraceFilt
            // 43:40, TraceBuffer 47:44, MTPMU 51:48, BRBE 55:52, HPMN0 63:60 hidden; BRPs/WRPs the
            // Realm's.
            let v = clear(hw, &[4, 8, 12, 20, 28, 32, 40, 44, 48, 52, 60]);
            v | ((realm.num_bps as u64 & 0xF) << 12) | ((realm.num_wps as u64 & 0xF) << 20)
        }
        _ => hw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_mrs_of_id_aa64pfr0() {
        // MRS X3, ID_AA64PFR0_EL1: Op0 3, Op2 0, Op1 0, CRn 0, Rt 3, CRm 4, read.
        let iss = (3 << 20) | (3 << 5) | (4 << 1) | 1;
        let a = decode((0x18 << 26) | (1 << 25) | iss);
        assert_eq!(a, SysregAccess { reg: id::AA64PFR0, rt: 3, read: true });
        assert!(a.reg.is_id_space());
        // MSR ICC_SGI1R_EL1, X5.
        let iss = (3 << 20) | (5 << 17) | (12 << 10) | (5 << 5) | (11 << 1);
        assert_eq!(decode(iss), SysregAccess { reg: gic::SGI1R, rt: 5, read: false });
        assert!(!gic::SGI1R.is_id_space());
    }

    #[test]
    fn sanitising_hides_what_realms_do_not_get() {
        let f = RealmFeatures { num_bps: 1, num_wps: 2 };
        let pfr0 = 0x1100_1111_2211_1112_u64 | (0x1 << 52) | (0x1 << 32);
        let s = sanitise(id::AA64PFR0, pfr0, f);
        for shift in [32, 36, 40, 44, 52] {
            assert_eq!((s >> shift) & 0xF, 0, "field at {shift}");
        }
        assert_eq!(s & 0xFFFF_FF00, pfr0 & 0xFFFF_FF00, "EL2/EL3 and FP/AdvSIMD/GIC/RAS kept");
        assert_eq!(s & 0xFF, 0x11, "EL0/EL1: AArch64 only");
        let dfr0 = 0xF0F0_F0F0_F0F5_F1F9_u64;
        let d = sanitise(id::AA64DFR0, dfr0, f);
        assert_eq!(d & 0xF, 0x9, "DebugVer kept");
        assert_eq!((d >> 12) & 0xF, 1, "BRPs = num_bps");
        assert_eq!((d >> 20) & 0xF, 2, "WRPs = num_wps");
        assert_eq!((d >> 8) & 0xF, 0, "no PMU");
        assert_eq!(sanitise(id::AA64ZFR0, u64::MAX, f), 0);
        assert_eq!(sanitise(id::AA64ISAR0, 0x1234, f), 0x1234);
    }

    #[test]
    fn sanitising_hides_what_linux_would_trap_on() {
        let f = RealmFeatures { num_bps: 1, num_wps: 1 };
        // AArch32 at EL0 and EL1 (2) becomes AArch64 only (1).
        assert_eq!(sanitise(id::AA64PFR0, 0x22, f) & 0xFF, 0x11);
        // LS64 hidden; PAuth (APA/API/GPA/GPI: keys switched per REC) and the rest kept.
        let isar1 = sanitise(id::AA64ISAR1, u64::MAX, f);
        assert_eq!(isar1, !(0xF << 60));
        // MOPS, SYSREG_128 hidden; PAuth (GPA3/APA3/PAC_frac), WFxT 3:0 and RPRES 7:4 kept.
        let isar2 = sanitise(id::AA64ISAR2, u64::MAX, f);
        for shift in [16, 32] {
            assert_eq!((isar2 >> shift) & 0xF, 0, "ISAR2 field at {shift}");
        }
        assert_eq!(isar2 & 0x0FF0_FFFF, 0x0FF0_FFFF);
        // THE, MTEX, DF2, PFAR hidden; BT 3:0 and SSBS 7:4 kept.
        let pfr1 = sanitise(id::AA64PFR1, u64::MAX, f);
        assert_eq!(pfr1 >> 48, 0);
        assert_eq!(pfr1 & 0xFF, 0xFF);
        assert_eq!(sanitise(id::AA64MMFR3, u64::MAX, f), 0, "TCR2/SCTLR2/S1PIE/S1POE/…");
        // Registers Warden does not know read as what the machine gives (zero on the firmware).
        assert_eq!(sanitise(id::AA64MMFR0, 0x1234, f), 0x1234);
    }
}
