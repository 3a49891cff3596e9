//! `mmring_inspect` (a read-only look at a ring) and `mmring_create_unattached`.

use crate::boundary::{self, call};
use crate::options::{from_c, OptionsC};
use crate::status::{Error, StatusC};
use api::{ReaderKind, SideInfo, SideState};
use std::ffi::c_char;

/// `mmring_side_info.state`: never attached.
pub const MMRING_SIDE_NEVER: u32 = 0;
/// `mmring_side_info.state`: attached (check `alive`: it may have died without detaching).
pub const MMRING_SIDE_ATTACHED: u32 = 1;
/// `mmring_side_info.state`: detached cleanly.
pub const MMRING_SIDE_CLOSED: u32 = 2;
/// `mmring_side_info.state`: a value no correct process writes.
pub const MMRING_SIDE_INVALID: u32 = 3;

/// `mmring_reader_info.kind`: lossless, holds the writer back (also a slot never attached).
/// Also the `mmring_options.reader_kind` that opens such a reader (the default).
pub const MMRING_READER_TETHERED: u32 = 1;
/// `mmring_reader_info.kind`: lossy, never holds the writer back. Also the
/// `mmring_options.reader_kind` that opens such a reader.
pub const MMRING_READER_UNTETHERED: u32 = 2;
/// `mmring_reader_info.kind`: a value no correct process writes.
pub const MMRING_READER_KIND_INVALID: u32 = 0;

/// A count `mmring_inspect` could not determine (the records could not be followed
/// consistently: they changed under it, were overwritten, or are corrupt).
pub const MMRING_UNKNOWN: u64 = u64::MAX;

/// One side of a ring (the writer, or one reader slot's owner), as `mmring_inspect` saw it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SideInfoC {
    /// `MMRING_SIDE_*`.
    pub state: u32,
    /// The pid recorded by the last process that attached.
    pub pid: u32,
    /// How many times this side has been attached.
    pub epoch: u32,
    /// 1 if a live process holds the side's lock now (asked of the kernel), else 0.
    pub alive: u8,
    /// 1 if the side announced that it is asleep waiting, else 0.
    pub waiting: u8,
    /// Zero.
    pub reserved: [u8; 2],
}

/// One reader slot, as `mmring_inspect` saw it. This struct never grows (new per-slot data
/// would come with a new struct and function).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ReaderInfoC {
    /// The slot's index in the reader table.
    pub slot: u32,
    /// `MMRING_READER_TETHERED`, `MMRING_READER_UNTETHERED` or `MMRING_READER_KIND_INVALID`.
    pub kind: u32,
    /// The slot's owner.
    pub side: SideInfoC,
    /// The slot's released position.
    pub read_pos: u64,
    /// Bytes between `read_pos` and the end of the committed records, framing included.
    pub lag: u64,
    /// Messages between `read_pos` and the end, or `MMRING_UNKNOWN`.
    pub messages_pending: u64,
    /// Payload bytes of those messages, or `MMRING_UNKNOWN`.
    pub payload_bytes_pending: u64,
}

/// A snapshot of a ring's header (values may change the moment they are read). Set
/// `struct_size` to `sizeof(mmring_ring_info)` before calling `mmring_inspect`; later versions
/// only append fields, and fill only as many bytes as the caller's `struct_size` says.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RingInfoC {
    /// In: `sizeof(mmring_ring_info)` as the caller compiled it. Out: the bytes filled.
    pub struct_size: u32,
    /// Layout version of the ring.
    pub version: u32,
    /// Offset of the data region in the file.
    pub data_offset: u32,
    /// The creator's pid.
    pub creator_pid: u32,
    /// Data capacity in bytes.
    pub capacity: u64,
    /// Longest message the ring accepts.
    pub max_message_len: u64,
    /// The writer's published cursor.
    pub write_pos: u64,
    /// Where the committed records end, or `MMRING_UNKNOWN` (corrupt).
    pub end_pos: u64,
    /// The oldest record the writer has not declared free for overwriting.
    pub tail_pos: u64,
    /// The writer side.
    pub writer: SideInfoC,
    /// How many reader slots the ring has (whether or not they all fitted the caller's array).
    pub readers: u32,
    /// Zero.
    pub reserved: u32,
}

const INFO_SIZE: usize = std::mem::size_of::<RingInfoC>();
const _: () = assert!(INFO_SIZE == 80 && std::mem::size_of::<ReaderInfoC>() == 56);

fn side(s: &SideInfo) -> SideInfoC {
    SideInfoC {
        state: match s.state {
            SideState::Never => MMRING_SIDE_NEVER,
            SideState::Attached => MMRING_SIDE_ATTACHED,
            SideState::Closed => MMRING_SIDE_CLOSED,
            SideState::Invalid(_) => MMRING_SIDE_INVALID,
        },
        pid: s.pid,
        epoch: s.epoch,
        alive: s.alive.into(),
        waiting: s.waiting.into(),
        reserved: [0; 2],
    }
}

/// Reads the header and reader table of the ring at `path` and walks its committed records,
/// read-only: never attaches, never writes a byte (a file we may only read is fine). Fills
/// `*info` (see `mmring_ring_info.struct_size`) and the first `min(readers_cap,
/// info->readers)` entries of `readers` (which may be NULL when `readers_cap` is 0).
///
/// # Errors
/// `MMRING_INVALID_ARGUMENT` (null `path` or `info`, `struct_size` smaller than version 1 of
/// the struct, null `readers` with a non-zero `readers_cap`), and the open errors of
/// `mmring_reader_open` (`MMRING_NOT_FOUND`, `MMRING_NOT_A_RING`, `MMRING_CORRUPT`...).
///
/// # Safety
/// `path` is null or NUL-terminated; `info` is null or writable for `info->struct_size` bytes;
/// `readers` is null or writable for `readers_cap` entries.
#[no_mangle]
pub unsafe extern "C" fn mmring_inspect(
    path: *const c_char,
    info: *mut RingInfoC,
    readers: *mut ReaderInfoC,
    readers_cap: usize,
) -> StatusC {
    call(|| {
        if info.is_null() {
            return Err(Error::arg("null info pointer"));
        }
        // SAFETY: non-null; its first field is readable (contract).
        let size = unsafe { info.cast::<u32>().read_unaligned() } as usize;
        if size < INFO_SIZE {
            return Err(Error::arg(format_args!(
                "mmring_ring_info.struct_size is {size}, smaller than any version of the struct \
                 ({INFO_SIZE} bytes): set it to sizeof(mmring_ring_info)"
            )));
        }
        if readers.is_null() && readers_cap > 0 {
            return Err(Error::arg(format_args!(
                "null readers array with a capacity of {readers_cap}"
            )));
        }
        // SAFETY: null or NUL-terminated (contract).
        let ri = api::inspect(unsafe { boundary::path(path) }?)?;
        let known = |v: Option<u64>| v.unwrap_or(MMRING_UNKNOWN);
        let c = RingInfoC {
            struct_size: INFO_SIZE as u32,
            version: ri.version,
            data_offset: ri.data_offset,
            creator_pid: ri.creator_pid,
            capacity: ri.capacity as u64,
            max_message_len: ri.max_message_len as u64,
            write_pos: ri.write_pos,
            end_pos: known(ri.end_pos),
            tail_pos: ri.tail_pos,
            writer: side(&ri.writer),
            readers: ri.readers.len() as u32,
            reserved: 0,
        };
        // SAFETY: at least INFO_SIZE bytes are writable (contract and the check above);
        // unaligned in case the caller's struct is not aligned for us.
        unsafe { info.write_unaligned(c) };
        for (i, r) in ri.readers.iter().take(readers_cap).enumerate() {
            let rc = ReaderInfoC {
                slot: r.slot,
                kind: match r.kind {
                    ReaderKind::Tethered => MMRING_READER_TETHERED,
                    ReaderKind::Untethered => MMRING_READER_UNTETHERED,
                    ReaderKind::Invalid(_) => MMRING_READER_KIND_INVALID,
                },
                side: side(&r.side),
                read_pos: r.read_pos,
                lag: r.lag,
                messages_pending: known(r.messages_pending),
                payload_bytes_pending: known(r.payload_bytes_pending),
            };
            // SAFETY: `i < readers_cap` entries are writable (contract); non-null (checked).
            unsafe { readers.add(i).write_unaligned(rc) };
        }
        Ok(())
    })
}

/// Creates the ring file at `path` as `opts` says (`MMRING_CREATE` or
/// `MMRING_CREATE_IF_MISSING`; otherwise only opens and validates it) without attaching as
/// either side, so that the writer and the reader that attach later both find their peer
/// "never attached": for tools that prepare a ring for two other processes.
///
/// # Errors
/// As `mmring_writer_open`, except `MMRING_SIDE_TAKEN`; `MMRING_INVALID_ARGUMENT` if `opts` is
/// null.
///
/// # Safety
/// `path` is null or NUL-terminated; `opts` is null or an initialised `mmring_options`.
#[no_mangle]
pub unsafe extern "C" fn mmring_create_unattached(
    path: *const c_char,
    opts: *const OptionsC,
) -> StatusC {
    call(|| {
        if opts.is_null() {
            return Err(Error::arg(
                "null options: mmring_create_unattached needs a capacity",
            ));
        }
        // SAFETY: NUL-terminated and an initialised options struct (contract).
        let (path, opts) = unsafe { (boundary::path(path)?, from_c(opts)?) };
        Ok(opts.ring.create_unattached(path)?)
    })
}
