//! What the writer, the readers and the parent share: the description of one run (passed to the
//! children on their command line), message stamps and their checks, the streaming meter and
//! the lines the children report on.

use mmring_testkit::latency::Latency;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The sequence number that ends a stream or a ping-pong.
pub const STOP: u64 = u64::MAX;
/// The sequence number of iceoryx2's connection hellos (skipped before the first message).
pub const HELLO: u64 = u64::MAX - 1;
/// Size of a ping and of its answer.
pub const PING_SIZE: usize = 8;

/// The two transports compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// One mmring ring with a tethered reader slot per reader.
    Mmring,
    /// iceoryx2 publish-subscribe with a subscriber per reader.
    Iceoryx2,
}

impl Transport {
    /// Name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Mmring => "mmring",
            Transport::Iceoryx2 => "iceoryx2",
        }
    }

    /// Parses [`Transport::name`].
    pub fn parse(s: &str) -> Option<Transport> {
        [Transport::Mmring, Transport::Iceoryx2]
            .into_iter()
            .find(|t| t.name() == s)
    }
}

/// How a side that has nothing to do (nothing to read, no room to write) waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wait {
    /// Busy-polling: mmring's `WaitStrategy::Spin`, iceoryx2 polled with `spin_loop`.
    Spin,
    /// mmring's `WaitStrategy::Park`: blocking `recv`/`reserve` that sleep.
    Park,
    /// Polling that yields the CPU: mmring's `WaitStrategy::SpinYield`, iceoryx2 polled with
    /// `std::thread::yield_now()`.
    Yield,
}

impl Wait {
    /// Name on a child's command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Wait::Spin => "spin",
            Wait::Park => "park",
            Wait::Yield => "yield",
        }
    }

    /// Parses [`Wait::name`].
    pub fn parse(s: &str) -> Option<Wait> {
        [Wait::Spin, Wait::Park, Wait::Yield]
            .into_iter()
            .find(|w| w.name() == s)
    }
}

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Test {
    /// Streaming: every reader receives, copies and checks every message.
    Stream,
    /// Round trip to the first reader, which answers on a back channel.
    Rtt,
}

impl Test {
    /// Name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Test::Stream => "stream",
            Test::Rtt => "rtt",
        }
    }

    /// Parses [`Test::name`].
    pub fn parse(s: &str) -> Option<Test> {
        [Test::Stream, Test::Rtt]
            .into_iter()
            .find(|t| t.name() == s)
    }
}

/// One run: what every process of it needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The transport.
    pub transport: Transport,
    /// How idle sides wait.
    pub wait: Wait,
    /// What is measured.
    pub test: Test,
    /// Streaming message size (bytes, at least 8: the first and the last 8 bytes carry the
    /// sequence number); round trips send [`PING_SIZE`] bytes whatever it says.
    pub size: usize,
    /// Number of reader processes.
    pub readers: usize,
    /// Time excluded from the figures at the start.
    pub warmup: Duration,
    /// Measured time.
    pub measure: Duration,
    /// Directory of the run's ring files (and the tag of its iceoryx2 services).
    pub dir: PathBuf,
}

impl Spec {
    /// Data bytes of a streaming ring (and what the iceoryx2 queues are sized after): at
    /// least 256 KiB and 16 messages, as in `mmring-bench`.
    pub fn ring_bytes(&self) -> usize {
        (16 * (self.size + 8)).next_power_of_two().max(256 * 1024)
    }

    /// Messages per write batch and per drain: at most a quarter of the ring.
    pub fn batch_limit(&self) -> usize {
        (self.ring_bytes() / 4 / (self.size + 8)).max(1)
    }

    /// How long any process may wait for a peer before giving up.
    pub fn deadline(&self) -> Duration {
        self.warmup + self.measure + Duration::from_secs(20)
    }

    /// The arguments that describe this run to a child.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            self.transport.name().into(),
            self.wait.name().into(),
            self.test.name().into(),
            self.size.to_string(),
            self.readers.to_string(),
            self.warmup.as_micros().to_string(),
            self.measure.as_micros().to_string(),
            self.dir.to_string_lossy().into_owned(),
        ]
    }

    /// Inverse of [`Spec::to_args`].
    pub fn from_args(a: &[String]) -> Option<Spec> {
        Some(Spec {
            transport: Transport::parse(a.first()?)?,
            wait: Wait::parse(a.get(1)?)?,
            test: Test::parse(a.get(2)?)?,
            size: a.get(3)?.parse().ok()?,
            readers: a.get(4)?.parse().ok()?,
            warmup: Duration::from_micros(a.get(5)?.parse().ok()?),
            measure: Duration::from_micros(a.get(6)?.parse().ok()?),
            dir: PathBuf::from(a.get(7)?),
        })
    }
}

/// Writes `seq` into the first and the last 8 bytes of `msg` (one stamp if it is 8 bytes).
#[inline]
pub fn stamp(msg: &mut [u8], seq: u64) {
    let b = seq.to_le_bytes();
    msg[..8].copy_from_slice(&b);
    let n = msg.len();
    msg[n - 8..].copy_from_slice(&b);
}

/// The sequence number stamped into `msg`; an error if head and tail disagree (a torn copy).
#[inline]
pub fn seq_of(msg: &[u8]) -> io::Result<u64> {
    let n = msg.len();
    if n < 8 {
        return Err(bad(format!("message of {n} bytes")));
    }
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    let (head, tail) = (word(&msg[..8]), word(&msg[n - 8..]));
    if head != tail {
        return Err(bad(format!("torn message: head #{head}, tail #{tail}")));
    }
    Ok(head)
}

/// An `InvalidData` error: a transport delivered something that was not sent.
pub fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// A reader's check of its stream: every message of the right size, untorn, numbered
/// `0, 1, 2, …` without a gap, then [`STOP`], then nothing.
#[derive(Debug)]
pub struct Check {
    size: usize,
    next: u64,
    stopped: bool,
    hellos: bool,
}

impl Check {
    /// Checks messages of `size` bytes; with `hellos`, [`HELLO`] messages before the first
    /// numbered one are skipped.
    pub fn new(size: usize, hellos: bool) -> Check {
        Check {
            size,
            next: 0,
            stopped: false,
            hellos,
        }
    }

    /// Checks one message: `Ok(Some(seq))` for a numbered message, `Ok(None)` for a skipped
    /// hello or the STOP (see [`Check::stopped`]).
    #[inline]
    pub fn take(&mut self, m: &[u8]) -> io::Result<Option<u64>> {
        if self.stopped {
            return Err(bad("message after STOP".into()));
        }
        if m.len() != self.size {
            return Err(bad(format!(
                "message of {} bytes, {} were sent",
                m.len(),
                self.size
            )));
        }
        let seq = seq_of(m)?;
        if seq == STOP {
            self.stopped = true;
            return Ok(None);
        }
        if seq == HELLO && self.hellos && self.next == 0 {
            return Ok(None);
        }
        if seq != self.next {
            return Err(bad(format!(
                "expected message #{}, received #{seq}",
                self.next
            )));
        }
        self.next += 1;
        Ok(Some(seq))
    }

    /// Numbered messages received so far.
    pub fn received(&self) -> u64 {
        self.next
    }

    /// Whether the STOP has arrived.
    pub fn stopped(&self) -> bool {
        self.stopped
    }
}

/// A reader's throughput window: from `warmup` after its first message to the STOP.
#[derive(Debug)]
pub struct Meter {
    warmup: Duration,
    since_clock: usize,
    first: Option<Instant>,
    mark: Option<(Instant, u64)>,
}

/// Messages between two clock reads before the window opens.
const CLOCK_EVERY: usize = 256;

impl Meter {
    /// A meter whose window opens `warmup` after the first message.
    pub fn new(warmup: Duration) -> Meter {
        Meter {
            warmup,
            since_clock: 0,
            first: None,
            mark: None,
        }
    }

    /// Called after each batch of `n` messages, `received` numbered ones so far.
    #[inline]
    pub fn tick(&mut self, n: usize, received: u64) {
        if self.mark.is_some() {
            return;
        }
        self.since_clock += n;
        if self.first.is_some() && self.since_clock < CLOCK_EVERY {
            return;
        }
        self.since_clock = 0;
        let now = Instant::now();
        let t0 = *self.first.get_or_insert(now);
        if now - t0 >= self.warmup {
            self.mark = Some((now, received));
        }
    }

    /// The window at the STOP: messages in it and its length in seconds. A stream that ended
    /// during the warm-up (a starved machine) is measured whole.
    pub fn finish(&self, received: u64) -> Window {
        let now = Instant::now();
        let (t, n) = self.mark.or(self.first.map(|t| (t, 0))).unwrap_or((now, 0));
        Window {
            msgs: received - n,
            secs: (now - t).as_secs_f64(),
        }
    }
}

/// A reader's measured window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Messages received in it.
    pub msgs: u64,
    /// Its length.
    pub secs: f64,
}

impl Window {
    /// Messages per second.
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.msgs as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// What a writer reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriterOut {
    /// Numbered messages sent (the STOP not counted).
    pub sent: u64,
    /// Round trips (round-trip runs only).
    pub latency: Option<Latency>,
}

/// What a reader reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReaderOut {
    /// Numbered messages received and checked.
    pub received: u64,
    /// Its streaming window (streaming runs only; round-trip runs report zeros).
    pub window: Window,
}

impl WriterOut {
    /// The child's report lines.
    pub fn lines(&self) -> Vec<String> {
        let mut v = vec![format!("RESULT sent {}", self.sent)];
        if let Some(l) = self.latency {
            v.push(format!(
                "RESULT latency {} {} {} {} {} {} {} {} {}",
                l.samples, l.p50, l.p90, l.p99, l.p999, l.p9999, l.max, l.min, l.mean
            ));
        }
        v
    }

    /// Inverse of [`WriterOut::lines`] (without the `RESULT ` prefix).
    pub fn parse(lines: &[String]) -> Option<WriterOut> {
        let mut sent = None;
        let mut latency = None;
        for l in lines {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["sent", n] => sent = n.parse().ok(),
                ["latency", rest @ ..] if rest.len() == 9 => {
                    let f: Vec<f64> = rest.iter().filter_map(|x| x.parse().ok()).collect();
                    if f.len() != 9 {
                        return None;
                    }
                    latency = Some(Latency {
                        samples: f[0] as u64,
                        p50: f[1],
                        p90: f[2],
                        p99: f[3],
                        p999: f[4],
                        p9999: f[5],
                        max: f[6],
                        min: f[7],
                        mean: f[8],
                    });
                }
                _ => {}
            }
        }
        Some(WriterOut {
            sent: sent?,
            latency,
        })
    }
}

impl ReaderOut {
    /// The child's report line.
    pub fn lines(&self) -> Vec<String> {
        vec![format!(
            "RESULT received {} {} {}",
            self.received, self.window.msgs, self.window.secs
        )]
    }

    /// Inverse of [`ReaderOut::lines`] (without the `RESULT ` prefix).
    pub fn parse(lines: &[String]) -> Option<ReaderOut> {
        lines.iter().find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["received", n, msgs, secs] => Some(ReaderOut {
                    received: n.parse().ok()?,
                    window: Window {
                        msgs: msgs.parse().ok()?,
                        secs: secs.parse().ok()?,
                    },
                }),
                _ => None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(size: usize, seq: u64) -> Vec<u8> {
        let mut m = vec![0xA5; size];
        stamp(&mut m, seq);
        m
    }

    #[test]
    fn a_check_takes_a_gap_free_stream_and_its_stop() {
        let mut c = Check::new(64, false);
        for i in 0..3 {
            assert_eq!(c.take(&msg(64, i)).unwrap(), Some(i));
        }
        assert_eq!(c.take(&msg(64, STOP)).unwrap(), None);
        assert!(c.stopped());
        assert_eq!(c.received(), 3);
        assert!(c.take(&msg(64, 3)).is_err(), "nothing after STOP");
    }

    #[test]
    fn a_check_refuses_gaps_sizes_torn_messages_and_late_hellos() {
        let mut c = Check::new(64, true);
        assert_eq!(c.take(&msg(64, HELLO)).unwrap(), None);
        assert_eq!(c.take(&msg(64, 0)).unwrap(), Some(0));
        assert!(c.take(&msg(64, HELLO)).is_err(), "a hello after data");
        assert!(Check::new(64, false).take(&msg(64, 1)).is_err(), "a gap");
        assert!(Check::new(64, false).take(&msg(32, 0)).is_err(), "a size");
        let mut torn = msg(64, 0);
        torn[60] = 1;
        assert!(Check::new(64, false).take(&torn).is_err(), "torn");
        assert!(Check::new(64, false).take(&msg(64, HELLO)).is_err());
    }

    #[test]
    fn reports_and_specs_round_trip() {
        let w = WriterOut {
            sent: 7,
            latency: Some(Latency {
                samples: 3,
                p50: 1.0,
                p90: 2.0,
                p99: 3.0,
                p999: 4.0,
                p9999: 5.0,
                max: 6.0,
                min: 0.5,
                mean: 1.5,
            }),
        };
        let strip = |v: Vec<String>| -> Vec<String> {
            v.iter()
                .map(|l| l.strip_prefix("RESULT ").unwrap().to_string())
                .collect()
        };
        assert_eq!(WriterOut::parse(&strip(w.lines())), Some(w));
        let r = ReaderOut {
            received: 9,
            window: Window {
                msgs: 5,
                secs: 0.25,
            },
        };
        assert_eq!(ReaderOut::parse(&strip(r.lines())), Some(r));
        let s = Spec {
            transport: Transport::Iceoryx2,
            wait: Wait::Yield,
            test: Test::Rtt,
            size: 8,
            readers: 3,
            warmup: Duration::from_millis(5),
            measure: Duration::from_millis(7),
            dir: "/dev/shm/x".into(),
        };
        assert_eq!(Spec::from_args(&s.to_args()), Some(s));
    }
}
