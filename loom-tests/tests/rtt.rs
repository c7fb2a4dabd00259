//! Model 3: RTT entries, tables and the per-CPU walk cache, through the RMI commands.
//!
//! Protocol (src/rtt/walk.rs, src/rmi/rtt.rs, src/rmi/data.rs, src/rtt/walk_cache.rs):
//! * entries change only by CAS on the table a walk returns; a command whose CAS loses re-reads;
//! * a walker holds a shared reference on the table it reads and steps down hand over hand
//!   (`share_owned` on the child, then re-reads the parent entry);
//! * RTT_DESTROY / RTT_FOLD claim the child (waiting for every walker inside it), check it, bump
//!   the Realm's RTT generation, change the parent entry, and only then retire the child;
//! * a walk-cache hit pins the cached table with a shared reference and only then compares the
//!   Realm's incarnation and RTT generation with the slot's.
//!
//! Every model checks the results against the serial orders, the final tables, and
//! `World::assert_quiescent`; a use of a retired table hits loom's poison object. Each loom thread
//! runs as its own CPU (`rt::spawn(cpu, …)`), so the walk cache is per-CPU as on the machine.
//! Preemption bound: the CI default (`LOOM_MAX_PREEMPTIONS`, else 2).

use std::sync::Arc;

#[cfg(loom)]
use loom_tests::mutants;
use loom_tests::mutants::Slot;
use loom_tests::rt::{self, Bound, NO_CPU, Outcomes, spawn};
use loom_tests::world::*;
use warden::granule::GranuleState;
use warden::measure::{Measurement, rim_extend_data};
use warden::realm::Rd;
use warden::rtt::walk_cache::{BLOCK_SHIFT, CachedWalk, WalkCache};
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_abi::rtt::{RmiHashAlgorithm, RmiRipas, RmiRttEntryState};
use warden_abi::status::RmiStatus;

const OK: RmiStatus = RmiStatus::SUCCESS;
const PAGE: u64 = 0x1000;

const UNASSIGNED: u64 = RmiRttEntryState::Unassigned as u64;
const ASSIGNED: u64 = RmiRttEntryState::Assigned as u64;
const EMPTY: u64 = RmiRipas::Empty as u64;
const RAM: u64 = RmiRipas::Ram as u64;
const DESTROYED: u64 = RmiRipas::Destroyed as u64;

type DataCmd = fn(&World, u64, u64) -> RmiStatus;

fn rmi_data_create(w: &World, data: u64, ipa: u64) -> RmiStatus {
    w.status(rmi::DATA_CREATE, &[RD, data, ipa, SRC, 0])
}

fn rmi_data_create_unknown(w: &World, data: u64, ipa: u64) -> RmiStatus {
    w.status(rmi::DATA_CREATE_UNKNOWN, &[RD, data, ipa])
}

fn rim(w: &World) -> Measurement {
    let rd = w
        .rmm()
        .granules()
        .share(Pa(RD), GranuleState::Rd)
        .expect("the RD");
    *rd.object::<Rd>().measurements().rim()
}

// ---- DATA_CREATE ‖ DATA_CREATE on neighbouring IPAs -------------------------------------------

fn neighbours(out: &Outcomes, create: DataCmd) {
    let w = World::new();
    w.realm_with_l3();
    w.delegate(&[D0, D1]);
    let rim0 = rim(&w);
    let (w0, w1) = (w.clone(), w.clone());
    let t0 = spawn(0, move || create(&w0, D0, IPA));
    let t1 = spawn(1, move || create(&w1, D1, IPA + PAGE));
    assert_eq!(
        (t0.join(), t1.join()),
        (OK, OK),
        "both DATA_CREATEs on neighbouring IPAs land"
    );
    assert_eq!(w.read_entry(IPA, 3), (3, ASSIGNED, D0, RAM));
    assert_eq!(w.read_entry(IPA + PAGE, 3), (3, ASSIGNED, D1, RAM));
    assert_eq!(
        (w.state(D0), w.state(D1)),
        (GranuleState::Data, GranuleState::Data)
    );
    // The RIM is a hash chain: it must be the one of one of the two serial orders.
    let ext = |rim: &Measurement, ipa| rim_extend_data(RmiHashAlgorithm::Sha256, rim, ipa, 0, None);
    let (first0, first1) = (
        ext(&ext(&rim0, IPA), IPA + PAGE),
        ext(&ext(&rim0, IPA + PAGE), IPA),
    );
    let rim = rim(&w);
    assert!(
        rim == first0 || rim == first1,
        "the RIM is not the one of any serial order (an extension was lost)"
    );
    out.saw(if rim == first0 {
        "cpu0 measured first"
    } else {
        "cpu1 measured first"
    });
    w.assert_quiescent();
}

/// DATA_CREATE ‖ DATA_CREATE on neighbouring IPAs of one level-3 table: both land (two CASes on
/// two entries of one table), both granules become DATA, and the RIM is the hash chain of one of
/// the two serial orders (the RD's measurement lock serialises the extensions).
#[test]
fn data_create_neighbours_real() {
    rt::check(
        "data_create_neighbours",
        Bound::default(),
        &["cpu0 measured first", "cpu1 measured first"],
        |out| {
            neighbours(out, rmi_data_create);
        },
    );
}

/// Mutant: the RIM extension reads the RIM in one critical section and writes it in another. Both
/// DATA_CREATEs can extend the same old RIM: one extension is lost.
#[cfg(loom)]
#[test]
fn data_create_neighbours_mutant_split_rim() {
    let msg = rt::expect_violation(
        "data_create_neighbours/split_rim",
        Bound::default(),
        |out| {
            neighbours(out, mutants::data_create_split_rim);
        },
    );
    assert!(msg.contains("an extension was lost"), "{msg}");
}

// ---- DATA_CREATE_UNKNOWN ‖ DATA_CREATE_UNKNOWN on one IPA --------------------------------------

fn same_ipa(out: &Outcomes, create: DataCmd) {
    let w = World::new();
    w.realm_with_l3();
    w.delegate(&[D0, D1]);
    let (w0, w1) = (w.clone(), w.clone());
    let t0 = spawn(0, move || create(&w0, D0, IPA));
    let t1 = spawn(1, move || create(&w1, D1, IPA));
    let (winner, loser) = match (t0.join(), t1.join()) {
        (OK, e) if e == RmiStatus::rtt(3) => (D0, D1),
        (e, OK) if e == RmiStatus::rtt(3) => (D1, D0),
        r => panic!("exactly one DATA_CREATE of one IPA lands: {r:?}"),
    };
    out.saw(if winner == D0 {
        "cpu0 wins"
    } else {
        "cpu1 wins"
    });
    assert_eq!(w.read_entry(IPA, 3), (3, ASSIGNED, winner, EMPTY));
    assert_eq!(
        (w.state(winner), w.state(loser)),
        (GranuleState::Data, GranuleState::Delegated)
    );
    w.assert_quiescent();
}

/// DATA_CREATE_UNKNOWN ‖ DATA_CREATE_UNKNOWN of one IPA: exactly one lands (the other fails with
/// RMI_ERROR_RTT at level 3, its granule released DELEGATED); the entry names the winner's granule.
#[test]
fn data_create_same_ipa_real() {
    rt::check(
        "data_create_same_ipa",
        Bound::default(),
        &["cpu0 wins", "cpu1 wins"],
        |out| {
            same_ipa(out, rmi_data_create_unknown);
        },
    );
}

/// Mutant: the entry is published by a load that checks UNASSIGNED and a separate store. Both
/// creators publish; one mapping is overwritten and its DATA granule is left unmapped.
#[cfg(loom)]
#[test]
fn data_create_same_ipa_mutant_split_publish() {
    let msg = rt::expect_violation(
        "data_create_same_ipa/split_publish",
        Bound::default(),
        |out| {
            same_ipa(out, mutants::data_create_unknown_split_publish);
        },
    );
    assert!(msg.contains("exactly one DATA_CREATE"), "{msg}");
}

// ---- RTT_CREATE ‖ RTT_CREATE of one level-3 table ---------------------------------------------

fn rmi_rtt_create(w: &World, rtt: u64, ipa: u64) -> RmiStatus {
    w.status(rmi::RTT_CREATE, &[RD, rtt, ipa, 3])
}

fn create_vs_create(out: &Outcomes, create: fn(&World, u64, u64) -> RmiStatus) {
    let w = World::new();
    w.realm();
    w.delegate(&[L2]);
    assert_eq!(
        w.status(rmi::RTT_CREATE, &[RD, L2, IPA & !((1 << 30) - 1), 2]),
        OK
    );
    w.delegate(&[L3, X]);
    let block = IPA & !((2 << 20) - 1);
    let (w0, w1) = (w.clone(), w.clone());
    let t0 = spawn(0, move || create(&w0, L3, block));
    let t1 = spawn(1, move || create(&w1, X, block));
    let (winner, loser) = match (t0.join(), t1.join()) {
        (OK, e) if e == RmiStatus::rtt(2) => (L3, X),
        (e, OK) if e == RmiStatus::rtt(2) => (X, L3),
        r => panic!("exactly one RTT_CREATE of one table lands: {r:?}"),
    };
    out.saw(if winner == L3 {
        "cpu0 wins"
    } else {
        "cpu1 wins"
    });
    assert_eq!(
        w.read_entry(block, 2),
        (2, RmiRttEntryState::Table as u64, winner, EMPTY)
    );
    assert_eq!(
        (w.state(winner), w.state(loser)),
        (GranuleState::Rtt, GranuleState::Delegated),
        "the losing RTT_CREATE's granule is released DELEGATED"
    );
    w.assert_quiescent();
}

/// RTT_CREATE ‖ RTT_CREATE of the same level-3 table with two granules: both prepare their table
/// under a claim, one CAS on the parent entry wins; the loser drops its prepared table (scrubbed,
/// released DELEGATED) and fails with RMI_ERROR_RTT at level 2 (rtte_state: now a TABLE).
#[test]
fn rtt_create_same_table_real() {
    rt::check(
        "rtt_create_same_table",
        Bound::default(),
        &["cpu0 wins", "cpu1 wins"],
        |out| {
            create_vs_create(out, rmi_rtt_create);
        },
    );
}

/// Mutant: RTT_CREATE commits its table before the CAS that publishes it. The loser's table stays
/// in state RTT, linked from nowhere.
#[cfg(loom)]
#[test]
fn rtt_create_same_table_mutant_commit_before_publish() {
    let msg = rt::expect_violation(
        "rtt_create_same_table/commit_before_publish",
        Bound::default(),
        |out| {
            create_vs_create(out, mutants::rtt_create_commit_before_publish);
        },
    );
    assert!(msg.contains("released DELEGATED"), "{msg}");
}

// ---- DATA_CREATE_UNKNOWN ‖ DATA_DESTROY of the same IPA --------------------------------------

fn rmi_data_destroy(w: &World, ipa: u64) -> (RmiStatus, u64) {
    let r = w.call(rmi::DATA_DESTROY, &[RD, ipa]);
    (r.status().expect("status"), r.0[1])
}

fn data_create_vs_destroy(out: &Outcomes, destroy: fn(&World, u64) -> (RmiStatus, u64)) {
    let w = World::new();
    w.realm_with_l3();
    w.delegate(&[D0]);
    let (w0, w1) = (w.clone(), w.clone());
    let t0 = spawn(0, move || rmi_data_create_unknown(&w0, D0, IPA));
    let t1 = spawn(1, move || destroy(&w1, IPA));
    let r = (t0.join(), t1.join());
    if r == (OK, (OK, D0)) {
        // DATA_CREATE, then DATA_DESTROY: the granule is back DELEGATED and scrubbed.
        assert_eq!(w.state(D0), GranuleState::Delegated);
        assert_eq!(w.read_entry(IPA, 3), (3, UNASSIGNED, 0, EMPTY));
        out.saw("create; destroy");
    } else if r.0 == OK && r.1.0 == RmiStatus::rtt(3) {
        // DATA_DESTROY (nothing mapped: rtte_state), then DATA_CREATE.
        assert_eq!(w.state(D0), GranuleState::Data);
        assert_eq!(w.read_entry(IPA, 3), (3, ASSIGNED, D0, EMPTY));
        out.saw("destroy; create");
    } else {
        panic!("not a serial order of DATA_CREATE ‖ DATA_DESTROY: {r:?}");
    }
    w.assert_quiescent();
}

/// DATA_CREATE_UNKNOWN ‖ DATA_DESTROY of one IPA. DATA_CREATE publishes the entry before it commits
/// the granule DATA; a DATA_DESTROY that finds the entry unpublishes it and then waits
/// (`claim_owned`) for that commit before scrubbing the granule back to DELEGATED.
#[test]
fn data_create_data_destroy_real() {
    rt::check(
        "data_create_data_destroy",
        Bound::default(),
        &["create; destroy", "destroy; create"],
        |out| {
            data_create_vs_destroy(out, rmi_data_destroy);
        },
    );
}

/// Mutant: DATA_DESTROY claims the granule with `claim`, which does not wait for the creator's
/// commit: it finds the granule claimed in DELEGATED and fails ("ASSIGNED entry names DATA").
#[cfg(loom)]
#[test]
fn data_create_data_destroy_mutant_no_owner_wait() {
    let msg = rt::expect_violation(
        "data_create_data_destroy/no_owner_wait",
        Bound::default(),
        |out| {
            data_create_vs_destroy(out, mutants::data_destroy_without_owner_wait);
        },
    );
    assert!(msg.contains("ASSIGNED entry names DATA"), "{msg}");
}

// ---- DATA_CREATE_UNKNOWN ‖ RTT_DESTROY of the table it walks ----------------------------------

fn rmi_rtt_destroy(w: &World, ipa: u64) -> RmiStatus {
    let r = w.call(rmi::RTT_DESTROY, &[RD, ipa, 3]);
    let s = r.status().expect("status");
    if s == OK {
        assert_eq!(r.0[1], L3, "RTT_DESTROY returns the table it destroyed");
    }
    s
}

fn data_vs_destroy(out: &Outcomes, destroy: fn(&World, u64) -> RmiStatus) {
    let w = World::new();
    w.realm_with_l3();
    w.delegate(&[D0]);
    let (w0, w1) = (w.clone(), w.clone());
    let t0 = spawn(0, move || rmi_data_create_unknown(&w0, D0, IPA));
    let t1 = spawn(1, move || destroy(&w1, IPA));
    let r = (t0.join(), t1.join());
    if r == (OK, RmiStatus::rtt(3)) {
        // DATA_CREATE, then RTT_DESTROY (rtt_live).
        assert_eq!(
            (w.state(L3), w.state(D0)),
            (GranuleState::Rtt, GranuleState::Data)
        );
        assert_eq!(w.read_entry(IPA, 3), (3, ASSIGNED, D0, EMPTY));
        out.saw("create; destroy");
    } else if r == (RmiStatus::rtt(2), OK) {
        // RTT_DESTROY, then DATA_CREATE (the walk stops at the level-2 entry).
        assert_eq!(
            (w.state(L3), w.state(D0)),
            (GranuleState::Delegated, GranuleState::Delegated)
        );
        assert_eq!(w.read_entry(IPA, 3), (2, UNASSIGNED, 0, DESTROYED));
        out.saw("destroy; create");
    } else {
        panic!("not a serial order of DATA_CREATE ‖ RTT_DESTROY: {r:?}");
    }
    w.assert_quiescent();
}

/// DATA_CREATE_UNKNOWN ‖ RTT_DESTROY of the level-3 table it walks: either the mapping lands and
/// the destroy fails (rtt_live), or the table is destroyed and DATA_CREATE fails at level 2; the
/// destroyed table is never written (poison object, scrub check) and the DATA granule is never
/// left DATA without a mapping.
#[test]
fn data_create_rtt_destroy_real() {
    rt::check(
        "data_create_rtt_destroy",
        Bound::default(),
        &["create; destroy", "destroy; create"],
        |out| {
            data_vs_destroy(out, rmi_rtt_destroy);
        },
    );
}

/// Mutant: RTT_DESTROY checks `RttIsLive` through a shared reference before claiming the table.
/// DATA_CREATE lands in between and its mapping is destroyed with the table.
#[cfg(loom)]
#[test]
fn data_create_rtt_destroy_mutant_check_then_claim() {
    let msg = rt::expect_violation(
        "data_create_rtt_destroy/check_then_claim",
        Bound::default(),
        |out| {
            data_vs_destroy(out, mutants::rtt_destroy_check_then_claim);
        },
    );
    assert!(msg.contains("not a serial order"), "{msg}");
}

// ---- DATA_CREATE_UNKNOWN ‖ RTT_FOLD of the table it walks -------------------------------------

fn rmi_rtt_fold(w: &World, ipa: u64) -> RmiStatus {
    let r = w.call(rmi::RTT_FOLD, &[RD, ipa, 3]);
    let s = r.status().expect("status");
    if s == OK {
        assert_eq!(r.0[1], L3, "RTT_FOLD returns the table it folded");
    }
    s
}

fn data_vs_fold(out: &Outcomes, fold: fn(&World, u64) -> RmiStatus) {
    let w = World::new();
    w.realm_with_l3();
    w.delegate(&[D0]);
    let (w0, w1) = (w.clone(), w.clone());
    let t0 = spawn(0, move || rmi_data_create_unknown(&w0, D0, IPA));
    let t1 = spawn(1, move || fold(&w1, IPA));
    let r = (t0.join(), t1.join());
    if r == (OK, RmiStatus::rtt(3)) {
        // DATA_CREATE, then RTT_FOLD (rtt_homo: one ASSIGNED entry among UNASSIGNED ones).
        assert_eq!(
            (w.state(L3), w.state(D0)),
            (GranuleState::Rtt, GranuleState::Data)
        );
        assert_eq!(w.read_entry(IPA, 3), (3, ASSIGNED, D0, EMPTY));
        out.saw("create; fold");
    } else if r == (RmiStatus::rtt(2), OK) {
        // RTT_FOLD (all UNASSIGNED EMPTY → the level-2 entry), then DATA_CREATE at level 2.
        assert_eq!(
            (w.state(L3), w.state(D0)),
            (GranuleState::Delegated, GranuleState::Delegated)
        );
        assert_eq!(w.read_entry(IPA, 3), (2, UNASSIGNED, 0, EMPTY));
        out.saw("fold; create");
    } else {
        panic!("not a serial order of DATA_CREATE ‖ RTT_FOLD: {r:?}");
    }
    w.assert_quiescent();
}

/// DATA_CREATE_UNKNOWN ‖ RTT_FOLD of the homogeneous level-3 table it walks: the fold fails once
/// the mapping landed (not homogeneous), or succeeds and DATA_CREATE fails at level 2.
#[test]
fn data_create_rtt_fold_real() {
    rt::check(
        "data_create_rtt_fold",
        Bound::default(),
        &["create; fold", "fold; create"],
        |out| {
            data_vs_fold(out, rmi_rtt_fold);
        },
    );
}

/// Mutant: RTT_FOLD retires the table before its parent entry stops naming it. A walker that read
/// the TABLE entry finds a DELEGATED granule while the entry still names it: Warden's own walk
/// asserts ("TABLE entry names a non-RTT granule").
#[cfg(loom)]
#[test]
fn data_create_rtt_fold_mutant_retire_first() {
    let msg = rt::expect_violation(
        "data_create_rtt_fold/retire_first",
        Bound::default(),
        |out| {
            data_vs_fold(out, mutants::rtt_fold_retire_first);
        },
    );
    assert!(
        msg.contains("non-RTT granule") || msg.contains("not a serial order"),
        "{msg}"
    );
}

// ---- The per-CPU walk cache ‖ RTT_DESTROY + re-creation -----------------------------------

/// A level-3 RTT_READ_ENTRY at `ipa` → (walk level, state, ripas).
type Reader = Arc<dyn Fn(&World, u64) -> (i64, u64, u64) + Send + Sync>;

fn rmi_reader() -> Reader {
    Arc::new(|w: &World, ipa| {
        let (level, state, _, ripas) = w.read_entry(ipa, 3);
        (level, state, ripas)
    })
}

fn cache_vs_recreate(out: &Outcomes, reader: Reader, prefill: bool) {
    let w = World::new();
    w.realm_with_l3();
    // The next block's level-2 entry becomes UNASSIGNED RAM, so a table created there unfolds into
    // RAM entries: a read through a stale cache entry is visible in its RIPAS.
    let r = w.call(
        rmi::RTT_INIT_RIPAS,
        &[RD, IPA_NEXT_BLOCK, IPA_NEXT_BLOCK + (2 << 20)],
    );
    assert_eq!(r.status(), Some(OK), "setup: INIT_RIPAS of the next block");
    if prefill {
        // CPU 0 walks IPA once: its cache slot now names L3 for IPA's block.
        rt::set_cpu(0);
        assert_eq!(reader(&w, IPA), (3, UNASSIGNED, EMPTY));
        rt::set_cpu(NO_CPU);
    }
    let (w0, w1) = (w.clone(), w.clone());
    // Without the prefill, CPU 0 reads twice: the first read fills its slot while CPU 1 destroys.
    let t0 = spawn(0, move || {
        let first = reader(&w0, IPA);
        (first, if prefill { first } else { reader(&w0, IPA) })
    });
    let t1 = spawn(1, move || {
        // RTT_DESTROY of IPA's level-3 table, and the same granule re-created for the next block.
        let d = w1.call(rmi::RTT_DESTROY, &[RD, IPA, 3]);
        let c = w1.status(rmi::RTT_CREATE, &[RD, L3, IPA_NEXT_BLOCK, 3]);
        (d.status(), d.0[1], c)
    });
    let reads = t0.join();
    assert_eq!(t1.join(), (Some(OK), L3, OK), "destroy and re-create");
    let name = |r| match r {
        (3, UNASSIGNED, EMPTY) => "read; destroy",
        (2, UNASSIGNED, DESTROYED) => "destroy; read",
        r => panic!("read through a stale walk-cache entry: {r:?}"),
    };
    let (first, second) = (name(reads.0), name(reads.1));
    assert!(
        !(first == "destroy; read" && second == "read; destroy"),
        "reads went back in time: {reads:?}"
    );
    out.saw(
        if prefill {
            first.to_string()
        } else {
            format!("{first} / {second}")
        }
        .as_str(),
    );
    assert_eq!(w.read_entry(IPA_NEXT_BLOCK, 3), (3, UNASSIGNED, 0, RAM));
    assert_eq!(w.read_entry(IPA, 3), (2, UNASSIGNED, 0, DESTROYED));
    w.assert_quiescent();
}

/// RTT_READ_ENTRY through CPU 0's walk cache (filled for IPA's block before the threads start) ‖
/// RTT_DESTROY of that table + RTT_CREATE of the same granule for the next block on CPU 1: the
/// read answers as before the destroy or as after it, never from the re-created table.
#[test]
fn walk_cache_destroy_recreate_real() {
    rt::check(
        "walk_cache_destroy_recreate",
        Bound::default(),
        &["read; destroy", "destroy; read"],
        |out| {
            cache_vs_recreate(out, rmi_reader(), true);
        },
    );
}

/// As [`walk_cache_destroy_recreate_real`], but CPU 0's slot is filled by a first read that races
/// with the destroy and used by a second one: a fill from a walk that raced with the destroy
/// never makes the second read answer from the re-created table, and reads never go back in time.
/// Four RMI commands across two threads: preemption bound 2 in CI and nightly (≈ 20 000
/// executions; bound 3 ran for more than 5 minutes).
#[test]
fn walk_cache_fill_race_real() {
    let expected = [
        "read; destroy / read; destroy",
        "read; destroy / destroy; read",
        "destroy; read / destroy; read",
    ];
    rt::check(
        "walk_cache_fill_race",
        Bound {
            preemptions: 2,
            nightly: 2,
        },
        &expected,
        |out| {
            cache_vs_recreate(out, rmi_reader(), false);
        },
    );
}

/// Mutant: a cache hit compares the RTT generation before taking the shared reference that pins
/// the table. The table can be destroyed and re-created for the next block in between, and the
/// read answers from it (RIPAS RAM).
#[cfg(loom)]
#[test]
fn walk_cache_mutant_validated_before_pin() {
    let msg = rt::expect_violation("walk_cache/validated_before_pin", Bound::default(), |out| {
        let cache = Arc::new(mutants::CacheValidatedTooEarly::default());
        let reader: Reader = Arc::new(move |w: &World, ipa| {
            let (level, entry) = cache.read_entry(w, ipa).expect("the RD");
            let (state, _, ripas) = entry.read_entry(level);
            (i64::from(level), state as u64, ripas as u64)
        });
        cache_vs_recreate(out, reader, true);
    });
    assert!(msg.contains("stale walk-cache entry"), "{msg}");
}

// ---- One walk-cache slot: fill ‖ lookup on one CPU index --------------------------------------

fn slot_fill_lookup<S: Slot + 'static>(out: &Outcomes, slot: Arc<S>) {
    let walk = |n: u64| CachedWalk {
        rd: RD,
        incarnation: n,
        block: IPA >> BLOCK_SHIFT,
        table: g(n),
        generation: n,
    };
    let (a, b) = (walk(1), walk(2));
    slot.fill(a);
    let (s0, s1) = (slot.clone(), slot.clone());
    let t0 = spawn(0, move || s0.fill(b));
    let t1 = spawn(0, move || s1.lookup(RD, IPA));
    t0.join();
    match t1.join() {
        None => out.saw("miss"),
        Some(w) if w == a => out.saw("old"),
        Some(w) if w == b => out.saw("new"),
        Some(w) => panic!("lookup returned a slot torn between two fills: {w:?}"),
    }
    assert_eq!(slot.lookup(RD, IPA), Some(b));
}

/// `WalkCache::fill` ‖ `WalkCache::lookup` of one slot (two threads with one CPU index, as host
/// tests may have): the lookup misses or returns one whole fill, never a mix of two.
#[test]
fn walk_cache_slot_real() {
    rt::check(
        "walk_cache_slot",
        Bound::default(),
        &["old", "new", "miss"],
        |out| {
            slot_fill_lookup(out, Arc::new(WalkCache::new()));
        },
    );
}

/// Mutant: the lookup does not re-check the sequence count after reading the fields, and returns
/// a slot torn between the old and the new fill.
#[cfg(loom)]
#[test]
fn walk_cache_slot_mutant_no_recheck() {
    let msg = rt::expect_violation("walk_cache_slot/no_recheck", Bound::default(), |out| {
        slot_fill_lookup(out, Arc::new(mutants::SlotWithoutRecheck::default()));
    });
    assert!(msg.contains("torn"), "{msg}");
}
