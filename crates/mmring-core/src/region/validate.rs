//! Header validation: everything is checked before the data region is touched.

use crate::error::OpenError;
use crate::layout::{
    capacity_is_valid, Header, HEADER_SIZE, MAGIC, MAX_HEADER_LEN, READY, VERSION,
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
        return Err(OpenError::BadHeader {
            path: path(),
            field: "ready",
            found: ready.into(),
        });
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
        return Err(OpenError::BadHeader {
            path: path(),
            field: "version",
            found: version.into(),
        });
    }
    let header_len = h.header_len.load(Ordering::Relaxed);
    if header_len < 4096 || header_len % 4096 != 0 || header_len > MAX_HEADER_LEN {
        return Err(OpenError::BadHeader {
            path: path(),
            field: "header_len",
            found: header_len.into(),
        });
    }
    let capacity = h.capacity.load(Ordering::Relaxed);
    if !capacity_is_valid(capacity) {
        return Err(OpenError::BadCapacity {
            path: path(),
            found: capacity,
        });
    }
    let expected = u64::from(header_len) + capacity;
    if expected != file_len {
        return Err(OpenError::LengthMismatch {
            path: path(),
            expected,
            actual: file_len,
        });
    }
    Ok(HeaderState::Valid(Geometry::new(
        capacity,
        header_len.into(),
    )))
}
