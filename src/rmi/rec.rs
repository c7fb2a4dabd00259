//! `RMI_REC_CREATE`, `RMI_REC_DESTROY` and `RMI_REC_AUX_COUNT`'s companions: the REC lifecycle.
//!
//! REC_CREATE checks its sixteen failure conditions in the spec's order with plain loads, computes
//! the REC's measurement, then acquires: the RD shared, the REC and its aux granules (all DELEGATED)
//! claimed in ascending address order, and finally the REC index — taken by CAS inside the RIM lock,
//! so that of two concurrent creates for one index exactly one wins, and RIM extensions follow the
//! index order.

use arrayvec::ArrayVec;
use warden_abi::addr::{GRANULE_SIZE, Pa};
use warden_abi::rec_params::{MAX_REC_AUX_GRANULES, RecMpidr, RmiRecCreateFlags, RmiRecParams};
use warden_abi::status::{PsciAffinityState, PsciReturn, RmiStatus};
use zerocopy::{FromZeros, IntoBytes};

use super::realm::REC_AUX_COUNT;
use crate::granule::{Claimed, GranuleState, Refused};
use crate::measure::{rec_content, rim_extend_rec};
use crate::platform::Machine;
use crate::realm::{Rd, RealmState};
use crate::rec::context::{RecContext, SCTLR_EL1_EE};
use crate::rec::{PsciRequest, Rec};
use crate::rmm::{MAX_RECS_ORDER, Rmm};

impl<M: Machine> Rmm<'_, M> {
    /// RMI_REC_CREATE.
    #[inline(never)]
    pub(super) fn rec_create(&self, rd: u64, rec: u64, params_ptr: u64) -> Result<(), RmiStatus> {
        let input = RmiStatus::input();
        let (rd, rec, params_ptr) = (Pa(rd), Pa(rec), Pa(params_ptr));
        // 1. params_align, 2. params_bound, 3. params_pas (the copy faults unless NS)
        if !params_ptr.is_granule_aligned() || !self.granules.is_delegable(params_ptr) {
            return Err(input);
        }
        let mut raw = RmiRecParams::new_zeroed();
        self.machine().ns_read(params_ptr, raw.as_mut_bytes()).map_err(|_| input)?;
        // 4. rec_align, 5. rec_bound, 6. rec_state
        if !rec.is_granule_aligned() || self.granules.state(rec) != Some(GranuleState::Delegated) {
            return Err(input);
        }
        // 7. rd_align, 8. rd_bound, 9. rd_state
        let rd_ref = self.share_rd(rd.raw())?;
        let realm = rd_ref.object::<Rd>();
        // 10. realm_state
        if realm.state() != RealmState::New {
            return Err(RmiStatus::realm(0));
        }
        // 11. num_recs
        if realm.num_recs() >= (1 << MAX_RECS_ORDER) - 1 {
            return Err(RmiStatus::realm(0));
        }
        // 12. mpidr_index (an MPIDR with SBZ bits set names no REC index).
        let index = realm.rec_index();
        let mpidr = RecMpidr::decode(raw.mpidr).filter(|m| m.rec_index() == index).ok_or(input)?;
        // 13. num_aux
        if raw.num_aux != REC_AUX_COUNT {
            return Err(input);
        }
        let aux: ArrayVec<Pa, MAX_REC_AUX_GRANULES> = raw.aux[..REC_AUX_COUNT as usize].iter().map(|&a| Pa(a)).collect();
        // 14. aux_align
        if aux.iter().any(|a| !a.is_granule_aligned()) {
            return Err(input);
        }
        // 15. aux_alias: duplicates among the aux granules, or one of them is the REC.
        if aux.iter().enumerate().any(|(i, a)| *a == rec || aux[i + 1..].contains(a)) {
            return Err(input);
        }
        // 16. aux_state
        if aux.iter().any(|&a| self.granules.state(a) != Some(GranuleState::Delegated)) {
            return Err(input);
        }

        // Flag bits other than `runnable` are not part of the ABI: ignored, and not measured.
        let flags = RmiRecCreateFlags::from_bits_truncate(raw.flags);
        let runnable = flags.contains(RmiRecCreateFlags::RUNNABLE);
        let algo = realm.config().hash_algo;
        let content = runnable.then(|| rec_content(algo, flags.bits(), raw.pc, &raw.gprs));

        // Acquire the REC and its aux granules in ascending address order.
        let mut order: ArrayVec<Pa, { MAX_REC_AUX_GRANULES + 1 }> = aux.iter().copied().collect();
        order.push(rec);
        order.sort_unstable();
        let mut claims: ArrayVec<Claimed<'_, '_, M>, { MAX_REC_AUX_GRANULES + 1 }> = ArrayVec::new();
        for pa in order {
            claims.push(self.granules.claim(pa, GranuleState::Delegated).map_err(|_| input)?);
        }
        // The index last, with the RIM extension: a concurrent create of the same index loses here.
        let took = realm.with_measurements(|m| {
            if !realm.take_rec_index(index) {
                return false;
            }
            if let Some(content) = content {
                let rim = rim_extend_rec(algo, m.rim(), &content);
                m.set_rim(rim);
            }
            true
        });
        if !took {
            return Err(input); // mpidr_index, against the index another REC_CREATE just took
        }
        realm.add_rec();
        for mut claim in claims {
            if claim.pa() == rec {
                claim.init(Rec::new(rd, index, mpidr.raw(), &aux, runnable, RecContext::reset(raw.pc, &raw.gprs)));
            } else {
                claim.zero();
                claim.commit(GranuleState::RecAux);
            }
        }
        Ok(())
    }

    /// RMI_REC_DESTROY: rec_align, rec_bound, rec_gran_state (INPUT); rec_state (RUNNING → ERROR_REC).
    #[inline(never)]
    pub(super) fn rec_destroy(&self, rec: u64) -> Result<(), RmiStatus> {
        let rec = Pa(rec);
        if !rec.is_granule_aligned() {
            return Err(RmiStatus::input());
        }
        // A REC is shared for as long as it runs: decide from its state, never wait for the run.
        let claim = self
            .granules
            .claim_unless(rec, |r: &Rec| r.is_running().then(RmiStatus::rec)) // rec_state
            .map_err(|e| match e {
                Refused::By(e) => e,
                Refused::Acquire(_) => RmiStatus::input(), // rec_bound, rec_gran_state
            })?;
        // Under the claim nobody can enter or lock the REC (both start with a shared reference).
        let object = claim.object::<Rec>();
        let (owner, aux): (Pa, ArrayVec<Pa, MAX_REC_AUX_GRANULES>) = (object.owner(), object.aux().iter().copied().collect());
        for a in aux {
            let mut c = self.granules.claim_owned(a, GranuleState::RecAux).expect("a REC's aux granule is REC_AUX");
            c.zero();
            c.commit(GranuleState::Delegated);
        }
        claim.retire::<Rec>(GranuleState::Delegated);
        // The REC kept its Realm live, so the RD is still there.
        let rd = self.granules.share(owner, GranuleState::Rd).expect("a REC's owner is an RD");
        rd.object::<Rd>().remove_rec();
        debug_assert_eq!(rec.raw() % GRANULE_SIZE, 0);
        Ok(())
    }
}

impl<M: Machine> Rmm<'_, M> {
    /// RMI_PSCI_COMPLETE: the Host completes a Realm's PSCI_CPU_ON or PSCI_AFFINITY_INFO.
    #[inline(never)]
    pub(super) fn psci_complete(&self, calling: u64, target: u64, status: u64) -> Result<(), RmiStatus> {
        let input = RmiStatus::input();
        let (calling, target) = (Pa(calling), Pa(target));
        if calling == target {
            return Err(input); // alias
        }
        // calling_align, calling_bound, calling_state; target_align, target_bound, target_state
        let share = |pa: Pa| {
            if !pa.is_granule_aligned() {
                return Err(input);
            }
            self.granules.share(pa, GranuleState::Rec).map_err(|_| input)
        };
        let calling_ref = share(calling)?;
        let target_ref = share(target)?;
        let (caller, callee) = (calling_ref.object::<Rec>(), target_ref.object::<Rec>());
        // Lock both RECs, in address order. A RUNNING REC cannot be locked: a RUNNING caller has no
        // request pending (a REC with one is never RUNNING), and a RUNNING target is runnable.
        let (mut caller_lock, mut target_lock) = if calling < target {
            (caller.lock().ok(), callee.lock().ok())
        } else {
            let t = callee.lock().ok();
            (caller.lock().ok(), t)
        };
        let (caller_guard, mut target_guard) = (caller_lock.as_mut(), target_lock.as_mut());
        let Some(caller_guard) = caller_guard else {
            return Err(input); // pending
        };
        let Some(request) = caller_guard.with(|i| i.psci_pending) else {
            return Err(input); // pending
        };
        if caller.owner() != callee.owner() {
            return Err(input); // owner
        }
        if callee.mpidr() != request.target() {
            return Err(input); // target
        }
        // status: SUCCESS always; DENIED only for CPU_ON of a target that is not runnable.
        let status = PsciReturn::from_x0(status);
        let target_runnable = callee.runnable() || target_guard.is_none();
        let result = match (request, status) {
            (_, Some(PsciReturn::Success)) => match request {
                PsciRequest::CpuOn { entry, context_id, .. } => {
                    if target_runnable {
                        PsciReturn::AlreadyOn.to_x0()
                    } else {
                        let tg = target_guard.as_mut().expect("a target that is not runnable is locked");
                        let ee = caller_guard.with(|i| i.ctx.el1.sctlr & SCTLR_EL1_EE);
                        tg.with(|t| {
                            let mut x = [0u64; 8];
                            x[0] = context_id;
                            t.ctx = RecContext::reset(entry, &x);
                            t.ctx.el1.sctlr |= ee;
                        });
                        // The machine keeps the REC's FP/SIMD state in its aux granules: a REC that
                        // is turned on again starts from zero, not from its previous life.
                        for &aux in callee.aux() {
                            let mut c = self.granules.claim_owned(aux, GranuleState::RecAux).expect("a REC's aux granule is REC_AUX");
                            c.zero();
                            c.commit(GranuleState::RecAux);
                        }
                        tg.set_runnable(true);
                        PsciReturn::Success.to_x0()
                    }
                }
                PsciRequest::AffinityInfo { .. } => {
                    if target_runnable { PsciAffinityState::On.to_x0() } else { PsciAffinityState::Off.to_x0() }
                }
            },
            (PsciRequest::CpuOn { .. }, Some(PsciReturn::Denied)) if !target_runnable => PsciReturn::Denied.to_x0(),
            _ => return Err(input), // status
        };
        caller_guard.with(|i| {
            i.ctx.gprs[0] = result;
            i.ctx.gprs[1..4].fill(0);
            i.psci_pending = None;
        });
        Ok(())
    }
}
