//! The placement probe: a short cache-line ping-pong that tells whether two CPUs are separate
//! cores or SMT siblings of one core.
//!
//! A host may run a VM's two vCPUs on two cores or on the two hardware threads of one core, and
//! the guest cannot see which: the round trip of one cache line between them is the only
//! witness (about 230 ns between cores of the machines this project measures on, about 55-110
//! ns between siblings), and it moves every cross-CPU figure. Probe before each measurement,
//! record the figure, and compare only figures taken under the same placement.
//!
//! ```
//! use mmring_testkit::{cpu, probe};
//! let l = probe::round_trip(cpu::two_cpus())?;
//! println!("{:.0} ns: {}", l.p50, probe::Placement::of_round_trip(l.p50).describe());
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::cpu;
use crate::latency::{Latency, LatencyHistogram};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Round trips during this time after the start are not recorded.
pub const WARMUP: Duration = Duration::from_millis(5);
/// How long round trips are recorded, after [`WARMUP`].
pub const MEASURE: Duration = Duration::from_millis(20);
/// A median round trip below this (ns) is taken for SMT siblings, at or above it for separate
/// cores.
pub const SMT_BELOW_NS: f64 = 120.0;

/// What the probe says about two CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Two hardware threads of one core: the line never leaves the core's caches.
    SmtSiblings,
    /// Two cores: the line crosses between their caches.
    SeparateCores,
}

impl Placement {
    /// The placement a median round trip of `p50_ns` indicates (see [`SMT_BELOW_NS`]).
    pub fn of_round_trip(p50_ns: f64) -> Placement {
        if p50_ns < SMT_BELOW_NS {
            Placement::SmtSiblings
        } else {
            Placement::SeparateCores
        }
    }

    /// `the two CPUs look like SMT siblings` or `the two CPUs look like separate cores`.
    pub fn describe(self) -> &'static str {
        match self {
            Placement::SmtSiblings => "the two CPUs look like SMT siblings",
            Placement::SeparateCores => "the two CPUs look like separate cores",
        }
    }
}

/// The value that ends the ping-pong (odd, as pings are; checked first).
const STOP: u64 = u64::MAX;
/// A side that sees no answer for this long gives up.
const PATIENCE: Duration = Duration::from_secs(10);

/// The probed cache line, alone on its 128 bytes (no neighbour, even for adjacent-line
/// prefetch).
#[repr(align(128))]
struct Line(AtomicU64);

/// Bounces one cache line between two threads pinned to `cpus` (unpinned if `None`) for
/// [`WARMUP`] + [`MEASURE`] and returns the round trips recorded after the warm-up.
///
/// The pinger stores `2n + 1` and spins until it reads `2n + 2`, which the ponger stores when
/// it reads `2n + 1`; each round trip is timed with two clock reads, as a benchmark times a
/// message's. The calling thread only waits, and keeps its own affinity.
///
/// # Errors
/// A thread cannot be pinned (the error of [`cpu::pin`]), or an answer took longer than 10 s.
pub fn round_trip(cpus: Option<(usize, usize)>) -> io::Result<Latency> {
    let line = Line(AtomicU64::new(0));
    let word = &line.0;
    std::thread::scope(|s| {
        let (pinned, is_pinned) = mpsc::channel();
        let ponger = s.spawn(move || {
            let r = cpus.map_or(Ok(()), |(_, b)| cpu::pin(b));
            let ok = r.is_ok();
            let _ = pinned.send(r);
            if ok {
                pong(word);
            }
        });
        let pinger = s.spawn(move || -> io::Result<Latency> {
            is_pinned
                .recv()
                .map_err(|_| io::Error::other("probe thread ended"))??;
            if let Some((a, _)) = cpus {
                if let Err(e) = cpu::pin(a) {
                    word.store(STOP, Ordering::Release);
                    return Err(e);
                }
            }
            let result = ping(word);
            word.store(STOP, Ordering::Release);
            result
        });
        let result = pinger.join().expect("the pinger does not panic");
        ponger.join().expect("the ponger does not panic");
        result
    })
}

/// Waits until `word` holds `want` (or, for the ponger, any value `want` accepts).
#[inline]
fn wait_for(word: &AtomicU64, want: impl Fn(u64) -> bool) -> Option<u64> {
    let since = Instant::now();
    let mut spins = 0u32;
    loop {
        // Acquire: pairs with the other side's Release store, as a ring's cursor load would
        // (the probe carries no other data; on x86 both are plain moves).
        let v = word.load(Ordering::Acquire);
        if want(v) {
            return Some(v);
        }
        spins = spins.wrapping_add(1);
        if spins % 4096 == 0 && since.elapsed() > PATIENCE {
            return None;
        }
        std::hint::spin_loop();
    }
}

fn ping(word: &AtomicU64) -> io::Result<Latency> {
    let mut h = LatencyHistogram::new();
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        let t0 = Instant::now();
        // Release: pairs with the ponger's Acquire load in `wait_for`.
        word.store(2 * n + 1, Ordering::Release);
        wait_for(word, |v| v == 2 * n + 2)
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "probe: no answer"))?;
        let t1 = Instant::now();
        n += 1;
        let since = t1 - start;
        if since >= WARMUP {
            h.record(t1 - t0);
            if since >= WARMUP + MEASURE {
                return Ok(h.summary());
            }
        }
    }
}

fn pong(word: &AtomicU64) {
    let mut last = 0;
    while let Some(v) = wait_for(word, |v| v == STOP || (v % 2 == 1 && v != last)) {
        if v == STOP {
            return;
        }
        last = v;
        // Release: pairs with the pinger's Acquire load in `wait_for`.
        word.store(v + 1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!(Placement::of_round_trip(100.0), Placement::SmtSiblings);
        assert_eq!(Placement::of_round_trip(120.0), Placement::SeparateCores);
    }

    #[test]
    fn probes_unpinned_and_pinned() {
        let l = round_trip(None).unwrap();
        assert!(l.samples > 0 && l.p50 > 0.0, "{l:?}");
        if let Some(pair) = cpu::two_cpus() {
            let l = round_trip(Some(pair)).unwrap();
            assert!(l.samples > 0 && l.p50 > 0.0, "{l:?}");
        }
    }

    #[test]
    fn a_cpu_that_cannot_be_pinned_is_an_error_not_a_hang() {
        assert!(round_trip(Some((0, 1 << 20))).is_err());
        assert!(round_trip(Some((1 << 20, 0))).is_err());
    }
}
