//! The [`Machine`] trait: everything Warden's logic may ask of the machine.
//!
//! Every method is a narrow, named capability. None hands out a reference into Host (NS) memory:
//! Host memory is only ever copied, through a copy that turns a granule protection fault or an
//! external abort into [`NsAccessFault`]. An address the Host gives is an allegation, never a
//! reference.

use core::ptr::NonNull;

use warden_abi::addr::Pa;

use crate::rec::context::RecContext;
use crate::rec::sysreg::SysregId;

/// A Host-memory access failed: the granule is not in the NS PAS (granule protection fault), not
/// backed by memory (external abort), or the range is not inside one granule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsAccessFault;

/// EL3 refused a granule transition (the EL3 return code it gave).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum El3Error {
    /// `E_RMM_BAD_ADDR`: not a granule EL3 knows.
    BadAddr,
    /// `E_RMM_BAD_PAS`: the granule is not in the PAS the transition starts from.
    BadPas,
    /// Any other code.
    Other(i64),
}

/// A TLB invalidation request for Realm stage-2 translations, broadcast to the inner-shareable
/// domain. Requested before a granule whose mapping was removed or downgraded can be reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlbInvalidation {
    /// Every stage-1 and stage-2 entry tagged with this VMID (`TLBI VMALLS12E1IS` under that VMID).
    Vmid(u16),
    /// Stage-2 entries for one IPA block of `size` bytes under this VMID (`TLBI IPAS2E1IS` + `VMALLE1IS`).
    Ipa {
        /// The VMID whose translations are stale.
        vmid: u16,
        /// The first IPA of the block.
        ipa: u64,
        /// The block size in bytes.
        size: u64,
    },
}

/// How a REC runs: its Realm's stage 2 (VTTBR_EL2/VTCR_EL2 material) and the traps the Host asked
/// for on this entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunConfig {
    /// Address of the first starting-level RTT.
    pub rtt_base: u64,
    /// The Realm's VMID.
    pub vmid: u16,
    /// IPA width in bits (T0SZ = 64 − width).
    pub ipa_width: u8,
    /// Starting level of the RTTs.
    pub start_level: i8,
    /// Trap WFI to the Host (`RmiRecEnter.flags.trap_wfi`).
    pub trap_wfi: bool,
    /// Trap WFE to the Host (`RmiRecEnter.flags.trap_wfe`).
    pub trap_wfe: bool,
    /// The REC's MPIDR (what the Realm reads from MPIDR_EL1).
    pub mpidr: u64,
    /// Address of the REC's first auxiliary granule (zeroed at REC_CREATE): the machine's save area
    /// for the REC's FP/SIMD state, which only the machine reads or writes.
    pub fp_area: u64,
}

/// One hunk of the platform token EL3 gave (`RMM_ATTEST_GET_PLAT_TOKEN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlatformTokenHunk {
    /// Bytes of this hunk (written at the start of the caller's buffer).
    pub len: usize,
    /// Bytes of the token still to come (0: this was the last hunk).
    pub remaining: usize,
}

/// Why the Realm stopped running and Warden got control back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealmTrap {
    /// A synchronous exception to EL2: ESR_EL2, FAR_EL2, HPFAR_EL2 as the hardware reported them.
    Sync {
        /// ESR_EL2.
        esr: u64,
        /// FAR_EL2.
        far: u64,
        /// HPFAR_EL2.
        hpfar: u64,
    },
    /// A physical IRQ.
    Irq,
    /// A physical FIQ.
    Fiq,
    /// An SError, with ESR_EL2.
    SError {
        /// ESR_EL2.
        esr: u64,
    },
}

/// Properties of the machine that decide what Warden can offer Realms (reported by `RMI_FEATURES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineFeatures {
    /// Implemented physical address width in bits (ID_AA64MMFR0_EL1.PARange).
    pub pa_bits: u8,
    /// Hardware VMID width in bits (8 or 16).
    pub vmid_bits: u8,
    /// Number of hardware breakpoints (not minus one).
    pub num_bps: u8,
    /// Number of hardware watchpoints (not minus one).
    pub num_wps: u8,
    /// Number of GICv3 list registers (not minus one).
    pub gicv3_num_lrs: u8,
}

/// What Warden's logic may ask of the machine.
///
/// Implementations must be usable from every CPU at once (`Sync`); none of the methods takes a lock
/// that another method holds across a call back into Warden.
pub trait Machine: Sync {
    /// Asks EL3 to move one granule from the NS PAS to the Realm PAS (`RMM_GTSI_DELEGATE`).
    fn gtsi_delegate(&self, pa: Pa) -> Result<(), El3Error>;

    /// Asks EL3 to move one granule from the Realm PAS to the NS PAS (`RMM_GTSI_UNDELEGATE`).
    fn gtsi_undelegate(&self, pa: Pa) -> Result<(), El3Error>;

    /// Copies `dst.len()` bytes of Host memory at `pa` into `dst`. The range must lie inside one
    /// granule. Never faults: a granule protection fault or abort becomes [`NsAccessFault`].
    fn ns_read(&self, pa: Pa, dst: &mut [u8]) -> Result<(), NsAccessFault>;

    /// Copies `src` into Host memory at `pa`; the same rules as [`Machine::ns_read`].
    fn ns_write(&self, pa: Pa, src: &[u8]) -> Result<(), NsAccessFault>;

    /// The address at which Warden reaches the delegated granule `pa` through the Realm PAS.
    ///
    /// `pa` must be a granule of delegable DRAM that is in the Realm PAS; the caller (only the
    /// granule table) guarantees that. The pointer is valid for `GRANULE_SIZE` bytes and stays valid
    /// for Warden's lifetime; who may use it, and when, is the granule table's business.
    fn realm_granule(&self, pa: Pa) -> NonNull<u8>;

    /// Makes the stores to translation tables made so far visible to hardware table walkers
    /// (`DSB ISHST` on the machine) before a new table or mapping is published to them.
    fn sync_table_writes(&self);

    /// Requests a broadcast TLB invalidation and waits for its completion.
    fn tlb_invalidate(&self, what: TlbInvalidation);

    /// Runs the REC whose state is `ctx` (configured by `run`; `rec` is the REC
    /// granule's address, an identity for the machine) until it traps to EL2, and returns why. On
    /// return `ctx` holds the REC's state at the trap.
    fn run_realm(&self, rec: Pa, ctx: &mut RecContext, run: &RunConfig) -> RealmTrap;

    /// The run loop of one `RMI_REC_ENTER` is over and the REC goes back to the Host: the machine
    /// saves into `ctx` whatever of the REC's state it kept live in hardware across the loop (EL1
    /// system registers, GIC, timers) and gives the hardware back to the Host. Called once after
    /// the last [`Machine::run_realm`] of an entry, before the exit record is built. Between two
    /// `run_realm` calls of one entry, logic may rely only on `gprs`, `pc`, `pstate` and the EL1
    /// registers an exception injection uses (`el1.vbar/esr/far/elr/spsr`) being current in `ctx`.
    fn leave_realm(&self, rec: Pa, ctx: &mut RecContext) {
        let _ = (rec, ctx);
    }

    /// The hardware's value of ID register `reg` (an ID-space register: Op0 3, Op1 0, CRn 0), which
    /// Warden sanitises before a Realm sees it; 0 for registers the machine does not implement.
    fn id_register(&self, reg: SysregId) -> u64;

    /// The index of the calling CPU, below the CPU count EL3 reported at boot.
    fn cpu_id(&self) -> usize;

    /// The machine's free-running counter (`CNTPCT_EL0` on the firmware): the trace's timestamps
    /// and durations. A machine without one (a model) keeps the default, 0.
    #[inline(always)]
    fn counter(&self) -> u64 {
        0
    }

    /// The frequency of [`Machine::counter`] in Hz (`CNTFRQ_EL0`); 0 if there is no counter.
    fn counter_frequency(&self) -> u64 {
        0
    }

    /// The machine's properties.
    fn features(&self) -> MachineFeatures;

    /// EL3's `RMM_ATTEST_GET_REALM_KEY` for P-384: writes the Realm Attestation Key's private
    /// scalar (big-endian) at the start of `buf` and returns its length. A machine without the
    /// service keeps the default (`E_RMM_UNK`).
    fn el3_realm_attest_key(&self, buf: &mut [u8]) -> Result<usize, El3Error> {
        let _ = buf;
        Err(El3Error::Other(-1))
    }

    /// EL3's `RMM_ATTEST_GET_PLAT_TOKEN`: the next hunk of the platform token, written at the start
    /// of `buf` (at most `buf.len()` bytes). The first call of a retrieval passes the challenge EL3
    /// puts in the token (the hash of the RAK's public key); later calls pass `None`. `E_RMM_AGAIN`
    /// is `El3Error::Other(-6)`. A machine without the service keeps the default (`E_RMM_UNK`).
    fn el3_platform_token(&self, challenge: Option<&[u8]>, buf: &mut [u8]) -> Result<PlatformTokenHunk, El3Error> {
        let _ = (challenge, buf);
        Err(El3Error::Other(-1))
    }

    /// Whether a physical IRQ is pending for this CPU (Warden runs with interrupts masked; long
    /// work such as signing polls this between steps and yields to the Host). A machine that
    /// never interrupts Warden keeps the default.
    fn irq_pending(&self) -> bool {
        false
    }
}
