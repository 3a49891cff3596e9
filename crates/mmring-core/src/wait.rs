//! Blocking: wait strategies and the loop that waits for a condition, the peer's death, or a
//! deadline.
//!
//! The loop never makes a system call while the condition can be polled cheaply: it spins (and,
//! for `SpinYield`, yields) first, and the default `Park` strategy only sleeps on the futex
//! after [`SPIN_BEFORE_PARK`] without progress. The peer's liveness is probed (one `fcntl`) at
//! most every [`PROBE_INTERVAL`] while idle, so a parked side also wakes at that interval to
//! look — never a heartbeat the peer has to keep up.

use crate::error::Corrupt;
use crate::handle::Handle;
use crate::ring::notify::Via;
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
    /// Poll for [`SPIN_BEFORE_PARK`], then sleep until the peer makes progress or dies: on
    /// the side's doorbell (a FIFO next to the ring, an eventfd for anonymous rings) together
    /// with a pidfd of each peer process, so that a peer's death wakes it at once and an idle
    /// side wakes only once a second for a backstop check of its peer's lock. Where no
    /// doorbell or pidfd can be had (a directory it may not write, another pid namespace), it
    /// sleeps on a futex in the mapping and wakes every [`PROBE_INTERVAL`] to check its peer.
    /// The default.
    #[default]
    Park,
}

/// How long `SpinYield` and `Park` poll before yielding or sleeping.
pub const SPIN_BEFORE_PARK: Duration = Duration::from_micros(50);

/// How often a side that cannot watch its peer with a pidfd checks that its peer is still
/// there (a spinning or polling side, or a parked one without a pidfd).
///
/// ```
/// assert_eq!(mmring_core::PROBE_INTERVAL, std::time::Duration::from_millis(20));
/// ```
pub const PROBE_INTERVAL: Duration = Duration::from_millis(20);

/// How often a parked side whose peers all have pidfds checks their locks anyway while idle:
/// the backstop for a pid in the header that is not really the peer's (another pid namespace,
/// a stale or forged pid). An idle parked side wakes at most this often.
///
/// ```
/// assert_eq!(mmring_core::IDLE_PROBE, std::time::Duration::from_secs(1));
/// ```
pub const IDLE_PROBE: Duration = Duration::from_secs(1);

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
    /// The async runtime's reactor failed (only from the `tokio` module).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Reactor(std::io::ErrorKind),
}

impl From<Corrupt> for Blocked {
    fn from(c: Corrupt) -> Self {
        Blocked::Corrupt(c)
    }
}

/// Sleeps once: announces, re-checks, sleeps. Returns what the re-check found.
///
/// The re-check covers the peer's clean detach too: `detach` stores CLOSED and then bumps the
/// sequence word, so either our sequence read predates the bump (and the kernel refuses to
/// sleep, or the wake that follows the bump finds us) or it sees the bump, and then the CLOSED
/// store is visible to `peer_gone(false)`.
fn park_once<R>(
    h: &mut Handle,
    poll: &mut impl FnMut(&Handle) -> Result<Option<R>, Corrupt>,
    timeout: Option<Duration>,
) -> Result<Option<R>, Corrupt> {
    let seq = h.sleeper().announce(Via::Futex);
    let again = poll(h);
    if matches!(again, Ok(None)) && !h.peer_gone(false) {
        h.sleep(seq, timeout);
    }
    h.sleeper().done(Via::Futex);
    again
}

/// Sleeps once on the side's doorbell (its waiting set: doorbell, the peers' pidfds, the
/// timer), like `park_once` but where the peer's death wakes it too, so the sleep can last until
/// the deadline or the idle backstop probe instead of the short liveness interval.
#[cfg(not(loom))]
fn park_on_bell<R>(
    h: &mut Handle,
    poll: &mut impl FnMut(&Handle) -> Result<Option<R>, Corrupt>,
    deadline: Deadline,
) -> Result<Option<R>, Corrupt> {
    let Some(every) = h.arm_waiter() else {
        return park_once(h, poll, Some(PROBE_INTERVAL));
    };
    h.sleeper().announce(Via::Bell);
    let again = poll(h);
    if matches!(again, Ok(None)) && !h.peer_gone(false) {
        let mut timeout = every;
        if let Some(d) = deadline {
            timeout = timeout.min(d.saturating_duration_since(Instant::now()));
        }
        h.wait_waiter(Some(timeout));
    }
    h.sleeper().done(Via::Bell);
    again
}

/// Waits until `poll` yields, the peer is gone, or `deadline` passes.
#[cfg(not(loom))]
pub(crate) fn block<R>(
    h: &mut Handle,
    strategy: WaitStrategy,
    deadline: Deadline,
    mut poll: impl FnMut(&Handle) -> Result<Option<R>, Corrupt>,
) -> Result<R, Blocked> {
    if let Some(r) = poll(h)? {
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
        if let Some(r) = poll(h)? {
            return Ok(r);
        }
        if iter % 64 != 0 {
            spin_hint();
            continue;
        }
        let now = Instant::now();
        let spin_until = *spin_until.get_or_insert(now + SPIN_BEFORE_PARK);
        if h.peer_gone_at(now) {
            // Everything the peer published before going is visible now; take it first.
            return poll(h)?.ok_or(Blocked::Disconnected);
        }
        if deadline.is_some_and(|d| now >= d) {
            return Err(Blocked::Timeout);
        }
        match strategy {
            WaitStrategy::Spin => spin_hint(),
            _ if now < spin_until => spin_hint(),
            WaitStrategy::SpinYield => yield_now(),
            WaitStrategy::Park => {
                if let Some(r) = park_on_bell(h, &mut poll, deadline)? {
                    return Ok(r);
                }
            }
        }
    }
}

/// The loom version: no clock, no spinning phase; every idle round checks the peer and parks.
#[cfg(loom)]
pub(crate) fn block<R>(
    h: &mut Handle,
    _strategy: WaitStrategy,
    _deadline: Deadline,
    mut poll: impl FnMut(&Handle) -> Result<Option<R>, Corrupt>,
) -> Result<R, Blocked> {
    loop {
        if let Some(r) = poll(h)? {
            return Ok(r);
        }
        if h.peer_gone(true) {
            return poll(h)?.ok_or(Blocked::Disconnected);
        }
        if let Some(r) = park_once(h, &mut poll, None)? {
            return Ok(r);
        }
        spin_hint();
    }
}
