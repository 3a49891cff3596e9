//! `mmring_options`: how to create or open a ring, as a C struct that can grow.

use crate::boundary::call;
use crate::info::{MMRING_READER_TETHERED, MMRING_READER_UNTETHERED};
use crate::status::{Error, StatusC};
use api::{RingOptions, StartAt, WaitStrategy};
use std::time::Duration;

/// How a blocked send or receive waits (a `uint32_t` holding one of the `MMRING_WAIT_*`
/// values).
pub type WaitStrategyC = u32;
/// Spin briefly, then sleep on a futex in the mapping until the peer makes progress (the
/// default; an idle side wakes every 20 ms to check that its peer is alive).
pub const MMRING_WAIT_PARK: WaitStrategyC = 0;
/// Poll without pause: the lowest latency, one CPU busy while waiting.
pub const MMRING_WAIT_SPIN: WaitStrategyC = 1;
/// Poll for a few microseconds, then `sched_yield` between polls.
pub const MMRING_WAIT_SPIN_YIELD: WaitStrategyC = 2;

/// Whether opening creates the ring (`mmring_options.create`).
pub type CreateModeC = u32;
/// Open an existing ring only (the default).
pub const MMRING_OPEN_EXISTING: CreateModeC = 0;
/// Create a new ring of `capacity` bytes; `MMRING_ALREADY_EXISTS` if anything is at the path.
pub const MMRING_CREATE: CreateModeC = 1;
/// Create a ring of `capacity` bytes if nothing is at the path, else open it (its capacity is
/// then its creator's).
pub const MMRING_CREATE_IF_MISSING: CreateModeC = 2;

/// `mmring_options.flags`: accept a ring file owned by another user (refused by default: see
/// docs/SECURITY.md).
pub const MMRING_OPT_ALLOW_FOREIGN_OWNER: u32 = 1;
/// `mmring_options.flags`: give a created file the group `group`.
pub const MMRING_OPT_SET_GROUP: u32 = 2;
const KNOWN_FLAGS: u32 = MMRING_OPT_ALLOW_FOREIGN_OWNER | MMRING_OPT_SET_GROUP;

/// Which kind of reader `mmring_reader_open` attaches (`mmring_options.reader_kind`): a
/// `uint32_t` holding `MMRING_READER_TETHERED` (the default; 0, as in a zeroed struct, means
/// the same) or `MMRING_READER_UNTETHERED`, the values `mmring_reader_info.kind` reports.
pub type ReaderKindC = u32;

/// Where a reader starts (`mmring_options.start`).
pub type StartC = u32;
/// The default of the reader's kind: a tethered reader resumes where its slot's previous
/// reader left off (`MMRING_START_RESUME`, what `mmring_reader_open` always did), an untethered
/// one starts at the next message (`MMRING_START_NEXT`).
pub const MMRING_START_DEFAULT: StartC = 0;
/// At the oldest message still in the ring.
pub const MMRING_START_OLDEST: StartC = 1;
/// At the next message the writer commits (nothing already in the ring is received).
pub const MMRING_START_NEXT: StartC = 2;
/// Where the slot's previous reader left off (the start of the ring for a slot never used), so
/// that a reader that restarts misses nothing; if the writer has overwritten that position
/// since, at the oldest message still in the ring, and the first receive reports the loss
/// (`MMRING_LAPPED`).
pub const MMRING_START_RESUME: StartC = 3;

/// Settings for creating or opening a ring. Initialise it with `mmring_options_init` (which
/// sets `struct_size` and every default), then change fields:
///
/// ```c
/// mmring_options o;
/// mmring_options_init(&o);
/// o.create = MMRING_CREATE_IF_MISSING;
/// o.capacity = 1 << 20;
/// o.mode = 0640;
/// ```
///
/// Growth rule: later versions only append fields. A library accepts a struct of any size it
/// knows (fields beyond the caller's `struct_size` take their defaults) and a larger one if every
/// byte beyond its own fields is zero (`MMRING_INVALID_ARGUMENT` otherwise: the caller asked for
/// something this library cannot do). Version 1 ended at `reserved` (48 bytes); version 2 added
/// `reader_kind` and `start` (56 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OptionsC {
    /// `sizeof(mmring_options)` as the caller compiled it (set by `mmring_options_init`).
    pub struct_size: u32,
    /// `MMRING_OPEN_EXISTING` (default), `MMRING_CREATE` or `MMRING_CREATE_IF_MISSING`.
    pub create: CreateModeC,
    /// Data capacity of a created ring: a power of two from 64 bytes to 4 GiB.
    pub capacity: u64,
    /// Permission bits of a created file (default 0600), applied exactly whatever the umask;
    /// only bits within 0777 (`MMRING_INVALID_ARGUMENT` otherwise, when creating).
    pub mode: u32,
    /// `MMRING_WAIT_PARK` (default), `MMRING_WAIT_SPIN` or `MMRING_WAIT_SPIN_YIELD`.
    pub wait_strategy: WaitStrategyC,
    /// How long opening waits for a creator still writing the header (default one second).
    pub init_timeout_ns: u64,
    /// Group id of a created file, used when `flags` has `MMRING_OPT_SET_GROUP`.
    pub group: u32,
    /// `MMRING_OPT_*` bits (default 0).
    pub flags: u32,
    /// Reader slots of a created ring (default 1, at most `MMRING_MAX_READERS`).
    pub readers: u32,
    /// Must be 0.
    pub reserved: u32,
    /// The kind of reader `mmring_reader_open` attaches: `MMRING_READER_TETHERED` (default:
    /// lossless, holds the writer back) or `MMRING_READER_UNTETHERED` (lossy, never holds the
    /// writer back; see docs/C-API.md). 0 means tethered too. Ignored by writers. (Version 2.)
    pub reader_kind: ReaderKindC,
    /// Where a reader starts: `MMRING_START_DEFAULT` (default), `MMRING_START_OLDEST`,
    /// `MMRING_START_NEXT` or `MMRING_START_RESUME`. Ignored by writers. (Version 2.)
    pub start: StartC,
}

/// The most reader slots a ring can have.
pub const MMRING_MAX_READERS: u32 = 64;
const _: () = assert!(MMRING_MAX_READERS == api::layout::MAX_READERS);

const SIZE: usize = std::mem::size_of::<OptionsC>();
const _: () = assert!(SIZE == 56);
/// The size of version 1 of the struct (up to `reserved`), the smallest accepted.
const V1_SIZE: usize = std::mem::offset_of!(OptionsC, reader_kind);
const _: () = assert!(V1_SIZE == 48);
/// The largest `struct_size` taken for a struct rather than garbage.
const MAX_SIZE: usize = 1 << 16;

impl OptionsC {
    fn defaults() -> OptionsC {
        OptionsC {
            struct_size: SIZE as u32,
            create: MMRING_OPEN_EXISTING,
            capacity: 0,
            mode: 0o600,
            wait_strategy: MMRING_WAIT_PARK,
            init_timeout_ns: 1_000_000_000,
            group: 0,
            flags: 0,
            readers: 1,
            reserved: 0,
            reader_kind: MMRING_READER_TETHERED,
            start: MMRING_START_DEFAULT,
        }
    }
}

/// What `mmring_options` asks for: the Rust options (with the start position resolved for the
/// reader kind), and whether a reader is untethered.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) ring: RingOptions,
    pub(crate) untethered: bool,
}

/// A wait strategy from its C value.
pub(crate) fn wait_strategy(v: WaitStrategyC) -> Result<WaitStrategy, Error> {
    match v {
        MMRING_WAIT_PARK => Ok(WaitStrategy::Park),
        MMRING_WAIT_SPIN => Ok(WaitStrategy::Spin),
        MMRING_WAIT_SPIN_YIELD => Ok(WaitStrategy::SpinYield),
        v => Err(Error::arg(format_args!(
            "unknown wait strategy {v} (MMRING_WAIT_PARK, _SPIN or _SPIN_YIELD)"
        ))),
    }
}

/// What `opts` (null: the defaults) describes.
///
/// # Safety
/// `opts` is null or points to at least `opts->struct_size` readable bytes.
pub(crate) unsafe fn from_c(opts: *const OptionsC) -> Result<Parsed, Error> {
    let mut o = OptionsC::defaults();
    if !opts.is_null() {
        // SAFETY: non-null; its first field is readable (contract: at least struct_size >= 4
        // bytes; a caller passing fewer has broken it in any case).
        let size = unsafe { opts.cast::<u32>().read_unaligned() } as usize;
        if size < V1_SIZE {
            return Err(Error::arg(format_args!(
                "mmring_options.struct_size is {size}, smaller than any version of the struct \
                 ({V1_SIZE} bytes); call mmring_options_init"
            )));
        }
        if size > MAX_SIZE {
            return Err(Error::arg(format_args!(
                "mmring_options.struct_size is {size}: not an options struct (uninitialised?)"
            )));
        }
        if size > SIZE {
            // SAFETY: `size` bytes are readable (contract), `u8` has no invalid values.
            let extra =
                unsafe { std::slice::from_raw_parts(opts.cast::<u8>().add(SIZE), size - SIZE) };
            if let Some(i) = extra.iter().position(|b| *b != 0) {
                return Err(Error::arg(format_args!(
                    "mmring_options has a non-zero field at byte {} that this library version \
                     does not know",
                    SIZE + i
                )));
            }
        }
        // The caller's fields over the defaults: an older caller's struct ends early, and the
        // fields it does not have keep their defaults.
        // SAFETY: `min(size, SIZE)` bytes are readable at `opts` (contract) and writable in
        // `o`, which is a distinct local; every field is an integer, so any bytes are a valid
        // value. Byte-wise, so the caller's struct need not be aligned for us.
        unsafe {
            std::ptr::copy_nonoverlapping(
                opts.cast::<u8>(),
                std::ptr::from_mut(&mut o).cast::<u8>(),
                size.min(SIZE),
            );
        }
    }
    let mut r = RingOptions::new();
    r = match o.create {
        MMRING_OPEN_EXISTING => r,
        MMRING_CREATE => r.create(capacity(o.capacity)?),
        MMRING_CREATE_IF_MISSING => r.create_if_missing(capacity(o.capacity)?),
        v => {
            return Err(Error::arg(format_args!(
                "unknown mmring_options.create {v} (MMRING_OPEN_EXISTING, MMRING_CREATE or \
                 MMRING_CREATE_IF_MISSING)"
            )))
        }
    };
    if o.flags & !KNOWN_FLAGS != 0 {
        return Err(Error::arg(format_args!(
            "unknown mmring_options.flags bits {:#x}",
            o.flags & !KNOWN_FLAGS
        )));
    }
    if o.reserved != 0 {
        return Err(Error::arg("mmring_options.reserved must be 0"));
    }
    let untethered = match o.reader_kind {
        0 | MMRING_READER_TETHERED => false,
        MMRING_READER_UNTETHERED => true,
        v => {
            return Err(Error::arg(format_args!(
                "unknown mmring_options.reader_kind {v} (MMRING_READER_TETHERED or \
                 MMRING_READER_UNTETHERED)"
            )))
        }
    };
    let start = match o.start {
        MMRING_START_DEFAULT if untethered => StartAt::Next,
        MMRING_START_DEFAULT | MMRING_START_RESUME => StartAt::Resume,
        MMRING_START_OLDEST => StartAt::Oldest,
        MMRING_START_NEXT => StartAt::Next,
        v => {
            return Err(Error::arg(format_args!(
                "unknown mmring_options.start {v} (MMRING_START_DEFAULT, _OLDEST, _NEXT or \
                 _RESUME)"
            )))
        }
    };
    r = r
        .mode(o.mode)
        .wait_strategy(wait_strategy(o.wait_strategy)?)
        .init_timeout(Duration::from_nanos(o.init_timeout_ns))
        .readers(o.readers)
        .allow_foreign_owner(o.flags & MMRING_OPT_ALLOW_FOREIGN_OWNER != 0)
        .start_at(start);
    if o.flags & MMRING_OPT_SET_GROUP != 0 {
        r = r.group(o.group);
    }
    Ok(Parsed {
        ring: r,
        untethered,
    })
}

/// A capacity as the library's `usize`, refusing what does not fit.
pub(crate) fn capacity(c: u64) -> Result<usize, Error> {
    usize::try_from(c).map_err(|_| {
        Error::arg(format_args!(
            "invalid capacity {c}: must be a power of two between 64 bytes and 4 GiB"
        ))
    })
}

/// Fills `*opts`, a struct of `size` bytes, with the defaults: open an existing ring, mode
/// 0600, `MMRING_WAIT_PARK`, one second of waiting for a creator, one reader slot, no flags, a
/// tethered reader starting as `MMRING_START_DEFAULT` says; `struct_size` is set to `size`.
/// Fields of a newer version than this library's (bytes beyond its own struct, up to `size`)
/// are zeroed, which is their default. Call it as `mmring_options_init(&o)`: the header's macro
/// of that name passes `sizeof o`.
///
/// # Errors
/// `MMRING_INVALID_ARGUMENT` if `opts` is null, or `size` is smaller than version 1 of the
/// struct (48 bytes) or larger than 65536.
///
/// # Safety
/// `opts` is null or valid for writing `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn mmring_options_init_sized(opts: *mut OptionsC, size: usize) -> StatusC {
    call(|| {
        if opts.is_null() {
            return Err(Error::arg("null options pointer"));
        }
        if !(V1_SIZE..=MAX_SIZE).contains(&size) {
            return Err(Error::arg(format_args!(
                "options size {size}: must be sizeof(mmring_options), at least {V1_SIZE} bytes"
            )));
        }
        let defaults = OptionsC {
            struct_size: size as u32,
            ..OptionsC::defaults()
        };
        let dst = opts.cast::<u8>();
        // SAFETY: `dst` is writable for `size` bytes (contract), of which we write
        // `min(size, SIZE)` from a local, then zero the rest. Byte-wise, so the caller's struct
        // need not be aligned for us.
        unsafe {
            std::ptr::copy_nonoverlapping(
                std::ptr::from_ref(&defaults).cast::<u8>(),
                dst,
                size.min(SIZE),
            );
            if size > SIZE {
                std::ptr::write_bytes(dst.add(SIZE), 0, size - SIZE);
            }
        }
        Ok(())
    })
}

/// Fills version 1 of `*opts` (its first 48 bytes, up to `reserved`) with the defaults and sets
/// `struct_size` to 48: the function that programs compiled against the first header call.
/// The header defines a macro of the same name, `mmring_options_init(opts)`, which calls
/// `mmring_options_init_sized(opts, sizeof *(opts))` instead, so that a program always
/// initialises the whole struct it was compiled with (write `(mmring_options_init)(opts)` to
/// call this function itself).
///
/// # Errors
/// `MMRING_INVALID_ARGUMENT` if `opts` is null.
///
/// # Safety
/// `opts` is null or valid for writing 48 bytes.
#[no_mangle]
pub unsafe extern "C" fn mmring_options_init(opts: *mut OptionsC) -> StatusC {
    // SAFETY: forwarded contract: null or writable for 48 bytes (`V1_SIZE`).
    unsafe { mmring_options_init_sized(opts, V1_SIZE) }
}
