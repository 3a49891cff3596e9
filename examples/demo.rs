//! The main job: two real processes move a few million messages through a ring file, then
//! bounce messages back and forth to measure round-trip latency.
//!
//! ```text
//! cargo run --release --example demo [-- --messages N --size BYTES]
//! ```
//!
//! It creates the rings in a fresh temporary directory, starts a writer process and a reader
//! process (this same program, re-executed with a role), checks every byte of every message in
//! the reader, and prints throughput (msgs/s, GB/s) and round-trip latency percentiles.

use mmring::{RingOptions, WaitStrategy};
use mmring_testkit::child::SelfChild;
use mmring_testkit::cpu;
use mmring_testkit::latency::LatencyHistogram;
use mmring_testkit::stream::{fill, verify, Checksum};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

const STREAM_CAPACITY: usize = 4 << 20;
const PING_CAPACITY: usize = 64 << 10;
const ROUND_TRIPS: u64 = 200_000;
const WARM_UP: u64 = 20_000;

/// Pins this process to the first (`side` 0) or the second (`side` 1) online CPU. The choice
/// ignores the affinity mask this process inherited: a child of the pinned parent still finds
/// two CPUs.
fn pin(side: usize) {
    if let Some((a, b)) = cpu::two_cpus() {
        // Best effort: a failure only costs a noisier measurement.
        let _ = cpu::pin(if side == 0 { a } else { b });
    }
}

fn spin_opts() -> RingOptions {
    RingOptions::new().wait_strategy(WaitStrategy::Spin)
}

/// Child role: stream `count` messages of `size` bytes.
fn writer(dir: &Path, count: u64, size: usize) -> Result<String, Box<dyn std::error::Error>> {
    pin(0);
    let mut w = spin_opts().open_writer(dir.join("stream.ring"))?;
    let mut sum = Checksum::new();
    for seq in 0..count {
        let mut g = w.reserve(size)?;
        fill(seq, &mut g);
        sum.update(&g);
        g.commit();
    }
    Ok(format!("checksum={:016x}", sum.value()))
}

/// Child role: receive and check `count` messages; report the time from first to last.
fn reader(dir: &Path, count: u64) -> Result<String, Box<dyn std::error::Error>> {
    pin(1);
    let mut r = spin_opts().open_reader(dir.join("stream.ring"))?;
    let (mut sum, mut bytes, mut start) = (Checksum::new(), 0u64, None);
    for seq in 0..count {
        let m = r.recv()?;
        start.get_or_insert_with(Instant::now);
        verify(seq, &m)?;
        sum.update(&m);
        bytes += m.len() as u64;
    }
    let secs = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    Ok(format!(
        "checksum={:016x} bytes={bytes} secs={secs}",
        sum.value()
    ))
}

/// Child role: send every message from `ping` straight back on `pong`.
fn echo(dir: &Path) -> Result<String, Box<dyn std::error::Error>> {
    pin(1);
    let mut rx = spin_opts().open_reader(dir.join("ping.ring"))?;
    let mut tx = spin_opts().open_writer(dir.join("pong.ring"))?;
    loop {
        match rx.recv() {
            Ok(m) => tx.send(&m)?,
            Err(mmring::RecvError::Disconnected) => return Ok(String::new()),
            Err(e) => return Err(e.into()),
        }
    }
}

fn run_child(args: &[&str]) -> Result<SelfChild, Box<dyn std::error::Error>> {
    Ok(SelfChild::spawn(args, Stdio::piped())?)
}

fn finish(child: SelfChild, role: &str) -> Result<String, Box<dyn std::error::Error>> {
    let out = child.wait()?;
    if !out.status.success() {
        return Err(format!("{role} process failed: {}", out.status).into());
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn main_job(messages: u64, size: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir: PathBuf = std::env::temp_dir().join(format!("mmring-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let d = dir.to_str().ok_or("temporary directory is not UTF-8")?;
        RingOptions::new()
            .create(STREAM_CAPACITY)
            .create_unattached(dir.join("stream.ring"))?;
        println!(
            "mmring demo: {messages} messages of {size} B through {} (4 MiB ring)",
            dir.join("stream.ring").display()
        );
        let (n, s) = (messages.to_string(), size.to_string());
        let rd = run_child(&["--role", "reader", d, &n])?;
        let wr = run_child(&["--role", "writer", d, &n, &s])?;
        let (w_out, r_out) = (finish(wr, "writer")?, finish(rd, "reader")?);
        if field(&w_out, "checksum") != field(&r_out, "checksum") {
            return Err(format!("checksums differ: writer {w_out}, reader {r_out}").into());
        }
        let secs: f64 = field(&r_out, "secs")
            .ok_or("reader gave no time")?
            .parse()?;
        let bytes: f64 = field(&r_out, "bytes")
            .ok_or("reader gave no byte count")?
            .parse()?;
        println!(
            "  streaming: {:.2} M msgs/s, {:.2} GB/s ({messages} messages, every byte checked, checksum {})",
            messages as f64 / secs / 1e6,
            bytes / secs / 1e9,
            field(&r_out, "checksum").unwrap_or("?"),
        );

        // Round trips: this process pings, a child echoes.
        pin(0);
        for name in ["ping.ring", "pong.ring"] {
            RingOptions::new()
                .create(PING_CAPACITY)
                .create_unattached(dir.join(name))?;
        }
        let echo_child = run_child(&["--role", "echo", d])?;
        let mut tx = spin_opts().open_writer(dir.join("ping.ring"))?;
        let mut rx = spin_opts().open_reader(dir.join("pong.ring"))?;
        let mut hist = LatencyHistogram::new();
        let mut msg = vec![0u8; 64];
        // Bounded in time too: on a machine whose cores are busy with other work, two pinned
        // spinning processes can be descheduled for whole scheduler ticks.
        let start = Instant::now();
        let mut warm_up = WARM_UP;
        for i in 0..WARM_UP + ROUND_TRIPS {
            if i < warm_up && start.elapsed() > Duration::from_millis(500) {
                warm_up = i;
            }
            if i >= warm_up && start.elapsed() > Duration::from_secs(5) {
                break;
            }
            fill(i, &mut msg);
            let t = Instant::now();
            tx.send(&msg)?;
            let back = rx.recv_timeout(Duration::from_secs(10))?;
            let rtt = t.elapsed();
            verify(i, &back)?;
            drop(back);
            if i >= warm_up {
                hist.record(rtt);
            }
        }
        drop(tx);
        finish(echo_child, "echo")?;
        let l = hist.summary();
        println!(
            "  round trip (64 B, busy-spin, {} samples): p50 {:.0} ns, p99 {:.0} ns, p99.9 {:.0} ns, max {:.0} ns",
            l.samples, l.p50, l.p99, l.p999, l.max
        );
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match a.as_slice() {
        ["--role", "writer", dir, n, size] => writer(
            Path::new(dir),
            n.parse().unwrap_or(0),
            size.parse().unwrap_or(64),
        )
        .map(|s| println!("{s}")),
        ["--role", "reader", dir, n] => {
            reader(Path::new(dir), n.parse().unwrap_or(0)).map(|s| println!("{s}"))
        }
        ["--role", "echo", dir] => echo(Path::new(dir)).map(drop),
        rest => {
            let (mut messages, mut size) = (5_000_000u64, 64usize);
            let mut it = rest.iter();
            while let Some(flag) = it.next() {
                match (*flag, it.next().and_then(|v| v.parse::<u64>().ok())) {
                    ("--messages", Some(v)) => messages = v,
                    ("--size", Some(v)) if v >= 8 => size = v as usize,
                    _ => {
                        eprintln!("usage: demo [--messages N] [--size BYTES (>= 8)]");
                        return ExitCode::from(2);
                    }
                }
            }
            main_job(messages, size)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}
