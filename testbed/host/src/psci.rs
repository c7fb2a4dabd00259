//! PSCI and SMCCC calls to EL3.

use warden_abi::fid::{psci, smccc};

use crate::smc::smc;

/// `PSCI_VERSION`.
pub fn version() -> u64 {
    smc([psci::VERSION, 0, 0, 0, 0, 0, 0, 0])[0]
}

/// `SMCCC_VERSION`.
pub fn smccc_version() -> u64 {
    smc([smccc::VERSION, 0, 0, 0, 0, 0, 0, 0])[0]
}

/// `PSCI_FEATURES(fid)`.
pub fn features(fid: u64) -> u64 {
    smc([psci::FEATURES, fid, 0, 0, 0, 0, 0, 0])[0]
}

/// `CPU_ON(target_mpidr, entry, context_id)` (SMC64).
pub fn cpu_on(target: u64, entry: u64, context_id: u64) -> u64 {
    smc([psci::CPU_ON_64, target, entry, context_id, 0, 0, 0, 0])[0]
}

/// `AFFINITY_INFO(target_mpidr, level 0)` (SMC64).
pub fn affinity_info(target: u64) -> u64 {
    smc([psci::AFFINITY_INFO_64, target, 0, 0, 0, 0, 0, 0])[0]
}

/// `CPU_OFF`; does not return on success.
pub fn cpu_off() -> u64 {
    smc([psci::CPU_OFF, 0, 0, 0, 0, 0, 0, 0])[0]
}

/// `SYSTEM_OFF`. testbed-el3 ends QEMU with exit status `status` (passed in x1, which PSCI ignores).
pub fn system_off(status: u64) -> ! {
    smc([psci::SYSTEM_OFF, status, 0, 0, 0, 0, 0, 0]);
    loop {
        // SAFETY: WFI only waits for an interrupt.
        unsafe { core::arch::asm!("wfi", options(nomem, nostack)) };
    }
}
