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
use super::secret_realm::{ExitKind, Layout, Opts, Rig};
use super::{Msg, Outcome, rmi};
use crate::nsmem;

use core::mem::offset_of;
use warden_abi::rec_params::RmiRecParams;

/// A NEW Realm (Z) built from the layout's spares, for the commands that need one.
mod z {
    use super::Layout;

    pub const fn rd(l: Layout) -> u64 {
        l.spare(1)
    }
    /// Two concatenated level-1 tables (spares 2 and 3: 8 KiB aligned).
    pub const fn rtt0(l: Layout) -> u64 {
        l.spare(2)
    }
    pub const fn l2(l: Layout) -> u64 {
        l.spare(4)
    }
    pub const fn l3(l: Layout) -> u64 {
        l.spare(5)
    }
    pub const fn data(l: Layout) -> u64 {
        l.spare(6)
    }
    pub const fn rec(l: Layout) -> u64 {
        l.spare(7)
    }
    /// Auxiliary granule `i` (< 8) of its REC.
    pub const fn aux(l: Layout, i: u64) -> u64 {
        l.spare(8 + i)
    }
    /// NS pages: its params, its REC's params, a DATA source.
    pub const fn params(l: Layout) -> u64 {
        l.copy(60)
    }
    pub const fn rec_params(l: Layout) -> u64 {
        l.copy(62)
    }
    pub const VMID: u16 = 97;
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

/// REC_CREATE, RTT_CREATE, DATA_CREATE(_UNKNOWN) with bad addresses on a NEW Realm; returns the
/// number of rejected calls. Leaves nothing of the NEW Realm behind.
fn new_realm_commands(c: &mut Checks, rig: &Rig) -> Result<u32, Msg> {
    let l = rig.l;
    let mut rmi = rmi();
    let before = c.rejected;
    let aux = rig.aux;
    let delegated: [u64; 15] = core::array::from_fn(|i| l.spare(1 + i as u64));
    let delegated = &delegated[..7 + aux as usize];
    c.fill_and_delegate(delegated)?;
    nsmem::write_realm_params(z::params(l), &realm_params(z::rtt0(l), z::VMID));
    c.ok(
        format_args!("REALM_CREATE (Realm Z)"),
        rmi.realm_create(z::rd(l), z::params(l)),
    )?;
    // RTT_CREATE: bad `rtt`.
    for (what, pa) in BAD.into_iter().chain([("misaligned", z::l2(l) + 8)]) {
        c.rejected(
            format_args!("RTT_CREATE(rtt {pa:#x} [{what}])"),
            rmi.rtt_create(z::rd(l), pa, IPA_L2, 2),
            INPUT,
        )?;
    }
    c.ok(
        format_args!("RTT_CREATE L2 after the bad ones"),
        rmi.rtt_create(z::rd(l), z::l2(l), IPA_L2, 2),
    )?;
    c.ok(
        format_args!("RTT_CREATE L3"),
        rmi.rtt_create(z::rd(l), z::l3(l), IPA, 3),
    )?;
    // DATA_CREATE / DATA_CREATE_UNKNOWN: bad `data` (valid NS src).
    nsmem::fill_pattern(l.src());
    for (what, pa) in BAD.into_iter().chain([("misaligned", z::data(l) + 8)]) {
        c.rejected(
            format_args!("DATA_CREATE(data {pa:#x} [{what}])"),
            rmi.data_create(z::rd(l), pa, IPA, l.src(), 1),
            INPUT,
        )?;
        c.rejected(
            format_args!("DATA_CREATE_UNKNOWN(data {pa:#x} [{what}])"),
            rmi.data_create_unknown(z::rd(l), pa, IPA),
            INPUT,
        )?;
    }
    c.ok(
        format_args!("DATA_CREATE after the bad ones"),
        rmi.data_create(z::rd(l), z::data(l), IPA, l.src(), 1),
    )?;
    // REC_CREATE: bad `params_ptr`, then bad `rec`.
    let p = z::rec_params(l);
    nsmem::fill(p, |_| 0);
    nsmem::write_u64(p + offset_of!(RmiRecParams, pc) as u64, IPA);
    nsmem::write_u64(p + offset_of!(RmiRecParams, num_aux) as u64, aux);
    for i in 0..aux {
        nsmem::write_u64(
            p + offset_of!(RmiRecParams, aux) as u64 + 8 * i,
            z::aux(l, i),
        );
    }
    for (what, pa) in BAD.into_iter().chain([
        ("misaligned", p + 8),
        ("a DELEGATED granule", z::rec(l)),
        ("Realm Z's DATA granule", z::data(l)),
    ]) {
        c.rejected(
            format_args!("REC_CREATE(params_ptr {pa:#x} [{what}])"),
            rmi.rec_create(z::rd(l), z::rec(l), pa),
            INPUT,
        )?;
    }
    for (what, pa) in BAD.into_iter().chain([
        ("misaligned", z::rec(l) + 8),
        ("an RTT", z::l3(l)),
        ("a DATA granule", z::data(l)),
    ]) {
        c.rejected(
            format_args!("REC_CREATE(rec {pa:#x} [{what}])"),
            rmi.rec_create(z::rd(l), pa, p),
            INPUT,
        )?;
    }
    c.ok(
        format_args!("REC_CREATE after the bad ones"),
        rmi.rec_create(z::rd(l), z::rec(l), p),
    )?;
    // Realm Z goes.
    c.ok(
        format_args!("REC_DESTROY (Realm Z)"),
        rmi.rec_destroy(z::rec(l)),
    )?;
    c.eq(
        format_args!("DATA_DESTROY (Realm Z)"),
        rmi.data_destroy(z::rd(l), IPA).map(|(pa, _)| pa),
        Ok(z::data(l)),
    )?;
    c.eq(
        format_args!("RTT_DESTROY L3 (Realm Z)"),
        rmi.rtt_destroy(z::rd(l), IPA, 3).map(|(pa, _)| pa),
        Ok(z::l3(l)),
    )?;
    c.eq(
        format_args!("RTT_DESTROY L2 (Realm Z)"),
        rmi.rtt_destroy(z::rd(l), IPA_L2, 2).map(|(pa, _)| pa),
        Ok(z::l2(l)),
    )?;
    c.ok(
        format_args!("REALM_DESTROY (Realm Z)"),
        rmi.realm_destroy(z::rd(l)),
    )?;
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

/// After a failed `faults`: Realm Z, best effort.
fn reclaim_z(l: Layout) {
    let granules: [u64; 15] = core::array::from_fn(|i| l.spare(1 + i as u64));
    let _ = Wreck {
        rd: z::rd(l),
        recs: &[z::rec(l)],
        data: &[IPA],
        unprotected: &[],
        rtts: &[(IPA, 3), (IPA_L2, 2)],
        granules: &granules,
    }
    .reclaim();
}
