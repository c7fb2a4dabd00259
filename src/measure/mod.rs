//! Realm measurements: the RIM and the four REMs, and the hashing that builds them.
//!
//! Owns the measurement slots kept in the RD ([`Measurements`]) and the spec's hashed images (for
//! now, the REALM_CREATE image that initialises the RIM). SHA-256 and SHA-512 come from the `sha2`
//! crate, built for the firmware with its portable backend, so hashing never touches FP/SIMD state.
//! This module must never read Host memory: callers hand it copies.

use sha2::{Digest, Sha256, Sha512};
use warden_abi::realm_params::{RealmParams, RmiRealmParams};
use warden_abi::rtt::RmiHashAlgorithm;
use zerocopy::{FromZeros, IntoBytes};

/// Bytes in one measurement slot (512 bits; shorter hashes are zero-extended).
pub const MEASUREMENT_BYTES: usize = 64;

/// One measurement value, zero-extended to 512 bits.
pub type Measurement = [u8; MEASUREMENT_BYTES];

/// Hashes `data` with `algo`, zero-extended to a full slot.
pub fn hash(algo: RmiHashAlgorithm, data: &[u8]) -> Measurement {
    let mut out = [0u8; MEASUREMENT_BYTES];
    match algo {
        RmiHashAlgorithm::Sha256 => out[..32].copy_from_slice(&Sha256::digest(data)),
        RmiHashAlgorithm::Sha512 => out.copy_from_slice(&Sha512::digest(data)),
    }
    out
}

/// The RIM a Realm starts with: the hash of a zero-filled `RmiRealmParams` image holding only the
/// measured fields (flags, s2sz, sve_vl, num_bps, num_wps, pmu_num_ctrs, hash_algo). RPV, VMID and
/// the RTT fields are not measured.
pub fn rim_init(params: &RealmParams) -> Measurement {
    let mut image = RmiRealmParams::new_zeroed();
    image.flags = params.flags.bits();
    image.s2sz = params.s2sz.into();
    image.sve_vl = params.sve_vl.into();
    image.num_bps = params.num_bps.into();
    image.num_wps = params.num_wps.into();
    image.pmu_num_ctrs = params.pmu_num_ctrs.into();
    image.hash_algo = params.hash_algo.to_raw();
    hash(params.hash_algo, image.as_bytes())
}

/// Bytes of a measurement descriptor.
pub const DESCRIPTOR_BYTES: usize = 256;

/// The measurement descriptor types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum DescriptorType {
    /// `RmmMeasurementDescriptorData`: DATA_CREATE.
    Data = 0,
    /// `RmmMeasurementDescriptorRec`: REC_CREATE.
    Rec = 1,
    /// `RmmMeasurementDescriptorRipas`: RTT_INIT_RIPAS.
    Ripas = 2,
}

/// A descriptor with the common header (type, length, current RIM) filled in.
fn descriptor(kind: DescriptorType, rim: &Measurement) -> [u8; DESCRIPTOR_BYTES] {
    let mut d = [0u8; DESCRIPTOR_BYTES];
    d[0] = kind as u8;
    d[0x08..0x10].copy_from_slice(&(DESCRIPTOR_BYTES as u64).to_le_bytes());
    d[0x10..0x50].copy_from_slice(rim);
    d
}

/// The RIM after DATA_CREATE of the granule at `ipa` with Host `flags`; `content` is the hash of the
/// 4 KiB copied when the flags ask for it to be measured.
pub fn rim_extend_data(algo: RmiHashAlgorithm, rim: &Measurement, ipa: u64, flags: u64, content: Option<&Measurement>) -> Measurement {
    let mut d = descriptor(DescriptorType::Data, rim);
    d[0x50..0x58].copy_from_slice(&ipa.to_le_bytes());
    d[0x58..0x60].copy_from_slice(&flags.to_le_bytes());
    if let Some(c) = content {
        d[0x60..0xA0].copy_from_slice(c);
    }
    hash(algo, &d)
}

/// The content hash of a runnable REC for its measurement descriptor: the hash of a zero-filled
/// `RmiRecParams` image holding only `flags`, `pc` and `gprs[0..7]` (MPIDR and aux excluded).
pub fn rec_content(algo: RmiHashAlgorithm, flags: u64, pc: u64, gprs: &[u64; 8]) -> Measurement {
    let mut image = warden_abi::rec_params::RmiRecParams::new_zeroed();
    image.flags = flags;
    image.pc = pc;
    image.gprs = *gprs;
    hash(algo, image.as_bytes())
}

/// The RIM after REC_CREATE of a runnable REC whose content hash is `content`.
pub fn rim_extend_rec(algo: RmiHashAlgorithm, rim: &Measurement, content: &Measurement) -> Measurement {
    let mut d = descriptor(DescriptorType::Rec, rim);
    d[0x50..0x90].copy_from_slice(content);
    hash(algo, &d)
}

/// A REM after `RSI_MEASUREMENT_EXTEND` with the first `size` bytes of `value`: the hash of the
/// current REM (its digest length) followed by those bytes, zero-extended to a slot.
pub fn rem_extend(algo: RmiHashAlgorithm, rem: &Measurement, value: &[u8]) -> Measurement {
    let len = algo.digest_len();
    let mut buf = [0u8; 128];
    buf[..len].copy_from_slice(&rem[..len]);
    buf[len..len + value.len()].copy_from_slice(value);
    hash(algo, &buf[..len + value.len()])
}

/// The RIM after RTT_INIT_RIPAS of one entry covering `[base, top)`.
pub fn rim_extend_ripas(algo: RmiHashAlgorithm, rim: &Measurement, base: u64, top: u64) -> Measurement {
    let mut d = descriptor(DescriptorType::Ripas, rim);
    d[0x50..0x58].copy_from_slice(&base.to_le_bytes());
    d[0x58..0x60].copy_from_slice(&top.to_le_bytes());
    hash(algo, &d)
}

/// The five measurement slots of a Realm: index 0 is the RIM, 1–4 the REMs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measurements {
    slots: [Measurement; 5],
}

impl Measurements {
    /// A Realm's measurements at creation: the RIM given, REMs zero.
    pub fn new(rim: Measurement) -> Self {
        let mut slots = [[0u8; MEASUREMENT_BYTES]; 5];
        slots[0] = rim;
        Self { slots }
    }

    /// Slot `index` (0 = RIM, 1–4 = REMs).
    pub fn get(&self, index: usize) -> Option<&Measurement> {
        self.slots.get(index)
    }

    /// The RIM.
    pub fn rim(&self) -> &Measurement {
        &self.slots[0]
    }

    /// Replaces the RIM (extension while the Realm is NEW).
    pub fn set_rim(&mut self, rim: Measurement) {
        self.slots[0] = rim;
    }

    /// Replaces REM `index` (1–4).
    pub fn set(&mut self, index: usize, value: Measurement) {
        self.slots[index] = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_abi::addr::Pa;
    use warden_abi::realm_params::RmiRealmFlags;

    fn params(algo: RmiHashAlgorithm) -> RealmParams {
        RealmParams {
            flags: RmiRealmFlags::empty(),
            s2sz: 40,
            sve_vl: 0,
            num_bps: 1,
            num_wps: 1,
            pmu_num_ctrs: 0,
            hash_algo: algo,
            rpv: [0xAA; 64],
            vmid: 7,
            rtt_base: Pa(0x8000_0000),
            rtt_level_start: 1,
            rtt_num_start: 2,
        }
    }

    #[test]
    fn rim_hashes_exactly_the_measured_fields() {
        // Build the image by hand from the spec's offsets.
        let mut image = [0u8; 4096];
        image[0x08] = 40; // s2sz
        image[0x18] = 1; // num_bps
        image[0x20] = 1; // num_wps
        image[0x30] = 0; // hash_algo SHA-256
        let expect = Sha256::digest(image);
        let rim = rim_init(&params(RmiHashAlgorithm::Sha256));
        assert_eq!(&rim[..32], expect.as_slice());
        assert_eq!(&rim[32..], &[0u8; 32]);
        // RPV, VMID and RTT fields do not change the RIM.
        let mut other = params(RmiHashAlgorithm::Sha256);
        other.rpv = [0; 64];
        other.vmid = 9;
        other.rtt_base = Pa(0x9000_0000);
        assert_eq!(rim_init(&other), rim);
    }

    #[test]
    fn data_descriptor_layout() {
        let rim = [0x11u8; 64];
        let content = [0x22u8; 64];
        let mut d = [0u8; 256];
        d[0] = 0;
        d[8] = 0x00;
        d[9] = 0x01; // len 0x100
        d[0x10..0x50].copy_from_slice(&rim);
        d[0x50..0x58].copy_from_slice(&0x8000u64.to_le_bytes());
        d[0x58] = 1;
        d[0x60..0xA0].copy_from_slice(&content);
        let got = rim_extend_data(RmiHashAlgorithm::Sha256, &rim, 0x8000, 1, Some(&content));
        assert_eq!(&got[..32], Sha256::digest(d).as_slice());
        // Unmeasured content leaves the content field zero.
        d[0x58] = 0;
        d[0x60..0xA0].fill(0);
        assert_eq!(&rim_extend_data(RmiHashAlgorithm::Sha256, &rim, 0x8000, 0, None)[..32], Sha256::digest(d).as_slice());
    }

    #[test]
    fn ripas_descriptor_layout() {
        let rim = [0x33u8; 64];
        let mut d = [0u8; 256];
        d[0] = 2;
        d[9] = 0x01;
        d[0x10..0x50].copy_from_slice(&rim);
        d[0x50..0x58].copy_from_slice(&0x20_0000u64.to_le_bytes());
        d[0x58..0x60].copy_from_slice(&0x40_0000u64.to_le_bytes());
        assert_eq!(
            rim_extend_ripas(RmiHashAlgorithm::Sha512, &rim, 0x20_0000, 0x40_0000).as_slice(),
            Sha512::digest(d).as_slice()
        );
    }

    #[test]
    fn rec_descriptor_layout() {
        let gprs: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
        let mut image = [0u8; 4096];
        image[0] = 1; // flags: runnable
        image[0x200..0x208].copy_from_slice(&0x8000_0000u64.to_le_bytes());
        for (i, g) in gprs.iter().enumerate() {
            image[0x300 + 8 * i..0x308 + 8 * i].copy_from_slice(&g.to_le_bytes());
        }
        let content = rec_content(RmiHashAlgorithm::Sha256, 1, 0x8000_0000, &gprs);
        assert_eq!(&content[..32], Sha256::digest(image).as_slice());
        let rim = [0x44u8; 64];
        let mut d = [0u8; 256];
        d[0] = 1;
        d[9] = 1;
        d[0x10..0x50].copy_from_slice(&rim);
        d[0x50..0x90].copy_from_slice(&content);
        assert_eq!(&rim_extend_rec(RmiHashAlgorithm::Sha256, &rim, &content)[..32], Sha256::digest(d).as_slice());
    }

    #[test]
    fn rem_extension_hashes_old_digest_then_value() {
        let mut rem = [0u8; 64];
        rem[..32].fill(0x55);
        rem[32..].fill(0xEE); // beyond the SHA-256 digest: not hashed
        let mut input = [0x55u8; 32 + 5].to_vec();
        input[32..].copy_from_slice(b"hello");
        let got = rem_extend(RmiHashAlgorithm::Sha256, &rem, b"hello");
        assert_eq!(&got[..32], Sha256::digest(&input).as_slice());
        assert_eq!(&got[32..], &[0u8; 32]);
    }

    #[test]
    fn sha512_fills_the_slot() {
        let mut image = [0u8; 4096];
        image[0x08] = 40;
        image[0x18] = 1;
        image[0x20] = 1;
        image[0x30] = 1;
        assert_eq!(rim_init(&params(RmiHashAlgorithm::Sha512)).as_slice(), Sha512::digest(image).as_slice());
    }
}
