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
use super::validate::follow;
use super::{Os, Shared};
use crate::error::{Corrupt, CorruptKind};
use crate::layout::{reader_lock_byte, SIDE_ATTACHED, SIDE_CLOSED, WRITER_LOCK_BYTE};
use crate::sync::{fence, AtomicU32, Ordering};
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
    /// The records a joining reader had to follow are corrupt.
    Corrupt(Corrupt),
}

/// Where a reader starts when it attaches.
///
/// ```
/// use mmring_core::StartAt;
/// assert_eq!(StartAt::default(), StartAt::Resume);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StartAt {
    /// Where the slot's previous reader left off (the start of the ring for a slot never
    /// used), so a reader that restarts misses nothing; if the writer has since overwritten
    /// that position, at the oldest message still in the ring, reporting the loss.
    #[default]
    Resume,
    /// At the oldest message still in the ring.
    Oldest,
    /// At the next message the writer commits.
    Next,
}

/// Where a reader that claimed a slot starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Join {
    /// The slot claimed.
    pub slot: u32,
    /// Its first position (stored in the slot's `read_pos`).
    pub pos: u64,
    /// Bytes the slot's previous position was behind the tail (`StartAt::Resume` only).
    pub missed: u64,
}

/// Claims `role` for this handle (see the module docs). `prepare` runs after the lock is taken
/// and before the claim is published (a reader stores its kind and position there).
fn claim_with(
    s: &Shared,
    os: &impl Os,
    role: Role,
    prepare: impl FnOnce() -> Result<(), Corrupt>,
) -> Result<(), ClaimError> {
    let o = owner(s, role);
    if !os.try_claim(o.byte).map_err(ClaimError::Io)? {
        return Err(ClaimError::Taken(o.pid.load(Ordering::Relaxed)));
    }
    // A predecessor that died asleep left its announcement set: the peer would make a wake
    // system call on every publication for nobody. Relaxed: a stale bit costs a spurious wake.
    match role {
        Role::Writer => {
            s.hdr().writer_waiting.store(0, Ordering::Relaxed);
            s.hdr().writer_bell.store(0, Ordering::Relaxed);
        }
        Role::Reader(i) => {
            s.hdr()
                .readers_waiting
                .fetch_and(!(1u64 << i), Ordering::Relaxed);
            s.hdr()
                .readers_bell
                .fetch_and(!(1u64 << i), Ordering::Relaxed);
        }
    }
    if let Err(c) = prepare() {
        os.release_claim(o.byte);
        return Err(ClaimError::Corrupt(c));
    }
    o.pid.store(os.pid(), Ordering::Relaxed);
    // Release: pairs with the Acquire in `alive`, so a peer that sees ATTACHED also sees our pid
    // (and, for a reader, its kind).
    o.state.store(SIDE_ATTACHED, Ordering::Release);
    // Release, and after the state: SYNC 5; pairs with the Acquire in `epoch`.
    o.epoch.fetch_add(1, Ordering::Release);
    Ok(())
}

/// Claims the writer role.
pub(crate) fn claim_writer(s: &Shared, os: &impl Os) -> Result<(), ClaimError> {
    claim_with(s, os, Role::Writer, || Ok(()))
}

/// Claims the first free reader slot as a reader of `kind`, starting as `start` says; on
/// failure the pids of the holders of every slot tried.
///
/// The position is stored in the slot before the claim is published, then checked against the
/// tail (SYNC 4): store, SeqCst fence, re-read `tail_pos`; a reader whose position the writer
/// declared overwritable meanwhile moves up to the tail and tries again. Against the writer's
/// store-fence-rescan in `Producer::refresh`, either the writer sees this reader (and holds it
/// back, wherever it is) or this reader sees the new tail.
pub(crate) fn claim_reader(
    s: &Shared,
    os: &impl Os,
    kind: u32,
    start: StartAt,
) -> Result<Join, (ClaimError, Vec<u32>)> {
    let mut holders = Vec::new();
    for i in 0..s.geo.readers {
        let slot = s.slot(i);
        let mut join = Join {
            slot: i,
            pos: 0,
            missed: 0,
        };
        let prepare = || {
            // Relaxed: published by the Release store of the state in `claim_with`.
            slot.kind.store(kind, Ordering::Relaxed);
            join.pos = first_position(s, i, start, &mut join.missed)?;
            // Release: pairs with the writer's Acquire load in `Producer::scan`.
            slot.read_pos.store(join.pos, Ordering::Release);
            Ok(())
        };
        match claim_with(s, os, Role::Reader(i), prepare) {
            Ok(()) => {
                loop {
                    // SeqCst fence: SYNC 4 (see above).
                    fence(Ordering::SeqCst);
                    // Acquire: ordered by the fence against the writer's store and fence, and
                    // pairs with its Release store, so that the records at a tail we move to
                    // are visible.
                    let tail = s.hdr().tail_pos.load(Ordering::Acquire);
                    if tail <= join.pos {
                        break;
                    }
                    if let Err(c) = super::check_tail(s, tail) {
                        detach(s, os, Role::Reader(i));
                        return Err((ClaimError::Corrupt(c), holders));
                    }
                    if start == StartAt::Resume {
                        join.missed += tail - join.pos;
                    }
                    join.pos = tail;
                    // Release: as above.
                    slot.read_pos.store(join.pos, Ordering::Release);
                }
                // A writer parked on a full ring may now be free to go on (a reader that
                // attaches ends the hold of slots whose readers left). Relaxed: ordered after
                // our state store by the fence above, against the writer's announce (SYNC 3).
                if s.hdr().writer_waiting.load(Ordering::Relaxed) != 0 {
                    bump_and_wake(&s.hdr().space_seq, os);
                }
                // Relaxed: as above.
                if s.hdr().writer_bell.load(Ordering::Relaxed) != 0 {
                    super::notify::ring_writer(s, os);
                }
                return Ok(join);
            }
            Err(ClaimError::Taken(pid)) => holders.push(pid),
            Err(e) => return Err((e, holders)),
        }
    }
    let first = holders.first().copied().unwrap_or(0);
    Err((ClaimError::Taken(first), holders))
}

/// The position a joining reader of slot `i` starts from (before the tail check).
fn first_position(s: &Shared, i: u32, start: StartAt, missed: &mut u64) -> Result<u64, Corrupt> {
    // Acquire: pairs with the writer's stores of its cursors (Release for `write_pos`; the
    // fence of SYNC 4 orders `tail_pos`).
    // Acquire: pairs with the Release store of the slot's previous reader.
    let r = s.slot(i).read_pos.load(Ordering::Acquire);
    if start == StartAt::Resume {
        super::check_read_pos(s, i, r)?;
    }
    let tail = s.hdr().tail_pos.load(Ordering::Acquire);
    super::check_tail(s, tail)?;
    Ok(match start {
        StartAt::Resume => {
            if r >= tail {
                r
            } else {
                *missed = tail - r;
                tail
            }
        }
        StartAt::Oldest => tail,
        StartAt::Next => {
            let w = s.hdr().write_pos.load(Ordering::Acquire);
            if w % 8 != 0 || w < tail || w - tail > s.geo.cap {
                return Err(s.corrupt(CorruptKind::BadTail, super::offsets::TAIL_POS, tail));
            }
            follow(
                w,
                s.geo.cap,
                &s.geo,
                |p| s.data.load_word(p & s.geo.mask, Ordering::Acquire),
                |_, _| {},
            )
            .map_err(|(kind, pos, word)| s.corrupt(kind, s.geo.at(pos), word))?
            .end
        }
    })
}

/// Marks `role` as cleanly closed, wakes its peers, and gives up the claim.
pub(crate) fn detach(s: &Shared, os: &impl Os, role: Role) {
    let o = owner(s, role);
    // Release: pairs with the Acquire in `alive`: everything this side published happens before
    // a peer sees it closed.
    o.state.store(SIDE_CLOSED, Ordering::Release);
    // Every peer that may sleep, on its futex or its doorbell, looks again.
    match role {
        Role::Writer => {
            bump_and_wake(&s.hdr().data_seq, os);
            super::notify::ring_readers(s, os, s.hdr().readers_bell.load(Ordering::Relaxed));
        }
        Role::Reader(_) => {
            bump_and_wake(&s.hdr().space_seq, os);
            if s.hdr().writer_bell.load(Ordering::Relaxed) != 0 {
                super::notify::ring_writer(s, os);
            }
        }
    }
    os.release_claim(o.byte);
}

/// How many times `role` has been attached.
pub(crate) fn epoch(s: &Shared, role: Role) -> u32 {
    // Acquire: SYNC 5; pairs with the Release increment in `claim_with`.
    owner(s, role).epoch.load(Ordering::Acquire)
}

/// The pid recorded by the last handle that claimed `role`.
pub(crate) fn pid(s: &Shared, role: Role) -> u32 {
    owner(s, role).pid.load(Ordering::Relaxed)
}

/// Whether `role` is attached now. `deep` also asks the kernel whether its claim is held, which
/// catches a holder killed without detaching; otherwise only the header is read.
pub(crate) fn alive(s: &Shared, os: &impl Os, role: Role, deep: bool) -> bool {
    let o = owner(s, role);
    // Acquire: pairs with the Release stores in `claim_with` and `detach`.
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

/// The other end(s) of a ring, as one handle watches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// A reader watches the writer.
    Writer,
    /// The writer watches its readers: the peer is alive while any reader is.
    Readers,
}

impl Peer {
    /// The sum of the watched roles' epochs (changes whenever one attaches).
    fn epoch(self, s: &Shared) -> u32 {
        match self {
            Peer::Writer => epoch(s, Role::Writer),
            Peer::Readers => (0..s.geo.readers)
                .map(|i| epoch(s, Role::Reader(i)))
                .fold(0, u32::wrapping_add),
        }
    }

    /// Whether a watched role is alive (see [`alive`]).
    pub(crate) fn alive(self, s: &Shared, os: &impl Os, deep: bool) -> bool {
        if deep {
            os.check_length();
        }
        match self {
            Peer::Writer => alive(s, os, Role::Writer, deep),
            Peer::Readers => (0..s.geo.readers).any(|i| alive(s, os, Role::Reader(i), deep)),
        }
    }
}

/// Tracks whether this handle has seen its peer, so that "the peer has gone" means a peer this
/// handle actually had: one that was alive when we began attaching (checked before our claim,
/// so that a peer that sees us attach and leaves at once still counts), alive while we were
/// attached, or that attached after us.
///
/// A ring whose writer left before our reader attached (a ring created by `Writer::create` and
/// dropped, or a stale ring from an earlier run) therefore does not read as disconnected: the
/// reader drains what is there and then waits for the next writer.
#[derive(Debug)]
pub(crate) struct PeerWatch {
    peer: Peer,
    epoch_at_attach: u32,
    seen: bool,
    /// When the kernel was last asked (the deep probe); it is asked at most every
    /// [`PROBE_INTERVAL`](crate::PROBE_INTERVAL), by non-blocking and blocking calls alike.
    #[cfg(not(loom))]
    last_deep: std::time::Instant,
}

impl PeerWatch {
    /// Call after claiming our own side; `alive_before`: whether the peer was alive just
    /// before the claim.
    pub(crate) fn new(s: &Shared, os: &impl Os, peer: Peer, alive_before: bool) -> Self {
        PeerWatch {
            peer,
            epoch_at_attach: peer.epoch(s),
            seen: alive_before || peer.alive(s, os, true),
            #[cfg(not(loom))]
            last_deep: std::time::Instant::now(),
        }
    }

    /// The peer watched.
    pub(crate) fn peer(&self) -> Peer {
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

    /// Makes the next check a deep one (a peer process was seen to exit).
    #[cfg(not(loom))]
    pub(crate) fn probe_soon(&mut self) {
        if let Some(t) = self.last_deep.checked_sub(crate::wait::PROBE_INTERVAL) {
            self.last_deep = t;
        }
    }

    /// Whether the peer has gone for good. `deep` may ask the kernel (one `fcntl`).
    pub(crate) fn gone(&mut self, s: &Shared, os: &impl Os, deep: bool) -> bool {
        // The epoch first, then the state (SYNC 5).
        let e = self.peer.epoch(s);
        if self.peer.alive(s, os, deep) {
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
