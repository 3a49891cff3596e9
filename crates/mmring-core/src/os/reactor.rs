//! Registers a side's readiness handle with the current tokio runtime's reactor.

use crate::handle::Readiness;
use std::io;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Registers `ready` for readability with the current runtime's reactor.
///
/// # Panics
/// Outside a tokio runtime with I/O enabled (as tokio's own I/O types).
pub(crate) fn register(ready: Readiness) -> io::Result<AsyncFd<Readiness>> {
    // SAFETY: `Readiness` owns its descriptor (an `OwnedFd` it never replaces or closes while
    // it lives) and `as_raw_fd` always returns that one, so the descriptor stays open and the
    // same for as long as the `AsyncFd` owns it, which is what registration requires.
    unsafe { AsyncFd::register_with_interest(ready, Interest::READABLE) }.map_err(|e| {
        let (_, cause) = e.into_parts();
        cause
    })
}
