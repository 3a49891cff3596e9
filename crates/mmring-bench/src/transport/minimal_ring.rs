//! The hand-written baselines: a minimal fixed-slot SPSC ring over a `MAP_SHARED` file, what an
//! expert writes with no framing, validation or features.
//!
//! Slots are the message size; the reader copies out everything it saw and publishes `tail`
//! once per batch; each side caches the other side's cursor and re-reads it only when it looks
//! full (writer) or empty (reader). The cursors live 128 bytes apart (no false sharing, even
//! with adjacent-line prefetch). Two variants differ only in when the writer publishes `head`:
//!
//! - `minimal-ring`: after every message;
//! - `minimal-ring-batched`: once per batch, as shaq and the batch APIs (mmring's included) do:
//!   it fills as many free slots as the batch limit allows (a quarter of the ring when
//!   streaming), then makes one Release store. This is the baseline to beat: publishing per
//!   message costs a cache-line transfer per message and flatters every ratio against it.

use super::shm::Shm;
use super::Transport;
use crate::harness::{self, bad, stamp, Case, Kind, Outcome, Receiver, Sender};
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;

/// See the module docs.
#[derive(Debug)]
pub struct MinimalRing {
    /// Whether the writer publishes `head` once per batch (else after every message).
    pub batched: bool,
}

const HEAD: usize = 0;
const TAIL: usize = 128;
const DATA: usize = 4096;

struct Geometry {
    slot: usize,
    slots: u64,
}

fn geometry(case: &Case) -> Geometry {
    let slot = case.size.next_multiple_of(8).next_power_of_two();
    Geometry {
        slot,
        slots: (case.ring_bytes() / slot as u64).max(2),
    }
}

fn file_len(case: &Case) -> u64 {
    let g = geometry(case);
    DATA as u64 + g.slots * g.slot as u64
}

struct Ring {
    shm: Shm,
    g: Geometry,
    size: usize,
    /// Writer: next slot to fill. Reader: next slot to read.
    mine: u64,
    /// Writer: cached tail. Reader: cached head.
    theirs: u64,
    /// Writer: publish `head` once per `send_some` call rather than after every message.
    batched: bool,
}

impl Ring {
    fn open(path: &Path, case: &Case, batched: bool) -> io::Result<Ring> {
        Ok(Ring {
            shm: Shm::open(path, file_len(case))?,
            g: geometry(case),
            size: case.size,
            mine: 0,
            theirs: 0,
            batched,
        })
    }

    /// Release: publishes the bytes of every slot below `mine`; pairs with the reader's
    /// Acquire load of HEAD.
    #[inline]
    fn publish_head(&self) {
        self.shm.word(HEAD).store(self.mine, Ordering::Release);
    }

    fn slot_ptr(&self, n: u64) -> *mut u8 {
        let i = (n % self.g.slots) as usize;
        self.shm.ptr(DATA + i * self.g.slot, self.g.slot)
    }
}

impl Sender for Ring {
    #[inline]
    fn send_some(&mut self, tmpl: &mut [u8], next: u64, max: u64) -> io::Result<u64> {
        let mut sent = 0;
        while sent < max {
            if self.mine - self.theirs == self.g.slots {
                // Acquire: pairs with the reader's Release store of TAIL: its copies out of the
                // slots happen before we overwrite them.
                self.theirs = self.shm.word(TAIL).load(Ordering::Acquire);
                if self.mine - self.theirs == self.g.slots {
                    break;
                }
            }
            stamp(tmpl, next + sent);
            // SAFETY: the slot holds `slot >= size` bytes in the mapping; the reader does not
            // touch it until HEAD passes it (`publish_head`), nor after TAIL passed it.
            unsafe {
                std::ptr::copy_nonoverlapping(tmpl.as_ptr(), self.slot_ptr(self.mine), self.size)
            };
            self.mine += 1;
            sent += 1;
            if !self.batched {
                self.publish_head();
            }
        }
        if self.batched && sent > 0 {
            self.publish_head();
        }
        Ok(sent)
    }
}

impl Receiver for Ring {
    #[inline]
    fn recv_some<F: FnMut(&[u8]) -> io::Result<()>>(
        &mut self,
        buf: &mut [u8],
        mut f: F,
    ) -> io::Result<usize> {
        if self.mine == self.theirs {
            // Acquire: pairs with the writer's Release store of HEAD.
            self.theirs = self.shm.word(HEAD).load(Ordering::Acquire);
            if self.mine == self.theirs {
                return Ok(0);
            }
            if self.theirs - self.mine > self.g.slots {
                return Err(bad("minimal ring: head too far ahead".into()));
            }
        }
        let n = self.theirs - self.mine;
        while self.mine < self.theirs {
            // SAFETY: the slot is published (HEAD passed it) and the writer will not reuse it
            // before TAIL passes it; `buf` holds `size` bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(self.slot_ptr(self.mine), buf.as_mut_ptr(), self.size)
            };
            self.mine += 1;
            f(&buf[..self.size])?;
        }
        // Release: our copies happen before the writer reuses the slots; pairs with its Acquire.
        self.shm.word(TAIL).store(self.mine, Ordering::Release);
        Ok(n as usize)
    }
}

impl MinimalRing {
    fn ring(&self, path: &Path, case: &Case) -> io::Result<Ring> {
        Ring::open(path, case, self.batched)
    }
}

impl Transport for MinimalRing {
    fn name(&self) -> &'static str {
        if self.batched {
            "minimal-ring-batched"
        } else {
            "minimal-ring"
        }
    }
    fn describe(&self) -> &'static str {
        if self.batched {
            "minimal-ring, but the writer publishes head once per batch (as shaq, batch APIs)"
        } else {
            "hand-written fixed-slot SPSC ring, cached cursors, no framing or checks"
        }
    }
    fn supports(&self, kind: Kind) -> bool {
        // A round trip sends one message at a time: both variants are the same there.
        kind == Kind::Stream || !self.batched && kind == Kind::Rtt
    }
    fn prepare(&self, dir: &Path, case: &Case) -> io::Result<()> {
        Shm::create(&dir.join("a"), file_len(case))?;
        Shm::create(&dir.join("b"), file_len(case))
    }
    fn child(&self, dir: &Path, case: &Case) -> io::Result<()> {
        match case.kind {
            Kind::Rtt => {
                let mut rx = self.ring(&dir.join("a"), case)?;
                let mut tx = self.ring(&dir.join("b"), case)?;
                harness::rtt_pong(&mut tx, &mut rx, case, false)
            }
            _ => {
                let mut tx = self.ring(&dir.join("a"), case)?;
                // Batched: at most a quarter of the ring per batch, as for shaq, so that the
                // reader has published slots to work on while the writer fills the next batch.
                // Per message, the limit would only decide how often the loop returns.
                let batch = if self.batched {
                    (geometry(case).slots / 4).max(1)
                } else {
                    u64::MAX
                };
                harness::stream_write(&mut tx, case, batch)
            }
        }
    }
    fn parent(&self, dir: &Path, case: &Case) -> io::Result<Outcome> {
        match case.kind {
            Kind::Rtt => {
                let mut tx = self.ring(&dir.join("a"), case)?;
                let mut rx = self.ring(&dir.join("b"), case)?;
                harness::rtt_ping(&mut tx, &mut rx, case, None).map(Outcome::Latency)
            }
            _ => {
                let mut rx = self.ring(&dir.join("a"), case)?;
                harness::stream_read(&mut rx, case)
            }
        }
    }
}
