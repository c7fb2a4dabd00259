//! Integrity of a Realm against its Host, on QEMU (issue 10, part 3): the Host cannot make a Realm
//! run at an unmeasured state, nor change a REC's PC or registers except where the spec allows.
//!
//! Owns the `integrity` scenario; the payload Realm and the hostile entry behaviour are
//! `secret_realm.rs`'s. Never changes what the run loop does (it only reads its report).
//!
//! What the run shows:
//! * after REALM_ACTIVATE, DATA_CREATE (at the moment the Realm waits for that very page),
//!   REC_CREATE and RTT_INIT_RIPAS fail with RMI_ERROR_REALM; only DATA_CREATE_UNKNOWN (zeroed
//!   memory, no measurement) adds the page;
//! * REC 1, created not runnable, cannot be entered (RMI_ERROR_REC) nor made runnable by
//!   PSCI_COMPLETE without the Realm's CPU_ON (RMI_ERROR_INPUT) — the Host cannot start a REC at a
//!   PC of its choosing;
//! * on every entry the Host writes garbage into `RmiRecEnter.gprs` where they must have no effect,
//!   first tries `emul_mmio` where no emulatable MMIO exit is pending (RMI_ERROR_REC, nothing
//!   written; a stray `emul_mmio` would otherwise advance the PC by 4), then sets `inject_sea`
//!   where it must be ignored; the payload checks after every exit that every register holds what
//!   it must — changed only where the spec allows: Rt of an emulated MMIO read (from `gprs[0]`),
//!   X0–X2 of an RSI result, X0 (and X1–X6) of a PSCI result — that its host-call buffer (not its
//!   registers) received the Host's answer, and that it took no exception it did not cause;
//! * after SYSTEM_OFF, REC_ENTER fails with (RMI_ERROR_REALM, 1).

use super::checks::*;
use super::confidentiality::{common, guarded, nothing};
use super::secret_realm::{Layout, Opts, Rig, status};
use super::{Msg, Outcome, rmi};

use warden_abi::status::RmiStatusCode;

/// `integrity`.
pub fn integrity() -> Outcome {
    let l = Layout {
        base: 0x8A40_0000,
        vmid: 95,
    };
    guarded(l, nothing, |c, rig| {
        let opts = Opts {
            at_first_checkpoint: Some(rec1_not_startable),
            ..Opts::default()
        };
        let rep = rig.run(c, &opts)?;
        let p = common(&rep)?;
        for (what, r) in ["DATA_CREATE", "REC_CREATE", "RTT_INIT_RIPAS"]
            .into_iter()
            .zip(rep.after_activate)
        {
            c.eq(
                format_args!("{what} after REALM_ACTIVATE"),
                r,
                Some(Err(REALM)),
            )?;
        }
        c.that(
            format_args!(
                "hostile entries: {} with garbage gprs, {} stray inject_sea, {} stray emul_mmio refused",
                rep.garbage_entries, rep.stray_sea, rep.stray_mmio
            ),
            rep.garbage_entries >= 10 && rep.stray_sea >= 5 && rep.stray_mmio >= 10,
        )?;
        c.eq(
            format_args!("REC_ENTER after SYSTEM_OFF"),
            rep.after_off,
            Some(Err(status(RmiStatusCode::ErrorRealm, 1))),
        )?;
        rig.teardown(c)?;
        Ok(msg!(
            "DATA_CREATE, REC_CREATE, RTT_INIT_RIPAS after activation -> RMI_ERROR_REALM; REC 1 not startable by the Host; {} entries with garbage gprs, {} stray emul_mmio refused, {} stray inject_sea ignored: over {} exits the payload's registers (X, SP_EL0, Q, EL1) changed only as the spec allows, no stray exception ({} its own); REC_ENTER after SYSTEM_OFF -> (REALM, 1); {} checks",
            rep.garbage_entries,
            rep.stray_mmio,
            rep.stray_sea,
            rep.exits,
            p[4],
            c.passed
        ))
    })
}

/// At the first checkpoint: REC 1 (not runnable) cannot be run by the Host alone.
fn rec1_not_startable(rig: &Rig, c: &mut Checks) -> Result<(), Msg> {
    let l = rig.l;
    let mut rmi = rmi();
    c.rejected(
        format_args!("REC_ENTER of REC 1 before the Realm's CPU_ON"),
        rmi.rec_enter(l.rec(1), l.run(1)),
        crate::rmi::RmiError::code(RmiStatusCode::ErrorRec),
    )?;
    c.rejected(
        format_args!("PSCI_COMPLETE(REC 0, REC 1) without a PSCI request"),
        rmi.psci_complete(l.rec(0), l.rec(1), 0),
        INPUT,
    )
}
