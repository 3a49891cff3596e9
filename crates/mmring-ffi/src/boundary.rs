//! The boundary every entry point crosses: panics caught, handles checked (null, magic, busy),
//! pointers and paths validated, failures recorded as the thread's last error.

use crate::status::{Error, Status, StatusC};
use std::cell::UnsafeCell;
use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The magic word of a closed handle (written just before its memory is freed, so that a stale
/// copy of the pointer is caught while the allocator has not reused the memory).
const CLOSED: u64 = u64::from_le_bytes(*b"mmr-dead");

/// Runs `f` with panics caught; the status for the caller (failures recorded as last error).
#[inline(always)]
pub(crate) fn call(f: impl FnOnce() -> Result<(), Error>) -> StatusC {
    let status = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => Status::Ok,
        Ok(Err(e)) => e.record(),
        Err(payload) => Error::panic(&*payload).record(),
    };
    status as StatusC
}

/// A heap cell behind a C handle: a magic word naming its kind, a busy flag held by the thread
/// inside a call, and the state.
#[derive(Debug)]
pub(crate) struct Shell<T> {
    magic: AtomicU64,
    busy: AtomicBool,
    /// Set when a call on this handle panicked: its state may be half-updated.
    broken: AtomicBool,
    inner: UnsafeCell<T>,
}

/// What a handle type declares about itself.
pub(crate) trait Kind {
    /// Its magic word.
    const MAGIC: u64;
    /// "writer" or "reader", for messages.
    const NAME: &'static str;
}

impl<T: Kind> Shell<T> {
    /// A new handle, for C: a pointer to free with [`Shell::close`].
    pub(crate) fn into_raw(inner: T) -> *mut Shell<T> {
        Box::into_raw(Box::new(Shell {
            magic: AtomicU64::new(T::MAGIC),
            busy: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            inner: UnsafeCell::new(inner),
        }))
    }

    /// The shell behind `ptr` if it is a live handle of this kind.
    ///
    /// # Safety
    /// `ptr` is null or was returned by [`Shell::into_raw`] for this `T` and not closed (a
    /// closed handle is caught only while its memory has not been reused).
    unsafe fn check<'a>(ptr: *const Shell<T>) -> Result<&'a Shell<T>, Error> {
        let Some(ptr) = NonNull::new(ptr.cast_mut()) else {
            return Err(Error::new(
                Status::InvalidHandle,
                format_args!("null {} handle", T::NAME),
            ));
        };
        if ptr.as_ptr() as usize % std::mem::align_of::<Shell<T>>() != 0 {
            return Err(Error::new(
                Status::InvalidHandle,
                format_args!("misaligned {} handle {ptr:p}", T::NAME),
            ));
        }
        // SAFETY: by the contract, a live `Shell<T>` allocated by `into_raw`; every field is an
        // atomic or in an `UnsafeCell`, so a shared reference may coexist with the holder of
        // the busy flag mutating `inner`.
        let shell = unsafe { ptr.as_ref() };
        // Relaxed: the magic is written once before the pointer is handed out (the caller got
        // it through some synchronisation of its own) and once by `close` under the busy flag.
        match shell.magic.load(Ordering::Relaxed) {
            m if m == T::MAGIC => Ok(shell),
            CLOSED => Err(Error::new(
                Status::InvalidHandle,
                format_args!("{} handle {ptr:p} was closed", T::NAME),
            )),
            _ => Err(Error::new(
                Status::InvalidHandle,
                format_args!("{ptr:p} is not a {} handle", T::NAME),
            )),
        }
    }

    /// Takes the busy flag.
    fn enter(&self) -> Result<Busy<'_>, Error> {
        // Acquire: pairs with the Release in `Busy::drop` of the previous holder, so its
        // writes to `inner` are visible to us.
        if self.busy.swap(true, Ordering::Acquire) {
            return Err(Error::new(
                Status::Busy,
                format_args!(
                    "the {} handle is in use by another call (another thread, or a callback \
                     re-entering it)",
                    T::NAME
                ),
            ));
        }
        Ok(Busy(&self.busy))
    }

    /// Runs `f` on the state of the handle at `ptr`, exclusively; the status for the caller.
    ///
    /// # Safety
    /// As [`Shell::check`].
    #[inline(always)]
    pub(crate) unsafe fn with(
        ptr: *const Shell<T>,
        f: impl FnOnce(&mut T) -> Result<(), Error>,
    ) -> StatusC {
        call(|| {
            // SAFETY: forwarded contract.
            let shell = unsafe { Self::check(ptr)? };
            let _busy = shell.enter()?;
            // Relaxed: set under the busy flag, whose Acquire above orders it.
            if shell.broken.load(Ordering::Relaxed) {
                return Err(Error::new(
                    Status::WrongState,
                    format_args!(
                        "the {} handle is unusable after an internal panic; close it",
                        T::NAME
                    ),
                ));
            }
            // SAFETY: the busy flag makes this the only reference to `inner` until `_busy`
            // drops (every access to `inner` goes through `with` or `close`, which take it).
            let inner = unsafe { &mut *shell.inner.get() };
            match catch_unwind(AssertUnwindSafe(|| f(inner))) {
                Ok(r) => r,
                Err(payload) => {
                    shell.broken.store(true, Ordering::Relaxed);
                    Err(Error::panic(&*payload))
                }
            }
        })
    }

    /// Frees the handle at `*pp` and nulls `*pp`. A null `*pp` is fine (nothing to close).
    ///
    /// # Safety
    /// `pp` is null or points to a writable pointer that satisfies [`Shell::check`]'s contract.
    pub(crate) unsafe fn close(pp: *mut *mut Shell<T>) -> StatusC {
        call(|| {
            let pp = NonNull::new(pp).ok_or_else(|| {
                Error::arg(format_args!(
                    "null pointer to a {} handle (pass &handle)",
                    T::NAME
                ))
            })?;
            // SAFETY: `pp` points to a readable pointer (contract).
            let ptr = unsafe { pp.read() };
            if ptr.is_null() {
                return Ok(());
            }
            // SAFETY: forwarded contract.
            let shell = unsafe { Self::check(ptr)? };
            let busy = shell.enter()?;
            std::mem::forget(busy); // the handle dies holding its flag: no one may enter again
            shell.magic.store(CLOSED, Ordering::Relaxed);
            // SAFETY: `pp` is writable (contract); null it before freeing so that the caller's
            // pointer never dangles, even if dropping the state panics.
            unsafe { pp.write(std::ptr::null_mut()) };
            // SAFETY: `ptr` came from `Box::into_raw` in `into_raw` (its magic said so), and the
            // busy flag we hold (forever) excludes every other access.
            drop(unsafe { Box::from_raw(ptr) });
            Ok(())
        })
    }
}

/// The busy flag, held; dropping it lets the next call in.
struct Busy<'a>(&'a AtomicBool);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        // Release: publishes this call's writes to the handle's state; pairs with the Acquire
        // swap in `Shell::enter` of the next call.
        self.0.store(false, Ordering::Release);
    }
}

/// `*out`, checked for null.
///
/// # Safety
/// `out` is null or valid for writing a `T`.
pub(crate) unsafe fn out<'a, T>(out: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: forwarded contract: null or valid for writes. `T` here is always a plain C type
    // (integers, pointers, `#[repr(C)]` structs of them) that any bit pattern may be
    // overwritten in; callers write whole values before returning.
    unsafe { out.as_mut() }.ok_or_else(|| Error::arg(format_args!("null {what} pointer")))
}

/// The bytes `data[0..len)`, checked: null is fine only with `len == 0`.
///
/// # Safety
/// `data` is null or valid for reading `len` bytes for `'a`, not written meanwhile.
pub(crate) unsafe fn bytes<'a>(data: *const u8, len: usize) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Error::arg(format_args!(
            "null data pointer with a length of {len}"
        )));
    }
    // SAFETY: non-null and valid for `len` bytes (contract).
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// The buffer `buf[0..len)`, checked: null is fine only with `len == 0`.
///
/// # Safety
/// `buf` is null or valid for writing `len` bytes for `'a`, not accessed otherwise meanwhile.
pub(crate) unsafe fn buffer<'a>(buf: *mut u8, len: usize) -> Result<&'a mut [u8], Error> {
    if len == 0 {
        return Ok(&mut []);
    }
    if buf.is_null() {
        return Err(Error::arg(format_args!(
            "null buffer with a capacity of {len}"
        )));
    }
    // SAFETY: non-null and valid for writing `len` bytes (contract); `u8` has no invalid values.
    Ok(unsafe { std::slice::from_raw_parts_mut(buf, len) })
}

/// The path at `path`, a NUL-terminated byte string (any bytes but NUL; not necessarily UTF-8).
///
/// # Safety
/// `path` is null or points to a NUL-terminated string.
pub(crate) unsafe fn path<'a>(path: *const c_char) -> Result<&'a Path, Error> {
    if path.is_null() {
        return Err(Error::arg("null path"));
    }
    // SAFETY: non-null and NUL-terminated (contract).
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    if bytes.is_empty() {
        return Err(Error::arg("empty path"));
    }
    Ok(Path::new(OsStr::from_bytes(bytes)))
}

/// A timeout in nanoseconds.
pub(crate) fn timeout(ns: u64) -> std::time::Duration {
    std::time::Duration::from_nanos(ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{mmring_last_error, MMRING_BUSY, MMRING_PANIC, MMRING_WRONG_STATE};

    #[derive(Debug)]
    struct Probe(u32);

    impl Kind for Probe {
        const MAGIC: u64 = 0x1234;
        const NAME: &'static str = "probe";
    }

    fn last() -> String {
        // SAFETY: a NUL-terminated string valid until the next call on this thread.
        unsafe { CStr::from_ptr(mmring_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_is_a_status_and_leaves_the_handle_unusable_but_closable() {
        let mut h = Shell::into_raw(Probe(0));
        // SAFETY: `h` is a live handle of this kind in all the calls below.
        let st = unsafe { Shell::with(h, |_: &mut Probe| panic!("on purpose")) };
        assert_eq!(st, MMRING_PANIC);
        assert!(last().contains("on purpose"), "{}", last());
        // SAFETY: as above.
        let st = unsafe {
            Shell::with(h, |p: &mut Probe| {
                p.0 += 1;
                Ok(())
            })
        };
        assert_eq!(st, MMRING_WRONG_STATE);
        // SAFETY: as above; `close` nulls `h`.
        assert_eq!(unsafe { Shell::close(&mut h) }, 0);
        assert!(h.is_null());
    }

    #[test]
    fn a_reentrant_call_is_busy() {
        let mut h = Shell::into_raw(Probe(0));
        let raw = h;
        // SAFETY: `raw` is live for the whole outer call.
        let st = unsafe {
            Shell::with(raw, |_: &mut Probe| {
                let inner = Shell::with(raw, |_: &mut Probe| Ok(()));
                assert_eq!(inner, MMRING_BUSY);
                Ok(())
            })
        };
        assert_eq!(st, 0);
        // SAFETY: live, not in use.
        assert_eq!(unsafe { Shell::close(&mut h) }, 0);
    }
}
