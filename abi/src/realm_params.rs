//! `RmiRealmParams`: the host's parameters for `RMI_REALM_CREATE`.
//!
//! Owns the raw 4096-byte layout ([`RmiRealmParams`], read from an NS
//! granule), its flags ([`RmiRealmFlags`]) and the typed view
//! ([`RealmParams`]). [`RmiRealmParams::decode`] is the single place where the
//! spec's "valid encoding" / "unused bits SBZ" rule (`params_valid`) is
//! enforced for this structure: flags bits 63:3, the upper bits of every
//! UInt8 / Bits16 / RmiHashAlgorithm slot, and unknown hash algorithms. It
//! does *not* check reserved areas (they are not fields) nor whether the
//! request is supported or consistent (`params_supp`, `RttConfigIsValid`,
//! VMID range): those are RMM policy.

use bitflags::bitflags;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::addr::Pa;
use crate::layout::assert_layout;
use crate::rtt::RmiHashAlgorithm;

/// Raw `RmiRealmParams` (4096 bytes, little-endian). Every small field sits
/// in its own 8-byte slot; fields keep their raw (unchecked) values.
#[repr(C)]
#[derive(Clone, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RmiRealmParams {
    /// `flags` (RmiRealmFlags, 64 bits): bit 0 lpa2, 1 sve, 2 pmu; 63:3 SBZ.
    pub flags: u64,
    /// `s2sz` (UInt8): requested IPA width in bits.
    pub s2sz: u64,
    /// `sve_vl` (UInt8): requested SVE vector length, (sve_vl + 1) × 128 bits.
    pub sve_vl: u64,
    /// `num_bps` (UInt8): number of breakpoints minus one.
    pub num_bps: u64,
    /// `num_wps` (UInt8): number of watchpoints minus one.
    pub num_wps: u64,
    /// `pmu_num_ctrs` (UInt8): number of PMU counters.
    pub pmu_num_ctrs: u64,
    /// `hash_algo` (RmiHashAlgorithm, 8 bits): RIM/REM algorithm.
    pub hash_algo: u64,
    /// Reserved, 0x038–0x3FF.
    pub reserved_038: [u8; 0x400 - 0x038],
    /// `rpv`: Realm Personalization Value (64 bytes).
    pub rpv: [u8; 64],
    /// Reserved, 0x440–0x7FF.
    pub reserved_440: [u8; 0x800 - 0x440],
    /// `vmid` (Bits16): VMID chosen by the host.
    pub vmid: u64,
    /// `rtt_base` (Address): PA of the first starting-level RTT.
    pub rtt_base: u64,
    /// `rtt_level_start` (Int64): RTT starting level.
    pub rtt_level_start: i64,
    /// `rtt_num_start` (UInt32): number of concatenated starting-level RTTs.
    pub rtt_num_start: u32,
    /// Reserved, 0x81C–0xFFF (includes the upper half of `rtt_num_start`'s
    /// 8-byte slot).
    pub reserved_81c: [u8; 0x1000 - 0x81C],
}

assert_layout!(RmiRealmParams, size = 0x1000;
    flags @ 0x000,
    s2sz @ 0x008,
    sve_vl @ 0x010,
    num_bps @ 0x018,
    num_wps @ 0x020,
    pmu_num_ctrs @ 0x028,
    hash_algo @ 0x030,
    reserved_038 @ 0x038,
    rpv @ 0x400,
    reserved_440 @ 0x440,
    vmid @ 0x800,
    rtt_base @ 0x808,
    rtt_level_start @ 0x810,
    rtt_num_start @ 0x818,
    reserved_81c @ 0x81C,
);

bitflags! {
    /// `RmiRealmFlags`: bit 0 lpa2, bit 1 sve, bit 2 pmu; bits 63:3 SBZ.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub struct RmiRealmFlags: u64 {
        /// LPA2 (52-bit IPA, level −1) requested.
        const LPA2 = 1 << 0;
        /// SVE enabled.
        const SVE = 1 << 1;
        /// PMU enabled.
        const PMU = 1 << 2;
    }
}

impl RmiRealmFlags {
    /// Decodes the flags slot; `None` if any SBZ bit (63:3) is set.
    pub const fn decode(v: u64) -> Option<Self> {
        Self::from_bits(v)
    }
}

/// Which field of an [`RmiRealmParams`] is not a valid encoding
/// (`RMI_REALM_CREATE`'s `params_valid` failure, `RMI_ERROR_INPUT`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ParamsInvalid {
    /// `flags` has a bit set in 63:3.
    Flags,
    /// `s2sz` slot has bits set above bit 7.
    S2sz,
    /// `sve_vl` slot has bits set above bit 7.
    SveVl,
    /// `num_bps` slot has bits set above bit 7.
    NumBps,
    /// `num_wps` slot has bits set above bit 7.
    NumWps,
    /// `pmu_num_ctrs` slot has bits set above bit 7.
    PmuNumCtrs,
    /// `hash_algo` is not a 1.0 `RmiHashAlgorithm` (or has bits above 7).
    HashAlgo,
    /// `vmid` slot has bits set above bit 15.
    Vmid,
}

/// Typed view of a well-encoded [`RmiRealmParams`].
///
/// Values are only *encoding*-checked; whether they are supported
/// (`RMI_FEATURES`), consistent (`RttConfigIsValid`) or available (VMID) is
/// for the RMM to decide.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RealmParams {
    /// `flags`.
    pub flags: RmiRealmFlags,
    /// `s2sz`: requested IPA width in bits.
    pub s2sz: u8,
    /// `sve_vl`: requested SVE VL, (sve_vl + 1) × 128 bits.
    pub sve_vl: u8,
    /// `num_bps`: breakpoints minus one.
    pub num_bps: u8,
    /// `num_wps`: watchpoints minus one.
    pub num_wps: u8,
    /// `pmu_num_ctrs`: number of PMU counters.
    pub pmu_num_ctrs: u8,
    /// `hash_algo`.
    pub hash_algo: RmiHashAlgorithm,
    /// `rpv`.
    pub rpv: [u8; 64],
    /// `vmid`.
    pub vmid: u16,
    /// `rtt_base`.
    pub rtt_base: Pa,
    /// `rtt_level_start` (not range-checked here).
    pub rtt_level_start: i64,
    /// `rtt_num_start`.
    pub rtt_num_start: u32,
}

/// `Some(v as u8)` if `v` fits in 8 bits.
const fn u8_slot(v: u64) -> Option<u8> {
    if v >> 8 == 0 { Some(v as u8) } else { None }
}

impl RmiRealmParams {
    /// Decodes and encoding-checks the structure (`params_valid`).
    ///
    /// Checks in field order, returning the first bad field. Reserved areas
    /// and the padding after `rtt_num_start` are not examined.
    pub fn decode(&self) -> Result<RealmParams, ParamsInvalid> {
        let flags = RmiRealmFlags::decode(self.flags).ok_or(ParamsInvalid::Flags)?;
        let s2sz = u8_slot(self.s2sz).ok_or(ParamsInvalid::S2sz)?;
        let sve_vl = u8_slot(self.sve_vl).ok_or(ParamsInvalid::SveVl)?;
        let num_bps = u8_slot(self.num_bps).ok_or(ParamsInvalid::NumBps)?;
        let num_wps = u8_slot(self.num_wps).ok_or(ParamsInvalid::NumWps)?;
        let pmu_num_ctrs = u8_slot(self.pmu_num_ctrs).ok_or(ParamsInvalid::PmuNumCtrs)?;
        let hash_algo =
            RmiHashAlgorithm::from_raw(self.hash_algo).ok_or(ParamsInvalid::HashAlgo)?;
        let vmid = if self.vmid >> 16 == 0 {
            self.vmid as u16
        } else {
            return Err(ParamsInvalid::Vmid);
        };
        Ok(RealmParams {
            flags,
            s2sz,
            sve_vl,
            num_bps,
            num_wps,
            pmu_num_ctrs,
            hash_algo,
            rpv: self.rpv,
            vmid,
            rtt_base: Pa(self.rtt_base),
            rtt_level_start: self.rtt_level_start,
            rtt_num_start: self.rtt_num_start,
        })
    }
}

impl RealmParams {
    /// Encodes into a raw structure with all reserved bytes zero (what a
    /// well-behaved host writes).
    pub fn encode(&self) -> RmiRealmParams {
        RmiRealmParams {
            flags: self.flags.bits(),
            s2sz: self.s2sz as u64,
            sve_vl: self.sve_vl as u64,
            num_bps: self.num_bps as u64,
            num_wps: self.num_wps as u64,
            pmu_num_ctrs: self.pmu_num_ctrs as u64,
            hash_algo: self.hash_algo.to_raw(),
            reserved_038: [0; 0x400 - 0x038],
            rpv: self.rpv,
            reserved_440: [0; 0x800 - 0x440],
            vmid: self.vmid as u64,
            rtt_base: self.rtt_base.raw(),
            rtt_level_start: self.rtt_level_start,
            rtt_num_start: self.rtt_num_start,
            reserved_81c: [0; 0x1000 - 0x81C],
        }
    }
}
