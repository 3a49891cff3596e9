//! A reader's half of the record protocol.
//!
//! The reader polls the header word at its own position (SYNC 1): one cache line per small
//! message, the line the writer just wrote. It never reads `write_pos` on this path. It gives
//! space back lazily (SYNC 2): when it finds the ring empty, when a batch ends, once it holds
//! [`release_every`] consumed bytes, and when the writer has announced that it waits for room.

use super::validate::{record_at, Record};
use super::{offsets, Shared};
use crate::error::{Corrupt, CorruptKind};
use crate::layout::record_size;
use crate::sync::{fence, Ordering};

/// How many consumed bytes a reader holds at most before it gives them back: an eighth of the
/// ring, so that a writer waiting for room never waits for more than that.
pub(crate) fn release_every(cap: u64) -> u64 {
    (cap / 8).max(8)
}

/// Process-local state of one reader.
#[derive(Debug)]
pub(crate) struct Consumer {
    /// The reader's slot in the reader table.
    slot: u32,
    /// Where the next unread record starts.
    read: u64,
    /// The last value stored to the slot's `read_pos`.
    released: u64,
    /// `release_every(cap)`.
    every: u64,
}

/// A tail a reader is about to move to must be a position it can stand on.
pub(crate) fn check_tail(s: &Shared, tail: u64) -> Result<(), Corrupt> {
    if tail >= super::producer::CURSOR_LIMIT {
        return Err(s.corrupt(CorruptKind::CursorOverflow, offsets::TAIL_POS, tail));
    }
    if tail % 8 != 0 {
        return Err(s.corrupt(CorruptKind::BadTail, offsets::TAIL_POS, tail));
    }
    Ok(())
}

/// A reader's own cursor: a multiple of 8 below 2^63.
pub(crate) fn check_read_pos(s: &Shared, slot: u32, read: u64) -> Result<(), Corrupt> {
    if read % 8 != 0 {
        return Err(s.corrupt(CorruptKind::CursorMisaligned, offsets::read_pos(slot), read));
    }
    if read >= super::producer::CURSOR_LIMIT {
        return Err(s.corrupt(CorruptKind::CursorOverflow, offsets::read_pos(slot), read));
    }
    Ok(())
}

/// Why an untethered reader's poll returned nothing to read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lossy {
    /// The writer has declared the reader's position overwritable; the tail is here.
    Lapped(u64),
    /// The ring is corrupt.
    Corrupt(Corrupt),
}

/// A validated message record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peeked {
    /// Offset of the payload in the data region.
    pub off: u64,
    /// Payload length.
    pub len: u64,
    /// Ring position just past the record.
    pub next: u64,
}

impl Consumer {
    /// Starts reader slot `slot` at `read` (where `claim::claim_reader` put it).
    pub(crate) fn attach(s: &Shared, slot: u32, read: u64) -> Result<Self, Corrupt> {
        if read % 8 != 0 {
            return Err(s.corrupt(CorruptKind::CursorMisaligned, offsets::read_pos(slot), read));
        }
        if read >= super::producer::CURSOR_LIMIT {
            return Err(s.corrupt(CorruptKind::CursorOverflow, offsets::read_pos(slot), read));
        }
        Ok(Consumer {
            slot,
            read,
            released: read,
            every: release_every(s.geo.cap),
        })
    }

    /// The next message, if one is committed. Skips padding. Validates everything it reads.
    #[inline(always)]
    pub(crate) fn peek(&mut self, s: &Shared) -> Result<Option<Peeked>, Corrupt> {
        loop {
            let off = self.read & s.geo.mask;
            // Acquire: SYNC 1; pairs with the Release (PUBLISH) store in `Producer::publish`:
            // a committed header comes with its payload and everything staged after it.
            let word = s.data.load_word(off, Ordering::Acquire);
            match record_at(word, self.read, &s.geo) {
                Ok(Record::Message { len }) => {
                    return Ok(Some(Peeked {
                        off: off + 8,
                        len,
                        next: self.read + record_size(len),
                    }))
                }
                Ok(Record::Padding { size }) => self.read += size,
                Ok(Record::Uncommitted) => return Ok(None),
                Err(kind) => return Err(s.corrupt(kind, s.geo.at(self.read), word)),
            }
        }
    }

    /// For an untethered reader: as [`Consumer::peek`], except that a position the writer has
    /// declared overwritable (below `tail_pos`) reports `Err(Lossy::Lapped(tail))` instead of
    /// whatever the bytes there now say. A message returned is not yet known to be intact: copy
    /// it, then ask [`Consumer::intact`].
    #[inline]
    pub(crate) fn peek_lossy(&mut self, s: &Shared) -> Result<Option<Peeked>, Lossy> {
        loop {
            let off = self.read & s.geo.mask;
            // Acquire: SYNC 1, as in `peek`.
            let word = s.data.load_word(off, Ordering::Acquire);
            let found = record_at(word, self.read, &s.geo);
            match found {
                Ok(Record::Message { len }) => {
                    return Ok(Some(Peeked {
                        off: off + 8,
                        len,
                        next: self.read + record_size(len),
                    }))
                }
                Ok(Record::Padding { size }) => {
                    self.read += size;
                    continue;
                }
                _ => {}
            }
            match self.lapped(s) {
                Ok(Some(tail)) => return Err(Lossy::Lapped(tail)),
                Ok(None) => {}
                Err(c) => return Err(Lossy::Corrupt(c)),
            }
            return match found {
                Ok(_) => Ok(None),
                Err(kind) => Err(Lossy::Corrupt(s.corrupt(kind, s.geo.at(self.read), word))),
            };
        }
    }

    /// After an untethered reader copied the record at its position: whether the writer may
    /// have overwritten it meanwhile (`Some(tail)`: discard the copy).
    #[inline]
    pub(crate) fn lapped(&self, s: &Shared) -> Result<Option<u64>, Corrupt> {
        // Acquire fence, then the tail: SYNC 4 as a seqlock. The writer stores `tail_pos` and
        // executes a SeqCst fence before it writes into bytes below the new tail; if any byte
        // we copied (relaxed atomic loads, sequenced before this fence) came from such a write,
        // this load sees the new tail. Acquire on the load itself: pairs with the writer's
        // Release store, so that a reader that moves to the tail it read sees the records
        // there (a record staged behind another's commit has a Relaxed header: the reader must
        // not reach it without synchronising with the writer first).
        fence(Ordering::Acquire);
        let tail = s.hdr().tail_pos.load(Ordering::Acquire);
        if tail <= self.read {
            return Ok(None);
        }
        check_tail(s, tail)?;
        Ok(Some(tail))
    }

    /// Moves an untethered reader that was lapped to `tail`, the oldest record still intact;
    /// returns the bytes it skipped.
    pub(crate) fn skip_to(&mut self, tail: u64) -> u64 {
        let missed = tail - self.read;
        self.read = tail;
        missed
    }

    /// On the slow path of an empty poll: the writer says (through `write_pos`, stored after
    /// each commit) that it committed past our position, yet we found nothing there.
    #[cold]
    pub(crate) fn check_empty(&self, s: &Shared) -> Result<(), Corrupt> {
        s.check_truncated()?;
        // Acquire: pairs with the Release store in `Producer::publish`; every record below
        // the value read is committed and visible to the re-read below.
        let w = s.hdr().write_pos.load(Ordering::Acquire);
        if w > self.read {
            let word = s.data.load_word(self.read & s.geo.mask, Ordering::Acquire);
            if let Ok(Record::Uncommitted) = record_at(word, self.read, &s.geo) {
                return Err(s.corrupt(CorruptKind::MissingRecord, offsets::WRITE_POS, w));
            }
        }
        Ok(())
    }

    /// Marks everything up to `next` as consumed, without giving it back yet.
    #[inline(always)]
    pub(crate) fn consume(&mut self, next: u64) {
        debug_assert!(next > self.read);
        self.read = next;
    }

    /// Whether the consumed bytes should go back now: a lot of them, or a writer waiting.
    #[inline(always)]
    pub(crate) fn should_release(&self, s: &Shared) -> bool {
        self.read - self.released >= self.every
            // Relaxed: a hint; a writer that announced it waits is also woken by the release
            // that the empty path, a batch end or the threshold makes (SYNC 3 there).
            || s.hdr().writer_waiting.load(Ordering::Relaxed) != 0
    }

    /// Gives consumed bytes back to the writer. Returns whether anything was new.
    #[inline]
    pub(crate) fn release(&mut self, s: &Shared) -> bool {
        if self.read == self.released {
            return false;
        }
        // Release: SYNC 2; pairs with the Acquire load in `Producer::scan`.
        s.slot(self.slot)
            .read_pos
            .store(self.read, Ordering::Release);
        self.released = self.read;
        true
    }

    /// The position of the next record to read.
    pub(crate) fn position(&self) -> u64 {
        self.read
    }
}
