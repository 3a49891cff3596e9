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
//! - a process-wide `SIGBUS` handler (installed once, `SA_SIGINFO | SA_ONSTACK`; see
//!   `our_action` for why not `SA_NODEFER`) looks the faulting address up; if it lies in a
//!   registered mapping, it maps fresh anonymous zero pages over the *whole* mapping
//!   (`mmap(MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS)`, a plain system call with no user-space
//!   locks), records the fault in the slot and returns: the faulting instruction is restarted
//!   and completes on zeros;
//! - the protocol then sees a zeroed header (cursors gone backwards, unknown tags) or nothing
//!   new; both paths consult the slot and report [`CorruptKind::Truncated`](crate::CorruptKind),
//!   and the handle is poisoned like for any other corruption;
//! - any other `SIGBUS` ("foreign": a fault in another mapping, or a signal sent with `kill`,
//!   `raise` or `sigqueue`) gets what the process chose before us, and never removes our
//!   handler while the process lives on:
//!
//!   | previous action | fault elsewhere (`BUS_ADRERR`, ...) | sent (`SI_USER`, `SI_TKILL`, `SI_QUEUE`) |
//!   |---|---|---|
//!   | `SIG_DFL` | default action back, return: the access faults again and the kernel kills the process | default action back, unblock, raise again: the process dies of `SIGBUS` |
//!   | `SIG_IGN` | as `SIG_DFL` (the kernel never lets a fault be ignored) | nothing: ignored, we stay installed |
//!   | a handler | called; if it reset the action (the standard library's handler resets to `SIG_DFL`), that becomes the previous action and ours is installed again | the same |
//!
//!   A fault is repeated by the CPU when the handler returns, a sent signal is not: that is why
//!   a sent signal with the default action is raised again rather than returned from. With the
//!   standard library's handler before us (most Rust programs), a first sent `SIGBUS` is
//!   survived and a second one kills, exactly as without us;
//! - the handler saves and restores `errno`, since it makes system calls.
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

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
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

/// `PREV_NOW` while the previous action is still the one recorded in `PREVIOUS`.
const PREV_AS_RECORDED: u8 = 0;
/// `PREV_NOW` once the chained handler has set the action to `SIG_DFL`.
const PREV_DEFAULT: u8 = 1;
/// `PREV_NOW` once the chained handler has set the action to `SIG_IGN`.
const PREV_IGNORE: u8 = 2;
/// What the process's own choice of action is now, if a chained handler changed it.
///
/// The standard library's stack-overflow handler (our previous action in most Rust programs)
/// handles a `SIGBUS` that is not a stack overflow by resetting the action to `SIG_DFL` and
/// returning. Left alone, that reset would remove our handler for good; instead we re-install
/// ours and remember here that the process now wants the default action.
static PREV_NOW: AtomicU8 = AtomicU8::new(PREV_AS_RECORDED);

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

/// Our action: `handler` with `SA_SIGINFO | SA_ONSTACK`, blocking nothing but `SIGBUS` itself
/// while it runs.
///
/// No `SA_NODEFER`: `SIGBUS` stays blocked on the thread that runs the handler. The handler
/// itself never touches ring memory, so a second `SIGBUS` on the same thread while it runs can
/// only come from a handler we chain to faulting in turn. With `SA_NODEFER` that fault would
/// re-enter our handler, which chains to the same handler, which faults again: a recursion
/// that ends only when the signal stack overflows (`SIGSEGV`). Blocked, the kernel instead
/// resets the action to the default and kills the process with `SIGBUS` at once (a fault cannot
/// be held pending), which is the honest outcome. Faults in two different threads are not
/// affected either way: the blocked set is per thread, so each thread enters the handler on
/// its own, and they touch different slots (a mapping is used by one thread at a time). The
/// one place we need `SIGBUS` deliverable inside the handler, re-raising a sent signal, unblocks
/// it explicitly (`die_by`).
fn our_action() -> libc::sigaction {
    // SAFETY: `sigaction` is a plain C struct for which zero is a valid value.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler as *const () as usize;
    act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `act.sa_mask` is a valid sigset to initialise (async-signal-safe).
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    act
}

fn install() {
    INSTALL.call_once(|| {
        let act = our_action();
        // SAFETY: `act` is a valid action; the call stores the previous action into
        // `PREVIOUS`, which nothing reads before `INSTALLED` is set below.
        let ok = unsafe { libc::sigaction(libc::SIGBUS, &act, PREVIOUS.0.get()) == 0 };
        // Release: publishes `PREVIOUS`; pairs with the Acquire in `register`.
        INSTALLED.store(ok, Ordering::Release);
    });
}

/// Restores `errno` when dropped: the handler makes system calls (`mmap`, `sigaction`, ...)
/// that may set it, and the code it interrupted may be between a failing call and its read of
/// `errno`.
struct SavedErrno(libc::c_int);

impl SavedErrno {
    fn save() -> SavedErrno {
        // SAFETY: `__errno_location` returns the calling thread's errno, always valid.
        SavedErrno(unsafe { *libc::__errno_location() })
    }
}

impl Drop for SavedErrno {
    fn drop(&mut self) {
        // SAFETY: as in `save`.
        unsafe { *libc::__errno_location() = self.0 };
    }
}

/// The `SIGBUS` handler. Async-signal-safe: atomics, `mmap`, `sigaction`, `pthread_sigmask`,
/// `raise`, and a call of the previous handler.
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let _errno = SavedErrno::save();
    // SAFETY: the kernel passes a valid `siginfo_t` for an SA_SIGINFO handler.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    // Only a real access fault has a meaningful address (for a sent signal, those bytes hold
    // the sender's pid and uid).
    if code == libc::BUS_ADRERR && remap_if_ours(addr) {
        return; // the access is restarted on the zero pages
    }
    foreign(sig, code, info, ctx);
}

/// If `addr` lies in a registered mapping, replaces the whole mapping with zero pages and
/// records the fault; returns whether it did.
fn remap_if_ours(addr: usize) -> bool {
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
        // SAFETY: `start..start+len` is a live mapping of ours (registered, not yet unmapped:
        // see the module docs) that only ring code accesses, through raw pointers and atomics;
        // replacing its pages with private zero pages changes the bytes it reads, which ring
        // code already treats as untrusted, and nothing else.
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
        if p != start as *mut libc::c_void {
            return false; // could not remap: behave as if we were not there
        }
        // Relaxed: read back by the faulting thread itself, after the handler returns.
        let _ = slot.fault.compare_exchange(
            NO_FAULT,
            addr - start,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        slot.truncated.store(true, Ordering::Relaxed);
        return true;
    }
    false
}

/// Whether `si_code` says the signal is a synchronous fault of the interrupted instruction,
/// which the CPU executes again when the handler returns (and which faults again if nothing
/// changed). Everything else (`SI_USER` from `kill`, `SI_TKILL` from `raise`/`tgkill`,
/// `SI_QUEUE` from `sigqueue`, `BUS_MCEERR_AO`, a memory error reported ahead of any access) is
/// an event: returning does not repeat it.
fn is_fault(code: libc::c_int) -> bool {
    matches!(
        code,
        libc::BUS_ADRALN | libc::BUS_ADRERR | libc::BUS_OBJERR | libc::BUS_MCEERR_AR
    )
}

/// The action the process chose for `SIGBUS` before us (or since, see `PREV_NOW`).
enum Prev {
    Default,
    Ignore,
    Handler(&'static libc::sigaction),
}

fn previous() -> Prev {
    // Relaxed: a single word, and no other data is published through it.
    match PREV_NOW.load(Ordering::Relaxed) {
        PREV_DEFAULT => return Prev::Default,
        PREV_IGNORE => return Prev::Ignore,
        _ => {}
    }
    // SAFETY: `PREVIOUS` was written before our handler was installed and is never written
    // again.
    let prev = unsafe { &*PREVIOUS.0.get() };
    match prev.sa_sigaction {
        libc::SIG_DFL => Prev::Default,
        libc::SIG_IGN => Prev::Ignore,
        _ => Prev::Handler(prev),
    }
}

/// A `SIGBUS` that is not a fault in a ring mapping: do what the process would have done
/// without us, and stay installed whenever the process survives it.
fn foreign(
    sig: libc::c_int,
    code: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    match previous() {
        // A sent `SIGBUS` the process ignores: nothing happens, as it asked.
        Prev::Ignore if !is_fault(code) => {}
        // A sent `SIGBUS` with the default action: the process dies of it.
        Prev::Default if !is_fault(code) => die_by(sig),
        // A fault with the default action, or ignored (the kernel never lets a fault be
        // ignored: it kills the process): put the default action back and return; the access
        // runs again, faults again, and the kernel kills the process with the real `siginfo`
        // and a core dump at the faulting instruction. (Were the access to stop faulting in
        // between, the process would go on with the default action, unguarded.)
        Prev::Default | Prev::Ignore => set_default(sig),
        Prev::Handler(prev) => {
            call(prev, sig, info, ctx);
            rearm_after(prev, sig);
        }
    }
}

/// Installs the default action for `sig`.
fn set_default(sig: libc::c_int) {
    // SAFETY: a zeroed `sigaction` is SIG_DFL with an empty mask; plain system call.
    unsafe {
        let dfl: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, &dfl, std::ptr::null_mut());
    }
}

/// Dies of `sig` by its default action, as the process would have without us: default action,
/// `sig` unblocked, raised again on this thread.
fn die_by(sig: libc::c_int) {
    set_default(sig);
    // SAFETY: `set` is a valid sigset we initialise; plain system calls.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
    // Not reached: the default action of SIGBUS terminates the process before `raise` returns.
    // Only another thread installing a handler in between could bring us here; that handler is
    // then the process's choice.
}

/// Calls the previous handler as the kernel would have.
fn call(
    prev: &libc::sigaction,
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    let h = prev.sa_sigaction;
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

/// After a chained handler returned: if it replaced the action with the default or ignore
/// (the standard library's handler resets to the default), or was one-shot (`SA_RESETHAND`),
/// record that as the process's choice and re-install ours, so that the guard stays armed. A
/// fault then comes back to us when it runs again, and is handled as one with that choice. A
/// handler it installed is left in place: that is the process's explicit choice (see "Not
/// protected" in the module docs).
fn rearm_after(prev: &libc::sigaction, sig: libc::c_int) {
    // SAFETY: `cur` is a valid out-parameter; a null new action only queries.
    let cur = unsafe {
        let mut cur: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut cur);
        cur
    };
    let now = match cur.sa_sigaction {
        h if h == handler as *const () as usize => {
            if prev.sa_flags & libc::SA_RESETHAND as libc::c_int == 0 {
                return; // untouched: nothing to do
            }
            PREV_DEFAULT
        }
        libc::SIG_DFL => PREV_DEFAULT,
        libc::SIG_IGN => PREV_IGNORE,
        _ => return,
    };
    // Relaxed: see `previous`.
    PREV_NOW.store(now, Ordering::Relaxed);
    let act = our_action();
    // SAFETY: `act` is a valid action; plain system call.
    unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) };
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
