//! One side's waiting set: its doorbell, a pidfd per peer it watches, and a periodic timer, in
//! one epoll instance. The epoll descriptor is the side's readiness handle: readable when the
//! peer rang (progress), a peer process exited, or a liveness check is due. A blocking wait
//! sleeps in `epoll_wait` on it; an event loop polls it next to its sockets.

use super::bell::Bell;
use super::pidfd;
use crate::wait::IDLE_PROBE;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

const BELL: u64 = 0;
const TIMER: u64 = 1;
const PEER0: u64 = 2;

/// A watched peer: which one (its slot or the writer, and its epoch) and its pidfd.
#[derive(Debug)]
struct Watched {
    key: (u32, u32),
    fd: Option<OwnedFd>,
}

/// What a wait found.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Woken {
    /// A watched peer process exited (check the peer's lock now).
    pub died: bool,
    /// The periodic timer fired (a liveness check is due).
    pub timer: bool,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Waiter {
    epoll: OwnedFd,
    timer: OwnedFd,
    bell: Bell,
    peers: Vec<Watched>,
    /// The timer's period now.
    interval: Duration,
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn add(epoll: &OwnedFd, fd: BorrowedFd<'_>, data: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: data,
    };
    // SAFETY: valid descriptors; `ev` lives across the call.
    check(unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            &mut ev,
        )
    })
    .map(drop)
}

impl Waiter {
    /// A waiting set around `bell` (the side's own doorbell).
    pub(crate) fn new(bell: Bell) -> io::Result<Waiter> {
        // SAFETY: plain system calls; results are checked before use.
        let epoll =
            unsafe { OwnedFd::from_raw_fd(check(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        // SAFETY: as above.
        let timer = unsafe {
            OwnedFd::from_raw_fd(check(libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            ))?)
        };
        add(&epoll, bell.as_fd(), BELL)?;
        add(&epoll, timer.as_fd(), TIMER)?;
        let mut w = Waiter {
            epoll,
            timer,
            bell,
            peers: Vec::new(),
            interval: Duration::ZERO,
        };
        w.set_interval(crate::wait::PROBE_INTERVAL)?;
        Ok(w)
    }

    /// The doorbell.
    pub(crate) fn bell(&self) -> &Bell {
        &self.bell
    }

    fn set_interval(&mut self, every: Duration) -> io::Result<()> {
        if every == self.interval {
            return Ok(());
        }
        let ts = libc::timespec {
            tv_sec: every.as_secs() as libc::time_t,
            tv_nsec: every.subsec_nanos() as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: ts,
            it_value: ts,
        };
        // SAFETY: valid timerfd; `spec` lives across the call.
        check(unsafe {
            libc::timerfd_settime(self.timer.as_raw_fd(), 0, &spec, std::ptr::null_mut())
        })?;
        self.interval = every;
        Ok(())
    }

    /// Watches exactly the peers in `wanted` (`(key, pid)`: key = slot or writer and epoch).
    /// Returns the period of liveness checks that this makes right: [`IDLE_PROBE`] when every
    /// peer has a pidfd, the short [`PROBE_INTERVAL`](crate::PROBE_INTERVAL) otherwise.
    pub(crate) fn watch(&mut self, wanted: &[((u32, u32), u32)]) -> Duration {
        self.peers
            .retain(|w| wanted.iter().any(|(k, _)| *k == w.key));
        for &(key, pid) in wanted {
            if self.peers.iter().any(|w| w.key == key) {
                continue;
            }
            let fd = pidfd::open(pid).ok();
            let data = PEER0 + self.peers.len() as u64;
            let fd = fd.filter(|fd| add(&self.epoll, fd.as_fd(), data).is_ok());
            self.peers.push(Watched { key, fd });
        }
        // Re-register every pidfd under its index after `retain` moved them.
        for (i, w) in self.peers.iter().enumerate() {
            if let Some(fd) = &w.fd {
                let mut ev = libc::epoll_event {
                    events: libc::EPOLLIN as u32,
                    u64: PEER0 + i as u64,
                };
                // SAFETY: valid descriptors; `ev` lives across the call. A pidfd not yet in the
                // set (ENOENT) was just added above under the same index.
                unsafe {
                    libc::epoll_ctl(
                        self.epoll.as_raw_fd(),
                        libc::EPOLL_CTL_MOD,
                        fd.as_raw_fd(),
                        &mut ev,
                    )
                };
            }
        }
        let every = if self.peers.iter().all(|w| w.fd.is_some()) {
            IDLE_PROBE
        } else {
            crate::wait::PROBE_INTERVAL
        };
        // A timer that cannot be set leaves the old period: the checks stay at least as often.
        let _ = self.set_interval(every);
        self.interval
    }

    /// Sleeps until something is ready or `timeout` passes (`None`: no timeout, `Some(ZERO)`:
    /// a poll), then empties the doorbell and the timer. A peer found dead stops being watched.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> Woken {
        let ms = timeout.map_or(-1, |t| {
            let ms = t.as_millis().min(i32::MAX as u128) as i32;
            if ms == 0 && !t.is_zero() {
                1
            } else {
                ms
            }
        });
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: valid epoll descriptor; `events` is writable for its length.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                ms,
            )
        };
        let mut woken = Woken::default();
        for ev in events.iter().take(n.max(0) as usize) {
            match ev.u64 {
                BELL => self.bell.drain(),
                TIMER => {
                    let mut buf = [0u8; 8];
                    // SAFETY: valid non-blocking timerfd; `buf` holds the 8 bytes it returns.
                    unsafe { libc::read(self.timer.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
                    woken.timer = true;
                }
                i => {
                    woken.died = true;
                    if let Some(w) = self.peers.get_mut((i - PEER0) as usize) {
                        // Readable forever now: stop watching it (the lock says the rest).
                        if let Some(fd) = w.fd.take() {
                            // SAFETY: valid descriptors; removing needs no event.
                            unsafe {
                                libc::epoll_ctl(
                                    self.epoll.as_raw_fd(),
                                    libc::EPOLL_CTL_DEL,
                                    fd.as_raw_fd(),
                                    std::ptr::null_mut(),
                                )
                            };
                        }
                    }
                }
            }
        }
        woken
    }
}

impl AsFd for Waiter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}
