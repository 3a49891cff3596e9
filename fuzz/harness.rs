//! Hostile-input drivers shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and the
//! property tests (`tests/hostile.rs`): the same code, the same invariants.
//!
//! Both drivers go through the real path: the hostile bytes are written to a file and opened
//! with the public API, so the unsafe surface under test is exactly the library's. Every
//! operation is non-blocking (or has a zero timeout), so a hang is a bug, and the invariants
//! are checked with `assert!`: a panic here is a finding.
//!
//! Invariants:
//! - opening a hostile file returns `Ok` or a typed `OpenError` that names the path (never
//!   `Io`, which would mean an unclassified failure);
//! - no operation panics, hangs or crashes;
//! - a received message is never longer than the ring's maximum;
//! - once a handle reports `Corrupt`, every later operation on it reports the same `Corrupt`;
//! - while no peer write has happened, every message received is the one sent (in order).
#![allow(dead_code)]

use mmring::{Corrupt, OpenError, RecvError, RingOptions, SendError, TryRecvError, TrySendError};
use std::collections::VecDeque;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

const MAGIC: &[u8; 8] = b"MMRING\r\n";
const READY: u32 = 0x5944_5852;
const TAG_MESSAGE: u32 = 0x4753_4D01;
const TAG_PADDING: u32 = 0x4441_5002;

fn identity(file: &mut [u8], cap: u64) {
    file[0..8].copy_from_slice(MAGIC);
    file[8..12].copy_from_slice(&1u32.to_le_bytes());
    file[12..16].copy_from_slice(&4096u32.to_le_bytes());
    file[16..24].copy_from_slice(&cap.to_le_bytes());
    file[24..28].copy_from_slice(&READY.to_le_bytes());
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

fn try_send_corrupt<T>(r: &Result<(), TrySendError<T>>) -> Option<Corrupt> {
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

/// A ring file made of arbitrary bytes: open it as reader and writer and use it.
pub fn ring_bytes(data: &[u8]) {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let cap = 64u64 << ((flags >> 1) & 7);
    let mut file = vec![0u8; 4096 + cap as usize];
    identity(&mut file, cap);
    let n = usize::from(inp.u16()) % 1025;
    let hdr = inp.bytes(n);
    file[..hdr.len()].copy_from_slice(hdr);
    if flags & 1 != 0 {
        identity(&mut file, cap); // keep the identity: the fuzzer owns cursors and side words
    }
    let n = usize::from(inp.u16()) % (cap as usize + 1);
    let body = inp.bytes(n);
    file[4096..4096 + body.len()].copy_from_slice(body);
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
    let payload = [0xA5u8; 8192];
    for _ in 0..64 {
        if inp.is_empty() {
            break;
        }
        let op = inp.u8();
        match op % 6 {
            0 | 1 => {
                if let Some(r) = r.as_mut() {
                    let max = r.max_message_len();
                    let res = r.try_recv().map(|m| {
                        assert!(m.len() <= max);
                        m.len()
                    });
                    rp.saw(try_recv_corrupt(&res), "try_recv");
                }
            }
            2 => {
                if let Some(r) = r.as_mut() {
                    let max = r.max_message_len();
                    let res = r.drain(usize::from(op >> 3), |m| assert!(m.len() <= max));
                    rp.saw(try_recv_corrupt(&res), "drain");
                }
            }
            3 => {
                if let Some(r) = r.as_mut() {
                    let res = r.recv_timeout(Duration::ZERO).map(|m| m.len());
                    rp.saw(recv_corrupt(&res), "recv_timeout");
                }
            }
            4 => {
                if let Some(w) = w.as_mut() {
                    let len = usize::from(inp.u16()) % (w.max_message_len() + 16);
                    let res = w.try_send(&payload[..len.min(payload.len())]);
                    wp.saw(try_send_corrupt(&res), "try_send");
                }
            }
            _ => {
                if let Some(w) = w.as_mut() {
                    let len = usize::from(inp.u8());
                    let res = w.send_timeout(&payload[..len], Duration::ZERO);
                    wp.saw(send_corrupt(&res), "send_timeout");
                }
            }
        }
    }
}

/// A live writer and reader while a peer mapping stores arbitrary values between operations.
pub fn peer_writes(data: &[u8]) {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let cap = 64u64 << (flags & 7);
    let s = Scratch::new("peer");
    let mut w = Some(opts().create(cap).open_writer(&s.0).unwrap());
    let mut r = Some(opts().open_reader(&s.0).unwrap());
    let max = w.as_ref().unwrap().max_message_len();
    let peer = PeerMap::open(&s.0);
    let (mut rp, mut wp) = (Poison::default(), Poison::default());
    // Oracle while no peer write has happened: the messages sent and not yet received.
    let mut clean = true;
    let mut queue: VecDeque<Vec<u8>> = VecDeque::new();
    let mut seq = 0u8;
    let mut next_msg = |len: usize| {
        seq = seq.wrapping_add(1);
        (0..len)
            .map(|i| seq.wrapping_add(i as u8))
            .collect::<Vec<u8>>()
    };
    for _ in 0..256 {
        if inp.is_empty() {
            break;
        }
        let op = inp.u8();
        match op % 16 {
            0 | 1 => {
                if let Some(w) = w.as_mut() {
                    let len = usize::from(inp.u16()) % (max + 9);
                    let msg = next_msg(len);
                    let res = w.try_send(&msg);
                    wp.saw(try_send_corrupt(&res), "try_send");
                    if res.is_ok() {
                        queue.push_back(msg);
                    }
                }
            }
            2 | 3 => {
                if let Some(r) = r.as_mut() {
                    let res = r.try_recv_vec();
                    rp.saw(try_recv_corrupt(&res), "try_recv");
                    if let Ok(m) = res {
                        assert!(m.len() <= max);
                        if clean {
                            assert_eq!(Some(m), queue.pop_front(), "wrong message");
                        }
                    }
                }
            }
            4 => {
                clean = false;
                peer.write_u64(128, inp.u64());
            }
            5 => {
                clean = false;
                peer.write_u64(256, inp.u64());
            }
            6 => {
                clean = false;
                let off = if op & 16 != 0 { 128 } else { 256 };
                let delta = i64::from(inp.u8() as i8) * 8;
                let v = peer.read_u64(off).wrapping_add(delta as u64);
                peer.write_u64(off, v);
            }
            7 => {
                clean = false;
                let off = 4096 + (u64::from(inp.u16()) * 8) % cap;
                let word = match op >> 6 {
                    0 => inp.u64(),
                    1 => u64::from(inp.u16()) | (u64::from(TAG_MESSAGE) << 32),
                    2 => u64::from(inp.u16()) | (u64::from(TAG_PADDING) << 32),
                    _ => u64::from(inp.u32()),
                };
                peer.write_u64(off, word);
            }
            8 => {
                if let Some(r) = r.as_mut() {
                    let mut got = Vec::new();
                    let res = r.drain(usize::from(op >> 4) + 1, |m| got.push(m.to_vec()));
                    rp.saw(try_recv_corrupt(&res), "drain");
                    for m in got {
                        assert!(m.len() <= max);
                        if clean {
                            assert_eq!(Some(m), queue.pop_front(), "wrong message (drain)");
                        }
                    }
                }
            }
            9 => {
                if let Some(w) = w.as_mut() {
                    let mut b = w.batch();
                    for _ in 0..(op >> 4) {
                        let msg = next_msg(usize::from(inp.u8()) % (max + 1));
                        let res = b.try_send(&msg);
                        wp.saw(try_send_corrupt(&res), "batch try_send");
                        if res.is_ok() {
                            queue.push_back(msg);
                        } else {
                            break;
                        }
                    }
                }
            }
            10 => {
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
            11 => {
                w = None;
                wp = Poison::default();
                match opts().open_writer(&s.0) {
                    Ok(h) => w = Some(h),
                    Err(e) => check_open_err(&e, &s.0),
                }
            }
            12 => {
                clean = false;
                let base = if op & 16 != 0 { 640 } else { 768 };
                peer.write_u32(base + u64::from(inp.u8() % 4) * 4, inp.u32());
            }
            13 => {
                // The peer writes into a message while we hold it.
                if let Some(r) = r.as_mut() {
                    let res = r.try_recv().map(|m| {
                        peer.write_u64(4096 + (u64::from(inp.u16()) * 8) % cap, inp.u64());
                        m.to_vec()
                    });
                    rp.saw(try_recv_corrupt(&res), "try_recv held");
                    clean = false;
                }
            }
            14 => {
                if let Some(w) = w.as_mut() {
                    let len = usize::from(inp.u8()) % (max + 1);
                    let res = match w.try_reserve(len) {
                        Ok(mut g) => {
                            g.fill(0x5A);
                            peer.write_u64(4096 + (u64::from(inp.u16()) * 8) % cap, inp.u64());
                            if op & 16 != 0 {
                                g.commit();
                            }
                            Ok(())
                        }
                        Err(e) => Err(e),
                    };
                    wp.saw(try_send_corrupt(&res), "try_reserve");
                    clean = false;
                }
            }
            _ => {
                let _ = mmring::inspect(&s.0).map_err(|e| check_open_err(&e, &s.0));
                if let Some(r) = r.as_mut() {
                    let res = r.recv_timeout(Duration::ZERO).map(|m| m.len());
                    rp.saw(recv_corrupt(&res), "recv_timeout");
                    if res.is_ok() {
                        clean = false;
                    }
                }
                if let Some(w) = w.as_mut() {
                    let res = w.send_timeout(&[1, 2, 3], Duration::ZERO);
                    wp.saw(send_corrupt(&res), "send_timeout");
                    if res.is_ok() {
                        clean = false;
                    }
                }
            }
        }
    }
}
