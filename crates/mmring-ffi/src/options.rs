//! `mmring_options`: how to create or open a ring, as a C struct that can grow.

use crate::boundary::{call, out};
use crate::status::{Error, StatusC};
use api::{RingOptions, WaitStrategy};
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
/// something this library cannot do).
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
}

/// The most reader slots a ring can have.
pub const MMRING_MAX_READERS: u32 = 64;
const _: () = assert!(MMRING_MAX_READERS == api::layout::MAX_READERS);

const SIZE: usize = std::mem::size_of::<OptionsC>();
const _: () = assert!(SIZE == 48);

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
        }
    }
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

/// The `RingOptions` that `opts` (null: the defaults) describes.
///
/// # Safety
/// `opts` is null or points to at least `opts->struct_size` readable bytes.
pub(crate) unsafe fn from_c(opts: *const OptionsC) -> Result<RingOptions, Error> {
    let o = if opts.is_null() {
        OptionsC::defaults()
    } else {
        // SAFETY: non-null; its first field is readable (contract: at least struct_size >= 4
        // bytes; a caller passing fewer has broken it in any case).
        let size = unsafe { opts.cast::<u32>().read_unaligned() } as usize;
        if size < SIZE {
            return Err(Error::arg(format_args!(
                "mmring_options.struct_size is {size}, smaller than any version of the struct \
                 ({SIZE} bytes); call mmring_options_init"
            )));
        }
        if size > 1 << 16 {
            return Err(Error::arg(format_args!(
                "mmring_options.struct_size is {size}: not an options struct (uninitialised?)"
            )));
        }
        // SAFETY: `size` bytes are readable (contract), `u8` has no invalid values.
        let extra = unsafe { std::slice::from_raw_parts(opts.cast::<u8>().add(SIZE), size - SIZE) };
        if let Some(i) = extra.iter().position(|b| *b != 0) {
            return Err(Error::arg(format_args!(
                "mmring_options has a non-zero field at byte {} that this library version \
                 does not know",
                SIZE + i
            )));
        }
        // SAFETY: at least SIZE bytes are readable; every field is an integer, so any bytes
        // are a valid value. Unaligned read: the caller's struct need not be aligned for us.
        unsafe { opts.read_unaligned() }
    };
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
    r = r
        .mode(o.mode)
        .wait_strategy(wait_strategy(o.wait_strategy)?)
        .init_timeout(Duration::from_nanos(o.init_timeout_ns))
        .readers(o.readers)
        .allow_foreign_owner(o.flags & MMRING_OPT_ALLOW_FOREIGN_OWNER != 0);
    if o.flags & MMRING_OPT_SET_GROUP != 0 {
        r = r.group(o.group);
    }
    Ok(r)
}

/// A capacity as the library's `usize`, refusing what does not fit.
pub(crate) fn capacity(c: u64) -> Result<usize, Error> {
    usize::try_from(c).map_err(|_| {
        Error::arg(format_args!(
            "invalid capacity {c}: must be a power of two between 64 bytes and 4 GiB"
        ))
    })
}

/// Fills `*opts` with the defaults: open an existing ring, mode 0600, `MMRING_WAIT_PARK`, one
/// second of waiting for a creator, one reader slot, no flags; `struct_size` is set to
/// `sizeof(mmring_options)`.
///
/// # Errors
/// `MMRING_INVALID_ARGUMENT` if `opts` is null.
///
/// # Safety
/// `opts` is null or valid for writing an `mmring_options`.
#[no_mangle]
pub unsafe extern "C" fn mmring_options_init(opts: *mut OptionsC) -> StatusC {
    call(|| {
        // SAFETY: null or writable (contract).
        *unsafe { out(opts, "options") }? = OptionsC::defaults();
        Ok(())
    })
}
