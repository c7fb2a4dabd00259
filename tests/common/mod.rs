//! The test Host: a host machine, a Warden over it, and helpers that play the Host's part.
#![allow(dead_code)]

use warden::arch::host::HostMachine;
use warden::granule::GranuleState;
use warden::platform::DramLayout;
use warden::sync::AtomicU32;
use warden::{RmiReturn, Rmm};
use warden_abi::addr::Pa;
use warden_abi::fid::rmi;
use warden_abi::realm_params::{RealmParams, RmiRealmFlags};
use warden_abi::rtt::RmiHashAlgorithm;
use warden_abi::status::RmiStatus;
use zerocopy::IntoBytes;

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

/// A Host talking to a Warden.
pub struct Host<'a> {
    /// The machine both run on.
    pub m: &'a HostMachine,
    /// Warden.
    pub rmm: &'a Rmm<'a, HostMachine>,
}

/// Runs `f` with a fresh small machine and Warden.
pub fn with_host<R>(f: impl FnOnce(&Host<'_>) -> R) -> R {
    with_machine(HostMachine::small(), f)
}

/// Runs `f` with a Warden over `m`.
pub fn with_machine<R>(m: HostMachine, f: impl FnOnce(&Host<'_>) -> R) -> R {
    let layout = DramLayout::new(&m.dram_banks(), 48).expect("layout");
    let words: Vec<AtomicU32> = (0..layout.granules()).map(|_| AtomicU32::new(0)).collect();
    let rmm = Rmm::new(&m, layout, &words);
    f(&Host { m: &m, rmm: &rmm })
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

/// Valid parameters: 40-bit IPA, starting at level 1 with two concatenated tables at `rtt`.
pub fn params(rtt: u64, vmid: u16) -> RealmParams {
    RealmParams {
        flags: RmiRealmFlags::empty(),
        s2sz: 40,
        sve_vl: 0,
        num_bps: 1,
        num_wps: 1,
        pmu_num_ctrs: 0,
        hash_algo: RmiHashAlgorithm::Sha256,
        rpv: [0x5A; 64],
        vmid,
        rtt_base: Pa(rtt),
        rtt_level_start: 1,
        rtt_num_start: 2,
    }
}
