//! The benchmark's report: throughput, latency percentiles and a text histogram.

use crate::units::human_bytes;
use mmring_testkit::latency::LatencyHistogram;
use std::fmt::Write as _;
use std::time::Duration;

/// What was measured.
pub struct Report<'a> {
    /// Message size in bytes.
    pub size: usize,
    /// `spin` or `park`.
    pub mode: &'static str,
    /// The CPUs of the parent and the peer, if pinned.
    pub cpus: Option<(usize, usize)>,
    /// Capacity of each ring.
    pub capacity: u64,
    /// Round-trip times in nanoseconds.
    pub hist: &'a LatencyHistogram,
    /// Messages streamed (and counted by the peer).
    pub sent: u64,
    /// Time from the first streamed message to the peer's confirmation of the last.
    pub elapsed: Duration,
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Prints the report on standard output.
pub fn print(r: &Report<'_>) {
    print!("{}", render(r));
}

/// The report as text.
pub fn render(r: &Report<'_>) -> String {
    let mut s = String::new();
    let placement = match r.cpus {
        Some((a, b)) => format!("pinned to CPUs {a} and {b}"),
        None => "not pinned".to_string(),
    };
    let _ = writeln!(
        s,
        "mmring bench: {}-byte messages, {} mode, 2 processes {placement}, {} rings",
        r.size,
        r.mode,
        human_bytes(r.capacity)
    );
    let l = r.hist.summary();
    let _ = writeln!(
        s,
        "\nround trip (ping-pong), {} samples, ns:",
        thousands(l.samples)
    );
    for (label, v) in [
        ("p50", l.p50),
        ("p90", l.p90),
        ("p99", l.p99),
        ("p99.9", l.p999),
        ("p99.99", l.p9999),
        ("max", l.max),
        ("min", l.min),
    ] {
        let _ = writeln!(s, "  {label:<7}{:>12}", thousands(v as u64));
    }
    let _ = writeln!(s, "  {:<7}{:>12.0}", "mean", l.mean);
    let _ = writeln!(s, "\nround-trip histogram (ns, power-of-two buckets):");
    s += &histogram_text(r.hist, 40);
    let secs = r.elapsed.as_secs_f64();
    let rate = r.sent as f64 / secs;
    let mbs = rate * r.size as f64 / 1e6;
    let _ = writeln!(
        s,
        "\nstreaming, one way: {} messages in {secs:.2} s, all sequence-checked by the peer",
        thousands(r.sent)
    );
    let _ = writeln!(s, "  {:.2} M msgs/s, {mbs:.1} MB/s of payload", rate / 1e6);
    s
}

/// One line per power-of-two bucket from the smallest to the largest sample.
pub fn histogram_text(h: &LatencyHistogram, width: usize) -> String {
    let h = h.hdr();
    let mut s = String::new();
    if h.is_empty() {
        s += "  (no samples)\n";
        return s;
    }
    let total = h.len() as f64;
    let mut low = 1u64 << (63 - h.min().max(1).leading_zeros());
    let max = h.max();
    let mut cumulative = 0u64;
    while low <= max {
        let high = low.saturating_mul(2) - 1;
        let count = h.count_between(low, high);
        cumulative += count;
        let frac = count as f64 / total;
        let bar_len = (frac * width as f64).round() as usize;
        let bar = if count > 0 && bar_len == 0 {
            ".".to_string()
        } else {
            "#".repeat(bar_len)
        };
        let _ = writeln!(
            s,
            "  {:>11} - {:<11} |{bar:<width$}| {:>6.2}%  {:>7.3}%  {}",
            thousands(low),
            thousands(high),
            frac * 100.0,
            cumulative as f64 * 100.0 / total,
            thousands(count)
        );
        if high == u64::MAX {
            break;
        }
        low = high + 1;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn numbers_and_buckets() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        let mut h = LatencyHistogram::new();
        for v in [300, 310, 320, 700] {
            h.record(Duration::from_nanos(v));
        }
        let t = histogram_text(&h, 4);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2, "{t}");
        assert!(
            lines[0].contains("256 - 511") && lines[0].ends_with(" 3"),
            "{t}"
        );
        assert!(
            lines[1].contains("512 - 1,023") && lines[1].ends_with(" 1"),
            "{t}"
        );
        assert!(
            lines[0].contains("|###.|") || lines[0].contains("|### |"),
            "{t}"
        );
    }
}
