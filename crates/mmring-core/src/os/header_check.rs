//! Header validation: the identity line is checked before the data region is touched.

use crate::error::OpenError;
use crate::layout::{
    capacity_is_valid, Header, HEADER_SIZE, MAGIC, MAX_DATA_OFFSET, MAX_READERS, PAGE,
    READER_TABLE_OFFSET, READY, SLOT_SIZE, VERSION,
};
use crate::ring::Geometry;
use crate::sync::Ordering;
use std::path::Path;

/// What a look at the header found.
#[derive(Debug)]
pub(crate) enum HeaderState {
    /// Complete and consistent with the file length.
    Valid(Geometry),
    /// All zero magic / ready word: a creator may still be writing it.
    NotReady,
}

/// Checks the identity line of a header mapped from a file of `file_len` bytes.
///
/// Reads only the first [`HEADER_SIZE`] bytes, which the caller guarantees are mapped.
pub(crate) fn check_header(
    h: &Header,
    file_len: u64,
    path: &Path,
) -> Result<HeaderState, OpenError> {
    debug_assert!(file_len >= HEADER_SIZE as u64);
    let path = || path.to_path_buf();
    let bad = |field: &'static str, found: u64| OpenError::BadHeader {
        path: path(),
        field,
        found,
    };
    // Acquire: pairs with the creator's Release store of READY; the fields below are complete.
    let ready = h.ready.load(Ordering::Acquire);
    let magic = h.magic.load(Ordering::Relaxed);
    if magic != MAGIC {
        if magic == 0 && ready == 0 {
            return Ok(HeaderState::NotReady);
        }
        return Err(OpenError::BadMagic {
            path: path(),
            found: magic,
        });
    }
    if ready == 0 {
        return Ok(HeaderState::NotReady);
    }
    if ready != READY {
        return Err(bad("ready", ready.into()));
    }
    let version = h.version.load(Ordering::Relaxed);
    if version > VERSION {
        return Err(OpenError::NewerVersion {
            path: path(),
            found: version,
            supported: VERSION,
        });
    }
    if version != VERSION {
        if version >= 1 {
            return Err(OpenError::OlderVersion {
                path: path(),
                found: version,
                supported: VERSION,
            });
        }
        return Err(bad("version", version.into()));
    }
    let data_offset = h.data_offset.load(Ordering::Relaxed);
    if data_offset < PAGE || data_offset % PAGE != 0 || data_offset > MAX_DATA_OFFSET {
        return Err(bad("data_offset", data_offset.into()));
    }
    let readers = h.reader_slots.load(Ordering::Relaxed);
    if readers == 0
        || readers > MAX_READERS
        || READER_TABLE_OFFSET as u64 + u64::from(readers) * SLOT_SIZE as u64
            > u64::from(data_offset)
    {
        return Err(bad("reader_slots", readers.into()));
    }
    let capacity = h.capacity.load(Ordering::Relaxed);
    if !capacity_is_valid(capacity) {
        return Err(OpenError::BadCapacity {
            path: path(),
            found: capacity,
        });
    }
    let expected = u64::from(data_offset) + capacity;
    if expected != file_len {
        return Err(OpenError::LengthMismatch {
            path: path(),
            expected,
            actual: file_len,
        });
    }
    Ok(HeaderState::Valid(Geometry::new(
        capacity,
        data_offset.into(),
        readers,
    )))
}
