//! Writes the committed seed corpus (`fuzz/corpus/<target>/seed-NN`) and dictionaries
//! (`fuzz/dict/<target>.dict`). Run it as `cargo xtask fuzz --write-seeds` (or `cargo run
//! --manifest-path fuzz/Cargo.toml --example seeds`).
//!
//! Seeds: deterministic pseudo-random candidate inputs (fixed xorshift seed, 16–768 bytes) are run
//! through each target's harness function, and a candidate is kept when it exercises a (command,
//! result) or (event, detail) pair no kept seed did, up to a handful per target — so the seeds
//! start libFuzzer on inputs that already reach successes, failures and exits of many kinds. Any
//! invariant violation found on the way panics here, as it would under libFuzzer.
//!
//! Dictionaries: every RMI (and, for `rec_exit`, RSI and PSCI) FID and the harness's interesting
//! addresses as little-endian 64-bit words, the tokens `arbitrary` reads integers from.

use std::fs;
use std::path::Path;

use warden_abi::fid::{RmiCommand, RsiCommand, psci};
use warden_fuzz::{Signature, boot, exits, fid, harness, sequence};

/// Seeds kept per target at most.
const SEEDS: usize = 8;
/// Candidates tried per target.
const CANDIDATES: usize = 600;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn seeds(name: &str, run: fn(&[u8]) -> Signature, out: &Path) -> usize {
    let dir = out.join("corpus").join(name);
    fs::create_dir_all(&dir).expect("corpus directory");
    for e in fs::read_dir(&dir).expect("corpus directory").flatten() {
        if e.file_name().to_string_lossy().starts_with("seed-") {
            fs::remove_file(e.path()).expect("remove an old seed");
        }
    }
    let mut rng = XorShift(0x5741_5244_454E_F022 ^ name.len() as u64);
    let mut seen = Signature::new();
    let mut kept = 0;
    for _ in 0..CANDIDATES {
        let len = 16 + (rng.next() % 752) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let sig = run(&bytes);
        let new = sig.difference(&seen).count();
        if new > 0 {
            seen.extend(sig);
            fs::write(dir.join(format!("seed-{kept:02}")), &bytes).expect("write a seed");
            kept += 1;
            if kept == SEEDS {
                break;
            }
        }
    }
    println!("{name}: {kept} seeds covering {} (command, result) pairs in {}", seen.len(), dir.display());
    kept
}

fn token(v: u64) -> String {
    v.to_le_bytes().iter().map(|b| format!("\\x{b:02X}")).collect()
}

fn dict(name: &str, words: &[(String, u64)], out: &Path) {
    let dir = out.join("dict");
    fs::create_dir_all(&dir).expect("dict directory");
    let mut text = format!(
        "# {name}: 64-bit little-endian tokens (FIDs and the harness's addresses).\n# Written by `cargo xtask fuzz --write-seeds`.\n"
    );
    for (n, v) in words {
        text.push_str(&format!("{n}=\"{}\"\n", token(*v)));
    }
    fs::write(dir.join(format!("{name}.dict")), text).expect("write a dictionary");
}

fn main() {
    let out = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rmi: Vec<(String, u64)> = RmiCommand::ALL.iter().map(|c| (c.name().to_lowercase(), c.fid())).collect();
    let addrs: Vec<(String, u64)> = [
        ("rd", harness::RD),
        ("rtt", harness::RTT),
        ("pool", harness::POOL),
        ("params", harness::PARAMS),
        ("rec_params", harness::REC_PARAMS),
        ("run", harness::RUN),
        ("src", harness::SRC),
        ("ipa", harness::IPA),
        ("ns_ipa", harness::NS_IPA),
        ("mmio", harness::MMIO),
        ("level_minus_1", u64::MAX),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), v))
    .collect();
    let rsi: Vec<(String, u64)> = RsiCommand::ALL
        .iter()
        .map(|c| (c.name().to_lowercase(), c.fid()))
        .chain([("psci_cpu_on".to_string(), psci::CPU_ON_64), ("psci_system_off".to_string(), psci::SYSTEM_OFF)])
        .collect();
    dict("rmi_fid", &[rmi.clone(), addrs.clone()].concat(), out);
    dict("rmi_sequence", &addrs, out);
    dict("rec_exit", &[rsi, addrs.clone()].concat(), out);
    dict(
        "manifest",
        &[("version_0_3".to_string(), 3), ("pl011".to_string(), u64::from_le_bytes(*b"pl011\0\0\0")), ("dram".to_string(), 0x4000_0000)],
        out,
    );
    let mut n = 0;
    n += seeds("rmi_fid", fid::run, out);
    n += seeds("rmi_sequence", sequence::run, out);
    n += seeds("rec_exit", exits::run, out);
    n += seeds("manifest", boot::run, out);
    println!("{n} seeds written");
}
