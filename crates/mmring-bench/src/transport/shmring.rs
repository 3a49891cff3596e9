//! shmring (crates.io `shmring`): a byte-stream SPSC ring in POSIX shared memory, busy-polled
//! with `try_write`/`try_read`; fixed-size messages are framed by their size (partial writes and
//! reads are continued until the whole message has passed).

use super::Transport;
use crate::harness::{self, stamp, Case, Kind, Outcome, Receiver, Sender, Watchdog};
use shmring::backend::ShmStorage;
use shmring::{Options, Reader, Writer};
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// See the module docs.
#[derive(Debug)]
pub struct Shmring;

fn err(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("shmring: {e:?}"))
}

fn name(dir: &Path, which: &str) -> String {
    let tag = dir
        .file_name()
        .map_or("run".into(), |n| n.to_string_lossy());
    format!("/{tag}-{which}")
}

fn capacity(case: &Case) -> u64 {
    case.ring_bytes()
}

fn create(dir: &Path, which: &str, case: &Case) -> io::Result<Tx> {
    Ok(Tx {
        w: shmring::create_shm(&name(dir, which), capacity(case), Options::default())
            .map_err(err)?,
        wd: Watchdog::new(case.deadline()),
    })
}

/// Opens the writer's segment, waiting for the writer to create it.
fn open(dir: &Path, which: &str, case: &Case) -> io::Result<Rx> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        match shmring::open_shm(&name(dir, which), capacity(case), Options::default()) {
            Ok(r) => return Ok(Rx { r, have: 0 }),
            Err(e) if Instant::now() > until => return Err(err(e)),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

struct Tx {
    w: Writer<ShmStorage>,
    wd: Watchdog,
}

impl Sender for Tx {
    #[inline]
    fn send_some(&mut self, tmpl: &mut [u8], next: u64, _max: u64) -> io::Result<u64> {
        stamp(tmpl, next);
        let first = self.w.try_write(tmpl).map_err(err)?;
        if first == 0 {
            return Ok(0);
        }
        // Part of the message is in; finish it.
        let mut off = first;
        while off < tmpl.len() {
            match self.w.try_write(&tmpl[off..]).map_err(err)? {
                0 => self.wd.tick()?,
                n => off += n,
            }
        }
        Ok(1)
    }
}

struct Rx {
    r: Reader<ShmStorage>,
    have: usize,
}

impl Receiver for Rx {
    #[inline]
    fn recv_some<F: FnMut(&[u8]) -> io::Result<()>>(
        &mut self,
        buf: &mut [u8],
        mut f: F,
    ) -> io::Result<usize> {
        self.have += self.r.try_read(&mut buf[self.have..]).map_err(err)?;
        if self.have < buf.len() {
            return Ok(0);
        }
        self.have = 0;
        f(buf)?;
        Ok(1)
    }
}

impl Transport for Shmring {
    fn name(&self) -> &'static str {
        "shmring"
    }
    fn describe(&self) -> &'static str {
        "shmring 0.4 byte-stream ring, try_write/try_read busy-polled"
    }
    fn supports(&self, kind: Kind) -> bool {
        matches!(kind, Kind::Rtt | Kind::Stream)
    }
    fn child(&self, dir: &Path, case: &Case) -> io::Result<()> {
        match case.kind {
            Kind::Rtt => {
                let mut tx = create(dir, "pong", case)?;
                let mut rx = open(dir, "ping", case)?;
                harness::rtt_pong(&mut tx, &mut rx, case, false)
            }
            _ => {
                let mut tx = create(dir, "data", case)?;
                harness::stream_write(&mut tx, case, 1)
            }
        }
    }
    fn parent(&self, dir: &Path, case: &Case) -> io::Result<Outcome> {
        match case.kind {
            Kind::Rtt => {
                let mut tx = create(dir, "ping", case)?;
                let mut rx = open(dir, "pong", case)?;
                harness::rtt_ping(&mut tx, &mut rx, case, None).map(Outcome::Latency)
            }
            _ => {
                let mut rx = open(dir, "data", case)?;
                harness::stream_read(&mut rx, case)
            }
        }
    }
}
