//! Faults, on QEMU (issue 10, part 4): addresses no Host may pass, and a Realm that faults.
//!
//! Owns the `faults` scenario. `bad-input` (with `bad_realm.rs`) already covers DELEGATE of a few
//! bad addresses, REALM_CREATE's `params_ptr` and RD, the RD/RTT commands' RD and levels and
//! DATA_CREATE's `src`; this scenario covers every other command that takes an address, with one
//! list of addresses ([`BAD`](super::checks::BAD): MMIO, Secure, Root, Realm, beyond DRAM and the PA space, misaligned):
//! GRANULE_DELEGATE/UNDELEGATE, REC_CREATE (`rec`, `params_ptr`), RTT_CREATE (`rtt`), DATA_CREATE
//! and DATA_CREATE_UNKNOWN (`data`), REC_ENTER (`rec`, `run_ptr`), REC_DESTROY and PSCI_COMPLETE.
//! Each must fail with RMI_ERROR_INPUT and Warden must answer RMI_VERSION right after; a positive
//! control with the same arguments but the bad one then succeeds.
//!
//! Then the payload Realm runs, taking every fault a Realm can take on purpose (`payload.rs`):
//! an unprotected access without a syndrome (exit; the Host answers with an SEA), a protected RAM
//! IPA without a DATA granule (exit; the Host adds one), loads from EMPTY memory and from beyond
//! its IPA space and instruction fetches from EMPTY and unprotected memory (an SEA, no exit), HVC
//! (an Undefined Instruction, no exit), an unknown SMC (SMC_UNKNOWN). The payload checks each
//! exception's syndrome and address and that its registers survived; Warden keeps serving.

use super::checks::*;
use super::confidentiality::{common, guarded};
use super::secret_realm::{ExitKind, Layout, Opts, Rig, Second};
use super::{Msg, Outcome, rmi};
use crate::nsmem;

/// A NEW Realm (Z) on the layout's spares, for the commands that need one; its REC's auxiliary
/// granules are spares 8 to 15 (at most 8).
const fn z(l: Layout) -> Second {
    Second {
        l,
        vmid: 97,
        name: "Realm Z",
    }
}

/// Auxiliary granule `i` (< 8) of Realm Z's REC.
const fn z_aux(l: Layout, i: u64) -> u64 {
    l.spare(8 + i)
}

const FAULTS: Layout = Layout {
    base: 0x8A50_0000,
    vmid: 96,
};

/// `faults`.
pub fn faults() -> Outcome {
    let l = FAULTS;
    guarded(l, reclaim_z, |c, rig| {
        let mut rmi = rmi();
        let ns = l.src();
        // GRANULE_DELEGATE / GRANULE_UNDELEGATE.
        for (what, pa) in BAD.into_iter().chain([("misaligned", ns + 8)]) {
            c.rejected(
                format_args!("GRANULE_DELEGATE({pa:#x}) [{what}]"),
                rmi.granule_delegate(pa),
                INPUT,
            )?;
            c.rejected(
                format_args!("GRANULE_UNDELEGATE({pa:#x}) [{what}]"),
                rmi.granule_undelegate(pa),
                INPUT,
            )?;
        }
        let granule_calls = c.rejected;
        let new_realm = new_realm_commands(c, rig)?;
        let active = active_realm_commands(c, rig)?;
        // The Realm runs and faults.
        let rep = rig.run(c, &Opts::default())?;
        let p = common(&rep)?;
        c.that(
            format_args!(
                "the Realm's data aborts reached the Host: {} unprotected (ISV 0), {} protected",
                rep.count(ExitKind::UnprotectedAbort),
                rep.count(ExitKind::ProtectedAbort)
            ),
            rep.count(ExitKind::UnprotectedAbort) == 1 && rep.count(ExitKind::ProtectedAbort) == 1,
        )?;
        c.still_serving(format_args!("the Realm's faults"))?;
        rig.teardown(c)?;
        Ok(msg!(
            "{} bad addresses (MMIO, Secure, Root, Realm, beyond DRAM/PA, misaligned) -> RMI_ERROR_INPUT, Warden serving after each: {granule_calls} (UN)DELEGATE, {new_realm} REC_CREATE/RTT_CREATE/DATA_CREATE(_UNKNOWN) on a NEW Realm, {active} REC_ENTER/REC_DESTROY/PSCI_COMPLETE; positive controls OK; the Realm took {} SEA/UNDEF without exit and 2 abort exits, syndromes as specified, registers intact; {} checks",
            c.rejected,
            p[4],
            c.passed
        ))
    })
}

/// After a failed `faults`: Realm Z (spares 1 to 15), best effort.
fn reclaim_z(l: Layout) {
    z(l).reclaim(15);
}

/// REC_CREATE, RTT_CREATE, DATA_CREATE(_UNKNOWN) with bad addresses on a NEW Realm; returns the
/// number of rejected calls. Leaves nothing of the NEW Realm behind.
fn new_realm_commands(c: &mut Checks, rig: &Rig) -> Result<u32, Msg> {
    let l = rig.l;
    let z = z(l);
    let mut rmi = rmi();
    let before = c.rejected;
    let aux = rig.aux;
    let delegated: [u64; 15] = core::array::from_fn(|i| l.spare(1 + i as u64));
    let delegated = &delegated[..7 + aux as usize];
    c.fill_and_delegate(delegated)?;
    // Its parameters (and below its REC's) in exit-record slots, free until the payload runs.
    z.create(c, l.copy(60))?;
    // RTT_CREATE: bad `rtt`; the positive control is the level-2 RTT_CREATE that follows.
    for (what, pa) in BAD.into_iter().chain([("misaligned", z.l2() + 8)]) {
        c.rejected(
            format_args!("RTT_CREATE(rtt {pa:#x} [{what}])"),
            rmi.rtt_create(z.rd(), pa, IPA_L2, 2),
            INPUT,
        )?;
    }
    z.create_rtts(c)?;
    // DATA_CREATE / DATA_CREATE_UNKNOWN: bad `data` (valid NS src).
    nsmem::fill_pattern(l.src());
    for (what, pa) in BAD.into_iter().chain([("misaligned", z.data() + 8)]) {
        c.rejected(
            format_args!("DATA_CREATE(data {pa:#x} [{what}])"),
            rmi.data_create(z.rd(), pa, IPA, l.src(), 1),
            INPUT,
        )?;
        c.rejected(
            format_args!("DATA_CREATE_UNKNOWN(data {pa:#x} [{what}])"),
            rmi.data_create_unknown(z.rd(), pa, IPA),
            INPUT,
        )?;
    }
    c.ok(
        format_args!("DATA_CREATE after the bad ones"),
        rmi.data_create(z.rd(), z.data(), IPA, l.src(), 1),
    )?;
    // REC_CREATE: bad `params_ptr`, then bad `rec`.
    let p = l.copy(62);
    nsmem::write_rec_params(p, false, 0, IPA, aux, |i| z_aux(l, i));
    for (what, pa) in BAD.into_iter().chain([
        ("misaligned", p + 8),
        ("a DELEGATED granule", z.rec()),
        ("Realm Z's DATA granule", z.data()),
    ]) {
        c.rejected(
            format_args!("REC_CREATE(params_ptr {pa:#x} [{what}])"),
            rmi.rec_create(z.rd(), z.rec(), pa),
            INPUT,
        )?;
    }
    for (what, pa) in BAD.into_iter().chain([
        ("misaligned", z.rec() + 8),
        ("an RTT", z.l3()),
        ("a DATA granule", z.data()),
    ]) {
        c.rejected(
            format_args!("REC_CREATE(rec {pa:#x} [{what}])"),
            rmi.rec_create(z.rd(), pa, p),
            INPUT,
        )?;
    }
    c.ok(
        format_args!("REC_CREATE after the bad ones"),
        rmi.rec_create(z.rd(), z.rec(), p),
    )?;
    // Realm Z goes.
    c.ok(
        format_args!("REC_DESTROY (Realm Z)"),
        rmi.rec_destroy(z.rec()),
    )?;
    c.eq(
        format_args!("DATA_DESTROY (Realm Z)"),
        rmi.data_destroy(z.rd(), IPA).map(|(pa, _)| pa),
        Ok(z.data()),
    )?;
    z.destroy(c)?;
    c.undelegate_and_read_zero(delegated)?;
    Ok(c.rejected - before)
}

/// REC_ENTER, REC_DESTROY and PSCI_COMPLETE with bad addresses, on the active payload Realm before
/// it first runs; returns the number of rejected calls.
fn active_realm_commands(c: &mut Checks, rig: &Rig) -> Result<u32, Msg> {
    let l = rig.l;
    let mut rmi = rmi();
    let before = c.rejected;
    for (what, pa) in BAD.into_iter().chain([("misaligned", l.run(0) + 8)]) {
        c.rejected(
            format_args!("REC_ENTER(run_ptr {pa:#x} [{what}])"),
            rmi.rec_enter(l.rec(0), pa),
            INPUT,
        )?;
    }
    for (what, pa) in BAD.into_iter().chain([
        ("misaligned", l.rec(0) + 8),
        ("the RD", l.rd()),
        ("a DATA granule", l.data(2)),
    ]) {
        c.rejected(
            format_args!("REC_ENTER(rec {pa:#x} [{what}])"),
            rmi.rec_enter(pa, l.run(0)),
            INPUT,
        )?;
        c.rejected(
            format_args!("REC_DESTROY({pa:#x} [{what}])"),
            rmi.rec_destroy(pa),
            INPUT,
        )?;
        c.rejected(
            format_args!("PSCI_COMPLETE(calling {pa:#x} [{what}])"),
            rmi.psci_complete(pa, l.rec(1), 0),
            INPUT,
        )?;
        c.rejected(
            format_args!("PSCI_COMPLETE(target {pa:#x} [{what}])"),
            rmi.psci_complete(l.rec(0), pa, 0),
            INPUT,
        )?;
    }
    Ok(c.rejected - before)
}
