//! Process descriptors (`pidfd_open(2)`, Linux 5.3): a descriptor that becomes readable when the
//! process exits, so a sleeping side learns that its peer died without waking up to probe.
//!
//! A pid read from the header is only a hint: it may belong to another pid namespace, be stale
//! (reused by an unrelated process), or be forged. A readable pidfd therefore only triggers the
//! real check (the peer's lock, `ring::claim::alive`); a pidfd that never becomes readable is
//! covered by a slower periodic check.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// A descriptor of process `pid`, or the error (`ESRCH`: no such process here; `ENOSYS`: an old
/// kernel).
pub(crate) fn open(pid: u32) -> io::Result<OwnedFd> {
    if pid == 0 || pid > i32::MAX as u32 {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: plain system call with integer arguments; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0u32) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
