//! `storm`: all four CPUs issue random RMI commands at once over one small pool of granules, then
//! the boot CPU checks that Warden's granule states, the GPT and the granules' contents agree.
//!
//! Each CPU runs [`OPS_PER_CPU`] operations chosen by its own xorshift generator, alternating
//! between a build phase and a teardown phase (different weights, every command in both):
//! GRANULE_DELEGATE (sometimes of an 8 KiB pair), GRANULE_UNDELEGATE, REALM_CREATE (the CPU's own
//! NS params page, an RTT pair, one of a few VMIDs), REALM_DESTROY, RTT_CREATE / RTT_DESTROY
//! (level 3, or level 2 when the RTT error index says so), DATA_CREATE (measured or not, from the
//! CPU's own NS page or from a random pool granule, which may be delegated: a GPF inside Warden),
//! DATA_CREATE_UNKNOWN and DATA_DESTROY. Granules come from the pool at random or from shared hints
//! (RDs some CPU created, granules some CPU delegated), so every CPU works on every Realm.
//!
//! Every answer must be one that command can give (success, RMI_ERROR_INPUT, RMI_ERROR_REALM for
//! REALM_DESTROY, RMI_ERROR_RTT at levels 1–3 for the RTT/DATA commands), and a PA returned by a
//! destroy must be a pool granule. Every command must succeed at least once.
//!
//! Afterwards, on the boot CPU: for each granule, "an NS read takes a GPF" must equal "Warden
//! refuses to delegate it" (the GPT and Warden's granule table agree); every Realm left over is
//! torn down through RMI (DATA_DESTROY, RTT_DESTROY, then REALM_DESTROY must succeed); every
//! granule must then undelegate and read back through NS as zero.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use warden_abi::status::RmiStatusCode;

use super::checks::*;
use super::{
    JOB, JOB_STORM, Msg, Outcome, SECONDARY_RESULT, counter, release_and_wait_off, rmi, wait_for,
};
use crate::entry::{MAX_CPUS, host_secondary_entry};
use crate::fault::probe_read;
use crate::rmi::{Rmi, RmiError};
use crate::smc::Smc;
use crate::{nsmem, psci};

/// Operations per CPU: 2000, or `WARDEN_STORM_OPS` at build time (`cargo xtask qemu-e2e
/// --storm-ops N`).
pub const OPS_PER_CPU: u32 = match option_env!("WARDEN_STORM_OPS") {
    Some(n) => parse_u32(n),
    None => 2000,
};

/// A decimal number at compile time (a bad value fails the build).
const fn parse_u32(text: &str) -> u32 {
    let bytes = text.as_bytes();
    assert!(!bytes.is_empty(), "WARDEN_STORM_OPS is empty");
    let mut value: u32 = 0;
    let mut i = 0;
    while i < bytes.len() {
        assert!(
            bytes[i].is_ascii_digit(),
            "WARDEN_STORM_OPS is not a number"
        );
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}
/// The shared pool: 32 granules at 0x8300_0000.
const POOL: u64 = 0x8300_0000;
const POOL_GRANULES: u64 = 32;
/// Per-CPU NS pages: `RmiRealmParams` and a DATA_CREATE source.
const PARAMS_PAGES: u64 = 0x8310_0000;
const SRC_PAGES: u64 = 0x8318_0000;
/// VMIDs the storm's Realms use (a collision is a legitimate RMI_ERROR_INPUT).
const VMID_BASE: u16 = 30;
const VMIDS: u64 = 4;
/// DATA granules go to the first pages of the level-3 table at [`IPA`].
const DATA_PAGES: u64 = 2;
/// Seconds a CPU may take for its share.
const STORM_TIMEOUT_SECS: u64 = 60;

/// The operations, in the order of [`OP_NAMES`].
const OPS: usize = 9;
const DELEGATE: usize = 0;
const UNDELEGATE: usize = 1;
const REALM_CREATE: usize = 2;
const REALM_DESTROY: usize = 3;
const RTT_CREATE: usize = 4;
const RTT_DESTROY: usize = 5;
const DATA_CREATE: usize = 6;
const DATA_CREATE_UNKNOWN: usize = 7;
const DATA_DESTROY: usize = 8;
const OP_NAMES: [&str; OPS] = [
    "DELEGATE",
    "UNDELEGATE",
    "REALM_CREATE",
    "REALM_DESTROY",
    "RTT_CREATE",
    "RTT_DESTROY",
    "DATA_CREATE",
    "DATA_CREATE_UNKNOWN",
    "DATA_DESTROY",
];

/// How often each operation is picked, in a build phase and in a teardown phase. The CPUs
/// alternate between them every [`PHASE_OPS`] operations (roughly in step), so Realms are built up
/// to DATA granules and torn down many times, while every kind of command keeps some weight in both
/// phases to interfere with the others.
const WEIGHTS: [[u64; OPS]; 2] = [
    // DELEGATE, UNDELEGATE, REALM_CREATE, REALM_DESTROY, RTT_CREATE, RTT_DESTROY, DATA_CREATE,
    // DATA_CREATE_UNKNOWN, DATA_DESTROY
    [4, 1, 1, 1, 3, 1, 3, 3, 1],
    [1, 4, 1, 3, 1, 4, 1, 1, 4],
];
/// The index of the build phase in [`WEIGHTS`].
const BUILD: usize = 0;
/// Operations per phase.
const PHASE_OPS: u32 = 128;

/// Successful operations per CPU and kind.
static SUCCESSES: [[AtomicU32; OPS]; MAX_CPUS] =
    [const { [const { AtomicU32::new(0) }; OPS] }; MAX_CPUS];
/// The first unexpected answer per CPU: [op + 1, X0 (or SMC_UNKNOWN), arg 1, arg 2]; op 0 = none.
static BAD: [[AtomicU64; 4]; MAX_CPUS] = [const { [const { AtomicU64::new(0) }; 4] }; MAX_CPUS];
/// Secondaries ready to start.
static READY: AtomicU32 = AtomicU32::new(0);
/// Start signal.
static GO: AtomicBool = AtomicBool::new(false);

/// xorshift64.
struct Rng(u64);

impl Rng {
    fn new(cpu: usize) -> Self {
        Rng(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(cpu as u64 + 1) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn granule(&mut self) -> u64 {
        POOL + self.below(POOL_GRANULES) * nsmem::GRANULE
    }
}

fn in_pool(pa: u64) -> bool {
    (POOL..POOL + POOL_GRANULES * nsmem::GRANULE).contains(&pa) && pa.is_multiple_of(nsmem::GRANULE)
}

/// X0 of a failed call, for reports.
fn x0_of(e: RmiError) -> u64 {
    match e {
        RmiError::Status(s) => s.to_x0(),
        RmiError::Unknown => u64::MAX,
        RmiError::Invalid(x) => x,
    }
}

/// Whether `e` is an answer command `op` may give.
fn allowed(op: usize, e: RmiError) -> bool {
    let RmiError::Status(s) = e else {
        return false;
    };
    match s.code {
        RmiStatusCode::ErrorInput => s.index == 0,
        RmiStatusCode::ErrorRealm => op == REALM_DESTROY && s.index == 0,
        RmiStatusCode::ErrorRtt => {
            matches!(
                op,
                RTT_CREATE | RTT_DESTROY | DATA_CREATE | DATA_CREATE_UNKNOWN | DATA_DESTROY
            ) && (1..=3).contains(&s.index)
        }
        _ => false,
    }
}

/// Picks an operation by the weights of `phase`.
fn pick_op(rng: &mut Rng, phase: usize) -> usize {
    let weights = &WEIGHTS[phase];
    let mut w = rng.below(weights.iter().sum());
    for (op, weight) in weights.iter().enumerate() {
        if w < *weight {
            return op;
        }
        w -= weight;
    }
    OPS - 1
}

/// Slots of [`KNOWN_RDS`] and [`SPARES`].
const SLOTS: u64 = 8;
/// RDs some CPU created (0 = empty slot); stale entries are fine (the command then fails).
static KNOWN_RDS: [AtomicU64; SLOTS as usize] = [const { AtomicU64::new(0) }; SLOTS as usize];
/// Granules some CPU delegated and nobody has used yet, as far as it knows.
static SPARES: [AtomicU64; SLOTS as usize] = [const { AtomicU64::new(0) }; SLOTS as usize];

/// One CPU's generator. The shared hints ([`KNOWN_RDS`], [`SPARES`]) make the CPUs behave a little
/// like Hosts growing Realms together, while the random choices interfere with them: any CPU may
/// destroy or undelegate anything, and every CPU works on every Realm.
struct Cpu {
    index: usize,
    rng: Rng,
}

impl Cpu {
    /// A granule from `hints` (the first set slot from a random one) with probability `quarters`/4,
    /// else a random pool granule.
    fn pick(&mut self, hints: &[AtomicU64], quarters: u64) -> (u64, Option<usize>) {
        let first = self.rng.below(SLOTS) as usize;
        let set = (0..hints.len())
            .map(|i| (first + i) % hints.len())
            .find_map(|i| Some((hints[i].load(Ordering::Relaxed), Some(i))).filter(|h| h.0 != 0));
        match set {
            Some(hint) if self.rng.below(4) < quarters => hint,
            _ => (self.rng.granule(), None),
        }
    }
}

/// Forgets `pa` in `slot` (if it is still there).
fn forget(hints: &[AtomicU64], slot: Option<usize>, pa: u64) {
    if let Some(slot) = slot {
        let _ = hints[slot].compare_exchange(pa, 0, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Remembers `pa` in an empty slot (searching from a random one), else in a random slot.
fn remember(hints: &[AtomicU64], rng: &mut Rng, pa: u64) {
    let first = rng.below(SLOTS) as usize;
    let empty = (0..hints.len())
        .map(|i| (first + i) % hints.len())
        .find(|&i| {
            hints[i]
                .compare_exchange(0, pa, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        });
    if empty.is_none() {
        hints[first].store(pa, Ordering::Relaxed);
    }
}

/// One random operation; `Err((x0, arg, arg))` for an answer it must not give.
fn one_op(
    rmi: &mut Rmi<Smc>,
    me: &mut Cpu,
    op: usize,
    phase: usize,
) -> Result<(), (u64, u64, u64)> {
    let cpu = me.index;
    let no_hint = (0, None);
    let ((g, g_slot), (g2, g2_slot)) = match op {
        DELEGATE | UNDELEGATE => ((me.rng.granule(), None), no_hint),
        REALM_CREATE => (me.pick(&SPARES, 3), no_hint),
        // While building, REALM_DESTROY mostly hits random granules (so Realms can grow), but it
        // still sometimes races the commands that grow a known Realm.
        REALM_DESTROY if phase == BUILD => (me.pick(&KNOWN_RDS, 1), no_hint),
        RTT_CREATE | DATA_CREATE | DATA_CREATE_UNKNOWN => {
            (me.pick(&KNOWN_RDS, 3), me.pick(&SPARES, 3))
        }
        _ => (me.pick(&KNOWN_RDS, 3), no_hint),
    };
    let rng = &mut me.rng;
    let params = PARAMS_PAGES + cpu as u64 * nsmem::GRANULE;
    let own_src = SRC_PAGES + cpu as u64 * nsmem::GRANULE;
    let data_ipa = IPA + rng.below(DATA_PAGES) * nsmem::GRANULE;
    // An intermediate answer of a multi-call operation must be allowed too.
    let check = |r: Result<(), RmiError>, arg: u64| match r {
        Err(e) if !allowed(op, e) => Err((x0_of(e), g, arg)),
        r => Ok(r),
    };
    let destroyed = |r: Result<(u64, u64), RmiError>, arg: u64| match r {
        Ok((pa, _)) if !in_pool(pa) => Err((pa, g, arg)),
        r => Ok(r.map(|_| ())),
    };
    let r: Result<(), RmiError> = match op {
        // Half the time also the other granule of its 8 KiB pair (a Realm's two starting RTTs).
        DELEGATE => match (check(rmi.granule_delegate(g), g)?, rng.below(2)) {
            (Ok(()), 0) => {
                check(rmi.granule_delegate(g ^ nsmem::GRANULE), g ^ nsmem::GRANULE)?.or(Ok(()))
            }
            (r, _) => r,
        },
        UNDELEGATE => rmi.granule_undelegate(g),
        REALM_CREATE => {
            // The starting RTTs: mostly the pair of a granule some CPU delegated.
            let pair = match SPARES[rng.below(SLOTS) as usize].load(Ordering::Relaxed) {
                0 => rng.granule(),
                spare if rng.below(4) != 0 => spare,
                _ => rng.granule(),
            };
            let rtt_base = pair & !(2 * nsmem::GRANULE - 1);
            let vmid = VMID_BASE + rng.below(VMIDS) as u16;
            nsmem::set_params_rtt_and_vmid(params, rtt_base, vmid);
            rmi.realm_create(g, params)
        }
        REALM_DESTROY => rmi.realm_destroy(g),
        // Tables grow top-down: the level-3 table, or the level-2 one if the walk stopped at 1.
        RTT_CREATE => match check(rmi.rtt_create(g, g2, IPA, 3), IPA)? {
            Err(e) if e == rtt_error(1) => rmi.rtt_create(g, g2, IPA_L2, 2),
            r => r,
        },
        // ... and shrink bottom-up: the level-3 table, or the level-2 one if there is no level 3.
        RTT_DESTROY => match check(destroyed(rmi.rtt_destroy(g, IPA, 3), IPA)?, IPA)? {
            Err(e) if e == rtt_error(2) => destroyed(rmi.rtt_destroy(g, IPA_L2, 2), IPA_L2)?,
            r => r,
        },
        DATA_CREATE => {
            let src = if rng.below(4) == 0 {
                rng.granule()
            } else {
                own_src
            };
            rmi.data_create(g, g2, data_ipa, src, rng.below(2))
        }
        DATA_CREATE_UNKNOWN => rmi.data_create_unknown(g, g2, data_ipa),
        // The first DATA page that is assigned.
        _ => {
            let mut r = Err(rtt_error(3));
            for page in 0..DATA_PAGES {
                let ipa = IPA + page * nsmem::GRANULE;
                r = check(destroyed(rmi.data_destroy(g, ipa), ipa)?, ipa)?;
                if r != Err(rtt_error(3)) {
                    break;
                }
            }
            r
        }
    };
    match r {
        Ok(()) => {
            SUCCESSES[cpu][op].fetch_add(1, Ordering::Relaxed);
            match op {
                DELEGATE => remember(&SPARES, &mut me.rng, g),
                REALM_CREATE => {
                    forget(&SPARES, g_slot, g);
                    remember(&KNOWN_RDS, &mut me.rng, g);
                }
                REALM_DESTROY => {
                    for slot in 0..KNOWN_RDS.len() {
                        forget(&KNOWN_RDS, Some(slot), g);
                    }
                }
                RTT_CREATE | DATA_CREATE | DATA_CREATE_UNKNOWN => forget(&SPARES, g2_slot, g2),
                _ => {}
            }
            Ok(())
        }
        Err(e) if allowed(op, e) => Ok(()),
        Err(e) => Err((x0_of(e), g, g2)),
    }
}

/// This CPU's share; `false` if an answer was wrong (recorded in [`BAD`]).
fn run_ops(cpu: usize) -> bool {
    let mut me = Cpu {
        index: cpu,
        rng: Rng::new(cpu),
    };
    let mut rmi = rmi();
    for i in 0..OPS_PER_CPU {
        // Counted from the end, so the storm ends building: the checks afterwards then find
        // Realms with tables and DATA to tear down.
        let phase = ((OPS_PER_CPU - 1 - i) / PHASE_OPS) as usize % 2;
        let op = pick_op(&mut me.rng, phase);
        if let Err((x0, a, b)) = one_op(&mut rmi, &mut me, op, phase) {
            let bad = &BAD[cpu];
            bad[1].store(x0, Ordering::Relaxed);
            bad[2].store(a, Ordering::Relaxed);
            bad[3].store(b, Ordering::Relaxed);
            bad[0].store(op as u64 + 1, Ordering::SeqCst);
            return false;
        }
    }
    true
}

/// A secondary's part: wait for the start signal, run the share.
pub(super) fn secondary(cpu: usize) -> bool {
    READY.fetch_add(1, Ordering::SeqCst);
    while !GO.load(Ordering::SeqCst) {
        core::hint::spin_loop();
    }
    run_ops(cpu)
}

/// The first bad answer of any CPU, as a message.
fn first_bad() -> Option<Msg> {
    (0..MAX_CPUS).find_map(|cpu| {
        let op = BAD[cpu][0].load(Ordering::SeqCst);
        (op != 0).then(|| {
            let [_, x0, a, b] = BAD[cpu].each_ref().map(|v| v.load(Ordering::SeqCst));
            msg!(
                "cpu {cpu}: {} ({a:#x}, {b:#x}) answered X0/PA {x0:#x}, which that command must not return",
                OP_NAMES[op as usize - 1]
            )
        })
    })
}

/// The run of the scenario.
pub fn storm() -> Outcome {
    let mut c = Checks::new();
    // The pool starts UNDELEGATED with a pattern; every CPU gets its NS params and source page.
    for i in 0..POOL_GRANULES {
        nsmem::fill_pattern(POOL + i * nsmem::GRANULE);
    }
    for cpu in 0..MAX_CPUS as u64 {
        nsmem::write_realm_params(
            PARAMS_PAGES + cpu * nsmem::GRANULE,
            &realm_params(POOL, VMID_BASE),
        );
        nsmem::fill_pattern(SRC_PAGES + cpu * nsmem::GRANULE);
    }

    for slot in KNOWN_RDS.iter().chain(&SPARES) {
        slot.store(0, Ordering::SeqCst);
    }
    // Start CPUs 1-3 on the storm job; they wait for GO.
    READY.store(0, Ordering::SeqCst);
    GO.store(false, Ordering::SeqCst);
    JOB.store(JOB_STORM, Ordering::SeqCst);
    let entry = host_secondary_entry as *const () as u64;
    for cpu in 1..MAX_CPUS as u64 {
        SECONDARY_RESULT[cpu as usize].store(0, Ordering::SeqCst);
        let r = psci::cpu_on(cpu, entry, cpu);
        ensure!(r == 0, "CPU_ON({cpu}) = {r:#x}");
    }
    let secondaries = MAX_CPUS as u32 - 1;
    ensure!(
        wait_for(10, || READY.load(Ordering::SeqCst) == secondaries),
        "only {} of {secondaries} CPUs ready within 10 s of CPU_ON",
        READY.load(Ordering::SeqCst)
    );
    let (start, freq) = counter();
    GO.store(true, Ordering::SeqCst);
    let mine = run_ops(0);
    for (cpu, result) in SECONDARY_RESULT.iter().enumerate().skip(1) {
        ensure!(
            wait_for(STORM_TIMEOUT_SECS, || result.load(Ordering::SeqCst) != 0),
            "cpu {cpu} did not finish its {OPS_PER_CPU} operations within {STORM_TIMEOUT_SECS} s (hung in Warden?)"
        );
    }
    let millis = counter().0.wrapping_sub(start) * 1000 / freq;
    if let Some(m) = first_bad() {
        return Err(m);
    }
    ensure!(
        mine && (1..MAX_CPUS).all(|cpu| SECONDARY_RESULT[cpu].load(Ordering::SeqCst) == 1),
        "a CPU reported a failure without recording it"
    );
    for cpu in 1..MAX_CPUS as u64 {
        release_and_wait_off(cpu)?;
    }
    JOB.store(super::JOB_PING, Ordering::SeqCst);
    let mut totals = [0u32; OPS];
    for per_cpu in &SUCCESSES {
        for (t, n) in totals.iter_mut().zip(per_cpu) {
            *t += n.load(Ordering::SeqCst);
        }
    }
    crate::println!(
        "host: storm: {} CPUs x {OPS_PER_CPU} ops in {millis} ms; successes: DELEGATE {} UNDELEGATE {} \
         REALM_CREATE {} REALM_DESTROY {} RTT_CREATE {} RTT_DESTROY {} DATA_CREATE {} DATA_CREATE_UNKNOWN {} \
         DATA_DESTROY {}",
        MAX_CPUS,
        totals[0],
        totals[1],
        totals[2],
        totals[3],
        totals[4],
        totals[5],
        totals[6],
        totals[7],
        totals[8]
    );

    // The storm reached every transition, not just error paths.
    for (op, n) in totals.iter().enumerate() {
        c.that(
            format_args!("no {} succeeded during the storm", OP_NAMES[op]),
            *n > 0,
        )?;
    }
    // 1. The GPT and Warden agree: NS-readable <=> DELEGATE succeeds (it was UNDELEGATED).
    let mut rmi = rmi();
    let mut undelegated = 0;
    for i in 0..POOL_GRANULES {
        let pa = POOL + i * nsmem::GRANULE;
        let read = probe_read(pa);
        let delegate = rmi.granule_delegate(pa);
        c.that(
            format_args!(
                "after the storm, granule {pa:#x}: NS read {read:x?} but GRANULE_DELEGATE {delegate:?}"
            ),
            match read {
                Ok(_) => delegate.is_ok(),
                Err(f) => f.is_gpf() && delegate == Err(INPUT),
            },
        )?;
        undelegated += u32::from(read.is_ok());
    }
    // 2. Tear down every Realm left over (REC_AUX_COUNT succeeds only on an RD).
    let (mut realms, mut tables, mut data) = (0, 0, 0);
    for i in 0..POOL_GRANULES {
        let rd = POOL + i * nsmem::GRANULE;
        if rmi.rec_aux_count(rd).is_err() {
            continue;
        }
        for page in 0..DATA_PAGES {
            let ipa = IPA + page * nsmem::GRANULE;
            match rmi.data_destroy(rd, ipa) {
                Ok((pa, _)) => {
                    c.that(
                        format_args!("DATA_DESTROY({rd:#x}, {ipa:#x}) returned {pa:#x}"),
                        in_pool(pa),
                    )?;
                    data += 1;
                }
                Err(e) => c.that(
                    format_args!("cleanup DATA_DESTROY({rd:#x}, {ipa:#x}) = {e:?}"),
                    allowed(DATA_DESTROY, e) && e != INPUT,
                )?,
            }
        }
        for (ipa, level) in [(IPA, 3), (IPA_L2, 2)] {
            match rmi.rtt_destroy(rd, ipa, level) {
                Ok((pa, _)) => {
                    c.that(
                        format_args!("RTT_DESTROY({rd:#x}, {ipa:#x}, {level}) returned {pa:#x}"),
                        in_pool(pa),
                    )?;
                    tables += 1;
                }
                Err(e) => c.that(
                    format_args!("cleanup RTT_DESTROY({rd:#x}, {ipa:#x}, {level}) = {e:?}"),
                    allowed(RTT_DESTROY, e) && e != INPUT,
                )?,
            }
        }
        c.ok(
            format_args!("cleanup REALM_DESTROY({rd:#x}) after its tables and data"),
            rmi.realm_destroy(rd),
        )?;
        realms += 1;
    }
    // 3. Every granule is DELEGATED now: each undelegates and reads back zero (scrubbed, no GPF).
    let pool: [u64; POOL_GRANULES as usize] =
        core::array::from_fn(|i| POOL + i as u64 * nsmem::GRANULE);
    c.undelegate_and_read_zero(&pool)?;
    c.still_serving(format_args!("the storm"))?;
    let ops: u32 = totals.iter().sum();
    Ok(msg!(
        "{MAX_CPUS} CPUs x {OPS_PER_CPU} random ops over {POOL_GRANULES} granules in {millis} ms, {ops} succeeded \
         (REALM_CREATE {}, RTT_CREATE {}, DATA_CREATE(_UNKNOWN) {}, DATA_DESTROY {}), every answer valid; \
         after: GPT = granule state for {POOL_GRANULES}/{POOL_GRANULES} ({undelegated} undelegated), \
         {realms} Realms torn down ({tables} RTTs, {data} DATA), all undelegated and read back zero",
        totals[REALM_CREATE],
        totals[RTT_CREATE],
        totals[DATA_CREATE] + totals[DATA_CREATE_UNKNOWN],
        totals[DATA_DESTROY]
    ))
}
