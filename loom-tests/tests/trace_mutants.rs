//! The trace ring's ordering, weakened step by step: `tests/trace.rs` models the real ring; here
//! the same push ‖ drain race drives the real `Ring<2>` (the control) and two-slot replicas
//! (`mutants::RingReplica`) that each weaken one ordering of the protocol, which loom must report.
//! Preemption bound: the CI default (`LOOM_MAX_PREEMPTIONS`, else 2).

use std::sync::Arc;

use loom_tests::mutants::TraceRing;
#[cfg(loom)]
use loom_tests::mutants::{RingBug, RingReplica};
use loom_tests::rt::{self, Bound, Outcomes, spawn};
use warden::trace::ring::Ring;
use warden_abi::trace::TraceRecord;

fn record(i: u64) -> TraceRecord {
    TraceRecord {
        timestamp: 1000 + i,
        duration: i as u32,
        id: 7,
        arg: i * 0x1111,
        status: 0,
        kind: 1,
        cpu: 0,
        flags: 0,
        aux: i as u8,
    }
}

/// CPU 0 pushes three records into a two-slot ring while CPU 1 drains once, then a final drain:
/// the drained records are exactly the kept ones, in order; drops are counted and reported.
fn push_vs_drain<R: TraceRing + 'static>(out: &Outcomes, ring: Arc<R>) {
    let (rp, rd) = (ring.clone(), ring.clone());
    let producer = spawn(0, move || {
        (0..3).map(|i| rp.push(record(i))).collect::<Vec<bool>>()
    });
    let drainer = spawn(1, move || {
        let mut got = Vec::new();
        let dropped = rd.drain(&mut got);
        (got, dropped)
    });
    let pushed = producer.join();
    let (mut got, mut reported) = drainer.join();
    let racing = got.len();
    reported += ring.drain(&mut got);
    let kept: Vec<TraceRecord> = (0..3).filter(|&i| pushed[i as usize]).map(record).collect();
    assert_eq!(
        got, kept,
        "drained records are not exactly the pushed ones, in order (pushed: {pushed:?})"
    );
    let drops = pushed.iter().filter(|&&ok| !ok).count() as u64;
    assert_eq!(
        (ring.dropped_total(), reported),
        (drops, drops),
        "drops counted and reported"
    );
    out.saw(&format!("drained {racing} while pushing, dropped {drops}"));
}

/// The control: the real ring under the race the mutants are driven by.
#[test]
fn trace_ring_push_drain_real() {
    let expected = [
        "drained 0 while pushing, dropped 1",
        "drained 1 while pushing, dropped 0",
        "drained 2 while pushing, dropped 1",
    ];
    rt::check(
        "trace_ring_push_drain",
        Bound::default(),
        &expected,
        |out| push_vs_drain(out, Arc::new(Ring::<2>::new())),
    );
}

/// Mutant: the push publishes `head` with a Relaxed store. loom reports the drainer's read of the
/// slot as a causality violation with the producer's write.
#[cfg(loom)]
#[test]
fn trace_ring_mutant_relaxed_publish() {
    let msg = rt::expect_violation("trace_ring/relaxed_publish", Bound::default(), |out| {
        push_vs_drain(out, Arc::new(RingReplica::new(RingBug::RelaxedPublish)));
    });
    assert!(msg.contains("Causality violation"), "{msg}");
}

/// Mutant: the push loads `tail` with a Relaxed load. Once the drainer frees a slot, the producer's
/// next write of it is not ordered after the drainer's read: a causality violation.
#[cfg(loom)]
#[test]
fn trace_ring_mutant_relaxed_tail() {
    let msg = rt::expect_violation("trace_ring/relaxed_tail", Bound::default(), |out| {
        push_vs_drain(out, Arc::new(RingReplica::new(RingBug::RelaxedTail)));
    });
    assert!(msg.contains("Causality violation"), "{msg}");
}
