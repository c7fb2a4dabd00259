//! The model runner: one API for both builds.
//!
//! * Under `--cfg loom`, [`check`] runs the model under `loom::model::Builder` (every interleaving up
//!   to the preemption bound), [`spawn`] makes loom threads and the CPU index is a loom thread-local.
//! * Without it, [`check`] runs the model body once on OS threads: a quick smoke test that the
//!   scenario and its invariants hold in one real execution, so the normal test tier stays green.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Preemption bound of a two-thread model in CI (see [`Bound`]); the nightly setting uses one more.
pub const CI_PREEMPTIONS: usize = 2;

/// `max_branches` used when `LOOM_MAX_BRANCHES` is not set. Warden's RTT commands scan whole tables
/// (512 loads for `RttIsLive`, `top`, homogeneity), so one execution takes a few thousand branches.
pub const MAX_BRANCHES: usize = 100_000;

/// The CPU index of a thread that never called [`set_cpu`]: beyond the walk cache's slots, so such a
/// thread (the model's setup) walks without the cache.
pub const NO_CPU: usize = usize::MAX;

/// Stack of every model thread, in bytes as loom documents it (loom's coroutine crate counts it in
/// words, so this is 8× more in fact). Warden's commands keep 4 KiB ABI structs on the stack.
const STACK: usize = 1 << 18;

#[cfg(loom)]
loom::thread_local! {
    static CPU: Cell<usize> = Cell::new(NO_CPU);
}

#[cfg(not(loom))]
std::thread_local! {
    static CPU: Cell<usize> = const { Cell::new(NO_CPU) };
}

/// Runs the calling model thread as CPU `cpu` (what [`crate::world::LoomMachine`] reports).
///
/// `warden::arch::host::HostMachine::set_cpu` cannot be used under loom: it keeps the index in a
/// `std` thread-local, and loom runs every model thread as a coroutine on one OS thread, so all
/// model threads would share one index.
pub fn set_cpu(cpu: usize) {
    CPU.with(|c| c.set(cpu));
}

/// The calling model thread's CPU index.
pub fn cpu() -> usize {
    CPU.with(Cell::get)
}

/// A model thread.
pub struct Handle<T> {
    #[cfg(loom)]
    inner: loom::thread::JoinHandle<T>,
    #[cfg(not(loom))]
    inner: std::thread::JoinHandle<T>,
}

impl<T> Handle<T> {
    /// Waits for the thread and returns its result (re-raising its panic).
    pub fn join(self) -> T {
        match self.inner.join() {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e),
        }
    }
}

/// Spawns a model thread running as CPU `cpu`.
pub fn spawn<T: Send + 'static>(cpu: usize, f: impl FnOnce() -> T + Send + 'static) -> Handle<T> {
    let body = move || {
        set_cpu(cpu);
        f()
    };
    #[cfg(loom)]
    let inner = loom::thread::Builder::new()
        .stack_size(STACK)
        .spawn(body)
        .expect("spawn a loom thread");
    #[cfg(not(loom))]
    let inner = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(body)
        .expect("spawn a thread");
    Handle { inner }
}

/// How a model is explored: its preemption bound in CI and in the nightly setting
/// (`WARDEN_LOOM_DEEP=1`). `LOOM_MAX_PREEMPTIONS`, when set, overrides both.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    /// Preemption bound in CI.
    pub preemptions: usize,
    /// Preemption bound in the nightly setting.
    pub nightly: usize,
}

impl Default for Bound {
    fn default() -> Self {
        Self {
            preemptions: CI_PREEMPTIONS,
            nightly: CI_PREEMPTIONS + 1,
        }
    }
}

/// The serial outcomes a model's executions produced (names chosen by the model). Under loom,
/// [`check`] requires every expected outcome to have been seen: a model whose race never happens
/// proves nothing.
#[derive(Clone, Default)]
pub struct Outcomes(Arc<Mutex<BTreeSet<String>>>);

impl Outcomes {
    /// Records that this execution ended in `outcome`.
    pub fn saw(&self, outcome: &str) {
        self.0.lock().expect("outcomes").insert(outcome.to_string());
    }

    fn seen(&self) -> BTreeSet<String> {
        self.0.lock().expect("outcomes").clone()
    }
}

/// Checks `model` (see the module docs); prints how many executions it took and how long. Under
/// loom, every outcome in `expected` must have been reached by some execution.
///
/// The body runs in a model thread of its own (with a large stack), so it may spawn at most three
/// more threads (loom allows four besides its main thread).
pub fn check<F: Fn(&Outcomes) + Sync + Send + 'static>(
    name: &str,
    bound: Bound,
    expected: &[&str],
    model: F,
) {
    let outcomes = Outcomes::default();
    run(name, bound, outcomes.clone(), model);
    let seen = outcomes.seen();
    eprintln!("model {name}: outcomes {seen:?}");
    if cfg!(loom) {
        for e in expected {
            assert!(
                seen.contains(*e),
                "model {name}: no execution reached outcome {e:?} (seen: {seen:?})"
            );
        }
    }
}

fn run<F: Fn(&Outcomes) + Sync + Send + 'static>(
    name: &str,
    bound: Bound,
    outcomes: Outcomes,
    model: F,
) {
    let executions = Arc::new(AtomicUsize::new(0));
    let counted = {
        let executions = executions.clone();
        let model = Arc::new(model);
        move || {
            executions.fetch_add(1, Ordering::Relaxed);
            // Object 0 of the execution: neither an atomic nor a cell, so an access through a zeroed
            // handle (a retired RTT, RD or REC used after its granule was scrubbed) panics (see
            // `world`).
            #[cfg(loom)]
            drop(loom::sync::Arc::new(()));
            let (model, outcomes) = (model.clone(), outcomes.clone());
            spawn(NO_CPU, move || model(&outcomes)).join();
        }
    };
    let start = Instant::now();
    #[cfg(loom)]
    let preemptions = {
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            let deep = std::env::var_os("WARDEN_LOOM_DEEP").is_some_and(|v| v == "1");
            builder.preemption_bound = Some(if deep {
                bound.nightly
            } else {
                bound.preemptions
            });
        }
        if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
            builder.max_branches = MAX_BRANCHES;
        }
        let preemptions = builder.preemption_bound;
        builder.check(counted);
        preemptions
    };
    #[cfg(not(loom))]
    let preemptions: Option<usize> = {
        let _ = bound;
        counted();
        None
    };
    eprintln!(
        "model {name}: {} executions in {:.2} s (preemption bound {})",
        executions.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64(),
        preemptions.map_or_else(|| "none: one OS-thread run".to_string(), |p| p.to_string()),
    );
}

/// Runs `model` (a mutant) and returns the message of the panic loom reports for it; fails the test
/// if every explored execution passed. Used by the mutant tests: a proof that never fails proves
/// nothing.
pub fn expect_violation<F: Fn(&Outcomes) + Sync + Send + 'static>(
    name: &str,
    bound: Bound,
    model: F,
) -> String {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(name, bound, Outcomes::default(), model)
    }));
    match result {
        Ok(()) => panic!("mutant {name}: loom explored every interleaving and found no violation"),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "<non-string panic>".to_string());
            eprintln!("mutant {name}: loom reports: {msg}");
            msg
        }
    }
}
