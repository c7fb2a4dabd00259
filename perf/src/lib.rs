//! Warden's benchmarks and the baselines they are compared against.
//!
//! Owns the baseline designs (written here, never in Warden) so that each benchmark measures Warden
//! and the baseline in the same run, and a null machine for benchmarks that must not measure the
//! host model's bookkeeping. Benchmarks live in `benches/`; results and the commands that produced
//! them in `RESULTS.md`.

pub mod null_machine;
pub mod realm_lock;
pub mod report;
pub mod tfrmm_granule;
