//! Confidentiality of a Realm against its Host, on QEMU with the GPC doing the work (issue 10,
//! part 2). Each scenario builds the payload Realm of `secret_realm.rs` in its own NS region,
//! runs it and tears it down; a failure reclaims everything ([`guarded`]).
//!
//! * `realm-probe` — while REC 0 runs on CPU 0 (spinning with secrets in its registers, its RAM
//!   full of secrets), CPU 1 reads and writes every DATA, RTT, REC, REC_AUX and RD granule of the
//!   Realm through the NS PAS, four rounds; CPU 0 does the same after every exit. Every access must
//!   take a granule protection fault at its address (counted), none may return data, the Realm
//!   must have run meanwhile (its spin counter moved), and the payload then finds its RAM unchanged.
//! * `no-residue` — after the Realm ran to SYSTEM_OFF, the Host destroys it and undelegates every
//!   granule; then it scans every undelegated granule, every `RmiRecExit` it received (kept
//!   copies), its run and shared pages and Warden's trace drained after the run: no secret word
//!   anywhere. The run loop also checks the Host's own registers after every REC_ENTER.
//! * `host-buffers` — while the Realm is live, RMI calls that name one of its granules (DATA full
//!   of secrets, RD, RTT, REC, REC_AUX) as a Host buffer — `params_ptr` of REALM_CREATE and
//!   REC_CREATE, `src` of DATA_CREATE (into a second, NEW Realm), `run_ptr` of REC_ENTER — fail
//!   with RMI_ERROR_INPUT, Warden keeps serving, the targets stay DELEGATED and read back zero, and
//!   the payload finds its RAM and registers unchanged.
//! * `exit-hygiene` — every exit of the run (host call, MMIO write of 8/32/64 bits, MMIO read,
//!   WFI, RIPAS change, PSCI CPU_ON/CPU_OFF/SYSTEM_OFF, IRQ, the two data aborts) checked field by
//!   field against what the spec lets the Host see; reserved words untouched.

use super::checks::*;
use super::payload;
use super::secret_realm::{
    EXIT_KINDS, ExitKind, Kind, Layout, Opts, PROBE_ROUNDS, Report, Rig, Second, prober_abort,
    prober_result, prober_setup, reclaim, scan_copies, scan_ns,
};
use super::{
    JOB, JOB_PING, JOB_PROBE, Msg, Outcome, SECONDARY_RESULT, release_and_wait_off, rmi, wait_for,
};
use crate::entry::host_secondary_entry;
use crate::text::Text;
use crate::{psci, trace};

use core::sync::atomic::Ordering;

use warden_abi::status::PsciAffinityState;

/// Builds the payload Realm at `l`, runs `body` on it; if anything fails, reclaims every granule
/// of the layout (and whatever `cleanup` names) so that the next scenario starts clean.
pub(super) fn guarded(
    l: Layout,
    cleanup: fn(Layout),
    body: impl FnOnce(&mut Checks, &mut Rig) -> Outcome,
) -> Outcome {
    let mut c = Checks::new();
    let r = Rig::build(&mut c, l).and_then(|mut rig| body(&mut c, &mut rig));
    if let Err(m) = r {
        cleanup(l);
        let left = reclaim(l);
        let mut m2 = m;
        if left > 0 {
            let _ = core::fmt::Write::write_fmt(
                &mut m2,
                format_args!(" [{left} granules could not be reclaimed]"),
            );
        }
        return Err(m2);
    }
    r
}

/// No extra cleanup.
pub(super) fn nothing(_: Layout) {}

/// The Realm's granules per kind, for the summaries.
fn kinds(rig: &Rig) -> Text<96> {
    let g = rig.granules();
    let mut t = Text::<96>::new();
    let _ = core::fmt::Write::write_fmt(
        &mut t,
        format_args!(
            "{} DATA, {} RTT, {} REC, {} REC_AUX, {} RD",
            g.count(Kind::Data),
            g.count(Kind::Rtt),
            g.count(Kind::Rec),
            g.count(Kind::RecAux),
            g.count(Kind::Rd)
        ),
    );
    t
}

/// Common verdicts of a run: the payload's own checks, no secret seen by the Host, the Host's
/// registers given back.
pub(super) fn common(rep: &Report) -> Result<[u64; 8], Msg> {
    if let Some(m) = &rep.leak {
        return Err(msg!("LEAK: {}", m.as_str()));
    }
    if let Some(m) = &rep.host_state {
        return Err(msg!("{}", m.as_str()));
    }
    rep.payload_verdict()
}

/// `realm-probe`.
pub fn realm_probe() -> Outcome {
    let l = Layout {
        base: 0x8A00_0000,
        vmid: 90,
    };
    guarded(
        l,
        |_| {
            let _ = stop_prober();
        },
        |c, rig| {
            prober_setup(rig);
            SECONDARY_RESULT[1].store(0, Ordering::SeqCst);
            JOB.store(JOB_PROBE, Ordering::SeqCst);
            let r = psci::cpu_on(1, host_secondary_entry as *const () as u64, 1);
            ensure!(r == 0, "CPU_ON(1) = {r:#x}");
            let opts = Opts {
                probe_exits: true,
                remote_prober: true,
                at_first_checkpoint: None,
            };
            let rep = rig.run(c, &opts)?;
            stop_prober()?;
            let Some(remote) = prober_result() else {
                return Err(msg!(
                    "cpu 1 never probed the Realm (the payload's spin was not reached?)"
                ));
            };
            remote.probes.verdict("while the Realm ran")?;
            ensure!(
                remote.rounds == PROBE_ROUNDS && remote.counter.1 > remote.counter.0,
                "the Realm's spin counter moved after {} of {PROBE_ROUNDS} probe rounds ({} -> {}): it was not running",
                remote.rounds,
                remote.counter.0,
                remote.counter.1
            );
            rep.probes.verdict("between exits")?;
            common(&rep)?;
            rig.teardown(c)?;
            Ok(msg!(
                "cpu 1 read+wrote the {} granules ({}) of the Realm running on cpu 0, {} rounds (its spin counter {} -> {}): {}/{} accesses took a GPF; cpu 0 between {} exits: {}/{}; no data returned, payload RAM and registers intact; {} checks",
                remote.granules,
                kinds(rig).as_str(),
                remote.rounds,
                remote.counter.0,
                remote.counter.1,
                remote.probes.gpfs,
                remote.probes.accesses,
                rep.exits,
                rep.probes.gpfs,
                rep.probes.accesses,
                c.passed
            ))
        },
    )
}

/// Stops `realm-probe`'s CPU 1 (it may still be waiting for the spin) and waits until it is OFF.
fn stop_prober() -> Result<(), Msg> {
    prober_abort();
    let reported = wait_for(10, || SECONDARY_RESULT[1].load(Ordering::SeqCst) != 0);
    JOB.store(JOB_PING, Ordering::SeqCst);
    if psci::affinity_info(1) == PsciAffinityState::On.to_x0() {
        ensure!(reported, "cpu 1 (the prober) did not report within 10 s");
        release_and_wait_off(1)?;
    }
    ensure!(
        SECONDARY_RESULT[1].load(Ordering::SeqCst) == 1,
        "cpu 1 (the prober) never saw the Realm's spin counter move"
    );
    Ok(())
}

/// `no-residue`.
pub fn no_residue() -> Outcome {
    let l = Layout {
        base: 0x8A10_0000,
        vmid: 91,
    };
    guarded(l, nothing, |c, rig| {
        let rep = rig.run(c, &Opts::default())?;
        common(&rep)?;
        let granule_words = rig.teardown(c)?;
        let copy_words = scan_copies(l, rep.copies)?;
        for (what, pa) in [
            ("REC 0's run page", l.run(0)),
            ("REC 1's run page", l.run(1)),
            ("the shared page", l.shared()),
        ] {
            if let Some((off, v)) = scan_ns(pa, 0x1000, true) {
                return Err(msg!(
                    "LEAK: {what} {pa:#x}: word +{off:#x} = {v:#x} is a Realm secret"
                ));
            }
        }
        // Warden's trace of the run (a `trace` build): drained now, scanned for the full tag.
        let traced = match trace::dump("no-residue-realm") {
            trace::Dump::Written(bytes) => {
                if let Some((off, v)) = scan_ns(trace::AREA, bytes, false) {
                    return Err(msg!(
                        "LEAK: Warden's trace, byte {off:#x}: {v:#x} is a Realm secret"
                    ));
                }
                bytes
            }
            trace::Dump::NotTraced => 0,
            trace::Dump::Failed(why) => return Err(msg!("draining Warden's trace: {why}")),
        };
        Ok(msg!(
            "secrets in {} RAM granules, X0-X30, SP_EL0, Q0-Q31, 15 EL1/EL0 registers; {} exits; after teardown none in {} undelegated granules ({granule_words} words), {} kept exit records ({copy_words} words), run/shared pages, {traced} trace bytes, nor in the Host's registers after any REC_ENTER ({} compared); {} checks",
            payload::DATA_PAGES - payload::CODE_PAGES + 1,
            rep.exits,
            rig.granules().all().len() + 1,
            rep.copies,
            rep.host_regs,
            c.passed
        ))
    })
}

/// `exit-hygiene`.
pub fn exit_hygiene() -> Outcome {
    let l = Layout {
        base: 0x8A30_0000,
        vmid: 94,
    };
    guarded(l, nothing, |c, rig| {
        let rep = rig.run(c, &Opts::default())?;
        if let Some(m) = &rep.hygiene {
            return Err(msg!("{}", m.as_str()));
        }
        common(&rep)?;
        let mut counts = Text::<320>::new();
        for (kind, name) in EXIT_KINDS {
            let n = rep.count(kind);
            ensure!(n > 0, "the run produced no {name} exit");
            let _ = core::fmt::Write::write_fmt(&mut counts, format_args!("{name} {n}, "));
        }
        ensure!(
            rep.count(ExitKind::MmioWrite) == 3 && rep.count(ExitKind::MmioRead) == 2,
            "MMIO exits: {} writes, {} reads, want 3 and 2",
            rep.count(ExitKind::MmioWrite),
            rep.count(ExitKind::MmioRead)
        );
        rig.teardown(c)?;
        Ok(msg!(
            "{} exits ({}) checked field by field: {} exact fields, esr within the spec's masks, {} reserved words untouched, no secret; {} checks",
            rep.exits,
            counts.as_str().trim_end_matches(", "),
            rep.fields,
            rep.reserved,
            c.passed
        ))
    })
}

/// `host-buffers`: the second (NEW) Realm, on the layout's spares.
const fn second(l: Layout) -> Second {
    Second {
        l,
        vmid: 93,
        name: "the second Realm",
    }
}

/// `host-buffers`' other spares: a DELEGATED granule offered as the RD of REALM_CREATE (spare 8),
/// the second Realm's params page (NS, spare 9).
const fn new_rd(l: Layout) -> u64 {
    l.spare(8)
}
const fn second_params(l: Layout) -> u64 {
    l.spare(9)
}
/// Spares 1 to 8 are delegated.
const DELEGATED: u64 = 8;

const HOST_BUFFERS: Layout = Layout {
    base: 0x8A20_0000,
    vmid: 92,
};

/// How many calls `host-buffers` made with Realm memory as a buffer.
static BUFFER_CALLS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// `host-buffers`.
pub fn host_buffers() -> Outcome {
    let l = HOST_BUFFERS;
    BUFFER_CALLS.store(0, Ordering::SeqCst);
    guarded(l, reclaim_second, |c, rig| {
        let opts = Opts {
            at_first_checkpoint: Some(realm_memory_as_buffers),
            ..Opts::default()
        };
        let rep = rig.run(c, &opts)?;
        common(&rep)?;
        rig.teardown(c)?;
        Ok(msg!(
            "{} RMI calls naming a live Realm's DATA (secrets), RD, RTT, REC or REC_AUX granule as params_ptr (REALM_CREATE, REC_CREATE), src (DATA_CREATE) or run_ptr (REC_ENTER) -> RMI_ERROR_INPUT, Warden serving after each; targets stayed DELEGATED, read back zero; the Realm ran on, RAM and registers intact; {} checks",
            BUFFER_CALLS.load(Ordering::SeqCst),
            c.passed
        ))
    })
}

/// After a failed `host-buffers`: the second Realm, best effort.
fn reclaim_second(l: Layout) {
    second(l).reclaim(DELEGATED);
}

/// The first checkpoint of `host-buffers`: REC 0 is between exits, its secrets in place.
fn realm_memory_as_buffers(rig: &Rig, c: &mut Checks) -> Result<(), Msg> {
    let l = rig.l;
    let mut rmi = rmi();
    let targets: [(&str, u64); 6] = [
        (
            "a DATA granule full of secrets",
            l.data(payload::RAM / 0x1000),
        ),
        ("the RD", l.rd()),
        ("a level-3 RTT", l.l3()),
        ("REC 0", l.rec(0)),
        ("REC 1", l.rec(1)),
        ("a REC_AUX granule", l.aux(0, 0)),
    ];
    let before = c.rejected;
    let delegated: [u64; DELEGATED as usize] = core::array::from_fn(|i| l.spare(1 + i as u64));
    c.fill_and_delegate(&delegated)?;
    // REALM_CREATE with the Realm's memory as params_ptr.
    for (what, pa) in targets {
        c.rejected(
            format_args!("REALM_CREATE(params_ptr = {what} {pa:#x})"),
            rmi.realm_create(new_rd(l), pa),
            INPUT,
        )?;
    }
    // A NEW Realm for REC_CREATE and DATA_CREATE.
    let second = second(l);
    second.create(c, second_params(l))?;
    second.create_rtts(c)?;
    for (what, pa) in targets {
        c.rejected(
            format_args!("REC_CREATE(params_ptr = {what} {pa:#x})"),
            rmi.rec_create(second.rd(), second.rec(), pa),
            INPUT,
        )?;
        c.rejected(
            format_args!("DATA_CREATE(src = {what} {pa:#x})"),
            rmi.data_create(second.rd(), second.data(), IPA, pa, 1),
            INPUT,
        )?;
    }
    c.eq(
        format_args!("READ_ENTRY({IPA:#x}) of the second Realm after the refused DATA_CREATEs"),
        rmi.rtt_read_entry(second.rd(), IPA, 3),
        Ok(entry(3, UNASSIGNED, 0, EMPTY)),
    )?;
    // REC_ENTER of both RECs with the Realm's memory as run_ptr.
    for rec in [0, 1] {
        for (what, pa) in targets {
            c.rejected(
                format_args!("REC_ENTER(REC {rec}, run_ptr = {what} {pa:#x})"),
                rmi.rec_enter(l.rec(rec), pa),
                INPUT,
            )?;
        }
    }
    // The second Realm goes; every target is still an ordinary DELEGATED granule, never written.
    second.destroy(c)?;
    c.undelegate_and_read_zero(&delegated)?;
    BUFFER_CALLS.store(u64::from(c.rejected - before), Ordering::SeqCst);
    Ok(())
}
