//! Side claims: one-byte open-file-description locks (`F_OFD_SETLK`, Linux ≥ 3.15).
//!
//! A writer holds a write lock on byte [`WRITER_LOCK_BYTE`](crate::layout::WRITER_LOCK_BYTE)
//! of the ring file, the reader of slot `i` on
//! [`reader_lock_byte(i)`](crate::layout::reader_lock_byte). The
//! kernel drops the lock when the last descriptor of the open file description closes, which
//! happens when the process exits or is killed, so a dead side's claim is reclaimable without
//! cleanup and "is the peer alive" is a lock query, not a heartbeat. OFD locks (unlike classic
//! POSIX record locks) belong to the open file description, so two handles in one process
//! exclude each other too. See fcntl(2), "Open file description locks".

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

fn range(byte: u64, ty: libc::c_short) -> libc::flock {
    // SAFETY: `flock` is a plain C struct for which all-zero is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = ty;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = byte as libc::off_t;
    fl.l_len = 1;
    fl.l_pid = 0; // required to be 0 for OFD locks
    fl
}

/// Tries to take the write lock on `byte`. `Ok(false)` when another description holds it.
pub(crate) fn try_lock(file: &File, byte: u64) -> io::Result<bool> {
    let mut fl = range(byte, libc::F_WRLCK as libc::c_short);
    // SAFETY: valid descriptor, `fl` is a valid `flock` that lives across the call.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut fl) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(err),
    }
}

/// Whether an open file description other than `file`'s holds a lock on `byte`.
pub(crate) fn held_by_other(file: &File, byte: u64) -> io::Result<bool> {
    let mut fl = range(byte, libc::F_WRLCK as libc::c_short);
    // SAFETY: valid descriptor, `fl` is a valid `flock` that lives across the call.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut fl) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

/// Releases our lock on `byte` (`F_OFD_SETLK` with `F_UNLCK`). Closing the descriptor does it
/// too; this lets a handle give up its claim before its descriptor goes.
pub(crate) fn unlock(file: &File, byte: u64) {
    let mut fl = range(byte, libc::F_UNLCK as libc::c_short);
    // SAFETY: valid descriptor, `fl` is a valid `flock` that lives across the call. Unlocking
    // cannot fail on a valid descriptor and range; nothing to do if it did.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut fl) };
}
