//! Model 2: a running REC (src/rec/mod.rs, src/rmi/rec.rs, src/rmi/rec_enter.rs), through the RMI
//! commands.
//!
//! Protocol: REC_ENTER holds the REC shared for the whole call, takes its state word READY →
//! LOCKED by CAS (a second REC_ENTER that finds it RUNNING fails with RMI_ERROR_REC; one that finds
//! it LOCKED waits), marks it RUNNING for the Realm's execution and READY again at the exit.
//! REC_DESTROY never waits for a run: it takes a shared reference, fails with RMI_ERROR_REC if the
//! REC is RUNNING, else tries to claim it (`try_claim`: one CAS, failing instead of waiting while
//! referenced) and retries while it is busy. A Realm with a REC is live: REALM_DESTROY fails.
//!
//! The Realm's execution is the host machine's scripted `run_realm` (one step per entry: an IRQ
//! exit). Invariants: the results are those of a serial order (with REC_DESTROY of a RUNNING REC
//! failing as the spec says); a REC is never retired under a REC_ENTER (poison object 0, the
//! handles' state assertions); the RD's REC count matches; every granule quiescent.
//! Preemption bound: the CI default (`LOOM_MAX_PREEMPTIONS`, else 2).

#[cfg(loom)]
use loom_tests::mutants;
use loom_tests::rt::{self, Bound, Outcomes, spawn};
use loom_tests::world::*;
use warden::granule::GranuleState;
use warden::platform::RealmTrap;
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_abi::rec_params::{RecMpidr, RmiRecParams};
use warden_abi::status::RmiStatus;
use zerocopy::{FromZeros, IntoBytes};

const OK: RmiStatus = RmiStatus::SUCCESS;
/// The REC and its four auxiliary granules.
const REC: u64 = g(7);
const AUX: [u64; 4] = [g(8), g(9), g(10), g(11)];
/// The Host's `RmiRecParams` page and its `RmiRecRun` page (both NS).
const REC_PARAMS: u64 = SRC;
const RUN: u64 = PARAMS_B;

fn input() -> RmiStatus {
    RmiStatus::input()
}

/// An ACTIVE Realm with one runnable REC whose Realm exits with an IRQ on each of `entries`
/// entries.
fn active_realm_with_rec(w: &World, entries: usize) {
    w.realm();
    w.delegate(&[REC]);
    w.delegate(&AUX);
    let mut p = RmiRecParams::new_zeroed();
    p.flags = 1; // runnable
    p.mpidr = RecMpidr::from_index(0).raw();
    p.pc = 0x8_0000;
    p.num_aux = AUX.len() as u64;
    p.aux[..AUX.len()].copy_from_slice(&AUX);
    w.machine()
        .host
        .host_write(Pa(REC_PARAMS), p.as_bytes())
        .expect("Host memory");
    assert_eq!(
        w.status(rmi::REC_CREATE, &[RD, REC, REC_PARAMS]),
        OK,
        "setup: REC_CREATE"
    );
    assert_eq!(
        w.status(rmi::REALM_ACTIVATE, &[RD]),
        OK,
        "setup: REALM_ACTIVATE"
    );
    for _ in 0..entries {
        w.machine().host.script(Pa(REC), |_, _| RealmTrap::Irq);
    }
}

fn rmi_rec_enter(w: &World) -> RmiStatus {
    w.status(rmi::REC_ENTER, &[REC, RUN])
}

fn rmi_rec_destroy(w: &World, rec: u64) -> RmiStatus {
    w.status(rmi::REC_DESTROY, &[rec])
}

fn enter_vs_destroy(out: &Outcomes, destroy: fn(&World, u64) -> RmiStatus) {
    let w = World::new();
    active_realm_with_rec(&w, 1);
    let (w0, w1) = (w.clone(), w.clone());
    let t0 = spawn(0, move || rmi_rec_enter(&w0));
    let t1 = spawn(1, move || destroy(&w1, REC));
    let r = (t0.join(), t1.join());
    let destroyed = if r == (OK, OK) {
        out.saw("enter; destroy");
        true
    } else if r == (input(), OK) {
        out.saw("destroy; enter");
        true
    } else if r == (OK, RmiStatus::rec()) {
        out.saw("destroy while running");
        false
    } else {
        panic!("not a serial order of REC_ENTER ‖ REC_DESTROY: {r:?}");
    };
    let (rec, aux) = if destroyed {
        (GranuleState::Delegated, GranuleState::Delegated)
    } else {
        (GranuleState::Rec, GranuleState::RecAux)
    };
    assert_eq!(
        w.state(REC),
        rec,
        "REC state after {r:?} (word {:#x})",
        w.word(REC)
    );
    assert!(
        AUX.iter().all(|&a| w.state(a) == aux),
        "aux granules follow their REC"
    );
    // The RD's REC count, observed through REALM_DESTROY's realm_live check.
    let want = if destroyed { OK } else { RmiStatus::realm(0) };
    assert_eq!(
        w.status(rmi::REALM_DESTROY, &[RD]),
        want,
        "the RD's REC count"
    );
    w.assert_quiescent();
}

/// REC_ENTER ‖ REC_DESTROY of one REC: the destroy happens before the entry (which then fails), or
/// after it, or fails with RMI_ERROR_REC because the REC is running; never under the entry.
#[test]
fn rec_enter_rec_destroy_real() {
    let expected = ["enter; destroy", "destroy; enter", "destroy while running"];
    rt::check(
        "rec_enter_rec_destroy",
        Bound::default(),
        &expected,
        |out| enter_vs_destroy(out, rmi_rec_destroy),
    );
}

/// Mutant: REC_DESTROY acquires the REC with a load (no references) and a separate store of the
/// claim. A REC_ENTER's shared reference slips in between and is overwritten; the REC is retired
/// under the entry, which then reaches loom's poison object (or the handles' assertions).
#[cfg(loom)]
#[test]
fn rec_enter_rec_destroy_mutant_split_claim() {
    rt::expect_violation(
        "rec_enter_rec_destroy/split_claim",
        Bound::default(),
        |out| {
            enter_vs_destroy(out, mutants::rec_destroy_split_claim);
        },
    );
}

/// REC_ENTER ‖ REC_ENTER of one REC: both run one after the other, or one finds the REC running
/// (or locked, then running) and fails with RMI_ERROR_REC.
#[test]
fn rec_enter_rec_enter_real() {
    rt::check(
        "rec_enter_rec_enter",
        Bound::default(),
        &["serial", "overlap"],
        |out| {
            let w = World::new();
            active_realm_with_rec(&w, 2);
            let (w0, w1) = (w.clone(), w.clone());
            let t0 = spawn(0, move || rmi_rec_enter(&w0));
            let t1 = spawn(1, move || rmi_rec_enter(&w1));
            let r = (t0.join(), t1.join());
            let left = w.machine().host.script_left(Pa(REC));
            match r {
                (OK, OK) => {
                    assert_eq!(left, 0, "both entries ran the Realm");
                    out.saw("serial");
                }
                (OK, e) | (e, OK) if e == RmiStatus::rec() => {
                    assert_eq!(left, 1, "exactly one entry ran the Realm");
                    out.saw("overlap");
                }
                _ => panic!("not a serial order of REC_ENTER ‖ REC_ENTER: {r:?}"),
            }
            assert_eq!(w.state(REC), GranuleState::Rec);
            w.assert_quiescent();
        },
    );
}

/// REC_ENTER ‖ REALM_DESTROY: the Realm has a REC, so REALM_DESTROY fails with RMI_ERROR_REALM
/// (realm_live) at once, whether or not the REC is running, and never waits for the run.
#[test]
fn rec_enter_realm_destroy_real() {
    rt::check(
        "rec_enter_realm_destroy",
        Bound::default(),
        &["done"],
        |out| {
            let w = World::new();
            active_realm_with_rec(&w, 1);
            let (w0, w1) = (w.clone(), w.clone());
            let t0 = spawn(0, move || rmi_rec_enter(&w0));
            let t1 = spawn(1, move || w1.status(rmi::REALM_DESTROY, &[RD]));
            assert_eq!((t0.join(), t1.join()), (OK, RmiStatus::realm(0)));
            assert_eq!(
                (w.state(RD), w.state(REC)),
                (GranuleState::Rd, GranuleState::Rec)
            );
            out.saw("done");
            w.assert_quiescent();
        },
    );
}
