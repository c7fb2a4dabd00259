//! Status and return codes.
//!
//! Owns the RMI command return code ([`RmiStatus`]: an [`RmiStatusCode`] plus
//! an 8-bit index, packed into X0), the RSI return code ([`RsiStatus`]), PSCI
//! return codes ([`PsciReturn`], [`PsciAffinityState`]), the EL3 service
//! return codes ([`El3Status`]) and the RMM boot result codes
//! ([`BootError`]). Encoders produce MBZ-clean registers; decoders reject
//! anything that is not a valid encoding.

/// `RmiStatusCode` (RMM 1.0-rel0 has exactly codes 0–4).
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RmiStatusCode {
    /// `RMI_SUCCESS`.
    Success = 0,
    /// `RMI_ERROR_INPUT`.
    ErrorInput = 1,
    /// `RMI_ERROR_REALM`.
    ErrorRealm = 2,
    /// `RMI_ERROR_REC`.
    ErrorRec = 3,
    /// `RMI_ERROR_RTT`.
    ErrorRtt = 4,
}

impl RmiStatusCode {
    /// Decodes an 8-bit status value; `None` for values the 1.0 spec does
    /// not define (5 and up).
    pub const fn from_raw(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Success),
            1 => Some(Self::ErrorInput),
            2 => Some(Self::ErrorRealm),
            3 => Some(Self::ErrorRec),
            4 => Some(Self::ErrorRtt),
            _ => None,
        }
    }
}

/// `RmiCommandReturnCode`: X0 of every RMI command,
/// `X0 = (index << 8) | status`, bits 63:16 MBZ.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RmiStatus {
    /// The status.
    pub code: RmiStatusCode,
    /// Disambiguates the failure: the RTT level for `RMI_ERROR_RTT`, 0/1 for
    /// `RMI_ERROR_REALM` from `RMI_REC_ENTER`, otherwise 0.
    pub index: u8,
}

impl RmiStatus {
    /// `RMI_SUCCESS` (index 0).
    pub const SUCCESS: RmiStatus = RmiStatus::new(RmiStatusCode::Success, 0);

    /// A status with an explicit index.
    pub const fn new(code: RmiStatusCode, index: u8) -> Self {
        Self { code, index }
    }

    /// `RMI_ERROR_INPUT` (index 0).
    pub const fn input() -> Self {
        Self::new(RmiStatusCode::ErrorInput, 0)
    }

    /// `RMI_ERROR_REALM` with `index` (`RMI_REC_ENTER`: 0 = Realm is NEW,
    /// 1 = Realm is SYSTEM_OFF; other commands: 0).
    pub const fn realm(index: u8) -> Self {
        Self::new(RmiStatusCode::ErrorRealm, index)
    }

    /// `RMI_ERROR_REC` (index 0).
    pub const fn rec() -> Self {
        Self::new(RmiStatusCode::ErrorRec, 0)
    }

    /// `RMI_ERROR_RTT` at RTT level `level`.
    ///
    /// The index is `level as u8`, so level −1 (LPA2 start level) is
    /// reported as index 0xFF. The spec's UInt8 index cannot hold −1 and
    /// does not say how it is encoded; 0xFF is the two's-complement byte,
    /// matches TF-RMM's `(unsigned char)level` and cannot be confused with
    /// levels 0…3.
    pub const fn rtt(level: i8) -> Self {
        Self::new(RmiStatusCode::ErrorRtt, level as u8)
    }

    /// `true` for `RMI_SUCCESS`.
    pub const fn is_success(self) -> bool {
        matches!(self.code, RmiStatusCode::Success)
    }

    /// For `RMI_ERROR_RTT`, the level the index names (0xFF → −1).
    pub const fn rtt_level(self) -> Option<i8> {
        match self.code {
            RmiStatusCode::ErrorRtt => Some(self.index as i8),
            _ => None,
        }
    }

    /// Packs into X0: `(index << 8) | code`.
    pub const fn to_x0(self) -> u64 {
        ((self.index as u64) << 8) | self.code as u64
    }

    /// Unpacks X0; `None` if bits 63:16 are not zero or the status is not a
    /// 1.0 `RmiStatusCode`.
    pub fn from_x0(x0: u64) -> Option<Self> {
        if x0 >> 16 != 0 {
            return None;
        }
        let code = RmiStatusCode::from_raw(x0 as u8)?;
        Some(Self::new(code, (x0 >> 8) as u8))
    }
}

impl From<RmiStatusCode> for RmiStatus {
    fn from(code: RmiStatusCode) -> Self {
        Self::new(code, 0)
    }
}

/// `RsiCommandReturnCode` (64-bit enum, no index field).
#[repr(u64)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RsiStatus {
    /// `RSI_SUCCESS`.
    Success = 0,
    /// `RSI_ERROR_INPUT`.
    ErrorInput = 1,
    /// `RSI_ERROR_STATE`.
    ErrorState = 2,
    /// `RSI_INCOMPLETE`.
    Incomplete = 3,
    /// `RSI_ERROR_UNKNOWN` (new in rel0).
    ErrorUnknown = 4,
}

impl RsiStatus {
    /// The X0 value.
    pub const fn to_x0(self) -> u64 {
        self as u64
    }

    /// Decodes X0; `None` for values not defined by RSI 1.0.
    pub const fn from_x0(x0: u64) -> Option<Self> {
        match x0 {
            0 => Some(Self::Success),
            1 => Some(Self::ErrorInput),
            2 => Some(Self::ErrorState),
            3 => Some(Self::Incomplete),
            4 => Some(Self::ErrorUnknown),
            _ => None,
        }
    }
}

/// PSCI return codes (signed 32-bit values, sign-extended into X0).
#[repr(i64)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PsciReturn {
    /// `PSCI_SUCCESS`.
    Success = 0,
    /// `PSCI_NOT_SUPPORTED`.
    NotSupported = -1,
    /// `PSCI_INVALID_PARAMETERS`.
    InvalidParameters = -2,
    /// `PSCI_DENIED`.
    Denied = -3,
    /// `PSCI_ALREADY_ON`.
    AlreadyOn = -4,
    /// `PSCI_ON_PENDING`.
    OnPending = -5,
    /// `PSCI_INTERNAL_FAILURE`.
    InternalFailure = -6,
    /// `PSCI_NOT_PRESENT`.
    NotPresent = -7,
    /// `PSCI_DISABLED`.
    Disabled = -8,
    /// `PSCI_INVALID_ADDRESS`.
    InvalidAddress = -9,
}

impl PsciReturn {
    /// The X0 value (sign-extended to 64 bits).
    pub const fn to_x0(self) -> u64 {
        self as i64 as u64
    }

    /// Decodes a register value such as `RMI_PSCI_COMPLETE`'s X3 status.
    /// Accepts the 64-bit sign-extended encoding only.
    pub const fn from_x0(x0: u64) -> Option<Self> {
        match x0 as i64 {
            0 => Some(Self::Success),
            -1 => Some(Self::NotSupported),
            -2 => Some(Self::InvalidParameters),
            -3 => Some(Self::Denied),
            -4 => Some(Self::AlreadyOn),
            -5 => Some(Self::OnPending),
            -6 => Some(Self::InternalFailure),
            -7 => Some(Self::NotPresent),
            -8 => Some(Self::Disabled),
            -9 => Some(Self::InvalidAddress),
            _ => None,
        }
    }
}

/// Result values of `PSCI_AFFINITY_INFO`.
#[repr(u64)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PsciAffinityState {
    /// `ON`.
    On = 0,
    /// `OFF`.
    Off = 1,
    /// `ON_PENDING`.
    OnPending = 2,
}

impl PsciAffinityState {
    /// The X0 value.
    pub const fn to_x0(self) -> u64 {
        self as u64
    }
}

/// Return codes of the EL3 (RMMD) services called by the RMM.
#[repr(i64)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum El3Status {
    /// `E_RMM_OK`.
    Ok = 0,
    /// `E_RMM_UNK`: unknown command or unspecified failure.
    Unk = -1,
    /// `E_RMM_BAD_ADDR`: the address is not a valid granule / buffer.
    BadAddr = -2,
    /// `E_RMM_BAD_PAS`: the granule is in the wrong PAS.
    BadPas = -3,
    /// `E_RMM_NOMEM`: out of memory.
    NoMem = -4,
    /// `E_RMM_INVAL`: invalid argument.
    Inval = -5,
    /// `E_RMM_AGAIN`: resource busy, retry.
    Again = -6,
}

impl El3Status {
    /// Decodes EL3's x0 (a sign-extended negative value on error); `None`
    /// for codes this interface version does not define.
    pub const fn from_x0(x0: u64) -> Option<Self> {
        match x0 as i64 {
            0 => Some(Self::Ok),
            -1 => Some(Self::Unk),
            -2 => Some(Self::BadAddr),
            -3 => Some(Self::BadPas),
            -4 => Some(Self::NoMem),
            -5 => Some(Self::Inval),
            -6 => Some(Self::Again),
            _ => None,
        }
    }

    /// The x0 value (sign-extended to 64 bits).
    pub const fn to_x0(self) -> u64 {
        self as i64 as u64
    }
}

/// RMM boot result, reported in x1 of `RMM_BOOT_COMPLETE`.
#[repr(i64)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BootError {
    /// `E_RMM_BOOT_SUCCESS`.
    Success = 0,
    /// `E_RMM_BOOT_UNKNOWN`.
    Unknown = -1,
    /// `E_RMM_BOOT_VERSION_NOT_VALID` (TF-A: `VERSION_MISMATCH`).
    VersionNotValid = -2,
    /// `E_RMM_BOOT_CPUS_OUT_OF_RANGE`.
    CpusOutOfRange = -3,
    /// `E_RMM_BOOT_CPU_ID_OUT_OF_RANGE`.
    CpuIdOutOfRange = -4,
    /// `E_RMM_BOOT_INVALID_SHARED_BUFFER`.
    InvalidSharedBuffer = -5,
    /// `E_RMM_BOOT_MANIFEST_VERSION_NOT_SUPPORTED`.
    ManifestVersionNotSupported = -6,
    /// `E_RMM_BOOT_MANIFEST_DATA_ERROR`.
    ManifestDataError = -7,
}

impl BootError {
    /// The x1 value (sign-extended to 64 bits).
    pub const fn to_x1(self) -> u64 {
        self as i64 as u64
    }

    /// Decodes x1 (used by the EL3 side); `None` for unknown codes.
    pub const fn from_x1(x1: u64) -> Option<Self> {
        match x1 as i64 {
            0 => Some(Self::Success),
            -1 => Some(Self::Unknown),
            -2 => Some(Self::VersionNotValid),
            -3 => Some(Self::CpusOutOfRange),
            -4 => Some(Self::CpuIdOutOfRange),
            -5 => Some(Self::InvalidSharedBuffer),
            -6 => Some(Self::ManifestVersionNotSupported),
            -7 => Some(Self::ManifestDataError),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmi_status_packing() {
        assert_eq!(RmiStatus::SUCCESS.to_x0(), 0);
        assert_eq!(RmiStatus::input().to_x0(), 1);
        assert_eq!(RmiStatus::rec().to_x0(), 3);
        assert_eq!(RmiStatus::rtt(2).to_x0(), 0x0204);
        assert_eq!(RmiStatus::realm(1).to_x0(), 0x0102);
        assert_eq!(RmiStatus::realm(0).to_x0(), 0x0002);
        assert_eq!(RmiStatus::rtt(-1).to_x0(), 0xFF04);
        assert_eq!(RmiStatus::rtt(-1).rtt_level(), Some(-1));
        assert_eq!(RmiStatus::rtt(3).rtt_level(), Some(3));
        assert_eq!(RmiStatus::input().rtt_level(), None);
        assert!(RmiStatus::SUCCESS.is_success());
        assert!(!RmiStatus::rec().is_success());
        assert_eq!(RmiStatus::from(RmiStatusCode::ErrorRec), RmiStatus::rec());
    }

    #[test]
    fn rmi_status_decode() {
        assert_eq!(RmiStatus::from_x0(0x0204), Some(RmiStatus::rtt(2)));
        assert_eq!(RmiStatus::from_x0(0x0102), Some(RmiStatus::realm(1)));
        assert_eq!(RmiStatus::from_x0(0), Some(RmiStatus::SUCCESS));
        assert_eq!(RmiStatus::from_x0(0xFF04), Some(RmiStatus::rtt(-1)));
        // Unknown codes (the 1.0 "reserved" 5, later versions' codes).
        assert_eq!(RmiStatus::from_x0(5), None);
        assert_eq!(RmiStatus::from_x0(0xFF), None);
        // Bits 63:16 MBZ.
        assert_eq!(RmiStatus::from_x0(0x1_0000), None);
        assert_eq!(RmiStatus::from_x0(1 << 63), None);
        assert_eq!(RmiStatus::from_x0(u64::MAX), None);
        for x0 in 0..=0xFFFFu64 {
            if let Some(s) = RmiStatus::from_x0(x0) {
                assert_eq!(s.to_x0(), x0);
            }
        }
    }

    #[test]
    fn rsi_status() {
        for v in 0..=4 {
            assert_eq!(RsiStatus::from_x0(v).unwrap().to_x0(), v);
        }
        assert_eq!(RsiStatus::from_x0(5), None);
        assert_eq!(RsiStatus::from_x0(u64::MAX), None);
        assert_eq!(RsiStatus::Incomplete.to_x0(), 3);
    }

    #[test]
    fn psci_codes() {
        assert_eq!(PsciReturn::Success.to_x0(), 0);
        assert_eq!(PsciReturn::NotSupported.to_x0(), u64::MAX);
        assert_eq!(PsciReturn::InvalidAddress.to_x0(), (-9i64) as u64);
        for v in -9i64..=0 {
            assert_eq!(PsciReturn::from_x0(v as u64).unwrap().to_x0(), v as u64);
        }
        assert_eq!(PsciReturn::from_x0((-10i64) as u64), None);
        assert_eq!(PsciReturn::from_x0(1), None);
        // A 32-bit (not sign-extended) −1 is not accepted.
        assert_eq!(PsciReturn::from_x0(0xFFFF_FFFF), None);
        assert_eq!(PsciAffinityState::OnPending.to_x0(), 2);
    }

    #[test]
    fn el3_codes() {
        assert_eq!(El3Status::from_x0(0), Some(El3Status::Ok));
        assert_eq!(El3Status::from_x0(u64::MAX), Some(El3Status::Unk));
        assert_eq!(El3Status::from_x0((-3i64) as u64), Some(El3Status::BadPas));
        assert_eq!(El3Status::from_x0((-6i64) as u64), Some(El3Status::Again));
        assert_eq!(El3Status::from_x0((-7i64) as u64), None);
        assert_eq!(El3Status::from_x0(1), None);
        for v in -6i64..=0 {
            assert_eq!(El3Status::from_x0(v as u64).unwrap().to_x0(), v as u64);
        }
    }

    #[test]
    fn boot_codes() {
        assert_eq!(BootError::Success.to_x1(), 0);
        assert_eq!(BootError::ManifestDataError.to_x1(), (-7i64) as u64);
        for v in -7i64..=0 {
            assert_eq!(BootError::from_x1(v as u64).unwrap().to_x1(), v as u64);
        }
        assert_eq!(BootError::from_x1((-8i64) as u64), None);
    }
}
