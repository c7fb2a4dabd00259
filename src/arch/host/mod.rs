//! The host build of the machine: DRAM as an arena, a fake GPT and a fake EL3.
//!
//! Owns a model faithful enough that every RMI command runs on the host exactly as on the machine:
//! * memory regions, each with a physical base, either delegable DRAM (reported to Warden) or other
//!   memory (Secure, Root) that exists but may never be delegated, and holes (MMIO) with no memory;
//! * a per-granule GPT: an access through the wrong PAS fails as a granule protection fault would
//!   (for Host memory copies, an [`NsAccessFault`]; for Warden's own Realm-PAS accesses, a panic,
//!   since a GPF inside Warden is a fatal bug);
//! * an EL3 that follows the GTSI rules: delegate only NS → Realm, undelegate only Realm → NS;
//! * a record of TLB invalidation requests, and a CPU index per thread.
//!
//! Tests use the extra methods here to play the Host (write params into NS memory, read granules
//! back through the NS PAS). This module must never contain RMM logic.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::boxed::Box;
use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::vec::Vec;

use warden_abi::addr::{GRANULE_SHIFT, GRANULE_SIZE, Pa};

use crate::platform::machine::PlatformTokenHunk;
use crate::platform::{DramBank, El3Error, Machine, MachineFeatures, NsAccessFault, RealmTrap, RunConfig, TlbInvalidation};
use crate::rec::context::RecContext;
use crate::rec::sysreg::SysregId;

/// One step of a scripted Realm CPU: given the REC's state at entry, it does what the Realm would
/// (changes registers, PC, system registers) and says how the Realm traps to EL2.
pub type RealmStep = Box<dyn FnOnce(&mut RecContext, &RunConfig) -> RealmTrap + Send>;

/// The physical address space a granule is in, per the GPT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Pas {
    /// Non-secure: the Host's.
    NonSecure = 0,
    /// Realm.
    Realm = 1,
    /// Secure world.
    Secure = 2,
    /// Root (EL3).
    Root = 3,
}

impl Pas {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::NonSecure,
            1 => Self::Realm,
            2 => Self::Secure,
            _ => Self::Root,
        }
    }
}

/// One region of the host model's physical memory.
#[derive(Clone, Copy, Debug)]
pub struct RegionSpec {
    /// Physical base (granule aligned).
    pub base: u64,
    /// Size in bytes (granule multiple).
    pub size: u64,
    /// The PAS every granule starts in.
    pub pas: Pas,
    /// Whether the region is delegable DRAM reported to Warden.
    pub delegable: bool,
}

struct Region {
    spec: RegionSpec,
    mem: NonNull<u8>,
    gpt: Vec<AtomicU8>,
}

/// The host model of the machine. See the module docs.
pub struct HostMachine {
    regions: Vec<Region>,
    features: MachineFeatures,
    tlbi: Mutex<Vec<TlbInvalidation>>,
    scripts: Mutex<HashMap<u64, VecDeque<RealmStep>>>,
    id_registers: Mutex<HashMap<SysregId, u64>>,
    attest: Mutex<HostAttest>,
    irqs: Mutex<IrqScript>,
}

/// The host EL3's attestation services: the TEST RAK and a TEST platform token signed with the TEST
/// IAK for whatever challenge Warden sends (see `attest::test_keys`).
struct HostAttest {
    /// Whether EL3 offers the services at all (else `E_RMM_UNK`).
    available: bool,
    /// The largest hunk EL3 hands out per call (the shared buffer's size on the machine).
    hunk: usize,
    /// `E_RMM_AGAIN` answers still to give before serving the next platform-token call.
    again: u32,
    /// The platform token being retrieved, and how much of it was handed out.
    retrieval: Option<(Vec<u8>, usize)>,
    /// Calls to each service: (realm key, platform token).
    calls: (u32, u32),
}

/// The scripted answers to `irq_pending`: for each poll, in order; `false` once the script is
/// used up.
#[derive(Default)]
struct IrqScript {
    answers: VecDeque<bool>,
    polls: u64,
}

// SAFETY: the arena is plain memory shared between CPUs exactly as DRAM is; who may access which
// granule is decided by the GPT (atomics) and, inside Warden, by the granule table.
unsafe impl Sync for HostMachine {}
// SAFETY: as above; the raw pointers are owned allocations freed only in Drop.
unsafe impl Send for HostMachine {}

std::thread_local! {
    static CPU_ID: Cell<usize> = const { Cell::new(0) };
}

impl HostMachine {
    /// A machine with the given regions and features. Regions must not overlap.
    pub fn new(regions: &[RegionSpec], features: MachineFeatures) -> Self {
        let regions = regions
            .iter()
            .map(|&spec| {
                assert!(spec.base % GRANULE_SIZE == 0 && spec.size % GRANULE_SIZE == 0 && spec.size > 0);
                let layout = Layout::from_size_align(spec.size as usize, GRANULE_SIZE as usize).expect("region layout");
                // SAFETY: the layout has a non-zero size.
                let mem = NonNull::new(unsafe { alloc_zeroed(layout) }).expect("out of memory for the host arena");
                let gpt = (0..spec.size >> GRANULE_SHIFT).map(|_| AtomicU8::new(spec.pas as u8)).collect();
                Region { spec, mem, gpt }
            })
            .collect();
        Self {
            regions,
            features,
            tlbi: Mutex::new(Vec::new()),
            scripts: Mutex::new(HashMap::new()),
            id_registers: Mutex::new(HashMap::new()),
            attest: Mutex::new(HostAttest { available: true, hunk: GRANULE_SIZE as usize, again: 0, retrieval: None, calls: (0, 0) }),
            irqs: Mutex::new(IrqScript::default()),
        }
    }

    /// A typical small machine: 16 MiB of delegable DRAM at 0x8000_0000, a Secure region at
    /// 0x0E10_0000, a Root region at 0x0E00_0000, MMIO (no memory) elsewhere; 48-bit PAs, 16-bit VMIDs.
    pub fn small() -> Self {
        Self::new(
            &[
                RegionSpec { base: 0x0E00_0000, size: 0x1_0000, pas: Pas::Root, delegable: false },
                RegionSpec { base: 0x0E10_0000, size: 0x1_0000, pas: Pas::Secure, delegable: false },
                RegionSpec { base: 0x8000_0000, size: 16 << 20, pas: Pas::NonSecure, delegable: true },
            ],
            Self::default_features(),
        )
    }

    /// Features of a QEMU `max`-like CPU.
    pub fn default_features() -> MachineFeatures {
        MachineFeatures { pa_bits: 48, vmid_bits: 16, num_bps: 6, num_wps: 4, gicv3_num_lrs: 4 }
    }

    /// The delegable DRAM banks, as EL3 would report them in the boot manifest.
    pub fn dram_banks(&self) -> Vec<DramBank> {
        self.regions
            .iter()
            .filter(|r| r.spec.delegable)
            .map(|r| DramBank { base: r.spec.base, size: r.spec.size })
            .collect()
    }

    /// Runs the calling thread as CPU `id` from now on.
    pub fn set_cpu(id: usize) {
        CPU_ID.with(|c| c.set(id));
    }

    fn locate(&self, pa: u64) -> Option<(&Region, usize)> {
        self.regions
            .iter()
            .find(|r| pa >= r.spec.base && pa - r.spec.base < r.spec.size)
            .map(|r| (r, ((pa - r.spec.base) >> GRANULE_SHIFT) as usize))
    }

    /// The GPT entry of the granule containing `pa`, or `None` where no memory is (MMIO, holes).
    pub fn pas(&self, pa: Pa) -> Option<Pas> {
        self.locate(pa.raw()).map(|(r, i)| Pas::from_u8(r.gpt[i].load(Ordering::Acquire)))
    }

    /// Test hook: force the GPT entry of a granule (to place a Secure or Root granule in DRAM).
    pub fn set_pas(&self, pa: Pa, pas: Pas) {
        let (r, i) = self.locate(pa.raw()).expect("no memory at that address");
        r.gpt[i].store(pas as u8, Ordering::Release);
    }

    fn ns_range(&self, pa: Pa, len: usize) -> Result<*mut u8, NsAccessFault> {
        let off = pa.raw() % GRANULE_SIZE;
        if len as u64 > GRANULE_SIZE - off {
            return Err(NsAccessFault);
        }
        let (r, i) = self.locate(pa.raw()).ok_or(NsAccessFault)?;
        if Pas::from_u8(r.gpt[i].load(Ordering::Acquire)) != Pas::NonSecure {
            return Err(NsAccessFault);
        }
        // SAFETY: pa lies inside the region, so the offset is inside its allocation.
        Ok(unsafe { r.mem.as_ptr().add((pa.raw() - r.spec.base) as usize) })
    }

    /// The Host writes its own memory (through the NS PAS): fails like a GPF on non-NS granules.
    pub fn host_write(&self, pa: Pa, src: &[u8]) -> Result<(), NsAccessFault> {
        self.ns_write(pa, src)
    }

    /// The Host reads its own memory (through the NS PAS): fails like a GPF on non-NS granules.
    pub fn host_read(&self, pa: Pa, dst: &mut [u8]) -> Result<(), NsAccessFault> {
        self.ns_read(pa, dst)
    }

    /// Appends a step to the script of the REC at `rec`: the next time Warden runs that REC, the
    /// Realm "executes" `step`.
    pub fn script(&self, rec: Pa, step: impl FnOnce(&mut RecContext, &RunConfig) -> RealmTrap + Send + 'static) {
        self.scripts.lock().expect("scripts poisoned").entry(rec.raw()).or_default().push_back(Box::new(step));
    }

    /// Sets the hardware value of an ID register (all read as zero until set).
    pub fn set_id_register(&self, reg: SysregId, value: u64) {
        self.id_registers.lock().expect("id registers poisoned").insert(reg, value);
    }

    /// Steps of `rec`'s script not yet run.
    pub fn script_left(&self, rec: Pa) -> usize {
        self.scripts.lock().expect("scripts poisoned").get(&rec.raw()).map_or(0, VecDeque::len)
    }

    /// Makes EL3's attestation services available (the default) or answer `E_RMM_UNK`.
    pub fn set_attestation_available(&self, available: bool) {
        self.attest.lock().expect("attest poisoned").available = available;
    }

    /// Sets the largest platform-token hunk EL3 hands out per call (default 4 KiB), and how many
    /// `E_RMM_AGAIN` answers it gives before serving.
    pub fn set_platform_token_hunks(&self, hunk: usize, again: u32) {
        let mut a = self.attest.lock().expect("attest poisoned");
        a.hunk = hunk.max(1);
        a.again = again;
    }

    /// Calls Warden made to the attestation services: (RMM_ATTEST_GET_REALM_KEY,
    /// RMM_ATTEST_GET_PLAT_TOKEN).
    pub fn attestation_calls(&self) -> (u32, u32) {
        self.attest.lock().expect("attest poisoned").calls
    }

    /// Scripts the answers of the next polls of [`Machine::irq_pending`], in order (after the
    /// script, no IRQ is pending).
    pub fn script_irqs(&self, answers: impl IntoIterator<Item = bool>) {
        self.irqs.lock().expect("irqs poisoned").answers.extend(answers);
    }

    /// How many times Warden polled for a pending IRQ so far.
    pub fn irq_polls(&self) -> u64 {
        self.irqs.lock().expect("irqs poisoned").polls
    }

    /// The TLB invalidations requested so far, oldest first; clears the record.
    pub fn take_tlb_invalidations(&self) -> Vec<TlbInvalidation> {
        core::mem::take(&mut *self.tlbi.lock().expect("tlbi record poisoned"))
    }
}

impl Drop for HostMachine {
    fn drop(&mut self) {
        for r in &self.regions {
            let layout = Layout::from_size_align(r.spec.size as usize, GRANULE_SIZE as usize).expect("region layout");
            // SAFETY: allocated in `new` with this layout, freed once.
            unsafe { dealloc(r.mem.as_ptr(), layout) };
        }
    }
}

impl Machine for HostMachine {
    fn gtsi_delegate(&self, pa: Pa) -> Result<(), El3Error> {
        let (r, i) = self.locate(pa.raw()).filter(|_| pa.is_granule_aligned()).ok_or(El3Error::BadAddr)?;
        r.gpt[i]
            .compare_exchange(Pas::NonSecure as u8, Pas::Realm as u8, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(|_| El3Error::BadPas)
    }

    fn gtsi_undelegate(&self, pa: Pa) -> Result<(), El3Error> {
        let (r, i) = self.locate(pa.raw()).filter(|_| pa.is_granule_aligned()).ok_or(El3Error::BadAddr)?;
        r.gpt[i]
            .compare_exchange(Pas::Realm as u8, Pas::NonSecure as u8, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(|_| El3Error::BadPas)
    }

    fn ns_read(&self, pa: Pa, dst: &mut [u8]) -> Result<(), NsAccessFault> {
        let src = self.ns_range(pa, dst.len())?;
        // SAFETY: `ns_range` checked the range is inside one NS granule of the arena; `dst` is
        // Warden's own buffer and cannot overlap the arena.
        unsafe { core::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    fn ns_write(&self, pa: Pa, src: &[u8]) -> Result<(), NsAccessFault> {
        let dst = self.ns_range(pa, src.len())?;
        // SAFETY: as in `ns_read`.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        Ok(())
    }

    fn realm_granule(&self, pa: Pa) -> NonNull<u8> {
        let (r, _) = self.locate(pa.raw()).expect("Warden touched a granule with no memory");
        assert_eq!(self.pas(pa), Some(Pas::Realm), "granule protection fault inside Warden at {pa:?}");
        // SAFETY: pa lies inside the region's allocation (located above).
        unsafe { r.mem.add((pa.raw() - r.spec.base) as usize) }
    }

    fn sync_table_writes(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
    }

    fn tlb_invalidate(&self, what: TlbInvalidation) {
        self.tlbi.lock().expect("tlbi record poisoned").push(what);
    }

    fn run_realm(&self, rec: Pa, ctx: &mut RecContext, run: &RunConfig) -> RealmTrap {
        let step = self
            .scripts
            .lock()
            .expect("scripts poisoned")
            .get_mut(&rec.raw())
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| panic!("the Realm of REC {rec:?} ran past the end of its script"));
        step(ctx, run)
    }

    fn id_register(&self, reg: SysregId) -> u64 {
        self.id_registers.lock().expect("id registers poisoned").get(&reg).copied().unwrap_or(0)
    }

    fn cpu_id(&self) -> usize {
        CPU_ID.with(Cell::get)
    }

    /// Nanoseconds since the first call in this process (monotonic, shared by all CPUs).
    fn counter(&self) -> u64 {
        static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        EPOCH.get_or_init(std::time::Instant::now).elapsed().as_nanos() as u64
    }

    fn counter_frequency(&self) -> u64 {
        1_000_000_000
    }

    fn features(&self) -> MachineFeatures {
        self.features
    }

    fn el3_realm_attest_key(&self, buf: &mut [u8]) -> Result<usize, El3Error> {
        let mut a = self.attest.lock().expect("attest poisoned");
        a.calls.0 += 1;
        if !a.available {
            return Err(El3Error::Other(-1));
        }
        let key = crate::attest::test_keys::rak();
        let dst = buf.get_mut(..key.len()).ok_or(El3Error::Other(-5))?;
        dst.copy_from_slice(&key);
        Ok(key.len())
    }

    fn el3_platform_token(&self, challenge: Option<&[u8]>, buf: &mut [u8]) -> Result<PlatformTokenHunk, El3Error> {
        let mut a = self.attest.lock().expect("attest poisoned");
        a.calls.1 += 1;
        if !a.available {
            return Err(El3Error::Other(-1));
        }
        if a.again > 0 {
            a.again -= 1;
            return Err(El3Error::Other(-6));
        }
        if let Some(c) = challenge {
            if ![32, 48, 64].contains(&c.len()) {
                return Err(El3Error::Other(-5));
            }
            a.retrieval = Some((crate::attest::test_keys::platform_token(c), 0));
        }
        let hunk = a.hunk;
        let (token, served) = a.retrieval.as_mut().ok_or(El3Error::Other(-5))?;
        let len = (token.len() - *served).min(hunk).min(buf.len());
        buf[..len].copy_from_slice(&token[*served..*served + len]);
        *served += len;
        let remaining = token.len() - *served;
        if remaining == 0 {
            a.retrieval = None;
        }
        Ok(PlatformTokenHunk { len, remaining })
    }

    fn irq_pending(&self) -> bool {
        let mut s = self.irqs.lock().expect("irqs poisoned");
        s.polls += 1;
        s.answers.pop_front().unwrap_or(false)
    }
}
