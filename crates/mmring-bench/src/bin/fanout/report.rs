//! Medians over trials, the two markdown tables, and the JSON of every run.

use super::common::{Test, Transport, Wait};
use super::run::Outcome;
use mmring_testkit::probe;
use std::fmt::Write as _;

/// One run of one configuration.
#[derive(Debug, Clone)]
pub struct Record {
    /// What was measured.
    pub test: Test,
    /// Message size.
    pub size: usize,
    /// Reader processes.
    pub readers: usize,
    /// The transport.
    pub transport: Transport,
    /// How idle sides waited.
    pub wait: Wait,
    /// Whether every process was pinned to its own CPU.
    pub pinned: bool,
    /// Trial number (0-based).
    pub trial: usize,
    /// Floor probe p50 just before this trial (ns).
    pub probe_ns: f64,
    /// The figures.
    pub outcome: Outcome,
}

impl Record {
    /// Mean of the readers' rates (msgs/s).
    pub fn per_reader(&self) -> f64 {
        self.aggregate() / self.outcome.readers.len().max(1) as f64
    }

    /// Sum of the readers' rates (msgs/s).
    pub fn aggregate(&self) -> f64 {
        self.outcome.readers.iter().map(|r| r.window.rate()).sum()
    }
}

/// How a row waited, as printed.
pub fn strategy(t: Transport, w: Wait) -> &'static str {
    match (t, w) {
        (Transport::Mmring, Wait::Spin) => "WaitStrategy::Spin (busy-poll)",
        (Transport::Mmring, Wait::Park) => "WaitStrategy::Park (blocking recv/reserve)",
        (Transport::Mmring, Wait::Yield) => "WaitStrategy::SpinYield (extra row)",
        (Transport::Iceoryx2, Wait::Spin) => "busy-poll, spin_loop",
        (Transport::Iceoryx2, Wait::Yield | Wait::Park) => "busy-poll, yield_now",
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Medians of one configuration over its trials.
struct Row {
    test: Test,
    size: usize,
    readers: usize,
    transport: Transport,
    wait: Wait,
    pinned: bool,
    trials: usize,
    per_reader: f64,
    aggregate: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    samples: f64,
}

fn rows(records: &[Record]) -> Vec<Row> {
    let mut keys = Vec::new();
    for r in records {
        let k = (r.test, r.size, r.readers, r.transport, r.wait);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .map(|(test, size, readers, transport, wait)| {
            let rs: Vec<&Record> = records
                .iter()
                .filter(|r| {
                    (r.test, r.size, r.readers, r.transport, r.wait)
                        == (test, size, readers, transport, wait)
                })
                .collect();
            let lat = |f: fn(&mmring_testkit::latency::Latency) -> f64| {
                median(
                    rs.iter()
                        .filter_map(|r| r.outcome.writer.latency.as_ref().map(f))
                        .collect(),
                )
            };
            Row {
                test,
                size,
                readers,
                transport,
                wait,
                pinned: rs.iter().all(|r| r.pinned),
                trials: rs.len(),
                per_reader: median(rs.iter().map(|r| r.per_reader()).collect()),
                aggregate: median(rs.iter().map(|r| r.aggregate()).collect()),
                p50: lat(|l| l.p50),
                p99: lat(|l| l.p99),
                p999: lat(|l| l.p999),
                samples: lat(|l| l.samples as f64),
            }
        })
        .collect()
}

fn mps(x: f64) -> String {
    format!("{:.2} M", x / 1e6)
}

fn ns(x: f64) -> String {
    if x >= 100_000.0 {
        format!("{:.0} µs", x / 1000.0)
    } else if x >= 10_000.0 {
        format!("{:.1} µs", x / 1000.0)
    } else {
        format!("{x:.0} ns")
    }
}

fn pinned(p: bool) -> &'static str {
    if p {
        "yes"
    } else {
        "no"
    }
}

/// The report: a header on the run, the streaming table per size, the latency table, notes.
pub fn tables(records: &[Record], cpus: usize, args: &str, iceoryx2_built: bool) -> String {
    let rows = rows(records);
    let mut out = String::new();
    let probes: Vec<f64> = records.iter().map(|r| r.probe_ns).collect();
    let (lo, hi) = probes.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &p| {
        (lo.min(p), hi.max(p))
    });
    let _ = writeln!(out, "# mmring fan-out: one writer, N reader processes\n");
    let mid = median(probes.clone());
    let _ = writeln!(
        out,
        "{args}; {cpus} online CPUs; floor probe (cache-line round trip between the first two \
         CPUs, before every trial) p50 {mid:.0} ns (median; {lo:.0} to {hi:.0} ns): {}.",
        probe::Placement::of_round_trip(mid).describe()
    );
    let _ = writeln!(
        out,
        "Processes: 1 writer + N readers (the parent only waits). Where they fit on the CPUs \
         (N + 1 <= {cpus}) each is pinned to its own CPU and idle sides busy-poll; otherwise \
         nothing is pinned, mmring uses WaitStrategy::Park and iceoryx2 polls with yield_now \
         (an extra mmring SpinYield row is the like-for-like comparison with that)."
    );
    if !iceoryx2_built {
        let _ = writeln!(
            out,
            "Built without the `iceoryx2` feature: mmring rows only."
        );
    }
    let ratio = |r: &Row, f: fn(&Row) -> f64| -> String {
        if r.transport != Transport::Mmring {
            return "—".into();
        }
        rows.iter()
            .find(|o| {
                o.transport == Transport::Iceoryx2
                    && (o.test, o.size, o.readers) == (r.test, r.size, r.readers)
            })
            .map_or("—".into(), |o| format!("{:.2}", f(r) / f(o)))
    };
    let mut sizes: Vec<usize> = Vec::new();
    for r in rows.iter().filter(|r| r.test == Test::Stream) {
        if !sizes.contains(&r.size) {
            sizes.push(r.size);
        }
    }
    for size in sizes {
        let _ = writeln!(
            out,
            "\n## Streaming, {size} B messages (msgs/s received, copied out and checked by \
             each reader; median of trials)\n"
        );
        let _ = writeln!(
            out,
            "| readers | transport | strategy | pinned | msgs/s per reader | aggregate msgs/s | mmring/iceoryx2 |"
        );
        let _ = writeln!(out, "|---:|---|---|---|---:|---:|---:|");
        for r in rows
            .iter()
            .filter(|r| r.test == Test::Stream && r.size == size)
        {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.readers,
                r.transport.name(),
                strategy(r.transport, r.wait),
                pinned(r.pinned),
                mps(r.per_reader),
                mps(r.aggregate),
                ratio(r, |r| r.per_reader)
            );
        }
    }
    if rows.iter().any(|r| r.test == Test::Rtt) {
        let _ = writeln!(
            out,
            "\n## Round trip to the first reader (8 B ping, answer on a back channel; the other \
             readers consume the pings; median of trials)\n"
        );
        let _ = writeln!(
            out,
            "| readers | transport | strategy | pinned | p50 | p99 | p99.9 | samples | mmring/iceoryx2 p50 |"
        );
        let _ = writeln!(out, "|---:|---|---|---|---:|---:|---:|---:|---:|");
        for r in rows.iter().filter(|r| r.test == Test::Rtt) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {:.0} | {} |",
                r.readers,
                r.transport.name(),
                strategy(r.transport, r.wait),
                pinned(r.pinned),
                ns(r.p50),
                ns(r.p99),
                ns(r.p999),
                r.samples,
                ratio(r, |r| r.p50)
            );
        }
    }
    let trials: Vec<usize> = rows.iter().map(|r| r.trials).collect();
    let _ = writeln!(
        out,
        "\nRatios are mmring's figure over iceoryx2's (throughput: above 1 is mmring faster; \
         latency: below 1 is mmring faster). Every row: {} trial(s); every message's sequence \
         number checked in every reader, and every reader received every message.",
        trials.iter().min().copied().unwrap_or(0)
    );
    if iceoryx2_built {
        let _ = writeln!(
            out,
            "iceoryx2: safe overflow off, RetryUntilDelivered (a publisher facing a full \
             subscriber queue waits inside `send`, in iceoryx2's adaptive wait: yield, then \
             sleep, in every row); no WaitSet/Listener (see the module docs)."
        );
    }
    out
}

/// Every run, as JSON.
pub fn json(records: &[Record]) -> String {
    let mut out = String::from("[\n");
    for (i, r) in records.iter().enumerate() {
        let rates: Vec<String> = r
            .outcome
            .readers
            .iter()
            .map(|x| format!("{:.1}", x.window.rate()))
            .collect();
        let received: Vec<String> = r
            .outcome
            .readers
            .iter()
            .map(|x| x.received.to_string())
            .collect();
        let lat = r.outcome.writer.latency.map_or(String::new(), |l| {
            format!(
                r#","samples":{},"p50_ns":{},"p90_ns":{},"p99_ns":{},"p999_ns":{},"p9999_ns":{},"max_ns":{}"#,
                l.samples, l.p50, l.p90, l.p99, l.p999, l.p9999, l.max
            )
        });
        let _ = write!(
            out,
            r#"  {{"test":"{}","size":{},"readers":{},"transport":"{}","wait":"{}","strategy":"{}","pinned":{},"trial":{},"probe_ns":{},"sent":{},"received":[{}],"msgs_per_s_per_reader":[{}],"aggregate_msgs_per_s":{:.1}{lat}}}"#,
            r.test.name(),
            r.size,
            r.readers,
            r.transport.name(),
            r.wait.name(),
            strategy(r.transport, r.wait),
            r.pinned,
            r.trial,
            r.probe_ns,
            r.outcome.writer.sent,
            received.join(","),
            rates.join(","),
            r.aggregate()
        );
        out.push_str(if i + 1 < records.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    out
}
