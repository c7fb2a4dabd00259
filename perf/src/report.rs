//! Reading criterion's saved estimates back, so a benchmark can print Warden/baseline ratios from
//! the run that just finished.

use std::path::PathBuf;

/// Where criterion saves its estimates: `$CRITERION_HOME`, else `target/criterion` next to the
/// profile directory of the running benchmark. An id `a/b` is saved as `a_b`.
pub fn criterion_dir() -> PathBuf {
    if let Ok(home) = std::env::var("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<bench> → target/criterion
    exe.ancestors().nth(3).map(|t| t.join("criterion")).expect("target dir")
}

/// The median time per iteration, in ns, criterion measured for `group`/`id` (`None` if that
/// benchmark did not run, e.g. filtered out).
pub fn median_ns(group: &str, id: &str) -> Option<f64> {
    let path = criterion_dir().join(group).join(id.replace('/', "_")).join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}
