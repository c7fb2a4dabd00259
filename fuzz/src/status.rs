//! The statuses and outputs each RMI command may return, per DEN0137 1.0-rel0
//! (`shared/spec/rmm-1.0-abi.md` §1.2 outputs, §3 status codes, §6.3 failure conditions).
//!
//! Owns [`allowed`] (the per-FID table) and [`check`], which every target applies to every
//! result: X0 must be `SMC_UNKNOWN` exactly for FIDs that are not RMI 1.0 commands; otherwise a
//! status the command lists (RMI_ERROR_RTT only with an index naming a level 0–3, since Warden
//! offers no LPA2; RMI_ERROR_REALM with index 0, or 0/1 for REC_ENTER), and every output register
//! the command does not define for that outcome zero ("outputs not defined MBZ", §1.1). Derived
//! from the spec text, never from Warden's code.

use warden_abi::fid::RmiCommand;
use warden_abi::status::{RmiStatus, RmiStatusCode};
use warden_abi::SMC_UNKNOWN;

/// The outcomes one command may have.
#[derive(Clone, Copy, Debug)]
pub struct Allowed {
    /// RMI_ERROR_INPUT.
    pub input: bool,
    /// RMI_ERROR_REALM with these indices (empty: never).
    pub realm: &'static [u8],
    /// RMI_ERROR_REC.
    pub rec: bool,
    /// RMI_ERROR_RTT (index: an RTT level).
    pub rtt: bool,
    /// Outputs X1… defined on success (a bit per register, bit 0 = X1).
    pub success_outputs: u8,
    /// Outputs defined on RMI_ERROR_RTT (same encoding).
    pub rtt_outputs: u8,
    /// Outputs defined on RMI_ERROR_INPUT (same encoding).
    pub input_outputs: u8,
}

const NONE: Allowed =
    Allowed { input: true, realm: &[], rec: false, rtt: false, success_outputs: 0, rtt_outputs: 0, input_outputs: 0 };

/// X1 (bit 0), X2 (bit 1), X3, X4.
const X1: u8 = 1;
const X2: u8 = 2;
const X3: u8 = 4;
const X4: u8 = 8;

/// The table: the failure conditions of §6.3 give the statuses, §1.2 the outputs.
pub const fn allowed(cmd: RmiCommand) -> Allowed {
    use RmiCommand::*;
    match cmd {
        // §6.3: no failure conditions; a version mismatch reports RMI_ERROR_INPUT with lower/higher.
        Version => Allowed { success_outputs: X1 | X2, input_outputs: X1 | X2, ..NONE },
        Features => Allowed { input: false, success_outputs: X1, ..NONE },
        GranuleDelegate | GranuleUndelegate | RealmCreate | RecAuxCount | RttReadEntry | PsciComplete => Allowed {
            success_outputs: match cmd {
                RecAuxCount => X1,
                RttReadEntry => X1 | X2 | X3 | X4,
                _ => 0,
            },
            ..NONE
        },
        DataCreate => Allowed { realm: &[0], rtt: true, ..NONE },
        DataCreateUnknown | RttCreate | RttMapUnprotected => Allowed { rtt: true, ..NONE },
        // X1 data/rtt on success only; X2 top on success and RMI_ERROR_RTT.
        DataDestroy | RttDestroy => Allowed { rtt: true, success_outputs: X1 | X2, rtt_outputs: X2, ..NONE },
        RttUnmapUnprotected => Allowed { rtt: true, success_outputs: X1, rtt_outputs: X1, ..NONE },
        RttFold => Allowed { rtt: true, success_outputs: X1, ..NONE },
        RealmActivate | RealmDestroy | RecCreate => Allowed { realm: &[0], ..NONE },
        RecDestroy => Allowed { rec: true, ..NONE },
        // realm_new → (REALM, 0), system_off → (REALM, 1); rec_* → REC.
        RecEnter => Allowed { realm: &[0, 1], rec: true, ..NONE },
        RttInitRipas => Allowed { realm: &[0], rtt: true, success_outputs: X1, ..NONE },
        RttSetRipas => Allowed { rec: true, rtt: true, success_outputs: X1, ..NONE },
    }
}

/// Checks the result `x` (X0–X4) of a call with FID `fid` and arguments `args` (X1…): `Err` with
/// why it is not one the spec allows.
pub fn check(fid: u64, args: &[u64], x: &[u64; 5]) -> Result<(), String> {
    let Some(cmd) = RmiCommand::from_fid(fid) else {
        return if x[0] == SMC_UNKNOWN { Ok(()) } else { Err(format!("FID {fid:#x} is no RMI 1.0 command but X0 = {:#x}", x[0])) };
    };
    let a = allowed(cmd);
    let name = cmd.name();
    let Some(status) = RmiStatus::from_x0(x[0]) else {
        return Err(format!("{name}: X0 = {:#x} is not an RMI 1.0 status", x[0]));
    };
    let defined = match status.code {
        RmiStatusCode::Success if status.index == 0 => a.success_outputs,
        RmiStatusCode::ErrorInput if a.input && status.index == 0 => a.input_outputs,
        RmiStatusCode::ErrorRealm if a.realm.contains(&status.index) => 0,
        RmiStatusCode::ErrorRec if a.rec && status.index == 0 => 0,
        RmiStatusCode::ErrorRtt if a.rtt && status.index <= 3 => a.rtt_outputs,
        _ => return Err(format!("{name}: status {status:?} (X0 = {:#x}) is not one the spec allows", x[0])),
    };
    for (i, &v) in x[1..].iter().enumerate() {
        if defined & (1 << i) == 0 && v != 0 {
            return Err(format!("{name}: {status:?} leaves X{} = {v:#x}, an output it does not define (MBZ)", i + 1));
        }
    }
    let arg = |i: usize| args.get(i).copied().unwrap_or(0);
    if status.is_success() {
        match cmd {
            // X1 walk_level ≤ level; X2 state (UNASSIGNED/ASSIGNED/TABLE), X4 RIPAS: 8 bits, bits 63:8 MBZ.
            RmiCommand::RttReadEntry if x[1] > 3 || x[1] as i64 > arg(2) as i64 || x[2] > 2 || x[4] > 2 => {
                return Err(format!("RMI_RTT_READ_ENTRY({args:x?}) returned {x:x?}: walk level, state or RIPAS out of range"));
            }
            RmiCommand::Features if arg(0) != 0 && x[1] != 0 => {
                return Err(format!("RMI_FEATURES({:#x}) returned {:#x}: index != 0 reads as 0", arg(0), x[1]));
            }
            RmiCommand::RecAuxCount if x[1] > 16 => return Err(format!("RMI_REC_AUX_COUNT = {} > 16", x[1])),
            _ => {}
        }
    }
    Ok(())
}

/// "ok", "INPUT", "REALM(i)", "REC", "RTT(l)" or "UNKNOWN": a short name of a result (signatures).
pub fn kind(x0: u64) -> String {
    match RmiStatus::from_x0(x0) {
        None => "UNKNOWN".into(),
        Some(s) => match s.code {
            RmiStatusCode::Success => "ok".into(),
            RmiStatusCode::ErrorInput => "INPUT".into(),
            RmiStatusCode::ErrorRealm => format!("REALM({})", s.index),
            RmiStatusCode::ErrorRec => "REC".into(),
            RmiStatusCode::ErrorRtt => format!("RTT({})", s.index),
        },
    }
}

#[cfg(test)]
mod tests {
    use warden_abi::fid::rmi;

    use super::*;

    #[test]
    fn the_table_accepts_what_the_spec_lists_and_refuses_the_rest() {
        assert!(check(rmi::DATA_DESTROY, &[], &[0x304, 0, 0x4000, 0, 0]).is_ok());
        assert!(check(rmi::DATA_DESTROY, &[], &[0x304, 0x8000_0000, 0x4000, 0, 0]).is_err(), "X1 is success-only");
        assert!(check(rmi::DATA_DESTROY, &[], &[0x404, 0, 0, 0, 0]).is_err(), "no level 4");
        assert!(check(rmi::REC_ENTER, &[], &[0x102, 0, 0, 0, 0]).is_ok());
        assert!(check(rmi::REALM_ACTIVATE, &[], &[0x102, 0, 0, 0, 0]).is_err());
        assert!(check(rmi::GRANULE_DELEGATE, &[], &[4, 0, 0, 0, 0]).is_err());
        assert!(check(rmi::GRANULE_DELEGATE, &[], &[5, 0, 0, 0, 0]).is_err(), "status 5 is not 1.0");
        assert!(check(0xC400_0156, &[], &[SMC_UNKNOWN, 0, 0, 0, 0]).is_ok());
        assert!(check(0xC400_0156, &[], &[1, 0, 0, 0, 0]).is_err());
        assert!(check(rmi::VERSION | (1 << 16), &[], &[1, 0x10000, 0x10000, 0, 0]).is_ok());
        assert!(check(rmi::RTT_READ_ENTRY, &[0, 0, 2], &[0, 3, 0, 0, 0]).is_err(), "walk level below the target");
    }
}
