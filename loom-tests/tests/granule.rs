//! Model 1: granule transitions and multi-granule claims, through the RMI commands.
//!
//! Protocol (src/granule/table.rs): a claim is one CAS (state S, unclaimed, no references) →
//! (S, CLAIMED), ended by one release store (the commit, the linearisation point, or the release of
//! a failed command); a shared reference is a CAS adding one to the count, dropped by an atomic
//! decrement. A command whose state check fails returns at once; one that finds the state right but
//! the granule busy retries. Commands holding several granules acquire them in address order.
//!
//! Every model ends with `World::assert_quiescent` (no claim or reference left, table state agrees
//! with the GPT, DELEGATED granules scrubbed) and checks the results against the serial orders.
//! Preemption bound: the CI default (`LOOM_MAX_PREEMPTIONS`, else 2) unless a test says otherwise.

#[cfg(loom)]
use loom_tests::mutants;
use loom_tests::rt::{self, Bound, Outcomes, spawn};
use loom_tests::world::*;
use warden::granule::GranuleState;
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_abi::status::RmiStatus;

const OK: RmiStatus = RmiStatus::SUCCESS;

fn input() -> RmiStatus {
    RmiStatus::input()
}

type Cmd = fn(&World, u64) -> RmiStatus;

fn rmi_delegate(w: &World, pa: u64) -> RmiStatus {
    w.status(rmi::GRANULE_DELEGATE, &[pa])
}

fn rmi_undelegate(w: &World, pa: u64) -> RmiStatus {
    w.status(rmi::GRANULE_UNDELEGATE, &[pa])
}

/// Runs `a(D0)` on CPU 0 and `b(D0)` on CPU 1 from a fresh machine (after `setup`), returns both
/// results.
fn race(w: &std::sync::Arc<World>, a: Cmd, b: Cmd) -> (RmiStatus, RmiStatus) {
    let (wa, wb) = (w.clone(), w.clone());
    let ta = spawn(0, move || a(&wa, D0));
    let tb = spawn(1, move || b(&wb, D0));
    (ta.join(), tb.join())
}

// ---- DELEGATE ‖ DELEGATE -----------------------------------------------------------------------

fn delegate_delegate(out: &Outcomes, delegate: Cmd) {
    let w = World::new();
    let r = race(&w, delegate, delegate);
    assert!(
        matches!(r, (OK, e) | (e, OK) if e == input()),
        "exactly one DELEGATE succeeds: {r:?}"
    );
    out.saw(if r.0 == OK { "cpu0 wins" } else { "cpu1 wins" });
    assert_eq!(
        w.state(D0),
        GranuleState::Delegated,
        "final state after DELEGATE ‖ DELEGATE"
    );
    w.assert_quiescent();
}

/// DELEGATE ‖ DELEGATE of one granule: exactly one succeeds; the granule ends DELEGATED, in the
/// Realm PAS, unclaimed.
#[test]
fn delegate_delegate_real() {
    rt::check(
        "delegate_delegate",
        Bound::default(),
        &["cpu0 wins", "cpu1 wins"],
        |out| {
            delegate_delegate(out, rmi_delegate);
        },
    );
}

/// Mutant: the claim is a load + store instead of one CAS. Both DELEGATEs claim; EL3 refuses the
/// second GTSI call, whose "release unchanged" store then overwrites the first one's commit.
#[cfg(loom)]
#[test]
fn delegate_delegate_mutant_split_claim() {
    let msg = rt::expect_violation("delegate_delegate/split_claim", Bound::default(), |out| {
        delegate_delegate(out, mutants::delegate_split_claim);
    });
    assert!(
        msg.contains("exactly one DELEGATE")
            || msg.contains("final state")
            || msg.contains("GPT says"),
        "{msg}"
    );
}

// ---- DELEGATE ‖ UNDELEGATE ---------------------------------------------------------------------

fn delegate_undelegate(out: &Outcomes, delegate: Cmd) {
    let w = World::new();
    // The Host's data in the granule before it delegates it: UNDELEGATE must scrub it.
    w.machine()
        .host
        .host_write(Pa(D0), &[0xAB; 64])
        .expect("Host memory");
    let r = race(&w, delegate, rmi_undelegate);
    let state = w.state(D0);
    match r {
        // DELEGATE, then UNDELEGATE.
        (OK, OK) => {
            assert_eq!(state, GranuleState::Undelegated);
            let mut back = [0xFFu8; 64];
            w.machine()
                .host
                .host_read(Pa(D0), &mut back)
                .expect("returned to the Host");
            assert_eq!(back, [0; 64], "UNDELEGATE returned the granule unscrubbed");
            out.saw("delegate; undelegate");
        }
        // UNDELEGATE (fails: not DELEGATED), then DELEGATE.
        (OK, e) if e == input() => {
            assert_eq!(state, GranuleState::Delegated);
            out.saw("undelegate; delegate");
        }
        _ => panic!("not a serial order of DELEGATE ‖ UNDELEGATE: {r:?}, final {state:?}"),
    }
    if state == GranuleState::Undelegated {
        w.assert_quiescent();
    } else {
        w.assert_quiescent_except(&[D0]); // holds the Host's bytes: DELEGATE does not scrub
    }
}

/// DELEGATE ‖ UNDELEGATE of one UNDELEGATED granule: the outcome is one of the two serial orders
/// (both succeed and the Host gets back a scrubbed granule, or UNDELEGATE fails at once and the
/// granule ends DELEGATED), never "both fail" or a state the GPT disagrees with.
#[test]
fn delegate_undelegate_real() {
    rt::check(
        "delegate_undelegate",
        Bound::default(),
        &["delegate; undelegate", "undelegate; delegate"],
        |out| {
            delegate_undelegate(out, rmi_delegate);
        },
    );
}

/// Mutant: DELEGATE commits DELEGATED before EL3 has moved the granule to the Realm PAS. An
/// UNDELEGATE in that window claims it and scrubs it through the Realm PAS while the GPT still says
/// NS: the host machine reports the granule protection fault inside Warden.
#[cfg(loom)]
#[test]
fn delegate_undelegate_mutant_commit_early() {
    let msg = rt::expect_violation(
        "delegate_undelegate/commit_early",
        Bound::default(),
        |out| {
            delegate_undelegate(out, mutants::delegate_commit_early);
        },
    );
    assert!(
        msg.contains("granule protection fault") || msg.contains("not a serial order"),
        "{msg}"
    );
}

// ---- Two-granule claims with the roles swapped -----------------------------------------------

type PairCmd = fn(&World, u64, u64) -> RmiStatus;

/// REALM_CREATE with the RD at `rd` and the single starting RTT at `rtt` (parameters at a page
/// of their own per RD, VMID = 1 for RD and 2 otherwise).
fn rmi_realm_create(w: &World, rd: u64, _rtt: u64) -> RmiStatus {
    let params = if rd == RD { PARAMS_A } else { PARAMS_B };
    w.status(rmi::REALM_CREATE, &[rd, params])
}

fn swapped_roles(out: &Outcomes, cmd: PairCmd, check: fn(&Outcomes, &World, RmiStatus, RmiStatus)) {
    let w = World::new();
    w.delegate(&[RD, RTT0]);
    w.write_params(PARAMS_A, RTT0, 1);
    w.write_params(PARAMS_B, RD, 2);
    let (wa, wb) = (w.clone(), w.clone());
    let ta = spawn(0, move || cmd(&wa, RD, RTT0));
    let tb = spawn(1, move || cmd(&wb, RTT0, RD));
    let (a, b) = (ta.join(), tb.join());
    check(out, &w, a, b);
    w.assert_quiescent();
}

/// REALM_CREATE(rd = A, rtt = B) ‖ REALM_CREATE(rd = B, rtt = A): both claim the same two granules
/// in opposite roles. No deadlock (address order); exactly one wins and the granules hold its
/// roles; the loser's VMID stays free and the winner's is held.
#[test]
fn realm_create_swapped_roles_real() {
    rt::check(
        "realm_create_swapped_roles",
        Bound::default(),
        &["A wins", "B wins"],
        |out| {
            swapped_roles(out, rmi_realm_create, |out, w, a, b| {
                let (rd, rtt, loser_vmid, winner_vmid) = match (a, b) {
                    (OK, e) if e == input() => (RD, RTT0, 2, 1),
                    (e, OK) if e == input() => (RTT0, RD, 1, 2),
                    r => panic!("exactly one REALM_CREATE succeeds: {r:?}"),
                };
                out.saw(if a == OK { "A wins" } else { "B wins" });
                assert_eq!(
                    (w.state(rd), w.state(rtt)),
                    (GranuleState::Rd, GranuleState::Rtt)
                );
                // The VMIDs, observed through REALM_CREATE's vmid_valid check on spare granules.
                w.delegate(&[RD2, RTT2]);
                w.write_params(PARAMS_A, RTT2, winner_vmid);
                assert_eq!(
                    w.status(rmi::REALM_CREATE, &[RD2, PARAMS_A]),
                    input(),
                    "winner's VMID is held"
                );
                w.write_params(PARAMS_A, RTT2, loser_vmid);
                assert_eq!(
                    w.status(rmi::REALM_CREATE, &[RD2, PARAMS_A]),
                    OK,
                    "loser's VMID was released"
                );
            });
        },
    );
}

/// REALM_CREATE ‖ UNDELEGATE of its starting RTT: UNDELEGATE wins (REALM_CREATE fails on rtt_state
/// or in its acquisition, the granule goes back to the Host) or REALM_CREATE does (UNDELEGATE
/// fails: the granule is an RTT).
#[test]
fn realm_create_undelegate_rtt_real() {
    rt::check(
        "realm_create_undelegate_rtt",
        Bound::default(),
        &["create; undelegate", "undelegate; create"],
        |out| {
            let w = World::new();
            w.delegate(&[RD, RTT0]);
            w.write_params(PARAMS_A, RTT0, 1);
            let (wa, wb) = (w.clone(), w.clone());
            let ta = spawn(0, move || wa.status(rmi::REALM_CREATE, &[RD, PARAMS_A]));
            let tb = spawn(1, move || wb.status(rmi::GRANULE_UNDELEGATE, &[RTT0]));
            let r = (ta.join(), tb.join());
            let states = (w.state(RD), w.state(RTT0));
            match r {
                (OK, e) if e == input() => {
                    assert_eq!(states, (GranuleState::Rd, GranuleState::Rtt));
                    out.saw("create; undelegate");
                }
                (e, OK) if e == input() => {
                    assert_eq!(states, (GranuleState::Delegated, GranuleState::Undelegated));
                    out.saw("undelegate; create");
                }
                _ => panic!("not a serial order: {r:?}, final {states:?}"),
            }
            w.assert_quiescent();
        },
    );
}

/// Mutant: the two-granule acquisition claims in role order (RD, then RTT) instead of address
/// order. With the roles swapped each command can hold one granule and wait for the other: loom
/// reports the livelock as "exceeded maximum number of branches". (The replica releases both
/// granules unchanged, so every execution that does not deadlock ends with both succeeding.)
#[cfg(loom)]
#[test]
fn swapped_roles_mutant_role_order() {
    let msg = rt::expect_violation("swapped_roles/role_order", Bound::default(), |out| {
        swapped_roles(out, mutants::claim_pair_role_order, |_, _, a, b| {
            assert_eq!((a, b), (OK, OK))
        });
    });
    assert!(msg.contains("maximum number of branches"), "{msg}");
}

// ---- An RD with shared holders cannot be destroyed ------------------------------------------

/// RTT_READ_ENTRY of the standard Realm: holds the RD shared and walks its starting table.
fn rmi_read_entry(w: &World) -> RmiStatus {
    w.status(rmi::RTT_READ_ENTRY, &[RD, IPA & !((1 << 30) - 1), 1])
}

fn rmi_rec_aux_count(w: &World) -> RmiStatus {
    w.status(rmi::REC_AUX_COUNT, &[RD])
}

fn destroy_vs_readers(out: &Outcomes, readers: &[fn(&World) -> RmiStatus]) {
    let w = World::new();
    w.realm();
    let wd = w.clone();
    let destroy = spawn(0, move || wd.status(rmi::REALM_DESTROY, &[RD]));
    let readers: Vec<_> = readers
        .iter()
        .enumerate()
        .map(|(i, &read)| {
            let wr = w.clone();
            spawn(i + 1, move || read(&wr))
        })
        .collect();
    assert_eq!(
        destroy.join(),
        OK,
        "REALM_DESTROY of a Realm without RECs or mappings"
    );
    let mut seen = Vec::new();
    for r in readers {
        // Before the destroy: success; after it: the RD is gone (rd_state).
        let r = r.join();
        assert!(r == OK || r == input(), "reader: {r:?}");
        seen.push(if r == OK { "before" } else { "after" });
    }
    out.saw(&format!("readers {}", seen.join(",")));
    assert_eq!(
        (w.state(RD), w.state(RTT0)),
        (GranuleState::Delegated, GranuleState::Delegated)
    );
    w.assert_quiescent();
}

/// REALM_DESTROY ‖ RTT_READ_ENTRY (which holds the RD shared and walks the starting RTT): the RD
/// and its table are never retired under the reader (a use after retire hits loom's poison object
/// or the handles' state assertions), the reference count returns to zero, and the reader
/// succeeds or fails with RMI_ERROR_INPUT as in a serial order.
#[test]
fn realm_destroy_read_entry_real() {
    rt::check(
        "realm_destroy_read_entry",
        Bound::default(),
        &["readers before", "readers after"],
        |out| {
            destroy_vs_readers(out, &[rmi_read_entry]);
        },
    );
}

/// REALM_DESTROY ‖ REC_AUX_COUNT ‖ REC_AUX_COUNT: two shared holders at once (reference count 2).
/// Three threads, and REALM_DESTROY spins (share, try-claim, yield) while a reader holds the RD:
/// preemption bound 1 in CI and nightly (bound 2 ran for more than 3 minutes).
#[test]
fn realm_destroy_two_sharers_real() {
    let expected = [
        "readers before,before",
        "readers after,after",
        "readers before,after",
        "readers after,before",
    ];
    rt::check(
        "realm_destroy_two_sharers",
        Bound {
            preemptions: 1,
            nightly: 1,
        },
        &expected,
        |out| {
            destroy_vs_readers(out, &[rmi_rec_aux_count, rmi_rec_aux_count]);
        },
    );
}

/// Mutant: the reader's shared reference is a load that checks (RD, unclaimed) followed by a
/// separate increment. REALM_DESTROY can claim and retire the RD in between; the reader then
/// reads a scrubbed RD (loom's poison object) and its decrement underflows the word.
#[cfg(loom)]
#[test]
fn realm_destroy_mutant_split_share() {
    rt::expect_violation("realm_destroy/split_share", Bound::default(), |out| {
        destroy_vs_readers(out, &[mutants::read_rd_split_share]);
    });
}

// ---- The RD is published by REALM_CREATE's commit -------------------------------------------

fn create_vs_init_ripas(out: &Outcomes, user: fn(&World) -> RmiStatus) {
    let w = World::new();
    w.delegate(&[RD, RTT0]);
    w.write_params(PARAMS_A, RTT0, 1);
    let (wa, wb) = (w.clone(), w.clone());
    let ta = spawn(0, move || wa.status(rmi::REALM_CREATE, &[RD, PARAMS_A]));
    let tb = spawn(1, move || user(&wb));
    assert_eq!(ta.join(), OK);
    let r = tb.join();
    assert!(r == OK || r == input(), "RD user: {r:?}");
    out.saw(if r == OK {
        "create; user"
    } else {
        "user; create"
    });
    w.assert_quiescent();
}

/// RTT_INIT_RIPAS over the first 1 GiB (a level-1 entry): shares the RD and extends its RIM under
/// the RD's measurement lock.
fn rmi_init_ripas(w: &World) -> RmiStatus {
    w.call(rmi::RTT_INIT_RIPAS, &[RD, 0, 1 << 30])
        .status()
        .expect("status")
}

/// REALM_CREATE ‖ RTT_INIT_RIPAS on the new RD: the RD's contents (here its measurement lock and
/// RIM, a loom `UnsafeCell` whose creation loom tracks) are published by the commit's release and
/// acquired by the reader's shared reference, so the reader never races with the initialisation.
#[test]
fn realm_create_publishes_rd_real() {
    rt::check(
        "realm_create_publishes_rd",
        Bound::default(),
        &["create; user", "user; create"],
        |out| {
            create_vs_init_ripas(out, rmi_init_ripas);
        },
    );
}

/// Mutant: the reader takes its shared reference with a Relaxed CAS. loom reports the reader's
/// access to the measurements as a causality violation with REALM_CREATE's initialisation.
#[cfg(loom)]
#[test]
fn realm_create_publishes_rd_mutant_relaxed_share() {
    let msg = rt::expect_violation(
        "realm_create_publishes_rd/relaxed_share",
        Bound::default(),
        |out| {
            create_vs_init_ripas(out, mutants::extend_rim_relaxed_share);
        },
    );
    assert!(msg.contains("Causality violation"), "{msg}");
}
