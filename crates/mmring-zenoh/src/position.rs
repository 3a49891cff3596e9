//! Where each message sits in the source ring: stable across restarts of the outbound bridge,
//! so the inbound bridge can tell a re-published message from a new one.
//!
//! A reader that attaches resumes at its slot's released position (`docs/GUARANTEES.md`,
//! "Reader crash"), which [`mmring::inspect`] reports. From there, every record's position
//! follows from the message lengths alone by the writing rule of `docs/FORMAT.md` (version 2,
//! section 6): a record of `8 + round_up(len, 8)` bytes that does not fit before the end of
//! the data region is preceded by a padding record up to the end. [`Positions`] mirrors that
//! rule; `tests/positions.rs` checks it against `inspect` across many wraps, so a change of
//! the format breaks a test rather than deduplication.

use mmring::{layout, OpenError};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The positions of the records a reader receives, computed from their lengths.
///
/// ```
/// use mmring_zenoh::position::Positions;
/// let mut p = Positions::new(64, 0);
/// assert_eq!(p.advance(20), (0, 32));  // 8 + 24 bytes
/// assert_eq!(p.advance(20), (32, 64)); // fits exactly
/// assert_eq!(p.advance(1), (64, 80));
/// assert_eq!(p.advance(24), (80, 112));
/// assert_eq!(p.advance(24), (112, 160)); // 32 bytes do not fit in 48..64: padding first
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Positions {
    cap: u64,
    next: u64,
}

impl Positions {
    /// A reader of a ring of `capacity` data bytes standing at position `start`.
    pub fn new(capacity: u64, start: u64) -> Positions {
        debug_assert!(capacity.is_power_of_two());
        Positions {
            cap: capacity,
            next: start,
        }
    }

    /// Where the reader stands now.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Accounts for one received message of `len` bytes: returns the position before it
    /// (padding included) and the position after its record.
    pub fn advance(&mut self, len: usize) -> (u64, u64) {
        let from = self.next;
        let total = layout::record_size(len as u64);
        let off = from & (self.cap - 1);
        let at = if total <= self.cap - off {
            from
        } else {
            from + (self.cap - off)
        };
        self.next = at + total;
        (from, self.next)
    }
}

/// What an attached reader needs to tag its messages: its source identity and its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attached {
    /// See [`source_id`].
    pub source: u64,
    /// The reader slot this process holds.
    pub slot: u32,
    /// The slot's released position: where this reader starts.
    pub start: u64,
    /// The ring's data capacity.
    pub capacity: u64,
}

/// Finds the reader slot this process has just attached to in the ring at `path` (before it
/// has received anything) and where it starts.
///
/// # Errors
/// The ring cannot be inspected, or no live slot belongs to this process.
pub fn attached(path: &Path) -> Result<Attached, AttachError> {
    let info = mmring::inspect(path).map_err(AttachError::Inspect)?;
    let pid = std::process::id();
    let slot = info
        .readers
        .iter()
        .find(|r| r.side.pid == pid && r.side.alive)
        .ok_or(AttachError::NoSlot { pid })?;
    let meta = std::fs::metadata(path).map_err(|e| {
        AttachError::Inspect(OpenError::Io {
            path: path.to_owned(),
            op: "stat",
            source: e,
        })
    })?;
    Ok(Attached {
        source: source_id(meta.dev(), meta.ino(), info.creator_pid, slot.slot),
        slot: slot.slot,
        start: slot.read_pos,
        capacity: info.capacity as u64,
    })
}

/// Why [`attached`] failed.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// `inspect` failed.
    #[error("cannot inspect the ring: {0}")]
    Inspect(#[source] OpenError),
    /// No reader slot is held by this process (the format changed?).
    #[error("no reader slot of the ring is held by this process (pid {pid})")]
    NoSlot {
        /// Our pid.
        pid: u32,
    },
}

/// A 64-bit identity of (this host, ring file, its creator, reader slot): the same for every
/// outbound bridge that reads that slot of that ring, different for a ring re-created at the
/// same path (another creator pid) and for another slot.
///
/// ```
/// use mmring_zenoh::position::source_id;
/// assert_eq!(source_id(1, 2, 3, 0), source_id(1, 2, 3, 0));
/// assert_ne!(source_id(1, 2, 3, 0), source_id(1, 2, 3, 1));
/// ```
pub fn source_id(dev: u64, ino: u64, creator_pid: u32, slot: u32) -> u64 {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let mut h = 0xcbf2_9ce4_8422_2325u64; // FNV-1a
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(host.trim().as_bytes());
    eat(&dev.to_le_bytes());
    eat(&ino.to_le_bytes());
    eat(&creator_pid.to_le_bytes());
    eat(&slot.to_le_bytes());
    h
}
