//! Waking a sleeping side through an event loop (feature `tokio` of the bench): mmring's
//! readiness handle in a `poll(2)` loop, mmring's `AsyncReader` on a current-thread tokio
//! runtime, and a Unix stream socket driven by the same kind of runtime. Parked round trips
//! (both sides asleep when each message arrives) and the idle case (CPU and wake-ups of a
//! reader that receives nothing).
//!
//! Sending is the same on all mmring variants (`try_reserve`/`commit`, which rings the
//! doorbell of a reader that armed it); only how the receiving side sleeps differs.

use super::mmring::{err, options, Tx, MMRING};
use super::Transport;
use crate::harness::{self, bad, Case, Kind, Outcome, Receiver, Watchdog};
use mmring::tokio::AsyncReader;
use mmring::{Reader, TryRecvError};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

/// How the receiving side of an mmring variant sleeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// `Reader::prepare_wait`, `poll(2)` on the readiness handle, `Reader::finish_wait`.
    Readiness,
    /// `AsyncReader::recv` on a current-thread runtime.
    Tokio,
}

/// mmring waking through an event loop; see the module docs.
#[derive(Debug)]
pub struct MmringWake {
    via: Via,
}

/// Through the readiness handle and `poll(2)`.
pub static MMRING_READINESS: MmringWake = MmringWake {
    via: Via::Readiness,
};
/// Through tokio.
pub static MMRING_TOKIO: MmringWake = MmringWake { via: Via::Tokio };

fn runtime() -> io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// A reader that sleeps in an event loop.
enum Rx {
    Readiness(Reader, mmring::Readiness),
    Tokio(Runtime, AsyncReader),
}

impl Rx {
    fn open(via: Via, path: &Path, case: &Case) -> io::Result<Rx> {
        let mut r = options(case).open_reader(path).map_err(err)?;
        Ok(match via {
            Via::Readiness => {
                let ready = r.readiness()?;
                Rx::Readiness(r, ready)
            }
            Via::Tokio => {
                let rt = runtime()?;
                let r = {
                    let _in = rt.enter();
                    AsyncReader::new(r)?
                };
                Rx::Tokio(rt, r)
            }
        })
    }

    /// Waits for one message and copies it into `buf`; returns its length.
    fn wait_one(&mut self, buf: &mut [u8], wd: &mut Watchdog) -> io::Result<usize> {
        let copy = |buf: &mut [u8], m: &[u8]| -> io::Result<usize> {
            let dst = buf
                .get_mut(..m.len())
                .ok_or_else(|| bad(format!("message of {} bytes", m.len())))?;
            dst.copy_from_slice(m);
            Ok(m.len())
        };
        match self {
            Rx::Readiness(r, ready) => loop {
                match r.try_recv() {
                    Ok(m) => return copy(buf, &m),
                    Err(TryRecvError::Empty) => {}
                    Err(e) => return Err(err(e)),
                }
                if r.prepare_wait()? {
                    continue;
                }
                let mut pfd = libc::pollfd {
                    fd: ready.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd that lives across the call.
                unsafe { libc::poll(&mut pfd, 1, 1000) };
                r.finish_wait();
                wd.tick()?;
            },
            Rx::Tokio(rt, r) => rt.block_on(async {
                let m = r.recv().await.map_err(err)?;
                copy(buf, &m)
            }),
        }
    }
}

impl Receiver for Rx {
    fn recv_some<F: FnMut(&[u8]) -> io::Result<()>>(
        &mut self,
        buf: &mut [u8],
        mut f: F,
    ) -> io::Result<usize> {
        let mut wd = Watchdog::new(std::time::Duration::from_secs(30));
        let n = self.wait_one(buf, &mut wd)?;
        f(&buf[..n])?;
        Ok(1)
    }

    fn recv_one_wait(&mut self, buf: &mut [u8], wd: &mut Watchdog) -> io::Result<u64> {
        let n = self.wait_one(buf, wd)?;
        harness::seq_of(&buf[..n])
    }
}

impl Transport for MmringWake {
    fn name(&self) -> &'static str {
        match self.via {
            Via::Readiness => "mmring-readiness",
            Via::Tokio => "mmring-tokio",
        }
    }
    fn describe(&self) -> &'static str {
        match self.via {
            Via::Readiness => "mmring, the receiver asleep in poll(2) on its readiness handle",
            Via::Tokio => "mmring, the receiver an AsyncReader on a current-thread tokio runtime",
        }
    }
    fn supports(&self, kind: Kind) -> bool {
        matches!(kind, Kind::Parked | Kind::Idle)
    }
    fn child(&self, dir: &Path, case: &Case) -> io::Result<()> {
        match case.kind {
            Kind::Idle => MMRING.child(dir, case),
            _ => {
                let mut rx = Rx::open(self.via, &dir.join("a"), case)?;
                let mut tx: Tx = MMRING.tx(&dir.join("b"), case)?;
                harness::rtt_pong(&mut tx, &mut rx, case, true)
            }
        }
    }
    fn parent(&self, dir: &Path, case: &Case) -> io::Result<Outcome> {
        match case.kind {
            Kind::Idle => {
                let mut rx = Rx::open(self.via, &dir.join("a"), case)?;
                let mut buf = [0u8; 64];
                let mut wd = Watchdog::new(case.deadline());
                harness::idle_usage(|| rx.wait_one(&mut buf, &mut wd).map(drop))
            }
            _ => {
                let mut tx: Tx = MMRING.tx(&dir.join("a"), case)?;
                let mut rx = Rx::open(self.via, &dir.join("b"), case)?;
                harness::rtt_ping(&mut tx, &mut rx, case, Some(super::mmring::PARK_GAP))
                    .map(Outcome::Latency)
            }
        }
    }
}

/// A Unix stream socket, both ends driven by a current-thread tokio runtime.
#[derive(Debug)]
pub struct TokioUds;

struct Sock {
    rt: Runtime,
    s: tokio::net::UnixStream,
}

impl harness::Sender for Sock {
    fn send_some(&mut self, tmpl: &mut [u8], next: u64, _max: u64) -> io::Result<u64> {
        harness::stamp(tmpl, next);
        self.rt.block_on(self.s.write_all(tmpl))?;
        Ok(1)
    }
}

impl Receiver for Sock {
    fn recv_some<F: FnMut(&[u8]) -> io::Result<()>>(
        &mut self,
        buf: &mut [u8],
        mut f: F,
    ) -> io::Result<usize> {
        self.rt.block_on(self.s.read_exact(buf))?;
        f(buf)?;
        Ok(1)
    }
}

/// The two directions of a round trip over one socket.
fn split(sock: std::os::unix::net::UnixStream) -> io::Result<(Sock, Sock)> {
    let mk = |s: std::os::unix::net::UnixStream| -> io::Result<Sock> {
        s.set_nonblocking(true)?;
        let rt = runtime()?;
        let s = {
            let _in = rt.enter();
            tokio::net::UnixStream::from_std(s)?
        };
        Ok(Sock { rt, s })
    };
    Ok((mk(sock.try_clone()?)?, mk(sock)?))
}

impl Transport for TokioUds {
    fn name(&self) -> &'static str {
        "tokio-unix-socket"
    }
    fn describe(&self) -> &'static str {
        "Unix domain stream socket, both ends tokio::net::UnixStream on current-thread runtimes"
    }
    fn supports(&self, kind: Kind) -> bool {
        kind == Kind::Parked
    }
    fn child(&self, dir: &Path, case: &Case) -> io::Result<()> {
        let path = dir.join("sock");
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let s = loop {
            match std::os::unix::net::UnixStream::connect(&path) {
                Ok(s) => break s,
                Err(e) if std::time::Instant::now() > until => return Err(e),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        };
        let (mut tx, mut rx) = split(s)?;
        harness::rtt_pong(&mut tx, &mut rx, case, true)
    }
    fn parent(&self, dir: &Path, case: &Case) -> io::Result<Outcome> {
        let l = std::os::unix::net::UnixListener::bind(dir.join("sock"))?;
        let (s, _) = l.accept()?;
        let (mut tx, mut rx) = split(s)?;
        harness::rtt_ping(&mut tx, &mut rx, case, Some(super::mmring::PARK_GAP))
            .map(Outcome::Latency)
    }
}
