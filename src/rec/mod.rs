//! Realm Execution Contexts: the REC object, who may touch it when, and what a REC exit means.
//!
//! Owns the REC granule's object ([`Rec`]), the REC's architectural state ([`context`]), the pure
//! decoding of Realm traps ([`exit`]) and exception injection ([`inject`]). The RMI commands on RECs
//! live in `rmi::rec`, Realm services in `rsi`.
//!
//! # Who may touch a REC's mutable state
//! A REC's state word moves READY → LOCKED by CAS; whoever moved it owns [`RecInner`] until it
//! stores READY again. LOCKED is short: `RMI_PSCI_COMPLETE` and `RMI_RTT_SET_RIPAS` hold it while
//! they change a REC, and `RMI_REC_ENTER` holds it while it checks the REC, then marks it RUNNING
//! for the Realm's execution (of two CPUs entering one REC, one wins and the other gets
//! `RMI_ERROR_REC`). A command that finds LOCKED waits; one that finds RUNNING fails as the spec
//! says. A REC becomes RUNNING only after every entry check passed, so a REC with a PSCI request
//! pending, or one that is not runnable, is never RUNNING. No lock is held across Realm execution
//! except the REC's own RUNNING state, so RMI calls on other RECs and Realms proceed in parallel.

pub mod context;
pub mod exit;
pub mod inject;
pub mod sysreg;

use warden_abi::addr::Pa;
use warden_abi::rec_params::MAX_REC_AUX_GRANULES;

use crate::granule::{GranuleObject, GranuleState};
use crate::sync::{AtomicU8, Ordering, UnsafeCell, spin_loop};
use context::RecContext;

const READY: u8 = 0;
const RUNNING: u8 = 1;
const LOCKED: u8 = 2;

/// What a REC exit tells the Host, before the common state (GIC, timers) is added: the fields of
/// `RmiRecExit` that depend on the reason. Everything not set is zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostExit {
    /// `exit_reason`.
    pub reason: warden_abi::rec_run::RmiRecExitReason,
    /// `esr` (sanitised).
    pub esr: u64,
    /// `far` (sanitised).
    pub far: u64,
    /// `hpfar`.
    pub hpfar: u64,
    /// `gprs[0..30]`: only the registers the spec lets this exit show.
    pub gprs: [u64; 31],
    /// `ripas_base`.
    pub ripas_base: u64,
    /// `ripas_top`.
    pub ripas_top: u64,
    /// `ripas_value`.
    pub ripas_value: u64,
    /// `imm`.
    pub imm: u64,
}

impl Default for HostExit {
    fn default() -> Self {
        Self::new(warden_abi::rec_run::RmiRecExitReason::Sync)
    }
}

impl HostExit {
    /// An exit with `reason` and every field zero.
    pub const fn new(reason: warden_abi::rec_run::RmiRecExitReason) -> Self {
        Self { reason, esr: 0, far: 0, hpfar: 0, gprs: [0; 31], ripas_base: 0, ripas_top: 0, ripas_value: 0, imm: 0 }
    }

    /// A SYNC exit with the given syndrome registers.
    pub const fn sync(esr: u64, far: u64, hpfar: u64) -> Self {
        let mut e = Self::new(warden_abi::rec_run::RmiRecExitReason::Sync);
        e.esr = esr;
        e.far = far;
        e.hpfar = hpfar;
        e
    }
}

/// The MMIO access an emulatable data abort reported, kept for its completion on the next entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioAbort {
    /// The target register (ISS.SRT; 31 is XZR).
    pub srt: u8,
    /// Access size in bytes (1 << ISS.SAS).
    pub size: u8,
    /// Sign-extend a read (ISS.SSE).
    pub sign_extend: bool,
    /// 64-bit register (ISS.SF); else the result is written as a W register.
    pub sixty_four: bool,
    /// A write (ISS.WnR).
    pub write: bool,
}

/// A PSCI request of the Realm that the Host must complete with `RMI_PSCI_COMPLETE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciRequest {
    /// PSCI_CPU_ON of the REC with this MPIDR, at this entry point, with this context ID.
    CpuOn {
        /// Target MPIDR.
        target: u64,
        /// Entry point (a protected IPA).
        entry: u64,
        /// Context ID for the target's X0.
        context_id: u64,
    },
    /// PSCI_AFFINITY_INFO of the REC with this MPIDR.
    AffinityInfo {
        /// Target MPIDR.
        target: u64,
    },
}

impl PsciRequest {
    /// The MPIDR the request names.
    pub fn target(&self) -> u64 {
        match *self {
            PsciRequest::CpuOn { target, .. } | PsciRequest::AffinityInfo { target } => target,
        }
    }
}

/// A RIPAS change the Realm asked for (`RSI_IPA_STATE_SET`) and the Host is working through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RipasRequest {
    /// Progress: the next IPA to change (`ripas_addr`).
    pub addr: u64,
    /// The end of the requested range (`ripas_top`).
    pub top: u64,
    /// The requested RIPAS (`ripas_value`), raw `RmiRipas` encoding.
    pub value: u8,
    /// Whether DESTROYED entries may be changed.
    pub change_destroyed: bool,
    /// Whether the Realm is waiting for the answer (set by the exit, cleared by the next entry).
    pub pending: bool,
}

/// The part of a REC only its current owner (see the module docs) may touch.
#[derive(Clone, Debug, Default)]
pub struct RecInner {
    /// The REC's CPU state.
    pub ctx: RecContext,
    /// The last exit was an emulatable data abort (`emulatable_abort`).
    pub emulatable_abort: Option<MmioAbort>,
    /// The last exit was a data abort at an unprotected IPA: the faulting virtual address, for an
    /// SEA the Host may ask for (`inject_sea`).
    pub unprotected_abort: Option<u64>,
    /// A PSCI request waiting for `RMI_PSCI_COMPLETE` (`psci_pending`).
    pub psci_pending: Option<PsciRequest>,
    /// A RIPAS change in progress.
    pub ripas: RipasRequest,
    /// The IPA of the `RsiHostCall` of a host call waiting for its results.
    pub host_call: Option<u64>,
    /// The exit being built for the Host (valid when a handler returns `Flow::Exit`).
    pub exit: HostExit,
}

/// A Realm Execution Context: the object in a REC granule.
pub struct Rec {
    owner: Pa,
    index: u64,
    mpidr: u64,
    aux: [Pa; MAX_REC_AUX_GRANULES],
    num_aux: usize,
    state: AtomicU8,
    runnable: AtomicU8,
    inner: UnsafeCell<RecInner>,
}

// SAFETY: Rec is the only type whose STATE is Rec, and it fits in a granule (checked on use).
unsafe impl GranuleObject for Rec {
    const STATE: GranuleState = GranuleState::Rec;
}

// SAFETY: `inner` is only reached through a `RecGuard`, which exists only for the CPU that moved the
// state word away from READY (a CAS), so at most one thread touches it at a time; everything else
// is immutable or atomic.
unsafe impl Sync for Rec {}

/// Why a REC could not be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecRunning;

impl Rec {
    /// A REC of the Realm at `owner`, with its index, MPIDR, aux granules and initial state.
    pub fn new(owner: Pa, index: u64, mpidr: u64, aux: &[Pa], runnable: bool, ctx: RecContext) -> Self {
        let mut list = [Pa(0); MAX_REC_AUX_GRANULES];
        list[..aux.len()].copy_from_slice(aux);
        Self {
            owner,
            index,
            mpidr,
            aux: list,
            num_aux: aux.len(),
            state: AtomicU8::new(READY),
            runnable: AtomicU8::new(u8::from(runnable)),
            inner: UnsafeCell::new(RecInner { ctx, ..RecInner::default() }),
        }
    }

    /// The RD of the Realm the REC belongs to.
    pub fn owner(&self) -> Pa {
        self.owner
    }

    /// The REC's index in its Realm.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The REC's MPIDR.
    pub fn mpidr(&self) -> u64 {
        self.mpidr
    }

    /// The REC's auxiliary granules.
    pub fn aux(&self) -> &[Pa] {
        &self.aux[..self.num_aux]
    }

    /// Whether the REC is eligible for execution.
    pub fn runnable(&self) -> bool {
        self.runnable.load(Ordering::Acquire) != 0
    }

    /// Whether the REC is inside `RMI_REC_ENTER` now (a snapshot).
    pub fn is_running(&self) -> bool {
        self.state.load(Ordering::Acquire) == RUNNING
    }

    /// Takes the REC (READY → LOCKED), waiting while another command holds it LOCKED; fails if it
    /// is RUNNING.
    pub fn lock(&self) -> Result<RecGuard<'_>, RecRunning> {
        loop {
            match self.state.compare_exchange_weak(READY, LOCKED, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => return Ok(RecGuard { rec: self }),
                Err(RUNNING) => return Err(RecRunning),
                // LOCKED (short-lived) or a spurious failure: try again.
                Err(_) => spin_loop(),
            }
        }
    }
}

/// Ownership of a REC's mutable state (see the module docs); released when dropped.
pub struct RecGuard<'r> {
    rec: &'r Rec,
}

impl RecGuard<'_> {
    /// The REC.
    pub fn rec(&self) -> &Rec {
        self.rec
    }

    /// Runs `f` on the REC's mutable state.
    pub fn with<R>(&mut self, f: impl FnOnce(&mut RecInner) -> R) -> R {
        // SAFETY: this guard exists only for the thread that moved the state word away from READY,
        // so no other reference to `inner` exists until the guard drops.
        self.rec.inner.with_mut(|p| f(unsafe { &mut *p }))
    }

    /// Marks the REC RUNNING for the Realm's execution (its entry checks have passed).
    pub fn start_running(&mut self) {
        self.rec.state.store(RUNNING, Ordering::Relaxed);
    }

    /// Makes the REC runnable or not (PSCI CPU_ON / CPU_OFF).
    pub fn set_runnable(&mut self, runnable: bool) {
        self.rec.runnable.store(u8::from(runnable), Ordering::Release);
    }
}

impl Drop for RecGuard<'_> {
    fn drop(&mut self) {
        self.rec.state.store(READY, Ordering::Release);
    }
}
