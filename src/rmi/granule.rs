//! `RMI_GRANULE_DELEGATE` and `RMI_GRANULE_UNDELEGATE`.
//!
//! Each is one claim (a CAS) and one final store: DELEGATE claims an UNDELEGATED granule, asks EL3 to
//! move it to the Realm PAS and commits DELEGATED; UNDELEGATE claims a DELEGATED granule, scrubs it
//! through the Realm PAS, asks EL3 to move it back and commits UNDELEGATED.

use warden_abi::addr::Pa;
use warden_abi::fid::el3;
use warden_abi::status::{El3Status, RmiStatus};

use crate::granule::GranuleState;
use crate::platform::{El3Error, Machine};
use crate::rmm::Rmm;

impl<M: Machine> Rmm<'_, M> {
    /// RMI_GRANULE_DELEGATE: gran_align, gran_bound, gran_state, gran_gpt (all RMI_ERROR_INPUT).
    pub(super) fn granule_delegate(&self, addr: u64) -> Result<(), RmiStatus> {
        let pa = Pa(addr);
        if !pa.is_granule_aligned() {
            return Err(RmiStatus::input()); // gran_align
        }
        // gran_bound (not delegable DRAM) and gran_state (not UNDELEGATED) are both RMI_ERROR_INPUT.
        let claim = self.granules.claim(pa, GranuleState::Undelegated).map_err(|_| RmiStatus::input())?;
        // gran_gpt: EL3 refuses granules that are not in the NS PAS (e.g. Secure); the claim is
        // released unchanged.
        let trace = self.granules.trace();
        let start = trace.start();
        let moved = self.machine().gtsi_delegate(pa);
        trace.el3(start, el3::GTSI_DELEGATE, pa.raw(), el3_code(moved));
        moved.map_err(|_| RmiStatus::input())?;
        claim.commit(GranuleState::Delegated);
        Ok(())
    }

    /// RMI_GRANULE_UNDELEGATE: gran_align, gran_bound, gran_state (all RMI_ERROR_INPUT). The
    /// granule is zeroed before EL3 returns it to the NS PAS.
    pub(super) fn granule_undelegate(&self, addr: u64) -> Result<(), RmiStatus> {
        let pa = Pa(addr);
        if !pa.is_granule_aligned() {
            return Err(RmiStatus::input()); // gran_align
        }
        // gran_bound and gran_state (not DELEGATED): RMI_ERROR_INPUT.
        let mut claim = self.granules.claim(pa, GranuleState::Delegated).map_err(|_| RmiStatus::input())?;
        claim.zero();
        // A DELEGATED granule is in the Realm PAS by construction: EL3 refusing to return it means
        // Warden's view of the GPT is wrong, and continuing could leak a Realm's memory.
        let trace = self.granules.trace();
        let start = trace.start();
        let moved = self.machine().gtsi_undelegate(pa);
        trace.el3(start, el3::GTSI_UNDELEGATE, pa.raw(), el3_code(moved));
        if let Err(e) = moved {
            panic!("EL3 refused to undelegate DELEGATED granule {pa:?}: {e:?}");
        }
        claim.commit(GranuleState::Undelegated);
        Ok(())
    }
}

/// The EL3 return code of a GTSI call, for the trace (0 on success).
#[inline(always)]
fn el3_code(r: Result<(), El3Error>) -> i64 {
    match r {
        Ok(()) => 0,
        Err(El3Error::BadAddr) => El3Status::BadAddr as i64,
        Err(El3Error::BadPas) => El3Status::BadPas as i64,
        Err(El3Error::Other(code)) => code,
    }
}
