//! Baseline: a per-Realm lock around every RMI command that touches the Realm, as an RMM whose RTT
//! updates are serialised by the RD's lock would behave. Used to compare DATA_CREATE throughput from
//! several CPUs into one Realm.

use std::sync::atomic::{AtomicBool, Ordering};

/// A spin lock standing for the RD's lock (TF-RMM takes the RD granule's lock for RTT commands).
#[derive(Default)]
pub struct RealmLock {
    held: AtomicBool,
}

impl RealmLock {
    /// Runs `f` with the lock held.
    pub fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        while self.held.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while self.held.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        }
        let r = f();
        self.held.store(false, Ordering::Release);
        r
    }
}
