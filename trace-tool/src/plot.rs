//! `plot`: an SVG (hand-written, no dependencies) with one panel per event kind: the latency CDF of
//! each function on a logarithmic axis, over a histogram of the kind's durations.

use std::fmt::Write;

use warden_abi::trace::EventKind;

use crate::load::{Event, Group, ticks_to_ns};
use crate::stats::fmt_ns;

const W: f64 = 1100.0;
const PANEL_H: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 340.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 45.0;
const COLORS: [&str; 10] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
const MAX_CURVES: usize = COLORS.len();

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The SVG for `events` (durations in ns where the frequency is known, else ticks). Returns the
/// document and the number of panels.
pub fn svg(events: &[&Event], title: &str) -> (String, usize) {
    let mut kinds: Vec<EventKind> = events.iter().map(|e| e.kind()).collect();
    kinds.sort();
    kinds.dedup();
    let h = TOP + kinds.len().max(1) as f64 * (PANEL_H + BOTTOM + TOP);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(s, r#"<text x="{}" y="24" font-size="16" font-weight="bold">{}</text>"#, LEFT, esc(title));
    if kinds.is_empty() {
        let _ = writeln!(s, r#"<text x="{LEFT}" y="{}">no events</text>"#, TOP + 40.0);
    }
    for (i, kind) in kinds.iter().enumerate() {
        let y0 = TOP + i as f64 * (PANEL_H + BOTTOM + TOP) + TOP;
        panel(&mut s, *kind, events, y0);
    }
    s.push_str("</svg>\n");
    (s, kinds.len())
}

fn value(e: &Event) -> (f64, bool) {
    match ticks_to_ns(u64::from(e.rec.duration), e.freq) {
        Some(ns) => (ns.max(1.0), true),
        None => (f64::from(e.rec.duration).max(1.0), false),
    }
}

fn panel(s: &mut String, kind: EventKind, events: &[&Event], y0: f64) {
    let mine: Vec<&Event> = events.iter().copied().filter(|e| e.kind() == kind).collect();
    let in_ns = mine.iter().all(|e| e.freq != 0);
    let values: Vec<f64> = mine.iter().map(|e| value(e).0).collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min).log10().floor();
    let hi = values.iter().copied().fold(0.0, f64::max).log10().ceil().max(lo + 1.0);
    let pw = W - LEFT - RIGHT;
    let x = |v: f64| LEFT + (v.log10() - lo) / (hi - lo) * pw;
    let y = |f: f64| y0 + PANEL_H * (1.0 - f);
    let unit = |v: f64| if in_ns { fmt_ns(v) } else { format!("{v:.0} ticks") };

    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{}" font-size="14" font-weight="bold">{} ({} events): CDF per function, histogram of all</text>"#,
        y0 - 10.0,
        kind.name(),
        mine.len()
    );
    // Histogram: 5 bins per decade.
    let bins = ((hi - lo) * 5.0) as usize;
    let mut counts = vec![0u64; bins.max(1)];
    for v in &values {
        let b = (((v.log10() - lo) * 5.0) as usize).min(counts.len() - 1);
        counts[b] += 1;
    }
    let peak = *counts.iter().max().unwrap_or(&1) as f64;
    for (b, &n) in counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let (xa, xb) = (LEFT + b as f64 / 5.0 / (hi - lo) * pw, LEFT + (b + 1) as f64 / 5.0 / (hi - lo) * pw);
        let bh = n as f64 / peak * PANEL_H * 0.6;
        let _ = writeln!(
            s,
            r##"<rect x="{xa:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="#dddddd"><title>{n} events in [{}, {})</title></rect>"##,
            y0 + PANEL_H - bh,
            xb - xa - 1.0,
            unit(10f64.powf(lo + b as f64 / 5.0)),
            unit(10f64.powf(lo + (b + 1) as f64 / 5.0))
        );
    }
    // Axes and grid.
    let _ = writeln!(s, r##"<rect x="{LEFT}" y="{y0}" width="{pw}" height="{PANEL_H}" fill="none" stroke="#444444"/>"##);
    for d in (lo as i32)..=(hi as i32) {
        let xd = x(10f64.powi(d));
        let _ = writeln!(s, r##"<line x1="{xd:.1}" y1="{y0}" x2="{xd:.1}" y2="{}" stroke="#eeeeee"/>"##, y0 + PANEL_H);
        let _ = writeln!(s, r#"<text x="{xd:.1}" y="{}" text-anchor="middle">{}</text>"#, y0 + PANEL_H + 16.0, unit(10f64.powi(d)));
    }
    for f in [0.0, 0.25, 0.5, 0.75, 0.9, 1.0] {
        let yf = y(f);
        let _ = writeln!(s, r##"<line x1="{LEFT}" y1="{yf:.1}" x2="{}" y2="{yf:.1}" stroke="#eeeeee"/>"##, LEFT + pw);
        let _ = writeln!(s, r#"<text x="{}" y="{:.1}" text-anchor="end">{f}</text>"#, LEFT - 6.0, yf + 4.0);
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">latency ({})</text>"#,
        LEFT + pw / 2.0,
        y0 + PANEL_H + 34.0,
        if in_ns { "log scale" } else { "counter ticks, log scale" }
    );
    // One CDF per function (the most frequent ones).
    let mut groups: Vec<(Group, Vec<f64>)> = Vec::new();
    for e in &mine {
        let g = e.group();
        match groups.iter_mut().find(|(k, _)| *k == g) {
            Some((_, v)) => v.push(value(e).0),
            None => groups.push((g, vec![value(e).0])),
        }
    }
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    for (i, (g, mut v)) in groups.into_iter().take(MAX_CURVES).enumerate() {
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let mut d = format!("M{:.1},{:.1}", x(v[0]), y(0.0));
        for (j, val) in v.iter().enumerate() {
            let _ = write!(d, " H{:.1} V{:.1}", x(*val), y((j + 1) as f64 / n));
        }
        let color = COLORS[i];
        let _ = writeln!(s, r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="1.8"><title>{}</title></path>"#, esc(&g.name()));
        let ly = y0 + 14.0 + i as f64 * 18.0;
        let median = v[(v.len() - 1) / 2];
        let _ = writeln!(s, r#"<rect x="{}" y="{}" width="12" height="3" fill="{color}"/>"#, W - RIGHT + 12.0, ly - 4.0);
        let _ = writeln!(s, r#"<text x="{}" y="{ly}">{} n={} p50={}</text>"#, W - RIGHT + 30.0, esc(&g.name()), v.len(), unit(median));
    }
}
