//! The park/wake handshake (SYNC 3), shared by both directions.
//!
//! A side that is about to sleep announces it (`waiting = 1`), then re-checks the condition it
//! waits for; the other side, after making progress (publishing a cursor), checks the announce
//! word and only then makes a wake system call. Two SeqCst fences order "announce, then check"
//! against "progress, then check the announce" (the store-buffering litmus test): at least one
//! side sees the other's store, so either the sleeper sees the progress and does not sleep, or
//! the other side sees the announcement and wakes it. The sleeper reads the sequence word before
//! re-checking and the kernel sleeps only if it is unchanged, so a wake between the re-check and
//! the sleep is not lost either.

use crate::sync::{fence, AtomicU32, Ordering};

/// The two words one side sleeps on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WaitWords<'a> {
    /// Announce word: non-zero while the side is (about to be) asleep.
    pub waiting: &'a AtomicU32,
    /// Futex word: bumped by the other side before each wake.
    pub seq: &'a AtomicU32,
}

impl WaitWords<'_> {
    /// Announces the intent to sleep; returns the sequence value to sleep on. The caller must
    /// re-check its condition after this and call [`WaitWords::done`] when it stops waiting.
    #[inline]
    pub(crate) fn announce(&self) -> u32 {
        self.waiting.store(1, Ordering::Relaxed);
        // SeqCst fence: SYNC 3; orders the announce store before the condition re-check that the
        // caller does next, against the fence in `should_wake` on the other side.
        fence(Ordering::SeqCst);
        // Acquire: pairs with the Release bump in `bump`; if we see a bump, the progress it
        // follows is visible to the re-check.
        self.seq.load(Ordering::Acquire)
    }

    /// Withdraws the announcement.
    #[inline]
    pub(crate) fn done(&self) {
        // Relaxed: a stale `1` seen by the other side costs one spurious wake, nothing more.
        self.waiting.store(0, Ordering::Relaxed);
    }

    /// Called by the other side after it made progress: whether the sleeper must be woken.
    #[inline]
    pub(crate) fn should_wake(&self) -> bool {
        // SeqCst fence: SYNC 3; orders our cursor store (progress) before the load below, against
        // the fence in `announce`.
        fence(Ordering::SeqCst);
        self.waiting.load(Ordering::Relaxed) != 0
    }

    /// Changes the futex word so that a sleeper that read the old value does not go to sleep.
    #[inline]
    pub(crate) fn bump(&self) {
        // Release: pairs with the Acquire load in `announce`.
        self.seq.fetch_add(1, Ordering::Release);
    }
}
