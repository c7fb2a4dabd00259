//! testbed-el3: a minimal EL3 monitor for QEMU `virt` with FEAT_RME.
//!
//! It boots the RMM (Warden) at R-EL2 and the NS host driver at NS-EL2, builds and enables the
//! Granule Protection Table, forwards RMI calls between the worlds with the TF-A RMMD world-switch
//! contract, serves GTSI delegate/undelegate, and provides PSCI to NS. See README.md for the boot
//! flow, memory map, register sets and GPT layout.
//!
//! Firmware modules build only for `target_os = "none"`; on the host the crate is a stub binary
//! whose pure logic (GPT, manifest, feature decoding, platform checks) runs as unit tests.
#![cfg_attr(target_os = "none", no_std, no_main)]
// The host build is a stub `main`: the shared modules are only exercised by the unit tests there.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

#[cfg(target_os = "none")]
mod arch;
mod attest;
#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod console;
mod context;
#[cfg(target_os = "none")]
mod cpu;
#[cfg(target_os = "none")]
mod entry;
mod features;
#[cfg(target_os = "none")]
mod gic;
mod gpt;
mod manifest;
mod platform;
#[cfg(target_os = "none")]
mod semihosting;
#[cfg(target_os = "none")]
mod smc;

#[cfg(not(target_os = "none"))]
fn main() {
    // Keep the shared logic referenced in host builds (it is exercised by the unit tests).
    let _ = (
        gpt::qemu_regions(),
        manifest::words(platform::RMM_SHARED_PAGE),
        features::Features::default(),
    );
    let _ = context::WorldContext::new(context::World::Realm, 0);
    eprintln!(
        "testbed-el3 is firmware for aarch64-unknown-none-softfloat; build and boot it with `cargo xtask run`"
    );
}
