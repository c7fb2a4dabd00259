//! `manifest`: arbitrary boot manifests through the firmware's manifest rules, against a reference validator.
//! The input format, the invariants and what violates them: `warden_fuzz::boot`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = warden_fuzz::boot::run(data);
});
