//! `mmring-zenoh out`: a reader of a ring that publishes every message on a key expression.
//!
//! Lossless mode (the default) reads a *window* of messages in one [`mmring::Batch`]
//! (copying each out: the ring is written by arbitrary local processes, and a copy is sound
//! whatever they do), publishes them with congestion control `Block` and reliable delivery,
//! and ends the batch, which gives their space back to the ring, only once an inbound bridge
//! acknowledged that the last of them is in its ring. Nothing is taken out of the ring while no
//! subscriber matches the key. Lossy mode publishes with `Drop` and releases each batch as
//! soon as its messages were handed to Zenoh. See `docs/GUARANTEES.md`, "Bridging over Zenoh".

use crate::error::BridgeError;
use crate::position::{self, Positions};
use crate::stats::{self, Counters, Report};
use crate::wire::{ack_key, Ack, Tag};
use crate::ZenohOptions;
use mmring::{Reader, RecvError, RingOptions, TryRecvError, WriterStatus};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zenoh::bytes::ZBytes;
use zenoh::qos::CongestionControl;
use zenoh::Wait;

/// How often a waiting loop looks at the stop flag.
const TICK: Duration = Duration::from_millis(100);
/// After this long without an acknowledgement (and no change of subscribers), the last message
/// of the window is published again as a probe; the inbound bridge drops it as a duplicate and
/// acknowledges what it has.
const PROBE_AFTER: Duration = Duration::from_secs(2);
/// On a stop request, how long to wait for the outstanding acknowledgement.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// What `mmring-zenoh out` does.
#[derive(Debug, Clone)]
pub struct OutboundOptions {
    /// The ring to read.
    pub ring: PathBuf,
    /// The key expression to publish on.
    pub key: String,
    /// Create the ring with this capacity if nothing is at `ring`.
    pub capacity: Option<usize>,
    /// Publish with congestion control `Drop`, even while no subscriber matches (counted as
    /// dropped), and release without waiting for acknowledgements.
    pub lossy: bool,
    /// At most this many messages per window (at most half the ring's bytes).
    pub window: usize,
    /// Return once the ring's writer has gone and everything it wrote was bridged.
    pub exit_on_disconnect: bool,
}

/// How a bridge run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Asked to stop; every message taken out of the ring was bridged.
    Stopped,
    /// Asked to stop while a window was not acknowledged: its messages were left in the ring
    /// (not released), so the next outbound bridge publishes them again.
    StoppedUnacknowledged {
        /// Messages of that window.
        messages: usize,
    },
    /// The ring's writer has gone and everything it wrote was bridged (`exit_on_disconnect`).
    Drained,
}

enum Event {
    Matching(bool),
    Ack(Ack),
}

struct Link {
    matching: bool,
    acked: u64,
    source: u64,
}

impl Link {
    fn apply(&mut self, e: Event) -> bool {
        match e {
            Event::Ack(a) => {
                if a.source == self.source {
                    self.acked = self.acked.max(a.end);
                }
                false
            }
            Event::Matching(m) => {
                let regained = m && !self.matching;
                self.matching = m;
                regained
            }
        }
    }
}

fn open_source(o: &OutboundOptions) -> Result<(Reader, position::Attached), BridgeError> {
    let opts = match o.capacity {
        Some(c) => RingOptions::new().create_if_missing(c),
        None => RingOptions::new(),
    };
    let reader = opts.open_reader(&o.ring).map_err(|e| match e {
        mmring::OpenError::NotFound { path } => BridgeError::NoRing { path },
        e => BridgeError::Open(e),
    })?;
    let att = position::attached(&o.ring).map_err(|source| BridgeError::Attach {
        path: o.ring.clone(),
        source,
    })?;
    Ok((reader, att))
}

/// Runs an outbound bridge until `stop` is set (or, with `exit_on_disconnect`, the ring's
/// writer has gone and everything was bridged).
///
/// # Errors
/// The ring cannot be opened, the Zenoh session or its entities cannot be set up, a
/// publication fails, or the ring turns out corrupt.
pub fn run(
    o: &OutboundOptions,
    z: &ZenohOptions,
    counters: Arc<Counters>,
    report: Report,
    stop: Arc<AtomicBool>,
) -> Result<Outcome, BridgeError> {
    let key = zenoh::key_expr::KeyExpr::try_from(o.key.clone()).map_err(|e| BridgeError::Key {
        key: o.key.clone(),
        reason: e.to_string(),
    })?;
    let (reader, att) = open_source(o)?;
    let session = zenoh::open(z.to_config()?)
        .wait()
        .map_err(BridgeError::zenoh("open session"))?;
    let publisher = session
        .declare_publisher(key)
        .congestion_control(if o.lossy {
            CongestionControl::Drop
        } else {
            CongestionControl::Block
        })
        .wait()
        .map_err(BridgeError::zenoh("declare publisher"))?;
    let (tx, rx) = mpsc::channel();
    let matching_tx = tx.clone();
    let _listener = publisher
        .matching_listener()
        .callback(move |s| {
            let _ = matching_tx.send(Event::Matching(s.matching()));
        })
        .wait()
        .map_err(BridgeError::zenoh("declare matching listener"))?;
    let _acks = if o.lossy {
        None
    } else {
        Some(
            session
                .declare_subscriber(ack_key(&o.key))
                .callback(move |s| {
                    if let Some(a) = Ack::decode(&s.payload().to_bytes()) {
                        let _ = tx.send(Event::Ack(a));
                    }
                })
                .wait()
                .map_err(BridgeError::zenoh("declare acknowledgement subscriber"))?,
        )
    };
    let link = Link {
        matching: publisher
            .matching_status()
            .wait()
            .map_err(BridgeError::zenoh("matching status"))?
            .matching(),
        acked: 0,
        source: att.source,
    };
    let monitor = stats::monitor(session.clone(), counters.clone(), report, stop.clone());
    let mut pump = Pump {
        o,
        session: &session,
        publisher: &publisher,
        rx,
        link,
        counters: &counters,
        stop: &stop,
    };
    let exit = pump.run(reader, att);
    stop.store(true, Ordering::Relaxed);
    monitor.thread().unpark();
    let _ = monitor.join();
    // Closing flushes what Zenoh still queues for the wire.
    let _ = session.close().wait();
    exit
}

struct Pump<'a> {
    o: &'a OutboundOptions,
    session: &'a zenoh::Session,
    publisher: &'a zenoh::pubsub::Publisher<'a>,
    rx: mpsc::Receiver<Event>,
    link: Link,
    counters: &'a Counters,
    stop: &'a AtomicBool,
}

/// What one window came to.
enum Window {
    Done,
    /// Lossy, nobody subscribed: dropped (and counted); release it all the same.
    Dropped,
    /// Leave its messages in the ring: return with this.
    Abandon(Result<Outcome, BridgeError>),
}

impl Pump<'_> {
    fn run(
        &mut self,
        mut reader: Reader,
        mut att: position::Attached,
    ) -> Result<Outcome, BridgeError> {
        let mut pos = Positions::new(att.capacity, att.start);
        let mut msgs: Vec<(ZBytes, Tag)> = Vec::with_capacity(self.o.window);
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(Outcome::Stopped);
            }
            while let Ok(e) = self.rx.try_recv() {
                self.link.apply(e);
            }
            if !self.o.lossy && !self.link.matching {
                // Nothing leaves the ring while nobody would receive it.
                if let Ok(e) = self.rx.recv_timeout(TICK) {
                    self.link.apply(e);
                }
                continue;
            }
            let waited = match reader.recv_timeout(TICK) {
                Ok(m) => {
                    m.keep(); // stays in the ring: the window below reads it
                    Ok(())
                }
                Err(e) => Err(e),
            };
            match waited {
                Ok(()) => {}
                Err(RecvError::Timeout) => {
                    // A writer that left before we attached is never reported as
                    // `Disconnected`: the ring is drained all the same.
                    if self.o.exit_on_disconnect
                        && reader.writer_status() == WriterStatus::Gone
                        && reader.pending() == 0
                    {
                        return Ok(Outcome::Drained);
                    }
                    continue;
                }
                Err(RecvError::Disconnected) => {
                    if self.o.exit_on_disconnect {
                        return Ok(Outcome::Drained);
                    }
                    // Attach afresh: a writer that left before we attached does not count, so
                    // the next receive waits (parked) for the next writer.
                    drop(reader);
                    (reader, att) = open_source(self.o)?;
                    self.link.source = att.source;
                    pos = Positions::new(att.capacity, att.start);
                    continue;
                }
                Err(source) => {
                    return Err(BridgeError::Recv {
                        path: self.o.ring.clone(),
                        source,
                    })
                }
            }
            let budget = att.capacity / 2;
            let first = pos.position();
            let mut batch = reader.batch();
            msgs.clear();
            let mut payload = 0u64;
            while msgs.len() < self.o.window && pos.position() - first < budget {
                let mut buf = Vec::new();
                match batch.next_into(&mut buf) {
                    Ok(true) => {}
                    Ok(false) | Err(TryRecvError::Disconnected) => break,
                    Err(source) => {
                        std::mem::forget(batch);
                        std::mem::forget(reader);
                        return Err(BridgeError::TryRecv {
                            path: self.o.ring.clone(),
                            source,
                        });
                    }
                }
                let (from, end) = pos.advance(buf.len());
                payload += buf.len() as u64;
                let tag = Tag {
                    source: att.source,
                    from,
                    end,
                    ack: false,
                };
                msgs.push((ZBytes::from(buf), tag));
            }
            if msgs.is_empty() {
                continue;
            }
            match self.window(&mut msgs) {
                Window::Done => {
                    Counters::add(&self.counters.messages, msgs.len() as u64);
                    Counters::add(&self.counters.bytes, payload);
                    drop(batch); // releases the window's space: it is in the far ring now
                }
                Window::Dropped => drop(batch),
                Window::Abandon(r) => {
                    // Neither the batch nor the reader may release: the window stays in the
                    // ring for the next outbound bridge. Their mapping and locks go with the
                    // process.
                    std::mem::forget(batch);
                    std::mem::forget(reader);
                    return r;
                }
            }
        }
    }

    /// Publishes `msgs` in order. The last one goes out *express*: Zenoh then sends the
    /// batch it is in at once instead of waiting (up to its 1 ms batching time limit) for more.
    /// It goes through the session rather than the publisher (express is a per-publisher
    /// setting there); both feed the same transmission queue of the same priority, in call
    /// order, so the order of the stream is kept (every test checks it).
    fn publish(&self, msgs: &[(ZBytes, Tag)]) -> Result<(), BridgeError> {
        let Some(((last, last_tag), rest)) = msgs.split_last() else {
            return Ok(());
        };
        for (payload, tag) in rest {
            self.publisher
                .put(payload.clone())
                .attachment(ZBytes::from(tag.encode().to_vec()))
                .wait()
                .map_err(BridgeError::zenoh("put"))?;
        }
        self.session
            .put(self.publisher.key_expr(), last.clone())
            .attachment(ZBytes::from(last_tag.encode().to_vec()))
            .congestion_control(self.publisher.congestion_control())
            .express(true)
            .wait()
            .map_err(BridgeError::zenoh("put"))
    }

    /// Publishes one window and, in lossless mode, waits until it is acknowledged.
    fn window(&mut self, msgs: &mut [(ZBytes, Tag)]) -> Window {
        if self.o.lossy {
            if !self.link.matching {
                Counters::add(&self.counters.dropped, msgs.len() as u64);
                return Window::Dropped;
            }
            return match self.publish(msgs) {
                Ok(()) => Window::Done,
                Err(e) => Window::Abandon(Err(e)),
            };
        }
        let last = msgs.len() - 1;
        msgs[last].1.ack = true;
        let target = msgs[last].1.end;
        if let Err(e) = self.publish(msgs) {
            return Window::Abandon(Err(e));
        }
        let mut since = Instant::now();
        let mut stop_at: Option<Instant> = None;
        while self.link.acked < target {
            if stop_at.is_none() && self.stop.load(Ordering::Relaxed) {
                stop_at = Some(Instant::now() + STOP_GRACE);
            }
            if stop_at.is_some_and(|t| Instant::now() >= t) {
                return Window::Abandon(Ok(Outcome::StoppedUnacknowledged {
                    messages: msgs.len(),
                }));
            }
            match self.rx.recv_timeout(TICK) {
                Ok(e) => {
                    if self.link.apply(e) {
                        // The subscriber was lost and found again (a new inbound bridge, or
                        // the same one after its session broke): what was in flight may be
                        // gone, so publish the whole window again; duplicates are dropped by
                        // the inbound bridge.
                        if let Err(e) = self.publish(msgs) {
                            return Window::Abandon(Err(e));
                        }
                        Counters::add(&self.counters.republished, msgs.len() as u64);
                        since = Instant::now();
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Window::Abandon(Err(BridgeError::Zenoh {
                        op: "wait for acknowledgement",
                        reason: "the session's callbacks are gone".into(),
                    }))
                }
            }
            if self.link.matching && since.elapsed() >= PROBE_AFTER {
                // No acknowledgement for a while although the subscriber is there: publish the
                // last message again as a probe (the inbound bridge acknowledges duplicates).
                if let Err(e) = self.publish(&msgs[last..]) {
                    return Window::Abandon(Err(e));
                }
                Counters::add(&self.counters.republished, 1);
                since = Instant::now();
            }
        }
        Window::Done
    }
}
