//! A small spin lock for short critical sections that must be serial by nature (extending a
//! Realm's RIM is a hash chain: its order is its meaning).
//!
//! Owns nothing but the lock protocol: acquire with a compare-and-swap (acquire ordering), spin on
//! plain loads while held, release with a store (release ordering). Never held across anything that
//! waits for another CPU, never nested.

use crate::sync::{AtomicU32, Ordering, UnsafeCell, spin_loop};

/// A value behind a spin lock.
pub struct SpinLock<T> {
    held: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the lock serialises every access to `value`, so sharing the lock shares T only between
// threads one at a time; T must be Send to move between them.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A free lock around `value`.
    pub fn new(value: T) -> Self {
        Self { held: AtomicU32::new(0), value: UnsafeCell::new(value) }
    }

    /// Runs `f` with exclusive access to the value.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        while self.held.compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while self.held.load(Ordering::Relaxed) != 0 {
                spin_loop();
            }
        }
        // SAFETY: the lock is held, so this is the only access to the value until the release below.
        let r = self.value.with_mut(|p| f(unsafe { &mut *p }));
        self.held.store(0, Ordering::Release);
        r
    }
}
