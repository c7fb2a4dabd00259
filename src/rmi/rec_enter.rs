//! `RMI_REC_ENTER`: the checks, the completion of the previous exit, the run loop, and the exit the
//! Host sees.
//!
//! The loop runs the Realm through the machine until a trap needs the Host: RSI calls, PSCI calls
//! Warden answers itself, HVC (an Undefined Instruction for the Realm), and aborts on EMPTY or
//! out-of-range memory (an SEA for the Realm) all re-enter without returning. The exit record is
//! built from zero, with only the fields the spec allows for its reason.

use warden_abi::addr::{GRANULE_SIZE, Pa};
use warden_abi::fid::psci;
use core::mem::offset_of;

use warden_abi::rec_run::{GICV3_HCR_HOST_MASK, REC_RUN_EXIT_OFFSET, RmiRecEnter, RmiRecEnterFlags, RmiRecExit, RmiRecExitReason};
use warden_abi::rtt::RmiRipas;
use warden_abi::status::{RmiStatus, RsiStatus};
use zerocopy::{FromBytes, FromZeros, IntoBytes, KnownLayout};

use crate::granule::GranuleState;
use crate::platform::{Machine, NsAccessFault, RealmTrap, RunConfig};
use crate::realm::{Rd, RealmState};
use crate::rec::exit::{
    AbortAction, IpaState, NON_EMULATABLE_MASK, SERROR_MASK, SyncTrap, abort_action, classify, esr as exit_esr, mmio_read_result,
    mmio_write_value,
};
use crate::rec::sysreg;
use crate::rec::inject::{Injected, inject};
use crate::rec::{HostExit, Rec, RecInner};
use crate::rmm::Rmm;
use crate::rsi::{Flow, RecRun, exit_with};
use crate::rtt::entry::EntryKind;

/// ICH_LR<n>_EL2 fields checked on entry.
mod lr {
    /// State `[63:62]`: 0 = invalid.
    pub const STATE_SHIFT: u32 = 62;
    /// HW `[61]`: a hardware interrupt (never allowed from the Host).
    pub const HW: u64 = 1 << 61;
    /// pINTID `[41:32]`; with HW = 0 only bit 41 (EOI maintenance) may be set.
    pub const PINTID_MASK: u64 = 0x3FF << 32;
    /// The EOI bit inside pINTID.
    pub const EOI: u64 = 1 << 41;
    /// vINTID `[31:0]`.
    pub const VINTID_MASK: u64 = 0xFFFF_FFFF;
}

/// `Gicv3ConfigIsValid`: only permitted ICH_HCR bits; every valid LR has HW = 0, no pINTID other
/// than the EOI bit, a vINTID below 2^24, and no two valid LRs share a vINTID.
pub fn gicv3_config_is_valid(hcr: u64, lrs: &[u64]) -> bool {
    if hcr & !GICV3_HCR_HOST_MASK != 0 {
        return false;
    }
    lrs.iter().enumerate().all(|(i, &v)| {
        if v >> lr::STATE_SHIFT == 0 {
            return true;
        }
        let vintid = v & lr::VINTID_MASK;
        v & lr::HW == 0
            && v & lr::PINTID_MASK & !lr::EOI == 0
            && vintid < (1 << 24)
            && !lrs[i + 1..].iter().any(|&w| w >> lr::STATE_SHIFT != 0 && w & lr::VINTID_MASK == vintid)
    })
}

/// The parts of `RmiRecEnter` Warden uses, read in place with three small copies instead of 2 KiB.
#[derive(FromBytes, IntoBytes, KnownLayout)]
#[repr(C)]
struct EnterArgs {
    flags: u64,
    gprs: [u64; 31],
    /// `gicv3_hcr` followed by `gicv3_lrs[0..16]`, as in the ABI.
    gic: [u64; 17],
}

impl EnterArgs {
    fn read<M: Machine>(&mut self, machine: &M, run: Pa) -> Result<(), NsAccessFault> {
        let at = |offset: usize| Pa(run.raw() + offset as u64);
        machine.ns_read(at(offset_of!(RmiRecEnter, flags)), self.flags.as_mut_bytes())?;
        machine.ns_read(at(offset_of!(RmiRecEnter, gprs)), self.gprs.as_mut_bytes())?;
        machine.ns_read(at(offset_of!(RmiRecEnter, gicv3_hcr)), self.gic.as_mut_bytes())
    }

    /// The entry flags (bits other than those of RMI 1.0 are not part of the ABI: ignored).
    fn flags(&self) -> RmiRecEnterFlags {
        RmiRecEnterFlags::from_bits_truncate(self.flags)
    }

    fn gicv3_hcr(&self) -> u64 {
        self.gic[0]
    }

    fn gicv3_lrs(&self) -> &[u64] {
        &self.gic[1..]
    }
}

const _: () = assert!(offset_of!(RmiRecEnter, gicv3_lrs) == offset_of!(RmiRecEnter, gicv3_hcr) + 8);

/// Writes the exit the Host sees into `RmiRecExit` at `run + 0x800`: the fields of its reason, the
/// GIC and timer state every exit reports, and zero for every other field. Only the fields are
/// written (a few hundred bytes, not 2 KiB); reserved space is left as the Host had it.
fn write_exit<M: Machine>(machine: &M, run: Pa, inner: &RecInner, num_lrs: usize) -> Result<(), NsAccessFault> {
    let exit = &inner.exit;
    let at = |offset: usize| Pa(run.raw() + (REC_RUN_EXIT_OFFSET + offset) as u64);
    machine.ns_write(at(offset_of!(RmiRecExit, exit_reason)), exit.reason.to_raw().as_bytes())?;
    machine.ns_write(at(offset_of!(RmiRecExit, esr)), [exit.esr, exit.far, exit.hpfar].as_bytes())?;
    machine.ns_write(at(offset_of!(RmiRecExit, gprs)), exit.gprs.as_bytes())?;
    let gic = &inner.ctx.gic;
    let mut gic_words = [0u64; 19];
    gic_words[0] = gic.hcr;
    gic_words[1..=num_lrs].copy_from_slice(&gic.lrs[..num_lrs]);
    gic_words[17] = gic.misr;
    gic_words[18] = gic.vmcr;
    machine.ns_write(at(offset_of!(RmiRecExit, gicv3_hcr)), gic_words.as_bytes())?;
    let t = &inner.ctx.timer;
    machine.ns_write(at(offset_of!(RmiRecExit, cntp_ctl)), [t.cntp_ctl, t.cntp_cval, t.cntv_ctl, t.cntv_cval].as_bytes())?;
    machine.ns_write(at(offset_of!(RmiRecExit, ripas_base)), [exit.ripas_base, exit.ripas_top, exit.ripas_value].as_bytes())?;
    machine.ns_write(at(offset_of!(RmiRecExit, imm)), (exit.imm & 0xFFFF).as_bytes())?;
    machine.ns_write(at(offset_of!(RmiRecExit, pmu_ovf_status)), 0u64.as_bytes())
}

// The groups written together above are contiguous in the ABI.
const _: () = {
    assert!(offset_of!(RmiRecExit, far) == offset_of!(RmiRecExit, esr) + 8);
    assert!(offset_of!(RmiRecExit, hpfar) == offset_of!(RmiRecExit, esr) + 16);
    assert!(offset_of!(RmiRecExit, gicv3_lrs) == offset_of!(RmiRecExit, gicv3_hcr) + 8);
    assert!(offset_of!(RmiRecExit, gicv3_misr) == offset_of!(RmiRecExit, gicv3_hcr) + 17 * 8);
    assert!(offset_of!(RmiRecExit, gicv3_vmcr) == offset_of!(RmiRecExit, gicv3_hcr) + 18 * 8);
    assert!(offset_of!(RmiRecExit, cntp_cval) == offset_of!(RmiRecExit, cntp_ctl) + 8);
    assert!(offset_of!(RmiRecExit, cntv_ctl) == offset_of!(RmiRecExit, cntp_ctl) + 16);
    assert!(offset_of!(RmiRecExit, cntv_cval) == offset_of!(RmiRecExit, cntp_ctl) + 24);
    assert!(offset_of!(RmiRecExit, ripas_top) == offset_of!(RmiRecExit, ripas_base) + 8);
    assert!(offset_of!(RmiRecExit, ripas_value) == offset_of!(RmiRecExit, ripas_base) + 16);
    assert!(REC_RUN_EXIT_OFFSET + core::mem::size_of::<RmiRecExit>() <= GRANULE_SIZE as usize);
};

impl<M: Machine> Rmm<'_, M> {
    /// RMI_REC_ENTER.
    #[inline(never)]
    pub(super) fn rec_enter(&self, rec: u64, run_ptr: u64) -> Result<(), RmiStatus> {
        let input = RmiStatus::input();
        let (rec_pa, run_ptr) = (Pa(rec), Pa(run_ptr));
        // run_align, run_bound, run_pas (the copy of `enter` faults unless the granule is NS)
        if !run_ptr.is_granule_aligned() || !self.granules.is_delegable(run_ptr) {
            return Err(input);
        }
        let mut enter = EnterArgs::new_zeroed();
        enter.read(self.machine(), run_ptr).map_err(|_| input)?;
        // rec_align, rec_bound, rec_gran_state
        if !rec_pa.is_granule_aligned() {
            return Err(input);
        }
        let rec_ref = self.granules.share(rec_pa, GranuleState::Rec).map_err(|_| input)?;
        let rec = rec_ref.object::<Rec>();
        // The REC keeps its Realm live: the RD is there.
        let rd_ref = self.granules.share_owned(rec.owner(), GranuleState::Rd).expect("a REC's owner is an RD");
        let realm = rd_ref.object::<Rd>();
        match realm.state() {
            RealmState::New => return Err(RmiStatus::realm(0)),       // realm_new
            RealmState::SystemOff => return Err(RmiStatus::realm(1)), // system_off
            RealmState::Active => {}
        }
        let mut guard = rec.lock().map_err(|_| RmiStatus::rec())?; // rec_state
        if !rec.runnable() {
            return Err(RmiStatus::rec()); // rec_runnable
        }
        let flags = enter.flags();
        let num_lrs = usize::from(self.machine().features().gicv3_num_lrs).min(16);
        let checked = guard.with(|inner| {
            if flags.contains(RmiRecEnterFlags::EMUL_MMIO) && inner.emulatable_abort.is_none() {
                return Err(RmiStatus::rec()); // rec_mmio
            }
            if !gicv3_config_is_valid(enter.gicv3_hcr(), &enter.gicv3_lrs()[..num_lrs]) {
                return Err(RmiStatus::rec()); // rec_gicv3
            }
            if inner.psci_pending.is_some() {
                return Err(RmiStatus::rec()); // rec_psci
            }
            Ok(())
        });
        checked?;
        guard.start_running();

        let run = RecRun { rmm: self, rd: rec.owner(), realm, rec };
        let config = RunConfig {
            rtt_base: realm.config().rtt_base.raw(),
            vmid: realm.config().vmid,
            ipa_width: realm.config().ipa_width,
            start_level: realm.config().rtt_level_start,
            trap_wfi: flags.contains(RmiRecEnterFlags::TRAP_WFI),
            trap_wfe: flags.contains(RmiRecEnterFlags::TRAP_WFE),
            mpidr: rec.mpidr(),
            fp_area: rec.aux().first().map_or(0, |a| a.raw()),
        };
        let (trace, run_start) = (self.granules.trace(), self.granules.trace().start());
        let cpu_off = guard.with(|inner| {
            if run.complete(inner, &enter, flags, num_lrs) == Flow::Resume {
                loop {
                    let trap = self.machine().run_realm(rec_pa, &mut inner.ctx, &config);
                    if run.trap(inner, trap) == Flow::Exit {
                        break;
                    }
                }
                self.machine().leave_realm(rec_pa, &mut inner.ctx);
            }
            inner.exit.reason == RmiRecExitReason::Psci && inner.exit.gprs[0] == psci::CPU_OFF
        });
        if cpu_off {
            guard.set_runnable(false);
        }
        let (written, reason, esr) =
            guard.with(|inner| (write_exit(self.machine(), run_ptr, inner, num_lrs), inner.exit.reason.to_raw(), inner.exit.esr));
        trace.rec_run(run_start, rec_pa.raw(), reason, esr);
        drop(guard);
        written.map_err(|_| input)?;
        Ok(())
    }
}

impl<M: Machine> RecRun<'_, '_, M> {
    /// Completes what the last exit left open, from the Host's `enter`: MMIO emulation or SEA
    /// injection, host call results, the RIPAS change response; loads the Host's GIC state. Returns
    /// `Flow::Exit` if the completion itself needs the Host (a host-call buffer that is not mapped).
    fn complete(&self, inner: &mut RecInner, enter: &EnterArgs, flags: RmiRecEnterFlags, num_lrs: usize) -> Flow {
        let abort = inner.emulatable_abort.take();
        if let Some(far) = inner.unprotected_abort.take()
            && flags.contains(RmiRecEnterFlags::INJECT_SEA)
        {
            inject(&mut inner.ctx, Injected::DataAbort { far });
        } else if let Some(access) = abort
            && flags.contains(RmiRecEnterFlags::EMUL_MMIO)
        {
            if !access.write && access.srt != 31 {
                inner.ctx.gprs[usize::from(access.srt)] = mmio_read_result(&access, enter.gprs[0]);
            }
            inner.ctx.pc += 4;
        }
        if inner.ripas.pending {
            let r = inner.ripas;
            let reject = flags.contains(RmiRecEnterFlags::RIPAS_RESPONSE) && r.value == RmiRipas::Ram as u8 && r.addr != r.top;
            let x = &mut inner.ctx.gprs;
            x[0] = RsiStatus::Success.to_x0();
            x[1] = r.addr;
            x[2] = u64::from(reject);
            inner.ripas.pending = false;
        }
        inner.ctx.gic.hcr = enter.gicv3_hcr();
        inner.ctx.gic.lrs[..num_lrs].copy_from_slice(&enter.gicv3_lrs()[..num_lrs]);
        self.complete_host_call(inner, &enter.gprs)
    }

    /// Decides what a trap means: handled (run again) or an exit to the Host.
    fn trap(&self, inner: &mut RecInner, trap: RealmTrap) -> Flow {
        let (esr, far, hpfar) = match trap {
            RealmTrap::Irq => return exit_with(inner, HostExit::new(RmiRecExitReason::Irq)),
            RealmTrap::Fiq => return exit_with(inner, HostExit::new(RmiRecExitReason::Fiq)),
            RealmTrap::SError { esr } => {
                let mut e = HostExit::new(RmiRecExitReason::Serror);
                e.esr = esr & SERROR_MASK;
                return exit_with(inner, e);
            }
            RealmTrap::Sync { esr, far, hpfar } => (esr, far, hpfar),
        };
        match classify(esr, far, hpfar) {
            SyncTrap::Smc => self.smc(inner),
            SyncTrap::Hvc => {
                inject(&mut inner.ctx, Injected::UndefPrevious);
                Flow::Resume
            }
            SyncTrap::Abort(a) => {
                let state = self.ipa_state(a.ipa);
                match abort_action(&a, state) {
                    AbortAction::Inject(what) => {
                        inject(&mut inner.ctx, what);
                        Flow::Resume
                    }
                    AbortAction::Retry => Flow::Resume,
                    AbortAction::Emulatable { esr, far, hpfar, access } => {
                        let mut e = HostExit::sync(esr, far, hpfar);
                        if access.write {
                            e.gprs[0] = mmio_write_value(&access, &inner.ctx.gprs);
                        }
                        inner.emulatable_abort = Some(access);
                        inner.unprotected_abort = Some(a.far);
                        exit_with(inner, e)
                    }
                    AbortAction::NonEmulatable { esr, hpfar, unprotected } => {
                        if unprotected {
                            inner.unprotected_abort = Some(a.far);
                        }
                        exit_with(inner, HostExit::sync(esr, 0, hpfar))
                    }
                }
            }
            SyncTrap::ExternalAbort { esr, far, instruction } => {
                // The access itself failed: the Realm takes an SEA, and the Host is told.
                let what = if instruction { Injected::InstructionAbort { far } } else { Injected::DataAbort { far } };
                inject(&mut inner.ctx, what);
                exit_with(inner, HostExit::sync(esr & NON_EMULATABLE_MASK, 0, 0))
            }
            SyncTrap::Wfx { esr } => {
                inner.ctx.pc += 4;
                exit_with(inner, HostExit::sync(esr & (exit_esr::EC_MASK | exit_esr::IL | 0b11), 0, 0))
            }
            SyncTrap::Sysreg { esr } => self.sysreg(inner, esr),
            SyncTrap::Other { esr } => exit_with(inner, HostExit::sync(esr & exit_esr::EC_MASK, 0, 0)),
        }
    }

    /// A trapped MRS/MSR: sanitised ID registers are emulated, GIC SGI writes go to the Host, anything
    /// else is undefined for the Realm.
    fn sysreg(&self, inner: &mut RecInner, esr: u64) -> Flow {
        let a = sysreg::decode(esr);
        let rt = usize::from(a.rt);
        if a.read && a.reg.is_id_space() {
            let c = self.realm.config();
            let value = sysreg::sanitise(
                a.reg,
                self.rmm.machine().id_register(a.reg),
                sysreg::RealmFeatures { num_bps: c.num_bps, num_wps: c.num_wps },
            );
            if rt != 31 {
                inner.ctx.gprs[rt] = value;
            }
            inner.ctx.pc += 4;
            return Flow::Resume;
        }
        if !a.read && matches!(a.reg, sysreg::gic::SGI1R | sysreg::gic::ASGI1R | sysreg::gic::SGI0R) {
            let mut e = HostExit::sync(esr & (exit_esr::EC_MASK | exit_esr::IL | 0x1FF_FFFF), 0, 0);
            e.gprs[0] = if rt == 31 { 0 } else { inner.ctx.gprs[rt] };
            inner.ctx.pc += 4;
            return exit_with(inner, e);
        }
        inject(&mut inner.ctx, Injected::UndefCurrent);
        Flow::Resume
    }

    /// The state of the IPA an abort hit, from the RTTs.
    fn ipa_state(&self, ipa: u64) -> IpaState {
        let width = self.realm.config().ipa_width;
        if ipa >> width != 0 {
            return IpaState::OutOfRange;
        }
        let walk = self.rmm.walk(self.rd, self.realm, ipa & !(GRANULE_SIZE - 1), 3);
        if ipa >> (width - 1) == 0 {
            match walk.kind() {
                EntryKind::Assigned(_, ripas) => IpaState::Protected { ripas, assigned: true },
                EntryKind::Unassigned(ripas) => IpaState::Protected { ripas, assigned: false },
                _ => IpaState::Protected { ripas: RmiRipas::Empty, assigned: false },
            }
        } else {
            IpaState::Unprotected { assigned: matches!(walk.kind(), EntryKind::AssignedNs(_)) }
        }
    }
}
