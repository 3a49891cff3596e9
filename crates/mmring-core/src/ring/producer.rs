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
//!
//! **Which slots hold the writer back** (`scan`): an untethered slot never; a slot that never
//! had a reader always (a ring is made for the readers it will have); a slot whose reader is
//! live always; a slot whose reader left (detached, or found dead by a lock probe) only while no
//! reader at all is live, and only if its position is still intact (`>= tail`), so that a reader
//! coming back to a ring nobody reads misses nothing, while a dead reader never stalls live ones.
//!
//! **How the tail advances** (`refresh`): while no untethered reader is live, straight to the
//! bound (a record boundary, nobody reads below it); while one is, only as far as the writer
//! needs, walking the old records so that the tail stays on a record boundary and an untethered
//! reader is declared lapped only for bytes the writer is about to overwrite.

use super::validate::{follow, record_at, Record};
use super::Os;
use super::{offsets, Shared};
use crate::error::{Corrupt, CorruptKind};
use crate::layout::{
    message_word, padding_word, reader_lock_byte, record_size, KIND_UNTETHERED, MAX_CAPACITY,
    SIDE_ATTACHED,
};
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
    /// Lowest position not released by the readers that hold the writer back (cached);
    /// `u64::MAX` when none does.
    bound: u64,
    /// The value last stored to `tail_pos`.
    tail: u64,
    /// The writer writes only below this position: `min(bound, tail) + cap`.
    limit: u64,
    /// What the writer knows about each slot beyond its header words.
    slots: Vec<SlotView>,
    /// When the readers' locks were last probed on a full ring (`reserve_probing`).
    #[cfg(not(loom))]
    last_probe: Option<std::time::Instant>,
}

/// How often a writer that finds the ring full asks the kernel whether the readers holding it
/// back are still alive.
#[cfg(not(loom))]
const FULL_PROBE_EVERY: std::time::Duration = std::time::Duration::from_millis(1);

/// The writer's view of one reader slot.
#[derive(Debug, Clone, Copy, Default)]
struct SlotView {
    /// The slot's epoch when `dead` was found.
    epoch: u32,
    /// Its reader was found dead (its lock free while its state says attached).
    dead: bool,
}

/// What one pass over the reader table found.
#[derive(Debug, Clone, Copy)]
struct Scan {
    /// The lowest position of a holding slot (`u64::MAX`: none holds).
    bound: u64,
    /// An untethered reader is live.
    lossy: bool,
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
        // Acquire: SYNC 1, as a reader would read each word.
        let run = follow(
            start,
            s.geo.cap - (start - tail),
            &s.geo,
            |pos| s.data.load_word(pos & s.geo.mask, Ordering::Acquire),
            |_, _| {},
        )
        .map_err(|(kind, pos, word)| s.corrupt(kind, s.geo.at(pos), word))?;
        let end = run.end;
        let mut p = Producer {
            write: end,
            published: end,
            pending: None,
            bound: tail,
            tail,
            limit: tail + s.geo.cap,
            slots: vec![SlotView::default(); s.geo.readers as usize],
            #[cfg(not(loom))]
            last_probe: None,
        };
        p.refresh(s, end)?;
        Ok(p)
    }

    /// Where a record with a `len`-byte payload goes next: the padding it needs first (the
    /// rest of the region when the record would cross its end, else 0) and the position just
    /// past it.
    #[inline(always)]
    fn placement(&self, s: &Shared, len: u64) -> (u64, u64) {
        let total = record_size(len);
        let till_end = s.geo.cap - (self.write & s.geo.mask);
        let pad = if total <= till_end { 0 } else { till_end };
        // `write < CURSOR_LIMIT` and `pad + total <= cap`: no overflow.
        (pad, self.write + pad + total)
    }

    /// Finds contiguous room for a record with a `len`-byte payload (`len <= max_msg`).
    ///
    /// Stages a padding record first when the record would cross the end of the data region.
    /// Returns `Ok(None)` when the ring is full even after re-reading the readers' cursors.
    #[inline(always)]
    pub(crate) fn reserve(&mut self, s: &Shared, len: u64) -> Result<Option<Reservation>, Corrupt> {
        debug_assert!(len <= s.geo.max_msg);
        let (pad, end) = self.placement(s, len);
        if end > self.limit {
            self.refresh(s, end)?;
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

    /// [`Producer::reserve`], and when the ring is full, a probe of the readers' locks (at most
    /// every millisecond) and one more try if a dead reader was holding the writer back.
    #[inline(always)]
    pub(crate) fn reserve_probing(
        &mut self,
        s: &Shared,
        os: &impl Os,
        len: u64,
    ) -> Result<Option<Reservation>, Corrupt> {
        match self.reserve(s, len)? {
            Some(r) => Ok(Some(r)),
            None if self.probe_due() && self.probe_readers(s, os) => self.reserve(s, len),
            None => Ok(None),
        }
    }

    #[cold]
    fn probe_due(&mut self) -> bool {
        #[cfg(not(loom))]
        {
            let now = std::time::Instant::now();
            if self
                .last_probe
                .is_some_and(|t| now.duration_since(t) < FULL_PROBE_EVERY)
            {
                return false;
            }
            self.last_probe = Some(now);
        }
        true
    }

    /// Whether a record with a `len`-byte payload fits now (re-reading the readers' cursors if
    /// the cached ones say it does not), without staging anything.
    pub(crate) fn has_room(&mut self, s: &Shared, len: u64) -> Result<bool, Corrupt> {
        let (_, end) = self.placement(s, len);
        if end > self.limit {
            self.refresh(s, end)?;
        }
        Ok(end <= self.limit)
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

    /// Re-reads the readers' cursors, advances `tail_pos` (to the bound, or as far as writing
    /// up to `need` requires while an untethered reader is live), and recomputes `limit`.
    #[inline(never)]
    pub(crate) fn refresh(&mut self, s: &Shared, need: u64) -> Result<(), Corrupt> {
        s.check_truncated()?;
        let scan = self.scan(s)?;
        let target = if scan.lossy || scan.bound == u64::MAX {
            self.walk_tail(s, need, scan.bound)?
        } else {
            scan.bound
        };
        let mut bound = scan.bound;
        if target > self.tail {
            // Release, then a SeqCst fence: SYNC 4. Release: a reader that loads this tail
            // (Acquire) and goes there sees the records below `published`, even those whose
            // headers were staged with Relaxed stores behind another record's commit. The fence
            // orders this store before the re-read of the reader table below, against the fence
            // a joining reader executes between storing its position and re-reading `tail_pos`
            // (`claim::claim_reader`): either we see the joiner here (a live reader holds
            // wherever it is), or it sees the new tail and moves up to it. It also orders the
            // store before our overwriting of the bytes below the new tail, which an untethered
            // reader's copy-then-check relies on (`Consumer::lapped`).
            s.hdr().tail_pos.store(target, Ordering::Release);
            fence(Ordering::SeqCst);
            self.tail = target;
            bound = bound.min(self.scan(s)?.bound);
        }
        self.bound = bound;
        self.limit = bound.min(self.tail) + s.geo.cap;
        Ok(())
    }

    /// The record boundary the tail must reach so that writing below `need` overwrites
    /// nothing above it: the first boundary at or past `need - cap`, plus an eighth of the ring
    /// of slack (so the fence is paid once per eighth), walking the old records from the tail;
    /// never past the bound or what is committed.
    fn walk_tail(&self, s: &Shared, need: u64, bound: u64) -> Result<u64, Corrupt> {
        let overwritten = need.saturating_sub(s.geo.cap);
        if overwritten <= self.tail {
            return Ok(self.tail);
        }
        let goal = overwritten + s.geo.cap / 8;
        let stop = bound.min(self.published);
        let mut t = self.tail;
        while t < goal && t < stop {
            // Acquire: these are records we (or a predecessor) committed (SYNC 1).
            let word = s.data.load_word(t & s.geo.mask, Ordering::Acquire);
            t += match record_at(word, t, &s.geo) {
                Ok(Record::Message { len }) => record_size(len),
                Ok(Record::Padding { size }) => size,
                _ => return Err(s.corrupt(CorruptKind::BadTail, s.geo.at(t), word)),
            };
        }
        Ok(t.min(stop.max(self.tail)))
    }

    /// One pass over the reader table (see the module docs for which slots hold).
    fn scan(&mut self, s: &Shared) -> Result<Scan, Corrupt> {
        let mut any_live = false;
        let mut lossy = false;
        let mut live_bound = u64::MAX;
        let mut left_bound = u64::MAX;
        for (i, slot) in s.slots() {
            // Acquire (epoch, then state): SYNC 5, as for any peer.
            let epoch = slot.epoch.load(Ordering::Acquire);
            let state = slot.state.load(Ordering::Acquire);
            // Relaxed: published by the reader's Release store of its state at attach.
            let kind = slot.kind.load(Ordering::Relaxed);
            // Acquire: SYNC 2; pairs with the Release store in `Consumer::release`, so the
            // reader's reads of the bytes we are about to reuse happen before our writes.
            let r = slot.read_pos.load(Ordering::Acquire);
            if r % 8 != 0 {
                return Err(s.corrupt(CorruptKind::CursorMisaligned, offsets::read_pos(i), r));
            }
            if r > self.published {
                return Err(s.corrupt(CorruptKind::ReaderAheadOfWriter, offsets::read_pos(i), r));
            }
            let view = &mut self.slots[i as usize];
            if view.epoch != epoch {
                *view = SlotView { epoch, dead: false };
            }
            let live = state == SIDE_ATTACHED && !view.dead;
            any_live |= live;
            if kind == KIND_UNTETHERED {
                lossy |= live;
            } else if live || epoch == 0 {
                live_bound = live_bound.min(r);
            } else if r >= self.tail {
                left_bound = left_bound.min(r);
            }
        }
        Ok(Scan {
            bound: if any_live {
                live_bound
            } else {
                live_bound.min(left_bound)
            },
            lossy,
        })
    }

    /// Asks the kernel whether the readers that look attached still hold their claims, and
    /// forgets those that do not (a reader killed without detaching). Called when the ring is
    /// full, so that a dead reader stops holding the writer back at once; returns whether one
    /// was found.
    pub(crate) fn probe_readers(&mut self, s: &Shared, os: &impl Os) -> bool {
        let mut found = false;
        for (i, slot) in s.slots() {
            let epoch = slot.epoch.load(Ordering::Acquire);
            let view = &mut self.slots[i as usize];
            if slot.state.load(Ordering::Acquire) != SIDE_ATTACHED
                || (view.epoch == epoch && view.dead)
            {
                continue;
            }
            // An error counts as alive: never drop a reader we have not seen die.
            if !os.claimed_by_other(reader_lock_byte(i)).unwrap_or(true) {
                *view = SlotView { epoch, dead: true };
                found = true;
            }
        }
        found
    }

    /// The position of the next record.
    pub(crate) fn position(&self) -> u64 {
        self.write
    }

    /// Bytes committed but not yet released by the slowest holding reader, as last seen.
    pub(crate) fn in_flight(&self) -> u64 {
        self.published - self.bound.min(self.published)
    }
}

/// The largest record a ring can hold is half of it (`record_size(max_message_len)`), so a
/// stage or reserve never needs more than `MAX_CAPACITY` bytes at once.
const _: () = assert!(record_size(crate::layout::max_message_len(MAX_CAPACITY)) <= MAX_CAPACITY);
