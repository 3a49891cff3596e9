//! Blocking: wait strategies and the loop that waits for a condition, the peer's death, or a
//! deadline.
//!
//! The loop never makes a system call while the condition can be polled cheaply: it spins (and,
//! for `SpinYield`, yields) first, and the default `Park` strategy only sleeps on the futex
//! after [`SPIN_BEFORE_PARK`] without progress. The peer's liveness is probed (one `fcntl`) at
//! most every [`PROBE_INTERVAL`] while idle, so a parked side also wakes at that interval to
//! look — never a heartbeat the peer has to keep up.

use crate::error::Corrupt;
use crate::ring::notify::WaitWords;
use crate::sync::spin_hint;
#[cfg(not(loom))]
use crate::sync::yield_now;
use std::time::Duration;
#[cfg(not(loom))]
use std::time::Instant;

/// How a blocked `send` or `recv` waits.
///
/// ```
/// use mmring_core::WaitStrategy;
/// assert_eq!(WaitStrategy::default(), WaitStrategy::Park);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WaitStrategy {
    /// Poll without pause: the lowest latency, one CPU busy while waiting.
    Spin,
    /// Poll for a few microseconds, then `sched_yield` between polls.
    SpinYield,
    /// Poll for a few microseconds, then sleep on a futex in the shared mapping until the peer
    /// makes progress. Uses no CPU while idle. The default.
    #[default]
    Park,
}

/// How long `SpinYield` and `Park` poll before yielding or sleeping.
pub const SPIN_BEFORE_PARK: Duration = Duration::from_micros(50);

/// How often an idle side checks that its peer is still there.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(20);

/// When a blocking call gives up (`None`: never). Loom has no clock, so there it is always `None`.
#[cfg(not(loom))]
pub(crate) type Deadline = Option<Instant>;
/// When a blocking call gives up (`None`: never). Loom has no clock, so there it is always `None`.
#[cfg(loom)]
pub(crate) type Deadline = Option<()>;

/// Why a blocking operation ended without its condition.
#[derive(Debug)]
pub(crate) enum Blocked {
    /// The deadline passed (never under loom, which has no clock).
    #[cfg_attr(loom, allow(dead_code))]
    Timeout,
    Disconnected,
    Corrupt(Corrupt),
}

impl From<Corrupt> for Blocked {
    fn from(c: Corrupt) -> Self {
        Blocked::Corrupt(c)
    }
}

/// One side's view of what it waits for.
pub(crate) trait Blocking {
    /// What becomes available (a reservation, a record).
    type Ready;
    /// Checks the condition once, without blocking.
    fn poll(&mut self) -> Result<Option<Self::Ready>, Corrupt>;
    /// Whether the peer has gone for good, from the header only (`deep == false`) or also
    /// asking the kernel (`deep == true`, a system call).
    fn peer_gone(&mut self, deep: bool) -> bool;
    /// Whether the peer has gone, asking the kernel if the side's `PeerWatch` says a deep probe
    /// is due at `now`.
    #[cfg(not(loom))]
    fn watch_at(&mut self, now: Instant) -> bool;
    /// When the next deep probe is due.
    #[cfg(not(loom))]
    fn next_probe(&self) -> Instant;
    /// The words this side sleeps on.
    fn words(&self) -> WaitWords<'_>;
    /// Sleeps on `words().seq` while it still holds `seq`, for at most `timeout`.
    fn sleep(&self, seq: u32, timeout: Option<Duration>);
}

/// Sleeps once: announces, re-checks, sleeps. Returns what the re-check found.
///
/// The re-check covers the peer's clean detach too: `detach` stores CLOSED and then bumps the
/// sequence word, so either our sequence read predates the bump (and the kernel refuses to
/// sleep, or the wake that follows the bump finds us) or it sees the bump, and then the CLOSED
/// store is visible to `peer_gone(false)`.
fn park_once<B: Blocking>(
    b: &mut B,
    timeout: Option<Duration>,
) -> Result<Option<B::Ready>, Corrupt> {
    let seq = b.words().announce();
    let again = b.poll();
    if matches!(again, Ok(None)) && !b.peer_gone(false) {
        b.sleep(seq, timeout);
    }
    b.words().done();
    again
}

/// Waits until `b.poll()` yields, the peer is gone, or `deadline` passes.
#[cfg(not(loom))]
pub(crate) fn block<B: Blocking>(
    b: &mut B,
    strategy: WaitStrategy,
    deadline: Deadline,
) -> Result<B::Ready, Blocked> {
    if let Some(r) = b.poll()? {
        return Ok(r);
    }
    // The clock costs tens of nanoseconds (more under some hypervisors), so it is read only
    // every 64 polls: a message that arrives within the first polls is taken without any clock
    // read, which matters for round-trip latency. The spin phase starts at the first read; the
    // deep probes follow the side's own schedule (`PeerWatch`), shared with its non-blocking
    // calls.
    let mut spin_until: Option<Instant> = None;
    let mut iter: u32 = 0;
    loop {
        iter = iter.wrapping_add(1);
        if let Some(r) = b.poll()? {
            return Ok(r);
        }
        if iter % 64 != 0 {
            spin_hint();
            continue;
        }
        let now = Instant::now();
        let spin_until = *spin_until.get_or_insert(now + SPIN_BEFORE_PARK);
        if b.watch_at(now) {
            // Everything the peer published before going is visible now; take it first.
            return b.poll()?.ok_or(Blocked::Disconnected);
        }
        if deadline.is_some_and(|d| now >= d) {
            return Err(Blocked::Timeout);
        }
        match strategy {
            WaitStrategy::Spin => spin_hint(),
            _ if now < spin_until => spin_hint(),
            WaitStrategy::SpinYield => yield_now(),
            WaitStrategy::Park => {
                let mut timeout = b.next_probe().saturating_duration_since(now);
                if let Some(d) = deadline {
                    timeout = timeout.min(d.saturating_duration_since(now));
                }
                if let Some(r) = park_once(b, Some(timeout))? {
                    return Ok(r);
                }
            }
        }
    }
}

/// The loom version: no clock, no spinning phase; every idle round checks the peer and parks.
#[cfg(loom)]
pub(crate) fn block<B: Blocking>(
    b: &mut B,
    _strategy: WaitStrategy,
    _deadline: Deadline,
) -> Result<B::Ready, Blocked> {
    loop {
        if let Some(r) = b.poll()? {
            return Ok(r);
        }
        if b.peer_gone(true) {
            return b.poll()?.ok_or(Blocked::Disconnected);
        }
        if let Some(r) = park_once(b, None)? {
            return Ok(r);
        }
        spin_hint();
    }
}
