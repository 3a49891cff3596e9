//! The writer's half of the protocol.

use super::{check_cursors, Shared, READ_POS_OFFSET, WRITE_POS_OFFSET};
use crate::error::{Corrupt, CorruptKind};
use crate::layout::{record_size, record_word, TAG_MESSAGE, TAG_PADDING};
use crate::sync::{Ordering, PUBLISH};

/// Process-local state of the writer.
#[derive(Debug)]
pub(crate) struct Producer {
    /// Where the next record starts (includes reserved padding not yet published).
    write: u64,
    /// The last value stored to `write_pos`.
    published: u64,
    /// Our copy of `read_pos`; refreshed only when it says the ring is full.
    cached_read: u64,
}

/// Room found for one record; becomes visible only through [`Producer::commit`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reservation {
    /// Ring position of the record header.
    pub pos: u64,
    /// Payload length.
    pub len: u64,
}

impl Producer {
    /// Takes over the cursors left in the header (by a fresh ring or a previous writer).
    pub(crate) fn attach(s: &Shared) -> Result<Self, Corrupt> {
        let h = s.hdr();
        // Relaxed: the previous writer's stores reach us through the claim lock (a system call
        // on each side), and we only read our own side's cursor here.
        let write = h.write_pos.load(Ordering::Relaxed);
        // Acquire: SYNC 2, as in `refresh`.
        let read = h.read_pos.load(Ordering::Acquire);
        check_cursors(s, write, read)?;
        Ok(Producer {
            write,
            published: write,
            cached_read: read,
        })
    }

    /// Finds contiguous room for a record with a `len`-byte payload (`len <= max_msg`).
    ///
    /// Writes a padding record first when the record would cross the end of the data region.
    /// Returns `Ok(None)` when the ring is full even after re-reading the reader's cursor.
    #[inline(always)]
    pub(crate) fn reserve(&mut self, s: &Shared, len: u64) -> Result<Option<Reservation>, Corrupt> {
        debug_assert!(len <= s.geo.max_msg);
        let total = record_size(len);
        let off = self.write & s.geo.mask;
        let till_end = s.geo.cap - off;
        let pad = if total <= till_end { 0 } else { till_end };
        let need = pad + total;
        // `write - cached_read <= cap` (checked at attach and in `refresh`) and `need < cap`, so
        // neither operation below can wrap; only `write + need` can, from a forged cursor.
        if self.write - self.cached_read + need > s.geo.cap {
            self.refresh(s)?;
            if self.write - self.cached_read + need > s.geo.cap {
                s.check_truncated()?;
                return Ok(None);
            }
        }
        if self.write.checked_add(need).is_none() {
            return Err(s.corrupt(CorruptKind::CursorOverflow, WRITE_POS_OFFSET, self.write));
        }
        if pad != 0 {
            s.data
                .write_word(off, record_word((pad - 8) as u32, TAG_PADDING));
            self.write += pad;
        }
        Ok(Some(Reservation {
            pos: self.write,
            len,
        }))
    }

    /// Re-reads `read_pos` and checks it against what we know.
    #[inline(never)]
    fn refresh(&mut self, s: &Shared) -> Result<(), Corrupt> {
        // Acquire: SYNC 2; pairs with the Release store in `Consumer::release`, so the reader's
        // reads of the bytes we are about to reuse happen before our writes.
        let read = s.hdr().read_pos.load(Ordering::Acquire);
        if read % 8 != 0 {
            return Err(s.corrupt(CorruptKind::CursorMisaligned, READ_POS_OFFSET, read));
        }
        if read < self.cached_read {
            return Err(s.corrupt(CorruptKind::CursorMovedBackwards, READ_POS_OFFSET, read));
        }
        if read > self.published {
            return Err(s.corrupt(CorruptKind::ReaderAheadOfWriter, READ_POS_OFFSET, read));
        }
        self.cached_read = read;
        Ok(())
    }

    /// Writes the record header for `res` and advances the local cursor, without publishing.
    #[inline(always)]
    pub(crate) fn stage(&mut self, s: &Shared, res: Reservation) {
        debug_assert_eq!(res.pos, self.write);
        s.data.write_word(
            res.pos & s.geo.mask,
            record_word(res.len as u32, TAG_MESSAGE),
        );
        self.write = res.pos + record_size(res.len);
    }

    /// Makes every staged record visible to the reader. Returns whether anything was new.
    #[inline]
    pub(crate) fn publish(&mut self, s: &Shared) -> bool {
        if self.write == self.published {
            return false;
        }
        // Release (PUBLISH): SYNC 1; pairs with the Acquire load in `Consumer::refresh`, making
        // the record headers and payloads written before it visible to the reader.
        s.hdr().write_pos.store(self.write, PUBLISH);
        self.published = self.write;
        true
    }

    /// Bytes committed but not yet released by the reader, as last seen.
    pub(crate) fn in_flight(&self) -> u64 {
        self.published - self.cached_read
    }
}
