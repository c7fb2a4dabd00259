//! `rmi_fid`: every RMI FID (and arbitrary FIDs, SVE hint included) with arbitrary X1–X6 against a small Warden with a Realm, tables, DATA and RECs.
//! The input format, the invariants and what violates them: `warden_fuzz::fid`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = warden_fuzz::fid::run(data);
});
