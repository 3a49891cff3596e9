//! The producer handle.

use crate::data::ViewMut;
use crate::error::{Corrupt, OpenError, SendError, Side, TrySendError};
use crate::region::{wait_words, PeerWatch, Region};
use crate::ring::notify::WaitWords;
use crate::ring::{Producer, Reservation, Shared};
use crate::wait::{self, Blocked, Blocking, WaitStrategy};
use std::ops::{Deref, DerefMut};
#[cfg(not(loom))]
use std::path::Path;
use std::time::Duration;
#[cfg(not(loom))]
use std::time::Instant;

/// The sending end of a ring. Exactly one live `Writer` exists per ring, across processes.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("mmring-doc-writer-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// use mmring_core::{Reader, Writer};
/// let mut w = Writer::create(&path, 4096)?;
/// w.try_send(b"hello").unwrap();
/// let mut g = w.try_reserve(5).unwrap(); // zero-copy: fill the ring's bytes in place
/// g.copy_from_slice(b"world");
/// g.commit();
/// let mut r = Reader::open(&path)?;
/// assert_eq!(&*r.try_recv().unwrap(), b"hello");
/// assert_eq!(&*r.try_recv().unwrap(), b"world");
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), mmring_core::OpenError>(())
/// ```
#[derive(Debug)]
pub struct Writer {
    shared: Shared,
    prod: Producer,
    strategy: WaitStrategy,
    poisoned: Option<Corrupt>,
    /// Set in a forked child that hands this end to its parent: drop without detaching.
    pub(crate) detached: bool,
    watch: PeerWatch,
    region: Region,
}

impl Writer {
    /// Creates a ring file at `path` with `capacity` data bytes and attaches as its writer.
    ///
    /// # Errors
    /// [`OpenError::AlreadyExists`] if anything is at the path, [`OpenError::InvalidCapacity`],
    /// [`OpenError::NoSpace`], or another [`OpenError`] naming the path and the cause.
    #[cfg(not(loom))]
    pub fn create(path: impl AsRef<Path>, capacity: u64) -> Result<Writer, OpenError> {
        crate::RingOptions::new().create(capacity).open_writer(path)
    }

    /// Attaches as the writer of the existing ring at `path`.
    ///
    /// # Errors
    /// Any [`OpenError`] about the path, the file or its header, and [`OpenError::SideTaken`]
    /// while another live writer is attached.
    #[cfg(not(loom))]
    pub fn open(path: impl AsRef<Path>) -> Result<Writer, OpenError> {
        crate::RingOptions::new().open_writer(path)
    }

    /// Opens the ring at `path`, creating it with `capacity` data bytes if nothing is there.
    ///
    /// # Errors
    /// As [`Writer::create`] and [`Writer::open`].
    #[cfg(not(loom))]
    pub fn open_or_create(path: impl AsRef<Path>, capacity: u64) -> Result<Writer, OpenError> {
        crate::RingOptions::new()
            .create_if_missing(capacity)
            .open_writer(path)
    }

    pub(crate) fn attach(region: Region, strategy: WaitStrategy) -> Result<Writer, OpenError> {
        region.claim(Side::Writer)?;
        let shared = region.shared();
        let prod = match Producer::attach(&shared) {
            Ok(p) => p,
            Err(source) => {
                region.detach(Side::Writer);
                return Err(OpenError::Corrupt {
                    path: region.path().to_path_buf(),
                    source,
                });
            }
        };
        Ok(Writer {
            watch: PeerWatch::new(&region, Side::Reader),
            shared,
            prod,
            strategy,
            poisoned: None,
            detached: false,
            region,
        })
    }

    /// Data capacity of the ring in bytes.
    pub fn capacity(&self) -> u64 {
        self.shared.geo.cap
    }

    /// The longest message this ring accepts: `capacity / 2 - 8`.
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

    /// Whether a reader is attached now (asks the kernel whether its claim is held).
    pub fn is_reader_alive(&self) -> bool {
        self.region.side_alive(Side::Reader, true)
    }

    /// Bytes committed and not yet released by the reader (as last seen by this writer).
    pub fn in_flight(&self) -> u64 {
        self.prod.in_flight()
    }

    #[inline(always)]
    fn check(&self, len: usize) -> Result<u64, TrySendError<()>> {
        if let Some(c) = self.poisoned {
            return Err(TrySendError::Corrupt(c));
        }
        if len as u64 > self.shared.geo.max_msg {
            return Err(TrySendError::TooLarge {
                len,
                max: self.shared.geo.max_msg as usize,
            });
        }
        Ok(len as u64)
    }

    #[cold]
    fn poison(&mut self, c: Corrupt) -> Corrupt {
        self.poisoned = Some(c);
        c
    }

    #[inline(always)]
    fn grant(&mut self, res: Reservation, publish: bool) -> Grant<'_> {
        let view = self
            .shared
            .data
            .view_mut((res.pos & self.shared.geo.mask) + 8, res.len);
        Grant {
            writer: self,
            res,
            view: Some(view),
            publish,
        }
    }

    /// Reserves `len` bytes for a message without blocking; fill the grant and `commit` it.
    ///
    /// # Errors
    /// [`TrySendError::Full`] when there is no room now, [`TrySendError::TooLarge`],
    /// [`TrySendError::Corrupt`].
    #[inline]
    pub fn try_reserve(&mut self, len: usize) -> Result<Grant<'_>, TrySendError<()>> {
        let len = self.check(len)?;
        match self.prod.reserve(&self.shared, len) {
            Ok(Some(res)) => Ok(self.grant(res, true)),
            Ok(None) => Err(TrySendError::Full(())),
            Err(c) => Err(TrySendError::Corrupt(self.poison(c))),
        }
    }

    /// Sends a copy of `msg` without blocking.
    ///
    /// # Errors
    /// [`TrySendError::Full`] hands `msg` back when there is no room now; also
    /// [`TrySendError::TooLarge`] and [`TrySendError::Corrupt`].
    #[inline]
    pub fn try_send<'m>(&mut self, msg: &'m [u8]) -> Result<(), TrySendError<&'m [u8]>> {
        match self.try_reserve(msg.len()) {
            Ok(mut g) => {
                g.copy_from_slice(msg);
                g.commit();
                Ok(())
            }
            Err(e) => Err(map_err(e, msg)),
        }
    }

    /// Sends a plain-old-data value without blocking, as `size_of::<T>()` bytes.
    ///
    /// # Errors
    /// As [`Writer::try_send`], handing `value` back when full.
    pub fn try_send_pod<'m, T: bytemuck::Pod>(
        &mut self,
        value: &'m T,
    ) -> Result<(), TrySendError<&'m T>> {
        self.try_send(bytemuck::bytes_of(value))
            .map_err(|e| map_err(e, value))
    }

    fn reserve_until(&mut self, len: usize, deadline: Deadline) -> Result<Grant<'_>, SendError> {
        let len = match self.check(len) {
            Ok(l) => l,
            Err(TrySendError::TooLarge { len, max }) => {
                return Err(SendError::TooLarge { len, max })
            }
            Err(TrySendError::Corrupt(c)) => return Err(SendError::Corrupt(c)),
            Err(TrySendError::Full(())) => unreachable!("check never reports Full"),
        };
        let strategy = self.strategy;
        let mut poll = WriterPoll { w: self, len };
        match wait::block(&mut poll, strategy, deadline) {
            Ok(res) => Ok(self.grant(res, true)),
            Err(Blocked::Timeout) => Err(SendError::Timeout),
            Err(Blocked::Disconnected) => Err(SendError::Disconnected),
            Err(Blocked::Corrupt(c)) => Err(SendError::Corrupt(self.poison(c))),
        }
    }

    /// Reserves `len` bytes, waiting for room as the wait strategy says.
    ///
    /// # Errors
    /// [`SendError::Disconnected`] when the ring is full and its reader has gone;
    /// [`SendError::TooLarge`], [`SendError::Corrupt`].
    pub fn reserve(&mut self, len: usize) -> Result<Grant<'_>, SendError> {
        self.reserve_until(len, None)
    }

    /// Sends a copy of `msg`, waiting for room as the wait strategy says.
    ///
    /// # Errors
    /// As [`Writer::reserve`].
    pub fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        let mut g = self.reserve_until(msg.len(), None)?;
        g.copy_from_slice(msg);
        g.commit();
        Ok(())
    }

    /// Sends a plain-old-data value, waiting for room as the wait strategy says.
    ///
    /// # Errors
    /// As [`Writer::reserve`].
    pub fn send_pod<T: bytemuck::Pod>(&mut self, value: &T) -> Result<(), SendError> {
        self.send(bytemuck::bytes_of(value))
    }

    /// Like [`Writer::send`], giving up with [`SendError::Timeout`] after `timeout`.
    ///
    /// # Errors
    /// As [`Writer::reserve`], and [`SendError::Timeout`].
    #[cfg(not(loom))]
    pub fn send_timeout(&mut self, msg: &[u8], timeout: Duration) -> Result<(), SendError> {
        let mut g = self.reserve_until(msg.len(), Some(Instant::now() + timeout))?;
        g.copy_from_slice(msg);
        g.commit();
        Ok(())
    }

    /// Like [`Writer::reserve`], giving up with [`SendError::Timeout`] after `timeout`.
    ///
    /// # Errors
    /// As [`Writer::send_timeout`].
    #[cfg(not(loom))]
    pub fn reserve_timeout(
        &mut self,
        len: usize,
        timeout: Duration,
    ) -> Result<Grant<'_>, SendError> {
        self.reserve_until(len, Some(Instant::now() + timeout))
    }

    /// Starts a batch: messages sent through it become visible together, with one cursor
    /// publication (and at most one wake-up), when the batch is dropped or published.
    ///
    /// ```
    /// # let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// let mut batch = w.batch();
    /// for i in 0u8..10 {
    ///     batch.try_send(&[i]).unwrap();
    /// }
    /// drop(batch); // publishes all ten
    /// assert_eq!(r.drain(usize::MAX, |_| {})?, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn batch(&mut self) -> WriteBatch<'_> {
        WriteBatch { writer: self }
    }

    /// Publishes staged records and wakes the reader if it sleeps.
    #[inline]
    fn publish(&mut self) {
        if self.prod.publish(&self.shared) {
            let words = self.reader_words();
            if words.should_wake() {
                words.bump();
                self.region.wake(words.seq);
            }
        }
    }

    fn reader_words(&self) -> WaitWords<'_> {
        wait_words(self.shared.hdr(), Side::Reader)
    }

    /// Writes committed data to the file (`msync(MS_SYNC)`), for callers who need it to
    /// survive a machine crash. A process crash loses nothing committed even without it: the
    /// page cache holds the data. No-op in effect for anonymous rings.
    ///
    /// # Errors
    /// The error of `msync`.
    #[cfg(not(loom))]
    pub fn flush(&self) -> std::io::Result<()> {
        self.region.flush()
    }
}

use crate::wait::Deadline;

fn map_err<T>(e: TrySendError<impl Sized>, msg: T) -> TrySendError<T> {
    match e {
        TrySendError::Full(_) => TrySendError::Full(msg),
        TrySendError::TooLarge { len, max } => TrySendError::TooLarge { len, max },
        TrySendError::Corrupt(c) => TrySendError::Corrupt(c),
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.detached {
            self.publish();
            self.region.detach(Side::Writer);
        }
    }
}

/// What a blocked writer waits for: room for `len` bytes, or its reader's disappearance.
struct WriterPoll<'a> {
    w: &'a mut Writer,
    len: u64,
}

impl Blocking for WriterPoll<'_> {
    type Ready = Reservation;

    fn poll(&mut self) -> Result<Option<Reservation>, Corrupt> {
        self.w.prod.reserve(&self.w.shared, self.len)
    }

    fn peer_gone(&mut self, deep: bool) -> bool {
        self.w.watch.gone(&self.w.region, deep)
    }

    #[cfg(not(loom))]
    fn watch_at(&mut self, now: Instant) -> bool {
        self.w.watch.gone_at(&self.w.region, now)
    }

    #[cfg(not(loom))]
    fn next_probe(&self) -> Instant {
        self.w.watch.next_deep()
    }

    fn words(&self) -> WaitWords<'_> {
        wait_words(self.w.shared.hdr(), Side::Writer)
    }

    fn sleep(&self, seq: u32, timeout: Option<Duration>) {
        self.w.region.sleep(self.words().seq, seq, timeout)
    }
}

/// Room for one message in the ring, filled in place. `commit` publishes it; dropping the
/// grant without committing publishes nothing.
#[derive(Debug)]
pub struct Grant<'a> {
    writer: &'a mut Writer,
    res: Reservation,
    view: Option<ViewMut>,
    publish: bool,
}

impl Grant<'_> {
    /// Publishes the whole message.
    #[inline]
    pub fn commit(self) {
        let len = self.res.len;
        self.commit_len(len as usize)
    }

    /// Publishes the first `len` bytes only (for a grant reserved at a maximum size).
    ///
    /// # Panics
    /// If `len` exceeds the reserved length.
    #[inline]
    pub fn commit_len(mut self, len: usize) {
        assert!(
            len as u64 <= self.res.len,
            "commit_len({len}) beyond the reserved {}",
            self.res.len
        );
        if let Some(v) = self.view.take() {
            v.finish();
        }
        let res = Reservation {
            pos: self.res.pos,
            len: len as u64,
        };
        self.writer.prod.stage(&self.writer.shared, res);
        if self.publish {
            self.writer.publish();
        }
    }
}

impl Deref for Grant<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.view.as_ref().map_or(&[], |v| v.as_slice())
    }
}

impl DerefMut for Grant<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.view.as_mut().map_or(&mut [], |v| v.as_mut_slice())
    }
}

/// Messages staged by a [`Writer::batch`]; all become visible at once when it drops.
#[derive(Debug)]
pub struct WriteBatch<'a> {
    writer: &'a mut Writer,
}

impl WriteBatch<'_> {
    /// Reserves room for a message in the batch; it is staged by `commit` and published with
    /// the batch.
    ///
    /// # Errors
    /// As [`Writer::try_reserve`].
    #[inline]
    pub fn try_reserve(&mut self, len: usize) -> Result<Grant<'_>, TrySendError<()>> {
        let len = self.writer.check(len)?;
        match self.writer.prod.reserve(&self.writer.shared, len) {
            Ok(Some(res)) => Ok(self.writer.grant(res, false)),
            Ok(None) => Err(TrySendError::Full(())),
            Err(c) => Err(TrySendError::Corrupt(self.writer.poison(c))),
        }
    }

    /// Stages a copy of `msg`.
    ///
    /// # Errors
    /// As [`Writer::try_send`].
    #[inline]
    pub fn try_send<'m>(&mut self, msg: &'m [u8]) -> Result<(), TrySendError<&'m [u8]>> {
        match self.try_reserve(msg.len()) {
            Ok(mut g) => {
                g.copy_from_slice(msg);
                g.commit();
                Ok(())
            }
            Err(e) => Err(map_err(e, msg)),
        }
    }

    /// Publishes what is staged so far; the batch stays open.
    pub fn publish(&mut self) {
        self.writer.publish();
    }
}

impl Drop for WriteBatch<'_> {
    fn drop(&mut self) {
        self.writer.publish();
    }
}
