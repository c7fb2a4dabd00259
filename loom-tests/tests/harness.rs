//! Checks of the harness itself: what the models rely on.

use std::sync::Arc;

use loom_tests::rt::{self, Bound, spawn};
use loom_tests::world::World;
use warden::platform::Machine;
use warden::sync::{AtomicU64, Ordering};

/// Each model thread reports its own CPU index through `LoomMachine`, across context switches.
#[test]
fn cpu_index_is_per_model_thread() {
    rt::check(
        "cpu_index_is_per_model_thread",
        Bound::default(),
        &[],
        |_| {
            let w = World::new();
            let flag = Arc::new(AtomicU64::new(0));
            let t: Vec<_> = (0..2)
                .map(|cpu| {
                    let (w, flag) = (w.clone(), flag.clone());
                    spawn(cpu, move || {
                        flag.fetch_add(1, Ordering::AcqRel); // a point where loom may switch threads
                        assert_eq!(w.machine().cpu_id(), cpu);
                    })
                })
                .collect();
            t.into_iter().for_each(rt::Handle::join);
        },
    );
}

/// Why `LoomMachine` exists: `HostMachine::set_cpu` keeps the index in a `std` thread-local, and
/// loom runs all model threads as coroutines of one OS thread, so they share one index.
#[cfg(loom)]
#[test]
fn host_set_cpu_is_shared_by_loom_threads() {
    use warden::arch::host::HostMachine;
    let msg = rt::expect_violation("host_set_cpu_is_shared", Bound::default(), |_| {
        let w = World::new();
        let flag = Arc::new(AtomicU64::new(0));
        let t: Vec<_> = (0..2)
            .map(|cpu| {
                let (w, flag) = (w.clone(), flag.clone());
                spawn(cpu, move || {
                    HostMachine::set_cpu(cpu);
                    flag.fetch_add(1, Ordering::AcqRel);
                    assert_eq!(
                        w.machine().host.cpu_id(),
                        cpu,
                        "HostMachine's CPU index changed under this thread"
                    );
                })
            })
            .collect();
        t.into_iter().for_each(rt::Handle::join);
    });
    assert!(msg.contains("CPU index changed"), "{msg}");
}

/// The use-after-retire detector: an atomic reached through zeroed granule memory (handle 0) makes
/// loom panic, because object 0 of every execution is not an atomic.
#[cfg(loom)]
#[test]
fn zeroed_atomic_handle_is_poisoned() {
    let msg = rt::expect_violation("zeroed_atomic_handle", Bound::default(), |_| {
        let zeroed = std::mem::MaybeUninit::<AtomicU64>::zeroed();
        // SAFETY: deliberately the bit pattern a retired, scrubbed object leaves behind; loom's
        // atomics are a plain index, so the value is a (stale) handle, which loom must refuse.
        let stale = unsafe { zeroed.assume_init_ref() };
        stale.load(Ordering::Acquire);
    });
    assert!(msg.contains("failed to get object"), "{msg}");
}
