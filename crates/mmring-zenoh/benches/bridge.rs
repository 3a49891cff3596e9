//! Messages/s and round trip through two `mmring-zenoh` bridges on loopback (ring → out →
//! Zenoh over TCP → in → ring), beside a plain TCP socket pair in the same run.
//!
//! `cargo bench -p mmring-zenoh --bench bridge` runs the full sizes and prints Markdown rows
//! for BENCHMARKS.md; without `--bench` (e.g. `cargo test -p mmring-zenoh --benches`, as CI
//! does) it runs a seconds-long smoke with a hundredth of the messages.

use mmring::{Reader, RingOptions, Writer};
use mmring_testkit::latency::LatencyHistogram;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Bridges(Vec<Child>);

impl Drop for Bridges {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn ring(dir: &Path, name: &str, cap: usize) -> PathBuf {
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    RingOptions::new()
        .create(cap)
        .create_unattached(&p)
        .unwrap();
    p
}

/// `out A` → `in B` on `key`, connected over `tcp/127.0.0.1:PORT`.
fn bridge(a: &Path, b: &Path, key: &str, into: &mut Bridges) {
    let bin = env!("CARGO_BIN_EXE_mmring-zenoh");
    let p = port().to_string();
    let ep = format!("tcp/127.0.0.1:{p}");
    for args in [
        ["in", b.to_str().unwrap(), "--key", key, "--listen", &ep],
        ["out", a.to_str().unwrap(), "--key", key, "--connect", &ep],
    ] {
        into.0.push(
            Command::new(bin)
                .args(args)
                .arg("--no-multicast-scouting")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
}

/// One message through, so both bridges are up and matched before timing.
fn warm_up(w: &mut Writer, r: &mut Reader) {
    w.send(b"warm-up").unwrap();
    assert_eq!(
        r.recv_timeout(Duration::from_secs(60)).unwrap().to_vec(),
        b"warm-up"
    );
}

fn zenoh_throughput(dir: &Path, size: usize, n: u64) -> f64 {
    let (a, b) = (ring(dir, "tp-a", 1 << 22), ring(dir, "tp-b", 1 << 22));
    let mut br = Bridges(Vec::new());
    bridge(&a, &b, "bench/tp", &mut br);
    let mut w = Writer::open(&a).unwrap();
    let mut r = Reader::open(&b).unwrap();
    warm_up(&mut w, &mut r);
    let t0 = Instant::now();
    let sender = std::thread::spawn(move || {
        let msg = vec![0x5au8; size];
        for _ in 0..n {
            w.send(&msg).unwrap();
        }
        w
    });
    let mut buf = vec![0u8; size];
    for _ in 0..n {
        r.recv_timeout(Duration::from_secs(60))
            .unwrap()
            .copy_to_slice(&mut buf);
    }
    let el = t0.elapsed();
    drop(sender.join().unwrap());
    n as f64 / el.as_secs_f64()
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    c.set_nodelay(true).unwrap();
    s.set_nodelay(true).unwrap();
    (c, s)
}

/// Length-prefixed messages through buffered streams: what one would write by hand.
fn tcp_throughput(size: usize, n: u64) -> f64 {
    let (c, s) = tcp_pair();
    let t0 = Instant::now();
    let sender = std::thread::spawn(move || {
        let mut w = BufWriter::with_capacity(1 << 16, c);
        let msg = vec![0x5au8; size];
        for _ in 0..n {
            w.write_all(&(size as u32).to_le_bytes()).unwrap();
            w.write_all(&msg).unwrap();
        }
        w.flush().unwrap();
    });
    let mut r = BufReader::with_capacity(1 << 16, s);
    let mut buf = vec![0u8; size];
    for _ in 0..n {
        let mut len = [0u8; 4];
        r.read_exact(&mut len).unwrap();
        r.read_exact(&mut buf[..u32::from_le_bytes(len) as usize])
            .unwrap();
    }
    let el = t0.elapsed();
    sender.join().unwrap();
    n as f64 / el.as_secs_f64()
}

fn zenoh_rtt(dir: &Path, n: u64) -> (f64, f64, f64) {
    let (a, b) = (ring(dir, "rt-a", 1 << 16), ring(dir, "rt-b", 1 << 16));
    let (c, d) = (ring(dir, "rt-c", 1 << 16), ring(dir, "rt-d", 1 << 16));
    let mut br = Bridges(Vec::new());
    bridge(&a, &b, "bench/ping", &mut br);
    bridge(&c, &d, "bench/pong", &mut br);
    let mut wa = Writer::open(&a).unwrap();
    let mut rb = Reader::open(&b).unwrap();
    let mut wc = Writer::open(&c).unwrap();
    let mut rd = Reader::open(&d).unwrap();
    warm_up(&mut wa, &mut rb);
    warm_up(&mut wc, &mut rd);
    let echo = std::thread::spawn(move || {
        for _ in 0..n {
            let m = rb.recv_timeout(Duration::from_secs(60)).unwrap().to_vec();
            wc.send(&m).unwrap();
        }
    });
    let mut h = LatencyHistogram::new();
    let msg = [0x5au8; 64];
    for _ in 0..n {
        let t = Instant::now();
        wa.send(&msg).unwrap();
        drop(rd.recv_timeout(Duration::from_secs(60)).unwrap());
        h.record(t.elapsed());
    }
    echo.join().unwrap();
    let l = h.summary();
    (l.p50, l.p99, l.p999)
}

fn tcp_rtt(n: u64) -> (f64, f64, f64) {
    let (mut c, mut s) = tcp_pair();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 68];
        for _ in 0..n {
            s.read_exact(&mut buf).unwrap();
            s.write_all(&buf).unwrap();
        }
    });
    let mut h = LatencyHistogram::new();
    let mut msg = [0x5au8; 68];
    msg[..4].copy_from_slice(&64u32.to_le_bytes());
    let mut back = [0u8; 68];
    for _ in 0..n {
        let t = Instant::now();
        c.write_all(&msg).unwrap();
        c.read_exact(&mut back).unwrap();
        h.record(t.elapsed());
    }
    echo.join().unwrap();
    let l = h.summary();
    (l.p50, l.p99, l.p999)
}

fn us(ns: f64) -> String {
    format!("{:.1} µs", ns / 1000.0)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let div = if full { 1 } else { 100 };
    let shm = Path::new("/dev/shm");
    let tmp = tempfile::Builder::new()
        .prefix("mmring-zenoh-bench-")
        .tempdir_in(if shm.is_dir() { shm } else { Path::new("/tmp") })
        .unwrap();
    let dir = tmp.path();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let placement = mmring_testkit::probe::round_trip(None)
        .map(|l| {
            format!(
                "{}, cache-line round trip {:.0} ns",
                mmring_testkit::probe::Placement::of_round_trip(l.p50).describe(),
                l.p50
            )
        })
        .unwrap_or_else(|e| format!("probe failed: {e}"));
    println!("machine: {cpu}, {cores} CPUs; {placement}");
    println!(
        "mode: {}",
        if full {
            "full"
        } else {
            "smoke (a hundredth of the messages)"
        }
    );
    println!();
    println!("| case | two mmring-zenoh bridges | plain TCP socket pair | bridges ÷ TCP |");
    println!("|---|---:|---:|---:|");
    for (size, n) in [(64usize, 400_000u64), (1024, 200_000)] {
        let n = n / div;
        let z = zenoh_throughput(dir, size, n);
        let t = tcp_throughput(size, n);
        println!(
            "| {size} B messages, {n} msgs, msgs/s | {:.3} M | {:.3} M | {:.2}× |",
            z / 1e6,
            t / 1e6,
            z / t
        );
    }
    let (zn, tn) = (5_000 / div, 50_000 / div);
    let z = zenoh_rtt(dir, zn);
    let t = tcp_rtt(tn);
    for (name, zi, ti) in [("p50", z.0, t.0), ("p99", z.1, t.1), ("p99.9", z.2, t.2)] {
        println!(
            "| round trip, 64 B, {name} ({zn} / {tn} pings) | {} | {} | {:.1}× |",
            us(zi),
            us(ti),
            zi / ti
        );
    }
}
