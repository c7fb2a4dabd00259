//! The secret-holding Realm of the confidentiality, integrity and fault scenarios: a Realm built
//! around the payload of `payload.rs`, run by a hostile but protocol-following Host that checks
//! every exit, and torn down again.
//!
//! Owns the Realm's NS layout ([`Layout`]), building it ([`Rig::build`]), the run loop
//! ([`Rig::run`]), the exact teardown ([`Rig::teardown`]) and the best-effort one after a failure
//! ([`reclaim`]), the between-exits and while-running probes of the Realm's granules, and the
//! Host-register checks around every REC_ENTER. Never leaves a granule delegated when a scenario
//! using it returns: every caller reclaims on failure.
//!
//! # What the run loop checks on every exit
//! * **The exit record, field by field** ([`Rig::run`], `check_exit`): before each REC_ENTER the
//!   Host fills `RmiRecExit` with a canary; afterwards `exit_reason`, `esr`, `far`, `hpfar`,
//!   `gprs[0..31]`, `imm` and `ripas_*` must equal what this exit of the payload must report
//!   (the payload's exits come in a fixed order; IRQ exits may come at any time), `esr` must have no
//!   bit outside the spec's mask for its kind, the GIC list registers beyond the implemented ones and
//!   `pmu_ovf_status` must be zero, and every reserved word must still hold the canary (or zero).
//! * **No secret** ([`payload::is_secret_word`]) anywhere in the record, in the Host's X1–X17 after
//!   the SMC, in the Host's EL1/EL0 system registers or in its Q registers; X5–X17 and those
//!   registers must also hold exactly the Host's own values.
//! * **A copy** of every record is kept (in the layout's NS copy area) for the scans after
//!   teardown.
//!
//! # What the Host does that a hostile Host would
//! It writes garbage ([`payload::garbage`]) into `RmiRecEnter.gprs` on every entry where they must
//! have no effect (and the payload checks they had none); it first tries every entry that does not
//! complete an emulatable MMIO exit with `emul_mmio` set (it must fail with RMI_ERROR_REC and write
//! nothing), then enters with `inject_sea` set where it must be ignored; it asks for DATA_CREATE,
//! REC_CREATE and RTT_INIT_RIPAS after activation (RMI_ERROR_REALM); with [`Opts::probe_exits`] it
//! reads and writes every granule of the Realm through the NS PAS between exits, and with
//! [`Opts::remote_prober`] another CPU does it while the Realm spins.

use core::mem::offset_of;
use core::sync::atomic::{AtomicU64, Ordering};

use warden_abi::fid::{psci as psci_fid, rmi as rmi_fid};
use warden_abi::rec_params::RmiRecParams;
use warden_abi::rec_run::{REC_RUN_EXIT_OFFSET, RmiRecEnter, RmiRecExit, RmiRecExitReason};
use warden_abi::status::{RmiStatus, RmiStatusCode};

use super::checks::*;
use super::payload::{self, BASE_IPA, EMPTY, MMIO_IPA, SHARED_IPA, UNASSIGNED, UNPROTECTED};
use super::realm::{cnthp_arm, host_gic_init, take_irqs};
use super::{Msg, rmi, wait_for};
use crate::fault::{probe_read, probe_write};
use crate::nsmem;
use crate::rmi::RmiError;
use crate::smc::smc_full;
use crate::text::Text;

/// Bytes per granule.
const GRANULE: u64 = 0x1000;
/// The most auxiliary granules per REC the layout has room for.
const MAX_AUX: u64 = 16;
/// Spare granules of the layout (for the integrity checks and a second Realm).
pub const SPARES: u64 = 16;
/// Exit records kept.
pub const MAX_COPIES: u64 = 64;
/// Words of an `RmiRecExit`.
const EXIT_WORDS: usize = 256;

/// One Realm's NS memory: the Host's pages and every granule it delegates, in 512 KiB.
#[derive(Clone, Copy)]
pub struct Layout {
    /// 1 MiB aligned.
    pub base: u64,
    /// The Realm's VMID.
    pub vmid: u16,
}

impl Layout {
    /// `RmiRealmParams`.
    pub const fn params(self) -> u64 {
        self.base
    }
    /// `RmiRecParams`.
    pub const fn rec_params(self) -> u64 {
        self.base + 0x1000
    }
    /// `RmiRecRun` of REC `i`.
    pub const fn run(self, i: u64) -> u64 {
        self.base + 0x2000 + 0x1000 * i
    }
    /// The DATA_CREATE source page.
    pub const fn src(self) -> u64 {
        self.base + 0x4000
    }
    /// The NS page mapped at [`SHARED_IPA`].
    pub const fn shared(self) -> u64 {
        self.base + 0x5000
    }
    /// Two concatenated level-1 tables (8 KiB aligned).
    pub const fn rtt0(self) -> u64 {
        self.base + 0x6000
    }
    /// The RD.
    pub const fn rd(self) -> u64 {
        self.base + 0x8000
    }
    /// Level-2 and level-3 RTTs of the payload's protected IPAs.
    pub const fn l2(self) -> u64 {
        self.base + 0x9000
    }
    /// See [`Layout::l2`].
    pub const fn l3(self) -> u64 {
        self.base + 0xA000
    }
    /// Level-2 and level-3 RTTs of the unprotected IPAs ([`MMIO_IPA`], [`SHARED_IPA`]).
    pub const fn ul2(self) -> u64 {
        self.base + 0xB000
    }
    /// See [`Layout::ul2`].
    pub const fn ul3(self) -> u64 {
        self.base + 0xC000
    }
    /// REC `i` (0 or 1).
    pub const fn rec(self, i: u64) -> u64 {
        self.base + 0xD000 + 0x1000 * i
    }
    /// Auxiliary granule `i` of REC `rec`.
    pub const fn aux(self, rec: u64, i: u64) -> u64 {
        self.base + 0x10000 + (rec * MAX_AUX + i) * 0x1000
    }
    /// The DATA granule of payload page `page` (page [`payload::DATA_PAGES`] is the one the Host
    /// adds when the payload touches [`UNASSIGNED`]).
    pub const fn data(self, page: u64) -> u64 {
        self.base + 0x30000 + page * 0x1000
    }
    /// Spare granule `i` (< [`SPARES`]).
    pub const fn spare(self, i: u64) -> u64 {
        self.base + 0x40000 + i * 0x1000
    }
    /// Where exit record `i` (< [`MAX_COPIES`]) is kept.
    pub const fn copy(self, i: u64) -> u64 {
        self.base + 0x50000 + i * 0x800
    }
    /// The Realm's granules whatever its REC_AUX count and DATA pages: the RD, its six RTTs
    /// (starting, protected, unprotected) and both RECs, with their kinds.
    pub const fn fixed(self) -> [(u64, Kind); 9] {
        [
            (self.rd(), Kind::Rd),
            (self.rtt0(), Kind::Rtt),
            (self.rtt0() + GRANULE, Kind::Rtt),
            (self.l2(), Kind::Rtt),
            (self.l3(), Kind::Rtt),
            (self.ul2(), Kind::Rtt),
            (self.ul3(), Kind::Rtt),
            (self.rec(0), Kind::Rec),
            (self.rec(1), Kind::Rec),
        ]
    }
}

/// A second Realm, NEW (never activated), on spare granules of a [`Layout`], for the commands that
/// need a Realm besides the payload's: its RD is spare 1, its starting tables spares 2 and 3 (8 KiB
/// aligned), its level-2 and level-3 RTTs (for [`IPA`]) spares 4 and 5, a DATA granule spare 6 and
/// a REC spare 7. The spares from 8 up are the caller's.
#[derive(Clone, Copy)]
pub struct Second {
    /// The layout whose spares it uses.
    pub l: Layout,
    /// Its VMID.
    pub vmid: u16,
    /// Its name in messages.
    pub name: &'static str,
}

impl Second {
    /// The RD.
    pub const fn rd(self) -> u64 {
        self.l.spare(1)
    }
    /// Two concatenated level-1 tables.
    pub const fn rtt0(self) -> u64 {
        self.l.spare(2)
    }
    /// The level-2 RTT, for [`IPA_L2`].
    pub const fn l2(self) -> u64 {
        self.l.spare(4)
    }
    /// The level-3 RTT, for [`IPA`].
    pub const fn l3(self) -> u64 {
        self.l.spare(5)
    }
    /// A DATA granule (for [`IPA`]).
    pub const fn data(self) -> u64 {
        self.l.spare(6)
    }
    /// A REC.
    pub const fn rec(self) -> u64 {
        self.l.spare(7)
    }

    /// Writes its parameters ([`realm_params`]) at `params` (NS) and creates it (REALM_CREATE).
    pub fn create(self, c: &mut Checks, params: u64) -> Result<(), Msg> {
        nsmem::write_realm_params(params, &realm_params(self.rtt0(), self.vmid));
        c.ok(
            format_args!("REALM_CREATE ({})", self.name),
            rmi().realm_create(self.rd(), params),
        )
    }

    /// RTT_CREATE of its level-2 and level-3 tables.
    pub fn create_rtts(self, c: &mut Checks) -> Result<(), Msg> {
        let mut rmi = rmi();
        c.ok(
            format_args!("RTT_CREATE L2 ({})", self.name),
            rmi.rtt_create(self.rd(), self.l2(), IPA_L2, 2),
        )?;
        c.ok(
            format_args!("RTT_CREATE L3 ({})", self.name),
            rmi.rtt_create(self.rd(), self.l3(), IPA, 3),
        )
    }

    /// RTT_DESTROY of its level-3 and level-2 tables (each must give back its PA), then
    /// REALM_DESTROY. Its REC and DATA granule must be gone.
    pub fn destroy(self, c: &mut Checks) -> Result<(), Msg> {
        let mut rmi = rmi();
        for (ipa, level, pa) in [(IPA, 3, self.l3()), (IPA_L2, 2, self.l2())] {
            c.eq(
                format_args!("RTT_DESTROY L{level} ({})", self.name),
                rmi.rtt_destroy(self.rd(), ipa, level).map(|(pa, _)| pa),
                Ok(pa),
            )?;
        }
        c.ok(
            format_args!("REALM_DESTROY ({})", self.name),
            rmi.realm_destroy(self.rd()),
        )
    }

    /// After a failed scenario, best effort ([`Wreck::reclaim`]): whatever of it exists, then
    /// spares 1 to `last` undelegated.
    pub fn reclaim(self, last: u64) {
        let granules: [u64; SPARES as usize] = core::array::from_fn(|i| self.l.spare(i as u64));
        let _ = Wreck {
            rd: self.rd(),
            recs: &[self.rec()],
            data: &[IPA],
            unprotected: &[],
            rtts: &[(IPA, 3), (IPA_L2, 2)],
            granules: &granules[1..=last as usize],
        }
        .reclaim();
    }
}

/// What a granule of the Realm is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The RD.
    Rd,
    /// An RTT.
    Rtt,
    /// A REC.
    Rec,
    /// A REC's auxiliary granule.
    RecAux,
    /// A DATA granule.
    Data,
}

/// The Realm's granules, with their kinds.
pub struct Granules {
    list: [(u64, Kind); 80],
    n: usize,
}

impl Granules {
    fn push(&mut self, pa: u64, kind: Kind) {
        self.list[self.n] = (pa, kind);
        self.n += 1;
    }

    /// The granules.
    pub fn all(&self) -> &[(u64, Kind)] {
        &self.list[..self.n]
    }

    /// How many are of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.all().iter().filter(|(_, k)| *k == kind).count()
    }
}

/// Probe results: accesses made and how many took a granule protection fault at the address.
#[derive(Clone, Copy, Default)]
pub struct Probes {
    /// Reads and writes made.
    pub accesses: u64,
    /// Of those, GPFs at the accessed address.
    pub gpfs: u64,
    /// Reads that returned data (the first: address and value).
    pub first_leak: Option<(u64, u64)>,
    /// Accesses that faulted otherwise (the first: address and ESR).
    pub first_other: Option<(u64, u64)>,
}

/// What a probe write stores if it is not stopped (it never reaches the granule).
const PROBE_VALUE: u64 = 0x4854_5752_4954_4521;

impl Probes {
    /// Reads and writes the first and last word of every granule of `granules` through the NS PAS.
    fn probe(&mut self, granules: &[(u64, Kind)]) {
        for &(pa, _) in granules {
            for at in [pa, pa + GRANULE - 8] {
                self.accesses += 1;
                match probe_read(at) {
                    Err(f) if f.is_gpf() && f.far == at && !f.is_write() => self.gpfs += 1,
                    Err(f) => {
                        self.first_other.get_or_insert((at, f.esr));
                    }
                    Ok(v) => {
                        self.first_leak.get_or_insert((at, v));
                    }
                }
                self.accesses += 1;
                match probe_write(at, PROBE_VALUE) {
                    Err(f) if f.is_gpf() && f.far == at && f.is_write() => self.gpfs += 1,
                    Err(f) => {
                        self.first_other.get_or_insert((at, f.esr));
                    }
                    Ok(()) => {
                        self.first_leak.get_or_insert((at, PROBE_VALUE));
                    }
                }
            }
        }
    }

    /// `Ok` if every access took a GPF.
    pub fn verdict(&self, what: &str) -> Result<(), Msg> {
        if let Some((pa, v)) = self.first_leak {
            return Err(msg!(
                "{what}: an NS access to Realm granule word {pa:#x} did not fault (read {v:#x})"
            ));
        }
        if let Some((pa, esr)) = self.first_other {
            return Err(msg!(
                "{what}: an NS access to {pa:#x} faulted with ESR {esr:#x}, want a GPF at that address"
            ));
        }
        ensure!(
            self.accesses > 0 && self.gpfs == self.accesses,
            "{what}: {} GPFs for {} accesses",
            self.gpfs,
            self.accesses
        );
        Ok(())
    }
}

/// Something the Host does while the Realm is between two exits.
pub type Hook = fn(&Rig, &mut Checks) -> Result<(), Msg>;

/// Options of a run.
#[derive(Clone, Copy, Default)]
pub struct Opts {
    /// Probe every granule of the Realm (read and write, first and last word) after every exit.
    pub probe_exits: bool,
    /// CPU 1 runs [`prober`]: at the payload's first spin it probes the Realm's granules while the
    /// Realm runs, then releases the spin (else this CPU releases it at once).
    pub remote_prober: bool,
    /// Called at the payload's first checkpoint exit (the Realm is live, its secrets in place).
    pub at_first_checkpoint: Option<Hook>,
}

/// Exit kinds, for the per-kind counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// RSI_HOST_CALL.
    HostCall,
    /// Emulatable MMIO write.
    MmioWrite,
    /// Emulatable MMIO read.
    MmioRead,
    /// Trapped WFI.
    Wfi,
    /// RIPAS change request.
    Ripas,
    /// PSCI CPU_ON.
    CpuOn,
    /// PSCI CPU_OFF.
    CpuOff,
    /// PSCI SYSTEM_OFF.
    SystemOff,
    /// IRQ.
    Irq,
    /// Non-emulatable data abort at an unprotected IPA (ISV = 0).
    UnprotectedAbort,
    /// Data abort at a protected RAM IPA without a DATA granule.
    ProtectedAbort,
}

/// Exit kinds in report order.
pub const EXIT_KINDS: [(ExitKind, &str); 11] = [
    (ExitKind::HostCall, "host call"),
    (ExitKind::MmioWrite, "MMIO write"),
    (ExitKind::MmioRead, "MMIO read"),
    (ExitKind::Wfi, "WFI"),
    (ExitKind::Ripas, "RIPAS change"),
    (ExitKind::CpuOn, "PSCI CPU_ON"),
    (ExitKind::CpuOff, "PSCI CPU_OFF"),
    (ExitKind::SystemOff, "PSCI SYSTEM_OFF"),
    (ExitKind::Irq, "IRQ"),
    (ExitKind::UnprotectedAbort, "abort (unprotected, ISV 0)"),
    (ExitKind::ProtectedAbort, "abort (protected, unassigned)"),
];

fn kind_index(k: ExitKind) -> usize {
    EXIT_KINDS.iter().position(|(e, _)| *e == k).unwrap_or(0)
}

/// What a run saw.
pub struct Report {
    /// Exits, all kinds.
    pub exits: u64,
    /// Per [`EXIT_KINDS`] entry.
    pub by_kind: [u64; EXIT_KINDS.len()],
    /// Exit fields compared with their exact expected value (all but the GIC/timer state).
    pub fields: u64,
    /// Reserved exit words checked (canary or zero).
    pub reserved: u64,
    /// Exit words scanned for secrets (records, as they arrived).
    pub scanned: u64,
    /// The first exit field that was not what the spec allows.
    pub hygiene: Option<Msg>,
    /// The first secret found in anything the Host can see (exit record, its registers).
    pub leak: Option<Msg>,
    /// The first Host register Warden did not give back.
    pub host_state: Option<Msg>,
    /// Host registers compared after REC_ENTERs (X5–X17, EL1/EL0 system registers, Q words).
    pub host_regs: u64,
    /// Probes between exits.
    pub probes: Probes,
    /// The payload's report (host call 0x5A1F, gprs 0–7).
    pub payload: Option<[u64; 8]>,
    /// REC 1 saw its context id.
    pub rec1_context: bool,
    /// CNTHP interrupts the Host took after IRQ exits.
    pub cnthp: u64,
    /// REC_ENTERs with a stray `emul_mmio` rejected (RMI_ERROR_REC, nothing written).
    pub stray_mmio: u64,
    /// Entries with `inject_sea` set where it must be ignored.
    pub stray_sea: u64,
    /// Entries whose `gprs` held Host garbage.
    pub garbage_entries: u64,
    /// DATA_CREATE, REC_CREATE, RTT_INIT_RIPAS after activation.
    pub after_activate: [Option<Result<(), RmiError>>; 3],
    /// REC_ENTER after SYSTEM_OFF.
    pub after_off: Option<Result<(), RmiError>>,
    /// Exit records kept.
    pub copies: u64,
}

impl Report {
    const fn new() -> Self {
        Report {
            exits: 0,
            by_kind: [0; EXIT_KINDS.len()],
            fields: 0,
            reserved: 0,
            scanned: 0,
            hygiene: None,
            leak: None,
            host_state: None,
            host_regs: 0,
            probes: Probes {
                accesses: 0,
                gpfs: 0,
                first_leak: None,
                first_other: None,
            },
            payload: None,
            rec1_context: false,
            cnthp: 0,
            stray_mmio: 0,
            stray_sea: 0,
            garbage_entries: 0,
            after_activate: [None; 3],
            after_off: None,
            copies: 0,
        }
    }

    /// The payload's own verdict: it reported, with no failed check, every phase completed, and
    /// REC 1 got its context id.
    pub fn payload_verdict(&self) -> Result<[u64; 8], Msg> {
        let Some(p) = self.payload else {
            return Err(msg!("the payload sent no report"));
        };
        ensure!(
            p[0] == 0,
            "the payload counted {} failed checks; the first: phase {:#x} item {:#x} (class {}: 1 = Host garbage, 2 = zero, 3 = other)",
            p[0],
            p[1] >> 8,
            p[1] & 0xFF,
            p[3]
        );
        ensure!(
            p[2] == payload::phase::ALL,
            "the payload completed phases {:#x}, want {:#x}",
            p[2],
            payload::phase::ALL
        );
        ensure!(self.rec1_context, "REC 1 did not receive its context id");
        ensure!(
            p[7] == 1,
            "the payload's register secrets are not all secret words"
        );
        Ok(p)
    }

    /// Exits of `kind`.
    pub fn count(&self, kind: ExitKind) -> u64 {
        self.by_kind[kind_index(kind)]
    }

    fn first(slot: &mut Option<Msg>, m: Msg) {
        if slot.is_none() {
            *slot = Some(m);
        }
    }
}

/// A built Realm.
pub struct Rig {
    /// Its layout.
    pub l: Layout,
    /// Auxiliary granules per REC.
    pub aux: u64,
    /// Whether the Host added the DATA granule at [`UNASSIGNED`].
    pub on_demand: bool,
}

/// The payload steps REC 0 exits for, in order (IRQ exits aside).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    HostCall(u64),
    Mmio(usize),
    Wfi,
    Ripas,
    CpuOn,
    UnprotectedAbort,
    ProtectedAbort,
    Report,
    SystemOff,
    Rec1HostCall,
    CpuOff,
}

const REC0_STEPS: [Step; 16] = [
    Step::HostCall(payload::phase::FIRST),
    Step::Mmio(0),
    Step::Mmio(1),
    Step::Mmio(2),
    Step::Mmio(3),
    Step::Mmio(4),
    Step::Wfi,
    Step::Ripas,
    Step::CpuOn,
    Step::HostCall(payload::phase::SPIN),
    Step::HostCall(payload::phase::SPIN_IRQ),
    Step::HostCall(payload::phase::AFTER_SPINS),
    Step::UnprotectedAbort,
    Step::ProtectedAbort,
    Step::Report,
    Step::SystemOff,
];
const REC1_STEPS: [Step; 2] = [Step::Rec1HostCall, Step::CpuOff];

/// `RmiRecEnter.flags`.
mod flags {
    pub const EMUL_MMIO: u64 = 1 << 0;
    pub const INJECT_SEA: u64 = 1 << 1;
    pub const TRAP_WFI: u64 = 1 << 2;
}

/// ESR_EL2 fields and the spec's masks for what a Host may see.
mod esr {
    pub const EC_MASK: u64 = 0x3F << 26;
    pub const DABT_LOWER: u64 = 0x24 << 26;
    pub const WFX: u64 = 0x01 << 26;
    pub const IL: u64 = 1 << 25;
    pub const ISV: u64 = 1 << 24;
    pub const SAS_SHIFT: u32 = 22;
    pub const SF: u64 = 1 << 15;
    pub const WNR: u64 = 1 << 6;
    pub const FSC_TRANSLATION_L3: u64 = 0x07;
    /// EC, IL, SET, FnV, EA, DFSC: a non-emulatable abort.
    pub const NON_EMULATABLE: u64 = EC_MASK | IL | (0b11 << 11) | (1 << 10) | (1 << 9) | 0x3F;
    /// ... and ISV, SAS, SF, WnR: an emulatable one (SRT and SSE withheld).
    pub const EMULATABLE: u64 = NON_EMULATABLE | ISV | (0b11 << SAS_SHIFT) | SF | WNR;
    /// EC, IL, TI: a trapped WFx.
    pub const WFX_MASK: u64 = EC_MASK | IL | 0b11;
}

/// What one exit record must hold.
struct Want {
    reason: u64,
    esr: u64,
    /// Bits `esr` may have at all (the spec's mask for the kind).
    esr_mask: u64,
    far: u64,
    hpfar: u64,
    gprs: [u64; 31],
    imm: u64,
    ripas: [u64; 3],
}

impl Want {
    const fn reason(reason: RmiRecExitReason) -> Self {
        Want {
            reason: reason as u64,
            esr: 0,
            esr_mask: 0,
            far: 0,
            hpfar: 0,
            gprs: [0; 31],
            imm: 0,
            ripas: [0; 3],
        }
    }

    fn host_call(imm: u64, gprs: impl Fn(u64) -> u64) -> Self {
        let mut w = Self::reason(RmiRecExitReason::HostCall);
        w.imm = imm;
        w.gprs = core::array::from_fn(|i| gprs(i as u64));
        w
    }

    fn psci(fid: u64, x1: u64) -> Self {
        let mut w = Self::reason(RmiRecExitReason::Psci);
        w.gprs[0] = fid;
        w.gprs[1] = x1;
        w
    }

    fn abort(esr: u64, mask: u64, far: u64, ipa: u64) -> Self {
        let mut w = Self::reason(RmiRecExitReason::Sync);
        w.esr = esr;
        w.esr_mask = mask;
        w.far = far;
        w.hpfar = (ipa >> 12) << 4;
        w
    }
}

/// What the exit record at `step` must hold (`ex` supplies the report's own values).
fn want(step: Step, ex: &[u64; EXIT_WORDS]) -> Want {
    match step {
        Step::HostCall(phase) => Want::host_call(payload::imm::CHECKPOINT + phase, |i| {
            payload::checkpoint(phase, i)
        }),
        Step::Rec1HostCall => Want::host_call(payload::imm::REC1, |i| {
            if i == 0 {
                1
            } else {
                payload::checkpoint(0x40, i)
            }
        }),
        Step::Report => Want::host_call(payload::imm::REPORT, |i| {
            if i < 8 {
                ex[word_of(offset_of!(RmiRecExit, gprs)) + i as usize]
            } else {
                0
            }
        }),
        Step::Mmio(k) => {
            let (offset, size, write, value) = payload::MMIO[k];
            let sas = size.trailing_zeros() as u64;
            let e = esr::DABT_LOWER
                | esr::IL
                | esr::ISV
                | (sas << esr::SAS_SHIFT)
                | if size == 8 { esr::SF } else { 0 }
                | if write { esr::WNR } else { 0 }
                | esr::FSC_TRANSLATION_L3;
            let mut w = Want::abort(e, esr::EMULATABLE, offset, MMIO_IPA + offset);
            if write {
                w.gprs[0] = value;
            }
            w
        }
        Step::Wfi => {
            let mut w = Want::reason(RmiRecExitReason::Sync);
            w.esr = esr::WFX | esr::IL;
            w.esr_mask = esr::WFX_MASK;
            w
        }
        Step::Ripas => {
            let mut w = Want::reason(RmiRecExitReason::RipasChange);
            let base = BASE_IPA + payload::RAM;
            w.ripas = [base, base + GRANULE, RAM];
            w
        }
        Step::CpuOn => Want::psci(psci_fid::CPU_ON_64, 1),
        Step::CpuOff => Want::psci(psci_fid::CPU_OFF, 0),
        Step::SystemOff => Want::psci(psci_fid::SYSTEM_OFF, 0),
        Step::UnprotectedAbort => Want::abort(
            esr::DABT_LOWER | esr::IL | esr::FSC_TRANSLATION_L3,
            esr::NON_EMULATABLE,
            0,
            MMIO_IPA + payload::LDP_OFFSET,
        ),
        Step::ProtectedAbort => Want::abort(
            esr::DABT_LOWER | esr::IL | esr::FSC_TRANSLATION_L3,
            esr::NON_EMULATABLE,
            0,
            BASE_IPA + UNASSIGNED,
        ),
    }
}

const fn word_of(offset: usize) -> usize {
    offset / 8
}

/// The canary the Host leaves in `RmiRecExit` word `w` before each REC_ENTER.
const fn canary(w: usize) -> u64 {
    0xC0DE_CA4A_0000_0000 | w as u64
}

/// The value the Host keeps in its X<i> (5–17) across REC_ENTER.
const fn host_x(i: usize) -> u64 {
    0x4858_0000_0000_0000 | i as u64
}

/// Exit words Warden writes: `(first word, words)`.
const WRITTEN: [(usize, usize); 9] = [
    (word_of(offset_of!(RmiRecExit, exit_reason)), 1),
    (word_of(offset_of!(RmiRecExit, esr)), 3),
    (word_of(offset_of!(RmiRecExit, gprs)), 31),
    (word_of(offset_of!(RmiRecExit, gicv3_hcr)), 19),
    (word_of(offset_of!(RmiRecExit, cntp_ctl)), 4),
    (word_of(offset_of!(RmiRecExit, ripas_base)), 3),
    (word_of(offset_of!(RmiRecExit, imm)), 1),
    (word_of(offset_of!(RmiRecExit, pmu_ovf_status)), 1),
    (0, 0),
];

/// The first secret word in `words` (strict: both tags), as `(word index, value)`.
fn find_secret(words: &[u64]) -> Option<(usize, u64)> {
    words.iter().enumerate().find_map(|(i, &w)| {
        (payload::is_secret_word(w as u32) || payload::is_secret_word((w >> 32) as u32))
            .then_some((i, w))
    })
}

/// The number of list registers this CPU implements (ICH_VTR_EL2.ListRegs + 1).
fn num_lrs() -> usize {
    let vtr: u64;
    // SAFETY: reads an EL2 ID-like register of the GIC CPU interface; no side effects.
    unsafe { core::arch::asm!("mrs {}, S3_4_C12_C11_1", out(reg) vtr, options(nomem, nostack)) };
    ((vtr & 0x1F) as usize + 1).min(16)
}

/// Compares the exit record `ex` with `w`, field by field. Returns the number of exact fields and
/// of reserved words checked.
fn check_exit(ex: &[u64; EXIT_WORDS], w: &Want, what: &str) -> Result<(u64, u64), Msg> {
    let at = |offset: usize| ex[word_of(offset)];
    let mut fields = 0u64;
    let mut field = |name: &str, got: u64, want: u64| -> Result<(), Msg> {
        fields += 1;
        ensure!(
            got == want,
            "{what}: exit {name} = {got:#x}, want {want:#x}"
        );
        Ok(())
    };
    field(
        "exit_reason",
        at(offset_of!(RmiRecExit, exit_reason)),
        w.reason,
    )?;
    let e = at(offset_of!(RmiRecExit, esr));
    ensure!(
        e & !w.esr_mask == 0,
        "{what}: exit esr {e:#x} has bits {:#x} outside the spec's mask {:#x}",
        e & !w.esr_mask,
        w.esr_mask
    );
    field("esr", e, w.esr)?;
    field("far", at(offset_of!(RmiRecExit, far)), w.far)?;
    field("hpfar", at(offset_of!(RmiRecExit, hpfar)), w.hpfar)?;
    let g = word_of(offset_of!(RmiRecExit, gprs));
    for (i, want) in w.gprs.iter().enumerate() {
        let mut name = Text::<16>::new();
        let _ = core::fmt::Write::write_fmt(&mut name, format_args!("gprs[{i}]"));
        field(name.as_str(), ex[g + i], *want)?;
    }
    field("imm", at(offset_of!(RmiRecExit, imm)), w.imm)?;
    let r = word_of(offset_of!(RmiRecExit, ripas_base));
    for (i, name) in ["ripas_base", "ripas_top", "ripas_value"]
        .into_iter()
        .enumerate()
    {
        field(name, ex[r + i], w.ripas[i])?;
    }
    field(
        "pmu_ovf_status",
        at(offset_of!(RmiRecExit, pmu_ovf_status)),
        0,
    )?;
    let lrs = word_of(offset_of!(RmiRecExit, gicv3_lrs));
    for n in num_lrs()..16 {
        field("gicv3_lrs (unimplemented)", ex[lrs + n], 0)?;
    }
    let mut reserved = 0;
    for (i, &v) in ex.iter().enumerate() {
        if WRITTEN
            .iter()
            .any(|&(first, n)| (first..first + n).contains(&i))
        {
            continue;
        }
        reserved += 1;
        ensure!(
            v == canary(i) || v == 0,
            "{what}: reserved exit word at +{:#x} = {v:#x} (the Host left {:#x})",
            i * 8,
            canary(i)
        );
    }
    Ok((fields, reserved))
}

/// The Host's EL1/EL0 registers and Q registers: Warden keeps the Realm's values out of them.
mod host_regs {
    /// The Host's value for system register `k`.
    const fn pattern(k: usize) -> u64 {
        0x4853_5953_0000_0000 | ((k as u64) << 12)
    }

    /// The Host's Q word `j`.
    pub const fn fp_pattern(j: usize) -> u64 {
        0x4846_5000_0000_0000 | j as u64
    }

    macro_rules! el1_registers {
        ($($i:literal $reg:literal),* $(,)?) => {
            /// The registers, by index.
            pub const NAMES: &[&str] = &[$($reg),*];

            /// Writes each register's pattern; returns what reads back.
            pub fn set() -> [u64; NAMES.len()] {
                let mut out = [0; NAMES.len()];
                $(
                    // SAFETY: an EL1/EL0 register of the Host's own (idle) EL1: nothing runs at
                    // EL1 or EL0 in this driver, which runs at EL2 with SP_EL2 (SPSel = 1) and
                    // the MMU off, so no value written here has an effect on it.
                    unsafe {
                        core::arch::asm!(concat!("msr ", $reg, ", {v}"), "isb", v = in(reg) pattern($i),
                            options(nostack));
                        core::arch::asm!(concat!("mrs {v}, ", $reg), v = out(reg) out[$i],
                            options(nomem, nostack));
                    }
                )*
                out
            }

            /// Reads each register.
            pub fn read() -> [u64; NAMES.len()] {
                let mut out = [0; NAMES.len()];
                $(
                    // SAFETY: reads a register.
                    unsafe {
                        core::arch::asm!(concat!("mrs {v}, ", $reg), v = out(reg) out[$i],
                            options(nomem, nostack));
                    }
                )*
                out
            }
        };
    }

    el1_registers!(
        0 "tpidr_el1", 1 "tpidr_el0", 2 "tpidrro_el0", 3 "contextidr_el1", 4 "par_el1",
        5 "mair_el1", 6 "amair_el1", 7 "ttbr0_el1", 8 "ttbr1_el1", 9 "afsr0_el1",
        10 "afsr1_el1", 11 "far_el1", 12 "esr_el1", 13 "elr_el1", 14 "spsr_el1",
        15 "vbar_el1", 16 "sp_el1", 17 "sp_el0", 18 "tcr_el1", 19 "cntkctl_el1",
    );

    /// 64 words, 16-byte aligned: the driver runs with its MMU off (Device memory), where a
    /// 128-bit access must be naturally aligned.
    #[repr(C, align(16))]
    pub struct QWords(pub [u64; 64]);

    /// Loads Q0–Q31 from `words` (two per register).
    pub fn fp_set(words: &QWords) {
        // SAFETY: loads 512 bytes from `words` (16-byte aligned). The driver is softfloat: the compiler never keeps
        // anything in the FP/SIMD registers, so overwriting them affects no Rust code; EL3 and
        // testbed-el3's CPTR_EL2 leave FP/SIMD untrapped at NS-EL2.
        unsafe {
            core::arch::asm!(
                ".arch_extension fp", ".arch_extension simd",
                "ldp q0, q1, [{b}, #0]", "ldp q2, q3, [{b}, #32]", "ldp q4, q5, [{b}, #64]",
                "ldp q6, q7, [{b}, #96]", "ldp q8, q9, [{b}, #128]", "ldp q10, q11, [{b}, #160]",
                "ldp q12, q13, [{b}, #192]", "ldp q14, q15, [{b}, #224]", "ldp q16, q17, [{b}, #256]",
                "ldp q18, q19, [{b}, #288]", "ldp q20, q21, [{b}, #320]", "ldp q22, q23, [{b}, #352]",
                "ldp q24, q25, [{b}, #384]", "ldp q26, q27, [{b}, #416]", "ldp q28, q29, [{b}, #448]",
                "ldp q30, q31, [{b}, #480]",
                b = in(reg) words.0.as_ptr(), options(nostack, readonly));
        }
    }

    /// Stores Q0–Q31.
    pub fn fp_read() -> [u64; 64] {
        let mut words = QWords([0; 64]);
        // SAFETY: stores 512 bytes into `words` (16-byte aligned), which this function owns.
        unsafe {
            core::arch::asm!(
                ".arch_extension fp", ".arch_extension simd",
                "stp q0, q1, [{b}, #0]", "stp q2, q3, [{b}, #32]", "stp q4, q5, [{b}, #64]",
                "stp q6, q7, [{b}, #96]", "stp q8, q9, [{b}, #128]", "stp q10, q11, [{b}, #160]",
                "stp q12, q13, [{b}, #192]", "stp q14, q15, [{b}, #224]", "stp q16, q17, [{b}, #256]",
                "stp q18, q19, [{b}, #288]", "stp q20, q21, [{b}, #320]", "stp q22, q23, [{b}, #352]",
                "stp q24, q25, [{b}, #384]", "stp q26, q27, [{b}, #416]", "stp q28, q29, [{b}, #448]",
                "stp q30, q31, [{b}, #480]",
                b = in(reg) words.0.as_mut_ptr(), options(nostack));
        }
        words.0
    }
}

/// What the Host's own registers must hold after each REC_ENTER.
struct HostState {
    sysregs: [u64; host_regs::NAMES.len()],
}

impl HostState {
    fn set() -> Self {
        host_regs::fp_set(&host_regs::QWords(core::array::from_fn(
            host_regs::fp_pattern,
        )));
        HostState {
            sysregs: host_regs::set(),
        }
    }

    /// Compares the Host's X1–X17 (`x`), system registers and Q registers with what they must hold.
    fn check(&self, x: &[u64; 18], report: &mut Report) {
        if let Some((i, v)) = find_secret(&x[1..]) {
            Report::first(
                &mut report.leak,
                msg!(
                    "the Host's X{} = {v:#x} after REC_ENTER is a Realm secret",
                    i + 1
                ),
            );
        }
        for (i, &v) in x.iter().enumerate().skip(5) {
            report.host_regs += 1;
            if v != host_x(i) {
                Report::first(
                    &mut report.host_state,
                    msg!(
                        "the Host's X{i} = {v:#x} after REC_ENTER, was {:#x}",
                        host_x(i)
                    ),
                );
            }
        }
        let now = host_regs::read();
        for (k, (&got, &want)) in now.iter().zip(&self.sysregs).enumerate() {
            report.host_regs += 1;
            if got != want {
                let m = if find_secret(&[got]).is_some() {
                    &mut report.leak
                } else {
                    &mut report.host_state
                };
                Report::first(
                    m,
                    msg!(
                        "the Host's {} = {got:#x} after REC_ENTER, was {want:#x}",
                        host_regs::NAMES[k]
                    ),
                );
            }
        }
        for (j, got) in host_regs::fp_read().into_iter().enumerate() {
            report.host_regs += 1;
            if got != host_regs::fp_pattern(j) {
                let m = if find_secret(&[got]).is_some() {
                    &mut report.leak
                } else {
                    &mut report.host_state
                };
                Report::first(
                    m,
                    msg!(
                        "the Host's Q{} word {} = {got:#x} after REC_ENTER, was {:#x}",
                        j / 2,
                        j % 2,
                        host_regs::fp_pattern(j)
                    ),
                );
            }
        }
    }
}

/// The next REC_ENTER's `flags` and `gprs`.
struct Entry {
    flags: u64,
    gprs: [u64; 31],
    /// Completes an emulatable MMIO exit (`emul_mmio` is legitimate).
    mmio: bool,
    /// `inject_sea` is set where it must be ignored.
    stray_sea: bool,
}

impl Entry {
    /// Garbage in every register, WFI trapped, `inject_sea` set (to be ignored).
    fn hostile() -> Self {
        Entry {
            flags: flags::TRAP_WFI | flags::INJECT_SEA,
            gprs: core::array::from_fn(|i| payload::garbage(i as u64)),
            mmio: false,
            stray_sea: true,
        }
    }
}

/// `RMI_ERROR_REC`.
const REC_ERROR: RmiError = RmiError::code(RmiStatusCode::ErrorRec);

/// State of one run.
struct RunState<'a> {
    opts: &'a Opts,
    report: Report,
    host: HostState,
    /// The Host armed its timer for the second spin; the IRQ exit releases it.
    irq_armed: bool,
}

impl Rig {
    /// Every granule the Realm owns (DATA includes the on-demand one once it exists).
    pub fn granules(&self) -> Granules {
        let l = self.l;
        let mut g = Granules {
            list: [(0, Kind::Data); 80],
            n: 0,
        };
        for (pa, kind) in l.fixed() {
            g.push(pa, kind);
        }
        for rec in 0..2 {
            for i in 0..self.aux {
                g.push(l.aux(rec, i), Kind::RecAux);
            }
        }
        let pages = payload::DATA_PAGES + u64::from(self.on_demand);
        for p in 0..pages {
            g.push(l.data(p), Kind::Data);
        }
        g
    }

    /// Every granule this layout ever delegates (the Realm's, the on-demand DATA granule, the
    /// first spare).
    fn delegated(&self) -> Granules {
        let mut g = self.granules();
        if !self.on_demand {
            g.push(self.l.data(payload::DATA_PAGES), Kind::Data);
        }
        g.push(self.l.spare(0), Kind::Data);
        g
    }

    /// Delegates, creates and activates the payload's Realm with two RECs (REC 1 not runnable).
    /// On failure the caller must [`reclaim`].
    pub fn build(c: &mut Checks, l: Layout) -> Result<Rig, Msg> {
        let mut rmi = rmi();
        let (image, size) = payload::image();
        ensure!(
            size > 0 && size <= payload::CODE_PAGES * GRANULE && size % 8 == 0,
            "the payload is {size} bytes"
        );
        let mut rig = Rig {
            l,
            aux: 0,
            on_demand: false,
        };
        let mut first = [0u64; 16 + payload::DATA_PAGES as usize];
        let mut n = 0;
        for pa in l
            .fixed()
            .map(|(pa, _)| pa)
            .into_iter()
            .chain([l.spare(0)])
            .chain((0..=payload::DATA_PAGES).map(|p| l.data(p)))
        {
            first[n] = pa;
            n += 1;
        }
        c.fill_and_delegate(&first[..n])?;
        nsmem::write_realm_params(l.params(), &realm_params(l.rtt0(), l.vmid));
        c.ok(
            format_args!("REALM_CREATE"),
            rmi.realm_create(l.rd(), l.params()),
        )?;
        let aux = c.rec_aux_count(l.rd(), MAX_AUX)?;
        rig.aux = aux;
        for rec in 0..2 {
            for i in 0..aux {
                c.fill_and_delegate(&[l.aux(rec, i)])?;
            }
        }
        c.ok(
            format_args!("RTT_CREATE L2"),
            rmi.rtt_create(l.rd(), l.l2(), BASE_IPA & !(GIB - 1), 2),
        )?;
        c.ok(
            format_args!("RTT_CREATE L3"),
            rmi.rtt_create(l.rd(), l.l3(), BASE_IPA, 3),
        )?;
        let top = BASE_IPA + payload::RIPAS_TOP;
        c.eq(
            format_args!("RTT_INIT_RIPAS({BASE_IPA:#x}, {top:#x})"),
            rmi.rtt_init_ripas(l.rd(), BASE_IPA, top),
            Ok(top),
        )?;
        for p in 0..payload::CODE_PAGES {
            let from = image + p * GRANULE;
            let end = image + size;
            nsmem::fill(l.src(), |w| {
                let at = from + w * 8;
                if at < end { nsmem::read_u64(at) } else { 0 }
            });
            c.ok(
                format_args!("DATA_CREATE (measured) of payload page {p}"),
                rmi.data_create(l.rd(), l.data(p), BASE_IPA + p * GRANULE, l.src(), 1),
            )?;
        }
        nsmem::fill(l.src(), |_| 0);
        for p in payload::CODE_PAGES..payload::DATA_PAGES {
            c.ok(
                format_args!("DATA_CREATE_UNKNOWN page {p}"),
                rmi.data_create_unknown(l.rd(), l.data(p), BASE_IPA + p * GRANULE),
            )?;
        }
        c.ok(
            format_args!("RTT_CREATE L2 (unprotected)"),
            rmi.rtt_create(l.rd(), l.ul2(), UNPROTECTED, 2),
        )?;
        c.ok(
            format_args!("RTT_CREATE L3 (unprotected)"),
            rmi.rtt_create(l.rd(), l.ul3(), MMIO_IPA & !(MIB2 - 1), 3),
        )?;
        nsmem::fill(l.shared(), |_| 0);
        c.ok(
            format_args!("RTT_MAP_UNPROTECTED({SHARED_IPA:#x})"),
            rmi.rtt_map_unprotected(l.rd(), SHARED_IPA, 3, l.shared() | NS_ATTRS),
        )?;
        for (i, runnable) in [(0, true), (1, false)] {
            rig.write_rec_params(i, runnable);
            c.ok(
                format_args!("REC_CREATE {i}"),
                rmi.rec_create(l.rd(), l.rec(i), l.rec_params()),
            )?;
        }
        c.ok(format_args!("REALM_ACTIVATE"), rmi.realm_activate(l.rd()))?;
        nsmem::fill(l.run(0), |_| 0);
        nsmem::fill(l.run(1), |_| 0);
        Ok(rig)
    }

    /// `RmiRecParams` of REC `i` (MPIDR `i`, entry at the payload, this layout's aux granules).
    fn write_rec_params(&self, i: u64, runnable: bool) {
        nsmem::write_rec_params(self.l.rec_params(), runnable, i, BASE_IPA, self.aux, |a| {
            self.l.aux(i.min(1), a)
        });
    }

    /// Runs REC 0 (and REC 1 when REC 0 starts it) until SYSTEM_OFF, checking every exit (see the
    /// module docs). `Err` only if the run itself broke down (an RMI call failed, an exit out of
    /// order); what it found is in the [`Report`].
    pub fn run(&mut self, c: &mut Checks, opts: &Opts) -> Result<Report, Msg> {
        host_gic_init();
        nsmem::fill(self.l.shared(), |_| 0);
        let mut st = RunState {
            opts,
            report: Report::new(),
            host: HostState::set(),
            irq_armed: false,
        };
        self.run_rec(c, &mut st, 0)?;
        // The Realm is off: its RECs never run again, and Warden still serves.
        let run = self.l.run(0);
        fill_canary(run);
        let r = self.enter(&mut st, self.l.rec(0), run);
        st.report.after_off = Some(r.map(|_| ()));
        if !exit_is_canary(run) {
            Report::first(
                &mut st.report.hygiene,
                msg!("REC_ENTER after SYSTEM_OFF wrote the exit record"),
            );
        }
        Ok(st.report)
    }

    /// One REC_ENTER, with the Host's X5–X17 holding [`host_x`]; checks the Host's registers.
    fn enter(&self, st: &mut RunState, rec: u64, run: u64) -> Result<(), RmiError> {
        let mut low = [rmi_fid::REC_ENTER, rec, run, 0, 0, 0, 0, 0];
        let mut high = [0u64; 10];
        for (i, r) in low.iter_mut().enumerate().skip(5) {
            *r = host_x(i);
        }
        for (i, r) in high.iter_mut().enumerate() {
            *r = host_x(8 + i);
        }
        let x = smc_full(low, high);
        st.host.check(&x, &mut st.report);
        crate::rmi::decode([x[0], x[1], x[2], x[3], x[4]]).map(|_| ())
    }

    fn run_rec(&mut self, c: &mut Checks, st: &mut RunState, rec: u64) -> Result<(), Msg> {
        let steps: &[Step] = if rec == 0 { &REC0_STEPS } else { &REC1_STEPS };
        let (run, rec_pa) = (self.l.run(rec), self.l.rec(rec));
        let mut next = 0;
        let mut entry = Entry::hostile();
        loop {
            // A stray emul_mmio: refused, and nothing is written.
            if !entry.mmio {
                write_entry(run, entry.flags | flags::EMUL_MMIO, &entry.gprs);
                fill_canary(run);
                let r = self.enter(st, rec_pa, run);
                ensure!(
                    r == Err(REC_ERROR),
                    "REC {rec}: REC_ENTER with a stray emul_mmio = {r:?}, want RMI_ERROR_REC"
                );
                ensure!(
                    exit_is_canary(run),
                    "REC {rec}: the refused REC_ENTER wrote the exit record"
                );
                st.report.stray_mmio += 1;
            }
            write_entry(run, entry.flags, &entry.gprs);
            fill_canary(run);
            st.report.garbage_entries += u64::from(entry.gprs[1] == payload::garbage(1));
            st.report.stray_sea += u64::from(entry.stray_sea);
            let r = self.enter(st, rec_pa, run);
            if let Err(e) = r {
                return Err(msg!("REC {rec}: REC_ENTER = {e:?} (after step {next})"));
            }
            let ex = self.record(st, run);
            if st.opts.probe_exits {
                st.report.probes.probe(self.granules().all());
            }
            let reason = ex[word_of(offset_of!(RmiRecExit, exit_reason))];
            if reason == RmiRecExitReason::Irq as u64 {
                self.check(
                    st,
                    &ex,
                    &Want::reason(RmiRecExitReason::Irq),
                    "IRQ exit",
                    ExitKind::Irq,
                );
                let taken = take_irqs();
                st.report.cnthp += taken;
                if st.irq_armed && taken > 0 {
                    st.irq_armed = false;
                    self.release(payload::shared::RELEASE_IRQ);
                }
                entry = Entry::hostile();
                continue;
            }
            let imm = ex[word_of(offset_of!(RmiRecExit, imm))];
            if reason == RmiRecExitReason::HostCall as u64 && imm == payload::imm::UNEXPECTED {
                let g = word_of(offset_of!(RmiRecExit, gprs));
                return Err(msg!(
                    "REC {rec}: the payload took an unexpected exception: ESR_EL1 {:#x} ELR_EL1 {:#x} vector {}",
                    ex[g],
                    ex[g + 1],
                    ex[g + 2]
                ));
            }
            let Some(&step) = steps.get(next) else {
                return Err(msg!("REC {rec}: exit reason {reason} after the last step"));
            };
            next += 1;
            let w = want(step, &ex);
            ensure!(
                reason == w.reason,
                "REC {rec}: exit reason {reason} (ESR {:#x}, imm {imm:#x}) at step {step:?}, want {}",
                ex[word_of(offset_of!(RmiRecExit, esr))],
                w.reason
            );
            let (kind, what) = describe(step);
            self.check(st, &ex, &w, what, kind);
            entry = Entry::hostile();
            match step {
                Step::HostCall(phase) => {
                    entry.gprs = core::array::from_fn(|i| payload::answer(phase, i as u64));
                    match phase {
                        payload::phase::FIRST => {
                            self.after_activation(c, st)?;
                            if let Some(hook) = st.opts.at_first_checkpoint {
                                hook(self, c)?;
                            }
                        }
                        payload::phase::SPIN if st.opts.remote_prober => {
                            PROBE_GO.store(GO, Ordering::SeqCst);
                        }
                        payload::phase::SPIN => self.release(payload::shared::RELEASE_SPIN),
                        payload::phase::SPIN_IRQ => {
                            st.irq_armed = true;
                            cnthp_arm(200_000);
                        }
                        _ => {}
                    }
                }
                Step::Rec1HostCall => {
                    st.report.rec1_context = ex[word_of(offset_of!(RmiRecExit, gprs))] == 1;
                }
                Step::Report => {
                    let g = word_of(offset_of!(RmiRecExit, gprs));
                    st.report.payload = Some(core::array::from_fn(|i| ex[g + i]));
                }
                Step::Mmio(k) => {
                    let (_, _, write, value) = payload::MMIO[k];
                    entry.flags = flags::TRAP_WFI | flags::EMUL_MMIO;
                    entry.mmio = true;
                    entry.stray_sea = false;
                    if !write {
                        entry.gprs[0] = value;
                    }
                }
                Step::UnprotectedAbort => {
                    // The Host cannot emulate an access without a syndrome: an SEA for the Realm.
                    entry.flags = flags::TRAP_WFI | flags::INJECT_SEA;
                    entry.stray_sea = false;
                }
                Step::ProtectedAbort => self.add_on_demand(c, st)?,
                Step::CpuOn => {
                    let l = self.l;
                    c.ok(
                        format_args!("PSCI_COMPLETE(CPU_ON of REC 1)"),
                        rmi().psci_complete(l.rec(0), l.rec(1), 0),
                    )?;
                    self.run_rec(c, st, 1)?;
                }
                Step::CpuOff | Step::SystemOff => return Ok(()),
                Step::Wfi | Step::Ripas => {
                    if step == Step::Ripas {
                        let (base, top) =
                            (BASE_IPA + payload::RAM, BASE_IPA + payload::RAM + GRANULE);
                        c.eq(
                            format_args!("RTT_SET_RIPAS({base:#x}, {top:#x})"),
                            rmi().rtt_set_ripas(self.l.rd(), rec_pa, base, top),
                            Ok(top),
                        )?;
                    }
                }
            }
        }
    }

    /// Reads the exit record of `run`, keeps a copy and scans it for secrets.
    fn record(&self, st: &mut RunState, run: u64) -> [u64; EXIT_WORDS] {
        let base = run + REC_RUN_EXIT_OFFSET as u64;
        let ex: [u64; EXIT_WORDS] = core::array::from_fn(|i| nsmem::read_u64(base + 8 * i as u64));
        let n = st.report.exits;
        st.report.exits += 1;
        st.report.scanned += EXIT_WORDS as u64;
        if n < MAX_COPIES {
            for (i, &w) in ex.iter().enumerate() {
                nsmem::write_u64(self.l.copy(n) + 8 * i as u64, w);
            }
            st.report.copies += 1;
        }
        if let Some((i, v)) = find_secret(&ex) {
            Report::first(
                &mut st.report.leak,
                msg!(
                    "exit {n}: RmiRecExit word +{:#x} = {v:#x} is a Realm secret",
                    i * 8
                ),
            );
        }
        ex
    }

    /// Checks one exit record against `w`, counting it under `kind`.
    fn check(
        &self,
        st: &mut RunState,
        ex: &[u64; EXIT_WORDS],
        w: &Want,
        what: &str,
        kind: ExitKind,
    ) {
        st.report.by_kind[kind_index(kind)] += 1;
        match check_exit(ex, w, what) {
            Ok((fields, reserved)) => {
                st.report.fields += fields;
                st.report.reserved += reserved;
            }
            Err(m) => Report::first(&mut st.report.hygiene, m),
        }
    }

    /// Writes `value` into the shared page's release word.
    fn release(&self, value: u64) {
        nsmem::write_u64(self.l.shared() + payload::shared::RELEASE, value);
    }

    /// At the first checkpoint: the commands that could change what the Realm runs fail once it is
    /// active (DATA_CREATE comes at the protected abort).
    fn after_activation(&self, c: &mut Checks, st: &mut RunState) -> Result<(), Msg> {
        let l = self.l;
        let mut rmi = rmi();
        // REC_CREATE of a third REC (a valid MPIDR 2, the spare granule as REC).
        self.write_rec_params(1, true);
        nsmem::write_u64(l.rec_params() + offset_of!(RmiRecParams, mpidr) as u64, 2);
        let r = rmi.rec_create(l.rd(), l.spare(0), l.rec_params());
        st.report.after_activate[1] = Some(r);
        c.that(
            format_args!("REC_CREATE after REALM_ACTIVATE = {r:?}, want RMI_ERROR_REALM"),
            r == Err(REALM),
        )?;
        let base = BASE_IPA + EMPTY;
        let r = rmi.rtt_init_ripas(l.rd(), base, base + GRANULE).map(|_| ());
        st.report.after_activate[2] = Some(r);
        c.that(
            format_args!("RTT_INIT_RIPAS after REALM_ACTIVATE = {r:?}, want RMI_ERROR_REALM"),
            r == Err(REALM),
        )?;
        c.still_serving(format_args!("the commands after activation"))
    }

    /// The payload touched [`UNASSIGNED`]: a measured DATA_CREATE there is refused (the Realm is
    /// active), DATA_CREATE_UNKNOWN adds a zeroed granule.
    fn add_on_demand(&mut self, c: &mut Checks, st: &mut RunState) -> Result<(), Msg> {
        let l = self.l;
        let mut rmi = rmi();
        let ipa = BASE_IPA + UNASSIGNED;
        let data = l.data(payload::DATA_PAGES);
        nsmem::fill_pattern(l.src());
        let r = rmi.data_create(l.rd(), data, ipa, l.src(), 1);
        st.report.after_activate[0] = Some(r);
        c.that(
            format_args!("DATA_CREATE after REALM_ACTIVATE = {r:?}, want RMI_ERROR_REALM"),
            r == Err(REALM),
        )?;
        c.eq(
            format_args!("RTT_READ_ENTRY({ipa:#x}) after the refused DATA_CREATE"),
            rmi.rtt_read_entry(l.rd(), ipa, 3),
            Ok(entry(3, UNASSIGNED_STATE, 0, RAM)),
        )?;
        c.ok(
            format_args!("DATA_CREATE_UNKNOWN({ipa:#x})"),
            rmi.data_create_unknown(l.rd(), data, ipa),
        )?;
        self.on_demand = true;
        Ok(())
    }

    /// Destroys everything with the exact outputs, undelegates every granule, scans each for
    /// secrets and reads it back zero. Returns the words scanned.
    pub fn teardown(&self, c: &mut Checks) -> Result<u64, Msg> {
        let l = self.l;
        let mut rmi = rmi();
        for i in [1, 0] {
            c.ok(format_args!("REC_DESTROY {i}"), rmi.rec_destroy(l.rec(i)))?;
        }
        let pages = payload::DATA_PAGES + u64::from(self.on_demand);
        for p in 0..pages {
            let ipa = BASE_IPA + p * GRANULE;
            let r = rmi.data_destroy(l.rd(), ipa).map(|(pa, _)| pa);
            c.eq(format_args!("DATA_DESTROY({ipa:#x})"), r, Ok(l.data(p)))?;
        }
        c.ok(
            format_args!("RTT_UNMAP_UNPROTECTED({SHARED_IPA:#x})"),
            rmi.rtt_unmap_unprotected(l.rd(), SHARED_IPA, 3),
        )?;
        for (ipa, level, pa) in [
            (MMIO_IPA & !(MIB2 - 1), 3, l.ul3()),
            (UNPROTECTED, 2, l.ul2()),
            (BASE_IPA, 3, l.l3()),
            (BASE_IPA & !(GIB - 1), 2, l.l2()),
        ] {
            c.eq(
                format_args!("RTT_DESTROY({ipa:#x}, {level})"),
                rmi.rtt_destroy(l.rd(), ipa, level).map(|(p, _)| p),
                Ok(pa),
            )?;
        }
        c.ok(format_args!("REALM_DESTROY"), rmi.realm_destroy(l.rd()))?;
        let g = self.delegated();
        let mut words = 0;
        for &(pa, _) in g.all() {
            c.ok(
                format_args!("GRANULE_UNDELEGATE({pa:#x})"),
                rmi.granule_undelegate(pa),
            )?;
        }
        for &(pa, kind) in g.all() {
            words += scan_granule(pa, kind)?;
            c.read_zero(pa)?;
        }
        Ok(words)
    }
}

/// `RmiRttEntryState` UNASSIGNED.
const UNASSIGNED_STATE: u64 = 0;

/// Scans the (undelegated) granule at `pa` for secrets through NS: the words scanned.
fn scan_granule(pa: u64, kind: Kind) -> Result<u64, Msg> {
    for w in 0..GRANULE / 8 {
        let at = pa + w * 8;
        match probe_read(at) {
            Ok(v) if find_secret(&[v]).is_some() => {
                return Err(msg!(
                    "undelegated {kind:?} granule {pa:#x}: word +{:#x} = {v:#x} is a Realm secret",
                    w * 8
                ));
            }
            Ok(_) => {}
            Err(f) => {
                return Err(msg!(
                    "NS read of undelegated granule {at:#x} faulted: ESR {:#x}",
                    f.esr
                ));
            }
        }
    }
    Ok(GRANULE / 8)
}

/// Scans the exit records a run kept (`report.copies` of them) for secrets: the words scanned.
pub fn scan_copies(l: Layout, copies: u64) -> Result<u64, Msg> {
    for n in 0..copies {
        let ex: [u64; EXIT_WORDS] =
            core::array::from_fn(|i| nsmem::read_u64(l.copy(n) + 8 * i as u64));
        if let Some((i, v)) = find_secret(&ex) {
            return Err(msg!(
                "kept exit record {n}: word +{:#x} = {v:#x} is a Realm secret",
                i * 8
            ));
        }
    }
    Ok(copies * EXIT_WORDS as u64)
}

/// Scans `[pa, pa + bytes)` of NS memory for secrets: the first as `(offset, word)`. `strict`
/// looks for both tags in every 32-bit word; otherwise only for [`payload::TAG_HI`] (for data full
/// of counter values, where a 24-bit [`payload::TAG_LO`] match by chance is not negligible).
pub fn scan_ns(pa: u64, bytes: u64, strict: bool) -> Option<(u64, u64)> {
    (0..bytes / 8).find_map(|w| {
        let v = nsmem::read_u64(pa + w * 8);
        let found = if strict {
            find_secret(&[v]).is_some()
        } else {
            v as u32 == payload::TAG_HI || (v >> 32) as u32 == payload::TAG_HI
        };
        found.then_some((w * 8, v))
    })
}

/// The step's exit kind and name.
fn describe(step: Step) -> (ExitKind, &'static str) {
    match step {
        Step::HostCall(_) | Step::Rec1HostCall | Step::Report => {
            (ExitKind::HostCall, "host call exit")
        }
        Step::Mmio(k) if payload::MMIO[k].2 => (ExitKind::MmioWrite, "MMIO write exit"),
        Step::Mmio(_) => (ExitKind::MmioRead, "MMIO read exit"),
        Step::Wfi => (ExitKind::Wfi, "WFI exit"),
        Step::Ripas => (ExitKind::Ripas, "RIPAS change exit"),
        Step::CpuOn => (ExitKind::CpuOn, "PSCI CPU_ON exit"),
        Step::CpuOff => (ExitKind::CpuOff, "PSCI CPU_OFF exit"),
        Step::SystemOff => (ExitKind::SystemOff, "PSCI SYSTEM_OFF exit"),
        Step::UnprotectedAbort => (ExitKind::UnprotectedAbort, "unprotected abort exit"),
        Step::ProtectedAbort => (ExitKind::ProtectedAbort, "protected abort exit"),
    }
}

/// Writes `RmiRecEnter.flags` and `gprs`; the GIC state stays zero (no list register in use).
fn write_entry(run: u64, flags: u64, gprs: &[u64; 31]) {
    nsmem::write_u64(run + offset_of!(RmiRecEnter, flags) as u64, flags);
    for (i, g) in gprs.iter().enumerate() {
        nsmem::write_u64(run + (offset_of!(RmiRecEnter, gprs) + 8 * i) as u64, *g);
    }
}

/// Fills the `RmiRecExit` half of `run` with the canary.
fn fill_canary(run: u64) {
    let base = run + REC_RUN_EXIT_OFFSET as u64;
    for i in 0..EXIT_WORDS {
        nsmem::write_u64(base + 8 * i as u64, canary(i));
    }
}

/// Whether the `RmiRecExit` half of `run` still holds the canary.
fn exit_is_canary(run: u64) -> bool {
    let base = run + REC_RUN_EXIT_OFFSET as u64;
    (0..EXIT_WORDS).all(|i| nsmem::read_u64(base + 8 * i as u64) == canary(i))
}

/// Everything a failed scenario may have left of the Realm at `l`, best effort (see
/// [`Wreck::reclaim`]). Returns the granules still not readable from NS.
pub fn reclaim(l: Layout) -> usize {
    let data: [u64; (payload::DATA_PAGES + 1) as usize] =
        core::array::from_fn(|p| BASE_IPA + p as u64 * GRANULE);
    let mut granules = [0u64; 20 + 2 * MAX_AUX as usize + SPARES as usize];
    let mut n = 0;
    for pa in l
        .fixed()
        .map(|(pa, _)| pa)
        .into_iter()
        .chain((0..=payload::DATA_PAGES).map(|p| l.data(p)))
        .chain((0..2).flat_map(|r| (0..MAX_AUX).map(move |i| l.aux(r, i))))
        .chain((0..SPARES).map(|i| l.spare(i)))
    {
        if n < granules.len() {
            granules[n] = pa;
            n += 1;
        }
    }
    Wreck {
        rd: l.rd(),
        recs: &[l.rec(0), l.rec(1)],
        data: &data,
        unprotected: &[SHARED_IPA],
        rtts: &[
            (MMIO_IPA & !(MIB2 - 1), 3),
            (UNPROTECTED, 2),
            (BASE_IPA, 3),
            (BASE_IPA & !(GIB - 1), 2),
        ],
        granules: &granules[..n],
    }
    .reclaim()
}

/// [`prober`]'s hand-off: [`IDLE`] → [`GO`] (set by the run loop at the payload's first spin) →
/// [`DONE`]; or [`ABORT`] (the scenario gave up before the spin).
static PROBE_GO: AtomicU64 = AtomicU64::new(IDLE);
const IDLE: u64 = 0;
const GO: u64 = 1;
const DONE: u64 = 2;
const ABORT: u64 = 3;
/// The granules [`prober`] probes (set before its CPU_ON), and how many.
static PROBE_LIST: [AtomicU64; 80] = [const { AtomicU64::new(0) }; 80];
static PROBE_N: AtomicU64 = AtomicU64::new(0);
/// The shared page of the Realm [`prober`] watches.
static PROBE_SHARED: AtomicU64 = AtomicU64::new(0);
/// [`prober`]'s results: accesses, GPFs, the first access that did not fault (address + 1, 0 if
/// none), the Realm's spin counter before and after the probes, rounds with progress, the first
/// access that faulted otherwise (address + 1) and its ESR.
static PROBE_RESULT: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];
/// Probe rounds over every granule while the Realm spins.
pub const PROBE_ROUNDS: u64 = 4;

/// What [`prober`] saw.
pub struct Remote {
    /// The probes.
    pub probes: Probes,
    /// The Realm's spin counter before and after them.
    pub counter: (u64, u64),
    /// Granules probed per round.
    pub granules: u64,
    /// Rounds over every granule after which the Realm was seen making progress (all of them:
    /// [`PROBE_ROUNDS`]).
    pub rounds: u64,
}

/// Arms [`prober`] for `rig` (call before its CPU_ON).
pub fn prober_setup(rig: &Rig) {
    let g = rig.granules();
    for (slot, &(pa, _)) in PROBE_LIST.iter().zip(g.all()) {
        slot.store(pa, Ordering::SeqCst);
    }
    PROBE_N.store(g.all().len() as u64, Ordering::SeqCst);
    PROBE_SHARED.store(rig.l.shared(), Ordering::SeqCst);
    for r in &PROBE_RESULT {
        r.store(0, Ordering::SeqCst);
    }
    PROBE_GO.store(IDLE, Ordering::SeqCst);
}

/// Tells [`prober`] to give up unless it has started (it then reports failure).
pub fn prober_abort() {
    let _ = PROBE_GO.compare_exchange(IDLE, ABORT, Ordering::SeqCst, Ordering::SeqCst);
}

/// [`prober`]'s results, once it is done.
pub fn prober_result() -> Option<Remote> {
    if PROBE_GO.load(Ordering::SeqCst) != DONE {
        return None;
    }
    let r = |i: usize| PROBE_RESULT[i].load(Ordering::SeqCst);
    Some(Remote {
        probes: Probes {
            accesses: r(0),
            gpfs: r(1),
            first_leak: (r(2) != 0).then(|| (r(2) - 1, 0)),
            first_other: (r(6) != 0).then(|| (r(6) - 1, r(7))),
        },
        counter: (r(3), r(4)),
        rounds: r(5),
        granules: PROBE_N.load(Ordering::SeqCst),
    })
}

/// A CPU's job in `realm-probe`: waits for the Realm's first spin, sees it running (its counter in
/// the shared page moving), reads and writes every granule of the Realm [`PROBE_ROUNDS`] times
/// through the NS PAS, each round followed by the Realm's progress, then releases the spin.
pub fn prober() -> bool {
    let started = wait_for(30, || PROBE_GO.load(Ordering::SeqCst) != IDLE);
    if !started || PROBE_GO.load(Ordering::SeqCst) != GO {
        return false;
    }
    let shared = PROBE_SHARED.load(Ordering::SeqCst);
    let counter = || nsmem::read_u64(shared + payload::shared::COUNTER);
    let c0 = counter();
    let running = wait_for(5, || counter() != c0);
    let n = (PROBE_N.load(Ordering::SeqCst) as usize).min(PROBE_LIST.len());
    let mut list = [(0u64, Kind::Data); 80];
    for (slot, pa) in list.iter_mut().zip(&PROBE_LIST).take(n) {
        slot.0 = pa.load(Ordering::SeqCst);
    }
    let mut p = Probes::default();
    let before = counter();
    // Each round of probes is followed by Realm progress: the probes interleave with the Realm's
    // execution (QEMU may not schedule both vCPUs at the same instant on a loaded host).
    let mut progressed = 0;
    for _ in 0..PROBE_ROUNDS {
        p.probe(&list[..n]);
        let at = counter();
        progressed += u64::from(wait_for(5, || counter() != at));
    }
    let after = counter();
    let leak = p.first_leak.map_or(0, |(pa, _)| pa + 1);
    let (other, esr) = p.first_other.map_or((0, 0), |(pa, esr)| (pa + 1, esr));
    let results = [
        p.accesses, p.gpfs, leak, before, after, progressed, other, esr,
    ];
    for (slot, v) in PROBE_RESULT.iter().zip(results) {
        slot.store(v, Ordering::SeqCst);
    }
    nsmem::write_u64(
        shared + payload::shared::RELEASE,
        payload::shared::RELEASE_SPIN,
    );
    PROBE_GO.store(DONE, Ordering::SeqCst);
    running
}

/// The status [`RmiStatus`] of `(code, index)` as an [`RmiError`].
pub const fn status(code: RmiStatusCode, index: u8) -> RmiError {
    RmiError::Status(RmiStatus::new(code, index))
}
