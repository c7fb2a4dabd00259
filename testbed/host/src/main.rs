//! testbed-host: the NS-EL2 bare-metal driver that exercises Warden through testbed-el3.
//!
//! It runs the scenarios in [`scenarios`] (firmware builds), prints one `PASS`/`FAIL` line per
//! scenario and a closing `N passed, N failed` line on UART0, writes the same lines to
//! `testbed-results.txt` through semihosting, and ends the run with PSCI SYSTEM_OFF whose exit
//! status is the number of failures. See README.md.
//!
//! Firmware modules build only for `target_os = "none"`; on the host the crate is a stub binary
//! whose RMI client logic runs as unit tests.
#![cfg_attr(target_os = "none", no_std, no_main)]
// The host build is a stub `main`: the shared modules are only exercised by the unit tests there.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod entry;
#[cfg(target_os = "none")]
mod fault;
#[cfg(target_os = "none")]
mod nsmem;
#[cfg(target_os = "none")]
mod psci;
mod rmi;
#[cfg(target_os = "none")]
mod scenarios;
#[cfg(target_os = "none")]
mod select;
#[cfg(target_os = "none")]
mod semihosting;
#[cfg(target_os = "none")]
mod host_state;
#[cfg(target_os = "none")]
mod smc;
mod text;
#[cfg(target_os = "none")]
mod trace;
mod vmm;

/// Name of the results file written through semihosting (relative to QEMU's working directory).
pub const RESULTS_FILE: &str = "testbed-results.txt";

/// Exit statuses are capped here so they never collide with testbed-el3's own (>= 100).
pub const MAX_EXIT_STATUS: u64 = 98;

#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
extern "C" fn host_main(dtb: u64) -> ! {
    use core::fmt::Write;

    println!(
        "host: testbed-host at NS-EL2 (0x60000000), DTB at {dtb:#x}; {} scenarios",
        scenarios::ALL.len()
    );
    let mut results = text::Text::<6144>::new();
    let (mut passed, mut failed) = (0u64, 0u64);
    for scenario in scenarios::ALL.iter().chain(vmm::SCENARIOS) {
        // `cargo xtask … --only <names>` runs a subset (see select.rs); the VMM's scenarios
        // (`cargo xtask linux`) run only when named.
        let vmm = vmm::SCENARIOS.iter().any(|s| s.name == scenario.name);
        if !(if vmm { select::named(scenario.name) } else { select::runs(scenario.name) }) {
            continue;
        }
        // Names the scenario on the console before it runs: if Warden panics (and the driver
        // hangs), the console tail shows which scenario it was.
        println!("host: scenario {}", scenario.name);
        let (verdict, message) = match (scenario.run)() {
            Ok(m) => {
                passed += 1;
                ("PASS", m)
            }
            Err(m) => {
                failed += 1;
                ("FAIL", m)
            }
        };
        println!("{verdict} {}: {message}", scenario.name);
        let _ = writeln!(results, "{verdict} {}: {message}", scenario.name);
        // Warden's trace of the scenario (`trace-<name>.bin`), if it records one (a `trace` build).
        if let trace::Dump::Failed(why) = trace::dump(scenario.name) {
            println!("host: trace of {}: {why}", scenario.name);
        }
    }
    // The trace cost probe (see trace.rs), after the scenarios so that their traces stay theirs.
    trace::probe_rmi_cost();
    let _ = trace::dump("probe");
    println!("{passed} passed, {failed} failed");
    let _ = writeln!(results, "{passed} passed, {failed} failed");
    match semihosting::write_file(RESULTS_FILE, results.as_bytes()) {
        Ok(()) => println!("host: results written to {RESULTS_FILE} (semihosting)"),
        Err(e) => println!("host: could not write {RESULTS_FILE}: {e}"),
    }
    psci::system_off(failed.min(MAX_EXIT_STATUS))
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    console::print_unlocked(format_args!("host: PANIC: {info}\n"));
    psci::system_off(fault::EXIT_UNEXPECTED_EXCEPTION)
}

#[cfg(not(target_os = "none"))]
fn main() {
    let _ = rmi::decode([0; 5]);
    let _ = text::Text::<1>::new();
    eprintln!(
        "testbed-host is firmware for aarch64-unknown-none-softfloat; run it with `cargo xtask run`"
    );
}
