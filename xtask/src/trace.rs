//! Warden's trace after a QEMU run: the host driver drains it after each scenario into
//! `trace-<scenario>.bin` (in the run's working directory); `trace-tool` summarises it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{self, Error, Result, step};

/// The trace files of the last run in `workdir`, sorted.
pub fn files(workdir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(workdir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("trace-") && n.ends_with(".bin"))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Removes the trace files of an earlier run, so a run never reports stale ones.
pub fn clear(workdir: &Path) {
    for f in files(workdir) {
        let _ = fs::remove_file(f);
    }
}

fn trace_tool() -> std::process::Command {
    let mut cmd = util::cargo();
    cmd.args(["run", "--quiet", "--package", "trace-tool", "--"]);
    cmd
}

/// Prints `trace-tool stats` over every trace file of the run (nothing if Warden recorded none).
pub fn print_stats(workdir: &Path) -> Result<()> {
    let files = files(workdir);
    if files.is_empty() {
        step("no trace files (Warden built without the `trace` feature?)");
        return Ok(());
    }
    // Paths relative to the workspace (where cargo runs trace-tool), for shorter headers.
    let root = util::workspace_root();
    step(&format!(
        "trace-tool stats over {} trace files in {} (decode, plot or compare them with trace-tool)",
        files.len(),
        workdir.strip_prefix(&root).unwrap_or(workdir).display()
    ));
    let files: Vec<&Path> = files
        .iter()
        .map(|f| f.strip_prefix(&root).unwrap_or(f))
        .collect();
    util::run(trace_tool().args(["stats", "--no-histogram"]).args(&files))
}

/// The end-to-end check of the trace: the `smoke` scenario's trace holds exactly the commands the
/// scenario issued (RMI_VERSION, RMI_FEATURES, four delegations and a refused fifth, four
/// undelegations and a refused fifth) and the EL3 calls they caused, with nothing dropped.
pub fn check_smoke(workdir: &Path) -> Result<String> {
    let file = workdir.join("trace-smoke.bin");
    if !file.exists() {
        return Err(Error::new(format!(
            "{} missing: the host driver did not drain Warden's trace",
            file.display()
        )));
    }
    let json = util::output(trace_tool().arg("--json").arg("decode").arg(&file))?;
    let v: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| Error::new(format!("trace-tool JSON: {e}")))?;
    let events = v["events"]
        .as_array()
        .ok_or_else(|| Error::new("trace-tool JSON: no events"))?;
    let count = |name: &str, status: Option<&str>| {
        events
            .iter()
            .filter(|e| e["name"] == name && status.is_none_or(|s| e["status_text"] == s))
            .count()
    };
    let want = [
        ("RMI_VERSION", None, 1),
        ("RMI_FEATURES", None, 1),
        ("RMI_GRANULE_DELEGATE", Some("Success"), 4),
        ("RMI_GRANULE_DELEGATE", Some("ErrorInput"), 1),
        ("RMI_GRANULE_UNDELEGATE", Some("Success"), 4),
        ("RMI_GRANULE_UNDELEGATE", Some("ErrorInput"), 1),
        ("RMM_GTSI_DELEGATE", None, 4),
        ("RMM_GTSI_UNDELEGATE", None, 4),
    ];
    let mut wrong = Vec::new();
    for (name, status, n) in want {
        let got = count(name, status);
        if got != n {
            wrong.push(format!("{name} {}: {got}, want {n}", status.unwrap_or("")));
        }
    }
    if v["dropped"] != 0 {
        wrong.push(format!("{} records dropped", v["dropped"]));
    }
    if events.len() != 20 {
        wrong.push(format!("{} events, want 20", events.len()));
    }
    if wrong.is_empty() {
        Ok(format!(
            "trace-smoke.bin: the smoke scenario's {} events, as issued",
            events.len()
        ))
    } else {
        Err(Error::new(format!(
            "trace of the smoke scenario: {}",
            wrong.join("; ")
        )))
    }
}
