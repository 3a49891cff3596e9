//! Splitting an anonymous ring between a parent and a child process with `fork`.
//!
//! # Rules for forking a Rust program
//! - **Fork while single-threaded.** The child gets a copy of the calling thread only; any lock
//!   another thread held (the allocator's, stdout's) stays locked forever in the child. The
//!   functions here refuse with [`ForkError::MultiThreaded`] when `/proc/self/task` lists more
//!   than one thread. Create the ring and fork *before* starting threads or an async runtime.
//! - **In the child, keep to simple code until `exec` or exit.** Because the process was
//!   single-threaded, the child may allocate and use the ring normally; end it with
//!   `std::process::exit` (or `libc::_exit` to skip the parent's atexit handlers and buffered
//!   output, which it would otherwise flush twice).
//! - **Each process keeps one end.** The end a process does not use is closed in it without
//!   touching the shared header, so that the peer's liveness (the kernel lock on the end's own
//!   open file description) reflects the process that really holds it. The functions here do
//!   that for you; doing `fork` by hand and keeping both ends in both processes would make a
//!   dead peer look alive.
//! - The parent should `waitpid` its child (the returned pid) to reap it.

use crate::{Reader, Writer};
use std::fmt;

/// Which end a process holds after [`fork_writer_parent`] or [`fork_reader_parent`].
#[derive(Debug)]
pub enum Forked<P, C> {
    /// We are the parent; `child` is the child's process id.
    Parent {
        /// The parent's end.
        end: P,
        /// The child's process id, to `waitpid` on.
        child: i32,
    },
    /// We are the child.
    Child {
        /// The child's end.
        end: C,
    },
}

/// Why the fork did not happen.
#[derive(Debug)]
#[non_exhaustive]
pub enum ForkError {
    /// More than one thread was running; forking would leave the child with locks held by
    /// threads that no longer exist.
    MultiThreaded {
        /// Threads counted in `/proc/self/task`.
        threads: usize,
    },
    /// `fork` itself failed (the ends are dropped).
    Fork(std::io::Error),
}

impl fmt::Display for ForkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForkError::MultiThreaded { threads } => write!(
                f,
                "refusing to fork a process with {threads} threads: fork before starting threads"
            ),
            ForkError::Fork(e) => write!(f, "fork failed: {e}"),
        }
    }
}

impl std::error::Error for ForkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ForkError::Fork(e) => Some(e),
            ForkError::MultiThreaded { .. } => None,
        }
    }
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(usize::MAX)
}

/// Forks; the parent keeps the writer and the child the reader.
///
/// ```no_run
/// use mmring_core::fork::{fork_writer_parent, Forked};
/// let (w, r) = mmring_core::anonymous(64 * 1024)?;
/// // SAFETY: this program has one thread here, and the child only uses the ring and exits.
/// match unsafe { fork_writer_parent(w, r) }? {
///     Forked::Parent { mut end, child } => {
///         end.send(b"hello from the parent")?;
///         drop(end);
///         nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None)?;
///     }
///     Forked::Child { mut end } => {
///         let msg = end.recv_vec()?;
///         println!("{}", String::from_utf8_lossy(&msg));
///         std::process::exit(0);
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`ForkError::MultiThreaded`] if the process has more than one thread; [`ForkError::Fork`].
///
/// # Safety
/// The caller must follow the module's rules: no other thread may exist (checked, but a thread
/// could start between the check and the fork), and the child must not rely on state that the
/// `fork` left inconsistent.
pub unsafe fn fork_writer_parent(
    writer: Writer,
    reader: Reader,
) -> Result<Forked<Writer, Reader>, ForkError> {
    // SAFETY: forwarded to our caller.
    match unsafe { fork_raw()? } {
        Some(child) => {
            let mut r = reader;
            r.h.detached = true;
            drop(r);
            Ok(Forked::Parent { end: writer, child })
        }
        None => {
            let mut w = writer;
            w.h.detached = true;
            drop(w);
            Ok(Forked::Child { end: reader })
        }
    }
}

/// Forks; the parent keeps the reader and the child the writer.
///
/// # Errors
/// As [`fork_writer_parent`].
///
/// # Safety
/// As [`fork_writer_parent`].
pub unsafe fn fork_reader_parent(
    writer: Writer,
    reader: Reader,
) -> Result<Forked<Reader, Writer>, ForkError> {
    // SAFETY: forwarded to our caller.
    match unsafe { fork_raw()? } {
        Some(child) => {
            let mut w = writer;
            w.h.detached = true;
            drop(w);
            Ok(Forked::Parent { end: reader, child })
        }
        None => {
            let mut r = reader;
            r.h.detached = true;
            drop(r);
            Ok(Forked::Child { end: writer })
        }
    }
}

/// `Some(child pid)` in the parent, `None` in the child.
unsafe fn fork_raw() -> Result<Option<i32>, ForkError> {
    let threads = thread_count();
    if threads != 1 {
        return Err(ForkError::MultiThreaded { threads });
    }
    // SAFETY: the process is single-threaded (checked above; the caller guarantees no thread
    // starts meanwhile), so the child inherits consistent allocator and runtime state.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Some(child.as_raw())),
        Ok(nix::unistd::ForkResult::Child) => Ok(None),
        Err(e) => Err(ForkError::Fork(e.into())),
    }
}
