//! In-process micro benchmarks: a writer thread and a reader thread over an anonymous ring.
//!
//! Message sizes 0, 8, 64, 1 KiB and 64 KiB; three paths per size:
//! - `copy`: `try_send` of a buffer, `try_recv` copied out one message at a time;
//! - `zero_copy`: `try_reserve` filled in place and committed, `try_recv` read in place;
//! - `batch`: `Writer::batch` (one publication per batch), `Reader::drain` (one release per
//!   batch), both in place.
//!
//! Plus `one_thread`: send then receive on the same thread (no cache-line transfers), the cost
//! of the API calls alone. Run quickly with
//! `cargo bench --bench ring -- --warm-up-time 1 --measurement-time 2`.

use criterion::{BenchmarkId, Criterion, Throughput};
use mmring::{Reader, TryRecvError, TrySendError, Writer};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 5] = [0, 8, 64, 1024, 65536];
const CAPACITY: usize = 1 << 20;

#[derive(Clone, Copy, Debug)]
enum Path {
    Copy,
    ZeroCopy,
    Batch,
}

fn write_n(w: &mut Writer, path: Path, size: usize, n: u64) {
    let src = vec![0x5Au8; size];
    let mut sent = 0;
    while sent < n {
        match path {
            Path::Copy => match w.try_send(&src) {
                Ok(()) => sent += 1,
                Err(TrySendError::Full) => std::hint::spin_loop(),
                Err(e) => panic!("send: {e}"),
            },
            Path::ZeroCopy => match w.try_reserve(size) {
                Ok(mut g) => {
                    g.fill(0x5A);
                    g.commit();
                    sent += 1;
                }
                Err(TrySendError::Full) => std::hint::spin_loop(),
                Err(e) => panic!("reserve: {e}"),
            },
            Path::Batch => {
                let mut b = w.batch();
                let before = sent;
                while sent < n && sent - before < 256 {
                    match b.try_reserve(size) {
                        Ok(mut g) => {
                            g.fill(0x5A);
                            g.stage();
                            sent += 1;
                        }
                        Err(TrySendError::Full) => break,
                        Err(e) => panic!("reserve: {e}"),
                    }
                }
                if sent == before {
                    std::hint::spin_loop();
                }
            }
        }
    }
}

fn read_n(r: &mut Reader, path: Path, size: usize, n: u64) {
    let mut dst = vec![0u8; size];
    let mut got = 0;
    while got < n {
        match path {
            Path::Copy => match r.try_recv() {
                Ok(m) => {
                    dst.copy_from_slice(&m);
                    black_box(&dst);
                    got += 1;
                }
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
                Err(e) => panic!("recv: {e}"),
            },
            Path::ZeroCopy => match r.try_recv() {
                Ok(m) => {
                    black_box(m.first());
                    got += 1;
                }
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
                Err(e) => panic!("recv: {e}"),
            },
            Path::Batch => match r.drain(usize::MAX, |m| {
                black_box(m.first());
            }) {
                Ok(k) => got += k as u64,
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
                Err(e) => panic!("drain: {e}"),
            },
        }
    }
    assert_eq!(got, n, "received more messages than were sent");
}

/// Moves `iters` messages from a writer thread to this thread; the elapsed time.
fn two_threads(w: &mut Writer, r: &mut Reader, path: Path, size: usize, iters: u64) -> Duration {
    std::thread::scope(|s| {
        let start = Instant::now();
        s.spawn(|| write_n(w, path, size, iters));
        read_n(r, path, size, iters);
        start.elapsed()
    })
}

fn spsc(c: &mut Criterion) {
    for (name, path) in [
        ("copy", Path::Copy),
        ("zero_copy", Path::ZeroCopy),
        ("batch", Path::Batch),
    ] {
        let mut g = c.benchmark_group(format!("two_threads/{name}"));
        for size in SIZES {
            g.throughput(Throughput::Elements(1));
            let (mut w, mut r) = mmring::anonymous(CAPACITY).expect("anonymous ring");
            g.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
                b.iter_custom(|iters| two_threads(&mut w, &mut r, path, size, iters))
            });
        }
        g.finish();
    }
}

fn one_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("one_thread/send_recv");
    for size in SIZES {
        let (mut w, mut r) = mmring::anonymous(CAPACITY).expect("anonymous ring");
        let src = vec![0x5Au8; size];
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            b.iter(|| {
                w.try_send(black_box(&src)).expect("room");
                let m = r.try_recv().expect("a message");
                black_box(m.len());
            })
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    spsc(&mut c);
    one_thread(&mut c);
    c.final_summary();
}
