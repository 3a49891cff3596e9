//! A read-only look at a ring in use: never claims a side, never writes a byte.

use crate::error::{OpenError, Side};
use crate::layout::{
    record_size, split_record_word, Header, HEADER_SIZE, MAX_CAPACITY, MAX_HEADER_LEN,
    READER_LOCK_BYTE, SIDE_ATTACHED, SIDE_CLOSED, SIDE_NEVER, TAG_MESSAGE, TAG_PADDING,
    WRITER_LOCK_BYTE,
};
use crate::region::guard::Guard;
use crate::region::{check_file, check_header, lock, HeaderState};
use crate::sync::Ordering;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// What the header says about one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideState {
    /// Never attached.
    Never,
    /// Attached (check [`SideInfo::alive`]: it may have died without detaching).
    Attached,
    /// Detached cleanly.
    Closed,
    /// A value no correct process writes.
    Invalid(u32),
}

/// One side of a ring, as [`inspect`] saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SideInfo {
    /// The state word.
    pub state: SideState,
    /// The pid recorded by the last process that attached.
    pub pid: u32,
    /// How many times this side has been attached.
    pub epoch: u32,
    /// Whether a live process holds the side's claim now (asked of the kernel).
    pub alive: bool,
    /// Whether the side announced that it is asleep waiting.
    pub waiting: bool,
}

/// A snapshot of a ring's header and contents. Values may change the moment they are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingInfo {
    /// The path inspected.
    pub path: PathBuf,
    /// Layout version.
    pub version: u32,
    /// Offset of the data region.
    pub header_len: u32,
    /// Data capacity in bytes.
    pub capacity: u64,
    /// Longest message the ring accepts.
    pub max_message_len: u64,
    /// The creator's pid.
    pub creator_pid: u32,
    /// Producer cursor.
    pub write_pos: u64,
    /// Consumer cursor.
    pub read_pos: u64,
    /// `write_pos - read_pos`: bytes committed and not released, framing included.
    pub bytes_in_flight: u64,
    /// Messages committed and not released, counted by walking the records (`None` if the
    /// records could not be walked consistently, e.g. they changed under us or are corrupt).
    pub messages_in_flight: Option<u64>,
    /// Payload bytes of those messages.
    pub payload_bytes_in_flight: Option<u64>,
    /// The writer side.
    pub writer: SideInfo,
    /// The reader side.
    pub reader: SideInfo,
}

/// Reads the header and walks the committed records of the ring at `path`, read-only.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("mmring-doc-inspect-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let mut w = mmring_core::Writer::create(&path, 4096)?;
/// w.try_send(b"abc").unwrap();
/// let info = mmring_core::inspect(&path)?;
/// assert_eq!(info.messages_in_flight, Some(1));
/// assert!(info.writer.alive && !info.reader.alive);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), mmring_core::OpenError>(())
/// ```
///
/// # Errors
/// The same open-time errors as [`Writer::open`](crate::Writer::open), except that a file we
/// may only read is fine.
pub fn inspect(path: impl AsRef<Path>) -> Result<RingInfo, OpenError> {
    let path = path.as_ref();
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| crate::region::classify_open_error(path, e))?;
    let len = check_file(&file, path, true)?;
    if len == 0 {
        return Err(OpenError::Empty {
            path: path.to_path_buf(),
        });
    }
    if len < HEADER_SIZE as u64 {
        return Err(OpenError::TooShort {
            path: path.to_path_buf(),
            len,
        });
    }
    if len > u64::from(MAX_HEADER_LEN) + MAX_CAPACITY {
        // Too long for any valid ring: read just the header to say what is wrong with it.
        return Err(header_only(&file, path, len));
    }
    // A raw mapping: we only read it, through atomics (for the header) and volatile loads (for
    // records) at offsets validated against `len`, never through Rust references to its bytes.
    let map = memmap2::MmapOptions::new()
        .len(len as usize)
        .map_raw_read_only(&file)
        .map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            op: "mmap",
            source,
        })?;
    // A truncation while we look turns the rest of the look into zeros instead of SIGBUS.
    // Declared after `map`, so dropped (unregistered) before it is unmapped.
    let _guard = Guard::register(map.as_ptr(), map.len());
    // SAFETY: page-aligned, at least HEADER_SIZE bytes, any bits are a valid `Header`. Only
    // loads are performed (atomic loads of naturally aligned words are fine on read-only
    // memory).
    let h = unsafe { &*map.as_ptr().cast::<Header>() };
    let geo = match check_header(h, len, path)? {
        HeaderState::Valid(g) => g,
        HeaderState::NotReady => {
            return Err(OpenError::NotInitialised {
                path: path.to_path_buf(),
                waited: Default::default(),
            })
        }
    };
    let write_pos = h.write_pos.load(Ordering::Acquire);
    let read_pos = h.read_pos.load(Ordering::Acquire);
    let side = |s: Side| {
        let (state, pid, epoch, waiting, byte) = match s {
            Side::Writer => (
                &h.writer_state,
                &h.writer_pid,
                &h.writer_epoch,
                &h.writer_waiting,
                WRITER_LOCK_BYTE,
            ),
            Side::Reader => (
                &h.reader_state,
                &h.reader_pid,
                &h.reader_epoch,
                &h.reader_waiting,
                READER_LOCK_BYTE,
            ),
        };
        let state = match state.load(Ordering::Relaxed) {
            SIDE_NEVER => SideState::Never,
            SIDE_ATTACHED => SideState::Attached,
            SIDE_CLOSED => SideState::Closed,
            v => SideState::Invalid(v),
        };
        SideInfo {
            state,
            pid: pid.load(Ordering::Relaxed),
            epoch: epoch.load(Ordering::Relaxed),
            alive: lock::held_by_other(&file, byte).unwrap_or(false),
            waiting: waiting.load(Ordering::Relaxed) != 0,
        }
    };
    let (messages, payload) = match walk(
        &map,
        geo.data_offset,
        geo.cap,
        geo.max_msg,
        read_pos,
        write_pos,
    ) {
        Some((m, p)) => (Some(m), Some(p)),
        None => (None, None),
    };
    Ok(RingInfo {
        path: path.to_path_buf(),
        version: h.version.load(Ordering::Relaxed),
        header_len: h.header_len.load(Ordering::Relaxed),
        capacity: geo.cap,
        max_message_len: geo.max_msg,
        creator_pid: h.creator_pid.load(Ordering::Relaxed),
        write_pos,
        read_pos,
        bytes_in_flight: write_pos.wrapping_sub(read_pos),
        messages_in_flight: messages,
        payload_bytes_in_flight: payload,
        writer: side(Side::Writer),
        reader: side(Side::Reader),
    })
}

/// The error for a file too long to be a ring, from its header alone.
fn header_only(file: &std::fs::File, path: &Path, len: u64) -> OpenError {
    let map = match memmap2::MmapOptions::new()
        .len(HEADER_SIZE)
        .map_raw_read_only(file)
    {
        Ok(m) => m,
        Err(source) => {
            return OpenError::Io {
                path: path.to_path_buf(),
                op: "mmap",
                source,
            }
        }
    };
    let _guard = Guard::register(map.as_ptr(), map.len());
    // SAFETY: page-aligned, HEADER_SIZE bytes, any bits are a valid `Header`; loads only.
    let h = unsafe { &*map.as_ptr().cast::<Header>() };
    match check_header(h, len, path) {
        Err(e) => e,
        Ok(HeaderState::NotReady) => OpenError::NotInitialised {
            path: path.to_path_buf(),
            waited: Default::default(),
        },
        // A valid header cannot agree with a length beyond the largest valid ring.
        Ok(HeaderState::Valid(_)) => OpenError::LengthMismatch {
            path: path.to_path_buf(),
            expected: u64::from(h.header_len.load(Ordering::Relaxed))
                + h.capacity.load(Ordering::Relaxed),
            actual: len,
        },
    }
}

/// Counts the message records between the cursors, validating each as a reader would.
fn walk(
    map: &memmap2::MmapRaw,
    data_off: u64,
    cap: u64,
    max_msg: u64,
    read: u64,
    write: u64,
) -> Option<(u64, u64)> {
    if read > write || write - read > cap || read % 8 != 0 || write % 8 != 0 {
        return None;
    }
    let (mut pos, mut count, mut bytes) = (read, 0u64, 0u64);
    while pos < write {
        let off = pos & (cap - 1);
        let at = data_off.checked_add(off)?;
        if at.checked_add(8)? > map.len() as u64 {
            return None;
        }
        // SAFETY: `at + 8 <= len` (just checked) and `at` is a multiple of 8 (both terms are),
        // in a page-aligned mapping; volatile because the ring's users may change it.
        let word = unsafe { map.as_ptr().add(at as usize).cast::<u64>().read_volatile() };
        let (len, tag) = split_record_word(u64::from_le(word));
        let len = u64::from(len);
        match tag {
            TAG_MESSAGE
                if len <= max_msg
                    && off + record_size(len) <= cap
                    && record_size(len) <= write - pos =>
            {
                pos += record_size(len);
                count += 1;
                bytes += len;
            }
            TAG_PADDING if len + 8 == cap - off && cap - off <= write - pos => pos += cap - off,
            _ => return None,
        }
    }
    (pos == write).then_some((count, bytes))
}
