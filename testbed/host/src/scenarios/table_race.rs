//! `table-race`: the reuse of an RTT granule across Realms while another CPU is about to destroy or
//! fold it (an ABA on the parent's TABLE entry).
//!
//! Realm R has a level-2 table; granules T0 and T1 (an 8 KiB pair) take turns as its level-3 table
//! at [`IPA`]. CPUs 0 and 1 loop RTT_CREATE(R, Tx, IPA, 3) / RTT_DESTROY(R, IPA, 3), CPU 3 loops
//! RTT_CREATE / RTT_FOLD, and CPU 2 loops REALM_CREATE / REALM_DESTROY of a second Realm R' whose
//! two starting tables are T0 and T1. So a table one CPU has just read from R's level-2 entry can
//! be destroyed by another CPU and become R''s starting table before the first CPU claims it: the
//! destroy or fold must then notice that the entry no longer names it. Every answer must be one
//! the command can give, and afterwards both Realms are torn down and every granule undelegates
//! and reads back zero.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::checks::*;
use super::{
    JOB, JOB_PING, JOB_TABLE_RACE, Outcome, SECONDARY_RESULT, release_and_wait_off, rmi, wait_for,
};
use crate::entry::{MAX_CPUS, host_secondary_entry};
use crate::nsmem;
use crate::rmi::RmiError;

/// Iterations per CPU.
const ROUNDS: u32 = 3000;
/// NS memory: 0x8400_0000 onwards.
const BASE: u64 = 0x8400_0000;
const PARAMS_R: u64 = BASE;
const PARAMS_R2: u64 = BASE + 0x1000;
const RD_R: u64 = BASE + 0x2000;
const RD_R2: u64 = BASE + 0x3000;
const RTT_R: u64 = BASE + 0x4000; // and + 0x5000
const L2: u64 = BASE + 0x6000;
/// The contested pair: R's level-3 table in turns, R''s starting tables.
const T0: u64 = BASE + 0x8000;
const T1: u64 = BASE + 0x9000;
const GRANULES: [u64; 8] = [
    RD_R,
    RD_R2,
    RTT_R,
    RTT_R + 0x1000,
    L2,
    T0,
    T1,
    BASE + 0x7000,
];

/// Successes per CPU: [create, destroy/fold/realm destroy].
static DONE: [[AtomicU32; 2]; MAX_CPUS] = [const { [const { AtomicU32::new(0) }; 2] }; MAX_CPUS];
/// The first unexpected answer per CPU: [call + 1, X0].
static BAD: [[AtomicU64; 2]; MAX_CPUS] = [const { [const { AtomicU64::new(0) }; 2] }; MAX_CPUS];
static READY: AtomicU32 = AtomicU32::new(0);
static GO: AtomicU32 = AtomicU32::new(0);

const CALLS: [&str; 6] = [
    "RTT_CREATE",
    "RTT_DESTROY",
    "RTT_FOLD",
    "REALM_CREATE",
    "REALM_DESTROY",
    "returned PA",
];

fn record(cpu: usize, call: usize, x0: u64) -> bool {
    BAD[cpu][1].store(x0, Ordering::SeqCst);
    BAD[cpu][0].store(call as u64 + 1, Ordering::SeqCst);
    false
}

fn x0(e: RmiError) -> u64 {
    match e {
        RmiError::Status(s) => s.to_x0(),
        RmiError::Unknown => u64::MAX,
        RmiError::Invalid(x) => x,
    }
}

/// One CPU's loop; `false` after the first unexpected answer.
fn run(cpu: usize) -> bool {
    let mut rmi = rmi();
    for i in 0..ROUNDS {
        if cpu == 2 {
            match rmi.realm_create(RD_R2, PARAMS_R2) {
                Ok(()) => {
                    DONE[cpu][0].fetch_add(1, Ordering::Relaxed);
                }
                Err(INPUT) => {}
                Err(e) => return record(cpu, 3, x0(e)),
            }
            match rmi.realm_destroy(RD_R2) {
                Ok(()) => {
                    DONE[cpu][1].fetch_add(1, Ordering::Relaxed);
                }
                Err(INPUT) => {}
                Err(e) => return record(cpu, 4, x0(e)),
            }
            continue;
        }
        let t = if (i + cpu as u32).is_multiple_of(2) {
            T0
        } else {
            T1
        };
        match rmi.rtt_create(RD_R, t, IPA, 3) {
            Ok(()) => {
                DONE[cpu][0].fetch_add(1, Ordering::Relaxed);
            }
            // t is not DELEGATED (R's table or R''s), or R already has a level-3 table.
            Err(e) if e == INPUT || e == rtt_error(2) => {}
            Err(e) => return record(cpu, 0, x0(e)),
        }
        let r = if cpu == 3 {
            rmi.rtt_fold(RD_R, IPA, 3).map_err(|e| (2, e))
        } else {
            rmi.rtt_destroy(RD_R, IPA, 3)
                .map(|(pa, _)| pa)
                .map_err(|e| (1, e))
        };
        match r {
            Ok(pa) if pa == T0 || pa == T1 => {
                DONE[cpu][1].fetch_add(1, Ordering::Relaxed);
            }
            Ok(pa) => return record(cpu, 5, pa),
            // No level-3 table (the walk stopped at level 2), or (fold) a live/absent table.
            Err((_, e)) if e == rtt_error(2) || e == rtt_error(3) => {}
            Err((call, e)) => return record(cpu, call, x0(e)),
        }
    }
    true
}

/// A secondary's part.
pub(super) fn secondary(cpu: usize) -> bool {
    READY.fetch_add(1, Ordering::SeqCst);
    while GO.load(Ordering::SeqCst) == 0 {
        core::hint::spin_loop();
    }
    run(cpu)
}

/// The run of the scenario.
pub fn table_race() -> Outcome {
    let mut c = Checks::new();
    let mut rmi = rmi();
    nsmem::write_realm_params(PARAMS_R, &realm_params(RTT_R, 40));
    nsmem::write_realm_params(PARAMS_R2, &realm_params(T0, 41));
    c.fill_and_delegate(&GRANULES)?;
    c.ok(
        format_args!("REALM_CREATE(R)"),
        rmi.realm_create(RD_R, PARAMS_R),
    )?;
    c.ok(
        format_args!("RTT_CREATE(R, {IPA_L2:#x}, 2)"),
        rmi.rtt_create(RD_R, L2, IPA_L2, 2),
    )?;

    READY.store(0, Ordering::SeqCst);
    GO.store(0, Ordering::SeqCst);
    JOB.store(JOB_TABLE_RACE, Ordering::SeqCst);
    let entry = host_secondary_entry as *const () as u64;
    for cpu in 1..MAX_CPUS as u64 {
        SECONDARY_RESULT[cpu as usize].store(0, Ordering::SeqCst);
        let r = crate::psci::cpu_on(cpu, entry, cpu);
        ensure!(r == 0, "CPU_ON({cpu}) = {r:#x}");
    }
    ensure!(
        wait_for(10, || READY.load(Ordering::SeqCst) == MAX_CPUS as u32 - 1),
        "secondaries not ready within 10 s"
    );
    GO.store(1, Ordering::SeqCst);
    let mine = run(0);
    for (cpu, result) in SECONDARY_RESULT.iter().enumerate().skip(1) {
        ensure!(
            wait_for(60, || result.load(Ordering::SeqCst) != 0),
            "cpu {cpu} did not finish its {ROUNDS} rounds within 60 s (hung in Warden?)"
        );
    }
    for (cpu, bad) in BAD.iter().enumerate() {
        let call = bad[0].load(Ordering::SeqCst);
        ensure!(
            call == 0,
            "cpu {cpu}: {} answered {:#x}, which it must not",
            CALLS[call as usize - 1],
            bad[1].load(Ordering::SeqCst)
        );
    }
    ensure!(
        mine && (1..MAX_CPUS).all(|cpu| SECONDARY_RESULT[cpu].load(Ordering::SeqCst) == 1),
        "a CPU failed without recording why"
    );
    for cpu in 1..MAX_CPUS as u64 {
        release_and_wait_off(cpu)?;
    }
    JOB.store(JOB_PING, Ordering::SeqCst);
    let n = |cpu: usize, i: usize| DONE[cpu][i].load(Ordering::SeqCst);

    // Teardown: whichever of T0/T1 is R's level-3 table, R' if it exists, then R.
    let _ = rmi.rtt_destroy(RD_R, IPA, 3);
    let _ = rmi.realm_destroy(RD_R2);
    c.eq(
        format_args!("READ_ENTRY(R, {IPA:#x}, 2) after the race"),
        rmi.rtt_read_entry(RD_R, IPA, 2).map(|e| e.state),
        Ok(UNASSIGNED),
    )?;
    c.ok(
        format_args!("RTT_DESTROY(R, {IPA_L2:#x}, 2)"),
        rmi.rtt_destroy(RD_R, IPA_L2, 2),
    )?;
    c.ok(format_args!("REALM_DESTROY(R)"), rmi.realm_destroy(RD_R))?;
    c.undelegate_and_read_zero(&GRANULES)?;
    Ok(msg!(
        "{ROUNDS} rounds per CPU: level-3 table created/destroyed {}+{}/{}+{} (cpus 0, 1), created/folded {}/{} (cpu 3), \
         R' with the same granules as starting tables created/destroyed {}/{} (cpu 2); every answer valid; granules read back zero",
        n(0, 0),
        n(1, 0),
        n(0, 1),
        n(1, 1),
        n(3, 0),
        n(3, 1),
        n(2, 0),
        n(2, 1)
    ))
}
