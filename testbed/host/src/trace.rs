//! Draining Warden's trace after a scenario: `RMI_WARDEN_TRACE_DRAIN` for every CPU's ring into an
//! NS area, then the batches, as drained, to `trace-<scenario>.bin` through semihosting (decode them
//! with `trace-tool`). A Warden built without the `trace` feature answers `SMC_UNKNOWN`: nothing is
//! written.

use core::fmt::Write;

use warden_abi::trace::RMI_WARDEN_TRACE_DRAIN;

use crate::rmi::{Rmi, RmiError};
use crate::smc::Smc;
use crate::text::Text;
use crate::{println, semihosting};

/// NS DRAM the drains write into (unused by the scenarios, which stay below 0x8500_0000).
const AREA: u64 = 0xF000_0000;
/// Size of that area: room for every ring full (8 CPUs × 8192 records × 32 bytes) and headers.
const AREA_SIZE: u64 = 4 << 20;
/// Bytes offered per drain call.
const CHUNK: u64 = 64 << 10;

/// What a dump did.
pub enum Dump {
    /// The file was written.
    Written,
    /// Warden has no drain command (built without the `trace` feature).
    NotTraced,
    /// A drain failed or the file could not be written.
    Failed(&'static str),
}

/// Drains every ring and writes `trace-<scenario>.bin`.
pub fn dump(scenario: &str) -> Dump {
    let mut rmi = Rmi::new(Smc);
    let mut at = AREA;
    let (mut cpu, mut rings) = (0, 1);
    while cpu < rings {
        loop {
            if at + CHUNK > AREA + AREA_SIZE {
                return Dump::Failed("trace area full");
            }
            match rmi.raw(RMI_WARDEN_TRACE_DRAIN, &[at, CHUNK, cpu]) {
                Ok([written, more, n, _]) => {
                    at += written;
                    rings = n;
                    if more == 0 {
                        break;
                    }
                }
                Err(RmiError::Unknown) => return Dump::NotTraced,
                Err(_) => return Dump::Failed("RMI_WARDEN_TRACE_DRAIN failed"),
            }
        }
        cpu += 1;
    }
    let mut name = Text::<96>::new();
    let _ = write!(name, "trace-{scenario}.bin");
    // SAFETY: `[AREA, at)` is NS DRAM that only the drains above wrote and no Rust object occupies;
    // the slice is only handed to the semihosting call, which QEMU reads.
    let bytes = unsafe { core::slice::from_raw_parts(AREA as *const u8, (at - AREA) as usize) };
    match semihosting::write_file(name.as_str(), bytes) {
        Ok(()) => {
            println!(
                "host: {} ({} bytes, {} rings)",
                name.as_str(),
                bytes.len(),
                rings
            );
            Dump::Written
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
