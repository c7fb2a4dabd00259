//! The Warden firmware image: R-EL2 entry for `aarch64-unknown-none-softfloat` (being written).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("warden is R-EL2 firmware for aarch64-unknown-none-softfloat; build it with `cargo xtask build`");
}
