//! The DATA commands: `RMI_DATA_CREATE`, `RMI_DATA_CREATE_UNKNOWN` and `RMI_DATA_DESTROY`.
//!
//! DATA_CREATE claims the DATA granule, fills it (from the Host through the fault-safe copy, or with
//! zeroes), hashes it if asked — all before touching the RTT — then publishes the mapping with one
//! CAS on the level-3 entry, extends the RIM, and commits the granule. The entry names the granule
//! only once the granule is complete; a DATA_DESTROY that finds the entry waits (`claim_owned`) for
//! the creator's commit. DATA_DESTROY unpublishes first, invalidates the TLB, then zeroes the
//! granule before it returns to DELEGATED: Realm data never outlives its mapping.

use warden_abi::addr::{GRANULE_SIZE, Pa};
use warden_abi::rtt::{RmiDataFlags, RmiRipas};
use warden_abi::status::RmiStatus;

use super::RmiReturn;
use super::rtt::{ipa_in_range, ipa_protected};
use crate::granule::{GranuleState, Shared};
use crate::measure::{hash, rim_extend_data};
use crate::platform::{Machine, TlbInvalidation};
use crate::realm::{Rd, RealmState};
use crate::rmm::Rmm;
use crate::rtt::entry::{EntryKind, RttEntry};

/// What DATA_CREATE puts in the granule.
enum Contents {
    /// A copy of the Host's granule at this address, measured if the flags say so.
    Copy { src: Pa, flags: RmiDataFlags },
    /// Zeroes, unmeasured (DATA_CREATE_UNKNOWN).
    Unknown,
}

impl<M: Machine> Rmm<'_, M> {
    /// RMI_DATA_CREATE.
    pub(super) fn data_create(&self, rd: u64, data: u64, ipa: u64, src: u64, flags: u64) -> Result<(), RmiStatus> {
        let src = Pa(src);
        // 1. src_align, 2. src_bound
        if !src.is_granule_aligned() || !self.granules.is_delegable(src) {
            return Err(RmiStatus::input());
        }
        // 3. src_pas: a one-byte probe through the fault-safe copy answers exactly what the GPT says.
        self.machine().ns_read(src, &mut [0u8; 1]).map_err(|_| RmiStatus::input())?;
        // Flag bits other than `measure` are not part of the ABI: they are ignored (and not measured).
        let flags = RmiDataFlags::from_bits_truncate(flags);
        self.data_create_common(rd, data, ipa, Contents::Copy { src, flags })
    }

    /// RMI_DATA_CREATE_UNKNOWN.
    pub(super) fn data_create_unknown(&self, rd: u64, data: u64, ipa: u64) -> Result<(), RmiStatus> {
        self.data_create_common(rd, data, ipa, Contents::Unknown)
    }

    #[inline(never)]
    fn data_create_common(&self, rd: u64, data: u64, ipa: u64, contents: Contents) -> Result<(), RmiStatus> {
        let input = RmiStatus::input();
        let data = Pa(data);
        // data_align, data_bound, data_state
        if !data.is_granule_aligned() || self.granules.state(data) != Some(GranuleState::Delegated) {
            return Err(input);
        }
        if data.raw() >> 48 != 0 {
            return Err(input); // data_bound2 (no LPA2)
        }
        let rd: Shared<'_, '_, M> = self.share_rd(rd)?; // rd_align, rd_bound, rd_state
        let realm = rd.object::<Rd>();
        // ipa_align, ipa_bound (a protected IPA)
        if !ipa.is_multiple_of(GRANULE_SIZE) || !ipa_in_range(realm, ipa) || !ipa_protected(realm, ipa) {
            return Err(input);
        }
        let measured = matches!(contents, Contents::Copy { .. });
        if measured && realm.state() != RealmState::New {
            return Err(RmiStatus::realm(0)); // realm_state
        }
        let walk = self.walk(rd.pa(), realm, ipa, 3);
        if walk.level < 3 || !matches!(walk.kind(), EntryKind::Unassigned(_)) {
            return Err(RmiStatus::rtt(walk.level)); // rtt_walk, rtte_state
        }

        // Fill the granule while only we can see it.
        let mut claim = self.granules.claim(data, GranuleState::Delegated).map_err(|_| input)?;
        let algo = realm.config().hash_algo;
        let mut measurement = None;
        match contents {
            Contents::Copy { src, flags } => {
                self.machine().ns_read(src, claim.bytes_mut()).map_err(|_| input)?;
                let content = flags.contains(RmiDataFlags::MEASURE).then(|| hash(algo, claim.bytes_mut().as_slice()));
                measurement = Some((flags.bits(), content));
            }
            Contents::Unknown => claim.zero(),
        }

        // Publish: one CAS on the level-3 entry; the RIPAS becomes RAM for DATA_CREATE and stays
        // what it was for DATA_CREATE_UNKNOWN.
        let table = walk.rtt();
        let mut entry = walk.entry;
        self.machine().sync_table_writes();
        loop {
            let EntryKind::Unassigned(ripas) = entry.kind(3) else {
                return Err(RmiStatus::rtt(3)); // another command took the entry first
            };
            let ripas = if measured { RmiRipas::Ram } else { ripas };
            let new = RttEntry::assigned(data.raw(), ripas, 3);
            match table.replace(walk.index, entry, new) {
                Ok(()) => break,
                Err(now) => entry = now,
            }
        }
        if let Some((flags, content)) = measurement {
            realm.with_measurements(|m| {
                let rim = rim_extend_data(algo, m.rim(), ipa, flags, content.as_ref());
                m.set_rim(rim);
            });
        }
        claim.commit(GranuleState::Data);
        Ok(())
    }

    /// RMI_DATA_DESTROY: X1 = the DATA granule (success), X2 = top (success and RMI_ERROR_RTT).
    pub(super) fn data_destroy(&self, rd: u64, ipa: u64) -> RmiReturn {
        let rd = match self.share_rd(rd) {
            Ok(rd) => rd,
            Err(e) => return RmiReturn::err(e),
        };
        let realm = rd.object::<Rd>();
        if !ipa.is_multiple_of(GRANULE_SIZE) || !ipa_in_range(realm, ipa) || !ipa_protected(realm, ipa) {
            return RmiReturn::err(RmiStatus::input()); // ipa_align, ipa_bound
        }
        loop {
            let walk = self.walk(rd.pa(), realm, ipa, 3);
            let (EntryKind::Assigned(data, ripas), 3) = (walk.kind(), walk.level) else {
                let top = walk.rtt().next_live(ipa, walk.index, walk.level);
                return RmiReturn::with(RmiStatus::rtt(walk.level), &[0, top]); // rtt_walk, rtte_state
            };
            let ripas = if ripas == RmiRipas::Ram { RmiRipas::Destroyed } else { ripas };
            if walk.rtt().replace(walk.index, walk.entry, RttEntry::unassigned(ripas)).is_err() {
                continue;
            }
            if walk.entry.is_valid() {
                self.machine().tlb_invalidate(TlbInvalidation::Ipa { vmid: realm.config().vmid, ipa, size: GRANULE_SIZE });
            }
            // The entry named the granule, so it is (or is about to be, by its creator) DATA and
            // nobody else can reach it any more.
            let mut claim = self.granules.claim_owned(Pa(data), GranuleState::Data).expect("ASSIGNED entry names DATA");
            claim.zero();
            claim.commit(GranuleState::Delegated);
            let top = walk.rtt().next_live_after(ipa, walk.index, walk.level);
            return RmiReturn::ok(&[data, top]);
        }
    }
}
