//! `RmiRecParams`: the host's parameters for `RMI_REC_CREATE`.
//!
//! Owns the raw 4096-byte layout ([`RmiRecParams`], read from an NS granule),
//! its flags ([`RmiRecCreateFlags`]), the REC MPIDR encoding and REC index
//! mapping ([`RecMpidr`]) and the typed view ([`RecParams`]).
//! [`RmiRecParams::decode`] enforces the SBZ bits of `flags` and `mpidr`;
//! `num_aux` is passed through unchecked because comparing it with
//! `RMI_REC_AUX_COUNT` is a separate, later failure condition (`num_aux`).

use bitflags::bitflags;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::addr::Pa;
use crate::layout::assert_layout;

/// Maximum number of auxiliary granules of a REC (the size of `aux`).
pub const MAX_REC_AUX_GRANULES: usize = 16;

/// Number of GPRs (X0–X7) the host provides for a REC's first entry.
pub const REC_CREATE_NR_GPRS: usize = 8;

/// Raw `RmiRecParams` (4096 bytes, little-endian).
#[repr(C)]
#[derive(Clone, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct RmiRecParams {
    /// `flags` (RmiRecCreateFlags): bit 0 runnable; 63:1 SBZ.
    pub flags: u64,
    /// Reserved, 0x008–0x0FF.
    pub reserved_008: [u8; 0x100 - 0x008],
    /// `mpidr` (RmiRecMpidr).
    pub mpidr: u64,
    /// Reserved, 0x108–0x1FF.
    pub reserved_108: [u8; 0x200 - 0x108],
    /// `pc`: initial program counter.
    pub pc: u64,
    /// Reserved, 0x208–0x2FF.
    pub reserved_208: [u8; 0x300 - 0x208],
    /// `gprs[0..7]`: X0–X7 at first entry.
    pub gprs: [u64; REC_CREATE_NR_GPRS],
    /// Reserved, 0x340–0x7FF.
    pub reserved_340: [u8; 0x800 - 0x340],
    /// `num_aux` (UInt64): number of entries of `aux` in use.
    pub num_aux: u64,
    /// `aux[0..15]`: PAs of the auxiliary granules.
    pub aux: [u64; MAX_REC_AUX_GRANULES],
    /// Reserved, 0x888–0xFFF.
    pub reserved_888: [u8; 0x1000 - 0x888],
}

assert_layout!(RmiRecParams, size = 0x1000;
    flags @ 0x000,
    reserved_008 @ 0x008,
    mpidr @ 0x100,
    reserved_108 @ 0x108,
    pc @ 0x200,
    reserved_208 @ 0x208,
    gprs @ 0x300,
    reserved_340 @ 0x340,
    num_aux @ 0x800,
    aux @ 0x808,
    reserved_888 @ 0x888,
);

bitflags! {
    /// `RmiRecCreateFlags`: bit 0 runnable; bits 63:1 SBZ.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub struct RmiRecCreateFlags: u64 {
        /// The REC is created RUNNABLE (else NOT_RUNNABLE).
        const RUNNABLE = 1 << 0;
    }
}

impl RmiRecCreateFlags {
    /// Decodes the flags slot; `None` if any SBZ bit (63:1) is set.
    pub const fn decode(v: u64) -> Option<Self> {
        Self::from_bits(v)
    }
}

/// `RmiRecMpidr`: \[3:0\] Aff0, \[7:4\] SBZ, \[15:8\] Aff1, \[23:16\] Aff2,
/// \[31:24\] Aff3, \[63:32\] SBZ. Always well-formed once constructed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct RecMpidr(u64);

impl RecMpidr {
    /// Bits that may be set: Aff0\[3:0\], Aff1, Aff2, Aff3.
    pub const VALID_MASK: u64 = 0xFFFF_FF0F;
    /// Largest REC index an MPIDR can express (2^28 − 1).
    pub const MAX_INDEX: u64 = (1 << 28) - 1;

    /// Decodes an MPIDR value; `None` if any SBZ bit (\[7:4\], \[63:32\]) is
    /// set.
    pub const fn decode(v: u64) -> Option<RecMpidr> {
        if v & !Self::VALID_MASK == 0 {
            Some(RecMpidr(v))
        } else {
            None
        }
    }

    /// The raw MPIDR value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// Aff0 (4 bits).
    pub const fn aff0(self) -> u8 {
        (self.0 & 0xF) as u8
    }

    /// Aff1.
    pub const fn aff1(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// Aff2.
    pub const fn aff2(self) -> u8 {
        (self.0 >> 16) as u8
    }

    /// Aff3.
    pub const fn aff3(self) -> u8 {
        (self.0 >> 24) as u8
    }

    /// `RecIndex(mpidr)` = Aff0\[3:0\] + 16·Aff1 + 16·256·Aff2 +
    /// 16·256·256·Aff3.
    pub const fn rec_index(self) -> u64 {
        self.aff0() as u64
            + 16 * self.aff1() as u64
            + 16 * 256 * self.aff2() as u64
            + 16 * 256 * 256 * self.aff3() as u64
    }

    /// The MPIDR whose [`rec_index`](Self::rec_index) is `i`. Only the low
    /// 28 bits of `i` are representable (see [`MAX_INDEX`](Self::MAX_INDEX));
    /// higher bits are dropped.
    pub const fn from_index(i: u64) -> RecMpidr {
        let aff0 = i & 0xF;
        let aff1 = (i >> 4) & 0xFF;
        let aff2 = (i >> 12) & 0xFF;
        let aff3 = (i >> 20) & 0xFF;
        RecMpidr(aff0 | (aff1 << 8) | (aff2 << 16) | (aff3 << 24))
    }
}

/// Which field of an [`RmiRecParams`] is not a valid encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RecParamsInvalid {
    /// `flags` has a bit set in 63:1.
    Flags,
    /// `mpidr` has a bit set in \[7:4\] or \[63:32\].
    Mpidr,
}

/// Typed view of a well-encoded [`RmiRecParams`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RecParams {
    /// `flags`.
    pub flags: RmiRecCreateFlags,
    /// `mpidr`.
    pub mpidr: RecMpidr,
    /// `pc`.
    pub pc: u64,
    /// `gprs[0..7]`.
    pub gprs: [u64; REC_CREATE_NR_GPRS],
    /// `num_aux`, unchecked (may exceed [`MAX_REC_AUX_GRANULES`]).
    pub num_aux: u64,
    /// `aux[0..15]`, all 16 slots as written by the host.
    pub aux: [Pa; MAX_REC_AUX_GRANULES],
}

impl RmiRecParams {
    /// Decodes and encoding-checks `flags` and `mpidr` (in that order).
    pub fn decode(&self) -> Result<RecParams, RecParamsInvalid> {
        let flags = RmiRecCreateFlags::decode(self.flags).ok_or(RecParamsInvalid::Flags)?;
        let mpidr = RecMpidr::decode(self.mpidr).ok_or(RecParamsInvalid::Mpidr)?;
        Ok(RecParams {
            flags,
            mpidr,
            pc: self.pc,
            gprs: self.gprs,
            num_aux: self.num_aux,
            aux: self.aux.map(Pa),
        })
    }
}

impl RecParams {
    /// The first `num_aux` aux addresses, or `None` if `num_aux` exceeds
    /// [`MAX_REC_AUX_GRANULES`].
    pub fn aux_granules(&self) -> Option<&[Pa]> {
        let n = usize::try_from(self.num_aux).ok()?;
        self.aux.get(..n)
    }

    /// Encodes into a raw structure with all reserved bytes zero.
    pub fn encode(&self) -> RmiRecParams {
        RmiRecParams {
            flags: self.flags.bits(),
            reserved_008: [0; 0x100 - 0x008],
            mpidr: self.mpidr.raw(),
            reserved_108: [0; 0x200 - 0x108],
            pc: self.pc,
            reserved_208: [0; 0x300 - 0x208],
            gprs: self.gprs,
            reserved_340: [0; 0x800 - 0x340],
            num_aux: self.num_aux,
            aux: self.aux.map(Pa::raw),
            reserved_888: [0; 0x1000 - 0x888],
        }
    }
}
