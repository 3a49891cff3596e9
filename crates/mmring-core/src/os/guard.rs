//! The truncation guard: another process shrinking a mapped ring file must not kill us.
//!
//! A `MAP_SHARED` mapping of a file stays the length it was mapped with; when some process
//! truncates the file, every access to a page now wholly beyond the end of the file raises
//! `SIGBUS` (`BUS_ADRERR`) in the accessing process, whose default action kills it. A path-backed
//! ring cannot prevent the truncation (a file lease would, but leases need the file to be owned
//! by us, are broken by any `open` for writing after a grace period, and are not available on
//! tmpfs with the semantics we need), so we turn the fault into an error instead:
//!
//! - every path-backed mapping is registered in a fixed, lock-free table of [`SLOTS`] slots;
//! - a process-wide `SIGBUS` handler (installed once, `SA_SIGINFO | SA_ONSTACK`) looks the
//!   faulting address up; if it lies in a registered mapping, it maps fresh anonymous zero
//!   pages over the *whole* mapping (`mmap(MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS)`, a plain
//!   system call with no user-space locks), records the fault in the slot and returns: the
//!   faulting instruction is restarted and completes on zeros;
//! - the protocol then sees a zeroed header (cursors gone backwards, unknown tags) or nothing
//!   new; both paths consult the slot and report [`CorruptKind::Truncated`](crate::CorruptKind),
//!   and the handle is poisoned like for any other corruption;
//! - a fault anywhere else is handed to the handler that was installed before ours (the
//!   standard library's stack-overflow handler, or the default action, which kills the
//!   process as it would have without us).
//!
//! Slots are cleared before their mapping is unmapped (the guard is dropped before the map), so
//! the handler never remaps an address range that might have been reused. A thread can only
//! fault inside a mapping while it uses the handle that owns it, so a slot cannot be cleared
//! while a fault in it is being handled.
//!
//! Not protected: a process that installs its own `SIGBUS` handler after us and does not chain
//! to ours; more than [`SLOTS`] path-backed mappings alive at once (the extra ones are
//! unguarded, as before); faults in mappings other than ring mappings. Anonymous rings do not
//! need the guard: their memfd is sealed against shrinking.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// How many mappings can be guarded at once.
pub(crate) const SLOTS: usize = 256;

/// A slot's `start` value while it is free.
const FREE: usize = 0;
/// A slot's `start` value while it is being filled in.
const BUSY: usize = 1;
/// A slot's `fault` value while nothing has faulted.
const NO_FAULT: usize = usize::MAX;

/// One registered mapping.
#[derive(Debug)]
pub(crate) struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    /// Offset of the first fault from `start`, or `NO_FAULT`.
    fault: AtomicUsize,
    /// Set when the file was found shorter than the mapping (by a fault or by `fstat`).
    truncated: AtomicBool,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            start: AtomicUsize::new(FREE),
            len: AtomicUsize::new(0),
            fault: AtomicUsize::new(NO_FAULT),
            truncated: AtomicBool::new(false),
        }
    }

    /// Whether the mapping's file was found truncated; `Some(offset)` of the first fault or of
    /// the new end of file.
    #[inline]
    pub(crate) fn truncated(&self) -> Option<u64> {
        // Relaxed: the flag is set by this process only (the signal handler on the faulting
        // thread, which is the thread that owns the handle, or `mark_truncated` on it too).
        if !self.truncated.load(Ordering::Relaxed) {
            return None;
        }
        match self.fault.load(Ordering::Relaxed) {
            NO_FAULT => Some(0),
            off => Some(off as u64),
        }
    }

    /// Records that the file is shorter than the mapping (`new_len` bytes), without a fault.
    pub(crate) fn mark_truncated(&self, new_len: u64) {
        // Relaxed: both words are read back by this process only, on the thread that owns the
        // handle (see `truncated`); no other memory is published through them.
        let _ = self.fault.compare_exchange(
            NO_FAULT,
            new_len as usize,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        self.truncated.store(true, Ordering::Relaxed);
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];

/// The action that was installed before ours, to chain to.
struct Previous(std::cell::UnsafeCell<libc::sigaction>);
// SAFETY: written once inside `INSTALL.call_once` before our handler can run, read-only after.
unsafe impl Sync for Previous {}

static PREVIOUS: Previous = Previous(std::cell::UnsafeCell::new(
    // SAFETY: `sigaction` is a plain C struct; all-zero is SIG_DFL with an empty mask.
    unsafe { std::mem::zeroed() },
));
static INSTALL: Once = Once::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A registration of one mapping; unregisters on drop. Drop it before unmapping.
#[derive(Debug)]
pub(crate) struct Guard {
    slot: Option<&'static Slot>,
}

impl Guard {
    /// Registers `len` bytes at `start` (a live mapping that outlives the guard) and makes sure
    /// the handler is installed. Without a free slot, or if the handler cannot be installed,
    /// the mapping is simply unguarded.
    pub(crate) fn register(start: *const u8, len: usize) -> Guard {
        install();
        if !INSTALLED.load(Ordering::Acquire) {
            return Guard { slot: None };
        }
        for slot in TABLE.iter() {
            // Acquire/Release on `start`: the fields below are written while the slot is BUSY
            // (invisible to the handler) and published by the Release store of the real start;
            // pairs with the Acquire load in `handler`.
            if slot
                .start
                .compare_exchange(FREE, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                slot.len.store(len, Ordering::Relaxed);
                slot.fault.store(NO_FAULT, Ordering::Relaxed);
                slot.truncated.store(false, Ordering::Relaxed);
                slot.start.store(start as usize, Ordering::Release);
                return Guard { slot: Some(slot) };
            }
        }
        Guard { slot: None }
    }

    /// No registration (for mappings that cannot shrink).
    pub(crate) fn none() -> Guard {
        Guard { slot: None }
    }

    /// The slot, for the protocol's truncation checks (`None` if unguarded).
    pub(crate) fn slot(&self) -> Option<&'static Slot> {
        self.slot
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            // Release: our earlier accesses happen before the slot is reused; no handler can be
            // looking at it for a fault of ours (the mapping is not in use any more).
            slot.start.store(FREE, Ordering::Release);
        }
    }
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: `sigaction` is a plain C struct for which zero is a valid value.
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        act.sa_sigaction = handler as *const () as usize;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
        // SAFETY: `act.sa_mask` is a valid sigset; the call stores the previous action into
        // `PREVIOUS`, which nothing reads before `INSTALLED` is set below.
        let ok = unsafe {
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(libc::SIGBUS, &act, PREVIOUS.0.get()) == 0
        };
        // Release: publishes `PREVIOUS`; pairs with the Acquire in `register`.
        INSTALLED.store(ok, Ordering::Release);
    });
}

/// The `SIGBUS` handler. Async-signal-safe: atomics, `mmap`, `sigaction` and a tail call.
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid `siginfo_t` for an SA_SIGINFO handler.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    if code == libc::BUS_ADRERR {
        for slot in TABLE.iter() {
            // Acquire: pairs with the Release store in `Guard::register`.
            let start = slot.start.load(Ordering::Acquire);
            if start <= BUSY {
                continue;
            }
            let len = slot.len.load(Ordering::Relaxed);
            if addr < start || addr - start >= len {
                continue;
            }
            // SAFETY: `start..start+len` is a live mapping of ours (registered, not yet
            // unmapped: see the module docs) that only ring code accesses, through raw pointers
            // and atomics; replacing its pages with private zero pages changes the bytes it
            // reads, which ring code already treats as untrusted, and nothing else.
            let p = unsafe {
                libc::mmap(
                    start as *mut libc::c_void,
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == start as *mut libc::c_void {
                // Relaxed: read back by the faulting thread itself, after the handler returns.
                let _ = slot.fault.compare_exchange(
                    NO_FAULT,
                    addr - start,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                slot.truncated.store(true, Ordering::Relaxed);
                return; // the access is restarted on the zero pages
            }
            break; // could not remap: behave as if we were not there
        }
    }
    chain(sig, info, ctx);
}

/// Hands a fault that is not ours to the previous handler, or restores the default action so
/// that the restarted access kills the process as it would have without us.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: `PREVIOUS` was written before our handler was installed and is never written
    // again.
    let prev = unsafe { &*PREVIOUS.0.get() };
    let h = prev.sa_sigaction;
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        // SAFETY: plain system call; a zeroed `sigaction` is SIG_DFL.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, std::ptr::null_mut());
        }
        return;
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous action is an SA_SIGINFO handler with this signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: the previous action is a plain handler with this signature.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
        f(sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused() {
        let buf = [0u8; 64];
        let guards: Vec<Guard> = (0..8)
            .map(|i| Guard::register(buf[i..].as_ptr(), 1))
            .collect();
        assert!(guards.iter().all(|g| g.slot().is_some()));
        drop(guards);
        let again = Guard::register(buf.as_ptr(), 1);
        assert_eq!(again.slot().unwrap().truncated(), None);
        again.slot().unwrap().mark_truncated(7);
        assert_eq!(again.slot().unwrap().truncated(), Some(7));
    }
}
