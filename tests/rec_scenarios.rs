//! Scripted Realm scenarios: MMIO emulation, SEA for EMPTY memory, RIPAS changes (accepted and
//! rejected), PSCI CPU_ON/AFFINITY_INFO with PSCI_COMPLETE, measurement extension, system register
//! traps and the other exits — every RmiRecExit compared whole.

mod common;

use common::*;
use warden::granule::GranuleState;
use warden::measure::rem_extend;
use warden::platform::RealmTrap;
use warden::realm::Rd;
use warden::rec::context::RecContext;
use warden::rec::sysreg::id;
use warden_abi::addr::Pa;
use warden_abi::fid::{psci, rmi, rsi};
use warden_abi::rec_run::{RmiRecEnter, RmiRecExit, RmiRecExitReason};
use warden_abi::rtt::RmiHashAlgorithm;
use warden_abi::status::RmiStatus;
use zerocopy::{FromZeros, IntoBytes};

const PC: u64 = 0x4000_1000;
const IL: u64 = 1 << 25;
const DABT: u64 = 0x24 << 26;
const ISV: u64 = 1 << 24;
const VBAR: u64 = 0x4010_0000;

fn exit(reason: RmiRecExitReason) -> RmiRecExit {
    let mut e = RmiRecExit::new_zeroed();
    e.exit_reason = reason.to_raw();
    e
}

fn assert_exit(got: &RmiRecExit, want: &RmiRecExit) {
    assert_eq!(got.exit_reason, want.exit_reason, "exit_reason");
    assert_eq!((got.esr, got.far, got.hpfar), (want.esr, want.far, want.hpfar), "esr/far/hpfar");
    assert_eq!(got.gprs, want.gprs, "gprs");
    assert_eq!((got.ripas_base, got.ripas_top, got.ripas_value), (want.ripas_base, want.ripas_top, want.ripas_value));
    // Every field is written (the run granule's exit half was poisoned before the entry), and no
    // field carries anything the spec does not allow for this exit.
    assert_eq!(exit_fields(got).as_bytes(), exit_fields(want).as_bytes(), "RmiRecExit differs from what the spec allows");
}

fn step(f: impl FnOnce(&mut RecContext) -> RealmTrap + Send + 'static) -> impl FnOnce(&mut RecContext, &warden::platform::RunConfig) -> RealmTrap + Send + 'static {
    move |ctx, _| f(ctx)
}

fn smc_call(ctx: &mut RecContext, fid: u64, args: &[u64]) -> RealmTrap {
    ctx.pc = PC;
    ctx.gprs[0] = fid;
    ctx.gprs[1..=args.len()].copy_from_slice(args);
    smc()
}

/// A data abort at `ipa` (translation fault at level 3) from virtual address `va`.
fn dabt(iss: u64, ipa: u64, va: u64) -> RealmTrap {
    RealmTrap::Sync { esr: DABT | IL | iss | 0x07, far: va, hpfar: (ipa >> 12) << 4 }
}

#[test]
fn mmio_read_and_write_are_emulated_by_the_host() {
    with_host(|h| {
        let rec = h.active_realm(PC);
        let run = h.fresh_ns();
        // LDR W5, [X1] at an unprotected IPA: 4 bytes, SRT 5, sign-extend to a W register.
        let va = 0xFFFF_8000_0901_2345;
        h.m.script(Pa(rec), step(move |ctx| {
            ctx.el1.vbar = VBAR; // set at boot, so that an injected SEA lands in the Realm's vectors
            ctx.pstate = 0x3C5;
            ctx.pc = PC;
            ctx.gprs[5] = 0x5555;
            dabt(ISV | (2 << 22) | (1 << 21) | (5 << 16), NS_IPA + 0x345, va)
        }));
        let (st, e) = h.enter(rec, run);
        assert_eq!(st, RmiStatus::SUCCESS);
        let mut want = RmiRecExit::new_zeroed();
        want.esr = DABT | IL | ISV | (2 << 22) | 0x07; // SRT and SSE withheld
        want.far = 0x345;
        want.hpfar = (NS_IPA >> 12) << 4;
        assert_exit(&e, &want);
        // The Host emulates: value in enter.gprs[0].
        let mut enter = RmiRecEnter::new_zeroed();
        enter.flags = 1; // emul_mmio
        enter.gprs[0] = 0xAAAA_BBBB_8000_00F0;
        // STR X7, [X2] (8 bytes, write) next.
        h.m.script(Pa(rec), step(move |ctx| {
            assert_eq!(ctx.gprs[5], 0xFFFF_FFFF_8000_00F0 & 0xFFFF_FFFF, "sign-extended into a W register");
            assert_eq!(ctx.pc, PC + 4);
            ctx.pc = PC + 8;
            ctx.gprs[7] = 0xDEAD_BEEF_CAFE_F00D;
            dabt(ISV | (3 << 22) | (7 << 16) | (1 << 15) | (1 << 6), NS_IPA + 0x10, 0x10)
        }));
        let (_, e) = h.enter_with(rec, run, &enter);
        let mut want = RmiRecExit::new_zeroed();
        want.esr = DABT | IL | ISV | (3 << 22) | (1 << 15) | (1 << 6) | 0x07;
        want.far = 0x10;
        want.hpfar = (NS_IPA >> 12) << 4;
        want.gprs[0] = 0xDEAD_BEEF_CAFE_F00D;
        assert_exit(&e, &want);
        // The Host asks for an SEA instead of completing: emul_mmio is ignored.
        enter.flags = 1 | 2;
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!(ctx.pc, VBAR + 0x200, "SEA taken at EL1h");
            assert_eq!(ctx.el1.esr, (0x25 << 26) | IL | 0x10);
            assert_eq!((ctx.el1.far, ctx.el1.elr), (0x10, PC + 8));
            RealmTrap::Irq
        }));
        let (_, e) = h.enter_with(rec, run, &enter);
        assert_exit(&e, &exit(RmiRecExitReason::Irq));
        // An access without a valid syndrome is not emulatable: FAR withheld, no ISV/SAS/WnR.
        h.m.script(Pa(rec), step(|ctx| {
            ctx.pc = PC;
            dabt(1 << 6, NS_IPA + 0x20, 0x20)
        }));
        let (_, e) = h.enter(rec, run);
        let mut want = RmiRecExit::new_zeroed();
        want.esr = DABT | IL | 0x07;
        want.hpfar = (NS_IPA >> 12) << 4;
        assert_exit(&e, &want);
        // ... so EMUL_MMIO is refused, but an SEA may be injected.
        let mut enter = RmiRecEnter::new_zeroed();
        enter.flags = 1;
        assert_eq!(h.enter_with(rec, run, &enter).0, RmiStatus::rec(), "rec_mmio");
        enter.flags = 2;
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!((ctx.pc, ctx.el1.far), (VBAR + 0x200, 0x20));
            RealmTrap::Irq
        }));
        assert_exit(&h.enter_with(rec, run, &enter).1, &exit(RmiRecExitReason::Irq));
    });
}

#[test]
fn aborts_on_protected_memory() {
    with_host(|h| {
        let rec = h.active_realm(PC);
        let run = h.fresh_ns();
        // EMPTY (no INIT_RIPAS at IPA + 0x5000): an SEA for the Realm, no exit.
        h.m.script(Pa(rec), step(|ctx| {
            ctx.el1.vbar = VBAR;
            ctx.pstate = 0x3C5;
            ctx.pc = PC;
            dabt(0, IPA + 0x5000, 0x1234_5000)
        }));
        // Beyond the IPA space: an SEA too (an instruction fetch this time).
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!((ctx.pc, ctx.el1.far), (VBAR + 0x200, 0x1234_5000));
            ctx.pstate = 0x0; // from EL0
            ctx.pc = 0x7000;
            RealmTrap::Sync { esr: (0x20 << 26) | IL | 0x04, far: 0x7000, hpfar: ((1u64 << 40) >> 12) << 4 }
        }));
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!(ctx.pc, VBAR + 0x400, "lower-EL vector");
            assert_eq!(ctx.el1.esr >> 26, 0x20);
            RealmTrap::Irq
        }));
        let (_, e) = h.enter(rec, run);
        assert_exit(&e, &exit(RmiRecExitReason::Irq));
        // RAM without DATA: the Host must map it (a non-emulatable exit, FAR withheld). The Realm
        // makes IPA + 0x1000 RAM first.
        h.m.script(Pa(rec), step(|ctx| smc_call(ctx, rsi::IPA_STATE_SET, &[IPA + 0x1000, IPA + 0x2000, 1, 0])));
        let (_, e) = h.enter(rec, run);
        assert_eq!(e.exit_reason, RmiRecExitReason::RipasChange.to_raw());
        assert_eq!(h.call(rmi::RTT_SET_RIPAS, &[RD, rec, IPA + 0x1000, IPA + 0x2000]).0[0], 0);
        h.m.script(Pa(rec), step(|ctx| {
            ctx.pc = PC;
            dabt(ISV | (1 << 6), IPA + 0x1008, 0xFFFF_0000_0000_1008)
        }));
        let (_, e) = h.enter(rec, run);
        let mut want = RmiRecExit::new_zeroed();
        want.esr = DABT | IL | 0x07; // no ISV/SAS/WnR for a protected IPA
        want.hpfar = ((IPA + 0x1000) >> 12) << 4;
        assert_exit(&e, &want);
        // inject_sea is only for unprotected IPAs: ignored here; the access runs again.
        let mut enter = RmiRecEnter::new_zeroed();
        enter.flags = 2;
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!(ctx.pc, PC, "no SEA, no PC change");
            RealmTrap::Irq
        }));
        assert_exit(&h.enter_with(rec, run, &enter).1, &exit(RmiRecExitReason::Irq));
    });
}

#[test]
fn ripas_change_accepted_partially_and_rejected() {
    with_host(|h| {
        let rec = h.active_realm(PC);
        let run = h.fresh_ns();
        let (base, top) = (IPA + 0x8000, IPA + 0xB000);
        h.m.script(Pa(rec), step(move |ctx| smc_call(ctx, rsi::IPA_STATE_SET, &[base, top, 1, 0])));
        let (_, e) = h.enter(rec, run);
        let mut want = exit(RmiRecExitReason::RipasChange);
        want.ripas_base = base;
        want.ripas_top = top;
        want.ripas_value = 1;
        assert_exit(&e, &want);
        // RTT_SET_RIPAS conditions.
        let st = |rec: u64, b: u64, t: u64| h.call(rmi::RTT_SET_RIPAS, &[RD, rec, b, t]);
        assert_eq!(h.call(rmi::RTT_SET_RIPAS, &[RD + 1, rec, base, top]).status(), Some(RmiStatus::input()), "rd_align");
        assert_eq!(st(rec + 8, base, top).status(), Some(RmiStatus::input()), "rec_align");
        assert_eq!(st(MMIO, base, top).status(), Some(RmiStatus::input()), "rec_bound");
        assert_eq!(st(RD, base, top).status(), Some(RmiStatus::input()), "rec_gran_state");
        assert_eq!(st(rec, base, base).status(), Some(RmiStatus::input()), "size_valid");
        assert_eq!(st(rec, base + 0x1000, top).status(), Some(RmiStatus::input()), "base_bound");
        assert_eq!(st(rec, base, top + 0x1000).status(), Some(RmiStatus::input()), "top_bound");
        assert_eq!(st(rec, base, top - 0x800).status(), Some(RmiStatus::input()), "top_gran_align");
        // Part of the range, then the Host rejects the rest.
        assert_eq!(st(rec, base, base + 0x1000).0, [0, base + 0x1000, 0, 0, 0]);
        assert_eq!(h.read_entry(base, 3), (3, 0, 0, 1));
        let mut enter = RmiRecEnter::new_zeroed();
        enter.flags = 1 << 4; // ripas_response: REJECT
        h.m.script(Pa(rec), step(move |ctx| {
            assert_eq!((ctx.gprs[0], ctx.gprs[1], ctx.gprs[2]), (0, base + 0x1000, 1), "rejected at the progress mark");
            // IPA_STATE_GET reports the run of RAM.
            smc_call(ctx, rsi::IPA_STATE_GET, &[base, top])
        }));
        h.m.script(Pa(rec), step(move |ctx| {
            assert_eq!((ctx.gprs[0], ctx.gprs[1], ctx.gprs[2]), (0, base + 0x1000, 1));
            smc_call(ctx, rsi::IPA_STATE_GET, &[base + 0x1000, top])
        }));
        h.m.script(Pa(rec), step(move |ctx| {
            assert_eq!((ctx.gprs[0], ctx.gprs[1], ctx.gprs[2]), (0, top, 0), "EMPTY up to top");
            smc_call(ctx, rsi::IPA_STATE_SET, &[base, top, 1, 0])
        }));
        let (_, e) = h.enter_with(rec, run, &enter);
        assert_eq!(e.exit_reason, RmiRecExitReason::RipasChange.to_raw());
        // The whole range this time; the entry already RAM is passed over.
        assert_eq!(st(rec, base, top).0, [0, top, 0, 0, 0]);
        assert_eq!(st(rec, base, top).status(), Some(RmiStatus::input()), "base_bound: progress moved");
        h.m.script(Pa(rec), step(move |ctx| {
            assert_eq!((ctx.gprs[0], ctx.gprs[1], ctx.gprs[2]), (0, top, 0), "accepted");
            // Invalid requests fail inside Warden.
            smc_call(ctx, rsi::IPA_STATE_SET, &[base, top, 2, 0])
        }));
        h.m.script(Pa(rec), step(move |ctx| {
            assert_eq!(ctx.gprs[0], 1, "ripas_valid");
            smc_call(ctx, rsi::IPA_STATE_SET, &[base, 1 << 39 | 0x1000, 1, 0])
        }));
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!(ctx.gprs[0], 1, "rgn_bound");
            RealmTrap::Irq
        }));
        assert_exit(&h.enter(rec, run).1, &exit(RmiRecExitReason::Irq));
        for i in 0..3 {
            assert_eq!(h.read_entry(base + i * 0x1000, 3), (3, 0, 0, 1));
        }
        // RAM → EMPTY of an ASSIGNED page: the mapping goes and the TLB is invalidated.
        h.m.script(Pa(rec), step(|ctx| smc_call(ctx, rsi::IPA_STATE_SET, &[IPA, IPA + 0x1000, 0, 0])));
        h.enter(rec, run);
        h.m.take_tlb_invalidations();
        assert_eq!(st(rec, IPA, IPA + 0x1000).0, [0, IPA + 0x1000, 0, 0, 0]);
        assert_eq!(h.read_entry(IPA, 3).3, 0);
        assert_eq!(h.read_entry(IPA, 3).1, 1, "still ASSIGNED");
        assert!(!h.m.take_tlb_invalidations().is_empty());
        // rec_owner: a REC of another Realm.
        let other_rd = DRAM + 0x0D0_0000;
        h.delegate(other_rd);
        assert_eq!(h.call(rmi::RTT_SET_RIPAS, &[RTT, rec, IPA, IPA + 0x1000]).status(), Some(RmiStatus::input()), "rd_state");
    });
}

#[test]
fn psci_cpu_on_and_affinity_info_complete_through_the_host() {
    with_host(|h| {
        let recs = h.active_realm_with(&[], &[true, false, true], PC);
        let (r0, r1, r2) = (recs[0], recs[1], recs[2]);
        let run = h.fresh_ns();
        // Requests Warden refuses itself.
        h.m.script(Pa(r0), step(|ctx| smc_call(ctx, psci::CPU_ON_64, &[1, 1 << 39, 0])));
        h.m.script(Pa(r0), step(|ctx| {
            assert_eq!(ctx.gprs[0] as i64, -9, "INVALID_ADDRESS: entry not protected");
            smc_call(ctx, psci::CPU_ON_64, &[7, 0x4000, 0])
        }));
        h.m.script(Pa(r0), step(|ctx| {
            assert_eq!(ctx.gprs[0] as i64, -2, "INVALID_PARAMETERS: no such REC");
            smc_call(ctx, psci::CPU_ON_64, &[0, 0x4000, 0])
        }));
        h.m.script(Pa(r0), step(|ctx| {
            assert_eq!(ctx.gprs[0] as i64, -4, "ALREADY_ON: itself");
            smc_call(ctx, psci::AFFINITY_INFO_64, &[0, 1])
        }));
        h.m.script(Pa(r0), step(|ctx| {
            assert_eq!(ctx.gprs[0] as i64, -2, "lowest affinity level must be 0");
            smc_call(ctx, psci::VERSION, &[])
        }));
        h.m.script(Pa(r0), step(|ctx| {
            assert_eq!(ctx.gprs[0], 0x1_0001, "PSCI 1.1");
            smc_call(ctx, psci::FEATURES, &[psci::CPU_ON_64])
        }));
        h.m.script(Pa(r0), step(|ctx| {
            assert_eq!(ctx.gprs[0], 0);
            smc_call(ctx, psci::FEATURES, &[psci::MIGRATE_32])
        }));
        h.m.script(Pa(r0), step(|ctx| {
            assert_eq!(ctx.gprs[0] as i64, -1, "MIGRATE is not supported");
            ctx.el1.sctlr |= 1 << 25; // the caller is big-endian at EL1
            smc_call(ctx, psci::CPU_ON_64, &[1, 0x4000_2000, 0xC0FFEE])
        }));
        let (_, e) = h.enter(r0, run);
        let mut want = exit(RmiRecExitReason::Psci);
        want.gprs[0] = psci::CPU_ON_64;
        want.gprs[1] = 1;
        assert_exit(&e, &want);
        // PSCI_COMPLETE conditions.
        let st = |c: u64, t: u64, s: u64| h.status(rmi::PSCI_COMPLETE, &[c, t, s]);
        assert_eq!(st(r0, r0, 0), RmiStatus::input(), "alias");
        assert_eq!(st(r0 + 8, r1, 0), RmiStatus::input(), "calling_align");
        assert_eq!(st(MMIO, r1, 0), RmiStatus::input(), "calling_bound");
        assert_eq!(st(RD, r1, 0), RmiStatus::input(), "calling_state");
        assert_eq!(st(r0, r1 + 8, 0), RmiStatus::input(), "target_align");
        assert_eq!(st(r0, RD, 0), RmiStatus::input(), "target_state");
        assert_eq!(st(r2, r1, 0), RmiStatus::input(), "pending: r2 asked nothing");
        assert_eq!(st(r0, r2, 0), RmiStatus::input(), "target: r0 asked for MPIDR 1");
        assert_eq!(st(r0, r1, (-2i64) as u64), RmiStatus::input(), "status");
        assert_eq!(h.status(rmi::REC_ENTER, &[r0, run]), RmiStatus::rec(), "rec_psci until completed");
        assert_eq!(h.status(rmi::REC_ENTER, &[r1, run]), RmiStatus::rec(), "r1 is not runnable yet");
        // Leave something in r1's aux granules (where the machine keeps FP state): CPU_ON wipes it.
        let aux: Vec<Pa> = {
            let r = h.rmm.granules().share(Pa(r1), GranuleState::Rec).unwrap();
            r.object::<warden::rec::Rec>().aux().to_vec()
        };
        for &a in &aux {
            let mut c = h.rmm.granules().claim(a, GranuleState::RecAux).unwrap();
            c.write_bytes(0, &[0xAB; 64]);
            c.commit(GranuleState::RecAux);
        }
        assert_eq!(st(r0, r1, 0), RmiStatus::SUCCESS);
        for &a in &aux {
            let mut c = h.rmm.granules().claim(a, GranuleState::RecAux).unwrap();
            assert!(c.bytes_mut().iter().all(|&b| b == 0), "a REC turned on starts with clean aux state");
            c.commit(GranuleState::RecAux);
        }
        assert_eq!(st(r0, r1, 0), RmiStatus::input(), "nothing pending any more");
        // r1 starts at the entry point with X0 = context_id, the caller's endianness, EL1h masked.
        h.m.script(Pa(r1), step(|ctx| {
            assert_eq!((ctx.pc, ctx.gprs[0], ctx.pstate), (0x4000_2000, 0xC0FFEE, 0x3C5));
            assert!(ctx.gprs[1..].iter().all(|&g| g == 0));
            assert_ne!(ctx.el1.sctlr & (1 << 25), 0, "EE from the caller");
            smc_call(ctx, psci::CPU_OFF, &[])
        }));
        let (_, e) = h.enter(r1, run);
        let mut want = exit(RmiRecExitReason::Psci);
        want.gprs[0] = psci::CPU_OFF;
        assert_exit(&e, &want);
        assert_eq!(h.status(rmi::REC_ENTER, &[r1, run]), RmiStatus::rec(), "CPU_OFF: not runnable");
        // r0 learns SUCCESS, then asks AFFINITY_INFO of r1 (OFF) and of r2 (ON); CPU_ON of r2 →
        // ALREADY_ON through the Host; DENIED for r1.
        h.m.script(Pa(r0), step(|ctx| {
            assert_eq!((ctx.gprs[0], ctx.gprs[1]), (0, 0), "CPU_ON: SUCCESS, X1–X3 cleared");
            smc_call(ctx, psci::AFFINITY_INFO_64, &[1, 0])
        }));
        let (_, e) = h.enter(r0, run);
        assert_eq!((e.gprs[0], e.gprs[1]), (psci::AFFINITY_INFO_64, 1));
        assert_eq!(st(r0, r1, (-3i64) as u64), RmiStatus::input(), "DENIED only for CPU_ON");
        assert_eq!(st(r0, r1, 0), RmiStatus::SUCCESS);
        h.m.script(Pa(r0), step(|ctx| {
            assert_eq!(ctx.gprs[0], 1, "OFF");
            smc_call(ctx, psci::CPU_ON_64, &[2, 0x4000_3000, 0])
        }));
        h.enter(r0, run);
        assert_eq!(st(r0, r2, 0), RmiStatus::SUCCESS);
        h.m.script(Pa(r0), step(|ctx| {
            assert_eq!(ctx.gprs[0] as i64, -4, "ALREADY_ON");
            smc_call(ctx, psci::CPU_ON_64, &[1, 0x4000_3000, 0])
        }));
        h.enter(r0, run);
        assert_eq!(st(r0, r1, (-3i64) as u64), RmiStatus::SUCCESS, "the Host may deny CPU_ON");
        h.m.script(Pa(r0), step(|ctx| {
            assert_eq!(ctx.gprs[0] as i64, -3, "DENIED");
            smc_call(ctx, psci::SYSTEM_RESET, &[])
        }));
        let (_, e) = h.enter(r0, run);
        assert_eq!(e.gprs[0], psci::SYSTEM_RESET);
        assert_eq!(h.status(rmi::REC_ENTER, &[r2, run]), RmiStatus::realm(1));
    });
}

#[test]
fn measurement_extend_and_read() {
    with_host(|h| {
        let rec = h.active_realm(PC);
        let run = h.fresh_ns();
        let value: [u64; 8] = [0x0807_0605_0403_0201, 0x100F_0E0D_0C0B_0A09, 0, 0, 0, 0, 0, 0];
        h.m.script(Pa(rec), step(move |ctx| {
            let mut args = vec![2, 12];
            args.extend_from_slice(&value);
            smc_call(ctx, rsi::MEASUREMENT_EXTEND, &args)
        }));
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!(ctx.gprs[0], 0);
            smc_call(ctx, rsi::MEASUREMENT_EXTEND, &[0, 8])
        }));
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!(ctx.gprs[0], 1, "index_bound: the RIM cannot be extended");
            smc_call(ctx, rsi::MEASUREMENT_EXTEND, &[1, 65])
        }));
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!(ctx.gprs[0], 1, "size_bound");
            smc_call(ctx, rsi::MEASUREMENT_READ, &[2])
        }));
        let expect = rem_extend(RmiHashAlgorithm::Sha256, &[0; 64], &(1..=12u8).collect::<Vec<_>>());
        h.m.script(Pa(rec), step(move |ctx| {
            assert_eq!(ctx.gprs[0], 0);
            let mut got = [0u8; 64];
            for (c, w) in got.chunks_exact_mut(8).zip(&ctx.gprs[1..9]) {
                c.copy_from_slice(&w.to_le_bytes());
            }
            assert_eq!(got, expect);
            RealmTrap::Irq
        }));
        h.enter(rec, run);
        let rd = h.rmm.granules().share(Pa(RD), GranuleState::Rd).unwrap();
        assert_eq!(rd.object::<Rd>().measurements().get(2), Some(&expect));
    });
}

#[test]
fn system_registers_wfx_and_serror() {
    with_host(|h| {
        h.m.set_id_register(id::AA64PFR0, 0x1_0000_0011_1111 | (1 << 32)); // SVE advertised
        h.m.set_id_register(id::AA64DFR0, 0x0000_0000_F0F0_F0F6);
        let rec = h.active_realm(PC);
        let run = h.fresh_ns();
        // MRS X3, ID_AA64PFR0_EL1 → sanitised, handled inside Warden.
        h.m.script(Pa(rec), step(|ctx| {
            ctx.pc = PC;
            RealmTrap::Sync { esr: (0x18 << 26) | IL | (3 << 20) | (3 << 5) | (4 << 1) | 1, far: 0, hpfar: 0 }
        }));
        // MRS X4, ID_AA64DFR0_EL1.
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!(ctx.gprs[3], 0x1_0000_0011_1111 & !(0xF << 32), "SVE hidden");
            assert_eq!(ctx.pc, PC + 4);
            RealmTrap::Sync { esr: (0x18 << 26) | IL | (3 << 20) | (4 << 5) | (5 << 1) | 1, far: 0, hpfar: 0 }
        }));
        // MSR ICC_SGI1R_EL1, X6 → the Host emulates it.
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!(ctx.gprs[4] & 0xF, 6, "DebugVer kept");
            assert_eq!((ctx.gprs[4] >> 12) & 0xF, 1, "BRPs = the Realm's num_bps");
            assert_eq!((ctx.gprs[4] >> 8) & 0xF, 0, "no PMU");
            ctx.gprs[6] = 0x0001_0000_0000_0002;
            RealmTrap::Sync { esr: (0x18 << 26) | IL | (3 << 20) | (5 << 17) | (12 << 10) | (6 << 5) | (11 << 1), far: 0, hpfar: 0 }
        }));
        let (_, e) = h.enter(rec, run);
        let mut want = RmiRecExit::new_zeroed();
        want.esr = (0x18 << 26) | IL | (3 << 20) | (5 << 17) | (12 << 10) | (6 << 5) | (11 << 1);
        want.gprs[0] = 0x0001_0000_0000_0002;
        assert_exit(&e, &want);
        // An unknown register: UNDEF at the access. WFI: an exit (the Host asked to trap it).
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!(ctx.pc, PC + 12);
            ctx.el1.vbar = VBAR;
            ctx.pstate = 0x3C5;
            RealmTrap::Sync { esr: (0x18 << 26) | IL | (3 << 20) | (1 << 14) | (15 << 10), far: 0, hpfar: 0 }
        }));
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!((ctx.pc, ctx.el1.elr, ctx.el1.esr), (VBAR + 0x200, PC + 12, IL));
            ctx.pc = PC;
            RealmTrap::Sync { esr: (0x01 << 26) | IL | 0x1FF_FFFC, far: 0, hpfar: 0 }
        }));
        let (_, e) = h.enter(rec, run);
        let mut want = RmiRecExit::new_zeroed();
        want.esr = (0x01 << 26) | IL;
        assert_exit(&e, &want);
        // SError: only EC, IDS, AET, EA, DFSC.
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!(ctx.pc, PC + 4, "WFI completed");
            RealmTrap::SError { esr: (0x2F << 26) | IL | (1 << 24) | (0b010 << 10) | (1 << 9) | 0x11 | (1 << 13) }
        }));
        let (_, e) = h.enter(rec, run);
        let mut want = exit(RmiRecExitReason::Serror);
        want.esr = (0x2F << 26) | (1 << 24) | (0b010 << 10) | (1 << 9) | 0x11;
        assert_exit(&e, &want);
        // GIC state goes in from enter and comes back in the exit; timers come back too.
        let mut enter = RmiRecEnter::new_zeroed();
        enter.gicv3_hcr = 1 << 1 | 1 << 14;
        enter.gicv3_lrs[0] = (1 << 62) | (1 << 60) | 27;
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!(ctx.gic.lrs[0], (1 << 62) | (1 << 60) | 27);
            ctx.gic.lrs[0] = 0;
            ctx.gic.misr = 1;
            ctx.gic.vmcr = 0xF000_0000;
            ctx.timer.cntv_ctl = 5;
            ctx.timer.cntv_cval = 1234;
            RealmTrap::Irq
        }));
        let (_, e) = h.enter_with(rec, run, &enter);
        let mut want = exit(RmiRecExitReason::Irq);
        want.gicv3_hcr = 1 << 1 | 1 << 14;
        want.gicv3_misr = 1;
        want.gicv3_vmcr = 0xF000_0000;
        want.cntv_ctl = 5;
        want.cntv_cval = 1234;
        assert_exit(&e, &want);
    });
}

#[test]
fn a_realm_reaching_realm_pas_memory_through_an_unprotected_mapping_is_stopped() {
    with_host(|h| {
        let rec = h.active_realm(PC);
        let run = h.fresh_ns();
        // The Host maps an unprotected IPA to a Realm-PAS granule (here: the RD); the Realm's access
        // takes a granule protection fault (DFSC 0x28). Retrying could never succeed: the Realm
        // gets an SEA and the Host a SYNC exit without the address.
        assert_eq!(h.status(rmi::RTT_MAP_UNPROTECTED, &[RD, NS_IPA, 3, RD | (0b110 << 2) | (0b11 << 6)]), RmiStatus::SUCCESS);
        h.m.script(Pa(rec), step(|ctx| {
            ctx.el1.vbar = VBAR;
            ctx.pstate = 0x3C5;
            ctx.pc = PC;
            RealmTrap::Sync { esr: DABT | IL | ISV | (1 << 6) | 0x28, far: 0x1000, hpfar: (NS_IPA >> 12) << 4 }
        }));
        let (st, e) = h.enter(rec, run);
        assert_eq!(st, RmiStatus::SUCCESS);
        let mut want = RmiRecExit::new_zeroed();
        want.esr = DABT | IL | 0x28;
        assert_exit(&e, &want);
        h.m.script(Pa(rec), step(|ctx| {
            assert_eq!((ctx.pc, ctx.el1.esr), (VBAR + 0x200, (0x25 << 26) | IL | 0x10), "SEA taken");
            RealmTrap::Irq
        }));
        assert_exit(&h.enter(rec, run).1, &exit(RmiRecExitReason::Irq));
        // Warden keeps serving.
        assert_eq!(h.call(rmi::VERSION, &[0x1_0000]).0[0], 0);
    });
}
