//! `cargo xtask`: the developer entry point for Warden's toolchain, firmware images and test tiers.
//!
//! Every subcommand prints `==> …` progress lines and exits with a non-zero status on failure.
//! See `cargo xtask --help` for what each one does.

mod attest;
mod bench;
mod fuzz;
mod install;
mod linux;
mod qemu;
mod tasks;
mod trace;
mod util;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Developer tasks for Warden: toolchain/QEMU install, firmware images, QEMU runs, test tiers.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Install the Rust targets, llvm-tools, clippy and QEMU >= 8.1 (FEAT_RME)
    ///
    /// Idempotent; `build`, `run`, `qemu-e2e` and `test` run the same steps first (only the parts
    /// they need) and skip whatever is present. Adds the `aarch64-unknown-none-softfloat` and
    /// `aarch64-unknown-none` targets and the `llvm-tools` and `clippy` components with rustup when
    /// they are missing from the toolchain rust-toolchain.toml selects. If `qemu-system-aarch64` is
    /// missing or older than 8.1, it adds a `<codename>-backports` apt source using the Debian mirror
    /// of the machine's existing apt sources, runs `apt-get update` and `apt-get install -t
    /// <codename>-backports qemu-system-arm`. The apt step needs root (or sudo).
    Install,
    /// Build the firmware images into target/images/
    ///
    /// Builds testbed-el3, testbed-host and Warden's `warden` binary with `--profile firmware
    /// --target aarch64-unknown-none-softfloat`, checks each ELF is linked at its QEMU address
    /// (monitor 0x0, host driver 0x6000_0000, Warden 0x4010_0000) and turns it into a flat binary
    /// with llvm-objcopy from the `llvm-tools` rustup component. Also builds the Realm payload
    /// bench-guest (`--target aarch64-unknown-none`), checks its load address and entry are its
    /// Realm IPA 0x8000_0000, and makes bench-guest.bin, which QEMU's loader puts at NS 0x7000_0000
    /// for the host driver's `realm` scenarios.
    Build,
    /// Build everything and boot QEMU with the console on this terminal
    ///
    /// Exits with the run's status: the host driver's failure count (passed through PSCI SYSTEM_OFF
    /// and semihosting), or a monitor status >= 100 (see testbed/el3/README.md); 124 on timeout.
    /// Leave QEMU early with Ctrl-A X. The last scenario, `realm`, runs bench-guest in a Realm, so
    /// the run ends with its benchmark table (min/median/p99/max per benchmark, CNTVCT ticks).
    Run(RunArgs),
    /// Run every test tier: unit/integration tests, clippy, loom, QEMU end to end
    ///
    /// First installs what is missing (see `install`). Then, in order: `cargo test` (default
    /// workspace members: warden's unit, integration and proptest model tests, warden-abi,
    /// loom-tests as a smoke run, trace-tool, perf, xtask), `cargo test -p testbed-el3 -p
    /// testbed-host` (their host unit tests), `cargo clippy --workspace --all-targets -- -D
    /// warnings`, `cargo clippy --target aarch64-unknown-none-softfloat -p warden -p testbed-el3 -p
    /// testbed-host -- -D warnings`, the loom models (`RUSTFLAGS="--cfg loom" cargo test -p
    /// loom-tests --release --target-dir target/loom`), the fuzz smoke tier (every fuzz/ target
    /// built, then run 15 s from its seeds; see `fuzz`), and the QEMU end-to-end tier (as
    /// `qemu-e2e`, 120 s timeout; it includes the `realm` and `realm-pair` scenarios, which run
    /// bench-guest in Realms), then the Linux Realm tier (as `linux --smp 2`, 120 s timeout: the
    /// banner from `/init` with the kernel release and 2 CPUs, the Realm's CCA token verified by
    /// attest-verify, and a clean SYSTEM_OFF; it fails if the Debian packages are neither cached
    /// nor fetchable). `cargo clippy --target
    /// aarch64-unknown-none -p bench-guest` runs after the firmware clippy. Stops at the first
    /// failing tier and prints the time of each.
    Test,
    /// Run the QEMU end-to-end tier on its own
    ///
    /// Builds all images, boots QEMU with the console captured (target/qemu-run/console.log) and a
    /// timeout, prints the host driver's PASS/FAIL lines, and fails unless QEMU exits with 0 and the
    /// driver printed `N passed, 0 failed` with N > 0. Prints the console tail on failure. A
    /// `FATAL` console line (e.g. a Warden panic, which parks that CPU) stops QEMU a few seconds
    /// later instead of waiting for the timeout.
    QemuE2e(RunArgs),
    /// Deterministic REC round-trip benchmarks: instruction counts from bench-guest, compared A/B
    ///
    /// Builds the images (Warden without the `trace` feature, so the figures are those of a
    /// production build) and boots QEMU with `-icount shift=0,align=off,sleep=off` (and the usual
    /// `-smp 4`: the EL3 monitor needs its 4 redistributors), running only the host driver's
    /// `realm` scenario. Under icount the counter advances one tick per executed instruction, so
    /// every figure is an instruction count over all worlds (Realm, Warden, EL3, Host) and the same
    /// from run to run. bench-guest times each operation 64 times between `ISB; MRS CNTVCT_EL0`
    /// pairs (its own instructions around each call included): RSI_VERSION (answered inside
    /// Warden), RSI_HOST_CALL (exit to the Host and back), an emulated MMIO read and write, an SEA
    /// on EMPTY memory, IPA_STATE_GET, IPA_STATE_SET (a RIPAS_CHANGE exit, RTT_SET_RIPAS) and
    /// PSCI CPU_ON of REC 1 (PSCI exit, PSCI_COMPLETE).
    ///
    /// Writes perf/results/<name>.json (the guest's min/median/p99/max per benchmark, plus the git
    /// commit, QEMU version and command) and prints each benchmark next to the previous results
    /// file (the most recently written other one in perf/results/, or `--baseline`) with the
    /// ratio new/old of the medians: below 1.00 is faster.
    Bench(BenchArgs),
    /// Run the libFuzzer targets (fuzz/) for a while; write perf/results/fuzz-<target>.json
    ///
    /// Installs cargo-fuzz (pinned, `cargo install --locked`) if missing, builds every target with
    /// `cargo fuzz build -O -a` (optimised, debug assertions and overflow checks, AddressSanitizer by
    /// default) on the pinned stable toolchain with RUSTC_BOOTSTRAP=1 set for that build only, then
    /// runs each target (or those named with --target) for the given time: the working corpus is
    /// fuzz/target/corpus/<target> (kept between runs), the committed seeds fuzz/corpus/<target>,
    /// the dictionary fuzz/dict/<target>.dict; an input running over 10 s is a hang. Prints
    /// progress, then per target a summary (executions, exec/s, coverage and features from
    /// libFuzzer's final status line, corpus size, crashes, the exact command), also written to
    /// perf/results/fuzz-<target>.json. Any crash, panic, hang or OOM exits non-zero with the
    /// artifact path (fuzz/artifacts/<target>/) and the command that reproduces it.
    ///
    /// Targets: rmi_fid (every RMI FID, arbitrary X1-X6), rmi_sequence (RMI sequences checked
    /// against the spec model of tests/model/spec.rs), rec_exit (arbitrary RmiRecEnter and Realm
    /// exits), manifest (boot manifests). See fuzz/README.md. The long run:
    /// `cargo xtask fuzz --minutes 30 --jobs 2` (4 targets x 30 min, two at a time: about 1 h).
    Fuzz(FuzzArgs),
    /// Boot an unmodified Debian arm64 kernel as a Realm on Warden, with the Realm's console shown
    ///
    /// Fetches (once; cached and sha256-verified under target/linux/) the pinned Debian
    /// `linux-binary-unsigned-*-cloud-arm64`, `linux-modules-*-cloud-arm64` and `busybox-static`
    /// packages with `apt-get download` (private apt state, the machine's own Debian mirror),
    /// builds a busybox initramfs (with the configfs, tsm_report and arm-cca-guest modules) and the
    /// Realm's device tree (a fresh attestation challenge on its command line), and boots QEMU with
    /// Warden and the host driver's VMM (scenario `linux`): the Realm's PL011 output appears
    /// prefixed `realm| `. `/init` prints a banner with `uname -r` and the CPU count, requests a
    /// CCA token through configfs-tsm and prints it in hex, then powers off (PSCI SYSTEM_OFF).
    /// xtask writes target/linux/realm-token.cbor and the Realm description realm.json, and
    /// verifies the token with attest-verify (TEST IAK, binding, challenge, recomputed RIM).
    Linux(linux::LinuxArgs),
}

/// Options of `fuzz`.
#[derive(Args, Debug, Clone)]
struct FuzzArgs {
    /// Run only this target (repeat for several): rmi_fid, rmi_sequence, rec_exit, manifest.
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
    /// Seconds per target (default 60).
    #[arg(long, value_name = "N", conflicts_with = "minutes")]
    seconds: Option<u64>,
    /// Minutes per target.
    #[arg(long, value_name = "N")]
    minutes: Option<u64>,
    /// Targets fuzzed at once (each is one libFuzzer process on one core).
    #[arg(long, value_name = "N", default_value_t = 1)]
    jobs: usize,
    /// Sanitizer: `address` (default: catches memory errors in Warden's unsafe code) or `none`
    /// (faster).
    #[arg(long, value_name = "NAME", default_value = "address", value_parser = ["address", "none"])]
    sanitizer: String,
    /// Only regenerate the committed seed corpus (fuzz/corpus/<target>/seed-*) and the
    /// dictionaries (fuzz/dict/*.dict) with fuzz/examples/seeds.rs, then exit.
    #[arg(long)]
    write_seeds: bool,
    /// Run exactly the smoke tier of `cargo xtask test` (every target 15 s from the seeds, two at
    /// a time, a fresh working corpus; no JSON written), then exit.
    #[arg(long)]
    smoke: bool,
}

/// Options of `bench`.
#[derive(Args, Debug, Clone)]
struct BenchArgs {
    /// Name of the results file, perf/results/<NAME>.json. Default:
    /// `<UTC date>T<time>Z-<git short commit>[-dirty]`.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Compare against this results file instead of the most recent one in perf/results/.
    #[arg(long, value_name = "PATH")]
    baseline: Option<PathBuf>,
    /// Measure another RMM image (flat binary, or an ELF at 0x4010_0000), e.g. an older Warden.
    #[arg(long, value_name = "PATH")]
    rmm: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

/// Options shared by `run` and `qemu-e2e`.
#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// The RMM image to load at 0x4010_0000 (flat binary, or an ELF that is converted first).
    /// Default: `target/images/warden.bin` built from the `warden` package.
    #[arg(long, value_name = "PATH")]
    rmm: Option<PathBuf>,
    /// Give up after this many seconds (the QEMU process is killed and the run fails).
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Extra arguments appended to the QEMU command line (repeat for several).
    #[arg(long = "qemu-arg", value_name = "ARG", allow_hyphen_values = true)]
    qemu_args: Vec<String>,
    /// Operations per CPU of the host driver's `storm` scenario (default 2000); larger values
    /// hunt rarer races (rebuilds the host driver).
    #[arg(long, value_name = "N")]
    storm_ops: Option<u32>,
    /// Run only these host driver scenarios (comma-separated names, e.g. `realm,realm-pair`).
    #[arg(long, value_name = "NAMES")]
    only: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Install => install::install(),
        Command::Build => tasks::build(),
        Command::Run(args) => tasks::run(&args),
        Command::Test => tasks::test(),
        Command::QemuE2e(args) => tasks::qemu_e2e(&args),
        Command::Linux(args) => linux::linux(&args),
        Command::Fuzz(args) => fuzz::fuzz(&fuzz::Request {
            targets: args.targets,
            seconds: args.minutes.map_or(args.seconds.unwrap_or(60), |m| m * 60),
            jobs: args.jobs,
            sanitizer: args.sanitizer,
            write_seeds: args.write_seeds,
            smoke: args.smoke,
        }),
        Command::Bench(args) => bench::bench(&bench::Request {
            name: args.name,
            baseline: args.baseline,
            rmm: args.rmm,
            timeout: args.timeout,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

impl RunArgs {
    fn qemu_options(&self) -> qemu::Options {
        qemu::Options {
            timeout_secs: self.timeout,
            extra_args: self.qemu_args.clone(),
            only: self.only.clone(),
        }
    }
}
