//! A ring mapped `MAP_SHARED` from a file or memfd, plus the descriptor that holds our claim.

use super::guard::Guard;
use super::{futex, lock, side_words, wait_words};
use crate::data::Data;
use crate::error::{OpenError, Side};
use crate::layout::{Header, READER_LOCK_BYTE, SIDE_ATTACHED, SIDE_CLOSED, WRITER_LOCK_BYTE};
use crate::ring::{Geometry, Shared};
use crate::sync::{AtomicU32, Ordering};
use memmap2::MmapRaw;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::time::Duration;

/// One handle's view of a ring: its own mapping and its own open file description.
///
/// The mapping stays valid after the path is unlinked, and lives until this value drops; the
/// descriptor is kept open because the side claim (an OFD lock) lives on it.
#[derive(Debug)]
pub(crate) struct Region {
    /// Declared (so dropped) before `map`: the slot is freed before the range is unmapped.
    guard: Guard,
    map: MmapRaw,
    file: File,
    path: PathBuf,
    geo: Geometry,
}

fn lock_byte(side: Side) -> u64 {
    match side {
        Side::Writer => WRITER_LOCK_BYTE,
        Side::Reader => READER_LOCK_BYTE,
    }
}

impl Region {
    /// Wraps a mapping whose header has been validated into `geo`.
    ///
    /// # Safety
    /// `map` must be at least `geo.data_offset + geo.cap` bytes long, and its first
    /// `HEADER_SIZE` bytes must hold a header (any bytes are a valid `Header`).
    ///
    /// `guarded`: register the mapping with the truncation guard (`guard.rs`); path-backed
    /// rings need it, sealed memfds cannot shrink.
    pub(crate) unsafe fn new(
        map: MmapRaw,
        file: File,
        path: PathBuf,
        geo: Geometry,
        guarded: bool,
    ) -> Self {
        debug_assert!(map.len() as u64 >= geo.data_offset + geo.cap);
        let guard = if guarded {
            Guard::register(map.as_ptr(), map.len())
        } else {
            Guard::none()
        };
        Region {
            guard,
            map,
            file,
            path,
            geo,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the mapping is page-aligned (so 8-aligned) and at least HEADER_SIZE long
        // (`new`'s contract); every bit pattern is a valid `Header` (atomics and padding); it
        // lives as long as `self`.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }

    /// A protocol view of this region.
    pub(crate) fn shared(&self) -> Shared {
        let base = self.map.as_mut_ptr();
        // SAFETY: `data_offset + cap <= len` by `new`'s contract, so the data pointer and the
        // `cap` bytes after it are inside the mapping; `data_offset` is a multiple of 4096 so the
        // data region is 8-aligned. The handle keeps this region (and the mapping) alive as long
        // as the returned `Shared`.
        unsafe {
            let data = Data::new(
                NonNull::new_unchecked(base.add(self.geo.data_offset as usize)),
                self.geo.cap,
            );
            Shared::new(
                NonNull::new_unchecked(base.cast::<Header>()),
                data,
                self.geo,
            )
            .with_guard(self.guard.slot())
        }
    }

    /// Claims `side` for this handle: takes the kernel lock, then records our pid.
    pub(crate) fn claim(&self, side: Side) -> Result<(), OpenError> {
        let got = lock::try_lock(&self.file, lock_byte(side)).map_err(|source| OpenError::Io {
            path: self.path.clone(),
            op: "fcntl(F_OFD_SETLK)",
            source,
        })?;
        let (pid, epoch, state) = side_words(self.header(), side);
        if !got {
            return Err(OpenError::SideTaken {
                path: self.path.clone(),
                side,
                pid: pid.load(Ordering::Relaxed),
            });
        }
        pid.store(std::process::id(), Ordering::Relaxed);
        // Release: pairs with the Acquire in `side_alive`, so a peer that sees ATTACHED also sees
        // our pid.
        state.store(SIDE_ATTACHED, Ordering::Release);
        // Release, and after the state: pairs with the Acquire in `side_epoch`. A peer that sees
        // the new epoch then reads ATTACHED (or a later CLOSED), never the state from before this
        // claim, so `PeerWatch` cannot mistake an attach in progress for a writer that came and
        // went.
        epoch.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Marks `side` as cleanly closed and wakes the peer; the lock goes when `self` drops.
    pub(crate) fn detach(&self, side: Side) {
        let (_, _, state) = side_words(self.header(), side);
        // Release: pairs with the Acquire in `side_alive`: everything this side published
        // happens before the peer sees it closed.
        state.store(SIDE_CLOSED, Ordering::Release);
        let peer = match side {
            Side::Writer => Side::Reader,
            Side::Reader => Side::Writer,
        };
        let words = wait_words(self.header(), peer);
        words.bump();
        futex::wake(words.seq);
    }

    /// How many times `side` has been attached.
    pub(crate) fn side_epoch(&self, side: Side) -> u32 {
        // Acquire: pairs with the Release increment in `claim`.
        side_words(self.header(), side).1.load(Ordering::Acquire)
    }

    /// Whether `side` is attached now. `deep` also asks the kernel whether its claim is held,
    /// which catches a holder killed without detaching; otherwise only the header is read.
    pub(crate) fn side_alive(&self, side: Side, deep: bool) -> bool {
        if deep {
            self.check_length();
        }
        let (_, _, state) = side_words(self.header(), side);
        // Acquire: pairs with the Release stores in `claim` and `detach`.
        if state.load(Ordering::Acquire) != SIDE_ATTACHED {
            return false;
        }
        if !deep {
            return true;
        }
        // An error from the query (it has none in practice) counts as alive: never report a
        // disconnect we have not seen.
        lock::held_by_other(&self.file, lock_byte(side)).unwrap_or(true)
    }

    /// The pid recorded by the last handle that claimed `side`.
    pub(crate) fn side_pid(&self, side: Side) -> u32 {
        side_words(self.header(), side).0.load(Ordering::Relaxed)
    }

    pub(crate) fn sleep(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        futex::wait(word, expected, timeout)
    }

    pub(crate) fn wake(&self, word: &AtomicU32) {
        futex::wake(word)
    }

    /// Notices a file shrunk under the mapping before any access faults (one `fstat`, on the
    /// slow probe path only): the protocol then reports the truncation on its next idle poll.
    fn check_length(&self) {
        if let Some(slot) = self.guard.slot() {
            if let Ok(meta) = self.file.metadata() {
                if meta.len() < self.map.len() as u64 {
                    slot.mark_truncated(meta.len());
                }
            }
        }
    }

    /// `msync(MS_SYNC)` of the whole mapping.
    pub(crate) fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }
}
