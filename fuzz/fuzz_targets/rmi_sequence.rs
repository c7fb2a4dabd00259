//! `rmi_sequence`: structure-aware RMI command sequences, every result checked against the model-based tests' reference model.
//! The input format, the invariants and what violates them: `warden_fuzz::sequence`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = warden_fuzz::sequence::run(data);
});
