//! `mmring bench`: latency and throughput between two processes.
//!
//! The parent makes three rings in a temporary directory (`ping`: parent to peer, `pong`: peer
//! to parent, `stream`: parent to peer), starts a copy of its own binary as the peer
//! (`mmring bench-peer DIR`), pins both to two CPUs, then runs two phases: ping-pong round trips
//! timed one by one into an HDR histogram, and a one-way stream of sequence-checked messages
//! whose count the peer reports back at the end.

mod peer;
mod report;

use crate::cli::{BenchArgs, BenchMode};
use crate::exit::{Code, Failure, Outcome};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mmring::{Reader, RecvError, RingOptions, TrySendError, WaitStrategy, Writer};
use mmring_testkit::child::SelfChild;
use mmring_testkit::cpu;
use mmring_testkit::latency::LatencyHistogram;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

pub use peer::run as run_peer;

/// File names of the three rings inside the benchmark directory.
const PING: &str = "ping";
const PONG: &str = "pong";
const STREAM: &str = "stream";

/// Messages staged per write batch in the streaming phase.
const STREAM_BATCH: u32 = 32;

fn strategy(mode: BenchMode) -> WaitStrategy {
    match mode {
        BenchMode::Spin => WaitStrategy::Spin,
        BenchMode::Park => WaitStrategy::Park,
    }
}

fn mode_name(mode: BenchMode) -> &'static str {
    match mode {
        BenchMode::Spin => "spin",
        BenchMode::Park => "park",
    }
}

/// The temporary directory and the peer process: removed and reaped however the run ends.
struct Session {
    dir: PathBuf,
    child: Option<SelfChild>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // The peer first (dropping it stops and reaps it), then its rings.
        drop(self.child.take());
        for name in [PING, PONG, STREAM] {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn bench_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    base.join(format!("mmring-bench-{}", std::process::id()))
}

fn fail(cause: impl std::fmt::Display) -> Failure {
    Failure::new(Code::Runtime, format!("bench: {cause}"))
}

/// Runs the benchmark and prints its report.
pub fn run(args: &BenchArgs) -> Outcome {
    let cpus = if args.no_pin { None } else { cpu::two_cpus() };
    let dir = bench_dir();
    std::fs::create_dir(&dir)
        .map_err(|e| Failure::new(Code::Ring, format!("{}: cannot create: {e}", dir.display())))?;
    let mut session = Session {
        dir: dir.clone(),
        child: None,
    };
    for name in [PING, PONG, STREAM] {
        let p = dir.join(name);
        RingOptions::new()
            .create(args.capacity as usize)
            .create_unattached(&p)
            .map_err(|e| Failure::open(&p, e))?;
    }
    let max = (args.capacity / 2 - 8) as usize;
    if args.size > max {
        return Err(Failure::new(
            Code::Usage,
            format!(
                "bench: --size {} exceeds the longest message of a {}-byte ring ({max}); raise --capacity",
                args.size, args.capacity
            ),
        ));
    }

    let mut peer_args: Vec<OsString> = vec![
        "bench-peer".into(),
        dir.clone().into(),
        "--mode".into(),
        mode_name(args.mode).into(),
    ];
    if let Some((_, peer_cpu)) = cpus {
        peer_args.extend(["--cpu".into(), peer_cpu.to_string().into()]);
    }
    session.child = Some(
        SelfChild::spawn(peer_args, Stdio::null())
            .map_err(|e| fail(format!("cannot start the peer process: {e}")))?,
    );
    if let Some((own, _)) = cpus {
        cpu::pin(own).map_err(|e| fail(format!("cannot pin to CPU {own}: {e}")))?;
    }

    let opts = RingOptions::new().wait_strategy(strategy(args.mode));
    let open_w = |n: &str| {
        let p = dir.join(n);
        opts.open_writer(&p).map_err(|e| Failure::open(&p, e))
    };
    let mut ping = open_w(PING)?;
    let mut stream = open_w(STREAM)?;
    let pong_path = dir.join(PONG);
    let mut pong = opts
        .open_reader(&pong_path)
        .map_err(|e| Failure::open(&pong_path, e))?;

    handshake(&mut ping, &mut pong, &mut session, args.size)?;

    let phase = args.seconds / 2;
    let total_ms = (phase.as_millis() * 2).max(1) as u64;
    let bar = ProgressBar::with_draw_target(Some(total_ms), ProgressDrawTarget::stderr_with_hz(4));
    bar.set_style(
        ProgressStyle::with_template("{msg:<12} [{bar:40}] {elapsed:>3} / {duration}")
            .expect("a valid template")
            .progress_chars("=> "),
    );

    bar.set_message("round trips");
    let hist = ping_pong(&mut ping, &mut pong, args.size, phase, &bar, 0)?;
    bar.set_message("streaming");
    let stream_result = streaming(&mut stream, &mut pong, args.size, phase, &bar, total_ms / 2);
    bar.finish_and_clear();
    let (sent, elapsed) = stream_result?;

    drop((ping, stream, pong));
    if let Some(c) = session.child.take() {
        let status = c
            .wait()
            .map_err(|e| fail(format!("waiting for the peer: {e}")))?
            .status;
        if !status.success() {
            return Err(fail(format!("the peer process failed ({status})")));
        }
    }
    report::print(&report::Report {
        size: args.size,
        mode: mode_name(args.mode),
        cpus,
        capacity: args.capacity,
        hist: &hist,
        sent,
        elapsed,
    });
    Ok(())
}

/// Waits for the peer's first echo, noticing if it exits instead.
fn handshake(ping: &mut Writer, pong: &mut Reader, s: &mut Session, size: usize) -> Outcome {
    ping.send(&vec![0u8; size]).map_err(fail)?;
    let start = Instant::now();
    loop {
        match pong.recv_timeout(Duration::from_millis(50)) {
            Ok(_) => return Ok(()),
            Err(RecvError::Timeout) => {}
            Err(e) => return Err(fail(format!("the peer process: {e}"))),
        }
        if let Some(c) = s.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                return Err(fail(format!("the peer process exited early ({status})")));
            }
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(fail("the peer process did not answer within 10 s"));
        }
    }
}

/// Times round trips one by one for `phase`.
fn ping_pong(
    ping: &mut Writer,
    pong: &mut Reader,
    size: usize,
    phase: Duration,
    bar: &ProgressBar,
    bar_base: u64,
) -> Result<LatencyHistogram, Failure> {
    let mut hist = LatencyHistogram::new();
    let start = Instant::now();
    let end = start + phase;
    let mut seq = 1u64;
    loop {
        let t0 = Instant::now();
        {
            let mut g = ping.reserve(size).map_err(fail)?;
            g[..8].copy_from_slice(&seq.to_le_bytes());
            g.commit();
        }
        {
            let m = pong
                .recv()
                .map_err(|e| fail(format!("the peer process: {e}")))?;
            if mmring_testkit::stream::seq_of(&m) != Some(seq) {
                return Err(fail(format!(
                    "round trip {seq}: the echo is not the message sent"
                )));
            }
        }
        hist.record(t0.elapsed());
        seq += 1;
        if seq % 256 == 0 {
            let now = Instant::now();
            if now >= end {
                break;
            }
            bar.set_position(bar_base + (now - start).as_millis() as u64);
        }
    }
    // An empty message ends the phase.
    ping.send(&[]).map_err(fail)?;
    Ok(hist)
}

/// Streams sequence-numbered messages for `phase`; returns how many the peer received and the
/// time until it confirmed.
fn streaming(
    stream: &mut Writer,
    pong: &mut Reader,
    size: usize,
    phase: Duration,
    bar: &ProgressBar,
    bar_base: u64,
) -> Result<(u64, Duration), Failure> {
    let mut template = vec![0u8; size];
    mmring_testkit::stream::fill(0, &mut template);
    let start = Instant::now();
    let end = start + phase;
    let mut seq = 0u64;
    'outer: loop {
        let mut batch = stream.batch();
        for _ in 0..STREAM_BATCH {
            match batch.try_reserve(size) {
                Ok(mut g) => {
                    stamp(&mut g, &template, seq);
                    g.stage();
                    seq += 1;
                }
                Err(TrySendError::Full) => {
                    drop(batch);
                    let mut g = stream.reserve(size).map_err(fail)?;
                    stamp(&mut g, &template, seq);
                    g.commit();
                    seq += 1;
                    continue 'outer;
                }
                Err(e) => return Err(fail(e)),
            }
        }
        drop(batch);
        let now = Instant::now();
        if now >= end {
            break;
        }
        if seq % 4096 < u64::from(STREAM_BATCH) {
            bar.set_position(bar_base + (now - start).as_millis() as u64);
        }
    }
    stream.send(&[]).map_err(fail)?;
    let got: u64 = pong
        .recv_pod()
        .map_err(|e| fail(format!("the peer process: {e}")))?;
    let elapsed = start.elapsed();
    if got != seq {
        return Err(fail(format!(
            "sent {seq} messages but the peer counted {got}"
        )));
    }
    Ok((seq, elapsed))
}

/// Writes message `seq`: the template with the sequence number in its first and last 8 bytes.
#[inline]
fn stamp(g: &mut [u8], template: &[u8], seq: u64) {
    g.copy_from_slice(template);
    let n = g.len();
    g[..8].copy_from_slice(&seq.to_le_bytes());
    g[n - 8..].copy_from_slice(&seq.to_le_bytes());
}
