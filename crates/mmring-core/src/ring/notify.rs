//! The park/wake handshake (SYNC 3), shared by both directions.
//!
//! A side that is about to sleep announces it (the writer: `writer_waiting = 1`; the reader of
//! slot `i`: bit `i` of `readers_waiting`), then re-checks the condition it waits for; the other
//! side, after making progress (a commit, or a release), checks the announce word and only then
//! makes a wake system call. Two SeqCst fences order "announce, then check" against "progress,
//! then check the announce" (the store-buffering litmus test): at least one side sees the
//! other's store, so either the sleeper sees the progress and does not sleep, or the other side
//! sees the announcement and wakes it. The sleeper reads the sequence word before re-checking
//! and the kernel sleeps only if it is unchanged, so a wake between the re-check and the sleep
//! is not lost either.

use super::claim::Role;
use super::{Os, Shared};
use crate::sync::{fence, AtomicU32, AtomicU64, Ordering};

/// How a side announces that it sleeps.
#[derive(Debug, Clone, Copy)]
enum Announce<'a> {
    /// The writer's flag.
    Flag(&'a AtomicU32),
    /// A reader's bit in the readers' mask.
    Bit(&'a AtomicU64, u64),
}

/// The words one side sleeps on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sleeper<'a> {
    /// Announces a sleep on the futex.
    announce: Announce<'a>,
    /// Announces a sleep on the side's doorbell (`os::bell`).
    bell: Announce<'a>,
    /// Futex word: bumped by the other side before each wake.
    pub(crate) seq: &'a AtomicU32,
}

/// How a side sleeps: on the futex word of the header, or on its doorbell descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Futex,
    Bell,
}

impl<'a> Sleeper<'a> {
    /// The writer's words.
    pub(crate) fn writer(s: &'a Shared) -> Self {
        let h = s.hdr();
        Sleeper {
            announce: Announce::Flag(&h.writer_waiting),
            bell: Announce::Flag(&h.writer_bell),
            seq: &h.space_seq,
        }
    }

    /// The words of the reader of `slot`.
    pub(crate) fn reader(s: &'a Shared, slot: u32) -> Self {
        let h = s.hdr();
        Sleeper {
            announce: Announce::Bit(&h.readers_waiting, 1 << slot),
            bell: Announce::Bit(&h.readers_bell, 1 << slot),
            seq: &h.data_seq,
        }
    }

    /// The announce word of a sleep `via` the futex or the doorbell.
    #[inline]
    fn word(&self, via: Via) -> Announce<'a> {
        match via {
            Via::Futex => self.announce,
            Via::Bell => self.bell,
        }
    }

    /// Announces the intent to sleep; returns the sequence value to sleep on. The caller must
    /// re-check its condition after this and call [`Sleeper::done`] when it stops waiting.
    #[inline]
    pub(crate) fn announce(&self, via: Via) -> u32 {
        match self.word(via) {
            Announce::Flag(f) => f.store(1, Ordering::Relaxed),
            Announce::Bit(m, bit) => {
                m.fetch_or(bit, Ordering::Relaxed);
            }
        }
        // SeqCst fence: SYNC 3; orders the announce store before the condition re-check that the
        // caller does next, against the fence in `progress_made` on the other side.
        fence(Ordering::SeqCst);
        // Acquire: pairs with the Release bump in `wake`; if we see a bump, the progress it
        // follows is visible to the re-check.
        self.seq.load(Ordering::Acquire)
    }

    /// Withdraws the announcement.
    #[inline]
    pub(crate) fn done(&self, via: Via) {
        // Relaxed: a stale announcement seen by the other side costs one spurious wake.
        match self.word(via) {
            Announce::Flag(f) => f.store(0, Ordering::Relaxed),
            Announce::Bit(m, bit) => {
                m.fetch_and(!bit, Ordering::Relaxed);
            }
        }
    }
}

/// Called by the writer after it committed: wakes the readers if any announced sleep.
#[inline]
pub(crate) fn wake_readers(s: &Shared, os: &impl Os) {
    // SeqCst fence: SYNC 3; orders the commit before the load below, against `announce`.
    fence(Ordering::SeqCst);
    // Relaxed: ordered by the fence above.
    if s.hdr().readers_waiting.load(Ordering::Relaxed) != 0 {
        bump_and_wake(&s.hdr().data_seq, os);
    }
    // Relaxed: ordered by the fence above.
    let bells = s.hdr().readers_bell.load(Ordering::Relaxed);
    if bells != 0 {
        ring_readers(s, os, bells);
    }
}

/// Rings the doorbells of the readers whose bits are set in `bells`.
#[cold]
pub(crate) fn ring_readers(s: &Shared, os: &impl Os, bells: u64) {
    for (i, slot) in s.slots() {
        if bells & (1 << i) != 0 {
            // Acquire: SYNC 5, the epoch names the attachment whose doorbell we ring.
            os.ring_bell(Role::Reader(i), slot.epoch.load(Ordering::Acquire));
        }
    }
}

/// Rings the writer's doorbell.
#[cold]
pub(crate) fn ring_writer(s: &Shared, os: &impl Os) {
    // Acquire: SYNC 5, as in `ring_readers`.
    os.ring_bell(Role::Writer, s.hdr().writer_epoch.load(Ordering::Acquire));
}

/// Called by a reader after it released space: wakes the writer if it announced sleep.
#[inline]
pub(crate) fn wake_writer(s: &Shared, os: &impl Os) {
    // SeqCst fence: SYNC 3; orders the release before the load below, against `announce`.
    fence(Ordering::SeqCst);
    // Relaxed: ordered by the fence above.
    if s.hdr().writer_waiting.load(Ordering::Relaxed) != 0 {
        bump_and_wake(&s.hdr().space_seq, os);
    }
    // Relaxed: ordered by the fence above.
    if s.hdr().writer_bell.load(Ordering::Relaxed) != 0 {
        ring_writer(s, os);
    }
}

/// Changes the futex word so that a sleeper that read the old value does not go to sleep, and
/// wakes the sleepers.
#[cold]
pub(crate) fn bump_and_wake(seq: &AtomicU32, os: &impl Os) {
    // Release: pairs with the Acquire load in `announce`.
    seq.fetch_add(1, Ordering::Release);
    os.wake(seq);
}
