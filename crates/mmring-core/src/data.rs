//! Access to the data region: the bytes that hold the records.
//!
//! This is one of the two modules (with `region`) that touch raw memory. In a normal build the
//! data region is a raw pointer into a `MAP_SHARED` mapping; under loom it is a heap array of
//! `loom::cell::UnsafeCell<u64>`, one per 8-byte word, so loom sees a real conflict when the
//! writer fills a record the reader is still reading, and none between disjoint records.
//!
//! # Why plain (non-atomic) payload access is sound here
//! The mapping is shared with another process, outside the Rust abstract machine. The compiler
//! cannot see that process's stores, so from the compiler's point of view the bytes behave like
//! device memory that changes between our accesses; we never derive any Rust invariant from
//! their values. Framing words are read once with a volatile load into a local and validated
//! before use; payload bytes have no validity invariant (`u8`). A peer that writes into a
//! record we are reading can therefore give us wrong bytes, never undefined behaviour in our
//! process. A well-behaved peer never does: the cursors hand each byte range to exactly one
//! side at a time (see `docs/FORMAT.md`, "Ownership of bytes").

#[cfg(loom)]
pub use model::LoomData;
#[cfg(loom)]
pub(crate) use model::*;
#[cfg(not(loom))]
pub(crate) use real::*;

#[cfg(not(loom))]
mod real {
    use core::ptr::NonNull;

    /// The data region: `cap` bytes at `base`, `cap` a power of two.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Data {
        base: NonNull<u8>,
        cap: u64,
    }

    // SAFETY: `Data` is a pointer into a shared mapping that the owning region keeps alive; all
    // access goes through volatile word reads/writes or the cursor protocol, never through
    // shared Rust references, so moving it to another thread is no different from keeping it.
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

        /// Reads the 8-byte word at `off` (8-aligned, `off + 8 <= cap`) once.
        #[inline]
        pub(crate) fn read_word(&self, off: u64) -> u64 {
            assert!(
                off % 8 == 0 && off + 8 <= self.cap,
                "word offset out of range"
            );
            // SAFETY: in bounds and aligned by the assert above and `new`'s contract; volatile
            // because another process may change the word (see the module docs).
            u64::from_le(unsafe {
                self.base
                    .as_ptr()
                    .add(off as usize)
                    .cast::<u64>()
                    .read_volatile()
            })
        }

        /// Writes the 8-byte word at `off` (8-aligned, `off + 8 <= cap`).
        #[inline]
        pub(crate) fn write_word(&self, off: u64, value: u64) {
            assert!(
                off % 8 == 0 && off + 8 <= self.cap,
                "word offset out of range"
            );
            // SAFETY: in bounds and aligned by the assert above and `new`'s contract.
            unsafe {
                self.base
                    .as_ptr()
                    .add(off as usize)
                    .cast::<u64>()
                    .write_volatile(value.to_le())
            }
        }

        /// Hints the CPU to fetch the cache line at `off` (masked into range). Not a memory
        /// access: it reads nothing and cannot fault, so it is sound on bytes another process
        /// is writing. The reader issues it while polling an empty ring, so that when the
        /// writer's next record lands, the cursor line and the record's line travel to this
        /// core in parallel rather than one after the other.
        #[inline]
        pub(crate) fn prefetch(&self, off: u64) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `_mm_prefetch` is a hint, never a load; the address is inside the region.
            unsafe {
                use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                _mm_prefetch::<_MM_HINT_T0>(
                    self.base
                        .as_ptr()
                        .add((off & (self.cap - 1)) as usize)
                        .cast(),
                )
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = off;
        }

        /// A read view of `len` payload bytes at `off` (`off + len <= cap`).
        #[inline]
        pub(crate) fn view(&self, off: u64, len: u64) -> View {
            assert!(
                off.checked_add(len).is_some_and(|end| end <= self.cap),
                "view out of range"
            );
            // SAFETY: `off <= cap` by the assert, so the pointer stays inside the region.
            let ptr = unsafe { self.base.as_ptr().add(off as usize) };
            View {
                ptr,
                len: len as usize,
            }
        }

        /// A write view of `len` payload bytes at `off` (`off + len <= cap`).
        #[inline]
        pub(crate) fn view_mut(&self, off: u64, len: u64) -> ViewMut {
            let View { ptr, len } = self.view(off, len);
            ViewMut { ptr, len }
        }
    }

    /// Payload bytes the reader owns until it releases them.
    #[derive(Debug)]
    pub(crate) struct View {
        ptr: *mut u8,
        len: usize,
    }

    impl View {
        #[inline]
        pub(crate) fn as_slice(&self) -> &[u8] {
            // SAFETY: `ptr..ptr+len` is inside the mapping (checked in `Data::view`), which the
            // handle owning this view keeps mapped. The cursor protocol gives these bytes to the
            // reader until it releases them; a hostile writer may still store into them, which
            // can change the bytes we see but cannot cause UB (module docs).
            unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
        }
    }

    /// Payload bytes the writer owns until it commits them.
    #[derive(Debug)]
    pub(crate) struct ViewMut {
        ptr: *mut u8,
        len: usize,
    }

    impl ViewMut {
        #[inline]
        pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
            // SAFETY: as in `View::as_slice`; the cursor protocol gives these bytes to the writer
            // exclusively until it publishes them, and `&mut self` keeps this slice unique on
            // our side.
            unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
        }

        #[inline]
        pub(crate) fn as_slice(&self) -> &[u8] {
            // SAFETY: as in `as_mut_slice`.
            unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
        }

        /// Makes the bytes part of the region (a no-op here: they were written in place).
        #[inline]
        pub(crate) fn finish(self) {}
    }
}

#[cfg(loom)]
mod model {
    use loom::cell::{ConstPtr, MutPtr, UnsafeCell};
    use std::sync::Arc;

    /// The data region as loom cells, one per 8-byte word.
    #[derive(Debug, Clone)]
    pub(crate) struct Data {
        words: Arc<[UnsafeCell<u64>]>,
        cap: u64,
    }

    impl Data {
        pub(crate) fn new_heap(cap: u64) -> Self {
            let words: Vec<UnsafeCell<u64>> = (0..cap / 8).map(|_| UnsafeCell::new(0)).collect();
            Data {
                words: words.into(),
                cap,
            }
        }

        pub(crate) fn read_word(&self, off: u64) -> u64 {
            assert!(off % 8 == 0 && off + 8 <= self.cap);
            // SAFETY: loom checks this access against concurrent ones.
            self.words[(off / 8) as usize].with(|p| unsafe { *p })
        }

        pub(crate) fn write_word(&self, off: u64, value: u64) {
            assert!(off % 8 == 0 && off + 8 <= self.cap);
            // SAFETY: loom checks this access against concurrent ones.
            self.words[(off / 8) as usize].with_mut(|p| unsafe { *p = value })
        }

        fn word_range(&self, off: u64, len: u64) -> core::ops::Range<usize> {
            assert!(off % 8 == 0 && off + len <= self.cap);
            (off / 8) as usize..((off + len).div_ceil(8)) as usize
        }

        /// A cache hint in the real build; nothing to model.
        pub(crate) fn prefetch(&self, _off: u64) {}

        /// Opens a read access to every word under the payload, held until the view drops.
        pub(crate) fn view(&self, off: u64, len: u64) -> View {
            let range = self.word_range(off, len);
            let guards: Vec<ConstPtr<u64>> = self.words[range].iter().map(|c| c.get()).collect();
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

        /// Opens a write access to every word under the payload, held until the view drops.
        pub(crate) fn view_mut(&self, off: u64, len: u64) -> ViewMut {
            let range = self.word_range(off, len);
            let guards: Vec<MutPtr<u64>> = self.words[range].iter().map(|c| c.get_mut()).collect();
            ViewMut {
                guards,
                bytes: vec![0; len as usize],
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
    }

    /// A write view: a staging buffer, the cells' access held until drop.
    #[derive(Debug)]
    pub(crate) struct ViewMut {
        guards: Vec<MutPtr<u64>>,
        bytes: Vec<u8>,
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
            }
        }
    }
}
