//! Anonymous rings: a sealed memfd, for a parent and a child split by `fork`.

use super::bell::Bell;
use super::file::{anonymous_path, init_header, reserve};
use super::mapped::{Bells, Region};
use crate::error::OpenError;
use crate::layout::{capacity_is_valid, data_offset};
use crate::ring::Geometry;
use memmap2::MmapOptions;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;

fn err(op: &'static str, source: io::Error) -> OpenError {
    match source.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::ENOMEM) => OpenError::NoSpace {
            path: anonymous_path(),
            bytes: 0,
        },
        _ => OpenError::Io {
            path: anonymous_path(),
            op,
            source,
        },
    }
}

/// Creates a memfd-backed ring and returns two regions over it, each with its own open file
/// description (so each side's claim is its own lock): the first for the writer, the second
/// for the reader.
///
/// The memfd is sealed against shrinking and growing (`F_SEAL_SHRINK | F_SEAL_GROW`, then
/// `F_SEAL_SEAL`), so no process that gets hold of the descriptor can truncate the ring under a
/// live mapping (which would turn our next access into SIGBUS).
pub(crate) fn anonymous_pair(cap: u64) -> Result<(Region, Region), OpenError> {
    if !capacity_is_valid(cap) {
        return Err(OpenError::InvalidCapacity(cap as usize));
    }
    let len = u64::from(data_offset(1)) + cap;
    // SAFETY: the name is a valid NUL-terminated string; flags are valid memfd flags.
    let fd = unsafe {
        libc::memfd_create(
            c"mmring".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(err("memfd_create", io::Error::last_os_error()));
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let first = unsafe { File::from_raw_fd(fd) };
    reserve(&first, len).map_err(|e| err("fallocate", e))?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
    // SAFETY: plain system call on a valid descriptor.
    if unsafe { libc::fcntl(first.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(err("fcntl(F_ADD_SEALS)", io::Error::last_os_error()));
    }
    // A second open file description of the same memfd, so that the reader's claim is separate.
    let second = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(format!("/proc/self/fd/{}", first.as_raw_fd()))
        .map_err(|e| err("open(/proc/self/fd)", e))?;
    let map_first = MmapOptions::new()
        .len(len as usize)
        .map_raw(&first)
        .map_err(|e| err("mmap", e))?;
    let map_second = MmapOptions::new()
        .len(len as usize)
        .map_raw(&second)
        .map_err(|e| err("mmap", e))?;
    init_header(&map_first, cap, 1);
    let geo = Geometry::new(cap, data_offset(1).into(), 1);
    let bells = Bells::Events(std::sync::Arc::new([
        Bell::eventfd().map_err(|e| err("eventfd", e))?,
        Bell::eventfd().map_err(|e| err("eventfd", e))?,
    ]));
    // SAFETY: both mappings are `data_offset + cap` bytes of the same sealed memfd, whose header
    // was just written. Unguarded: the seals make truncation impossible (see `guard.rs`).
    unsafe {
        Ok((
            Region::new(
                map_first,
                first,
                anonymous_path(),
                geo,
                false,
                bells.clone(),
            ),
            Region::new(map_second, second, anonymous_path(), geo, false, bells),
        ))
    }
}
