//! Warden's fuzz harness: the hostile Host as libFuzzer drives it.
//!
//! Owns what the four libFuzzer targets (`fuzz_targets/`) share: a small host machine with a Warden
//! over it ([`harness`]), the per-command table of the statuses and outputs DEN0137 1.0-rel0 allows
//! ([`status`]), the state-consistency oracle (granule table ↔ fake GPT ↔ RTTs ↔ RECs,
//! [`harness::World::check_deep`]), and one module per target that turns fuzzer bytes into calls and
//! checks every result:
//!
//! * [`fid`] — every RMI FID (and arbitrary ones, SVE hint included) with arbitrary X1–X6;
//! * [`sequence`] — structure-aware RMI command sequences checked against the model-based tests'
//!   reference model (`tests/model/spec.rs`, compiled here as [`spec`]), driven by their
//!   operation layer (`tests/model/ops.rs`, compiled here as [`ops`]);
//! * [`exits`] — arbitrary `RmiRecEnter` contents and Realm exits through the scripted Realm CPU;
//! * [`boot`] — arbitrary boot manifests through `warden::platform::manifest`.
//!
//! Every invariant violation panics (panic = abort: libFuzzer records a crash and saves the input).
//! Each `run` function also returns a small [`Signature`] of what the input exercised, which the
//! seed generator (`examples/seeds.rs`) uses to pick a handful of diverse seeds.
//!
//! This crate must never change Warden's behaviour: it only plays the Host (and the Realm, through
//! `HostMachine::script`) and observes through the RMI and the host machine's test hooks.

pub mod boot;
pub mod exits;
pub mod fid;
pub mod harness;
pub mod sequence;
pub mod status;

/// The reference model of the model-based tests (the spec's abstract state), shared verbatim.
#[path = "../../tests/model/spec.rs"]
#[allow(missing_docs, dead_code)]
pub mod spec;

/// The model-based tests' operation layer (argument resolution against [`spec`], the driver that
/// runs a call on Warden and on the model), shared verbatim; [`sequence`] is its user here.
#[path = "../../tests/model/ops.rs"]
pub mod ops;

use std::collections::BTreeSet;

/// What one input exercised: (command or event name, result kind) pairs.
pub type Signature = BTreeSet<(String, String)>;
