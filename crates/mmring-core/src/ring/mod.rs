//! The protocol: records, cursors, claims, liveness and the wait/wake handshake.
//!
//! This is the only module that decides anything about the ring and the only one that chooses
//! memory orderings; it makes no system calls itself. It works on a [`Shared`] view (the header,
//! the reader table and the data region) that `os` builds over a mapping, or over the heap
//! under loom, and asks the operating-system services it needs through the [`Os`] trait, so
//! the code that loom checks is the code that ships.
//!
//! - `validate`: the one record validator (consumer, `inspect`, writer recovery, fuzzing);
//! - `producer` / `consumer`: the writer's and a reader's half of the record protocol;
//! - `claim`: attaching, detaching, epochs and what liveness means;
//! - `notify`: sleep announcements and the wake handshake.
//!
//! Synchronisation points (each Release is paired with the Acquire named here):
//! - SYNC 1 (commit): the writer's Release store of a record header word (the first record of
//!   each publication) → a reader's Acquire load of the word at its own position: the payload,
//!   every later record staged before the store, and the cleared word after the last one are
//!   visible to the reader.
//! - SYNC 2 (release): a reader's Release store of its slot's `read_pos` → the writer's Acquire
//!   load of it: the reader's reads of released bytes happen before the writer overwrites them.
//! - SYNC 3: the park/wake handshake in `notify` (two SeqCst fences, Dekker style).
//! - SYNC 4 (tail): the writer's store of `tail_pos` and its re-read of the reader table around
//!   a SeqCst fence, against a joining reader's store of its position and its re-read of
//!   `tail_pos` around another: a reader joining while the writer advances never has its bytes
//!   overwritten unseen (`producer::Producer::advance_tail`, `claim`).
//! - SYNC 5 (claim): `state` then `epoch` stored with Release when a side attaches, read epoch
//!   first with Acquire by its peer (`claim`).

pub(crate) mod claim;
mod consumer;
pub(crate) mod notify;
mod producer;
pub(crate) mod validate;

pub(crate) use consumer::{check_read_pos, check_tail, Consumer, Lossy, Peeked};
pub(crate) use producer::{Producer, Reservation};

use crate::data::Data;
use crate::error::{Corrupt, CorruptKind};
use crate::layout::{max_message_len, Header, ReaderSlot, READER_TABLE_OFFSET, SLOT_SIZE};
use crate::sync::AtomicU32;
use core::ptr::NonNull;
use std::io;
use std::time::Duration;

/// The operating-system services the protocol uses, one small interface with two
/// implementations: a real mapping (`os::mapped`) and the loom heap model (`os::heap`), both
/// checked by the same contract test (`os::contract`).
pub(crate) trait Os {
    /// This process's id, recorded in the header by a side that attaches.
    fn pid(&self) -> u32;
    /// Takes this handle's exclusive claim on the lock byte `byte`; `false` if another handle
    /// (in any process) holds it.
    fn try_claim(&self, byte: u64) -> io::Result<bool>;
    /// Whether a handle other than this one holds the claim on `byte`.
    fn claimed_by_other(&self, byte: u64) -> io::Result<bool>;
    /// Gives up this handle's claim on `byte` (a handle that dies loses it too).
    fn release_claim(&self, byte: u64);
    /// Sleeps while `word` holds `expected`, at most `timeout`; may return early for any reason.
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>);
    /// Wakes every sleeper on `word`.
    fn wake(&self, word: &AtomicU32);
    /// Rings the doorbell of `role` (attached for the `epoch`-th time), if it has one.
    fn ring_bell(&self, role: claim::Role, epoch: u32);
    /// Checks the backing file's length against the mapping (a truncation is then reported by
    /// the next validation through [`Shared::check_truncated`]).
    fn check_length(&self);
}

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
    /// Number of reader slots.
    pub readers: u32,
}

impl Geometry {
    pub(crate) fn new(cap: u64, data_offset: u64, readers: u32) -> Self {
        debug_assert!(crate::layout::capacity_is_valid(cap));
        debug_assert!(
            READER_TABLE_OFFSET as u64 + u64::from(readers) * SLOT_SIZE as u64 <= data_offset
        );
        Geometry {
            cap,
            mask: cap - 1,
            max_msg: max_message_len(cap),
            data_offset,
            readers,
        }
    }

    /// Offset in the mapping of the record at ring position `pos` (for error reports).
    pub(crate) fn at(&self, pos: u64) -> u64 {
        self.data_offset + (pos & self.mask)
    }
}

/// A header, its reader table and a data region, as one handle sees them.
#[derive(Debug)]
pub(crate) struct Shared {
    hdr: NonNull<Header>,
    slots: NonNull<ReaderSlot>,
    pub(crate) data: Data,
    pub(crate) geo: Geometry,
    /// The truncation guard's record of this mapping (path-backed rings only).
    #[cfg(not(loom))]
    guard: Option<&'static crate::os::guard::Slot>,
}

// SAFETY: the header and table are only accessed through atomics and the data region through
// `Data`; the region that owns the memory moves with the handle that owns this `Shared`.
unsafe impl Send for Shared {}

impl Shared {
    /// # Safety
    /// `hdr` must point to a `Header` and `slots` to `geo.readers` consecutive `ReaderSlot`s
    /// that stay valid (mapped) for the life of the returned value; `data` must satisfy
    /// `Data`'s contract for `geo.cap` bytes.
    pub(crate) unsafe fn new(
        hdr: NonNull<Header>,
        slots: NonNull<ReaderSlot>,
        data: Data,
        geo: Geometry,
    ) -> Self {
        Shared {
            hdr,
            slots,
            data,
            geo,
            #[cfg(not(loom))]
            guard: None,
        }
    }

    /// Attaches the truncation guard's slot of this mapping.
    #[cfg(not(loom))]
    pub(crate) fn with_guard(mut self, slot: Option<&'static crate::os::guard::Slot>) -> Self {
        self.guard = slot;
        self
    }

    /// `Err(Truncated)` if the file behind the mapping was found shorter than the mapping.
    /// Process-local (no shared-memory load).
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

    #[inline(always)]
    pub(crate) fn hdr(&self) -> &Header {
        // SAFETY: valid for our lifetime by `new`'s contract; `Header` is made of atomics and
        // `UnsafeCell` padding only, so a shared reference is sound while other processes
        // write it.
        unsafe { self.hdr.as_ref() }
    }

    /// The reader slot `i` (`i < geo.readers`).
    #[inline(always)]
    pub(crate) fn slot(&self, i: u32) -> &ReaderSlot {
        assert!(i < self.geo.readers, "reader slot out of range");
        // SAFETY: `i < readers` and `new`'s contract: the slot is inside the table, valid for
        // our lifetime, and made of atomics and `UnsafeCell` padding only.
        unsafe { &*self.slots.as_ptr().add(i as usize) }
    }

    /// Every reader slot with its index.
    pub(crate) fn slots(&self) -> impl Iterator<Item = (u32, &ReaderSlot)> {
        (0..self.geo.readers).map(|i| (i, self.slot(i)))
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

/// Offsets of header fields in the mapping, for error reports (from the layout, never literals).
pub(crate) mod offsets {
    use crate::layout::{Header, ReaderSlot, READER_TABLE_OFFSET, SLOT_SIZE};
    use core::mem::offset_of;

    pub(crate) const WRITE_POS: u64 = offset_of!(Header, write_pos) as u64;
    pub(crate) const TAIL_POS: u64 = offset_of!(Header, tail_pos) as u64;

    /// The offset of slot `i`'s `read_pos`.
    pub(crate) const fn read_pos(i: u32) -> u64 {
        (READER_TABLE_OFFSET + i as usize * SLOT_SIZE + offset_of!(ReaderSlot, read_pos)) as u64
    }
}
