//! Cross-process futex wait and wake on a word of the shared mapping (Linux only).
//!
//! The futex operations are the non-private ones (no `FUTEX_PRIVATE_FLAG`): the kernel keys the
//! wait queue on the physical page, so a process that mapped the same file or memfd elsewhere
//! reaches the same queue. See futex(2).

use crate::sync::AtomicU32;
use std::time::Duration;

/// Sleeps while `*word == expected`, for at most `timeout`. Returns on wake, timeout, signal or
/// a changed value; callers re-check their condition in every case.
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, 4-aligned u32 in memory mapped by this process; the kernel only
    // reads it. `ts_ptr` is null or points to `ts`, which outlives the call. The outcome
    // (0, EAGAIN, EINTR, ETIMEDOUT) is deliberately ignored: the caller re-checks.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wakes every process sleeping on `word`.
pub(crate) fn wake(word: &AtomicU32) {
    // SAFETY: `word` is a live u32 in memory mapped by this process; FUTEX_WAKE does not access
    // user memory beyond computing the key from the address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}
