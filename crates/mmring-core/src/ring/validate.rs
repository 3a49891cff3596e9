//! The one record validator: what the header word at a ring position means.
//!
//! Used by readers on every record, by `inspect`, by a writer recovering its predecessor's
//! records, and by the fuzz targets; a word is trusted for nothing before it passes here.
//!
//! At position `pos` (offset `off = pos & mask`) a word is, in this order of checks:
//! - a **message** if `word ^ message_word(pos, 0)` is a length `len < 2^31`: then
//!   `len <= max_msg` and `off + record_size(len) <= cap` must hold;
//! - a **padding** record if `word ^ padding_word(pos, 0)` is a length `len < 2^31`: then
//!   `len + 8 == cap - off` and `cap - off < cap / 2` must hold (a correct writer pads only when
//!   a record of at most `cap / 2` bytes does not fit before the end);
//! - **uncommitted** if it is zero, or a committed header (message or padding) for
//!   `pos - cap`: the only two things a correct writer leaves at a position it has not yet
//!   written in this lap (the word it cleared ahead of its last record, or, when that word was
//!   still a reader's, the first record of the previous lap at this offset);
//! - anything else is a corrupt record header.

use super::Geometry;
use crate::error::CorruptKind;
use crate::layout::{message_word, padding_word, record_size, COMMIT};

/// A validated record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// A message of `len` payload bytes; the record occupies `record_size(len)` bytes.
    Message { len: u64 },
    /// A padding record; the next record starts `size` bytes further, at offset 0.
    Padding { size: u64 },
    /// Nothing committed here yet.
    Uncommitted,
}

/// Validates the header word `word` read at ring position `pos`.
#[inline(always)]
pub(crate) fn record_at(word: u64, pos: u64, geo: &Geometry) -> Result<Record, CorruptKind> {
    let off = pos & geo.mask;
    let len = word ^ message_word(pos, 0);
    // The common case in two comparisons: a message that fits.
    if len <= geo.max_msg && off + record_size(len) <= geo.cap {
        return Ok(Record::Message { len });
    }
    slow(word, pos, off, geo)
}

#[inline(never)]
fn slow(word: u64, pos: u64, off: u64, geo: &Geometry) -> Result<Record, CorruptKind> {
    let len = word ^ message_word(pos, 0);
    if len < u64::from(COMMIT) {
        return Err(if len > geo.max_msg {
            CorruptKind::RecordTooLong
        } else {
            CorruptKind::RecordCrossesEnd
        });
    }
    let pad = word ^ padding_word(pos, 0);
    if pad < u64::from(COMMIT) {
        let size = geo.cap - off;
        if pad + 8 != size || size >= geo.cap / 2 {
            return Err(CorruptKind::BadPadding);
        }
        return Ok(Record::Padding { size });
    }
    if word == 0 || is_committed_for(word, pos.wrapping_sub(geo.cap)) {
        return Ok(Record::Uncommitted);
    }
    Err(CorruptKind::BadRecordHeader)
}

/// What [`follow`] found: where the committed records end, and what they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    /// The first uncommitted position.
    pub end: u64,
    /// Messages passed.
    pub messages: u64,
    /// Their payload bytes.
    pub payload: u64,
}

/// Follows committed records from `start` (a record boundary) to the first uncommitted
/// position, loading each header word with `load(pos)` and calling `at(pos, run so far)` at
/// every boundary. Fails with the offending kind, position and word on a corrupt record, or
/// with [`CorruptKind::WriterTooFarAhead`] if the records run on for more than `limit` bytes.
pub(crate) fn follow(
    start: u64,
    limit: u64,
    geo: &Geometry,
    load: impl Fn(u64) -> u64,
    mut at: impl FnMut(u64, &Run),
) -> Result<Run, (CorruptKind, u64, u64)> {
    let mut run = Run {
        end: start,
        messages: 0,
        payload: 0,
    };
    loop {
        at(run.end, &run);
        let word = load(run.end);
        match record_at(word, run.end, geo) {
            Ok(Record::Message { len }) => {
                run.end += crate::layout::record_size(len);
                run.messages += 1;
                run.payload += len;
            }
            Ok(Record::Padding { size }) => run.end += size,
            Ok(Record::Uncommitted) => return Ok(run),
            Err(kind) => return Err((kind, run.end, word)),
        }
        if run.end - start > limit {
            return Err((CorruptKind::WriterTooFarAhead, run.end, run.end));
        }
    }
}

/// Whether `word` is a committed header (message or padding, any length) for position `pos`.
#[inline]
pub(crate) fn is_committed_for(word: u64, pos: u64) -> bool {
    (word ^ message_word(pos, 0)) < u64::from(COMMIT)
        || (word ^ padding_word(pos, 0)) < u64::from(COMMIT)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::layout::{message_word, padding_word};

    fn geo() -> Geometry {
        Geometry::new(4096, 4096, 1)
    }

    #[test]
    fn messages_and_their_bounds() {
        let g = geo();
        assert_eq!(
            record_at(message_word(8192 + 64, 5), 8192 + 64, &g),
            Ok(Record::Message { len: 5 })
        );
        assert_eq!(
            record_at(message_word(0, 2040), 0, &g),
            Ok(Record::Message { len: 2040 })
        );
        assert_eq!(
            record_at(message_word(0, 2041), 0, &g),
            Err(CorruptKind::RecordTooLong)
        );
        // 4088 + 16 > 4096: it would cross the end.
        assert_eq!(
            record_at(message_word(4088, 8), 4088, &g),
            Err(CorruptKind::RecordCrossesEnd)
        );
        // A message committed for another position is not one here.
        assert_eq!(
            record_at(message_word(64, 5), 72, &g),
            Err(CorruptKind::BadRecordHeader)
        );
    }

    #[test]
    fn padding_must_end_exactly_at_the_end() {
        let g = geo();
        assert_eq!(
            record_at(padding_word(4096 + 4000, 88), 4096 + 4000, &g),
            Ok(Record::Padding { size: 96 })
        );
        assert_eq!(
            record_at(padding_word(4000, 80), 4000, &g),
            Err(CorruptKind::BadPadding)
        );
        // Half the ring or more can never need padding.
        assert_eq!(
            record_at(padding_word(2048, 2040), 2048, &g),
            Err(CorruptKind::BadPadding)
        );
    }

    #[test]
    fn what_a_writer_leaves_ahead_of_itself() {
        let g = geo();
        assert_eq!(record_at(0, 4096 * 7, &g), Ok(Record::Uncommitted));
        // The previous lap's header at this offset.
        assert_eq!(
            record_at(message_word(64, 100), 64 + 4096, &g),
            Ok(Record::Uncommitted)
        );
        assert_eq!(
            record_at(padding_word(4000, 88), 4000 + 4096, &g),
            Ok(Record::Uncommitted)
        );
        // Two laps ago is not something a correct writer leaves.
        assert_eq!(
            record_at(message_word(64, 100), 64 + 8192, &g),
            Err(CorruptKind::BadRecordHeader)
        );
        assert_eq!(
            record_at(0xdead_beef, 64, &g),
            Err(CorruptKind::BadRecordHeader)
        );
    }
}
