//! Realm-facing RSI structures and small types.
//!
//! Owns the raw layouts the RMM shares with a Realm through protected
//! memory: [`RsiRealmConfig`] (written by `RSI_REALM_CONFIG`) and
//! [`RsiHostCall`] (read and written by `RSI_HOST_CALL`), plus
//! [`RsiRipasChangeFlags`] (X4 of `RSI_IPA_STATE_SET`) and the RSI names of
//! enumerations shared with the RMI.

use bitflags::bitflags;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::layout::assert_layout;

/// `RsiHashAlgorithm`: same encoding as [`crate::rtt::RmiHashAlgorithm`].
pub type RsiHashAlgorithm = crate::rtt::RmiHashAlgorithm;
/// `RsiRipas`: same encoding as [`crate::rtt::RmiRipas`] (1.0 values).
pub type RsiRipas = crate::rtt::RmiRipas;
/// `RsiResponse`: same encoding as [`crate::rtt::RmiResponse`].
pub type RsiResponse = crate::rtt::RmiResponse;

/// Number of measurement slots: index 0 is the RIM, 1–4 the REMs.
pub const MEASUREMENT_SLOTS: usize = 5;
/// Size in bytes of a measurement value (512 bits; shorter hashes are
/// zero-extended).
pub const MAX_MEASUREMENT_SIZE: usize = 64;
/// Size in bytes of the `RSI_ATTESTATION_TOKEN_INIT` challenge.
pub const ATTESTATION_CHALLENGE_SIZE: usize = 64;

/// Raw `RsiRealmConfig` (4096 bytes). Everything not a field is MBZ, so the
/// RMM should build it from zero.
#[repr(C)]
#[derive(Clone, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RsiRealmConfig {
    /// `ipa_width` (UInt64): IPA width in bits.
    pub ipa_width: u64,
    /// `hash_algo` (RsiHashAlgorithm, 8 bits, stored zero-extended).
    pub hash_algo: u64,
    /// Reserved, 0x010–0x1FF.
    pub reserved_010: [u8; 0x200 - 0x010],
    /// `rpv`: Realm Personalization Value.
    pub rpv: [u8; 64],
    /// Reserved, 0x240–0xFFF.
    pub reserved_240: [u8; 0x1000 - 0x240],
}

assert_layout!(RsiRealmConfig, size = 0x1000;
    ipa_width @ 0x000,
    hash_algo @ 0x008,
    reserved_010 @ 0x010,
    rpv @ 0x200,
    reserved_240 @ 0x240,
);

impl RsiRealmConfig {
    /// A configuration with the given fields and every other byte zero.
    pub fn new(ipa_width: u64, hash_algo: RsiHashAlgorithm, rpv: [u8; 64]) -> Self {
        Self {
            ipa_width,
            hash_algo: hash_algo.to_raw(),
            reserved_010: [0; 0x200 - 0x010],
            rpv,
            reserved_240: [0; 0x1000 - 0x240],
        }
    }
}

/// Number of GPRs carried by `RsiHostCall`.
pub const RSI_HOST_CALL_NR_GPRS: usize = 31;
/// Required alignment (and size) of an `RsiHostCall` in Realm memory.
pub const RSI_HOST_CALL_ALIGN: u64 = 256;

/// Raw `RsiHostCall` (256 bytes, 256-byte aligned in Realm memory).
#[repr(C)]
#[derive(Clone, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RsiHostCall {
    /// `imm` (UInt16 in a 64-bit slot): immediate passed to the host.
    pub imm: u64,
    /// `gprs[0..30]`.
    pub gprs: [u64; RSI_HOST_CALL_NR_GPRS],
}

assert_layout!(RsiHostCall, size = 0x100;
    imm @ 0x00,
    gprs @ 0x08,
);

const _: () = assert!(core::mem::size_of::<RsiHostCall>() as u64 == RSI_HOST_CALL_ALIGN);

impl RsiHostCall {
    /// The 16-bit immediate (the low 16 bits of the slot; the rest of the
    /// slot is written by the Realm and is ignored, as TF-RMM does).
    pub const fn imm16(&self) -> u16 {
        self.imm as u16
    }
}

bitflags! {
    /// `RsiRipasChangeFlags` (X4 of `RSI_IPA_STATE_SET`); bits 63:1 SBZ.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub struct RsiRipasChangeFlags: u64 {
        /// `RSI_CHANGE_DESTROYED`: allow changing DESTROYED pages.
        const DESTROYED = 1 << 0;
    }
}

impl RsiRipasChangeFlags {
    /// Decodes X4; `None` if any SBZ bit (63:1) is set.
    pub const fn decode(v: u64) -> Option<Self> {
        Self::from_bits(v)
    }
}
