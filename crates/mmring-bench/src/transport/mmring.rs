//! mmring itself, through its public API, over ring files in the run's directory.
//!
//! `mmring` uses the best path for each case: the `Spin` wait strategy for round trips,
//! `Writer::batch` and `Reader::drain` (one cursor publication per batch) for streaming.
//! `mmring-1by1` streams one `try_reserve`/`commit` and one `try_recv` per message, so the
//! per-message path is on the table too. Parked and idle cases use `WaitStrategy::Park`.

use super::Transport;
use crate::harness::{self, bad, stamp, Case, Kind, Outcome, Receiver, Sender, Watchdog};
use mmring::{Reader, RingOptions, TryRecvError, TrySendError, WaitStrategy, Writer};
use std::io;
use std::path::Path;
use std::time::Duration;

/// See the module docs.
#[derive(Debug)]
pub struct Mmring {
    name: &'static str,
    batch: bool,
}

/// Batch paths.
pub static MMRING: Mmring = Mmring {
    name: "mmring",
    batch: true,
};
/// One message per call.
pub static MMRING_1BY1: Mmring = Mmring {
    name: "mmring-1by1",
    batch: false,
};

/// An error of the library as an I/O error of the bench.
pub(crate) fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// The ring options of a case: `Park` for parked and idle cases, `Spin` otherwise.
pub(crate) fn options(case: &Case) -> RingOptions {
    let strategy = match case.kind {
        Kind::Parked | Kind::Idle => WaitStrategy::Park,
        _ => WaitStrategy::Spin,
    };
    RingOptions::new()
        .create_if_missing(case.ring_bytes() as usize)
        .wait_strategy(strategy)
}

/// At most a quarter of the ring per batch, so the other side always has room to work in.
fn batch_limit(case: &Case) -> usize {
    (case.ring_bytes() / 4 / (case.size as u64 + 8)).max(1) as usize
}

/// mmring's sending side.
pub(crate) struct Tx {
    pub(crate) w: Writer,
    batch: bool,
    limit: u64,
}

impl Sender for Tx {
    #[inline]
    fn send_some(&mut self, tmpl: &mut [u8], next: u64, max: u64) -> io::Result<u64> {
        let len = tmpl.len();
        if !self.batch || max == 1 {
            return match self.w.try_reserve(len) {
                Ok(mut g) => {
                    g.copy_from_slice(tmpl);
                    stamp(&mut g, next);
                    g.commit();
                    Ok(1)
                }
                Err(TrySendError::Full) => Ok(0),
                Err(e) => Err(err(e)),
            };
        }
        let max = max.min(self.limit);
        let mut b = self.w.batch();
        let mut n = 0;
        while n < max {
            match b.try_reserve(len) {
                Ok(mut g) => {
                    g.copy_from_slice(tmpl);
                    stamp(&mut g, next + n);
                    g.stage();
                    n += 1;
                }
                Err(TrySendError::Full) => break,
                Err(e) => return Err(err(e)),
            }
        }
        Ok(n)
    }
}

struct Rx {
    r: Reader,
    batch: bool,
    limit: usize,
}

impl Receiver for Rx {
    #[inline]
    fn recv_some<F: FnMut(&[u8]) -> io::Result<()>>(
        &mut self,
        buf: &mut [u8],
        mut f: F,
    ) -> io::Result<usize> {
        if self.batch {
            let mut failed = None;
            let got = self.r.drain(self.limit, |m| {
                if failed.is_some() {
                    return;
                }
                let Some(dst) = buf.get_mut(..m.len()) else {
                    failed = Some(bad(format!("message of {} bytes", m.len())));
                    return;
                };
                dst.copy_from_slice(m);
                if let Err(e) = f(dst) {
                    failed = Some(e);
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            return match got {
                Ok(n) => Ok(n),
                Err(TryRecvError::Empty) => Ok(0),
                Err(e) => Err(err(e)),
            };
        }
        let n = match self.r.try_recv() {
            Ok(m) => {
                let dst = buf
                    .get_mut(..m.len())
                    .ok_or_else(|| bad(format!("message of {} bytes", m.len())))?;
                dst.copy_from_slice(&m);
                m.len()
            }
            Err(TryRecvError::Empty) => return Ok(0),
            Err(e) => return Err(err(e)),
        };
        f(&buf[..n])?;
        Ok(1)
    }

    fn recv_one_wait(&mut self, buf: &mut [u8], _wd: &mut Watchdog) -> io::Result<u64> {
        let n = {
            let m = self.r.recv().map_err(err)?;
            let dst = buf
                .get_mut(..m.len())
                .ok_or_else(|| bad(format!("message of {} bytes", m.len())))?;
            dst.copy_from_slice(&m);
            m.len()
        };
        harness::seq_of(&buf[..n])
    }
}

impl Mmring {
    /// The sending side of a case on the ring at `path`.
    pub(crate) fn tx(&self, path: &Path, case: &Case) -> io::Result<Tx> {
        Ok(Tx {
            w: options(case).open_writer(path).map_err(err)?,
            batch: self.batch,
            limit: batch_limit(case) as u64,
        })
    }
    fn rx(&self, path: &Path, case: &Case) -> io::Result<Rx> {
        Ok(Rx {
            r: options(case).open_reader(path).map_err(err)?,
            batch: self.batch,
            limit: batch_limit(case),
        })
    }
}

impl Transport for Mmring {
    fn name(&self) -> &'static str {
        self.name
    }
    fn describe(&self) -> &'static str {
        if self.batch {
            "mmring: Spin for round trips; Writer::batch + Reader::drain for streaming"
        } else {
            "mmring: one try_reserve/commit and one try_recv per message"
        }
    }
    fn supports(&self, kind: Kind) -> bool {
        self.batch || kind == Kind::Stream
    }
    fn child(&self, dir: &Path, case: &Case) -> io::Result<()> {
        match case.kind {
            Kind::Rtt | Kind::Parked => {
                let mut rx = self.rx(&dir.join("a"), case)?;
                let mut tx = self.tx(&dir.join("b"), case)?;
                harness::rtt_pong(&mut tx, &mut rx, case, case.kind == Kind::Parked)
            }
            Kind::Stream => {
                let mut tx = self.tx(&dir.join("a"), case)?;
                harness::stream_write(&mut tx, case, u64::MAX)
            }
            Kind::Idle => {
                let mut tx = self.tx(&dir.join("a"), case)?;
                std::thread::sleep(case.warmup + case.measure);
                tx.w.send(&[0u8; 8]).map_err(err)?;
                // Stay attached until the reader has the message (it exits after).
                std::thread::sleep(Duration::from_millis(50));
                Ok(())
            }
        }
    }
    fn parent(&self, dir: &Path, case: &Case) -> io::Result<Outcome> {
        match case.kind {
            Kind::Rtt | Kind::Parked => {
                let mut tx = self.tx(&dir.join("a"), case)?;
                let mut rx = self.rx(&dir.join("b"), case)?;
                let gap = (case.kind == Kind::Parked).then_some(PARK_GAP);
                harness::rtt_ping(&mut tx, &mut rx, case, gap).map(Outcome::Latency)
            }
            Kind::Stream => {
                let mut rx = self.rx(&dir.join("a"), case)?;
                harness::stream_read(&mut rx, case)
            }
            Kind::Idle => {
                let mut rx = self.rx(&dir.join("a"), case)?;
                harness::idle_usage(|| rx.r.recv().map(drop).map_err(err))
            }
        }
    }
}

/// Pause between round trips in parked mode: longer than `SPIN_BEFORE_PARK`, so that the
/// answering side is asleep on its futex when each ping arrives.
pub const PARK_GAP: Duration = Duration::from_micros(300);
