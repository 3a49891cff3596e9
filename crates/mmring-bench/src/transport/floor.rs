//! The floor: one cache line bounced between two processes through a `MAP_SHARED` page.
//!
//! The pinger stores `2n+1` into one 8-byte word, the ponger answers by storing `2n+2`; each
//! spins on loads of the same word. No framing, no payload: this is what the hardware charges
//! for moving one line from one core to the other and back, plus the harness's own clock reads
//! and loop, which every transport pays too.

use super::shm::Shm;
use super::Transport;
use crate::harness::{self, stamp, Case, Kind, Outcome, Receiver, Sender, STOP};
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;

/// See the module docs.
#[derive(Debug)]
pub struct Floor;

const LEN: u64 = 4096;

struct Side {
    shm: Shm,
    /// Whether this side sends odd values (the pinger).
    odd: bool,
    last: u64,
}

impl Sender for Side {
    fn send_some(&mut self, _tmpl: &mut [u8], next: u64, _max: u64) -> io::Result<u64> {
        let v = if next == STOP {
            u64::MAX
        } else if self.odd {
            2 * next + 1
        } else {
            2 * next + 2
        };
        // Release: the peer's Acquire load below sees the value with everything before it.
        self.shm.word(0).store(v, Ordering::Release);
        Ok(1)
    }
}

impl Receiver for Side {
    fn recv_some<F: FnMut(&[u8]) -> io::Result<()>>(
        &mut self,
        buf: &mut [u8],
        mut f: F,
    ) -> io::Result<usize> {
        // Acquire: pairs with the Release store in `send_some` of the other side.
        let v = self.shm.word(0).load(Ordering::Acquire);
        // The pinger waits for even values, the ponger for odd ones.
        if v == self.last || (v % 2 == 1) == self.odd {
            return Ok(0);
        }
        self.last = v;
        let seq = if v == u64::MAX {
            STOP
        } else if self.odd {
            (v - 2) / 2
        } else {
            (v - 1) / 2
        };
        stamp(buf, seq);
        f(buf)?;
        Ok(1)
    }
}

impl Floor {
    fn side(dir: &Path, odd: bool) -> io::Result<Side> {
        Ok(Side {
            shm: Shm::open(&dir.join("line"), LEN)?,
            odd,
            last: 0,
        })
    }
}

impl Transport for Floor {
    fn name(&self) -> &'static str {
        "floor"
    }
    fn describe(&self) -> &'static str {
        "one cache line bounced between two processes (MAP_SHARED page)"
    }
    fn supports(&self, kind: Kind) -> bool {
        kind == Kind::Rtt
    }
    fn prepare(&self, dir: &Path, _case: &Case) -> io::Result<()> {
        Shm::create(&dir.join("line"), LEN)
    }
    fn child(&self, dir: &Path, case: &Case) -> io::Result<()> {
        let mut tx = Self::side(dir, false)?;
        let mut rx = Self::side(dir, false)?;
        harness::rtt_pong(&mut tx, &mut rx, case, false)
    }
    fn parent(&self, dir: &Path, case: &Case) -> io::Result<Outcome> {
        let mut tx = Self::side(dir, true)?;
        let mut rx = Self::side(dir, true)?;
        harness::rtt_ping(&mut tx, &mut rx, case, None).map(Outcome::Latency)
    }
}
