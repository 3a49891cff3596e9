//! The shared-memory ring behind [`mmring`](https://docs.rs/mmring): a lock-free
//! single-producer / single-consumer ring of variable-length messages in a `MAP_SHARED` mapping,
//! for two processes that meet at a file path or a parent and child split by `fork`.
//!
//! - **Format**: a `#[repr(C)]` [`layout::Header`] at offset 0, then a page-aligned data region
//!   of a power-of-two size holding 8-byte-aligned records; normative description in
//!   `docs/FORMAT.md`.
//! - **Protocol**: monotonic 64-bit cursors, each side caching the other's; a padding record at
//!   the wrap keeps every message contiguous; zero-copy on both sides ([`Grant`], [`Message`]).
//! - **Processes**: one writer and one reader per ring, enforced by kernel locks that die with
//!   their process; blocking calls park on a futex in the mapping; a dead peer is reported as
//!   `Disconnected` after everything it committed has been delivered.
//! - **Untrusted memory**: every value read from the mapping is validated before use; a
//!   violation is a typed [`Corrupt`] error, never undefined behaviour or a panic.
//!
//! Linux only (OFD locks, futexes, memfd).
//!
//! ```
//! let (mut w, mut r) = mmring_core::anonymous(64 * 1024)?;
//! w.send(b"hello")?;
//! assert_eq!(&*r.recv()?, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    clippy::undocumented_unsafe_blocks
)]

mod data;
mod error;
#[cfg(not(loom))]
pub mod fork;
#[cfg(not(loom))]
mod inspect;
pub mod layout;
mod options;
mod reader;
mod region;
mod ring;
mod sync;
mod wait;
mod writer;

#[cfg(loom)]
#[doc(hidden)]
pub use data::LoomData;
pub use error::{
    Corrupt, CorruptKind, OpenError, PodError, RecvError, SendError, Side, TryRecvError,
    TrySendError,
};
#[cfg(not(loom))]
pub use inspect::{inspect, RingInfo, SideInfo, SideState};
pub use options::RingOptions;
pub use reader::{Batch, Message, Reader, WriterStatus};
pub use wait::{WaitStrategy, PROBE_INTERVAL, SPIN_BEFORE_PARK};
pub use writer::{Grant, WriteBatch, Writer};

/// A new anonymous ring (a sealed memfd) with `capacity` data bytes: both ends, for two
/// threads or for a parent and child split by [`fork`].
///
/// ```
/// let (mut w, mut r) = mmring_core::anonymous(4096)?;
/// w.try_send(b"x").unwrap();
/// assert_eq!(r.try_recv_vec().unwrap(), b"x");
/// # Ok::<(), mmring_core::OpenError>(())
/// ```
///
/// # Errors
/// [`OpenError::InvalidCapacity`], [`OpenError::NoSpace`], or an [`OpenError::Io`].
#[cfg(not(loom))]
pub fn anonymous(capacity: u64) -> Result<(Writer, Reader), OpenError> {
    RingOptions::new().anonymous(capacity)
}
