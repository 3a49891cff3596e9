//! shaq (crates.io `shaq`, file-backed SPSC of fixed-size items), through its batch API:
//! `write_batch` with in-place writes and `try_reserve_read_batch`. Items are `[u8; N]` of the
//! message size (8, 64, 1024 or 65536 bytes). Needs a nightly compiler on rustc < 1.97.

use super::Transport;
use crate::harness::{self, bad, stamp, Case, Kind, Outcome, Receiver, Sender};
use shaq::spsc::{Consumer, Producer};
use std::fs::{File, OpenOptions};
use std::io;
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::{Duration, Instant};

/// See the module docs.
#[derive(Debug)]
pub struct Shaq;

fn err(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("shaq: {e:?}"))
}

fn items<const N: usize>(case: &Case) -> usize {
    (case.ring_bytes() as usize / N).next_power_of_two().max(2)
}

/// Creates and initialises the queue file under a temporary name, then renames it into place,
/// so that the joining side never sees a half-initialised file.
fn create<const N: usize>(dir: &Path, which: &str, case: &Case) -> io::Result<Producer<[u8; N]>> {
    let tmp = dir.join(format!("{which}.tmp"));
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    let len = shaq::spsc::minimum_file_size::<[u8; N]>(items::<N>(case)).next_multiple_of(4096);
    f.set_len(len as u64)?;
    // SAFETY: this process created the file (create_new) and is its only initialiser; it is the
    // only producer of this queue; both sides use the same item type `[u8; N]` (plain bytes,
    // valid for any content).
    let p = unsafe { Producer::<[u8; N]>::create(&f, len) }.map_err(err)?;
    std::fs::rename(&tmp, dir.join(which))?;
    Ok(p)
}

/// Joins the queue the other side creates, waiting for it to appear.
fn join<const N: usize>(dir: &Path, which: &str) -> io::Result<Consumer<[u8; N]>> {
    let until = Instant::now() + Duration::from_secs(10);
    let path = dir.join(which);
    let f: File = loop {
        match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => break f,
            Err(e) if Instant::now() > until => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    // SAFETY: the file was fully initialised before it was renamed to `which`; this is the
    // queue's only consumer; both sides use the item type `[u8; N]`.
    unsafe { Consumer::<[u8; N]>::join(&f) }.map_err(err)
}

struct Tx<const N: usize>(Producer<[u8; N]>);

impl<const N: usize> Sender for Tx<N> {
    #[inline]
    fn send_some(&mut self, tmpl: &mut [u8], next: u64, max: u64) -> io::Result<u64> {
        let mut b = self.0.write_batch();
        let mut n = 0;
        while n < max {
            // SAFETY: every slot handed out is fully written (N bytes) just below, before the
            // batch drops and publishes it; nothing in between can unwind.
            let Some(slot) = (unsafe { b.try_as_mut() }) else {
                break;
            };
            stamp(tmpl, next + n);
            // SAFETY: `slot` is N writable bytes and `tmpl` holds N bytes (the message size).
            unsafe {
                std::ptr::copy_nonoverlapping(tmpl.as_ptr(), slot.as_mut_ptr().cast::<u8>(), N)
            };
            n += 1;
        }
        Ok(n)
    }
}

struct Rx<const N: usize>(Consumer<[u8; N]>, NonZeroUsize);

impl<const N: usize> Receiver for Rx<N> {
    #[inline]
    fn recv_some<F: FnMut(&[u8]) -> io::Result<()>>(
        &mut self,
        buf: &mut [u8],
        mut f: F,
    ) -> io::Result<usize> {
        let Some(batch) = self.0.try_reserve_read_batch(self.1) else {
            return Ok(0);
        };
        let n = batch.len();
        for item in batch.iter() {
            buf.copy_from_slice(item);
            f(buf)?;
        }
        drop(batch);
        Ok(n)
    }
}

fn child_n<const N: usize>(dir: &Path, case: &Case) -> io::Result<()> {
    match case.kind {
        Kind::Rtt => {
            let mut tx = Tx::<N>(create(dir, "pong", case)?);
            let mut rx = Rx::<N>(join(dir, "ping")?, NonZeroUsize::MIN);
            harness::rtt_pong(&mut tx, &mut rx, case, false)
        }
        _ => {
            let mut tx = Tx::<N>(create(dir, "data", case)?);
            harness::stream_write(&mut tx, case, (items::<N>(case) / 4).max(1) as u64)
        }
    }
}

fn parent_n<const N: usize>(dir: &Path, case: &Case) -> io::Result<Outcome> {
    match case.kind {
        Kind::Rtt => {
            let mut tx = Tx::<N>(create(dir, "ping", case)?);
            let mut rx = Rx::<N>(join(dir, "pong")?, NonZeroUsize::MIN);
            harness::rtt_ping(&mut tx, &mut rx, case, None).map(Outcome::Latency)
        }
        _ => {
            let limit = NonZeroUsize::new((items::<N>(case) / 4).max(1)).expect("non-zero");
            let mut rx = Rx::<N>(join(dir, "data")?, limit);
            harness::stream_read(&mut rx, case)
        }
    }
}

impl Transport for Shaq {
    fn name(&self) -> &'static str {
        "shaq"
    }
    fn describe(&self) -> &'static str {
        "shaq 5 file-backed SPSC of [u8; N], write_batch + try_reserve_read_batch"
    }
    fn supports(&self, kind: Kind) -> bool {
        matches!(kind, Kind::Rtt | Kind::Stream)
    }
    fn child(&self, dir: &Path, case: &Case) -> io::Result<()> {
        match case.size {
            8 => child_n::<8>(dir, case),
            64 => child_n::<64>(dir, case),
            1024 => child_n::<1024>(dir, case),
            65536 => child_n::<65536>(dir, case),
            s => Err(bad(format!("shaq: size {s} not compiled in"))),
        }
    }
    fn parent(&self, dir: &Path, case: &Case) -> io::Result<Outcome> {
        match case.size {
            8 => parent_n::<8>(dir, case),
            64 => parent_n::<64>(dir, case),
            1024 => parent_n::<1024>(dir, case),
            65536 => parent_n::<65536>(dir, case),
            s => Err(bad(format!("shaq: size {s} not compiled in"))),
        }
    }
}
