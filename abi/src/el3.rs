//! RMM ↔ EL3 interface constants other than FIDs and return codes.
//!
//! Owns the shared-buffer size, the `RMM_EL3_FEATURES` register 0 bits, the
//! `RMM_EL3_TOKEN_SIGN` opcodes and the attestation key curve identifier
//! (TF-A `rmmd_svc.h`, interface 0.4). FIDs are in [`crate::fid::el3`];
//! return codes in [`crate::status::El3Status`] and
//! [`crate::status::BootError`].

use bitflags::bitflags;

/// Size of the EL3 ↔ RMM shared buffer (x3 at boot); the boot manifest
/// and all platform data must fit in it.
pub const SHARED_BUFFER_SIZE: u64 = 4096;

/// `RMM_ATTEST_GET_REALM_KEY` x3: ECC SECP384R1 (P-384), the only curve.
pub const ATTEST_KEY_CURVE_ECC_SECP384R1: u64 = 0;

/// Index of `RMM_EL3_FEATURES` register 0.
pub const EL3_FEATURE_REGISTER_0_INDEX: u64 = 0;

bitflags! {
    /// `RMM_EL3_FEATURES` register 0.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub struct El3FeatureRegister0: u64 {
        /// `RMM_EL3_TOKEN_SIGN` is implemented.
        const TOKEN_SIGN = 1 << 0;
    }
}

/// `RMM_EL3_TOKEN_SIGN` x1 opcode.
#[repr(u64)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum El3TokenSignOpcode {
    /// Push a signing request.
    PushRequest = 1,
    /// Pull a signing response.
    PullResponse = 2,
    /// Get the Realm attestation public key.
    GetRakPub = 3,
}

impl El3TokenSignOpcode {
    /// Decodes x1; `None` for unknown opcodes.
    pub const fn from_raw(v: u64) -> Option<Self> {
        match v {
            1 => Some(Self::PushRequest),
            2 => Some(Self::PullResponse),
            3 => Some(Self::GetRakPub),
            _ => None,
        }
    }

    /// The x1 value.
    pub const fn to_raw(self) -> u64 {
        self as u64
    }
}
