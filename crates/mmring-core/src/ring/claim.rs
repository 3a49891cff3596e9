//! Attaching, detaching, epochs, and what "the peer is alive" means.
//!
//! A side **claims** its role by taking an exclusive lock on its lock byte through [`Os`] (an
//! open-file-description lock in a real ring: the kernel drops it when the holder's last
//! descriptor closes, so a killed side's claim frees itself). Then, in this order: it clears the
//! waiting announcement a dead predecessor may have left set, records its pid, stores its state
//! `ATTACHED` (Release) and increments its epoch (Release). A peer reads the epoch (Acquire)
//! *before* the state (SYNC 5), so an epoch that changed comes with `ATTACHED` or a later
//! `CLOSED`, never the state from before the claim.
//!
//! A side is **alive** while its state is `ATTACHED` and (when asked deeply) its lock is held.

use super::notify::bump_and_wake;
use super::{Os, Shared};
use crate::layout::{
    reader_lock_byte, KIND_TETHERED, SIDE_ATTACHED, SIDE_CLOSED, WRITER_LOCK_BYTE,
};
use crate::sync::{AtomicU32, Ordering};
use std::io;

/// One end of a ring: the writer, or the reader of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The writer.
    Writer,
    /// The reader of this slot.
    Reader(u32),
}

/// The ownership words of a role.
struct Owner<'a> {
    pid: &'a AtomicU32,
    epoch: &'a AtomicU32,
    state: &'a AtomicU32,
    byte: u64,
}

fn owner(s: &Shared, role: Role) -> Owner<'_> {
    match role {
        Role::Writer => {
            let h = s.hdr();
            Owner {
                pid: &h.writer_pid,
                epoch: &h.writer_epoch,
                state: &h.writer_state,
                byte: WRITER_LOCK_BYTE,
            }
        }
        Role::Reader(i) => {
            let slot = s.slot(i);
            Owner {
                pid: &slot.pid,
                epoch: &slot.epoch,
                state: &slot.state,
                byte: reader_lock_byte(i),
            }
        }
    }
}

/// Why a claim failed.
#[derive(Debug)]
pub(crate) enum ClaimError {
    /// Another live handle holds the role; the pid its header words name.
    Taken(u32),
    /// The lock call itself failed.
    Io(io::Error),
}

/// Claims `role` for this handle (see the module docs).
pub(crate) fn claim(s: &Shared, os: &impl Os, role: Role) -> Result<(), ClaimError> {
    let o = owner(s, role);
    if !os.try_claim(o.byte).map_err(ClaimError::Io)? {
        return Err(ClaimError::Taken(o.pid.load(Ordering::Relaxed)));
    }
    // A predecessor that died asleep left its announcement set: the peer would make a wake
    // system call on every publication for nobody. Relaxed: a stale bit costs a spurious wake.
    match role {
        Role::Writer => s.hdr().writer_waiting.store(0, Ordering::Relaxed),
        Role::Reader(i) => {
            s.hdr()
                .readers_waiting
                .fetch_and(!(1u64 << i), Ordering::Relaxed);
            // Relaxed: published by the Release store of the state below.
            s.slot(i).kind.store(KIND_TETHERED, Ordering::Relaxed);
        }
    }
    o.pid.store(os.pid(), Ordering::Relaxed);
    // Release: pairs with the Acquire in `alive`, so a peer that sees ATTACHED also sees our pid
    // (and, for a reader, its kind).
    o.state.store(SIDE_ATTACHED, Ordering::Release);
    // Release, and after the state: SYNC 5; pairs with the Acquire in `epoch`.
    o.epoch.fetch_add(1, Ordering::Release);
    Ok(())
}

/// Claims the first free reader slot; `Taken` with the pid of slot 0's holder when none is.
pub(crate) fn claim_reader(s: &Shared, os: &impl Os) -> Result<u32, (ClaimError, Vec<u32>)> {
    let mut holders = Vec::new();
    for i in 0..s.geo.readers {
        match claim(s, os, Role::Reader(i)) {
            Ok(()) => return Ok(i),
            Err(ClaimError::Taken(pid)) => holders.push(pid),
            Err(e) => return Err((e, holders)),
        }
    }
    let first = holders.first().copied().unwrap_or(0);
    Err((ClaimError::Taken(first), holders))
}

/// Marks `role` as cleanly closed, wakes its peers, and gives up the claim.
pub(crate) fn detach(s: &Shared, os: &impl Os, role: Role) {
    let o = owner(s, role);
    // Release: pairs with the Acquire in `alive`: everything this side published happens before
    // a peer sees it closed.
    o.state.store(SIDE_CLOSED, Ordering::Release);
    let peers = match role {
        Role::Writer => &s.hdr().data_seq,
        Role::Reader(_) => &s.hdr().space_seq,
    };
    bump_and_wake(peers, os);
    os.release_claim(o.byte);
}

/// How many times `role` has been attached.
pub(crate) fn epoch(s: &Shared, role: Role) -> u32 {
    // Acquire: SYNC 5; pairs with the Release increment in `claim`.
    owner(s, role).epoch.load(Ordering::Acquire)
}

/// The pid recorded by the last handle that claimed `role`.
pub(crate) fn pid(s: &Shared, role: Role) -> u32 {
    owner(s, role).pid.load(Ordering::Relaxed)
}

/// Whether `role` is attached now. `deep` also asks the kernel whether its claim is held, which
/// catches a holder killed without detaching; otherwise only the header is read.
pub(crate) fn alive(s: &Shared, os: &impl Os, role: Role, deep: bool) -> bool {
    if deep {
        os.check_length();
    }
    let o = owner(s, role);
    // Acquire: pairs with the Release stores in `claim` and `detach`.
    if o.state.load(Ordering::Acquire) != SIDE_ATTACHED {
        return false;
    }
    if !deep {
        return true;
    }
    // An error from the query (it has none in practice) counts as alive: never report a
    // disconnect we have not seen.
    os.claimed_by_other(o.byte).unwrap_or(true)
}

/// Tracks whether this handle has seen its peer, so that "the peer has gone" means a peer this
/// handle actually had: one that was alive while we were attached, or that attached after us.
///
/// A ring whose writer left before our reader attached (a ring created by `Writer::create` and
/// dropped, or a stale ring from an earlier run) therefore does not read as disconnected: the
/// reader drains what is there and then waits for the next writer.
#[derive(Debug)]
pub(crate) struct PeerWatch {
    peer: Role,
    epoch_at_attach: u32,
    seen: bool,
    /// When the kernel was last asked (the deep probe); it is asked at most every
    /// [`PROBE_INTERVAL`](crate::PROBE_INTERVAL), by non-blocking and blocking calls alike.
    #[cfg(not(loom))]
    last_deep: std::time::Instant,
}

impl PeerWatch {
    /// Call after claiming our own side.
    pub(crate) fn new(s: &Shared, os: &impl Os, peer: Role) -> Self {
        PeerWatch {
            peer,
            epoch_at_attach: epoch(s, peer),
            seen: alive(s, os, peer, true),
            #[cfg(not(loom))]
            last_deep: std::time::Instant::now(),
        }
    }

    /// The peer watched.
    pub(crate) fn peer(&self) -> Role {
        self.peer
    }

    /// As [`PeerWatch::gone`], asking the kernel if the last deep probe is
    /// [`PROBE_INTERVAL`](crate::PROBE_INTERVAL) old at `now`.
    #[cfg(not(loom))]
    pub(crate) fn gone_at(&mut self, s: &Shared, os: &impl Os, now: std::time::Instant) -> bool {
        let deep = now.duration_since(self.last_deep) >= crate::wait::PROBE_INTERVAL;
        if deep {
            self.last_deep = now;
        }
        self.gone(s, os, deep)
    }

    /// When the next deep probe is due: how long a parked side may sleep before looking.
    #[cfg(not(loom))]
    pub(crate) fn next_deep(&self) -> std::time::Instant {
        self.last_deep + crate::wait::PROBE_INTERVAL
    }

    /// Whether the peer has gone for good. `deep` may ask the kernel (one `fcntl`).
    pub(crate) fn gone(&mut self, s: &Shared, os: &impl Os, deep: bool) -> bool {
        // The epoch first, then the state (SYNC 5).
        let e = epoch(s, self.peer);
        if alive(s, os, self.peer, deep) {
            if deep {
                self.seen = true;
            }
            return false;
        }
        if !self.seen && e != self.epoch_at_attach {
            self.seen = true;
        }
        self.seen
    }
}
