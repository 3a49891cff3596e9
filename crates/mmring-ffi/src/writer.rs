//! `mmring_writer`: the sending end, with zero-copy grants and batches held across calls.
//!
//! A Rust `Grant` or `WriteBatch` borrows its `Writer` mutably; a C grant lives from
//! `mmring_writer_try_reserve` to `mmring_writer_commit`, across calls. So the handle keeps the
//! `Writer` in its own heap allocation (a stable address) and the open grant or batch next to
//! it, with the borrow's lifetime erased. The invariant that makes this sound, upheld by every
//! function here: **while [`Open`] is not `Idle`, the `Writer` is reached only through the
//! grant or batch it holds** (every other operation is refused with `MMRING_WRONG_STATE`), and
//! the open grant or batch is dropped before the `Writer` is freed.

use crate::boundary::{self, bytes, out, timeout, Kind, Shell};
use crate::options::{self, from_c, OptionsC, WaitStrategyC};
use crate::status::{Error, Status, StatusC};
use api::{BatchGrant, Grant, Readiness, RingOptions, WriteBatch, Writer};
use std::ffi::{c_char, c_int, c_void};
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

/// A writer handle (opaque). Created by `mmring_writer_open` and friends, freed by
/// `mmring_writer_close`. Use it from one thread at a time (it may move between threads).
#[derive(Debug)]
pub struct WriterHandle {
    _opaque: [u8; 0],
}

/// Room for one message, reserved in the ring: fill `data[0..len)` and pass the grant to
/// `mmring_writer_commit` (or `mmring_writer_abort`). `token` identifies the grant; do not
/// change any field. Commit and abort zero the struct.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct GrantC {
    /// The reserved bytes, in the shared mapping (8-byte aligned). Yours to write until the
    /// commit or abort; never read them expecting earlier contents.
    pub data: *mut u8,
    /// How many bytes were reserved.
    pub len: usize,
    /// Identifies the grant to its writer (0: no grant).
    pub token: u64,
}

impl GrantC {
    const NONE: GrantC = GrantC {
        data: std::ptr::null_mut(),
        len: 0,
        token: 0,
    };
}

/// An open grant: the Rust grant and what C was told about it.
#[derive(Debug)]
struct OpenGrant<G> {
    grant: G,
    token: u64,
    data: *mut u8,
    len: usize,
}

impl<G> OpenGrant<G> {
    fn is(&self, g: &GrantC) -> bool {
        g.token == self.token && g.data == self.data && g.token != 0
    }
}

/// An open batch: its staging grant, if one is open, borrows `*batch`, which borrows the
/// writer.
#[derive(Debug)]
struct OpenBatch {
    grant: Option<OpenGrant<BatchGrant<'static>>>,
    /// From `Box::leak`; freed in `drop`.
    batch: NonNull<WriteBatch<'static>>,
}

impl OpenBatch {
    /// The batch, when no staging grant borrows it.
    fn batch(&mut self) -> Result<&mut WriteBatch<'static>, Error> {
        if self.grant.is_some() {
            return Err(Error::fixed(
                Status::WrongState,
                c"a grant of this batch is open: commit or abort it first",
            ));
        }
        // SAFETY: `batch` is live until `drop`; no grant borrows it (checked), and the
        // returned borrow is tied to `&mut self`, so nothing else reaches it meanwhile.
        Ok(unsafe { self.batch.as_mut() })
    }
}

impl Drop for OpenBatch {
    fn drop(&mut self) {
        // The grant borrows the batch: it goes first.
        self.grant = None;
        // SAFETY: `batch` came from `Box::leak` and nothing borrows it any more. Dropping the
        // batch publishes what it staged.
        drop(unsafe { Box::from_raw(self.batch.as_ptr()) });
    }
}

/// What the handle has open on its writer.
#[derive(Debug)]
enum Open {
    Idle,
    Grant(OpenGrant<Grant<'static>>),
    Batch(OpenBatch),
}

/// The state behind a writer handle.
#[derive(Debug)]
pub(crate) struct WriterState {
    /// Borrows `*writer` unless `Idle` (module docs). Dropped first.
    open: Open,
    /// From `Box::leak`; freed in `drop`.
    writer: NonNull<Writer>,
    capacity: usize,
    max_len: usize,
    last_token: u64,
    /// The readiness handle, made by the first `mmring_writer_readiness_fd` (a descriptor of
    /// its own: it does not borrow the writer).
    readiness: Option<Readiness>,
}

impl Kind for WriterState {
    const MAGIC: u64 = u64::from_le_bytes(*b"mmr-wrtr");
    const NAME: &'static str = "writer";
}

impl Drop for WriterState {
    fn drop(&mut self) {
        // Grants and batches borrow the writer: they go first.
        self.open = Open::Idle;
        // SAFETY: `writer` came from `Box::leak`, and nothing borrows it any more.
        drop(unsafe { Box::from_raw(self.writer.as_ptr()) });
    }
}

const GRANT_OPEN: Error = Error::fixed(
    Status::WrongState,
    c"a grant is open: commit or abort it first",
);
const BATCH_OPEN: Error = Error::fixed(
    Status::WrongState,
    c"a batch is open: use the mmring_writer_batch_* functions or end it first",
);
const NO_BATCH: Error = Error::fixed(
    Status::WrongState,
    c"no batch is open: call mmring_writer_batch_begin first",
);

impl WriterState {
    fn new(w: Writer) -> WriterState {
        WriterState {
            capacity: w.capacity(),
            max_len: w.max_message_len(),
            writer: NonNull::from(Box::leak(Box::new(w))),
            open: Open::Idle,
            last_token: 0,
            readiness: None,
        }
    }

    fn idle_check(&self) -> Result<(), Error> {
        match self.open {
            Open::Idle => Ok(()),
            Open::Grant(_) => Err(GRANT_OPEN),
            Open::Batch(_) => Err(BATCH_OPEN),
        }
    }

    /// The writer, when nothing is open on it.
    fn writer(&mut self) -> Result<&mut Writer, Error> {
        self.idle_check()?;
        // SAFETY: live until `drop`; nothing open borrows it (checked), and the returned borrow
        // is tied to `&mut self`, so `open` cannot change while it lives.
        Ok(unsafe { self.writer.as_mut() })
    }

    /// The writer with its lifetime erased, for a grant or batch that `open` will hold.
    ///
    /// # Safety
    /// The caller stores whatever borrows the result in `self.open` (or drops it) before
    /// returning, so that the module invariant holds.
    unsafe fn writer_for_open(&mut self) -> Result<&'static mut Writer, Error> {
        self.idle_check()?;
        // SAFETY: live until `drop`, which drops `open` first; nothing else borrows it
        // (checked), and the caller stores the borrow in `open` (contract).
        Ok(unsafe { &mut *self.writer.as_ptr() })
    }

    fn token(&mut self) -> u64 {
        self.last_token += 1;
        self.last_token
    }

    /// Opens a plain grant from `reserve`'s result and describes it in `*g`.
    fn open_grant(
        &mut self,
        g: &mut GrantC,
        reserve: impl FnOnce(&'static mut Writer) -> Result<Grant<'static>, Error>,
    ) -> Result<(), Error> {
        // SAFETY: the grant borrowing the result is stored in `self.open` below, or dropped.
        let w = unsafe { self.writer_for_open()? };
        let mut grant = reserve(w)?;
        let (data, len) = (grant.as_mut_ptr(), grant.len());
        let token = self.token();
        self.open = Open::Grant(OpenGrant {
            grant,
            token,
            data,
            len,
        });
        *g = GrantC { data, len, token };
        Ok(())
    }

    fn begin_batch(&mut self) -> Result<(), Error> {
        // SAFETY: the batch borrowing the writer is stored in `self.open` right away.
        let writer = unsafe { self.writer_for_open()? };
        let batch = NonNull::from(Box::leak(Box::new(writer.batch())));
        self.open = Open::Batch(OpenBatch { grant: None, batch });
        Ok(())
    }

    fn open_batch_grant(&mut self, g: &mut GrantC, len: usize) -> Result<(), Error> {
        let token = self.token();
        let b = batch(self)?;
        // Refuses if a grant is open.
        b.batch()?;
        // SAFETY: the batch is live until `OpenBatch::drop`, which drops the grant first; the
        // grant borrowing it is stored in `b.grant` right away (or dropped on failure), and
        // `OpenBatch::batch` refuses every other access while it is there.
        let wb: &'static mut WriteBatch<'static> = unsafe { &mut *b.batch.as_ptr() };
        let mut grant = wb.try_reserve(len)?;
        let (data, len) = (grant.as_mut_ptr(), grant.len());
        b.grant = Some(OpenGrant {
            grant,
            token,
            data,
            len,
        });
        *g = GrantC { data, len, token };
        Ok(())
    }

    fn finish(&mut self, g: &mut GrantC, len: Option<usize>) -> Result<(), Error> {
        let too_long = |reserved: usize| {
            Error::arg(format_args!(
                "commit of {} bytes beyond the {reserved} reserved",
                len.unwrap_or(0)
            ))
        };
        match &mut self.open {
            Open::Grant(og) if og.is(g) => {
                if len.is_some_and(|l| l > og.len) {
                    return Err(too_long(og.len));
                }
                let Open::Grant(og) = std::mem::replace(&mut self.open, Open::Idle) else {
                    unreachable!("matched above")
                };
                match len {
                    Some(l) => og.grant.commit_len(l),
                    None => drop(og.grant),
                }
            }
            Open::Batch(OpenBatch {
                grant: Some(og), ..
            }) if og.is(g) => {
                if len.is_some_and(|l| l > og.len) {
                    return Err(too_long(og.len));
                }
                let Open::Batch(b) = &mut self.open else {
                    unreachable!("matched above")
                };
                let og = b.grant.take().expect("matched above");
                match len {
                    Some(l) => og.grant.stage_len(l),
                    None => drop(og.grant),
                }
            }
            _ => {
                return Err(Error::fixed(
                    Status::WrongState,
                    c"not the open grant of this writer (already committed or aborted, stale, \
                      or another writer's)",
                ))
            }
        }
        *g = GrantC::NONE;
        Ok(())
    }
}

/// # Safety
/// As for every `mmring_writer_*` function: `w` is null or a live handle.
unsafe fn with(
    w: *const WriterHandle,
    f: impl FnOnce(&mut WriterState) -> Result<(), Error>,
) -> StatusC {
    // SAFETY: forwarded contract; the handle was made by `open` from a Shell<WriterState>.
    unsafe { Shell::<WriterState>::with(w.cast(), f) }
}

/// # Safety
/// `path` is null or NUL-terminated; `out` is null or writable.
unsafe fn open(
    path: *const c_char,
    out: *mut *mut WriterHandle,
    opts: impl FnOnce() -> Result<RingOptions, Error>,
) -> StatusC {
    boundary::call(|| {
        // SAFETY: null or writable (contract).
        let out = unsafe { boundary::out(out, "handle output") }?;
        *out = std::ptr::null_mut();
        // SAFETY: null or NUL-terminated (contract).
        let path = unsafe { boundary::path(path) }?;
        let w = opts()?.open_writer(path)?;
        *out = Shell::into_raw(WriterState::new(w)).cast();
        Ok(())
    })
}

/// Attaches as the writer of the ring at `path`, as `opts` says (null: the defaults, which open
/// an existing ring; see `mmring_options`: `reader_kind` and `start` are for readers and
/// ignored here, though checked). On success `*out` is the new handle; on failure it is set to
/// NULL.
///
/// # Errors
/// `MMRING_INVALID_ARGUMENT` (null `path` or `out`, bad options), `MMRING_NOT_FOUND`,
/// `MMRING_ALREADY_EXISTS`, `MMRING_PERMISSION_DENIED`, `MMRING_FOREIGN_OWNER`,
/// `MMRING_NOT_A_RING`, `MMRING_VERSION_MISMATCH`, `MMRING_CORRUPT`, `MMRING_NOT_INITIALISED`,
/// `MMRING_SIDE_TAKEN` (a live writer is attached), `MMRING_NO_SPACE`, `MMRING_IO`.
///
/// # Safety
/// `path` is null or a NUL-terminated string; `opts` is null or an initialised
/// `mmring_options`; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_open(
    path: *const c_char,
    opts: *const OptionsC,
    out: *mut *mut WriterHandle,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe { open(path, out, || Ok(from_c(opts)?.ring)) }
}

/// Creates a ring of `capacity` data bytes (a power of two from 64 bytes to 4 GiB) at `path`,
/// mode 0600, and attaches as its writer.
///
/// # Errors
/// As `mmring_writer_open`; `MMRING_ALREADY_EXISTS` if anything is at the path.
///
/// # Safety
/// As `mmring_writer_open`.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_create(
    path: *const c_char,
    capacity: u64,
    out: *mut *mut WriterHandle,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        open(path, out, || {
            Ok(RingOptions::new().create(options::capacity(capacity)?))
        })
    }
}

/// Opens the ring at `path` as its writer, creating it with `capacity` data bytes if nothing is
/// there (an existing ring keeps its creator's capacity).
///
/// # Errors
/// As `mmring_writer_open`.
///
/// # Safety
/// As `mmring_writer_open`.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_open_or_create(
    path: *const c_char,
    capacity: u64,
    out: *mut *mut WriterHandle,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        open(path, out, || {
            Ok(RingOptions::new().create_if_missing(options::capacity(capacity)?))
        })
    }
}

/// Detaches and frees the writer at `*w`, then sets `*w` to NULL. An open grant is abandoned
/// (publishes nothing); an open batch is published. Closing `*w == NULL` does nothing and
/// succeeds, so closing twice through the same variable is harmless; closing through another
/// copy of a closed pointer is undefined (caught only while the memory has not been reused).
///
/// # Errors
/// `MMRING_INVALID_ARGUMENT` if `w` is null; `MMRING_INVALID_HANDLE` if `*w` is not a live
/// writer; `MMRING_BUSY` if another thread is inside a call on it.
///
/// # Safety
/// `w` is null or points to a handle pointer (null or live).
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_close(w: *mut *mut WriterHandle) -> StatusC {
    // SAFETY: forwarded contract; handles are Shell<WriterState>.
    unsafe { Shell::<WriterState>::close(w.cast()) }
}

/// `*out` = the ring's data capacity in bytes. Allowed in any state.
///
/// # Errors
/// `MMRING_INVALID_HANDLE`, `MMRING_INVALID_ARGUMENT` (null `out`), `MMRING_BUSY`.
///
/// # Safety
/// `w` is null or a live handle; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_capacity(
    w: *const WriterHandle,
    out: *mut usize,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            *boundary::out(out, "capacity output")? = s.capacity;
            Ok(())
        })
    }
}

/// `*out` = the longest message the ring accepts (capacity / 2 - 8). Allowed in any state.
///
/// # Errors
/// As `mmring_writer_capacity`.
///
/// # Safety
/// As `mmring_writer_capacity`.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_max_message_len(
    w: *const WriterHandle,
    out: *mut usize,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            *boundary::out(out, "length output")? = s.max_len;
            Ok(())
        })
    }
}

/// Changes how blocking calls wait (`MMRING_WAIT_*`).
///
/// # Errors
/// `MMRING_INVALID_ARGUMENT` (unknown strategy), `MMRING_WRONG_STATE` (a grant or batch is
/// open), `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `w` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_set_wait_strategy(
    w: *mut WriterHandle,
    strategy: WaitStrategyC,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            let strategy = options::wait_strategy(strategy)?;
            s.writer()?.set_wait_strategy(strategy);
            Ok(())
        })
    }
}

/// `*out` = whether a reader is attached now (asks the kernel whether its lock is held).
///
/// # Errors
/// `MMRING_WRONG_STATE` (a grant or batch is open), `MMRING_INVALID_HANDLE`,
/// `MMRING_INVALID_ARGUMENT`, `MMRING_BUSY`.
///
/// # Safety
/// `w` is null or a live handle; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_is_reader_alive(
    w: *mut WriterHandle,
    out: *mut bool,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            let out = boundary::out(out, "bool output")?;
            *out = s.writer()?.is_reader_alive();
            Ok(())
        })
    }
}

/// `*out` = bytes committed and not yet released by the slowest reader (framing included;
/// readers give space back lazily).
///
/// # Errors
/// `MMRING_CORRUPT` (a reader's cursor is inconsistent; the writer is poisoned), and as
/// `mmring_writer_is_reader_alive`.
///
/// # Safety
/// As `mmring_writer_is_reader_alive`.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_in_flight(w: *mut WriterHandle, out: *mut usize) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            let out = boundary::out(out, "length output")?;
            *out = s.writer()?.in_flight()?;
            Ok(())
        })
    }
}

/// Writes committed data to the file (`msync`), for data that must survive a machine crash (a
/// process crash loses nothing committed without it).
///
/// # Errors
/// `MMRING_IO`, `MMRING_WRONG_STATE`, `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `w` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_flush(w: *mut WriterHandle) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            s.writer()?.flush().map_err(|e| {
                let os = e.raw_os_error().unwrap_or(0);
                Error::new(Status::Io, format_args!("msync: {e}")).with_os(os)
            })
        })
    }
}

/// Sends a copy of `data[0..len)` without blocking. `data` may be NULL when `len` is 0.
///
/// # Errors
/// `MMRING_FULL` (no room now; nothing was sent), `MMRING_TOO_LARGE` (longer than the ring's
/// maximum message), `MMRING_CORRUPT`, `MMRING_WRONG_STATE` (a grant or batch is open),
/// `MMRING_INVALID_ARGUMENT`, `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `w` is null or a live handle; `data` is null or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_try_send(
    w: *mut WriterHandle,
    data: *const c_void,
    len: usize,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            let msg = bytes(data.cast(), len)?;
            Ok(s.writer()?.try_send(msg)?)
        })
    }
}

/// Sends a copy of `data[0..len)`, waiting for room as the wait strategy says.
///
/// # Errors
/// `MMRING_DISCONNECTED` (the ring is full and its reader has gone), and as
/// `mmring_writer_try_send` except `MMRING_FULL`.
///
/// # Safety
/// As `mmring_writer_try_send`.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_send(
    w: *mut WriterHandle,
    data: *const c_void,
    len: usize,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            let msg = bytes(data.cast(), len)?;
            Ok(s.writer()?.send(msg)?)
        })
    }
}

/// Like `mmring_writer_send`, giving up after `timeout_ns` nanoseconds.
///
/// # Errors
/// `MMRING_TIMEOUT`, and as `mmring_writer_send`.
///
/// # Safety
/// As `mmring_writer_try_send`.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_send_timeout(
    w: *mut WriterHandle,
    data: *const c_void,
    len: usize,
    timeout_ns: u64,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            let msg = bytes(data.cast(), len)?;
            Ok(s.writer()?.send_timeout(msg, timeout(timeout_ns))?)
        })
    }
}

/// Reserves `len` bytes for a message without blocking (zero-copy): on success `*grant`
/// describes the room; fill `grant->data[0..len)` and call `mmring_writer_commit`, or
/// `mmring_writer_abort`. One grant at a time; while it is open only commit, abort, capacity,
/// max_message_len and close are allowed. On failure `*grant` is zeroed.
///
/// # Errors
/// As `mmring_writer_try_send`.
///
/// # Safety
/// `w` is null or a live handle; `grant` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_try_reserve(
    w: *mut WriterHandle,
    len: usize,
    grant: *mut GrantC,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            let g = out(grant, "grant")?;
            *g = GrantC::NONE;
            s.open_grant(g, |w| Ok(w.try_reserve(len)?))
        })
    }
}

/// Like `mmring_writer_try_reserve`, waiting for room as the wait strategy says.
///
/// # Errors
/// As `mmring_writer_send`.
///
/// # Safety
/// As `mmring_writer_try_reserve`.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_reserve(
    w: *mut WriterHandle,
    len: usize,
    grant: *mut GrantC,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            let g = out(grant, "grant")?;
            *g = GrantC::NONE;
            s.open_grant(g, |w| Ok(w.reserve(len)?))
        })
    }
}

/// Like `mmring_writer_reserve`, giving up after `timeout_ns` nanoseconds.
///
/// # Errors
/// As `mmring_writer_send_timeout`.
///
/// # Safety
/// As `mmring_writer_try_reserve`.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_reserve_timeout(
    w: *mut WriterHandle,
    len: usize,
    timeout_ns: u64,
    grant: *mut GrantC,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            let g = out(grant, "grant")?;
            *g = GrantC::NONE;
            s.open_grant(g, |w| Ok(w.reserve_timeout(len, timeout(timeout_ns))?))
        })
    }
}

/// Publishes the first `len` bytes of the open grant `*grant` as one message (`len <=
/// grant->len`; pass `grant->len` for all of it), or, for a batch's grant, stages them in the
/// batch. Zeroes `*grant`: its `data` must not be used any more.
///
/// # Errors
/// `MMRING_INVALID_ARGUMENT` (null `grant`, or `len` beyond the reserved length: the grant
/// stays open), `MMRING_WRONG_STATE` (not this writer's open grant: already committed or
/// aborted, or a copy of an old one), `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `w` is null or a live handle; `grant` is null or a readable and writable `mmring_grant`.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_commit(
    w: *mut WriterHandle,
    grant: *mut GrantC,
    len: usize,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe { with(w, |s| s.finish(out(grant, "grant")?, Some(len))) }
}

/// Abandons the open grant `*grant`: nothing is published (its room is reused by the next
/// reservation). Zeroes `*grant`.
///
/// # Errors
/// As `mmring_writer_commit`.
///
/// # Safety
/// As `mmring_writer_commit`.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_abort(w: *mut WriterHandle, grant: *mut GrantC) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe { with(w, |s| s.finish(out(grant, "grant")?, None)) }
}

/// Opens a batch: messages staged with `mmring_writer_batch_send` and `mmring_writer_batch_reserve`
/// become visible together, with one publication (and at most one wake-up of the reader), at
/// `mmring_writer_batch_publish` or `mmring_writer_batch_end`. Batches only stage without
/// blocking (a blocking send inside a batch could wait for room that only publishing the batch
/// makes). While a batch is open only the batch functions, commit, abort, capacity,
/// max_message_len and close are allowed; close publishes it.
///
/// # Errors
/// `MMRING_WRONG_STATE` (a grant or a batch is open already), `MMRING_INVALID_HANDLE`,
/// `MMRING_BUSY`.
///
/// # Safety
/// `w` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_batch_begin(w: *mut WriterHandle) -> StatusC {
    // SAFETY: `w` is null or a live handle (contract).
    unsafe { with(w, WriterState::begin_batch) }
}

fn batch(s: &mut WriterState) -> Result<&mut OpenBatch, Error> {
    match &mut s.open {
        Open::Batch(b) => Ok(b),
        Open::Grant(_) => Err(GRANT_OPEN),
        Open::Idle => Err(NO_BATCH),
    }
}

/// Stages a copy of `data[0..len)` in the open batch, without blocking.
///
/// # Errors
/// `MMRING_FULL` (no room now: publish or end the batch and retry), `MMRING_TOO_LARGE`,
/// `MMRING_CORRUPT`, `MMRING_WRONG_STATE` (no batch open, or a batch grant is open),
/// `MMRING_INVALID_ARGUMENT`, `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// As `mmring_writer_try_send`.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_batch_send(
    w: *mut WriterHandle,
    data: *const c_void,
    len: usize,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            let msg = bytes(data.cast(), len)?;
            Ok(batch(s)?.batch()?.try_send(msg)?)
        })
    }
}

/// Reserves room for a message in the open batch, without blocking: like
/// `mmring_writer_try_reserve`, but `mmring_writer_commit` stages the message in the batch
/// instead of publishing it.
///
/// # Errors
/// As `mmring_writer_batch_send`.
///
/// # Safety
/// As `mmring_writer_try_reserve`.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_batch_reserve(
    w: *mut WriterHandle,
    len: usize,
    grant: *mut GrantC,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            let g = out(grant, "grant")?;
            *g = GrantC::NONE;
            s.open_batch_grant(g, len)
        })
    }
}

/// Publishes what the open batch has staged so far (one wake-up at most); the batch stays open.
///
/// # Errors
/// `MMRING_WRONG_STATE` (no batch open, or a batch grant is open), `MMRING_INVALID_HANDLE`,
/// `MMRING_BUSY`.
///
/// # Safety
/// `w` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_batch_publish(w: *mut WriterHandle) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            batch(s)?.batch()?.publish();
            Ok(())
        })
    }
}

/// Publishes what the open batch has staged and closes it.
///
/// # Errors
/// As `mmring_writer_batch_publish`.
///
/// # Safety
/// `w` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_batch_end(w: *mut WriterHandle) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with`,
    // `open` and the argument helpers (`out`, `bytes`, `path`) require.
    unsafe {
        with(w, |s| {
            batch(s)?.batch()?;
            s.open = Open::Idle; // drops the batch, which publishes
            Ok(())
        })
    }
}

/// `*fd` = the writer's readiness handle, a file descriptor for `poll(2)`, `epoll` or an event
/// loop waiting for room (made on the first call; later calls return the same one). It becomes
/// readable, once armed by `mmring_writer_prepare_wait`, when a reader released space, when a
/// reader's process exits, and at least once a second (a backstop check of the readers). Wait
/// for `POLLIN` only; never read from it, write to it or close it: it belongs to the handle and
/// stays valid until `mmring_writer_close`. On failure `*fd` is -1.
///
/// # Errors
/// `MMRING_IO` (`mmring_last_os_error()` has the errno), `MMRING_WRONG_STATE` (a grant or batch
/// is open), `MMRING_INVALID_ARGUMENT` (null `fd`), `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `w` is null or a live handle; `fd` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_readiness_fd(
    w: *mut WriterHandle,
    fd: *mut c_int,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with` and
    // `out` require.
    unsafe {
        with(w, |s| {
            let fd = out(fd, "fd output")?;
            *fd = -1;
            if s.readiness.is_none() {
                let made = s.writer()?.readiness();
                s.readiness = Some(made.map_err(|e| Error::io("readiness handle", &e))?);
            }
            *fd = s.readiness.as_ref().map_or(-1, |h| h.as_raw_fd());
            Ok(())
        })
    }
}

/// Arms the readiness handle before waiting for room for a `len`-byte message: `*ready` = true
/// if it fits now, or if sending would fail at once (too large, corrupt, no reader left): call
/// `mmring_writer_try_send` instead of waiting (the handle is not armed); false if armed (wait
/// until the fd is readable, then call `mmring_writer_finish_wait` and try again). On failure
/// `*ready` is false.
///
/// # Errors
/// `MMRING_IO`, `MMRING_WRONG_STATE` (a grant or batch is open), `MMRING_INVALID_ARGUMENT`
/// (null `ready`), `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `w` is null or a live handle; `ready` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_prepare_wait(
    w: *mut WriterHandle,
    len: usize,
    ready: *mut bool,
) -> StatusC {
    // SAFETY: the pointers meet this function's `# Safety` contract, which is what `with` and
    // `out` require.
    unsafe {
        with(w, |s| {
            let ready = out(ready, "ready output")?;
            *ready = false;
            let now = s.writer()?.prepare_wait(len);
            *ready = now.map_err(|e| Error::io("arming the readiness handle", &e))?;
            Ok(())
        })
    }
}

/// Disarms the readiness handle after it became readable (or to stop waiting) and empties it;
/// then try the send again (there may still be no room: wake-ups can be spurious). Harmless
/// when it is not armed.
///
/// # Errors
/// `MMRING_WRONG_STATE` (a grant or batch is open), `MMRING_INVALID_HANDLE`, `MMRING_BUSY`.
///
/// # Safety
/// `w` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn mmring_writer_finish_wait(w: *mut WriterHandle) -> StatusC {
    // SAFETY: `w` is null or a live handle (contract), which is what `with` requires.
    unsafe {
        with(w, |s| {
            s.writer()?.finish_wait();
            Ok(())
        })
    }
}
