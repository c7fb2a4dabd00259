//! RMI_GRANULE_DELEGATE / RMI_GRANULE_UNDELEGATE: every failure condition, transitions, scrubbing.

mod common;

use common::*;
use warden::arch::host::Pas;
use warden::granule::GranuleState;
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_abi::status::RmiStatus;

const G: u64 = DRAM + 0x40_0000;

#[test]
fn delegate_then_undelegate_moves_state_and_gpt() {
    with_host(|h| {
        assert_eq!(h.state(G), Some(GranuleState::Undelegated));
        h.delegate(G);
        assert_eq!(h.state(G), Some(GranuleState::Delegated));
        assert_eq!(h.m.pas(Pa(G)), Some(Pas::Realm));
        assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[G]), RmiStatus::SUCCESS);
        assert_eq!(h.state(G), Some(GranuleState::Undelegated));
        assert_eq!(h.m.pas(Pa(G)), Some(Pas::NonSecure));
    });
}

#[test]
fn delegate_gran_align() {
    with_host(|h| {
        for pa in [G + 1, G + 0x800, G + 0xFFF] {
            assert_eq!(h.status(rmi::GRANULE_DELEGATE, &[pa]), RmiStatus::input());
        }
        assert_eq!(h.state(G), Some(GranuleState::Undelegated));
        assert_eq!(h.m.pas(Pa(G)), Some(Pas::NonSecure));
    });
}

#[test]
fn delegate_gran_bound() {
    with_host(|h| {
        // MMIO, Root and Secure memory, a hole below DRAM, just past DRAM, beyond the PA range.
        for pa in [MMIO, ROOT, SECURE, DRAM - 0x1000, DRAM + (16 << 20), 1 << 52, !0xFFF] {
            assert_eq!(h.status(rmi::GRANULE_DELEGATE, &[pa]), RmiStatus::input(), "{pa:#x}");
        }
        assert_eq!(h.m.pas(Pa(ROOT)), Some(Pas::Root));
        assert_eq!(h.m.pas(Pa(SECURE)), Some(Pas::Secure));
    });
}

#[test]
fn delegate_gran_state() {
    with_host(|h| {
        h.delegate(G);
        assert_eq!(h.status(rmi::GRANULE_DELEGATE, &[G]), RmiStatus::input());
        assert_eq!(h.state(G), Some(GranuleState::Delegated));
        // An RD is not UNDELEGATED either.
        assert_eq!(h.create_realm(RD, RTT, 1), RmiStatus::SUCCESS);
        assert_eq!(h.status(rmi::GRANULE_DELEGATE, &[RD]), RmiStatus::input());
        assert_eq!(h.state(RD), Some(GranuleState::Rd));
    });
}

#[test]
fn delegate_gran_gpt() {
    with_host(|h| {
        // A granule of delegable DRAM that the GPT gives to the Secure world: EL3 refuses.
        h.m.set_pas(Pa(G), Pas::Secure);
        assert_eq!(h.status(rmi::GRANULE_DELEGATE, &[G]), RmiStatus::input());
        assert_eq!(h.state(G), Some(GranuleState::Undelegated), "released unchanged");
        assert_eq!(h.m.pas(Pa(G)), Some(Pas::Secure));
        // Once it is NS again, the same granule delegates: nothing was left claimed.
        h.m.set_pas(Pa(G), Pas::NonSecure);
        h.delegate(G);
    });
}

#[test]
fn undelegate_gran_align_bound_state() {
    with_host(|h| {
        h.delegate(G);
        assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[G + 8]), RmiStatus::input(), "gran_align");
        for pa in [MMIO, ROOT, SECURE, DRAM + (16 << 20)] {
            assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[pa]), RmiStatus::input(), "gran_bound {pa:#x}");
        }
        assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[G + 0x1000]), RmiStatus::input(), "gran_state UNDELEGATED");
        assert_eq!(h.state(G), Some(GranuleState::Delegated));
        assert_eq!(h.create_realm(RD, RTT, 1), RmiStatus::SUCCESS);
        assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[RD]), RmiStatus::input(), "gran_state RD");
        assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[RTT]), RmiStatus::input(), "gran_state RTT");
        assert_eq!(h.state(RD), Some(GranuleState::Rd));
        assert_eq!(h.state(RTT), Some(GranuleState::Rtt));
    });
}

#[test]
fn delegated_granules_are_unreachable_from_ns_and_scrubbed_on_return() {
    with_host(|h| {
        h.write(G, &[0xA5; 4096]);
        h.delegate(G);
        let mut buf = [0u8; 64];
        assert!(h.m.host_read(Pa(G), &mut buf).is_err(), "NS read of a Realm granule must fault");
        assert!(h.m.host_write(Pa(G), &buf).is_err(), "NS write of a Realm granule must fault");
        assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[G]), RmiStatus::SUCCESS);
        let mut page = [0xFFu8; 4096];
        h.m.host_read(Pa(G), &mut page).expect("NS again");
        assert!(page.iter().all(|&b| b == 0), "undelegated granule must read zero");
    });
}

#[test]
fn granules_of_a_destroyed_realm_come_back_zeroed() {
    with_host(|h| {
        assert_eq!(h.create_realm(RD, RTT, 3), RmiStatus::SUCCESS);
        assert_eq!(h.status(rmi::REALM_DESTROY, &[RD]), RmiStatus::SUCCESS);
        for pa in [RD, RTT, RTT + 0x1000] {
            assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[pa]), RmiStatus::SUCCESS);
            let mut page = [0xFFu8; 4096];
            h.m.host_read(Pa(pa), &mut page).expect("NS again");
            assert!(page.iter().all(|&b| b == 0), "{pa:#x} leaked Warden state");
        }
    });
}

#[test]
fn multi_bank_layout_indexes_every_bank() {
    use warden::arch::host::{HostMachine, RegionSpec};
    let m = HostMachine::new(
        &[
            RegionSpec { base: 0x4000_0000, size: 1 << 20, pas: Pas::NonSecure, delegable: true },
            RegionSpec { base: 0x1_0000_0000, size: 1 << 20, pas: Pas::NonSecure, delegable: true },
        ],
        HostMachine::default_features(),
    );
    with_machine(m, |h| {
        for pa in [0x4000_0000, 0x400F_F000, 0x1_0000_0000, 0x1_000F_F000] {
            h.delegate(pa);
            assert_eq!(h.state(pa), Some(GranuleState::Delegated));
        }
        // Between and after the banks: not delegable.
        for pa in [0x4010_0000, 0x8000_0000, 0x1_0010_0000] {
            assert_eq!(h.status(rmi::GRANULE_DELEGATE, &[pa]), RmiStatus::input(), "{pa:#x}");
        }
    });
}
