//! RECs: REC_CREATE / REC_DESTROY / REC_ENTER / PSCI_COMPLETE / RTT_SET_RIPAS failure conditions in
//! the spec's order, and scripted Realm runs — RSI calls handled inside Warden, host calls, MMIO
//! emulation, SEA injection, RIPAS changes, PSCI — with every `RmiRecExit` compared whole.

mod common;

use std::sync::mpsc;

use common::*;
use warden::granule::GranuleState;
use warden::measure::{rec_content, rim_extend_rec};
use warden::platform::RealmTrap;
use warden::realm::Rd;
use warden::rec::context::RecContext;
use warden_abi::addr::Pa;
use warden_abi::fid::{psci, rmi, rsi};
use warden_abi::rec_run::{RmiRecEnter, RmiRecExit, RmiRecExitReason};
use warden_abi::rsi::RsiHostCall;
use warden_abi::rtt::RmiHashAlgorithm;
use warden_abi::status::RmiStatus;
use zerocopy::{FromZeros, IntoBytes};

const PC: u64 = 0x4000_1000;
const IL: u64 = 1 << 25;
const DABT: u64 = 0x24 << 26;

fn rim(h: &Host<'_>) -> [u8; 64] {
    let rd = h.rmm.granules().share(Pa(RD), GranuleState::Rd).unwrap();
    *rd.object::<Rd>().measurements().get(0).unwrap()
}

fn exit(reason: RmiRecExitReason) -> RmiRecExit {
    let mut e = RmiRecExit::new_zeroed();
    e.exit_reason = reason.to_raw();
    e
}

fn assert_exit(got: &RmiRecExit, want: &RmiRecExit) {
    assert_eq!(got.exit_reason, want.exit_reason, "exit_reason");
    assert_eq!((got.esr, got.far, got.hpfar), (want.esr, want.far, want.hpfar), "esr/far/hpfar");
    assert_eq!(got.gprs, want.gprs, "gprs");
    // Every field is written (the run granule's exit half was poisoned before the entry), and no
    // field carries anything the spec does not allow for this exit.
    assert_eq!(exit_fields(got).as_bytes(), exit_fields(want).as_bytes(), "RmiRecExit differs from what the spec allows");
}

/// A Realm step that issues SMC `fid` with arguments X1… from address `pc`.
fn call(pc: u64, fid: u64, args: &[u64]) -> impl FnOnce(&mut RecContext, &warden::platform::RunConfig) -> RealmTrap + Send + 'static {
    let args = args.to_vec();
    move |ctx, _| {
        ctx.pc = pc;
        ctx.gprs[0] = fid;
        ctx.gprs[1..=args.len()].copy_from_slice(&args);
        smc()
    }
}

#[test]
fn create_success_measures_runnable_recs_only() {
    with_host(|h| {
        h.realm();
        let before = rim(h);
        let gprs = [1, 2, 3, 4, 5, 6, 7, 8];
        let (st, rec0) = h.rec_create_with(0, true, PC, gprs);
        assert_eq!(st, RmiStatus::SUCCESS);
        assert_eq!(h.state(rec0), Some(GranuleState::Rec));
        let algo = RmiHashAlgorithm::Sha256;
        let after0 = rim_extend_rec(algo, &before, &rec_content(algo, 1, PC, &gprs));
        assert_eq!(rim(h), after0);
        let (st, rec1) = h.rec_create_with(1, false, PC, gprs);
        assert_eq!(st, RmiStatus::SUCCESS);
        assert_eq!(rim(h), after0, "a REC that is not runnable is not measured");
        let rd = h.rmm.granules().share(Pa(RD), GranuleState::Rd).unwrap();
        assert_eq!((rd.object::<Rd>().rec_index(), rd.object::<Rd>().num_recs()), (2, 2));
        drop(rd);
        // Aux granules became REC_AUX; REC_DESTROY gives them all back.
        let rec = h.rmm.granules().share(Pa(rec1), GranuleState::Rec).unwrap();
        let aux: Vec<Pa> = rec.object::<warden::rec::Rec>().aux().to_vec();
        drop(rec);
        assert_eq!(aux.len(), 4);
        for a in &aux {
            assert_eq!(h.rmm.granules().state(*a), Some(GranuleState::RecAux));
        }
        assert_eq!(h.status(rmi::REC_DESTROY, &[rec1]), RmiStatus::SUCCESS);
        for a in aux.iter().chain([&Pa(rec1)]) {
            assert_eq!(h.rmm.granules().state(*a), Some(GranuleState::Delegated));
        }
        assert_eq!(h.status(rmi::REALM_DESTROY, &[RD]), RmiStatus::realm(0), "REC 0 keeps the Realm live");
        assert_eq!(h.status(rmi::REC_DESTROY, &[rec0]), RmiStatus::SUCCESS);
        assert_eq!(h.status(rmi::REALM_DESTROY, &[RD]), RmiStatus::SUCCESS);
    });
}

#[test]
fn create_failure_conditions_in_order() {
    with_host(|h| {
        h.realm();
        let rec = h.fresh();
        let good = h.rec_params(0, true, PC, [0; 8]);
        let st = |rd: u64, rec: u64, params: u64, p: &warden_abi::rec_params::RmiRecParams| {
            h.write(REC_PARAMS, p.as_bytes());
            h.status(rmi::REC_CREATE, &[rd, rec, params])
        };
        assert_eq!(st(RD, rec, REC_PARAMS + 8, &good), RmiStatus::input(), "params_align");
        assert_eq!(st(RD, rec, MMIO, &good), RmiStatus::input(), "params_bound");
        assert_eq!(st(RD, rec, h.fresh(), &good), RmiStatus::input(), "params_pas");
        assert_eq!(st(RD, rec + 4, REC_PARAMS, &good), RmiStatus::input(), "rec_align");
        assert_eq!(st(RD, MMIO, REC_PARAMS, &good), RmiStatus::input(), "rec_bound");
        assert_eq!(st(RD, h.fresh_ns(), REC_PARAMS, &good), RmiStatus::input(), "rec_state");
        assert_eq!(st(RD, RTT, REC_PARAMS, &good), RmiStatus::input(), "rec_state RTT");
        assert_eq!(st(RD + 8, rec, REC_PARAMS, &good), RmiStatus::input(), "rd_align");
        assert_eq!(st(ROOT, rec, REC_PARAMS, &good), RmiStatus::input(), "rd_bound");
        assert_eq!(st(h.fresh(), rec, REC_PARAMS, &good), RmiStatus::input(), "rd_state");
        let mut p = good.clone();
        p.mpidr = warden_abi::rec_params::RecMpidr::from_index(1).raw();
        assert_eq!(st(RD, rec, REC_PARAMS, &p), RmiStatus::input(), "mpidr_index");
        let mut p = good.clone();
        p.mpidr = 1 << 4;
        assert_eq!(st(RD, rec, REC_PARAMS, &p), RmiStatus::input(), "mpidr_index: SBZ bits");
        let mut p = good.clone();
        p.num_aux = 3;
        assert_eq!(st(RD, rec, REC_PARAMS, &p), RmiStatus::input(), "num_aux");
        let mut p = good.clone();
        p.aux[2] += 8;
        assert_eq!(st(RD, rec, REC_PARAMS, &p), RmiStatus::input(), "aux_align");
        let mut p = good.clone();
        p.aux[3] = p.aux[0];
        assert_eq!(st(RD, rec, REC_PARAMS, &p), RmiStatus::input(), "aux_alias: duplicate");
        let mut p = good.clone();
        p.aux[1] = rec;
        assert_eq!(st(RD, rec, REC_PARAMS, &p), RmiStatus::input(), "aux_alias: the REC");
        let mut p = good.clone();
        p.aux[1] = h.fresh_ns();
        assert_eq!(st(RD, rec, REC_PARAMS, &p), RmiStatus::input(), "aux_state");
        // Nothing consumed so far; the good parameters work.
        assert_eq!(st(RD, rec, REC_PARAMS, &good), RmiStatus::SUCCESS);
        // realm_state after the RD checks.
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RD]), RmiStatus::SUCCESS);
        let p = h.rec_params(1, true, PC, [0; 8]);
        let rec1 = h.fresh();
        assert_eq!(st(RD, rec1, REC_PARAMS, &p), RmiStatus::realm(0), "realm_state");
        assert_eq!(st(RTT, rec1, REC_PARAMS, &p), RmiStatus::input(), "rd_state before realm_state");
    });
}

#[test]
fn create_num_recs_limit() {
    use warden::arch::host::{HostMachine, Pas, RegionSpec};
    let m = HostMachine::new(
        &[RegionSpec { base: DRAM, size: 40 << 20, pas: Pas::NonSecure, delegable: true }],
        HostMachine::default_features(),
    );
    with_machine(m, |h| {
        h.realm();
        // 2^10 − 1 RECs, each with 4 aux granules, from a pool above the test pool.
        let mut next = DRAM + (16 << 20);
        let mut take = || {
            let pa = next;
            next += 0x1000;
            h.delegate(pa);
            pa
        };
        for i in 0..1023u64 {
            let mut p = RmiRecParams::new_zeroed();
            p.mpidr = warden_abi::rec_params::RecMpidr::from_index(i).raw();
            p.num_aux = 4;
            for a in 0..4 {
                p.aux[a] = take();
            }
            h.write(REC_PARAMS, p.as_bytes());
            let rec = take();
            assert_eq!(h.status(rmi::REC_CREATE, &[RD, rec, REC_PARAMS]), RmiStatus::SUCCESS, "REC {i}");
        }
        let mut p = RmiRecParams::new_zeroed();
        p.mpidr = warden_abi::rec_params::RecMpidr::from_index(1023).raw();
        p.num_aux = 4;
        for a in 0..4 {
            p.aux[a] = take();
        }
        h.write(REC_PARAMS, p.as_bytes());
        let rec = take();
        assert_eq!(h.status(rmi::REC_CREATE, &[RD, rec, REC_PARAMS]), RmiStatus::realm(0), "num_recs");
    });
}

use warden_abi::rec_params::RmiRecParams;

#[test]
fn destroy_failure_conditions() {
    with_host(|h| {
        let rec = h.active_realm(PC);
        assert_eq!(h.status(rmi::REC_DESTROY, &[rec + 8]), RmiStatus::input(), "rec_align");
        assert_eq!(h.status(rmi::REC_DESTROY, &[MMIO]), RmiStatus::input(), "rec_bound");
        assert_eq!(h.status(rmi::REC_DESTROY, &[RD]), RmiStatus::input(), "rec_gran_state");
        // rec_state: destroy while the REC runs (on another CPU) → RMI_ERROR_REC.
        let (to_test, from_realm) = mpsc::channel::<()>();
        let (to_realm, in_realm) = mpsc::channel::<()>();
        h.m.script(Pa(rec), move |_, _| {
            to_test.send(()).unwrap();
            in_realm.recv().unwrap();
            RealmTrap::Irq
        });
        let run = h.fresh_ns();
        std::thread::scope(|s| {
            let t = s.spawn(|| h.enter(rec, run));
            from_realm.recv().unwrap();
            assert_eq!(h.status(rmi::REC_DESTROY, &[rec]), RmiStatus::rec(), "rec_state RUNNING");
            assert_eq!(h.status(rmi::REC_ENTER, &[rec, h.fresh_ns()]), RmiStatus::rec(), "REC_ENTER ‖ REC_ENTER");
            assert_eq!(h.status(rmi::REALM_DESTROY, &[RD]), RmiStatus::realm(0), "a running Realm is live");
            to_realm.send(()).unwrap();
            let (st, e) = t.join().unwrap();
            assert_eq!(st, RmiStatus::SUCCESS);
            assert_exit(&e, &exit(RmiRecExitReason::Irq));
        });
        assert_eq!(h.status(rmi::REC_DESTROY, &[rec]), RmiStatus::SUCCESS);
    });
}

#[test]
fn enter_failure_conditions_in_order() {
    with_host(|h| {
        h.realm();
        h.map_l3(IPA);
        let rec = h.rec(0, PC);
        let run = h.fresh_ns();
        let st = |rec: u64, run: u64| h.status(rmi::REC_ENTER, &[rec, run]);
        assert_eq!(st(rec, run + 8), RmiStatus::input(), "run_align");
        assert_eq!(st(rec, MMIO), RmiStatus::input(), "run_bound");
        assert_eq!(st(rec, h.fresh()), RmiStatus::input(), "run_pas: a delegated run granule");
        assert_eq!(st(rec + 1, run), RmiStatus::input(), "rec_align");
        assert_eq!(st(SECURE, run), RmiStatus::input(), "rec_bound");
        assert_eq!(st(RD, run), RmiStatus::input(), "rec_gran_state");
        assert_eq!(st(rec, run), RmiStatus::realm(0), "realm_new");
        assert_eq!(st(RD, run), RmiStatus::input(), "rec_gran_state before realm_new");
        let off = h.rec(1, PC);
        let (_, not_runnable) = h.rec_create_with(2, false, PC, [0; 8]);
        assert_eq!(h.status(rmi::REALM_ACTIVATE, &[RD]), RmiStatus::SUCCESS);
        assert_eq!(st(not_runnable, run), RmiStatus::rec(), "rec_runnable");
        // rec_mmio: EMUL_MMIO without an emulatable abort.
        let mut enter = RmiRecEnter::new_zeroed();
        enter.flags = 1;
        assert_eq!(h.enter_with(rec, run, &enter).0, RmiStatus::rec(), "rec_mmio");
        // rec_gicv3: a forbidden ICH_HCR bit, an HW LR, duplicate vINTIDs.
        for (hcr, lrs) in [(1u64, [0u64; 2]), (0, [(1 << 62) | (1 << 61) | 27, 0]), (0, [(1 << 62) | 27, (1 << 62) | 27])] {
            let mut enter = RmiRecEnter::new_zeroed();
            enter.gicv3_hcr = hcr;
            enter.gicv3_lrs[..2].copy_from_slice(&lrs);
            assert_eq!(h.enter_with(rec, run, &enter).0, RmiStatus::rec(), "rec_gicv3 {hcr:#x} {lrs:x?}");
        }
        // rec_psci: a pending PSCI request.
        h.m.script(Pa(rec), call(PC, psci::AFFINITY_INFO_64, &[1, 0]));
        let (s, e) = h.enter(rec, run);
        assert_eq!(s, RmiStatus::SUCCESS);
        assert_eq!((e.exit_reason, e.gprs[0], e.gprs[1]), (RmiRecExitReason::Psci.to_raw(), psci::AFFINITY_INFO_64, 1));
        assert_eq!(st(rec, run), RmiStatus::rec(), "rec_psci");
        assert_eq!(h.status(rmi::PSCI_COMPLETE, &[rec, off, 0]), RmiStatus::SUCCESS);
        // system_off.
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!(ctx.gprs[0], 0, "AFFINITY_INFO: ON");
            ctx.gprs[0] = psci::SYSTEM_OFF;
            smc()
        });
        let (s, e) = h.enter(rec, run);
        assert_eq!(s, RmiStatus::SUCCESS);
        let mut want = exit(RmiRecExitReason::Psci);
        want.gprs[0] = psci::SYSTEM_OFF;
        assert_exit(&e, &want);
        assert_eq!(st(rec, run), RmiStatus::realm(1), "system_off");
        assert_eq!(st(off, run), RmiStatus::realm(1), "every REC of the Realm");
    });
}

#[test]
fn rsi_calls_inside_warden_and_realm_config() {
    with_host(|h| {
        let rec = h.active_realm(PC);
        let run = h.fresh_ns();
        // RSI_VERSION, FEATURES, MEASUREMENT_READ, SMCCC_VERSION, an unknown SMC and HVC are all
        // handled without an exit; the Realm then reads its configuration into IPA and stops (IRQ).
        h.m.script(Pa(rec), call(PC, rsi::VERSION, &[0x1_0000]));
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!((ctx.pc, ctx.gprs[0], ctx.gprs[1], ctx.gprs[2]), (PC + 4, 0, 0x1_0000, 0x1_0000));
            ctx.gprs[0] = rsi::VERSION;
            ctx.gprs[1] = 0x2_0000;
            smc()
        });
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!((ctx.gprs[0], ctx.gprs[1], ctx.gprs[2]), (1, 0x1_0000, 0x1_0000), "RSI_ERROR_INPUT for 2.0");
            ctx.gprs[0] = 0x8000_0000; // SMCCC_VERSION
            smc()
        });
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!(ctx.gprs[0], 0x1_0002);
            ctx.gprs[0] = 0xC200_0000; // not RSI, PSCI or SMCCC
            smc()
        });
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!(ctx.gprs[0], u64::MAX, "SMCCC_NOT_SUPPORTED");
            ctx.el1.vbar = 0x4010_0000;
            ctx.pc = PC + 0x104; // after the HVC
            RealmTrap::Sync { esr: (0x16 << 26) | IL, far: 0, hpfar: 0 }
        });
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!(ctx.pc, 0x4010_0200, "UNDEF taken to EL1h");
            assert_eq!((ctx.el1.elr, ctx.el1.esr), (PC + 0x100, IL));
            ctx.pc = PC;
            ctx.gprs[0] = rsi::MEASUREMENT_READ;
            ctx.gprs[1] = 5;
            smc()
        });
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!(ctx.gprs[0], 1, "index_bound");
            ctx.pc = PC;
            ctx.gprs[0] = rsi::REALM_CONFIG;
            ctx.gprs[1] = IPA;
            smc()
        });
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!(ctx.gprs[0], 0);
            RealmTrap::Irq
        });
        let (st, e) = h.enter(rec, run);
        assert_eq!(st, RmiStatus::SUCCESS);
        assert_exit(&e, &exit(RmiRecExitReason::Irq));
        assert_eq!(h.m.script_left(Pa(rec)), 0);
        // RsiRealmConfig landed in the DATA granule behind IPA.
        let (_, _, data, _) = h.read_entry(IPA, 3);
        let mut c = h.rmm.granules().claim(Pa(data), GranuleState::Data).unwrap();
        let bytes = c.bytes_mut();
        assert_eq!(u64::from_le_bytes(bytes[0..8].try_into().unwrap()), 40, "ipa_width");
        assert_eq!(bytes[8], 0, "SHA-256");
        assert_eq!(&bytes[0x200..0x240], &[0x5A; 64], "rpv");
        assert!(bytes[0x10..0x200].iter().chain(&bytes[0x240..]).all(|&b| b == 0), "the rest is zero");
    });
}

#[test]
fn realm_config_of_an_unmapped_page_exits_as_a_data_abort_and_retries() {
    with_host(|h| {
        let rec = h.active_realm(PC);
        let run = h.fresh_ns();
        // IPA + 0x1000 is RAM but has no DATA: the Host must map it.
        let page = IPA + 0x1000;
        h.m.script(Pa(rec), call(PC, rsi::IPA_STATE_SET, &[page, page + 0x1000, 1, 0]));
        let (_, e) = h.enter(rec, run);
        assert_eq!(e.exit_reason, RmiRecExitReason::RipasChange.to_raw());
        assert_eq!(h.call(rmi::RTT_SET_RIPAS, &[RD, rec, page, page + 0x1000]).0, [0, page + 0x1000, 0, 0, 0]);
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!((ctx.gprs[0], ctx.gprs[1], ctx.gprs[2]), (0, 0x4020_2000, 0), "accepted");
            ctx.pc = PC;
            ctx.gprs[0] = rsi::REALM_CONFIG;
            ctx.gprs[1] = 0x4020_1000;
            smc()
        });
        let (st, e) = h.enter(rec, run);
        assert_eq!(st, RmiStatus::SUCCESS);
        let mut want = RmiRecExit::new_zeroed();
        want.esr = DABT | IL | 0x07; // translation fault, level 3
        want.hpfar = (page >> 12) << 4;
        assert_exit(&e, &want);
        // The Host maps it; the SMC runs again (the PC did not move).
        let data = h.fresh();
        assert_eq!(h.status(rmi::DATA_CREATE_UNKNOWN, &[RD, data, page]), RmiStatus::SUCCESS);
        h.m.script(Pa(rec), move |ctx, _| {
            assert_eq!(ctx.pc, PC, "the SMC is retried");
            smc()
        });
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!((ctx.gprs[0], ctx.pc), (0, PC + 4));
            RealmTrap::Fiq
        });
        let (_, e) = h.enter(rec, run);
        assert_exit(&e, &exit(RmiRecExitReason::Fiq));
        // An EMPTY page: RSI_ERROR_INPUT, no exit.
        h.m.script(Pa(rec), call(PC, rsi::REALM_CONFIG, &[IPA + 0x10_0000]));
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!(ctx.gprs[0], 1);
            RealmTrap::Irq
        });
        assert_exit(&h.enter(rec, run).1, &exit(RmiRecExitReason::Irq));
    });
}

#[test]
fn host_call_round_trip() {
    with_host(|h| {
        // The Realm's RsiHostCall at IPA + 0x100.
        let mut call_struct = RsiHostCall::new_zeroed();
        call_struct.imm = 0xFFFF_0077; // only the low 16 bits are the immediate
        for (i, g) in call_struct.gprs.iter_mut().enumerate() {
            *g = i as u64 * 11;
        }
        let mut page = vec![0u8; 0x200];
        page[0x100..].copy_from_slice(call_struct.as_bytes());
        let rec = h.active_realm_with(&page, &[true], PC)[0];
        let (_, _, data, _) = h.read_entry(IPA, 3);
        let run = h.fresh_ns();
        h.m.script(Pa(rec), call(PC, rsi::HOST_CALL, &[IPA + 0x100]));
        let (st, e) = h.enter(rec, run);
        assert_eq!(st, RmiStatus::SUCCESS);
        let mut want = exit(RmiRecExitReason::HostCall);
        want.imm = 0x77;
        want.gprs = call_struct.gprs;
        assert_exit(&e, &want);
        // Misaligned: RSI_ERROR_INPUT inside Warden.
        let mut enter = RmiRecEnter::new_zeroed();
        for (i, g) in enter.gprs.iter_mut().enumerate() {
            *g = 100 + i as u64;
        }
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!((ctx.gprs[0], ctx.pc), (0, PC + 4), "RSI_SUCCESS after the host call");
            ctx.pc = PC;
            ctx.gprs[0] = rsi::HOST_CALL;
            ctx.gprs[1] = IPA + 0x180;
            smc()
        });
        h.m.script(Pa(rec), |ctx, _| {
            assert_eq!(ctx.gprs[0], 1, "addr_align");
            RealmTrap::Irq
        });
        assert_exit(&h.enter_with(rec, run, &enter).1, &exit(RmiRecExitReason::Irq));
        // The Host's results are in the Realm's structure, the immediate untouched.
        let mut c = h.rmm.granules().claim(Pa(data), GranuleState::Data).unwrap();
        let back = RsiHostCall::read_from_bytes(&c.bytes_mut()[0x100..0x200]).unwrap();
        assert_eq!(back.imm, 0xFFFF_0077);
        assert_eq!(back.gprs, enter.gprs);
    });
}

use zerocopy::FromBytes;

