//! The Realm Management Interface: the commands the Host calls, one file per group.
//!
//! Owns the dispatcher ([`Rmm::handle_rmi`]: a `match` on the FID, SVE hint masked, no heap, no
//! dynamic dispatch) and the register-level result type ([`RmiReturn`]). Each command parses its
//! arguments into typed values, checks the spec's failure conditions in the spec's order, then
//! performs its transition in one place. This module must never read Host memory except through
//! the machine's fault-safe copy.

mod data;
mod granule;
mod realm;
mod rec;
mod rec_enter;
mod rtt;
mod version;

use warden_abi::fid::RmiCommand;
use warden_abi::status::RmiStatus;

use crate::platform::Machine;
use crate::rmm::Rmm;

/// What an RMI command leaves in X0–X4 (the most RMI 1.0 returns through EL3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RmiReturn(pub [u64; 5]);

impl RmiReturn {
    /// Success with the given outputs in X1… (the rest zero).
    pub fn ok(outputs: &[u64]) -> Self {
        let mut x = [0u64; 5];
        x[1..=outputs.len()].copy_from_slice(outputs);
        Self(x)
    }

    /// A status with the given outputs in X1….
    pub fn with(status: RmiStatus, outputs: &[u64]) -> Self {
        let mut r = Self::ok(outputs);
        r.0[0] = status.to_x0();
        r
    }

    /// A failure with no outputs.
    pub fn err(status: RmiStatus) -> Self {
        Self::with(status, &[])
    }

    /// The status in X0 (`None` for `SMC_UNKNOWN`).
    pub fn status(&self) -> Option<RmiStatus> {
        RmiStatus::from_x0(self.0[0])
    }
}

impl From<Result<(), RmiStatus>> for RmiReturn {
    fn from(r: Result<(), RmiStatus>) -> Self {
        match r {
            Ok(()) => Self::ok(&[]),
            Err(s) => Self::err(s),
        }
    }
}

impl<M: Machine> Rmm<'_, M> {
    /// Runs one RMI command: `x` holds the Host's X0 (FID) to X7.
    pub fn handle_rmi(&self, x: &[u64; 8]) -> RmiReturn {
        let Some(cmd) = RmiCommand::from_fid(x[0]) else {
            // The trace drain (builds with the `trace` feature), else SMC_UNKNOWN; not traced.
            return crate::trace::implementation_defined(self, x);
        };
        let trace = self.granules.trace();
        let start = trace.start();
        let ret = self.dispatch(cmd, x);
        trace.rmi(start, x[0], x[1], ret.0[0]);
        ret
    }

    #[inline(always)]
    fn dispatch(&self, cmd: RmiCommand, x: &[u64; 8]) -> RmiReturn {
        match cmd {
            RmiCommand::Version => self.rmi_version(x[1]),
            RmiCommand::Features => self.rmi_features(x[1]),
            RmiCommand::GranuleDelegate => self.granule_delegate(x[1]).into(),
            RmiCommand::GranuleUndelegate => self.granule_undelegate(x[1]).into(),
            RmiCommand::RealmCreate => self.realm_create(x[1], x[2]).into(),
            RmiCommand::RealmActivate => self.realm_activate(x[1]).into(),
            RmiCommand::RealmDestroy => self.realm_destroy(x[1]).into(),
            RmiCommand::RecAuxCount => match self.rec_aux_count(x[1]) {
                Ok(n) => RmiReturn::ok(&[n]),
                Err(s) => RmiReturn::err(s),
            },
            RmiCommand::DataCreate => self.data_create(x[1], x[2], x[3], x[4], x[5]).into(),
            RmiCommand::DataCreateUnknown => self.data_create_unknown(x[1], x[2], x[3]).into(),
            RmiCommand::DataDestroy => self.data_destroy(x[1], x[2]),
            RmiCommand::RttCreate => self.rtt_create(x[1], x[2], x[3], x[4]).into(),
            RmiCommand::RttDestroy => self.rtt_destroy(x[1], x[2], x[3]),
            RmiCommand::RttFold => self.rtt_fold(x[1], x[2], x[3]),
            RmiCommand::RttReadEntry => self.rtt_read_entry(x[1], x[2], x[3]),
            RmiCommand::RttMapUnprotected => self.rtt_map_unprotected(x[1], x[2], x[3], x[4]).into(),
            RmiCommand::RttUnmapUnprotected => self.rtt_unmap_unprotected(x[1], x[2], x[3]),
            RmiCommand::RttInitRipas => self.rtt_init_ripas(x[1], x[2], x[3]),
            RmiCommand::RecCreate => self.rec_create(x[1], x[2], x[3]).into(),
            RmiCommand::RecDestroy => self.rec_destroy(x[1]).into(),
            RmiCommand::RecEnter => self.rec_enter(x[1], x[2]).into(),
            RmiCommand::PsciComplete => self.psci_complete(x[1], x[2], x[3]).into(),
            RmiCommand::RttSetRipas => self.rtt_set_ripas(x[1], x[2], x[3], x[4]),
        }
    }
}
