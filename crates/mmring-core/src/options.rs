//! `RingOptions`: how to create or open a ring.

#[cfg(not(loom))]
use crate::error::OpenError;
#[cfg(not(loom))]
use crate::os::{self, CreateMode, OpenParams};
use crate::ring::claim::StartAt;
use crate::wait::WaitStrategy;
use crate::UntetheredReader;
use crate::{Reader, Writer};
#[cfg(not(loom))]
use std::path::Path;
#[cfg(not(loom))]
use std::time::Duration;

/// Settings for creating or opening a ring; `Writer::create`, `Reader::open` and friends are
/// shorthands for the common cases.
///
/// ```
/// use mmring_core::{RingOptions, WaitStrategy};
/// let dir = std::env::temp_dir().join(format!("mmring-doc-opts-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&dir);
/// let mut w = RingOptions::new()
///     .create_if_missing(64 * 1024)
///     .mode(0o640)
///     .wait_strategy(WaitStrategy::SpinYield)
///     .open_writer(&dir)?;
/// w.try_send(b"hello").unwrap();
/// # std::fs::remove_file(&dir).unwrap();
/// # Ok::<(), mmring_core::OpenError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RingOptions {
    #[cfg(not(loom))]
    pub(crate) params: OpenParams,
    pub(crate) wait: WaitStrategy,
    pub(crate) start: StartAt,
}

impl Default for RingOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl RingOptions {
    /// Open an existing ring, mode 0600 if created, the `Park` wait strategy, and up to one
    /// second of waiting for a creator that is still writing the header.
    pub fn new() -> Self {
        RingOptions {
            #[cfg(not(loom))]
            params: OpenParams {
                create: CreateMode::Never,
                mode: 0o600,
                group: None,
                allow_foreign_owner: false,
                init_timeout: Duration::from_secs(1),
                readers: 1,
            },
            wait: WaitStrategy::Park,
            start: StartAt::Resume,
        }
    }

    /// Create a new ring with `capacity` data bytes (a power of two from 64 bytes to 4 GiB);
    /// fail with [`OpenError::AlreadyExists`] if anything is at the path.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-optcreate-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let w = mmring_core::RingOptions::new().create(1 << 16).open_writer(&path)?;
    /// assert_eq!(w.capacity(), 1 << 16);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(loom))]
    pub fn create(mut self, capacity: usize) -> Self {
        self.params.create = CreateMode::Always(capacity as u64);
        self
    }

    /// Create a ring with `capacity` data bytes if nothing is at the path; otherwise open it
    /// (its capacity is then whatever its creator chose).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-optcim-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let opts = mmring_core::RingOptions::new().create_if_missing(4096);
    /// let w = opts.open_writer(&path)?; // creates
    /// let r = opts.open_reader(&path)?; // opens
    /// # drop((w, r)); std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(loom))]
    pub fn create_if_missing(mut self, capacity: usize) -> Self {
        self.params.create = CreateMode::IfMissing(capacity as u64);
        self
    }

    /// Permission bits of a created file (default `0o600`: only our user). Applied exactly,
    /// whatever the umask.
    ///
    /// Only the permission bits `0o777` may be set: creating a ring (`create`,
    /// `create_if_missing`, `create_unattached`, `anonymous`) with any other bit (set-uid
    /// `0o4000`, set-gid `0o2000`, sticky `0o1000`, or beyond) fails with
    /// [`OpenError::InvalidMode`], whether or not a file is already at the path. Opening an
    /// existing ring without creating ignores the mode.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-optmode-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// use mmring_core::{OpenError, RingOptions};
    /// let e = RingOptions::new().create(4096).mode(0o4755).open_writer(&path).unwrap_err();
    /// assert!(matches!(e, OpenError::InvalidMode { mode: 0o4755 }));
    /// RingOptions::new().create(4096).mode(0o640).open_writer(&path)?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(loom))]
    pub fn mode(mut self, mode: u32) -> Self {
        self.params.mode = mode;
        self
    }

    /// Group of a created file, for cross-user setups (with a mode such as `0o660`).
    ///
    /// ```
    /// let opts = mmring_core::RingOptions::new().mode(0o660).group(1000);
    /// # let _ = opts;
    /// ```
    #[cfg(not(loom))]
    pub fn group(mut self, gid: u32) -> Self {
        self.params.group = Some(gid);
        self
    }

    /// Accept a ring file owned by another user (refused by default: see `docs/SECURITY.md`).
    ///
    /// ```
    /// let opts = mmring_core::RingOptions::new().allow_foreign_owner(true);
    /// # let _ = opts;
    /// ```
    #[cfg(not(loom))]
    pub fn allow_foreign_owner(mut self, allow: bool) -> Self {
        self.params.allow_foreign_owner = allow;
        self
    }

    /// How long `open` waits for a creator that has not finished the header yet (default one
    /// second), retrying every millisecond.
    ///
    /// ```
    /// let opts = mmring_core::RingOptions::new().init_timeout(std::time::Duration::from_secs(5));
    /// # let _ = opts;
    /// ```
    #[cfg(not(loom))]
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.params.init_timeout = timeout;
        self
    }

    /// How many reader slots a created ring has (default 1; at most
    /// [`MAX_READERS`](crate::layout::MAX_READERS)). Ignored when an existing ring is opened.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-optreaders-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let opts = mmring_core::RingOptions::new().create(4096).readers(2);
    /// opts.create_unattached(&path)?;
    /// assert_eq!(mmring_core::inspect(&path)?.readers.len(), 2);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(loom))]
    pub fn readers(mut self, readers: u32) -> Self {
        self.params.readers = readers;
        self
    }

    /// Where a reader starts (default [`StartAt::Resume`]: where its slot's previous reader
    /// left off). [`UntetheredReader::open`] uses [`StartAt::Next`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-optstart-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// use mmring_core::{RingOptions, StartAt};
    /// let mut w = mmring_core::Writer::create(&path, 4096)?;
    /// w.send(b"old")?;
    /// let mut r = RingOptions::new().start_at(StartAt::Next).open_reader(&path)?;
    /// w.send(b"new")?;
    /// assert_eq!(r.recv_vec()?, b"new");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_at(mut self, start: StartAt) -> Self {
        self.start = start;
        self
    }

    /// How blocking calls wait (default [`WaitStrategy::Park`]).
    ///
    /// ```
    /// let opts = mmring_core::RingOptions::new().wait_strategy(mmring_core::WaitStrategy::Spin);
    /// # let _ = opts;
    /// ```
    pub fn wait_strategy(mut self, strategy: WaitStrategy) -> Self {
        self.wait = strategy;
        self
    }

    /// Attaches as the writer of the ring at `path`.
    ///
    /// # Errors
    /// Any [`OpenError`]: the path, the file, the header, or [`OpenError::SideTaken`] when a
    /// live writer is attached already.
    #[cfg(not(loom))]
    pub fn open_writer(&self, path: impl AsRef<Path>) -> Result<Writer, OpenError> {
        Writer::attach(os::open_path(path.as_ref(), &self.params)?, self.wait)
    }

    /// Attaches as the reader of the ring at `path`.
    ///
    /// # Errors
    /// As [`RingOptions::open_writer`].
    #[cfg(not(loom))]
    pub fn open_reader(&self, path: impl AsRef<Path>) -> Result<Reader, OpenError> {
        Reader::attach(
            os::open_path(path.as_ref(), &self.params)?,
            self.wait,
            self.start,
        )
    }

    /// Attaches an untethered (lossy) reader to the ring at `path`: see [`UntetheredReader`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-optuntethered-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// use mmring_core::{RingOptions, StartAt};
    /// let mut w = RingOptions::new().create(4096).open_writer(&path)?;
    /// w.send(b"kept")?;
    /// let mut r = RingOptions::new().start_at(StartAt::Oldest).open_untethered(&path)?;
    /// let mut buf = Vec::new();
    /// r.try_recv_into(&mut buf)?;
    /// assert_eq!(buf, b"kept");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`RingOptions::open_reader`].
    #[cfg(not(loom))]
    pub fn open_untethered(&self, path: impl AsRef<Path>) -> Result<UntetheredReader, OpenError> {
        UntetheredReader::attach(
            os::open_path(path.as_ref(), &self.params)?,
            self.wait,
            self.start,
        )
    }

    /// Creates the ring file at `path` (with [`RingOptions::create`] or
    /// [`RingOptions::create_if_missing`]; otherwise only opens and validates it) without
    /// attaching as either side, so that the writer and the reader that attach later both find
    /// their peer "never attached" rather than "gone": for tools that prepare a ring for two
    /// other processes.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-unattached-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// use mmring_core::{RingOptions, WriterStatus};
    /// RingOptions::new().create(4096).create_unattached(&path)?;
    /// let r = mmring_core::Reader::open(&path)?;
    /// assert_eq!(r.writer_status(), WriterStatus::Never);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), mmring_core::OpenError>(())
    /// ```
    ///
    /// # Errors
    /// As [`RingOptions::open_writer`], except [`OpenError::SideTaken`].
    #[cfg(not(loom))]
    pub fn create_unattached(&self, path: impl AsRef<Path>) -> Result<(), OpenError> {
        os::open_path(path.as_ref(), &self.params).map(drop)
    }

    /// A new anonymous ring (a sealed memfd) with both ends, to be split across `fork` (see
    /// [`crate::fork`]) or used by two threads.
    ///
    /// # Errors
    /// [`OpenError::InvalidCapacity`], [`OpenError::InvalidMode`], [`OpenError::NoSpace`], or
    /// an [`OpenError::Io`].
    #[cfg(not(loom))]
    pub fn anonymous(&self, capacity: usize) -> Result<(Writer, Reader), OpenError> {
        self.params.check_mode()?;
        let (w, r) = os::anonymous_pair(capacity as u64)?;
        Ok((
            Writer::attach(w, self.wait)?,
            Reader::attach(r, self.wait, StartAt::Resume)?,
        ))
    }

    /// A heap ring for the loom model: its writer and its reader.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_pair(&self, capacity: u64) -> (Writer, Reader) {
        let mut regions = crate::os::heap_pair(capacity, 1, 2).into_iter();
        (
            Writer::attach(regions.next().unwrap(), self.wait).unwrap(),
            Reader::attach(regions.next().unwrap(), self.wait, StartAt::Resume).unwrap(),
        )
    }

    /// A heap ring for the loom model with `readers` slots, and a factory of handles on it
    /// (each attaches like another process would).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_ring(&self, capacity: u64, readers: u32) -> LoomRing {
        LoomRing {
            region: crate::os::heap_pair(capacity, readers, 1).pop().unwrap(),
            wait: self.wait,
        }
    }
}

/// A heap ring for the loom suite: each call attaches a new handle, like another process.
#[cfg(loom)]
#[doc(hidden)]
#[derive(Debug)]
pub struct LoomRing {
    region: crate::os::Region,
    wait: WaitStrategy,
}

#[cfg(loom)]
impl LoomRing {
    /// Attaches a writer.
    pub fn writer(&self) -> Result<Writer, crate::OpenError> {
        Writer::attach(self.region.reopen(), self.wait)
    }

    /// Attaches a reader to the first free slot.
    pub fn reader(&self) -> Result<Reader, crate::OpenError> {
        Reader::attach(self.region.reopen(), self.wait, StartAt::Resume)
    }

    /// Attaches an untethered reader to the first free slot, starting as `start` says.
    pub fn untethered(&self, start: StartAt) -> Result<UntetheredReader, crate::OpenError> {
        UntetheredReader::attach(self.region.reopen(), self.wait, start)
    }

    /// Runs the `Os` contract test (`os::contract`) on two fresh handles of this ring, whose
    /// writer and first reader slot must be free.
    pub fn check_os_contract(&self) {
        let (a, b) = (self.region.reopen(), self.region.reopen());
        let s = a.shared();
        crate::os::contract::check_contract(&a, &b, &s.hdr().data_seq, false);
    }
}
