//! The Realm Descriptor: the object in an RD granule.

use warden_abi::addr::Pa;
use warden_abi::realm_params::RmiRealmFlags;
use warden_abi::rtt::RmiHashAlgorithm;

use crate::granule::{GranuleObject, GranuleState};
use crate::lock::SpinLock;
use crate::measure::Measurements;
use crate::sync::{AtomicU8, AtomicU64, Ordering};

/// The lifecycle state of a Realm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RealmState {
    /// Created, not yet activated: the Host may still populate and measure it.
    New = 0,
    /// Activated: RECs may run.
    Active = 1,
    /// A REC called PSCI SYSTEM_OFF or SYSTEM_RESET.
    SystemOff = 2,
}

impl RealmState {
    const fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::New,
            1 => Self::Active,
            _ => Self::SystemOff,
        }
    }
}

/// What REALM_CREATE fixes for the Realm's lifetime.
#[derive(Clone, Debug)]
pub struct RealmConfig {
    /// `flags` of the parameters (LPA2, SVE, PMU).
    pub flags: RmiRealmFlags,
    /// IPA width in bits.
    pub ipa_width: u8,
    /// SVE vector length encoding.
    pub sve_vl: u8,
    /// Breakpoints minus one.
    pub num_bps: u8,
    /// Watchpoints minus one.
    pub num_wps: u8,
    /// PMU counters.
    pub pmu_num_ctrs: u8,
    /// Measurement hash algorithm.
    pub hash_algo: RmiHashAlgorithm,
    /// Realm Personalization Value.
    pub rpv: [u8; 64],
    /// The VMID, reserved in the allocator for as long as the RD lives.
    pub vmid: u16,
    /// Address of the first starting-level RTT.
    pub rtt_base: Pa,
    /// Starting level of the RTTs.
    pub rtt_level_start: i8,
    /// Number of concatenated starting-level RTTs.
    pub rtt_num_start: u32,
}

/// A Realm Descriptor.
pub struct Rd {
    state: AtomicU8,
    config: RealmConfig,
    measurements: SpinLock<Measurements>,
    /// Unique per Realm of this boot (see the walk cache).
    incarnation: u64,
    /// Bumped by every RTT_DESTROY and RTT_FOLD: a per-CPU walk-cache entry filled under an older
    /// generation may name a table that no longer belongs to this Realm.
    rtt_generation: AtomicU64,
    /// The index the next REC_CREATE must use (`rec_index`).
    rec_index: AtomicU64,
    /// How many RECs exist (a Realm with RECs is live).
    num_recs: AtomicU64,
}

// SAFETY: Rd is the only type whose STATE is Rd; it is far smaller than a granule.
unsafe impl GranuleObject for Rd {
    const STATE: GranuleState = GranuleState::Rd;
}

impl Rd {
    /// A new Realm in state NEW; `incarnation` must differ from every other Realm's of this boot.
    pub fn new(config: RealmConfig, measurements: Measurements, incarnation: u64) -> Self {
        Self {
            incarnation,
            state: AtomicU8::new(RealmState::New as u8),
            config,
            measurements: SpinLock::new(measurements),
            rtt_generation: AtomicU64::new(0),
            rec_index: AtomicU64::new(0),
            num_recs: AtomicU64::new(0),
        }
    }

    /// The Realm's state.
    pub fn state(&self) -> RealmState {
        RealmState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Moves the Realm from `from` to `to`; fails (returning the state found) if it was not in `from`.
    pub fn transition(&self, from: RealmState, to: RealmState) -> Result<(), RealmState> {
        self.state
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(RealmState::from_u8)
    }

    /// The fixed configuration.
    pub fn config(&self) -> &RealmConfig {
        &self.config
    }

    /// Runs `f` on the measurements, serialised with every other extension of this Realm.
    pub fn with_measurements<R>(&self, f: impl FnOnce(&mut Measurements) -> R) -> R {
        self.measurements.with(f)
    }

    /// A copy of the measurements.
    pub fn measurements(&self) -> Measurements {
        self.measurements.with(|m| m.clone())
    }

    /// The Realm's incarnation (see the field).
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The RTT generation (see the field).
    pub fn rtt_generation(&self) -> u64 {
        self.rtt_generation.load(Ordering::Acquire)
    }

    /// Starts a new RTT generation: called before a table is unlinked.
    pub fn bump_rtt_generation(&self) {
        self.rtt_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The index the next REC must have.
    pub fn rec_index(&self) -> u64 {
        self.rec_index.load(Ordering::Acquire)
    }

    /// How many RECs the Realm has.
    pub fn num_recs(&self) -> u64 {
        self.num_recs.load(Ordering::Acquire)
    }

    /// Takes REC index `index` for a new REC: succeeds only if it is the next one (`rec_index`).
    pub fn take_rec_index(&self, index: u64) -> bool {
        self.rec_index.compare_exchange(index, index + 1, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Counts a new REC (the RD stays live until it is destroyed).
    pub fn add_rec(&self) {
        self.num_recs.fetch_add(1, Ordering::AcqRel);
    }

    /// Uncounts a destroyed REC.
    pub fn remove_rec(&self) {
        let before = self.num_recs.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(before > 0, "REC count underflow");
    }

    /// The starting-level RTT granules, in address order.
    pub fn start_rtts(&self) -> impl Iterator<Item = Pa> + '_ {
        let base = self.config.rtt_base.raw();
        (0..u64::from(self.config.rtt_num_start)).map(move |i| Pa(base + i * warden_abi::addr::GRANULE_SIZE))
    }
}
