//! The loom model of a region: the header, the reader table and the data on the heap, claims
//! as flags, the futex as a mutex and condition variable (which, like the kernel, checks the
//! word and sleeps atomically with respect to wakers).

use crate::data::Data;
use crate::layout::{
    data_offset, Header, ReaderSlot, MAGIC, READER_TABLE_OFFSET, READY, SLOT_SIZE, VERSION,
    WRITER_LOCK_BYTE,
};
use crate::ring::{Geometry, Os, Shared};
use crate::sync::{AtomicU32, Ordering};
use loom::sync::atomic::AtomicUsize;
use loom::sync::{Arc, Condvar, Mutex};
use std::io;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::time::Duration;

#[derive(Debug)]
struct HeapRing {
    header: Header,
    slots: Vec<ReaderSlot>,
    data: Data,
    /// Per lock byte (the writer's, then each slot's): the id of the handle holding it, or 0.
    claims: Vec<AtomicUsize>,
    futex: Mutex<()>,
    cv: Condvar,
    /// Hands out handle ids.
    next_id: AtomicUsize,
}

/// One handle's view of a heap ring.
#[derive(Debug)]
pub(crate) struct Region {
    ring: Arc<HeapRing>,
    geo: Geometry,
    path: PathBuf,
    /// This handle's id (a process's open file description, in the real thing).
    id: usize,
}

impl HeapRing {
    fn claim_index(&self, byte: u64) -> usize {
        if byte == WRITER_LOCK_BYTE {
            return 0;
        }
        let i = (byte as usize - READER_TABLE_OFFSET) / SLOT_SIZE;
        assert!(i < self.slots.len(), "lock byte {byte} is no slot's");
        i + 1
    }
}

/// A fresh ring of `cap` data bytes with `readers` reader slots, and `handles` regions over it.
pub(crate) fn heap_pair(cap: u64, readers: u32, handles: usize) -> Vec<Region> {
    let header = Header::zeroed();
    let offset = data_offset(readers);
    header.magic.store(MAGIC, Ordering::Relaxed);
    header.version.store(VERSION, Ordering::Relaxed);
    header.data_offset.store(offset, Ordering::Relaxed);
    header.capacity.store(cap, Ordering::Relaxed);
    header.reader_slots.store(readers, Ordering::Relaxed);
    header.ready.store(READY, Ordering::Relaxed);
    let ring = Arc::new(HeapRing {
        header,
        slots: (0..readers).map(|_| ReaderSlot::zeroed()).collect(),
        data: Data::new_heap(cap),
        claims: (0..=readers).map(|_| AtomicUsize::new(0)).collect(),
        futex: Mutex::new(()),
        cv: Condvar::new(),
        next_id: AtomicUsize::new(1),
    });
    let geo = Geometry::new(cap, offset.into(), readers);
    (0..handles)
        .map(|_| Region::new(ring.clone(), geo))
        .collect()
}

impl Region {
    fn new(ring: Arc<HeapRing>, geo: Geometry) -> Region {
        let id = ring.next_id.fetch_add(1, Ordering::Relaxed);
        Region {
            ring,
            geo,
            path: PathBuf::from("<loom ring>"),
            id,
        }
    }

    /// Another handle on the same ring (another process's descriptor, in the real thing).
    pub(crate) fn reopen(&self) -> Region {
        Region::new(self.ring.clone(), self.geo)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn shared(&self) -> Shared {
        // SAFETY: the header, the slots and the data live in the `Arc` this region (and so the
        // handle) keeps alive; `slots` has `geo.readers` entries.
        unsafe {
            Shared::new(
                NonNull::from(&self.ring.header),
                NonNull::new(self.ring.slots.as_ptr() as *mut ReaderSlot).unwrap(),
                self.ring.data.clone(),
                self.geo,
            )
        }
    }
}

impl Os for Region {
    fn pid(&self) -> u32 {
        self.id as u32
    }

    fn try_claim(&self, byte: u64) -> io::Result<bool> {
        let c = &self.ring.claims[self.ring.claim_index(byte)];
        // AcqRel: like the kernel's lock, orders the previous holder's accesses before ours.
        Ok(
            match c.compare_exchange(0, self.id, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => true,
                Err(holder) => holder == self.id,
            },
        )
    }

    fn claimed_by_other(&self, byte: u64) -> io::Result<bool> {
        let holder = self.ring.claims[self.ring.claim_index(byte)].load(Ordering::Acquire);
        Ok(holder != 0 && holder != self.id)
    }

    fn release_claim(&self, byte: u64) {
        let c = &self.ring.claims[self.ring.claim_index(byte)];
        let _ = c.compare_exchange(self.id, 0, Ordering::Release, Ordering::Relaxed);
    }

    fn wait(&self, word: &AtomicU32, expected: u32, _timeout: Option<Duration>) {
        let guard = self.ring.futex.lock().unwrap();
        if word.load(Ordering::Relaxed) != expected {
            return;
        }
        drop(self.ring.cv.wait(guard).unwrap());
    }

    fn wake(&self, _word: &AtomicU32) {
        let _guard = self.ring.futex.lock().unwrap();
        self.ring.cv.notify_all();
    }

    fn check_length(&self) {}

    /// The heap model has no doorbells: its sides sleep on the modelled futex only.
    fn ring_bell(&self, _role: crate::ring::claim::Role, _epoch: u32) {}
}
