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
    fn sha512_fills_the_slot() {
        let mut image = [0u8; 4096];
        image[0x08] = 40;
        image[0x18] = 1;
        image[0x20] = 1;
        image[0x30] = 1;
        assert_eq!(rim_init(&params(RmiHashAlgorithm::Sha512)).as_slice(), Sha512::digest(image).as_slice());
    }
}
