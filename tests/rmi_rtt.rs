//! The RTT commands: every failure condition in the spec's order, READ_ENTRY for every entry kind,
//! fold/unfold round trips, and the `top` outputs.

mod common;

use common::*;
use warden::granule::GranuleState;
use warden::measure::{hash, rim_extend_ripas};
use warden::platform::TlbInvalidation;
use warden::realm::Rd;
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_abi::status::RmiStatus;

const UNASSIGNED: u64 = 0;
const ASSIGNED: u64 = 1;
const TABLE: u64 = 2;
const EMPTY: u64 = 0;
const RAM: u64 = 1;
const DESTROYED: u64 = 2;
const GIB: u64 = 1 << 30;
const MIB2: u64 = 2 << 20;
/// Normal WB (FWB), read/write: a typical Host descriptor for unprotected memory, without address.
const NS_ATTRS: u64 = (0b110 << 2) | (0b11 << 6);

fn rim(h: &Host<'_>) -> [u8; 64] {
    let rd = h.rmm.granules().share(Pa(RD), GranuleState::Rd).unwrap();
    *rd.object::<Rd>().measurements().get(0).unwrap()
}

#[test]
fn create_l2_and_l3_inherit_the_parent_state() {
    with_host(|h| {
        h.realm();
        let l2 = h.rtt_create(0x4000_0000, 2);
        assert_eq!(h.read_entry(0x4000_0000, 1), (1, TABLE, l2, EMPTY));
        assert_eq!(h.state(l2), Some(GranuleState::Rtt));
        let l3 = h.rtt_create(IPA, 3);
        assert_eq!(h.read_entry(IPA, 2), (2, TABLE, l3, EMPTY));
        assert_eq!(h.read_entry(IPA + 0x5000, 3), (3, UNASSIGNED, 0, EMPTY));
        // In the unprotected half, children are UNASSIGNED_NS.
        h.rtt_create(NS_IPA & !(GIB - 1), 2);
        h.rtt_create(NS_IPA, 3);
        assert_eq!(h.read_entry(NS_IPA + 0x3000, 3), (3, UNASSIGNED, 0, EMPTY));
        assert_eq!(h.status(rmi::RTT_MAP_UNPROTECTED, &[RD, NS_IPA + 0x3000, 3, 0x9000_0000 | NS_ATTRS]), RmiStatus::SUCCESS);
    });
}

#[test]
fn create_failure_conditions_in_order() {
    with_host(|h| {
        h.realm();
        let t = h.fresh();
        let st = |rd: u64, rtt: u64, ipa: u64, level: i64| h.status(rmi::RTT_CREATE, &[rd, rtt, ipa, level as u64]);
        assert_eq!(st(RD + 8, t, 0x4000_0000, 2), RmiStatus::input(), "rd_align");
        assert_eq!(st(MMIO, t, 0x4000_0000, 2), RmiStatus::input(), "rd_bound");
        assert_eq!(st(RTT, t, 0x4000_0000, 2), RmiStatus::input(), "rd_state");
        for level in [1, 0, -1, 4, -2] {
            assert_eq!(st(RD, t, 0x4000_0000, level), RmiStatus::input(), "level_bound {level}");
        }
        assert_eq!(st(RD, t, 0x4000_1000, 2), RmiStatus::input(), "ipa_align (1 GiB for a level-2 table)");
        assert_eq!(st(RD, t, 1 << 40, 2), RmiStatus::input(), "ipa_bound");
        assert_eq!(st(RD, t + 4, 0x4000_0000, 2), RmiStatus::input(), "rtt_align");
        assert_eq!(st(RD, MMIO, 0x4000_0000, 2), RmiStatus::input(), "rtt_bound");
        assert_eq!(st(RD, h.fresh_ns(), 0x4000_0000, 2), RmiStatus::input(), "rtt_state UNDELEGATED");
        assert_eq!(st(RD, RD, 0x4000_0000, 2), RmiStatus::input(), "rtt_state RD");
        assert_eq!(st(RD, t, IPA, 3), RmiStatus::rtt(1), "rtt_walk: no level-2 table");
        assert_eq!(st(RD, t, 0x4000_0000, 2), RmiStatus::SUCCESS);
        assert_eq!(st(RD, h.fresh(), 0x4000_0000, 2), RmiStatus::rtt(1), "rtte_state: already a table");
        // Orderings: level_bound and ipa_bound before rtt_walk; rd_state before rtt_walk.
        assert_eq!(st(RD, h.fresh(), 0x8020_0000, 4), RmiStatus::input());
        assert_eq!(st(RD, h.fresh(), (1 << 40) | 0x20_0000, 3), RmiStatus::input());
        assert_eq!(st(t, h.fresh(), 0x8020_0000, 3), RmiStatus::input());
        assert_eq!(h.state(t), Some(GranuleState::Rtt));
    });
}

#[test]
fn destroy_returns_the_table_and_top() {
    with_host(|h| {
        h.realm();
        h.map_l3(IPA);
        let (_, _, l3, _) = h.read_entry(IPA, 2);
        h.m.take_tlb_invalidations();
        let r = h.call(rmi::RTT_DESTROY, &[RD, IPA, 3]);
        assert_eq!(r.status(), Some(RmiStatus::SUCCESS));
        assert_eq!(r.0[1], l3);
        // Nothing else is live in the level-2 table: top is its end.
        assert_eq!(r.0[2], 0x8000_0000);
        assert_eq!(h.read_entry(IPA, 2), (2, UNASSIGNED, 0, DESTROYED));
        assert_eq!(h.state(l3), Some(GranuleState::Delegated));
        assert_eq!(h.m.take_tlb_invalidations(), vec![TlbInvalidation::Ipa { vmid: 1, ipa: IPA, size: MIB2 }]);
        // With a live entry further on, top points at it.
        let later = IPA + 4 * MIB2;
        h.rtt_create(later, 3);
        h.rtt_create(IPA, 3);
        let r = h.call(rmi::RTT_DESTROY, &[RD, IPA, 3]);
        assert_eq!((r.status(), r.0[2]), (Some(RmiStatus::SUCCESS), later));
        // Unprotected tables leave UNASSIGNED_NS behind.
        h.rtt_create(NS_IPA & !(GIB - 1), 2);
        h.rtt_create(NS_IPA, 3);
        assert_eq!(h.status(rmi::RTT_DESTROY, &[RD, NS_IPA, 3]), RmiStatus::SUCCESS);
        assert_eq!(h.read_entry(NS_IPA, 2), (2, UNASSIGNED, 0, EMPTY));
        assert_eq!(h.status(rmi::RTT_MAP_UNPROTECTED, &[RD, NS_IPA, 2, 0x8000_0000 | NS_ATTRS]), RmiStatus::SUCCESS);
    });
}

#[test]
fn destroy_failure_conditions_in_order() {
    with_host(|h| {
        h.realm();
        let st = |rd: u64, ipa: u64, level: i64| h.call(rmi::RTT_DESTROY, &[rd, ipa, level as u64]);
        assert_eq!(st(RD + 1, IPA, 3).status(), Some(RmiStatus::input()), "rd_align");
        assert_eq!(st(SECURE, IPA, 3).status(), Some(RmiStatus::input()), "rd_bound");
        assert_eq!(st(RTT, IPA, 3).status(), Some(RmiStatus::input()), "rd_state");
        assert_eq!(st(RD, IPA, 1).status(), Some(RmiStatus::input()), "level_bound: starting level");
        assert_eq!(st(RD, IPA + 0x1000, 3).status(), Some(RmiStatus::input()), "ipa_align");
        assert_eq!(st(RD, 1 << 41, 3).status(), Some(RmiStatus::input()), "ipa_bound");
        // rtt_walk: no level-2 table; top = the level-1 entry's IPA is not live → next live or end.
        let r = st(RD, IPA, 3);
        assert_eq!((r.status(), r.0[1]), (Some(RmiStatus::rtt(1)), 0));
        assert_eq!(r.0[2], 512 * GIB, "end of the first starting table: nothing is live");
        // rtte_state: the level-2 entry is not a table.
        h.rtt_create(0x4000_0000, 2);
        let r = st(RD, IPA, 3);
        assert_eq!((r.status(), r.0[2]), (Some(RmiStatus::rtt(2)), 0x8000_0000));
        // rtt_live: a table with an ASSIGNED entry.
        h.rtt_create(IPA, 3);
        let data = h.fresh();
        assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, data, IPA + 0x7000]), RmiStatus::SUCCESS);
        let r = st(RD, IPA, 3);
        assert_eq!((r.status(), r.0[2]), (Some(RmiStatus::rtt(3)), IPA), "rtt_live: top = ipa");
        // A live level-2 table (it holds a TABLE entry).
        let r = st(RD, 0x4000_0000, 2);
        assert_eq!((r.status(), r.0[2]), (Some(RmiStatus::rtt(2)), 0x4000_0000));
    });
}

#[test]
fn fold_unassigned_and_its_conditions() {
    with_host(|h| {
        h.realm();
        h.map_l3(IPA);
        let (_, _, l3, _) = h.read_entry(IPA, 2);
        let st = |ipa: u64, level: i64| h.call(rmi::RTT_FOLD, &[RD, ipa, level as u64]);
        assert_eq!(st(IPA, 1).status(), Some(RmiStatus::input()), "level_bound");
        assert_eq!(st(IPA + 0x1000, 3).status(), Some(RmiStatus::input()), "ipa_align");
        assert_eq!(st(1 << 40, 3).status(), Some(RmiStatus::input()), "ipa_bound");
        assert_eq!(st(0x1_0000_0000, 3).status(), Some(RmiStatus::rtt(1)), "rtt_walk");
        assert_eq!(st(IPA + MIB2, 3).status(), Some(RmiStatus::rtt(2)), "rtte_state");
        // Not homogeneous: one entry RAM, the rest EMPTY.
        let r = h.call(rmi::RTT_INIT_RIPAS, &[RD, IPA, IPA + 0x1000]);
        assert_eq!(r.status(), Some(RmiStatus::SUCCESS));
        assert_eq!(st(IPA, 3).status(), Some(RmiStatus::rtt(3)), "rtt_homo");
        // Homogeneous once the whole table is RAM.
        let r = h.call(rmi::RTT_INIT_RIPAS, &[RD, IPA + 0x1000, IPA + MIB2]);
        assert_eq!(r.0, [0, IPA + MIB2, 0, 0, 0]);
        let r = st(IPA, 3);
        assert_eq!(r.0, [0, l3, 0, 0, 0]);
        assert_eq!(h.read_entry(IPA, 3), (2, UNASSIGNED, 0, RAM), "folded into the level-2 entry");
        assert_eq!(h.state(l3), Some(GranuleState::Delegated));
        // Unfold again: every child carries the RIPAS.
        h.rtt_create(IPA, 3);
        assert_eq!(h.read_entry(IPA + 0x1F_F000, 3), (3, UNASSIGNED, 0, RAM));
    });
}

#[test]
fn fold_and_unfold_assigned_blocks() {
    with_host(|h| {
        h.realm();
        h.map_l3(IPA);
        for i in 0..512u64 {
            let pa = BLOCK_BASE + i * 0x1000;
            h.delegate(pa);
            assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, pa, IPA + i * 0x1000]), RmiStatus::SUCCESS);
        }
        let r = h.call(rmi::RTT_FOLD, &[RD, IPA, 3]);
        assert_eq!(r.status(), Some(RmiStatus::SUCCESS));
        assert_eq!(h.read_entry(IPA, 3), (2, ASSIGNED, BLOCK_BASE, EMPTY), "a 2 MiB ASSIGNED block");
        // DATA_DESTROY on a block-mapped IPA stops at level 2 with top = ipa.
        let d = h.call(rmi::DATA_DESTROY, &[RD, IPA + 0x3000]);
        assert_eq!((d.status(), d.0[2]), (Some(RmiStatus::rtt(2)), IPA + 0x3000));
        // Unfold: contiguous ASSIGNED pages again; then each page can be destroyed.
        h.rtt_create(IPA, 3);
        assert_eq!(h.read_entry(IPA + 0x3000, 3), (3, ASSIGNED, BLOCK_BASE + 0x3000, EMPTY));
        let d = h.call(rmi::DATA_DESTROY, &[RD, IPA + 0x3000]);
        assert_eq!((d.status(), d.0[1]), (Some(RmiStatus::SUCCESS), BLOCK_BASE + 0x3000));
        // Now the table is not homogeneous (a hole) and cannot fold.
        assert_eq!(h.call(rmi::RTT_FOLD, &[RD, IPA, 3]).status(), Some(RmiStatus::rtt(3)));
    });
}

#[test]
fn fold_assigned_ns_blocks_needs_identical_attributes_and_alignment() {
    with_host(|h| {
        h.realm();
        h.rtt_create(NS_IPA & !(GIB - 1), 2);
        h.rtt_create(NS_IPA, 3);
        let host_pa = 0x9000_0000u64;
        for i in 0..512u64 {
            let desc = (host_pa + i * 0x1000) | NS_ATTRS;
            assert_eq!(h.status(rmi::RTT_MAP_UNPROTECTED, &[RD, NS_IPA + i * 0x1000, 3, desc]), RmiStatus::SUCCESS);
        }
        assert_eq!(h.call(rmi::RTT_FOLD, &[RD, NS_IPA, 3]).status(), Some(RmiStatus::SUCCESS));
        assert_eq!(h.read_entry(NS_IPA, 2), (2, ASSIGNED, host_pa | NS_ATTRS, EMPTY));
        // Unfold, change one page's attributes: no longer homogeneous.
        h.rtt_create(NS_IPA, 3);
        let last = NS_IPA + 511 * 0x1000;
        assert_eq!(h.call(rmi::RTT_UNMAP_UNPROTECTED, &[RD, last, 3]).status(), Some(RmiStatus::SUCCESS));
        let desc = (host_pa + 511 * 0x1000) | (0b101 << 2) | (0b11 << 6);
        assert_eq!(h.status(rmi::RTT_MAP_UNPROTECTED, &[RD, last, 3, desc]), RmiStatus::SUCCESS);
        assert_eq!(h.call(rmi::RTT_FOLD, &[RD, NS_IPA, 3]).status(), Some(RmiStatus::rtt(3)));
    });
}

#[test]
fn read_entry_reports_every_kind() {
    with_host(|h| {
        h.realm();
        assert_eq!(h.read_entry(IPA, 3), (1, UNASSIGNED, 0, EMPTY), "walk stops at the starting level");
        h.map_l3(IPA);
        let (_, _, l3, _) = h.read_entry(IPA, 2);
        assert_eq!(h.read_entry(IPA, 2), (2, TABLE, l3, EMPTY));
        let data = h.fresh();
        assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, data, IPA]), RmiStatus::SUCCESS);
        assert_eq!(h.read_entry(IPA, 3), (3, ASSIGNED, data, EMPTY));
        h.call(rmi::RTT_INIT_RIPAS, &[RD, IPA + 0x1000, IPA + 0x2000]);
        assert_eq!(h.read_entry(IPA + 0x1000, 3), (3, UNASSIGNED, 0, RAM));
        let src = h.fresh_ns();
        let data2 = h.fresh();
        assert_eq!(h.status(rmi::DATA_CREATE, &[RD, data2, IPA + 0x1000, src, 0]), RmiStatus::SUCCESS);
        assert_eq!(h.read_entry(IPA + 0x1000, 3), (3, ASSIGNED, data2, RAM));
        assert_eq!(h.call(rmi::DATA_DESTROY, &[RD, IPA + 0x1000]).status(), Some(RmiStatus::SUCCESS));
        assert_eq!(h.read_entry(IPA + 0x1000, 3), (3, UNASSIGNED, 0, DESTROYED));
        h.rtt_create(NS_IPA & !(GIB - 1), 2);
        h.rtt_create(NS_IPA, 3);
        assert_eq!(h.read_entry(NS_IPA, 3), (3, UNASSIGNED, 0, EMPTY), "UNASSIGNED_NS");
        assert_eq!(h.status(rmi::RTT_MAP_UNPROTECTED, &[RD, NS_IPA, 3, 0x9000_0000 | NS_ATTRS]), RmiStatus::SUCCESS);
        assert_eq!(h.read_entry(NS_IPA, 3), (3, ASSIGNED, 0x9000_0000 | NS_ATTRS, EMPTY), "ASSIGNED_NS keeps the Host's bits");
        // Failure conditions.
        let st = |ipa: u64, level: i64| h.call(rmi::RTT_READ_ENTRY, &[RD, ipa, level as u64]).status();
        assert_eq!(h.call(rmi::RTT_READ_ENTRY, &[RD + 1, IPA, 3]).status(), Some(RmiStatus::input()), "rd_align");
        assert_eq!(h.call(rmi::RTT_READ_ENTRY, &[data, IPA, 3]).status(), Some(RmiStatus::input()), "rd_state");
        assert_eq!(st(IPA, 0), Some(RmiStatus::input()), "level_bound: above the starting level");
        assert_eq!(st(IPA, 4), Some(RmiStatus::input()), "level_bound");
        assert_eq!(st(IPA + 0x800, 3), Some(RmiStatus::input()), "ipa_align");
        assert_eq!(st(IPA + 0x1000, 2), Some(RmiStatus::input()), "ipa_align to 2 MiB");
        assert_eq!(st(1 << 40, 3), Some(RmiStatus::input()), "ipa_bound");
    });
}

#[test]
fn map_and_unmap_unprotected() {
    with_host(|h| {
        h.realm();
        let st = |ipa: u64, level: i64, desc: u64| h.status(rmi::RTT_MAP_UNPROTECTED, &[RD, ipa, level as u64, desc]);
        let desc = 0x9000_0000 | NS_ATTRS;
        for bad in [desc | 1, desc | (1 << 10), desc | (1 << 55), desc | (0b11 << 8), (desc & !(0b111 << 2)) | (0b100 << 2)] {
            assert_eq!(st(NS_IPA, 3, bad), RmiStatus::input(), "attr_valid {bad:#x}");
        }
        assert_eq!(h.status(rmi::RTT_MAP_UNPROTECTED, &[RD + 1, NS_IPA, 3, desc]), RmiStatus::input(), "rd_align");
        assert_eq!(st(NS_IPA, 0, desc), RmiStatus::input(), "level_bound");
        assert_eq!(st(NS_IPA & !(MIB2 - 1), 2, 0x9010_0000 | NS_ATTRS), RmiStatus::input(), "addr_align");
        assert_eq!(st(NS_IPA + 0x800, 3, desc), RmiStatus::input(), "ipa_align");
        assert_eq!(st(IPA, 3, desc), RmiStatus::input(), "ipa_bound: protected");
        assert_eq!(st(1 << 40, 3, desc), RmiStatus::input(), "ipa_bound: beyond the IPA space");
        assert_eq!(st(NS_IPA, 3, desc), RmiStatus::rtt(1), "rtt_walk");
        h.rtt_create(NS_IPA & !(GIB - 1), 2);
        h.rtt_create(NS_IPA, 3);
        assert_eq!(st(NS_IPA, 3, desc), RmiStatus::SUCCESS);
        assert_eq!(st(NS_IPA, 3, desc), RmiStatus::rtt(3), "rtte_state");
        // Unmap.
        let un = |ipa: u64, level: i64| h.call(rmi::RTT_UNMAP_UNPROTECTED, &[RD, ipa, level as u64]);
        assert_eq!(un(NS_IPA, 0).status(), Some(RmiStatus::input()), "level_bound");
        assert_eq!(un(NS_IPA + 8, 3).status(), Some(RmiStatus::input()), "ipa_align");
        assert_eq!(un(IPA, 3).status(), Some(RmiStatus::input()), "ipa_bound: protected");
        let r = un(NS_IPA + GIB, 3);
        assert_eq!(r.status(), Some(RmiStatus::rtt(1)), "rtt_walk");
        let r = un(NS_IPA + 0x1000, 3);
        assert_eq!((r.status(), r.0[1]), (Some(RmiStatus::rtt(3)), NS_IPA + MIB2), "rtte_state: top = the end of the table (nothing live after)");
        h.m.take_tlb_invalidations();
        let r = un(NS_IPA, 3);
        assert_eq!(r.0[0], 0);
        assert_eq!(h.read_entry(NS_IPA, 3), (3, UNASSIGNED, 0, EMPTY));
        assert_eq!(h.m.take_tlb_invalidations(), vec![TlbInvalidation::Ipa { vmid: 1, ipa: NS_IPA, size: 0x1000 }]);
    });
}

#[test]
fn init_ripas_measures_each_entry_in_order() {
    with_host(|h| {
        h.realm();
        h.map_l3(IPA);
        let before = rim(h);
        let r = h.call(rmi::RTT_INIT_RIPAS, &[RD, IPA, IPA + 0x3000]);
        assert_eq!(r.0, [0, IPA + 0x3000, 0, 0, 0]);
        let algo = warden_abi::rtt::RmiHashAlgorithm::Sha256;
        let mut expect = before;
        for i in 0..3 {
            expect = rim_extend_ripas(algo, &expect, IPA + i * 0x1000, IPA + (i + 1) * 0x1000);
        }
        assert_eq!(rim(h), expect);
        for i in 0..3 {
            assert_eq!(h.read_entry(IPA + i * 0x1000, 3), (3, UNASSIGNED, 0, RAM));
        }
        assert_eq!(h.read_entry(IPA + 0x3000, 3), (3, UNASSIGNED, 0, EMPTY));
        let _ = hash;
    });
}

#[test]
fn init_ripas_whole_blocks_and_stops() {
    with_host(|h| {
        h.realm();
        // A whole 1 GiB level-1 entry: one descriptor.
        let before = rim(h);
        let r = h.call(rmi::RTT_INIT_RIPAS, &[RD, 0, GIB]);
        assert_eq!(r.0, [0, GIB, 0, 0, 0]);
        let algo = warden_abi::rtt::RmiHashAlgorithm::Sha256;
        assert_eq!(rim(h), rim_extend_ripas(algo, &before, 0, GIB));
        assert_eq!(h.read_entry(0x1234_5000, 3), (1, UNASSIGNED, 0, RAM));
        // The run stops at an ASSIGNED entry.
        h.map_l3(IPA);
        let data = h.fresh();
        assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, data, IPA + 0x2000]), RmiStatus::SUCCESS);
        let r = h.call(rmi::RTT_INIT_RIPAS, &[RD, IPA, IPA + MIB2]);
        assert_eq!(r.0, [0, IPA + 0x2000, 0, 0, 0]);
        // And at the end of the table.
        let r = h.call(rmi::RTT_INIT_RIPAS, &[RD, IPA + MIB2 - 0x1000, IPA + 2 * MIB2]);
        assert_eq!(r.0, [0, IPA + MIB2, 0, 0, 0]);
    });
}

#[test]
fn init_ripas_failure_conditions_in_order() {
    with_host(|h| {
        h.realm();
        let st = |rd: u64, base: u64, top: u64| h.call(rmi::RTT_INIT_RIPAS, &[rd, base, top]).status();
        assert_eq!(st(RD + 8, IPA, IPA + 0x1000), Some(RmiStatus::input()), "rd_align");
        assert_eq!(st(RTT, IPA, IPA + 0x1000), Some(RmiStatus::input()), "rd_state");
        assert_eq!(st(RD, IPA, IPA), Some(RmiStatus::input()), "size_valid");
        assert_eq!(st(RD, IPA + 0x1000, IPA), Some(RmiStatus::input()), "size_valid");
        assert_eq!(st(RD, IPA, (1 << 39) + 0x1000), Some(RmiStatus::input()), "top_bound");
        assert_eq!(st(RD, IPA, IPA + 0x1000), Some(RmiStatus::rtt(1)), "base_align at the walk's level");
        assert_eq!(st(RD, 0, 0x1000), Some(RmiStatus::rtt(1)), "no_progress: the 1 GiB entry does not fit");
        assert_eq!(st(RD, 0, GIB + 0x800), Some(RmiStatus::input()), "top_gran_align");
        h.map_l3(IPA);
        let data = h.fresh();
        assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, data, IPA]), RmiStatus::SUCCESS);
        assert_eq!(st(RD, IPA, IPA + 0x1000), Some(RmiStatus::rtt(3)), "rtte_state");
        // realm_state comes after the size and bound checks, before the walk.
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RD]), RmiStatus::SUCCESS);
        assert_eq!(st(RD, IPA + 0x1000, IPA + 0x2000), Some(RmiStatus::realm(0)), "realm_state");
        assert_eq!(st(RD, IPA, IPA), Some(RmiStatus::input()), "size_valid before realm_state");
    });
}
