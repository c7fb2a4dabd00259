//! RTT benchmarks, each with its comparison in the same run:
//!
//! * `populate/{cache,nocache}`: populate a 64 MiB Realm — RTT_CREATE of the level-2 and level-3
//!   tables, RTT_INIT_RIPAS of the whole range, DATA_CREATE (unmeasured) of every 4 KiB page — with
//!   the per-CPU walk cache on and off.
//! * `walk/{cache,nocache}`: the walk part alone: RTT_READ_ENTRY at level 3 of every page of the
//!   populated Realm (a command that is nothing but a walk).
//! * `data_create_2cpu/{warden,realm_lock}`: DATA_CREATE+DATA_DESTROY pairs from two CPUs into one
//!   Realm on disjoint pages of one level-3 table, lock-free versus serialised on a per-Realm lock.
//!
//! Prints the ratios at the end. Run: `cargo bench -p warden-perf --bench rtt`.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use warden::Rmm;
use warden::arch::host::{HostMachine, Pas, RegionSpec};
use warden::platform::DramLayout;
use warden::sync::AtomicU32;
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_abi::realm_params::{RealmParams, RmiRealmFlags};
use warden_abi::rtt::RmiHashAlgorithm;
use warden_perf::realm_lock::RealmLock;
use warden_perf::report::median_ns;
use zerocopy::IntoBytes;

const DRAM: u64 = 0x8000_0000;
const DRAM_SIZE: u64 = 96 << 20;
const PARAMS: u64 = DRAM;
const SRC: u64 = DRAM + 0x1000;
const RD: u64 = DRAM + 0x2000;
const RTT: u64 = DRAM + 0x4000; // two 8 KiB-aligned starting tables
const TABLES: u64 = DRAM + 0x10_0000; // level-2/3 tables
const DATA: u64 = DRAM + (16 << 20); // 64 MiB of DATA granules
const REALM_BYTES: u64 = 64 << 20;
const BASE_IPA: u64 = 0x4000_0000;
const PAGES: u64 = REALM_BYTES / 4096;

fn machine() -> HostMachine {
    HostMachine::new(
        &[RegionSpec { base: DRAM, size: DRAM_SIZE, pas: Pas::NonSecure, delegable: true }],
        HostMachine::default_features(),
    )
}

struct Env<'a> {
    m: &'a HostMachine,
    rmm: Rmm<'a, HostMachine>,
}

impl Env<'_> {
    fn call(&self, fid: u64, args: &[u64]) -> [u64; 5] {
        let mut x = [0u64; 8];
        x[0] = fid;
        x[1..=args.len()].copy_from_slice(args);
        self.rmm.handle_rmi(&x).0
    }
    fn ok(&self, fid: u64, args: &[u64]) -> [u64; 5] {
        let r = self.call(fid, args);
        assert_eq!(r[0], 0, "{fid:#x} {args:x?}");
        r
    }
}

/// Builds a Realm with its starting tables and every granule the benchmarks use delegated.
fn with_env<R>(cache: bool, f: impl FnOnce(&Env<'_>) -> R) -> R {
    let m = machine();
    let layout = DramLayout::new(&m.dram_banks(), 48).unwrap();
    let words: Vec<AtomicU32> = (0..layout.granules()).map(|_| AtomicU32::new(0)).collect();
    let mut rmm = Rmm::new(&m, layout, &words);
    rmm.set_walk_cache(cache);
    let env = Env { m: &m, rmm };
    for pa in [RD, RTT, RTT + 0x1000] {
        env.ok(rmi::GRANULE_DELEGATE, &[pa]);
    }
    for i in 0..64 {
        env.ok(rmi::GRANULE_DELEGATE, &[TABLES + i * 0x1000]);
    }
    for i in 0..PAGES {
        env.ok(rmi::GRANULE_DELEGATE, &[DATA + i * 0x1000]);
    }
    let p = RealmParams {
        flags: RmiRealmFlags::empty(),
        s2sz: 40,
        sve_vl: 0,
        num_bps: 1,
        num_wps: 1,
        pmu_num_ctrs: 0,
        hash_algo: RmiHashAlgorithm::Sha256,
        rpv: [0; 64],
        vmid: 1,
        rtt_base: Pa(RTT),
        rtt_level_start: 1,
        rtt_num_start: 2,
    };
    m.host_write(Pa(PARAMS), p.encode().as_bytes()).unwrap();
    m.host_write(Pa(SRC), &[0x5A; 4096]).unwrap();
    env.ok(rmi::REALM_CREATE, &[RD, PARAMS]);
    f(&env)
}

fn populate(env: &Env<'_>) {
    env.ok(rmi::RTT_CREATE, &[RD, TABLES, BASE_IPA, 2]);
    for t in 0..REALM_BYTES >> 21 {
        env.ok(rmi::RTT_CREATE, &[RD, TABLES + (t + 1) * 0x1000, BASE_IPA + (t << 21), 3]);
    }
    let mut base = BASE_IPA;
    while base < BASE_IPA + REALM_BYTES {
        base = env.ok(rmi::RTT_INIT_RIPAS, &[RD, base, BASE_IPA + REALM_BYTES])[1];
    }
    for i in 0..PAGES {
        env.ok(rmi::DATA_CREATE, &[RD, DATA + i * 0x1000, BASE_IPA + i * 0x1000, SRC, 0]);
    }
}

fn teardown(env: &Env<'_>) {
    for i in 0..PAGES {
        env.ok(rmi::DATA_DESTROY, &[RD, BASE_IPA + i * 0x1000]);
    }
    for t in 0..REALM_BYTES >> 21 {
        env.ok(rmi::RTT_DESTROY, &[RD, BASE_IPA + (t << 21), 3]);
    }
    env.ok(rmi::RTT_DESTROY, &[RD, BASE_IPA, 2]);
    // Fresh RIPAS for the next round: the destroyed range is DESTROYED, INIT_RIPAS accepts it.
}

fn populate_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("populate");
    g.sample_size(10).measurement_time(Duration::from_secs(8)).throughput(Throughput::Elements(PAGES));
    for (name, cache) in [("cache", true), ("nocache", false)] {
        with_env(cache, |env| {
            g.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let t = Instant::now();
                        populate(env);
                        total += t.elapsed();
                        teardown(env);
                    }
                    total
                })
            });
        });
    }
    g.finish();

    let mut g = c.benchmark_group("walk");
    g.throughput(Throughput::Elements(PAGES));
    for (name, cache) in [("cache", true), ("nocache", false)] {
        with_env(cache, |env| {
            populate(env);
            g.bench_function(name, |b| {
                b.iter(|| {
                    for i in 0..PAGES {
                        let r = env.call(rmi::RTT_READ_ENTRY, &[RD, BASE_IPA + i * 0x1000, 3]);
                        assert_eq!(r[1], 3);
                    }
                })
            });
        });
    }
    g.finish();
}

fn data_create_2cpu(c: &mut Criterion) {
    let mut g = c.benchmark_group("data_create_2cpu");
    g.throughput(Throughput::Elements(2));
    with_env(true, |env| {
        populate(env);
        // Each CPU owns half of one level-3 table's pages; it destroys and recreates them.
        let lock = RealmLock::default();
        for (name, locked) in [("warden", false), ("realm_lock", true)] {
            g.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let barrier = Barrier::new(3);
                    std::thread::scope(|s| {
                        for cpu in 0..2u64 {
                            let (barrier, lock) = (&barrier, &lock);
                            s.spawn(move || {
                                HostMachine::set_cpu(cpu as usize);
                                barrier.wait();
                                for i in 0..iters {
                                    let page = cpu * 256 + i % 256;
                                    let ipa = BASE_IPA + page * 0x1000;
                                    let data = DATA + page * 0x1000;
                                    let pair = || {
                                        env.ok(rmi::DATA_DESTROY, &[RD, ipa]);
                                        env.ok(rmi::DATA_CREATE_UNKNOWN, &[RD, data, ipa]);
                                    };
                                    if locked { lock.with(pair) } else { pair() }
                                }
                            });
                        }
                        barrier.wait();
                        let t = Instant::now();
                        // Scope joins both threads before returning.
                        t
                    })
                    .elapsed()
                })
            });
        }
        let _ = env.m;
    });
    g.finish();
}

fn report() {
    println!("\n== RTT benchmarks (same run) ==");
    let pair = |group: &str, a: &str, b: &str, what: &str| match (median_ns(group, a), median_ns(group, b)) {
        (Some(x), Some(y)) => println!("{what:<48} {a}: {:>10.3} ms  {b}: {:>10.3} ms  ratio {:.2}x", x / 1e6, y / 1e6, y / x),
        _ => println!("{what:<48} (no estimates: run without a filter)"),
    };
    pair("populate", "cache", "nocache", "populate 64 MiB (16384 pages), walk cache");
    pair("walk", "cache", "nocache", "RTT_READ_ENTRY L3 x 16384 (the walk), walk cache");
    pair("data_create_2cpu", "warden", "realm_lock", "DATA pairs from 2 CPUs, one Realm (per iteration)");
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    populate_bench(&mut c);
    data_create_2cpu(&mut c);
    c.final_summary();
    report();
}
