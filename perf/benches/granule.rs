//! Granule-table throughput: Warden's lock-free table versus a TF-RMM-style locked table, in one run.
//!
//! * `granule_table/{warden,tfrmm}/{1,2}t-{disjoint,shared}`: DELEGATE+UNDELEGATE transition pairs on
//!   the table alone (EL3 and scrubbing cost nothing here: they are the same for both designs), by 1
//!   or 2 threads, on disjoint granule ranges or on one shared range.
//! * `rmi/delegate_undelegate_pair`: the whole RMI commands on the host model (fake GTSI, 4 KiB scrub).
//!
//! After the measurements, prints the Warden/baseline throughput ratio for every configuration and
//! the table's memory per GiB. Run: `cargo bench -p warden-perf --bench granule`.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use warden::arch::host::HostMachine;
use warden::granule::{GranuleState, GranuleTable};
use warden::platform::{DramBank, DramLayout};
use warden::sync::AtomicU32;
use warden::{Rmm, rmi::RmiReturn};
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_perf::null_machine::NullMachine;
use warden_perf::report::median_ns;
use warden_perf::tfrmm_granule::{BaselineTable, state};

const RANGE: usize = 4096;
const BASE: u64 = 0x8000_0000;

#[derive(Clone, Copy)]
enum Sharing {
    Disjoint,
    Shared,
}

impl Sharing {
    fn name(self) -> &'static str {
        match self {
            Sharing::Disjoint => "disjoint",
            Sharing::Shared => "shared",
        }
    }
    fn first(self, thread: usize) -> usize {
        match self {
            Sharing::Disjoint => thread * RANGE,
            Sharing::Shared => 0,
        }
    }
}

/// Runs `pair(thread, i)` `iters` times on each of `threads` threads, all released together.
fn run_threads(threads: usize, iters: u64, pair: &(dyn Fn(usize, usize) + Sync)) -> Duration {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    for i in 0..iters as usize {
                        pair(t, i % RANGE);
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for h in handles {
            h.join().expect("bench thread");
        }
        start.elapsed()
    })
}

fn granule_table(c: &mut Criterion) {
    let layout = DramLayout::new(&[DramBank { base: BASE, size: (2 * RANGE as u64) << 12 }], 48).unwrap();
    let words: Vec<AtomicU32> = (0..layout.granules()).map(|_| AtomicU32::new(0)).collect();
    let machine = NullMachine;
    let table = GranuleTable::new(&words, layout, &machine);
    let baseline = BaselineTable::new(BASE, 2 * RANGE);

    let mut g = c.benchmark_group("granule_table");
    g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    for threads in [1usize, 2] {
        for sharing in [Sharing::Disjoint, Sharing::Shared] {
            let id = format!("{threads}t-{}", sharing.name());
            g.throughput(Throughput::Elements(threads as u64));
            g.bench_function(format!("warden/{id}"), |b| {
                b.iter_custom(|iters| {
                    run_threads(threads, iters, &|t, i| {
                        let pa = Pa(BASE + ((sharing.first(t) + i) as u64) * 4096);
                        if let Ok(c) = table.claim(pa, GranuleState::Undelegated) {
                            c.commit(GranuleState::Delegated);
                        }
                        if let Ok(c) = table.claim(pa, GranuleState::Delegated) {
                            c.commit(GranuleState::Undelegated);
                        }
                    })
                })
            });
            g.bench_function(format!("tfrmm/{id}"), |b| {
                b.iter_custom(|iters| {
                    run_threads(threads, iters, &|t, i| {
                        let pa = BASE + ((sharing.first(t) + i) as u64) * 4096;
                        baseline.transition(pa, state::NS, state::DELEGATED, || {});
                        baseline.transition(pa, state::DELEGATED, state::NS, || {});
                    })
                })
            });
        }
    }
    g.finish();
}

fn rmi_pair(c: &mut Criterion) {
    let m = HostMachine::small();
    let layout = DramLayout::new(&m.dram_banks(), 48).unwrap();
    let words: Vec<AtomicU32> = (0..layout.granules()).map(|_| AtomicU32::new(0)).collect();
    let rmm = Rmm::new(&m, layout, &words);
    let call = |fid: u64, pa: u64| -> RmiReturn { rmm.handle_rmi(&[fid, pa, 0, 0, 0, 0, 0, 0]) };
    let mut g = c.benchmark_group("rmi");
    g.throughput(Throughput::Elements(1));
    g.bench_function("delegate_undelegate_pair", |b| {
        let mut i = 0u64;
        b.iter(|| {
            let pa = 0x8000_0000 + (i % 1024) * 4096;
            i += 1;
            assert_eq!(call(rmi::GRANULE_DELEGATE, pa).0[0], 0);
            assert_eq!(call(rmi::GRANULE_UNDELEGATE, pa).0[0], 0);
        })
    });
    g.finish();
}

fn report() {
    println!("\n== granule table: Warden vs TF-RMM-style baseline (same run) ==");
    println!("{:<14} {:>16} {:>16} {:>8}", "config", "warden pairs/s", "tfrmm pairs/s", "ratio");
    for id in ["1t-disjoint", "1t-shared", "2t-disjoint", "2t-shared"] {
        let threads: f64 = if id.starts_with('2') { 2.0 } else { 1.0 };
        let (Some(w), Some(b)) =
            (median_ns("granule_table", &format!("warden/{id}")), median_ns("granule_table", &format!("tfrmm/{id}")))
        else {
            println!("{id:<14} (no estimates: run without a filter)");
            continue;
        };
        println!("{id:<14} {:>16.3e} {:>16.3e} {:>7.2}x", threads * 1e9 / w, threads * 1e9 / b, b / w);
    }
    if let Some(r) = median_ns("rmi", "delegate_undelegate_pair") {
        println!("RMI delegate+undelegate pair on the host model: {:.0} ns ({:.3e} pairs/s)", r, 1e9 / r);
    }
    let per_gib = GranuleTable::<NullMachine>::bytes_for((1 << 30) / 4096);
    println!("table memory: {} KiB per GiB of DRAM (baseline: {} KiB)", per_gib / 1024, (1usize << 18) * 2 / 1024);
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    granule_table(&mut c);
    rmi_pair(&mut c);
    c.final_summary();
    report();
}
