//! `trace-tool`: decodes Warden trace files (concatenated `RMI_WARDEN_TRACE_DRAIN` batches) into
//! event listings, latency statistics, SVG plots and A/B comparisons. See README.md.

mod load;
mod plot;
mod stats;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::load::{Event, Filter, Trace, id_name, load, parse_fid, parse_kind, status_text, ticks_to_ns};
use crate::stats::{fmt_ns, stats, terminal_histogram};

/// Decode Warden trace files: event listings, latency statistics, SVG plots, A/B comparisons.
#[derive(Parser, Debug)]
#[command(name = "trace-tool", version)]
struct Cli {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// One line per event.
    Decode {
        /// The trace file.
        file: PathBuf,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Latency statistics per event kind and per function, with terminal histograms.
    Stats {
        /// The trace file(s); statistics cover all of them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        filter: FilterArgs,
        /// Show counter ticks instead of nanoseconds.
        #[arg(long)]
        ticks: bool,
        /// Leave out the terminal histograms.
        #[arg(long)]
        no_histogram: bool,
    },
    /// An SVG of latency CDFs and histograms, one panel per event kind (open it in a browser).
    Plot {
        /// The trace file.
        file: PathBuf,
        /// Where to write the SVG.
        #[arg(short, long, default_value = "trace.svg")]
        output: PathBuf,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Compares two traces: per event kind and function, B's median and tails over A's.
    Compare {
        /// The baseline trace.
        a: PathBuf,
        /// The trace to compare with it.
        b: PathBuf,
        #[command(flatten)]
        filter: FilterArgs,
    },
}

#[derive(Args, Debug, Clone)]
struct FilterArgs {
    /// Only events recorded on this CPU (repeatable).
    #[arg(long = "cpu")]
    cpus: Vec<u8>,
    /// Only events of this kind: rmi, rec_run, rsi, psci, el3_gtsi, walk_hit, walk_miss,
    /// claim_retry (repeatable).
    #[arg(long = "event")]
    events: Vec<String>,
    /// Only this function: a FID (0xC4000153) or a name (RMI_DATA_CREATE, DATA_CREATE, RSI_VERSION,
    /// REC_EXIT_IRQ) (repeatable).
    #[arg(long = "fid")]
    fids: Vec<String>,
}

impl FilterArgs {
    fn filter(&self) -> Result<Filter, String> {
        let kinds = self.events.iter().map(|e| parse_kind(e)).collect::<Result<_, _>>()?;
        let mut ids = Vec::new();
        for f in &self.fids {
            ids.extend(parse_fid(f)?);
        }
        Ok(Filter { cpus: self.cpus.clone(), kinds, ids })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = String::new();
    match run(&cli, &mut out) {
        Ok(()) => {
            // A closed pipe (`| head`) is not an error.
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trace-tool: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `println!` into the output buffer.
macro_rules! outln {
    ($out:expr) => { let _ = writeln!($out); };
    ($out:expr, $($arg:tt)*) => { let _ = writeln!($out, $($arg)*); };
}

fn run(cli: &Cli, out: &mut String) -> Result<(), String> {
    match &cli.cmd {
        Cmd::Decode { file, filter } => decode(out, file, &filter.filter()?, cli.json),
        Cmd::Stats { files, filter, ticks, no_histogram } => {
            let traces = files.iter().map(|f| load(f)).collect::<Result<Vec<_>, _>>()?;
            show_stats(out, &traces, &filter.filter()?, cli.json, *ticks, !*no_histogram)
        }
        Cmd::Plot { file, output, filter } => plot(out, file, output, &filter.filter()?, cli.json),
        Cmd::Compare { a, b, filter } => compare(out, a, b, &filter.filter()?, cli.json),
    }
}

fn header_note(t: &Trace) -> String {
    let freq = match t.frequencies.as_slice() {
        [0] => "no counter frequency".to_string(),
        [f] => format!("counter {f} Hz"),
        fs => format!("counter frequencies {fs:?} Hz"),
    };
    let mut note = format!("{} events in {} batches, {freq}", t.events.len(), t.batches);
    if t.dropped_total() != 0 {
        let per: Vec<_> = t.dropped.iter().filter(|(_, d)| **d != 0).map(|(c, d)| format!("cpu{c}: {d}")).collect();
        note += &format!("; WARNING: {} records dropped in Warden (ring full: {})", t.dropped_total(), per.join(", "));
    }
    if t.unknown != 0 {
        note += &format!("; {} records of unknown kinds skipped", t.unknown);
    }
    note
}

fn decode(out: &mut String, file: &Path, filter: &Filter, json: bool) -> Result<(), String> {
    let t = load(file)?;
    let start = t.start();
    let mut events: Vec<&Event> = t.events.iter().filter(|e| filter.admits(e)).collect();
    // Rings hold events in the order they ended; list them in the order they started.
    events.sort_by_key(|e| (e.rec.timestamp, e.rec.cpu));
    if json {
        let list: Vec<_> = events
            .iter()
            .map(|e| {
                let r = &e.rec;
                json!({
                    "timestamp": r.timestamp,
                    "cpu": r.cpu,
                    "event": e.kind().name(),
                    "id": r.id,
                    "name": id_name(e.kind(), r.id),
                    "status": r.status,
                    "status_text": status_text(e),
                    "arg": r.arg,
                    "flags": r.flags,
                    "aux": r.aux,
                    "duration_ticks": r.duration,
                    "duration_ns": e.duration_ns(),
                })
            })
            .collect();
        let doc = json!({ "batches": t.batches, "dropped": t.dropped_total(), "events": list });
        outln!(out, "{}", serde_json::to_string_pretty(&doc).expect("JSON"));
        return Ok(());
    }
    outln!(out, "# {}", header_note(&t));
    for e in events {
        let r = &e.rec;
        let at = ticks_to_ns(r.timestamp - start, e.freq)
            .map_or_else(|| format!("+{}t", r.timestamp - start), |ns| format!("+{:.3}us", ns / 1e3));
        let dur = e.duration_ns().map_or_else(String::new, |ns| format!(" ({})", fmt_ns(ns)));
        let arg =
            if r.arg != 0 && e.kind() != warden_abi::trace::EventKind::ClaimRetry { format!(" arg={:#x}", r.arg) } else { String::new() };
        outln!(
            out,
            "{at:>14} cpu{} {:<11} {:<26} {:>9}t{dur:<11} {}{arg}",
            r.cpu,
            e.kind().name(),
            id_name(e.kind(), r.id),
            r.duration,
            status_text(e)
        );
    }
    Ok(())
}

fn show_stats(out: &mut String, traces: &[Trace], filter: &Filter, json: bool, ticks: bool, histogram: bool) -> Result<(), String> {
    let events: Vec<&Event> = traces.iter().flat_map(|t| t.events.iter()).filter(|e| filter.admits(e)).collect();
    let s = stats(events.iter().copied());
    let dropped: u64 = traces.iter().map(Trace::dropped_total).sum();
    if json {
        let kinds: Vec<_> = s.kinds.values().map(|k| k.row()).collect();
        let groups: Vec<_> = s.groups.values().map(|g| g.row()).collect();
        let doc = json!({ "events": events.len(), "dropped": dropped, "kinds": kinds, "functions": groups });
        outln!(out, "{}", serde_json::to_string_pretty(&doc).expect("JSON"));
        return Ok(());
    }
    for t in traces {
        outln!(out, "# {}: {}", t.path, header_note(t));
    }
    let unit = if ticks { "ticks" } else { "ns" };
    outln!(
        out,
        "{:<12} {:<26} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "event",
        "function",
        "count",
        "min",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max"
    );
    let mut print = |row: &stats::Row| {
        let cells: Vec<String> = match (&row.ns, ticks) {
            (Some(ns), false) => ns.values().iter().map(|v| fmt_ns(*v)).collect(),
            _ => row.ticks.values().iter().map(|v| format!("{v}t")).collect(),
        };
        outln!(
            out,
            "{:<12} {:<26} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            row.event,
            row.name,
            row.count,
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5]
        );
    };
    for (kind, k) in &s.kinds {
        print(&k.row());
        for g in s.groups.values().filter(|g| g.kind == *kind) {
            print(&g.row());
        }
    }
    if histogram {
        for k in s.kinds.values() {
            outln!(out, "\n{} latency ({unit} buckets):", k.kind.name());
            for line in terminal_histogram(k, 40) {
                outln!(out, "{line}");
            }
        }
    }
    Ok(())
}

fn plot(out: &mut String, file: &Path, output: &Path, filter: &Filter, json: bool) -> Result<(), String> {
    let t = load(file)?;
    let events: Vec<&Event> = t.events.iter().filter(|e| filter.admits(e)).collect();
    let (svg, panels) = plot::svg(&events, &format!("Warden trace: {}", file.display()));
    std::fs::write(output, svg).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    if json {
        outln!(out, "{}", json!({ "svg": output.display().to_string(), "panels": panels, "events": events.len() }));
    } else {
        outln!(out, "wrote {} ({panels} panels, {} events)", output.display(), events.len());
    }
    Ok(())
}

fn compare(out: &mut String, a: &Path, b: &Path, filter: &Filter, json: bool) -> Result<(), String> {
    let (ta, tb) = (load(a)?, load(b)?);
    let sa = stats(ta.events.iter().filter(|e| filter.admits(e)));
    let sb = stats(tb.events.iter().filter(|e| filter.admits(e)));
    let rows = stats::compare(&sa, &sb);
    if json {
        outln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({ "a": a.display().to_string(), "b": b.display().to_string(), "rows": rows }))
                .expect("JSON")
        );
        return Ok(());
    }
    outln!(out, "# A = {} ({})", a.display(), header_note(&ta));
    outln!(out, "# B = {} ({})", b.display(), header_note(&tb));
    outln!(
        out,
        "{:<12} {:<26} {:>13} {:>21} {:>8} {:>21} {:>8} {:>8}",
        "event",
        "function",
        "count A/B",
        "p50 A -> B",
        "ratio",
        "p99 A -> B",
        "ratio",
        "p99.9"
    );
    for r in rows {
        let v = |x: f64| if r.in_ns { fmt_ns(x) } else { format!("{x:.0}t") };
        outln!(
            out,
            "{:<12} {:<26} {:>13} {:>21} {:>7.2}x {:>21} {:>7.2}x {:>7.2}x",
            r.event,
            r.name,
            format!("{}/{}", r.count.0, r.count.1),
            format!("{} -> {}", v(r.p50.0), v(r.p50.1)),
            r.p50_ratio,
            format!("{} -> {}", v(r.p99.0), v(r.p99.1)),
            r.p99_ratio,
            r.p999_ratio
        );
    }
    Ok(())
}
