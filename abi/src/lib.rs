//! `warden-abi`: the Arm CCA RMM 1.0-rel0 ABI (DEN0137) as plain Rust data.
//!
//! This crate owns every number that crosses a world boundary of the Warden RMM:
//! SMCCC function identifiers ([`fid`]), status and return codes ([`status`]),
//! interface version encodings ([`version`]), the host-shared and Realm-shared
//! memory structures with compile-time layout asserts ([`realm_params`],
//! [`rec_params`], [`rec_run`], [`rsi`], [`manifest`]), the small RMI
//! enumerations and bitfields ([`rtt`], [`features`]) and typed physical /
//! intermediate physical addresses and RTT levels ([`addr`]).
//!
//! Everything here is pure data plus pure decode/encode functions: no
//! allocation, no `unsafe`, no global state. Decoding an untrusted value
//! (a register or a structure in a host-owned granule) is where the spec's
//! "unused bits SBZ" rules are enforced; encoding always produces MBZ-clean
//! values. Names follow the specification with their `RMI_`/`RSI_` prefix
//! turned into a module or type name.
#![no_std]
#![deny(unsafe_code)]

pub mod addr;
pub mod el3;
pub mod features;
pub mod fid;
pub mod manifest;
pub mod realm_params;
pub mod rec_params;
pub mod rec_run;
pub mod rsi;
pub mod rtt;
pub mod status;
pub mod trace;
pub mod version;

mod layout;

pub use addr::{GRANULE_SHIFT, GRANULE_SIZE, Ipa, Level, Pa};
pub use fid::{RmiCommand, RsiCommand, SMC_UNKNOWN, SMCCC_SVE_HINT};
pub use status::{RmiStatus, RmiStatusCode, RsiStatus};
pub use version::InterfaceVersion;
