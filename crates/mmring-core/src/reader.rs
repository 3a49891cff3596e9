//! The consumer handle.

use crate::data::View;
use crate::error::{Corrupt, OpenError, PodError, RecvError, TryRecvError};
use crate::handle::Handle;
use crate::layout::KIND_TETHERED;
use crate::os::Region;
use crate::ring::claim::{self, Role, StartAt};
use crate::ring::notify::wake_writer;
use crate::ring::{Consumer, Peeked};
use crate::sync::Ordering;
use crate::wait::{self, Blocked, Deadline, WaitStrategy};
use std::ops::Deref;
#[cfg(not(loom))]
use std::path::Path;
#[cfg(not(loom))]
use std::time::{Duration, Instant};

/// The receiving end of a ring. One live `Reader` per reader slot, across processes (a ring
/// has one slot unless created with more).
///
/// Messages are read in place (zero-copy) or copied out. Their space goes back to the writer
/// lazily: when the reader finds the ring empty, when a [`Batch`] or [`Reader::drain`] ends,
/// once an eighth of the ring is consumed, when the writer has announced that it waits for
/// room, on [`Reader::release`], and when the reader is dropped.
///
/// # Zero-copy reads and the peer
/// A [`Message`] (and [`Batch::next`], [`Reader::drain`]) hands out a `&[u8]` into the shared
/// mapping. That is sound as long as the writer follows the protocol, which never writes bytes
/// it has committed until the reader has released them. A peer that does (a buggy or hostile
/// process with write access to the ring) turns such a read into a data race, which the Rust
/// memory model calls undefined behaviour. Against a peer you do not trust, use the copying
/// methods ([`Reader::recv_vec`], [`Reader::try_recv_vec`], [`Message::to_vec`],
/// [`Message::copy_to_slice`], the `_pod` methods): they read the mapping with atomic loads and
/// are sound whatever the peer does (it can only make you read wrong bytes). Framing is never
/// trusted either way: every record header is validated before use.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("mmring-doc-reader-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// use mmring_core::{Reader, TryRecvError, Writer};
/// let mut r = Reader::create(&path, 4096)?;
/// let mut w = Writer::open(&path)?;
/// w.try_send(b"ping")?;
/// {
///     let msg = r.try_recv()?; // borrowed from the mapping
///     assert_eq!(&*msg, b"ping");
/// } // consumed here
/// assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Empty);
/// drop(w);
/// assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Disconnected);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Reader {
    pub(crate) h: Handle,
    pub(crate) cons: Consumer,
    /// Bytes this reader's slot lost before it attached (reported once, as `Lapped`).
    missed: u64,
}

/// Whether a writer is there, as a reader sees it.
///
/// ```
/// use mmring_core::WriterStatus;
/// let (w, r) = mmring_core::anonymous(4096)?;
/// assert!(matches!(r.writer_status(), WriterStatus::Alive(_)));
/// drop(w);
/// assert_eq!(r.writer_status(), WriterStatus::Gone);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterStatus {
    /// No writer has attached to this ring yet.
    Never,
    /// A writer is attached; its process id.
    Alive(u32),
    /// A writer attached and has since gone (exited, detached or died).
    Gone,
}

/// The next message or nothing; on nothing, reports a truncated file and (unless inside a
/// batch, whose messages go back only when it ends) gives consumed space back: the reader is
/// idle, so the writer should have it.
#[inline(always)]
pub(crate) fn poll(
    cons: &mut Consumer,
    h: &Handle,
    in_batch: bool,
) -> Result<Option<Peeked>, Corrupt> {
    let p = cons.peek(&h.shared)?;
    if p.is_none() {
        h.shared.check_truncated()?;
        if !in_batch && cons.release(&h.shared) {
            wake_writer(&h.shared, &h.region);
        }
    }
    Ok(p)
}

/// Consumes up to `next`; gives the space back now if the writer should have it.
#[inline(always)]
fn consume(cons: &mut Consumer, h: &Handle, next: u64) {
    cons.consume(next);
    if cons.should_release(&h.shared) && cons.release(&h.shared) {
        wake_writer(&h.shared, &h.region);
    }
}

impl Reader {
    /// Creates a ring file at `path` with `capacity` data bytes and attaches as its reader.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-rcreate-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let r = mmring_core::Reader::create(&path, 4096)?;
    /// assert_eq!(r.capacity(), 4096);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Writer::create`](crate::Writer::create).
    #[cfg(not(loom))]
    pub fn create(path: impl AsRef<Path>, capacity: usize) -> Result<Reader, OpenError> {
        crate::RingOptions::new().create(capacity).open_reader(path)
    }

    /// Attaches as the reader of the existing ring at `path` (its first free reader slot).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-ropen-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let w = mmring_core::Writer::create(&path, 4096)?;
    /// let r = mmring_core::Reader::open(&path)?;
    /// assert!(w.is_reader_alive());
    /// # drop(r); std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Writer::open`](crate::Writer::open).
    #[cfg(not(loom))]
    pub fn open(path: impl AsRef<Path>) -> Result<Reader, OpenError> {
        crate::RingOptions::new().open_reader(path)
    }

    /// Opens the ring at `path`, creating it with `capacity` data bytes if nothing is there.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-roc-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let r = mmring_core::Reader::open_or_create(&path, 4096)?;
    /// # drop(r); std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Reader::create`] and [`Reader::open`].
    #[cfg(not(loom))]
    pub fn open_or_create(path: impl AsRef<Path>, capacity: usize) -> Result<Reader, OpenError> {
        crate::RingOptions::new()
            .create_if_missing(capacity)
            .open_reader(path)
    }

    pub(crate) fn attach(
        region: Region,
        strategy: WaitStrategy,
        start: StartAt,
    ) -> Result<Reader, OpenError> {
        let (h, join) = Handle::attach_reader(region, strategy, KIND_TETHERED, start)?;
        match Consumer::attach(&h.shared, join.slot, join.pos) {
            Ok(cons) => Ok(Reader {
                h,
                cons,
                missed: join.missed,
            }),
            Err(c) => Err(h.abandon(c)),
        }
    }

    /// The loss this reader's slot had before it attached, reported once.
    #[inline(always)]
    fn take_missed(&mut self) -> Result<(), TryRecvError> {
        if self.missed == 0 {
            return Ok(());
        }
        let missed_bytes = std::mem::take(&mut self.missed);
        Err(TryRecvError::Lapped {
            missed_bytes,
            missed_messages: None,
        })
    }

    /// Data capacity of the ring in bytes.
    ///
    /// ```
    /// let (_w, r) = mmring_core::anonymous(4096)?;
    /// assert_eq!(r.capacity(), 4096);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.h.shared.geo.cap as usize
    }

    /// The longest message this ring accepts.
    ///
    /// ```
    /// let (_w, r) = mmring_core::anonymous(4096)?;
    /// assert_eq!(r.max_message_len(), 2040);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_message_len(&self) -> usize {
        self.h.shared.geo.max_msg as usize
    }

    /// The path this ring was opened at (`<anonymous ring>` for anonymous rings).
    ///
    /// ```
    /// let (_w, r) = mmring_core::anonymous(4096)?;
    /// assert_eq!(r.path(), std::path::Path::new("<anonymous ring>"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(loom))]
    pub fn path(&self) -> &Path {
        self.h.region.path()
    }

    /// Changes how blocking calls wait.
    ///
    /// ```
    /// let (_w, mut r) = mmring_core::anonymous(4096)?;
    /// r.set_wait_strategy(mmring_core::WaitStrategy::SpinYield);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.h.strategy = strategy;
    }

    /// Whether a writer is attached, has never been, or has gone (asks the kernel).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-wstatus-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// use mmring_core::{Reader, WriterStatus};
    /// let r = Reader::create(&path, 4096)?;
    /// assert_eq!(r.writer_status(), WriterStatus::Never);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn writer_status(&self) -> WriterStatus {
        if claim::epoch(&self.h.shared, Role::Writer) == 0 {
            WriterStatus::Never
        } else if self.h.peer_alive() {
            WriterStatus::Alive(claim::pid(&self.h.shared, Role::Writer))
        } else {
            WriterStatus::Gone
        }
    }

    /// Bytes committed and not yet received, read fresh from the writer's `write_pos` (framing
    /// included; 0 if the writer's cursor is behind ours, which only a writer that died
    /// between a commit and its cursor update leaves).
    ///
    /// ```
    /// let (mut w, r) = mmring_core::anonymous(4096)?;
    /// w.try_send(b"abc")?;
    /// assert_eq!(r.pending(), 16);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pending(&self) -> usize {
        // Acquire: pairs with the Release store in `Producer::publish`.
        let w = self.h.shared.hdr().write_pos.load(Ordering::Acquire);
        w.saturating_sub(self.cons.position()) as usize
    }

    /// This reader's readiness handle, for an event loop (see [`Readiness`](crate::Readiness)):
    /// made on first use, with the reader's doorbell.
    ///
    /// # Errors
    /// The system call that failed (making the doorbell FIFO next to the ring, an epoll
    /// instance, a timer).
    #[cfg(not(loom))]
    pub fn readiness(&mut self) -> std::io::Result<crate::Readiness> {
        self.h.readiness()
    }

    /// Arms the readiness handle before an event loop waits on it: `Ok(true)` if there is
    /// something to receive now (a message, or an error such as a writer that has gone:
    /// call [`Reader::try_recv`] instead of waiting), `Ok(false)` if armed (wait until the
    /// handle is readable, then call [`Reader::finish_wait`]). The writer makes a system call
    /// to wake this reader only while it is armed.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-prepare-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = mmring_core::Writer::create(&path, 4096)?;
    /// let mut r = mmring_core::Reader::open(&path)?;
    /// w.send(b"there already")?;
    /// assert!(r.prepare_wait()?); // no need to wait
    /// assert_eq!(r.try_recv_vec()?, b"there already");
    /// # drop(r); std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Reader::readiness`].
    #[cfg(not(loom))]
    pub fn prepare_wait(&mut self) -> std::io::Result<bool> {
        if self.missed != 0 || self.h.check().is_err() {
            return Ok(true);
        }
        let cons = &mut self.cons;
        self.h
            .prepare_wait(|h| !matches!(cons.peek(&h.shared), Ok(None)))
    }

    /// Disarms the readiness handle after it fired (or to stop waiting) and empties it.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-finish-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let _w = mmring_core::Writer::create(&path, 4096)?;
    /// let mut r = mmring_core::Reader::open(&path)?;
    /// assert!(!r.prepare_wait()?);
    /// r.finish_wait(); // changed our mind
    /// # drop(r); std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(loom))]
    pub fn finish_wait(&mut self) {
        self.h.finish_wait()
    }

    /// Gives every consumed message's space back to the writer now (and wakes it if it waits
    /// for room). Receiving does this by itself when the ring is empty, after a batch and
    /// every eighth of the ring; call this when you stop receiving for a while.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send(b"a")?;
    /// r.try_recv_vec()?;
    /// r.release();
    /// assert_eq!(w.in_flight()?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&mut self) {
        if self.cons.release(&self.h.shared) {
            wake_writer(&self.h.shared, &self.h.region);
        }
    }

    #[inline(always)]
    fn peek(&mut self) -> Result<Option<Peeked>, Corrupt> {
        self.peek_in(false)
    }

    #[inline(always)]
    fn peek_in(&mut self, in_batch: bool) -> Result<Option<Peeked>, Corrupt> {
        self.h.check()?;
        poll(&mut self.cons, &self.h, in_batch).map_err(|c| self.h.poison(c))
    }

    #[inline(always)]
    pub(crate) fn message(&mut self, p: Peeked) -> Message<'_> {
        let view = self.h.shared.data.view(p.off, p.len);
        Message {
            reader: self,
            view: Some(view),
            next: p.next,
        }
    }

    /// After an empty poll: `Empty` or, if the writer has gone, a last look then `Disconnected`.
    fn empty_reason(&mut self) -> Result<TryRecvError, Corrupt> {
        if !self.h.peer_gone_polled() {
            return Ok(TryRecvError::Empty);
        }
        self.gone_reason()
    }

    /// The writer has gone: everything it published before going is visible, take a last look.
    fn gone_reason(&mut self) -> Result<TryRecvError, Corrupt> {
        if self.peek()?.is_some() {
            return Ok(TryRecvError::Empty);
        }
        self.cons
            .check_empty(&self.h.shared)
            .map_err(|c| self.h.poison(c))?;
        Ok(TryRecvError::Disconnected)
    }

    /// Polls once for the next message, without blocking.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send(b"x")?;
    /// assert_eq!(&*r.try_recv()?, b"x");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when nothing is committed; [`TryRecvError::Disconnected`] when
    /// nothing is committed and the writer has gone; [`TryRecvError::Corrupt`].
    #[inline]
    #[must_use = "dropping the message consumes it"]
    pub fn try_recv(&mut self) -> Result<Message<'_>, TryRecvError> {
        self.take_missed()?;
        match self.peek()? {
            Some(p) => Ok(self.message(p)),
            None => Err(self.empty_reason()?),
        }
    }

    /// Polls once and copies the next message out (sound against any peer: see the type docs).
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send(b"copy")?;
    /// assert_eq!(r.try_recv_vec()?, b"copy");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Reader::try_recv`].
    pub fn try_recv_vec(&mut self) -> Result<Vec<u8>, TryRecvError> {
        self.try_recv().map(|m| m.to_vec())
    }

    /// Polls once for a message of exactly `size_of::<T>()` bytes and copies it out as a `T`.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send_pod(&[1u8, 2])?;
    /// assert_eq!(r.try_recv_pod::<[u8; 2]>()?, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Reader::try_recv`], and [`TryRecvError::WrongSize`] (the message stays in the ring).
    pub fn try_recv_pod<T: bytemuck::Pod>(&mut self) -> Result<T, TryRecvError> {
        self.take_missed()?;
        let p = match self.peek()? {
            Some(p) => p,
            None => return Err(self.empty_reason()?),
        };
        pod_of(self.message(p))
            .map_err(|(expected, actual)| TryRecvError::WrongSize { expected, actual })
    }

    /// Discards the next message without reading it (for one of the wrong size, say).
    /// Returns its length.
    ///
    /// ```
    /// use mmring_core::TryRecvError;
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send(&[0; 3])?;
    /// w.try_send_pod(&5u32)?;
    /// assert!(matches!(r.try_recv_pod::<u32>(), Err(TryRecvError::WrongSize { actual: 3, .. })));
    /// assert_eq!(r.try_skip()?, 3);
    /// assert_eq!(r.try_recv_pod::<u32>()?, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Reader::try_recv`].
    pub fn try_skip(&mut self) -> Result<usize, TryRecvError> {
        self.try_recv().map(|m| m.len())
    }

    fn recv_until(&mut self, deadline: Deadline) -> Result<Peeked, RecvError> {
        if let Some(p) = self.recv_start()? {
            return Ok(p);
        }
        let strategy = self.h.strategy;
        let cons = &mut self.cons;
        wait::block(&mut self.h, strategy, deadline, |h| poll(cons, h, false))
            .map_err(|b| self.blocked(b))
    }

    /// What a blocking receive does before it waits: reports a lap from before attaching, and
    /// polls once.
    pub(crate) fn recv_start(&mut self) -> Result<Option<Peeked>, RecvError> {
        if let Err(TryRecvError::Lapped {
            missed_bytes,
            missed_messages,
        }) = self.take_missed()
        {
            return Err(RecvError::Lapped {
                missed_bytes,
                missed_messages,
            });
        }
        Ok(self.peek()?)
    }

    /// The error a blocking receive reports when its wait ended without a message.
    pub(crate) fn blocked(&mut self, b: Blocked) -> RecvError {
        match b {
            Blocked::Timeout => RecvError::Timeout,
            Blocked::Disconnected => match self.cons.check_empty(&self.h.shared) {
                Ok(()) => RecvError::Disconnected,
                Err(c) => RecvError::Corrupt(self.h.poison(c)),
            },
            Blocked::Corrupt(c) => RecvError::Corrupt(self.h.poison(c)),
            Blocked::Reactor(kind) => RecvError::Reactor(kind),
        }
    }

    /// Waits for the next message as the wait strategy says.
    ///
    /// A reader waits for a writer if there is none yet (or only one that left before this
    /// reader attached). Once it has seen a writer (alive while this reader was attached, or
    /// attaching after it), every message that writer committed is delivered, then
    /// [`RecvError::Disconnected`] when it has gone (exited, dropped its `Writer`, or was
    /// killed). A new writer may attach later; the next `recv` then delivers its messages.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.send(b"wait for me")?;
    /// assert_eq!(&*r.recv()?, b"wait for me");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`RecvError::Disconnected`], [`RecvError::Corrupt`].
    #[inline]
    #[must_use = "dropping the message consumes it"]
    pub fn recv(&mut self) -> Result<Message<'_>, RecvError> {
        let p = self.recv_until(None)?;
        Ok(self.message(p))
    }

    /// Like [`Reader::recv`], giving up with [`RecvError::Timeout`] after `timeout`.
    ///
    /// ```
    /// let (_w, mut r) = mmring_core::anonymous(4096)?;
    /// let e = r.recv_timeout(std::time::Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(e, mmring_core::RecvError::Timeout);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Reader::recv`], and [`RecvError::Timeout`].
    #[cfg(not(loom))]
    #[must_use = "dropping the message consumes it"]
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Message<'_>, RecvError> {
        let p = self.recv_until(Some(Instant::now() + timeout))?;
        Ok(self.message(p))
    }

    /// Waits for the next message and copies it out (sound against any peer: see the type docs).
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.send(b"abc")?;
    /// assert_eq!(r.recv_vec()?, b"abc");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Reader::recv`].
    pub fn recv_vec(&mut self) -> Result<Vec<u8>, RecvError> {
        self.recv().map(|m| m.to_vec())
    }

    /// Waits for the next message, which must be exactly `size_of::<T>()` bytes, and copies it
    /// out as a `T` (any alignment).
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.send_pod(&-3i64)?;
    /// assert_eq!(r.recv_pod::<i64>()?, -3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Reader::recv`], and [`RecvError::WrongSize`] (the message stays in the ring).
    pub fn recv_pod<T: bytemuck::Pod>(&mut self) -> Result<T, RecvError> {
        let p = self.recv_until(None)?;
        pod_of(self.message(p))
            .map_err(|(expected, actual)| RecvError::WrongSize { expected, actual })
    }

    /// Starts a batch: messages are read in place one after another and all their space goes
    /// back to the writer with one release when the batch drops.
    ///
    /// ```
    /// # let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// # for i in 0u8..3 { w.try_send(&[i])?; }
    /// let mut batch = r.batch();
    /// let mut seen = Vec::new();
    /// while let Some(msg) = batch.next()? {
    ///     seen.push(msg[0]);
    /// }
    /// drop(batch);
    /// assert_eq!(seen, [0, 1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "a batch reads nothing until `next` is called"]
    pub fn batch(&mut self) -> Batch<'_> {
        Batch {
            reader: self,
            current: None,
            count: 0,
        }
    }

    /// Hands up to `max` committed messages to `f`, in order, then releases them all at once.
    /// Returns how many were handled; never blocks. `drain(0, f)` handles nothing and returns
    /// `Ok(0)` (or the reader's corruption, if it is poisoned).
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// for i in 0u8..5 { w.try_send(&[i])?; }
    /// let mut sum = 0;
    /// assert_eq!(r.drain(3, |m| sum += m[0])?, 3);
    /// assert_eq!(sum, 0 + 1 + 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// When no message was handled: [`TryRecvError::Empty`] or [`TryRecvError::Disconnected`]
    /// as in [`Reader::try_recv`]; [`TryRecvError::Corrupt`] in any case.
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> Result<usize, TryRecvError> {
        self.h.check()?;
        self.take_missed()?;
        if max == 0 {
            return Ok(0);
        }
        let mut batch = self.batch();
        while batch.count < max {
            match batch.next()? {
                Some(m) => f(m),
                None => break,
            }
        }
        let n = batch.count;
        drop(batch);
        if n == 0 {
            // `next` found nothing and, having handed out nothing, checked the writer.
            return Err(TryRecvError::Empty);
        }
        Ok(n)
    }
}

fn pod_of<T: bytemuck::Pod>(m: Message<'_>) -> Result<T, (usize, usize)> {
    let expected = std::mem::size_of::<T>();
    if m.len() != expected {
        let actual = m.len();
        m.keep();
        return Err((expected, actual));
    }
    let mut value = T::zeroed();
    m.copy_to_slice(bytemuck::bytes_of_mut(&mut value));
    Ok(value)
}

impl Drop for Reader {
    fn drop(&mut self) {
        if !self.h.detached {
            self.cons.release(&self.h.shared);
            self.h.detach();
        }
    }
}

/// A message borrowed from the ring. Its bytes stay the reader's until it drops; it is then
/// consumed (its space goes back to the writer with the reader's next release).
///
/// Payloads start 8-byte aligned, so [`Message::as_pod`] works in place for types with
/// alignment up to 8. The `&[u8]` it dereferences to is zero-copy, with the precondition stated
/// on [`Reader`]; [`Message::to_vec`] and [`Message::copy_to_slice`] copy soundly whatever the
/// peer does.
///
/// ```
/// let (mut w, mut r) = mmring_core::anonymous(4096)?;
/// w.try_send(b"in place")?;
/// let m = r.try_recv()?;
/// assert_eq!(m.len(), 8);
/// assert!(m.starts_with(b"in"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping the message consumes it"]
pub struct Message<'a> {
    reader: &'a mut Reader,
    view: Option<View>,
    next: u64,
}

impl Message<'_> {
    /// Views the payload as a `T` in place (no copy).
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send_pod(&[3u32, 4])?;
    /// let m = r.try_recv()?;
    /// assert_eq!(m.as_pod::<[u32; 2]>()?, &[3, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PodError::WrongSize`] unless the length is `size_of::<T>()`; [`PodError::Misaligned`]
    /// if `T` needs more than the payload's 8-byte alignment.
    pub fn as_pod<T: bytemuck::Pod>(&self) -> Result<&T, PodError> {
        let bytes: &[u8] = self;
        bytemuck::try_from_bytes(bytes).map_err(|e| match e {
            bytemuck::PodCastError::TargetAlignmentGreaterAndInputNotAligned => {
                PodError::Misaligned {
                    align: std::mem::align_of::<T>(),
                }
            }
            _ => PodError::WrongSize {
                expected: std::mem::size_of::<T>(),
                actual: bytes.len(),
            },
        })
    }

    /// Copies the payload out with atomic loads: sound whatever the peer does meanwhile.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send(b"abc")?;
    /// assert_eq!(r.try_recv()?.to_vec(), b"abc");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0; self.len()];
        self.copy_to_slice(&mut v);
        v
    }

    /// Copies the payload into `dst` with atomic loads (sound whatever the peer does).
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send(b"xyz")?;
    /// let mut buf = [0u8; 3];
    /// r.try_recv()?.copy_to_slice(&mut buf);
    /// assert_eq!(&buf, b"xyz");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    /// If `dst.len()` differs from the message length.
    pub fn copy_to_slice(&self, dst: &mut [u8]) {
        if let Some(v) = &self.view {
            v.copy_to(dst);
        } else {
            assert!(dst.is_empty(), "copy_to_slice: wrong destination length");
        }
    }

    /// The payload length (without touching its bytes).
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send(&[0; 10])?;
    /// assert_eq!(r.try_recv()?.len(), 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.view.as_ref().map_or(0, View::len)
    }

    /// Leaves the message in the ring: the next receive returns it again.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send(b"again")?;
    /// r.try_recv()?.keep();
    /// assert_eq!(r.try_recv_vec()?, b"again");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keep(mut self) {
        self.view = None;
    }
}

impl Deref for Message<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.view.as_ref().map_or(&[], |v| v.as_slice())
    }
}

impl Drop for Message<'_> {
    #[inline]
    fn drop(&mut self) {
        // The view ends before the release: under loom that closes the modelled read access.
        if self.view.take().is_some() {
            let r = &mut *self.reader;
            consume(&mut r.cons, &r.h, self.next);
        }
    }
}

/// Messages read in place one after another, released together. See [`Reader::batch`].
///
/// ```
/// let (mut w, mut r) = mmring_core::anonymous(4096)?;
/// w.try_send(b"a")?;
/// let mut b = r.batch();
/// assert_eq!(b.next()?, Some(&b"a"[..]));
/// assert_eq!(b.next()?, None);
/// assert_eq!(b.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "a batch reads nothing until `next` is called"]
pub struct Batch<'a> {
    reader: &'a mut Reader,
    current: Option<View>,
    count: usize,
}

impl Batch<'_> {
    /// The next committed message, or `None` when the ring is empty now. The previous one is
    /// consumed (it will be released with the batch). Like [`Reader::drain`], a batch that has
    /// handed out nothing reports a writer that has gone as
    /// [`TryRecvError::Disconnected`]; once it handed out a message, it ends with `None`.
    ///
    /// ```
    /// use mmring_core::TryRecvError;
    /// let (w, mut r) = mmring_core::anonymous(4096)?;
    /// drop(w);
    /// assert_eq!(r.batch().next(), Err(TryRecvError::Disconnected));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`TryRecvError::Disconnected`] as above; [`TryRecvError::Corrupt`] when the ring holds
    /// something a correct writer never writes.
    #[allow(clippy::should_implement_trait)]
    #[inline(always)]
    pub fn next(&mut self) -> Result<Option<&[u8]>, TryRecvError> {
        Ok(self.advance()?.map(View::as_slice))
    }

    /// Like [`Batch::next`], but copies the message into `dst` (cleared first) with atomic
    /// loads, which is sound whatever the peer does (see [`Reader`]). Returns whether there
    /// was a message.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send(b"copied")?;
    /// let mut buf = Vec::new();
    /// let mut b = r.batch();
    /// assert!(b.next_into(&mut buf)?);
    /// assert_eq!(buf, b"copied");
    /// assert!(!b.next_into(&mut buf)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Batch::next`].
    #[inline]
    pub fn next_into(&mut self, dst: &mut Vec<u8>) -> Result<bool, TryRecvError> {
        dst.clear();
        match self.advance()? {
            Some(v) => {
                dst.resize(v.len(), 0);
                v.copy_to(dst);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Consumes the previous message and views the next one.
    #[inline(always)]
    fn advance(&mut self) -> Result<Option<&View>, TryRecvError> {
        self.current = None;
        self.reader.take_missed()?;
        match self.reader.peek_in(true)? {
            Some(p) => {
                self.reader.cons.consume(p.next);
                self.count += 1;
                Ok(Some(
                    self.current
                        .insert(self.reader.h.shared.data.view(p.off, p.len)),
                ))
            }
            None if self.count == 0 => match self.reader.empty_reason()? {
                TryRecvError::Disconnected => Err(TryRecvError::Disconnected),
                _ => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// How many messages the batch has handed out.
    ///
    /// ```
    /// let (_w, mut r) = mmring_core::anonymous(4096)?;
    /// assert_eq!(r.batch().len(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch has handed out nothing yet.
    ///
    /// ```
    /// let (_w, mut r) = mmring_core::anonymous(4096)?;
    /// assert!(r.batch().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.current = None;
        self.reader.release();
    }
}
