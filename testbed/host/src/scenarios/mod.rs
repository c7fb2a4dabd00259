//! The scenarios: each returns `Ok(summary)` or `Err(reason)`; the runner prints one
//! `PASS <name>: …` / `FAIL <name>: …` line per scenario.

// Messages are fixed-size buffers (no heap in this driver), so both Result variants are ~200 bytes.
#![allow(clippy::result_large_err)]

use core::sync::atomic::{AtomicU64, Ordering};

use warden_abi::fid::{SMC_UNKNOWN, psci as psci_fid, rmi as rmi_fid};
use warden_abi::status::{PsciAffinityState, PsciReturn, RmiStatusCode};
use warden_abi::version::{PSCI_VERSION_1_1, RMI_VERSION_1_0, SMCCC_VERSION_1_2};

use crate::entry::{MAX_CPUS, host_secondary_entry};
use crate::fault::probe_read;
use crate::rmi::{Rmi, RmiError};
use crate::smc::{Smc, smc_full};
use crate::text::Text;
use crate::{println, psci};

/// A scenario message.
pub type Msg = Text<512>;
/// A scenario result.
pub type Outcome = Result<Msg, Msg>;

/// A named scenario.
pub struct Scenario {
    /// Name printed on the summary line.
    pub name: &'static str,
    /// The test.
    pub run: fn() -> Outcome,
}

/// All scenarios, in order.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "smoke",
        run: smoke,
    },
    Scenario {
        name: "bad-input",
        run: bad_input,
    },
    Scenario {
        name: "smccc",
        run: smccc,
    },
    Scenario {
        name: "gpt",
        run: gpt,
    },
    Scenario {
        name: "lifecycle",
        run: lifecycle::lifecycle,
    },
    Scenario {
        name: "psci-cpu-on",
        run: psci_cpu_on,
    },
    Scenario {
        name: "storm",
        run: storm::storm,
    },
    Scenario {
        name: "table-race",
        run: table_race::table_race,
    },
    Scenario {
        name: "realm-pair",
        run: realm::realm_pair,
    },
    // The hostile Host (issue 10): confidentiality, integrity, faults (secret_realm.rs).
    Scenario {
        name: "realm-probe",
        run: confidentiality::realm_probe,
    },
    Scenario {
        name: "no-residue",
        run: confidentiality::no_residue,
    },
    Scenario {
        name: "host-buffers",
        run: confidentiality::host_buffers,
    },
    Scenario {
        name: "exit-hygiene",
        run: confidentiality::exit_hygiene,
    },
    Scenario {
        name: "integrity",
        run: integrity::integrity,
    },
    Scenario {
        name: "faults",
        run: faults::faults,
    },
    // Last, so that `cargo xtask run` ends with bench-guest's benchmark table.
    Scenario {
        name: "realm",
        run: realm::realm,
    },
];

macro_rules! msg {
    ($($arg:tt)*) => {{
        let mut m = $crate::scenarios::Msg::new();
        let _ = core::fmt::Write::write_fmt(&mut m, format_args!($($arg)*));
        m
    }};
}

macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err(msg!($($arg)*));
        }
    };
}

// After the macros: the submodules use them.
mod bad_realm;
mod checks;
mod confidentiality;
mod faults;
mod integrity;
mod lifecycle;
mod payload;
mod realm;
pub(crate) use realm::take_irqs;
mod secret_realm;
mod storm;
mod table_race;

fn rmi() -> Rmi<Smc> {
    Rmi::new(Smc)
}

const INPUT: RmiError = RmiError::code(RmiStatusCode::ErrorInput);

/// NS granules the scenarios delegate (well away from the driver image at 0x6000_0000).
const SCRATCH: u64 = 0x8000_0000;
const GRANULE: u64 = 0x1000;

fn smoke() -> Outcome {
    let mut rmi = rmi();
    let v = rmi.version(RMI_VERSION_1_0);
    ensure!(
        matches!(v, Ok(v) if v.lower == RMI_VERSION_1_0 && v.higher == RMI_VERSION_1_0),
        "RMI_VERSION(0x10000) = {v:?}, want success with lower = higher = 1.0"
    );
    let f0 = rmi.features(0);
    ensure!(
        matches!(f0, Ok(v) if v != 0),
        "RMI_FEATURES(0) = {f0:?}, want a non-zero register"
    );
    const N: u64 = 4;
    for i in 0..N {
        let pa = SCRATCH + i * GRANULE;
        let r = rmi.granule_delegate(pa);
        ensure!(r.is_ok(), "GRANULE_DELEGATE({pa:#x}) = {r:?}");
    }
    let again = rmi.granule_delegate(SCRATCH);
    ensure!(
        again == Err(INPUT),
        "second GRANULE_DELEGATE({SCRATCH:#x}) = {again:?}, want RMI_ERROR_INPUT"
    );
    for i in 0..N {
        let pa = SCRATCH + i * GRANULE;
        let r = rmi.granule_undelegate(pa);
        ensure!(r.is_ok(), "GRANULE_UNDELEGATE({pa:#x}) = {r:?}");
    }
    let again = rmi.granule_undelegate(SCRATCH);
    ensure!(
        again == Err(INPUT),
        "second GRANULE_UNDELEGATE({SCRATCH:#x}) = {again:?}, want RMI_ERROR_INPUT"
    );
    Ok(msg!(
        "RMI_VERSION 1.0/1.0, FEATURES(0) {:#x}, {N} granules delegated and undelegated",
        f0.unwrap_or(0)
    ))
}

fn bad_input() -> Outcome {
    let mut c = checks::Checks::new();
    let mut rmi = rmi();
    let cases: [(&str, u64); 5] = [
        ("misaligned PA", SCRATCH + 0x10),
        ("MMIO (UART0)", 0x0900_0000),
        ("Root (EL3 SRAM)", 0x0E00_0000),
        ("Realm (RMM image)", 0x4010_0000),
        ("beyond DRAM", 0x1_0000_0000),
    ];
    for (what, pa) in cases {
        c.rejected(
            format_args!("GRANULE_DELEGATE({pa:#x}) [{what}]"),
            rmi.granule_delegate(pa),
            INPUT,
        )?;
    }
    c.rejected(
        format_args!("GRANULE_UNDELEGATE of an NS granule"),
        rmi.granule_undelegate(SCRATCH),
        INPUT,
    )?;
    let granule_calls = c.rejected;
    let r = rmi.raw(0xC400_0160, &[]);
    ensure!(
        r == Err(RmiError::Unknown),
        "unassigned RMI FID 0xC4000160 = {r:?}, want SMC_UNKNOWN"
    );
    let n = bad_realm::realm_checks(&mut c)?;
    Ok(msg!(
        "{} bad calls -> RMI_ERROR_INPUT, RMI_VERSION answered after each: {granule_calls} GRANULE_(UN)DELEGATE, \
         REALM_CREATE {} bad params_ptr (DELEGATED granule and Warden image: GPFs caught by Warden) + {} bad RD, \
         {} RD commands on non-RDs, {} RTT calls with bad levels, DATA_CREATE {} bad src (DELEGATED: GPF); \
         positive controls OK, granules read back zero; FID 0xC4000160 -> SMC_UNKNOWN; {} checks",
        c.rejected,
        n.params,
        n.create_rd,
        n.rd,
        n.levels,
        n.src,
        c.passed
    ))
}

fn smccc() -> Outcome {
    let v = psci::smccc_version();
    ensure!(
        v == SMCCC_VERSION_1_2.encode(),
        "SMCCC_VERSION = {v:#x}, want 0x10002"
    );
    let v = psci::version();
    ensure!(
        v == PSCI_VERSION_1_1.encode(),
        "PSCI_VERSION = {v:#x}, want 0x10001"
    );
    let r = smc_full([0xC200_0000, 0, 0, 0, 0, 0, 0, 0], [0; 10])[0];
    ensure!(
        r == SMC_UNKNOWN,
        "SiP SMC 0xC2000000 = {r:#x}, want SMC_UNKNOWN"
    );
    // X5–X17 survive an RMI call forwarded through EL3 (SMCCC: unused result registers preserved).
    let pattern = |i: u64| 0x5A5A_0000_0000_0000 | (i << 8) | i;
    let mut regs = [rmi_fid::VERSION, RMI_VERSION_1_0.encode(), 0, 0, 0, 0, 0, 0];
    for (i, r) in regs.iter_mut().enumerate().skip(5) {
        *r = pattern(i as u64);
    }
    let mut high = [0u64; 10];
    for (i, r) in high.iter_mut().enumerate() {
        *r = pattern(8 + i as u64);
    }
    let out = smc_full(regs, high);
    ensure!(
        out[0] == 0,
        "RMI_VERSION with X5-X17 patterns: X0 = {:#x}",
        out[0]
    );
    for (i, value) in out.iter().enumerate().skip(5) {
        ensure!(
            *value == pattern(i as u64),
            "X{i} not preserved across RMI_VERSION: {value:#x}"
        );
    }
    // NS EL2 state survives the switch to the Realm world and back (the stand-in/RMM writes its own
    // values into the same registers while it runs).
    let before = El2Probe::set(0xA5A5_0000_0000_0000);
    let r = rmi().version(RMI_VERSION_1_0);
    ensure!(r.is_ok(), "RMI_VERSION = {r:?}");
    let after = El2Probe::read();
    ensure!(
        after == before,
        "NS EL2 state not preserved across an RMI call: before {before:x?}, after {after:x?}"
    );
    // The SVE hint bit (16) is accepted on an RMI FID.
    let out = smc_full(
        [
            rmi_fid::VERSION | (1 << 16),
            RMI_VERSION_1_0.encode(),
            0,
            0,
            0,
            0,
            0,
            0,
        ],
        [0; 10],
    );
    ensure!(
        out[0] == 0 && out[1] == 0x10000,
        "RMI_VERSION with the SVE hint bit: X0 {:#x} X1 {:#x}",
        out[0],
        out[1]
    );
    Ok(msg!(
        "SMCCC 1.2, PSCI 1.1, unknown SMC -> -1, X5-X17 and NS EL2 registers preserved, SVE hint accepted"
    ))
}

/// NS-EL2 registers whose values must survive an RMI call: TPIDR_EL2, MAIR_EL2, VTTBR_EL2, SP_EL0,
/// APIAKeyLo_EL1 (PAuth), CNTVOFF_EL2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct El2Probe([u64; 6]);

impl El2Probe {
    fn set(pattern: u64) -> Self {
        let baddr = pattern & 0xFFFF_FFFF_F000;
        // SAFETY: these registers do not affect this driver while the EL2 MMU is off and HCR_EL2.VM
        // is 0 (VTTBR), nothing runs at EL0/EL1 (SP_EL0, CNTVOFF), and PAuth is not used by this code.
        unsafe {
            core::arch::asm!("msr tpidr_el2, {p}", "msr mair_el2, {p}", "msr vttbr_el2, {b}", "msr sp_el0, {p}",
                "msr S3_0_C2_C1_0, {p}", "msr cntvoff_el2, {p}", p = in(reg) pattern, b = in(reg) baddr,
                options(nostack));
        }
        Self::read()
    }

    fn read() -> Self {
        let (a, b, c, d, e, f): (u64, u64, u64, u64, u64, u64);
        // SAFETY: reading system registers has no side effects.
        unsafe {
            core::arch::asm!("mrs {a}, tpidr_el2", "mrs {b}, mair_el2", "mrs {c}, vttbr_el2", "mrs {d}, sp_el0",
                "mrs {e}, S3_0_C2_C1_0", "mrs {f}, cntvoff_el2", a = out(reg) a, b = out(reg) b, c = out(reg) c,
                d = out(reg) d, e = out(reg) e, f = out(reg) f, options(nomem, nostack));
        }
        El2Probe([a, b, c, d, e, f])
    }
}

fn gpt() -> Outcome {
    let cases: [(&str, u64); 3] = [
        ("Realm (RMM image)", 0x4010_0000),
        ("Realm (EL3-RMM shared page)", 0x418F_F000),
        ("Root (EL3 SRAM)", 0x0E00_0000),
    ];
    for (what, pa) in cases {
        match probe_read(pa) {
            Err(f) if f.is_gpf() && f.far == pa => {}
            Err(f) => {
                return Err(msg!(
                    "read of {pa:#x} [{what}] faulted with ESR {:#x} FAR {:#x}, want a GPF",
                    f.esr,
                    f.far
                ));
            }
            Ok(v) => {
                return Err(msg!(
                    "read of {pa:#x} [{what}] from NS succeeded ({v:#x}); GPT not enforced"
                ));
            }
        }
    }
    let pa = SCRATCH + 0x10 * GRANULE;
    ensure!(probe_read(pa).is_ok(), "read of NS granule {pa:#x} faulted");
    let mut rmi = rmi();
    let r = rmi.granule_delegate(pa);
    ensure!(r.is_ok(), "GRANULE_DELEGATE({pa:#x}) = {r:?}");
    let after = probe_read(pa);
    let faulted = matches!(after, Err(f) if f.is_gpf());
    let r = rmi.granule_undelegate(pa);
    ensure!(
        faulted,
        "read of delegated granule {pa:#x} = {after:?}, want a GPF"
    );
    ensure!(r.is_ok(), "GRANULE_UNDELEGATE({pa:#x}) = {r:?}");
    ensure!(
        probe_read(pa).is_ok(),
        "read of undelegated granule {pa:#x} faulted"
    );
    Ok(msg!(
        "NS reads of Realm/Root granules take GPFs (DFSC 0x28); delegate -> GPF, undelegate -> readable"
    ))
}

/// Per-CPU results of the secondary code: 0 = not run, 1 = ok, other = failing X0.
static SECONDARY_RESULT: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// Set by the primary to let secondaries turn themselves off.
static RELEASE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// What a CPU started by CPU_ON does: [`JOB_PING`], [`JOB_STORM`], [`JOB_TABLE_RACE`] or
/// [`JOB_REALM`] (set before CPU_ON).
pub(crate) static JOB: AtomicU64 = AtomicU64::new(JOB_PING);
/// One RMI round trip and a delegate/undelegate of a per-CPU granule (`psci-cpu-on`).
const JOB_PING: u64 = 0;
/// The `storm` scenario's share of operations.
const JOB_STORM: u64 = 1;
/// The `table-race` scenario's loop.
const JOB_TABLE_RACE: u64 = 2;
/// The `realm-pair` scenario: run a REC 0 or the REC 1s of its Realms.
const JOB_REALM: u64 = 3;
/// The `linux` scenario's VMM: run the vCPU of this CPU's index (crate::vmm).
pub(crate) const JOB_VMM: u64 = 4;
/// The `realm-probe` scenario: probe a running Realm's granules (secret_realm::prober).
const JOB_PROBE: u64 = 5;

/// Runs on a CPU started by CPU_ON: its job (see [`JOB`]), then reports, waits for release and
/// calls CPU_OFF.
#[unsafe(no_mangle)]
extern "C" fn host_secondary_main(cpu: u64) -> ! {
    let cpu = cpu as usize;
    let ok = match JOB.load(Ordering::SeqCst) {
        JOB_STORM => storm::secondary(cpu),
        JOB_TABLE_RACE => table_race::secondary(cpu),
        JOB_REALM => realm::secondary(cpu),
        JOB_VMM => crate::vmm::secondary(cpu),
        JOB_PROBE => secret_realm::prober(),
        _ => {
            // Proves the RMM warm-booted on this CPU.
            let mut rmi = rmi();
            let pa = SCRATCH + (0x100 + cpu as u64) * GRANULE;
            rmi.version(RMI_VERSION_1_0).is_ok()
                && rmi.granule_delegate(pa).is_ok()
                && rmi.granule_undelegate(pa).is_ok()
        }
    };
    SECONDARY_RESULT[cpu].store(if ok { 1 } else { 2 }, Ordering::SeqCst);
    while RELEASE[cpu].load(Ordering::SeqCst) == 0 {
        core::hint::spin_loop();
    }
    RELEASE[cpu].store(0, Ordering::SeqCst);
    let r = psci::cpu_off();
    println!("host: cpu {cpu}: CPU_OFF returned {r:#x}");
    psci::system_off(crate::fault::EXIT_UNEXPECTED_EXCEPTION)
}

/// Lets a secondary that reported its result turn itself off, and waits until it is OFF.
pub(crate) fn release_and_wait_off(cpu: u64) -> Result<(), Msg> {
    RELEASE[cpu as usize].store(1, Ordering::SeqCst);
    ensure!(
        wait_for(10, || psci::affinity_info(cpu)
            == PsciAffinityState::Off.to_x0()),
        "cpu {cpu} not OFF within 10 s after CPU_OFF"
    );
    Ok(())
}

fn counter() -> (u64, u64) {
    let (cnt, freq): (u64, u64);
    // SAFETY: reading the generic timer's counter and frequency has no side effects.
    unsafe {
        core::arch::asm!("mrs {c}, cntpct_el0", "mrs {f}, cntfrq_el0", c = out(reg) cnt, f = out(reg) freq,
            options(nomem, nostack))
    };
    (cnt, freq.max(1))
}

/// Polls `cond` for up to `secs` seconds of counter time.
pub(crate) fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let (start, freq) = counter();
    loop {
        if cond() {
            return true;
        }
        if counter().0.wrapping_sub(start) > secs * freq {
            return false;
        }
        core::hint::spin_loop();
    }
}

fn start_and_stop(cpu: u64) -> Result<(), Msg> {
    let index = cpu as usize;
    SECONDARY_RESULT[index].store(0, Ordering::SeqCst);
    JOB.store(JOB_PING, Ordering::SeqCst);
    let entry = host_secondary_entry as *const () as u64;
    let r = psci::cpu_on(cpu, entry, cpu);
    ensure!(r == 0, "CPU_ON({cpu}) = {:#x}", r);
    ensure!(
        wait_for(10, || SECONDARY_RESULT[index].load(Ordering::SeqCst) != 0),
        "cpu {cpu} did not report within 10 s of CPU_ON"
    );
    let again = psci::cpu_on(cpu, entry, cpu);
    ensure!(
        again == PsciReturn::AlreadyOn.to_x0(),
        "CPU_ON of running cpu {cpu} = {:#x}, want ALREADY_ON",
        again
    );
    let on = psci::affinity_info(cpu);
    ensure!(
        on == PsciAffinityState::On.to_x0(),
        "AFFINITY_INFO({cpu}) while running = {on:#x}, want ON"
    );
    let result = SECONDARY_RESULT[index].load(Ordering::SeqCst);
    ensure!(result == 1, "cpu {cpu}: RMI calls after warm boot failed");
    release_and_wait_off(cpu)
}

fn psci_cpu_on() -> Outcome {
    let f = psci::features(psci_fid::CPU_ON_64);
    ensure!(f == 0, "PSCI_FEATURES(CPU_ON) = {f:#x}");
    let f = psci::features(0x8400_00FF);
    ensure!(
        f == PsciReturn::NotSupported.to_x0(),
        "PSCI_FEATURES(0x840000FF) = {f:#x}, want NOT_SUPPORTED"
    );
    let r = psci::cpu_on(0x100, host_secondary_entry as *const () as u64, 0);
    ensure!(
        r == PsciReturn::InvalidParameters.to_x0(),
        "CPU_ON(MPIDR 0x100) = {r:#x}, want INVALID_PARAMETERS"
    );
    let r = psci::cpu_on(1, 0x4010_0000, 1);
    ensure!(
        r == PsciReturn::InvalidAddress.to_x0(),
        "CPU_ON(entry in Realm memory) = {r:#x}, want INVALID_ADDRESS"
    );
    let off = psci::affinity_info(1);
    ensure!(
        off == PsciAffinityState::Off.to_x0(),
        "AFFINITY_INFO(1) before CPU_ON = {off:#x}, want OFF"
    );
    for cpu in 1..MAX_CPUS as u64 {
        start_and_stop(cpu)?;
    }
    start_and_stop(1)?; // a CPU can be turned on again after CPU_OFF
    Ok(msg!(
        "CPUs 1-{} started (RMM warm boot, RMI + GTSI on each), stopped, cpu 1 restarted",
        MAX_CPUS - 1
    ))
}
