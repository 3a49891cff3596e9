//! Hostile-input drivers shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and the
//! property tests (`tests/hostile.rs`): the same code, the same invariants.
//!
//! Both drivers go through the real path: the hostile bytes are written to a file and opened
//! with the public API, so the unsafe surface under test is exactly the library's. Every
//! operation is non-blocking (or has a zero timeout), so a hang is a bug, and the invariants
//! are checked with `assert!`: a panic here is a finding.
//!
//! The hostile bytes are both garbage and forgeries: records built with the format's own
//! header words (`layout::message_word` / `padding_word`) for the right position, the previous
//! lap, two laps back, with lengths in and out of bounds and padding that does or does not end
//! at the end of the data region, so that every branch of the record validator
//! (`ring/validate.rs`) is reached through the public API. Every offset comes from the layout
//! (`offset_of!` and the layout constants), never from a literal.
//!
//! Invariants:
//! - opening a hostile file returns `Ok` or a typed `OpenError` that names the path (never
//!   `Io`, which would mean an unclassified failure);
//! - no operation panics, hangs or crashes;
//! - a received message is never longer than the ring's maximum;
//! - once a handle reports `Corrupt`, every later operation on it that can report an error
//!   reports the same `Corrupt` (`drain(0, f)` and `in_flight()` included);
//! - while no peer write has happened, every message received is the one sent (in order).
#![allow(dead_code)]

use mmring::layout::{
    data_offset, max_message_len, message_word, padding_word, record_size, Header, ReaderSlot,
    COMMIT, MAGIC, READER_TABLE_OFFSET, READY, SLOT_SIZE, VERSION,
};
use mmring::{Corrupt, OpenError, RecvError, RingOptions, SendError, TryRecvError, TrySendError};
use std::collections::VecDeque;
use std::fs::File;
use std::mem::offset_of;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Offset of a header field in the file.
macro_rules! hdr {
    ($field:ident) => {
        offset_of!(Header, $field) as u64
    };
}

/// Offset of a field of reader slot `$slot` in the file.
macro_rules! slot {
    ($slot:expr, $field:ident) => {
        (READER_TABLE_OFFSET + $slot as usize * SLOT_SIZE + offset_of!(ReaderSlot, $field)) as u64
    };
}

/// Offset of the data region of the one-slot rings the drivers build.
pub const DATA: u64 = data_offset(1) as u64;
/// Header field offsets the drivers write to.
pub const WRITE_POS: u64 = hdr!(write_pos);
/// `tail_pos`.
pub const TAIL_POS: u64 = hdr!(tail_pos);
/// Slot 0's `read_pos`.
pub const READ_POS: u64 = slot!(0, read_pos);

/// The 32-bit words a peer may scribble on: ownership and wait words, then (last, picked
/// less often: they make every later attach fail) the identity fields, which matter to the
/// next attach (`peer_writes` reattaches).
const WORDS: [u64; 18] = [
    hdr!(writer_pid),
    hdr!(writer_epoch),
    hdr!(writer_state),
    hdr!(writer_waiting),
    hdr!(space_seq),
    hdr!(readers_waiting),
    hdr!(readers_waiting) + 4,
    hdr!(data_seq),
    slot!(0, pid),
    slot!(0, epoch),
    slot!(0, state),
    slot!(0, kind),
    hdr!(version),
    hdr!(data_offset),
    hdr!(ready),
    hdr!(reader_slots),
    hdr!(capacity),
    hdr!(flags),
];

/// Reads the fuzzer's bytes as a stream of small integers; zeros once exhausted.
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data, pos: 0 }
    }
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }
}

/// A fresh path in tmpfs (or the temp dir), removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = dir.join(format!("mmring-hostile-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A second `MAP_SHARED` mapping of a ring file: the hostile peer's hands.
pub struct PeerMap {
    ptr: *mut u8,
    len: usize,
}

impl PeerMap {
    pub fn open(path: &Path) -> PeerMap {
        let f = File::options().read(true).write(true).open(path).unwrap();
        let len = f.metadata().unwrap().len() as usize;
        // SAFETY: a fresh shared mapping of the whole file; only accessed through volatile
        // stores at offsets checked against `len`.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        PeerMap {
            ptr: ptr.cast(),
            len,
        }
    }
    pub fn write_u64(&self, off: u64, v: u64) {
        let off = (off as usize & !7).min(self.len - 8);
        // SAFETY: in bounds and 8-aligned (the mapping is page-aligned).
        unsafe { self.ptr.add(off).cast::<u64>().write_volatile(v) }
    }
    pub fn read_u64(&self, off: u64) -> u64 {
        let off = (off as usize & !7).min(self.len - 8);
        // SAFETY: as in `write_u64`.
        unsafe { self.ptr.add(off).cast::<u64>().read_volatile() }
    }
    pub fn write_u32(&self, off: u64, v: u32) {
        let off = (off as usize & !3).min(self.len - 4);
        // SAFETY: in bounds and 4-aligned.
        unsafe { self.ptr.add(off).cast::<u32>().write_volatile(v) }
    }
}

impl Drop for PeerMap {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `open`, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

fn put_u32(file: &mut [u8], off: u64, v: u32) {
    file[off as usize..off as usize + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(file: &mut [u8], off: u64, v: u64) {
    file[off as usize..off as usize + 8].copy_from_slice(&v.to_le_bytes());
}

fn get_u64(file: &[u8], off: u64) -> u64 {
    u64::from_le_bytes(file[off as usize..off as usize + 8].try_into().unwrap())
}

/// The identity line of a valid one-slot ring of `cap` data bytes.
fn identity(file: &mut [u8], cap: u64) {
    put_u64(file, hdr!(magic), MAGIC);
    put_u32(file, hdr!(version), VERSION);
    put_u32(file, hdr!(data_offset), DATA as u32);
    put_u64(file, hdr!(capacity), cap);
    put_u32(file, hdr!(reader_slots), 1);
    put_u32(file, hdr!(ready), READY);
}

/// A record header word for ring position `pos`, from the fuzzer: a committed message or
/// padding for `pos` (any length: in bounds, too long, crossing the end, padding that ends
/// at the end or does not), the same for the previous lap (what a correct writer leaves ahead
/// of itself) or two laps back (what it never leaves), zero, a commit bit without a stamp,
/// or garbage.
pub fn forged_word(inp: &mut Input, pos: u64, cap: u64) -> u64 {
    let off = pos & (cap - 1);
    let max = max_message_len(cap);
    let kind = inp.u8();
    let lap = match (kind >> 4) & 3 {
        0 | 1 => pos,
        2 => pos.wrapping_sub(cap),
        _ => pos.wrapping_sub(2 * cap),
    };
    let len = match (kind >> 6) & 3 {
        // A length that fits before the end (when one does).
        0 => u64::from(inp.u16()) % (max.min((cap - off).saturating_sub(8)) + 1),
        // Exactly what a padding record here must say.
        1 => cap - off - 8,
        // Just beyond a bound: the maximum, or the end of the data region.
        2 => match inp.u8() {
            b if b & 1 == 0 => max + 1 + u64::from(b >> 1) % 3 * 8,
            b => cap - off - 7 + u64::from(b >> 1) % 8,
        },
        _ => u64::from(inp.u32() % COMMIT),
    } as u32;
    match kind % 8 {
        0..=2 => message_word(lap, len),
        3 | 4 => padding_word(lap, len),
        5 => 0,
        6 => u64::from(len | COMMIT),
        _ => inp.u64(),
    }
}

/// A committed header a correct writer could have written at `pos`: a message that fits
/// before the end, or (when the rest of the lap is less than half the ring) the padding.
pub fn valid_word(inp: &mut Input, pos: u64, cap: u64) -> u64 {
    let till_end = cap - (pos & (cap - 1));
    let b = inp.u8();
    if till_end < cap / 2 && b & 1 == 0 {
        return padding_word(pos, (till_end - 8) as u32);
    }
    let most = max_message_len(cap).min(till_end - 8);
    message_word(pos, (u64::from(b >> 1) % (most + 1)) as u32)
}

/// Lays forged records from ring position `start` through `put(offset in the data region,
/// word)`, following the lengths they claim, up to a lap; returns the position after them.
/// Half the runs are records a correct writer could have committed (what a writer that died
/// before storing `write_pos` leaves), so that runs long enough to matter are common; the
/// others mix in anything `forged_word` makes.
pub fn forge_records(inp: &mut Input, start: u64, cap: u64, put: &mut dyn FnMut(u64, u64)) -> u64 {
    let mut pos = start & !7;
    let mode = inp.u8();
    let n = mode >> 4;
    for _ in 0..n {
        let word = if mode & 1 == 0 {
            valid_word(inp, pos, cap)
        } else {
            forged_word(inp, pos, cap)
        };
        put(pos & (cap - 1), word);
        let len = u64::from(word as u32 & !COMMIT);
        let step = if word == padding_word(pos, len as u32) {
            cap - (pos & (cap - 1))
        } else {
            record_size(len).min(cap)
        };
        pos = pos.wrapping_add(step);
        if pos.wrapping_sub(start) >= cap {
            break;
        }
    }
    pos
}

fn opts() -> RingOptions {
    RingOptions::new().init_timeout(Duration::ZERO)
}

fn check_open_err(e: &OpenError, path: &Path) {
    assert!(
        !matches!(e, OpenError::Io { .. }),
        "unclassified open error: {e}"
    );
    assert!(
        e.to_string().contains(&*path.to_string_lossy()),
        "error does not name the path: {e}"
    );
}

/// Tracks one handle's poisoning.
#[derive(Default)]
pub struct Poison(Option<Corrupt>);

impl Poison {
    /// Records the outcome of one operation: `Some(c)` if it reported corruption.
    pub fn saw(&mut self, c: Option<Corrupt>, what: &str) {
        match (self.0, c) {
            (Some(p), Some(c)) => assert_eq!(p, c, "{what}: poisoned handle changed its error"),
            (Some(p), None) => panic!("{what}: handle poisoned with {p} went on working"),
            (None, Some(c)) => self.0 = Some(c),
            (None, None) => {}
        }
    }
}

fn try_send_corrupt<T>(r: &Result<T, TrySendError>) -> Option<Corrupt> {
    match r {
        Err(TrySendError::Corrupt(c)) => Some(*c),
        _ => None,
    }
}
fn send_corrupt(r: &Result<(), SendError>) -> Option<Corrupt> {
    match r {
        Err(SendError::Corrupt(c)) => Some(*c),
        _ => None,
    }
}
fn try_recv_corrupt<T>(r: &Result<T, TryRecvError>) -> Option<Corrupt> {
    match r {
        Err(TryRecvError::Corrupt(c)) => Some(*c),
        _ => None,
    }
}
fn recv_corrupt<T>(r: &Result<T, RecvError>) -> Option<Corrupt> {
    match r {
        Err(RecvError::Corrupt(c)) => Some(*c),
        _ => None,
    }
}

/// One reader operation chosen by `op`, checked for poisoning and message lengths; returns
/// the messages it received (copied), in order.
fn reader_op(r: &mut mmring::Reader, op: u8, p: &mut Poison) -> Vec<Vec<u8>> {
    let max = r.max_message_len();
    let mut got = Vec::new();
    match op % 9 {
        0 => {
            let res = r.try_recv().map(|m| m.to_vec());
            p.saw(try_recv_corrupt(&res), "try_recv");
            got.extend(res.ok());
        }
        1 => {
            let res = r.try_recv_vec();
            p.saw(try_recv_corrupt(&res), "try_recv_vec");
            got.extend(res.ok());
        }
        2 => {
            // `op >> 4` is 0 for a sixteenth of the cases: drain(0) must report poisoning too.
            let res = r.drain(usize::from(op >> 4), |m| got.push(m.to_vec()));
            p.saw(try_recv_corrupt(&res), "drain");
        }
        3 => {
            let res = r.recv_timeout(Duration::ZERO).map(|m| m.to_vec());
            p.saw(recv_corrupt(&res), "recv_timeout");
            got.extend(res.ok());
        }
        4 => {
            let mut b = r.batch();
            for _ in 0..1 + (op >> 5) {
                let res = b.next().map(|m| m.map(<[u8]>::to_vec));
                p.saw(try_recv_corrupt(&res), "batch next");
                match res {
                    Ok(Some(m)) => got.push(m),
                    _ => break,
                }
            }
        }
        5 => {
            // A skipped message is received too, unread: the oracle only checks its length.
            let res = r.try_skip();
            p.saw(try_recv_corrupt(&res), "try_skip");
            if let Ok(n) = res {
                got.push(vec![0xFF; n]);
            }
        }
        6 => {
            let res = r.try_recv_pod::<u64>();
            p.saw(try_recv_corrupt(&res), "try_recv_pod");
            if let Ok(v) = res {
                got.push(v.to_ne_bytes().to_vec());
            }
        }
        7 => {
            let res = r.recv_timeout(Duration::ZERO).map(|m| {
                let mut v = vec![0; m.len()];
                m.copy_to_slice(&mut v);
                v
            });
            p.saw(recv_corrupt(&res), "recv_timeout copy");
            got.extend(res.ok());
        }
        _ => {
            // No error to report: must not panic whatever the header says.
            let _ = r.pending();
            r.release();
        }
    }
    for m in &got {
        assert!(m.len() <= max, "received {} bytes, maximum {max}", m.len());
    }
    got
}

/// One writer operation chosen by `op`, checked for poisoning; returns the messages it
/// published (or staged in a batch that publishes when it drops), in order.
fn writer_op(w: &mut mmring::Writer, op: u8, inp: &mut Input, p: &mut Poison) -> Vec<Vec<u8>> {
    let max = w.max_message_len();
    let mut sent = Vec::new();
    let msg = |inp: &mut Input, len: usize| {
        let seed = inp.u8();
        (0..len)
            .map(|i| seed.wrapping_add(i as u8))
            .collect::<Vec<u8>>()
    };
    match op % 6 {
        0 => {
            let len = usize::from(inp.u16()) % (max + 9);
            let m = msg(inp, len);
            let res = w.try_send(&m);
            p.saw(try_send_corrupt(&res), "try_send");
            if res.is_ok() {
                sent.push(m);
            }
        }
        1 => {
            let len = usize::from(inp.u8()) % (max + 1);
            let m = msg(inp, len);
            let res = w.send_timeout(&m, Duration::ZERO);
            p.saw(send_corrupt(&res), "send_timeout");
            if res.is_ok() {
                sent.push(m);
            }
        }
        2 => {
            let mut b = w.batch();
            for k in 0..(op >> 4) {
                let len = usize::from(inp.u8()) % (max + 1);
                let m = msg(inp, len);
                let res = if k % 2 == 0 {
                    b.try_send(&m)
                } else {
                    b.try_reserve(m.len()).map(|mut g| {
                        g.copy_from_slice(&m);
                        g.stage()
                    })
                };
                p.saw(try_send_corrupt(&res), "batch try_send");
                if res.is_err() {
                    break;
                }
                sent.push(m);
                if k == 3 {
                    b.publish();
                }
            }
        }
        3 => {
            let len = usize::from(inp.u8()) % (max + 1);
            let res = w.try_reserve(len).map(|mut g| {
                g.fill(0x5A);
                g.commit_len(len / 2)
            });
            p.saw(try_send_corrupt(&res), "try_reserve");
            if res.is_ok() {
                sent.push(vec![0x5A; len / 2]);
            }
        }
        4 => {
            let res = w.in_flight();
            p.saw(res.err(), "in_flight");
        }
        _ => {
            let res = w
                .reserve_timeout(usize::from(inp.u8()), Duration::ZERO)
                .map(drop);
            p.saw(send_corrupt(&res), "reserve_timeout (dropped grant)");
        }
    }
    sent
}

/// A ring file made of arbitrary bytes: open it as reader and writer and use it.
pub fn ring_bytes(data: &[u8]) {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let cap = 64u64 << ((flags >> 1) & 7);
    let mut file = vec![0u8; (DATA + cap) as usize];
    identity(&mut file, cap);
    // The header and reader slot 0.
    let n = usize::from(inp.u16()) % (READER_TABLE_OFFSET + SLOT_SIZE + 1);
    let hdr = inp.bytes(n);
    file[..hdr.len()].copy_from_slice(hdr);
    if flags & 1 != 0 {
        identity(&mut file, cap); // keep the identity: the fuzzer owns cursors and side words
    }
    let data_region = DATA as usize..file.len();
    match flags >> 6 {
        // Arbitrary bytes.
        0 | 1 => {
            let n = usize::from(inp.u16()) % (cap as usize + 1);
            let body = inp.bytes(n);
            file[DATA as usize..DATA as usize + body.len()].copy_from_slice(body);
        }
        // Forged records where the reader starts; with mode 3 also a `write_pos` at their
        // start (a writer that died before storing it: its successor walks them), at their
        // end, or beyond it (claiming more than is there), and a tail up to a lap behind.
        m => {
            // A reader position it accepts (aligned, a few laps in), so the records are read.
            let start = (get_u64(&file, READ_POS) % (4 * cap)) & !7;
            put_u64(&mut file, READ_POS, start);
            let data = &mut file[data_region];
            let end = forge_records(&mut inp, start, cap, &mut |off, word| {
                data[off as usize..off as usize + 8].copy_from_slice(&word.to_le_bytes())
            });
            if m == 3 {
                let how = inp.u8();
                let claimed = match how % 3 {
                    0 => start,
                    1 => end,
                    _ => end.wrapping_add(u64::from(how >> 2) * 8),
                };
                put_u64(&mut file, WRITE_POS, claimed);
                let behind = (u64::from(inp.u8()) * 8).min(cap);
                put_u64(&mut file, TAIL_POS, start.saturating_sub(behind));
            }
        }
    }
    match (flags >> 4) & 3 {
        2 => {
            let len = usize::from(inp.u16()) % file.len();
            file.truncate(len);
        }
        3 => file.resize(file.len() + usize::from(inp.u8()) * 8, 0),
        _ => {}
    }
    let s = Scratch::new("bytes");
    std::fs::write(&s.0, &file).unwrap();

    let _ = mmring::inspect(&s.0).map_err(|e| check_open_err(&e, &s.0));
    let mut r = match opts().open_reader(&s.0) {
        Ok(r) => Some(r),
        Err(e) => {
            check_open_err(&e, &s.0);
            None
        }
    };
    let mut w = match opts().open_writer(&s.0) {
        Ok(w) => Some(w),
        Err(e) => {
            check_open_err(&e, &s.0);
            None
        }
    };
    let (mut rp, mut wp) = (Poison::default(), Poison::default());
    for _ in 0..64 {
        if inp.is_empty() {
            break;
        }
        let op = inp.u8();
        if op & 1 == 0 {
            if let Some(r) = r.as_mut() {
                reader_op(r, op >> 1, &mut rp);
            }
        } else if let Some(w) = w.as_mut() {
            writer_op(w, op >> 1, &mut inp, &mut wp);
        }
    }
    let _ = mmring::inspect(&s.0).map_err(|e| check_open_err(&e, &s.0));
}

/// A live writer and reader while a peer mapping stores arbitrary values and forged records
/// between operations.
pub fn peer_writes(data: &[u8]) {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let cap = 64u64 << (flags & 7);
    let s = Scratch::new("peer");
    let mut w = Some(opts().create(cap as usize).open_writer(&s.0).unwrap());
    let mut r = Some(opts().open_reader(&s.0).unwrap());
    let peer = PeerMap::open(&s.0);
    let (mut rp, mut wp) = (Poison::default(), Poison::default());
    // Oracle while no peer write has happened: the messages sent and not yet received.
    let mut clean = true;
    let mut queue: VecDeque<Vec<u8>> = VecDeque::new();
    // The position a data offset has in the writer's current lap, `laps` laps on.
    let pos_of = |off: u64, laps: i64| {
        let base = peer.read_u64(WRITE_POS) & !(cap - 1);
        base.wrapping_add(off)
            .wrapping_add((laps * cap as i64) as u64)
    };
    for _ in 0..256 {
        if inp.is_empty() {
            break;
        }
        let op = inp.u8();
        match op % 12 {
            0..=2 => {
                if let Some(r) = r.as_mut() {
                    for m in reader_op(r, op >> 2, &mut rp) {
                        if clean {
                            let want = queue.pop_front();
                            if (op >> 2) % 9 == 5 {
                                // `try_skip` reports the length only.
                                assert_eq!(Some(m.len()), want.map(|w| w.len()), "skipped");
                            } else {
                                assert_eq!(Some(m), want, "wrong message");
                            }
                        }
                    }
                }
            }
            3 | 4 => {
                if let Some(w) = w.as_mut() {
                    queue.extend(writer_op(w, op >> 2, &mut inp, &mut wp));
                }
            }
            5 => {
                clean = false;
                let field = [WRITE_POS, TAIL_POS, READ_POS][usize::from(op >> 4) % 3];
                let v = match op >> 6 {
                    0 => inp.u64(),
                    // A step of a few records either way.
                    _ => {
                        let delta = i64::from(inp.u8() as i8) * 8;
                        peer.read_u64(field).wrapping_add(delta as u64)
                    }
                };
                peer.write_u64(field, v);
            }
            6 => {
                // One forged header word at a record-aligned offset, stamped for this lap,
                // the next or an earlier one.
                clean = false;
                let off = if op & 16 != 0 {
                    peer.read_u64(WRITE_POS) & (cap - 8)
                } else {
                    (u64::from(inp.u16()) * 8) % cap
                };
                let pos = pos_of(off, i64::from(op >> 6) - 1);
                let word = forged_word(&mut inp, pos, cap);
                peer.write_u64(DATA + off, word);
            }
            7 => {
                // A run of forged records where the reader released, or where the writer is.
                clean = false;
                let start = if op & 16 != 0 {
                    peer.read_u64(READ_POS)
                } else {
                    peer.read_u64(WRITE_POS)
                };
                let end = forge_records(&mut inp, start, cap, &mut |off, word| {
                    peer.write_u64(DATA + off, word)
                });
                if op & 32 != 0 {
                    peer.write_u64(WRITE_POS, end);
                }
            }
            8 => {
                clean = false;
                let pick = usize::from(inp.u8());
                let field = if pick & 7 == 0 {
                    WORDS[(pick >> 3) % WORDS.len()]
                } else {
                    WORDS[(pick >> 3) % 12]
                };
                peer.write_u32(field, inp.u32());
            }
            9 => {
                // Reattach the reader: a fresh handle re-validates the header.
                r = None;
                rp = Poison::default();
                match opts().open_reader(&s.0) {
                    Ok(h) => r = Some(h),
                    Err(e) => check_open_err(&e, &s.0),
                }
                if !clean {
                    queue.clear();
                }
            }
            10 => {
                w = None;
                wp = Poison::default();
                match opts().open_writer(&s.0) {
                    Ok(h) => w = Some(h),
                    Err(e) => check_open_err(&e, &s.0),
                }
            }
            _ => {
                // The peer writes into a message while we hold it, or into a grant we fill.
                clean = false;
                let off = DATA + (u64::from(inp.u16()) * 8) % cap;
                let v = inp.u64();
                if op & 16 != 0 {
                    if let Some(r) = r.as_mut() {
                        let res = r.try_recv().map(|m| {
                            peer.write_u64(off, v);
                            m.to_vec()
                        });
                        rp.saw(try_recv_corrupt(&res), "try_recv held");
                    }
                } else if let Some(w) = w.as_mut() {
                    let len = usize::from(inp.u8()) % (w.max_message_len() + 1);
                    let res = w.try_reserve(len).map(|mut g| {
                        g.fill(0x5A);
                        peer.write_u64(off, v);
                        if op & 32 != 0 {
                            g.commit();
                        }
                    });
                    wp.saw(try_send_corrupt(&res), "try_reserve");
                }
                let _ = mmring::inspect(&s.0).map_err(|e| check_open_err(&e, &s.0));
            }
        }
    }
}
