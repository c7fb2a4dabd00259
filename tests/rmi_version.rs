//! RMI_VERSION, RMI_FEATURES and the dispatcher.

mod common;

use common::*;
use warden_abi::features::RmiFeatureRegister0;
use warden_abi::fid::{SMC_UNKNOWN, SMCCC_SVE_HINT, rmi};
use warden_abi::status::RmiStatus;

const V1_0: u64 = 0x1_0000;

#[test]
fn version_matching_request_succeeds() {
    with_host(|h| {
        assert_eq!(h.call(rmi::VERSION, &[V1_0]).0, [0, V1_0, V1_0, 0, 0]);
    });
}

#[test]
fn version_three_cases() {
    with_host(|h| {
        let input = RmiStatus::input().to_x0();
        // Newer than implemented: lower = highest supported below it = 1.0.
        assert_eq!(h.call(rmi::VERSION, &[0x1_0001]).0, [input, V1_0, V1_0, 0, 0]);
        assert_eq!(h.call(rmi::VERSION, &[0x2_0000]).0, [input, V1_0, V1_0, 0, 0]);
        // Older than every supported version: lower = higher.
        assert_eq!(h.call(rmi::VERSION, &[0x0_0003]).0, [input, V1_0, V1_0, 0, 0]);
        // Not a valid encoding (bit 31 and above MBZ).
        assert_eq!(h.call(rmi::VERSION, &[V1_0 | 1 << 31]).0, [input, V1_0, V1_0, 0, 0]);
    });
}

#[test]
fn features_register_0_reports_what_warden_supports() {
    with_host(|h| {
        let r = h.call(rmi::FEATURES, &[0]);
        assert_eq!(r.status(), Some(RmiStatus::SUCCESS));
        let f = RmiFeatureRegister0::decode(r.0[1]);
        assert_eq!(f.s2sz, 48);
        assert!(!f.lpa2 && !f.sve_en && !f.pmu_en, "not supported yet, so not reported");
        assert!(f.hash_sha_256 && f.hash_sha_512);
        assert_eq!((f.num_bps, f.num_wps, f.gicv3_num_lrs), (5, 3, 3), "minus-one encodings of 6, 4, 4");
        assert_eq!(f.max_recs_order, 10);
        assert_eq!(r.0[1] & RmiFeatureRegister0::RESERVED_MASK, 0);
        assert_eq!(h.call(rmi::FEATURES, &[1]).0, [0, 0, 0, 0, 0]);
        assert_eq!(h.call(rmi::FEATURES, &[u64::MAX]).0, [0, 0, 0, 0, 0]);
    });
}

#[test]
fn unknown_fids_return_smc_unknown() {
    with_host(|h| {
        for fid in [0xC400_0156, 0xC400_0160, 0xC400_0163, 0xC400_016A, 0xC400_018E, 0x8400_0150, 0, u64::MAX] {
            assert_eq!(h.call(fid, &[V1_0]).0, [SMC_UNKNOWN, 0, 0, 0, 0], "{fid:#x}");
        }
    });
}

#[test]
fn sve_hint_bit_is_masked() {
    with_host(|h| {
        assert_eq!(h.call(rmi::VERSION | SMCCC_SVE_HINT, &[V1_0]).0, [0, V1_0, V1_0, 0, 0]);
    });
}
