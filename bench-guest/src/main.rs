//! Placeholder: see README.md in this crate for what it will hold.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this crate is firmware for aarch64-unknown-none; build it with `cargo xtask`");
}
