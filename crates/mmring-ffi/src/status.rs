//! The one status enum, the per-thread last error, and the mapping from the Rust error enums.

use api::{Corrupt, OpenError, RecvError, SendError, TryRecvError, TrySendError};
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

/// The status every function of the C API returns (an `int32_t`, one of the `MMRING_*`
/// status constants). The values are stable: a value never changes meaning and is never
/// reused; new values may be added (within the gaps of each group), so treat an unknown
/// non-zero value as a failure and print `mmring_last_error()`.
///
/// - 0: success.
/// - 1 to 9: the operation could not happen now, nothing is wrong (`MMRING_EMPTY`,
///   `MMRING_FULL`, `MMRING_TIMEOUT`), the peer has gone (`MMRING_DISCONNECTED`), or messages
///   were lost and the reader goes on (`MMRING_LAPPED`).
/// - 10 to 19: the caller's arguments or the handle's state are wrong.
/// - 20 to 39: creating or opening a ring failed.
/// - 40 and up: the ring is corrupt, the operating system failed, or the library itself did.
pub type StatusC = i32;

/// Success.
pub const MMRING_OK: StatusC = 0;
/// Non-blocking receive: no message now (a writer is attached, or none has been yet).
pub const MMRING_EMPTY: StatusC = 1;
/// Non-blocking send or reserve: no room now (the reader has not released enough).
pub const MMRING_FULL: StatusC = 2;
/// A `_timeout` call reached its deadline.
pub const MMRING_TIMEOUT: StatusC = 3;
/// The peer has gone: a reader found the ring empty and its writer gone (every message the
/// writer committed has been received), or a blocked writer found the ring full and its
/// reader gone.
pub const MMRING_DISCONNECTED: StatusC = 4;
/// A receive delivered nothing because the writer overwrote messages this reader had not read
/// yet: an untethered reader it lapped, or a reader that resumed a slot whose position had
/// been overwritten. Reported once per loss; the next receive goes on with the oldest message
/// still intact. `mmring_reader_last_lap` tells how much was missed.
pub const MMRING_LAPPED: StatusC = 5;
/// An argument is invalid: a null pointer where one is required, an options struct of an
/// unknown size or with unknown values, a capacity that is not a power of two from 64 bytes
/// to 4 GiB, a mode with bits beyond 0777, a commit longer than the grant...
pub const MMRING_INVALID_ARGUMENT: StatusC = 10;
/// The handle is null, closed, or not a handle of this kind (a reader passed as a writer).
pub const MMRING_INVALID_HANDLE: StatusC = 11;
/// Another thread is inside a call on the same handle, or a drain callback called back into
/// the handle it is draining. A handle is used by one thread at a time.
pub const MMRING_BUSY: StatusC = 12;
/// The call is not allowed in the handle's current state: a send while a grant or a batch is
/// open, a commit of a grant that is not the open one, a release of a view that is not the
/// current one, a call on a handle that panicked earlier.
pub const MMRING_WRONG_STATE: StatusC = 13;
/// The message is longer than the ring's maximum message length; it can never be sent.
pub const MMRING_TOO_LARGE: StatusC = 14;
/// A copying receive's buffer is smaller than the message; the message stays in the ring
/// and `*len` is set to its length.
pub const MMRING_BUFFER_TOO_SMALL: StatusC = 15;
/// The handle cannot do this: a zero-copy view function (`mmring_reader_try_recv`, `_recv`,
/// `_recv_timeout`, `_release_view`, `_keep_view`, `mmring_reader_drain` without
/// `MMRING_DRAIN_COPY`) or `mmring_reader_pending` on an untethered reader, whose messages may
/// be overwritten while they are read. Nothing was done; use the copying receives.
pub const MMRING_UNSUPPORTED: StatusC = 16;
/// Nothing is at the path (and the options do not create).
pub const MMRING_NOT_FOUND: StatusC = 20;
/// The options say create, and something is already at the path.
pub const MMRING_ALREADY_EXISTS: StatusC = 21;
/// The file may not be opened for reading and writing.
pub const MMRING_PERMISSION_DENIED: StatusC = 22;
/// The file belongs to another user and the options do not allow that.
pub const MMRING_FOREIGN_OWNER: StatusC = 23;
/// The path holds something that is not a ring: a symbolic link, a directory or other
/// non-regular file, an empty file, a file shorter than a header, or one without the magic.
pub const MMRING_NOT_A_RING: StatusC = 24;
/// The ring was written in another layout version (newer, or older and unsupported).
pub const MMRING_VERSION_MISMATCH: StatusC = 25;
/// The ring's creator never finished its header within the options' `init_timeout_ns`.
pub const MMRING_NOT_INITIALISED: StatusC = 26;
/// Another live process (or handle) is already attached as this side.
pub const MMRING_SIDE_TAKEN: StatusC = 27;
/// No space on the file system (or in /dev/shm) for the ring.
pub const MMRING_NO_SPACE: StatusC = 28;
/// Every reader slot of a ring with several is held by a live reader (a ring with one slot
/// reports `MMRING_SIDE_TAKEN`). `mmring_last_error()` names the holders' pids;
/// `mmring_inspect` gives each slot's pid and liveness.
pub const MMRING_READERS_FULL: StatusC = 29;
/// The shared mapping holds something a correct peer never writes (a bad header at open,
/// a bad record or cursor later, a truncated file). The handle is poisoned: every later
/// call on it returns this again; close it.
pub const MMRING_CORRUPT: StatusC = 40;
/// Another operating-system error; `mmring_last_os_error()` has its errno.
pub const MMRING_IO: StatusC = 41;
/// The library panicked (a bug in mmring); the handle it happened on is unusable except
/// for closing.
pub const MMRING_PANIC: StatusC = 50;
/// An error this version of the C API has no more specific code for; see
/// `mmring_last_error()`.
pub const MMRING_ERROR: StatusC = 51;

/// A status, inside the library (each variant is the constant of the same name).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `MMRING_OK`.
    Ok = MMRING_OK,
    /// `MMRING_EMPTY`.
    Empty = MMRING_EMPTY,
    /// `MMRING_FULL`.
    Full = MMRING_FULL,
    /// `MMRING_TIMEOUT`.
    Timeout = MMRING_TIMEOUT,
    /// `MMRING_DISCONNECTED`.
    Disconnected = MMRING_DISCONNECTED,
    /// `MMRING_LAPPED`.
    Lapped = MMRING_LAPPED,
    /// `MMRING_INVALID_ARGUMENT`.
    InvalidArgument = MMRING_INVALID_ARGUMENT,
    /// `MMRING_INVALID_HANDLE`.
    InvalidHandle = MMRING_INVALID_HANDLE,
    /// `MMRING_BUSY`.
    Busy = MMRING_BUSY,
    /// `MMRING_WRONG_STATE`.
    WrongState = MMRING_WRONG_STATE,
    /// `MMRING_TOO_LARGE`.
    TooLarge = MMRING_TOO_LARGE,
    /// `MMRING_BUFFER_TOO_SMALL`.
    BufferTooSmall = MMRING_BUFFER_TOO_SMALL,
    /// `MMRING_UNSUPPORTED`.
    Unsupported = MMRING_UNSUPPORTED,
    /// `MMRING_NOT_FOUND`.
    NotFound = MMRING_NOT_FOUND,
    /// `MMRING_ALREADY_EXISTS`.
    AlreadyExists = MMRING_ALREADY_EXISTS,
    /// `MMRING_PERMISSION_DENIED`.
    PermissionDenied = MMRING_PERMISSION_DENIED,
    /// `MMRING_FOREIGN_OWNER`.
    ForeignOwner = MMRING_FOREIGN_OWNER,
    /// `MMRING_NOT_A_RING`.
    NotARing = MMRING_NOT_A_RING,
    /// `MMRING_VERSION_MISMATCH`.
    VersionMismatch = MMRING_VERSION_MISMATCH,
    /// `MMRING_NOT_INITIALISED`.
    NotInitialised = MMRING_NOT_INITIALISED,
    /// `MMRING_SIDE_TAKEN`.
    SideTaken = MMRING_SIDE_TAKEN,
    /// `MMRING_NO_SPACE`.
    NoSpace = MMRING_NO_SPACE,
    /// `MMRING_READERS_FULL`.
    ReadersFull = MMRING_READERS_FULL,
    /// `MMRING_CORRUPT`.
    Corrupt = MMRING_CORRUPT,
    /// `MMRING_IO`.
    Io = MMRING_IO,
    /// `MMRING_PANIC`.
    Panic = MMRING_PANIC,
    /// `MMRING_ERROR`.
    Error = MMRING_ERROR,
}

impl Status {
    /// Every status, for `mmring_status_name` and the tests.
    pub const ALL: [Status; 27] = [
        Status::Ok,
        Status::Empty,
        Status::Full,
        Status::Timeout,
        Status::Disconnected,
        Status::Lapped,
        Status::InvalidArgument,
        Status::InvalidHandle,
        Status::Busy,
        Status::WrongState,
        Status::TooLarge,
        Status::BufferTooSmall,
        Status::Unsupported,
        Status::NotFound,
        Status::AlreadyExists,
        Status::PermissionDenied,
        Status::ForeignOwner,
        Status::NotARing,
        Status::VersionMismatch,
        Status::NotInitialised,
        Status::SideTaken,
        Status::NoSpace,
        Status::ReadersFull,
        Status::Corrupt,
        Status::Io,
        Status::Panic,
        Status::Error,
    ];

    /// The constant's name in the header, NUL-terminated.
    pub fn name(self) -> &'static CStr {
        match self {
            Status::Ok => c"MMRING_OK",
            Status::Empty => c"MMRING_EMPTY",
            Status::Full => c"MMRING_FULL",
            Status::Timeout => c"MMRING_TIMEOUT",
            Status::Disconnected => c"MMRING_DISCONNECTED",
            Status::Lapped => c"MMRING_LAPPED",
            Status::InvalidArgument => c"MMRING_INVALID_ARGUMENT",
            Status::InvalidHandle => c"MMRING_INVALID_HANDLE",
            Status::Busy => c"MMRING_BUSY",
            Status::WrongState => c"MMRING_WRONG_STATE",
            Status::TooLarge => c"MMRING_TOO_LARGE",
            Status::BufferTooSmall => c"MMRING_BUFFER_TOO_SMALL",
            Status::Unsupported => c"MMRING_UNSUPPORTED",
            Status::NotFound => c"MMRING_NOT_FOUND",
            Status::AlreadyExists => c"MMRING_ALREADY_EXISTS",
            Status::PermissionDenied => c"MMRING_PERMISSION_DENIED",
            Status::ForeignOwner => c"MMRING_FOREIGN_OWNER",
            Status::NotARing => c"MMRING_NOT_A_RING",
            Status::VersionMismatch => c"MMRING_VERSION_MISMATCH",
            Status::NotInitialised => c"MMRING_NOT_INITIALISED",
            Status::SideTaken => c"MMRING_SIDE_TAKEN",
            Status::NoSpace => c"MMRING_NO_SPACE",
            Status::ReadersFull => c"MMRING_READERS_FULL",
            Status::Corrupt => c"MMRING_CORRUPT",
            Status::Io => c"MMRING_IO",
            Status::Panic => c"MMRING_PANIC",
            Status::Error => c"MMRING_ERROR",
        }
    }
}

/// The message of a failure: a fixed text (no allocation, for the frequent outcomes such as
/// `MMRING_EMPTY`) or a formatted one.
#[derive(Debug)]
pub(crate) enum Msg {
    Static(&'static CStr),
    Owned(CString),
}

/// What a reader missed when it was lapped: bytes of records (framing included), and
/// messages where known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lap {
    pub(crate) bytes: u64,
    pub(crate) messages: Option<u64>,
}

/// A failure on its way to the caller: its status, its message, its errno (0 if none), and
/// for `MMRING_LAPPED` what was missed (the reader handle remembers it).
#[derive(Debug)]
pub(crate) struct Error {
    pub(crate) status: Status,
    msg: Msg,
    os: i32,
    pub(crate) lap: Option<Lap>,
}

impl Error {
    /// A failure with a fixed message.
    pub(crate) const fn fixed(status: Status, msg: &'static CStr) -> Error {
        Error {
            status,
            msg: Msg::Static(msg),
            os: 0,
            lap: None,
        }
    }

    /// A failure with a formatted message.
    pub(crate) fn new(status: Status, msg: impl std::fmt::Display) -> Error {
        let text = msg.to_string().replace('\0', "\\0");
        Error {
            status,
            msg: Msg::Owned(CString::new(text).unwrap_or_default()),
            os: 0,
            lap: None,
        }
    }

    /// The same failure with an errno.
    pub(crate) fn with_os(self, os: i32) -> Error {
        Error { os, ..self }
    }

    /// A lap: `MMRING_LAPPED`, with what was missed.
    pub(crate) fn lapped(lap: Lap) -> Error {
        let msg = match lap.messages {
            Some(m) => format!(
                "lapped by the writer: missed {} bytes ({m} messages)",
                lap.bytes
            ),
            None => format!("lapped by the writer: missed {} bytes", lap.bytes),
        };
        Error {
            lap: Some(lap),
            ..Error::new(Status::Lapped, msg)
        }
    }

    /// An operating-system error of the readiness handle (`what` failed).
    pub(crate) fn io(what: &str, e: &std::io::Error) -> Error {
        Error::new(Status::Io, format_args!("{what}: {e}")).with_os(e.raw_os_error().unwrap_or(0))
    }

    /// An invalid argument, named.
    pub(crate) fn arg(msg: impl std::fmt::Display) -> Error {
        Error::new(Status::InvalidArgument, msg)
    }

    /// A caught panic.
    pub(crate) fn panic(payload: &(dyn std::any::Any + Send)) -> Error {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        Error::new(
            Status::Panic,
            format_args!("internal error (a bug in mmring, please report it): panic: {what}"),
        )
    }

    /// Stores the message as this thread's last error; the status to return.
    pub(crate) fn record(self) -> Status {
        LAST.with(|l| {
            if let Ok(mut l) = l.try_borrow_mut() {
                *l = (self.msg, self.os);
            }
        });
        self.status
    }
}

thread_local! {
    /// The last failure's message and errno on this thread.
    static LAST: RefCell<(Msg, i32)> = const { RefCell::new((Msg::Static(c""), 0)) };
}

impl From<Corrupt> for Error {
    fn from(c: Corrupt) -> Error {
        Error::new(Status::Corrupt, c)
    }
}

impl From<TrySendError> for Error {
    fn from(e: TrySendError) -> Error {
        match e {
            TrySendError::Full => Error::fixed(Status::Full, c"ring is full"),
            TrySendError::TooLarge { .. } => Error::new(Status::TooLarge, e),
            TrySendError::Corrupt(c) => c.into(),
            _ => Error::new(Status::Error, e),
        }
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Error {
        match e {
            SendError::Timeout => {
                Error::fixed(Status::Timeout, c"timed out waiting for space in the ring")
            }
            SendError::Disconnected => Error::fixed(
                Status::Disconnected,
                c"the reader has disconnected and the ring is full",
            ),
            SendError::TooLarge { .. } => Error::new(Status::TooLarge, e),
            SendError::Corrupt(c) => c.into(),
            _ => Error::new(Status::Error, e),
        }
    }
}

const WRITER_GONE: &CStr =
    c"the writer has disconnected and every message it committed has been received";

impl From<TryRecvError> for Error {
    fn from(e: TryRecvError) -> Error {
        match e {
            TryRecvError::Empty => Error::fixed(Status::Empty, c"ring is empty"),
            TryRecvError::Disconnected => Error::fixed(Status::Disconnected, WRITER_GONE),
            TryRecvError::Lapped {
                missed_bytes,
                missed_messages,
            } => Error::lapped(Lap {
                bytes: missed_bytes,
                messages: missed_messages,
            }),
            TryRecvError::Corrupt(c) => c.into(),
            _ => Error::new(Status::Error, e),
        }
    }
}

impl From<RecvError> for Error {
    fn from(e: RecvError) -> Error {
        match e {
            RecvError::Timeout => Error::fixed(Status::Timeout, c"timed out waiting for a message"),
            RecvError::Disconnected => Error::fixed(Status::Disconnected, WRITER_GONE),
            RecvError::Lapped {
                missed_bytes,
                missed_messages,
            } => Error::lapped(Lap {
                bytes: missed_bytes,
                messages: missed_messages,
            }),
            RecvError::Corrupt(c) => c.into(),
            _ => Error::new(Status::Error, e),
        }
    }
}

impl From<OpenError> for Error {
    fn from(e: OpenError) -> Error {
        let status = match &e {
            OpenError::InvalidCapacity(_)
            | OpenError::InvalidReaders(_)
            | OpenError::InvalidMode { .. } => Status::InvalidArgument,
            OpenError::AlreadyExists { .. } => Status::AlreadyExists,
            OpenError::NotFound { .. } => Status::NotFound,
            OpenError::PermissionDenied { .. } => Status::PermissionDenied,
            OpenError::ForeignOwner { .. } => Status::ForeignOwner,
            OpenError::Symlink { .. }
            | OpenError::NotRegularFile { .. }
            | OpenError::Empty { .. }
            | OpenError::TooShort { .. }
            | OpenError::BadMagic { .. } => Status::NotARing,
            OpenError::NewerVersion { .. } | OpenError::OlderVersion { .. } => {
                Status::VersionMismatch
            }
            OpenError::BadHeader { .. }
            | OpenError::BadCapacity { .. }
            | OpenError::LengthMismatch { .. }
            | OpenError::Corrupt { .. } => Status::Corrupt,
            OpenError::NotInitialised { .. } => Status::NotInitialised,
            OpenError::NoSpace { .. } => Status::NoSpace,
            OpenError::SideTaken { .. } => Status::SideTaken,
            OpenError::ReadersFull { .. } => Status::ReadersFull,
            OpenError::Io { .. } => Status::Io,
            _ => Status::Error,
        };
        let os = match &e {
            OpenError::Io { source, .. } => source.raw_os_error().unwrap_or(0),
            _ => 0,
        };
        Error {
            os,
            ..Error::new(status, e)
        }
    }
}

/// The message of the last failing call on the calling thread: a NUL-terminated string, never
/// null (empty if nothing has failed on this thread yet). It describes the most recent call that
/// returned anything but `MMRING_OK`; calls that succeed leave it as it was. The pointer stays
/// valid until the next mmring call on the same thread; copy the text to keep it. Cannot fail.
#[no_mangle]
pub extern "C" fn mmring_last_error() -> *const c_char {
    LAST.with(|l| match l.try_borrow() {
        Ok(l) => match &l.0 {
            Msg::Static(s) => s.as_ptr(),
            // The CString lives in the thread-local until the next failure replaces it.
            Msg::Owned(s) => s.as_ptr(),
        },
        Err(_) => c"".as_ptr(),
    })
}

/// The operating-system error number (`errno`) behind the last failing call on this thread if
/// it returned `MMRING_IO` (and for some other open failures), else 0. Cannot fail.
#[no_mangle]
pub extern "C" fn mmring_last_os_error() -> i32 {
    LAST.with(|l| l.try_borrow().map_or(0, |l| l.1))
}

/// The name of a status value as a static NUL-terminated string ("MMRING_FULL"), or
/// "MMRING_UNKNOWN_STATUS" for a value this library does not know. Never null; never freed.
/// Any value may be passed. Cannot fail.
#[no_mangle]
pub extern "C" fn mmring_status_name(status: i32) -> *const c_char {
    Status::ALL
        .iter()
        .find(|s| **s as i32 == status)
        .map_or(c"MMRING_UNKNOWN_STATUS", |s| s.name())
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_values() {
        for s in Status::ALL {
            // SAFETY: mmring_status_name returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(mmring_status_name(s as i32)) };
            assert_eq!(name, s.name());
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(mmring_status_name(9999)) };
        assert_eq!(unknown, c"MMRING_UNKNOWN_STATUS");
    }

    #[test]
    fn last_error_is_per_thread() {
        Error::new(Status::Io, "main thread").record();
        std::thread::spawn(|| {
            // SAFETY: a NUL-terminated string valid until the next call on this thread.
            let s = unsafe { CStr::from_ptr(mmring_last_error()) };
            assert_eq!(s, c"");
        })
        .join()
        .unwrap();
        // SAFETY: as above.
        let s = unsafe { CStr::from_ptr(mmring_last_error()) };
        assert_eq!(s, c"main thread");
    }
}
