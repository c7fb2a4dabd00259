//! `cargo xtask`: the developer entry point for Warden's toolchain, firmware images and test tiers.
//!
//! Every subcommand prints `==> …` progress lines and exits with a non-zero status on failure.
//! See `cargo xtask --help` for what each one does.

mod install;
mod qemu;
mod tasks;
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
    /// with llvm-objcopy from the `llvm-tools` rustup component.
    Build,
    /// Build everything and boot QEMU with the console on this terminal
    ///
    /// Exits with the run's status: the host driver's failure count (passed through PSCI SYSTEM_OFF
    /// and semihosting), or a monitor status >= 100 (see testbed/el3/README.md); 124 on timeout.
    /// Leave QEMU early with Ctrl-A X.
    Run(RunArgs),
    /// Run every test tier: unit/integration tests, clippy, loom, QEMU end to end
    ///
    /// First installs what is missing (see `install`). Then, in order: `cargo test` (default
    /// workspace members: warden's unit, integration and proptest model tests, warden-abi,
    /// loom-tests as a smoke run, trace-tool, perf, xtask), `cargo test -p testbed-el3 -p
    /// testbed-host` (their host unit tests), `cargo clippy --workspace --all-targets -- -D
    /// warnings`, `cargo clippy --target aarch64-unknown-none-softfloat -p warden -p testbed-el3 -p
    /// testbed-host -- -D warnings`, the loom models (`RUSTFLAGS="--cfg loom" cargo test -p
    /// loom-tests --release --target-dir target/loom`), and the QEMU end-to-end tier (as
    /// `qemu-e2e`, 120 s timeout). Stops at the first failing tier and prints the time of each.
    Test,
    /// Run the QEMU end-to-end tier on its own
    ///
    /// Builds all images, boots QEMU with the console captured (target/qemu-run/console.log) and a
    /// timeout, prints the host driver's PASS/FAIL lines, and fails unless QEMU exits with 0 and the
    /// driver printed `N passed, 0 failed` with N > 0. Prints the console tail on failure. A
    /// `FATAL` console line (e.g. a Warden panic, which parks that CPU) stops QEMU a few seconds
    /// later instead of waiting for the timeout.
    QemuE2e(RunArgs),
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Install => install::install(),
        Command::Build => tasks::build(),
        Command::Run(args) => tasks::run(&args),
        Command::Test => tasks::test(),
        Command::QemuE2e(args) => tasks::qemu_e2e(&args),
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
        }
    }
}
