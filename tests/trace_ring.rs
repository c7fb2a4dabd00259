//! The per-CPU trace ring (`warden::trace::ring`): wrap-around, drop-newest overflow with counted
//! drops, and a producer racing two drainers on OS threads with no record lost, duplicated or torn
//! except the counted drops. (The ring is a generic data structure, present with or without the
//! `trace` feature; loom-tests/tests/trace.rs explores the same protocol exhaustively.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use warden::trace::Ring;
use warden_abi::trace::TraceRecord;

/// A record whose every field is derived from `seq`, so a torn copy is detectable.
fn rec(seq: u64) -> TraceRecord {
    TraceRecord {
        timestamp: seq,
        duration: (seq as u32).wrapping_mul(7),
        id: !(seq as u32),
        arg: seq.rotate_left(17),
        status: (seq as u32) ^ 0xA5A5_A5A5,
        kind: (seq % 8) as u8 + 1,
        cpu: 3,
        flags: (seq >> 8) as u8,
        aux: (seq >> 16) as u8,
    }
}

fn drain_all<const N: usize>(ring: &Ring<N>) -> (Vec<TraceRecord>, u64) {
    let d = ring.begin_drain();
    let mut out = vec![TraceRecord::ZERO; d.available()];
    let n = d.copy(0, &mut out);
    assert_eq!(n, out.len());
    let dropped = d.dropped_since_last();
    d.consume(n, dropped);
    (out, dropped)
}

#[test]
fn fifo_and_wrap_around() {
    let ring = Ring::<8>::new();
    for s in 0..5 {
        assert!(ring.push(rec(s)));
    }
    let (got, dropped) = drain_all(&ring);
    assert_eq!(got, (0..5).map(rec).collect::<Vec<_>>());
    assert_eq!(dropped, 0);
    // The next 8 records wrap around the end of the slot array.
    for s in 5..13 {
        assert!(ring.push(rec(s)));
    }
    let (got, _) = drain_all(&ring);
    assert_eq!(got, (5..13).map(rec).collect::<Vec<_>>());
    // Many laps: indices are free-running.
    for lap in 0..1000u64 {
        for s in 0..3 {
            assert!(ring.push(rec(lap * 3 + s)));
        }
        let (got, _) = drain_all(&ring);
        assert_eq!(got, (lap * 3..lap * 3 + 3).map(rec).collect::<Vec<_>>());
    }
}

#[test]
fn full_ring_drops_the_newest_and_counts() {
    let ring = Ring::<8>::new();
    for s in 0..11 {
        assert_eq!(ring.push(rec(s)), s < 8, "push {s}");
    }
    assert_eq!(ring.dropped_total(), 3);
    let (got, dropped) = drain_all(&ring);
    assert_eq!(got, (0..8).map(rec).collect::<Vec<_>>(), "the oldest records are kept");
    assert_eq!(dropped, 3);
    // Reported drops are not reported again.
    assert!(ring.push(rec(100)));
    let (got, dropped) = drain_all(&ring);
    assert_eq!((got, dropped), (vec![rec(100)], 0));
}

#[test]
fn partial_drain_leaves_the_rest_and_failed_drain_consumes_nothing() {
    let ring = Ring::<16>::new();
    for s in 0..10 {
        ring.push(rec(s));
    }
    {
        // A drain whose delivery failed: dropped without consuming.
        let d = ring.begin_drain();
        let mut out = [TraceRecord::ZERO; 4];
        assert_eq!(d.copy(0, &mut out), 4);
    }
    let d = ring.begin_drain();
    assert_eq!(d.available(), 10);
    let mut out = [TraceRecord::ZERO; 4];
    assert_eq!(d.copy(2, &mut out), 4);
    assert_eq!(out.to_vec(), (2..6).map(rec).collect::<Vec<_>>(), "copy skips");
    d.consume(6, 0);
    let (got, _) = drain_all(&ring);
    assert_eq!(got, (6..10).map(rec).collect::<Vec<_>>());
}

/// One producer pushes a numbered stream as fast as it can while two drainers race on the same ring
/// with small batches: every record arrives exactly once, intact, in order per drainer, and the
/// records that never arrive are exactly the counted drops.
#[test]
fn concurrent_producer_and_two_drainers() {
    const TOTAL: u64 = 200_000;
    let ring = Arc::new(Ring::<64>::new());
    let done = Arc::new(AtomicBool::new(false));
    let drainers: Vec<_> = (0..2)
        .map(|_| {
            let (ring, done) = (ring.clone(), done.clone());
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut dropped = 0;
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let d = ring.begin_drain();
                    let mut buf = [TraceRecord::ZERO; 5];
                    let n = d.copy(0, &mut buf);
                    let dr = d.dropped_since_last();
                    d.consume(n, dr);
                    dropped += dr;
                    got.extend_from_slice(&buf[..n]);
                    if finished && n == 0 {
                        return (got, dropped);
                    }
                }
            })
        })
        .collect();
    let mut pushed = 0;
    for s in 0..TOTAL {
        if ring.push(rec(s)) {
            pushed += 1;
        }
    }
    done.store(true, Ordering::Release);
    let results: Vec<_> = drainers.into_iter().map(|t| t.join().expect("drainer")).collect();

    let mut seen = vec![false; TOTAL as usize];
    let mut received = 0u64;
    for (got, _) in &results {
        let mut last = None;
        for r in got {
            let s = r.timestamp;
            assert_eq!(*r, rec(s), "torn record");
            assert!(last < Some(s), "out of order within one drainer");
            last = Some(s);
            assert!(!std::mem::replace(&mut seen[s as usize], true), "record {s} delivered twice");
            received += 1;
        }
    }
    let reported: u64 = results.iter().map(|(_, d)| d).sum();
    assert_eq!(received, pushed);
    assert_eq!(reported, TOTAL - pushed, "every missing record is a counted drop");
    assert_eq!(ring.dropped_total(), TOTAL - pushed);
}
