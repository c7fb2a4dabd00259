//! Interface version encodings.
//!
//! Owns [`InterfaceVersion`], the `major.minor` encoding shared by RMI, RSI,
//! the RMM ↔ EL3 interface and the boot manifest (bits 15:0 minor,
//! bits 30:16 major, bits 63:31 MBZ/SBZ), and the versions Warden implements
//! or requires.

/// An interface version `major.minor`.
///
/// Ordering compares `major` first, then `minor`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct InterfaceVersion {
    /// Major version (15 bits on the wire).
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl InterfaceVersion {
    /// A version `major.minor`.
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// Encodes as `[30:16] major, [15:0] minor`. A `major` above 0x7FFF
    /// cannot be represented; its bit 15 is dropped so bit 31 stays zero.
    pub const fn encode(self) -> u64 {
        (((self.major & 0x7FFF) as u64) << 16) | self.minor as u64
    }

    /// Decodes a version register; `None` if any of bits 63:31 is set.
    pub const fn decode(v: u64) -> Option<Self> {
        if v >> 31 != 0 {
            None
        } else {
            Some(Self {
                major: (v >> 16) as u16,
                minor: v as u16,
            })
        }
    }
}

/// RMI 1.0 (the version Warden implements).
pub const RMI_VERSION_1_0: InterfaceVersion = InterfaceVersion::new(1, 0);
/// RSI 1.0 (the version Warden implements).
pub const RSI_VERSION_1_0: InterfaceVersion = InterfaceVersion::new(1, 0);
/// RMM ↔ EL3 interface 0.4 (TF-A v2.12: hunked platform token,
/// `RMM_EL3_FEATURES`, `RMM_EL3_TOKEN_SIGN`).
pub const RMM_EL3_INTERFACE_0_4: InterfaceVersion = InterfaceVersion::new(0, 4);
/// Boot manifest 0.3 (adds `plat_console`).
pub const BOOT_MANIFEST_0_3: InterfaceVersion = InterfaceVersion::new(0, 3);
/// PSCI 1.1, the value the RMM returns for `PSCI_VERSION`.
pub const PSCI_VERSION_1_1: InterfaceVersion = InterfaceVersion::new(1, 1);
/// SMCCC 1.2, the value the RMM returns to a Realm for `SMCCC_VERSION`.
pub const SMCCC_VERSION_1_2: InterfaceVersion = InterfaceVersion::new(1, 2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        assert_eq!(RMI_VERSION_1_0.encode(), 0x0001_0000);
        assert_eq!(RSI_VERSION_1_0.encode(), 0x0001_0000);
        assert_eq!(RMM_EL3_INTERFACE_0_4.encode(), 0x4);
        assert_eq!(BOOT_MANIFEST_0_3.encode(), 0x3);
        assert_eq!(PSCI_VERSION_1_1.encode(), 0x0001_0001);
        assert_eq!(SMCCC_VERSION_1_2.encode(), 0x0001_0002);
        assert_eq!(InterfaceVersion::decode(0x0001_0000), Some(RMI_VERSION_1_0));
        assert_eq!(
            InterfaceVersion::decode(0x7FFF_FFFF),
            Some(InterfaceVersion::new(0x7FFF, 0xFFFF))
        );
        assert_eq!(InterfaceVersion::decode(0x8000_0000), None);
        assert_eq!(InterfaceVersion::decode(1 << 40), None);
        assert_eq!(InterfaceVersion::decode(u64::MAX), None);
        assert_eq!(InterfaceVersion::new(0x8001, 0).encode(), 0x0001_0000);
        let v = InterfaceVersion::new(66, 7);
        assert_eq!(InterfaceVersion::decode(v.encode()), Some(v));
    }

    #[test]
    fn ordering() {
        assert!(InterfaceVersion::new(1, 0) > InterfaceVersion::new(0, 9));
        assert!(InterfaceVersion::new(0, 4) > BOOT_MANIFEST_0_3);
    }
}
