//! `rec_exit`: arbitrary RmiRecEnter contents and Realm exits through the scripted Realm CPU.
//! The input format, the invariants and what violates them: `warden_fuzz::exits`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = warden_fuzz::exits::run(data);
});
