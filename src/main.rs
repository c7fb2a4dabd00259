//! The Warden firmware image: R-EL2 for `aarch64-unknown-none-softfloat`.
//!
//! Everything lives in the library (`warden::arch::aarch64`): the entry point `_start` (the first
//! byte of the image, see `src/arch/aarch64/entry.rs`), boot, the MMU, vectors and the RMI loop.
//! The binary only provides the panic handler and is linked by `build.rs` with
//! `src/arch/aarch64/warden.ld`. On the host it is a stub that says so.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    warden::arch::aarch64::panic(info)
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "warden is R-EL2 firmware for aarch64-unknown-none-softfloat; build it with `cargo xtask build`"
    );
}
