//! Access to the data region: the bytes that hold the records.
//!
//! This is one of the two bottom modules (with `os`) that touch raw memory. In a normal build
//! the data region is a raw pointer into a `MAP_SHARED` mapping; under loom it is a heap array
//! in which each 8-byte word is modelled twice: as a loom `AtomicU64` for its accesses as a
//! record header (the commit point the protocol synchronises on) and as a
//! `loom::cell::UnsafeCell<u64>` for its accesses as payload, so that loom reports a conflict
//! when the writer fills a record that a reader may still be reading, and none between disjoint
//! records. (The protocol never reads as a header a word whose last write was payload: the
//! writer clears the word after each record before committing the record, see
//! `ring::producer`; the model relies on that and does not track values across the two roles.)
//!
//! # What the Rust memory model says about these bytes
//! The mapping is shared with other processes. Every access this crate makes to the data region
//! is one of:
//! - **record header words**: atomic loads and stores of a naturally aligned `u64`
//!   (`AtomicU64::from_ptr`), the synchronisation points of the protocol;
//! - **copies out** ([`View::copy_to`]): one relaxed atomic load per 8-byte word, sound whatever
//!   another process writes to the same bytes at the same time (we may see a mix of old and new
//!   bytes, never undefined behaviour);
//! - **zero-copy views** ([`View::as_slice`], [`ViewMut::as_mut_slice`]): a Rust slice over the
//!   bytes, which asserts that nobody else writes them while it lives. The protocol hands each
//!   byte range to one side at a time, so this holds exactly as long as every peer follows the
//!   protocol; a peer that writes into a range it has handed over (a buggy or hostile process
//!   with write access to the ring) makes such a read a data race, which the Rust memory model
//!   calls undefined behaviour. Hence the copying receive paths for untrusted peers.

#[cfg(loom)]
pub use model::LoomData;
#[cfg(loom)]
pub(crate) use model::*;
#[cfg(not(loom))]
pub(crate) use real::*;

#[cfg(not(loom))]
mod real {
    use crate::sync::Ordering;
    use core::ptr::NonNull;
    use std::sync::atomic::AtomicU64;

    /// The data region: `cap` bytes at `base`, `cap` a power of two.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Data {
        base: NonNull<u8>,
        cap: u64,
    }

    // SAFETY: `Data` is a pointer into a shared mapping that the owning region keeps alive; all
    // access goes through atomics, atomic copies or views handed out under the protocol, so
    // moving it to another thread is no different from keeping it.
    unsafe impl Send for Data {}

    impl Data {
        /// # Safety
        /// `base` must point to `cap` bytes, 8-aligned, valid for reads and writes for as long
        /// as the returned value (and any copy of it) is used.
        pub(crate) unsafe fn new(base: NonNull<u8>, cap: u64) -> Self {
            debug_assert!(cap.is_power_of_two());
            debug_assert_eq!(base.as_ptr() as usize % 8, 0);
            Data { base, cap }
        }

        /// The atomic 8-byte word at `off` (8-aligned, `off + 8 <= cap`).
        #[inline(always)]
        fn word(&self, off: u64) -> &AtomicU64 {
            assert!(
                off % 8 == 0 && off + 8 <= self.cap,
                "word offset out of range"
            );
            // SAFETY: in bounds and 8-aligned (the assert and `new`'s contract), valid for the
            // life of `self`; atomics may be shared with other processes that access the same
            // word (atomically or not: their accesses are outside our program).
            unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(off as usize).cast()) }
        }

        /// Loads the record header word at `off` with `ordering`.
        #[inline(always)]
        pub(crate) fn load_word(&self, off: u64, ordering: Ordering) -> u64 {
            u64::from_le(self.word(off).load(ordering))
        }

        /// Stores the record header word at `off` with `ordering`.
        #[inline(always)]
        pub(crate) fn store_word(&self, off: u64, value: u64, ordering: Ordering) {
            self.word(off).store(value.to_le(), ordering)
        }

        /// A read view of `len` payload bytes at `off` (8-aligned, `off + len <= cap`).
        #[inline(always)]
        pub(crate) fn view(&self, off: u64, len: u64) -> View {
            assert!(
                off % 8 == 0 && off.checked_add(len).is_some_and(|end| end <= self.cap),
                "view out of range"
            );
            // SAFETY: `off <= cap` by the assert, so the pointer stays inside the region.
            let ptr = unsafe { self.base.as_ptr().add(off as usize) };
            View {
                ptr,
                len: len as usize,
                cap_left: (self.cap - off) as usize,
            }
        }

        /// A write view of `len` payload bytes at `off` (8-aligned, `off + len <= cap`).
        #[inline(always)]
        pub(crate) fn view_mut(&self, off: u64, len: u64) -> ViewMut {
            let View { ptr, len, .. } = self.view(off, len);
            ViewMut { ptr, len }
        }

        /// Copies `dst.len()` payload bytes at `off` (8-aligned, in range) with relaxed atomic
        /// loads, for a reader whose bytes the writer may be overwriting at the same time (it
        /// validates the copy afterwards).
        #[inline]
        pub(crate) fn copy_racy(&self, off: u64, dst: &mut [u8]) {
            self.view(off, dst.len() as u64).copy_to(dst)
        }
    }

    /// Payload bytes handed to a reader.
    #[derive(Debug)]
    pub(crate) struct View {
        ptr: *mut u8,
        len: usize,
        /// Bytes from `ptr` to the end of the data region (whole words may be loaded).
        cap_left: usize,
    }

    impl View {
        /// The bytes in place. Sound while the writer follows the protocol (module docs).
        #[inline(always)]
        pub(crate) fn as_slice(&self) -> &[u8] {
            // SAFETY: `ptr..ptr+len` is inside the mapping (checked in `Data::view`), which the
            // handle owning this view keeps mapped; the protocol gives these bytes to the reader
            // until it releases them. A peer that writes them anyway breaks the precondition
            // stated in the module docs and in the public `Message` docs.
            unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
        }

        /// The length in bytes.
        #[inline(always)]
        pub(crate) fn len(&self) -> usize {
            self.len
        }

        /// Copies the bytes into `dst` (`dst.len() == len`) with one relaxed atomic load per
        /// 8-byte word: sound whatever another process writes meanwhile.
        pub(crate) fn copy_to(&self, dst: &mut [u8]) {
            assert_eq!(dst.len(), self.len, "copy_to: wrong destination length");
            let mut chunks = dst.chunks_mut(8);
            for (i, c) in (&mut chunks).enumerate() {
                debug_assert!(i * 8 + 8 <= self.cap_left);
                // SAFETY: `ptr` is 8-aligned (`Data::view`); word `i` starts at `i * 8 < len`
                // and ends at most at the end of the record's rounded size, which is inside the
                // data region (`cap_left` bytes from `ptr`, payload offsets are 8-aligned and
                // the region is a multiple of 8). Atomic loads never race.
                let w = unsafe { AtomicU64::from_ptr(self.ptr.add(i * 8).cast()) }
                    .load(Ordering::Relaxed);
                c.copy_from_slice(&w.to_ne_bytes()[..c.len()]);
            }
        }
    }

    /// Payload bytes the writer owns until it commits them.
    #[derive(Debug)]
    pub(crate) struct ViewMut {
        ptr: *mut u8,
        len: usize,
    }

    impl ViewMut {
        #[inline(always)]
        pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
            // SAFETY: as in `View::as_slice`; the protocol gives these bytes to the writer
            // exclusively until it publishes them, and `&mut self` keeps this slice unique on
            // our side.
            unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
        }

        #[inline(always)]
        pub(crate) fn as_slice(&self) -> &[u8] {
            // SAFETY: as in `as_mut_slice`.
            unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
        }

        /// Makes the bytes part of the region (a no-op here: they were written in place).
        #[inline(always)]
        pub(crate) fn finish(self) {}
    }
}

#[cfg(loom)]
mod model {
    use crate::sync::{AtomicU64, Ordering};
    use loom::cell::{ConstPtr, MutPtr, UnsafeCell};
    use std::sync::Arc;

    /// One 8-byte word: its header role and its payload role (module docs), and a shadow of
    /// the payload role that an untethered reader reads (real builds read such bytes with
    /// relaxed atomic loads while the writer may overwrite them, then validate the copy: a
    /// seqlock, which loom can only check on atomics).
    #[derive(Debug)]
    struct Word {
        header: AtomicU64,
        payload: UnsafeCell<u64>,
        shadow: AtomicU64,
    }

    /// The data region as loom words.
    #[derive(Debug, Clone)]
    pub(crate) struct Data {
        words: Arc<[Word]>,
        cap: u64,
    }

    impl Data {
        pub(crate) fn new_heap(cap: u64) -> Self {
            let words: Vec<Word> = (0..cap / 8)
                .map(|_| Word {
                    header: AtomicU64::new(0),
                    payload: UnsafeCell::new(0),
                    shadow: AtomicU64::new(0),
                })
                .collect();
            Data {
                words: words.into(),
                cap,
            }
        }

        fn word(&self, off: u64) -> &Word {
            assert!(off % 8 == 0 && off + 8 <= self.cap);
            &self.words[(off / 8) as usize]
        }

        pub(crate) fn load_word(&self, off: u64, ordering: Ordering) -> u64 {
            self.word(off).header.load(ordering)
        }

        pub(crate) fn store_word(&self, off: u64, value: u64, ordering: Ordering) {
            self.word(off).header.store(value, ordering)
        }

        fn word_range(&self, off: u64, len: u64) -> core::ops::Range<usize> {
            assert!(off % 8 == 0 && off + len <= self.cap);
            (off / 8) as usize..((off + len).div_ceil(8)) as usize
        }

        /// Opens a read access to every payload word, held until the view drops.
        pub(crate) fn view(&self, off: u64, len: u64) -> View {
            let range = self.word_range(off, len);
            let guards: Vec<ConstPtr<u64>> =
                self.words[range].iter().map(|w| w.payload.get()).collect();
            let mut bytes = Vec::with_capacity(guards.len() * 8);
            for g in &guards {
                // SAFETY: loom tracks the access for the guard's lifetime.
                bytes.extend_from_slice(&unsafe { *g.deref() }.to_le_bytes());
            }
            bytes.truncate(len as usize);
            View {
                _guards: guards,
                bytes,
            }
        }

        /// Opens a write access to every payload word, held until the view drops.
        pub(crate) fn view_mut(&self, off: u64, len: u64) -> ViewMut {
            let range = self.word_range(off, len);
            let words = self.words.clone();
            let guards: Vec<MutPtr<u64>> = self.words[range.clone()]
                .iter()
                .map(|w| w.payload.get_mut())
                .collect();
            ViewMut {
                guards,
                bytes: vec![0; len as usize],
                words,
                first: range.start,
            }
        }

        /// Copies payload bytes from the shadow words (module docs).
        pub(crate) fn copy_racy(&self, off: u64, dst: &mut [u8]) {
            let range = self.word_range(off, dst.len() as u64);
            for (c, w) in dst.chunks_mut(8).zip(&self.words[range]) {
                let v = w.shadow.load(Ordering::Relaxed).to_le_bytes();
                c.copy_from_slice(&v[..c.len()]);
            }
        }
    }

    /// A bare data region, for the loom suite's checks of this model itself: that it reports
    /// unsynchronised overlapping access to payload words and stays silent for disjoint
    /// records. Loom builds only; not part of the API.
    #[doc(hidden)]
    #[derive(Debug, Clone)]
    pub struct LoomData(Data);

    impl LoomData {
        /// A zeroed region of `cap` bytes (a multiple of 8).
        pub fn new(cap: u64) -> Self {
            LoomData(Data::new_heap(cap))
        }

        /// Writes `bytes` at `off` (8-aligned) through a write view, as a committed grant does.
        pub fn write_payload(&self, off: u64, bytes: &[u8]) {
            let mut v = self.0.view_mut(off, bytes.len() as u64);
            v.as_mut_slice().copy_from_slice(bytes);
            v.finish();
        }

        /// Reads `len` bytes at `off` (8-aligned) through a read view, as a message does.
        pub fn read_payload(&self, off: u64, len: u64) -> Vec<u8> {
            self.0.view(off, len).as_slice().to_vec()
        }
    }

    /// A read view: the bytes copied at open time, the cells' access held until drop.
    #[derive(Debug)]
    pub(crate) struct View {
        _guards: Vec<ConstPtr<u64>>,
        bytes: Vec<u8>,
    }

    impl View {
        pub(crate) fn as_slice(&self) -> &[u8] {
            &self.bytes
        }

        pub(crate) fn len(&self) -> usize {
            self.bytes.len()
        }

        pub(crate) fn copy_to(&self, dst: &mut [u8]) {
            dst.copy_from_slice(&self.bytes);
        }
    }

    /// A write view: a staging buffer, the cells' access held until drop.
    #[derive(Debug)]
    pub(crate) struct ViewMut {
        guards: Vec<MutPtr<u64>>,
        bytes: Vec<u8>,
        words: Arc<[Word]>,
        first: usize,
    }

    impl ViewMut {
        pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
            &mut self.bytes
        }

        pub(crate) fn as_slice(&self) -> &[u8] {
            &self.bytes
        }

        /// Stores the staged bytes into the cells.
        pub(crate) fn finish(self) {
            for (i, g) in self.guards.iter().enumerate() {
                let mut w = [0u8; 8];
                let start = i * 8;
                let end = (start + 8).min(self.bytes.len());
                if start < end {
                    w[..end - start].copy_from_slice(&self.bytes[start..end]);
                }
                // SAFETY: loom tracks the access for the guard's lifetime.
                unsafe { *g.deref() = u64::from_le_bytes(w) };
                self.words[self.first + i]
                    .shadow
                    .store(u64::from_le_bytes(w), Ordering::Relaxed);
            }
        }
    }
}
