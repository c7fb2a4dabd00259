//! The seam between Warden's logic and the machine it runs on.
//!
//! Owns the [`Machine`] trait (EL3 services, fault-safe access to Host memory, Realm-PAS access to
//! delegated granules, TLB maintenance, CPU identity, feature discovery) and the description of the
//! delegable DRAM ([`dram::DramLayout`]) with the boot manifest rules that produce it
//! ([`manifest`]). Logic calls the machine only through this trait; the
//! firmware implements it in `arch::aarch64`, the host build in `arch::host`. This module must never
//! touch hardware itself.

pub mod dram;
pub mod machine;
pub mod manifest;

pub use dram::{DramBank, DramLayout, MAX_DRAM_BANKS};
pub use machine::{El3Error, Machine, MachineFeatures, NsAccessFault, RealmTrap, RunConfig, TlbInvalidation};
