//! Draining Warden's trace after a scenario: `RMI_WARDEN_TRACE_DRAIN` for every CPU's ring into an
//! NS area, then the batches, as drained, to `trace-<scenario>.bin` through semihosting (decode them
//! with `trace-tool`). A Warden built without the `trace` feature answers `SMC_UNKNOWN`: nothing is
//! written.
//!
//! A scenario whose rings would overflow (the Linux VMM's) drains them while it runs with
//! [`collect`] into a larger area, [`RUN_AREA`]; [`dump`] then appends the final drains to what was
//! collected and writes it all. This module never interprets records beyond counting them.

use core::cell::UnsafeCell;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

use warden_abi::trace::{Batch, RMI_WARDEN_TRACE_DRAIN, decode_batch};

use crate::rmi::{Rmi, RmiError};
use crate::smc::Smc;
use crate::text::Text;
use crate::{println, semihosting};

/// NS DRAM the drains write into (unused by the scenarios). After [`dump`] it holds the batches
/// written, `[AREA, AREA + bytes)` of [`Dump::Written`].
pub const AREA: u64 = 0xF000_0000;
/// Size of that area: room for every ring full (8 CPUs × 8192 records × 32 bytes) and headers.
const AREA_SIZE: u64 = 4 << 20;
/// Bytes offered per drain call.
const CHUNK: u64 = 64 << 10;

/// What a dump did.
pub enum Dump {
    /// The file was written; it holds this many bytes, which stay at [`AREA`] until the next dump
    /// (at [`RUN_AREA`] if the scenario [`collect`]ed).
    Written(u64),
    /// Warden has no drain command (built without the `trace` feature).
    NotTraced,
    /// A drain failed or the file could not be written.
    Failed(&'static str),
}

/// NS DRAM for the trace a scenario [`collect`]s while it runs: 256 MiB below [`AREA`], above
/// everything the Linux VMM uses (its pool's DATA granules end below 0xD100_0000). Room for 8 M
/// records.
pub const RUN_AREA: u64 = 0xE000_0000;
/// Size of [`RUN_AREA`].
const RUN_AREA_SIZE: u64 = 256 << 20;

/// What [`collect`] gathered since the last [`dump`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Collected {
    /// Bytes of batches at [`RUN_AREA`].
    pub bytes: u64,
    /// Drain calls that wrote a batch.
    pub batches: u64,
    /// Records in them.
    pub records: u64,
    /// Records Warden dropped (ring full), summed over the batch headers.
    pub dropped: u64,
    /// Warden answered the drain (built with the `trace` feature).
    pub traced: bool,
    /// The first drain that failed, if any (collecting stops there).
    pub failed: Option<&'static str>,
}

/// [`Collected`] behind a spin lock: drains of one ring must not interleave in the area, and any
/// CPU may collect.
struct RunTrace {
    busy: AtomicBool,
    state: UnsafeCell<Collected>,
}

// SAFETY: `state` is only reached through `RunTrace::with`, which holds `busy`.
unsafe impl Sync for RunTrace {}

impl RunTrace {
    fn with<R>(&self, f: impl FnOnce(&mut Collected) -> R) -> R {
        while self
            .busy
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        // SAFETY: `busy` is held, so this is the only reference until it is released below.
        let r = f(unsafe { &mut *self.state.get() });
        self.busy.store(false, Ordering::Release);
        r
    }
}

static RUN: RunTrace = RunTrace {
    busy: AtomicBool::new(false),
    state: UnsafeCell::new(Collected {
        bytes: 0,
        batches: 0,
        records: 0,
        dropped: 0,
        traced: false,
        failed: None,
    }),
};

/// The batches at `[base, end)` (NS DRAM only drains wrote), in the order drained.
fn batches(base: u64, end: u64, mut f: impl FnMut(Batch<'_>)) {
    // SAFETY: `[base, end)` is NS DRAM that only Warden's drains wrote and no Rust object
    // occupies; nothing writes it while the slice lives (callers hold the run trace's lock or
    // are past the drains).
    let mut bytes = unsafe { core::slice::from_raw_parts(base as *const u8, (end - base) as usize) };
    while let Ok((batch, rest)) = decode_batch(bytes) {
        f(batch);
        bytes = rest;
    }
}

/// Drains ring `cpu` until it is empty into `[*at, end)`; returns the number of rings.
fn drain_ring(rmi: &mut Rmi<Smc>, at: &mut u64, end: u64, cpu: u64) -> Result<u64, Dump> {
    loop {
        if *at + CHUNK > end {
            return Err(Dump::Failed("trace area full"));
        }
        match rmi.raw(RMI_WARDEN_TRACE_DRAIN, &[*at, CHUNK, cpu]) {
            Ok([written, more, rings, _]) => {
                *at += written;
                if more == 0 {
                    return Ok(rings);
                }
            }
            Err(RmiError::Unknown) => return Err(Dump::NotTraced),
            Err(_) => return Err(Dump::Failed("RMI_WARDEN_TRACE_DRAIN failed")),
        }
    }
}

/// Drains ring `cpu` into the run trace at [`RUN_AREA`], so that it never overflows during a long
/// scenario; [`dump`] appends the final drains of every ring and writes the lot as the scenario's
/// trace. Any CPU may collect any ring; calls are serialised. Returns the totals so far.
pub fn collect(cpu: u64) -> Collected {
    RUN.with(|c| {
        if c.failed.is_some() {
            return *c;
        }
        let (start, mut at) = (RUN_AREA + c.bytes, RUN_AREA + c.bytes);
        match drain_ring(&mut Rmi::new(Smc), &mut at, RUN_AREA + RUN_AREA_SIZE, cpu) {
            Ok(_) => c.traced = true,
            Err(Dump::Failed(why)) => c.failed = Some(why),
            // Not traced (SMC_UNKNOWN); `drain_ring` returns nothing else.
            Err(_) => {}
        }
        batches(start, at, |b| {
            c.batches += 1;
            c.records += u64::from(b.header.record_count);
            c.dropped += b.header.dropped;
        });
        c.bytes = at - RUN_AREA;
        *c
    })
}

/// What [`collect`] gathered since the last [`dump`].
pub fn collected() -> Collected {
    RUN.with(|c| *c)
}

/// The batches [`collect`] gathered since the last [`dump`], in the order drained.
pub fn collected_batches(f: impl FnMut(Batch<'_>)) {
    RUN.with(|c| batches(RUN_AREA, RUN_AREA + c.bytes, f));
}

/// Drains every ring and writes `trace-<scenario>.bin`: after what [`collect`] gathered during the
/// scenario, if anything (at [`RUN_AREA`]), else from [`AREA`].
pub fn dump(scenario: &str) -> Dump {
    let run = RUN.with(core::mem::take);
    let (base, end) = if run.bytes > 0 {
        (RUN_AREA, RUN_AREA + RUN_AREA_SIZE)
    } else {
        (AREA, AREA + AREA_SIZE)
    };
    let mut rmi = Rmi::new(Smc);
    let mut at = base + run.bytes;
    let (mut cpu, mut rings) = (0, 1);
    while cpu < rings {
        match drain_ring(&mut rmi, &mut at, end, cpu) {
            Ok(n) => rings = n,
            Err(e) => return e,
        }
        cpu += 1;
    }
    let mut name = Text::<96>::new();
    let _ = write!(name, "trace-{scenario}.bin");
    // SAFETY: `[base, at)` is NS DRAM that only the drains wrote and no Rust object occupies;
    // the slice is only handed to the semihosting call, which QEMU reads.
    let bytes = unsafe { core::slice::from_raw_parts(base as *const u8, (at - base) as usize) };
    match semihosting::write_file(name.as_str(), bytes) {
        Ok(()) => {
            println!(
                "host: {} ({} bytes, {} rings)",
                name.as_str(),
                bytes.len(),
                rings
            );
            Dump::Written(bytes.len() as u64)
        }
        Err(e) => Dump::Failed(e),
    }
}

/// Round trips the cost probe times.
const PROBE_CALLS: u64 = 1000;

fn counter() -> u64 {
    let c: u64;
    // SAFETY: reads the counter after an ISB (so the read is not taken early); no memory access.
    unsafe {
        core::arch::asm!("isb", "mrs {c}, cntpct_el0", c = out(reg) c, options(nomem, nostack, preserves_flags))
    };
    c
}

/// Times `RMI_VERSION` round trips (NS-EL2 → EL3 → Warden → EL3 → NS-EL2) with the counter and
/// prints the fastest and the mean. Under `-icount shift=0` a tick is an instruction, so the
/// difference between a `trace` build and a build without it is the instruction cost of one event.
pub fn probe_rmi_cost() {
    let mut rmi = Rmi::new(Smc);
    let freq: u64;
    // SAFETY: reads CNTFRQ_EL0; no memory access.
    unsafe {
        core::arch::asm!("mrs {f}, cntfrq_el0", f = out(reg) freq, options(nomem, nostack, preserves_flags))
    };
    let (mut best, mut total) = (u64::MAX, 0u64);
    for _ in 0..PROBE_CALLS {
        let t0 = counter();
        let r = rmi.raw(
            warden_abi::fid::rmi::VERSION,
            &[warden_abi::version::RMI_VERSION_1_0.encode()],
        );
        let dt = counter() - t0;
        if r.is_err() {
            println!("host: trace probe: RMI_VERSION failed: {r:?}");
            return;
        }
        best = best.min(dt);
        total += dt;
    }
    println!(
        "host: trace probe: RMI_VERSION round trip min {best} ticks, mean {} ticks over {PROBE_CALLS} calls (counter {freq} Hz)",
        total / PROBE_CALLS
    );
}
