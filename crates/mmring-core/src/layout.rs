//! The shared-memory format: the `#[repr(C)]` header and the record framing.
//!
//! This module is the Rust side of `docs/FORMAT.md`; the two must agree byte for byte, and the
//! compile-time assertions at the bottom lock every offset. Only fixed-width integers appear,
//! every padding is spelled out, and every field sits at an offset that is a multiple of its
//! own size, so a C compiler on any 64-bit or 32-bit target lays the struct out identically.
//!
//! All multi-byte values are little-endian (the byte order of every platform mmring supports);
//! a big-endian process reading the magic sees a different number and refuses the ring.

use crate::sync::{AtomicU32, AtomicU64};

/// The first eight bytes of every ring: `"MMRING\r\n"`, read as a little-endian `u64`.
///
/// The `\r\n` catches files mangled by text-mode transfers, as PNG's signature does.
pub const MAGIC: u64 = u64::from_le_bytes(*b"MMRING\r\n");

/// The layout version this crate writes and reads.
pub const VERSION: u32 = 1;

/// The value of [`Header::ready`] once the creator has filled in the header.
pub const READY: u32 = 0x5944_5852; // "RXDY" little-endian; any non-zero value other than this is corrupt

/// Size in bytes of the [`Header`] struct itself.
pub const HEADER_SIZE: usize = 1024;

/// Offset of the data region from the start of the mapping as written by this crate: one
/// 4 KiB page, so the data region is page-aligned. Readers accept any multiple of 4096 from
/// 4096 up to [`MAX_HEADER_LEN`] (a creator on a 16 KiB-page system may use 16384).
pub const HEADER_LEN: u32 = 4096;

/// The largest `header_len` a reader accepts.
pub const MAX_HEADER_LEN: u32 = 1 << 20;

/// The smallest data capacity, in bytes.
pub const MIN_CAPACITY: u64 = 64;

/// The largest data capacity, in bytes (4 GiB; record lengths are 32-bit).
pub const MAX_CAPACITY: u64 = 1 << 32;

/// Size of a record header, and the alignment of every record and payload.
pub const RECORD_ALIGN: u64 = 8;

/// Record tag of a message record.
pub const TAG_MESSAGE: u32 = 0x4753_4D01; // 0x01 'M' 'S' 'G'
/// Record tag of a padding record (fills the end of the data region at a wrap).
pub const TAG_PADDING: u32 = 0x4441_5002; // 0x02 'P' 'A' 'D'

/// `writer_state` / `reader_state`: no handle has ever attached.
pub const SIDE_NEVER: u32 = 0;
/// `writer_state` / `reader_state`: a handle attached (it may since have died: check the lock).
pub const SIDE_ATTACHED: u32 = 1;
/// `writer_state` / `reader_state`: the last handle detached cleanly.
pub const SIDE_CLOSED: u32 = 2;

/// Byte offset (inside the file) of the one-byte lock range a writer holds while attached.
pub const WRITER_LOCK_BYTE: u64 = 640;
/// Byte offset (inside the file) of the one-byte lock range a reader holds while attached.
pub const READER_LOCK_BYTE: u64 = 768;

/// Explicit padding: bytes we never read or write. Interior mutability because the other process
/// owns them as much as we do (a `&Header` must not promise they stay unchanged).
#[repr(transparent)]
#[derive(Debug)]
pub struct Pad<const N: usize>(core::cell::UnsafeCell<[u8; N]>);

impl<const N: usize> Pad<N> {
    #[cfg(loom)]
    fn new() -> Self {
        Pad(core::cell::UnsafeCell::new([0; N]))
    }
}

/// The header at offset 0 of every ring. See `docs/FORMAT.md` for the normative description.
///
/// Every field is an atomic of fixed width: the header is shared with another process that may
/// write any field at any time, so even the fields that a well-behaved peer never changes after
/// creation are read with atomic loads, never through plain references.
#[repr(C)]
#[derive(Debug)]
pub struct Header {
    // ---- line 0: identity, written once by the creator before `ready` ----
    /// [`MAGIC`].
    pub magic: AtomicU64,
    /// [`VERSION`].
    pub version: AtomicU32,
    /// Offset of the data region from the start of the mapping.
    pub header_len: AtomicU32,
    /// Size of the data region in bytes; a power of two.
    pub capacity: AtomicU64,
    /// [`READY`] once the header is complete (stored last, with `Release`).
    pub ready: AtomicU32,
    /// Reserved, zero.
    pub flags: AtomicU32,
    /// Process id of the creator (informational).
    pub creator_pid: AtomicU32,
    _pad0: Pad<92>,
    // ---- line 1 (128): the producer cursor, written only by the writer ----
    /// Bytes ever committed by writers; monotonic, a multiple of 8.
    pub write_pos: AtomicU64,
    _pad1: Pad<120>,
    // ---- line 2 (256): the consumer cursor, written only by the reader ----
    /// Bytes ever released by readers; monotonic, a multiple of 8, never above `write_pos`.
    pub read_pos: AtomicU64,
    _pad2: Pad<120>,
    // ---- line 3 (384): the reader's wait words ----
    /// Non-zero while the reader is (about to be) asleep waiting for data.
    pub reader_waiting: AtomicU32,
    /// Futex word the reader sleeps on; the writer increments it before a wake.
    pub data_seq: AtomicU32,
    _pad3: Pad<120>,
    // ---- line 4 (512): the writer's wait words ----
    /// Non-zero while the writer is (about to be) asleep waiting for space.
    pub writer_waiting: AtomicU32,
    /// Futex word the writer sleeps on; the reader increments it before a wake.
    pub space_seq: AtomicU32,
    _pad4: Pad<120>,
    // ---- line 5 (640): writer ownership ----
    /// Process id of the writer that attached last.
    pub writer_pid: AtomicU32,
    /// Number of writer attachments so far.
    pub writer_epoch: AtomicU32,
    /// `SIDE_NEVER`, `SIDE_ATTACHED` or `SIDE_CLOSED`.
    pub writer_state: AtomicU32,
    _pad5: Pad<116>,
    // ---- line 6 (768): reader ownership ----
    /// Process id of the reader that attached last.
    pub reader_pid: AtomicU32,
    /// Number of reader attachments so far.
    pub reader_epoch: AtomicU32,
    /// `SIDE_NEVER`, `SIDE_ATTACHED` or `SIDE_CLOSED`.
    pub reader_state: AtomicU32,
    _pad6: Pad<116>,
    // ---- line 7 (896): reserved ----
    _reserved: Pad<128>,
}

impl Header {
    /// A zeroed header (what a fresh mapping holds), for heap regions under loom and tests.
    #[cfg(loom)]
    pub(crate) fn zeroed() -> Self {
        Header {
            magic: AtomicU64::new(0),
            version: AtomicU32::new(0),
            header_len: AtomicU32::new(0),
            capacity: AtomicU64::new(0),
            ready: AtomicU32::new(0),
            flags: AtomicU32::new(0),
            creator_pid: AtomicU32::new(0),
            _pad0: Pad::new(),
            write_pos: AtomicU64::new(0),
            _pad1: Pad::new(),
            read_pos: AtomicU64::new(0),
            _pad2: Pad::new(),
            reader_waiting: AtomicU32::new(0),
            data_seq: AtomicU32::new(0),
            _pad3: Pad::new(),
            writer_waiting: AtomicU32::new(0),
            space_seq: AtomicU32::new(0),
            _pad4: Pad::new(),
            writer_pid: AtomicU32::new(0),
            writer_epoch: AtomicU32::new(0),
            writer_state: AtomicU32::new(0),
            _pad5: Pad::new(),
            reader_pid: AtomicU32::new(0),
            reader_epoch: AtomicU32::new(0),
            reader_state: AtomicU32::new(0),
            _pad6: Pad::new(),
            _reserved: Pad::new(),
        }
    }
}

/// Encodes a record header word: `len` in the low 32 bits, `tag` in the high 32 bits, which is
/// bytes 0..4 = length and 4..8 = tag in little-endian memory order.
#[inline]
pub(crate) const fn record_word(len: u32, tag: u32) -> u64 {
    (len as u64) | ((tag as u64) << 32)
}

/// Splits a record header word into `(len, tag)`.
#[inline]
pub(crate) const fn split_record_word(word: u64) -> (u32, u32) {
    (word as u32, (word >> 32) as u32)
}

/// Total bytes a record with a `len`-byte payload occupies: header plus payload rounded up to
/// 8 bytes.
#[inline]
pub const fn record_size(len: u64) -> u64 {
    RECORD_ALIGN + ((len + RECORD_ALIGN - 1) & !(RECORD_ALIGN - 1))
}

/// The largest payload a ring of `capacity` data bytes accepts: `capacity / 2 - 8`.
///
/// Half the capacity guarantees that a message always fits contiguously once the reader has
/// caught up, whatever the wrap point: either it fits before the end of the data region, or the
/// end is less than half the ring away and the start has room for it after a padding record.
#[inline]
pub const fn max_message_len(capacity: u64) -> u64 {
    let m = capacity / 2 - RECORD_ALIGN;
    if m > u32::MAX as u64 {
        u32::MAX as u64 & !(RECORD_ALIGN - 1)
    } else {
        m
    }
}

/// Whether `capacity` is a data size this crate accepts.
#[inline]
pub const fn capacity_is_valid(capacity: u64) -> bool {
    capacity.is_power_of_two() && capacity >= MIN_CAPACITY && capacity <= MAX_CAPACITY
}

#[cfg(not(loom))]
mod asserts {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};
    use static_assertions::const_assert_eq;

    const_assert_eq!(size_of::<Header>(), HEADER_SIZE);
    const_assert_eq!(align_of::<Header>(), 8);
    const_assert_eq!(offset_of!(Header, magic), 0);
    const_assert_eq!(offset_of!(Header, version), 8);
    const_assert_eq!(offset_of!(Header, header_len), 12);
    const_assert_eq!(offset_of!(Header, capacity), 16);
    const_assert_eq!(offset_of!(Header, ready), 24);
    const_assert_eq!(offset_of!(Header, flags), 28);
    const_assert_eq!(offset_of!(Header, creator_pid), 32);
    const_assert_eq!(offset_of!(Header, write_pos), 128);
    const_assert_eq!(offset_of!(Header, read_pos), 256);
    const_assert_eq!(offset_of!(Header, reader_waiting), 384);
    const_assert_eq!(offset_of!(Header, data_seq), 388);
    const_assert_eq!(offset_of!(Header, writer_waiting), 512);
    const_assert_eq!(offset_of!(Header, space_seq), 516);
    const_assert_eq!(offset_of!(Header, writer_pid), 640);
    const_assert_eq!(offset_of!(Header, writer_epoch), 644);
    const_assert_eq!(offset_of!(Header, writer_state), 648);
    const_assert_eq!(offset_of!(Header, reader_pid), 768);
    const_assert_eq!(offset_of!(Header, reader_epoch), 772);
    const_assert_eq!(offset_of!(Header, reader_state), 776);
    const_assert_eq!(WRITER_LOCK_BYTE as usize, offset_of!(Header, writer_pid));
    const_assert_eq!(READER_LOCK_BYTE as usize, offset_of!(Header, reader_pid));
    // Atomics have the size and alignment of the integers C will use for them.
    const_assert_eq!(size_of::<AtomicU64>(), 8);
    const_assert_eq!(align_of::<AtomicU64>(), 8);
    const_assert_eq!(size_of::<AtomicU32>(), 4);
    const_assert_eq!(HEADER_LEN as usize % 4096, 0);
    static_assertions::const_assert!(HEADER_SIZE <= HEADER_LEN as usize);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn record_sizes_round_to_eight() {
        assert_eq!(record_size(0), 8);
        assert_eq!(record_size(1), 16);
        assert_eq!(record_size(8), 16);
        assert_eq!(record_size(9), 24);
    }

    #[test]
    fn record_word_round_trips() {
        let w = record_word(77, TAG_MESSAGE);
        assert_eq!(split_record_word(w), (77, TAG_MESSAGE));
        assert_eq!(&w.to_le_bytes()[..4], &77u32.to_le_bytes());
    }

    #[test]
    fn max_message_fits_twice() {
        for shift in 6..=32 {
            let cap = 1u64 << shift;
            let m = max_message_len(cap);
            assert!(record_size(m) * 2 <= cap, "cap {cap}");
            assert!(m <= u32::MAX as u64);
        }
    }

    #[test]
    fn magic_bytes() {
        assert_eq!(&MAGIC.to_le_bytes(), b"MMRING\r\n");
    }
}
