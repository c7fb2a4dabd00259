//! The RMM instance: the state every command shares, and how it is built at boot.
//!
//! Owns the granule table, the VMID allocator and the feature register Warden reports. Built once
//! per machine (on the firmware at cold boot, on the host once per test); every CPU then calls
//! [`Rmm::handle_rmi`] concurrently. This module must never hold a lock across a command.

use warden_abi::features::RmiFeatureRegister0;

use crate::granule::GranuleTable;
use crate::platform::{DramLayout, Machine};
use crate::realm::VmidAllocator;
use crate::sync::AtomicU32;

/// The MAX_RECS_ORDER Warden reports: a Realm may have up to 2^10 − 1 RECs.
pub const MAX_RECS_ORDER: u8 = 10;

/// Warden's state, shared by every CPU.
pub struct Rmm<'a, M: Machine> {
    pub(crate) granules: GranuleTable<'a, M>,
    pub(crate) vmids: VmidAllocator,
    pub(crate) features: RmiFeatureRegister0,
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
        Self { granules: GranuleTable::new(words, layout, machine), vmids: VmidAllocator::new(f.vmid_bits), features }
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
