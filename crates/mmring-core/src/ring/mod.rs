//! The SPSC protocol: cursors, records, and the wait/wake handshake.
//!
//! This is the only module that chooses memory orderings, and it makes no system calls. It
//! works on a [`Shared`] view (a header plus a data region) that the `region` module builds over
//! a mapping, or over the heap under loom; the code is the same in both builds.
//!
//! Synchronisation points (each Release is paired with the Acquire named here):
//! - SYNC 1: `Producer::publish` stores `write_pos` (Release) → `Consumer::refresh` loads it
//!   (Acquire): the record bytes written before the store are visible to the reader.
//! - SYNC 2: `Consumer::release` stores `read_pos` (Release) → `Producer::refresh` loads it
//!   (Acquire): the reader's reads of released bytes happen before the writer overwrites them.
//! - SYNC 3: the park/wake handshake in `notify` (two SeqCst fences, Dekker style).

mod consumer;
pub(crate) mod notify;
mod producer;

pub(crate) use consumer::{Consumer, Peeked};
pub(crate) use producer::{Producer, Reservation};

use crate::data::Data;
use crate::error::{Corrupt, CorruptKind};
use crate::layout::{max_message_len, Header};
use core::ptr::NonNull;

/// Offsets of the cursor fields, for error reports.
pub(crate) const WRITE_POS_OFFSET: u64 = 128;
pub(crate) const READ_POS_OFFSET: u64 = 256;

/// The derived sizes of one ring, computed once from a validated header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Data region size, a power of two.
    pub cap: u64,
    /// `cap - 1`.
    pub mask: u64,
    /// Largest payload.
    pub max_msg: u64,
    /// Offset of the data region in the mapping (for error reports).
    pub data_offset: u64,
}

impl Geometry {
    pub(crate) fn new(cap: u64, data_offset: u64) -> Self {
        debug_assert!(crate::layout::capacity_is_valid(cap));
        Geometry {
            cap,
            mask: cap - 1,
            max_msg: max_message_len(cap),
            data_offset,
        }
    }
}

/// A header and a data region, as one side of the ring sees them.
#[derive(Debug)]
pub(crate) struct Shared {
    hdr: NonNull<Header>,
    pub(crate) data: Data,
    pub(crate) geo: Geometry,
    /// The truncation guard's record of this mapping (path-backed rings only).
    #[cfg(not(loom))]
    guard: Option<&'static crate::region::guard::Slot>,
}

// SAFETY: the header is only accessed through atomics and the data region through `Data`; the
// region that owns the memory moves with the handle that owns this `Shared`.
unsafe impl Send for Shared {}

impl Shared {
    /// # Safety
    /// `hdr` must point to a `Header` that stays valid (mapped) for the life of the returned
    /// value; `data` must satisfy `Data`'s contract for `geo.cap` bytes.
    pub(crate) unsafe fn new(hdr: NonNull<Header>, data: Data, geo: Geometry) -> Self {
        Shared {
            hdr,
            data,
            geo,
            #[cfg(not(loom))]
            guard: None,
        }
    }

    /// Attaches the truncation guard's slot of this mapping.
    #[cfg(not(loom))]
    pub(crate) fn with_guard(mut self, slot: Option<&'static crate::region::guard::Slot>) -> Self {
        self.guard = slot;
        self
    }

    /// `Err(Truncated)` if the file behind the mapping was found shorter than the mapping.
    /// Process-local (no shared-memory load); called on the slow paths only (empty, full,
    /// corrupt).
    #[inline]
    pub(crate) fn check_truncated(&self) -> Result<(), Corrupt> {
        #[cfg(not(loom))]
        if let Some(off) = self.guard.and_then(|g| g.truncated()) {
            return Err(Corrupt {
                kind: CorruptKind::Truncated,
                offset: off,
                found: off,
            });
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn hdr(&self) -> &Header {
        // SAFETY: valid for our lifetime by `new`'s contract; `Header` is made of atomics and
        // `UnsafeCell` padding only, so a shared reference is sound while another process
        // writes it.
        unsafe { self.hdr.as_ref() }
    }

    /// The error for a violation found at `offset`; reported as [`CorruptKind::Truncated`]
    /// instead when the violation comes from the file being truncated under the mapping (the
    /// guard replaced it with zeros).
    #[cold]
    pub(crate) fn corrupt(&self, kind: CorruptKind, offset: u64, found: u64) -> Corrupt {
        if let Err(t) = self.check_truncated() {
            return t;
        }
        Corrupt {
            kind,
            offset,
            found,
        }
    }
}

/// Validates a pair of cursors read from the header at attach time.
pub(crate) fn check_cursors(s: &Shared, write: u64, read: u64) -> Result<(), Corrupt> {
    if write % 8 != 0 {
        return Err(s.corrupt(CorruptKind::CursorMisaligned, WRITE_POS_OFFSET, write));
    }
    if read % 8 != 0 {
        return Err(s.corrupt(CorruptKind::CursorMisaligned, READ_POS_OFFSET, read));
    }
    if read > write {
        return Err(s.corrupt(CorruptKind::ReaderAheadOfWriter, READ_POS_OFFSET, read));
    }
    if write - read > s.geo.cap {
        return Err(s.corrupt(CorruptKind::WriterTooFarAhead, WRITE_POS_OFFSET, write));
    }
    Ok(())
}
