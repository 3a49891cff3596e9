//! `mmring-zenoh in`: a subscriber that writes every sample into a ring, as one message.
//!
//! Zenoh's callback only hands the sample to a bounded queue and returns; a dedicated thread
//! (the caller's) writes the queue into the ring, where it may wait for room. In lossless mode
//! the queue never fills with a lossless outbound bridge on the other side: that bridge has at
//! most one window unacknowledged, and this side acknowledges a window only once it is in the
//! ring, so a full ring holds the acknowledgement back, which holds the outbound bridge back,
//! which leaves the messages in the source ring, whose writer then waits for room. See
//! `docs/GUARANTEES.md`, "Bridging over Zenoh".

use crate::error::BridgeError;
use crate::stats::{self, Counters, Report};
use crate::wire::{ack_key, Ack, Tag};
use crate::ZenohOptions;
use mmring::{RingOptions, SendError, TrySendError, Writer};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;
use zenoh::qos::CongestionControl;
use zenoh::sample::Sample;
use zenoh::Wait;

const TICK: Duration = Duration::from_millis(100);
/// How many "too large" messages are reported one by one before only counting them.
const REPORT_TOO_LARGE: u64 = 10;

/// What `mmring-zenoh in` does.
#[derive(Debug, Clone)]
pub struct InboundOptions {
    /// The ring to write.
    pub ring: PathBuf,
    /// The key expression to subscribe to.
    pub key: String,
    /// Create the ring with this capacity if nothing is at `ring`.
    pub capacity: Option<usize>,
    /// Drop (and count) a message when the ring or the queue is full instead of waiting.
    pub lossy: bool,
    /// Samples the queue between Zenoh's callback and the writing thread holds.
    pub queue: usize,
}

/// What the inbound side knows of one source ring: everything up to `end` is written.
#[derive(Debug, Default)]
struct Source {
    end: u64,
}

/// Runs an inbound bridge until `stop` is set.
///
/// # Errors
/// The ring cannot be opened, the Zenoh session or its subscriber cannot be set up, or the
/// ring turns out corrupt.
pub fn run(
    o: &InboundOptions,
    z: &ZenohOptions,
    counters: Arc<Counters>,
    report: Report,
    stop: Arc<AtomicBool>,
) -> Result<(), BridgeError> {
    let key = zenoh::key_expr::KeyExpr::try_from(o.key.clone()).map_err(|e| BridgeError::Key {
        key: o.key.clone(),
        reason: e.to_string(),
    })?;
    let opts = match o.capacity {
        Some(c) => RingOptions::new().create_if_missing(c),
        None => RingOptions::new(),
    };
    let mut writer = opts.open_writer(&o.ring).map_err(|e| match e {
        mmring::OpenError::NotFound { path } => BridgeError::NoRing { path },
        e => BridgeError::Open(e),
    })?;
    let session = zenoh::open(z.to_config()?)
        .wait()
        .map_err(BridgeError::zenoh("open session"))?;
    let (tx, rx) = mpsc::sync_channel::<Sample>(o.queue.max(1));
    let blocked = Arc::new(AtomicU64::new(0));
    let cb_counters = counters.clone();
    let cb_blocked = blocked.clone();
    let lossy = o.lossy;
    let _subscriber = session
        .declare_subscriber(key)
        .callback(move |s| match tx.try_send(s) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(s)) => {
                if lossy {
                    Counters::add(&cb_counters.dropped, 1);
                } else {
                    // Only a publisher that ignores the acknowledgement window (a lossy or
                    // foreign one) gets here: rather than lose a message, hold Zenoh back.
                    cb_blocked.fetch_add(1, Ordering::Relaxed);
                    let _ = tx.send(s);
                }
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {}
        })
        .wait()
        .map_err(BridgeError::zenoh("declare subscriber"))?;
    let monitor = stats::monitor(session.clone(), counters.clone(), report, stop.clone());
    let mut sink = Sink {
        o,
        writer: &mut writer,
        session: &session,
        counters: &counters,
        stop: &stop,
        sources: HashMap::new(),
        waiting_for_reader: false,
    };
    let result = loop {
        match rx.recv_timeout(TICK) {
            Ok(s) => {
                if let Err(e) = sink.handle(s) {
                    break Err(e);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break Ok(()),
        }
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
    };
    stop.store(true, Ordering::Relaxed);
    monitor.thread().unpark();
    let _ = monitor.join();
    let b = blocked.load(Ordering::Relaxed);
    if b > 0 {
        eprintln!(
            "mmring-zenoh in: the queue was full {b} times (a publisher that does not wait for acknowledgements?); Zenoh's callback waited rather than drop"
        );
    }
    let _ = session.close().wait();
    result
}

struct Sink<'a> {
    o: &'a InboundOptions,
    writer: &'a mut Writer,
    session: &'a zenoh::Session,
    counters: &'a Counters,
    stop: &'a AtomicBool,
    sources: HashMap<u64, Source>,
    waiting_for_reader: bool,
}

enum Written {
    Yes,
    /// Dropped on purpose (lossy, or too large): counts as handled.
    Dropped,
    /// Asked to stop while waiting for room: not written, not acknowledged.
    Stopped,
}

impl Sink<'_> {
    fn handle(&mut self, s: Sample) -> Result<(), BridgeError> {
        let tag = s.attachment().and_then(|a| Tag::decode(&a.to_bytes()));
        if let Some(t) = tag {
            if let Some(src) = self.sources.get(&t.source) {
                if t.end <= src.end {
                    // Already written: a window published again after a reconnection or by a
                    // restarted outbound bridge.
                    Counters::add(&self.counters.duplicates, 1);
                    if t.ack {
                        self.ack(&s, t.source)?;
                    }
                    return Ok(());
                }
                if t.from != src.end {
                    Counters::add(&self.counters.gaps, 1);
                }
            }
        }
        let payload = s.payload().to_bytes();
        match self.write(&payload, &s)? {
            Written::Stopped => return Ok(()),
            Written::Yes => {
                Counters::add(&self.counters.messages, 1);
                Counters::add(&self.counters.bytes, payload.len() as u64);
            }
            Written::Dropped => {}
        }
        if let Some(t) = tag {
            self.sources.entry(t.source).or_default().end = t.end;
            if t.ack {
                self.ack(&s, t.source)?;
            }
        }
        Ok(())
    }

    fn write(&mut self, msg: &[u8], s: &Sample) -> Result<Written, BridgeError> {
        let max = self.writer.max_message_len();
        if msg.len() > max {
            let n = self.counters.too_large.fetch_add(1, Ordering::Relaxed) + 1;
            if n <= REPORT_TOO_LARGE {
                eprintln!(
                    "mmring-zenoh in: dropped a message of {} bytes on {}: {} takes messages of at most {max} bytes (counted as too_large{})",
                    msg.len(),
                    s.key_expr(),
                    self.o.ring.display(),
                    if n == REPORT_TOO_LARGE { "; further ones are only counted" } else { "" }
                );
            }
            return Ok(Written::Dropped);
        }
        if self.o.lossy {
            return match self.writer.try_send(msg) {
                Ok(()) => Ok(Written::Yes),
                Err(TrySendError::Full) => {
                    Counters::add(&self.counters.dropped, 1);
                    Ok(Written::Dropped)
                }
                Err(e) => Err(self.send_error(match e {
                    TrySendError::Corrupt(c) => SendError::Corrupt(c),
                    TrySendError::TooLarge { len, max } => SendError::TooLarge { len, max },
                    _ => SendError::Timeout,
                })),
            };
        }
        loop {
            match self.writer.send_timeout(msg, TICK) {
                Ok(()) => {
                    self.waiting_for_reader = false;
                    return Ok(Written::Yes);
                }
                Err(SendError::Timeout) => {}
                Err(SendError::Disconnected) => {
                    // Full, and its reader has gone: wait for the next one (lossless).
                    if !self.waiting_for_reader {
                        eprintln!(
                            "mmring-zenoh in: {} is full and has no reader; waiting for one",
                            self.o.ring.display()
                        );
                        self.waiting_for_reader = true;
                    }
                    std::thread::park_timeout(TICK);
                }
                Err(e) => return Err(self.send_error(e)),
            }
            if self.stop.load(Ordering::Relaxed) {
                return Ok(Written::Stopped);
            }
        }
    }

    fn send_error(&self, source: SendError) -> BridgeError {
        BridgeError::Send {
            path: self.o.ring.clone(),
            source,
        }
    }

    fn ack(&self, s: &Sample, source: u64) -> Result<(), BridgeError> {
        let end = self.sources.get(&source).map_or(0, |x| x.end);
        self.session
            .put(
                ack_key(s.key_expr().as_str()),
                Ack { source, end }.encode().to_vec(),
            )
            .congestion_control(CongestionControl::Block)
            .express(true)
            .wait()
            .map_err(BridgeError::zenoh("put acknowledgement"))
    }
}
