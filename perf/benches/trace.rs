//! The trace's cost per event, on the host (see perf/RESULTS.md "Trace" for the aarch64 count).
//!
//! One RMI_VERSION call records exactly one event (its RMI record), so the difference between a
//! call with rings attached and the same call without is the cost of one event: two counter reads
//! (`rdtsc` here, `isb; mrs cntpct_el0` on the firmware), the CPU index, the record stores and the
//! Release publish.
//!
//! * `trace/rmi_version/feature_off`: built without the `trace` feature (the hooks are absent).
//! * `trace/rmi_version/detached`: built with it, no rings attached (one untaken branch per hook).
//! * `trace/rmi_version/attached`: built with it, recording into rings (drained outside the timing).
//! * `trace/ring_push`: `Ring::push` alone.
//!
//! Run both builds, off first (the report reads the other build's saved estimate):
//! `cargo bench -p warden-perf --bench trace && cargo bench -p warden-perf --bench trace --features trace`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use warden::Rmm;
use warden::platform::{DramBank, DramLayout};
use warden::sync::AtomicU32;
use warden_abi::fid::rmi;
use warden_perf::null_machine::NullMachine;
use warden_perf::report::median_ns;

/// Calls per timed batch (below the ring size, so an attached ring never drops).
const BATCH: u64 = 512;

fn rmm_bench(c: &mut Criterion) {
    let m = NullMachine;
    let layout = DramLayout::new(&[DramBank { base: 0x8000_0000, size: 1 << 20 }], 48).unwrap();
    let words: Vec<AtomicU32> = (0..layout.granules()).map(|_| AtomicU32::new(0)).collect();
    #[allow(unused_mut)]
    let mut rmm = Rmm::new(&m, layout, &words);
    let x = [rmi::VERSION, 0x1_0000, 0, 0, 0, 0, 0, 0];
    let mut g = c.benchmark_group("trace");
    let timed = |rmm: &Rmm<'_, NullMachine>, iters: u64, after_batch: &dyn Fn()| {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(BATCH);
            let t = Instant::now();
            for _ in 0..n {
                black_box(rmm.handle_rmi(black_box(&x)));
            }
            total += t.elapsed();
            after_batch();
            left -= n;
        }
        total
    };
    #[cfg(not(feature = "trace"))]
    g.bench_function("rmi_version/feature_off", |b| b.iter_custom(|iters| timed(&rmm, iters, &|| ())));
    #[cfg(feature = "trace")]
    {
        g.bench_function("rmi_version/detached", |b| b.iter_custom(|iters| timed(&rmm, iters, &|| ())));
        let rings = warden::trace::TraceRings::new_boxed();
        rmm.attach_trace(&rings);
        let ring = rings.get(0).expect("CPU 0");
        let drain = || {
            let d = ring.begin_drain();
            let (n, dropped) = (d.available(), d.dropped_since_last());
            assert_eq!(dropped, 0, "the ring overflowed: the benchmark would measure drops");
            d.consume(n, dropped);
        };
        g.bench_function("rmi_version/attached", |b| b.iter_custom(|iters| timed(&rmm, iters, &drain)));
        g.bench_function("ring_push", |b| {
            let r = warden::trace::Ring::<1024>::new();
            let rec = warden_abi::trace::TraceRecord { kind: 1, id: rmi::VERSION as u32, ..Default::default() };
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    let t = Instant::now();
                    for _ in 0..n {
                        black_box(r.push(black_box(rec)));
                    }
                    total += t.elapsed();
                    let d = r.begin_drain();
                    let k = d.available();
                    d.consume(k, 0);
                    left -= n;
                }
                total
            })
        });
    }
    g.finish();
}

fn report() {
    let get = |id: &str| median_ns("trace", id);
    println!("\n== trace: cost of one event (RMI_VERSION records one) ==");
    for id in ["rmi_version/feature_off", "rmi_version/detached", "rmi_version/attached", "ring_push"] {
        match get(id) {
            Some(ns) => println!("{id:<26} {ns:>8.2} ns"),
            None => println!("{id:<26} (not measured: run the other build too)"),
        }
    }
    if let (Some(off), Some(on)) = (get("rmi_version/feature_off"), get("rmi_version/attached")) {
        println!("per event, attached vs feature off: {:+.2} ns ({:.2}x the call)", on - off, on / off);
    }
    if let (Some(det), Some(on)) = (get("rmi_version/detached"), get("rmi_version/attached")) {
        println!("per event, attached vs detached:    {:+.2} ns", on - det);
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    rmm_bench(&mut c);
    c.final_summary();
    report();
}
