//! A machine whose EL3 and memory cost nothing: benchmarks of the granule table measure the table.

use std::ptr::NonNull;

use warden::platform::{El3Error, Machine, MachineFeatures, NsAccessFault, RealmTrap, RunConfig, TlbInvalidation};
use warden::rec::context::RecContext;
use warden::rec::sysreg::SysregId;
use warden_abi::addr::Pa;

/// EL3 always agrees; there is no memory (the table benchmarks never touch granule contents).
pub struct NullMachine;

impl Machine for NullMachine {
    fn gtsi_delegate(&self, _: Pa) -> Result<(), El3Error> {
        Ok(())
    }
    fn gtsi_undelegate(&self, _: Pa) -> Result<(), El3Error> {
        Ok(())
    }
    fn ns_read(&self, _: Pa, _: &mut [u8]) -> Result<(), NsAccessFault> {
        Err(NsAccessFault)
    }
    fn ns_write(&self, _: Pa, _: &[u8]) -> Result<(), NsAccessFault> {
        Err(NsAccessFault)
    }
    fn realm_granule(&self, pa: Pa) -> NonNull<u8> {
        panic!("the null machine has no granule memory ({pa:?})")
    }
    fn sync_table_writes(&self) {}
    fn tlb_invalidate(&self, _: TlbInvalidation) {}
    fn run_realm(&self, rec: Pa, _: &mut RecContext, _: &RunConfig) -> RealmTrap {
        panic!("the null machine runs no Realms ({rec:?})")
    }
    fn id_register(&self, _: SysregId) -> u64 {
        0
    }
    fn cpu_id(&self) -> usize {
        0
    }
    /// The time-stamp counter (one `rdtsc`, the host's nearest to an `mrs cntpct_el0`), so trace
    /// benchmarks pay for a real counter read.
    #[inline(always)]
    fn counter(&self) -> u64 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `rdtsc` has no preconditions on x86_64.
        return unsafe { core::arch::x86_64::_rdtsc() };
        #[cfg(not(target_arch = "x86_64"))]
        return std::time::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos() as u64);
    }
    fn features(&self) -> MachineFeatures {
        MachineFeatures { pa_bits: 48, vmid_bits: 16, num_bps: 6, num_wps: 4, gicv3_num_lrs: 4 }
    }
}
