//! The asynchronous form of `wait::block`: the same poll, liveness check and doorbell
//! handshake, with the sleep replaced by the runtime's readiness of the side's waiting set.

use crate::error::Corrupt;
use crate::handle::{Handle, Readiness};
use crate::wait::Blocked;
use ::tokio::io::unix::AsyncFd;
use std::task::{Context, Poll};
use std::time::Instant;

/// Polls `poll` until it yields, the peer is gone, or (returning `Pending`) the side is armed
/// and its waiting set `fd` is not readable; the runtime then wakes the task when it becomes
/// readable (the peer made progress or exited, or the backstop timer fired).
///
/// Returning anything but `Pending` leaves the side disarmed. No message or space is taken
/// before the `Ready` return, so dropping the caller's future between polls loses nothing.
pub(crate) fn poll_block<R>(
    h: &mut Handle,
    fd: &AsyncFd<Readiness>,
    cx: &mut Context<'_>,
    mut poll: impl FnMut(&Handle) -> Result<Option<R>, Corrupt>,
) -> Poll<Result<R, Blocked>> {
    loop {
        if let Some(r) = poll(h)? {
            disarm(h);
            return Poll::Ready(Ok(r));
        }
        if h.peer_gone_at(Instant::now()) {
            disarm(h);
            // Everything the peer published before going is visible now; take it first.
            return Poll::Ready(poll(h)?.ok_or(Blocked::Disconnected));
        }
        if !h.is_armed() {
            // The waiting set exists (the readiness handle was made from it), so arming cannot
            // fail; if it did, polling again at once is the safe answer.
            if h.prepare_wait(|h| !matches!(poll(h), Ok(None)))
                .unwrap_or(true)
            {
                continue;
            }
        }
        match fd.poll_read_ready(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(mut ready)) => {
                ready.clear_ready();
                // Empties the waiting set; a peer seen exiting makes the next check deep.
                h.finish_wait();
            }
            Poll::Ready(Err(e)) => {
                disarm(h);
                return Poll::Ready(Err(Blocked::Reactor(e.kind())));
            }
        }
    }
}

/// Disarms the side if it is armed (a future dropped while waiting, or a wait that ended).
#[inline(always)]
pub(crate) fn disarm(h: &mut Handle) {
    if h.is_armed() {
        h.finish_wait();
    }
}
