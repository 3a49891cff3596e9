//! The reader's half of the protocol.

use super::{check_cursors, Shared, WRITE_POS_OFFSET};
use crate::error::{Corrupt, CorruptKind};
use crate::layout::{record_size, split_record_word, TAG_MESSAGE, TAG_PADDING};
use crate::sync::Ordering;

/// Process-local state of the reader.
#[derive(Debug)]
pub(crate) struct Consumer {
    /// Where the next unread record starts.
    read: u64,
    /// The last value stored to `read_pos`.
    released: u64,
    /// Our copy of `write_pos`; refreshed only when it says the ring is empty.
    cached_write: u64,
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
    /// Takes over the cursors left in the header (by a fresh ring or a previous reader).
    pub(crate) fn attach(s: &Shared) -> Result<Self, Corrupt> {
        let h = s.hdr();
        // Relaxed: our own side's cursor, handed over through the claim lock.
        let read = h.read_pos.load(Ordering::Relaxed);
        // Acquire: SYNC 1, as in `refresh`.
        let write = h.write_pos.load(Ordering::Acquire);
        check_cursors(s, write, read)?;
        Ok(Consumer {
            read,
            released: read,
            cached_write: write,
        })
    }

    /// The next message, if one is committed. Skips padding. Validates everything it reads.
    #[inline(always)]
    pub(crate) fn peek(&mut self, s: &Shared) -> Result<Option<Peeked>, Corrupt> {
        loop {
            if self.read == self.cached_write && !self.refresh(s)? {
                s.data.prefetch(self.read);
                return Ok(None);
            }
            let off = self.read & s.geo.mask;
            let avail = self.cached_write - self.read;
            let word = s.data.read_word(off);
            let (len, tag) = split_record_word(word);
            let len = u64::from(len);
            let at = s.geo.data_offset + off;
            match tag {
                TAG_MESSAGE => {
                    if len > s.geo.max_msg {
                        return Err(s.corrupt(CorruptKind::RecordTooLong, at, len));
                    }
                    let total = record_size(len);
                    if total > avail || total > s.geo.cap - off {
                        return Err(s.corrupt(CorruptKind::RecordBeyondCommitted, at, len));
                    }
                    return Ok(Some(Peeked {
                        off: off + 8,
                        len,
                        next: self.read + total,
                    }));
                }
                TAG_PADDING => {
                    let pad = s.geo.cap - off;
                    if len + 8 != pad {
                        return Err(s.corrupt(CorruptKind::BadPadding, at, len));
                    }
                    if pad > avail {
                        return Err(s.corrupt(CorruptKind::RecordBeyondCommitted, at, len));
                    }
                    self.read += pad;
                }
                _ => return Err(s.corrupt(CorruptKind::UnknownTag, at, word)),
            }
        }
    }

    /// Re-reads `write_pos`; returns whether there is anything past our read position.
    #[inline(never)]
    fn refresh(&mut self, s: &Shared) -> Result<bool, Corrupt> {
        // Acquire: SYNC 1; pairs with the Release (PUBLISH) store in `Producer::publish`, so the
        // records below the new cursor are fully written when we read them.
        let write = s.hdr().write_pos.load(Ordering::Acquire);
        if write % 8 != 0 {
            return Err(s.corrupt(CorruptKind::CursorMisaligned, WRITE_POS_OFFSET, write));
        }
        if write < self.cached_write {
            return Err(s.corrupt(CorruptKind::CursorMovedBackwards, WRITE_POS_OFFSET, write));
        }
        if write - self.released > s.geo.cap {
            return Err(s.corrupt(CorruptKind::WriterTooFarAhead, WRITE_POS_OFFSET, write));
        }
        self.cached_write = write;
        if write == self.read {
            // Nothing new: the slow path, where a truncation that zeroed the header without
            // tripping a check (a ring that was empty) is reported.
            s.check_truncated()?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Marks everything up to `next` as consumed, without publishing it.
    #[inline(always)]
    pub(crate) fn consume(&mut self, next: u64) {
        debug_assert!(next > self.read && next <= self.cached_write);
        self.read = next;
    }

    /// Gives consumed bytes back to the writer. Returns whether anything was new.
    #[inline]
    pub(crate) fn release(&mut self, s: &Shared) -> bool {
        if self.read == self.released {
            return false;
        }
        // Release: SYNC 2; pairs with the Acquire load in `Producer::refresh`: our reads of the
        // released records happen before the writer reuses their bytes.
        s.hdr().read_pos.store(self.read, Ordering::Release);
        self.released = self.read;
        true
    }

    /// Bytes committed but not yet consumed, as last seen.
    pub(crate) fn pending(&self) -> u64 {
        self.cached_write - self.read
    }
}
