//! What a `Writer` and a `Reader` share: the attached region, the claim, poisoning, the watch on
//! the peer, and the blocking loop's view of them.

use crate::error::{Corrupt, OpenError, Side};
use crate::os::Region;
use crate::ring::claim::{self, ClaimError, Join, Peer, PeerWatch, Role, StartAt};
use crate::ring::notify::Sleeper;
use crate::ring::{Os, Shared};
use crate::wait::WaitStrategy;
use std::time::Duration;
#[cfg(not(loom))]
use std::time::Instant;

/// One attached end of a ring.
#[derive(Debug)]
pub(crate) struct Handle {
    pub(crate) shared: Shared,
    pub(crate) role: Role,
    pub(crate) strategy: WaitStrategy,
    poisoned: Option<Corrupt>,
    /// Set in a forked child that hands this end to its parent: drop without detaching.
    pub(crate) detached: bool,
    watch: PeerWatch,
    /// Empty polls so far; the clock is read on every 64th only (see `peer_gone_polled`).
    #[cfg(not(loom))]
    empty_polls: u32,
    pub(crate) region: Region,
}

impl Handle {
    /// Claims the writer role of `region`.
    pub(crate) fn attach_writer(region: Region, strategy: WaitStrategy) -> Result<Self, OpenError> {
        let shared = region.shared();
        claim::claim_writer(&shared, &region)
            .map_err(|e| claim_error(&region, Side::Writer, e, Vec::new()))?;
        Ok(Self::new(
            region,
            shared,
            Role::Writer,
            Peer::Readers,
            strategy,
        ))
    }

    /// Claims a free reader slot of `region` for a reader of `kind`.
    pub(crate) fn attach_reader(
        region: Region,
        strategy: WaitStrategy,
        kind: u32,
        start: StartAt,
    ) -> Result<(Self, Join), OpenError> {
        let shared = region.shared();
        let join = claim::claim_reader(&shared, &region, kind, start)
            .map_err(|(e, pids)| claim_error(&region, Side::Reader, e, pids))?;
        let h = Self::new(
            region,
            shared,
            Role::Reader(join.slot),
            Peer::Writer,
            strategy,
        );
        Ok((h, join))
    }

    fn new(region: Region, shared: Shared, role: Role, peer: Peer, strategy: WaitStrategy) -> Self {
        Handle {
            watch: PeerWatch::new(&shared, &region, peer),
            shared,
            role,
            strategy,
            poisoned: None,
            detached: false,
            #[cfg(not(loom))]
            empty_polls: 0,
            region,
        }
    }

    /// Undoes the claim of a handle whose attach failed later (its cursors were corrupt).
    pub(crate) fn abandon(mut self, source: Corrupt) -> OpenError {
        self.detach();
        self.detached = true;
        OpenError::Corrupt {
            path: self.region.path().to_path_buf(),
            source,
        }
    }

    /// Marks the role closed, wakes the peers and gives up the claim.
    pub(crate) fn detach(&mut self) {
        if !self.detached {
            self.detached = true;
            claim::detach(&self.shared, &self.region, self.role);
        }
    }

    /// The corruption this handle saw, if any: every operation reports it again.
    #[inline(always)]
    pub(crate) fn check(&self) -> Result<(), Corrupt> {
        match self.poisoned {
            Some(c) => Err(c),
            None => Ok(()),
        }
    }

    /// Poisons the handle with `c` (the first corruption seen stays).
    #[cold]
    pub(crate) fn poison(&mut self, c: Corrupt) -> Corrupt {
        *self.poisoned.get_or_insert(c)
    }

    /// The words this handle sleeps on.
    pub(crate) fn sleeper(&self) -> Sleeper<'_> {
        match self.role {
            Role::Writer => Sleeper::writer(&self.shared),
            Role::Reader(slot) => Sleeper::reader(&self.shared, slot),
        }
    }

    /// Sleeps on `sleeper().seq` while it holds `seq`, for at most `timeout`.
    pub(crate) fn sleep(&self, seq: u32, timeout: Option<Duration>) {
        self.region.wait(self.sleeper().seq, seq, timeout)
    }

    /// Whether the peer has gone, from the header only (`deep == false`) or also asking the
    /// kernel.
    pub(crate) fn peer_gone(&mut self, deep: bool) -> bool {
        self.watch.gone(&self.shared, &self.region, deep)
    }

    /// Whether the peer has gone, asking the kernel if a deep probe is due at `now`.
    #[cfg(not(loom))]
    pub(crate) fn peer_gone_at(&mut self, now: Instant) -> bool {
        self.watch.gone_at(&self.shared, &self.region, now)
    }

    /// When the next deep probe is due.
    #[cfg(not(loom))]
    pub(crate) fn next_probe(&self) -> Instant {
        self.watch.next_deep()
    }

    /// After a non-blocking poll found nothing: whether the peer has gone. The clock is read on
    /// every 64th empty poll only (the first included), and the kernel asked when a deep probe
    /// is due; the other polls read the header only.
    pub(crate) fn peer_gone_polled(&mut self) -> bool {
        #[cfg(not(loom))]
        {
            self.empty_polls = self.empty_polls.wrapping_add(1);
            if self.empty_polls % 64 == 1 {
                return self.peer_gone_at(Instant::now());
            }
            self.peer_gone(false)
        }
        #[cfg(loom)]
        self.peer_gone(true)
    }

    /// Whether the peer is attached now (asks the kernel).
    pub(crate) fn peer_alive(&self) -> bool {
        self.watch.peer().alive(&self.shared, &self.region, true)
    }
}

fn claim_error(region: &Region, side: Side, e: ClaimError, holders: Vec<u32>) -> OpenError {
    let path = region.path().to_path_buf();
    match e {
        ClaimError::Taken(_) if holders.len() > 1 => OpenError::ReadersFull {
            path,
            pids: holders,
        },
        ClaimError::Taken(pid) => OpenError::SideTaken { path, side, pid },
        ClaimError::Corrupt(source) => OpenError::Corrupt { path, source },
        ClaimError::Io(source) => OpenError::Io {
            path,
            op: "fcntl(F_OFD_SETLK)",
            source,
        },
    }
}
