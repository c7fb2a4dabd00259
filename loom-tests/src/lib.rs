//! loom models of Warden's lock-free protocols: each model drives Warden's real code (RMI commands
//! through `Rmm::handle_rmi`, or the real structure through its public API) on a small host
//! machine, with 2–3 threads, and asserts invariants after every interleaving loom explores. Each
//! model has a mutant beside it (a replica of one protocol step with a deliberate bug, driven the
//! same way) that loom must catch. See README.md for the protocols, invariants and run times.
//!
//! * `tests/granule.rs` — granule transitions, two-granule claims, RD sharing and publication;
//! * `tests/rec.rs` — a running REC against REC_DESTROY, REC_ENTER and REALM_DESTROY;
//! * `tests/rtt.rs` — RTT entries and tables, DATA create/destroy, the per-CPU walk cache;
//! * `tests/vmid.rs` — the VMID allocator; `tests/lock.rs` — the RIM lock;
//! * `tests/trace.rs`, `tests/trace_mutants.rs` — the per-CPU trace ring;
//! * `tests/harness.rs` — what the models rely on.
//!
//! Build and run under loom (a separate target directory: `--cfg loom` rebuilds every crate):
//! `RUSTFLAGS="--cfg loom" cargo test -p loom-tests --release --target-dir target/loom`.
//! Without `--cfg loom` every model runs once on OS threads (a smoke test) and the mutants are not
//! built.

pub mod mutants;
pub mod rt;
pub mod world;
