//! The RIM lock (src/lock.rs): a spin lock taken by a CAS with acquire ordering and released by a
//! store with release ordering. Under loom its value is a loom `UnsafeCell`, so loom checks that
//! every access is ordered after the previous holder's.
//!
//! Warden uses it for one thing: extending a Realm's RIM (a hash chain), which
//! `rtt::data_create_neighbours_real` also covers through DATA_CREATE. This model drives the lock
//! directly. Preemption bound: the CI default (`LOOM_MAX_PREEMPTIONS`, else 2).

use std::sync::Arc;

use loom_tests::mutants::Lock;
#[cfg(loom)]
use loom_tests::mutants::RelaxedSpinLock;
use loom_tests::rt::{self, Bound, Outcomes, spawn};
use warden::lock::SpinLock;

fn two_increments<L: Lock + 'static>(out: &Outcomes, lock: Arc<L>) {
    let (l0, l1) = (lock.clone(), lock.clone());
    let bump = |l: Arc<L>| {
        let mut seen = 0;
        l.with_value(&mut |v| {
            seen = *v;
            *v += 1;
        });
        seen
    };
    let t0 = spawn(0, move || bump(l0));
    let t1 = spawn(1, move || bump(l1));
    let seen = (t0.join(), t1.join());
    assert!(
        seen == (0, 1) || seen == (1, 0),
        "critical sections overlapped: {seen:?}"
    );
    let mut total = 0;
    lock.with_value(&mut |v| total = *v);
    assert_eq!(total, 2, "an increment was lost");
    out.saw(if seen.0 == 0 {
        "cpu0 first"
    } else {
        "cpu1 first"
    });
}

/// SpinLock ‖ SpinLock: the critical sections are serial and ordered (no causality violation on
/// the value, no lost increment).
#[test]
fn spinlock_real() {
    rt::check(
        "spinlock",
        Bound::default(),
        &["cpu0 first", "cpu1 first"],
        |out| {
            two_increments(out, Arc::new(SpinLock::new(0u64)));
        },
    );
}

/// Mutant: the acquiring CAS is Relaxed. loom reports the second holder's access to the value as a
/// causality violation with the first holder's.
#[cfg(loom)]
#[test]
fn spinlock_mutant_relaxed_acquire() {
    let msg = rt::expect_violation("spinlock/relaxed_acquire", Bound::default(), |out| {
        two_increments(out, Arc::new(RelaxedSpinLock::default()));
    });
    assert!(msg.contains("Causality violation"), "{msg}");
}
