//! PSCI for Realms: what Warden answers itself, and what it forwards to the Host (a `PSCI` exit,
//! completed for CPU_ON and AFFINITY_INFO by `RMI_PSCI_COMPLETE`).

use warden_abi::fid::psci;
use warden_abi::rec_params::RecMpidr;
use warden_abi::rec_run::RmiRecExitReason;
use warden_abi::status::{PsciAffinityState, PsciReturn};
use warden_abi::version::PSCI_VERSION_1_1;

use super::{Flow, RecRun};
use crate::platform::Machine;
use crate::realm::RealmState;
use crate::rec::{HostExit, PsciRequest, RecInner};

/// The PSCI functions a Realm may use (`PSCI_FEATURES` answers SUCCESS for these).
const SUPPORTED: [u64; 12] = [
    psci::VERSION,
    psci::CPU_SUSPEND_32,
    psci::CPU_SUSPEND_64,
    psci::CPU_OFF,
    psci::CPU_ON_32,
    psci::CPU_ON_64,
    psci::AFFINITY_INFO_32,
    psci::AFFINITY_INFO_64,
    psci::SYSTEM_OFF,
    psci::SYSTEM_RESET,
    psci::FEATURES,
    warden_abi::fid::smccc::VERSION,
];

/// A PSCI exit forwarding the function ID (and, for requests the Host completes, the target).
fn forward(inner: &mut RecInner, fid: u64, target: Option<u64>) -> Flow {
    let mut exit = HostExit::new(RmiRecExitReason::Psci);
    exit.gprs[0] = fid;
    if let Some(t) = target {
        exit.gprs[1] = t;
    }
    super::exit_with(inner, exit)
}

fn set(inner: &mut RecInner, r: u64) -> Flow {
    inner.ctx.gprs[0] = r;
    Flow::Resume
}

impl<M: Machine> RecRun<'_, '_, M> {
    /// Handles PSCI function `fid` (the PC is already past the SMC).
    pub fn psci(&self, fid: u64, inner: &mut RecInner) -> Flow {
        let x = inner.ctx.gprs;
        // SMC32 calls take 32-bit arguments.
        let arg = |i: usize| if fid & 0x4000_0000 == 0 { x[i] & 0xFFFF_FFFF } else { x[i] };
        match fid {
            psci::VERSION => set(inner, PSCI_VERSION_1_1.encode()),
            psci::FEATURES => {
                let queried = x[1] & 0xFFFF_FFFF;
                let ok = SUPPORTED.contains(&queried);
                set(inner, if ok { PsciReturn::Success.to_x0() } else { PsciReturn::NotSupported.to_x0() })
            }
            psci::CPU_SUSPEND_32 | psci::CPU_SUSPEND_64 => {
                inner.ctx.gprs[0] = PsciReturn::Success.to_x0();
                forward(inner, fid, None)
            }
            psci::CPU_OFF => {
                // The REC stops being runnable at this exit; the caller of REC_ENTER applies it.
                inner.ctx.gprs[0] = PsciReturn::Success.to_x0();
                forward(inner, fid, None)
            }
            psci::CPU_ON_32 | psci::CPU_ON_64 => {
                let (target, entry, context_id) = (arg(1), arg(2), arg(3));
                if entry >> (self.realm.config().ipa_width - 1) != 0 {
                    return set(inner, PsciReturn::InvalidAddress.to_x0());
                }
                if !self.mpidr_in_use(target) {
                    return set(inner, PsciReturn::InvalidParameters.to_x0());
                }
                if target == self.rec.mpidr() {
                    return set(inner, PsciReturn::AlreadyOn.to_x0());
                }
                inner.psci_pending = Some(PsciRequest::CpuOn { target, entry, context_id });
                forward(inner, fid, Some(target))
            }
            psci::AFFINITY_INFO_32 | psci::AFFINITY_INFO_64 => {
                let (target, lowest) = (arg(1), arg(2));
                if lowest != 0 || !self.mpidr_in_use(target) {
                    return set(inner, PsciReturn::InvalidParameters.to_x0());
                }
                if target == self.rec.mpidr() {
                    return set(inner, PsciAffinityState::On.to_x0());
                }
                inner.psci_pending = Some(PsciRequest::AffinityInfo { target });
                forward(inner, fid, Some(target))
            }
            psci::SYSTEM_OFF | psci::SYSTEM_RESET => {
                // Only an ACTIVE Realm runs, so this cannot fail.
                let _ = self.realm.transition(RealmState::Active, RealmState::SystemOff);
                forward(inner, fid, None)
            }
            _ => set(inner, PsciReturn::NotSupported.to_x0()),
        }
    }

    /// Whether `mpidr` names a REC of this Realm (one that has been created).
    fn mpidr_in_use(&self, mpidr: u64) -> bool {
        RecMpidr::decode(mpidr).is_some_and(|m| m.rec_index() < self.realm.rec_index())
    }
}
