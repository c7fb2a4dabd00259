//! The standard Realm's parameters, one definition for the integration tests (`tests/common`) and
//! the fuzz crate (`fuzz/src/harness.rs` includes this file with `#[path]`).
//!
//! Owns [`params`] only. The reference model (`tests/model/spec.rs`) is written for exactly this
//! Realm (40-bit IPA, level-1 start with two concatenated tables), and both the model-based test
//! and the `rmi_sequence` fuzz target re-create it after REALM_DESTROY, so the two crates must
//! never build it differently. This file must never use anything but `warden_abi`: both crates
//! include it.

use warden_abi::addr::Pa;
use warden_abi::realm_params::{RealmParams, RmiRealmFlags};
use warden_abi::rtt::RmiHashAlgorithm;

/// Valid parameters: 40-bit IPA, starting at level 1 with two concatenated tables at `rtt`.
pub fn params(rtt: u64, vmid: u16) -> RealmParams {
    RealmParams {
        flags: RmiRealmFlags::empty(),
        s2sz: 40,
        sve_vl: 0,
        num_bps: 1,
        num_wps: 1,
        pmu_num_ctrs: 0,
        hash_algo: RmiHashAlgorithm::Sha256,
        rpv: [0x5A; 64],
        vmid,
        rtt_base: Pa(rtt),
        rtt_level_start: 1,
        rtt_num_start: 2,
    }
}
