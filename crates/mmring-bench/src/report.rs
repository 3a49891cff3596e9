//! The report: medians over trials, the table with ratios, target verdicts, SVG and JSON.

use crate::harness::{Kind, Outcome, Placement};
use mmring_testkit::latency::Latency;
use mmring_testkit::probe;
use std::fmt::Write as _;

/// One run of one case for one transport.
#[derive(Debug, Clone)]
pub struct Record {
    /// Transport name.
    pub transport: &'static str,
    /// What was measured.
    pub kind: Kind,
    /// Message size.
    pub size: usize,
    /// Trial number (0-based).
    pub trial: usize,
    /// Floor probe p50 just before this case and trial (ns).
    pub probe_ns: f64,
    /// The figures.
    pub outcome: Outcome,
}

/// Medians over trials of one transport in one case.
#[derive(Debug, Clone)]
pub struct Row {
    /// Transport name.
    pub transport: &'static str,
    /// What was measured.
    pub kind: Kind,
    /// Message size.
    pub size: usize,
    /// Median of each latency percentile over trials.
    pub lat: Option<Latency>,
    /// Median messages/s and bytes/s over trials.
    pub rate: Option<(f64, f64)>,
    /// Median CPU fraction over trials.
    pub cpu: Option<f64>,
    /// Median wake-ups per second over trials.
    pub wakeups: Option<f64>,
}

/// All rows of a run, plus the floor probes.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Every record, for ratios paired by trial.
    pub records: Vec<Record>,
    /// `mmring-1by1` streaming medians (size, msgs/s) of a baseline run (an earlier version),
    /// read from its `--json` output.
    pub baseline_1by1: Vec<(usize, f64)>,
    /// Rows in the order first seen.
    pub rows: Vec<Row>,
    /// Every floor probe p50 (ns).
    pub probes: Vec<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One line for the progress log.
pub fn brief(o: &Outcome) -> String {
    match o {
        Outcome::Latency(l) => format!(
            "p50 {:.0} ns, p99.9 {:.0} ns, {} samples",
            l.p50, l.p999, l.samples
        ),
        Outcome::Throughput {
            msgs,
            msgs_per_s,
            bytes_per_s,
        } => format!(
            "{:.2} M msgs/s, {:.2} GB/s ({msgs} checked)",
            msgs_per_s / 1e6,
            bytes_per_s / 1e9
        ),
        Outcome::Cpu {
            fraction,
            wakeups_per_s,
        } => format!(
            "{:.3}% of a CPU, {wakeups_per_s:.1} wake-ups/s",
            fraction * 100.0
        ),
    }
}

/// Medians over trials.
pub fn summarise(records: &[Record]) -> Summary {
    let mut keys: Vec<(&'static str, Kind, usize)> = Vec::new();
    for r in records {
        let k = (r.transport, r.kind, r.size);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let rows = keys
        .into_iter()
        .map(|(transport, kind, size)| {
            let rs: Vec<&Record> = records
                .iter()
                .filter(|r| (r.transport, r.kind, r.size) == (transport, kind, size))
                .collect();
            let lats: Vec<Latency> = rs
                .iter()
                .filter_map(|r| match r.outcome {
                    Outcome::Latency(l) => Some(l),
                    _ => None,
                })
                .collect();
            let rates: Vec<(f64, f64)> = rs
                .iter()
                .filter_map(|r| match r.outcome {
                    Outcome::Throughput {
                        msgs_per_s,
                        bytes_per_s,
                        ..
                    } => Some((msgs_per_s, bytes_per_s)),
                    _ => None,
                })
                .collect();
            let cpus: Vec<f64> = rs
                .iter()
                .filter_map(|r| match r.outcome {
                    Outcome::Cpu { fraction, .. } => Some(fraction),
                    _ => None,
                })
                .collect();
            let wakeups: Vec<f64> = rs
                .iter()
                .filter_map(|r| match r.outcome {
                    Outcome::Cpu { wakeups_per_s, .. } => Some(wakeups_per_s),
                    _ => None,
                })
                .collect();
            let m = |f: fn(&Latency) -> f64| median(lats.iter().map(f).collect());
            Row {
                transport,
                kind,
                size,
                lat: (!lats.is_empty()).then(|| Latency {
                    samples: median(lats.iter().map(|l| l.samples as f64).collect()) as u64,
                    p50: m(|l| l.p50),
                    p90: m(|l| l.p90),
                    p99: m(|l| l.p99),
                    p999: m(|l| l.p999),
                    p9999: m(|l| l.p9999),
                    max: m(|l| l.max),
                    min: m(|l| l.min),
                    mean: m(|l| l.mean),
                }),
                rate: (!rates.is_empty()).then(|| {
                    (
                        median(rates.iter().map(|r| r.0).collect()),
                        median(rates.iter().map(|r| r.1).collect()),
                    )
                }),
                cpu: (!cpus.is_empty()).then(|| median(cpus)),
                wakeups: (!wakeups.is_empty()).then(|| median(wakeups)),
            }
        })
        .collect();
    let mut probes: Vec<f64> = records.iter().map(|r| r.probe_ns).collect();
    probes.dedup();
    Summary {
        records: records.to_vec(),
        baseline_1by1: Vec::new(),
        rows,
        probes,
    }
}

impl Summary {
    /// The median over trials of `metric(a) / metric(b)`, each trial's two figures measured
    /// seconds apart: on a host whose CPU placement changes between trials (this one flips
    /// between ~100 ns and ~450 ns cache-line round trips), a ratio within a trial is what
    /// compares the transports. `None` unless both have figures in some trial.
    fn paired(
        &self,
        a: &str,
        b: &str,
        kind: Kind,
        size: usize,
        metric: fn(&Outcome) -> Option<f64>,
    ) -> Option<f64> {
        let of = |t: &str, trial: usize| {
            self.records
                .iter()
                .find(|r| r.transport == t && r.kind == kind && r.size == size && r.trial == trial)
                .and_then(|r| metric(&r.outcome))
        };
        let trials = self.records.iter().map(|r| r.trial).max()?;
        let v: Vec<f64> = (0..=trials)
            .filter_map(|t| Some(of(a, t)? / of(b, t)?))
            .collect();
        (!v.is_empty()).then(|| median(v))
    }

    fn row(&self, transport: &str, kind: Kind, size: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.transport == transport && r.kind == kind && r.size == size)
    }
    fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |r| r.kind == kind)
    }
    fn sizes(&self, kind: Kind) -> Vec<usize> {
        let mut s: Vec<usize> = self.of_kind(kind).map(|r| r.size).collect();
        s.sort_unstable();
        s.dedup();
        s
    }
}

fn ns(v: f64) -> String {
    if v >= 100_000.0 {
        format!("{:.0} µs", v / 1000.0)
    } else if v >= 10_000.0 {
        format!("{:.1} µs", v / 1000.0)
    } else {
        format!("{v:.0} ns")
    }
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        let r = a / b;
        if r >= 100.0 {
            format!("{r:.0}×")
        } else if r >= 10.0 {
            format!("{r:.1}×")
        } else {
            format!("{r:.2}×")
        }
    } else {
        "—".into()
    }
}

fn latency_table(out: &mut String, s: &Summary, kind: Kind, base: &str, base_label: &str) {
    let size = s.sizes(kind).first().copied().unwrap_or(8);
    let base_row = s.row(base, kind, size).and_then(|r| r.lat);
    let mm = s.row("mmring", kind, size).and_then(|r| r.lat);
    let _ = writeln!(
        out,
        "| transport | p50 | p90 | p99 | p99.9 | p99.99 | max | p50 ÷ {base_label} | p99.9 ÷ {base_label} | mmring p50 ÷ this | samples |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in s.of_kind(kind) {
        let Some(l) = r.lat else { continue };
        let (b50, b999) = base_row.map_or((f64::NAN, f64::NAN), |b| (b.p50, b.p999));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.transport,
            ns(l.p50),
            ns(l.p90),
            ns(l.p99),
            ns(l.p999),
            ns(l.p9999),
            ns(l.max),
            ratio(l.p50, b50),
            ratio(l.p999, b999),
            ratio(mm.map_or(f64::NAN, |m| m.p50), l.p50),
            l.samples
        );
    }
}

/// The whole report as Markdown.
pub fn table(s: &Summary, args: &str, place: Placement) -> String {
    let mut out = String::new();
    let probes = &s.probes;
    let pmed = median(probes.clone());
    let pmin = probes.iter().copied().fold(f64::INFINITY, f64::min);
    let pmax = probes.iter().copied().fold(0.0, f64::max);
    let _ = writeln!(out, "## mmring-bench ({args})\n");
    let _ = writeln!(
        out,
        "CPUs: parent {}, child {}. Floor probe (cache-line round trip before each case): median {} (min {}, max {}, {} probes): {}.\n",
        place.parent.map_or("unpinned".into(), |c| c.to_string()),
        place.child.map_or("unpinned".into(), |c| c.to_string()),
        ns(pmed),
        ns(pmin),
        ns(pmax),
        probes.len(),
        probe::Placement::of_round_trip(pmed).describe()
    );
    if s.of_kind(Kind::Rtt).next().is_some() {
        let _ = writeln!(
            out,
            "### Round trip, 8-byte messages, both sides busy-polling (median of trials)\n"
        );
        latency_table(&mut out, s, Kind::Rtt, "floor", "floor");
        out.push('\n');
    }
    let sizes = s.sizes(Kind::Stream);
    if !sizes.is_empty() {
        let _ = writeln!(
            out,
            "### One-way streaming, every sequence number checked (median of trials)\n"
        );
        // The batched baseline's column comes last, so the earlier columns keep their places.
        let _ = writeln!(
            out,
            "| size | transport | M msgs/s | GB/s | this ÷ minimal-ring | mmring ÷ this | this ÷ minimal-ring-batched |"
        );
        let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|");
        for &size in &sizes {
            let msgs_per_s = |t: &str| {
                s.row(t, Kind::Stream, size)
                    .and_then(|r| r.rate)
                    .map_or(f64::NAN, |r| r.0)
            };
            let (min, min_batched) = (
                msgs_per_s("minimal-ring"),
                msgs_per_s("minimal-ring-batched"),
            );
            let mm = msgs_per_s("mmring");
            for r in s.of_kind(Kind::Stream).filter(|r| r.size == size) {
                let Some((mps, bps)) = r.rate else { continue };
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.2} | {:.3} | {} | {} | {} |",
                    size,
                    r.transport,
                    mps / 1e6,
                    bps / 1e9,
                    ratio(mps, min),
                    ratio(mm, mps),
                    ratio(mps, min_batched)
                );
            }
        }
        out.push('\n');
    }
    if s.of_kind(Kind::Parked).next().is_some() {
        let _ = writeln!(
            out,
            "### Parked round trip: a ping every {} µs, the answering side asleep when it arrives\n",
            crate::transport::mmring::PARK_GAP.as_micros()
        );
        latency_table(&mut out, s, Kind::Parked, "unix-socket", "unix-socket");
        out.push('\n');
    }
    if s.of_kind(Kind::Idle).next().is_some() {
        let _ = writeln!(out, "### Idle blocked reader\n");
        let _ = writeln!(out, "| transport | CPU while idle | wake-ups per second |");
        let _ = writeln!(out, "|---|---:|---:|");
        for r in s.of_kind(Kind::Idle) {
            if let Some(c) = r.cpu {
                let _ = writeln!(
                    out,
                    "| {} | {:.3}% | {:.1} |",
                    r.transport,
                    c * 100.0,
                    r.wakeups.unwrap_or(f64::NAN)
                );
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "### Targets\n");
    for v in verdicts(s) {
        let _ = writeln!(out, "- {v}");
    }
    out
}

/// One line per target: MET, MISSED, or NOT MEASURED.
pub fn verdicts(s: &Summary) -> Vec<String> {
    let rate = |t: &str, size: usize| s.row(t, Kind::Stream, size).and_then(|r| r.rate);
    let mut v = Vec::new();
    let mut check = |what: String, value: Option<f64>, ok: &dyn Fn(f64) -> bool| {
        v.push(match value {
            Some(x) if x.is_finite() => format!(
                "{} {what}: {}",
                if ok(x) { "MET   " } else { "MISSED" },
                ratio(x, 1.0)
            ),
            _ => format!("NOT MEASURED {what}"),
        });
    };
    let p50 = |o: &Outcome| match o {
        Outcome::Latency(l) => Some(l.p50),
        _ => None,
    };
    let p999 = |o: &Outcome| match o {
        Outcome::Latency(l) => Some(l.p999),
        _ => None,
    };
    let msgs = |o: &Outcome| match o {
        Outcome::Throughput { msgs_per_s, .. } => Some(*msgs_per_s),
        _ => None,
    };
    check(
        "round trip p50 ≤ 1.15× floor (paired by trial)".into(),
        s.paired("mmring", "floor", Kind::Rtt, 8, p50),
        &|x| x <= 1.15,
    );
    check(
        "round trip p50 ≤ shaq's p50 (mmring ÷ shaq, paired by trial)".into(),
        s.paired("mmring", "shaq", Kind::Rtt, 8, p50),
        &|x| x <= 1.0,
    );
    check(
        "round trip p99.9 ≤ 2× floor (paired by trial)".into(),
        s.paired("mmring", "floor", Kind::Rtt, 8, p999),
        &|x| x <= 2.0,
    );
    for size in [8, 64, 1024, 65536] {
        check(
            format!(
                "{} streaming (batches) ≥ 1.0× shaq (paired by trial)",
                size_name(size)
            ),
            s.paired("mmring", "shaq", Kind::Stream, size, msgs),
            &|x| x >= 1.0,
        );
    }
    for size in [64, 1024] {
        // The earlier build measured in this run if there is one, else a --baseline-json run.
        let same_run = s.paired("mmring-1by1", "mmring-prev-1by1", Kind::Stream, size, msgs);
        let (value, whose) = match same_run {
            Some(x) => (Some(x), "mmring-prev-1by1 (same run, paired by trial)"),
            None => (
                rate("mmring-1by1", size)
                    .zip(s.baseline_1by1.iter().find(|b| b.0 == size).map(|b| b.1))
                    .map(|(n, b)| n.0 / b),
                "the --baseline-json run's mmring-1by1",
            ),
        };
        check(
            format!("{} one-by-one streaming ≥ 2× {whose}", size_name(size)),
            value,
            &|x| x >= 2.0,
        );
    }
    let idle = s.row("mmring", Kind::Idle, 8);
    v.push(match idle.and_then(|r| r.cpu.zip(r.wakeups)) {
        Some((c, w)) => format!(
            "{} idle parked reader ≤ 1 wake-up/s (not counting the one that delivers the \
             message ending the case) and < 1% of a CPU: {w:.2}/s, {:.3}%",
            if w <= 1.0 + 1e-9 && c < 0.01 {
                "MET   "
            } else {
                "MISSED"
            },
            c * 100.0
        ),
        None => "NOT MEASURED idle parked reader ≤ 1 wake-up/s".into(),
    });
    for size in [8, 64, 1024, 65536] {
        if let Some(x) = s.paired("mmring", "minimal-ring-batched", Kind::Stream, size, msgs) {
            v.push(format!(
                "INFO   {} streaming (batches) ÷ minimal-ring-batched, paired by trial: {}",
                size_name(size),
                ratio(x, 1.0)
            ));
        }
    }
    v
}

const COLORS: [&str; 10] = [
    "#000000", "#888888", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
    "#e377c2", "#17becf",
];

fn panel(out: &mut String, s: &Summary, kind: Kind, x0: f64, title: &str) {
    let rows: Vec<(&str, Latency)> = s
        .of_kind(kind)
        .filter_map(|r| r.lat.map(|l| (r.transport, l)))
        .collect();
    let (w, h, top, left) = (430.0, 330.0, 50.0, x0 + 60.0);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="28" font-size="15" font-weight="bold">{title}</text>"#,
        x0 + 60.0
    );
    if rows.is_empty() {
        return;
    }
    let vals = rows.iter().flat_map(|(_, l)| [l.p50, l.max]);
    let lo = vals.clone().fold(f64::INFINITY, f64::min).max(1.0);
    let hi = vals.fold(0.0, f64::max).max(lo * 10.0);
    let (dlo, dhi) = (lo.log10().floor(), hi.log10().ceil());
    let y = |v: f64| top + h - (v.max(1.0).log10() - dlo) / (dhi - dlo) * h;
    let labels = ["p50", "p90", "p99", "p99.9", "p99.99", "max"];
    let x = |i: usize| left + 20.0 + i as f64 * (w - 40.0) / 5.0;
    let _ = writeln!(
        out,
        r##"<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#444"/>"##
    );
    let mut d = dlo as i32;
    while d as f64 <= dhi {
        let v = 10f64.powi(d);
        let yy = y(v);
        let label = if v >= 1e6 {
            format!("{} ms", v / 1e6)
        } else if v >= 1e3 {
            format!("{} µs", v / 1e3)
        } else {
            format!("{v} ns")
        };
        let _ = writeln!(
            out,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{label}</text>"##,
            left + w,
            left - 5.0,
            yy + 4.0
        );
        d += 1;
    }
    for (i, l) in labels.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle">{l}</text>"#,
            x(i),
            top + h + 16.0
        );
    }
    for (k, (name, l)) in rows.iter().enumerate() {
        let c = COLORS[k % COLORS.len()];
        let pts: Vec<String> = [l.p50, l.p90, l.p99, l.p999, l.p9999, l.max]
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let width = if name.starts_with("mmring") {
            3
        } else {
            1.5 as i32 + 1
        };
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="{width}"/>"#,
            pts.join(" ")
        );
        let ly = top + 14.0 + k as f64 * 15.0;
        let _ = writeln!(
            out,
            r#"<line x1="{:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{c}" stroke-width="{width}"/><text x="{:.1}" y="{:.1}" font-size="11">{name} ({})</text>"#,
            left + 8.0,
            left + 26.0,
            left + 30.0,
            ly + 4.0,
            ns(l.p50)
        );
    }
}

/// Latency percentiles of every transport as an SVG: busy-polling and parked round trips.
pub fn svg(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="420" font-family="sans-serif">"#
    );
    let _ = writeln!(out, r#"<rect width="1000" height="420" fill="white"/>"#);
    panel(
        &mut out,
        s,
        Kind::Rtt,
        0.0,
        "Round trip, busy-polling, 8 B (log scale)",
    );
    panel(
        &mut out,
        s,
        Kind::Parked,
        500.0,
        "Round trip, parked (log scale)",
    );
    let _ = writeln!(out, "</svg>");
    out
}

/// Every record as JSON (hand-written: no serde in this crate).
pub fn json(records: &[Record]) -> String {
    let mut out = String::from("[\n");
    for (i, r) in records.iter().enumerate() {
        let body = match r.outcome {
            Outcome::Latency(l) => format!(
                r#""samples":{},"p50_ns":{},"p90_ns":{},"p99_ns":{},"p999_ns":{},"p9999_ns":{},"max_ns":{}"#,
                l.samples, l.p50, l.p90, l.p99, l.p999, l.p9999, l.max
            ),
            Outcome::Throughput {
                msgs,
                msgs_per_s,
                bytes_per_s,
            } => format!(
                r#""msgs":{msgs},"msgs_per_s":{msgs_per_s:.1},"bytes_per_s":{bytes_per_s:.1}"#
            ),
            Outcome::Cpu {
                fraction,
                wakeups_per_s,
            } => format!(r#""cpu_fraction":{fraction:.6},"wakeups_per_s":{wakeups_per_s:.2}"#),
        };
        let _ = write!(
            out,
            r#"  {{"transport":"{}","case":"{}","size":{},"trial":{},"probe_ns":{},{body}}}"#,
            r.transport,
            r.kind.name(),
            r.size,
            r.trial,
            r.probe_ns
        );
        out.push_str(if i + 1 < records.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    out
}

fn size_name(size: usize) -> String {
    match size {
        s if s >= 1024 && s % 1024 == 0 => format!("{} KiB", s / 1024),
        s => format!("{s} B"),
    }
}

/// The `mmring-1by1` streaming medians (size, msgs/s) in the `--json` output of another run.
pub fn baseline_1by1(json: &str) -> Vec<(usize, f64)> {
    let field = |line: &str, name: &str| -> Option<String> {
        let at = line.find(&format!("\"{name}\":"))? + name.len() + 3;
        let rest = &line[at..];
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim_matches('"').to_string())
    };
    let mut by_size: Vec<(usize, Vec<f64>)> = Vec::new();
    for line in json.lines() {
        if field(line, "transport").as_deref() != Some("mmring-1by1")
            || field(line, "case").as_deref() != Some("stream")
        {
            continue;
        }
        let (Some(size), Some(rate)) = (
            field(line, "size").and_then(|v| v.parse::<usize>().ok()),
            field(line, "msgs_per_s").and_then(|v| v.parse::<f64>().ok()),
        ) else {
            continue;
        };
        match by_size.iter_mut().find(|b| b.0 == size) {
            Some(b) => b.1.push(rate),
            None => by_size.push((size, vec![rate])),
        }
    }
    by_size.into_iter().map(|(s, v)| (s, median(v))).collect()
}
