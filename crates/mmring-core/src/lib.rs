//! The shared-memory ring behind [`mmring`](https://docs.rs/mmring): a lock-free
//! single-producer / single-consumer ring of variable-length messages in a `MAP_SHARED` mapping,
//! for two processes that meet at a file path or a parent and child split by `fork`.
//!
//! - **Format** (version 2): a `#[repr(C)]` [`layout::Header`] at offset 0 and a table of
//!   reader slots, then a page-aligned data region of a power-of-two size holding 8-byte-aligned
//!   records; normative description in `docs/FORMAT.md`.
//! - **Protocol**: each record's header word is its commit point, stamped with its position, so
//!   a reader polls the record at its own position (one cache line per small message) and never
//!   the writer's cursor; a padding record at the wrap keeps every message contiguous; readers
//!   give space back lazily; zero-copy on both sides ([`Grant`], [`Message`]).
//! - **Processes**: one writer and one reader per reader slot, enforced by kernel locks that die
//!   with their process; blocking calls park on a futex in the mapping; a dead peer is reported
//!   as `Disconnected` after everything it committed has been delivered.
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
mod handle;
#[cfg(not(loom))]
mod inspect;
pub mod layout;
mod options;
mod os;
mod reader;
mod ring;
mod sync;
#[cfg(all(feature = "tokio", not(loom)))]
pub mod tokio;
mod untethered;
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
pub use handle::Readiness;
#[cfg(not(loom))]
pub use inspect::{inspect, ReaderInfo, ReaderKind, RingInfo, SideInfo, SideState};
#[cfg(loom)]
#[doc(hidden)]
pub use options::LoomRing;
pub use options::RingOptions;
pub use reader::{Batch, Message, Reader, WriterStatus};
pub use ring::claim::StartAt;
pub use untethered::{InPlace, UntetheredReader};
pub use wait::{WaitStrategy, IDLE_PROBE, PROBE_INTERVAL, SPIN_BEFORE_PARK};
pub use writer::{BatchGrant, Grant, WriteBatch, Writer};

/// A new anonymous ring (a sealed memfd) with `capacity` data bytes: both ends, for two
/// threads or for a parent and child split by [`fork`].
///
/// ```
/// let (mut w, mut r) = mmring_core::anonymous(4096)?;
/// w.try_send(b"x")?;
/// assert_eq!(r.try_recv_vec()?, b"x");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`OpenError::InvalidCapacity`], [`OpenError::NoSpace`], or an [`OpenError::Io`].
#[cfg(not(loom))]
pub fn anonymous(capacity: usize) -> Result<(Writer, Reader), OpenError> {
    RingOptions::new().anonymous(capacity)
}
