//! The memory a ring lives in, and the operating-system services around it.
//!
//! - `mapped`: a `MAP_SHARED` mapping of a file or memfd, with its descriptor (which carries the
//!   side claim) — the real thing;
//! - `file` / `anon`: how such a mapping is created or opened (a path; a sealed memfd);
//! - `validate`: the header checks run before the data region is touched;
//! - `lock`, `futex`: side claims and cross-process sleeping;
//! - `guard`: turns `SIGBUS` from a file truncated under a mapping into an error;
//! - `heap` (loom only): the same interface over a heap allocation.

#[cfg(not(loom))]
mod anon;
#[cfg(not(loom))]
mod file;
#[cfg(not(loom))]
pub(crate) mod futex;
#[cfg(not(loom))]
pub(crate) mod guard;
#[cfg(loom)]
mod heap;
#[cfg(not(loom))]
pub(crate) mod lock;
#[cfg(not(loom))]
mod mapped;
#[cfg(not(loom))]
pub(crate) mod validate;

#[cfg(not(loom))]
pub(crate) use anon::anonymous_pair;
#[cfg(not(loom))]
pub(crate) use file::{check_file, classify_open_error, open_path, CreateMode, OpenParams};
#[cfg(loom)]
pub(crate) use heap::{heap_pair, Region};
#[cfg(not(loom))]
pub(crate) use mapped::Region;
#[cfg(not(loom))]
pub(crate) use validate::{check_header, HeaderState};

use crate::error::Side;
use crate::layout::Header;
use crate::ring::notify::WaitWords;
use crate::sync::AtomicU32;

/// The header words that belong to one side.
pub(crate) fn side_words(h: &Header, side: Side) -> (&AtomicU32, &AtomicU32, &AtomicU32) {
    match side {
        Side::Writer => (&h.writer_pid, &h.writer_epoch, &h.writer_state),
        Side::Reader => (&h.reader_pid, &h.reader_epoch, &h.reader_state),
    }
}

/// The words a side sleeps on.
pub(crate) fn wait_words(h: &Header, side: Side) -> WaitWords<'_> {
    match side {
        Side::Writer => WaitWords {
            waiting: &h.writer_waiting,
            seq: &h.space_seq,
        },
        Side::Reader => WaitWords {
            waiting: &h.reader_waiting,
            seq: &h.data_seq,
        },
    }
}

/// Tracks whether this handle has seen its peer, so that "the peer has gone" means a peer this
/// handle actually had: one that was alive while we were attached, or that attached after us.
///
/// A ring whose writer left before our reader attached (a ring created by `Writer::create` and
/// dropped, or a stale ring from an earlier run) therefore does not read as disconnected: the
/// reader drains what is there and then waits for the next writer.
#[derive(Debug)]
pub(crate) struct PeerWatch {
    peer: Side,
    epoch_at_attach: u32,
    seen: bool,
    /// When the kernel was last asked (the deep probe); it is asked at most every
    /// [`PROBE_INTERVAL`](crate::PROBE_INTERVAL), by `try_recv`/`drain` and blocking calls
    /// alike.
    #[cfg(not(loom))]
    last_deep: std::time::Instant,
}

impl PeerWatch {
    /// Call after claiming our own side.
    pub(crate) fn new(region: &Region, peer: Side) -> Self {
        PeerWatch {
            peer,
            epoch_at_attach: region.side_epoch(peer),
            seen: region.side_alive(peer, true),
            #[cfg(not(loom))]
            last_deep: std::time::Instant::now(),
        }
    }

    /// As [`PeerWatch::gone`], asking the kernel if the last deep probe is
    /// [`PROBE_INTERVAL`](crate::PROBE_INTERVAL) old at `now`.
    #[cfg(not(loom))]
    pub(crate) fn gone_at(&mut self, region: &Region, now: std::time::Instant) -> bool {
        let deep = now.duration_since(self.last_deep) >= crate::wait::PROBE_INTERVAL;
        if deep {
            self.last_deep = now;
        }
        self.gone(region, deep)
    }

    /// When the next deep probe is due: how long a parked side may sleep before looking.
    #[cfg(not(loom))]
    pub(crate) fn next_deep(&self) -> std::time::Instant {
        self.last_deep + crate::wait::PROBE_INTERVAL
    }

    /// Whether the peer has gone for good. `deep` may ask the kernel (one `fcntl`).
    pub(crate) fn gone(&mut self, region: &Region, deep: bool) -> bool {
        // The epoch first, then the state: `claim` stores ATTACHED before it increments the
        // epoch, so an epoch that changed since we attached comes with a state that is ATTACHED
        // or later, never the one from before the claim.
        let epoch = region.side_epoch(self.peer);
        let alive = region.side_alive(self.peer, deep);
        if alive {
            if deep {
                self.seen = true;
            }
            return false;
        }
        if !self.seen && epoch != self.epoch_at_attach {
            self.seen = true;
        }
        self.seen
    }
}
