//! Concurrency stress on the host build: four CPUs delegating, undelegating, creating and destroying
//! Realms over one small, overlapping pool of granules and VMIDs. Afterwards every granule's state
//! agrees with the fake GPT and with the count of successful operations, and every live Realm owns
//! exactly its starting RTT and VMID. (The exhaustive proofs are loom's; this is the smoke of it.)

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};

use common::*;
use warden::arch::host::{HostMachine, Pas};
use warden::granule::GranuleState;
use warden::realm::Rd;
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_abi::status::RmiStatus;

const POOL: u64 = DRAM + 0x80_0000;
const POOL_GRANULES: u64 = 24;
const VMIDS: u64 = 6;
const THREADS: usize = 4;
const OPS_PER_THREAD: usize = 20_000;

#[test]
fn four_cpus_over_overlapping_granules() {
    with_host(|h| {
        let delegated: Vec<AtomicI64> = (0..POOL_GRANULES).map(|_| AtomicI64::new(0)).collect();
        let created = AtomicI64::new(0);
        let counts = std::sync::Mutex::new([0u64; 8]);
        std::thread::scope(|s| {
            for cpu in 0..THREADS {
                let (delegated, created, counts) = (&delegated, &created, &counts);
                s.spawn(move || {
                    HostMachine::set_cpu(cpu);
                    // Each CPU's parameters live in its own NS granule outside the pool.
                    let params_pa = DRAM + 0x1_0000 * (cpu as u64 + 1);
                    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ ((cpu as u64 + 1) * 0x1234_5678));
                    let mut local = [0u64; 8];
                    for _ in 0..OPS_PER_THREAD {
                        let g = rng.next() % POOL_GRANULES;
                        let pa = POOL + g * 0x1000;
                        let op = rng.next() % 8;
                        match op {
                            0..=2 => {
                                if h.status(rmi::GRANULE_DELEGATE, &[pa]).is_success() {
                                    delegated[g as usize].fetch_add(1, Ordering::Relaxed);
                                    local[0] += 1;
                                }
                            }
                            3..=4 => {
                                if h.status(rmi::GRANULE_UNDELEGATE, &[pa]).is_success() {
                                    delegated[g as usize].fetch_sub(1, Ordering::Relaxed);
                                    local[1] += 1;
                                }
                            }
                            5..=6 => {
                                let rtt = POOL + (rng.next() % POOL_GRANULES) * 0x1000;
                                let mut p = params(rtt, (rng.next() % VMIDS) as u16);
                                p.s2sz = 39;
                                p.rtt_num_start = 1;
                                h.write_params(params_pa, &p);
                                if h.status(rmi::REALM_CREATE, &[pa, params_pa]).is_success() {
                                    created.fetch_add(1, Ordering::Relaxed);
                                    local[2] += 1;
                                }
                            }
                            _ => {
                                let st = h.status(rmi::REALM_DESTROY, &[pa]);
                                assert!(st == RmiStatus::SUCCESS || st == RmiStatus::input(), "{st:?}");
                                if st.is_success() {
                                    created.fetch_sub(1, Ordering::Relaxed);
                                    local[3] += 1;
                                }
                            }
                        }
                    }
                    let mut c = counts.lock().unwrap();
                    for (a, b) in c.iter_mut().zip(local) {
                        *a += b;
                    }
                });
            }
        });

        let c = counts.lock().unwrap();
        assert!(c[0] > 100 && c[1] > 100 && c[2] > 10 && c[3] > 10, "the storm must exercise every command: {c:?}");

        let mut rds = 0;
        let mut rtts = 0;
        let mut vmids = HashSet::new();
        let mut owned_rtts = HashSet::new();
        for g in 0..POOL_GRANULES {
            let pa = POOL + g * 0x1000;
            let state = h.state(pa).unwrap();
            let pas = h.m.pas(Pa(pa)).unwrap();
            assert_eq!(pas == Pas::NonSecure, state == GranuleState::Undelegated, "{pa:#x}: {state:?} vs GPT {pas:?}");
            let expect_delegated = i64::from(state != GranuleState::Undelegated);
            assert_eq!(delegated[g as usize].load(Ordering::Relaxed), expect_delegated, "{pa:#x} success count");
            match state {
                GranuleState::Rd => {
                    rds += 1;
                    let rd = h.rmm.granules().share(Pa(pa), GranuleState::Rd).unwrap();
                    let realm = rd.object::<Rd>();
                    assert!(vmids.insert(realm.config().vmid), "two live Realms share a VMID");
                    assert!(owned_rtts.insert(realm.config().rtt_base), "two Realms share an RTT");
                    assert_eq!(h.state(realm.config().rtt_base.raw()), Some(GranuleState::Rtt));
                }
                GranuleState::Rtt => rtts += 1,
                _ => {}
            }
        }
        assert_eq!(rds, created.load(Ordering::Relaxed), "RD count vs successful create − destroy");
        assert_eq!(rtts, rds, "every RTT belongs to a live Realm");
        // Every live Realm can be destroyed and every granule returned: nothing is stuck claimed.
        for g in 0..POOL_GRANULES {
            let pa = POOL + g * 0x1000;
            if h.state(pa) == Some(GranuleState::Rd) {
                assert_eq!(h.status(rmi::REALM_DESTROY, &[pa]), RmiStatus::SUCCESS);
            }
        }
        for g in 0..POOL_GRANULES {
            let pa = POOL + g * 0x1000;
            if h.state(pa) == Some(GranuleState::Delegated) {
                assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[pa]), RmiStatus::SUCCESS);
            }
            assert_eq!(h.state(pa), Some(GranuleState::Undelegated));
        }
    });
}
