//! iceoryx2 0.10 publish-subscribe over `ipc::Service`: one publisher, a subscriber per reader.
//!
//! Lossless as configured: safe overflow off, `BackpressureStrategy::RetryUntilDelivered` (a
//! publisher facing a full subscriber queue waits inside `send`, in iceoryx2's own adaptive
//! wait: it yields, then sleeps), and every `send` must report all N subscribers as
//! recipients. Before the first message each publisher repeats a hello until every one of its
//! subscribers has received one (see [`handshake`]; later hellos are skipped). `[u8]` slices of
//! the message size, one loan-write-send per message, one `receive` per message, each copied
//! out and checked.
//!
//! An empty subscriber (and a publisher out of loans) busy-polls: with `spin_loop` when every
//! process has its own CPU, with `std::thread::yield_now()` when processes outnumber CPUs.
//! iceoryx2's `WaitSet`/`Listener` would need an event service notified after every message
//! (a system call per message), plus a way to wake a publisher waiting for room that iceoryx2
//! does not offer: not the simple equivalent of mmring's `Park`, so it is not used.
//!
//! Services are named after the run's directory: `…/data` (streaming), `…/ping` (N
//! subscribers) and `…/pong` (reader 0 publishes, the writer subscribes).

use super::common::{
    bad, stamp, Check, Meter, ReaderOut, Spec, Test, Wait, Window, WriterOut, HELLO, PING_SIZE,
    STOP,
};
use iceoryx2::port::backpressure_strategy::BackpressureStrategy;
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::port::update_connections::UpdateConnections;
use iceoryx2::prelude::*;
use mmring_testkit::latency::LatencyHistogram;
use std::io;
use std::time::{Duration, Instant};

type Pub = Publisher<ipc::Service, [u8], ()>;
type Sub = Subscriber<ipc::Service, [u8], ()>;

fn err(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("iceoryx2: {e:?}"))
}

/// Depth of each subscriber queue: the messages a streaming ring of the same run holds, 16 to
/// 1024.
fn queue_depth(spec: &Spec) -> usize {
    (spec.ring_bytes() / (spec.size + 8)).clamp(16, 1024)
}

/// Gives up when a peer stops answering: checks the clock every few thousand polls.
#[derive(Debug)]
pub struct Patience {
    until: Instant,
    polls: u32,
}

impl Patience {
    /// Patience for `limit`.
    pub fn new(limit: Duration) -> Patience {
        Patience {
            until: Instant::now() + limit,
            polls: 0,
        }
    }

    /// Called on every empty poll: waits once as `wait` says (a spin hint, or a yield), an
    /// error once the limit has passed.
    #[inline]
    pub fn idle(&mut self, wait: Wait) -> io::Result<()> {
        self.polls = self.polls.wrapping_add(1);
        if self.polls % 4096 == 0 && Instant::now() > self.until {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "peer stopped answering",
            ));
        }
        match wait {
            Wait::Yield => std::thread::yield_now(),
            Wait::Spin | Wait::Park => std::hint::spin_loop(),
        }
        Ok(())
    }
}

/// A node and the ports of one process; the ports drop before the node.
struct Ports {
    publisher: Option<Pub>,
    subscriber: Option<Sub>,
    _node: Node<ipc::Service>,
}

/// One service of the run: its name and how many subscribers it has.
struct Service<'a> {
    which: &'a str,
    subscribers: usize,
    size: usize,
}

fn open(spec: &Spec, publish: Option<Service>, subscribe: Option<Service>) -> io::Result<Ports> {
    set_log_level(LogLevel::Error);
    let node = NodeBuilder::new().create::<ipc::Service>().map_err(err)?;
    let tag = spec
        .dir
        .file_name()
        .map_or("run".into(), |n| n.to_string_lossy());
    let depth = queue_depth(spec);
    let service = |s: &Service| {
        let name: ServiceName = format!("mmring-fanout-bench/{tag}/{}", s.which)
            .as_str()
            .try_into()
            .map_err(err)?;
        node.service_builder(&name)
            .publish_subscribe::<[u8]>()
            .enable_safe_overflow(false)
            .subscriber_max_buffer_size(depth)
            .history_size(0)
            .max_publishers(1)
            .max_subscribers(s.subscribers)
            .open_or_create()
            .map_err(err)
    };
    let publisher = match publish {
        Some(s) => Some(
            service(&s)?
                .publisher_builder()
                .initial_max_slice_len(s.size)
                .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
                .create()
                .map_err(err)?,
        ),
        None => None,
    };
    let subscriber = match subscribe {
        Some(s) => Some(
            service(&s)?
                .subscriber_builder()
                .buffer_size(depth)
                .create()
                .map_err(err)?,
        ),
        None => None,
    };
    Ok(Ports {
        publisher,
        subscriber,
        _node: node,
    })
}

/// The publishing half of a [`handshake`]: its port, message size, and the names of the
/// marker files its subscribers create once a hello reached them.
struct Announce<'a> {
    publisher: &'a Pub,
    size: usize,
    markers: Vec<String>,
}

/// The subscribing half of a [`handshake`]: its port and the marker file it creates.
struct Await<'a> {
    subscriber: &'a Sub,
    marker: String,
}

/// Connects before the first message, both ways. A `send` that reaches a subscriber queue does
/// not mean the subscriber is connected to it yet (iceoryx2 drops, as "no connected receiver",
/// a message that finds that queue full while the subscriber has not connected), so the
/// publisher repeats a hello every millisecond until each of its subscribers has received one
/// and said so by creating its marker file in the run's directory; meanwhile the subscriber
/// half waits for a hello from its publisher and creates its own marker. Both halves run in one
/// loop, so two processes that publish to each other cannot wait for each other.
fn handshake(
    spec: &Spec,
    mut announce: Option<Announce>,
    mut wait: Option<Await>,
) -> io::Result<()> {
    let until = Instant::now() + Duration::from_secs(20);
    while announce.is_some() || wait.is_some() {
        if let Some(a) = &announce {
            if a.markers.iter().all(|m| spec.dir.join(m).exists()) {
                announce = None;
            } else {
                let p = a.publisher;
                p.update_connections().map_err(err)?;
                if let Ok(sample) = p.loan_slice_uninit(a.size) {
                    let mut sample = sample.write_from_slice(&vec![0u8; a.size]);
                    stamp(sample.payload_mut(), HELLO);
                    sample.send().map_err(err)?;
                }
            }
        }
        if let Some(w) = &wait {
            w.subscriber.update_connections().map_err(err)?;
            if let Some(sample) = w.subscriber.receive().map_err(err)? {
                let seq = super::common::seq_of(sample.payload())?;
                if seq != HELLO {
                    return Err(bad(format!("iceoryx2: expected a hello, received #{seq}")));
                }
                std::fs::write(spec.dir.join(&w.marker), b"")?;
                wait = None;
            }
        }
        if Instant::now() > until {
            return Err(bad("iceoryx2: peers never connected".into()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn reader_markers(spec: &Spec) -> Vec<String> {
    (0..spec.readers).map(|i| format!("ready-{i}")).collect()
}

const WRITER_MARKER: &str = "ready-writer";

/// Sends one message numbered `seq` to all `n` subscribers, polling while out of loans.
#[inline]
fn send(
    p: &Pub,
    tmpl: &[u8],
    seq: u64,
    n: usize,
    wait: &mut Patience,
    spec: &Spec,
) -> io::Result<()> {
    let sample = loop {
        match p.loan_slice_uninit(tmpl.len()) {
            Ok(s) => break s,
            Err(e) => wait
                .idle(spec.wait)
                .map_err(|t| io::Error::other(format!("{t}: {e:?}")))?,
        }
    };
    let mut sample = sample.write_from_slice(tmpl);
    stamp(sample.payload_mut(), seq);
    let got = sample.send().map_err(err)?;
    if got != n {
        return Err(bad(format!(
            "iceoryx2: message #{seq} delivered to {got} of {n} subscribers"
        )));
    }
    Ok(())
}

/// Copies each waiting message into `buf` and checks it (up to `max`); how many it took.
#[inline]
fn take(
    s: &Sub,
    buf: &mut [u8],
    check: &mut Check,
    max: usize,
) -> io::Result<(usize, Option<u64>)> {
    let mut n = 0;
    let mut last = None;
    while n < max {
        let Some(sample) = s.receive().map_err(err)? else {
            break;
        };
        let m = sample.payload();
        let dst = buf
            .get_mut(..m.len())
            .ok_or_else(|| bad(format!("message of {} bytes", m.len())))?;
        dst.copy_from_slice(m);
        drop(sample);
        last = check.take(dst)?;
        n += 1;
        if check.stopped() {
            break;
        }
    }
    Ok((n, last))
}

/// The writer process.
pub fn writer(spec: &Spec) -> io::Result<WriterOut> {
    match spec.test {
        Test::Stream => {
            let data = Service {
                which: "data",
                subscribers: spec.readers,
                size: spec.size,
            };
            let ports = open(spec, Some(data), None)?;
            let p = ports.publisher.as_ref().expect("opened");
            let announce = Announce {
                publisher: p,
                size: spec.size,
                markers: reader_markers(spec),
            };
            handshake(spec, Some(announce), None)?;
            let tmpl = vec![0xA5u8; spec.size];
            let mut wait = Patience::new(spec.deadline());
            let end = Instant::now() + spec.warmup + spec.measure;
            let mut next = 0u64;
            loop {
                send(p, &tmpl, next, spec.readers, &mut wait, spec)?;
                next += 1;
                if next % 256 == 0 && Instant::now() >= end {
                    break;
                }
            }
            send(p, &tmpl, STOP, spec.readers, &mut wait, spec)?;
            Ok(WriterOut {
                sent: next,
                latency: None,
            })
        }
        Test::Rtt => {
            let ping = Service {
                which: "ping",
                subscribers: spec.readers,
                size: PING_SIZE,
            };
            let pong = Service {
                which: "pong",
                subscribers: 1,
                size: PING_SIZE,
            };
            let ports = open(spec, Some(ping), Some(pong))?;
            let (p, s) = (
                ports.publisher.as_ref().expect("opened"),
                ports.subscriber.as_ref().expect("opened"),
            );
            let announce = Announce {
                publisher: p,
                size: PING_SIZE,
                markers: reader_markers(spec),
            };
            let answers_from = Await {
                subscriber: s,
                marker: WRITER_MARKER.into(),
            };
            handshake(spec, Some(announce), Some(answers_from))?;
            let tmpl = [0u8; PING_SIZE];
            let mut buf = [0u8; PING_SIZE];
            let mut answers = Check::new(PING_SIZE, true);
            let mut wait = Patience::new(spec.deadline());
            let mut h = LatencyHistogram::new();
            let start = Instant::now();
            let mut seq = 0u64;
            loop {
                let t0 = Instant::now();
                send(p, &tmpl, seq, spec.readers, &mut wait, spec)?;
                let got = loop {
                    match take(s, &mut buf, &mut answers, 1)? {
                        (_, Some(got)) => break got,
                        (0, _) => {
                            if seq == 0 {
                                s.update_connections().map_err(err)?;
                            }
                            wait.idle(spec.wait)?
                        }
                        // Reader 0's hello, skipped.
                        _ => {}
                    }
                };
                let t1 = Instant::now();
                if got != seq {
                    return Err(bad(format!("expected answer #{seq}, received #{got}")));
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
            send(p, &tmpl, STOP, spec.readers, &mut wait, spec)?;
            Ok(WriterOut {
                sent: seq,
                latency: Some(h.summary()),
            })
        }
    }
}

/// A reader process; reader 0 answers pings.
pub fn reader(spec: &Spec, index: usize) -> io::Result<ReaderOut> {
    let (which, size) = match spec.test {
        Test::Stream => ("data", spec.size),
        Test::Rtt => ("ping", PING_SIZE),
    };
    let data = Service {
        which,
        subscribers: spec.readers,
        size,
    };
    let answers = (spec.test == Test::Rtt && index == 0).then_some(Service {
        which: "pong",
        subscribers: 1,
        size: PING_SIZE,
    });
    let ports = open(spec, answers, Some(data))?;
    let s = ports.subscriber.as_ref().expect("opened");
    let announce = ports.publisher.as_ref().map(|p| Announce {
        publisher: p,
        size: PING_SIZE,
        markers: vec![WRITER_MARKER.into()],
    });
    let pings_from = Await {
        subscriber: s,
        marker: format!("ready-{index}"),
    };
    handshake(spec, announce, Some(pings_from))?;
    let mut buf = vec![0u8; size];
    let mut check = Check::new(size, true);
    let mut meter = Meter::new(spec.warmup);
    let mut wait = Patience::new(spec.deadline());
    let max = match spec.test {
        Test::Stream => spec.batch_limit(),
        Test::Rtt => 1,
    };
    let tmpl = [0u8; PING_SIZE];
    while !check.stopped() {
        let (n, last) = take(s, &mut buf, &mut check, max)?;
        if n == 0 {
            if check.received() == 0 {
                s.update_connections().map_err(err)?;
            }
            wait.idle(spec.wait)?;
            continue;
        }
        match (&ports.publisher, last) {
            (Some(p), Some(seq)) => send(p, &tmpl, seq, 1, &mut wait, spec)?,
            _ => meter.tick(n, check.received()),
        }
    }
    let window = match spec.test {
        Test::Stream => meter.finish(check.received()),
        Test::Rtt => Window { msgs: 0, secs: 0.0 },
    };
    Ok(ReaderOut {
        received: check.received(),
        window,
    })
}
