//! Concurrency stress on one Realm's tables: four CPUs creating, destroying and folding level-3
//! tables and creating/destroying DATA on overlapping IPAs and granules. Afterwards the tables, the
//! granule table and the fake GPT agree: every ASSIGNED entry names a DATA granule named by no
//! other entry, every TABLE entry an RTT granule, and no granule is DATA or RTT without an entry.

mod common;

use std::collections::HashMap;

use common::*;
use warden::arch::host::{HostMachine, Pas};
use warden::granule::GranuleState;
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_abi::status::RmiStatus;

const MIB2: u64 = 2 << 20;
const BLOCKS: u64 = 3;
const PAGES: u64 = 6;
const POOL: u64 = 40;
const OPS: usize = 6000;

fn ipa(block: u64, page: u64) -> u64 {
    0x4000_0000 + block * MIB2 + page * 0x1000
}

#[test]
fn four_cpus_on_one_realms_tables() {
    with_host(|h| {
        h.realm();
        h.rtt_create(0x4000_0000, 2);
        let pool: Vec<u64> = (0..POOL).map(|_| h.fresh()).collect();
        let mut successes = [0u64; 6];
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|cpu| {
                    let pool = &pool;
                    s.spawn(move || {
                        HostMachine::set_cpu(cpu);
                        let mut rng = XorShift(0xDEAD_BEEF_1234_5678 ^ ((cpu as u64 + 1) << 32));
                        let mut ok = [0u64; 6];
                        for _ in 0..OPS {
                            let block = rng.next() % BLOCKS;
                            let page = rng.next() % PAGES;
                            let g = pool[(rng.next() % POOL) as usize];
                            let (op, r) = match rng.next() % 8 {
                                0 => (0, h.call(rmi::RTT_CREATE, &[RD, g, ipa(block, 0), 3])),
                                1 => (1, h.call(rmi::RTT_DESTROY, &[RD, ipa(block, 0), 3])),
                                2 => (2, h.call(rmi::RTT_FOLD, &[RD, ipa(block, 0), 3])),
                                3 | 4 => (3, h.call(rmi::DATA_CREATE_UNKNOWN, &[RD, g, ipa(block, page)])),
                                5 | 6 => (4, h.call(rmi::DATA_DESTROY, &[RD, ipa(block, page)])),
                                _ => (5, h.call(rmi::RTT_INIT_RIPAS, &[RD, ipa(block, page), ipa(block, page + 1)])),
                            };
                            let st = r.status().expect("a status");
                            if st.is_success() {
                                ok[op] += 1;
                            }
                        }
                        ok
                    })
                })
                .collect();
            for hd in handles {
                for (a, b) in successes.iter_mut().zip(hd.join().unwrap()) {
                    *a += b;
                }
            }
        });
        assert!(successes.iter().all(|&n| n > 10), "every command must succeed often: {successes:?}");

        // Walk the tables through READ_ENTRY and count references to every pool granule.
        let mut refs: HashMap<u64, (u32, u32)> = HashMap::new(); // pa → (as DATA, as RTT)
        for block in 0..BLOCKS {
            let (level, state, desc, _) = h.read_entry(ipa(block, 0), 2);
            assert_eq!(level, 2);
            match state {
                2 => {
                    refs.entry(desc).or_default().1 += 1;
                    for i in 0..512 {
                        let (l, st, d, _) = h.read_entry(ipa(block, i), 3);
                        assert_eq!(l, 3);
                        if st == 1 {
                            assert!(i < PAGES, "only the stressed pages can be assigned");
                            refs.entry(d).or_default().0 += 1;
                        }
                    }
                }
                1 => panic!("no block mapping can form: folding needs 512 contiguous DATA granules"),
                _ => {}
            }
        }
        for &g in &pool {
            let state = h.state(g).unwrap();
            let (data_refs, rtt_refs) = refs.get(&g).copied().unwrap_or_default();
            match state {
                GranuleState::Data => assert_eq!((data_refs, rtt_refs), (1, 0), "{g:#x} DATA must be mapped once"),
                GranuleState::Rtt => assert_eq!((data_refs, rtt_refs), (0, 1), "{g:#x} RTT must be linked once"),
                GranuleState::Delegated => assert_eq!((data_refs, rtt_refs), (0, 0), "{g:#x} is free but referenced"),
                other => panic!("{g:#x} in unexpected state {other:?}"),
            }
            assert_eq!(h.m.pas(Pa(g)), Some(Pas::Realm));
        }
        // Everything can be torn down: nothing is stuck.
        for block in 0..BLOCKS {
            for p in 0..PAGES {
                let _ = h.call(rmi::DATA_DESTROY, &[RD, ipa(block, p)]);
            }
            let _ = h.call(rmi::RTT_DESTROY, &[RD, ipa(block, 0), 3]);
        }
        assert_eq!(h.call(rmi::RTT_DESTROY, &[RD, 0x4000_0000, 2]).status(), Some(RmiStatus::SUCCESS));
        assert_eq!(h.status(rmi::REALM_DESTROY, &[RD]), RmiStatus::SUCCESS);
        for &g in &pool {
            assert_eq!(h.status(rmi::GRANULE_UNDELEGATE, &[g]), RmiStatus::SUCCESS);
        }
    });
}
