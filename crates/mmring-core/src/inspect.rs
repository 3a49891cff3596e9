//! A read-only look at a ring in use: never claims a side, never writes a byte.

use crate::error::OpenError;
use crate::layout::{
    reader_lock_byte, record_size, HEADER_SIZE, KIND_TETHERED, KIND_UNTETHERED, SIDE_ATTACHED,
    SIDE_CLOSED, SIDE_NEVER, WRITER_LOCK_BYTE,
};
use crate::os::{check_file, classify_open_error, lock, ReadOnlyRing};
use crate::ring::validate::{record_at, Record};
use crate::sync::{AtomicU32, Ordering};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// What the header says about one side.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("mmring-doc-sidestate-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let w = mmring_core::Writer::create(&path, 4096)?;
/// assert_eq!(mmring_core::inspect(&path)?.writer.state, mmring_core::SideState::Attached);
/// # drop(w); std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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

/// One side of a ring (the writer, or one reader slot's owner), as [`inspect`] saw it.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("mmring-doc-sideinfo-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let w = mmring_core::Writer::create(&path, 4096)?;
/// let info = mmring_core::inspect(&path)?;
/// assert_eq!(info.writer.pid, std::process::id());
/// assert!(info.writer.alive && !info.writer.waiting);
/// # drop(w); std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    /// Whether the side announced that it is asleep waiting (on its futex or its doorbell).
    pub waiting: bool,
}

/// Whether a reader holds the writer back.
///
/// ```
/// assert_ne!(mmring_core::ReaderKind::Tethered, mmring_core::ReaderKind::Untethered);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderKind {
    /// Lossless: the writer never overwrites what it has not released (also a slot never
    /// attached, which holds like one).
    Tethered,
    /// Lossy: never holds the writer back.
    Untethered,
    /// A value no correct process writes.
    Invalid(u32),
}

/// One reader slot, as [`inspect`] saw it.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("mmring-doc-readerinfo-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let mut w = mmring_core::Writer::create(&path, 4096)?;
/// w.try_send(b"abc")?;
/// let r = mmring_core::inspect(&path)?.readers[0];
/// assert_eq!((r.slot, r.lag, r.messages_pending), (0, 16, Some(1)));
/// # drop(w); std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The slot's index in the reader table.
    pub slot: u32,
    /// The slot's owner.
    pub side: SideInfo,
    /// Tethered or not.
    pub kind: ReaderKind,
    /// The slot's released position.
    pub read_pos: u64,
    /// Bytes between `read_pos` and the end of the committed records, framing included.
    pub lag: u64,
    /// Messages between `read_pos` and the end, counted by walking the records (`None` if they
    /// could not be walked consistently: they changed under us, were overwritten, or are
    /// corrupt).
    pub messages_pending: Option<u64>,
    /// Payload bytes of those messages.
    pub payload_bytes_pending: Option<u64>,
}

/// A snapshot of a ring's header and contents. Values may change the moment they are read.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("mmring-doc-ringinfo-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let w = mmring_core::Writer::create(&path, 4096)?;
/// let info = mmring_core::inspect(&path)?;
/// assert_eq!((info.version, info.capacity, info.readers.len()), (2, 4096, 1));
/// # drop(w); std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingInfo {
    /// The path inspected.
    pub path: PathBuf,
    /// Layout version.
    pub version: u32,
    /// Offset of the data region.
    pub data_offset: u32,
    /// Data capacity in bytes.
    pub capacity: usize,
    /// Longest message the ring accepts.
    pub max_message_len: usize,
    /// The creator's pid.
    pub creator_pid: u32,
    /// The writer's published cursor (the end of the committed records, except after a writer
    /// died between a commit and its cursor update: see `end_pos`).
    pub write_pos: u64,
    /// Where the committed records end, found by following them from `write_pos` (`None` if
    /// they could not be followed: corrupt).
    pub end_pos: Option<u64>,
    /// The oldest record the writer has not declared free for overwriting.
    pub tail_pos: u64,
    /// The writer side.
    pub writer: SideInfo,
    /// Every reader slot, in table order.
    pub readers: Vec<ReaderInfo>,
}

impl RingInfo {
    /// Messages not yet released by the slowest reader (`None` if any reader's count is
    /// unknown).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("mmring-doc-maxpending-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = mmring_core::Writer::create(&path, 4096)?;
    /// w.try_send(b"a")?;
    /// w.try_send(b"b")?;
    /// assert_eq!(mmring_core::inspect(&path)?.messages_pending(), Some(2));
    /// # drop(w); std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn messages_pending(&self) -> Option<u64> {
        self.readers
            .iter()
            .map(|r| r.messages_pending)
            .try_fold(0, |m, r| r.map(|r| m.max(r)))
    }
}

/// Reads the header and the reader table, and walks the committed records of the ring at
/// `path`, read-only.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("mmring-doc-inspect-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let mut w = mmring_core::Writer::create(&path, 4096)?;
/// w.try_send(b"abc")?;
/// let info = mmring_core::inspect(&path)?;
/// assert_eq!(info.readers[0].messages_pending, Some(1));
/// assert!(info.writer.alive && !info.readers[0].side.alive);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
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
        .map_err(|e| classify_open_error(path, e))?;
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
    let ring = ReadOnlyRing::map(&file, len, path)?;
    let geo = ring.geometry();
    let h = ring.header();
    // Acquire: pairs with the writer's Release store after each publication.
    let write_pos = h.write_pos.load(Ordering::Acquire);
    let tail_pos = h.tail_pos.load(Ordering::Relaxed);
    let end_pos = walk(&ring, write_pos, geo.cap, &mut |_, _| {}).map(|w| w.end);
    let waiting_mask =
        h.readers_waiting.load(Ordering::Relaxed) | h.readers_bell.load(Ordering::Relaxed);
    let writer = side(
        &file,
        [&h.writer_state, &h.writer_pid, &h.writer_epoch],
        WRITER_LOCK_BYTE,
        h.writer_waiting.load(Ordering::Relaxed) | h.writer_bell.load(Ordering::Relaxed) != 0,
    );
    let mut readers: Vec<ReaderInfo> = (0..geo.readers)
        .map(|i| {
            let s = ring.slot(i);
            ReaderInfo {
                slot: i,
                side: side(
                    &file,
                    [&s.state, &s.pid, &s.epoch],
                    reader_lock_byte(i),
                    waiting_mask & (1 << i) != 0,
                ),
                kind: match s.kind.load(Ordering::Relaxed) {
                    0 | KIND_TETHERED => ReaderKind::Tethered,
                    KIND_UNTETHERED => ReaderKind::Untethered,
                    v => ReaderKind::Invalid(v),
                },
                // Acquire: pairs with the reader's Release store of its position.
                read_pos: s.read_pos.load(Ordering::Acquire),
                lag: 0,
                messages_pending: None,
                payload_bytes_pending: None,
            }
        })
        .collect();
    if let Some(end) = end_pos {
        count_pending(&ring, &mut readers, end, tail_pos, geo.cap);
    }
    Ok(RingInfo {
        path: path.to_path_buf(),
        version: h.version.load(Ordering::Relaxed),
        data_offset: h.data_offset.load(Ordering::Relaxed),
        capacity: geo.cap as usize,
        max_message_len: geo.max_msg as usize,
        creator_pid: h.creator_pid.load(Ordering::Relaxed),
        write_pos,
        end_pos,
        tail_pos,
        writer,
        readers,
    })
}

fn side(file: &File, [state, pid, epoch]: [&AtomicU32; 3], byte: u64, waiting: bool) -> SideInfo {
    SideInfo {
        state: match state.load(Ordering::Relaxed) {
            SIDE_NEVER => SideState::Never,
            SIDE_ATTACHED => SideState::Attached,
            SIDE_CLOSED => SideState::Closed,
            v => SideState::Invalid(v),
        },
        pid: pid.load(Ordering::Relaxed),
        epoch: epoch.load(Ordering::Relaxed),
        alive: lock::held_by_other(file, byte).unwrap_or(false),
        waiting,
    }
}

/// What a walk over committed records found.
struct Walk {
    end: u64,
    messages: u64,
    payload: u64,
}

/// Follows committed records from `start` with the protocol's validator until the first
/// uncommitted position, calling `at(pos, walk so far)` at every record boundary. `None` if a
/// record is corrupt or the records run more than a capacity on.
fn walk(ring: &ReadOnlyRing, start: u64, cap: u64, at: &mut dyn FnMut(u64, &Walk)) -> Option<Walk> {
    let geo = ring.geometry();
    if start % 8 != 0 {
        return None;
    }
    let mut w = Walk {
        end: start,
        messages: 0,
        payload: 0,
    };
    loop {
        at(w.end, &w);
        match record_at(ring.word(w.end), w.end, &geo).ok()? {
            Record::Message { len } => {
                w.end = w.end.checked_add(record_size(len))?;
                w.messages += 1;
                w.payload += len;
            }
            Record::Padding { size } => w.end = w.end.checked_add(size)?,
            Record::Uncommitted => return Some(w),
        }
        if w.end - start > cap {
            return None;
        }
    }
}

/// Fills in each reader's lag and pending counts with one walk from the lowest position.
fn count_pending(ring: &ReadOnlyRing, readers: &mut [ReaderInfo], end: u64, tail: u64, cap: u64) {
    let Some(low) = readers
        .iter()
        .map(|r| r.read_pos)
        .filter(|&p| p >= tail && p <= end)
        .min()
    else {
        return;
    };
    let mut seen: Vec<(u64, u64, u64)> = Vec::new(); // (pos, messages, payload) before pos
    let Some(total) = walk(ring, low, cap, &mut |pos, w| {
        if readers.iter().any(|r| r.read_pos == pos) {
            seen.push((pos, w.messages, w.payload));
        }
    }) else {
        return;
    };
    if total.end != end {
        return; // the records changed while we looked
    }
    for r in readers.iter_mut() {
        r.lag = end.saturating_sub(r.read_pos);
        if let Some(&(_, m, p)) = seen.iter().find(|s| s.0 == r.read_pos) {
            r.messages_pending = Some(total.messages - m);
            r.payload_bytes_pending = Some(total.payload - p);
        }
    }
}
