//! DATA_CREATE, DATA_CREATE_UNKNOWN and DATA_DESTROY: every failure condition in the spec's order,
//! contents, measurement, RIPAS effects, scrubbing and TLB maintenance.

mod common;

use common::*;
use warden::arch::host::Pas;
use warden::granule::GranuleState;
use warden::measure::{hash, rim_extend_data};
use warden::platform::TlbInvalidation;
use warden::realm::Rd;
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_abi::rtt::RmiHashAlgorithm;
use warden_abi::status::RmiStatus;

const UNASSIGNED: u64 = 0;
const ASSIGNED: u64 = 1;
const EMPTY: u64 = 0;
const RAM: u64 = 1;
const DESTROYED: u64 = 2;

fn rim(h: &Host<'_>) -> [u8; 64] {
    let rd = h.rmm.granules().share(Pa(RD), GranuleState::Rd).unwrap();
    *rd.object::<Rd>().measurements().get(0).unwrap()
}

/// The bytes of a DATA granule, read the way Warden would (a claim), then released.
fn data_bytes(h: &Host<'_>, data: u64) -> Vec<u8> {
    let mut c = h.rmm.granules().claim(Pa(data), GranuleState::Data).unwrap();
    c.bytes_mut().to_vec()
}

fn pattern(seed: u8) -> Vec<u8> {
    (0..4096u32).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[test]
fn create_copies_measures_and_maps() {
    with_host(|h| {
        h.realm();
        h.map_l3(IPA);
        let src = h.fresh_ns();
        h.write(src, &pattern(7));
        let data = h.fresh();
        let before = rim(h);
        assert_eq!(h.status(rmi::DATA_CREATE, &[RD, data, IPA, src, 1]), RmiStatus::SUCCESS);
        assert_eq!(h.state(data), Some(GranuleState::Data));
        assert_eq!(h.read_entry(IPA, 3), (3, ASSIGNED, data, RAM));
        assert_eq!(data_bytes(h, data), pattern(7));
        let algo = RmiHashAlgorithm::Sha256;
        let content = hash(algo, &pattern(7));
        assert_eq!(rim(h), rim_extend_data(algo, &before, IPA, 1, Some(&content)));
        // Unmeasured: the descriptor has flags 0 and no content hash; RIPAS still becomes RAM.
        let data2 = h.fresh();
        let before = rim(h);
        assert_eq!(h.status(rmi::DATA_CREATE, &[RD, data2, IPA + 0x1000, src, 0]), RmiStatus::SUCCESS);
        assert_eq!(rim(h), rim_extend_data(algo, &before, IPA + 0x1000, 0, None));
        assert_eq!(h.read_entry(IPA + 0x1000, 3), (3, ASSIGNED, data2, RAM));
        // The Host's page is untouched and still its own.
        let mut back = vec![0u8; 4096];
        h.m.host_read(Pa(src), &mut back).unwrap();
        assert_eq!(back, pattern(7));
    });
}

#[test]
fn create_failure_conditions_in_order() {
    with_host(|h| {
        h.realm();
        h.map_l3(IPA);
        let src = h.fresh_ns();
        let data = h.fresh();
        let st = |rd: u64, data: u64, ipa: u64, src: u64| h.status(rmi::DATA_CREATE, &[rd, data, ipa, src, 1]);
        // 1–3: the source.
        assert_eq!(st(RD, data, IPA, src + 8), RmiStatus::input(), "src_align");
        assert_eq!(st(RD, data, IPA, MMIO), RmiStatus::input(), "src_bound");
        assert_eq!(st(RD, data, IPA, h.fresh()), RmiStatus::input(), "src_pas: a delegated granule (real GPF in the copy)");
        let secure_src = h.fresh_ns();
        h.m.set_pas(Pa(secure_src), Pas::Secure);
        assert_eq!(st(RD, data, IPA, secure_src), RmiStatus::input(), "src_pas: Secure");
        // 4–7: the DATA granule.
        assert_eq!(st(RD, data + 4, IPA, src), RmiStatus::input(), "data_align");
        assert_eq!(st(RD, ROOT, IPA, src), RmiStatus::input(), "data_bound");
        assert_eq!(st(RD, h.fresh_ns(), IPA, src), RmiStatus::input(), "data_state UNDELEGATED");
        assert_eq!(st(RD, RTT, IPA, src), RmiStatus::input(), "data_state RTT");
        // 8–10: the RD.
        assert_eq!(st(RD + 1, data, IPA, src), RmiStatus::input(), "rd_align");
        assert_eq!(st(MMIO, data, IPA, src), RmiStatus::input(), "rd_bound");
        assert_eq!(st(data, data, IPA, src), RmiStatus::input(), "rd_state");
        // 11–12: the IPA.
        assert_eq!(st(RD, data, IPA + 0x10, src), RmiStatus::input(), "ipa_align");
        assert_eq!(st(RD, data, NS_IPA, src), RmiStatus::input(), "ipa_bound: unprotected");
        assert_eq!(st(RD, data, 1 << 40, src), RmiStatus::input(), "ipa_bound: beyond");
        // 14–15: the walk.
        assert_eq!(st(RD, data, 0x1_0000_0000, src), RmiStatus::rtt(1), "rtt_walk");
        assert_eq!(st(RD, data, IPA, src), RmiStatus::SUCCESS);
        assert_eq!(st(RD, h.fresh(), IPA, src), RmiStatus::rtt(3), "rtte_state");
        // 13: realm_state, after the RD checks and before the walk.
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RD]), RmiStatus::SUCCESS);
        let d = h.fresh();
        assert_eq!(st(RD, d, IPA + 0x1000, src), RmiStatus::realm(0), "realm_state");
        assert_eq!(st(RD, d, 0x1_0000_0000, src), RmiStatus::realm(0), "realm_state before rtt_walk");
        assert_eq!(st(RTT, d, IPA + 0x1000, src), RmiStatus::input(), "rd_state before realm_state");
        // Nothing was consumed by the failures.
        assert_eq!(h.state(d), Some(GranuleState::Delegated));
    });
}

#[test]
fn create_unknown_keeps_ripas_zeroes_and_does_not_measure() {
    with_host(|h| {
        h.realm();
        h.map_l3(IPA);
        let data = h.fresh();
        // Dirty the granule through an earlier life: Host data, then delegated.
        let before = rim(h);
        assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, data, IPA]), RmiStatus::SUCCESS);
        assert_eq!(h.read_entry(IPA, 3), (3, ASSIGNED, data, EMPTY));
        assert_eq!(rim(h), before, "no RIM extension");
        assert!(data_bytes(h, data).iter().all(|&b| b == 0));
        // Allowed in an ACTIVE realm; RIPAS RAM stays RAM (a valid mapping).
        h.call(rmi::RTT_INIT_RIPAS, &[RD, IPA + 0x1000, IPA + 0x2000]);
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RD]), RmiStatus::SUCCESS);
        let d2 = h.fresh();
        assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, d2, IPA + 0x1000]), RmiStatus::SUCCESS);
        assert_eq!(h.read_entry(IPA + 0x1000, 3), (3, ASSIGNED, d2, RAM));
        // Failure conditions (no source, no realm_state).
        let st = |rd: u64, data: u64, ipa: u64| h.status(rmi::DATA_CREATE_UNKNOWN, &[rd, data, ipa]);
        let d3 = h.fresh();
        assert_eq!(st(RD, d3 + 1, IPA + 0x2000), RmiStatus::input(), "data_align");
        assert_eq!(st(RD, SECURE, IPA + 0x2000), RmiStatus::input(), "data_bound");
        assert_eq!(st(RD, d2, IPA + 0x2000), RmiStatus::input(), "data_state DATA");
        assert_eq!(st(RD + 64, d3, IPA + 0x2000), RmiStatus::input(), "rd_align");
        assert_eq!(st(d3, d3, IPA + 0x2000), RmiStatus::input(), "rd_state");
        assert_eq!(st(RD, d3, IPA + 0x2001), RmiStatus::input(), "ipa_align");
        assert_eq!(st(RD, d3, NS_IPA), RmiStatus::input(), "ipa_bound");
        assert_eq!(st(RD, d3, 0x1_0000_0000), RmiStatus::rtt(1), "rtt_walk");
        assert_eq!(st(RD, d3, IPA), RmiStatus::rtt(3), "rtte_state");
    });
}

#[test]
fn destroy_unmaps_scrubs_and_reports_top() {
    with_host(|h| {
        h.realm();
        h.map_l3(IPA);
        let src = h.fresh_ns();
        h.write(src, &pattern(3));
        let data = h.fresh();
        let other = h.fresh();
        assert_eq!(h.status(rmi::DATA_CREATE, &[RD, data, IPA, src, 1]), RmiStatus::SUCCESS);
        assert_eq!(h.status(rmi::DATA_CREATE, &[RD, other, IPA + 0x5000, src, 0]), RmiStatus::SUCCESS);
        h.m.take_tlb_invalidations();
        let r = h.call(rmi::DATA_DESTROY, &[RD, IPA]);
        assert_eq!(r.0, [0, data, IPA + 0x5000, 0, 0], "X1 = data, X2 = the next live entry");
        assert_eq!(h.read_entry(IPA, 3), (3, UNASSIGNED, 0, DESTROYED), "RAM becomes DESTROYED");
        assert_eq!(h.state(data), Some(GranuleState::Delegated));
        assert_eq!(h.m.take_tlb_invalidations(), vec![TlbInvalidation::Ipa { vmid: 1, ipa: IPA, size: 0x1000 }]);
        // Back to the Host: the Realm's data is gone.
        assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[data]), RmiStatus::SUCCESS);
        let mut page = vec![0xFFu8; 4096];
        h.m.host_read(Pa(data), &mut page).unwrap();
        assert!(page.iter().all(|&b| b == 0));
        // The last one: top is the end of the table.
        let r = h.call(rmi::DATA_DESTROY, &[RD, IPA + 0x5000]);
        assert_eq!(r.0, [0, other, IPA + (2 << 20), 0, 0]);
        // An EMPTY (invalid) mapping stays EMPTY and needs no TLB maintenance.
        let d = h.fresh();
        assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, d, IPA + 0x9000]), RmiStatus::SUCCESS);
        h.m.take_tlb_invalidations();
        assert_eq!(h.call(rmi::DATA_DESTROY, &[RD, IPA + 0x9000]).status(), Some(RmiStatus::SUCCESS));
        assert_eq!(h.read_entry(IPA + 0x9000, 3), (3, UNASSIGNED, 0, EMPTY));
        assert!(h.m.take_tlb_invalidations().is_empty());
    });
}

#[test]
fn destroy_failure_conditions_in_order() {
    with_host(|h| {
        h.realm();
        let st = |rd: u64, ipa: u64| h.call(rmi::DATA_DESTROY, &[rd, ipa]);
        assert_eq!(st(RD + 2, IPA).status(), Some(RmiStatus::input()), "rd_align");
        assert_eq!(st(ROOT, IPA).status(), Some(RmiStatus::input()), "rd_bound");
        assert_eq!(st(RTT, IPA).status(), Some(RmiStatus::input()), "rd_state");
        assert_eq!(st(RD, IPA + 0x100).status(), Some(RmiStatus::input()), "ipa_align");
        assert_eq!(st(RD, NS_IPA).status(), Some(RmiStatus::input()), "ipa_bound");
        let r = st(RD, IPA);
        assert_eq!((r.status(), r.0[1], r.0[2]), (Some(RmiStatus::rtt(1)), 0, 512 << 30), "rtt_walk + top");
        h.map_l3(IPA);
        let r = st(RD, IPA + 0x4000);
        assert_eq!((r.status(), r.0[1], r.0[2]), (Some(RmiStatus::rtt(3)), 0, IPA + (2 << 20)), "rtte_state + top");
    });
}
