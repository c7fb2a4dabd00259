//! The RMM instance: the state every command shares, and how it is built at boot.
//!
//! Owns the granule table, the VMID allocator and the feature register Warden reports. Built once
//! per machine (on the firmware at cold boot, on the host once per test); every CPU then calls
//! [`Rmm::handle_rmi`] concurrently. This module must never hold a lock across a command.

use warden_abi::features::RmiFeatureRegister0;

use warden_abi::addr::Pa;

use crate::granule::{GranuleState, GranuleTable};
use crate::platform::{DramLayout, Machine};
use crate::realm::{Rd, VmidAllocator};
use crate::rtt::RttTable;
use crate::rtt::walk::{Walk, index_at, rtt_walk};
use crate::rtt::walk_cache::{BLOCK_SHIFT, CachedWalk, WalkCache};
use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// The MAX_RECS_ORDER Warden reports: a Realm may have up to 2^10 − 1 RECs.
pub const MAX_RECS_ORDER: u8 = 10;

/// Warden's state, shared by every CPU.
pub struct Rmm<'a, M: Machine> {
    pub(crate) granules: GranuleTable<'a, M>,
    pub(crate) vmids: VmidAllocator,
    pub(crate) features: RmiFeatureRegister0,
    walk_cache: WalkCache,
    walk_cache_enabled: bool,
    incarnations: AtomicU64,
    /// The attestation material from EL3, fetched on first use (src/attest).
    pub(crate) attest: crate::attest::AttestCache,
}

impl<'a, M: Machine> Rmm<'a, M> {
    /// Builds the RMM over `layout` (the delegable DRAM from the boot manifest), with `words` as the
    /// granule table's storage (one zeroed word per granule; see [`GranuleTable::bytes_for`]).
    pub fn new(machine: &'a M, layout: DramLayout, words: &'a [AtomicU32]) -> Self {
        let f = machine.features();
        let features = RmiFeatureRegister0 {
            s2sz: f.pa_bits.min(48),
            lpa2: false,
            sve_en: false,
            sve_vl: 0,
            num_bps: f.num_bps.saturating_sub(1),
            num_wps: f.num_wps.saturating_sub(1),
            pmu_en: false,
            pmu_num_ctrs: 0,
            hash_sha_256: true,
            hash_sha_512: true,
            gicv3_num_lrs: f.gicv3_num_lrs.saturating_sub(1),
            max_recs_order: MAX_RECS_ORDER,
        };
        Self {
            granules: GranuleTable::new(words, layout, machine),
            vmids: VmidAllocator::new(f.vmid_bits),
            features,
            walk_cache: WalkCache::new(),
            walk_cache_enabled: true,
            incarnations: AtomicU64::new(1),
            attest: crate::attest::AttestCache::new(),
        }
    }

    /// Turns the per-CPU walk cache on or off (on by default; off only to measure what it saves).
    pub fn set_walk_cache(&mut self, enabled: bool) {
        self.walk_cache_enabled = enabled;
    }

    /// A number no other Realm of this boot has had: with the RD's address, it names one Realm.
    pub(crate) fn next_incarnation(&self) -> u64 {
        self.incarnations.fetch_add(1, Ordering::Relaxed)
    }

    /// `rtt_walk` for the Realm whose RD (shared by the caller) is at `rd`, through this CPU's walk
    /// cache when the walk goes to level 3.
    pub(crate) fn walk<'t>(&'t self, rd: Pa, realm: &Rd, ipa: u64, target: i8) -> Walk<'t, 'a, M> {
        if target != 3 || !self.walk_cache_enabled {
            return rtt_walk(&self.granules, realm, ipa, target);
        }
        let trace = self.granules.trace();
        let start = trace.start();
        let cpu = self.machine().cpu_id();
        if let Some(cached) = self.walk_cache.lookup(cpu, rd.raw(), ipa)
            && cached.incarnation == realm.incarnation()
            && let Ok(table) = self.granules.share(Pa(cached.table), GranuleState::Rtt)
            && realm.rtt_generation() == cached.generation
        {
            let index = index_at(ipa, 3);
            let entry = table.object::<RttTable>().entry(index);
            trace.walk(start, true);
            return Walk { level: 3, table, index, entry };
        }
        let generation = realm.rtt_generation();
        let walk = rtt_walk(&self.granules, realm, ipa, 3);
        if walk.level == 3 {
            self.walk_cache.fill(
                cpu,
                CachedWalk {
                    rd: rd.raw(),
                    incarnation: realm.incarnation(),
                    block: ipa >> BLOCK_SHIFT,
                    table: walk.table.pa().raw(),
                    generation,
                },
            );
        }
        trace.walk(start, false);
        walk
    }

    /// The granule table (for observers such as tests and the trace drain).
    pub fn granules(&self) -> &GranuleTable<'a, M> {
        &self.granules
    }

    /// What `RMI_FEATURES(0)` reports.
    pub fn feature_register_0(&self) -> RmiFeatureRegister0 {
        self.features
    }

    /// The machine.
    pub fn machine(&self) -> &'a M {
        self.granules.machine()
    }
}
