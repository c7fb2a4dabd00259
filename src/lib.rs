//! Warden: a performance-tuned Arm CCA Realm Management Monitor (RMM 1.0-rel0) for R-EL2.
//!
//! The crate is `no_std` logic behind a seam ([`platform::Machine`]): the firmware build implements
//! the seam for the hardware (`arch::aarch64`), the host build for an arena with a fake GPT and a
//! fake EL3 (`arch::host`), so every command runs in `cargo test` exactly as on the machine.
//! See `docs/architecture.md` for the shape and the performance design.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(target_os = "none"))]
extern crate std;

pub mod arch;
pub mod attest;
pub mod granule;
pub mod lock;
pub mod measure;
pub mod platform;
pub mod realm;
pub mod rec;
pub mod rmi;
pub mod rmm;
pub mod rsi;
pub mod rtt;
pub mod sync;
pub mod trace;

pub use rmi::RmiReturn;
pub use rmm::Rmm;
