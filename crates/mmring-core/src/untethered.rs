//! The lossy reader: never holds the writer back; told how much it missed when lapped.

use crate::error::{Corrupt, OpenError, RecvError, TryRecvError};
use crate::handle::Handle;
use crate::layout::KIND_UNTETHERED;
use crate::os::Region;
use crate::ring::claim::{self, Role, StartAt};
use crate::ring::{Consumer, Lossy, Peeked};
use crate::wait::{self, Blocked, Deadline, WaitStrategy};
#[cfg(not(loom))]
use std::path::Path;
#[cfg(not(loom))]
use std::time::{Duration, Instant};

/// A reader that never holds the writer back (Aeron's untethered subscription, Agrona's
/// broadcast receiver). If the writer laps it, its next receive returns
/// [`TryRecvError::Lapped`] with the bytes it missed, and it goes on from the oldest message
/// still intact. A message the writer overwrites while this reader copies it is never
/// delivered: each copy is validated after it is made (a seqlock: the writer declares bytes
/// overwritable in `tail_pos` before it overwrites them, and the reader checks `tail_pos` after
/// its copy).
///
/// Because the writer may overwrite a message while it is read, this reader never hands out a
/// `&[u8]` into the ring: it copies with atomic loads ([`UntetheredReader::try_recv_into`]), or
/// lets a closure read the bytes in place through an [`InPlace`] view whose every read is an
/// atomic load, then tells whether what the closure saw was intact
/// ([`UntetheredReader::try_read_in_place`]). It takes a reader slot like any reader.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("mmring-doc-untethered-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// use mmring_core::{RingOptions, TryRecvError};
/// let mut w = RingOptions::new().create(64).readers(2).open_writer(&path)?;
/// let mut lossless = RingOptions::new().open_reader(&path)?;
/// let mut lossy = RingOptions::new().open_untethered(&path)?;
/// let mut buf = Vec::new();
/// for i in 0..6u8 {
///     w.send(&[i; 8])?; // never waits for `lossy`
///     lossless.recv_vec()?;
/// }
/// // `lossy` read nothing while the writer went round the 64-byte ring more than once:
/// assert!(matches!(lossy.try_recv_into(&mut buf), Err(TryRecvError::Lapped { .. })));
/// lossy.try_recv_into(&mut buf)?; // the oldest message still intact
/// assert_eq!(buf.len(), 8);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct UntetheredReader {
    pub(crate) h: Handle,
    pub(crate) cons: Consumer,
}

/// A message of an [`UntetheredReader`], read in place: every read is an atomic load, so the
/// writer overwriting the bytes meanwhile is no undefined behaviour, only bytes that
/// [`UntetheredReader::try_read_in_place`] then reports as lapped.
///
/// ```
/// # let (mut w, _r) = mmring_core::anonymous(64)?;
/// # let _ = w;
/// fn first_byte(m: &mmring_core::InPlace<'_>) -> u8 {
///     let mut b = [0u8; 1];
///     m.read_at(0, &mut b);
///     b[0]
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct InPlace<'a> {
    data: &'a crate::data::Data,
    off: u64,
    len: usize,
}

impl InPlace<'_> {
    /// The message length.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-inplace-len-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = mmring_core::Writer::create(&path, 4096)?;
    /// let mut r = mmring_core::RingOptions::new().open_untethered(&path)?;
    /// w.send(b"four")?;
    /// assert_eq!(r.try_read_in_place(|m| m.len())?, 4);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Copies bytes `at..at + dst.len()` of the message into `dst`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-inplace-read-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = mmring_core::Writer::create(&path, 4096)?;
    /// let mut r = mmring_core::RingOptions::new().open_untethered(&path)?;
    /// w.send(b"abcdef")?;
    /// let tail = r.try_read_in_place(|m| {
    ///     let mut b = [0u8; 2];
    ///     m.read_at(4, &mut b);
    ///     b
    /// })?;
    /// assert_eq!(&tail, b"ef");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    /// If the range is not inside the message.
    pub fn read_at(&self, at: usize, dst: &mut [u8]) {
        let end = at.checked_add(dst.len()).expect("range overflows");
        assert!(end <= self.len, "read_at beyond the message");
        // Whole words from the word containing `at`; then the part asked for.
        let first = at / 8 * 8;
        let mut words = vec![0u8; end - first];
        self.data.copy_racy(self.off + first as u64, &mut words);
        dst.copy_from_slice(&words[at - first..]);
    }

    /// Copies the whole message into `dst` (cleared first).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-inplace-copy-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = mmring_core::Writer::create(&path, 4096)?;
    /// let mut r = mmring_core::RingOptions::new().open_untethered(&path)?;
    /// w.send(b"xyz")?;
    /// let mut v = Vec::new();
    /// r.try_read_in_place(|m| m.copy_into(&mut v))?;
    /// assert_eq!(v, b"xyz");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy_into(&self, dst: &mut Vec<u8>) {
        dst.clear();
        dst.resize(self.len, 0);
        self.data.copy_racy(self.off, dst);
    }
}

/// What one lossy poll found.
pub(crate) enum Event {
    Message(Peeked),
    Lapped(u64),
}

pub(crate) fn poll(cons: &mut Consumer, h: &Handle) -> Result<Option<Event>, Corrupt> {
    match cons.peek_lossy(&h.shared) {
        Ok(Some(p)) => Ok(Some(Event::Message(p))),
        Ok(None) => {
            h.shared.check_truncated()?;
            cons.release(&h.shared);
            Ok(None)
        }
        Err(Lossy::Lapped(tail)) => Ok(Some(Event::Lapped(tail))),
        Err(Lossy::Corrupt(c)) => Err(c),
    }
}

impl UntetheredReader {
    /// Attaches an untethered reader to the ring at `path` (its first free reader slot),
    /// starting at the next message the writer commits.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-uopen-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _w = mmring_core::Writer::create(&path, 4096)?;
    /// let r = mmring_core::UntetheredReader::open(&path)?;
    /// # drop(r); std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Reader::open`](crate::Reader::open).
    #[cfg(not(loom))]
    pub fn open(path: impl AsRef<Path>) -> Result<UntetheredReader, OpenError> {
        crate::RingOptions::new()
            .start_at(StartAt::Next)
            .open_untethered(path)
    }

    pub(crate) fn attach(
        region: Region,
        strategy: WaitStrategy,
        start: StartAt,
    ) -> Result<UntetheredReader, OpenError> {
        let (h, join) = Handle::attach_reader(region, strategy, KIND_UNTETHERED, start)?;
        match Consumer::attach(&h.shared, join.slot, join.pos) {
            Ok(cons) => Ok(UntetheredReader { h, cons }),
            Err(c) => Err(h.abandon(c)),
        }
    }

    /// Data capacity of the ring in bytes.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-ucap-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let _w = mmring_core::Writer::create(&path, 4096)?;
    /// let r = mmring_core::UntetheredReader::open(&path)?;
    /// assert_eq!(r.capacity(), 4096);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.h.shared.geo.cap as usize
    }

    /// Changes how blocking calls wait.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-uwait-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let _w = mmring_core::Writer::create(&path, 4096)?;
    /// let mut r = mmring_core::UntetheredReader::open(&path)?;
    /// r.set_wait_strategy(mmring_core::WaitStrategy::Spin);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.h.strategy = strategy;
    }

    /// Whether a writer is attached, has never been, or has gone (asks the kernel).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-ustatus-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let w = mmring_core::Writer::create(&path, 4096)?;
    /// let r = mmring_core::UntetheredReader::open(&path)?;
    /// assert!(matches!(r.writer_status(), mmring_core::WriterStatus::Alive(_)));
    /// # drop(w); std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn writer_status(&self) -> crate::WriterStatus {
        if claim::epoch(&self.h.shared, Role::Writer) == 0 {
            crate::WriterStatus::Never
        } else if self.h.peer_alive() {
            crate::WriterStatus::Alive(claim::pid(&self.h.shared, Role::Writer))
        } else {
            crate::WriterStatus::Gone
        }
    }

    /// This reader's readiness handle (see [`Readiness`](crate::Readiness)).
    ///
    /// # Errors
    /// The system call that failed.
    #[cfg(not(loom))]
    pub fn readiness(&mut self) -> std::io::Result<crate::Readiness> {
        self.h.readiness()
    }

    /// Arms the readiness handle: `Ok(true)` if there is something to receive now (or an error
    /// to report), `Ok(false)` if armed (wait, then [`UntetheredReader::finish_wait`]).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-uprepare-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let _w = mmring_core::Writer::create(&path, 4096)?;
    /// let mut r = mmring_core::UntetheredReader::open(&path)?;
    /// assert!(!r.prepare_wait()?);
    /// r.finish_wait();
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`UntetheredReader::readiness`].
    #[cfg(not(loom))]
    pub fn prepare_wait(&mut self) -> std::io::Result<bool> {
        if self.h.check().is_err() {
            return Ok(true);
        }
        let cons = &mut self.cons;
        self.h
            .prepare_wait(|h| !matches!(cons.peek_lossy(&h.shared), Ok(None)))
    }

    /// Disarms the readiness handle after it fired (or to stop waiting) and empties it.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-ufinish-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let _w = mmring_core::Writer::create(&path, 4096)?;
    /// let mut r = mmring_core::UntetheredReader::open(&path)?;
    /// r.finish_wait();
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(loom))]
    pub fn finish_wait(&mut self) {
        self.h.finish_wait()
    }

    /// Reads the next message with `read` and returns what it returned if the message was
    /// intact throughout; consumes the message either way.
    fn take<R>(
        &mut self,
        p: Peeked,
        read: impl FnOnce(&InPlace<'_>) -> R,
    ) -> Result<R, TryRecvError> {
        let view = InPlace {
            data: &self.h.shared.data,
            off: p.off,
            len: p.len as usize,
        };
        let out = read(&view);
        match self.cons.lapped(&self.h.shared) {
            Ok(None) => {}
            Ok(Some(tail)) => return Err(self.lapped(tail)),
            Err(c) => return Err(self.h.poison(c).into()),
        }
        self.cons.consume(p.next);
        if self.cons.should_release(&self.h.shared) {
            self.cons.release(&self.h.shared);
        }
        Ok(out)
    }

    #[cold]
    fn lapped(&mut self, tail: u64) -> TryRecvError {
        TryRecvError::Lapped {
            missed_bytes: self.cons.skip_to(tail),
            missed_messages: None,
        }
    }

    fn try_next(&mut self) -> Result<Peeked, TryRecvError> {
        self.h.check()?;
        match poll(&mut self.cons, &self.h) {
            Ok(Some(Event::Message(p))) => Ok(p),
            Ok(Some(Event::Lapped(tail))) => Err(self.lapped(tail)),
            Ok(None) if !self.h.peer_gone_polled() => Err(TryRecvError::Empty),
            // The writer has gone: everything it committed before going is visible now, and
            // it may have committed after the poll above found nothing. Take a last look, as
            // a tethered reader and every blocking receive do.
            Ok(None) => match poll(&mut self.cons, &self.h) {
                Ok(Some(Event::Message(p))) => Ok(p),
                Ok(Some(Event::Lapped(tail))) => Err(self.lapped(tail)),
                Ok(None) => Err(TryRecvError::Disconnected),
                Err(c) => Err(self.h.poison(c).into()),
            },
            Err(c) => Err(self.h.poison(c).into()),
        }
    }

    /// Polls once and lets `read` look at the next message in place; returns what `read`
    /// returned if the message stayed intact while it looked.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-utrip-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = mmring_core::Writer::create(&path, 4096)?;
    /// let mut r = mmring_core::UntetheredReader::open(&path)?;
    /// w.send(&[7; 16])?;
    /// assert_eq!(r.try_read_in_place(|m| m.len())?, 16);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`TryRecvError::Empty`], [`TryRecvError::Disconnected`] (nothing committed and the
    /// writer gone), [`TryRecvError::Lapped`] (`read`'s result, if it ran, is discarded),
    /// [`TryRecvError::Corrupt`].
    pub fn try_read_in_place<R>(
        &mut self,
        read: impl FnOnce(&InPlace<'_>) -> R,
    ) -> Result<R, TryRecvError> {
        let p = self.try_next()?;
        self.take(p, read)
    }

    /// Polls once and copies the next message into `dst` (cleared first); returns its length.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-utry-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = mmring_core::Writer::create(&path, 4096)?;
    /// let mut r = mmring_core::UntetheredReader::open(&path)?;
    /// w.send(b"copy")?;
    /// let mut buf = Vec::new();
    /// assert_eq!(r.try_recv_into(&mut buf)?, 4);
    /// assert_eq!(buf, b"copy");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`UntetheredReader::try_read_in_place`].
    pub fn try_recv_into(&mut self, dst: &mut Vec<u8>) -> Result<usize, TryRecvError> {
        self.try_read_in_place(|m| m.copy_into(dst))?;
        Ok(dst.len())
    }

    fn recv_until(&mut self, dst: &mut Vec<u8>, deadline: Deadline) -> Result<usize, RecvError> {
        self.h.check()?;
        let strategy = self.h.strategy;
        let cons = &mut self.cons;
        match wait::block(&mut self.h, strategy, deadline, |h| poll(cons, h)) {
            Ok(e) => self.finish(e, dst),
            Err(b) => Err(self.blocked(b)),
        }
    }

    /// The error a blocking receive reports when its wait ended without an event.
    pub(crate) fn blocked(&mut self, b: Blocked) -> RecvError {
        match b {
            Blocked::Timeout => RecvError::Timeout,
            Blocked::Disconnected => RecvError::Disconnected,
            Blocked::Corrupt(c) => RecvError::Corrupt(self.h.poison(c)),
            Blocked::Reactor(kind) => RecvError::Reactor(kind),
        }
    }

    /// Ends a blocking receive that found `event`: copies the message into `dst` or reports
    /// the lap.
    pub(crate) fn finish(&mut self, event: Event, dst: &mut Vec<u8>) -> Result<usize, RecvError> {
        let result = match event {
            Event::Message(p) => self.take(p, |m| m.copy_into(dst)),
            Event::Lapped(tail) => Err(self.lapped(tail)),
        };
        match result {
            Ok(()) => Ok(dst.len()),
            Err(TryRecvError::Lapped {
                missed_bytes,
                missed_messages,
            }) => Err(RecvError::Lapped {
                missed_bytes,
                missed_messages,
            }),
            Err(TryRecvError::Corrupt(c)) => Err(RecvError::Corrupt(c)),
            Err(_) => unreachable!("a message or a lap was found"),
        }
    }

    /// Waits for the next message as the wait strategy says and copies it into `dst`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-urecv-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = mmring_core::Writer::create(&path, 4096)?;
    /// let mut r = mmring_core::UntetheredReader::open(&path)?;
    /// w.send(b"wait")?;
    /// let mut buf = Vec::new();
    /// r.recv_into(&mut buf)?;
    /// assert_eq!(buf, b"wait");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`RecvError::Disconnected`], [`RecvError::Lapped`], [`RecvError::Corrupt`].
    pub fn recv_into(&mut self, dst: &mut Vec<u8>) -> Result<usize, RecvError> {
        self.recv_until(dst, None)
    }

    /// Like [`UntetheredReader::recv_into`], giving up with [`RecvError::Timeout`] after
    /// `timeout`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-urecvt-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let _w = mmring_core::Writer::create(&path, 4096)?;
    /// let mut r = mmring_core::UntetheredReader::open(&path)?;
    /// let e = r.recv_timeout_into(&mut Vec::new(), std::time::Duration::from_millis(1));
    /// assert_eq!(e, Err(mmring_core::RecvError::Timeout));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`UntetheredReader::recv_into`], and [`RecvError::Timeout`].
    #[cfg(not(loom))]
    pub fn recv_timeout_into(
        &mut self,
        dst: &mut Vec<u8>,
        timeout: Duration,
    ) -> Result<usize, RecvError> {
        self.recv_until(dst, Some(Instant::now() + timeout))
    }
}

impl Drop for UntetheredReader {
    fn drop(&mut self) {
        if !self.h.detached {
            self.cons.release(&self.h.shared);
            self.h.detach();
        }
    }
}
