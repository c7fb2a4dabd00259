//! Per-CPU state: the two world contexts, PSCI power state, the RMM boot phase, and global state
//! written once by the primary before the boot gate opens.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use crate::context::{World, WorldContext};
use crate::features::Features;
use crate::platform::CPU_COUNT;

/// PSCI view of a CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Power {
    /// Parked (never started, or CPU_OFF).
    Off = 0,
    /// CPU_ON accepted; warm boot in progress.
    OnPending = 1,
    /// Running NS.
    On = 2,
}

/// What the RMM is doing on a CPU, from the monitor's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RmmPhase {
    /// Not entered on this CPU yet.
    Idle = 0,
    /// Entered for (cold or warm) boot; waiting for `RMM_BOOT_COMPLETE`.
    Booting = 1,
    /// Booted; waiting in its SMC for the next RMI call.
    Ready = 2,
    /// Handling an RMI call forwarded from NS; NS waits for `RMM_RMI_REQ_COMPLETE`.
    InRmi = 3,
}

/// Mutable per-CPU state shared between CPUs (PSCI) — all atomics.
pub struct CpuState {
    power: AtomicU8,
    phase: AtomicU8,
    /// CPU_ON entry point.
    pub entry: AtomicU64,
    /// CPU_ON context id.
    pub context_id: AtomicU64,
    /// Set (release) once `entry`/`context_id` of an accepted CPU_ON are written.
    pub start_ready: AtomicBool,
}

impl CpuState {
    const fn new() -> Self {
        CpuState {
            power: AtomicU8::new(Power::Off as u8),
            phase: AtomicU8::new(RmmPhase::Idle as u8),
            entry: AtomicU64::new(0),
            context_id: AtomicU64::new(0),
            start_ready: AtomicBool::new(false),
        }
    }

    /// The PSCI power state.
    pub fn power(&self) -> Power {
        match self.power.load(Ordering::Acquire) {
            1 => Power::OnPending,
            2 => Power::On,
            _ => Power::Off,
        }
    }

    /// Sets the PSCI power state.
    pub fn set_power(&self, power: Power) {
        self.power.store(power as u8, Ordering::Release);
    }

    /// Off → OnPending, or the current state if it was not Off.
    pub fn try_power_on(&self) -> Result<(), Power> {
        self.power
            .compare_exchange(
                Power::Off as u8,
                Power::OnPending as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|_| ())
            .map_err(|_| self.power())
    }

    /// The RMM phase.
    pub fn phase(&self) -> RmmPhase {
        match self.phase.load(Ordering::Acquire) {
            1 => RmmPhase::Booting,
            2 => RmmPhase::Ready,
            3 => RmmPhase::InRmi,
            _ => RmmPhase::Idle,
        }
    }

    /// Sets the RMM phase.
    pub fn set_phase(&self, phase: RmmPhase) {
        self.phase.store(phase as u8, Ordering::Release);
    }
}

/// PSCI/RMM state of every CPU.
pub static CPUS: [CpuState; CPU_COUNT] = [const { CpuState::new() }; CPU_COUNT];

/// The NS and Realm contexts of each CPU.
struct Contexts(UnsafeCell<[[WorldContext; 2]; CPU_COUNT]>);

// SAFETY: each CPU only accesses its own pair (index = its MPIDR Aff0), from its EL3 handler or boot
// path, which never run concurrently with each other on the same CPU.
unsafe impl Sync for Contexts {}

static CONTEXTS: Contexts = Contexts(UnsafeCell::new(
    [const {
        [
            WorldContext::new(World::NonSecure, 0),
            WorldContext::new(World::Realm, 0),
        ]
    }; CPU_COUNT],
));

/// This CPU's contexts `[NS, Realm]`.
///
/// # Safety
/// `cpu` must be the calling CPU, and the caller must not hold another reference obtained from this
/// function (or the exception entry's context pointer) while using the returned one.
pub unsafe fn contexts(cpu: usize) -> &'static mut [WorldContext; 2] {
    assert!(cpu < CPU_COUNT);
    // SAFETY: per the function contract, this is the only live reference to this CPU's pair.
    unsafe { &mut (*CONTEXTS.0.get())[cpu] }
}

/// Whether the RMM booted (cold boot) successfully; RMI calls get SMC_UNKNOWN otherwise.
pub static RMM_BOOTED: AtomicBool = AtomicBool::new(false);

/// Global monitor configuration, written by the primary before the boot gate opens.
pub struct Config {
    /// CPU features (same on all CPUs).
    pub features: Features,
    /// SCR_EL3 for the NS world.
    pub scr_ns: u64,
    /// SCR_EL3 for the Realm world.
    pub scr_realm: u64,
    /// MDCR_EL3.
    pub mdcr_el3: u64,
    /// CPTR_EL3.
    pub cptr_el3: u64,
}

struct ConfigCell(UnsafeCell<Config>);

// SAFETY: written only by the primary CPU before `BOOT_GATE` opens (release), read-only afterwards
// (secondaries read it only after observing the gate open with acquire).
unsafe impl Sync for ConfigCell {}

static CONFIG: ConfigCell = ConfigCell(UnsafeCell::new(Config {
    features: Features {
        fgt: false,
        ecv: false,
        ecv_poff: false,
        ras: false,
        hcx: false,
        tcr2: false,
        sctlr2: false,
        s1pie: false,
        s2pie: false,
        s1poe: false,
        gcs: false,
        mte2: false,
        mpam: false,
        nv2: false,
        trf: false,
        csv2_2: false,
        sve: false,
        sme: false,
        pauth: false,
    },
    scr_ns: 0,
    scr_realm: 0,
    mdcr_el3: 0,
    cptr_el3: 0,
}));

/// The global configuration.
pub fn config() -> &'static Config {
    // SAFETY: see `ConfigCell`: no writer exists once anyone reads.
    unsafe { &*CONFIG.0.get() }
}

/// Sets the global configuration.
///
/// # Safety
/// Only the primary CPU, before the boot gate opens and before any call to [`config`].
pub unsafe fn set_config(config: Config) {
    // SAFETY: per the function contract there is no other access.
    unsafe { *CONFIG.0.get() = config }
}

/// Counters printed at SYSTEM_OFF.
pub mod stats {
    use core::sync::atomic::AtomicU64;
    /// RMI calls forwarded to the RMM.
    pub static RMI_CALLS: AtomicU64 = AtomicU64::new(0);
    /// Successful GTSI delegations.
    pub static DELEGATES: AtomicU64 = AtomicU64::new(0);
    /// Successful GTSI undelegations.
    pub static UNDELEGATES: AtomicU64 = AtomicU64::new(0);
    /// Failed GTSI calls.
    pub static GTSI_ERRORS: AtomicU64 = AtomicU64::new(0);
}
