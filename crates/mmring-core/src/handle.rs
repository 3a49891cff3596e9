//! What a `Writer` and a `Reader` share: the attached region, the claim, poisoning, the watch on
//! the peer, and the blocking loop's view of them.

use crate::error::{Corrupt, OpenError, Side};
#[cfg(not(loom))]
use crate::os::waiter::Waiter;
use crate::os::Region;
use crate::ring::claim::{self, ClaimError, Join, Peer, PeerWatch, Role, StartAt};
use crate::ring::notify::{Sleeper, Via};
use crate::ring::{Os, Shared};
use crate::wait::WaitStrategy;
#[cfg(not(loom))]
use std::os::fd::AsFd;
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
    /// The waiting set (doorbell, peers' pidfds, timer), made on first need; `Err` if it could
    /// not be (the side then sleeps on the futex).
    #[cfg(not(loom))]
    waiter: Option<std::io::Result<Waiter>>,
    /// The readiness handle is armed (`prepare_wait`).
    #[cfg(not(loom))]
    armed: bool,
    pub(crate) region: Region,
}

/// A side's readiness handle: a file descriptor (an epoll instance) that becomes readable when
/// the side has something to do, for `poll(2)`, epoll, mio, glib or an async runtime.
///
/// It becomes readable, once armed with `prepare_wait`, when the peer made progress (a message
/// for a reader, room for a writer), when a peer process exits, and at least once a second for
/// a backstop check of the peer (every 20 ms if the peer cannot be watched by a pidfd). After it
/// fired, call `finish_wait`, then the non-blocking call (`try_recv`, `try_send`), which may
/// still find nothing (wake-ups can be spurious). It is a duplicate descriptor: it stays valid
/// as long as it lives, and it is only meaningful for the handle that made it.
///
/// ```
/// use std::os::fd::AsRawFd;
/// # let path = std::env::temp_dir().join(format!("mmring-doc-readiness-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let mut w = mmring_core::Writer::create(&path, 4096)?;
/// let mut r = mmring_core::Reader::open(&path)?;
/// let ready = r.readiness()?;
/// assert!(!r.prepare_wait()?); // armed: nothing to receive yet
/// w.send(b"wake up")?;         // rings the reader's doorbell
/// let mut pfd = libc::pollfd { fd: ready.as_raw_fd(), events: libc::POLLIN, revents: 0 };
/// // SAFETY: one valid pollfd.
/// assert_eq!(unsafe { libc::poll(&mut pfd, 1, 5000) }, 1);
/// r.finish_wait();
/// assert_eq!(r.try_recv_vec()?, b"wake up");
/// # drop(r); std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(not(loom))]
#[derive(Debug)]
pub struct Readiness {
    fd: std::os::fd::OwnedFd,
}

#[cfg(not(loom))]
impl std::os::fd::AsFd for Readiness {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(not(loom))]
impl std::os::fd::AsRawFd for Readiness {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

impl Handle {
    /// Claims the writer role of `region`.
    pub(crate) fn attach_writer(region: Region, strategy: WaitStrategy) -> Result<Self, OpenError> {
        let shared = region.shared();
        let before = Peer::Readers.alive(&shared, &region, true);
        claim::claim_writer(&shared, &region)
            .map_err(|e| claim_error(&region, Side::Writer, e, Vec::new()))?;
        Ok(Self::new(
            region,
            shared,
            Role::Writer,
            (Peer::Readers, before),
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
        let before = Peer::Writer.alive(&shared, &region, true);
        let join = claim::claim_reader(&shared, &region, kind, start)
            .map_err(|(e, pids)| claim_error(&region, Side::Reader, e, pids))?;
        let h = Self::new(
            region,
            shared,
            Role::Reader(join.slot),
            (Peer::Writer, before),
            strategy,
        );
        Ok((h, join))
    }

    /// `peer`: the peer to watch, and whether it was alive before our claim.
    fn new(
        region: Region,
        shared: Shared,
        role: Role,
        (peer, alive_before): (Peer, bool),
        strategy: WaitStrategy,
    ) -> Self {
        Handle {
            watch: PeerWatch::new(&shared, &region, peer, alive_before),
            shared,
            role,
            strategy,
            poisoned: None,
            detached: false,
            #[cfg(not(loom))]
            empty_polls: 0,
            #[cfg(not(loom))]
            waiter: None,
            #[cfg(not(loom))]
            armed: false,
            region,
        }
    }

    /// The waiting set, made if need be.
    #[cfg(not(loom))]
    pub(crate) fn waiter(&mut self) -> std::io::Result<&mut Waiter> {
        let role = self.role;
        let region = &self.region;
        match self
            .waiter
            .get_or_insert_with(|| region.own_bell(role).and_then(Waiter::new))
        {
            Ok(w) => Ok(w),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        }
    }

    /// Makes the waiting set watch the peers that are attached now; returns how long a sleep
    /// may last before a backstop check of the peers' locks, or `None` without a waiting set.
    #[cfg(not(loom))]
    pub(crate) fn arm_waiter(&mut self) -> Option<Duration> {
        let peers = self.watched_peers();
        self.waiter().ok().map(|w| w.watch(&peers))
    }

    /// Sleeps in the waiting set; a peer seen exiting makes the next check a deep one.
    #[cfg(not(loom))]
    pub(crate) fn wait_waiter(&mut self, timeout: Option<Duration>) {
        let woken = match self.waiter() {
            Ok(w) => w.wait(timeout),
            Err(_) => return,
        };
        if woken.died || woken.timer {
            self.watch.probe_soon();
        }
    }

    /// A duplicate of the waiting set's descriptor, the readiness handle.
    #[cfg(not(loom))]
    pub(crate) fn readiness(&mut self) -> std::io::Result<Readiness> {
        let fd = self.waiter()?.as_fd().try_clone_to_owned()?;
        Ok(Readiness { fd })
    }

    /// Arms the readiness handle: announces that this side sleeps on its doorbell, then
    /// re-checks with `ready` (whether there is something to do now) and the peer's state.
    /// `Ok(true)`: do not wait, there is something to do (the handle is disarmed again).
    #[cfg(not(loom))]
    pub(crate) fn prepare_wait(
        &mut self,
        ready: impl FnOnce(&Handle) -> bool,
    ) -> std::io::Result<bool> {
        let peers = self.watched_peers();
        self.waiter()?.watch(&peers);
        if !self.armed {
            self.sleeper().announce(Via::Bell);
            self.armed = true;
        }
        if ready(self) || self.peer_gone(false) {
            self.finish_wait();
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether the readiness handle is armed.
    #[cfg(all(feature = "tokio", not(loom)))]
    #[inline(always)]
    pub(crate) fn is_armed(&self) -> bool {
        self.armed
    }

    /// Disarms the readiness handle and empties it; a peer seen exiting (or a backstop tick)
    /// makes the next empty receive or send check the peer's lock.
    #[cfg(not(loom))]
    pub(crate) fn finish_wait(&mut self) {
        if self.armed {
            self.sleeper().done(Via::Bell);
            self.armed = false;
        }
        self.wait_waiter(Some(Duration::ZERO));
        self.empty_polls = 0;
    }

    /// The peers a sleeping side watches: `((side, epoch), pid)` for each that is attached.
    #[cfg(not(loom))]
    fn watched_peers(&self) -> Vec<((u32, u32), u32)> {
        let s = &self.shared;
        let roles: Vec<(u32, Role)> = match self.role {
            Role::Reader(_) => vec![(0, Role::Writer)],
            Role::Writer => (0..s.geo.readers)
                .map(|i| (1 + i, Role::Reader(i)))
                .collect(),
        };
        roles
            .into_iter()
            .filter(|&(_, r)| claim::alive(s, &self.region, r, false))
            .map(|(k, r)| ((k, claim::epoch(s, r)), claim::pid(s, r)))
            .collect()
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

    /// Marks the role closed, wakes the peers and gives up the claim; removes this side's
    /// doorbell FIFO if it made one (a crash leaves it for the next holder of the side).
    pub(crate) fn detach(&mut self) {
        if !self.detached {
            self.detached = true;
            #[cfg(not(loom))]
            if self.armed {
                // A side that leaves while armed stops asking to be woken.
                self.sleeper().done(Via::Bell);
                self.armed = false;
            }
            claim::detach(&self.shared, &self.region, self.role);
            #[cfg(not(loom))]
            if let Some(Ok(w)) = &self.waiter {
                w.bell().remove();
            }
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
