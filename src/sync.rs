//! The `sync` facade: every atomic Warden's lock-free protocols use comes from here.
//!
//! Under `--cfg loom` the facade swaps in loom's model-checked atomics, so the loom models in
//! `loom-tests/` drive Warden's real code. Nothing else in the crate may name `core::sync::atomic`.
//! This module must never hold logic: it only chooses the implementation.

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering, fence};

#[cfg(not(loom))]
pub use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering, fence};

/// Tells the CPU (or loom's scheduler) that this thread is waiting for another one.
#[inline(always)]
pub fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}
