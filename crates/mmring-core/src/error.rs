//! Typed errors, one enum per operation. Every variant says what is wrong and where.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Which end of a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The producer end.
    Writer,
    /// The consumer end.
    Reader,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Writer => "writer",
            Side::Reader => "reader",
        })
    }
}

/// What a validation of the shared mapping found wrong. See [`Corrupt`].
///
/// ```
/// use mmring_core::CorruptKind;
/// assert_eq!(CorruptKind::BadPadding.to_string(),
///            "padding record does not end exactly at the end of the data region");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CorruptKind {
    /// A cursor is not a multiple of 8.
    CursorMisaligned,
    /// A reader's cursor is ahead of what the writer committed.
    ReaderAheadOfWriter,
    /// The writer's records extend more than one capacity beyond the tail.
    WriterTooFarAhead,
    /// The record header at a position is neither a record committed for that position nor
    /// something a correct writer leaves at a position it has not written yet.
    BadRecordHeader,
    /// A message record is longer than the ring's maximum message length.
    RecordTooLong,
    /// A message record would cross the end of the data region.
    RecordCrossesEnd,
    /// A padding record does not end exactly at the end of the data region, or is longer than
    /// any correct writer writes.
    BadPadding,
    /// `write_pos` says the writer committed past a position where no committed record is.
    MissingRecord,
    /// `tail_pos` is misaligned, ahead of the writer, or more than a capacity behind it.
    BadTail,
    /// The ring file was truncated under the live mapping (by another process). `offset` is
    /// the first offset found beyond the end of the file: the address of the access that
    /// faulted, or the file's new length when a periodic `fstat` noticed it first. See
    /// `docs/SECURITY.md`, "Truncation".
    Truncated,
    /// A cursor is so close to 2^64 that advancing it could wrap (a real ring never gets there:
    /// 2^63 bytes take centuries; a forged header can start there).
    CursorOverflow,
}

impl fmt::Display for CorruptKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CorruptKind::CursorMisaligned => "cursor is not a multiple of 8",
            CorruptKind::ReaderAheadOfWriter => {
                "a reader's cursor is ahead of what the writer committed"
            }
            CorruptKind::WriterTooFarAhead => {
                "the writer's records extend more than one capacity beyond the tail"
            }
            CorruptKind::BadRecordHeader => {
                "record header is neither committed for its position nor left by a correct writer"
            }
            CorruptKind::RecordTooLong => "record is longer than the maximum message length",
            CorruptKind::RecordCrossesEnd => "record crosses the end of the data region",
            CorruptKind::BadPadding => {
                "padding record does not end exactly at the end of the data region"
            }
            CorruptKind::MissingRecord => {
                "write_pos is past a position that holds no committed record"
            }
            CorruptKind::BadTail => "tail_pos is inconsistent with the writer's records",
            CorruptKind::Truncated => "the ring file was truncated under the mapping",
            CorruptKind::CursorOverflow => "cursor is too close to 2^64",
        })
    }
}

/// The shared mapping holds something a correct peer never writes.
///
/// The handle that saw it is poisoned: every later operation on it returns the same error.
/// `offset` is a byte offset from the start of the mapping (the file offset for file-backed
/// rings); `found` is the offending value (a cursor, a length or a tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("ring corrupt at byte offset {offset}: {kind} (found {found:#x})")]
pub struct Corrupt {
    /// What is wrong.
    pub kind: CorruptKind,
    /// Where: the byte offset of the field or record in the mapping.
    pub offset: u64,
    /// The offending value.
    pub found: u64,
}

/// Why a ring could not be created, opened or attached to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The requested capacity is not a power of two between 64 bytes and 4 GiB.
    #[error("invalid capacity {0}: must be a power of two between 64 bytes and 4 GiB")]
    InvalidCapacity(usize),
    /// The requested number of reader slots is not between 1 and
    /// [`MAX_READERS`](crate::layout::MAX_READERS).
    #[error("invalid number of reader slots {0}: must be between 1 and 64")]
    InvalidReaders(u32),
    /// The mode asked for a created file has bits other than the permission bits (`0o777`):
    /// set-uid, set-gid and sticky bits are refused rather than silently dropped.
    #[error("invalid mode {mode:o}: only permission bits (0o777) are allowed; set-uid, set-gid and sticky bits are refused")]
    InvalidMode {
        /// The mode given to [`RingOptions::mode`](crate::RingOptions::mode).
        mode: u32,
    },
    /// `create` found a file already at the path.
    #[error("{}: file already exists", path.display())]
    AlreadyExists {
        /// The path.
        path: PathBuf,
    },
    /// `open` found nothing at the path.
    #[error("{}: no such file", path.display())]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// The file may not be opened for reading and writing (a ring needs both).
    #[error("{}: permission denied: a ring must be readable and writable by its users", path.display())]
    PermissionDenied {
        /// The path.
        path: PathBuf,
    },
    /// The path is a symbolic link; rings are never opened through links.
    #[error("{}: is a symbolic link; refusing to follow it", path.display())]
    Symlink {
        /// The path.
        path: PathBuf,
    },
    /// The path is not a regular file.
    #[error("{}: not a regular file (it is a {kind})", path.display())]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// `"directory"`, `"FIFO"`, `"character device"`, `"block device"`, `"socket"`.
        kind: &'static str,
    },
    /// The file belongs to another user and the caller did not opt in.
    #[error("{}: owned by uid {owner}, not by this process (uid {us}); pass allow_foreign_owner(true) to accept", path.display())]
    ForeignOwner {
        /// The path.
        path: PathBuf,
        /// The file's owner.
        owner: u32,
        /// Our effective uid.
        us: u32,
    },
    /// The file is empty.
    #[error("{}: empty file (0 bytes), not a ring", path.display())]
    Empty {
        /// The path.
        path: PathBuf,
    },
    /// The file is shorter than the header.
    #[error("{}: file is {len} bytes, shorter than a ring header", path.display())]
    TooShort {
        /// The path.
        path: PathBuf,
        /// The file length.
        len: u64,
    },
    /// The file does not start with the ring magic.
    #[error("{}: not an mmring ring (magic {found:#018x})", path.display())]
    BadMagic {
        /// The path.
        path: PathBuf,
        /// The first eight bytes, little-endian.
        found: u64,
    },
    /// The ring was written by a newer version of this library.
    #[error("{}: layout version {found} is newer than this library's version {supported}", path.display())]
    NewerVersion {
        /// The path.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The newest version this library reads.
        supported: u32,
    },
    /// The ring was written in an older layout version, which this library does not read
    /// (version 1 rings are refused; recreate the ring).
    #[error("{}: layout version {found} is older than this library's version {supported}; recreate the ring", path.display())]
    OlderVersion {
        /// The path.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this library reads.
        supported: u32,
    },
    /// A header field other than the version is out of range.
    #[error("{}: corrupt header: {field} is {found}", path.display())]
    BadHeader {
        /// The path.
        path: PathBuf,
        /// The field's name in `docs/FORMAT.md`.
        field: &'static str,
        /// Its value.
        found: u64,
    },
    /// The header's capacity is not a power of two in range.
    #[error("{}: header capacity {found} is not a power of two between 64 bytes and 4 GiB", path.display())]
    BadCapacity {
        /// The path.
        path: PathBuf,
        /// The capacity in the header.
        found: u64,
    },
    /// The file length does not match the header's `header_len + capacity`.
    #[error("{}: file is {actual} bytes but its header describes {expected} bytes", path.display())]
    LengthMismatch {
        /// The path.
        path: PathBuf,
        /// `header_len + capacity`.
        expected: u64,
        /// The file length.
        actual: u64,
    },
    /// The creator never finished writing the header.
    #[error("{}: header not initialised after waiting {waited:?} (its creator died or is still starting)", path.display())]
    NotInitialised {
        /// The path.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// No space on the file system (or in `/dev/shm`) to reserve the whole ring.
    #[error("{}: no space left to reserve {bytes} bytes for the ring", path.display())]
    NoSpace {
        /// The path.
        path: PathBuf,
        /// The bytes asked for.
        bytes: u64,
    },
    /// Another live handle already holds this side of the ring.
    #[error("{}: a {side} is already attached to this ring (pid {pid})", path.display())]
    SideTaken {
        /// The path.
        path: PathBuf,
        /// The side asked for.
        side: Side,
        /// The holder's process id, as recorded in the header.
        pid: u32,
    },
    /// Every reader slot of a ring with several is held by a live reader.
    #[error("{}: all {} reader slots are taken (by pids {})", path.display(), pids.len(), pids.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))]
    ReadersFull {
        /// The path.
        path: PathBuf,
        /// The pid recorded in each slot, in slot order.
        pids: Vec<u32>,
    },
    /// The cursors in the header are inconsistent.
    #[error("{}: {source}", path.display())]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// What is wrong and where.
        source: Corrupt,
    },
    /// Any other operating-system error, with the operation that failed.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The system call or step, e.g. `"mmap"`.
        op: &'static str,
        /// The error.
        source: io::Error,
    },
}

/// Why a non-blocking send did not happen. `'static`, so `w.try_send(msg)?` works in any
/// function returning `Box<dyn Error>`; the message is still the caller's.
///
/// ```
/// use mmring_core::TrySendError;
/// fn send_one(w: &mut mmring_core::Writer) -> Result<(), Box<dyn std::error::Error>> {
///     w.try_send(b"tick")?;
///     Ok(())
/// }
/// let (mut w, _r) = mmring_core::anonymous(64)?;
/// send_one(&mut w)?;
/// let big = [0u8; 24];
/// w.try_send(&big)?;
/// assert_eq!(w.try_send(&big), Err(TrySendError::Full));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrySendError {
    /// The ring has no room for the message now (the readers have not released enough).
    #[error("ring is full")]
    Full,
    /// The message is longer than the ring's maximum message length; it can never be sent.
    #[error("message of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// The message length.
        len: usize,
        /// [`max_message_len`](crate::layout::max_message_len) of this ring.
        max: usize,
    },
    /// The mapping holds something a correct reader never writes; the writer is poisoned.
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

/// Why a blocking send failed.
///
/// ```
/// use mmring_core::SendError;
/// let (mut w, r) = mmring_core::anonymous(64)?;
/// drop(r);
/// w.send(&[0; 24])?;
/// w.send(&[0; 24])?;
/// assert_eq!(w.send(b"no room, no reader"), Err(SendError::Disconnected));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The message is longer than the ring's maximum message length.
    #[error("message of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// The message length.
        len: usize,
        /// The ring's maximum.
        max: usize,
    },
    /// The ring stayed full until the deadline.
    #[error("timed out waiting for space in the ring")]
    Timeout,
    /// The ring is full and its reader has gone (exited or died).
    #[error("the reader has disconnected and the ring is full")]
    Disconnected,
    /// The async runtime could not wait on the ring's readiness handle (its reactor is
    /// shutting down, or the future was polled outside the runtime the handle was registered
    /// with). Only the `tokio` methods report it.
    #[error("the async runtime's reactor failed: {0}")]
    Reactor(std::io::ErrorKind),
    /// The mapping holds something a correct reader never writes.
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

/// Why a non-blocking receive returned no message.
///
/// ```
/// use mmring_core::TryRecvError;
/// let (w, mut r) = mmring_core::anonymous(4096)?;
/// assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Empty);
/// drop(w);
/// assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Disconnected);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TryRecvError {
    /// No message now; a writer is attached (or none has ever been).
    #[error("ring is empty")]
    Empty,
    /// The ring is empty and its writer has gone (exited or died) after attaching.
    #[error("the writer has disconnected and every message it committed has been received")]
    Disconnected,
    /// The next message does not have the size of the requested type; it stays in the ring
    /// (see [`Reader::try_skip`](crate::Reader::try_skip)).
    #[error("message of {actual} bytes where a {expected}-byte value was expected")]
    WrongSize {
        /// `size_of::<T>()`.
        expected: usize,
        /// The message length.
        actual: usize,
    },
    /// The writer overwrote messages this reader had not read yet: an untethered reader it
    /// lapped, or a reader that resumed a slot whose position had been overwritten. Reported
    /// once; the next receive continues from the oldest message still intact.
    #[error("lapped by the writer: missed {missed_bytes} bytes{}", match missed_messages { Some(m) => format!(" ({m} messages)"), None => String::new() })]
    Lapped {
        /// Bytes of records (framing included) skipped.
        missed_bytes: u64,
        /// Messages skipped, where known.
        missed_messages: Option<u64>,
    },
    /// The mapping holds something a correct writer never writes; the reader is poisoned.
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

/// Why a blocking receive returned no message.
///
/// ```
/// use mmring_core::RecvError;
/// let (w, mut r) = mmring_core::anonymous(4096)?;
/// assert_eq!(r.recv_timeout(std::time::Duration::ZERO).unwrap_err(), RecvError::Timeout);
/// drop(w);
/// assert_eq!(r.recv().unwrap_err(), RecvError::Disconnected);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecvError {
    /// No message arrived before the deadline.
    #[error("timed out waiting for a message")]
    Timeout,
    /// The ring is empty and its writer has gone (exited or died) after attaching.
    #[error("the writer has disconnected and every message it committed has been received")]
    Disconnected,
    /// The next message does not have the size of the requested type; it stays in the ring
    /// (see [`Reader::try_skip`](crate::Reader::try_skip)).
    #[error("message of {actual} bytes where a {expected}-byte value was expected")]
    WrongSize {
        /// `size_of::<T>()`.
        expected: usize,
        /// The message length.
        actual: usize,
    },
    /// The writer overwrote messages this reader had not read yet: an untethered reader it
    /// lapped, or a reader that resumed a slot whose position had been overwritten. Reported
    /// once; the next receive continues from the oldest message still intact.
    #[error("lapped by the writer: missed {missed_bytes} bytes{}", match missed_messages { Some(m) => format!(" ({m} messages)"), None => String::new() })]
    Lapped {
        /// Bytes of records (framing included) skipped.
        missed_bytes: u64,
        /// Messages skipped, where known.
        missed_messages: Option<u64>,
    },
    /// The mapping holds something a correct writer never writes; the reader is poisoned.
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
    /// The async runtime could not wait on the ring's readiness handle (its reactor is
    /// shutting down, or the future was polled outside the runtime the handle was registered
    /// with). Only the `tokio` methods report it.
    #[error("the async runtime's reactor failed: {0}")]
    Reactor(std::io::ErrorKind),
}

/// Why [`Message::as_pod`](crate::Message::as_pod) could not view a message as a `T`.
///
/// ```
/// let (mut w, mut r) = mmring_core::anonymous(4096)?;
/// w.try_send(&[1, 2, 3])?;
/// let m = r.try_recv()?;
/// assert!(matches!(m.as_pod::<u32>(), Err(mmring_core::PodError::WrongSize { expected: 4, actual: 3 })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PodError {
    /// The message length differs from `size_of::<T>()`.
    #[error("message of {actual} bytes where a {expected}-byte value was expected")]
    WrongSize {
        /// `size_of::<T>()`.
        expected: usize,
        /// The message length.
        actual: usize,
    },
    /// The payload address does not satisfy `align_of::<T>()` (payloads are 8-byte aligned).
    #[error("payload is 8-byte aligned but the type needs {align}-byte alignment")]
    Misaligned {
        /// `align_of::<T>()`.
        align: usize,
    },
}
