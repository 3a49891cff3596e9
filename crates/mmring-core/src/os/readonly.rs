//! A read-only mapping of a ring file, for `inspect`: never claims a side, never writes a byte.

use super::guard::Guard;
use super::header_check::{check_header, HeaderState};
use crate::error::OpenError;
use crate::layout::{
    Header, ReaderSlot, HEADER_SIZE, MAX_CAPACITY, MAX_DATA_OFFSET, READER_TABLE_OFFSET,
};
use crate::ring::Geometry;
use crate::sync::Ordering;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::AtomicU64;

/// A validated ring file mapped read-only. Every read is an atomic load at an offset checked
/// against the mapping (atomic loads of naturally aligned words up to 8 bytes are allowed on
/// read-only memory); no Rust reference to the bytes is ever formed beyond the atomics.
#[derive(Debug)]
pub(crate) struct ReadOnlyRing {
    /// Declared before `map`, so dropped (unregistered) before it is unmapped.
    _guard: Guard,
    map: memmap2::MmapRaw,
    geo: Geometry,
}

fn map_ro(file: &File, len: u64, path: &Path) -> Result<memmap2::MmapRaw, OpenError> {
    memmap2::MmapOptions::new()
        .len(len as usize)
        .map_raw_read_only(file)
        .map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            op: "mmap",
            source,
        })
}

impl ReadOnlyRing {
    /// Maps `file` (of `len` bytes, at least `HEADER_SIZE`) and validates its header.
    pub(crate) fn map(file: &File, len: u64, path: &Path) -> Result<ReadOnlyRing, OpenError> {
        debug_assert!(len >= HEADER_SIZE as u64);
        if len > u64::from(MAX_DATA_OFFSET) + MAX_CAPACITY {
            // Too long for any valid ring: map just the header to say what is wrong with it.
            let head = map_ro(file, HEADER_SIZE as u64, path)?;
            let guard = Guard::register(head.as_ptr(), head.len());
            // SAFETY: page-aligned, HEADER_SIZE bytes, any bits are a valid `Header`; loads only.
            let h = unsafe { &*head.as_ptr().cast::<Header>() };
            let err = match check_header(h, len, path) {
                Err(e) => e,
                // A valid header cannot agree with a length beyond the largest valid ring.
                Ok(_) => OpenError::LengthMismatch {
                    path: path.to_path_buf(),
                    expected: u64::from(h.data_offset.load(Ordering::Relaxed))
                        + h.capacity.load(Ordering::Relaxed),
                    actual: len,
                },
            };
            drop(guard);
            return Err(err);
        }
        let map = map_ro(file, len, path)?;
        // A truncation while we look turns the rest of the look into zeros instead of SIGBUS.
        let guard = Guard::register(map.as_ptr(), map.len());
        // SAFETY: page-aligned, at least HEADER_SIZE bytes, any bits are a valid `Header`; only
        // atomic loads are performed through it.
        let h = unsafe { &*map.as_ptr().cast::<Header>() };
        let geo = match check_header(h, len, path)? {
            HeaderState::Valid(g) => g,
            HeaderState::NotReady => {
                return Err(OpenError::NotInitialised {
                    path: path.to_path_buf(),
                    waited: Default::default(),
                })
            }
        };
        Ok(ReadOnlyRing {
            _guard: guard,
            map,
            geo,
        })
    }

    pub(crate) fn geometry(&self) -> Geometry {
        self.geo
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: as in `map`: the mapping is at least HEADER_SIZE bytes, lives as long as
        // `self`, and a `Header` is made of atomics and padding.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }

    /// Reader slot `i` (`i < geometry().readers`).
    pub(crate) fn slot(&self, i: u32) -> &ReaderSlot {
        assert!(i < self.geo.readers);
        // SAFETY: the header check put the table (`readers` slots from READER_TABLE_OFFSET)
        // below the data offset, inside the mapping; slots are 8-aligned atomics and padding.
        unsafe {
            &*self
                .map
                .as_ptr()
                .add(READER_TABLE_OFFSET)
                .cast::<ReaderSlot>()
                .add(i as usize)
        }
    }

    /// The record header word at ring position `pos` (Acquire, as a reader loads it).
    pub(crate) fn word(&self, pos: u64) -> u64 {
        let at = self.geo.data_offset + (pos & self.geo.mask);
        assert!(at + 8 <= self.map.len() as u64 && at % 8 == 0);
        // SAFETY: in bounds and 8-aligned (just checked; the mapping is page-aligned); an
        // atomic load of a naturally aligned u64 is allowed on read-only memory.
        let w = unsafe { AtomicU64::from_ptr(self.map.as_ptr().add(at as usize) as *mut u64) };
        u64::from_le(w.load(Ordering::Acquire))
    }
}
