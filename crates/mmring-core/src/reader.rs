//! The consumer handle.

use crate::data::View;
use crate::error::{Corrupt, OpenError, PodError, RecvError, Side, TryRecvError};
use crate::region::{wait_words, PeerWatch, Region};
use crate::ring::notify::WaitWords;
use crate::ring::{Consumer, Peeked, Shared};
use crate::wait::{self, Blocked, Blocking, Deadline, WaitStrategy};
use std::ops::Deref;
#[cfg(not(loom))]
use std::path::Path;
use std::time::Duration;
#[cfg(not(loom))]
use std::time::Instant;

/// The receiving end of a ring. Exactly one live `Reader` exists per ring, across processes.
///
/// Messages are borrowed in place (zero-copy) and their space goes back to the writer when the
/// borrow ends.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("mmring-doc-reader-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// use mmring_core::{Reader, TryRecvError, Writer};
/// let mut r = Reader::create(&path, 4096)?;
/// let mut w = Writer::open(&path)?;
/// w.try_send(b"ping").unwrap();
/// {
///     let msg = r.try_recv().unwrap(); // borrowed from the mapping
///     assert_eq!(&*msg, b"ping");
/// } // released here
/// assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Empty);
/// drop(w);
/// assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Disconnected);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), mmring_core::OpenError>(())
/// ```
#[derive(Debug)]
pub struct Reader {
    shared: Shared,
    cons: Consumer,
    strategy: WaitStrategy,
    poisoned: Option<Corrupt>,
    /// Empty polls so far; the clock is read on every 64th only (see `writer_gone`).
    #[cfg(not(loom))]
    empty_polls: u32,
    /// Set in a forked child that hands this end to its parent: drop without detaching.
    pub(crate) detached: bool,
    watch: PeerWatch,
    region: Region,
}

/// Whether a writer is there, as a reader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterStatus {
    /// No writer has attached to this ring yet.
    Never,
    /// A writer is attached; its process id.
    Alive(u32),
    /// A writer attached and has since gone (exited, detached or died).
    Gone,
}

impl Reader {
    /// Creates a ring file at `path` with `capacity` data bytes and attaches as its reader.
    ///
    /// # Errors
    /// As [`Writer::create`](crate::Writer::create).
    #[cfg(not(loom))]
    pub fn create(path: impl AsRef<Path>, capacity: u64) -> Result<Reader, OpenError> {
        crate::RingOptions::new().create(capacity).open_reader(path)
    }

    /// Attaches as the reader of the existing ring at `path`.
    ///
    /// # Errors
    /// As [`Writer::open`](crate::Writer::open).
    #[cfg(not(loom))]
    pub fn open(path: impl AsRef<Path>) -> Result<Reader, OpenError> {
        crate::RingOptions::new().open_reader(path)
    }

    /// Opens the ring at `path`, creating it with `capacity` data bytes if nothing is there.
    ///
    /// # Errors
    /// As [`Reader::create`] and [`Reader::open`].
    #[cfg(not(loom))]
    pub fn open_or_create(path: impl AsRef<Path>, capacity: u64) -> Result<Reader, OpenError> {
        crate::RingOptions::new()
            .create_if_missing(capacity)
            .open_reader(path)
    }

    pub(crate) fn attach(region: Region, strategy: WaitStrategy) -> Result<Reader, OpenError> {
        region.claim(Side::Reader)?;
        let shared = region.shared();
        let cons = match Consumer::attach(&shared) {
            Ok(c) => c,
            Err(source) => {
                region.detach(Side::Reader);
                return Err(OpenError::Corrupt {
                    path: region.path().to_path_buf(),
                    source,
                });
            }
        };
        Ok(Reader {
            watch: PeerWatch::new(&region, Side::Writer),
            shared,
            cons,
            strategy,
            poisoned: None,
            #[cfg(not(loom))]
            empty_polls: 0,
            detached: false,
            region,
        })
    }

    /// Data capacity of the ring in bytes.
    pub fn capacity(&self) -> u64 {
        self.shared.geo.cap
    }

    /// The longest message this ring accepts.
    pub fn max_message_len(&self) -> usize {
        self.shared.geo.max_msg as usize
    }

    /// The path this ring was opened at (`<anonymous ring>` for anonymous rings).
    #[cfg(not(loom))]
    pub fn path(&self) -> &Path {
        self.region.path()
    }

    /// Changes how blocking calls wait.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    /// Whether a writer is attached, has never been, or has gone (asks the kernel).
    pub fn writer_status(&self) -> WriterStatus {
        if self.region.side_epoch(Side::Writer) == 0 {
            WriterStatus::Never
        } else if self.region.side_alive(Side::Writer, true) {
            WriterStatus::Alive(self.region.side_pid(Side::Writer))
        } else {
            WriterStatus::Gone
        }
    }

    /// Bytes committed and not yet received (as last seen by this reader).
    pub fn pending(&self) -> u64 {
        self.cons.pending()
    }

    /// Whether a writer this reader has seen has gone (see `PeerWatch`). The clock is read on
    /// every 64th empty poll only (the first included), and the kernel is asked when
    /// `PeerWatch` says a deep probe is due; the other polls read the header only.
    fn writer_gone(&mut self) -> bool {
        #[cfg(not(loom))]
        {
            self.empty_polls = self.empty_polls.wrapping_add(1);
            if self.empty_polls % 64 == 1 {
                return self.watch.gone_at(&self.region, Instant::now());
            }
            self.watch.gone(&self.region, false)
        }
        #[cfg(loom)]
        self.watch.gone(&self.region, true)
    }

    #[cold]
    fn poison(&mut self, c: Corrupt) -> Corrupt {
        self.poisoned = Some(c);
        c
    }

    #[inline(always)]
    fn peek(&mut self) -> Result<Option<Peeked>, Corrupt> {
        if let Some(c) = self.poisoned {
            return Err(c);
        }
        self.cons.peek(&self.shared).map_err(|c| self.poison(c))
    }

    #[inline(always)]
    fn message(&mut self, p: Peeked) -> Message<'_> {
        let view = self.shared.data.view(p.off, p.len);
        Message {
            reader: self,
            view: Some(view),
            next: p.next,
        }
    }

    /// Polls once for the next message, without blocking.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when nothing is committed; [`TryRecvError::Disconnected`] when
    /// nothing is committed and the writer has gone; [`TryRecvError::Corrupt`].
    #[inline]
    pub fn try_recv(&mut self) -> Result<Message<'_>, TryRecvError> {
        match self.peek()? {
            Some(p) => Ok(self.message(p)),
            None => Err(self.empty_reason()?),
        }
    }

    /// After an empty poll: `Empty` or, if the writer has gone, a last look then `Disconnected`.
    fn empty_reason(&mut self) -> Result<TryRecvError, Corrupt> {
        if !self.writer_gone() {
            return Ok(TryRecvError::Empty);
        }
        // The writer's last publication happens before it is seen gone; look once more.
        Ok(match self.peek()? {
            Some(_) => TryRecvError::Empty,
            None => TryRecvError::Disconnected,
        })
    }

    /// Polls once and copies the next message out.
    ///
    /// # Errors
    /// As [`Reader::try_recv`].
    pub fn try_recv_vec(&mut self) -> Result<Vec<u8>, TryRecvError> {
        self.try_recv().map(|m| m.to_vec())
    }

    /// Polls once for a message of exactly `size_of::<T>()` bytes and copies it out as a `T`.
    ///
    /// # Errors
    /// As [`Reader::try_recv`], and [`TryRecvError::WrongSize`] (the message stays in the ring).
    pub fn try_recv_pod<T: bytemuck::Pod>(&mut self) -> Result<T, TryRecvError> {
        let p = match self.peek()? {
            Some(p) => p,
            None => return Err(self.empty_reason()?),
        };
        pod_of(self.message(p))
            .map_err(|(expected, actual)| TryRecvError::WrongSize { expected, actual })
    }

    fn recv_until(&mut self, deadline: Deadline) -> Result<Peeked, RecvError> {
        if let Some(p) = self.peek()? {
            return Ok(p);
        }
        let strategy = self.strategy;
        match wait::block(&mut ReaderPoll { r: self }, strategy, deadline) {
            Ok(p) => Ok(p),
            Err(Blocked::Timeout) => Err(RecvError::Timeout),
            Err(Blocked::Disconnected) => Err(RecvError::Disconnected),
            Err(Blocked::Corrupt(c)) => Err(RecvError::Corrupt(self.poison(c))),
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
    /// # Errors
    /// [`RecvError::Disconnected`], [`RecvError::Corrupt`].
    #[inline]
    pub fn recv(&mut self) -> Result<Message<'_>, RecvError> {
        let p = self.recv_until(None)?;
        Ok(self.message(p))
    }

    /// Like [`Reader::recv`], giving up with [`RecvError::Timeout`] after `timeout`.
    ///
    /// # Errors
    /// As [`Reader::recv`], and [`RecvError::Timeout`].
    #[cfg(not(loom))]
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Message<'_>, RecvError> {
        let p = self.recv_until(Some(Instant::now() + timeout))?;
        Ok(self.message(p))
    }

    /// Waits for the next message and copies it out.
    ///
    /// # Errors
    /// As [`Reader::recv`].
    pub fn recv_vec(&mut self) -> Result<Vec<u8>, RecvError> {
        self.recv().map(|m| m.to_vec())
    }

    /// Waits for the next message, which must be exactly `size_of::<T>()` bytes, and copies it
    /// out as a `T` (any alignment).
    ///
    /// # Errors
    /// As [`Reader::recv`], and [`RecvError::WrongSize`] (the message stays in the ring).
    pub fn recv_pod<T: bytemuck::Pod>(&mut self) -> Result<T, RecvError> {
        let p = self.recv_until(None)?;
        pod_of(self.message(p))
            .map_err(|(expected, actual)| RecvError::WrongSize { expected, actual })
    }

    /// Starts a batch: messages are read in place one after another and all their space goes
    /// back to the writer with one cursor publication when the batch drops.
    ///
    /// ```
    /// # let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// # for i in 0u8..3 { w.try_send(&[i]).unwrap(); }
    /// let mut batch = r.batch();
    /// let mut seen = Vec::new();
    /// while let Some(msg) = batch.next()? {
    ///     seen.push(msg[0]);
    /// }
    /// drop(batch);
    /// assert_eq!(seen, [0, 1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn batch(&mut self) -> Batch<'_> {
        Batch {
            reader: self,
            current: None,
            count: 0,
        }
    }

    /// Hands up to `max` committed messages to `f`, in order, then releases them all at once.
    /// Returns how many were handled; never blocks.
    ///
    /// # Errors
    /// When no message was handled: [`TryRecvError::Empty`] or [`TryRecvError::Disconnected`]
    /// as in [`Reader::try_recv`]; [`TryRecvError::Corrupt`] in any case.
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> Result<usize, TryRecvError> {
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
            return Err(self.empty_reason()?);
        }
        Ok(n)
    }

    /// Gives consumed space back and wakes the writer if it sleeps for room.
    #[inline]
    fn release(&mut self) {
        if self.cons.release(&self.shared) {
            let words = self.writer_words();
            if words.should_wake() {
                words.bump();
                self.region.wake(words.seq);
            }
        }
    }

    fn writer_words(&self) -> WaitWords<'_> {
        wait_words(self.shared.hdr(), Side::Writer)
    }
}

fn pod_of<T: bytemuck::Pod>(m: Message<'_>) -> Result<T, (usize, usize)> {
    let expected = std::mem::size_of::<T>();
    if m.len() != expected {
        let actual = m.len();
        m.keep();
        return Err((expected, actual));
    }
    Ok(bytemuck::pod_read_unaligned(&m))
}

impl Drop for Reader {
    fn drop(&mut self) {
        if !self.detached {
            self.release();
            self.region.detach(Side::Reader);
        }
    }
}

/// What a blocked reader waits for: a record, or its writer's disappearance.
struct ReaderPoll<'a> {
    r: &'a mut Reader,
}

impl Blocking for ReaderPoll<'_> {
    type Ready = Peeked;

    fn poll(&mut self) -> Result<Option<Peeked>, Corrupt> {
        self.r.cons.peek(&self.r.shared)
    }

    fn peer_gone(&mut self, deep: bool) -> bool {
        self.r.watch.gone(&self.r.region, deep)
    }

    #[cfg(not(loom))]
    fn watch_at(&mut self, now: Instant) -> bool {
        self.r.watch.gone_at(&self.r.region, now)
    }

    #[cfg(not(loom))]
    fn next_probe(&self) -> Instant {
        self.r.watch.next_deep()
    }

    fn words(&self) -> WaitWords<'_> {
        wait_words(self.r.shared.hdr(), Side::Reader)
    }

    fn sleep(&self, seq: u32, timeout: Option<Duration>) {
        self.r.region.sleep(self.words().seq, seq, timeout)
    }
}

/// A message borrowed from the ring. Its bytes stay the reader's until it drops; then their
/// space goes back to the writer.
///
/// Payloads start 8-byte aligned, so [`Message::as_pod`] works in place for types with
/// alignment up to 8.
#[derive(Debug)]
pub struct Message<'a> {
    reader: &'a mut Reader,
    view: Option<View>,
    next: u64,
}

impl Message<'_> {
    /// Views the payload as a `T` in place (no copy).
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

    /// Leaves the message in the ring: the next receive returns it again.
    pub fn keep(mut self) {
        self.view = None;
        self.next = 0;
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
            self.reader.cons.consume(self.next);
            self.reader.release();
        }
    }
}

/// Messages read in place one after another, released together. See [`Reader::batch`].
#[derive(Debug)]
pub struct Batch<'a> {
    reader: &'a mut Reader,
    current: Option<View>,
    count: usize,
}

impl Batch<'_> {
    /// The next committed message, or `None` when the ring is empty now. The previous one is
    /// consumed (it will be released with the batch).
    ///
    /// # Errors
    /// [`Corrupt`] when the ring holds something a correct writer never writes.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<Option<&[u8]>, Corrupt> {
        self.current = None;
        match self.reader.peek()? {
            Some(p) => {
                self.reader.cons.consume(p.next);
                self.count += 1;
                let view = self
                    .current
                    .insert(self.reader.shared.data.view(p.off, p.len));
                Ok(Some(view.as_slice()))
            }
            None => Ok(None),
        }
    }

    /// How many messages the batch has handed out.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch has handed out nothing yet.
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
