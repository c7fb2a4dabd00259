//! RMI_REALM_CREATE (all thirteen failure conditions, in the spec's order), REALM_ACTIVATE,
//! REALM_DESTROY and REC_AUX_COUNT.

mod common;

use common::*;
use warden::arch::host::{HostMachine, Pas, RegionSpec};
use warden::granule::GranuleState;
use warden::measure::rim_init;
use warden::platform::{MachineFeatures, TlbInvalidation};
use warden::realm::{Rd, RealmState};
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_abi::realm_params::{RealmParams, RmiRealmFlags};
use warden_abi::rtt::RmiHashAlgorithm;
use warden_abi::status::RmiStatus;
use zerocopy::IntoBytes;

/// Runs REALM_CREATE with parameters `p` written at PARAMS after delegating RD and both RTTs, and
/// asserts it fails with RMI_ERROR_INPUT leaving every granule and the VMID untouched.
fn create_fails(h: &Host<'_>, rd: u64, params_ptr: u64, p: &RealmParams) {
    for g in [RD, RTT, RTT + 0x1000] {
        if h.state(g) == Some(GranuleState::Undelegated) {
            h.delegate(g);
        }
    }
    h.write_params(PARAMS, p);
    assert_eq!(h.status(rmi::REALM_CREATE, &[rd, params_ptr]), RmiStatus::input(), "{p:?}");
    assert_nothing_created(h);
    // And the VMID is still free: the same call with good parameters succeeds.
    h.write_params(PARAMS, &params(RTT, p.vmid));
    assert_eq!(h.status(rmi::REALM_CREATE, &[RD, PARAMS]), RmiStatus::SUCCESS);
    assert_eq!(h.status(rmi::REALM_DESTROY, &[RD]), RmiStatus::SUCCESS);
}

fn assert_nothing_created(h: &Host<'_>) {
    for g in [RD, RTT, RTT + 0x1000] {
        assert_eq!(h.state(g), Some(GranuleState::Delegated), "{g:#x} changed");
    }
}

fn with_params(f: impl FnOnce(&mut RealmParams)) -> RealmParams {
    let mut p = params(RTT, 1);
    f(&mut p);
    p
}

#[test]
fn create_success_sets_states_and_rim() {
    with_host(|h| {
        assert_eq!(h.create_realm(RD, RTT, 7), RmiStatus::SUCCESS);
        assert_eq!(h.state(RD), Some(GranuleState::Rd));
        assert_eq!(h.state(RTT), Some(GranuleState::Rtt));
        assert_eq!(h.state(RTT + 0x1000), Some(GranuleState::Rtt));
        let rd = h.rmm.granules().share(Pa(RD), GranuleState::Rd).unwrap();
        let realm = rd.object::<Rd>();
        assert_eq!(realm.state(), RealmState::New);
        assert_eq!(realm.config().vmid, 7);
        assert_eq!(realm.config().ipa_width, 40);
        assert_eq!(realm.rec_index(), 0);
        assert_eq!(realm.measurements().get(0), Some(&rim_init(&params(RTT, 7))));
        for i in 1..5 {
            assert_eq!(realm.measurements().get(i), Some(&[0u8; 64]), "REM {i} starts at zero");
        }
    });
}

#[test]
fn create_1_params_align() {
    with_host(|h| create_fails(h, RD, PARAMS + 8, &params(RTT, 1)));
}

#[test]
fn create_2_params_bound() {
    with_host(|h| {
        for ptr in [MMIO, DRAM + (16 << 20), 1 << 50] {
            create_fails(h, RD, ptr, &params(RTT, 1));
        }
    });
}

#[test]
fn create_3_params_pas() {
    with_host(|h| {
        // Parameters in a delegated granule (Realm PAS): Warden's copy takes the GPF.
        let realm_params = DRAM + 0x50_0000;
        h.write_params(realm_params, &params(RTT, 1));
        h.delegate(realm_params);
        create_fails(h, RD, realm_params, &params(RTT, 1));
        // In a granule of DRAM the GPT gives to the Secure world.
        let secure_params = DRAM + 0x51_0000;
        h.write_params(secure_params, &params(RTT, 1));
        h.m.set_pas(Pa(secure_params), Pas::Secure);
        create_fails(h, RD, secure_params, &params(RTT, 1));
    });
}

#[test]
fn create_4_params_valid() {
    with_host(|h| {
        // SBZ bits in each slot and unknown enumerations.
        let mut raw = params(RTT, 1).encode();
        raw.flags |= 1 << 3;
        h.write(PARAMS, raw.as_bytes());
        assert_eq!(h.status(rmi::REALM_CREATE, &[RD, PARAMS]), RmiStatus::input());
        type Raw = warden_abi::realm_params::RmiRealmParams;
        let bads: [fn(&mut Raw); 4] = [
            |r| r.s2sz |= 1 << 8,
            |r| r.num_bps |= 1 << 40,
            |r| r.hash_algo = 2,
            |r| r.vmid = 1 << 16,
        ];
        for bad in bads {
            for g in [RD, RTT, RTT + 0x1000] {
                if h.state(g) == Some(GranuleState::Undelegated) {
                    h.delegate(g);
                }
            }
            let mut raw = params(RTT, 1).encode();
            bad(&mut raw);
            h.write(PARAMS, raw.as_bytes());
            assert_eq!(h.status(rmi::REALM_CREATE, &[RD, PARAMS]), RmiStatus::input());
            assert_nothing_created(h);
        }
        // Zero breakpoints or watchpoints is the reserved encoding.
        create_fails(h, RD, PARAMS, &with_params(|p| p.num_bps = 0));
        create_fails(h, RD, PARAMS, &with_params(|p| p.num_wps = 0));
    });
}

#[test]
fn create_5_params_supp() {
    with_host(|h| {
        create_fails(h, RD, PARAMS, &with_params(|p| p.s2sz = 31));
        create_fails(h, RD, PARAMS, &with_params(|p| p.s2sz = 49));
        create_fails(h, RD, PARAMS, &with_params(|p| p.flags = RmiRealmFlags::LPA2));
        create_fails(h, RD, PARAMS, &with_params(|p| p.flags = RmiRealmFlags::SVE));
        create_fails(h, RD, PARAMS, &with_params(|p| p.flags = RmiRealmFlags::PMU));
        create_fails(h, RD, PARAMS, &with_params(|p| p.num_bps = 6)); // 7 breakpoints > 6
        create_fails(h, RD, PARAMS, &with_params(|p| p.num_wps = 4)); // 5 watchpoints > 4
    });
}

#[test]
fn create_params_supp_limits_are_inclusive() {
    with_host(|h| {
        for g in [RD, RTT, RTT + 0x1000] {
            h.delegate(g);
        }
        let p = with_params(|p| {
            p.num_bps = 5;
            p.num_wps = 3;
            p.hash_algo = RmiHashAlgorithm::Sha512;
        });
        h.write_params(PARAMS, &p);
        assert_eq!(h.status(rmi::REALM_CREATE, &[RD, PARAMS]), RmiStatus::SUCCESS);
    });
}

#[test]
fn create_6_alias() {
    with_host(|h| {
        create_fails(h, RTT, PARAMS, &params(RTT, 1));
        create_fails(h, RTT + 0x1000, PARAMS, &params(RTT, 1));
    });
}

#[test]
fn create_7_rd_align() {
    with_host(|h| create_fails(h, RD + 0x10, PARAMS, &params(RTT, 1)));
}

#[test]
fn create_8_rd_bound() {
    with_host(|h| {
        for rd in [MMIO, ROOT, SECURE, DRAM + (16 << 20)] {
            create_fails(h, rd, PARAMS, &params(RTT, 1));
        }
    });
}

#[test]
fn create_9_rd_state() {
    with_host(|h| {
        let undelegated = DRAM + 0x60_0000;
        create_fails(h, undelegated, PARAMS, &params(RTT, 1));
        // An RD of another Realm.
        let other_rd = DRAM + 0x61_0000;
        let other_rtt = DRAM + 0x62_0000;
        assert_eq!(h.create_realm(other_rd, other_rtt, 2), RmiStatus::SUCCESS);
        create_fails(h, other_rd, PARAMS, &params(RTT, 1));
        // Its starting RTT.
        create_fails(h, other_rtt, PARAMS, &params(RTT, 1));
    });
}

#[test]
fn create_10_rtt_align() {
    with_host(|h| {
        // Two concatenated tables must start on an 8 KiB boundary.
        let odd = DRAM + 0x30_1000;
        h.delegate(odd);
        h.delegate(odd + 0x1000);
        create_fails(h, RD, PARAMS, &params(odd, 1));
        create_fails(h, RD, PARAMS, &with_params(|p| p.rtt_base = Pa(RTT + 8)));
    });
}

#[test]
fn create_11_rtt_num_level() {
    with_host(|h| {
        create_fails(h, RD, PARAMS, &with_params(|p| p.rtt_num_start = 1));
        create_fails(h, RD, PARAMS, &with_params(|p| p.rtt_num_start = 0));
        create_fails(h, RD, PARAMS, &with_params(|p| p.rtt_level_start = 0)); // 40 bits at level 0: 1 table
        create_fails(h, RD, PARAMS, &with_params(|p| p.rtt_level_start = 2));
        create_fails(h, RD, PARAMS, &with_params(|p| p.rtt_level_start = 3));
        create_fails(h, RD, PARAMS, &with_params(|p| p.rtt_level_start = -1));
        create_fails(h, RD, PARAMS, &with_params(|p| p.rtt_level_start = 4));
        create_fails(h, RD, PARAMS, &with_params(|p| p.rtt_level_start = i64::MIN));
    });
}

#[test]
fn create_12_rtt_state() {
    with_host(|h| {
        h.delegate(RD);
        h.delegate(RTT);
        // The second table is not delegated.
        h.write_params(PARAMS, &params(RTT, 1));
        assert_eq!(h.status(rmi::REALM_CREATE, &[RD, PARAMS]), RmiStatus::input());
        assert_eq!(h.state(RD), Some(GranuleState::Delegated));
        assert_eq!(h.state(RTT), Some(GranuleState::Delegated));
        // Starting tables that run past the end of DRAM.
        let last = DRAM + (16 << 20) - 0x2000;
        h.delegate(last);
        h.delegate(last + 0x1000);
        let p = with_params(|p| {
            p.s2sz = 41;
            p.rtt_num_start = 4;
            p.rtt_base = Pa(DRAM + (16 << 20) - 0x4000);
        });
        h.delegate(DRAM + (16 << 20) - 0x4000);
        h.delegate(DRAM + (16 << 20) - 0x3000);
        h.write_params(PARAMS, &p);
        assert_eq!(h.status(rmi::REALM_CREATE, &[RD, PARAMS]), RmiStatus::SUCCESS, "control: 4 tables fit");
        assert_eq!(h.status(rmi::REALM_DESTROY, &[RD]), RmiStatus::SUCCESS);
        let p = with_params(|p| {
            p.s2sz = 42;
            p.rtt_num_start = 8;
            p.rtt_base = Pa(DRAM + (16 << 20) - 0x4000);
        });
        h.write_params(PARAMS, &p);
        assert_eq!(h.status(rmi::REALM_CREATE, &[RD, PARAMS]), RmiStatus::input(), "tables beyond DRAM");
    });
}

#[test]
fn create_13_vmid_valid() {
    with_host(|h| {
        assert_eq!(h.create_realm(RD, RTT, 9), RmiStatus::SUCCESS);
        let rd2 = DRAM + 0x70_0000;
        let rtt2 = DRAM + 0x72_0000;
        for g in [rd2, rtt2, rtt2 + 0x1000] {
            h.delegate(g);
        }
        h.write_params(PARAMS, &params(rtt2, 9));
        assert_eq!(h.status(rmi::REALM_CREATE, &[rd2, PARAMS]), RmiStatus::input(), "VMID in use");
        assert_eq!(h.state(rd2), Some(GranuleState::Delegated));
        // Once the first Realm is destroyed, its VMID is free again.
        assert_eq!(h.status(rmi::REALM_DESTROY, &[RD]), RmiStatus::SUCCESS);
        assert_eq!(h.status(rmi::REALM_CREATE, &[rd2, PARAMS]), RmiStatus::SUCCESS);
    });
    // A VMID beyond the hardware's 8 bits.
    let m = HostMachine::new(
        &[RegionSpec { base: DRAM, size: 16 << 20, pas: Pas::NonSecure, delegable: true }],
        MachineFeatures { vmid_bits: 8, ..HostMachine::default_features() },
    );
    with_machine(m, |h| {
        for g in [RD, RTT, RTT + 0x1000] {
            h.delegate(g);
        }
        h.write_params(PARAMS, &params(RTT, 256));
        assert_eq!(h.status(rmi::REALM_CREATE, &[RD, PARAMS]), RmiStatus::input());
        assert_nothing_created(h);
        h.write_params(PARAMS, &params(RTT, 255));
        assert_eq!(h.status(rmi::REALM_CREATE, &[RD, PARAMS]), RmiStatus::SUCCESS);
    });
}

#[test]
fn create_errors_follow_the_listed_order() {
    with_host(|h| {
        // params_align (1) and rd_align (7) at once: both INPUT, nothing created.
        create_fails(h, RD + 1, PARAMS + 1, &params(RTT, 1));
        // params_valid (4) with vmid_valid (13): INPUT.
        h.write_params(PARAMS, &params(RTT, 5));
        assert_eq!(h.status(rmi::REALM_CREATE, &[RD, PARAMS]), RmiStatus::SUCCESS);
        let rd2 = DRAM + 0x70_0000;
        h.delegate(rd2);
        let mut raw = params(RTT, 5).encode();
        raw.flags = 1 << 7;
        h.write(PARAMS, raw.as_bytes());
        assert_eq!(h.status(rmi::REALM_CREATE, &[rd2, PARAMS]), RmiStatus::input());
    });
}

#[test]
fn starting_tables_split_protected_and_unprotected() {
    use warden::rtt::RttTable;
    use warden::rtt::entry::EntryKind;
    use warden_abi::rtt::RmiRipas;
    with_host(|h| {
        assert_eq!(h.create_realm(RD, RTT, 1), RmiStatus::SUCCESS);
        // 40-bit IPA at level 1: 1024 entries of 1 GiB; the lower 512 (first table) are protected.
        let t0 = h.rmm.granules().share(Pa(RTT), GranuleState::Rtt).unwrap();
        let t1 = h.rmm.granules().share(Pa(RTT + 0x1000), GranuleState::Rtt).unwrap();
        for i in 0..512 {
            assert_eq!(t0.object::<RttTable>().entry(i).kind(1), EntryKind::Unassigned(RmiRipas::Empty));
            assert_eq!(t1.object::<RttTable>().entry(i).kind(1), EntryKind::UnassignedNs);
        }
    });
}

#[test]
fn activate_checks_and_transition() {
    with_host(|h| {
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RD + 1]), RmiStatus::input(), "rd_align");
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[MMIO]), RmiStatus::input(), "rd_bound");
        h.delegate(RD);
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RD]), RmiStatus::input(), "rd_state DELEGATED");
        h.delegate(RTT);
        h.delegate(RTT + 0x1000);
        h.write_params(PARAMS, &params(RTT, 1));
        assert_eq!(h.status(rmi::REALM_CREATE, &[RD, PARAMS]), RmiStatus::SUCCESS);
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RTT]), RmiStatus::input(), "rd_state RTT, before realm_state");
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RD]), RmiStatus::SUCCESS);
        let rd = h.rmm.granules().share(Pa(RD), GranuleState::Rd).unwrap();
        assert_eq!(rd.object::<Rd>().state(), RealmState::Active);
        drop(rd);
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RD]), RmiStatus::realm(0), "realm_state");
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RD]).to_x0(), 0x2);
    });
}

#[test]
fn destroy_checks_and_transition() {
    with_host(|h| {
        assert_eq!(h.status(rmi::REALM_DESTROY, &[RD + 0x100]), RmiStatus::input(), "rd_align");
        assert_eq!(h.status(rmi::REALM_DESTROY, &[ROOT]), RmiStatus::input(), "rd_bound");
        assert_eq!(h.status(rmi::REALM_DESTROY, &[RD]), RmiStatus::input(), "rd_state UNDELEGATED");
        assert_eq!(h.create_realm(RD, RTT, 4), RmiStatus::SUCCESS);
        assert_eq!(h.status(rmi::REALM_DESTROY, &[RTT]), RmiStatus::input(), "rd_state RTT");
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RD]), RmiStatus::SUCCESS);
        h.m.take_tlb_invalidations();
        assert_eq!(h.status(rmi::REALM_DESTROY, &[RD]), RmiStatus::SUCCESS, "an ACTIVE realm without RECs");
        for g in [RD, RTT, RTT + 0x1000] {
            assert_eq!(h.state(g), Some(GranuleState::Delegated));
        }
        assert_eq!(h.m.take_tlb_invalidations(), vec![TlbInvalidation::Vmid(4)], "VMID flushed before reuse");
        assert_eq!(h.status(rmi::REALM_DESTROY, &[RD]), RmiStatus::input(), "already destroyed");
    });
}

#[test]
fn rec_aux_count() {
    with_host(|h| {
        assert_eq!(h.status(rmi::REC_AUX_COUNT, &[RD + 4]), RmiStatus::input(), "rd_align");
        assert_eq!(h.status(rmi::REC_AUX_COUNT, &[SECURE]), RmiStatus::input(), "rd_bound");
        assert_eq!(h.status(rmi::REC_AUX_COUNT, &[RD]), RmiStatus::input(), "rd_state");
        assert_eq!(h.create_realm(RD, RTT, 1), RmiStatus::SUCCESS);
        let r = h.call(rmi::REC_AUX_COUNT, &[RD]);
        assert_eq!(r.0, [0, 4, 0, 0, 0]);
        assert!(r.0[1] <= 16);
    });
}
