//! A `MAP_SHARED` file mapping for the hand-written baselines (floor, minimal ring).

use memmap2::MmapRaw;
use std::fs::OpenOptions;
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicU64;

/// A shared mapping of a whole file.
#[derive(Debug)]
pub struct Shm {
    map: MmapRaw,
}

impl Shm {
    /// Creates (or truncates) the file at `path` with `len` zero bytes.
    pub fn create(path: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        f.set_len(len)
    }

    /// Maps the file at `path`, which must be `len` bytes long.
    pub fn open(path: &Path, len: u64) -> io::Result<Shm> {
        let f = OpenOptions::new().read(true).write(true).open(path)?;
        if f.metadata()?.len() != len {
            return Err(io::Error::other("shared file has the wrong size"));
        }
        let map = MmapRaw::map_raw(&f)?;
        Ok(Shm { map })
    }

    /// The atomic word at byte `off` (8-aligned, within the mapping).
    pub fn word(&self, off: usize) -> &AtomicU64 {
        assert!(off % 8 == 0 && off + 8 <= self.map.len());
        // SAFETY: in bounds and 8-aligned (the mapping is page-aligned); the mapping lives as
        // long as `self`; every process accesses these bytes only through atomics.
        unsafe { &*(self.map.as_mut_ptr().add(off) as *const AtomicU64) }
    }

    /// Raw pointer to byte `off` of the mapping, with `len` bytes after it in bounds.
    pub fn ptr(&self, off: usize, len: usize) -> *mut u8 {
        assert!(off + len <= self.map.len());
        // SAFETY: in bounds, checked above.
        unsafe { self.map.as_mut_ptr().add(off) }
    }
}
