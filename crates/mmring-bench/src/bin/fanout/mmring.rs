//! mmring: one ring with a tethered reader slot per reader, all reading the same bytes.
//!
//! The parent creates the ring files (`data` with N slots; for round trips also `back` with one
//! slot, written by reader 0 and read by the writer) before any child starts: a slot that never
//! had a reader holds the writer back, so no reader misses the start whatever the order in
//! which the processes attach.
//!
//! Streaming: the writer stages up to a quarter of the ring per `Writer::batch` with
//! `try_reserve`, and when the ring is full waits in a blocking `reserve`; each reader hands up
//! to a quarter of the ring to `Reader::drain`, copying every message out and checking it, and
//! when the ring is empty waits in a blocking `recv`. How the blocking calls wait is the ring's
//! `WaitStrategy`: `Spin` (busy-polling), `Park` (poll 50 µs, then sleep on the doorbell) or
//! `SpinYield`. Round trips: one blocking `send` and `recv` per ping and per answer.

use super::common::{
    bad, stamp, Check, Meter, ReaderOut, Spec, Test, Wait, Window, WriterOut, PING_SIZE, STOP,
};
use mmring::{Reader, RingOptions, TryRecvError, TrySendError, WaitStrategy, Writer};
use mmring_testkit::latency::LatencyHistogram;
use std::io;
use std::path::PathBuf;
use std::time::Instant;

fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("mmring: {e}"))
}

fn strategy(w: Wait) -> WaitStrategy {
    match w {
        Wait::Spin => WaitStrategy::Spin,
        Wait::Park => WaitStrategy::Park,
        Wait::Yield => WaitStrategy::SpinYield,
    }
}

fn data(spec: &Spec) -> PathBuf {
    spec.dir.join("data")
}

fn back(spec: &Spec) -> PathBuf {
    spec.dir.join("back")
}

/// Back channel capacity: room for thousands of 8-byte answers.
const BACK_BYTES: usize = 64 * 1024;

/// Creates the rings of a run (in the parent, before the children start).
pub fn prepare(spec: &Spec) -> io::Result<()> {
    let bytes = match spec.test {
        Test::Stream => spec.ring_bytes(),
        Test::Rtt => BACK_BYTES,
    };
    RingOptions::new()
        .create(bytes)
        .readers(spec.readers as u32)
        .create_unattached(data(spec))
        .map_err(err)?;
    if spec.test == Test::Rtt {
        RingOptions::new()
            .create(BACK_BYTES)
            .create_unattached(back(spec))
            .map_err(err)?;
    }
    Ok(())
}

fn options(spec: &Spec) -> RingOptions {
    RingOptions::new().wait_strategy(strategy(spec.wait))
}

/// The writer process.
pub fn writer(spec: &Spec) -> io::Result<WriterOut> {
    let mut w = options(spec).open_writer(data(spec)).map_err(err)?;
    match spec.test {
        Test::Stream => stream_write(&mut w, spec),
        Test::Rtt => {
            let mut r = options(spec).open_reader(back(spec)).map_err(err)?;
            ping(&mut w, &mut r, spec)
        }
    }
}

/// A reader process; reader 0 answers pings.
pub fn reader(spec: &Spec, index: usize) -> io::Result<ReaderOut> {
    let mut r = options(spec).open_reader(data(spec)).map_err(err)?;
    match spec.test {
        Test::Stream => stream_read(&mut r, spec),
        Test::Rtt if index == 0 => {
            let mut w = options(spec).open_writer(back(spec)).map_err(err)?;
            pong(&mut r, Some(&mut w))
        }
        Test::Rtt => pong(&mut r, None),
    }
}

fn stream_write(w: &mut Writer, spec: &Spec) -> io::Result<WriterOut> {
    let tmpl = vec![0xA5u8; spec.size];
    let len = spec.size;
    let limit = spec.batch_limit() as u64;
    let end = Instant::now() + spec.warmup + spec.measure;
    let mut next = 0u64;
    let mut since_clock = 0u64;
    loop {
        let mut n = 0u64;
        {
            let mut b = w.batch();
            while n < limit {
                match b.try_reserve(len) {
                    Ok(mut g) => {
                        g.copy_from_slice(&tmpl);
                        stamp(&mut g, next + n);
                        g.stage();
                        n += 1;
                    }
                    Err(TrySendError::Full) => break,
                    Err(e) => return Err(err(e)),
                }
            }
        } // published here
        if n == 0 {
            // Full: wait for room as the strategy says.
            let mut g = w.reserve(len).map_err(err)?;
            g.copy_from_slice(&tmpl);
            stamp(&mut g, next);
            g.commit();
            n = 1;
        }
        next += n;
        since_clock += n;
        if since_clock >= 256 {
            since_clock = 0;
            if Instant::now() >= end {
                break;
            }
        }
    }
    let mut g = w.reserve(len).map_err(err)?;
    g.copy_from_slice(&tmpl);
    stamp(&mut g, STOP);
    g.commit();
    Ok(WriterOut {
        sent: next,
        latency: None,
    })
}

fn stream_read(r: &mut Reader, spec: &Spec) -> io::Result<ReaderOut> {
    let mut buf = vec![0u8; spec.size];
    let mut check = Check::new(spec.size, false);
    let mut meter = Meter::new(spec.warmup);
    let limit = spec.batch_limit();
    while !check.stopped() {
        let mut failed = None;
        let got = r.drain(limit, |m| {
            if failed.is_some() {
                return;
            }
            let Some(dst) = buf.get_mut(..m.len()) else {
                failed = Some(bad(format!("message of {} bytes", m.len())));
                return;
            };
            dst.copy_from_slice(m);
            if let Err(e) = check.take(dst) {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let n = match got {
            Ok(n) => n,
            Err(TryRecvError::Empty) => {
                // Empty: wait for a message as the strategy says.
                let m = r.recv().map_err(err)?;
                let dst = buf
                    .get_mut(..m.len())
                    .ok_or_else(|| bad(format!("message of {} bytes", m.len())))?;
                dst.copy_from_slice(&m);
                drop(m);
                check.take(dst)?;
                1
            }
            Err(e) => return Err(err(e)),
        };
        meter.tick(n, check.received());
    }
    Ok(ReaderOut {
        received: check.received(),
        window: meter.finish(check.received()),
    })
}

fn send8(w: &mut Writer, seq: u64) -> io::Result<()> {
    let mut g = w.reserve(PING_SIZE).map_err(err)?;
    stamp(&mut g, seq);
    g.commit();
    Ok(())
}

fn recv8(r: &mut Reader, check: &mut Check) -> io::Result<Option<u64>> {
    let mut buf = [0u8; PING_SIZE];
    let m = r.recv().map_err(err)?;
    let dst = buf
        .get_mut(..m.len())
        .ok_or_else(|| bad(format!("message of {} bytes", m.len())))?;
    dst.copy_from_slice(&m);
    drop(m);
    check.take(dst)
}

fn ping(w: &mut Writer, r: &mut Reader, spec: &Spec) -> io::Result<WriterOut> {
    let mut answers = Check::new(PING_SIZE, false);
    let mut h = LatencyHistogram::new();
    let start = Instant::now();
    let mut seq = 0u64;
    loop {
        let t0 = Instant::now();
        send8(w, seq)?;
        let got = recv8(r, &mut answers)?;
        let t1 = Instant::now();
        if got != Some(seq) {
            return Err(bad(format!("expected answer #{seq}, received {got:?}")));
        }
        seq += 1;
        let since = t1 - start;
        if since >= spec.warmup {
            h.record(t1 - t0);
            if since >= spec.warmup + spec.measure {
                break;
            }
        }
    }
    send8(w, STOP)?;
    Ok(WriterOut {
        sent: seq,
        latency: Some(h.summary()),
    })
}

fn pong(r: &mut Reader, mut answer: Option<&mut Writer>) -> io::Result<ReaderOut> {
    let mut pings = Check::new(PING_SIZE, false);
    while let Some(seq) = recv8(r, &mut pings)? {
        if let Some(w) = answer.as_deref_mut() {
            send8(w, seq)?;
        }
    }
    Ok(ReaderOut {
        received: pings.received(),
        window: Window { msgs: 0, secs: 0.0 },
    })
}
