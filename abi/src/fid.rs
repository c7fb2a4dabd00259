//! SMCCC function identifiers (FIDs).
//!
//! Owns every FID the RMM sends or receives: the RMI (host → RMM), the RSI and
//! PSCI (Realm → RMM), the SMCCC architecture calls, and the RMM ↔ EL3
//! interface. RMI/RSI/EL3 calls are SMC64 fast calls of the Standard Secure
//! Service owner: `0xC400_0000 | fnum`.
//!
//! FIDs arriving from a caller may carry the SMCCC 1.3 SVE hint
//! ([`SMCCC_SVE_HINT`], bit 16); [`RmiCommand::from_fid`] and
//! [`RsiCommand::from_fid`] mask it before decoding, and [`strip_sve_hint`]
//! does so for everything else.

/// SMCCC 1.3 "SVE state not live" hint: bit 16 of the FID.
pub const SMCCC_SVE_HINT: u64 = 1 << 16;

/// Return value for an unknown/unimplemented function ID (−1 as a register).
pub const SMC_UNKNOWN: u64 = u64::MAX;

/// `fid` with the [`SMCCC_SVE_HINT`] bit cleared.
pub const fn strip_sve_hint(fid: u64) -> u64 {
    fid & !SMCCC_SVE_HINT
}

/// `true` if the SMCCC 1.3 SVE hint bit is set in `fid`.
pub const fn has_sve_hint(fid: u64) -> bool {
    fid & SMCCC_SVE_HINT != 0
}

/// Realm Management Interface FIDs (RMM 1.0-rel0), host → RMM.
pub mod rmi {
    /// First FID of the RMI range that EL3 forwards to the RMM (fnum 0x150).
    pub const FID_MIN: u64 = 0xC400_0150;
    /// Last FID of the RMI range that EL3 forwards to the RMM (fnum 0x18F,
    /// which is also `RMM_RMI_REQ_COMPLETE` in the other direction).
    pub const FID_MAX: u64 = 0xC400_018F;

    /// `RMI_VERSION`: X1 requested version → X1 lower, X2 higher.
    pub const VERSION: u64 = 0xC400_0150;
    /// `RMI_GRANULE_DELEGATE`: X1 PA.
    pub const GRANULE_DELEGATE: u64 = 0xC400_0151;
    /// `RMI_GRANULE_UNDELEGATE`: X1 PA.
    pub const GRANULE_UNDELEGATE: u64 = 0xC400_0152;
    /// `RMI_DATA_CREATE`: X1 rd, X2 data, X3 ipa, X4 src, X5 flags.
    pub const DATA_CREATE: u64 = 0xC400_0153;
    /// `RMI_DATA_CREATE_UNKNOWN`: X1 rd, X2 data, X3 ipa.
    pub const DATA_CREATE_UNKNOWN: u64 = 0xC400_0154;
    /// `RMI_DATA_DESTROY`: X1 rd, X2 ipa → X1 data, X2 top.
    pub const DATA_DESTROY: u64 = 0xC400_0155;
    /// `RMI_REALM_ACTIVATE`: X1 rd.
    pub const REALM_ACTIVATE: u64 = 0xC400_0157;
    /// `RMI_REALM_CREATE`: X1 rd, X2 params_ptr.
    pub const REALM_CREATE: u64 = 0xC400_0158;
    /// `RMI_REALM_DESTROY`: X1 rd.
    pub const REALM_DESTROY: u64 = 0xC400_0159;
    /// `RMI_REC_CREATE`: X1 rd, X2 rec, X3 params_ptr.
    pub const REC_CREATE: u64 = 0xC400_015A;
    /// `RMI_REC_DESTROY`: X1 rec.
    pub const REC_DESTROY: u64 = 0xC400_015B;
    /// `RMI_REC_ENTER`: X1 rec, X2 run_ptr.
    pub const REC_ENTER: u64 = 0xC400_015C;
    /// `RMI_RTT_CREATE`: X1 rd, X2 rtt, X3 ipa, X4 level.
    pub const RTT_CREATE: u64 = 0xC400_015D;
    /// `RMI_RTT_DESTROY`: X1 rd, X2 ipa, X3 level → X1 rtt, X2 top.
    pub const RTT_DESTROY: u64 = 0xC400_015E;
    /// `RMI_RTT_MAP_UNPROTECTED`: X1 rd, X2 ipa, X3 level, X4 desc.
    pub const RTT_MAP_UNPROTECTED: u64 = 0xC400_015F;
    /// `RMI_RTT_READ_ENTRY`: X1 rd, X2 ipa, X3 level → X1 walk_level,
    /// X2 state, X3 desc, X4 ripas.
    pub const RTT_READ_ENTRY: u64 = 0xC400_0161;
    /// `RMI_RTT_UNMAP_UNPROTECTED`: X1 rd, X2 ipa, X3 level → X1 top.
    pub const RTT_UNMAP_UNPROTECTED: u64 = 0xC400_0162;
    /// `RMI_PSCI_COMPLETE`: X1 calling_rec, X2 target_rec, X3 status.
    pub const PSCI_COMPLETE: u64 = 0xC400_0164;
    /// `RMI_FEATURES`: X1 index → X1 value.
    pub const FEATURES: u64 = 0xC400_0165;
    /// `RMI_RTT_FOLD`: X1 rd, X2 ipa, X3 level → X1 rtt.
    pub const RTT_FOLD: u64 = 0xC400_0166;
    /// `RMI_REC_AUX_COUNT`: X1 rd → X1 aux_count.
    pub const REC_AUX_COUNT: u64 = 0xC400_0167;
    /// `RMI_RTT_INIT_RIPAS`: X1 rd, X2 base, X3 top → X1 out_top.
    pub const RTT_INIT_RIPAS: u64 = 0xC400_0168;
    /// `RMI_RTT_SET_RIPAS`: X1 rd, X2 rec, X3 base, X4 top → X1 out_top.
    pub const RTT_SET_RIPAS: u64 = 0xC400_0169;
}

/// Realm Service Interface FIDs (RMM 1.0-rel0), Realm → RMM.
pub mod rsi {
    /// First FID of the RSI range (fnum 0x190).
    pub const FID_MIN: u64 = 0xC400_0190;
    /// Last FID of the RSI range (fnum 0x1AF).
    pub const FID_MAX: u64 = 0xC400_01AF;

    /// `RSI_VERSION`: X1 requested version → X1 lower, X2 higher.
    pub const VERSION: u64 = 0xC400_0190;
    /// `RSI_FEATURES`: X1 index → X1 value.
    pub const FEATURES: u64 = 0xC400_0191;
    /// `RSI_MEASUREMENT_READ`: X1 index → X1–X8 value.
    pub const MEASUREMENT_READ: u64 = 0xC400_0192;
    /// `RSI_MEASUREMENT_EXTEND`: X1 index, X2 size, X3–X10 value.
    pub const MEASUREMENT_EXTEND: u64 = 0xC400_0193;
    /// `RSI_ATTESTATION_TOKEN_INIT`: X1–X8 challenge → X1 max token size.
    pub const ATTESTATION_TOKEN_INIT: u64 = 0xC400_0194;
    /// `RSI_ATTESTATION_TOKEN_CONTINUE`: X1 granule IPA, X2 offset, X3 size
    /// → X1 bytes written.
    pub const ATTESTATION_TOKEN_CONTINUE: u64 = 0xC400_0195;
    /// `RSI_REALM_CONFIG`: X1 IPA of a granule to receive `RsiRealmConfig`.
    pub const REALM_CONFIG: u64 = 0xC400_0196;
    /// `RSI_IPA_STATE_SET`: X1 base, X2 top, X3 ripas, X4 flags
    /// → X1 new_base, X2 response.
    pub const IPA_STATE_SET: u64 = 0xC400_0197;
    /// `RSI_IPA_STATE_GET`: X1 base, X2 top → X1 out_top, X2 ripas.
    pub const IPA_STATE_GET: u64 = 0xC400_0198;
    /// `RSI_HOST_CALL`: X1 IPA of an `RsiHostCall`.
    pub const HOST_CALL: u64 = 0xC400_0199;
}

/// PSCI FIDs as seen from a Realm: SMC32 `0x8400_0000 + n`, SMC64
/// `0xC400_0000 + n`.
pub mod psci {
    /// Lowest PSCI FID claimed by the RMM (SMC32 fnum 0x00).
    pub const FID_MIN_32: u64 = 0x8400_0000;
    /// Highest PSCI FID claimed by the RMM (SMC32 fnum 0x14).
    pub const FID_MAX_32: u64 = 0x8400_0014;
    /// Lowest PSCI FID claimed by the RMM (SMC64 fnum 0x00).
    pub const FID_MIN_64: u64 = 0xC400_0000;
    /// Highest PSCI FID claimed by the RMM (SMC64 fnum 0x14).
    pub const FID_MAX_64: u64 = 0xC400_0014;

    /// `PSCI_VERSION`.
    pub const VERSION: u64 = 0x8400_0000;
    /// `PSCI_CPU_SUSPEND` (SMC32).
    pub const CPU_SUSPEND_32: u64 = 0x8400_0001;
    /// `PSCI_CPU_SUSPEND` (SMC64).
    pub const CPU_SUSPEND_64: u64 = 0xC400_0001;
    /// `PSCI_CPU_OFF`.
    pub const CPU_OFF: u64 = 0x8400_0002;
    /// `PSCI_CPU_ON` (SMC32).
    pub const CPU_ON_32: u64 = 0x8400_0003;
    /// `PSCI_CPU_ON` (SMC64).
    pub const CPU_ON_64: u64 = 0xC400_0003;
    /// `PSCI_AFFINITY_INFO` (SMC32).
    pub const AFFINITY_INFO_32: u64 = 0x8400_0004;
    /// `PSCI_AFFINITY_INFO` (SMC64).
    pub const AFFINITY_INFO_64: u64 = 0xC400_0004;
    /// `PSCI_MIGRATE` (SMC32).
    pub const MIGRATE_32: u64 = 0x8400_0005;
    /// `PSCI_MIGRATE` (SMC64).
    pub const MIGRATE_64: u64 = 0xC400_0005;
    /// `PSCI_MIGRATE_INFO_TYPE`.
    pub const MIGRATE_INFO_TYPE: u64 = 0x8400_0006;
    /// `PSCI_MIGRATE_INFO_UP_CPU` (SMC32).
    pub const MIGRATE_INFO_UP_CPU_32: u64 = 0x8400_0007;
    /// `PSCI_MIGRATE_INFO_UP_CPU` (SMC64).
    pub const MIGRATE_INFO_UP_CPU_64: u64 = 0xC400_0007;
    /// `PSCI_SYSTEM_OFF`.
    pub const SYSTEM_OFF: u64 = 0x8400_0008;
    /// `PSCI_SYSTEM_RESET`.
    pub const SYSTEM_RESET: u64 = 0x8400_0009;
    /// `PSCI_FEATURES`.
    pub const FEATURES: u64 = 0x8400_000A;
    /// `PSCI_CPU_FREEZE`.
    pub const CPU_FREEZE: u64 = 0x8400_000B;
    /// `PSCI_CPU_DEFAULT_SUSPEND` (SMC32).
    pub const CPU_DEFAULT_SUSPEND_32: u64 = 0x8400_000C;
    /// `PSCI_CPU_DEFAULT_SUSPEND` (SMC64).
    pub const CPU_DEFAULT_SUSPEND_64: u64 = 0xC400_000C;
    /// `PSCI_NODE_HW_STATE` (SMC32).
    pub const NODE_HW_STATE_32: u64 = 0x8400_000D;
    /// `PSCI_NODE_HW_STATE` (SMC64).
    pub const NODE_HW_STATE_64: u64 = 0xC400_000D;
    /// `PSCI_SYSTEM_SUSPEND` (SMC32).
    pub const SYSTEM_SUSPEND_32: u64 = 0x8400_000E;
    /// `PSCI_SYSTEM_SUSPEND` (SMC64).
    pub const SYSTEM_SUSPEND_64: u64 = 0xC400_000E;
    /// `PSCI_SET_SUSPEND_MODE`.
    pub const SET_SUSPEND_MODE: u64 = 0x8400_000F;
    /// `PSCI_STAT_RESIDENCY` (SMC32).
    pub const STAT_RESIDENCY_32: u64 = 0x8400_0010;
    /// `PSCI_STAT_RESIDENCY` (SMC64).
    pub const STAT_RESIDENCY_64: u64 = 0xC400_0010;
    /// `PSCI_STAT_COUNT` (SMC32).
    pub const STAT_COUNT_32: u64 = 0x8400_0011;
    /// `PSCI_STAT_COUNT` (SMC64).
    pub const STAT_COUNT_64: u64 = 0xC400_0011;
    /// `PSCI_SYSTEM_RESET2` (SMC32).
    pub const SYSTEM_RESET2_32: u64 = 0x8400_0012;
    /// `PSCI_SYSTEM_RESET2` (SMC64).
    pub const SYSTEM_RESET2_64: u64 = 0xC400_0012;
    /// `PSCI_MEM_PROTECT`.
    pub const MEM_PROTECT: u64 = 0x8400_0013;
    /// `PSCI_MEM_PROTECT_CHECK_RANGE` (SMC32).
    pub const MEM_PROTECT_CHECK_RANGE_32: u64 = 0x8400_0014;
    /// `PSCI_MEM_PROTECT_CHECK_RANGE` (SMC64).
    pub const MEM_PROTECT_CHECK_RANGE_64: u64 = 0xC400_0014;

    /// `true` if `fid` (SVE hint ignored) lies in the PSCI range the RMM
    /// claims for Realms: SMC32 or SMC64 fnum 0x00–0x14.
    pub const fn is_psci(fid: u64) -> bool {
        let fid = super::strip_sve_hint(fid);
        (fid >= FID_MIN_32 && fid <= FID_MAX_32) || (fid >= FID_MIN_64 && fid <= FID_MAX_64)
    }
}

/// SMCCC architecture calls.
pub mod smccc {
    /// `SMCCC_VERSION`.
    pub const VERSION: u64 = 0x8000_0000;
    /// `SMCCC_ARCH_FEATURES`.
    pub const ARCH_FEATURES: u64 = 0x8000_0001;
    /// `SMCCC_NOT_SUPPORTED` (−1 as a register), returned to a Realm for
    /// any SMC outside PSCI and RSI.
    pub const NOT_SUPPORTED: u64 = u64::MAX;
}

/// RMM ↔ EL3 interface FIDs (TF-A RMMD), RMM → EL3.
pub mod el3 {
    /// `RMM_RMI_REQ_COMPLETE`: return path of an RMI call; x1..x5 become
    /// the host's X0..X4.
    pub const RMI_REQ_COMPLETE: u64 = 0xC400_018F;
    /// `RMM_GTSI_DELEGATE`: x1 PA (NS → Realm PAS).
    pub const GTSI_DELEGATE: u64 = 0xC400_01B0;
    /// `RMM_GTSI_UNDELEGATE`: x1 PA (Realm → NS PAS).
    pub const GTSI_UNDELEGATE: u64 = 0xC400_01B1;
    /// `RMM_ATTEST_GET_REALM_KEY`: x1 buf, x2 size, x3 curve → x1 key size.
    pub const ATTEST_GET_REALM_KEY: u64 = 0xC400_01B2;
    /// `RMM_ATTEST_GET_PLAT_TOKEN`: x1 buf, x2 size, x3 challenge size
    /// → x1 hunk size, x2 remaining.
    pub const ATTEST_GET_PLAT_TOKEN: u64 = 0xC400_01B3;
    /// `RMM_EL3_FEATURES` (interface ≥ 0.4): x1 index → x1 value.
    pub const EL3_FEATURES: u64 = 0xC400_01B4;
    /// `RMM_EL3_TOKEN_SIGN` (interface ≥ 0.4, optional).
    pub const EL3_TOKEN_SIGN: u64 = 0xC400_01B5;
    /// `RMM_BOOT_COMPLETE`: x1 boot result (see `status::BootError`).
    pub const BOOT_COMPLETE: u64 = 0xC400_01CF;
}

macro_rules! command_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $prefix:literal, $module:ident {
            $($(#[$vdoc:meta])* $variant:ident => $konst:ident),* $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every command, in FID order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// Decodes a FID (after masking the SVE hint, bit 16).
            pub const fn from_fid(fid: u64) -> Option<$name> {
                match strip_sve_hint(fid) {
                    $($module::$konst => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// The command's FID (without the SVE hint).
            pub const fn fid(self) -> u64 {
                match self {
                    $($name::$variant => $module::$konst,)*
                }
            }

            /// The spec's name of the command, e.g. `"RMI_VERSION"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => concat!($prefix, stringify!($konst)),)*
                }
            }
        }
    };
}

command_enum! {
    /// One RMI 1.0-rel0 command.
    RmiCommand, "RMI_", rmi {
        /// `RMI_VERSION`.
        Version => VERSION,
        /// `RMI_GRANULE_DELEGATE`.
        GranuleDelegate => GRANULE_DELEGATE,
        /// `RMI_GRANULE_UNDELEGATE`.
        GranuleUndelegate => GRANULE_UNDELEGATE,
        /// `RMI_DATA_CREATE`.
        DataCreate => DATA_CREATE,
        /// `RMI_DATA_CREATE_UNKNOWN`.
        DataCreateUnknown => DATA_CREATE_UNKNOWN,
        /// `RMI_DATA_DESTROY`.
        DataDestroy => DATA_DESTROY,
        /// `RMI_REALM_ACTIVATE`.
        RealmActivate => REALM_ACTIVATE,
        /// `RMI_REALM_CREATE`.
        RealmCreate => REALM_CREATE,
        /// `RMI_REALM_DESTROY`.
        RealmDestroy => REALM_DESTROY,
        /// `RMI_REC_CREATE`.
        RecCreate => REC_CREATE,
        /// `RMI_REC_DESTROY`.
        RecDestroy => REC_DESTROY,
        /// `RMI_REC_ENTER`.
        RecEnter => REC_ENTER,
        /// `RMI_RTT_CREATE`.
        RttCreate => RTT_CREATE,
        /// `RMI_RTT_DESTROY`.
        RttDestroy => RTT_DESTROY,
        /// `RMI_RTT_MAP_UNPROTECTED`.
        RttMapUnprotected => RTT_MAP_UNPROTECTED,
        /// `RMI_RTT_READ_ENTRY`.
        RttReadEntry => RTT_READ_ENTRY,
        /// `RMI_RTT_UNMAP_UNPROTECTED`.
        RttUnmapUnprotected => RTT_UNMAP_UNPROTECTED,
        /// `RMI_PSCI_COMPLETE`.
        PsciComplete => PSCI_COMPLETE,
        /// `RMI_FEATURES`.
        Features => FEATURES,
        /// `RMI_RTT_FOLD`.
        RttFold => RTT_FOLD,
        /// `RMI_REC_AUX_COUNT`.
        RecAuxCount => REC_AUX_COUNT,
        /// `RMI_RTT_INIT_RIPAS`.
        RttInitRipas => RTT_INIT_RIPAS,
        /// `RMI_RTT_SET_RIPAS`.
        RttSetRipas => RTT_SET_RIPAS,
    }
}

command_enum! {
    /// One RSI 1.0-rel0 command.
    RsiCommand, "RSI_", rsi {
        /// `RSI_VERSION`.
        Version => VERSION,
        /// `RSI_FEATURES`.
        Features => FEATURES,
        /// `RSI_MEASUREMENT_READ`.
        MeasurementRead => MEASUREMENT_READ,
        /// `RSI_MEASUREMENT_EXTEND`.
        MeasurementExtend => MEASUREMENT_EXTEND,
        /// `RSI_ATTESTATION_TOKEN_INIT`.
        AttestationTokenInit => ATTESTATION_TOKEN_INIT,
        /// `RSI_ATTESTATION_TOKEN_CONTINUE`.
        AttestationTokenContinue => ATTESTATION_TOKEN_CONTINUE,
        /// `RSI_REALM_CONFIG`.
        RealmConfig => REALM_CONFIG,
        /// `RSI_IPA_STATE_SET`.
        IpaStateSet => IPA_STATE_SET,
        /// `RSI_IPA_STATE_GET`.
        IpaStateGet => IPA_STATE_GET,
        /// `RSI_HOST_CALL`.
        HostCall => HOST_CALL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmi_round_trip_and_count() {
        assert_eq!(RmiCommand::ALL.len(), 23);
        for &c in RmiCommand::ALL {
            assert_eq!(RmiCommand::from_fid(c.fid()), Some(c));
            assert_eq!(RmiCommand::from_fid(c.fid() | SMCCC_SVE_HINT), Some(c));
            assert!(c.fid() >= rmi::FID_MIN && c.fid() <= rmi::FID_MAX);
            assert!(c.name().starts_with("RMI_"));
        }
        assert_eq!(RmiCommand::RttSetRipas.name(), "RMI_RTT_SET_RIPAS");
        assert_eq!(rmi::VERSION, 0xC400_0150);
    }

    #[test]
    fn rsi_round_trip_and_count() {
        assert_eq!(RsiCommand::ALL.len(), 10);
        for &c in RsiCommand::ALL {
            assert_eq!(RsiCommand::from_fid(c.fid()), Some(c));
            assert_eq!(RsiCommand::from_fid(c.fid() | SMCCC_SVE_HINT), Some(c));
            assert!(c.fid() >= rsi::FID_MIN && c.fid() <= rsi::FID_MAX);
        }
        assert_eq!(RsiCommand::HostCall.name(), "RSI_HOST_CALL");
    }

    #[test]
    fn sve_hint_masking() {
        assert_eq!(RmiCommand::from_fid(0xC401_0150), Some(RmiCommand::Version));
        assert_eq!(
            RmiCommand::from_fid(0xC401_015C),
            Some(RmiCommand::RecEnter)
        );
        assert_eq!(
            RsiCommand::from_fid(0xC401_0199),
            Some(RsiCommand::HostCall)
        );
        // Only bit 16 is masked: neighbouring bits still make the FID unknown.
        assert_eq!(RmiCommand::from_fid(0xC402_0150), None);
        assert_eq!(RmiCommand::from_fid(0xC400_8150), None);
        assert_eq!(RmiCommand::from_fid(0x1_C400_0150), None);
        assert_eq!(strip_sve_hint(0xC401_0150), 0xC400_0150);
        assert!(has_sve_hint(0xC401_0150));
        assert!(!has_sve_hint(0xC400_0150));
    }

    #[test]
    fn unused_fids_are_unknown() {
        for fnum in [0x156u64, 0x160, 0x163, 0x16A, 0x18F] {
            assert_eq!(RmiCommand::from_fid(0xC400_0000 | fnum), None);
        }
        assert_eq!(RsiCommand::from_fid(0xC400_019A), None);
        assert_eq!(RsiCommand::from_fid(rmi::VERSION), None);
        assert_eq!(RmiCommand::from_fid(rsi::VERSION), None);
        assert_eq!(RmiCommand::from_fid(SMC_UNKNOWN), None);
    }

    #[test]
    fn psci_range() {
        assert!(psci::is_psci(psci::VERSION));
        assert!(psci::is_psci(psci::CPU_ON_64));
        assert!(psci::is_psci(psci::CPU_ON_64 | SMCCC_SVE_HINT));
        assert!(psci::is_psci(psci::MEM_PROTECT_CHECK_RANGE_64));
        assert!(!psci::is_psci(0x8400_0015));
        assert!(!psci::is_psci(rmi::VERSION));
        assert!(!psci::is_psci(smccc::VERSION));
        assert_eq!(psci::CPU_ON_64, psci::CPU_ON_32 | (1 << 30));
        assert_eq!(psci::AFFINITY_INFO_64, 0xC400_0004);
    }
}
