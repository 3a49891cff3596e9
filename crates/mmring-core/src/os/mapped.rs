//! A ring mapped `MAP_SHARED` from a file or memfd, plus the descriptor that holds our claim.

use super::bell::{fifo_path, Bell};
use super::guard::Guard;
use super::{futex, lock};
use crate::data::Data;
use crate::layout::{Header, ReaderSlot, READER_TABLE_OFFSET};
use crate::ring::claim::Role;
use crate::ring::{Geometry, Os, Shared};
use crate::sync::AtomicU32;
use memmap2::MmapRaw;
use std::cell::RefCell;
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
    /// Where the sides' doorbells are.
    bells: Bells,
    /// Doorbells of peers this handle rang, by side (writer, then each slot), with the epoch of
    /// the side they belong to.
    rung: RefCell<Vec<Option<(u32, Bell)>>>,
}

/// Where a ring's doorbells live (see `bell.rs`).
#[derive(Debug, Clone)]
pub(crate) enum Bells {
    /// FIFOs next to the ring file.
    Fifos,
    /// Eventfds made with an anonymous ring: the writer's, then the reader's.
    Events(std::sync::Arc<[Bell; 2]>),
}

fn side_index(role: Role) -> usize {
    match role {
        Role::Writer => 0,
        Role::Reader(i) => 1 + i as usize,
    }
}

fn side_tag(role: Role) -> String {
    match role {
        Role::Writer => "w".into(),
        Role::Reader(i) => format!("r{i}"),
    }
}

impl Region {
    /// Wraps a mapping whose header has been validated into `geo`.
    ///
    /// # Safety
    /// `map` must be exactly `geo.data_offset + geo.cap` bytes long, and `geo.data_offset` must
    /// leave room for the header and `geo.readers` reader slots (any bytes are a valid `Header`
    /// and `ReaderSlot`).
    ///
    /// `guarded`: register the mapping with the truncation guard (`guard.rs`); path-backed
    /// rings need it, sealed memfds cannot shrink.
    pub(crate) unsafe fn new(
        map: MmapRaw,
        file: File,
        path: PathBuf,
        geo: Geometry,
        guarded: bool,
        bells: Bells,
    ) -> Self {
        debug_assert_eq!(map.len() as u64, geo.data_offset + geo.cap);
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
            bells,
            rung: RefCell::new(vec![None; 1 + geo.readers as usize]),
        }
    }

    /// The doorbell `role` sleeps on, created if need be (its FIFO gets the ring file's
    /// permission bits, so every process that may open the ring may ring it).
    pub(crate) fn own_bell(&self, role: Role) -> io::Result<Bell> {
        match &self.bells {
            Bells::Fifos => {
                use std::os::unix::fs::PermissionsExt;
                let mode = self.file.metadata()?.permissions().mode();
                Bell::create_fifo(&fifo_path(&self.path, &side_tag(role)), mode)
            }
            Bells::Events(b) => b
                .get(side_index(role))
                .cloned()
                .ok_or_else(|| io::Error::other("an anonymous ring has one reader")),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A protocol view of this region.
    pub(crate) fn shared(&self) -> Shared {
        let base = self.map.as_mut_ptr();
        // SAFETY: `data_offset + cap == len` and the table fits below `data_offset` by `new`'s
        // contract, so every pointer below is inside the mapping; `data_offset` is a multiple of
        // 4096 and the mapping page-aligned, so the header, the table (at 1024, slots of 128
        // bytes) and the data region are 8-aligned. The handle keeps this region (and the
        // mapping) alive as long as the returned `Shared`.
        unsafe {
            let data = Data::new(
                NonNull::new_unchecked(base.add(self.geo.data_offset as usize)),
                self.geo.cap,
            );
            Shared::new(
                NonNull::new_unchecked(base.cast::<Header>()),
                NonNull::new_unchecked(base.add(READER_TABLE_OFFSET).cast::<ReaderSlot>()),
                data,
                self.geo,
            )
            .with_guard(self.guard.slot())
        }
    }

    /// `msync(MS_SYNC)` of the whole mapping.
    pub(crate) fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }
}

impl Os for Region {
    fn pid(&self) -> u32 {
        std::process::id()
    }

    fn try_claim(&self, byte: u64) -> io::Result<bool> {
        lock::try_lock(&self.file, byte)
    }

    fn claimed_by_other(&self, byte: u64) -> io::Result<bool> {
        lock::held_by_other(&self.file, byte)
    }

    fn release_claim(&self, byte: u64) {
        lock::unlock(&self.file, byte)
    }

    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        futex::wait(word, expected, timeout)
    }

    fn wake(&self, word: &AtomicU32) {
        futex::wake(word)
    }

    fn ring_bell(&self, role: Role, epoch: u32) {
        let mut rung = self.rung.borrow_mut();
        let Some(entry) = rung.get_mut(side_index(role)) else {
            return;
        };
        if entry.as_ref().is_none_or(|(e, _)| *e != epoch) {
            let bell = match &self.bells {
                Bells::Fifos => Bell::open_fifo(&fifo_path(&self.path, &side_tag(role))).ok(),
                Bells::Events(b) => b.get(side_index(role)).cloned(),
            };
            *entry = bell.map(|b| (epoch, b));
        }
        if let Some((_, bell)) = entry {
            bell.ring();
        }
    }

    /// Notices a file shrunk under the mapping before any access faults (one `fstat`, on the
    /// slow probe path only): the protocol then reports the truncation on its next check.
    fn check_length(&self) {
        if let Some(slot) = self.guard.slot() {
            if let Ok(meta) = self.file.metadata() {
                if meta.len() < self.map.len() as u64 {
                    slot.mark_truncated(meta.len());
                }
            }
        }
    }
}
