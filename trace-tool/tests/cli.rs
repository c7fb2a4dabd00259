//! Golden tests of `trace-tool` on the committed trace `tests/data/small.trace` (written by
//! `cargo test -p warden --features trace --test trace -- --ignored write_small_trace`), and its
//! errors on malformed input. `UPDATE_GOLDEN=1 cargo test -p trace-tool` rewrites the goldens.

use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trace-tool")).args(args).current_dir(data("")).output().expect("run trace-tool");
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).expect("utf-8"), String::from_utf8(out.stderr).expect("utf-8"))
}

fn golden(name: &str, args: &[&str]) {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 0, "{args:?} failed: {stderr}");
    let path = data(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &stdout).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert!(stdout == want, "{args:?} differs from {}:\n--- got ---\n{stdout}\n--- want ---\n{want}", path.display());
}

#[test]
fn decode_golden() {
    golden("decode.golden", &["decode", "small.trace"]);
}

#[test]
fn decode_filters_golden() {
    golden(
        "decode-filtered.golden",
        &["decode", "small.trace", "--cpu", "0", "--event", "rsi", "--event", "rec_run", "--fid", "RSI_VERSION", "--fid", "REC_EXIT_IRQ"],
    );
}

#[test]
fn stats_golden() {
    golden("stats.golden", &["stats", "small.trace"]);
}

#[test]
fn stats_json_golden() {
    golden("stats.json.golden", &["--json", "stats", "small.trace"]);
}

#[test]
fn compare_golden() {
    golden("compare.golden", &["compare", "small.trace", "small.trace", "--event", "rmi"]);
}

#[test]
fn json_everywhere_parses() {
    for args in [
        &["--json", "decode", "small.trace"][..],
        &["--json", "stats", "small.trace"],
        &["--json", "compare", "small.trace", "small.trace"],
        &["--json", "plot", "small.trace", "-o", "/dev/null"],
    ] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON: {e}"));
    }
}

#[test]
fn decode_counts_match_the_workload() {
    let (_, stdout, _) = run(&["--json", "decode", "small.trace"]);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let events = v["events"].as_array().expect("events");
    let count = |name: &str| events.iter().filter(|e| e["name"] == name).count();
    // The workload (tests/trace.rs::write_small_trace): 6 REC entries, each with RSI_VERSION,
    // RSI_MEASUREMENT_READ and PSCI_FEATURES handled inside Warden and an IRQ exit; 8 UNDELEGATEs.
    assert_eq!(count("RMI_REC_ENTER"), 6);
    assert_eq!(count("REC_EXIT_IRQ"), 6);
    assert_eq!(count("RSI_VERSION"), 6);
    assert_eq!(count("RSI_MEASUREMENT_READ"), 6);
    assert_eq!(count("PSCI_FEATURES"), 6);
    assert_eq!(count("RMI_GRANULE_UNDELEGATE"), 8);
    assert_eq!(count("RMM_GTSI_UNDELEGATE"), 8);
    assert_eq!(v["dropped"], 0);
}

#[test]
fn plot_writes_an_svg() {
    let out = std::env::temp_dir().join(format!("trace-tool-plot-{}.svg", std::process::id()));
    let (code, _, stderr) = run(&["plot", "small.trace", "-o", out.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{stderr}");
    let svg = std::fs::read_to_string(&out).expect("svg");
    std::fs::remove_file(&out).ok();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for kind in ["rmi (", "rec_run (", "rsi (", "psci (", "el3_gtsi (", "walk_hit ("] {
        assert!(svg.contains(kind), "panel {kind}");
    }
    assert!(svg.contains("RMI_REC_ENTER n=6"));
}

fn expect_error(bytes: &[u8], what: &str) {
    let path = std::env::temp_dir().join(format!("trace-tool-bad-{}-{}.trace", std::process::id(), what.len()));
    std::fs::write(&path, bytes).expect("write");
    for cmd in ["decode", "stats", "plot"] {
        let (code, stdout, stderr) = run(&[cmd, path.to_str().expect("utf-8"), "-o", "/dev/null"][..if cmd == "plot" { 4 } else { 2 }]);
        assert_eq!(code, 2, "{cmd} on {what}: exit code");
        assert!(stdout.is_empty(), "{cmd} on {what}: no output");
        assert!(stderr.contains(what), "{cmd} on {what}: {stderr}");
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn malformed_inputs_are_explained() {
    let good = std::fs::read(data("small.trace")).expect("small.trace");
    expect_error(&good[..good.len() - 5], "truncated");
    expect_error(&good[..3], "truncated");
    expect_error(b"\x7fELF\x02\x01\x01\x00not a trace", "not a Warden trace");
    expect_error(b"", "empty file");
    let mut newer = good.clone();
    newer[4] = 2;
    expect_error(&newer, "newer trace format");
    // A good batch followed by garbage: the error says where.
    let mut tail = good.clone();
    tail.extend_from_slice(b"garbage");
    let path = std::env::temp_dir().join(format!("trace-tool-tail-{}.trace", std::process::id()));
    std::fs::write(&path, &tail).expect("write");
    let (code, _, stderr) = run(&["stats", path.to_str().expect("utf-8")]);
    std::fs::remove_file(&path).ok();
    assert_eq!(code, 2);
    assert!(stderr.contains(&format!("at byte {}", good.len())), "{stderr}");
}

#[test]
fn bad_filters_are_explained() {
    let (code, _, stderr) = run(&["decode", "small.trace", "--event", "nope"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown event 'nope'"));
    let (code, _, stderr) = run(&["decode", "small.trace", "--fid", "RMI_NOPE"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown function"));
}
