//! The `tokio` feature with real processes: the `async_reader` example against the `writer`
//! example in both start orders, an async writer feeding the blocking `reader` example,
//! `async_fanin` over many rings, a peer `SIGKILL`ed while a future is pending, a thousand
//! idle async readers (their wake-ups counted), cancellation of every kind of future, and both
//! runtime flavours.
//!
//! Children are this test binary re-executed in a child role (see `common`).

mod common;

use common::{env, env_u64, Proc};
use futures_core::Stream;
use mmring::tokio::{AsyncReader, AsyncUntetheredReader, AsyncWriter};
use mmring::{Reader, RecvError, SendError, UntetheredReader, Writer};
use mmring_testkit::stream::{fill, size_for, verify, Checksum};
use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

child_roles!(role);

/// A bound for things that should take milliseconds: only a hang reaches it.
const LONG: Duration = Duration::from_secs(120);

fn role(name: &str) -> i32 {
    match name {
        "hold-writer" => hold_writer(),
        "hold-reader" => hold_reader(),
        other => {
            println!("unknown role {other}");
            2
        }
    }
}

/// Attaches as the writer of `RING`, sends `COUNT` one-byte messages, says `ready`, then waits
/// to be killed.
fn hold_writer() -> i32 {
    let mut w = Writer::open(env("RING")).expect("open writer");
    for i in 0..env_u64("COUNT") {
        w.send(&[i as u8]).expect("send");
    }
    println!("ready");
    loop {
        std::thread::park();
    }
}

/// Attaches as the reader of `RING`, says `ready`, then waits to be killed without reading.
fn hold_reader() -> i32 {
    let _r = Reader::open(env("RING")).expect("open reader");
    println!("ready");
    loop {
        std::thread::park();
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mmring-async-")
        .tempdir()
        .unwrap()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn example_cmd(name: &str, args: &[&str]) -> Command {
    let mut c = Command::new(common::example(name));
    c.args(args);
    c
}

/// The part of a `sent=`/`received=` line after the count: bytes and checksum.
fn tail(line: &str) -> &str {
    line.trim_end().split_once(' ').unwrap().1
}

/// Runs `writer` and `async_reader` on one ring, `first` started before the other.
fn async_reader_against_writer(first: &str) {
    let dir = tempdir();
    let path = dir.path().join("pair.ring");
    let path = path.to_str().unwrap();
    let count = "100000";
    let first_cmd = example_cmd(first, &[path, count]);
    let a = std::thread::spawn(move || common::run(first_cmd, LONG));
    // Let the first one get ahead (either order must work; this only makes the order likely).
    std::thread::sleep(Duration::from_millis(50));
    let second = if first == "writer" {
        "async_reader"
    } else {
        "writer"
    };
    let (st_b, out_b) = common::run(example_cmd(second, &[path, count]), LONG);
    let (st_a, out_a) = a.join().unwrap();
    assert!(st_a.success() && st_b.success(), "{out_a:?} {out_b:?}");
    let (sent, got) = if first == "writer" {
        (out_a, out_b)
    } else {
        (out_b, out_a)
    };
    println!(
        "{first} first:\n  {}\n  {}",
        sent.trim_end(),
        got.trim_end()
    );
    assert!(sent.starts_with("sent=100000 "), "{sent}");
    assert!(got.starts_with("received=100000 "), "{got}");
    assert_eq!(tail(&sent), tail(&got));
}

#[test]
fn async_reader_agrees_with_writer_writer_first() {
    async_reader_against_writer("writer");
}

#[test]
fn async_reader_agrees_with_writer_reader_first() {
    async_reader_against_writer("async_reader");
}

#[test]
fn async_reader_exits_3_when_the_writer_went_away_early() {
    let dir = tempdir();
    let path = dir.path().join("short.ring");
    let p = path.to_str().unwrap();
    drop(Writer::create(&path, 1 << 20).unwrap());
    let reader = common::Captured::spawn(example_cmd("async_reader", &[p, "5000"]));
    // Start the writer once the reader is attached, so that the reader sees it come and go.
    let t = Instant::now();
    while !mmring::inspect(&path).unwrap().readers[0].side.alive {
        assert!(t.elapsed() < LONG, "async_reader never attached");
        std::thread::sleep(Duration::from_millis(2));
    }
    let (st, sent) = common::run(example_cmd("writer", &[p, "1000"]), LONG);
    assert!(st.success(), "{sent}");
    let (st, got, err) = reader.finish(LONG);
    assert_eq!(st.code(), Some(3), "{err}");
    assert!(got.starts_with("received=1000 "), "{got}");
    assert_eq!(tail(&got), tail(&sent));
}

/// An async writer in this process (on a small ring, so that it waits for room) feeds the
/// blocking `reader` example in another.
fn async_writer_feeds_blocking_reader(rt: tokio::runtime::Runtime) {
    let dir = tempdir();
    let path = dir.path().join("reverse.ring");
    let count = 50_000u64;
    let w = Writer::create(&path, 4096).unwrap();
    let reader = common::Captured::spawn(example_cmd(
        "reader",
        &[path.to_str().unwrap(), &count.to_string()],
    ));
    let (bytes, sum) = rt.block_on(async move {
        let mut w = AsyncWriter::new(w).unwrap();
        let (mut bytes, mut sum) = (0u64, Checksum::new());
        let mut buf = vec![0u8; 256];
        for seq in 0..count {
            let n = size_for(seq, 8, 256);
            fill(seq, &mut buf[..n]);
            w.send(&buf[..n]).await.unwrap();
            sum.update(&buf[..n]);
            bytes += n as u64;
        }
        (bytes, sum.value())
    });
    let (st, got, err) = reader.finish(LONG);
    assert!(st.success(), "{err}");
    assert_eq!(
        got.trim_end(),
        format!("received={count} bytes={bytes} checksum={sum:016x}")
    );
}

#[test]
fn an_async_writer_feeds_the_blocking_reader_current_thread() {
    async_writer_feeds_blocking_reader(current_thread());
}

#[test]
fn an_async_writer_feeds_the_blocking_reader_multi_thread() {
    async_writer_feeds_blocking_reader(multi_thread());
}

#[test]
fn async_fanin_reads_a_hundred_rings_fed_by_a_hundred_writer_processes() {
    let dir = tempdir();
    let d = dir.path().to_str().unwrap().to_string();
    let (rings, count) = (100usize, 2000u64);
    // Half the writers start before the fan-in, half after.
    let start = |i: usize| {
        let path = format!("{d}/ring-{i}");
        common::Captured::spawn(example_cmd("writer", &[&path, &count.to_string()]))
    };
    let mut writers: Vec<_> = (0..rings / 2).map(start).collect();
    let fanin = common::Captured::spawn(example_cmd(
        "async_fanin",
        &[&d, &rings.to_string(), &count.to_string()],
    ));
    writers.extend((rings / 2..rings).map(start));
    let sent: Vec<String> = writers
        .into_iter()
        .map(|w| {
            let (st, out, err) = w.finish(LONG);
            assert!(st.success(), "{err}");
            out
        })
        .collect();
    let (st, out, err) = fanin.finish(LONG);
    assert!(st.success(), "{err}\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), rings + 1, "{out}");
    let mut total = 0u64;
    for (i, (line, sent)) in lines.iter().zip(&sent).enumerate() {
        let want = format!("ring-{i} received={count} {}", tail(sent));
        assert_eq!(*line, want);
        total += tail(sent)
            .split_once(' ')
            .unwrap()
            .0
            .trim_start_matches("bytes=")
            .parse::<u64>()
            .unwrap();
    }
    assert_eq!(
        lines[rings],
        format!(
            "total rings={rings} received={} bytes={total}",
            rings as u64 * count
        )
    );
}

#[test]
fn a_killed_writer_resolves_a_pending_recv_to_disconnected() {
    let dir = tempdir();
    let path = dir.path().join("kill.ring");
    let r = Reader::create(&path, 1 << 16).unwrap();
    let mut child = Proc::role(
        "hold-writer",
        &[("RING", path.display().to_string()), ("COUNT", "3".into())],
    );
    child.expect_line("ready", LONG);
    let rt = current_thread();
    let waited = rt.block_on(async {
        let mut r = AsyncReader::new(r).unwrap();
        for i in 0..3u8 {
            assert_eq!(r.recv_vec().await.unwrap(), [i]);
        }
        // The recv is pending (armed, asleep in the reactor) when the writer is killed.
        let mut pending = Box::pin(r.recv_vec());
        assert!(poll_once(pending.as_mut()).await.is_pending());
        let t = Instant::now();
        child.signal(libc::SIGKILL);
        let got = tokio::time::timeout(LONG, pending).await.expect("hang");
        assert_eq!(got, Err(RecvError::Disconnected));
        t.elapsed()
    });
    child.wait(LONG);
    println!("killed writer noticed by the pending recv after {waited:?}");
}

#[test]
fn a_killed_reader_resolves_a_pending_send_to_disconnected() {
    let dir = tempdir();
    let path = dir.path().join("kill-reader.ring");
    let w = Writer::create(&path, 4096).unwrap();
    let mut child = Proc::role("hold-reader", &[("RING", path.display().to_string())]);
    child.expect_line("ready", LONG);
    let rt = multi_thread();
    let waited = rt.block_on(async {
        let mut w = AsyncWriter::new(w).unwrap();
        while w.get_mut().try_send(&[0; 100]).is_ok() {}
        let mut pending = Box::pin(w.send(&[0; 100]));
        assert!(poll_once(pending.as_mut()).await.is_pending());
        let t = Instant::now();
        child.signal(libc::SIGKILL);
        let got = tokio::time::timeout(LONG, pending).await.expect("hang");
        assert_eq!(got, Err(SendError::Disconnected));
        t.elapsed()
    });
    child.wait(LONG);
    println!("killed reader noticed by the pending send after {waited:?}");
}

/// Polls `f` once, with a waker that does nothing.
async fn poll_once<F: Future + ?Sized>(mut f: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await
}

#[test]
fn cancelled_receives_lose_no_message_and_stop_asking_to_be_woken() {
    let dir = tempdir();
    let path = dir.path().join("cancel.ring");
    let mut w = Writer::create(&path, 4096).unwrap();
    let r = Reader::open(&path).unwrap();
    let rt = current_thread();
    rt.block_on(async {
        let mut r = AsyncReader::new(r).unwrap();
        // A timeout drops a recv that is asleep.
        let e = tokio::time::timeout(Duration::from_millis(10), r.recv_vec()).await;
        assert!(e.is_err());
        assert!(!mmring::inspect(&path).unwrap().readers[0].side.waiting);
        // A recv woken by a message but dropped before it ran again takes nothing.
        {
            let mut f = Box::pin(r.recv());
            assert!(poll_once(f.as_mut()).await.is_pending());
            assert!(mmring::inspect(&path).unwrap().readers[0].side.waiting);
            w.send(b"first").unwrap();
        }
        assert!(!mmring::inspect(&path).unwrap().readers[0].side.waiting);
        // A borrowed message not yet dropped is not consumed by a cancelled recv either.
        assert_eq!(&*r.recv().await.unwrap(), b"first");
        w.send(b"second").unwrap();
        let mut f = Box::pin(r.recv_vec());
        assert_eq!(
            poll_once(f.as_mut()).await,
            Poll::Ready(Ok(b"second".to_vec()))
        );
        drop(f);
        // `select!` between a ring and a timer, many times over.
        let mut got = 0;
        for i in 0..200u32 {
            if i % 2 == 0 {
                w.send(&i.to_le_bytes()).unwrap();
            }
            tokio::select! {
                m = r.recv_vec() => {
                    assert_eq!(m.unwrap(), i.to_le_bytes());
                    got += 1;
                }
                _ = tokio::time::sleep(Duration::from_micros(200)) => {}
            }
        }
        assert_eq!(got, 100);
    });
}

#[test]
fn a_cancelled_send_or_reserve_holds_no_space() {
    let rt = current_thread();
    rt.block_on(async {
        let (w, mut r) = mmring::anonymous(4096).unwrap();
        let mut w = AsyncWriter::new(w).unwrap();
        let mut sent = 0u32;
        while w.get_mut().try_send(&sent.to_le_bytes()).is_ok() {
            sent += 1;
        }
        let before = w.get_mut().in_flight().unwrap();
        for _ in 0..3 {
            let e = tokio::time::timeout(Duration::from_millis(5), w.send(&[9; 8])).await;
            assert!(e.is_err(), "a full ring made room by itself");
            let e = tokio::time::timeout(Duration::from_millis(5), w.reserve(8)).await;
            assert!(e.is_err());
        }
        assert_eq!(w.get_mut().in_flight().unwrap(), before);
        // The reader gets exactly what was sent, then the ring is empty again.
        for i in 0..sent {
            assert_eq!(r.try_recv_vec().unwrap(), i.to_le_bytes());
        }
        r.release();
        assert_eq!(r.try_recv_vec(), Err(mmring::TryRecvError::Empty));
        assert_eq!(w.get_mut().in_flight().unwrap(), 0);
        let max = w.get_ref().max_message_len();
        w.send(&vec![1; max]).await.unwrap();
        assert_eq!(r.try_recv_vec().unwrap().len(), max);
    });
}

/// A stream of `count` messages from another thread through an async reader on `rt`.
fn stream_through(rt: tokio::runtime::Runtime, count: u64) {
    let (mut w, r) = mmring::anonymous(1 << 14).unwrap();
    let feeder = std::thread::spawn(move || {
        let mut buf = vec![0u8; 512];
        let mut sum = Checksum::new();
        for seq in 0..count {
            let n = size_for(seq, 8, 512);
            fill(seq, &mut buf[..n]);
            w.send(&buf[..n]).unwrap();
            sum.update(&buf[..n]);
        }
        sum.value()
    });
    let got = rt.block_on(async move {
        let task = tokio::spawn(async move {
            let mut r = AsyncReader::new(r).unwrap();
            let mut sum = Checksum::new();
            let mut seq = 0;
            while let Some(m) = next(&mut r).await {
                let m = m.unwrap();
                verify(seq, &m).unwrap();
                sum.update(&m);
                seq += 1;
            }
            (seq, sum.value())
        });
        task.await.unwrap()
    });
    assert_eq!(got, (count, feeder.join().unwrap()));
}

/// The next item of a stream.
async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

#[test]
fn a_stream_of_messages_on_the_current_thread_runtime() {
    stream_through(current_thread(), 100_000);
}

#[test]
fn a_stream_of_messages_on_the_multi_thread_runtime() {
    stream_through(multi_thread(), 100_000);
}

#[test]
fn an_async_untethered_reader_reports_a_lap_then_goes_on_intact() {
    let dir = tempdir();
    let path = dir.path().join("lossy.ring");
    let mut w = Writer::create(&path, 4096).unwrap();
    let r = UntetheredReader::open(&path).unwrap();
    let rt = current_thread();
    rt.block_on(async {
        let mut r = AsyncUntetheredReader::new(r).unwrap();
        // Ten laps' worth while the reader does not look.
        for i in 0..1000u64 {
            w.send(&i.to_le_bytes()).unwrap();
        }
        match next(&mut r).await {
            Some(Err(RecvError::Lapped { missed_bytes, .. })) => assert!(missed_bytes > 0),
            other => panic!("expected a lap, got {other:?}"),
        }
        // Then intact messages in order, up to the last one sent.
        let (mut prev, mut buf) = (None, Vec::new());
        while r.get_mut().try_recv_into(&mut buf).is_ok() {
            let v = u64::from_le_bytes(buf[..8].try_into().unwrap());
            if let Some(p) = prev {
                assert_eq!(v, p + 1);
            }
            prev = Some(v);
        }
        assert_eq!(prev, Some(999));
        w.send(&1000u64.to_le_bytes()).unwrap();
        let m = next(&mut r).await.unwrap().unwrap();
        assert_eq!(m, 1000u64.to_le_bytes());
        drop(w);
        assert!(next(&mut r).await.is_none());
    });
}

/// Counts the polls of the futures it wraps.
struct Counted<F> {
    inner: Pin<Box<F>>,
    polls: Arc<AtomicU64>,
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        self.inner.as_mut().poll(cx)
    }
}

/// CPU time (user + system) this process has used.
fn cpu_time() -> Duration {
    let ru = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).unwrap();
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(ru.user_time()) + tv(ru.system_time())
}

#[test]
fn a_thousand_idle_async_readers_wake_at_most_once_a_second_each() {
    let dir = tempdir();
    let n = 1000usize;
    // Each reader holds a few descriptors (ring, doorbell, epoll set, timer, the writer's
    // pidfd) and each writer one: make room for them.
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    assert!(
        hard >= 8 * n as u64,
        "RLIMIT_NOFILE hard limit {hard} is too low for the test"
    );
    let rings: Vec<(Writer, Reader)> = (0..n)
        .map(|i| {
            let p = dir.path().join(format!("idle-{i}"));
            let w = Writer::create(&p, 4096).unwrap();
            (w, Reader::open(&p).unwrap())
        })
        .collect();
    let rt = multi_thread();
    let polls = Arc::new(AtomicU64::new(0));
    let (writers, readers): (Vec<Writer>, Vec<Reader>) = rings.into_iter().unzip();
    let window = Duration::from_secs(3);
    let (elapsed, cpu, polls_in_window, handles) = rt.block_on(async {
        let mut handles = Vec::new();
        for r in readers {
            let polls = polls.clone();
            handles.push(tokio::spawn(async move {
                let mut r = AsyncReader::new(r).unwrap();
                let inner = Box::pin(async move { r.recv_vec().await });
                Counted { inner, polls }.await
            }));
        }
        // Let every task arm (poll once), then count over the window.
        let t = Instant::now();
        while polls.load(Ordering::Relaxed) < n as u64 {
            assert!(t.elapsed() < LONG);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (p0, c0, t0) = (polls.load(Ordering::Relaxed), cpu_time(), Instant::now());
        tokio::time::sleep(window).await;
        (
            t0.elapsed(),
            cpu_time() - c0,
            polls.load(Ordering::Relaxed) - p0,
            handles,
        )
    });
    let per_reader_per_sec = polls_in_window as f64 / n as f64 / elapsed.as_secs_f64();
    println!(
        "{n} idle async readers over {elapsed:?}: {polls_in_window} wake-ups \
         ({per_reader_per_sec:.2} per reader per second), CPU {cpu:?}"
    );
    // The design wakes each one once a second (the backstop probe): allow one more per reader
    // for a window edge; 20 ms probing (the old design) would be 50 per second.
    let bound = n as u64 * (elapsed.as_secs() + 2);
    assert!(
        polls_in_window <= bound,
        "{polls_in_window} wake-ups > {bound}"
    );
    // A message still wakes every one of them.
    let mut writers = writers;
    for w in &mut writers {
        w.send(b"wake").unwrap();
    }
    rt.block_on(async {
        for h in handles {
            assert_eq!(h.await.unwrap().unwrap(), b"wake");
        }
    });
}

#[test]
fn new_needs_a_runtime_only_when_made_and_the_handle_is_released_by_into_inner() {
    let (mut w, r) = mmring::anonymous(4096).unwrap();
    let rt = current_thread();
    let r = rt.block_on(async {
        let mut r = AsyncReader::new(r).unwrap();
        let e = tokio::time::timeout(Duration::from_millis(1), r.recv_vec()).await;
        assert!(e.is_err());
        r.into_inner()
    });
    let mut r = r;
    w.send(b"blocking again").unwrap();
    assert_eq!(r.recv_vec().unwrap(), b"blocking again");
}
