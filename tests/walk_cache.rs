//! The per-CPU walk cache: a stale entry is never used — not after RTT_DESTROY and re-creation of
//! the same granule as another table, not after a fold, not after the RD is reused by a new Realm.

mod common;

use common::*;
use warden::granule::GranuleState;
use warden_abi::fid::rmi;
use warden_abi::status::RmiStatus;

const MIB2: u64 = 2 << 20;

#[test]
fn destroyed_and_recreated_table_is_not_reused_through_the_cache() {
    with_host(|h| {
        h.realm();
        h.map_l3(IPA);
        let (_, _, t, _) = h.read_entry(IPA, 2);
        let d = h.fresh();
        // Fills this CPU's cache with T for IPA's block.
        assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, d, IPA]), RmiStatus::SUCCESS);
        assert_eq!(h.call(rmi::DATA_DESTROY, &[RD, IPA]).status(), Some(RmiStatus::SUCCESS));
        let r = h.call(rmi::RTT_DESTROY, &[RD, IPA, 3]);
        assert_eq!((r.status(), r.0[1]), (Some(RmiStatus::SUCCESS), t));
        // The same granule becomes the level-3 table of the next block.
        assert_eq!(h.status(rmi::RTT_CREATE, &[RD, t, IPA + MIB2, 3]), RmiStatus::SUCCESS);
        assert_eq!(h.state(t), Some(GranuleState::Rtt));
        // IPA's block has no level-3 table now: the cached T must not answer for it.
        assert_eq!(h.read_entry(IPA, 3), (2, 0, 0, 2));
        assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, h.fresh(), IPA]), RmiStatus::rtt(2));
        // And T answers for its new block.
        assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, h.fresh(), IPA + MIB2]), RmiStatus::SUCCESS);
        assert_eq!(h.read_entry(IPA + MIB2, 2), (2, 2, t, 0));
    });
}

#[test]
fn folded_table_is_not_reused_through_the_cache() {
    with_host(|h| {
        h.realm();
        h.map_l3(IPA);
        assert_eq!(h.call(rmi::RTT_INIT_RIPAS, &[RD, IPA, IPA + 0x1000]).status(), Some(RmiStatus::SUCCESS));
        assert_eq!(h.read_entry(IPA, 3), (3, 0, 0, 1), "walked through the cache");
        assert_eq!(h.call(rmi::RTT_INIT_RIPAS, &[RD, IPA + 0x1000, IPA + MIB2]).status(), Some(RmiStatus::SUCCESS));
        assert_eq!(h.call(rmi::RTT_FOLD, &[RD, IPA, 3]).status(), Some(RmiStatus::SUCCESS));
        assert_eq!(h.read_entry(IPA, 3), (2, 0, 0, 1), "the walk stops at the folded level-2 entry");
    });
}

#[test]
fn a_new_realm_in_the_same_rd_does_not_inherit_cache_entries() {
    with_host(|h| {
        h.realm();
        h.map_l3(IPA);
        let (_, _, l2, _) = h.read_entry(IPA & !((1 << 30) - 1), 1);
        let (_, _, l3, _) = h.read_entry(IPA, 2);
        assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, h.fresh(), IPA]), RmiStatus::SUCCESS);
        assert_eq!(h.call(rmi::DATA_DESTROY, &[RD, IPA]).status(), Some(RmiStatus::SUCCESS));
        assert_eq!(h.call(rmi::RTT_DESTROY, &[RD, IPA, 3]).status(), Some(RmiStatus::SUCCESS));
        assert_eq!(h.call(rmi::RTT_DESTROY, &[RD, IPA & !((1 << 30) - 1), 2]).status(), Some(RmiStatus::SUCCESS));
        assert_eq!(h.status(rmi::REALM_DESTROY, &[RD]), RmiStatus::SUCCESS);
        // A new Realm in the same RD and starting tables, its level-3 table in the old one's L2
        // granule, for another block.
        h.write_params(PARAMS, &params(RTT, 1));
        assert_eq!(h.status(rmi::REALM_CREATE, &[RD, PARAMS]), RmiStatus::SUCCESS);
        assert_eq!(h.status(rmi::RTT_CREATE, &[RD, l3, 0x4000_0000, 2]), RmiStatus::SUCCESS);
        assert_eq!(h.status(rmi::RTT_CREATE, &[RD, l2, IPA + MIB2, 3]), RmiStatus::SUCCESS);
        assert_eq!(h.read_entry(IPA, 3), (2, 0, 0, 0), "no level-3 table for IPA in the new Realm");
    });
}
