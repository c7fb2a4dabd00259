//! Model 4: the VMID allocator (src/realm/vmid.rs), through REALM_CREATE / REALM_DESTROY and
//! through its own API.
//!
//! Protocol: one bit per VMID in an array of 64-bit atomic words. `reserve` is one `fetch_or`
//! (the old bit says whether it was free: of two racing reservations exactly one sees it free);
//! `release` is one `fetch_and`. REALM_CREATE reserves after claiming its granules, and releases
//! them unchanged if the reservation fails; REALM_DESTROY releases after retiring the RD.
//! Preemption bound: the CI default (`LOOM_MAX_PREEMPTIONS`, else 2).

use std::sync::Arc;

#[cfg(loom)]
use loom_tests::mutants::SplitRmwVmids;
use loom_tests::mutants::Vmids;
use loom_tests::rt::{self, Bound, Outcomes, spawn};
use loom_tests::world::*;
use warden::granule::GranuleState;
use warden::realm::VmidAllocator;
use warden_abi::fid::rmi;
use warden_abi::status::RmiStatus;

const OK: RmiStatus = RmiStatus::SUCCESS;
/// A third Realm's RD and starting table (probes which VMIDs are held).
const RD3: u64 = g(12);
const RTT3: u64 = g(13);

fn input() -> RmiStatus {
    RmiStatus::input()
}

/// Whether `vmid` is held, observed the way the Host can: REALM_CREATE's vmid_valid check on
/// spare granules (which are left as they were).
fn vmid_held(w: &World, vmid: u16) -> bool {
    w.write_params(PARAMS_A, RTT3, vmid);
    match w.status(rmi::REALM_CREATE, &[RD3, PARAMS_A]) {
        OK => {
            assert_eq!(w.status(rmi::REALM_DESTROY, &[RD3]), OK);
            false
        }
        e => {
            assert_eq!(e, input());
            true
        }
    }
}

fn two_creates(out: &Outcomes, vmid_a: u16, vmid_b: u16) {
    let w = World::new();
    w.delegate(&[RD, RTT0, RD2, RTT2, RD3, RTT3]);
    w.write_params(PARAMS_A, RTT0, vmid_a);
    w.write_params(PARAMS_B, RTT2, vmid_b);
    let (wa, wb) = (w.clone(), w.clone());
    let ta = spawn(0, move || wa.status(rmi::REALM_CREATE, &[RD, PARAMS_A]));
    let tb = spawn(1, move || wb.status(rmi::REALM_CREATE, &[RD2, PARAMS_B]));
    let r = (ta.join(), tb.join());
    let created = |rd, rtt| (w.state(rd), w.state(rtt)) == (GranuleState::Rd, GranuleState::Rtt);
    let released =
        |rd, rtt| (w.state(rd), w.state(rtt)) == (GranuleState::Delegated, GranuleState::Delegated);
    if vmid_a == vmid_b {
        match r {
            (OK, e) if e == input() => assert!(created(RD, RTT0) && released(RD2, RTT2)),
            (e, OK) if e == input() => assert!(created(RD2, RTT2) && released(RD, RTT0)),
            _ => panic!("two REALM_CREATEs with one VMID: exactly one succeeds, got {r:?}"),
        }
        out.saw(if r.0 == OK { "cpu0 wins" } else { "cpu1 wins" });
        assert!(vmid_held(&w, vmid_a), "the winner's VMID is held");
    } else {
        assert_eq!(
            r,
            (OK, OK),
            "REALM_CREATEs with different VMIDs both succeed"
        );
        assert!(created(RD, RTT0) && created(RD2, RTT2));
        assert!(
            vmid_held(&w, vmid_a) && vmid_held(&w, vmid_b),
            "both VMIDs are held"
        );
        out.saw("both");
    }
    w.assert_quiescent();
}

/// REALM_CREATE ‖ REALM_CREATE with the same VMID (different granules): exactly one succeeds; the
/// loser's RD and RTT are released DELEGATED and scrubbed; the VMID stays held.
#[test]
fn realm_create_same_vmid() {
    rt::check(
        "realm_create_same_vmid",
        Bound::default(),
        &["cpu0 wins", "cpu1 wins"],
        |out| two_creates(out, 7, 7),
    );
}

/// REALM_CREATE ‖ REALM_CREATE with VMIDs 1 and 2 (bits of one bitmap word): both succeed and both
/// bits are held afterwards (no lost update in the shared word).
#[test]
fn realm_create_different_vmids() {
    rt::check(
        "realm_create_different_vmids",
        Bound::default(),
        &["both"],
        |out| two_creates(out, 1, 2),
    );
}

/// REALM_DESTROY of a Realm with VMID 7 ‖ REALM_CREATE of another with VMID 7: the create fails
/// (VMID still held) or succeeds (after the release); the VMID is held at the end either way.
#[test]
fn realm_destroy_create_reuses_vmid() {
    rt::check(
        "realm_destroy_create_reuses_vmid",
        Bound::default(),
        &["destroy; create", "create; destroy"],
        |out| {
            let w = World::new();
            w.delegate(&[RD, RTT0, RD2, RTT2, RD3, RTT3]);
            w.write_params(PARAMS_A, RTT0, 7);
            assert_eq!(w.status(rmi::REALM_CREATE, &[RD, PARAMS_A]), OK);
            w.write_params(PARAMS_B, RTT2, 7);
            let (wa, wb) = (w.clone(), w.clone());
            let ta = spawn(0, move || wa.status(rmi::REALM_DESTROY, &[RD]));
            let tb = spawn(1, move || wb.status(rmi::REALM_CREATE, &[RD2, PARAMS_B]));
            let r = (ta.join(), tb.join());
            match r {
                (OK, OK) => out.saw("destroy; create"),
                (OK, e) if e == input() => out.saw("create; destroy"),
                _ => panic!("not a serial order: {r:?}"),
            }
            assert_eq!(vmid_held(&w, 7), r.1 == OK);
            w.assert_quiescent();
        },
    );
}

// ---- The allocator through its own API --------------------------------------------------------

fn reserve_race<V: Vmids + 'static>(out: &Outcomes, v: Arc<V>, a: u16, b: u16) {
    let (va, vb) = (v.clone(), v.clone());
    let ta = spawn(0, move || va.reserve(a));
    let tb = spawn(1, move || vb.reserve(b));
    let r = (ta.join(), tb.join());
    if a == b {
        assert!(
            r == (true, false) || r == (false, true),
            "exactly one reservation of VMID {a} succeeds: {r:?}"
        );
        out.saw(if r.0 { "cpu0 wins" } else { "cpu1 wins" });
    } else {
        assert_eq!(
            r,
            (true, true),
            "reservations of different VMIDs both succeed"
        );
        out.saw("both");
    }
    assert!(
        v.is_reserved(a) && v.is_reserved(b),
        "a reserved VMID was lost from the bitmap"
    );
}

fn release_race<V: Vmids + 'static>(out: &Outcomes, v: Arc<V>) {
    assert!(v.reserve(5) && v.reserve(6));
    let (va, vb) = (v.clone(), v.clone());
    let ta = spawn(0, move || va.release(5));
    let tb = spawn(1, move || (vb.reserve(5), vb.reserve(7)));
    ta.join();
    let (again, seven) = tb.join();
    // reserve(5) first: fails (held), and the release frees it; release first: reserve succeeds.
    assert_eq!(v.is_reserved(5), again, "VMID 5 after release ‖ reserve");
    assert!(seven, "VMID 7 was free");
    assert!(
        v.is_reserved(6) && v.is_reserved(7),
        "a VMID of the same word was lost from the bitmap"
    );
    out.saw(if again {
        "release; reserve"
    } else {
        "reserve; release"
    });
}

/// `reserve(5) ‖ reserve(5)`, `reserve(1) ‖ reserve(2)` and `release(5) ‖ reserve(5); reserve(7)`
/// (with 6 held in the same word) on Warden's allocator: exactly one of two reservations of one VMID succeeds,
/// different VMIDs in one word never interfere, a release is never lost.
#[test]
fn allocator_real() {
    rt::check(
        "allocator_same_vmid",
        Bound::default(),
        &["cpu0 wins", "cpu1 wins"],
        |out| {
            reserve_race(out, Arc::new(VmidAllocator::new(16)), 5, 5);
        },
    );
    rt::check(
        "allocator_different_vmids",
        Bound::default(),
        &["both"],
        |out| {
            reserve_race(out, Arc::new(VmidAllocator::new(16)), 1, 2);
        },
    );
    rt::check(
        "allocator_release_reserve",
        Bound::default(),
        &["release; reserve", "reserve; release"],
        |out| {
            release_race(out, Arc::new(VmidAllocator::new(16)));
        },
    );
}

/// Mutant: reserve and release as a load and a separate store. Two reservations of one VMID both
/// succeed; reservations of two VMIDs in one word lose one bit; a release loses a neighbour.
#[cfg(loom)]
#[test]
fn allocator_mutant_split_rmw() {
    let msg = rt::expect_violation("allocator_same_vmid/split_rmw", Bound::default(), |out| {
        reserve_race(out, Arc::new(SplitRmwVmids::default()), 5, 5);
    });
    assert!(msg.contains("exactly one reservation"), "{msg}");
    let msg = rt::expect_violation(
        "allocator_different_vmids/split_rmw",
        Bound::default(),
        |out| {
            reserve_race(out, Arc::new(SplitRmwVmids::default()), 1, 2);
        },
    );
    assert!(msg.contains("lost from the bitmap"), "{msg}");
    let msg = rt::expect_violation(
        "allocator_release_reserve/split_rmw",
        Bound::default(),
        |out| {
            release_race(out, Arc::new(SplitRmwVmids::default()));
        },
    );
    assert!(
        msg.contains("VMID 5") || msg.contains("lost from the bitmap"),
        "{msg}"
    );
}
