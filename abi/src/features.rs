//! `RMI_FEATURES` register 0 (`RmiFeatureRegister0`, rel0 bit positions).
//!
//! Owns [`RmiFeatureRegister0`] and its encoding. Encoding masks each field
//! to its width and leaves bits 63:42 zero (MBZ); decoding ignores the
//! reserved bits (this register only flows RMM → host).

/// Index of feature register 0 for `RMI_FEATURES` (every other index
/// returns 0 in 1.0).
pub const RMI_FEATURE_REGISTER_0_INDEX: u64 = 0;

/// A field of the register: (lsb, width in bits).
const S2SZ: (u32, u32) = (0, 8);
const LPA2: (u32, u32) = (8, 1);
const SVE_EN: (u32, u32) = (9, 1);
const SVE_VL: (u32, u32) = (10, 4);
const NUM_BPS: (u32, u32) = (14, 6);
const NUM_WPS: (u32, u32) = (20, 6);
const PMU_EN: (u32, u32) = (26, 1);
const PMU_NUM_CTRS: (u32, u32) = (27, 5);
const HASH_SHA_256: (u32, u32) = (32, 1);
const HASH_SHA_512: (u32, u32) = (33, 1);
const GICV3_NUM_LRS: (u32, u32) = (34, 4);
const MAX_RECS_ORDER: (u32, u32) = (38, 4);

const fn put(field: (u32, u32), v: u64) -> u64 {
    (v & ((1 << field.1) - 1)) << field.0
}

const fn get(field: (u32, u32), reg: u64) -> u64 {
    (reg >> field.0) & ((1 << field.1) - 1)
}

/// `RmiFeatureRegister0` (RMM 1.0-rel0 layout).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct RmiFeatureRegister0 {
    /// `S2SZ` \[7:0\]: maximum IPA width in bits.
    pub s2sz: u8,
    /// `LPA2` \[8\]: LPA2 supported.
    pub lpa2: bool,
    /// `SVE_EN` \[9\]: SVE supported.
    pub sve_en: bool,
    /// `SVE_VL` \[13:10\]: maximum SVE VL, (SVE_VL + 1) × 128 bits.
    pub sve_vl: u8,
    /// `NUM_BPS` \[19:14\]: breakpoints available minus one.
    pub num_bps: u8,
    /// `NUM_WPS` \[25:20\]: watchpoints available minus one.
    pub num_wps: u8,
    /// `PMU_EN` \[26\]: PMU supported.
    pub pmu_en: bool,
    /// `PMU_NUM_CTRS` \[31:27\]: number of PMU counters.
    pub pmu_num_ctrs: u8,
    /// `HASH_SHA_256` \[32\].
    pub hash_sha_256: bool,
    /// `HASH_SHA_512` \[33\].
    pub hash_sha_512: bool,
    /// `GICV3_NUM_LRS` \[37:34\]: GICv3 list registers available minus one.
    pub gicv3_num_lrs: u8,
    /// `MAX_RECS_ORDER` \[41:38\]: a Realm may have up to 2^order − 1 RECs.
    pub max_recs_order: u8,
}

impl RmiFeatureRegister0 {
    /// Bits 63:42 of the register, which are reserved (MBZ).
    pub const RESERVED_MASK: u64 = !((1 << 42) - 1);

    /// Encodes the register. Each value is truncated to its field width
    /// (e.g. `sve_vl` to 4 bits), so out-of-range values never spill into
    /// neighbouring fields.
    pub const fn encode(&self) -> u64 {
        put(S2SZ, self.s2sz as u64)
            | put(LPA2, self.lpa2 as u64)
            | put(SVE_EN, self.sve_en as u64)
            | put(SVE_VL, self.sve_vl as u64)
            | put(NUM_BPS, self.num_bps as u64)
            | put(NUM_WPS, self.num_wps as u64)
            | put(PMU_EN, self.pmu_en as u64)
            | put(PMU_NUM_CTRS, self.pmu_num_ctrs as u64)
            | put(HASH_SHA_256, self.hash_sha_256 as u64)
            | put(HASH_SHA_512, self.hash_sha_512 as u64)
            | put(GICV3_NUM_LRS, self.gicv3_num_lrs as u64)
            | put(MAX_RECS_ORDER, self.max_recs_order as u64)
    }

    /// Decodes the register (reserved bits 63:42 are ignored).
    pub const fn decode(v: u64) -> Self {
        Self {
            s2sz: get(S2SZ, v) as u8,
            lpa2: get(LPA2, v) != 0,
            sve_en: get(SVE_EN, v) != 0,
            sve_vl: get(SVE_VL, v) as u8,
            num_bps: get(NUM_BPS, v) as u8,
            num_wps: get(NUM_WPS, v) as u8,
            pmu_en: get(PMU_EN, v) != 0,
            pmu_num_ctrs: get(PMU_NUM_CTRS, v) as u8,
            hash_sha_256: get(HASH_SHA_256, v) != 0,
            hash_sha_512: get(HASH_SHA_512, v) != 0,
            gicv3_num_lrs: get(GICV3_NUM_LRS, v) as u8,
            max_recs_order: get(MAX_RECS_ORDER, v) as u8,
        }
    }

    /// Maximum number of RECs per Realm, 2^`max_recs_order` − 1.
    pub const fn max_recs(&self) -> u64 {
        (1u64 << (self.max_recs_order & 0xF)) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_field_positions() {
        let z = RmiFeatureRegister0::default();
        assert_eq!(z.encode(), 0);
        let f = |r: RmiFeatureRegister0| r.encode();
        assert_eq!(f(RmiFeatureRegister0 { s2sz: 0xFF, ..z }), 0xFF);
        assert_eq!(f(RmiFeatureRegister0 { lpa2: true, ..z }), 1 << 8);
        assert_eq!(f(RmiFeatureRegister0 { sve_en: true, ..z }), 1 << 9);
        assert_eq!(f(RmiFeatureRegister0 { sve_vl: 0xF, ..z }), 0xF << 10);
        assert_eq!(f(RmiFeatureRegister0 { num_bps: 0x3F, ..z }), 0x3F << 14);
        assert_eq!(f(RmiFeatureRegister0 { num_wps: 0x3F, ..z }), 0x3F << 20);
        assert_eq!(f(RmiFeatureRegister0 { pmu_en: true, ..z }), 1 << 26);
        assert_eq!(
            f(RmiFeatureRegister0 {
                pmu_num_ctrs: 0x1F,
                ..z
            }),
            0x1F << 27
        );
        assert_eq!(
            f(RmiFeatureRegister0 {
                hash_sha_256: true,
                ..z
            }),
            1 << 32
        );
        assert_eq!(
            f(RmiFeatureRegister0 {
                hash_sha_512: true,
                ..z
            }),
            1 << 33
        );
        assert_eq!(
            f(RmiFeatureRegister0 {
                gicv3_num_lrs: 0xF,
                ..z
            }),
            0xF << 34
        );
        assert_eq!(
            f(RmiFeatureRegister0 {
                max_recs_order: 0xF,
                ..z
            }),
            0xF << 38
        );
    }

    #[test]
    fn truncation_does_not_spill() {
        let z = RmiFeatureRegister0::default();
        assert_eq!(
            RmiFeatureRegister0 { sve_vl: 0x1F, ..z }.encode(),
            0xF << 10
        );
        assert_eq!(
            RmiFeatureRegister0 {
                max_recs_order: 0xFF,
                ..z
            }
            .encode(),
            0xF << 38
        );
        let all = RmiFeatureRegister0::decode(u64::MAX).encode();
        assert_eq!(all, !RmiFeatureRegister0::RESERVED_MASK);
    }

    #[test]
    fn round_trip() {
        let r = RmiFeatureRegister0 {
            s2sz: 48,
            lpa2: false,
            sve_en: true,
            sve_vl: 3,
            num_bps: 5,
            num_wps: 3,
            pmu_en: true,
            pmu_num_ctrs: 31,
            hash_sha_256: true,
            hash_sha_512: true,
            gicv3_num_lrs: 15,
            max_recs_order: 10,
        };
        assert_eq!(RmiFeatureRegister0::decode(r.encode()), r);
        assert_eq!(r.max_recs(), 1023);
        // Every in-range register value round-trips through the struct.
        for v in [0u64, 1, 0x03FF_FFFF_FFFF, 0x2A_5555_5555, 0x15_AAAA_AAAA] {
            let v = v & !RmiFeatureRegister0::RESERVED_MASK;
            assert_eq!(RmiFeatureRegister0::decode(v).encode(), v);
        }
        // Reserved bits are ignored on decode.
        assert_eq!(RmiFeatureRegister0::decode(r.encode() | 1 << 63), r);
    }
}
