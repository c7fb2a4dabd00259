//! A small machine and a Warden over it, rebuilt for every execution loom explores.
//!
//! The machine is Warden's own host machine (`HostMachine`: arena, fake GPT, fake EL3) with one
//! bank of [`GRANULES`] granules, wrapped in [`LoomMachine`] only to report the model thread's CPU
//! index. Everything Warden shares between CPUs is built at run time inside the execution, so
//! every atomic in it is one of loom's (the `warden::sync` facade).
//!
//! # Use-after-retire detection
//! Under loom an atomic is a handle (an index into the execution's object store), and the granule
//! memory of a typed object (an RTT's 512 entries, an RD's state words) holds those handles. A
//! retired object's granule is zeroed, so a stale reference to it would use handle 0. The first
//! object of every execution is therefore a poison object (a dropped loom `Arc`, made by
//! [`rt::check`]) that is neither an atomic nor an `UnsafeCell`: any atomic or cell access through a
//! zeroed handle makes loom panic, so "never a write into (or a read of) a retired table, RD or REC"
//! is checked on every access, not only by the final invariants.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;

use warden::RmiReturn;
use warden::Rmm;
use warden::arch::host::{HostMachine, Pas, RegionSpec};
use warden::granule::GranuleState;
use warden::platform::{
    DramLayout, El3Error, Machine, MachineFeatures, NsAccessFault, RealmTrap, RunConfig,
    TlbInvalidation,
};
use warden::rec::context::RecContext;
use warden::rec::sysreg::SysregId;
use warden::sync::{AtomicU32, Ordering};
use warden_abi::addr::{GRANULE_SIZE, Pa};
use warden_abi::fid::rmi;
use warden_abi::realm_params::{RealmParams, RmiRealmFlags};
use warden_abi::rtt::RmiHashAlgorithm;
use warden_abi::status::RmiStatus;
use zerocopy::IntoBytes;

use crate::rt;

/// Base of the model machine's delegable DRAM.
pub const DRAM: u64 = 0x8000_0000;
/// Granules of delegable DRAM (so 16 words in the granule table).
pub const GRANULES: u64 = 16;

/// The address of granule `i` of the bank.
pub const fn g(i: u64) -> u64 {
    DRAM + i * GRANULE_SIZE
}

/// Realm parameters for the first REALM_CREATE of a model (NS).
pub const PARAMS_A: u64 = g(0);
/// Realm parameters for a second, concurrent REALM_CREATE (NS).
pub const PARAMS_B: u64 = g(1);
/// A Host page, the source of DATA_CREATE (NS).
pub const SRC: u64 = g(2);
/// The RD of the standard Realm.
pub const RD: u64 = g(3);
/// Its single starting (level-1) RTT.
pub const RTT0: u64 = g(4);
/// Its level-2 table covering [`IPA`].
pub const L2: u64 = g(5);
/// Its level-3 table covering [`IPA`]'s 2 MiB block.
pub const L3: u64 = g(6);
/// A DATA granule.
pub const D0: u64 = g(7);
/// Another DATA granule.
pub const D1: u64 = g(8);
/// A spare granule (a table created in the model).
pub const X: u64 = g(9);
/// A second RD.
pub const RD2: u64 = g(10);
/// The starting RTT of a second Realm.
pub const RTT2: u64 = g(11);

/// A protected IPA: level-1 index 1, level-2 index 1, level-3 index 0.
pub const IPA: u64 = 0x4020_0000;
/// The next 2 MiB block (another level-3 table of the same level-2 table).
pub const IPA_NEXT_BLOCK: u64 = IPA + (2 << 20);
/// IPA width of the model Realms: 39 bits start at level 1 with a single table.
pub const S2SZ: u8 = 39;

/// Warden's host machine, reporting the model thread's CPU index (see [`rt::set_cpu`]).
///
/// The host machine's fake EL3 and GPT use `std` atomics, which loom does not see: to loom a
/// GTSI call would be no event at all, and it would never run another thread between a command's
/// table commit and its EL3 call. Each GTSI call therefore first touches a loom atomic of its
/// granule, so loom interleaves the commands on one granule around their EL3 calls.
pub struct LoomMachine {
    /// The host machine doing all the work.
    pub host: HostMachine,
    el3_calls: Box<[AtomicU32]>,
}

impl LoomMachine {
    fn el3_event(&self, pa: Pa) {
        if let Some(c) = pa
            .raw()
            .checked_sub(DRAM)
            .and_then(|o| self.el3_calls.get((o / GRANULE_SIZE) as usize))
        {
            c.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl Machine for LoomMachine {
    fn gtsi_delegate(&self, pa: Pa) -> Result<(), El3Error> {
        self.el3_event(pa);
        self.host.gtsi_delegate(pa)
    }
    fn gtsi_undelegate(&self, pa: Pa) -> Result<(), El3Error> {
        self.el3_event(pa);
        self.host.gtsi_undelegate(pa)
    }
    fn ns_read(&self, pa: Pa, dst: &mut [u8]) -> Result<(), NsAccessFault> {
        self.host.ns_read(pa, dst)
    }
    fn ns_write(&self, pa: Pa, src: &[u8]) -> Result<(), NsAccessFault> {
        self.host.ns_write(pa, src)
    }
    fn realm_granule(&self, pa: Pa) -> NonNull<u8> {
        self.host.realm_granule(pa)
    }
    fn sync_table_writes(&self) {
        self.host.sync_table_writes();
    }
    fn tlb_invalidate(&self, what: TlbInvalidation) {
        self.host.tlb_invalidate(what);
    }
    fn run_realm(&self, rec: Pa, ctx: &mut RecContext, run: &RunConfig) -> RealmTrap {
        self.host.run_realm(rec, ctx, run)
    }
    fn id_register(&self, reg: SysregId) -> u64 {
        self.host.id_register(reg)
    }
    fn cpu_id(&self) -> usize {
        rt::cpu()
    }
    fn features(&self) -> MachineFeatures {
        self.host.features()
    }
}

/// A machine, its granule table storage and a Warden over them, shared by the model's threads.
pub struct World {
    rmm: ManuallyDrop<Rmm<'static, LoomMachine>>,
    words: NonNull<[AtomicU32]>,
    machine: NonNull<LoomMachine>,
}

// SAFETY: `words` and `machine` are owned heap allocations that `rmm` borrows; they are only
// shared (never mutated through these pointers) until `Drop`, and both are Sync.
unsafe impl Send for World {}
// SAFETY: as above.
unsafe impl Sync for World {}

impl Drop for World {
    fn drop(&mut self) {
        // SAFETY: `rmm` borrows the two allocations, so it goes first; each is freed once.
        unsafe {
            ManuallyDrop::drop(&mut self.rmm);
            drop(Box::from_raw(self.words.as_ptr()));
            drop(Box::from_raw(self.machine.as_ptr()));
        }
    }
}

impl World {
    /// A fresh machine (every granule UNDELEGATED, NS) and Warden.
    pub fn new() -> Arc<Self> {
        let host = HostMachine::new(
            &[RegionSpec {
                base: DRAM,
                size: GRANULES * GRANULE_SIZE,
                pas: Pas::NonSecure,
                delegable: true,
            }],
            HostMachine::default_features(),
        );
        let layout = DramLayout::new(&host.dram_banks(), 48).expect("model DRAM layout");
        let words: Box<[AtomicU32]> = (0..layout.granules()).map(|_| AtomicU32::new(0)).collect();
        let el3_calls = (0..GRANULES).map(|_| AtomicU32::new(0)).collect();
        let machine = NonNull::from(Box::leak(Box::new(LoomMachine { host, el3_calls })));
        let words = NonNull::from(Box::leak(words));
        // SAFETY: both allocations live until `Drop`, which drops `rmm` first.
        let rmm = unsafe { Rmm::new(machine.as_ref(), layout, words.as_ref()) };
        Arc::new(Self {
            rmm: ManuallyDrop::new(rmm),
            words,
            machine,
        })
    }

    /// Warden.
    pub fn rmm(&self) -> &Rmm<'static, LoomMachine> {
        &self.rmm
    }

    /// The machine.
    pub fn machine(&self) -> &LoomMachine {
        // SAFETY: owned by self, freed only in Drop.
        unsafe { self.machine.as_ref() }
    }

    /// Issues an RMI call with FID `fid` and arguments X1….
    pub fn call(&self, fid: u64, args: &[u64]) -> RmiReturn {
        let mut x = [0u64; 8];
        x[0] = fid;
        x[1..=args.len()].copy_from_slice(args);
        self.rmm.handle_rmi(&x)
    }

    /// The status of a call.
    pub fn status(&self, fid: u64, args: &[u64]) -> RmiStatus {
        self.call(fid, args)
            .status()
            .expect("an RMI status, not SMC_UNKNOWN")
    }

    /// DELEGATEs each granule, asserting success.
    pub fn delegate(&self, pas: &[u64]) {
        for &pa in pas {
            assert_eq!(
                self.status(rmi::GRANULE_DELEGATE, &[pa]),
                RmiStatus::SUCCESS,
                "setup: delegate {pa:#x}"
            );
        }
    }

    /// Writes the standard Realm parameters (39-bit IPA, one level-1 starting table at `rtt`,
    /// `vmid`) at `at` in Host memory.
    pub fn write_params(&self, at: u64, rtt: u64, vmid: u16) {
        let p = RealmParams {
            flags: RmiRealmFlags::empty(),
            s2sz: S2SZ,
            sve_vl: 0,
            num_bps: 1,
            num_wps: 1,
            pmu_num_ctrs: 0,
            hash_algo: RmiHashAlgorithm::Sha256,
            rpv: [0x5A; 64],
            vmid,
            rtt_base: Pa(rtt),
            rtt_level_start: 1,
            rtt_num_start: 1,
        };
        self.machine()
            .host
            .host_write(Pa(at), p.encode().as_bytes())
            .expect("params in Host memory");
    }

    /// The standard Realm: RD at [`RD`], starting table [`RTT0`], VMID 1; delegates both.
    pub fn realm(&self) {
        self.delegate(&[RD, RTT0]);
        self.write_params(PARAMS_A, RTT0, 1);
        assert_eq!(
            self.status(rmi::REALM_CREATE, &[RD, PARAMS_A]),
            RmiStatus::SUCCESS,
            "setup: REALM_CREATE"
        );
    }

    /// The standard Realm with tables down to level 3 for [`IPA`] ([`L2`], [`L3`]).
    pub fn realm_with_l3(&self) {
        self.realm();
        self.delegate(&[L2, L3]);
        assert_eq!(
            self.status(rmi::RTT_CREATE, &[RD, L2, IPA & !((1 << 30) - 1), 2]),
            RmiStatus::SUCCESS
        );
        assert_eq!(
            self.status(rmi::RTT_CREATE, &[RD, L3, IPA & !((2 << 20) - 1), 3]),
            RmiStatus::SUCCESS
        );
    }

    /// The granule state Warden records for `pa`.
    pub fn state(&self, pa: u64) -> GranuleState {
        self.rmm
            .granules()
            .state(Pa(pa))
            .expect("a granule of the model DRAM")
    }

    /// The raw table word of `pa` (state, claim bit, reference count).
    pub fn word(&self, pa: u64) -> u32 {
        self.word_ref(pa).load(Ordering::Acquire)
    }

    /// The granule table's atomic word for `pa` (for the mutants' replicas).
    pub fn word_ref(&self, pa: u64) -> &AtomicU32 {
        let i = ((pa - DRAM) / GRANULE_SIZE) as usize;
        // SAFETY: owned by self, freed only in Drop.
        let words = unsafe { self.words.as_ref() };
        &words[i]
    }

    /// RTT_READ_ENTRY → (walk level, state, desc, ripas), asserting success.
    pub fn read_entry(&self, ipa: u64, level: i64) -> (i64, u64, u64, u64) {
        let r = self.call(rmi::RTT_READ_ENTRY, &[RD, ipa, level as u64]);
        assert_eq!(
            r.status(),
            Some(RmiStatus::SUCCESS),
            "READ_ENTRY {ipa:#x} L{level}"
        );
        (r.0[1] as i64, r.0[2], r.0[3], r.0[4])
    }

    /// The invariants of a quiescent machine (every model thread joined), for every granule:
    /// * the word holds no claim and no reference (no claim leaked, no reference count went
    ///   negative or leaked);
    /// * Warden's state agrees with the GPT (UNDELEGATED ⇔ NS, anything else ⇔ Realm);
    /// * a DELEGATED granule holds only zeroes (scrubbed: nothing of a retired table, RD or DATA
    ///   granule survives, and nothing was written into one after it was retired).
    pub fn assert_quiescent(&self) {
        self.assert_quiescent_except(&[]);
    }

    /// [`World::assert_quiescent`], without the scrub check for `dirty` (granules the Host wrote
    /// before delegating them: DELEGATE does not scrub).
    pub fn assert_quiescent_except(&self, dirty: &[u64]) {
        for i in 0..GRANULES {
            let pa = g(i);
            let word = self.word(pa);
            assert_eq!(
                word & !0xF,
                0,
                "granule {pa:#x}: claim or references left in word {word:#x}"
            );
            let state = self.state(pa);
            let pas = self.machine().host.pas(Pa(pa)).expect("model DRAM");
            let want = if state == GranuleState::Undelegated {
                Pas::NonSecure
            } else {
                Pas::Realm
            };
            assert_eq!(
                pas, want,
                "granule {pa:#x}: state {state:?} but GPT says {pas:?}"
            );
            if state == GranuleState::Delegated && !dirty.contains(&pa) {
                assert!(
                    self.granule_is_zero(pa),
                    "DELEGATED granule {pa:#x} is not scrubbed"
                );
            }
        }
    }

    /// Whether the Realm-PAS granule `pa` holds only zeroes.
    pub fn granule_is_zero(&self, pa: u64) -> bool {
        let p = self.machine().realm_granule(Pa(pa));
        // SAFETY: a granule of the arena (GRANULE_SIZE bytes); every model thread has been joined,
        // so nothing writes it concurrently.
        let bytes = unsafe { core::slice::from_raw_parts(p.as_ptr(), GRANULE_SIZE as usize) };
        bytes.iter().all(|&b| b == 0)
    }
}
