//! The exit loop of one vCPU, the shared device models, and the `linux` scenario (build, run,
//! [`teardown`], then the counts and the trace's time split, [`account`]).
//!
//! vCPU *i* (REC *i*) runs on physical CPU *i*: REC 0 on the CPU that runs the scenario, the
//! others on CPUs started when the guest's PSCI CPU_ON for them exits. A vCPU that must notice
//! something another CPU did (an SGI or SPI for it, the end of the Realm) is kicked out of the
//! Realm with a physical SGI ([`KICK_SGI`]): its CPU takes an IRQ exit and looks again.
//!
//! Interrupt injection (`RmiRecEnter.gicv3_lrs`, RMM 1.0): on every exit the list registers come
//! back in `RmiRecExit`; free ones (state invalid) are cleared and filled with what is pending and
//! enabled: the EL1 virtual timer (PPI 27) when the exit reports it fired and unmasked, the UART's
//! SPI while its line is high, and edge SGIs/PPIs from the redistributor model. Level interrupts
//! carry the LR's EOI bit, so the guest's EOI raises a maintenance interrupt (PPI 25), an IRQ exit,
//! and the source is sampled again (Warden masks an asserted timer while the Realm runs, and
//! unmasks it on the next entry after the guest handled it). With more pending than free LRs,
//! `ICH_HCR.UIE` asks for an exit when the LRs drain.

use core::cell::UnsafeCell;
use core::mem::offset_of;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use warden_abi::fid::psci as psci_fid;
use warden_abi::status::RmiStatus;
use warden_abi::rec_run::{REC_RUN_EXIT_OFFSET, RmiRecEnter, RmiRecExit, RmiRecExitReason};

use super::account::{self, DRAIN_EXITS};
use super::build::{self, Desc, pool};
use super::gic::{GICD_SIZE, GICR_STRIDE, Gic, MAX_VCPUS};
use super::pl011::Pl011;
use super::teardown;
use crate::entry::host_secondary_entry;
use crate::nsmem;
use crate::rmi::{Rmi, RmiError};
use crate::scenarios::{self, Msg, Outcome};
use crate::smc::Smc;
use crate::{println, psci};

/// The emulated devices (QEMU virt addresses; the DTB from xtask/src/linux.rs says the same).
const GICD: u64 = 0x0800_0000;
const GICR: u64 = 0x080A_0000;
const UART: u64 = 0x0900_0000;
/// The UART's INTID (SPI 1).
const UART_INTID: u32 = 33;
/// The EL1 virtual timer's INTID.
const VTIMER_INTID: u32 = 27;
/// Physical interrupts the Host takes: the GIC maintenance interrupt and the kick SGI.
const MAINT_INTID: u64 = 25;
/// The SGI one Host CPU sends another to make its Realm exit.
const KICK_SGI: u64 = 8;
/// GICv3 redistributors of QEMU virt (physical), SGI frame `ISENABLER0`.
const HOST_GICR: u64 = 0x080A_0000;
const HOST_GICR_ISENABLER0: u64 = 0x1_0100;
const HOST_GICR_ICENABLER0: u64 = 0x1_0180;
/// The physical interrupts [`host_gic_init`] enables.
const HOST_IRQS: u32 = (1 << MAINT_INTID) | (1 << VTIMER_INTID) | (1 << KICK_SGI);

/// This CPU's redistributor (QEMU virt: one 128 KiB frame pair per CPU, by MPIDR Aff0).
fn host_redistributor() -> u64 {
    let mpidr: u64;
    // SAFETY: reads a register.
    unsafe { core::arch::asm!("mrs {}, mpidr_el1", out(reg) mpidr, options(nomem, nostack)) };
    HOST_GICR + (mpidr & 0xFF) * 0x2_0000
}

/// `ICH_LR<n>_EL2` fields.
const LR_PENDING: u64 = 1 << 62;
const LR_GROUP1: u64 = 1 << 60;
const LR_EOI: u64 = 1 << 41;
/// `ICH_HCR_EL2.UIE`.
const HCR_UIE: u64 = 1 << 1;
/// `RmiRecEnter.flags`.
const FLAG_EMUL_MMIO: u64 = 1 << 0;
const FLAG_INJECT_SEA: u64 = 1 << 1;

/// A spin lock around the shared models.
struct Spin<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `with`, which holds the lock.
unsafe impl<T: Send> Sync for Spin<T> {}

impl<T> Spin<T> {
    const fn new(value: T) -> Self {
        Spin {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        // SAFETY: the lock is held, so this is the only reference until it is released below.
        let r = f(unsafe { &mut *self.value.get() });
        self.locked.store(false, Ordering::Release);
        r
    }
}

macro_rules! counts {
    ($($(#[$doc:meta])* $f:ident),* $(,)?) => {
        /// Exits and work, by kind.
        #[derive(Clone, Copy, Default)]
        struct Counts {
            $($(#[$doc])* $f: u64),*
        }

        impl Counts {
            const ZERO: Counts = Counts { $($f: 0),* };

            fn add(&mut self, o: &Counts) {
                $(self.$f += o.$f;)*
            }
        }
    };
}

counts!(
    exits,
    gicd,
    gicr,
    uart,
    mmio_other,
    sgi,
    sync_other,
    irq,
    psci,
    ripas,
    ripas_calls,
    /// First-touch faults on protected RAM, and the pages they populated.
    page_faults,
    pages_populated,
    ripas_ram_pages,
    ripas_empty_pages,
    host_call,
    timer_injections,
    uart_injections,
    sgi_injections,
    lr_full,
    sea_injected,
    /// Counter ticks inside REC_ENTER (the Realm, Warden and EL3).
    ticks_realm,
    /// Counter ticks between REC_ENTERs (this VMM, with the RMI calls it makes there).
    ticks_vmm,
    /// Of those, in the RMI calls that populate RAM and change RIPAS (Warden and EL3).
    ticks_vmm_rmi,
    /// Of those, draining Warden's trace (not part of the run's own work).
    ticks_trace,
    trace_drains,
);

/// The devices and the Realm's console line.
struct Shared {
    gic: Gic,
    uart: Pl011,
    line: [u8; 512],
    len: usize,
    totals: Counts,
}

static VM: Spin<Shared> = Spin::new(Shared {
    gic: Gic::new(1),
    uart: Pl011::new(),
    line: [0; 512],
    len: 0,
    totals: Counts::ZERO,
});

/// `RMI_REC_ENTER`'s answer once the Realm has made SYSTEM_OFF/RESET (`RMI_ERROR_REALM`, index 1):
/// another vCPU may re-enter between Warden taking that call and [`STOP`] being set.
const REALM_OFF: RmiError = RmiError::Status(RmiStatus::realm(1));

/// The Realm is over (SYSTEM_OFF/RESET, or a vCPU failed): every vCPU leaves its loop.
static STOP: AtomicBool = AtomicBool::new(false);
/// vCPUs whose physical CPU has been started.
static STARTED: [AtomicBool; MAX_VCPUS] = [const { AtomicBool::new(false) }; MAX_VCPUS];
/// How each secondary vCPU ended (0 running, 1 CPU_OFF or stopped, 2 failed).
static ENDED: [AtomicU64; MAX_VCPUS] = [const { AtomicU64::new(0) }; MAX_VCPUS];

fn cntpct() -> u64 {
    let c: u64;
    // SAFETY: reads the physical counter; no memory access.
    unsafe { core::arch::asm!("isb", "mrs {}, cntpct_el0", out(reg) c, options(nomem, nostack)) };
    c
}

fn cntfrq() -> u64 {
    let f: u64;
    // SAFETY: reads the counter frequency.
    unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) f, options(nomem, nostack)) };
    f.max(1)
}

/// This CPU's physical interrupts for the Realm's exits: the maintenance interrupt, the Realm's
/// virtual timer (its PPI makes the REC exit) and the kick SGI, in its redistributor (NS Group 1
/// as EL3 configured them); Group 1 on. PSTATE.I stays masked: IRQs are polled after IRQ exits.
fn host_gic_init() {
    let rd = host_redistributor();
    // SAFETY: this CPU's redistributor (MMU off, Device memory); ISENABLER0 is write-1-to-set.
    // ICC_IGRPEN1_EL1 is this CPU's NS Group 1 enable.
    unsafe {
        core::ptr::write_volatile((rd + HOST_GICR_ISENABLER0) as *mut u32, HOST_IRQS);
        core::arch::asm!("msr S3_0_C12_C12_7, {}", "isb", in(reg) 1u64, options(nostack));
    }
}

/// Undoes [`host_gic_init`] when this CPU's vCPU is over: the interrupts disabled, then any still
/// pending acknowledged. A kick SGI left pending would otherwise wake the CPU's WFI for ever once
/// it is parked at EL3 after CPU_OFF (a busy CPU that slows every other one under TCG).
fn host_gic_quiesce() {
    let rd = host_redistributor();
    // SAFETY: this CPU's redistributor; ICENABLER0 is write-1-to-clear.
    unsafe { core::ptr::write_volatile((rd + HOST_GICR_ICENABLER0) as *mut u32, HOST_IRQS) };
    crate::scenarios::take_irqs();
}


/// Makes physical CPU `cpu` (running vCPU `cpu`) take an IRQ exit.
fn kick(cpu: usize) {
    let v = (KICK_SGI << 24) | (1u64 << cpu);
    // SAFETY: ICC_SGI1R_EL1: a Non-secure Group 1 SGI to CPU `cpu` of cluster 0.
    unsafe { core::arch::asm!("msr S3_0_C12_C11_5, {}", "isb", in(reg) v, options(nostack)) };
}

/// List registers implemented (`ICH_VTR_EL2.ListRegs` + 1).
fn num_lrs() -> usize {
    let vtr: u64;
    // SAFETY: reads ICH_VTR_EL2 (GICv3 system registers are enabled at NS-EL2).
    unsafe { core::arch::asm!("mrs {}, S3_4_C12_C11_1", out(reg) vtr, options(nomem, nostack)) };
    ((vtr & 0x1F) as usize + 1).min(16)
}

fn exit_u64(run: u64, field: usize) -> u64 {
    nsmem::read_u64(run + (REC_RUN_EXIT_OFFSET + field) as u64)
}

/// How a vCPU's loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    SystemOff,
    SystemReset,
    CpuOff,
    Stopped,
}

/// One byte of the Realm's UART: whole lines are printed as `realm| …`.
fn console_byte(s: &mut Shared, c: u8) {
    if c == b'\n' || s.len == s.line.len() {
        let text = core::str::from_utf8(&s.line[..s.len]).unwrap_or("(not UTF-8)");
        println!("realm| {text}");
        s.len = 0;
    }
    if c != b'\n' && c != b'\r' {
        s.line[s.len] = c;
        s.len += 1;
    }
}

/// An emulated MMIO access: the value read, for reads.
fn mmio(cpu: usize, addr: u64, size: u8, write: bool, value: u64, n: &mut Counts) -> u64 {
    let mut kick_target = None;
    let r = VM.with(|s| {
        if (GICD..GICD + GICD_SIZE).contains(&addr) {
            n.gicd += 1;
            if write {
                let _ = s.gic.dist_write(addr - GICD, size, value);
                0
            } else {
                s.gic.dist_read(addr - GICD, size)
            }
        } else if (GICR..GICR + GICR_STRIDE * s.gic.vcpus as u64).contains(&addr) {
            n.gicr += 1;
            if write {
                let _ = s.gic.redist_write(addr - GICR, size, value);
                0
            } else {
                s.gic.redist_read(addr - GICR, size)
            }
        } else if (UART..UART + 0x1000).contains(&addr) {
            n.uart += 1;
            if write {
                if let Some(c) = s.uart.write(addr - UART, value as u32) {
                    console_byte(s, c);
                }
                let t = s.gic.spi_target(UART_INTID);
                if s.uart.irq() && t != cpu {
                    kick_target = Some(t);
                }
                0
            } else {
                u64::from(s.uart.read(addr - UART))
            }
        } else {
            n.mmio_other += 1;
            0
        }
    });
    if let Some(t) = kick_target {
        kick(t);
    }
    r
}

/// Fills free list registers with what is pending for `cpu`; returns `ICH_HCR_EL2` for the entry.
fn inject(cpu: usize, lrs: &mut [u64], timer: bool, n: &mut Counts) -> u64 {
    VM.with(|s| {
        let in_lr = |lrs: &[u64], id: u32| {
            lrs.iter()
                .any(|&l| l >> 62 != 0 && l & 0xFFFF_FFFF == u64::from(id))
        };
        let mut want = [(0u32, false); 20];
        let mut k = 0;
        if timer && s.gic.enabled(cpu, VTIMER_INTID) && !in_lr(lrs, VTIMER_INTID) {
            want[k] = (VTIMER_INTID, true);
            k += 1;
        }
        if s.uart.irq()
            && s.gic.spi_target(UART_INTID) == cpu
            && s.gic.enabled(cpu, UART_INTID)
            && !in_lr(lrs, UART_INTID)
        {
            want[k] = (UART_INTID, true);
            k += 1;
        }
        let edge = s.gic.take_pending(cpu);
        for id in 0..32 {
            if edge & (1 << id) != 0 && !in_lr(lrs, id) && k < want.len() {
                want[k] = (id, false);
                k += 1;
            }
        }
        let mut full = false;
        for &(id, level) in &want[..k] {
            match lrs.iter_mut().find(|l| **l >> 62 == 0) {
                Some(lr) => {
                    *lr = LR_PENDING
                        | LR_GROUP1
                        | (u64::from(s.gic.priority(cpu, id)) << 48)
                        | if level { LR_EOI } else { 0 }
                        | u64::from(id);
                    match id {
                        VTIMER_INTID => n.timer_injections += 1,
                        UART_INTID => n.uart_injections += 1,
                        _ => n.sgi_injections += 1,
                    }
                }
                None => {
                    full = true;
                    if !level {
                        s.gic.repend(cpu, 1 << id);
                    }
                }
            }
        }
        if full {
            n.lr_full += 1;
            HCR_UIE
        } else {
            0
        }
    })
}

/// Runs vCPU `cpu` until its Realm is over for it.
fn run_vcpu(cpu: usize, d: &Desc, n: &mut Counts) -> Result<End, Msg> {
    let mut rmi = Rmi::new(Smc);
    let run = pool::run(cpu);
    let rec = pool::rec(cpu);
    let nlr = num_lrs();
    let unprotected = 1u64 << (d.ipa_bits - 1);
    host_gic_init();
    let (mut flags, mut gpr0, mut hcr) = (0u64, 0u64, 0u64);
    let mut lrs = [0u64; 16];
    let mut busy = 0;
    let mut t_exit = cntpct();
    loop {
        nsmem::write_u64(run + offset_of!(RmiRecEnter, flags) as u64, flags);
        nsmem::write_u64(run + offset_of!(RmiRecEnter, gprs) as u64, gpr0);
        nsmem::write_u64(run + offset_of!(RmiRecEnter, gicv3_hcr) as u64, hcr);
        for (i, lr) in lrs[..nlr].iter().enumerate() {
            nsmem::write_u64(run + (offset_of!(RmiRecEnter, gicv3_lrs) + 8 * i) as u64, *lr);
        }
        let t_enter = cntpct();
        n.ticks_vmm += t_enter - t_exit;
        let r = rmi.rec_enter(rec, run);
        t_exit = cntpct();
        n.ticks_realm += t_exit - t_enter;
        if let Err(e) = r {
            if STOP.load(Ordering::SeqCst) || e == REALM_OFF {
                return Ok(End::Stopped);
            }
            return Err(vmsg!("vCPU {cpu}: REC_ENTER = {e:?}"));
        }
        n.exits += 1;
        (flags, gpr0) = (0, 0);
        for (i, lr) in lrs[..nlr].iter_mut().enumerate() {
            let v = exit_u64(run, offset_of!(RmiRecExit, gicv3_lrs) + 8 * i);
            *lr = if v >> 62 == 0 { 0 } else { v };
        }
        let cntv_ctl = exit_u64(run, offset_of!(RmiRecExit, cntv_ctl));
        let timer = cntv_ctl & 0b111 == 0b101;
        let reason = exit_u64(run, offset_of!(RmiRecExit, exit_reason));
        match RmiRecExitReason::from_raw(reason) {
            Some(RmiRecExitReason::Sync) => {
                let esr = exit_u64(run, offset_of!(RmiRecExit, esr));
                let far = exit_u64(run, offset_of!(RmiRecExit, far));
                let hpfar = exit_u64(run, offset_of!(RmiRecExit, hpfar));
                let value = exit_u64(run, offset_of!(RmiRecExit, gprs));
                let ec = esr >> 26;
                let ipa = ((hpfar >> 4) << 12) | (far & 0xFFF);
                if ec == 0x24 && esr & (1 << 24) != 0 {
                    // An emulatable data abort (ISV): MMIO at the unprotected alias.
                    let addr = ipa & !unprotected;
                    let size = 1u8 << ((esr >> 22) & 3);
                    let write = esr & (1 << 6) != 0;
                    gpr0 = mmio(cpu, addr, size, write, value, n);
                    flags = FLAG_EMUL_MMIO;
                } else if ec == 0x18 {
                    // ICC_SGI1R/ASGI1R/SGI0R_EL1 (Warden forwards only these).
                    n.sgi += 1;
                    let targets = VM.with(|s| s.gic.sgi(cpu, value));
                    for t in 0..d.cpus {
                        if t != cpu && targets & (1 << t) != 0 {
                            kick(t);
                        }
                    }
                } else if (ec == 0x24 || ec == 0x20) && ipa & unprotected == 0 {
                    // First touch of RAM that has no DATA granule yet (lazy population).
                    n.page_faults += 1;
                    let t = cntpct();
                    n.pages_populated += build::populate(&mut rmi, d, ipa & !0xFFF)?;
                    n.ticks_vmm_rmi += cntpct() - t;
                } else if ec == 0x24 && ipa & unprotected != 0 {
                    n.sea_injected += 1;
                    println!(
                        "host: linux: vCPU {cpu}: non-emulatable access to unprotected IPA {ipa:#x} (ESR {esr:#x}): SEA injected"
                    );
                    flags = FLAG_INJECT_SEA;
                } else {
                    n.sync_other += 1;
                    STOP.store(true, Ordering::SeqCst);
                    return Err(vmsg!(
                        "vCPU {cpu}: unexpected SYNC exit: ESR {esr:#x} FAR {far:#x} HPFAR {hpfar:#x} (IPA {ipa:#x})"
                    ));
                }
            }
            Some(RmiRecExitReason::Irq | RmiRecExitReason::Fiq) => {
                n.irq += 1;
                crate::scenarios::take_irqs();
            }
            Some(RmiRecExitReason::Psci) => {
                n.psci += 1;
                let fid = exit_u64(run, offset_of!(RmiRecExit, gprs));
                let target = exit_u64(run, offset_of!(RmiRecExit, gprs) + 8);
                match fid {
                    psci_fid::CPU_ON_64 | psci_fid::CPU_ON_32 => {
                        let t = (target & 0xFF) as usize;
                        if t >= d.cpus {
                            return Err(vmsg!("vCPU {cpu}: CPU_ON of MPIDR {target:#x}"));
                        }
                        if let Err(e) = rmi.psci_complete(rec, pool::rec(t), 0) {
                            return Err(vmsg!("PSCI_COMPLETE(CPU_ON {t}) = {e:?}"));
                        }
                        if !STARTED[t].swap(true, Ordering::SeqCst) {
                            scenarios::JOB.store(scenarios::JOB_VMM, Ordering::SeqCst);
                            let entry = host_secondary_entry as *const () as u64;
                            let r = psci::cpu_on(t as u64, entry, t as u64);
                            if r != 0 {
                                return Err(vmsg!("CPU_ON of physical CPU {t} = {r:#x}"));
                            }
                        }
                    }
                    psci_fid::AFFINITY_INFO_64 | psci_fid::AFFINITY_INFO_32 => {
                        let t = (target & 0xFF) as usize;
                        if let Err(e) = rmi.psci_complete(rec, pool::rec(t.min(d.cpus - 1)), 0) {
                            return Err(vmsg!("PSCI_COMPLETE(AFFINITY_INFO {t}) = {e:?}"));
                        }
                    }
                    psci_fid::CPU_OFF => return Ok(End::CpuOff),
                    psci_fid::SYSTEM_OFF | psci_fid::SYSTEM_RESET => {
                        // The Realm is over for every vCPU (see `REALM_OFF`).
                        STOP.store(true, Ordering::SeqCst);
                        return Ok(if fid == psci_fid::SYSTEM_OFF { End::SystemOff } else { End::SystemReset });
                    }
                    _ => {}
                }
            }
            Some(RmiRecExitReason::RipasChange) => {
                n.ripas += 1;
                let base = exit_u64(run, offset_of!(RmiRecExit, ripas_base));
                let top = exit_u64(run, offset_of!(RmiRecExit, ripas_top));
                let value = exit_u64(run, offset_of!(RmiRecExit, ripas_value));
                let pages = (top - base) / 0x1000;
                if value == 1 {
                    n.ripas_ram_pages += pages;
                } else {
                    n.ripas_empty_pages += pages;
                }
                let mut at = base;
                let t = cntpct();
                while at < top {
                    n.ripas_calls += 1;
                    match rmi.rtt_set_ripas(pool::RD, rec, at, top) {
                        Ok(next) if next > at => at = next,
                        r => {
                            return Err(vmsg!(
                                "vCPU {cpu}: RTT_SET_RIPAS({at:#x}, {top:#x}) = {r:x?} (RIPAS {value})"
                            ));
                        }
                    }
                }
                n.ticks_vmm_rmi += cntpct() - t;
            }
            Some(RmiRecExitReason::HostCall) => n.host_call += 1,
            _ => {
                let esr = exit_u64(run, offset_of!(RmiRecExit, esr));
                return Err(vmsg!("vCPU {cpu}: exit reason {reason} (ESR {esr:#x})"));
            }
        }
        if STOP.load(Ordering::SeqCst) {
            return Ok(End::Stopped);
        }
        // Warden's ring on this CPU, before it can fill: every few exits, and after the exits
        // whose handling made many RMI calls (populating RAM, RIPAS changes).
        if n.exits.is_multiple_of(DRAIN_EXITS) || n.ripas_calls + n.pages_populated != busy {
            busy = n.ripas_calls + n.pages_populated;
            n.ticks_trace += account::drain(cpu);
            n.trace_drains += 1;
        }
        hcr = inject(cpu, &mut lrs[..nlr], timer, n);
    }
}

/// A secondary vCPU's CPU (started by the guest's CPU_ON): runs it; true unless it failed.
pub fn secondary(cpu: usize) -> bool {
    let r = Desc::read().and_then(|d| {
        let mut n = Counts::default();
        let r = run_vcpu(cpu, &d, &mut n);
        host_gic_quiesce();
        VM.with(|s| s.totals.add(&n));
        r
    });
    let ok = match r {
        Ok(end) => {
            println!("host: linux: vCPU {cpu} ended: {end:?}");
            true
        }
        Err(m) => {
            println!("host: linux: vCPU {cpu}: {m}");
            STOP.store(true, Ordering::SeqCst);
            false
        }
    };
    ENDED[cpu].store(if ok { 1 } else { 2 }, Ordering::SeqCst);
    ok
}

fn ms(ticks: u64) -> u64 {
    ticks * 1000 / cntfrq()
}

/// Counter ticks shown as milliseconds with one decimal.
struct Ms(u64);

impl core::fmt::Display for Ms {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let tenths = self.0 * 10_000 / cntfrq();
        write!(f, "{}.{}", tenths / 10, tenths % 10)
    }
}

/// The `linux` scenario: builds the Realm and runs vCPU 0 here until the guest powers off.
pub fn linux() -> Outcome {
    let d = Desc::read()?;
    VM.with(|s| s.gic = Gic::new(d.cpus));
    println!(
        "host: linux: Realm of {} MiB RAM at {:#x} (populated {}), {} vCPU(s), IPA width {}: Image {} KiB at {:#x}, DTB at {:#x}, initrd {} KiB at {:#x}",
        d.ram_size >> 20,
        d.ram_ipa,
        if d.eager { "before activation" } else { "on first touch" },
        d.cpus,
        d.ipa_bits,
        d.image.size >> 10,
        d.image.ipa,
        d.dtb.ipa,
        d.initrd.size >> 10,
        d.initrd.ipa
    );
    let b = build::build(&d)?;
    println!(
        "host: linux: Realm built and activated in {} ms: {} granules delegated, {} measured by DATA_CREATE, {} DATA granules in all (trace drains {} ms); entering REC 0",
        ms(b.ticks),
        b.granules,
        b.measured,
        b.data,
        ms(b.trace_ticks)
    );
    STARTED[0].store(true, Ordering::SeqCst);
    let t0 = cntpct();
    let mut n = Counts::default();
    let r = run_vcpu(0, &d, &mut n);
    let run_ticks = cntpct() - t0;
    host_gic_quiesce();
    STOP.store(true, Ordering::SeqCst);
    for cpu in 1..d.cpus {
        if STARTED[cpu].load(Ordering::SeqCst) {
            kick(cpu);
            let ended = scenarios::wait_for(10, || {
                kick(cpu);
                ENDED[cpu].load(Ordering::SeqCst) != 0
            });
            if !ended {
                return Err(vmsg!("vCPU {cpu} did not leave its loop within 10 s"));
            }
            scenarios::release_and_wait_off(cpu as u64)?;
        }
    }
    let started = STARTED.iter().filter(|s| s.load(Ordering::SeqCst)).count();
    let t = VM.with(|s| {
        s.totals.add(&n);
        s.totals
    });
    println!(
        "host: linux: exits {}: MMIO GICD {} GICR {} UART {} other {}; SGI {}; IRQ {}; PSCI {}; RIPAS {} ({} RTT_SET_RIPAS, {} pages to RAM, {} to EMPTY); RAM first touch {} ({} pages populated); host calls {}; other SYNC {}; SEA injected {}",
        t.exits, t.gicd, t.gicr, t.uart, t.mmio_other, t.sgi, t.irq, t.psci, t.ripas, t.ripas_calls,
        t.ripas_ram_pages, t.ripas_empty_pages, t.page_faults, t.pages_populated, t.host_call,
        t.sync_other, t.sea_injected
    );
    println!(
        "host: linux: injected: virtual timer {}, UART {}, SGIs {}; LRs full {} times",
        t.timer_injections, t.uart_injections, t.sgi_injections, t.lr_full
    );
    println!(
        "host: linux: time: build {} ms, run {} ms; in REC_ENTER (Realm + Warden + EL3) {} ms, in this VMM {} ms, of which RMI calls to populate RAM and set RIPAS {} ms, trace drains {} ms ({} drains) (all vCPUs; counter ticks {} / {} / {} / {})",
        ms(b.ticks),
        ms(run_ticks),
        ms(t.ticks_realm),
        ms(t.ticks_vmm),
        ms(t.ticks_vmm_rmi),
        ms(t.ticks_trace),
        t.trace_drains,
        t.ticks_realm,
        t.ticks_vmm,
        t.ticks_vmm_rmi,
        t.ticks_trace
    );

    // Every vCPU is out of the Realm for good: take it apart.
    let (torn, torn_ok) = teardown::teardown(&d, &b);
    println!(
        "host: linux: teardown in {} ms: {} RECs, {} DATA ({} measured, {} unmeasured), {} RTTs destroyed, REALM_DESTROY {}; {} of {} delegated granules undelegated; {} read back zero through NS (all of them, every word: {} ms; trace drains {} ms)",
        ms(torn.ticks),
        torn.recs,
        torn.data,
        torn.measured,
        torn.data - torn.measured,
        torn.rtts,
        if torn.realm { "ok" } else { "failed" },
        torn.undelegated,
        torn.delegated,
        torn.zero,
        ms(torn.check_ticks),
        ms(torn.trace_ticks)
    );

    // The rest of every ring, then what the trace says about the run.
    for cpu in 0..d.cpus {
        account::drain(cpu);
    }
    let sp = account::split(t0, t0 + run_ticks);
    let c = sp.collected;
    if let Some(why) = c.failed {
        println!("host: linux: trace: collecting failed: {why}");
    }
    let trace_ok = if !c.traced {
        println!("host: linux: trace: not recorded (Warden built without the `trace` feature)");
        Ok(())
    } else {
        let [sync, irq, fiq, psci, ripas, host_call, serror] = sp.by_reason;
        let [dabt, iabt, msr, wfx, other] = sp.sync_by_class;
        println!(
            "host: linux: trace: {} records in {} batches, {} dropped; exits by reason (rec_run): {} = SYNC {} (data abort {}, instruction abort {}, MSR {}, WFx {}, other {}) IRQ {} FIQ {} PSCI {} RIPAS_CHANGE {} HOST_CALL {} SERROR {}",
            c.records, c.batches, c.dropped, sp.rec_run.n, sync, dabt, iabt, msr, wfx, other, irq, fiq,
            psci, ripas, host_call, serror
        );
        let el3_enter = t.ticks_realm.saturating_sub(sp.rec_enter.ticks);
        println!(
            "host: linux: time split of the run (all vCPUs): REC_ENTER {} ms = Realm (upper bound) {} ms + Warden {} ms (entry/exit {} ms, RSI {} ms in {} calls, PSCI {} ms in {}, RTT walks {} ms in {}) + EL3 and SMC transit {} ms; VMM {} ms = own work {} ms + RMI calls {} ms (Warden {} ms in {} commands, of which EL3 GTSI {} ms) + trace drains {} ms (ticks: Realm {} Warden {} EL3 {} VMM own {} VMM RMI {})",
            Ms(t.ticks_realm),
            Ms(sp.realm()),
            Ms(sp.warden_in_rec_enter()),
            Ms(sp.entry_exit()),
            Ms(sp.rsi.ticks),
            sp.rsi.n,
            Ms(sp.psci.ticks),
            sp.psci.n,
            Ms(sp.walks_in_run.ticks),
            sp.walks_in_run.n,
            Ms(el3_enter),
            Ms(t.ticks_vmm),
            Ms(t.ticks_vmm - t.ticks_vmm_rmi - t.ticks_trace),
            Ms(t.ticks_vmm_rmi),
            Ms(sp.other_rmi.ticks),
            sp.other_rmi.n,
            Ms(sp.el3.ticks),
            Ms(t.ticks_trace),
            sp.realm(),
            sp.warden_in_rec_enter(),
            el3_enter,
            t.ticks_vmm - t.ticks_vmm_rmi - t.ticks_trace,
            t.ticks_vmm_rmi
        );
        if c.failed.is_none() && c.dropped == 0 && sp.rec_run.n != t.exits {
            Err(vmsg!(
                "the trace holds {} REC runs without a drop, but the VMM counted {} exits",
                sp.rec_run.n,
                t.exits
            ))
        } else {
            Ok(())
        }
    };

    let end = r?;
    if end != End::SystemOff {
        return Err(vmsg!("vCPU 0 ended with {end:?}, want SystemOff"));
    }
    if let Some(cpu) = (1..d.cpus).find(|&c| ENDED[c].load(Ordering::SeqCst) == 2) {
        return Err(vmsg!("vCPU {cpu} failed (see its line above)"));
    }
    torn_ok?;
    if torn.data != b.data + t.pages_populated {
        return Err(vmsg!(
            "teardown destroyed {} DATA granules, but {} were created before activation and {} on first touch",
            torn.data,
            b.data,
            t.pages_populated
        ));
    }
    trace_ok?;
    Ok(vmsg!(
        "Linux ran to PSCI SYSTEM_OFF on {started} of {} vCPUs after {} exits ({} ms; Realm built in {} ms, torn down in {} ms: {} granules undelegated and read back zero)",
        d.cpus,
        t.exits,
        ms(run_ticks),
        ms(b.ticks),
        ms(torn.ticks),
        torn.zero
    ))
}
