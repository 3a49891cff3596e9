//! iceoryx2 (crates.io `iceoryx2`) publish-subscribe over its `ipc::Service` shared memory.
//!
//! Slice payloads (`[u8]`) of the message size, one loan-write-send per message and one
//! `receive` per message (the reader copies each out, like every other transport). Safe overflow
//! is disabled and the publisher retries until delivered, so nothing is silently dropped or
//! overwritten; the subscriber is connected (a hello message the publisher repeats until it
//! counts one delivery) before the first measured message.

use super::Transport;
use crate::harness::{self, bad, stamp, Case, Kind, Outcome, Receiver, Sender, Watchdog};
use iceoryx2::port::backpressure_strategy::BackpressureStrategy;
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::port::update_connections::UpdateConnections;
use iceoryx2::prelude::*;
use std::io;
use std::path::Path;
use std::time::Duration;

/// See the module docs.
#[derive(Debug)]
pub struct Iceoryx2;

const HELLO: u64 = u64::MAX - 1;

type Pub = Publisher<ipc::Service, [u8], ()>;
type Sub = Subscriber<ipc::Service, [u8], ()>;

fn err(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("iceoryx2: {e:?}"))
}

fn buffer(case: &Case) -> usize {
    (case.ring_bytes() / (case.size as u64 + 8)).clamp(16, 1024) as usize
}

struct Ends {
    // Ports first: they must drop before the node.
    publisher: Option<Pub>,
    subscriber: Option<Sub>,
    _node: Node<ipc::Service>,
}

fn service_name(dir: &Path, which: &str) -> String {
    let tag = dir
        .file_name()
        .map_or("run".into(), |n| n.to_string_lossy());
    format!("mmring-bench/{tag}/{which}")
}

fn open(
    dir: &Path,
    case: &Case,
    publish: Option<&str>,
    subscribe: Option<&str>,
) -> io::Result<Ends> {
    set_log_level(LogLevel::Error);
    let node = NodeBuilder::new().create::<ipc::Service>().map_err(err)?;
    let service = |which: &str| {
        let name: ServiceName = service_name(dir, which).as_str().try_into().map_err(err)?;
        node.service_builder(&name)
            .publish_subscribe::<[u8]>()
            .enable_safe_overflow(false)
            .subscriber_max_buffer_size(buffer(case))
            .history_size(0)
            .max_publishers(1)
            .max_subscribers(1)
            .open_or_create()
            .map_err(err)
    };
    let publisher = match publish {
        Some(which) => Some(
            service(which)?
                .publisher_builder()
                .initial_max_slice_len(case.size)
                .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
                .create()
                .map_err(err)?,
        ),
        None => None,
    };
    let subscriber = match subscribe {
        Some(which) => Some(
            service(which)?
                .subscriber_builder()
                .buffer_size(buffer(case))
                .create()
                .map_err(err)?,
        ),
        None => None,
    };
    Ok(Ends {
        publisher,
        subscriber,
        _node: node,
    })
}

struct Tx<'a>(&'a Pub);

impl Sender for Tx<'_> {
    #[inline]
    fn send_some(&mut self, tmpl: &mut [u8], next: u64, _max: u64) -> io::Result<u64> {
        let Ok(sample) = self.0.loan_slice_uninit(tmpl.len()) else {
            return Ok(0);
        };
        let mut sample = sample.write_from_slice(tmpl);
        stamp(sample.payload_mut(), next);
        // 0 recipients: the message went nowhere (iceoryx2 reports a subscriber that is not
        // connected at this instant as "no connected receiver"); send the same number again.
        // The reader checks every number, so a lost message cannot go unnoticed.
        match sample.send().map_err(err)? {
            0 => Ok(0),
            _ => Ok(1),
        }
    }
}

struct Rx<'a>(&'a Sub);

impl Receiver for Rx<'_> {
    #[inline]
    fn recv_some<F: FnMut(&[u8]) -> io::Result<()>>(
        &mut self,
        buf: &mut [u8],
        mut f: F,
    ) -> io::Result<usize> {
        let mut n = 0;
        while let Some(sample) = self.0.receive().map_err(err)? {
            let m = sample.payload();
            let dst = buf
                .get_mut(..m.len())
                .ok_or_else(|| bad(format!("message of {} bytes", m.len())))?;
            dst.copy_from_slice(m);
            drop(sample);
            f(dst)?;
            n += 1;
            if n >= 256 {
                break;
            }
        }
        Ok(n)
    }
}

/// The publisher side: repeats a hello until one subscriber has it.
fn hello(p: &Pub, case: &Case) -> io::Result<()> {
    let mut tmpl = vec![0u8; case.size];
    for _ in 0..10_000 {
        p.update_connections().map_err(err)?;
        let sample = p.loan_slice_uninit(case.size).map_err(err)?;
        let mut sample = sample.write_from_slice(&tmpl);
        stamp(sample.payload_mut(), HELLO);
        if sample.send().map_err(err)? > 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    tmpl.clear();
    Err(bad("iceoryx2: subscriber never connected".into()))
}

/// The subscriber side: waits for the hello (only that one message is taken).
fn await_hello(s: &Sub) -> io::Result<()> {
    let mut wd = Watchdog::new(Duration::from_secs(20));
    loop {
        s.update_connections().map_err(err)?;
        if let Some(sample) = s.receive().map_err(err)? {
            let seq = harness::seq_of(sample.payload())?;
            if seq != HELLO {
                return Err(bad(format!("iceoryx2: expected hello, received #{seq}")));
            }
            return Ok(());
        }
        wd.tick()?;
    }
}

impl Transport for Iceoryx2 {
    fn name(&self) -> &'static str {
        "iceoryx2"
    }
    fn describe(&self) -> &'static str {
        "iceoryx2 0.10 pub/sub, [u8] slices, loan-write-send per message, no overflow"
    }
    fn supports(&self, kind: Kind) -> bool {
        matches!(kind, Kind::Rtt | Kind::Stream)
    }
    fn child(&self, dir: &Path, case: &Case) -> io::Result<()> {
        match case.kind {
            Kind::Rtt => {
                let e = open(dir, case, Some("pong"), Some("ping"))?;
                let (p, s) = (
                    e.publisher.as_ref().unwrap(),
                    e.subscriber.as_ref().unwrap(),
                );
                hello(p, case)?;
                harness::rtt_pong(&mut Tx(p), &mut Rx(s), case, false)
            }
            _ => {
                let e = open(dir, case, Some("data"), None)?;
                let p = e.publisher.as_ref().unwrap();
                hello(p, case)?;
                harness::stream_write(&mut Tx(p), case, 1)
            }
        }
    }
    fn parent(&self, dir: &Path, case: &Case) -> io::Result<Outcome> {
        match case.kind {
            Kind::Rtt => {
                let e = open(dir, case, Some("ping"), Some("pong"))?;
                let (p, s) = (
                    e.publisher.as_ref().unwrap(),
                    e.subscriber.as_ref().unwrap(),
                );
                await_hello(s)?;
                // The child's ping subscriber existed before its hello: connect to it now.
                p.update_connections().map_err(err)?;
                harness::rtt_ping(&mut Tx(p), &mut Rx(s), case, None).map(Outcome::Latency)
            }
            _ => {
                let e = open(dir, case, None, Some("data"))?;
                let s = e.subscriber.as_ref().unwrap();
                await_hello(s)?;
                harness::stream_read(&mut Rx(s), case)
            }
        }
    }
}
