//! The loom model of a region: the header and data on the heap, claims as flags, the futex as
//! a mutex and condition variable (which, like the kernel, checks the word and sleeps
//! atomically with respect to wakers).

use super::{side_words, wait_words};
use crate::data::Data;
use crate::error::{OpenError, Side};
use crate::layout::{Header, HEADER_LEN, MAGIC, READY, SIDE_ATTACHED, SIDE_CLOSED, VERSION};
use crate::ring::{Geometry, Shared};
use crate::sync::{AtomicU32, Ordering};
use loom::sync::atomic::AtomicBool;
use loom::sync::{Arc, Condvar, Mutex};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::time::Duration;

#[derive(Debug)]
struct HeapRing {
    header: Header,
    data: Data,
    claimed: [AtomicBool; 2],
    futex: Mutex<()>,
    cv: Condvar,
}

/// One handle's view of a heap ring.
#[derive(Debug)]
pub(crate) struct Region {
    ring: Arc<HeapRing>,
    geo: Geometry,
    path: PathBuf,
}

fn idx(side: Side) -> usize {
    match side {
        Side::Writer => 0,
        Side::Reader => 1,
    }
}

/// A fresh ring of `cap` data bytes and two regions over it.
pub(crate) fn heap_pair(cap: u64) -> (Region, Region) {
    let header = Header::zeroed();
    header.magic.store(MAGIC, Ordering::Relaxed);
    header.version.store(VERSION, Ordering::Relaxed);
    header.header_len.store(HEADER_LEN, Ordering::Relaxed);
    header.capacity.store(cap, Ordering::Relaxed);
    header.ready.store(READY, Ordering::Relaxed);
    let ring = Arc::new(HeapRing {
        header,
        data: Data::new_heap(cap),
        claimed: [AtomicBool::new(false), AtomicBool::new(false)],
        futex: Mutex::new(()),
        cv: Condvar::new(),
    });
    let geo = Geometry::new(cap, HEADER_LEN.into());
    let path = PathBuf::from("<loom ring>");
    (
        Region {
            ring: ring.clone(),
            geo,
            path: path.clone(),
        },
        Region { ring, geo, path },
    )
}

impl Region {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn header(&self) -> &Header {
        &self.ring.header
    }

    pub(crate) fn shared(&self) -> Shared {
        // SAFETY: the header lives in the `Arc` this region (and so the handle) keeps alive.
        unsafe {
            Shared::new(
                NonNull::from(&self.ring.header),
                self.ring.data.clone(),
                self.geo,
            )
        }
    }

    pub(crate) fn claim(&self, side: Side) -> Result<(), OpenError> {
        if self.ring.claimed[idx(side)].swap(true, Ordering::AcqRel) {
            return Err(OpenError::SideTaken {
                path: self.path.clone(),
                side,
                pid: 0,
            });
        }
        let (pid, epoch, state) = side_words(self.header(), side);
        pid.store(1, Ordering::Relaxed);
        state.store(SIDE_ATTACHED, Ordering::Release);
        epoch.fetch_add(1, Ordering::Release);
        Ok(())
    }

    pub(crate) fn detach(&self, side: Side) {
        let (_, _, state) = side_words(self.header(), side);
        state.store(SIDE_CLOSED, Ordering::Release);
        let peer = match side {
            Side::Writer => Side::Reader,
            Side::Reader => Side::Writer,
        };
        let words = wait_words(self.header(), peer);
        words.bump();
        self.wake(words.seq);
        self.ring.claimed[idx(side)].store(false, Ordering::Release);
    }

    pub(crate) fn side_epoch(&self, side: Side) -> u32 {
        side_words(self.header(), side).1.load(Ordering::Acquire)
    }

    pub(crate) fn side_alive(&self, side: Side, _deep: bool) -> bool {
        side_words(self.header(), side).2.load(Ordering::Acquire) == SIDE_ATTACHED
    }

    pub(crate) fn side_pid(&self, side: Side) -> u32 {
        side_words(self.header(), side).0.load(Ordering::Relaxed)
    }

    pub(crate) fn sleep(&self, word: &AtomicU32, expected: u32, _timeout: Option<Duration>) {
        let guard = self.ring.futex.lock().unwrap();
        if word.load(Ordering::Relaxed) != expected {
            return;
        }
        drop(self.ring.cv.wait(guard).unwrap());
    }

    pub(crate) fn wake(&self, _word: &AtomicU32) {
        let _guard = self.ring.futex.lock().unwrap();
        self.ring.cv.notify_all();
    }
}
