//! `mmring_reader`: the receiving end, with zero-copy views held across calls.
//!
//! A Rust `Message` borrows its `Reader` mutably and consumes the message when it drops. A C
//! view lives from a receive to the next receive or release. The handle gets that without
//! holding a borrow across calls: on receiving, the message is *kept* (left unconsumed in the
//! ring, `Message::keep`, so the writer cannot reuse its bytes) and its place remembered; the
//! next receive, `mmring_reader_release_view` or `mmring_reader_release` consumes it first
//! (`Reader::try_skip`, which finds the same record again: only this reader moves its cursor).
//!
//! The same handle type carries an untethered reader (`mmring_options.reader_kind`), which has
//! no views: its copying receives copy each message into the handle's buffer first (validated
//! after the copy: the writer may overwrite it meanwhile), then into the caller's buffer; a
//! message that does not fit the caller's buffer stays in the handle's for the next receive.

use crate::boundary::{self, buffer, out, timeout, Kind, Shell};
use crate::options::{self, from_c, OptionsC, Parsed, WaitStrategyC};
use crate::status::{Error, Lap, Status, StatusC};
use api::{Message, Reader, Readiness, RingOptions, UntetheredReader, WriterStatus};
use std::ffi::{c_char, c_int, c_void};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// A reader handle (opaque). Created by `mmring_reader_open` and friends, freed by
/// `mmring_reader_close`. Use it from one thread at a time (it may move between threads).
#[derive(Debug)]
pub struct ReaderHandle {
    _opaque: [u8; 0],
}

/// A message in place in the ring (zero-copy): `data[0..len)`, 8-byte aligned. Valid until the
/// next receive, `mmring_reader_release_view`, `mmring_reader_keep_view`,
/// `mmring_reader_release`, `mmring_reader_try_skip`, `mmring_reader_drain` or
/// `mmring_reader_close` on the same reader, whichever comes first; after that `data` may be
/// overwritten by the writer at any time. Reading it is sound only while the writer follows the
/// protocol (see docs/C-API.md, "Zero-copy and untrusted peers"); against a writer you do not
/// trust, use the copying receives. `token` identifies the view; do not change any field.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ViewC {
    /// The payload, in the shared mapping.
    pub data: *const u8,
    /// Its length in bytes.
    pub len: usize,
    /// Identifies the view to its reader (0: no view).
    pub token: u64,
}

impl ViewC {
    const NONE: ViewC = ViewC {
        data: std::ptr::null(),
        len: 0,
        token: 0,
    };
}

/// Whether a writer is there, as a reader sees it (`mmring_reader_writer_status`).
pub type WriterStatusC = u32;
/// No writer has attached to this ring yet.
pub const MMRING_WRITER_NEVER: WriterStatusC = 0;
/// A writer is attached.
pub const MMRING_WRITER_ALIVE: WriterStatusC = 1;
/// A writer attached and has since gone (exited, closed or died).
pub const MMRING_WRITER_GONE: WriterStatusC = 2;

/// `mmring_reader_drain` flag: copy each message out of the ring (with atomic loads) before the
/// callback sees it, which is sound whatever the writer does; without it the callback sees the
/// message in place.
pub const MMRING_DRAIN_COPY: u32 = 1;

/// Called by `mmring_reader_drain` with each message, in order: `data[0..len)` is valid until
/// the callback returns. Return 0 to go on, anything else to stop after this message (which is
/// consumed either way). It must not unwind or `longjmp` out (C++: catch every exception), and
/// a call it makes on the reader being drained returns `MMRING_BUSY`.
pub type DrainFn =
    Option<unsafe extern "C" fn(user: *mut c_void, data: *const u8, len: usize) -> i32>;

/// The view handed out last, if it is still open.
#[derive(Debug)]
struct OpenView {
    token: u64,
    data: *const u8,
}

/// The reader behind a handle.
#[derive(Debug)]
enum Reading {
    Tethered(Reader),
    Untethered(Lossy),
}

/// An untethered reader and the message or loss it has yet to deliver.
#[derive(Debug)]
struct Lossy {
    reader: UntetheredReader,
    /// The message being delivered (an intact copy), while `held` is `Some(Held::Message)`.
    buf: Vec<u8>,
    held: Option<Held>,
}

/// What an untethered reader's handle holds for the next receive.
#[derive(Debug)]
enum Held {
    /// `buf`: received, not yet delivered (it did not fit the caller's buffer).
    Message,
    /// A lap found by a drain after it had handed out messages.
    Lap(Lap),
}

/// How a receive waits.
#[derive(Debug, Clone, Copy)]
enum Wait {
    Try,
    Block,
    For(Duration),
}

/// The state behind a reader handle.
#[derive(Debug)]
pub(crate) struct ReaderState {
    reading: Reading,
    view: Option<OpenView>,
    last_token: u64,
    /// The buffer of `MMRING_DRAIN_COPY`.
    copy: Vec<u8>,
    /// What the last `MMRING_LAPPED` reported.
    last_lap: Option<Lap>,
    /// The readiness handle, made by the first `mmring_reader_readiness_fd`.
    readiness: Option<Readiness>,
}

impl Kind for ReaderState {
    const MAGIC: u64 = u64::from_le_bytes(*b"mmr-rder");
    const NAME: &'static str = "reader";
}

const NOT_THE_VIEW: Error = Error::fixed(
    Status::WrongState,
    c"not the open view of this reader (already released, stale, or another reader's)",
);

/// What an untethered reader cannot do.
fn unsupported(what: &str) -> Error {
    Error::new(
        Status::Unsupported,
        format_args!(
            "{what}: not on an untethered reader (the writer may overwrite its messages while \
             they are read, so it has no zero-copy views): use the copying receives \
             (mmring_reader_*recv_copy*, mmring_reader_drain with MMRING_DRAIN_COPY)"
        ),
    )
}

impl ReaderState {
    fn new(reading: Reading) -> ReaderState {
        ReaderState {
            reading,
            view: None,
            last_token: 0,
            copy: Vec::new(),
            last_lap: None,
            readiness: None,
        }
    }

    /// The tethered reader, or `MMRING_UNSUPPORTED` for `what`.
    fn tethered(&mut self, what: &str) -> Result<&mut Reader, Error> {
        match &mut self.reading {
            Reading::Tethered(r) => Ok(r),
            Reading::Untethered(_) => Err(unsupported(what)),
        }
    }

    /// Consumes the message of the open view, if there is one (only a tethered reader has
    /// views).
    fn settle(&mut self) -> Result<(), Error> {
        if self.view.take().is_some() {
            self.tethered("settle")?.try_skip()?;
        }
        Ok(())
    }

    fn is_open(&self, v: &ViewC) -> bool {
        self.view
            .as_ref()
            .is_some_and(|o| o.token == v.token && o.data == v.data && v.token != 0)
    }
}

/// `MMRING_BUFFER_TOO_SMALL` for a message of `n` bytes, which stays `where_`.
fn too_small(n: usize, cap: usize, where_: &str) -> Error {
    Error::new(
        Status::BufferTooSmall,
        format_args!(
            "message of {n} bytes does not fit the buffer of {cap} bytes; it stays {where_}"
        ),
    )
}

/// Copies `m` into `buf[0..cap)` (already checked: non-null if `cap > 0`), or keeps it in the
/// ring if it does not fit.
///
/// # Safety
/// `buf` is null or writable for `cap` bytes.
unsafe fn copy_out(
    m: Result<Message<'_>, Error>,
    buf: *mut u8,
    cap: usize,
    len: &mut usize,
) -> Result<(), Error> {
    let m = m?;
    *len = m.len();
    if m.len() > cap {
        let n = m.len();
        m.keep();
        return Err(too_small(n, cap, "in the ring"));
    }
    // SAFETY: `m.len() <= cap` bytes of `buf` are writable (contract).
    m.copy_to_slice(unsafe { buffer(buf, m.len()) }?);
    Ok(())
}

impl Lossy {
    /// Makes the next message `buf` (held until delivered): the held one, or a new one.
    fn next(&mut self, wait: Wait) -> Result<(), Error> {
        match self.held {
            Some(Held::Message) => return Ok(()),
            Some(Held::Lap(lap)) => {
                self.held = None;
                return Err(Error::lapped(lap));
            }
            None => {}
        }
        let (r, buf) = (&mut self.reader, &mut self.buf);
        match wait {
            Wait::Try => r.try_recv_into(buf).map_err(Error::from),
            Wait::Block => r.recv_into(buf).map_err(Error::from),
            Wait::For(d) => r.recv_timeout_into(buf, d).map_err(Error::from),
        }?;
        self.held = Some(Held::Message);
        Ok(())
    }

    /// Delivers the held message into `buf[0..cap)` (already checked: non-null if `cap > 0`),
    /// or keeps holding it if it does not fit.
    ///
    /// # Safety
    /// `buf` is null or writable for `cap` bytes.
    unsafe fn deliver(&mut self, buf: *mut u8, cap: usize, len: &mut usize) -> Result<(), Error> {
        let n = self.buf.len();
        *len = n;
        if n > cap {
            return Err(too_small(
                n,
                cap,
                "in the reader (the next receive returns it)",
            ));
        }
        // SAFETY: `n <= cap` bytes of `buf` are writable (contract).
        unsafe { buffer(buf, n) }?.copy_from_slice(&self.buf);
        self.held = None;
        Ok(())
    }
}

/// A copying receive: the next message into `buf[0..cap)`, `*len` its length.
///
/// # Safety
/// `buf` is null or writable for `cap` bytes (already checked: non-null if `cap > 0`).
unsafe fn recv_copy(
    s: &mut ReaderState,
    wait: Wait,
    buf: *mut u8,
    cap: usize,
    len: &mut usize,
) -> Result<(), Error> {
    s.settle()?;
    match &mut s.reading {
        Reading::Tethered(r) => {
            let m = match wait {
                Wait::Try => r.try_recv().map_err(Error::from),
                Wait::Block => r.recv().map_err(Error::from),
                Wait::For(d) => r.recv_timeout(d).map_err(Error::from),
            };
            // SAFETY: forwarded contract.
            unsafe { copy_out(m, buf, cap, len) }
        }
        Reading::Untethered(l) => {
            l.next(wait)?;
            // SAFETY: forwarded contract.
            unsafe { l.deliver(buf, cap, len) }
        }
    }
}

/// Checks a copying receive's arguments before anything is received.
///
/// # Safety
/// `len` is null or writable.
unsafe fn copy_args<'a>(buf: *mut u8, cap: usize, len: *mut usize) -> Result<&'a mut usize, Error> {
    // SAFETY: null or writable (contract).
    let len = unsafe { out(len, "length output") }?;
    *len = 0;
    if buf.is_null() && cap > 0 {
        return Err(Error::arg(format_args!(
            "null buffer with a capacity of {cap}"
        )));
    }
    Ok(len)
}

/// # Safety
/// As for every `mmring_reader_*` function: `r` is null or a live handle.
unsafe fn with(
    r: *const ReaderHandle,
    f: impl FnOnce(&mut ReaderState) -> Result<(), Error>,
) -> StatusC {
    // SAFETY: forwarded contract; the handle was made by `open` from a Shell<ReaderState>.
    unsafe {
        Shell::<ReaderState>::with(r.cast(), |s| {
            let result = f(s);
            if let Err(Error { lap: Some(lap), .. }) = &result {
                s.last_lap = Some(*lap);
            }
            result
        })
    }
}

/// # Safety
/// `path` is null or NUL-terminated; `out` is null or writable.
unsafe fn open(
    path: *const c_char,
    out: *mut *mut ReaderHandle,
    opts: impl FnOnce() -> Result<Parsed, Error>,
) -> StatusC {
    boundary::call(|| {
        // SAFETY: null or writable (contract).
        let out = unsafe { boundary::out(out, "handle output") }?;
        *out = std::ptr::null_mut();
        // SAFETY: null or NUL-terminated (contract).
        let path = unsafe { boundary::path(path) }?;
        let opts = opts()?;
        let reading = if opts.untethered {
            Reading::Untethered(Lossy {
                reader: opts.ring.open_untethered(path)?,
                buf: Vec::new(),
                held: None,
            })
        } else {
            Reading::Tethered(opts.ring.open_reader(path)?)
        };
        *out = Shell::into_raw(ReaderState::new(reading)).cast();
        Ok(())
    })
}

/// Options for a tethered reader.
fn tethered(ring: RingOptions) -> Parsed {
    Parsed {
        ring,
        untethered: false,
    }
}

/// Attaches as a reader of the ring at `path` (its first free reader slot), as `opts` says
/// (null: the defaults, which open an existing ring): tethered, or untethered if
/// `opts->reader_kind` is `MMRING_READER_UNTETHERED`, starting as `opts->start` says. On
/// success `*out` is the new handle; on failure it is set to NULL.
///
/// # Errors
/// As `mmring_writer_open`; `MMRING_SIDE_TAKEN` when the only reader slot is held,
/// `MMRING_READERS_FULL` when every one of several is.
///
/// # Safety
/// `path` is null or a NUL-terminated string; `opts` is null or an initialised
/// `mmring_options`; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_open(
    path: *const c_char,
    opts: *const OptionsC,
    out: *mut *mut ReaderHandle,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `open`'s and `from_c`'s.
    unsafe { open(path, out, || from_c(opts)) }
}

/// Creates a ring of `capacity` data bytes at `path`, mode 0600, and attaches as its reader.
///
/// # Errors
/// As `mmring_reader_open`; `MMRING_ALREADY_EXISTS` if anything is at the path.
///
/// # Safety
/// As `mmring_reader_open`.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_create(
    path: *const c_char,
    capacity: u64,
    out: *mut *mut ReaderHandle,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `open`'s.
    unsafe {
        open(path, out, || {
            Ok(tethered(
                RingOptions::new().create(options::capacity(capacity)?),
            ))
        })
    }
}

/// Opens the ring at `path` as a reader, creating it with `capacity` data bytes if nothing is
/// there.
///
/// # Errors
/// As `mmring_reader_open`.
///
/// # Safety
/// As `mmring_reader_open`.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_open_or_create(
    path: *const c_char,
    capacity: u64,
    out: *mut *mut ReaderHandle,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `open`'s.
    unsafe {
        open(path, out, || {
            Ok(tethered(
                RingOptions::new().create_if_missing(options::capacity(capacity)?),
            ))
        })
    }
}

/// Detaches and frees the reader at `*r` (giving consumed space back to the writer; the message
/// of an open view is consumed), then sets `*r` to NULL. Closing `*r == NULL` does nothing and
/// succeeds.
///
/// # Errors
/// `MMRING_INVALID_ARGUMENT` if `r` is null; `MMRING_INVALID_HANDLE` if `*r` is not a live
/// reader; `MMRING_BUSY` if another thread is inside a call on it.
///
/// # Safety
/// `r` is null or points to a handle pointer (null or live).
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_close(r: *mut *mut ReaderHandle) -> StatusC {
    // SAFETY: the pointer meets this function's contract, which is `Shell::close`'s.
    unsafe { Shell::<ReaderState>::close(r.cast()) }
}

/// `*out` = the ring's data capacity in bytes.
///
/// # Errors
/// `MMRING_INVALID_HANDLE`, `MMRING_INVALID_ARGUMENT` (null `out`), `MMRING_BUSY`.
///
/// # Safety
/// `r` is null or a live handle; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_capacity(
    r: *const ReaderHandle,
    out: *mut usize,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s.
    unsafe {
        with(r, |s| {
            *boundary::out(out, "capacity output")? = match &s.reading {
                Reading::Tethered(r) => r.capacity(),
                Reading::Untethered(l) => l.reader.capacity(),
            };
            Ok(())
        })
    }
}

/// `*out` = the longest message the ring accepts.
///
/// # Errors
/// As `mmring_reader_capacity`.
///
/// # Safety
/// As `mmring_reader_capacity`.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_max_message_len(
    r: *const ReaderHandle,
    out: *mut usize,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s.
    unsafe {
        with(r, |s| {
            *boundary::out(out, "length output")? = match &s.reading {
                Reading::Tethered(r) => r.max_message_len(),
                Reading::Untethered(l) => {
                    api::layout::max_message_len(l.reader.capacity() as u64) as usize
                }
            };
            Ok(())
        })
    }
}

/// Changes how blocking calls wait (`MMRING_WAIT_*`).
///
/// # Errors
/// `MMRING_INVALID_ARGUMENT` (unknown strategy), `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `r` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_set_wait_strategy(
    r: *mut ReaderHandle,
    strategy: WaitStrategyC,
) -> StatusC {
    // SAFETY: the pointer meets this function's contract, which is `with`'s.
    unsafe {
        with(r, |s| {
            let strategy = options::wait_strategy(strategy)?;
            match &mut s.reading {
                Reading::Tethered(r) => r.set_wait_strategy(strategy),
                Reading::Untethered(l) => l.reader.set_wait_strategy(strategy),
            }
            Ok(())
        })
    }
}

/// `*status` = `MMRING_WRITER_NEVER`, `_ALIVE` or `_GONE` (asks the kernel); `*pid` (if `pid`
/// is not null) = the live writer's process id, else 0.
///
/// # Errors
/// `MMRING_INVALID_HANDLE`, `MMRING_INVALID_ARGUMENT` (null `status`), `MMRING_BUSY`.
///
/// # Safety
/// `r` is null or a live handle; `status` is null or writable; `pid` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_writer_status(
    r: *const ReaderHandle,
    status: *mut WriterStatusC,
    pid: *mut u32,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s;
    // `pid` is null or writable.
    unsafe {
        with(r, |s| {
            let status = boundary::out(status, "status output")?;
            let ws = match &s.reading {
                Reading::Tethered(r) => r.writer_status(),
                Reading::Untethered(l) => l.reader.writer_status(),
            };
            let (st, p) = match ws {
                WriterStatus::Never => (MMRING_WRITER_NEVER, 0),
                WriterStatus::Alive(p) => (MMRING_WRITER_ALIVE, p),
                WriterStatus::Gone => (MMRING_WRITER_GONE, 0),
            };
            *status = st;
            if let Some(pid) = pid.as_mut() {
                *pid = p;
            }
            Ok(())
        })
    }
}

/// `*out` = bytes committed and not yet consumed (framing included); the message of an open
/// view still counts.
///
/// # Errors
/// `MMRING_UNSUPPORTED` on an untethered reader, and as `mmring_reader_capacity`.
///
/// # Safety
/// As `mmring_reader_capacity`.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_pending(r: *const ReaderHandle, out: *mut usize) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s.
    unsafe {
        with(r, |s| {
            let out = boundary::out(out, "length output")?;
            *out = s.tethered("mmring_reader_pending")?.pending();
            Ok(())
        })
    }
}

/// Receives the next message without blocking, in place: on success `*view` describes it (see
/// `mmring_view` for how long it stays valid). The message of a view still open is consumed
/// first. On failure `*view` is zeroed.
///
/// # Errors
/// `MMRING_EMPTY` (nothing committed now), `MMRING_DISCONNECTED` (nothing committed and the
/// writer has gone), `MMRING_LAPPED` (messages were lost: see `mmring_reader_last_lap`; the next
/// receive goes on), `MMRING_CORRUPT` (the reader is poisoned), `MMRING_UNSUPPORTED` (an
/// untethered reader: it has no views), `MMRING_INVALID_ARGUMENT`, `MMRING_INVALID_HANDLE`,
/// `MMRING_BUSY`.
///
/// # Safety
/// `r` is null or a live handle; `view` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_try_recv(r: *mut ReaderHandle, view: *mut ViewC) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s.
    unsafe {
        with(r, |s| {
            let v = out(view, "view")?;
            *v = ViewC::NONE;
            s.settle()?;
            let m = kept(s.tethered("mmring_reader_try_recv")?.try_recv());
            finish_view(s, m, v)
        })
    }
}

/// Leaves the received message in the ring (the open view's message is consumed later, by
/// `settle`); its place and length.
fn kept<E: Into<Error>>(m: Result<Message<'_>, E>) -> Result<(*const u8, usize), Error> {
    let m = m.map_err(Into::into)?;
    let (data, len) = (m.as_ptr(), m.len());
    m.keep();
    Ok((data, len))
}

/// Records the kept message `m` (pointer, length) as the open view.
fn finish_view(
    s: &mut ReaderState,
    m: Result<(*const u8, usize), Error>,
    v: &mut ViewC,
) -> Result<(), Error> {
    let (data, len) = m?;
    s.last_token += 1;
    let token = s.last_token;
    s.view = Some(OpenView { token, data });
    *v = ViewC { data, len, token };
    Ok(())
}

/// Waits for the next message as the wait strategy says, and views it in place as
/// `mmring_reader_try_recv` does. A reader waits for a writer if none has attached yet; once
/// its writer has gone and everything it committed has been received, `MMRING_DISCONNECTED`.
///
/// # Errors
/// `MMRING_DISCONNECTED`, `MMRING_LAPPED`, `MMRING_CORRUPT`, `MMRING_UNSUPPORTED`,
/// `MMRING_INVALID_ARGUMENT`, `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// As `mmring_reader_try_recv`.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_recv(r: *mut ReaderHandle, view: *mut ViewC) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s.
    unsafe {
        with(r, |s| {
            let v = out(view, "view")?;
            *v = ViewC::NONE;
            s.settle()?;
            let m = kept(s.tethered("mmring_reader_recv")?.recv());
            finish_view(s, m, v)
        })
    }
}

/// Like `mmring_reader_recv`, giving up after `timeout_ns` nanoseconds.
///
/// # Errors
/// `MMRING_TIMEOUT`, and as `mmring_reader_recv`.
///
/// # Safety
/// As `mmring_reader_try_recv`.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_recv_timeout(
    r: *mut ReaderHandle,
    timeout_ns: u64,
    view: *mut ViewC,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s.
    unsafe {
        with(r, |s| {
            let v = out(view, "view")?;
            *v = ViewC::NONE;
            s.settle()?;
            let m = kept(
                s.tethered("mmring_reader_recv_timeout")?
                    .recv_timeout(timeout(timeout_ns)),
            );
            finish_view(s, m, v)
        })
    }
}

/// Consumes the message of the open view `*view` (its space goes back to the writer with the
/// reader's next release, which receiving does by itself when the ring is empty and every
/// eighth of the ring), and zeroes `*view`. Receiving again does this implicitly; call it to
/// finish with a message early.
///
/// # Errors
/// `MMRING_WRONG_STATE` (not this reader's open view: already released, or stale),
/// `MMRING_CORRUPT`, `MMRING_UNSUPPORTED` (an untethered reader), `MMRING_INVALID_ARGUMENT`
/// (null `view`), `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `r` is null or a live handle; `view` is null or a readable and writable `mmring_view`.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_release_view(
    r: *mut ReaderHandle,
    view: *mut ViewC,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s.
    unsafe {
        with(r, |s| {
            let v = out(view, "view")?;
            s.tethered("mmring_reader_release_view")?;
            if !s.is_open(v) {
                return Err(NOT_THE_VIEW);
            }
            *v = ViewC::NONE;
            s.settle()
        })
    }
}

/// Leaves the message of the open view `*view` in the ring: the next receive returns it again.
/// Zeroes `*view`.
///
/// # Errors
/// As `mmring_reader_release_view`.
///
/// # Safety
/// As `mmring_reader_release_view`.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_keep_view(
    r: *mut ReaderHandle,
    view: *mut ViewC,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s.
    unsafe {
        with(r, |s| {
            let v = out(view, "view")?;
            s.tethered("mmring_reader_keep_view")?;
            if !s.is_open(v) {
                return Err(NOT_THE_VIEW);
            }
            *v = ViewC::NONE;
            s.view = None;
            Ok(())
        })
    }
}

/// Receives the next message without blocking and copies it into `buf[0..cap)` with atomic
/// loads: sound whatever the writer does (it can only make you read wrong bytes). `*len` = the
/// message's length. `buf` may be NULL when `cap` is 0 (to learn the next message's length).
/// Works on both kinds of reader; an untethered reader delivers only messages that stayed
/// intact while it copied them.
///
/// # Errors
/// `MMRING_BUFFER_TOO_SMALL` (the message is longer than `cap`: it stays in the ring, or in an
/// untethered reader's handle, for the next receive; `*len` is its length), and as
/// `mmring_reader_try_recv` except `MMRING_UNSUPPORTED`.
///
/// # Safety
/// `r` is null or a live handle; `buf` is null or writable for `cap` bytes; `len` is null or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_try_recv_copy(
    r: *mut ReaderHandle,
    buf: *mut c_void,
    cap: usize,
    len: *mut usize,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s, `copy_args`'s and
    // `copy_out`'s.
    unsafe {
        with(r, |s| {
            let (buf, len) = (buf.cast::<u8>(), copy_args(buf.cast(), cap, len)?);
            recv_copy(s, Wait::Try, buf, cap, len)
        })
    }
}

/// Waits for the next message and copies it into `buf[0..cap)`, as
/// `mmring_reader_try_recv_copy` does.
///
/// # Errors
/// `MMRING_BUFFER_TOO_SMALL`, and as `mmring_reader_recv` except `MMRING_UNSUPPORTED`.
///
/// # Safety
/// As `mmring_reader_try_recv_copy`.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_recv_copy(
    r: *mut ReaderHandle,
    buf: *mut c_void,
    cap: usize,
    len: *mut usize,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s, `copy_args`'s and
    // `copy_out`'s.
    unsafe {
        with(r, |s| {
            let (buf, len) = (buf.cast::<u8>(), copy_args(buf.cast(), cap, len)?);
            recv_copy(s, Wait::Block, buf, cap, len)
        })
    }
}

/// Like `mmring_reader_recv_copy`, giving up after `timeout_ns` nanoseconds.
///
/// # Errors
/// `MMRING_TIMEOUT`, and as `mmring_reader_recv_copy`.
///
/// # Safety
/// As `mmring_reader_try_recv_copy`.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_recv_copy_timeout(
    r: *mut ReaderHandle,
    buf: *mut c_void,
    cap: usize,
    len: *mut usize,
    timeout_ns: u64,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s, `copy_args`'s and
    // `copy_out`'s.
    unsafe {
        with(r, |s| {
            let (buf, len) = (buf.cast::<u8>(), copy_args(buf.cast(), cap, len)?);
            recv_copy(s, Wait::For(timeout(timeout_ns)), buf, cap, len)
        })
    }
}

/// Discards the next message without reading it, without blocking; `*len` (if `len` is not
/// null) = its length. The message of an open view is consumed first (it is not the one
/// skipped). On an untethered reader, a message kept after `MMRING_BUFFER_TOO_SMALL` is the
/// one skipped.
///
/// # Errors
/// As `mmring_reader_try_recv` except `MMRING_UNSUPPORTED`.
///
/// # Safety
/// `r` is null or a live handle; `len` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_try_skip(r: *mut ReaderHandle, len: *mut usize) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s; `len` is null or
    // writable.
    unsafe {
        with(r, |s| {
            s.settle()?;
            let n = match &mut s.reading {
                Reading::Tethered(r) => r.try_skip()?,
                Reading::Untethered(l) => match l.held {
                    Some(Held::Message) => {
                        l.held = None;
                        l.buf.len()
                    }
                    Some(Held::Lap(lap)) => {
                        l.held = None;
                        return Err(Error::lapped(lap));
                    }
                    None => l.reader.try_read_in_place(|m| m.len())?,
                },
            };
            if let Some(len) = len.as_mut() {
                *len = n;
            }
            Ok(())
        })
    }
}

/// Hands up to `max` committed messages to `f(user, data, len)`, in order, without blocking,
/// and gives their space back to the writer with one release at the end: the batched receive.
/// Stops early when `f` returns non-zero. `*count` = how many messages `f` was given (set even
/// when an error ends the drain). `flags`: 0, or `MMRING_DRAIN_COPY` to hand `f` a copy (sound
/// against any writer) instead of the message in place. `max == 0` hands nothing and succeeds.
///
/// On an untethered reader only `MMRING_DRAIN_COPY` is supported; a loss found after some
/// messages were handed ends the drain, and the next receive reports it (`MMRING_LAPPED`).
///
/// # Errors
/// When no message was handed: `MMRING_EMPTY`, `MMRING_DISCONNECTED` or `MMRING_LAPPED` as in
/// `mmring_reader_try_recv`. `MMRING_CORRUPT` in any case. `MMRING_UNSUPPORTED` (an untethered
/// reader without `MMRING_DRAIN_COPY`), `MMRING_INVALID_ARGUMENT` (null `f` or `count`, unknown
/// flags), `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `r` is null or a live handle; `f` is null or a function with the `mmring_drain_fn`
/// contract, to which `user` is passed unchanged; `count` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_drain(
    r: *mut ReaderHandle,
    max: usize,
    flags: u32,
    f: DrainFn,
    user: *mut c_void,
    count: *mut usize,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s, `out`'s and
    // `drain`'s.
    unsafe {
        with(r, |s| {
            let count = out(count, "count output")?;
            *count = 0;
            let f = f.ok_or_else(|| Error::arg("null drain callback"))?;
            if flags & !MMRING_DRAIN_COPY != 0 {
                return Err(Error::arg(format_args!(
                    "unknown drain flags {:#x}",
                    flags & !MMRING_DRAIN_COPY
                )));
            }
            let copy = flags & MMRING_DRAIN_COPY != 0;
            if !copy {
                s.tethered("mmring_reader_drain without MMRING_DRAIN_COPY")?;
            }
            s.settle()?;
            drain(s, max, copy, f, user, count)
        })
    }
}

/// The loop of `mmring_reader_drain`.
///
/// # Safety
/// `f` has the `mmring_drain_fn` contract for `user`.
unsafe fn drain(
    s: &mut ReaderState,
    max: usize,
    copy: bool,
    f: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> i32,
    user: *mut c_void,
    count: &mut usize,
) -> Result<(), Error> {
    if max == 0 {
        return Ok(());
    }
    let (buf, r) = match &mut s.reading {
        Reading::Tethered(r) => (&mut s.copy, r),
        Reading::Untethered(l) => {
            // SAFETY: forwarded contract.
            return unsafe { drain_lossy(l, max, f, user, count) };
        }
    };
    let mut batch = r.batch();
    while *count < max {
        let (data, len) = if copy {
            if !batch.next_into(buf)? {
                break;
            }
            (buf.as_ptr(), buf.len())
        } else {
            match batch.next()? {
                Some(m) => (m.as_ptr(), m.len()),
                None => break,
            }
        };
        *count += 1;
        // SAFETY: `f` has the documented contract (ours); `data[0..len)` stays valid until it
        // returns: the batch keeps the record unreleased (or `buf` holds the copy) until the
        // next `next`.
        if unsafe { f(user, data, len) } != 0 {
            break;
        }
    }
    drop(batch); // releases what was consumed
    if *count == 0 {
        // The batch found nothing and, having handed out nothing, checked the writer: a
        // writer that has gone was reported by `next` as Disconnected already.
        return Err(Error::fixed(Status::Empty, c"ring is empty"));
    }
    Ok(())
}

/// The loop of `mmring_reader_drain` on an untethered reader (copies only).
///
/// # Safety
/// `f` has the `mmring_drain_fn` contract for `user`.
unsafe fn drain_lossy(
    l: &mut Lossy,
    max: usize,
    f: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> i32,
    user: *mut c_void,
    count: &mut usize,
) -> Result<(), Error> {
    while *count < max {
        if let Err(e) = l.next(Wait::Try) {
            if *count == 0 || e.status == Status::Corrupt {
                return Err(e);
            }
            // Messages were handed: this call succeeds, the next receive reports the loss.
            if let Some(lap) = e.lap {
                l.held = Some(Held::Lap(lap));
            }
            break;
        }
        l.held = None; // handed to `f`: consumed whatever it returns
        *count += 1;
        // SAFETY: `f` has the documented contract (ours); `l.buf` is not touched until it
        // returns (a call it makes on this reader is refused as busy).
        if unsafe { f(user, l.buf.as_ptr(), l.buf.len()) } != 0 {
            break;
        }
    }
    Ok(())
}

/// Gives every consumed message's space back to the writer now (and wakes it if it waits for
/// room); the message of an open view is consumed first. Receiving does this by itself when
/// the ring is empty, after a drain and every eighth of the ring; call it when you stop
/// receiving for a while. On an untethered reader, which never holds the writer back, it does
/// nothing and succeeds.
///
/// # Errors
/// `MMRING_CORRUPT`, `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `r` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_release(r: *mut ReaderHandle) -> StatusC {
    // SAFETY: the pointer meets this function's contract, which is `with`'s.
    unsafe {
        with(r, |s| {
            s.settle()?;
            if let Reading::Tethered(r) = &mut s.reading {
                r.release();
            }
            Ok(())
        })
    }
}

/// `*out` = whether this is an untethered reader (`mmring_options.reader_kind` was
/// `MMRING_READER_UNTETHERED` when it was opened).
///
/// # Errors
/// `MMRING_INVALID_HANDLE`, `MMRING_INVALID_ARGUMENT` (null `out`), `MMRING_BUSY`.
///
/// # Safety
/// `r` is null or a live handle; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_is_untethered(
    r: *const ReaderHandle,
    out: *mut bool,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s.
    unsafe {
        with(r, |s| {
            *boundary::out(out, "bool output")? = matches!(s.reading, Reading::Untethered(_));
            Ok(())
        })
    }
}

/// What the last `MMRING_LAPPED` this reader returned reported: `*missed_bytes` = the bytes of
/// records it skipped (framing included, so more than the payloads), `*missed_messages` (if
/// `missed_messages` is not null) = how many messages, or `MMRING_UNKNOWN` when the library
/// could not tell (the writer had overwritten them: today always). Both 0 if this reader has
/// never been lapped.
///
/// # Errors
/// `MMRING_INVALID_HANDLE`, `MMRING_INVALID_ARGUMENT` (null `missed_bytes`), `MMRING_BUSY`.
///
/// # Safety
/// `r` is null or a live handle; `missed_bytes` is null or writable; `missed_messages` is null
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_last_lap(
    r: *const ReaderHandle,
    missed_bytes: *mut u64,
    missed_messages: *mut u64,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s;
    // `missed_messages` is null or writable.
    unsafe {
        with(r, |s| {
            let bytes = out(missed_bytes, "missed bytes output")?;
            let (b, m) = match s.last_lap {
                None => (0, 0),
                Some(lap) => (
                    lap.bytes,
                    lap.messages.unwrap_or(crate::info::MMRING_UNKNOWN),
                ),
            };
            *bytes = b;
            if let Some(messages) = missed_messages.as_mut() {
                *messages = m;
            }
            Ok(())
        })
    }
}

/// `*fd` = the reader's readiness handle, a file descriptor for `poll(2)`, `epoll` or an event
/// loop (made on the first call; later calls return the same one). It becomes readable, once
/// armed by `mmring_reader_prepare_wait`, when the writer committed a message, when the writer's
/// process exits, and at least once a second (a backstop check of the writer). Wait for
/// `POLLIN` only; never read from it, write to it or close it: it belongs to the handle and
/// stays valid until `mmring_reader_close`. It is meaningful only for this handle. See
/// docs/C-API.md, "Waiting in an event loop", for the protocol. On failure `*fd` is -1.
///
/// # Errors
/// `MMRING_IO` (making the doorbell next to the ring, the epoll instance or the timer failed:
/// `mmring_last_os_error()` has the errno), `MMRING_INVALID_ARGUMENT` (null `fd`),
/// `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `r` is null or a live handle; `fd` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_readiness_fd(
    r: *mut ReaderHandle,
    fd: *mut c_int,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s.
    unsafe {
        with(r, |s| {
            let fd = out(fd, "fd output")?;
            *fd = -1;
            if s.readiness.is_none() {
                let made = match &mut s.reading {
                    Reading::Tethered(r) => r.readiness(),
                    Reading::Untethered(l) => l.reader.readiness(),
                };
                s.readiness = Some(made.map_err(|e| Error::io("readiness handle", &e))?);
            }
            *fd = s.readiness.as_ref().map_or(-1, |h| h.as_raw_fd());
            Ok(())
        })
    }
}

/// Arms the readiness handle before waiting on it: `*ready` = true if there is something to
/// do now (a message, a loss to report, an error such as a writer that has gone: call a
/// receive instead of waiting; the handle is not armed), false if armed (wait until the fd is
/// readable, then call `mmring_reader_finish_wait` and receive). The message of an open view is
/// consumed first, as a receive would. The writer makes the system call that wakes this
/// reader only while it is armed. On failure `*ready` is false.
///
/// # Errors
/// `MMRING_IO`, `MMRING_CORRUPT`, `MMRING_INVALID_ARGUMENT` (null `ready`),
/// `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `r` is null or a live handle; `ready` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_prepare_wait(
    r: *mut ReaderHandle,
    ready: *mut bool,
) -> StatusC {
    // SAFETY: the pointers meet this function's contract, which is `with`'s and `out`'s.
    unsafe {
        with(r, |s| {
            let ready = out(ready, "ready output")?;
            *ready = false;
            s.settle()?;
            let now = match &mut s.reading {
                Reading::Tethered(r) => r.prepare_wait(),
                Reading::Untethered(l) if l.held.is_some() => Ok(true),
                Reading::Untethered(l) => l.reader.prepare_wait(),
            };
            *ready = now.map_err(|e| Error::io("arming the readiness handle", &e))?;
            Ok(())
        })
    }
}

/// Disarms the readiness handle after it became readable (or to stop waiting) and empties it;
/// then receive (which may still find nothing: wake-ups can be spurious). Harmless when it is
/// not armed.
///
/// # Errors
/// `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `r` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn mmring_reader_finish_wait(r: *mut ReaderHandle) -> StatusC {
    // SAFETY: the pointer meets this function's contract, which is `with`'s.
    unsafe {
        with(r, |s| {
            match &mut s.reading {
                Reading::Tethered(r) => r.finish_wait(),
                Reading::Untethered(l) => l.reader.finish_wait(),
            }
            Ok(())
        })
    }
}
