//! Realms: the Realm Descriptor (RD) and the VMID allocator.
//!
//! Owns what an RD holds ([`rd::Rd`]: realm state, parameters, starting RTTs, VMID, measurements,
//! REC bookkeeping) and the machine-wide VMID allocator ([`vmid::VmidAllocator`]). The commands that
//! create and destroy Realms live in `rmi::realm`. This module must never change granule states.

pub mod rd;
pub mod vmid;

pub use rd::{Rd, RealmState};
pub use vmid::VmidAllocator;
