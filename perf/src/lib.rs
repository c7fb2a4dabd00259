//! Warden's benchmarks: host microbenchmarks with in-run baselines (`benches/`), and the baselines
//! themselves (designs Warden is compared against, written here so both run in the same process).
