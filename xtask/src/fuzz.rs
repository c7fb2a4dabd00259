//! `cargo xtask fuzz` and the fuzz smoke tier of `cargo xtask test`: Warden's libFuzzer targets
//! (the `fuzz/` crate, cargo-fuzz layout) built and run on the pinned *stable* toolchain.
//!
//! Owns the cargo-fuzz invocations, the progress lines, the parsing of libFuzzer's output
//! (status lines `#N … cov: C ft: F corp: …`, `-print_final_stats=1`, `Test unit written to …`)
//! and the JSON summaries (`perf/results/fuzz-<target>.json`). It must never hide a crash: any
//! libFuzzer failure (crash, panic, timeout = hang, OOM, leak) fails the command with the artifact
//! path and the command that reproduces it.
//!
//! Stable toolchain: cargo-fuzz passes nightly-only flags (`-Zsanitizer=address`, and its
//! `-Cpasses=sancov-module` coverage set-up relies on `-Z` options in some modes), which a stable
//! rustc refuses unless `RUSTC_BOOTSTRAP=1` is set. It is set here, for the fuzz build only (never
//! in the workspace's own builds). With it the stable 1.95 toolchain builds the targets with
//! AddressSanitizer (its runtime ships in the stable rust-std) and libFuzzer (compiled from
//! libfuzzer-sys's C++ sources with the machine's g++); `--sanitizer none` is offered for speed.
//! Builds are `-O -a`: optimised, with debug assertions and overflow checks (an overflow in Warden
//! is a crash, as in the host tests).

use std::collections::VecDeque;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::install;
use crate::util::{self, Error, Result, step};

/// Every fuzz target (fuzz/Cargo.toml's `[[bin]]`s).
pub const TARGETS: [&str; 4] = ["rmi_fid", "rmi_sequence", "rec_exit", "manifest"];

/// Seconds each target runs in the smoke tier of `cargo xtask test`.
pub const SMOKE_SECONDS: u64 = 15;
/// Targets the smoke tier runs at once (CI has two cores).
const SMOKE_JOBS: usize = 2;
/// libFuzzer's per-input time limit: an input that runs longer is a hang.
const INPUT_TIMEOUT_SECS: u64 = 10;
/// libFuzzer's memory limit per process.
const RSS_LIMIT_MB: u64 = 2048;

/// What `cargo xtask fuzz` was asked for.
#[derive(Clone, Debug)]
pub struct Request {
    /// Targets to run (empty: all).
    pub targets: Vec<String>,
    /// Seconds per target.
    pub seconds: u64,
    /// Targets run at once.
    pub jobs: usize,
    /// `address` (default) or `none`.
    pub sanitizer: String,
    /// Only regenerate the committed seed corpus and dictionaries.
    pub write_seeds: bool,
    /// Only run the smoke tier of `cargo xtask test`.
    pub smoke: bool,
}

/// The fuzz crate's directory.
fn fuzz_dir() -> PathBuf {
    util::workspace_root().join("fuzz")
}

/// `cargo fuzz <sub>` run from the workspace root with `RUSTC_BOOTSTRAP=1` (see the module docs).
fn cargo_fuzz(sub: &str) -> Command {
    let mut cmd = util::cargo();
    cmd.env("RUSTC_BOOTSTRAP", "1").args(["fuzz", sub]);
    cmd
}

/// The build/run options shared by `cargo fuzz build` and `cargo fuzz run`.
fn profile_args(cmd: &mut Command, sanitizer: &str) {
    cmd.args(["-O", "-a", "--sanitizer", sanitizer]);
}

/// Builds every fuzz target.
fn build(sanitizer: &str) -> Result<()> {
    install::ensure_cargo_fuzz()?;
    let mut cmd = cargo_fuzz("build");
    profile_args(&mut cmd, sanitizer);
    step(&format!(
        "building the fuzz targets: RUSTC_BOOTSTRAP=1 {}",
        util::describe(&cmd)
    ));
    let t = Instant::now();
    util::run(&mut cmd)?;
    step(&format!(
        "fuzz targets built ({:.1} s)",
        t.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// What one libFuzzer run did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    /// Inputs executed.
    pub executions: u64,
    /// Coverage (`cov:`: edges/PCs covered).
    pub coverage: u64,
    /// Features (`ft:`).
    pub features: u64,
    /// Corpus entries libFuzzer held at the end (`corp:`).
    pub corpus_entries: u64,
    /// New units added during the run.
    pub new_units: u64,
    /// Average executions per second.
    pub exec_per_sec: u64,
    /// Peak RSS in MiB.
    pub peak_rss_mb: u64,
    /// Slowest input, seconds.
    pub slowest_unit_secs: u64,
    /// The crash/timeout/OOM artifacts written.
    pub artifacts: Vec<String>,
    /// libFuzzer's `SUMMARY:` line, if it failed.
    pub failure: Option<String>,
}

/// The number after `key` in `line` (`cov: 123` → 123).
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl Outcome {
    /// Takes in one line of libFuzzer's output.
    pub fn line(&mut self, line: &str) {
        let line = line.trim();
        if line.starts_with('#') && line.contains(" cov: ") {
            if let Some(n) = number_after(line, "#") {
                self.executions = self.executions.max(n);
            }
            self.coverage = number_after(line, "cov:").unwrap_or(self.coverage);
            self.features = number_after(line, "ft:").unwrap_or(self.features);
            self.corpus_entries = number_after(line, "corp:").unwrap_or(self.corpus_entries);
        } else if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            self.executions = v.trim().parse().unwrap_or(self.executions);
        } else if let Some(v) = line.strip_prefix("stat::average_exec_per_sec:") {
            self.exec_per_sec = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("stat::new_units_added:") {
            self.new_units = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("stat::slowest_unit_time_sec:") {
            self.slowest_unit_secs = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("stat::peak_rss_mb:") {
            self.peak_rss_mb = v.trim().parse().unwrap_or(0);
        } else if let Some((_, path)) = line.split_once("Test unit written to ") {
            self.artifacts.push(path.trim().to_string());
        } else if line.starts_with("SUMMARY: ") {
            self.failure = Some(line.to_string());
        }
    }

    /// A short progress text.
    fn progress(&self) -> String {
        format!(
            "{} execs, cov {}, ft {}, corpus {}",
            self.executions, self.coverage, self.features, self.corpus_entries
        )
    }
}

/// A finished run of one target.
struct Run {
    target: String,
    outcome: Outcome,
    command: String,
    seconds: u64,
    elapsed: f64,
    success: bool,
    corpus_dir: PathBuf,
    tail: VecDeque<String>,
}

/// Files in `dir` (0 if it does not exist).
fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .count()
        })
        .unwrap_or(0)
}

/// The `cargo fuzz run` command for `target`: the working corpus first (libFuzzer adds new inputs
/// there), the committed seeds second (read only).
fn run_command(target: &str, seconds: u64, sanitizer: &str, corpus: &Path) -> Command {
    let fuzz = Path::new("fuzz");
    let mut cmd = cargo_fuzz("run");
    profile_args(&mut cmd, sanitizer);
    cmd.arg(target)
        .arg(corpus)
        .arg(fuzz.join("corpus").join(target));
    cmd.arg("--");
    cmd.arg(format!("-max_total_time={seconds}"));
    cmd.arg(format!("-timeout={INPUT_TIMEOUT_SECS}"));
    cmd.arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"));
    cmd.arg(format!(
        "-dict={}",
        fuzz.join("dict").join(format!("{target}.dict")).display()
    ));
    cmd.args(["-print_final_stats=1", "-print_pcs=0", "-reduce_inputs=1"]);
    cmd
}

/// Runs `target` for `seconds`, printing a progress line every `every`.
fn run_target(
    target: &str,
    seconds: u64,
    sanitizer: &str,
    corpus: &Path,
    every: Duration,
) -> Result<Run> {
    fs::create_dir_all(util::workspace_root().join(corpus))?;
    let mut cmd = run_command(target, seconds, sanitizer, corpus);
    // As a user types it (cargo by name, paths relative to the workspace root, where it runs).
    let described = util::describe(&cmd);
    let command = format!(
        "RUSTC_BOOTSTRAP=1 cargo {}",
        described.split_once(' ').map_or("", |(_, a)| a)
    );
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::new(format!("cannot start `{command}`: {e}")))?;
    // libFuzzer writes everything to stderr; cargo's own lines too. Read both on threads.
    let (tx, rx) = mpsc::channel::<String>();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|r| {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        })
    })
    .collect();
    drop(tx);
    let mut outcome = Outcome::default();
    let mut tail = VecDeque::new();
    let mut next = every;
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => {
                outcome.line(&line);
                tail.push_back(line);
                if tail.len() > 60 {
                    tail.pop_front();
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if start.elapsed() >= next {
            step(&format!(
                "{target}: {:.0} s / {seconds} s: {}",
                start.elapsed().as_secs_f64(),
                outcome.progress()
            ));
            next += every;
        }
    }
    for r in readers {
        let _ = r.join();
    }
    let status = child.wait()?;
    Ok(Run {
        target: target.to_string(),
        success: status.success() && outcome.artifacts.is_empty() && outcome.failure.is_none(),
        outcome,
        command,
        seconds,
        elapsed: start.elapsed().as_secs_f64(),
        corpus_dir: corpus.to_path_buf(),
        tail,
    })
}

/// Runs `targets` for `seconds` each, `jobs` at a time; returns the runs in target order.
fn run_all(
    targets: &[String],
    seconds: u64,
    jobs: usize,
    sanitizer: &str,
    corpus_root: &Path,
    every: Duration,
) -> Result<Vec<Run>> {
    let mut runs = Vec::new();
    for chunk in targets.chunks(jobs.max(1)) {
        let handles: Vec<_> = chunk
            .iter()
            .map(|t| {
                let (t, s, c) = (t.clone(), sanitizer.to_string(), corpus_root.join(t));
                std::thread::spawn(move || run_target(&t, seconds, &s, &c, every))
            })
            .collect();
        for h in handles {
            runs.push(
                h.join()
                    .map_err(|_| Error::new("a fuzz run thread panicked"))??,
            );
        }
    }
    Ok(runs)
}

/// The line printed for a run.
fn describe_run(r: &Run) -> String {
    let o = &r.outcome;
    format!(
        "{}: {} in {:.0} s: {} executions ({}/s), coverage {} (features {}), corpus {} entries ({} new), {}",
        r.target,
        if r.success { "ok" } else { "FAILED" },
        r.elapsed,
        o.executions,
        o.exec_per_sec,
        o.coverage,
        o.features,
        o.corpus_entries,
        o.new_units,
        match o.artifacts.len() {
            0 => "0 crashes".to_string(),
            n => format!("{n} crash(es): {}", o.artifacts.join(", ")),
        }
    )
}

/// Fails with every failed run's reason, artifact and reproducer.
fn check(runs: &[Run]) -> Result<()> {
    let failed: Vec<&Run> = runs.iter().filter(|r| !r.success).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let mut msg = String::new();
    for r in &failed {
        eprintln!(
            "---- {}: the last lines of libFuzzer's output ----",
            r.target
        );
        for l in &r.tail {
            eprintln!("{l}");
        }
        let why = r
            .outcome
            .failure
            .clone()
            .unwrap_or_else(|| "libFuzzer exited with an error".into());
        msg.push_str(&format!("\n  {}: {why}", r.target));
        for a in &r.outcome.artifacts {
            msg.push_str(&format!(
                "\n    artifact {a}\n    reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run -O -a {} {a}",
                r.target
            ));
        }
    }
    Err(Error::new(format!(
        "{} fuzz target(s) failed:{msg}",
        failed.len()
    )))
}

/// `git rev-parse --short HEAD` plus `-dirty`, if git answers.
fn git_commit() -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(util::workspace_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = run(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = run(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    }
}

/// Writes `perf/results/fuzz-<target>.json` for a run.
fn write_summary(r: &Run, sanitizer: &str) -> Result<PathBuf> {
    let o = &r.outcome;
    let record = json!({
        "target": r.target,
        "seconds_requested": r.seconds,
        "duration_secs": (r.elapsed * 10.0).round() / 10.0,
        "executions": o.executions,
        "exec_per_sec": o.exec_per_sec,
        "coverage": o.coverage,
        "features": o.features,
        "corpus_entries": o.corpus_entries,
        "corpus_files": count_files(&util::workspace_root().join(&r.corpus_dir)),
        "seed_files": count_files(&fuzz_dir().join("corpus").join(&r.target)),
        "new_units": o.new_units,
        "peak_rss_mb": o.peak_rss_mb,
        "slowest_unit_secs": o.slowest_unit_secs,
        "crashes": o.artifacts.len(),
        "artifacts": o.artifacts,
        "failure": o.failure,
        "sanitizer": sanitizer,
        "command": r.command,
        "git_commit": git_commit(),
        "cargo_fuzz": install::CARGO_FUZZ_VERSION,
        "rustc": crate::install::Toolchain::detect().map(|t| t.version).unwrap_or_default(),
    });
    let dir = util::workspace_root().join("perf").join("results");
    fs::create_dir_all(&dir)?;
    let path = dir.join(format!("fuzz-{}.json", r.target));
    let text = serde_json::to_string_pretty(&record)
        .map_err(|e| Error::new(format!("summary JSON: {e}")))?;
    fs::write(&path, text + "\n")?;
    Ok(path)
}

fn selected(targets: &[String]) -> Result<Vec<String>> {
    if targets.is_empty() {
        return Ok(TARGETS.iter().map(|t| t.to_string()).collect());
    }
    for t in targets {
        if !TARGETS.contains(&t.as_str()) {
            return Err(Error::new(format!(
                "no fuzz target `{t}` (targets: {})",
                TARGETS.join(", ")
            )));
        }
    }
    Ok(targets.to_vec())
}

/// `cargo xtask fuzz`.
pub fn fuzz(req: &Request) -> Result<()> {
    if req.write_seeds {
        step(
            "writing the seed corpus and dictionaries: cargo run --release --manifest-path fuzz/Cargo.toml --example seeds",
        );
        return util::run(
            util::cargo()
                .args(["run", "--release", "--manifest-path"])
                .arg(fuzz_dir().join("Cargo.toml"))
                .args(["--example", "seeds"]),
        );
    }
    if req.smoke {
        let t = Instant::now();
        let summary = smoke()?;
        step(&format!("{summary} ({:.1} s)", t.elapsed().as_secs_f64()));
        return Ok(());
    }
    let targets = selected(&req.targets)?;
    build(&req.sanitizer)?;
    let corpus_root = Path::new("fuzz").join("target").join("corpus");
    step(&format!(
        "fuzzing {} for {} s each, {} at a time (working corpus {}/<target>, seeds fuzz/corpus/<target>)",
        targets.join(", "),
        req.seconds,
        req.jobs,
        corpus_root.display()
    ));
    let every = Duration::from_secs((req.seconds / 10).clamp(10, 300));
    let runs = run_all(
        &targets,
        req.seconds,
        req.jobs,
        &req.sanitizer,
        &corpus_root,
        every,
    )?;
    for r in &runs {
        let path = write_summary(r, &req.sanitizer)?;
        step(&format!("{} (summary {})", describe_run(r), path.display()));
        println!(
            "{}",
            fs::read_to_string(&path).unwrap_or_default().trim_end()
        );
    }
    check(&runs)
}

/// The smoke tier of `cargo xtask test`: every target for [`SMOKE_SECONDS`] from the committed
/// seeds (a fresh working corpus each time), two at a time; any crash fails it.
pub fn smoke() -> Result<String> {
    build("address")?;
    let corpus_root = Path::new("fuzz").join("target").join("smoke-corpus");
    let _ = fs::remove_dir_all(util::workspace_root().join(&corpus_root));
    let targets: Vec<String> = TARGETS.iter().map(|t| t.to_string()).collect();
    let runs = run_all(
        &targets,
        SMOKE_SECONDS,
        SMOKE_JOBS,
        "address",
        &corpus_root,
        Duration::from_secs(SMOKE_SECONDS + 60),
    )?;
    for r in &runs {
        step(&describe_run(r));
    }
    check(&runs)?;
    let execs: u64 = runs.iter().map(|r| r.outcome.executions).sum();
    Ok(format!(
        "fuzz smoke: {} targets × {SMOKE_SECONDS} s, {execs} executions, 0 crashes",
        runs.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libfuzzer_output_is_parsed() {
        let mut o = Outcome::default();
        for l in [
            "INFO: Seed: 1234",
            "#2\tINITED cov: 1715 ft: 3834 corp: 8/4Kb exec/s: 0 rss: 351Mb",
            "#1533\tDONE   cov: 1718 ft: 3837 corp: 232/112Kb lim: 704 exec/s: 95 rss: 351Mb",
            "Done 1533 runs in 16 second(s)",
            "stat::number_of_executed_units: 1533",
            "stat::average_exec_per_sec:     95",
            "stat::new_units_added:          78",
            "stat::peak_rss_mb:              351",
        ] {
            o.line(l);
        }
        assert_eq!(
            (o.executions, o.coverage, o.features, o.corpus_entries),
            (1533, 1718, 3837, 232)
        );
        assert_eq!((o.exec_per_sec, o.new_units, o.peak_rss_mb), (95, 78, 351));
        assert!(o.artifacts.is_empty() && o.failure.is_none());
        o.line("SUMMARY: libFuzzer: deadly signal");
        o.line("artifact_prefix='/w/fuzz/artifacts/rmi_fid/'; Test unit written to /w/fuzz/artifacts/rmi_fid/crash-51");
        assert_eq!(
            o.failure.as_deref(),
            Some("SUMMARY: libFuzzer: deadly signal")
        );
        assert_eq!(o.artifacts, ["/w/fuzz/artifacts/rmi_fid/crash-51"]);
    }

    #[test]
    fn unknown_targets_are_refused() {
        assert_eq!(selected(&[]).unwrap().len(), TARGETS.len());
        assert!(selected(&["nope".to_string()]).is_err());
    }
}
