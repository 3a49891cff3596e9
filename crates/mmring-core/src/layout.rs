//! The shared-memory format, version 2: the `#[repr(C)]` header, the reader table and the
//! record framing.
//!
//! This module is the Rust side of `docs/FORMAT.md`; the two must agree byte for byte, and the
//! compile-time assertions at the bottom lock every offset. Only fixed-width integers appear,
//! every padding is spelled out, and every field sits at an offset that is a multiple of its
//! own size, so a C compiler on any 64-bit or 32-bit target lays the structs out identically.
//!
//! All multi-byte values are little-endian (the byte order of every platform mmring supports);
//! a big-endian process reading the magic sees a different number and refuses the ring.
//!
//! ```
//! use mmring_core::layout::{data_offset, record_size, max_message_len};
//! assert_eq!(data_offset(1), 4096);        // one reader slot: the data starts at one page
//! assert_eq!(record_size(5), 16);          // an 8-byte record header, the payload rounded to 8
//! assert_eq!(max_message_len(4096), 2040); // half the ring, minus a record header
//! ```

use crate::sync::{AtomicU32, AtomicU64};

/// The first eight bytes of every ring: `"MMRING\r\n"`, read as a little-endian `u64`.
///
/// The `\r\n` catches files mangled by text-mode transfers, as PNG's signature does.
pub const MAGIC: u64 = u64::from_le_bytes(*b"MMRING\r\n");

/// The layout version this crate writes and reads.
pub const VERSION: u32 = 2;

/// The value of [`Header::ready`] once the creator has filled in the header.
pub const READY: u32 = 0x5944_5852; // "RXDY" little-endian; any non-zero value other than this is corrupt

/// Size in bytes of the fixed [`Header`] struct; the reader table follows it.
pub const HEADER_SIZE: usize = 1024;

/// Offset of the reader table (one [`ReaderSlot`] per reader) in the mapping.
pub const READER_TABLE_OFFSET: usize = HEADER_SIZE;

/// Size in bytes of one [`ReaderSlot`].
pub const SLOT_SIZE: usize = 128;

/// The most reader slots a ring can have (the readers' wait bits fit one 64-bit word).
pub const MAX_READERS: u32 = 64;

/// The page size data offsets are a multiple of.
pub const PAGE: u32 = 4096;

/// The largest data offset a reader accepts (a creator on a 16 KiB-page system may round the
/// offset up to its page size).
pub const MAX_DATA_OFFSET: u32 = 1 << 20;

/// Offset of the data region from the start of the mapping as this crate writes it for a ring
/// with `readers` slots: the header and the reader table, rounded up to a 4 KiB page, so the
/// data region is page-aligned.
///
/// ```
/// use mmring_core::layout::data_offset;
/// assert_eq!(data_offset(1), 4096);
/// assert_eq!(data_offset(24), 4096);
/// assert_eq!(data_offset(25), 8192);
/// ```
#[inline]
pub const fn data_offset(readers: u32) -> u32 {
    let end = READER_TABLE_OFFSET as u32 + readers * SLOT_SIZE as u32;
    end.div_ceil(PAGE) * PAGE
}

/// The smallest data capacity, in bytes.
pub const MIN_CAPACITY: u64 = 64;

/// The largest data capacity, in bytes (4 GiB; record lengths are 31-bit).
pub const MAX_CAPACITY: u64 = 1 << 32;

/// Size of a record header, and the alignment of every record and payload.
pub const RECORD_ALIGN: u64 = 8;

/// Bit 31 of a committed record header's low word: set in every committed header, so that an
/// all-zero word (fresh memory, or the word the writer clears ahead of its next record) is never
/// a committed record.
pub const COMMIT: u32 = 1 << 31;

/// Key of a message record: its header's high word is `stamp(pos) ^ KEY_MESSAGE`.
pub const KEY_MESSAGE: u32 = 0x4753_4D32; // "2MSG" little-endian
/// Key of a padding record (it fills the end of the data region at a wrap).
pub const KEY_PADDING: u32 = 0x4441_5032; // "2PAD" little-endian

/// `writer_state` / a slot's `state`: no handle has ever attached.
pub const SIDE_NEVER: u32 = 0;
/// `writer_state` / a slot's `state`: a handle attached (it may since have died: check the lock).
pub const SIDE_ATTACHED: u32 = 1;
/// `writer_state` / a slot's `state`: the last handle detached cleanly.
pub const SIDE_CLOSED: u32 = 2;

/// A slot's `kind`: a lossless reader that holds the writer back.
pub const KIND_TETHERED: u32 = 1;
/// A slot's `kind`: a lossy reader that never holds the writer back.
pub const KIND_UNTETHERED: u32 = 2;

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
/// Every field is an atomic of fixed width: the header is shared with other processes that may
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
    /// Offset of the data region from the start of the mapping (a multiple of 4096).
    pub data_offset: AtomicU32,
    /// Size of the data region in bytes; a power of two.
    pub capacity: AtomicU64,
    /// [`READY`] once the header is complete (stored last, with `Release`).
    pub ready: AtomicU32,
    /// Reserved, zero.
    pub flags: AtomicU32,
    /// Process id of the creator (informational).
    pub creator_pid: AtomicU32,
    /// Number of reader slots in the reader table (1 to [`MAX_READERS`]).
    pub reader_slots: AtomicU32,
    _pad0: Pad<88>,
    // ---- line 1 (128): the writer's cursors, written only by the writer ----
    /// A lower bound of the end of the committed records, stored by the writer after each
    /// publication (for inspection, late joiners and the writer's successor; readers do not
    /// poll it).
    pub write_pos: AtomicU64,
    /// The oldest record start the writer has not yet declared free for overwriting: records
    /// in `[tail_pos, write_pos)` are intact.
    pub tail_pos: AtomicU64,
    _pad1: Pad<112>,
    // ---- line 2 (256): the writer's wait words ----
    /// Non-zero while the writer is (about to be) asleep waiting for room.
    pub writer_waiting: AtomicU32,
    /// Futex word the writer sleeps on; a reader increments it before a wake.
    pub space_seq: AtomicU32,
    /// Non-zero while the writer is (about to be) asleep waiting for room *on its doorbell*
    /// (docs/FORMAT.md, section 8): a reader that releases then rings it.
    pub writer_bell: AtomicU32,
    _pad2: Pad<116>,
    // ---- line 3 (384): the readers' wait words ----
    /// Bit `i` is set while the reader of slot `i` is (about to be) asleep waiting for data.
    pub readers_waiting: AtomicU64,
    /// Futex word the readers sleep on; the writer increments it before a wake.
    pub data_seq: AtomicU32,
    _pad3a: Pad<4>,
    /// Bit `i` is set while the reader of slot `i` is (about to be) asleep *on its doorbell*.
    pub readers_bell: AtomicU64,
    _pad3: Pad<104>,
    // ---- line 4 (512): writer ownership ----
    /// Process id of the writer that attached last. Its first byte is the writer's lock byte.
    pub writer_pid: AtomicU32,
    /// Number of writer attachments so far.
    pub writer_epoch: AtomicU32,
    /// [`SIDE_NEVER`], [`SIDE_ATTACHED`] or [`SIDE_CLOSED`].
    pub writer_state: AtomicU32,
    _pad4: Pad<116>,
    // ---- lines 5-7 (640): reserved ----
    _reserved: Pad<384>,
}

/// One reader's line in the reader table, at `READER_TABLE_OFFSET + i * SLOT_SIZE`.
#[repr(C)]
#[derive(Debug)]
pub struct ReaderSlot {
    /// Bytes released by this slot's reader: it will not read below this position again.
    pub read_pos: AtomicU64,
    /// Process id of the reader that attached last. Its first byte is the slot's lock byte.
    pub pid: AtomicU32,
    /// Number of attachments to this slot so far.
    pub epoch: AtomicU32,
    /// [`SIDE_NEVER`], [`SIDE_ATTACHED`] or [`SIDE_CLOSED`].
    pub state: AtomicU32,
    /// [`KIND_TETHERED`] or [`KIND_UNTETHERED`] (zero before the first attachment).
    pub kind: AtomicU32,
    _pad: Pad<104>,
}

impl Header {
    /// A zeroed header (what a fresh mapping holds), for heap regions under loom.
    #[cfg(loom)]
    pub(crate) fn zeroed() -> Self {
        Header {
            magic: AtomicU64::new(0),
            version: AtomicU32::new(0),
            data_offset: AtomicU32::new(0),
            capacity: AtomicU64::new(0),
            ready: AtomicU32::new(0),
            flags: AtomicU32::new(0),
            creator_pid: AtomicU32::new(0),
            reader_slots: AtomicU32::new(0),
            _pad0: Pad::new(),
            write_pos: AtomicU64::new(0),
            tail_pos: AtomicU64::new(0),
            _pad1: Pad::new(),
            writer_waiting: AtomicU32::new(0),
            space_seq: AtomicU32::new(0),
            writer_bell: AtomicU32::new(0),
            _pad2: Pad::new(),
            readers_waiting: AtomicU64::new(0),
            data_seq: AtomicU32::new(0),
            _pad3a: Pad::new(),
            readers_bell: AtomicU64::new(0),
            _pad3: Pad::new(),
            writer_pid: AtomicU32::new(0),
            writer_epoch: AtomicU32::new(0),
            writer_state: AtomicU32::new(0),
            _pad4: Pad::new(),
            _reserved: Pad::new(),
        }
    }
}

impl ReaderSlot {
    /// A zeroed slot, for heap regions under loom.
    #[cfg(loom)]
    pub(crate) fn zeroed() -> Self {
        ReaderSlot {
            read_pos: AtomicU64::new(0),
            pid: AtomicU32::new(0),
            epoch: AtomicU32::new(0),
            state: AtomicU32::new(0),
            kind: AtomicU32::new(0),
            _pad: Pad::new(),
        }
    }
}

/// Byte offset (inside the file) of the one-byte lock range a writer holds while attached.
pub const WRITER_LOCK_BYTE: u64 = 512;

/// Byte offset (inside the file) of the one-byte lock range the reader of slot `slot` holds
/// while attached: the first byte of the slot's `pid` field.
///
/// ```
/// assert_eq!(mmring_core::layout::reader_lock_byte(0), 1032);
/// ```
#[inline]
pub const fn reader_lock_byte(slot: u32) -> u64 {
    (READER_TABLE_OFFSET + slot as usize * SLOT_SIZE + 8) as u64
}

/// The 32-bit position stamp carried by the record header at ring position `pos`: bits 3..35
/// of the position. Two positions one lap apart (up to 4 GiB) never share a stamp.
#[inline]
pub const fn stamp(pos: u64) -> u32 {
    (pos >> 3) as u32
}

/// The committed header word of a message record of `len` bytes at ring position `pos`:
/// `len | COMMIT` in bytes 0..4, `stamp(pos) ^ KEY_MESSAGE` in bytes 4..8 (little-endian).
///
/// ```
/// use mmring_core::layout::{message_word, COMMIT};
/// let w = message_word(64, 5);
/// assert_eq!(w as u32, 5 | COMMIT);
/// ```
#[inline]
pub const fn message_word(pos: u64, len: u32) -> u64 {
    (((stamp(pos) ^ KEY_MESSAGE) as u64) << 32) | (len | COMMIT) as u64
}

/// The committed header word of a padding record of `len` bytes (after its header) at ring
/// position `pos`.
#[inline]
pub const fn padding_word(pos: u64, len: u32) -> u64 {
    (((stamp(pos) ^ KEY_PADDING) as u64) << 32) | (len | COMMIT) as u64
}

/// Total bytes a record with a `len`-byte payload occupies: header plus payload rounded up to
/// 8 bytes.
///
/// ```
/// assert_eq!(mmring_core::layout::record_size(0), 8);
/// assert_eq!(mmring_core::layout::record_size(9), 24);
/// ```
#[inline]
pub const fn record_size(len: u64) -> u64 {
    RECORD_ALIGN + ((len + RECORD_ALIGN - 1) & !(RECORD_ALIGN - 1))
}

/// The largest payload a ring of `capacity` data bytes accepts: `capacity / 2 - 8`.
///
/// Half the capacity guarantees that a message always fits contiguously once the readers have
/// caught up, whatever the wrap point: either it fits before the end of the data region, or the
/// end is less than half the ring away and the start has room for it after a padding record.
///
/// ```
/// assert_eq!(mmring_core::layout::max_message_len(64), 24);
/// ```
#[inline]
pub const fn max_message_len(capacity: u64) -> u64 {
    capacity / 2 - RECORD_ALIGN
}

/// Whether `capacity` is a data size this crate accepts.
///
/// ```
/// use mmring_core::layout::capacity_is_valid;
/// assert!(capacity_is_valid(4096) && !capacity_is_valid(4095) && !capacity_is_valid(32));
/// ```
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
    const_assert_eq!(offset_of!(Header, data_offset), 12);
    const_assert_eq!(offset_of!(Header, capacity), 16);
    const_assert_eq!(offset_of!(Header, ready), 24);
    const_assert_eq!(offset_of!(Header, flags), 28);
    const_assert_eq!(offset_of!(Header, creator_pid), 32);
    const_assert_eq!(offset_of!(Header, reader_slots), 36);
    const_assert_eq!(offset_of!(Header, write_pos), 128);
    const_assert_eq!(offset_of!(Header, tail_pos), 136);
    const_assert_eq!(offset_of!(Header, writer_waiting), 256);
    const_assert_eq!(offset_of!(Header, space_seq), 260);
    const_assert_eq!(offset_of!(Header, writer_bell), 264);
    const_assert_eq!(offset_of!(Header, readers_waiting), 384);
    const_assert_eq!(offset_of!(Header, data_seq), 392);
    const_assert_eq!(offset_of!(Header, readers_bell), 400);
    const_assert_eq!(offset_of!(Header, writer_pid), 512);
    const_assert_eq!(offset_of!(Header, writer_epoch), 516);
    const_assert_eq!(offset_of!(Header, writer_state), 520);
    const_assert_eq!(WRITER_LOCK_BYTE as usize, offset_of!(Header, writer_pid));
    const_assert_eq!(size_of::<ReaderSlot>(), SLOT_SIZE);
    const_assert_eq!(align_of::<ReaderSlot>(), 8);
    const_assert_eq!(offset_of!(ReaderSlot, read_pos), 0);
    const_assert_eq!(offset_of!(ReaderSlot, pid), 8);
    const_assert_eq!(offset_of!(ReaderSlot, epoch), 12);
    const_assert_eq!(offset_of!(ReaderSlot, state), 16);
    const_assert_eq!(offset_of!(ReaderSlot, kind), 20);
    const_assert_eq!(
        reader_lock_byte(0) as usize,
        READER_TABLE_OFFSET + offset_of!(ReaderSlot, pid)
    );
    // Atomics have the size and alignment of the integers C will use for them.
    const_assert_eq!(size_of::<AtomicU64>(), 8);
    const_assert_eq!(align_of::<AtomicU64>(), 8);
    const_assert_eq!(size_of::<AtomicU32>(), 4);
    const_assert_eq!(data_offset(MAX_READERS) % PAGE, 0);
    static_assertions::const_assert!(data_offset(MAX_READERS) <= MAX_DATA_OFFSET);
    // The largest message length fits the 31 length bits of a record header.
    static_assertions::const_assert!(max_message_len(MAX_CAPACITY) < COMMIT as u64);
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
    fn record_words_are_never_zero_and_differ_per_lap() {
        for cap in [64u64, 4096, 1 << 32] {
            for pos in [0u64, 8, cap - 8, cap, 5 * cap + 64] {
                let w = message_word(pos, 0);
                assert_ne!(w, 0);
                assert_ne!(w, message_word(pos + cap, 0), "cap {cap} pos {pos}");
                assert_ne!(w, padding_word(pos, 0));
                assert_eq!(&w.to_le_bytes()[..4], &COMMIT.to_le_bytes());
            }
        }
    }

    #[test]
    fn max_message_fits_twice() {
        for shift in 6..=32 {
            let cap = 1u64 << shift;
            let m = max_message_len(cap);
            assert!(record_size(m) * 2 <= cap, "cap {cap}");
            assert!(m < u64::from(COMMIT));
        }
    }

    #[test]
    fn magic_bytes() {
        assert_eq!(&MAGIC.to_le_bytes(), b"MMRING\r\n");
    }

    #[test]
    fn data_offsets() {
        assert_eq!(data_offset(1), 4096);
        assert_eq!(data_offset(24), 4096);
        assert_eq!(data_offset(64), 12288);
    }
}
