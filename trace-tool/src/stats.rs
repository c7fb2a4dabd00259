//! Latency statistics: HDR histograms per event kind and per function, quantiles, the terminal
//! histogram, and A/B comparison.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;
use warden_abi::trace::EventKind;

use crate::load::{Event, Group, ticks_to_ns};

/// Durations of one set of events.
pub struct Summary {
    /// What was summarised: a kind (`id` None) or a kind and function.
    pub kind: EventKind,
    /// The function, for per-function rows.
    pub id: Option<u32>,
    /// Counter ticks, 3 significant digits.
    pub hist: Histogram<u64>,
    /// The counter frequency (0 if unknown or mixed).
    pub freq: u64,
    /// Exact extremes (the histogram rounds to 3 significant digits).
    min: u64,
    max: u64,
}

/// One row of statistics, in ticks and in ns.
#[derive(Serialize, Clone, Debug)]
pub struct Row {
    /// The event kind.
    pub event: &'static str,
    /// The function's name, or the kind's for kind rows.
    pub name: String,
    /// Events.
    pub count: u64,
    /// min, p50, p90, p99, p99.9, max in counter ticks.
    pub ticks: Quant<u64>,
    /// The same in nanoseconds (absent if the frequency is unknown).
    pub ns: Option<Quant<f64>>,
}

/// Named quantiles.
#[derive(Serialize, Clone, Copy, Debug)]
pub struct Quant<T> {
    /// Minimum.
    pub min: T,
    /// Median.
    pub p50: T,
    /// 90th percentile.
    pub p90: T,
    /// 99th percentile.
    pub p99: T,
    /// 99.9th percentile.
    #[serde(rename = "p99.9")]
    pub p999: T,
    /// Maximum.
    pub max: T,
}

impl<T: Copy> Quant<T> {
    /// The values in column order (min, p50, p90, p99, p99.9, max).
    pub fn values(&self) -> [T; 6] {
        [self.min, self.p50, self.p90, self.p99, self.p999, self.max]
    }
}

impl Summary {
    fn new(kind: EventKind, id: Option<u32>) -> Self {
        Self { kind, id, hist: Histogram::new(3).expect("3 significant digits"), freq: u64::MAX, min: u64::MAX, max: 0 }
    }

    fn add(&mut self, e: &Event) {
        let d = u64::from(e.rec.duration);
        self.hist.record(d).expect("auto-resizing histogram");
        self.min = self.min.min(d);
        self.max = self.max.max(d);
        self.freq = match self.freq {
            u64::MAX => e.freq,
            f if f == e.freq => f,
            _ => 0,
        };
    }

    /// The row for this summary.
    pub fn row(&self) -> Row {
        let h = &self.hist;
        // Quantiles from the histogram (3 significant digits), kept within the exact extremes.
        let q = |q| h.value_at_quantile(q).clamp(self.min, self.max);
        let ticks = Quant { min: self.min, p50: q(0.50), p90: q(0.90), p99: q(0.99), p999: q(0.999), max: self.max };
        let ns = (self.freq != 0 && self.freq != u64::MAX).then(|| {
            let f = |t| ticks_to_ns(t, self.freq).expect("known frequency");
            Quant { min: f(ticks.min), p50: f(ticks.p50), p90: f(ticks.p90), p99: f(ticks.p99), p999: f(ticks.p999), max: f(ticks.max) }
        });
        let name = match self.id {
            Some(id) => Group { kind: self.kind, id }.name(),
            None => "(all)".to_string(),
        };
        Row { event: self.kind.name(), name, count: h.len(), ticks, ns }
    }
}

/// Per-kind and per-function summaries of `events`.
pub struct Stats {
    /// One per kind present.
    pub kinds: BTreeMap<EventKind, Summary>,
    /// One per (kind, function) present, for kinds with functions.
    pub groups: BTreeMap<Group, Summary>,
}

/// Summarises `events`.
pub fn stats<'e>(events: impl IntoIterator<Item = &'e Event>) -> Stats {
    let mut kinds = BTreeMap::new();
    let mut groups = BTreeMap::new();
    for e in events {
        kinds.entry(e.kind()).or_insert_with(|| Summary::new(e.kind(), None)).add(e);
        if matches!(e.kind(), EventKind::Rmi | EventKind::Rsi | EventKind::Psci | EventKind::El3Gtsi | EventKind::RecRun) {
            let g = e.group();
            groups.entry(g).or_insert_with(|| Summary::new(g.kind, Some(g.id))).add(e);
        }
    }
    Stats { kinds, groups }
}

/// Formats nanoseconds with a unit that keeps 3–4 significant digits.
pub fn fmt_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0}ns")
    } else if ns < 1e6 {
        format!("{:.2}us", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2}ms", ns / 1e6)
    } else {
        format!("{:.2}s", ns / 1e9)
    }
}

/// A terminal histogram of `s`'s durations in power-of-two buckets (of ns if known, else ticks).
pub fn terminal_histogram(s: &Summary, width: usize) -> Vec<String> {
    let h = &s.hist;
    if h.is_empty() {
        return Vec::new();
    }
    let ns = s.freq != 0 && s.freq != u64::MAX;
    let to_unit = |t: u64| if ns { ticks_to_ns(t, s.freq).expect("known") } else { t as f64 };
    // Bucket b holds [2^b, 2^(b+1)) units; bucket 0 also holds 0.
    let mut buckets: BTreeMap<u32, u64> = BTreeMap::new();
    for v in h.iter_recorded() {
        let x = to_unit(v.value_iterated_to());
        let b = if x < 1.0 { 0 } else { x.log2().floor() as u32 };
        *buckets.entry(b).or_default() += v.count_at_value();
    }
    let (lo, hi) = (*buckets.keys().next().expect("non-empty"), *buckets.keys().last().expect("non-empty"));
    let peak = *buckets.values().max().expect("non-empty");
    (lo..=hi)
        .map(|b| {
            let n = buckets.get(&b).copied().unwrap_or(0);
            let bar = (n as f64 / peak as f64 * width as f64).ceil() as usize;
            let label = |v: f64| if ns { fmt_ns(v) } else { format!("{v:.0}t") };
            format!("  [{:>9}, {:>9}) {:<width$} {n}", label(2f64.powi(b as i32)), label(2f64.powi(b as i32 + 1)), "#".repeat(bar))
        })
        .collect()
}

/// One line of an A/B comparison: B's quantiles over A's.
#[derive(Serialize, Clone, Debug)]
pub struct Comparison {
    /// The event kind.
    pub event: &'static str,
    /// The function's or kind's name.
    pub name: String,
    /// Events in A and B.
    pub count: (u64, u64),
    /// Medians of A and B (ns if both frequencies are known, else ticks).
    pub p50: (f64, f64),
    /// 99th percentiles.
    pub p99: (f64, f64),
    /// 99.9th percentiles.
    pub p999: (f64, f64),
    /// Maxima.
    pub max: (f64, f64),
    /// B/A of the median.
    pub p50_ratio: f64,
    /// B/A of the 99th percentile.
    pub p99_ratio: f64,
    /// B/A of the 99.9th percentile.
    pub p999_ratio: f64,
    /// Whether the values are nanoseconds (else ticks).
    pub in_ns: bool,
}

/// Compares the rows present in both `a` and `b`, kinds first then functions.
pub fn compare(a: &Stats, b: &Stats) -> Vec<Comparison> {
    let mut out = Vec::new();
    let mut one = |sa: &Summary, sb: &Summary| {
        let (ra, rb) = (sa.row(), sb.row());
        let (va, vb, in_ns) = match (ra.ns, rb.ns) {
            (Some(x), Some(y)) => (x.values(), y.values(), true),
            _ => (ra.ticks.values().map(|t| t as f64), rb.ticks.values().map(|t| t as f64), false),
        };
        let ratio = |x: f64, y: f64| if x == 0.0 { if y == 0.0 { 1.0 } else { f64::INFINITY } } else { y / x };
        out.push(Comparison {
            event: ra.event,
            name: ra.name,
            count: (ra.count, rb.count),
            p50: (va[1], vb[1]),
            p99: (va[3], vb[3]),
            p999: (va[4], vb[4]),
            max: (va[5], vb[5]),
            p50_ratio: ratio(va[1], vb[1]),
            p99_ratio: ratio(va[3], vb[3]),
            p999_ratio: ratio(va[4], vb[4]),
            in_ns,
        });
    };
    for (k, sa) in &a.kinds {
        if let Some(sb) = b.kinds.get(k) {
            one(sa, sb);
        }
    }
    for (g, sa) in &a.groups {
        if let Some(sb) = b.groups.get(g) {
            one(sa, sb);
        }
    }
    out
}
