//! Process spawning, the shared measurement loops, and result types.
//!
//! The parent process runs one side of each case and re-executes `current_exe()` with a hidden
//! `__child` argument for the other side. Both sides are pinned to different CPUs (pinning, the
//! choice of CPUs, the placement probe and latency histograms come from `mmring-testkit`).
//! Every transport plugs into the same loops through [`Sender`] and [`Receiver`], so warm-up,
//! clocks, sequence checks and stop messages are identical for all of them.

use mmring_testkit::child::SelfChild;
use mmring_testkit::cpu;
use mmring_testkit::latency::{Latency, LatencyHistogram};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The sequence number that ends a stream or a ping-pong.
pub const STOP: u64 = u64::MAX;

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Ping-pong over two channels, both sides busy-polling.
    Rtt,
    /// One-way streaming, reader checks sequence numbers.
    Stream,
    /// Ping-pong where both sides block (sleep) between messages.
    Parked,
    /// CPU time of a blocked reader that receives nothing for a while.
    Idle,
}

impl Kind {
    /// Name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Rtt => "rtt",
            Kind::Stream => "stream",
            Kind::Parked => "parked",
            Kind::Idle => "idle",
        }
    }

    /// Parses [`Kind::name`].
    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Rtt, Kind::Stream, Kind::Parked, Kind::Idle]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// One measurement: a kind, a message size and the time budget of each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    /// What is measured.
    pub kind: Kind,
    /// Message size in bytes (at least 8: every message carries its sequence number).
    pub size: usize,
    /// Warm-up time, excluded from the figures.
    pub warmup: Duration,
    /// Measured time.
    pub measure: Duration,
}

impl Case {
    /// Data capacity used for rings in this case (bytes): at least 256 KiB and 16 messages.
    pub fn ring_bytes(&self) -> u64 {
        (16 * (self.size as u64 + 8))
            .next_power_of_two()
            .max(256 * 1024)
    }

    /// How long either side may run before it gives up on a stuck peer.
    pub fn deadline(&self) -> Duration {
        self.warmup + self.measure + Duration::from_secs(20)
    }

    /// The arguments that describe this case to a child.
    pub fn args(&self) -> Vec<String> {
        vec![
            self.kind.name().to_string(),
            self.size.to_string(),
            self.warmup.as_micros().to_string(),
            self.measure.as_micros().to_string(),
        ]
    }

    /// Inverse of [`Case::args`].
    pub fn from_args(a: &[String]) -> Option<Case> {
        Some(Case {
            kind: Kind::parse(a.first()?)?,
            size: a.get(1)?.parse().ok()?,
            warmup: Duration::from_micros(a.get(2)?.parse().ok()?),
            measure: Duration::from_micros(a.get(3)?.parse().ok()?),
        })
    }
}

/// What one run of a case produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Round-trip latency.
    Latency(Latency),
    /// Streaming throughput.
    Throughput {
        /// Messages counted in the measured window.
        msgs: u64,
        /// Messages per second.
        msgs_per_s: f64,
        /// Payload bytes per second.
        bytes_per_s: f64,
    },
    /// CPU used by an idle blocked reader, as a fraction of one CPU, and how often it woke.
    Cpu {
        /// CPU time / wall time.
        fraction: f64,
        /// Voluntary context switches (sleeps ended by a wake-up) per second.
        wakeups_per_s: f64,
    },
}

/// Gives up when a peer stops answering: checks the clock every few thousand ticks.
#[derive(Debug)]
pub struct Watchdog {
    until: Instant,
    ticks: u32,
}

impl Watchdog {
    /// A watchdog that fires after `limit`.
    pub fn new(limit: Duration) -> Watchdog {
        Watchdog {
            until: Instant::now() + limit,
            ticks: 0,
        }
    }

    /// Called on every empty poll; an error once the limit has passed.
    #[inline]
    pub fn tick(&mut self) -> io::Result<()> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks % 4096 == 0 && Instant::now() > self.until {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "peer stopped answering",
            ));
        }
        std::hint::spin_loop();
        Ok(())
    }
}

/// Writes `seq` into the first and (for messages of 16 bytes or more) the last 8 bytes.
#[inline]
pub fn stamp(msg: &mut [u8], seq: u64) {
    let b = seq.to_le_bytes();
    msg[..8].copy_from_slice(&b);
    let n = msg.len();
    if n >= 16 {
        msg[n - 8..].copy_from_slice(&b);
    }
}

/// The sequence number stamped into `msg`, checking that head and tail agree.
#[inline]
pub fn seq_of(msg: &[u8]) -> io::Result<u64> {
    if msg.len() < 8 {
        return Err(bad(format!("message of {} bytes", msg.len())));
    }
    let head = u64::from_le_bytes(msg[..8].try_into().expect("8 bytes"));
    let n = msg.len();
    if n >= 16 {
        let tail = u64::from_le_bytes(msg[n - 8..].try_into().expect("8 bytes"));
        if tail != head {
            return Err(bad(format!("torn message: head #{head}, tail #{tail}")));
        }
    }
    Ok(head)
}

/// An `InvalidData` error: a transport delivered something that was not sent.
pub fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// The sending side of a transport.
pub trait Sender {
    /// Sends up to `max` messages numbered `next..`, each a copy of `tmpl` stamped with its
    /// number, without blocking; returns how many were sent (0 when there is no room).
    fn send_some(&mut self, tmpl: &mut [u8], next: u64, max: u64) -> io::Result<u64>;
}

/// The receiving side of a transport.
pub trait Receiver {
    /// Copies each available message into `buf` (its first `len` bytes) and calls `f` with
    /// that copy; returns how many it handled (0 when none was there). Transports that block in
    /// the kernel may wait for the first message.
    fn recv_some<F: FnMut(&[u8]) -> io::Result<()>>(
        &mut self,
        buf: &mut [u8],
        f: F,
    ) -> io::Result<usize>;

    /// Like `recv_some` for exactly one message, sleeping if the transport can (parked mode).
    fn recv_one_wait(&mut self, buf: &mut [u8], wd: &mut Watchdog) -> io::Result<u64> {
        let mut seq = 0;
        loop {
            let n = self.recv_some(buf, |m| {
                seq = seq_of(m)?;
                Ok(())
            })?;
            if n == 1 {
                return Ok(seq);
            }
            if n > 1 {
                return Err(bad(format!("{n} messages where one was expected")));
            }
            wd.tick()?;
        }
    }
}

/// Sends exactly one message, spinning while there is no room.
pub fn send_one<S: Sender>(
    s: &mut S,
    tmpl: &mut [u8],
    seq: u64,
    wd: &mut Watchdog,
) -> io::Result<()> {
    while s.send_some(tmpl, seq, 1)? == 0 {
        wd.tick()?;
    }
    Ok(())
}

/// Receives exactly one message, spinning while there is none; returns its number.
pub fn recv_one<R: Receiver>(r: &mut R, buf: &mut [u8], wd: &mut Watchdog) -> io::Result<u64> {
    let mut seq = 0;
    loop {
        let n = r.recv_some(buf, |m| {
            seq = seq_of(m)?;
            Ok(())
        })?;
        match n {
            0 => wd.tick()?,
            1 => return Ok(seq),
            _ => return Err(bad(format!("{n} messages where one was expected"))),
        }
    }
}

/// The pinging side of a round-trip case: time-boxed, then a STOP ping.
///
/// With `parked`, it sleeps `gap` between round trips so that the peer goes to sleep, and waits
/// for the answer with [`Receiver::recv_one_wait`].
pub fn rtt_ping<S: Sender, R: Receiver>(
    s: &mut S,
    r: &mut R,
    case: &Case,
    parked: Option<Duration>,
) -> io::Result<Latency> {
    let mut tmpl = vec![0u8; case.size];
    let mut buf = vec![0u8; case.size];
    let mut wd = Watchdog::new(case.deadline());
    let mut h = LatencyHistogram::new();
    let start = Instant::now();
    let mut seq = 0u64;
    loop {
        if let Some(gap) = parked {
            std::thread::sleep(gap);
        }
        let t0 = Instant::now();
        send_one(s, &mut tmpl, seq, &mut wd)?;
        let got = if parked.is_some() {
            r.recv_one_wait(&mut buf, &mut wd)?
        } else {
            recv_one(r, &mut buf, &mut wd)?
        };
        let t1 = Instant::now();
        if got != seq {
            return Err(bad(format!("expected pong #{seq}, received #{got}")));
        }
        seq += 1;
        let since = t1 - start;
        if since >= case.warmup {
            h.record(t1 - t0);
            if since >= case.warmup + case.measure {
                break;
            }
        }
    }
    send_one(s, &mut tmpl, STOP, &mut wd)?;
    Ok(h.summary())
}

/// The answering side of a round-trip case: echoes every ping until STOP.
pub fn rtt_pong<S: Sender, R: Receiver>(
    s: &mut S,
    r: &mut R,
    case: &Case,
    parked: bool,
) -> io::Result<()> {
    let mut tmpl = vec![0u8; case.size];
    let mut buf = vec![0u8; case.size];
    let mut wd = Watchdog::new(case.deadline());
    let mut expected = 0u64;
    loop {
        let seq = if parked {
            r.recv_one_wait(&mut buf, &mut wd)?
        } else {
            recv_one(r, &mut buf, &mut wd)?
        };
        if seq == STOP {
            return Ok(());
        }
        if seq != expected {
            return Err(bad(format!("expected ping #{expected}, received #{seq}")));
        }
        send_one(s, &mut tmpl, seq, &mut wd)?;
        expected += 1;
    }
}

/// The writing side of a streaming case: sends as fast as the transport takes messages for
/// warm-up plus measure time, then a STOP message.
pub fn stream_write<S: Sender>(s: &mut S, case: &Case, batch: u64) -> io::Result<()> {
    let mut tmpl = vec![0xA5u8; case.size];
    let mut wd = Watchdog::new(case.deadline());
    let end = Instant::now() + case.warmup + case.measure;
    let mut next = 0u64;
    let mut since_clock = 0u64;
    let every = clock_every(case.size);
    loop {
        let n = s.send_some(&mut tmpl, next, batch)?;
        if n == 0 {
            wd.tick()?;
            continue;
        }
        next += n;
        since_clock += n;
        if since_clock >= every {
            since_clock = 0;
            if Instant::now() >= end {
                break;
            }
        }
    }
    send_one(s, &mut tmpl, STOP, &mut wd)
}

/// How many messages pass between two clock reads: 256, or fewer for large messages (about
/// one read per MiB), so that reading the clock costs little and the windows stay accurate.
fn clock_every(size: usize) -> u64 {
    ((1usize << 20) / size.max(1)).clamp(1, 256) as u64
}

/// The reading side of a streaming case: checks every sequence number, measures the window
/// that starts `warmup` after the first message and ends at the STOP message.
pub fn stream_read<R: Receiver>(r: &mut R, case: &Case) -> io::Result<Outcome> {
    let mut buf = vec![0u8; case.size];
    let mut wd = Watchdog::new(case.deadline());
    let mut expected = 0u64;
    let mut stopped = false;
    let mut first: Option<Instant> = None;
    let mut mark: Option<(Instant, u64)> = None;
    let mut since_clock = 0u64;
    let every = clock_every(case.size);
    let size = case.size;
    loop {
        let n = r.recv_some(&mut buf, |m| {
            if stopped {
                return Err(bad("message after STOP".into()));
            }
            if m.len() != size {
                return Err(bad(format!("message of {} bytes, sent {size}", m.len())));
            }
            let seq = seq_of(m)?;
            if seq == STOP {
                stopped = true;
            } else if seq != expected {
                return Err(bad(format!(
                    "expected message #{expected}, received #{seq}"
                )));
            } else {
                expected += 1;
            }
            Ok(())
        })?;
        if n == 0 {
            wd.tick()?;
            continue;
        }
        since_clock += n as u64;
        if stopped || mark.is_none() && since_clock >= every {
            since_clock = 0;
            let now = Instant::now();
            let t0 = *first.get_or_insert(now);
            if mark.is_none() && now - t0 >= case.warmup {
                mark = Some((now, expected));
            }
            if stopped {
                // A stream that ended during warm-up (a starved machine) is measured whole.
                let (t1, n1) = mark.unwrap_or((t0, 0));
                let msgs = expected - n1;
                let secs = (now - t1).as_secs_f64();
                return Ok(Outcome::Throughput {
                    msgs,
                    msgs_per_s: msgs as f64 / secs,
                    bytes_per_s: (msgs * size as u64) as f64 / secs,
                });
            }
        }
    }
}

/// This thread's CPU time and its voluntary context switches (each sleep it woke from).
pub fn thread_usage() -> (Duration, u64) {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_THREAD is valid on Linux.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (tv(ru.ru_utime) + tv(ru.ru_stime), ru.ru_nvcsw as u64)
}

/// Measures the thread while `f` blocks until the one message that ends the idle case: CPU
/// fraction, and wake-ups per second not counting the one that delivered that message.
pub fn idle_usage(f: impl FnOnce() -> io::Result<()>) -> io::Result<Outcome> {
    let ((c0, n0), t0) = (thread_usage(), Instant::now());
    f()?;
    let ((c1, n1), t1) = (thread_usage(), Instant::now());
    let secs = (t1 - t0).as_secs_f64();
    Ok(Outcome::Cpu {
        fraction: (c1 - c0).as_secs_f64() / secs,
        wakeups_per_s: (n1 - n0).saturating_sub(1) as f64 / secs,
    })
}

/// A fresh directory for one run's files: in /dev/shm when it exists (RAM), else the temp dir.
pub fn scratch_dir(tag: &str) -> io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = base.join(format!("mmring-bench-{}-{n}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

/// CPU placement of the two processes.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// CPU of the parent (measuring) side.
    pub parent: Option<usize>,
    /// CPU of the child side.
    pub child: Option<usize>,
}

impl Placement {
    /// The first two online CPUs, or no pinning when only one is online.
    pub fn detect() -> Placement {
        let pair = cpu::two_cpus();
        Placement {
            parent: pair.map(|p| p.0),
            child: pair.map(|p| p.1),
        }
    }
}

/// Starts the other side of `case` for `transport` as a child process (killed if dropped).
pub fn spawn_child(
    transport: &str,
    case: &Case,
    dir: &Path,
    cpu: Option<usize>,
) -> io::Result<SelfChild> {
    let mut args: Vec<OsString> = vec!["__child".into(), transport.into()];
    args.extend(case.args().into_iter().map(OsString::from));
    args.push(dir.into());
    args.push(cpu.map_or("-".to_string(), |c| c.to_string()).into());
    SelfChild::spawn(args, Stdio::piped())
}

/// Waits for a child; its stdout's `RESULT` lines, or an error if it failed.
pub fn finish_child(child: SelfChild, what: &str) -> io::Result<Vec<String>> {
    let out = child.wait()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{what}: child side failed ({})",
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT ").map(str::to_string))
        .collect())
}
