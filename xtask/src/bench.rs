//! `cargo xtask bench`: bench-guest's REC round trips under `-icount shift=0` (instruction
//! counts), written to perf/results/<name>.json and compared with the previous results (A/B).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::install::{self, Needs};
use crate::qemu;
use crate::tasks;
use crate::util::{self, Error, Result, step};

/// The host driver scenario that runs bench-guest and writes [`GUEST_RESULTS`].
const SCENARIO: &str = "realm";
/// The file the host driver writes through semihosting (testbed/host `RESULTS_JSON`).
const GUEST_RESULTS: &str = "realm-bench.json";
/// perf/results/, relative to the workspace root.
const RESULTS_DIR: &str = "perf/results";

/// What `cargo xtask bench` was asked.
pub struct Request {
    /// perf/results/<name>.json; a default is made up from the date and commit.
    pub name: Option<String>,
    /// The results to compare against; default: the newest other file in perf/results/.
    pub baseline: Option<PathBuf>,
    /// Another RMM image to measure.
    pub rmm: Option<PathBuf>,
    /// QEMU timeout, seconds.
    pub timeout: u64,
}

/// `cargo xtask bench`.
pub fn bench(req: &Request) -> Result<()> {
    install::ensure(Needs::RUN)?;
    let built = tasks::build_images_with(req.rmm.as_deref(), None, false)?;
    if !built.have_rmm {
        return Err(Error::new("no RMM image to measure; pass `--rmm <image>`"));
    }
    qemu::require()?;
    let workdir = tasks::target_dir().join("qemu-bench");
    fs::create_dir_all(&workdir)?;
    let _ = fs::remove_file(workdir.join(GUEST_RESULTS));
    let opts = qemu::Options {
        timeout_secs: req.timeout,
        extra_args: qemu::ICOUNT_ARGS.map(String::from).to_vec(),
        only: Some(SCENARIO.to_string()),
    };
    let cmd_line = util::describe(&qemu::command(&built.images, &opts, &workdir));
    let outcome = qemu::run_captured(&built.images, &opts, &workdir)?;
    for line in outcome
        .console
        .iter()
        .filter(|l| l.starts_with("host:   ") || l.starts_with("PASS ") || l.starts_with("FAIL "))
    {
        println!("    {line}");
    }
    let passed = matches!(tasks::summary_line(&outcome.console), Some((1, 0)));
    if outcome.code() != Some(0) || !passed {
        eprintln!(
            "---- console tail ({}) ----",
            workdir.join("console.log").display()
        );
        for line in qemu::tail(&outcome.console, 40) {
            eprintln!("{line}");
        }
        return Err(Error::new(format!(
            "the `{SCENARIO}` scenario did not pass under icount (QEMU status {:?})",
            outcome.code()
        )));
    }
    let guest_file = workdir.join(GUEST_RESULTS);
    let guest: Value = read_json(&guest_file)?;

    let (commit, dirty) = git_commit();
    let name = req.name.clone().unwrap_or_else(|| {
        format!(
            "{}-{commit}{}",
            utc_stamp(SystemTime::now()),
            if dirty { "-dirty" } else { "" }
        )
    });
    let dir = util::workspace_root().join(RESULTS_DIR);
    fs::create_dir_all(&dir)?;
    let out_path = dir.join(format!("{name}.json"));
    let baseline = match &req.baseline {
        Some(p) => Some(p.clone()),
        None => newest_other(&dir, &out_path),
    };
    let record = json!({
        "name": name,
        "commit": commit,
        "dirty": dirty,
        "rmm": req.rmm.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "warden (this tree, no trace feature)".into()),
        "qemu": qemu::installed_version().map(|(a, b)| format!("{a}.{b}")),
        "command": "cargo xtask bench",
        "qemu_command": cmd_line,
        "unit": "instructions (CNTVCT ticks under -icount shift=0), all worlds, including bench-guest's own ISB+MRS",
        "benchmarks": guest["benchmarks"].clone(),
        "rmi_version_from_ns_min": guest["rmi_version_from_ns_min"].clone(),
        "host_time_per_ping": guest["host_time_per_ping"].clone(),
        "exits": guest["exits"].clone(),
        "attestation": guest["attestation"].clone(),
    });
    let a = &guest["attestation"];
    if a.is_object() {
        step(&format!(
            "attestation token ({} bytes): TOKEN_INIT {} instructions; TOKEN_INIT to the last CONTINUE {} instructions over {} CONTINUE calls ({} interrupted by an IRQ); first request (fills the attestation cache): TOKEN_INIT {}, to the last CONTINUE {}",
            a["token_bytes"],
            a["init"],
            a["init_to_last_continue"],
            a["continue_calls"],
            a["interrupted"],
            a["first_init"],
            a["first_init_to_last_continue"]
        ));
    }
    let text = serde_json::to_string_pretty(&record)
        .map_err(|e| Error::new(format!("results JSON: {e}")))?;
    fs::write(&out_path, text + "\n")?;
    step(&format!("results written to {}", out_path.display()));

    let old = match &baseline {
        Some(p) => match read_json(p) {
            Ok(v) => Some(v),
            Err(e) => {
                step(&format!("note: no comparison: {e}"));
                None
            }
        },
        None => {
            step("no previous results in perf/results/: nothing to compare with");
            None
        }
    };
    print!("{}", comparison(&record, old.as_ref(), baseline.as_deref()));
    Ok(())
}

fn read_json(path: &Path) -> Result<Value> {
    let text = fs::read_to_string(path)
        .map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::new(format!("{} is not JSON: {e}", path.display())))
}

/// `(short commit, whether the tree has changes)`; `("unknown", false)` outside git.
fn git_commit() -> (String, bool) {
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(util::workspace_root())
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    (commit, dirty)
}

/// `YYYYMMDDTHHMMSSZ` (UTC).
pub fn utc_stamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The most recently modified `*.json` in `dir` other than `except` (and other than the
/// `fuzz-<target>.json` summaries `cargo xtask fuzz` writes there, which are no benchmarks).
fn newest_other(dir: &Path, except: &Path) -> Option<PathBuf> {
    fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p != except)
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("fuzz-"))
        })
        .filter_map(|p| Some((fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
}

/// The benchmark table, with the baseline's median and the ratio new/old when there is one.
pub fn comparison(new: &Value, old: Option<&Value>, old_path: Option<&Path>) -> String {
    let mut out = String::new();
    let rows = new["benchmarks"].as_array().cloned().unwrap_or_default();
    let old_median = |name: &str| -> Option<u64> {
        old?["benchmarks"]
            .as_array()?
            .iter()
            .find(|b| b["name"] == name)?["median"]
            .as_u64()
    };
    if let (Some(old), Some(path)) = (old, old_path) {
        out += &format!(
            "A/B: B = {} vs A = {} ({})\n",
            new["name"].as_str().unwrap_or("?"),
            old["name"].as_str().unwrap_or("?"),
            path.display()
        );
    }
    out += &format!(
        "    {:<16} {:>9} {:>9} {:>9} {:>9} {:>11} {:>7}\n",
        "benchmark", "min", "median", "p99", "max", "A median", "B/A"
    );
    for b in &rows {
        let name = b["name"].as_str().unwrap_or("?");
        let v = |k: &str| b[k].as_u64().unwrap_or(0);
        let (a, ratio) = match old_median(name) {
            Some(a) if a > 0 => (
                a.to_string(),
                format!("{:.3}", v("median") as f64 / a as f64),
            ),
            _ => ("-".into(), "-".into()),
        };
        out += &format!(
            "    {name:<16} {:>9} {:>9} {:>9} {:>9} {a:>11} {ratio:>7}\n",
            v("min"),
            v("median"),
            v("p99"),
            v("max")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29 12:34:56
        assert_eq!(utc_stamp(t), "20240229T123456Z");
    }

    #[test]
    fn ab_table() {
        let new = json!({"name": "b", "benchmarks": [
            {"name": "rsi_version", "min": 120, "median": 120, "p99": 121, "max": 130},
            {"name": "new_one", "min": 5, "median": 5, "p99": 5, "max": 5}]});
        let old = json!({"name": "a", "benchmarks": [
            {"name": "rsi_version", "min": 150, "median": 150, "p99": 150, "max": 150}]});
        let t = comparison(&new, Some(&old), Some(Path::new("a.json")));
        assert!(t.starts_with("A/B: B = b vs A = a (a.json)\n"), "{t}");
        assert!(
            t.contains("rsi_version") && t.contains(" 150 ") && t.contains("0.800"),
            "{t}"
        );
        assert!(t.lines().last().unwrap().trim_end().ends_with("-"), "{t}");
        let alone = comparison(&new, None, None);
        assert_eq!(alone.lines().count(), 3);
    }
}
