//! `RMI_REALM_CREATE`, `RMI_REALM_ACTIVATE`, `RMI_REALM_DESTROY` and `RMI_REC_AUX_COUNT`.
//!
//! REALM_CREATE checks its thirteen failure conditions in the spec's order with plain loads, then
//! acquires: the RD and the starting RTTs (all DELEGATED) are claimed in ascending address order, then
//! the VMID is reserved; only a race can make that phase fail, and it reports RMI_ERROR_INPUT as the
//! corresponding check would. The RD is then written whole and the claims commit.

use warden_abi::addr::{GRANULE_SIZE, Pa};
use warden_abi::realm_params::{RealmParams, RmiRealmFlags, RmiRealmParams};
use warden_abi::rtt::RmiRipas;
use warden_abi::status::RmiStatus;
use zerocopy::{FromZeros, IntoBytes};

use crate::granule::{Claimed, GranuleState, Refused, Shared};
use crate::measure::{Measurements, rim_init};
use crate::platform::{Machine, TlbInvalidation};
use crate::realm::rd::RealmConfig;
use crate::realm::{Rd, RealmState};
use crate::rmm::Rmm;
use crate::rtt::config::{MAX_START_TABLES, rtt_config_is_valid};
use crate::rtt::{RTT_ENTRIES, RttEntry, RttTable};

/// Auxiliary granules every REC of every Realm takes (`RMI_REC_AUX_COUNT`): room for the REC's
/// FP/SIMD/SVE context and attestation working state. Constant for every Realm.
pub const REC_AUX_COUNT: u64 = 4;

/// Smallest IPA width Warden accepts.
pub const MIN_IPA_WIDTH: u8 = 32;

impl<M: Machine> Rmm<'_, M> {
    /// The common `rd_align`, `rd_bound`, `rd_state` checks: a shared reference to the RD.
    pub(crate) fn share_rd(&self, rd: u64) -> Result<Shared<'_, '_, M>, RmiStatus> {
        let rd = Pa(rd);
        if !rd.is_granule_aligned() {
            return Err(RmiStatus::input());
        }
        self.granules.share(rd, GranuleState::Rd).map_err(|_| RmiStatus::input())
    }

    /// `params_supp`: a well-encoded request Warden cannot honour.
    fn params_supported(&self, p: &RealmParams) -> bool {
        let f = &self.features;
        let lpa2 = p.flags.contains(RmiRealmFlags::LPA2);
        let max_ipa = if lpa2 { 52 } else { f.s2sz.min(48) };
        !(p.s2sz < MIN_IPA_WIDTH
            || p.s2sz > max_ipa
            || (lpa2 && !f.lpa2)
            || (p.flags.contains(RmiRealmFlags::SVE) && (!f.sve_en || p.sve_vl > f.sve_vl))
            || (p.flags.contains(RmiRealmFlags::PMU) && (!f.pmu_en || p.pmu_num_ctrs > f.pmu_num_ctrs))
            || p.num_bps > f.num_bps
            || p.num_wps > f.num_wps
            || match p.hash_algo {
                warden_abi::rtt::RmiHashAlgorithm::Sha256 => !f.hash_sha_256,
                warden_abi::rtt::RmiHashAlgorithm::Sha512 => !f.hash_sha_512,
            })
    }

    /// RMI_REALM_CREATE.
    #[inline(never)]
    pub(super) fn realm_create(&self, rd: u64, params_ptr: u64) -> Result<(), RmiStatus> {
        let input = RmiStatus::input();
        let (rd, params_ptr) = (Pa(rd), Pa(params_ptr));
        // 1. params_align, 2. params_bound
        if !params_ptr.is_granule_aligned() || !self.granules.is_delegable(params_ptr) {
            return Err(input);
        }
        // 3. params_pas: the copy faults unless the granule is in the NS PAS.
        let mut raw = RmiRealmParams::new_zeroed();
        self.machine().ns_read(params_ptr, raw.as_mut_bytes()).map_err(|_| input)?;
        // 4. params_valid: encoding (SBZ bits, enumerations), and the reserved value 0 for the
        //    minus-one-encoded breakpoint and watchpoint counts.
        let p = raw.decode().map_err(|_| input)?;
        if p.num_bps == 0 || p.num_wps == 0 {
            return Err(input);
        }
        // 5. params_supp
        if !self.params_supported(&p) {
            return Err(input);
        }
        // 6. alias: rd is one of the starting RTTs.
        let rtt_base = p.rtt_base;
        let num_start = u64::from(p.rtt_num_start);
        if num_start > 0 && rd.raw() >= rtt_base.raw() && (rd.raw() - rtt_base.raw()) / GRANULE_SIZE < num_start {
            return Err(input);
        }
        // 7. rd_align, 8. rd_bound, 9. rd_state
        if !rd.is_granule_aligned() || self.granules.state(rd) != Some(GranuleState::Delegated) {
            return Err(input);
        }
        // 10. rtt_align: aligned to the size of all starting tables together.
        let start_bytes = num_start.checked_mul(GRANULE_SIZE).filter(|&b| b > 0).ok_or(input)?;
        if rtt_base.raw() % start_bytes != 0 {
            return Err(input);
        }
        // 11. rtt_num_level
        let lpa2 = p.flags.contains(RmiRealmFlags::LPA2);
        if !rtt_config_is_valid(p.s2sz, p.rtt_level_start, p.rtt_num_start, lpa2, self.machine().features().pa_bits) {
            return Err(input);
        }
        // 12. rtt_state: every starting table delegable and DELEGATED.
        let rtts = (0..num_start).map(|i| Pa(rtt_base.raw() + i * GRANULE_SIZE));
        if rtts.clone().any(|t| self.granules.state(t) != Some(GranuleState::Delegated)) {
            return Err(input);
        }
        // 13. vmid_valid
        if !self.vmids.in_range(p.vmid) || self.vmids.is_reserved(p.vmid) {
            return Err(input);
        }

        // The RIM is computed before anything is held: claims stay short.
        let measurements = Measurements::new(rim_init(&p));

        // Acquire, in ascending address order (rd is outside the contiguous RTT range).
        let mut tables: arrayvec::ArrayVec<Claimed<'_, '_, M>, { MAX_START_TABLES as usize }> = arrayvec::ArrayVec::new();
        let claim_delegated = |pa: Pa| self.granules.claim(pa, GranuleState::Delegated).map_err(|_| input);
        let rd_first = rd < rtt_base;
        let mut rd_claim = if rd_first { Some(claim_delegated(rd)?) } else { None };
        for t in rtts {
            tables.push(claim_delegated(t)?);
        }
        if rd_claim.is_none() {
            rd_claim = Some(claim_delegated(rd)?);
        }
        let mut rd_claim = rd_claim.ok_or(input)?;
        if !self.vmids.reserve(p.vmid) {
            return Err(input);
        }

        // Commit: starting tables, then the RD.
        let level = p.rtt_level_start as i8;
        let entry_shift = warden_abi::addr::Level::new(level).map_or(0, |l| l.entry_shift());
        let protected_limit = 1u64 << (p.s2sz - 1);
        for (t, claim) in tables.into_iter().enumerate() {
            let first = (t * RTT_ENTRIES) as u64;
            claim.init(RttTable::new(|i| {
                let ipa = (first + i as u64) << entry_shift;
                if ipa < protected_limit { RttEntry::unassigned(RmiRipas::Empty) } else { RttEntry::unassigned_ns() }
            }));
        }
        rd_claim.zero();
        rd_claim.init(Rd::new(
            RealmConfig {
                flags: p.flags,
                ipa_width: p.s2sz,
                sve_vl: p.sve_vl,
                num_bps: p.num_bps,
                num_wps: p.num_wps,
                pmu_num_ctrs: p.pmu_num_ctrs,
                hash_algo: p.hash_algo,
                rpv: p.rpv,
                vmid: p.vmid,
                rtt_base,
                rtt_level_start: level,
                rtt_num_start: p.rtt_num_start,
            },
            measurements,
            self.next_incarnation(),
        ));
        Ok(())
    }

    /// RMI_REALM_ACTIVATE: rd_align, rd_bound, rd_state (INPUT); realm_state (≠ NEW → ERROR_REALM).
    pub(super) fn realm_activate(&self, rd: u64) -> Result<(), RmiStatus> {
        let rd = self.share_rd(rd)?;
        rd.object::<Rd>().transition(RealmState::New, RealmState::Active).map_err(|_| RmiStatus::realm(0))
    }

    /// RMI_REALM_DESTROY: rd_align, rd_bound, rd_state (INPUT); realm_live (ERROR_REALM).
    #[inline(never)]
    pub(super) fn realm_destroy(&self, rd: u64) -> Result<(), RmiStatus> {
        let rd = Pa(rd);
        if !rd.is_granule_aligned() {
            return Err(RmiStatus::input());
        }
        // While one of its RECs runs, the RD is shared for as long as the Realm runs: never wait for
        // that. A Realm with RECs is live anyway; otherwise every sharer is a short command.
        let rd_claim = self
            .granules
            .claim_unless(rd, |realm: &Rd| (realm.num_recs() > 0).then(|| RmiStatus::realm(0))) // realm_live
            .map_err(|e| match e {
                Refused::By(e) => e,
                Refused::Acquire(_) => RmiStatus::input(), // rd_bound, rd_state
            })?;
        let realm = rd_claim.object::<Rd>();
        // realm_live: RECs exist, or a starting RTT has a live entry. The RD is claimed, so nothing
        // can add either while we look.
        let live = realm.num_recs() > 0
            || realm.start_rtts().any(|t| {
                // Starting RTTs are owned by this RD and reachable only through it: under the RD's
                // claim they are in state RTT and nobody holds them.
                let claim = self.granules.claim(t, GranuleState::Rtt).expect("starting RTT not in state RTT");
                claim.object::<RttTable>().is_live(realm.config().rtt_level_start)
            });
        if live {
            return Err(RmiStatus::realm(0));
        }
        let vmid = realm.config().vmid;
        let (rtt_base, num_start) = (realm.config().rtt_base, u64::from(realm.config().rtt_num_start));
        for i in 0..num_start {
            let t = Pa(rtt_base.raw() + i * GRANULE_SIZE);
            let claim = self.granules.claim(t, GranuleState::Rtt).expect("starting RTT not in state RTT");
            claim.retire::<RttTable>(GranuleState::Delegated);
        }
        rd_claim.retire::<Rd>(GranuleState::Delegated);
        // Nothing of this Realm may stay in a TLB once its VMID can be given to another Realm.
        self.machine().tlb_invalidate(TlbInvalidation::Vmid(vmid));
        self.vmids.release(vmid);
        Ok(())
    }

    /// RMI_REC_AUX_COUNT: rd_align, rd_bound, rd_state (INPUT).
    pub(super) fn rec_aux_count(&self, rd: u64) -> Result<u64, RmiStatus> {
        self.share_rd(rd).map(|_| REC_AUX_COUNT)
    }
}
