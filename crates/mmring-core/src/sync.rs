//! The one switch between `std` and `loom`.
//!
//! Every atomic, fence and spin hint used by the ring protocol comes from here. A normal build
//! uses `core`; `RUSTFLAGS="--cfg loom"` swaps in loom's instrumented types so that the loom
//! suite explores the interleavings and weak-memory outcomes of the *same* protocol code that
//! runs over a shared mapping.
//!
//! Under loom the header is built on the heap (loom atomics have their own in-memory
//! representation), so only the normal build ever casts mapped bytes to these types.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64};

pub(crate) use std::sync::atomic::Ordering;

/// A hint that we are in a spin loop. Under loom it yields to the model scheduler, which is
/// what lets loom explore spin loops without exploring them forever.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Give the CPU away (the `SpinYield` wait strategy; unused under loom, where every wait parks).
#[cfg_attr(loom, allow(dead_code))]
#[inline]
pub(crate) fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

/// The ordering of the store that commits a publication: the header word of its first record.
///
/// `Release`: it makes the payloads, the later staged headers and the cleared word written
/// before it visible to a reader's `Acquire` load of the same word (SYNC 1 in `ring`).
///
/// # `cfg(mmring_mutant)`: test only
/// Building with `RUSTFLAGS="--cfg loom --cfg mmring_mutant"` weakens this store to `Relaxed`,
/// the one ordering the protocol depends on most. The build is broken on purpose and exists only
/// so that CI (`.ci/loom.sh`) can show that the loom suite (`tests/loom.rs`) detects exactly the
/// bug it exists for: the suite must pass without the cfg and fail with it, with loom reporting
/// a causality violation on the ring's data cells (the reader reading a record the writer's
/// writes are not ordered before). Never set it outside that check.
#[cfg(not(mmring_mutant))]
pub(crate) const PUBLISH: Ordering = Ordering::Release;
#[cfg(mmring_mutant)]
pub(crate) const PUBLISH: Ordering = Ordering::Relaxed;
