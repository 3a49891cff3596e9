//! The producer handle.

use crate::data::ViewMut;
use crate::error::{Corrupt, OpenError, SendError, TrySendError};
use crate::handle::Handle;
use crate::os::Region;
use crate::ring::notify::wake_readers;
use crate::ring::{Producer, Reservation};
use crate::wait::{self, Blocked, Deadline, WaitStrategy};
use std::ops::{Deref, DerefMut};
#[cfg(not(loom))]
use std::path::Path;
#[cfg(not(loom))]
use std::time::{Duration, Instant};

/// The sending end of a ring. Exactly one live `Writer` exists per ring, across processes.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("mmring-doc-writer-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// use mmring_core::{Reader, Writer};
/// let mut w = Writer::create(&path, 4096)?;
/// w.try_send(b"hello")?;
/// let mut g = w.try_reserve(5)?; // zero-copy: fill the ring's bytes in place
/// g.copy_from_slice(b"world");
/// g.commit();
/// let mut r = Reader::open(&path)?;
/// assert_eq!(r.try_recv_vec()?, b"hello");
/// assert_eq!(r.try_recv_vec()?, b"world");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Writer {
    pub(crate) h: Handle,
    pub(crate) prod: Producer,
}

impl Writer {
    /// Creates a ring file at `path` with `capacity` data bytes and attaches as its writer.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-wcreate-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let w = mmring_core::Writer::create(&path, 64 * 1024)?;
    /// assert_eq!(w.capacity(), 64 * 1024);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`OpenError::AlreadyExists`] if anything is at the path, [`OpenError::InvalidCapacity`],
    /// [`OpenError::NoSpace`], or another [`OpenError`] naming the path and the cause.
    #[cfg(not(loom))]
    pub fn create(path: impl AsRef<Path>, capacity: usize) -> Result<Writer, OpenError> {
        crate::RingOptions::new().create(capacity).open_writer(path)
    }

    /// Attaches as the writer of the existing ring at `path`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-wopen-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # mmring_core::RingOptions::new().create(4096).create_unattached(&path)?;
    /// let w = mmring_core::Writer::open(&path)?;
    /// # drop(w); std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-woc-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let w = mmring_core::Writer::open_or_create(&path, 4096)?;
    /// drop(w);
    /// let w = mmring_core::Writer::open_or_create(&path, 1 << 20)?; // opens: capacity stays
    /// assert_eq!(w.capacity(), 4096);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Writer::create`] and [`Writer::open`].
    #[cfg(not(loom))]
    pub fn open_or_create(path: impl AsRef<Path>, capacity: usize) -> Result<Writer, OpenError> {
        crate::RingOptions::new()
            .create_if_missing(capacity)
            .open_writer(path)
    }

    pub(crate) fn attach(region: Region, strategy: WaitStrategy) -> Result<Writer, OpenError> {
        let h = Handle::attach_writer(region, strategy)?;
        match Producer::attach(&h.shared) {
            Ok(prod) => Ok(Writer { h, prod }),
            Err(c) => Err(h.abandon(c)),
        }
    }

    /// Data capacity of the ring in bytes.
    ///
    /// ```
    /// let (w, _r) = mmring_core::anonymous(4096)?;
    /// assert_eq!(w.capacity(), 4096);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.h.shared.geo.cap as usize
    }

    /// The longest message this ring accepts: `capacity / 2 - 8`.
    ///
    /// ```
    /// let (w, _r) = mmring_core::anonymous(4096)?;
    /// assert_eq!(w.max_message_len(), 2040);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_message_len(&self) -> usize {
        self.h.shared.geo.max_msg as usize
    }

    /// The path this ring was opened at (`<anonymous ring>` for anonymous rings).
    ///
    /// ```
    /// let (w, _r) = mmring_core::anonymous(4096)?;
    /// assert_eq!(w.path(), std::path::Path::new("<anonymous ring>"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(loom))]
    pub fn path(&self) -> &Path {
        self.h.region.path()
    }

    /// Changes how blocking calls wait.
    ///
    /// ```
    /// let (mut w, _r) = mmring_core::anonymous(4096)?;
    /// w.set_wait_strategy(mmring_core::WaitStrategy::Spin);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.h.strategy = strategy;
    }

    /// Whether a reader is attached now (asks the kernel whether its claim is held).
    ///
    /// ```
    /// let (w, r) = mmring_core::anonymous(4096)?;
    /// assert!(w.is_reader_alive());
    /// drop(r);
    /// assert!(!w.is_reader_alive());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_reader_alive(&self) -> bool {
        self.h.peer_alive()
    }

    /// Bytes committed and not yet released by the slowest reader, read fresh from the
    /// readers' cursors (framing included). Readers give space back lazily (see
    /// [`Reader::release`](crate::Reader::release)), so this counts bytes they have consumed
    /// but not yet given back.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send(b"abc")?;
    /// assert_eq!(w.in_flight()?, 16);
    /// r.try_recv_vec()?;
    /// r.release();
    /// assert_eq!(w.in_flight()?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Corrupt`] when a reader's cursor is inconsistent; the writer is then poisoned.
    pub fn in_flight(&mut self) -> Result<usize, Corrupt> {
        self.h.check()?;
        if let Err(c) = self.prod.refresh(&self.h.shared, self.prod.position()) {
            return Err(self.h.poison(c));
        }
        Ok(self.prod.in_flight() as usize)
    }

    /// Poisoned, truncated, or too long: what every send checks first.
    #[inline(always)]
    fn check(&mut self, len: usize) -> Result<u64, TrySendError> {
        self.h.check()?;
        if let Err(c) = self.h.shared.check_truncated() {
            return Err(self.h.poison(c).into());
        }
        if len as u64 > self.h.shared.geo.max_msg {
            return Err(TrySendError::TooLarge {
                len,
                max: self.h.shared.geo.max_msg as usize,
            });
        }
        Ok(len as u64)
    }

    #[inline(always)]
    fn try_reserve_inner(&mut self, len: usize) -> Result<Reservation, TrySendError> {
        let len = self.check(len)?;
        match self
            .prod
            .reserve_probing(&self.h.shared, &self.h.region, len)
        {
            Ok(Some(res)) => Ok(res),
            Ok(None) => Err(TrySendError::Full),
            Err(c) => Err(self.h.poison(c).into()),
        }
    }

    #[inline(always)]
    pub(crate) fn grant(&mut self, res: Reservation, publish: bool) -> Grant<'_> {
        let view = self
            .h
            .shared
            .data
            .view_mut((res.pos & self.h.shared.geo.mask) + 8, res.len);
        Grant {
            writer: self,
            res,
            view: Some(view),
            publish,
        }
    }

    /// Reserves `len` bytes for a message without blocking; fill the grant and `commit` it.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// let mut g = w.try_reserve(3)?;
    /// g.copy_from_slice(b"abc");
    /// g.commit();
    /// assert_eq!(r.try_recv_vec()?, b"abc");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`TrySendError::Full`] when there is no room now, [`TrySendError::TooLarge`],
    /// [`TrySendError::Corrupt`].
    #[inline(always)]
    #[must_use = "a grant publishes nothing unless it is committed"]
    pub fn try_reserve(&mut self, len: usize) -> Result<Grant<'_>, TrySendError> {
        let res = self.try_reserve_inner(len)?;
        Ok(self.grant(res, true))
    }

    /// Sends a copy of `msg` without blocking.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send(b"hi")?;
    /// assert_eq!(r.try_recv_vec()?, b"hi");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`TrySendError::Full`] when there is no room now (the message is still yours);
    /// [`TrySendError::TooLarge`] and [`TrySendError::Corrupt`].
    #[inline(always)]
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        let mut g = self.try_reserve(msg.len())?;
        g.copy_from_slice(msg);
        g.commit();
        Ok(())
    }

    /// Sends a plain-old-data value without blocking, as `size_of::<T>()` bytes.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.try_send_pod(&42u64)?;
    /// assert_eq!(r.try_recv_pod::<u64>()?, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Writer::try_send`].
    pub fn try_send_pod<T: bytemuck::Pod>(&mut self, value: &T) -> Result<(), TrySendError> {
        self.try_send(bytemuck::bytes_of(value))
    }

    fn reserve_until(&mut self, len: usize, deadline: Deadline) -> Result<Grant<'_>, SendError> {
        let len = self.check_blocking(len)?;
        let strategy = self.h.strategy;
        let prod = &mut self.prod;
        match wait::block(&mut self.h, strategy, deadline, |h| {
            prod.reserve_probing(&h.shared, &h.region, len)
        }) {
            Ok(res) => Ok(self.grant(res, true)),
            Err(b) => Err(self.blocked(b)),
        }
    }

    /// What a blocking send checks before it waits; the length as the ring counts it.
    pub(crate) fn check_blocking(&mut self, len: usize) -> Result<u64, SendError> {
        self.check(len).map_err(|e| match e {
            TrySendError::TooLarge { len, max } => SendError::TooLarge { len, max },
            TrySendError::Corrupt(c) => SendError::Corrupt(c),
            TrySendError::Full => unreachable!("check never reports Full"),
        })
    }

    /// The error a blocking send reports when its wait ended without room.
    pub(crate) fn blocked(&mut self, b: Blocked) -> SendError {
        match b {
            Blocked::Timeout => SendError::Timeout,
            Blocked::Disconnected => SendError::Disconnected,
            Blocked::Corrupt(c) => SendError::Corrupt(self.h.poison(c)),
            Blocked::Reactor(kind) => SendError::Reactor(kind),
        }
    }

    /// Reserves `len` bytes, waiting for room as the wait strategy says.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// let mut g = w.reserve(4)?;
    /// g.copy_from_slice(&7u32.to_le_bytes());
    /// g.commit();
    /// assert_eq!(r.recv_pod::<u32>()?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`SendError::Disconnected`] when the ring is full and its reader has gone;
    /// [`SendError::TooLarge`], [`SendError::Corrupt`].
    #[must_use = "a grant publishes nothing unless it is committed"]
    pub fn reserve(&mut self, len: usize) -> Result<Grant<'_>, SendError> {
        self.reserve_until(len, None)
    }

    /// Sends a copy of `msg`, waiting for room as the wait strategy says.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.send(b"hello")?;
    /// assert_eq!(r.recv_vec()?, b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// w.send_pod(&[1u16, 2, 3])?;
    /// assert_eq!(r.recv_pod::<[u16; 3]>()?, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Writer::reserve`].
    pub fn send_pod<T: bytemuck::Pod>(&mut self, value: &T) -> Result<(), SendError> {
        self.send(bytemuck::bytes_of(value))
    }

    /// Like [`Writer::send`], giving up with [`SendError::Timeout`] after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (mut w, _r) = mmring_core::anonymous(64)?;
    /// w.send(&[0; 24])?;
    /// w.send(&[0; 24])?; // the ring is full now
    /// let e = w.send_timeout(b"x", Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(e, mmring_core::SendError::Timeout);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// ```
    /// let (mut w, _r) = mmring_core::anonymous(4096)?;
    /// let g = w.reserve_timeout(8, std::time::Duration::from_secs(1))?;
    /// g.commit();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Writer::send_timeout`].
    #[cfg(not(loom))]
    #[must_use = "a grant publishes nothing unless it is committed"]
    pub fn reserve_timeout(
        &mut self,
        len: usize,
        timeout: Duration,
    ) -> Result<Grant<'_>, SendError> {
        self.reserve_until(len, Some(Instant::now() + timeout))
    }

    /// This writer's readiness handle, for an event loop that waits for room (see
    /// [`Readiness`](crate::Readiness)).
    ///
    /// # Errors
    /// The system call that failed (making the doorbell, an epoll instance, a timer).
    #[cfg(not(loom))]
    pub fn readiness(&mut self) -> std::io::Result<crate::Readiness> {
        self.h.readiness()
    }

    /// Arms the readiness handle before waiting for room for a `len`-byte message: `Ok(true)`
    /// if it fits now (or sending would fail at once: too large, corrupt, no reader left),
    /// `Ok(false)` if armed (wait until the handle is readable, then call
    /// [`Writer::finish_wait`] and try again).
    ///
    /// ```
    /// let (mut w, _r) = mmring_core::anonymous(4096)?;
    /// assert!(w.prepare_wait(100)?); // room now
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Writer::readiness`].
    #[cfg(not(loom))]
    pub fn prepare_wait(&mut self, len: usize) -> std::io::Result<bool> {
        if self.h.check().is_err() || len as u64 > self.h.shared.geo.max_msg {
            return Ok(true);
        }
        let prod = &mut self.prod;
        self.h
            .prepare_wait(|h| !matches!(prod.has_room(&h.shared, len as u64), Ok(false)))
    }

    /// Disarms the readiness handle after it fired (or to stop waiting) and empties it.
    ///
    /// ```
    /// let (mut w, _r) = mmring_core::anonymous(64)?;
    /// w.try_send(&[0; 24])?;
    /// w.try_send(&[0; 24])?;
    /// assert!(!w.prepare_wait(8)?); // full: armed
    /// w.finish_wait();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(loom))]
    pub fn finish_wait(&mut self) {
        self.h.finish_wait()
    }

    /// Starts a batch: messages staged through it become visible together, with one
    /// publication (and at most one wake-up), when the batch is published or dropped.
    ///
    /// ```
    /// # let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// let mut batch = w.batch();
    /// for i in 0u8..10 {
    ///     batch.try_send(&[i])?;
    /// }
    /// batch.publish(); // or drop it
    /// assert_eq!(r.drain(usize::MAX, |_| {})?, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "a batch stages messages and publishes them when it is dropped"]
    pub fn batch(&mut self) -> WriteBatch<'_> {
        WriteBatch {
            writer: self,
            staged: 0,
        }
    }

    /// Publishes staged records and wakes the readers if they sleep.
    #[inline(always)]
    fn publish(&mut self) {
        if self.prod.publish(&self.h.shared) {
            wake_readers(&self.h.shared, &self.h.region);
        }
    }

    /// Writes committed data to the file (`msync(MS_SYNC)`), for callers who need it to
    /// survive a machine crash. A process crash loses nothing committed even without it: the
    /// page cache holds the data. No-op in effect for anonymous rings.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-flush-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = mmring_core::Writer::create(&path, 4096)?;
    /// w.send(b"durable")?;
    /// w.flush()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The error of `msync`.
    #[cfg(not(loom))]
    pub fn flush(&self) -> std::io::Result<()> {
        self.h.region.flush()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.h.detached {
            self.publish();
            self.h.detach();
        }
    }
}

/// Room for one message in the ring, filled in place. [`Grant::commit`] publishes it; dropping
/// the grant without committing publishes nothing (its room is reused by the next reservation).
///
/// ```
/// let (mut w, mut r) = mmring_core::anonymous(4096)?;
/// let mut g = w.try_reserve(64)?; // room for up to 64 bytes
/// g[..3].copy_from_slice(b"abc");
/// g.commit_len(3);                 // publish the first 3
/// assert_eq!(r.try_recv_vec()?, b"abc");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "a grant publishes nothing unless it is committed"]
pub struct Grant<'a> {
    writer: &'a mut Writer,
    res: Reservation,
    view: Option<ViewMut>,
    /// Whether committing publishes (a plain grant) or only stages (a batch's).
    publish: bool,
}

impl Grant<'_> {
    /// Publishes the whole message.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// let mut g = w.try_reserve(2)?;
    /// g.copy_from_slice(b"ok");
    /// g.commit();
    /// assert_eq!(r.try_recv_vec()?, b"ok");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn commit(self) {
        let len = self.res.len;
        self.commit_len(len as usize)
    }

    /// Publishes the first `len` bytes only (for a grant reserved at a maximum size).
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// let mut g = w.try_reserve(100)?;
    /// g[0] = 9;
    /// g.commit_len(1);
    /// assert_eq!(r.try_recv_vec()?, [9]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    /// If `len` exceeds the reserved length.
    #[inline(always)]
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
        self.writer.prod.stage(&self.writer.h.shared, res);
        if self.publish {
            self.writer.publish();
        }
    }
}

impl Deref for Grant<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.view.as_ref().map_or(&[], |v| v.as_slice())
    }
}

impl DerefMut for Grant<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        self.view.as_mut().map_or(&mut [], |v| v.as_mut_slice())
    }
}

/// Room for one message of a [`WriteBatch`], filled in place. [`BatchGrant::stage`] adds it to
/// the batch (it becomes visible when the batch is published); dropping it stages nothing.
///
/// ```
/// let (mut w, mut r) = mmring_core::anonymous(4096)?;
/// let mut batch = w.batch();
/// let mut g = batch.try_reserve(2)?;
/// g.copy_from_slice(b"hi");
/// g.stage();
/// assert!(r.try_recv().is_err()); // not published yet
/// drop(batch);
/// assert_eq!(r.try_recv_vec()?, b"hi");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "a batch grant adds nothing to the batch unless it is staged"]
pub struct BatchGrant<'a>(Grant<'a>);

impl BatchGrant<'_> {
    /// Stages the whole message in the batch.
    ///
    /// ```
    /// let (mut w, _r) = mmring_core::anonymous(4096)?;
    /// let mut b = w.batch();
    /// b.try_reserve(8)?.stage();
    /// assert_eq!(b.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn stage(self) {
        self.0.commit()
    }

    /// Stages the first `len` bytes only.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// let mut b = w.batch();
    /// let mut g = b.try_reserve(10)?;
    /// g[..2].copy_from_slice(b"ab");
    /// g.stage_len(2);
    /// b.publish();
    /// assert_eq!(r.try_recv_vec()?, b"ab");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    /// If `len` exceeds the reserved length.
    #[inline]
    pub fn stage_len(self, len: usize) {
        self.0.commit_len(len)
    }
}

impl Deref for BatchGrant<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl DerefMut for BatchGrant<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

/// Messages staged by a [`Writer::batch`]; all become visible at once when it is published or
/// dropped.
///
/// ```
/// let (mut w, mut r) = mmring_core::anonymous(4096)?;
/// {
///     let mut b = w.batch();
///     b.try_send(b"one")?;
///     b.try_send(b"two")?;
/// } // published here
/// assert_eq!(r.drain(10, |_| {})?, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "a batch stages messages and publishes them when it is dropped"]
pub struct WriteBatch<'a> {
    writer: &'a mut Writer,
    staged: usize,
}

impl WriteBatch<'_> {
    /// Reserves room for a message in the batch, without blocking.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// let mut b = w.batch();
    /// let mut g = b.try_reserve(1)?;
    /// g[0] = 1;
    /// g.stage();
    /// drop(b);
    /// assert_eq!(r.try_recv_vec()?, [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Writer::try_reserve`].
    #[inline(always)]
    #[must_use = "a batch grant adds nothing to the batch unless it is staged"]
    pub fn try_reserve(&mut self, len: usize) -> Result<BatchGrant<'_>, TrySendError> {
        let res = self.writer.try_reserve_inner(len)?;
        self.staged += 1;
        Ok(BatchGrant(self.writer.grant(res, false)))
    }

    /// Stages a copy of `msg`.
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// let mut b = w.batch();
    /// b.try_send(b"x")?;
    /// drop(b);
    /// assert_eq!(r.try_recv_vec()?, b"x");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Writer::try_send`].
    #[inline(always)]
    pub fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        let mut g = self.try_reserve(msg.len())?;
        g.copy_from_slice(msg);
        g.stage();
        Ok(())
    }

    /// How many messages were reserved through this batch (staged or abandoned grants).
    ///
    /// ```
    /// let (mut w, _r) = mmring_core::anonymous(4096)?;
    /// let mut b = w.batch();
    /// assert!(b.is_empty());
    /// b.try_send(b"a")?;
    /// assert_eq!(b.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.staged
    }

    /// Whether nothing was reserved through this batch yet.
    ///
    /// ```
    /// let (mut w, _r) = mmring_core::anonymous(4096)?;
    /// assert!(w.batch().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.staged == 0
    }

    /// Publishes what is staged so far; the batch stays open for more (dropping it publishes
    /// the rest).
    ///
    /// ```
    /// let (mut w, mut r) = mmring_core::anonymous(4096)?;
    /// let mut b = w.batch();
    /// b.try_send(b"a")?;
    /// b.publish();
    /// assert_eq!(r.try_recv_vec()?, b"a");
    /// b.try_send(b"b")?;
    /// drop(b);
    /// assert_eq!(r.try_recv_vec()?, b"b");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn publish(&mut self) {
        self.writer.publish();
    }
}

impl Drop for WriteBatch<'_> {
    fn drop(&mut self) {
        self.writer.publish();
    }
}
