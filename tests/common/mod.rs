//! The test Host: a host machine, a Warden over it, and helpers that play the Host's part.
#![allow(dead_code)]

use warden::arch::host::HostMachine;
use warden::granule::GranuleState;
use warden::platform::DramLayout;
use warden::sync::AtomicU32;
use warden::{RmiReturn, Rmm};
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_abi::realm_params::RealmParams;
use warden_abi::status::RmiStatus;
use zerocopy::IntoBytes;

mod realm_params;
pub use realm_params::params;

/// Base of the delegable DRAM of `HostMachine::small()` (16 MiB).
pub const DRAM: u64 = 0x8000_0000;
/// Where the tests put `RmiRealmParams` (NS).
pub const PARAMS: u64 = DRAM;
/// The RD used by most tests.
pub const RD: u64 = DRAM + 0x10_0000;
/// The first starting RTT used by most tests (8 KiB aligned for two concatenated tables).
pub const RTT: u64 = DRAM + 0x20_0000;
/// An MMIO address (no memory).
pub const MMIO: u64 = 0x0900_0000;
/// Root memory (exists, never delegable).
pub const ROOT: u64 = 0x0E00_0000;
/// Secure memory (exists, never delegable).
pub const SECURE: u64 = 0x0E10_0000;

/// ESR of a trapped SMC (EC 0x17, 32-bit instruction).
pub const SMC_ESR: u64 = (0x17 << 26) | (1 << 25);
/// Where the tests put `RmiRecParams` (NS).
pub const REC_PARAMS: u64 = DRAM + 0x3000;

/// The Realm traps with an SMC (X0… as the step left them).
pub fn smc() -> warden::platform::RealmTrap {
    warden::platform::RealmTrap::Sync { esr: SMC_ESR, far: 0, hpfar: 0 }
}

/// A Host talking to a Warden.
pub struct Host<'a> {
    /// The machine both run on.
    pub m: &'a HostMachine,
    /// Warden.
    pub rmm: &'a Rmm<'a, HostMachine>,
    next_free: std::sync::atomic::AtomicU64,
}

/// First granule handed out by [`Host::fresh`].
pub const POOL_BASE: u64 = DRAM + 0x40_0000;
/// A 2 MiB-aligned, 2 MiB range kept out of the pool for block mappings.
pub const BLOCK_BASE: u64 = DRAM + (14 << 20);
/// A protected IPA with tables down to level 3 in most tests.
pub const IPA: u64 = 0x4020_0000;
/// An unprotected IPA (40-bit Realms: bit 39 set).
pub const NS_IPA: u64 = (1 << 39) | 0x20_0000;

/// Runs `f` with a fresh small machine and Warden.
pub fn with_host<R>(f: impl FnOnce(&Host<'_>) -> R) -> R {
    with_machine(HostMachine::small(), f)
}

/// Runs `f` with a Warden over `m`.
pub fn with_machine<R>(m: HostMachine, f: impl FnOnce(&Host<'_>) -> R) -> R {
    let layout = DramLayout::new(&m.dram_banks(), 48).expect("layout");
    let words: Vec<AtomicU32> = (0..layout.granules()).map(|_| AtomicU32::new(0)).collect();
    let rmm = Rmm::new(&m, layout, &words);
    f(&Host { m: &m, rmm: &rmm, next_free: std::sync::atomic::AtomicU64::new(POOL_BASE) })
}

/// Runs `f` with a fresh small machine and a Warden that records its trace into `rings`.
#[cfg(feature = "trace")]
pub fn with_traced_host<R>(rings: &warden::trace::TraceRings, f: impl FnOnce(&Host<'_>) -> R) -> R {
    let m = HostMachine::small();
    let layout = DramLayout::new(&m.dram_banks(), 48).expect("layout");
    let words: Vec<AtomicU32> = (0..layout.granules()).map(|_| AtomicU32::new(0)).collect();
    let mut rmm = Rmm::new(&m, layout, &words);
    rmm.attach_trace(rings);
    f(&Host { m: &m, rmm: &rmm, next_free: std::sync::atomic::AtomicU64::new(POOL_BASE) })
}

impl Host<'_> {
    /// Issues an RMI call with FID `fid` and arguments X1….
    pub fn call(&self, fid: u64, args: &[u64]) -> RmiReturn {
        let mut x = [0u64; 8];
        x[0] = fid;
        x[1..=args.len()].copy_from_slice(args);
        self.rmm.handle_rmi(&x)
    }

    /// The status of a call (panics on SMC_UNKNOWN).
    pub fn status(&self, fid: u64, args: &[u64]) -> RmiStatus {
        self.call(fid, args).status().expect("not a status")
    }

    /// Delegates `pa`, asserting success.
    pub fn delegate(&self, pa: u64) {
        assert_eq!(self.status(rmi::GRANULE_DELEGATE, &[pa]), RmiStatus::SUCCESS, "delegate {pa:#x}");
    }

    /// A granule nobody used yet, delegated.
    pub fn fresh(&self) -> u64 {
        let pa = self.next_free.fetch_add(0x1000, std::sync::atomic::Ordering::Relaxed);
        assert!(pa < BLOCK_BASE, "test pool exhausted");
        self.delegate(pa);
        pa
    }

    /// A granule nobody used yet, not delegated (e.g. an NS source page).
    pub fn fresh_ns(&self) -> u64 {
        let pa = self.next_free.fetch_add(0x1000, std::sync::atomic::Ordering::Relaxed);
        assert!(pa < BLOCK_BASE, "test pool exhausted");
        pa
    }

    /// RTT_CREATE of a fresh table at (`ipa`, `level`), asserting success; returns the table.
    pub fn rtt_create(&self, ipa: u64, level: i64) -> u64 {
        let t = self.fresh();
        assert_eq!(self.status(rmi::RTT_CREATE, &[RD, t, ipa, level as u64]), RmiStatus::SUCCESS, "RTT_CREATE {ipa:#x} L{level}");
        t
    }

    /// Creates tables down to level 3 for `ipa` (levels 2 and 3 under the level-1 start).
    pub fn map_l3(&self, ipa: u64) {
        let l2 = ipa & !((1 << 30) - 1);
        let l3 = ipa & !((1 << 21) - 1);
        if self.read_entry(l2, 1).1 != 2 {
            self.rtt_create(l2, 2);
        }
        if self.read_entry(l3, 2).1 != 2 {
            self.rtt_create(l3, 3);
        }
    }

    /// RTT_READ_ENTRY → (walk_level, state, desc, ripas), asserting success.
    pub fn read_entry(&self, ipa: u64, level: i64) -> (i64, u64, u64, u64) {
        let r = self.call(rmi::RTT_READ_ENTRY, &[RD, ipa, level as u64]);
        assert_eq!(r.status(), Some(RmiStatus::SUCCESS), "READ_ENTRY {ipa:#x} L{level}");
        (r.0[1] as i64, r.0[2], r.0[3], r.0[4])
    }

    /// REC_CREATE of a fresh REC with index `index` (MPIDR from it), entry `pc`, X0–X7 `gprs`,
    /// fresh aux granules; returns the status and the REC's address.
    pub fn rec_create_with(&self, index: u64, runnable: bool, pc: u64, gprs: [u64; 8]) -> (RmiStatus, u64) {
        let rec = self.fresh();
        let p = self.rec_params(index, runnable, pc, gprs);
        self.write(REC_PARAMS, p.as_bytes());
        (self.status(rmi::REC_CREATE, &[RD, rec, REC_PARAMS]), rec)
    }

    /// Raw `RmiRecParams` for REC `index` with fresh aux granules.
    pub fn rec_params(&self, index: u64, runnable: bool, pc: u64, gprs: [u64; 8]) -> warden_abi::rec_params::RmiRecParams {
        use zerocopy::FromZeros;
        let mut p = warden_abi::rec_params::RmiRecParams::new_zeroed();
        p.flags = u64::from(runnable);
        p.mpidr = warden_abi::rec_params::RecMpidr::from_index(index).raw();
        p.pc = pc;
        p.gprs = gprs;
        let n = self.call(rmi::REC_AUX_COUNT, &[RD]).0[1];
        p.num_aux = n;
        for i in 0..n as usize {
            p.aux[i] = self.fresh();
        }
        p
    }

    /// A runnable REC `index` starting at `pc`, asserting success.
    pub fn rec(&self, index: u64, pc: u64) -> u64 {
        let (st, rec) = self.rec_create_with(index, true, pc, [0; 8]);
        assert_eq!(st, RmiStatus::SUCCESS, "REC_CREATE {index}");
        rec
    }

    /// Writes `enter` into the run granule `run`, calls REC_ENTER, returns the status and the exit.
    pub fn enter_with(&self, rec: u64, run: u64, enter: &warden_abi::rec_run::RmiRecEnter) -> (RmiStatus, warden_abi::rec_run::RmiRecExit) {
        use zerocopy::{FromZeros, IntoBytes};
        self.write(run, enter.as_bytes());
        // Poison the exit half: Warden must write every field.
        self.write(run + 0x800, &[0xEE; 0x800]);
        let st = self.status(rmi::REC_ENTER, &[rec, run]);
        let mut exit = warden_abi::rec_run::RmiRecExit::new_zeroed();
        self.m.host_read(Pa(run + 0x800), exit.as_mut_bytes()).expect("run granule is NS");
        (st, exit)
    }

    /// REC_ENTER with an all-zero `RmiRecEnter`.
    pub fn enter(&self, rec: u64, run: u64) -> (RmiStatus, warden_abi::rec_run::RmiRecExit) {
        use zerocopy::FromZeros;
        self.enter_with(rec, run, &warden_abi::rec_run::RmiRecEnter::new_zeroed())
    }

    /// An ACTIVE Realm with a DATA page at IPA (RIPAS RAM, copied from `data` at the start of an NS
    /// page), level-3 tables for IPA and NS_IPA, and one REC per entry of `runnable` (REC i has
    /// MPIDR index i and starts at `pc`). Returns the RECs.
    pub fn active_realm_with(&self, data: &[u8], runnable: &[bool], pc: u64) -> Vec<u64> {
        self.realm();
        self.map_l3(IPA);
        self.rtt_create(NS_IPA & !((1 << 30) - 1), 2);
        self.rtt_create(NS_IPA, 3);
        let src = self.fresh_ns();
        self.write(src, data);
        let page = self.fresh();
        assert_eq!(self.status(rmi::DATA_CREATE, &[RD, page, IPA, src, 0]), RmiStatus::SUCCESS);
        let recs = runnable
            .iter()
            .enumerate()
            .map(|(i, &r)| {
                let (st, rec) = self.rec_create_with(i as u64, r, pc, [0; 8]);
                assert_eq!(st, RmiStatus::SUCCESS, "REC_CREATE {i}");
                rec
            })
            .collect();
        assert_eq!(self.status(rmi::REALM_ACTIVATE, &[RD]), RmiStatus::SUCCESS);
        recs
    }

    /// [`Host::active_realm_with`] with an empty DATA page and one runnable REC at `pc`.
    pub fn active_realm(&self, pc: u64) -> u64 {
        self.active_realm_with(&[], &[true], pc)[0]
    }

    /// The standard Realm (RD, two level-1 tables at RTT, 40-bit IPA, VMID 1).
    pub fn realm(&self) {
        assert_eq!(self.create_realm(RD, RTT, 1), RmiStatus::SUCCESS);
    }

    /// Writes `p` as `RmiRealmParams` at `at` (NS memory).
    pub fn write_params(&self, at: u64, p: &RealmParams) {
        self.m.host_write(Pa(at), p.encode().as_bytes()).expect("params in NS memory");
    }

    /// Writes raw bytes at `at`.
    pub fn write(&self, at: u64, bytes: &[u8]) {
        self.m.host_write(Pa(at), bytes).expect("NS memory");
    }

    /// The granule state Warden records for `pa`.
    pub fn state(&self, pa: u64) -> Option<GranuleState> {
        self.rmm.granules().state(Pa(pa))
    }

    /// Delegates the RD and the two starting RTTs of [`params`], writes the params, and creates.
    pub fn create_realm(&self, rd: u64, rtt: u64, vmid: u16) -> RmiStatus {
        self.delegate(rd);
        self.delegate(rtt);
        self.delegate(rtt + 0x1000);
        self.write_params(PARAMS, &params(rtt, vmid));
        self.status(rmi::REALM_CREATE, &[rd, PARAMS])
    }
}

/// The fields of an `RmiRecExit` (reserved space zeroed): what the spec defines and a Host reads.
pub fn exit_fields(e: &warden_abi::rec_run::RmiRecExit) -> warden_abi::rec_run::RmiRecExit {
    use zerocopy::FromZeros;
    let mut f = warden_abi::rec_run::RmiRecExit::new_zeroed();
    f.exit_reason = e.exit_reason;
    f.esr = e.esr;
    f.far = e.far;
    f.hpfar = e.hpfar;
    f.gprs = e.gprs;
    f.gicv3_hcr = e.gicv3_hcr;
    f.gicv3_lrs = e.gicv3_lrs;
    f.gicv3_misr = e.gicv3_misr;
    f.gicv3_vmcr = e.gicv3_vmcr;
    f.cntp_ctl = e.cntp_ctl;
    f.cntp_cval = e.cntp_cval;
    f.cntv_ctl = e.cntv_ctl;
    f.cntv_cval = e.cntv_cval;
    f.ripas_base = e.ripas_base;
    f.ripas_top = e.ripas_top;
    f.ripas_value = e.ripas_value;
    f.imm = e.imm;
    f.pmu_ovf_status = e.pmu_ovf_status;
    f
}

/// A tiny deterministic random number generator for the stress tests.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
