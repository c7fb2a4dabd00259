//! Model: the per-CPU trace ring (src/trace/ring.rs) — its producer racing drainers.
//!
//! Protocol: the owning CPU writes the slot at `head` and publishes `head + 1` (Release) after an
//! Acquire load of `tail` shows the ring is not full (else it counts a drop); a drainer takes the
//! ring's drain flag (CAS, Acquire), reads `head` (Acquire), copies slots in `[tail, head)` and
//! consumes them with a Release store of `tail`, then releases the flag. The slots are
//! `warden::sync::UnsafeCell`s, so loom reports any write that overlaps a read of the same slot (a
//! torn record), besides the invariants checked here: every record arrives exactly once, intact
//! and in order, except those counted as dropped. The mutant publishes `head` before writing the
//! slot; loom must catch it. Preemption bound: the CI default (`LOOM_MAX_PREEMPTIONS`, else 2).

use std::sync::Arc;

use loom_tests::rt::{self, Bound, Outcomes, spawn};
use warden::trace::Ring;
use warden_abi::trace::TraceRecord;

/// A record whose fields all derive from `seq` (a torn copy mixes two).
fn rec(seq: u64) -> TraceRecord {
    TraceRecord {
        timestamp: seq,
        duration: seq as u32 + 100,
        id: !(seq as u32),
        arg: seq << 32 | seq,
        status: seq as u32,
        kind: 1,
        cpu: 0,
        flags: 0,
        aux: seq as u8,
    }
}

/// Drains at most `max` records; returns them and the drops reported.
fn drain_some(ring: &Ring<2>, max: usize) -> (Vec<TraceRecord>, u64) {
    let d = ring.begin_drain();
    let mut out = vec![TraceRecord::ZERO; max];
    let n = d.copy(0, &mut out);
    out.truncate(n);
    let dropped = d.dropped_since_last();
    d.consume(n, dropped);
    (out, dropped)
}

fn check_stream(pushed: u64, parts: &[(Vec<TraceRecord>, u64)], out: &Outcomes) {
    let mut seqs: Vec<u64> = Vec::new();
    for (got, _) in parts {
        for r in got {
            assert_eq!(*r, rec(r.timestamp), "torn record");
        }
        let s: Vec<u64> = got.iter().map(|r| r.timestamp).collect();
        assert!(
            s.windows(2).all(|w| w[0] < w[1]),
            "out of order within one drain: {s:?}"
        );
        seqs.extend(s);
    }
    let dropped: u64 = parts.iter().map(|(_, d)| d).sum();
    seqs.sort_unstable();
    let unique = seqs.len();
    seqs.dedup();
    assert_eq!(unique, seqs.len(), "a record was delivered twice");
    assert_eq!(
        seqs.len() as u64 + dropped,
        pushed,
        "lost records: got {seqs:?}, {dropped} dropped"
    );
    out.saw(if dropped == 0 {
        "none_dropped"
    } else {
        "dropped"
    });
}

/// CPU 0 pushes three records into a two-slot ring while CPU 1 drains once; then the rest is
/// drained. Depending on the interleaving the third push finds the ring full (a counted drop) or
/// the drain made room.
#[test]
fn producer_vs_drainer() {
    rt::check(
        "trace_producer_vs_drainer",
        Bound::default(),
        &["none_dropped", "dropped"],
        |out| {
            let ring = Arc::new(Ring::<2>::new());
            let r = ring.clone();
            let producer = spawn(0, move || (0..3).filter(|&s| r.push(rec(s))).count() as u64);
            let r = ring.clone();
            let drainer = spawn(1, move || drain_some(&r, 2));
            let pushed_ok = producer.join();
            let first = drainer.join();
            let rest = drain_some(&ring, 2);
            assert_eq!(first.0.len() + rest.0.len(), pushed_ok as usize);
            check_stream(3, &[first, rest], out);
        },
    );
}

/// Two drainers on two CPUs race for the same ring while its CPU pushes: the drain flag makes them
/// take turns, so neither sees a record the other consumed.
#[test]
fn two_drainers_and_a_producer() {
    rt::check(
        "trace_two_drainers",
        Bound::default(),
        &["none_dropped"],
        |out| {
            let ring = Arc::new(Ring::<2>::new());
            let r = ring.clone();
            let producer = spawn(0, move || {
                r.push(rec(0));
                r.push(rec(1));
            });
            let (r1, r2) = (ring.clone(), ring.clone());
            let d1 = spawn(1, move || drain_some(&r1, 1));
            let d2 = spawn(2, move || drain_some(&r2, 2));
            producer.join();
            let (a, b) = (d1.join(), d2.join());
            let rest = drain_some(&ring, 2);
            check_stream(2, &[a, b, rest], out);
        },
    );
}

/// The mutant: a one-slot ring whose producer publishes `head` before writing the slot. A drainer
/// can then read the slot while it is written; loom's `UnsafeCell` tracking reports it.
#[cfg(loom)]
mod mutant {
    use warden::sync::{AtomicU32, Ordering, UnsafeCell};

    use super::*;

    struct EarlyPublish {
        head: AtomicU32,
        slot: UnsafeCell<TraceRecord>,
    }

    // SAFETY: it is not (that is the bug loom must find); only ever used inside a loom model.
    unsafe impl Sync for EarlyPublish {}

    #[test]
    fn publishing_before_writing_is_caught() {
        let msg = rt::expect_violation("trace_mutant_early_publish", Bound::default(), |_| {
            let ring = Arc::new(EarlyPublish {
                head: AtomicU32::new(0),
                slot: UnsafeCell::new(TraceRecord::ZERO),
            });
            let r = ring.clone();
            let producer = spawn(0, move || {
                r.head.store(1, Ordering::Release);
                // SAFETY: the mutant's bug — the slot is already published.
                r.slot.with_mut(|p| unsafe { p.write(rec(7)) });
            });
            let r = ring.clone();
            let drainer = spawn(1, move || {
                if r.head.load(Ordering::Acquire) == 1 {
                    // SAFETY: as the drainer believes, the slot below `head` is written.
                    let got = r.slot.with(|p| unsafe { p.read() });
                    assert_eq!(got, rec(7), "torn or unwritten record");
                }
            });
            producer.join();
            drainer.join();
        });
        assert!(!msg.is_empty());
    }
}
