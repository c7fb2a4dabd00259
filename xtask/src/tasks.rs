//! `build`, `run`, `test` and `qemu-e2e`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::RunArgs;
use crate::install::{self, Needs, Toolchain};
use crate::qemu::{self, Images};
use crate::util::{self, Error, Result, step};

/// The firmware target: no compiler-generated SIMD (see shared/design/crates.md §0).
pub const FIRMWARE_TARGET: &str = "aarch64-unknown-none-softfloat";
/// The cargo profile for firmware images (root Cargo.toml).
pub const FIRMWARE_PROFILE: &str = "firmware";

/// Whether `cargo xtask test` runs the QEMU end-to-end tier (the whole chain boots: monitor, Warden
/// firmware, host driver).
const QEMU_TIER_IN_TEST: bool = true;

/// Seconds the QEMU tier may take inside `cargo xtask test`.
const TEST_QEMU_TIMEOUT_SECS: u64 = 120;

/// The Linux Realm tier of `cargo xtask test`: vCPUs and the timeout of its QEMU run.
const LINUX_TIER_CPUS: u32 = 2;
const LINUX_TIER_TIMEOUT_SECS: u64 = 120;

/// The environment variable that sets the `storm` scenario's operations per CPU at build time
/// (read by testbed-host with `option_env!`; unset means its default).
pub const STORM_OPS_ENV: &str = "WARDEN_STORM_OPS";

/// The Realm payload's target: R-EL1 code that may use FP/SIMD (bench-guest checks its FP state
/// survives exits).
pub const GUEST_TARGET: &str = "aarch64-unknown-none";
/// The Realm payload package (and binary) loaded by the host driver's `realm` scenarios.
pub const GUEST_PACKAGE: &str = "bench-guest";

/// The testbed firmware packages and the image names they produce.
const TESTBED_PACKAGES: [(&str, &str); 2] = [
    ("testbed-el3", "testbed-el3"),
    ("testbed-host", "testbed-host"),
];

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| util::workspace_root().join("target"))
}

fn images_dir() -> PathBuf {
    target_dir().join("images")
}

/// The name of the `warden` package's firmware binary, if it has one yet.
fn warden_firmware_bin() -> Result<Option<String>> {
    let json =
        util::output(util::cargo().args(["metadata", "--no-deps", "--format-version", "1"]))?;
    let meta: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| Error::new(format!("cargo metadata: {e}")))?;
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let Some(warden) = packages.iter().find(|p| p["name"] == "warden") else {
        return Ok(None);
    };
    let bins: Vec<String> = warden["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    Ok(bins
        .iter()
        .find(|b| *b == "warden")
        .or(bins.first())
        .cloned())
}

/// `llvm-objcopy` from the `llvm-tools` rustup component of the pinned toolchain.
fn llvm_objcopy() -> Result<PathBuf> {
    let path = Toolchain::detect()?.llvm_objcopy();
    if path.exists() {
        Ok(path)
    } else {
        Err(Error::new(format!(
            "{} not found: the llvm-tools component is missing; run `cargo xtask install`",
            path.display()
        )))
    }
}

/// ELF → flat binary (the loadable segments from the lowest load address on).
fn objcopy(elf: &Path, bin: &Path) -> Result<()> {
    util::run(
        Command::new(llvm_objcopy()?)
            .args(["-O", "binary"])
            .arg(elf)
            .arg(bin),
    )?;
    let size = fs::metadata(bin)?.len();
    step(&format!("image {} ({size} bytes)", bin.display()));
    Ok(())
}

/// The lowest physical load address and the entry point of an ELF64 (little-endian) file.
pub fn elf_load_info(bytes: &[u8]) -> Option<(u64, u64)> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(bytes.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?));
    if !bytes.starts_with(b"\x7fELF") || bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        return None;
    }
    let entry = u64_at(0x18)?;
    let (phoff, phentsize, phnum) = (
        u64_at(0x20)? as usize,
        u16_at(0x36)? as usize,
        u16_at(0x38)? as usize,
    );
    let mut lowest: Option<u64> = None;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        const PT_LOAD: u32 = 1;
        if u32_at(ph)? == PT_LOAD && u64_at(ph + 0x20)? > 0 {
            let paddr = u64_at(ph + 0x18)?;
            lowest = Some(lowest.map_or(paddr, |l| l.min(paddr)));
        }
    }
    Some((lowest?, entry))
}

/// Checks that `elf` is linked to run from `addr` (lowest load address and entry point).
fn check_link_address(elf: &Path, addr: u64) -> Result<()> {
    let bytes =
        fs::read(elf).map_err(|e| Error::new(format!("cannot read {}: {e}", elf.display())))?;
    match elf_load_info(&bytes) {
        Some((load, entry)) if load == addr && entry == addr => Ok(()),
        Some((load, entry)) => Err(Error::new(format!(
            "{} is linked at {load:#x} with entry {entry:#x}; it must load and start at {addr:#x}",
            elf.display()
        ))),
        None => Err(Error::new(format!(
            "{} is not an ELF64 little-endian file with loadable segments",
            elf.display()
        ))),
    }
}

fn is_elf(path: &Path) -> bool {
    fs::read(path)
        .map(|b| b.starts_with(b"\x7fELF"))
        .unwrap_or(false)
}

/// The images of a build: the RMM image is `None` when there is none to boot.
pub struct Built {
    /// Monitor and host driver, plus the RMM image path (meaningful only when `have_rmm`).
    pub images: Images,
    /// Whether an RMM image exists.
    pub have_rmm: bool,
}

/// Builds the firmware images. `rmm` overrides the Warden image (ELF or flat binary); when it is
/// given, the `warden` package is not built. `storm_ops` sets the host driver's storm size.
pub fn build_images(rmm: Option<&Path>, storm_ops: Option<u32>) -> Result<Built> {
    build_images_with(rmm, storm_ops, true)
}

/// [`build_images`], with Warden's `trace` feature on or off (`bench` measures without it).
pub fn build_images_with(rmm: Option<&Path>, storm_ops: Option<u32>, trace: bool) -> Result<Built> {
    let warden_bin = if rmm.is_some() {
        None
    } else {
        warden_firmware_bin()?
    };
    let mut what: Vec<String> = TESTBED_PACKAGES
        .iter()
        .map(|(p, _)| p.to_string())
        .collect();
    if let Some(bin) = &warden_bin {
        what.push(format!("warden (bin `{bin}`)"));
    }
    step(&format!(
        "building {} (--profile {FIRMWARE_PROFILE}, --target {FIRMWARE_TARGET})",
        what.join(", ")
    ));
    let mut cmd = util::cargo();
    cmd.args([
        "build",
        "--profile",
        FIRMWARE_PROFILE,
        "--target",
        FIRMWARE_TARGET,
    ]);
    // Every binary is named: a `--bin` filter applies to all selected packages, so naming only
    // Warden's would silently skip (and leave stale) the testbed images.
    for (package, bin) in TESTBED_PACKAGES {
        cmd.args(["-p", package, "--bin", bin]);
    }
    if let Some(bin) = &warden_bin {
        // With the trace ring and its drain command: the host driver drains it after each
        // scenario into trace-<scenario>.bin (see xtask/src/trace.rs).
        if trace {
            cmd.args(["-p", "warden", "--bin", bin, "--features", "warden/trace"]);
        } else {
            cmd.args(["-p", "warden", "--bin", bin]);
        }
    }
    match storm_ops {
        Some(n) => {
            step(&format!(
                "storm scenario: {n} operations per CPU ({STORM_OPS_ENV})"
            ));
            cmd.env(STORM_OPS_ENV, n.to_string());
        }
        None => {
            cmd.env_remove(STORM_OPS_ENV);
        }
    }
    util::run(&mut cmd)?;

    let out_dir = target_dir().join(FIRMWARE_TARGET).join(FIRMWARE_PROFILE);
    let images = images_dir();
    fs::create_dir_all(&images)?;
    for ((_, bin), addr) in TESTBED_PACKAGES.iter().zip([0, qemu::HOST_LOAD_ADDR]) {
        let elf = out_dir.join(bin);
        check_link_address(&elf, addr)?;
        objcopy(&elf, &images.join(format!("{bin}.bin")))?;
    }
    let warden_image = images.join("warden.bin");
    let rmm_image = match (rmm, &warden_bin) {
        (Some(path), _) if is_elf(path) => {
            check_link_address(path, qemu::RMM_LOAD_ADDR)?;
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bin = images.join(format!("{stem}.rmm.bin"));
            objcopy(path, &bin)?;
            Some(bin)
        }
        (Some(path), _) => {
            step(&format!(
                "RMM image {} (flat binary, loaded at {:#x})",
                path.display(),
                qemu::RMM_LOAD_ADDR
            ));
            Some(path.to_path_buf())
        }
        (None, Some(bin)) => {
            let elf = out_dir.join(bin);
            match check_link_address(&elf, qemu::RMM_LOAD_ADDR) {
                Ok(()) => {
                    objcopy(&elf, &warden_image)?;
                    Some(warden_image.clone())
                }
                Err(why) => {
                    let _ = fs::remove_file(&warden_image);
                    step(&format!(
                        "note: no warden.bin: the `warden` firmware is not bootable yet: {why}"
                    ));
                    None
                }
            }
        }
        (None, None) => {
            let _ = fs::remove_file(&warden_image);
            step("note: no warden.bin: the `warden` package has no firmware binary yet");
            None
        }
    };
    let guest = build_guest(&images)?;
    let have_rmm = rmm_image.is_some();
    Ok(Built {
        images: Images {
            monitor: images.join("testbed-el3.bin"),
            rmm: rmm_image.unwrap_or(warden_image),
            host: images.join("testbed-host.bin"),
            guest: Some(guest),
        },
        have_rmm,
    })
}

/// Builds bench-guest (`--profile firmware --target aarch64-unknown-none`), checks it is linked
/// and starts at its Realm IPA, and makes `images/bench-guest.bin`.
fn build_guest(images: &Path) -> Result<PathBuf> {
    step(&format!(
        "building {GUEST_PACKAGE} (--profile {FIRMWARE_PROFILE}, --target {GUEST_TARGET})"
    ));
    util::run(util::cargo().args([
        "build",
        "--profile",
        FIRMWARE_PROFILE,
        "--target",
        GUEST_TARGET,
        "-p",
        GUEST_PACKAGE,
        "--bin",
        GUEST_PACKAGE,
    ]))?;
    let elf = target_dir()
        .join(GUEST_TARGET)
        .join(FIRMWARE_PROFILE)
        .join(GUEST_PACKAGE);
    check_link_address(&elf, qemu::GUEST_LINK_ADDR)?;
    let bin = images.join(format!("{GUEST_PACKAGE}.bin"));
    objcopy(&elf, &bin)?;
    Ok(bin)
}

/// `cargo xtask build`.
pub fn build() -> Result<()> {
    install::ensure(Needs::BUILD)?;
    build_images(None, None).map(|_| ())
}

fn prepare_run(args: &RunArgs) -> Result<(Images, PathBuf)> {
    let Built { images, have_rmm } = build_images(args.rmm.as_deref(), args.storm_ops)?;
    if !have_rmm {
        return Err(Error::new(
            "no RMM image to boot: Warden's firmware is not bootable yet (see the note above); pass `--rmm <image>`",
        ));
    }
    if !images.rmm.exists() {
        return Err(Error::new(format!(
            "RMM image {} does not exist",
            images.rmm.display()
        )));
    }
    qemu::require()?;
    let workdir = target_dir().join("qemu-run");
    fs::create_dir_all(&workdir)?;
    let _ = fs::remove_file(workdir.join(RESULTS_FILE));
    crate::trace::clear(&workdir);
    crate::attest::prepare(&workdir, images.guest.as_deref())?;
    Ok((images, workdir))
}

/// The file the host driver writes through semihosting (relative to QEMU's working directory).
const RESULTS_FILE: &str = "testbed-results.txt";

/// `cargo xtask run`.
pub fn run(args: &RunArgs) -> Result<()> {
    install::ensure(Needs::RUN)?;
    let (images, workdir) = prepare_run(args)?;
    let outcome = qemu::run_interactive(&images, &args.qemu_options(), &workdir)?;
    let secs = outcome.elapsed.as_secs_f64();
    match outcome.code() {
        Some(0) => {
            step(&format!("QEMU exited with status 0 after {secs:.1} s"));
            crate::trace::print_stats(&workdir)?;
            if crate::attest::selected(args.only.as_deref()) {
                println!("{}", crate::attest::verify(&workdir)?);
            }
            Ok(())
        }
        Some(code) => Err(Error::with_code(
            format!("QEMU exited with status {code} after {secs:.1} s"),
            code,
        )),
        None if outcome.status.is_none() => Err(Error::with_code(
            format!("QEMU timed out after {} s and was killed", args.timeout),
            124,
        )),
        None => Err(Error::new(format!(
            "QEMU was killed by a signal ({:?})",
            outcome.status
        ))),
    }
}

/// The host driver's closing line: `N passed, M failed`.
pub fn summary_line(console: &[String]) -> Option<(u32, u32)> {
    console.iter().rev().find_map(|line| {
        let (passed, rest) = line.trim().split_once(" passed, ")?;
        let failed = rest.strip_suffix(" failed")?;
        Some((passed.trim().parse().ok()?, failed.trim().parse().ok()?))
    })
}

/// The scenario the host driver started last without finishing it (`host: scenario <name>` with no
/// `PASS <name>`/`FAIL <name>` line after it).
fn running_scenario(console: &[String]) -> Option<&str> {
    let started = console
        .iter()
        .rev()
        .find_map(|line| line.trim().strip_prefix("host: scenario "))?;
    let finished = console.iter().rev().any(|line| {
        (line.starts_with("PASS ") || line.starts_with("FAIL "))
            && line[5..]
                .strip_prefix(started)
                .is_some_and(|r| r.starts_with(':'))
    });
    (!finished).then_some(started)
}

/// `cargo xtask qemu-e2e`.
pub fn qemu_e2e(args: &RunArgs) -> Result<()> {
    install::ensure(Needs::RUN)?;
    run_e2e(args)
}

/// The QEMU end-to-end tier (prerequisites already ensured).
fn run_e2e(args: &RunArgs) -> Result<()> {
    let (images, workdir) = prepare_run(args)?;
    let outcome = qemu::run_captured(&images, &args.qemu_options(), &workdir)?;
    let secs = outcome.elapsed.as_secs_f64();
    for line in outcome
        .console
        .iter()
        .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
    {
        println!("    {line}");
    }
    let summary = summary_line(&outcome.console);
    let problem = match (outcome.status, outcome.code(), summary) {
        (None, _, _) if outcome.fatal.is_some() => Some(format!(
            "`{}` on the console{}; QEMU was stopped {} s later (a CPU is parked or hung)",
            outcome.fatal.as_deref().unwrap_or_default(),
            running_scenario(&outcome.console)
                .map(|s| format!(" during scenario `{s}`"))
                .unwrap_or_default(),
            qemu::FATAL_GRACE.as_secs()
        )),
        (None, _, _) if running_scenario(&outcome.console).is_some() => Some(format!(
            "QEMU timed out after {} s and was killed, during scenario `{}`",
            args.timeout,
            running_scenario(&outcome.console).unwrap_or_default()
        )),
        (None, _, _) => Some(format!(
            "QEMU timed out after {} s and was killed",
            args.timeout
        )),
        (Some(_), Some(0), Some((passed, 0))) if passed > 0 => None,
        (Some(_), Some(0), Some((0, 0))) => Some("the host driver ran no scenario".to_string()),
        (Some(_), code, Some((p, f))) => Some(format!(
            "{p} passed, {f} failed (QEMU exit status {code:?})"
        )),
        (Some(_), code, None) => Some(format!(
            "no `N passed, N failed` line on the console (QEMU exit status {code:?})"
        )),
    };
    let log = workdir.join("console.log");
    match problem {
        None => {
            let (passed, _) = summary.unwrap_or_default();
            step(&format!(
                "QEMU end-to-end: {passed} scenarios passed in {secs:.1} s (console: {})",
                log.display()
            ));
            // The trace check needs the `smoke` scenario, which `--only` may leave out.
            if args
                .only
                .as_deref()
                .is_none_or(|o| o.split(',').any(|n| n == "smoke"))
            {
                step(&crate::trace::check_smoke(&workdir)?);
            }
            // The `realm` scenario's attestation token (see xtask/src/attest.rs).
            if crate::attest::selected(args.only.as_deref()) {
                println!("    {}", crate::attest::verify(&workdir)?);
            }
            Ok(())
        }
        Some(problem) => {
            eprintln!("---- console tail ({}) ----", log.display());
            for line in qemu::tail(&outcome.console, 60) {
                eprintln!("{line}");
            }
            eprintln!("---- end of console tail ----");
            Err(Error::new(format!(
                "QEMU end-to-end failed after {secs:.1} s: {problem}"
            )))
        }
    }
}

/// `cargo xtask test`.
pub fn test() -> Result<()> {
    let start = Instant::now();
    install::ensure(Needs::ALL)?;
    let mut times: Vec<(String, f64)> = Vec::new();
    let mut tier = |name: &str, cmd: &mut Command| -> Result<()> {
        step(&format!("{name}: {}", util::describe(cmd)));
        let t = Instant::now();
        util::run(cmd).map_err(|e| Error::new(format!("tier `{name}` failed: {e}")))?;
        let secs = t.elapsed().as_secs_f64();
        step(&format!("{name}: ok ({secs:.1} s)"));
        times.push((name.to_string(), secs));
        Ok(())
    };
    // Every default member's unit, integration (including warden's proptest model) and doc tests.
    tier("unit tests (default members)", util::cargo().arg("test"))?;
    tier(
        "testbed unit tests",
        util::cargo().args(["test", "-p", "testbed-el3", "-p", "testbed-host"]),
    )?;
    tier(
        "host clippy",
        util::cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    tier(
        "firmware clippy",
        util::cargo().args([
            "clippy",
            "--target",
            FIRMWARE_TARGET,
            "-p",
            "warden",
            "-p",
            "testbed-el3",
            "-p",
            "testbed-host",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    tier(
        "guest clippy",
        util::cargo().args([
            "clippy",
            "--target",
            GUEST_TARGET,
            "-p",
            GUEST_PACKAGE,
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // loom-tests/README.md's CI run: the models under `--cfg loom`, in their own target directory
    // (`--cfg loom` applies to every crate).
    tier(
        "loom models (RUSTFLAGS=\"--cfg loom\")",
        util::cargo()
            .env("RUSTFLAGS", "--cfg loom")
            .args(["test", "-p", "loom-tests", "--release", "--target-dir"])
            .arg(target_dir().join("loom")),
    )?;
    // The libFuzzer targets (fuzz/, xtask/src/fuzz.rs): built once, each run for a bounded time.
    let name = "fuzz smoke";
    step(&format!(
        "{name}: cargo fuzz build, then {} targets × {} s from the committed seeds",
        crate::fuzz::TARGETS.len(),
        crate::fuzz::SMOKE_SECONDS
    ));
    let t = Instant::now();
    let summary =
        crate::fuzz::smoke().map_err(|e| Error::new(format!("tier `{name}` failed: {e}")))?;
    step(&format!("{summary} ({:.1} s)", t.elapsed().as_secs_f64()));
    times.push((name.to_string(), t.elapsed().as_secs_f64()));
    if QEMU_TIER_IN_TEST {
        let args = RunArgs {
            rmm: None,
            timeout: TEST_QEMU_TIMEOUT_SECS,
            qemu_args: Vec::new(),
            storm_ops: None,
            only: None,
        };
        let name = "QEMU end-to-end";
        step(&format!(
            "{name}: build the images, boot QEMU (timeout {TEST_QEMU_TIMEOUT_SECS} s)"
        ));
        let t = Instant::now();
        run_e2e(&args).map_err(|e| Error::new(format!("tier `{name}` failed: {e}")))?;
        times.push((name.to_string(), t.elapsed().as_secs_f64()));
        // An unmodified Debian kernel as a Realm (xtask/src/linux.rs): its packages are fetched
        // once and cached; without them (no network) this tier fails and says why.
        let name = "Linux Realm boot";
        step(&format!(
            "{name}: Debian kernel + busybox as a {LINUX_TIER_CPUS}-vCPU Realm, its CCA token verified (timeout {LINUX_TIER_TIMEOUT_SECS} s)"
        ));
        let t = Instant::now();
        let summary = crate::linux::tier(LINUX_TIER_CPUS, LINUX_TIER_TIMEOUT_SECS)
            .map_err(|e| Error::new(format!("tier `{name}` failed: {e}")))?;
        step(&summary);
        times.push((name.to_string(), t.elapsed().as_secs_f64()));
    }
    let summary: Vec<String> = times
        .iter()
        .map(|(name, secs)| format!("{name} {secs:.1} s"))
        .collect();
    step(&format!(
        "all tiers passed in {:.1} s ({})",
        start.elapsed().as_secs_f64(),
        summary.join(", ")
    ));
    // The plain closing line CI reads: the tiers run (each ends in its own runner's summary).
    println!("tiers: {} passed, 0 failed", times.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(entry: u64, loads: &[(u32, u64, u64)]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[0x18..0x20].copy_from_slice(&entry.to_le_bytes());
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3A].copy_from_slice(&(loads.len() as u16).to_le_bytes());
        for (ty, paddr, filesz) in loads {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&ty.to_le_bytes());
            ph[0x18..0x20].copy_from_slice(&paddr.to_le_bytes());
            ph[0x20..0x28].copy_from_slice(&filesz.to_le_bytes());
            b.extend(ph);
        }
        b
    }

    #[test]
    fn elf_load_addresses() {
        let image = elf(
            0x4010_0000,
            &[
                (1, 0x4020_0000, 16),
                (1, 0x4010_0000, 16),
                (1, 0x100, 0),
                (6, 0, 8),
            ],
        );
        assert_eq!(elf_load_info(&image), Some((0x4010_0000, 0x4010_0000)));
        assert_eq!(elf_load_info(&elf(0, &[])), None, "no loadable segment");
        assert_eq!(elf_load_info(b"not an elf"), None);
    }

    #[test]
    fn running_scenario_is_the_last_unfinished_one() {
        let mut lines: Vec<String> = [
            "host: scenario smoke",
            "PASS smoke: ok",
            "host: scenario storm",
            "warden: FATAL on CPU 1: panic",
        ]
        .map(String::from)
        .into();
        assert_eq!(running_scenario(&lines), Some("storm"));
        lines.push("FAIL storm: cpu 1 did not finish".into());
        assert_eq!(running_scenario(&lines), None);
        assert_eq!(running_scenario(&[]), None);
    }

    #[test]
    fn summary_parsing() {
        let lines: Vec<String> = [
            "PASS smoke",
            "FAIL gpt: no fault",
            "5 passed, 1 failed",
            "monitor: SYSTEM_OFF",
        ]
        .map(String::from)
        .into();
        assert_eq!(summary_line(&lines), Some((5, 1)));
        assert_eq!(summary_line(&["nothing".to_string()]), None);
    }
}
