//! Doorbells: a file descriptor per sleeping side that its peer writes to, so that a side can
//! wait for its ring with `poll`/`epoll` (next to its sockets, or next to a pidfd of its peer)
//! instead of a futex. See `docs/FORMAT.md`, section 8.
//!
//! - A ring at a path has one FIFO per side next to it, `<ring>.w.bell` for the writer and
//!   `<ring>.r<i>.bell` for the reader of slot `i`, created by that side when it first sleeps
//!   on it (mode: the ring's permission bits), removed when it detaches cleanly, and reused by
//!   the next holder of the side after a crash. Both ends open it `O_RDWR | O_NONBLOCK`: a FIFO
//!   opened that way never blocks in `open`, never reads end-of-file, and never raises SIGPIPE.
//! - An anonymous ring has one eventfd per side, made with the ring and inherited across
//!   `fork`.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The doorbell of one side: the descriptor its peer writes, its sleeper polls.
#[derive(Debug, Clone)]
pub(crate) enum Bell {
    /// A FIFO next to the ring file (`remove` unlinks it).
    Fifo { fd: Arc<OwnedFd>, path: PathBuf },
    /// An eventfd (anonymous rings).
    Event(Arc<OwnedFd>),
}

/// The path of a side's FIFO doorbell next to the ring at `ring`: `role` is `w` or `r<i>`.
pub(crate) fn fifo_path(ring: &Path, role: &str) -> PathBuf {
    let mut name = ring.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{role}.bell"));
    ring.with_file_name(name)
}

fn open_fifo(path: &Path) -> io::Result<File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    // Never write into anything but a FIFO, whatever was planted at the path.
    let meta = f.metadata()?;
    if !meta.file_type().is_fifo() {
        return Err(io::Error::other("not a FIFO"));
    }
    Ok(f)
}

impl Bell {
    /// Creates (or, after a crash, reuses) the FIFO doorbell at `path` for the side that sleeps
    /// on it. `mode` is the ring file's permission bits; a FIFO owned by another user is refused.
    pub(crate) fn create_fifo(path: &Path, mode: u32) -> io::Result<Bell> {
        match nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(mode & 0o666)) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        let f = open_fifo(path)?;
        if f.metadata()?.uid() != nix::unistd::geteuid().as_raw() {
            return Err(io::Error::other("doorbell FIFO owned by another user"));
        }
        // The umask may have narrowed the mode; peers of the ring must be able to open it.
        nix::sys::stat::fchmod(&f, nix::sys::stat::Mode::from_bits_truncate(mode & 0o666))?;
        Ok(Bell::Fifo {
            fd: Arc::new(f.into()),
            path: path.to_path_buf(),
        })
    }

    /// Opens the FIFO doorbell at `path` to ring it (`NotFound` if its side never slept on one).
    pub(crate) fn open_fifo(path: &Path) -> io::Result<Bell> {
        Ok(Bell::Fifo {
            fd: Arc::new(open_fifo(path)?.into()),
            path: path.to_path_buf(),
        })
    }

    /// A new eventfd doorbell.
    pub(crate) fn eventfd() -> io::Result<Bell> {
        // SAFETY: plain system call; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(Bell::Event(Arc::new(unsafe { OwnedFd::from_raw_fd(fd) })))
    }

    fn fd(&self) -> &OwnedFd {
        match self {
            Bell::Fifo { fd, .. } | Bell::Event(fd) => fd,
        }
    }

    /// Rings: makes the descriptor readable. A full FIFO (nobody drained 64 KiB of rings) is
    /// already readable, so `EAGAIN` is fine; so is any other error (the sleeper also wakes at
    /// its next liveness check).
    pub(crate) fn ring(&self) {
        let one = 1u64.to_ne_bytes();
        let n = match self {
            Bell::Fifo { .. } => 1,
            Bell::Event(_) => 8,
        };
        // SAFETY: valid descriptor; `one` holds at least `n` bytes for the call.
        unsafe { libc::write(self.fd().as_raw_fd(), one.as_ptr().cast(), n) };
    }

    /// Empties the descriptor after a wake-up.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 256];
        loop {
            // SAFETY: valid non-blocking descriptor; `buf` is writable for its length.
            let n =
                unsafe { libc::read(self.fd().as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 || matches!(self, Bell::Event(_)) {
                return;
            }
        }
    }

    /// Removes a FIFO doorbell from the file system (a side that detaches cleanly).
    pub(crate) fn remove(&self) {
        if let Bell::Fifo { path, .. } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl AsFd for Bell {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd().as_fd()
    }
}
