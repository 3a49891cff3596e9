//! Creating and opening rings by path.

use super::guard::Guard;
use super::header_check::{check_header, HeaderState};
use super::mapped::{Bells, Region};
use crate::error::OpenError;
use crate::layout::{
    capacity_is_valid, data_offset, Header, HEADER_SIZE, MAGIC, MAX_READERS, READY, VERSION,
};
use crate::ring::Geometry;
use crate::sync::Ordering;
use memmap2::{MmapOptions, MmapRaw};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What to do when the path does not hold a ring yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CreateMode {
    /// Open an existing ring only.
    Never,
    /// Create one with this capacity if nothing is at the path.
    IfMissing(u64),
    /// Create one with this capacity; fail if anything is at the path.
    Always(u64),
}

/// Everything `open_path` needs to know.
#[derive(Debug, Clone)]
pub(crate) struct OpenParams {
    pub create: CreateMode,
    pub mode: u32,
    pub group: Option<u32>,
    pub allow_foreign_owner: bool,
    pub init_timeout: Duration,
    /// Reader slots of a created ring.
    pub readers: u32,
}

impl OpenParams {
    /// Refuses a creation mode with bits other than the permission bits (set-uid, set-gid,
    /// sticky, or beyond), instead of silently dropping them.
    pub(crate) fn check_mode(&self) -> Result<(), OpenError> {
        if self.mode & !0o777 != 0 {
            return Err(OpenError::InvalidMode { mode: self.mode });
        }
        Ok(())
    }
}

/// Creates or opens the ring at `path` as `params` say.
pub(crate) fn open_path(path: &Path, params: &OpenParams) -> Result<Region, OpenError> {
    if params.create != CreateMode::Never {
        // Checked before looking at the path, so that `IfMissing` fails alike whether or not
        // a file is there.
        params.check_mode()?;
    }
    match params.create {
        CreateMode::Never => open_existing(path, params),
        CreateMode::Always(cap) => create(path, cap, params),
        CreateMode::IfMissing(cap) => match create(path, cap, params) {
            Err(OpenError::AlreadyExists { .. }) => open_existing(path, params),
            other => other,
        },
    }
}

fn io_err(path: &Path, op: &'static str, source: io::Error) -> OpenError {
    let path = path.to_path_buf();
    match source.raw_os_error() {
        Some(libc::ENOENT) => OpenError::NotFound { path },
        Some(libc::EEXIST) => OpenError::AlreadyExists { path },
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => {
            OpenError::PermissionDenied { path }
        }
        Some(libc::ELOOP) => OpenError::Symlink { path },
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => OpenError::NoSpace { path, bytes: 0 },
        _ => OpenError::Io { path, op, source },
    }
}

fn file_kind(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_symlink() {
        "symbolic link"
    } else {
        "special file"
    }
}

/// Reserves `len` bytes of real storage for `file`: a full disk or `/dev/shm` fails here, not
/// later with SIGBUS on first touch of a sparse page.
pub(crate) fn reserve(file: &File, len: u64) -> io::Result<()> {
    // SAFETY: plain system call on a valid descriptor.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len as libc::off_t) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::EOPNOTSUPP) {
        return Err(err);
    }
    // The file system cannot preallocate: write the zeros ourselves, which allocates them too.
    let zeros = vec![0u8; 1 << 16];
    let mut left = len;
    let mut f = file;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    f.flush()
}

fn map(file: &File, len: u64, path: &Path) -> Result<MmapRaw, OpenError> {
    MmapOptions::new()
        .len(len as usize)
        .map_raw(file)
        .map_err(|source| io_err(path, "mmap", source))
}

/// Writes a fresh header into `map` and marks it ready. The data region and the reader table
/// are already zero.
pub(crate) fn init_header(map: &MmapRaw, cap: u64, readers: u32) {
    // SAFETY: `map` is a page-aligned mapping of at least `data_offset(readers)` bytes that we
    // just created and nobody else has validated yet; all bit patterns are valid for `Header`.
    let h = unsafe { &*map.as_ptr().cast::<Header>() };
    h.magic.store(MAGIC, Ordering::Relaxed);
    h.version.store(VERSION, Ordering::Relaxed);
    h.data_offset.store(data_offset(readers), Ordering::Relaxed);
    h.capacity.store(cap, Ordering::Relaxed);
    h.reader_slots.store(readers, Ordering::Relaxed);
    h.creator_pid.store(std::process::id(), Ordering::Relaxed);
    // Release: publishes every field above; pairs with the Acquire load in `check_header`.
    h.ready.store(READY, Ordering::Release);
}

fn create(path: &Path, cap: u64, params: &OpenParams) -> Result<Region, OpenError> {
    if !capacity_is_valid(cap) {
        return Err(OpenError::InvalidCapacity(cap as usize));
    }
    check_readers(params.readers)?;
    let len = u64::from(data_offset(params.readers)) + cap;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(params.mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io_err(path, "open(O_CREAT|O_EXCL)", e))?;
    let cleanup = |e: OpenError| {
        let _ = std::fs::remove_file(path);
        e
    };
    // The umask may have narrowed the mode; the caller asked for exactly this one.
    nix::sys::stat::fchmod(&file, nix::sys::stat::Mode::from_bits_truncate(params.mode))
        .map_err(|e| cleanup(io_err(path, "fchmod", e.into())))?;
    if let Some(gid) = params.group {
        nix::unistd::fchown(&file, None, Some(nix::unistd::Gid::from_raw(gid)))
            .map_err(|e| cleanup(io_err(path, "fchown", e.into())))?;
    }
    reserve(&file, len).map_err(|e| {
        cleanup(match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => OpenError::NoSpace {
                path: path.to_path_buf(),
                bytes: len,
            },
            _ => io_err(path, "fallocate", e),
        })
    })?;
    let map = map(&file, len, path).map_err(cleanup)?;
    init_header(&map, cap, params.readers);
    let geo = Geometry::new(cap, data_offset(params.readers).into(), params.readers);
    // SAFETY: the mapping is `len = data_offset + cap` bytes and holds the header just written.
    Ok(unsafe { Region::new(map, file, path.to_path_buf(), geo, true, Bells::Fifos) })
}

/// Refuses a reader count outside 1..=MAX_READERS.
pub(crate) fn check_readers(readers: u32) -> Result<(), OpenError> {
    if readers == 0 || readers > MAX_READERS {
        return Err(OpenError::InvalidReaders(readers));
    }
    Ok(())
}

/// Names the cause of a failed `open`: a directory, socket or device gives EISDIR, ENXIO or
/// others, which we turn into what the path really is.
pub(crate) fn classify_open_error(path: &Path, e: io::Error) -> OpenError {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            return OpenError::Symlink {
                path: path.to_path_buf(),
            };
        }
        if !meta.file_type().is_file() {
            return OpenError::NotRegularFile {
                path: path.to_path_buf(),
                kind: file_kind(meta.file_type()),
            };
        }
    }
    io_err(path, "open", e)
}

fn open_file(path: &Path) -> Result<File, OpenError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| classify_open_error(path, e))
}

/// Checks the descriptor's file type and owner; returns its length.
pub(crate) fn check_file(file: &File, path: &Path, allow_foreign: bool) -> Result<u64, OpenError> {
    let meta = file.metadata().map_err(|e| io_err(path, "fstat", e))?;
    if !meta.file_type().is_file() {
        return Err(OpenError::NotRegularFile {
            path: path.to_path_buf(),
            kind: file_kind(meta.file_type()),
        });
    }
    let us = nix::unistd::geteuid().as_raw();
    if !allow_foreign && meta.uid() != us {
        return Err(OpenError::ForeignOwner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            us,
        });
    }
    Ok(meta.len())
}

/// Opens an existing ring: type, owner, length and header are checked before the data region
/// is touched. A header that is not ready yet (or a file still being sized) is retried until
/// `init_timeout`.
fn open_existing(path: &Path, params: &OpenParams) -> Result<Region, OpenError> {
    let file = open_file(path)?;
    let start = Instant::now();
    loop {
        let len = check_file(&file, path, params.allow_foreign_owner)?;
        let waited = start.elapsed();
        let give_up = waited >= params.init_timeout;
        if len < HEADER_SIZE as u64 {
            if give_up {
                return Err(if len == 0 {
                    OpenError::Empty {
                        path: path.to_path_buf(),
                    }
                } else {
                    OpenError::TooShort {
                        path: path.to_path_buf(),
                        len,
                    }
                });
            }
        } else {
            // Map the header alone first: a hostile file's length (say, a sparse terabyte) is
            // only trusted once the header it carries agrees with it.
            let head = map(&file, HEADER_SIZE as u64, path)?;
            // The file may shrink between the `fstat` above and our reads of the header: guard
            // the mapping from the start (a fault turns it into zeros, read as "not ready", and
            // the next round sees the new length). Declared after `head`, so dropped before it.
            let guard = Guard::register(head.as_ptr(), head.len());
            // SAFETY: the mapping is HEADER_SIZE bytes and page-aligned; any bytes are a valid
            // `Header`.
            let h = unsafe { &*head.as_ptr().cast::<Header>() };
            let state = check_header(h, len, path)?;
            let shrunk = guard.slot().and_then(|s| s.truncated()).is_some();
            drop(guard);
            drop(head);
            match state {
                _ if shrunk => {}
                HeaderState::Valid(geo) => {
                    // `len` is now known to be `data_offset + capacity` (at most 4 GiB + 1 MiB).
                    // If the file changes before or after this second mapping, the protocol
                    // re-validates everything it reads and the guard covers a shrink.
                    let map = map(&file, len, path)?;
                    // SAFETY: the mapping is `len == data_offset + cap` bytes (`check_header`).
                    return Ok(unsafe {
                        Region::new(map, file, path.to_path_buf(), geo, true, Bells::Fifos)
                    });
                }
                HeaderState::NotReady if give_up => {
                    return Err(OpenError::NotInitialised {
                        path: path.to_path_buf(),
                        waited,
                    });
                }
                HeaderState::NotReady => {}
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The path used in errors about anonymous rings.
pub(crate) fn anonymous_path() -> PathBuf {
    PathBuf::from("<anonymous ring>")
}
