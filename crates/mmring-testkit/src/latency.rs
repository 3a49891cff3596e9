//! Latency histograms (HdrHistogram, nanoseconds) and their percentile summary.
//!
//! ```
//! use mmring_testkit::latency::LatencyHistogram;
//! use std::time::Duration;
//! let mut h = LatencyHistogram::new();
//! for ns in [300, 310, 320, 700] {
//!     h.record(Duration::from_nanos(ns));
//! }
//! let l = h.summary();
//! assert_eq!((l.samples, l.min, l.max), (4, 300.0, 700.0));
//! assert!((310.0..=311.0).contains(&l.p50));
//! ```

use hdrhistogram::Histogram;
use std::time::Duration;

/// The largest time a histogram holds apart: 60 s; longer samples count as 60 s.
pub const MAX_NS: u64 = 60_000_000_000;

/// Round-trip (or any) times from 1 ns to 60 s, at 3 significant digits.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    h: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> LatencyHistogram {
        LatencyHistogram {
            h: Histogram::new_with_bounds(1, MAX_NS, 3).expect("valid histogram bounds"),
        }
    }

    /// Records one time: at least 1 ns, at most [`MAX_NS`].
    #[inline]
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.h.saturating_record(ns.clamp(1, MAX_NS));
    }

    /// How many times were recorded.
    pub fn len(&self) -> u64 {
        self.h.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.h.is_empty()
    }

    /// The percentiles.
    pub fn summary(&self) -> Latency {
        Latency::of(&self.h)
    }

    /// The underlying HdrHistogram, for finer questions (counts between two values, …).
    pub fn hdr(&self) -> &Histogram<u64> {
        &self.h
    }
}

/// The percentile summary of a latency histogram, in nanoseconds (zeros when it is empty).
///
/// The fields are `f64` so that a median over several runs is one too.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    /// Number of samples.
    pub samples: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// 99.99th percentile.
    pub p9999: f64,
    /// Largest.
    pub max: f64,
    /// Smallest.
    pub min: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    /// Summarises a histogram of nanoseconds.
    pub fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            samples: h.len(),
            p50: h.value_at_quantile(0.5) as f64,
            p90: h.value_at_quantile(0.9) as f64,
            p99: h.value_at_quantile(0.99) as f64,
            p999: h.value_at_quantile(0.999) as f64,
            p9999: h.value_at_quantile(0.9999) as f64,
            max: h.max() as f64,
            min: h.min() as f64,
            mean: h.mean(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_times_are_clamped() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::ZERO);
        h.record(Duration::from_secs(3600));
        let l = h.summary();
        assert_eq!(l.samples, 2);
        assert_eq!(l.min, 1.0);
        assert!(l.max >= MAX_NS as f64 * 0.999, "{l:?}");
    }
}
