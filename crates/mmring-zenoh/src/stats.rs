//! The counters a bridge keeps, their one-line form, and the thread that prints them (and a
//! progress line on a terminal) while the bridge runs.

use std::fmt;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zenoh::Wait;

/// What a bridge has done so far. Every field only grows. Relaxed everywhere: these are
/// statistics, read as a snapshot that may be a moment old, never used to synchronise.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages bridged: outbound, published and (lossless) acknowledged; inbound, written.
    pub messages: AtomicU64,
    /// Payload bytes of those messages.
    pub bytes: AtomicU64,
    /// Messages dropped on purpose (lossy mode only): outbound, published while no subscriber
    /// matched; inbound, the ring or the queue was full.
    pub dropped: AtomicU64,
    /// Messages longer than the destination ring's maximum, dropped and reported (inbound).
    pub too_large: AtomicU64,
    /// Messages received again and dropped because they were already written (inbound).
    pub duplicates: AtomicU64,
    /// Places where the stream of one source skipped messages (inbound).
    pub gaps: AtomicU64,
    /// Messages published again after the subscriber was lost and found again (outbound).
    pub republished: AtomicU64,
    /// Times this bridge's Zenoh session regained a peer or router after losing all of them.
    pub reconnects: AtomicU64,
}

/// A copy of [`Counters`] at one moment.
///
/// ```
/// let s = mmring_zenoh::stats::Snapshot { messages: 3, bytes: 12, ..Default::default() };
/// assert_eq!(s.to_string(),
///     "messages=3 bytes=12 dropped=0 too_large=0 duplicates=0 gaps=0 republished=0 reconnects=0");
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Snapshot {
    pub messages: u64,
    pub bytes: u64,
    pub dropped: u64,
    pub too_large: u64,
    pub duplicates: u64,
    pub gaps: u64,
    pub republished: u64,
    pub reconnects: u64,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            messages: g(&self.messages),
            bytes: g(&self.bytes),
            dropped: g(&self.dropped),
            too_large: g(&self.too_large),
            duplicates: g(&self.duplicates),
            gaps: g(&self.gaps),
            republished: g(&self.republished),
            reconnects: g(&self.reconnects),
        }
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "messages={} bytes={} dropped={} too_large={} duplicates={} gaps={} republished={} reconnects={}",
            self.messages,
            self.bytes,
            self.dropped,
            self.too_large,
            self.duplicates,
            self.gaps,
            self.republished,
            self.reconnects
        )
    }
}

/// How the monitor reports while the bridge runs.
#[derive(Debug, Clone)]
pub struct Report {
    /// `"out"` or `"in"`, the prefix of every line.
    pub side: &'static str,
    /// Print a `stats` line this often (`--stats`, `--stats-interval`).
    pub interval: Option<Duration>,
    /// Draw a progress line on standard error if it is a terminal (and no `interval`).
    pub progress: bool,
    /// A line printed once the bridge is set up (its Zenoh session open, its publisher or
    /// subscriber declared), after the side's prefix.
    pub announce: Option<String>,
}

/// Watches the session's connectivity (to count reconnects) and prints the counters, until
/// `stop` is set. Runs on its own thread; joins nothing of Zenoh's.
pub(crate) fn monitor(
    session: zenoh::Session,
    counters: Arc<Counters>,
    report: Report,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("mmring-zenoh-monitor".into())
        .spawn(move || {
            if let Some(a) = &report.announce {
                eprintln!("mmring-zenoh {}: {a}", report.side);
            }
            let bar =
                (report.progress && report.interval.is_none() && std::io::stderr().is_terminal())
                    .then(|| {
                        let b = indicatif::ProgressBar::new_spinner();
                        b.set_style(
                            indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg}")
                                .expect("a valid template"),
                        );
                        b.set_prefix(format!("mmring-zenoh {}", report.side));
                        b
                    });
            let tick = report.interval.map_or(Duration::from_millis(100), |i| {
                i.min(Duration::from_millis(100))
            });
            let mut connected = false;
            let mut ever = false;
            let mut last_print = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let now_connected = session.info().peers_zid().wait().next().is_some()
                    || session.info().routers_zid().wait().next().is_some();
                if now_connected && !connected {
                    if ever {
                        Counters::add(&counters.reconnects, 1);
                    }
                    ever = true;
                }
                connected = now_connected;
                if let Some(b) = &bar {
                    let s = counters.snapshot();
                    b.set_message(format!(
                        "{} msgs, {} bytes, {} dropped, {} too large{}",
                        s.messages,
                        s.bytes,
                        s.dropped,
                        s.too_large,
                        if connected { "" } else { " (no peer)" }
                    ));
                    b.tick();
                }
                if let Some(every) = report.interval {
                    if last_print.elapsed() >= every {
                        last_print = Instant::now();
                        eprintln!(
                            "mmring-zenoh {}: stats {}",
                            report.side,
                            counters.snapshot()
                        );
                    }
                }
                std::thread::park_timeout(tick);
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        })
        .expect("spawn the monitor thread")
}
