//! The writer's half of the record protocol.
//!
//! Records are written in place, then made visible by one Release store of a record header word
//! (SYNC 1): the header of the first record of each publication. Later records of the same
//! publication (a batch) get their headers with Relaxed stores as they are staged, since a reader
//! reaches them only through the first. Before that store, the writer clears the header word
//! just past its last record (if that word is free space), so a reader that arrives there finds
//! zero, never the bytes of an older lap that could read as a committed record.
//!
//! The writer may write below `limit = min(bound, tail) + cap`, where `bound` is the lowest
//! position a holding reader has not released (its cached copy, refreshed only when the cache
//! says full) and `tail` is what it last published in `tail_pos` (SYNC 4).

use super::validate::{record_at, Record};
use super::{offsets, Shared};
use crate::error::{Corrupt, CorruptKind};
use crate::layout::{message_word, padding_word, record_size, KIND_UNTETHERED, MAX_CAPACITY};
use crate::sync::{fence, Ordering, PUBLISH};

/// Cursors never get near 2^63 (292 years at 1 GB/s); a forged one that does is refused at
/// attach, so that no cursor arithmetic below can overflow.
pub(crate) const CURSOR_LIMIT: u64 = 1 << 63;

/// Process-local state of the writer.
#[derive(Debug)]
pub(crate) struct Producer {
    /// Where the next record starts (includes staged records not yet published).
    write: u64,
    /// Where the first unpublished record starts; everything before it is committed.
    published: u64,
    /// The header word of the record at `published`, held back until the publication.
    pending: Option<u64>,
    /// Lowest position not released by the readers that hold the writer back (cached).
    bound: u64,
    /// The value last stored to `tail_pos`.
    tail: u64,
    /// The writer writes only below this position: `min(bound, tail) + cap`.
    limit: u64,
}

/// Room found for one record; becomes visible only through [`Producer::stage`] and
/// [`Producer::publish`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reservation {
    /// Ring position of the record header.
    pub pos: u64,
    /// Payload length.
    pub len: u64,
}

impl Producer {
    /// Takes over the ring as its predecessor left it: from `write_pos`, following the records
    /// that a writer which died between a commit and its `write_pos` store left committed.
    pub(crate) fn attach(s: &Shared) -> Result<Self, Corrupt> {
        let h = s.hdr();
        // Acquire: pairs with the Release store of `write_pos` in `publish` by our predecessor
        // (the claim lock also orders us after it; this makes the walk below self-contained).
        let start = h.write_pos.load(Ordering::Acquire);
        // Relaxed: written only by writers, and ours is the only one now.
        let tail = h.tail_pos.load(Ordering::Relaxed);
        if start % 8 != 0 {
            return Err(s.corrupt(CorruptKind::CursorMisaligned, offsets::WRITE_POS, start));
        }
        if start >= CURSOR_LIMIT {
            return Err(s.corrupt(CorruptKind::CursorOverflow, offsets::WRITE_POS, start));
        }
        if tail % 8 != 0 || tail > start || start - tail > s.geo.cap {
            return Err(s.corrupt(CorruptKind::BadTail, offsets::TAIL_POS, tail));
        }
        let mut end = start;
        loop {
            // Acquire: SYNC 1, as a reader would read it.
            let word = s.data.load_word(end & s.geo.mask, Ordering::Acquire);
            match record_at(word, end, &s.geo) {
                Ok(Record::Message { len }) => end += record_size(len),
                Ok(Record::Padding { size }) => end += size,
                Ok(Record::Uncommitted) => break,
                Err(kind) => return Err(s.corrupt(kind, s.geo.at(end), word)),
            }
            if end - tail > s.geo.cap {
                return Err(s.corrupt(CorruptKind::WriterTooFarAhead, s.geo.at(end), end));
            }
        }
        let mut p = Producer {
            write: end,
            published: end,
            pending: None,
            bound: tail,
            tail,
            limit: tail + s.geo.cap,
        };
        p.refresh(s)?;
        Ok(p)
    }

    /// Finds contiguous room for a record with a `len`-byte payload (`len <= max_msg`).
    ///
    /// Stages a padding record first when the record would cross the end of the data region.
    /// Returns `Ok(None)` when the ring is full even after re-reading the readers' cursors.
    #[inline(always)]
    pub(crate) fn reserve(&mut self, s: &Shared, len: u64) -> Result<Option<Reservation>, Corrupt> {
        debug_assert!(len <= s.geo.max_msg);
        let total = record_size(len);
        let off = self.write & s.geo.mask;
        let till_end = s.geo.cap - off;
        let pad = if total <= till_end { 0 } else { till_end };
        // `write < CURSOR_LIMIT` and `pad + total <= cap`: no overflow.
        let end = self.write + pad + total;
        if end > self.limit {
            self.refresh(s)?;
            if end > self.limit {
                s.check_truncated()?;
                return Ok(None);
            }
        }
        if pad != 0 {
            let word = padding_word(self.write, (pad - 8) as u32);
            self.stage_word(s, self.write, word);
            self.write += pad;
        }
        Ok(Some(Reservation {
            pos: self.write,
            len,
        }))
    }

    /// Writes (or, for the first record of a publication, holds back) a record header word.
    #[inline(always)]
    fn stage_word(&mut self, s: &Shared, pos: u64, word: u64) {
        if pos == self.published {
            self.pending = Some(word);
        } else {
            // Relaxed: a reader reaches this record only after the Release store of the first
            // header of the publication (SYNC 1), which is sequenced after this store.
            s.data.store_word(pos & s.geo.mask, word, Ordering::Relaxed);
        }
    }

    /// Stages the record of `res` (its payload is written) and advances the local cursor,
    /// without publishing. `res` must come from the last `reserve`.
    #[inline(always)]
    pub(crate) fn stage(&mut self, s: &Shared, res: Reservation) {
        debug_assert_eq!(res.pos, self.write);
        self.stage_word(s, res.pos, message_word(res.pos, res.len as u32));
        self.write = res.pos + record_size(res.len);
    }

    /// Makes every staged record visible to the readers. Returns whether anything was new.
    #[inline(always)]
    pub(crate) fn publish(&mut self, s: &Shared) -> bool {
        let Some(first) = self.pending.take() else {
            return false;
        };
        if self.write + 8 <= self.limit {
            // Relaxed: ordered before the commit below (sequenced before a Release store), so a
            // reader that gets to `write` through it reads zero, not an older lap's bytes.
            s.data
                .store_word(self.write & s.geo.mask, 0, Ordering::Relaxed);
        }
        // Release (PUBLISH): SYNC 1; pairs with the Acquire load in `Consumer::peek`, making
        // the payloads, the staged headers and the cleared word written before it visible.
        s.data
            .store_word(self.published & s.geo.mask, first, PUBLISH);
        self.published = self.write;
        // Release: pairs with the Acquire loads of `write_pos` (a successor's `attach`,
        // `inspect`, a reader's slow-path check), which then see every record below it.
        s.hdr().write_pos.store(self.write, Ordering::Release);
        true
    }

    /// Re-reads the readers' cursors, advances `tail_pos` to the lowest of those that hold the
    /// writer back, and recomputes `limit`.
    #[inline(never)]
    pub(crate) fn refresh(&mut self, s: &Shared) -> Result<(), Corrupt> {
        s.check_truncated()?;
        let bound = self.scan(s)?;
        if bound > self.tail {
            // Relaxed, then a SeqCst fence: SYNC 4. The fence orders this store before the
            // re-read of the reader table below, against the fence a joining reader executes
            // between storing its position and re-reading `tail_pos` (`claim::join`): either we
            // see the joiner here, or it sees the new tail and moves up to it.
            s.hdr().tail_pos.store(bound, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            self.tail = bound;
            self.bound = self.scan(s)?.min(bound);
        } else {
            self.bound = bound;
        }
        self.limit = self.bound.min(self.tail) + s.geo.cap;
        Ok(())
    }

    /// The lowest position not released by a reader that holds the writer back: every slot
    /// except untethered ones, and except slots whose position is below the tail (a reader
    /// that left before the writer passed it; it holds nothing any more). Without any, the
    /// writer's own position.
    fn scan(&self, s: &Shared) -> Result<u64, Corrupt> {
        let mut bound = self.published;
        for (i, slot) in s.slots() {
            // Relaxed: the kind is informational for the writer; a reader changes it only while
            // it attaches, before it stores its position (Release, below).
            if slot.kind.load(Ordering::Relaxed) == KIND_UNTETHERED {
                continue;
            }
            // Acquire: SYNC 2; pairs with the Release store in `Consumer::release`, so the
            // reader's reads of the bytes we are about to reuse happen before our writes.
            let r = slot.read_pos.load(Ordering::Acquire);
            if r % 8 != 0 {
                return Err(s.corrupt(CorruptKind::CursorMisaligned, offsets::read_pos(i), r));
            }
            if r > self.published {
                return Err(s.corrupt(CorruptKind::ReaderAheadOfWriter, offsets::read_pos(i), r));
            }
            if r >= self.tail {
                bound = bound.min(r);
            }
        }
        Ok(bound)
    }

    /// Bytes committed but not yet released by the slowest holding reader, as last seen.
    pub(crate) fn in_flight(&self) -> u64 {
        self.published - self.bound
    }
}

/// The largest record a ring can hold is half of it (`record_size(max_message_len)`), so a
/// stage or reserve never needs more than `MAX_CAPACITY` bytes at once.
const _: () = assert!(record_size(crate::layout::max_message_len(MAX_CAPACITY)) <= MAX_CAPACITY);
