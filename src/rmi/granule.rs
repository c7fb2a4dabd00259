//! `RMI_GRANULE_DELEGATE` and `RMI_GRANULE_UNDELEGATE`.
//!
//! Each is one claim (a CAS) and one final store: DELEGATE claims an UNDELEGATED granule, asks EL3 to
//! move it to the Realm PAS and commits DELEGATED; UNDELEGATE claims a DELEGATED granule, scrubs it
//! through the Realm PAS, asks EL3 to move it back and commits UNDELEGATED.

use warden_abi::addr::Pa;
use warden_abi::status::RmiStatus;

use crate::granule::GranuleState;
use crate::platform::Machine;
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
        self.machine().gtsi_delegate(pa).map_err(|_| RmiStatus::input())?;
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
        if let Err(e) = self.machine().gtsi_undelegate(pa) {
            panic!("EL3 refused to undelegate DELEGATED granule {pa:?}: {e:?}");
        }
        claim.commit(GranuleState::Undelegated);
        Ok(())
    }
}
