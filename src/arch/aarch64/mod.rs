//! The firmware side of the seam: Warden at R-EL2 on an Arm CCA machine.
//!
//! Owns everything that touches the hardware: the entry point and self-relocation
//! ([`entry`]), cold and warm boot through the RMM ↔ EL3 interface of TF-A v2.12 and the boot
//! manifest v0.3 ([`boot`]), the R-EL2 stage-1 map with the Realm- and NS-PAS aliases of DRAM
//! ([`mmu`]), the exception vectors and fixup table ([`exception`]), the fault-safe Host-memory
//! copy ([`nscopy`]), calls to EL3 ([`smc`]), the PL011 console ([`console`]), the REC switch
//! (entering and leaving Realms, lazy FP, the GIC virtual interface and timers: [`rec_switch`]), and
//! [`FirmwareMachine`], the implementation of [`Machine`] that Warden's logic runs on.
//!
//! Guarantees: the image runs wherever EL3 loads it (4 KiB aligned); a bad boot argument or
//! manifest ends in `RMM_BOOT_COMPLETE` with the interface's error code, never a hang; Host memory
//! is only reached by the fault-safe copy; nothing prints on the RMI path; every fatal condition
//! (panic, unexpected exception) prints and parks the CPU (reporting `UNKNOWN` first if the CPU
//! has not completed its boot).
//!
//! # Memory
//! Warden's region starts at its load address and is 24 MiB − 4 KiB (TF-A's QEMU carve-out), or
//! ends at the shared buffer if that comes first; see [`layout`] for what is in it.

pub mod boot;
pub mod console;
pub mod entry;
pub mod exception;
pub mod layout;
pub mod mmu;
pub mod nscopy;
pub mod rec_switch;
pub mod smc;
pub mod sysreg;

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

use warden_abi::addr::{GRANULE_SIZE, Pa};
use warden_abi::fid::el3;
use warden_abi::status::{BootError, El3Status};

use self::console::wprintln;
use self::layout::MAX_CPUS;
use self::mmu::NS_ALIAS_OFFSET;
use self::sysreg::{dsb_ish, dsb_ishst, isb, read_sysreg, write_sysreg};
use crate::platform::machine::PlatformTokenHunk;
use crate::platform::{
    DramLayout, El3Error, Machine, MachineFeatures, NsAccessFault, RealmTrap, RunConfig,
    TlbInvalidation,
};
use crate::rec::context::RecContext;
use crate::rec::sysreg::{SysregId, id};
use crate::rmm::Rmm;

/// A value built once by the cold-boot CPU and shared by every CPU afterwards, without a lock.
///
/// EL3 starts other CPUs in Warden (warm boots) only after the cold boot's `RMM_BOOT_COMPLETE`,
/// and the cold boot initialises before that; [`BootOnce::get`] on a warm-booting CPU therefore
/// always finds the value (and reports `None` rather than racing, should EL3 ever break that).
pub struct BootOnce<T> {
    ready: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once before `ready` is published (Release) and only shared (`&T`)
// after it is observed (Acquire); `T: Sync` makes sharing it sound.
unsafe impl<T: Sync> Sync for BootOnce<T> {}

impl<T> BootOnce<T> {
    /// Not yet built.
    pub const fn new() -> Self {
        Self {
            ready: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Builds the value in place and publishes it.
    ///
    /// # Safety
    /// Only the cold-boot CPU may call this, once, before any other CPU can call [`BootOnce::get`].
    ///
    /// # Panics
    /// If called twice.
    pub unsafe fn init_with(&self, f: impl FnOnce() -> T) -> &T {
        assert!(
            !self.ready.load(Ordering::Relaxed),
            "BootOnce initialised twice"
        );
        // SAFETY: nobody reads the value before `ready` is set, and only this CPU writes it.
        let v = unsafe { (*self.value.get()).write(f()) };
        self.ready.store(true, Ordering::Release);
        v
    }

    /// The value, once built.
    pub fn get(&self) -> Option<&T> {
        // SAFETY: `ready` is set (Acquire) only after the value was written, and it never changes.
        self.ready
            .load(Ordering::Acquire)
            .then(|| unsafe { (*self.value.get()).assume_init_ref() })
    }
}

impl<T> Default for BootOnce<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The machine, built at cold boot.
pub static MACHINE: BootOnce<FirmwareMachine> = BootOnce::new();
/// The RMM, built at cold boot over [`MACHINE`].
pub static RMM: BootOnce<Rmm<'static, FirmwareMachine>> = BootOnce::new();

/// Up to this many 4 KiB pages a `TlbInvalidation::Ipa` invalidates one by one; a larger block
/// invalidates the whole VMID (cheaper than hundreds of broadcast TLBIs, and always correct).
const MAX_TLBI_PAGES: u64 = 16;

/// [`Machine`] on the real hardware (see the module docs).
pub struct FirmwareMachine {
    features: MachineFeatures,
    dram: DramLayout,
    switch: rec_switch::SwitchConfig,
}

impl FirmwareMachine {
    /// The machine with these features and DRAM banks (as the boot validated them).
    pub fn new(features: MachineFeatures, dram: DramLayout) -> Self {
        let switch = rec_switch::SwitchConfig::read(features.pa_bits, features.vmid_bits);
        Self {
            features,
            dram,
            switch,
        }
    }

    /// The NS-alias VA of `[pa, pa + len)`, if it lies in one granule of DRAM.
    fn ns_alias(&self, pa: Pa, len: usize) -> Result<u64, NsAccessFault> {
        let offset = pa.raw() % GRANULE_SIZE;
        if len as u64 > GRANULE_SIZE - offset || self.dram.index(pa).is_none() {
            return Err(NsAccessFault);
        }
        Ok(pa.raw() + NS_ALIAS_OFFSET)
    }
}

fn el3_result(x0: u64) -> Result<(), El3Error> {
    match El3Status::from_x0(x0) {
        Some(El3Status::Ok) => Ok(()),
        Some(El3Status::BadAddr) => Err(El3Error::BadAddr),
        Some(El3Status::BadPas) => Err(El3Error::BadPas),
        _ => Err(El3Error::Other(x0 as i64)),
    }
}

impl Machine for FirmwareMachine {
    fn gtsi_delegate(&self, pa: Pa) -> Result<(), El3Error> {
        el3_result(smc::call1(el3::GTSI_DELEGATE, pa.raw()))
    }

    fn gtsi_undelegate(&self, pa: Pa) -> Result<(), El3Error> {
        el3_result(smc::call1(el3::GTSI_UNDELEGATE, pa.raw()))
    }

    fn ns_read(&self, pa: Pa, dst: &mut [u8]) -> Result<(), NsAccessFault> {
        let va = self.ns_alias(pa, dst.len())?;
        // SAFETY: `va` is the NS alias of DRAM the boot mapped (checked by `ns_alias`).
        unsafe { nscopy::read(va, dst) }.map_err(|_| NsAccessFault)
    }

    fn ns_write(&self, pa: Pa, src: &[u8]) -> Result<(), NsAccessFault> {
        let va = self.ns_alias(pa, src.len())?;
        // SAFETY: as in `ns_read`.
        unsafe { nscopy::write(va, src) }.map_err(|_| NsAccessFault)
    }

    #[inline]
    fn realm_granule(&self, pa: Pa) -> NonNull<u8> {
        debug_assert!(self.dram.index(pa).is_some(), "realm_granule outside DRAM");
        // The Realm-PAS alias is the identity map; DRAM never starts at 0 (the manifest rules).
        NonNull::new(pa.raw() as *mut u8).expect("granule at PA 0")
    }

    #[inline]
    fn sync_table_writes(&self) {
        dsb_ishst();
    }

    fn tlb_invalidate(&self, what: TlbInvalidation) {
        let vmid = match what {
            TlbInvalidation::Vmid(vmid) | TlbInvalidation::Ipa { vmid, .. } => vmid,
        };
        let saved = read_sysreg!("vttbr_el2");
        // Table updates must be visible to walkers before the invalidation.
        dsb_ishst();
        // SAFETY: VTTBR_EL2 translates only the EL1&0 regime, never Warden's own EL2 accesses (and
        // no Realm runs while Warden does); here it only names the VMID the TLBIs below apply to.
        // Restored before returning, so a Realm live across a run loop keeps its stage 2.
        unsafe { write_sysreg!("vttbr_el2", u64::from(vmid) << 48) };
        isb();
        match what {
            TlbInvalidation::Ipa { ipa, size, .. } if size <= MAX_TLBI_PAGES * GRANULE_SIZE => {
                let mut page = ipa & !(GRANULE_SIZE - 1);
                while page < ipa + size {
                    // SAFETY: the VMID is loaded; completed by the DSB below.
                    unsafe { sysreg::tlbi_ipas2e1is(page) };
                    page += GRANULE_SIZE;
                }
                dsb_ish();
                // SAFETY: as above (combined stage 1+2 entries of that VMID).
                unsafe { sysreg::tlbi_vmalle1is() };
            }
            // SAFETY: as above.
            _ => unsafe { sysreg::tlbi_vmalls12e1is() },
        }
        dsb_ish();
        // SAFETY: restores the value read above.
        unsafe { write_sysreg!("vttbr_el2", saved) };
        isb();
    }

    #[inline]
    fn run_realm(&self, rec: Pa, ctx: &mut RecContext, run: &RunConfig) -> RealmTrap {
        rec_switch::run_realm(&self.switch, rec.raw(), ctx, run)
    }

    fn leave_realm(&self, rec: Pa, ctx: &mut RecContext) {
        rec_switch::leave_realm(&self.switch, rec.raw(), ctx)
    }

    fn id_register(&self, reg: SysregId) -> u64 {
        match reg {
            id::AA64PFR0 => read_sysreg!("id_aa64pfr0_el1"),
            id::AA64PFR1 => read_sysreg!("id_aa64pfr1_el1"),
            id::AA64DFR0 => read_sysreg!("id_aa64dfr0_el1"),
            id::AA64DFR1 => read_sysreg!("id_aa64dfr1_el1"),
            id::AA64ISAR0 => read_sysreg!("id_aa64isar0_el1"),
            id::AA64ISAR1 => read_sysreg!("id_aa64isar1_el1"),
            id::AA64ISAR2 => read_sysreg!("s3_0_c0_c6_2"),
            id::AA64MMFR0 => read_sysreg!("id_aa64mmfr0_el1"),
            id::AA64MMFR1 => read_sysreg!("id_aa64mmfr1_el1"),
            id::AA64MMFR2 => read_sysreg!("id_aa64mmfr2_el1"),
            id::AA64MMFR3 => read_sysreg!("s3_0_c0_c7_3"),
            _ => 0,
        }
    }

    #[inline]
    fn cpu_id(&self) -> usize {
        read_sysreg!("tpidr_el2") as usize
    }

    /// `CNTPCT_EL0`, after an ISB so that the read is not taken early (the trace's timestamps).
    #[inline(always)]
    fn counter(&self) -> u64 {
        isb();
        read_sysreg!("cntpct_el0")
    }

    fn counter_frequency(&self) -> u64 {
        read_sysreg!("cntfrq_el0")
    }

    fn features(&self) -> MachineFeatures {
        self.features
    }

    fn el3_realm_attest_key(&self, buf: &mut [u8]) -> Result<usize, El3Error> {
        let shared = EL3_SHARED_BUFFER.load(Ordering::Acquire);
        if shared == 0 {
            return Err(El3Error::Other(-1));
        }
        let size = buf.len().min(warden_abi::el3::SHARED_BUFFER_SIZE as usize);
        let [x0, x1, _] = smc3(el3::ATTEST_GET_REALM_KEY, shared, size as u64, 0 /* P-384 */);
        el3_result(x0)?;
        let len = (x1 as usize).min(size);
        // SAFETY: the shared buffer is mapped (Realm PAS) for Warden's lifetime, 4 KiB long, and
        // only the CPU filling the attestation cache uses it after boot.
        let src = unsafe { core::slice::from_raw_parts(shared as *const u8, len) };
        buf[..len].copy_from_slice(src);
        // The private key does not stay in the shared page.
        // SAFETY: as above.
        unsafe { core::ptr::write_bytes(shared as *mut u8, 0, len) };
        Ok(len)
    }

    fn el3_platform_token(&self, challenge: Option<&[u8]>, buf: &mut [u8]) -> Result<PlatformTokenHunk, El3Error> {
        let shared = EL3_SHARED_BUFFER.load(Ordering::Acquire);
        if shared == 0 {
            return Err(El3Error::Other(-1));
        }
        let size = buf.len().min(warden_abi::el3::SHARED_BUFFER_SIZE as usize);
        let challenge_len = challenge.map_or(0, <[u8]>::len);
        if let Some(c) = challenge {
            // SAFETY: as in `el3_realm_attest_key`; the challenge is at most 64 bytes.
            unsafe { core::ptr::copy_nonoverlapping(c.as_ptr(), shared as *mut u8, c.len().min(64)) };
        }
        let [x0, x1, x2] = smc3(el3::ATTEST_GET_PLAT_TOKEN, shared, size as u64, challenge_len as u64);
        el3_result(x0)?;
        let len = (x1 as usize).min(size);
        // SAFETY: as in `el3_realm_attest_key`.
        let src = unsafe { core::slice::from_raw_parts(shared as *const u8, len) };
        buf[..len].copy_from_slice(src);
        Ok(PlatformTokenHunk { len, remaining: x2 as usize })
    }

    /// ISR_EL1.I read at EL2: a physical IRQ is pending (Warden runs with PSTATE.I set).
    #[inline]
    fn irq_pending(&self) -> bool {
        read_sysreg!("isr_el1") & (1 << 7) != 0
    }
}

/// PA (identity-mapped, Realm PAS) of the EL3 ↔ RMM shared buffer for the runtime services that
/// need it (attestation); 0 until the cold boot stores x3 here.
pub static EL3_SHARED_BUFFER: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// `SMC` with three arguments, returning x0–x2 (the attestation services).
#[inline]
fn smc3(fid: u64, a1: u64, a2: u64, a3: u64) -> [u64; 3] {
    let (x0, x1, x2): (u64, u64, u64);
    // SAFETY: an EL3 service call; EL3 reads and writes only the shared buffer named in x1 (mapped
    // for Warden's lifetime); the clobber list covers everything SMCCC lets EL3 change.
    unsafe {
        core::arch::asm!(
            "smc #0",
            inout("x0") fid => x0,
            inout("x1") a1 => x1,
            inout("x2") a2 => x2,
            inout("x3") a3 => _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _,
            out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
            out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            options(nostack),
        )
    };
    [x0, x1, x2]
}

/// Parks this CPU for good (DAIF stays masked).
pub fn park() -> ! {
    loop {
        sysreg::wfe();
    }
}

/// The end of every fatal condition: prints `what` with the CPU, reports `RMM_BOOT_COMPLETE
/// (UNKNOWN)` if this CPU has not completed its boot (so EL3 does not wait for ever), and parks.
pub fn fatal(what: core::fmt::Arguments<'_>) -> ! {
    let cpu = read_sysreg!("tpidr_el2") as usize;
    wprintln!("\nwarden: FATAL on CPU {cpu}: {what}");
    // Plain load and store, not a swap: this may run with the MMU off (Device memory).
    if cpu < MAX_CPUS && !boot::BOOT_REPORTED[cpu].load(Ordering::Relaxed) {
        boot::BOOT_REPORTED[cpu].store(true, Ordering::Relaxed);
        let _ = smc::boot_complete(BootError::Unknown);
    }
    park()
}

/// The panic path (called by the binary's `#[panic_handler]`).
pub fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    fatal(format_args!("panic: {info}"))
}
