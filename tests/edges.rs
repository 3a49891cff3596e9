//! Edge cases in one process: every message size at every distance from the wrap point, the
//! exact full and empty edges against a model of the ring (including the readers' lazy release),
//! zero-copy grants, plain-old-data messages, batches (one publication and one release each),
//! timeouts and the three wait strategies.

use mmring::layout::{max_message_len, record_size};
use mmring::{
    Reader, RecvError, RingOptions, SendError, TryRecvError, TrySendError, WaitStrategy, Writer,
    WriterStatus,
};
use mmring_testkit::stream::{fill, size_for, verify};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mmring-edges-")
        .tempdir()
        .expect("tempdir")
}

/// A file ring with both ends in this process.
fn pair(dir: &Path, cap: usize) -> (Writer, Reader, PathBuf) {
    let path = dir.join("ring");
    let w = Writer::create(&path, cap).unwrap();
    let r = Reader::open(&path).unwrap();
    (w, r, path)
}

/// A message of `len` bytes that differs for every `(len, tag)`.
fn pattern(len: usize, tag: u64) -> Vec<u8> {
    let mut v = vec![0u8; len.max(8)];
    fill(tag, &mut v);
    v.truncate(len);
    v
}

/// The inspected slot-0 `read_pos` of the ring at `path`: what the reader has released.
fn released(path: &Path) -> u64 {
    mmring::inspect(path).unwrap().readers[0].read_pos
}

/// Ring positions as the format defines them: what the writer's and the reader's cursors must
/// be, with the reader's lazy release (`Reader` docs): consumed space goes back when the reader
/// finds the ring empty, or once `capacity / 8` bytes are consumed since the last release (the
/// other triggers, batches, `release()` and a writer waiting for room, are not used with it).
struct Model {
    cap: u64,
    /// `release_every`: an eighth of the ring.
    every: u64,
    /// End of the committed records (the writer's `write_pos`).
    write: u64,
    /// End of the messages the reader has consumed (its private cursor).
    consumed: u64,
    /// What the reader has given back (its slot's `read_pos`): the writer may reuse below
    /// `released + cap`.
    released: u64,
    /// Messages consumed but not yet released.
    unreleased: u64,
    /// End positions and contents of the messages committed and not yet consumed.
    ends: VecDeque<(u64, Vec<u8>)>,
}

impl Model {
    fn new(cap: u64) -> Self {
        Model {
            cap,
            every: (cap / 8).max(8),
            write: 0,
            consumed: 0,
            released: 0,
            unreleased: 0,
            ends: VecDeque::new(),
        }
    }

    /// Padding and total bytes a `len`-byte message takes at the current write position.
    fn need(&self, len: usize) -> (u64, u64) {
        let total = record_size(len as u64);
        let till_end = self.cap - self.write % self.cap;
        let pad = if total <= till_end { 0 } else { till_end };
        (pad, total)
    }

    /// Whether the writer has room: only released space counts, consumed space does not.
    fn fits(&self, len: usize) -> bool {
        let (pad, total) = self.need(len);
        self.write + pad + total - self.released <= self.cap
    }

    fn send(&mut self, msg: Vec<u8>) {
        let (pad, total) = self.need(msg.len());
        self.write += pad + total;
        self.ends.push_back((self.write, msg));
    }

    /// A receive: the next message (consumed when the reader drops it, then released if
    /// `every` bytes are unreleased), or an empty poll, which releases everything consumed.
    fn recv(&mut self) -> Option<Vec<u8>> {
        let Some((end, msg)) = self.ends.pop_front() else {
            self.release();
            return None;
        };
        self.consumed = end;
        self.unreleased += 1;
        if self.consumed - self.released >= self.every {
            self.release();
        }
        Some(msg)
    }

    fn release(&mut self) {
        self.released = self.consumed;
        self.unreleased = 0;
    }
}

/// Sends `msg` and checks the ring agrees with the model about whether it fits.
fn model_send(w: &mut Writer, m: &mut Model, msg: Vec<u8>) -> bool {
    let fits = m.fits(msg.len());
    match w.try_send(&msg) {
        Ok(()) => {
            assert!(fits, "sent {} bytes that should not fit", msg.len());
            m.send(msg);
            true
        }
        // v2: `Full` is a unit variant (the message is borrowed, so it is still ours).
        Err(TrySendError::Full) => {
            assert!(!fits, "Full for {} bytes that fit", msg.len());
            false
        }
        Err(e) => panic!("{e}"),
    }
}

fn model_recv(r: &mut Reader, m: &mut Model) {
    match m.recv() {
        Some(want) => assert_eq!(*r.try_recv().unwrap(), want[..]),
        None => assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Empty),
    }
}

/// Receives until the ring is empty (the empty poll gives everything back).
fn model_drain(r: &mut Reader, m: &mut Model) {
    while !m.ends.is_empty() {
        model_recv(r, m);
    }
    model_recv(r, m);
    assert_eq!(m.released, m.write);
}

/// Every cursor and count the ring reports, against the model: the header (through
/// `inspect`), the writer's fresh view of the reader (`in_flight`) and the reader's fresh view
/// of the writer (`pending`).
fn assert_cursors(path: &Path, w: &mut Writer, r: &Reader, m: &Model) {
    let info = mmring::inspect(path).unwrap();
    let slot = &info.readers[0];
    assert_eq!(
        (info.write_pos, info.end_pos, slot.read_pos),
        (m.write, Some(m.write), m.released)
    );
    assert!(
        info.tail_pos <= slot.read_pos,
        "tail {} ahead",
        info.tail_pos
    );
    assert_eq!(slot.lag, m.write - m.released);
    assert_eq!(
        slot.messages_pending,
        Some(m.unreleased + m.ends.len() as u64)
    );
    assert_eq!(r.pending() as u64, m.write - m.consumed);
    assert_eq!(w.in_flight().unwrap() as u64, m.write - m.released);
}

/// Moves an empty ring's write position to `cap - dist` (mod cap) with filler messages.
fn position(w: &mut Writer, r: &mut Reader, m: &mut Model, dist: u64) {
    let target = (m.cap - dist) % m.cap;
    loop {
        let off = m.write % m.cap;
        if off == target {
            return;
        }
        // Fill up to the target if it is ahead in this lap, otherwise up to the end.
        let gap = if target > off {
            target - off
        } else {
            m.cap - off
        };
        // Records are multiples of 8 bytes, from 8 to cap / 2 (the largest message's record).
        let piece = gap.min(m.cap / 2);
        assert!(model_send(w, m, pattern(piece as usize - 8, m.write)));
        model_drain(r, m);
    }
}

/// Every size from 0 to the maximum, written at every distance from the end of the data
/// region that makes a difference: each size that does not fit before the end wraps with a
/// padding record, the one that fits exactly does not, and the cursors match the format.
fn every_size_at_every_wrap_distance(cap: u64, every_distance: bool) {
    let dir = tempdir();
    let (mut w, mut r, path) = pair(dir.path(), cap as usize);
    let mut m = Model::new(cap);
    let max = max_message_len(cap) as usize;
    assert_eq!(w.max_message_len(), max);
    let mut cases = 0u64;
    for len in 0..=max {
        let rec = record_size(len as u64);
        let dists: Vec<u64> = if every_distance {
            (8..=rec + 8).step_by(8).collect()
        } else {
            let mut d = vec![8, rec - 8, rec, rec + 8];
            d.retain(|&d| d >= 8);
            d
        };
        for dist in dists {
            position(&mut w, &mut r, &mut m, dist);
            let before = m.write;
            let msg = pattern(len, before ^ len as u64);
            assert!(model_send(&mut w, &mut m, msg));
            let pad = if rec <= dist { 0 } else { dist };
            assert_eq!(m.write - before, pad + rec);
            assert_cursors(&path, &mut w, &r, &m);
            model_recv(&mut r, &mut m);
            assert_cursors(&path, &mut w, &r, &m);
            model_drain(&mut r, &mut m);
            cases += 1;
        }
    }
    assert_cursors(&path, &mut w, &r, &m);
    assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Empty);
    println!("capacity {cap}: {cases} (size, distance to the end) cases, sizes 0..={max}");
}

#[test]
fn every_size_at_every_distance_from_the_wrap_point() {
    every_size_at_every_wrap_distance(1024, true);
}

#[test]
fn every_size_across_the_wrap_point_in_a_4k_ring() {
    every_size_at_every_wrap_distance(4096, false);
}

#[test]
fn too_large_messages_are_refused_and_the_maximum_accepted() {
    let (mut w, mut r) = mmring::anonymous(4096).unwrap();
    let max = w.max_message_len();
    assert_eq!(max, 2040);
    let big = vec![1u8; max + 1];
    assert_eq!(
        w.try_send(&big),
        Err(TrySendError::TooLarge { len: max + 1, max })
    );
    assert_eq!(w.send(&big), Err(SendError::TooLarge { len: max + 1, max }));
    assert!(matches!(
        w.try_reserve(max + 1),
        Err(TrySendError::TooLarge { .. })
    ));
    assert!(matches!(
        w.reserve(usize::MAX),
        Err(SendError::TooLarge { .. })
    ));
    // Exactly two maximum messages fill the ring; the third does not fit.
    w.try_send(&big[..max]).unwrap();
    w.try_send(&big[..max]).unwrap();
    assert_eq!(w.try_send(&big[..max]), Err(TrySendError::Full));
    // A maximum message is half the ring, more than the eighth after which a reader gives
    // consumed space back: receiving one makes room at once.
    assert_eq!(r.try_recv().unwrap().len(), max);
    w.try_send(&big[..max]).unwrap();
}

#[test]
fn full_and_empty_edges_match_the_model_exactly() {
    let dir = tempdir();
    let cap = 1024u64;
    let (mut w, mut r, path) = pair(dir.path(), cap as usize);
    let mut m = Model::new(cap);
    // Empty: nothing to receive, with a writer attached.
    assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(r.drain(10, |_| {}).unwrap_err(), TryRecvError::Empty);
    // Zero-length messages: 8 bytes each, so exactly cap / 8 fit.
    let mut n = 0;
    while model_send(&mut w, &mut m, Vec::new()) {
        n += 1;
    }
    assert_eq!(n, cap / 8);
    assert_cursors(&path, &mut w, &r, &m);
    assert_eq!(
        mmring::inspect(&path).unwrap().readers[0].messages_pending,
        Some(n)
    );
    // Receiving frees nothing until an eighth of the ring is consumed (16 records of 8 bytes):
    // then everything consumed goes back at once.
    for k in 1..=m.every / 8 {
        model_recv(&mut r, &mut m);
        let want = if k == m.every / 8 { 8 * k } else { 0 };
        assert_eq!(released(&path), want, "after {k} messages");
        let room = model_send(&mut w, &mut m, Vec::new());
        assert_eq!(room, k == m.every / 8, "room after {k} messages");
    }
    model_drain(&mut r, &mut m);
    assert_cursors(&path, &mut w, &r, &m);
    // Random sizes and a random mix of sends and receives: every Full, every success and
    // every cursor exactly where the format puts them, with the reader's lazy release.
    let mut x = 0x1234_5678u64;
    let (mut full, mut sent) = (0u32, 0u32);
    for i in 0..60_000u64 {
        x = mmring_testkit::stream::mix(x);
        let len = match x % 10 {
            0 => 0,
            1 => max_message_len(cap) as usize,
            _ => (x >> 8) as usize % (max_message_len(cap) as usize + 1),
        };
        if (x >> 40) % 100 < 55 {
            if model_send(&mut w, &mut m, pattern(len, i)) {
                sent += 1;
            } else {
                full += 1;
            }
        } else {
            model_recv(&mut r, &mut m);
        }
        if i % 64 == 0 {
            assert_cursors(&path, &mut w, &r, &m);
        }
    }
    println!("model run: {sent} sent, {full} refused as Full, all exactly as the model says");
    assert!(full > 1000 && sent > 10_000);
}

#[test]
fn a_committed_grant_is_delivered_and_a_dropped_one_publishes_nothing() {
    let dir = tempdir();
    let (mut w, mut r, path) = pair(dir.path(), 1024);
    let mut g = w.try_reserve(5).unwrap();
    assert_eq!(g.len(), 5);
    g.copy_from_slice(b"hello");
    g.commit();
    // Reserved at a maximum, committed shorter.
    let mut g = w.reserve(100).unwrap();
    g[..3].copy_from_slice(b"abc");
    g.commit_len(3);
    // Filled but dropped: nothing becomes visible, and the space is not lost.
    for _ in 0..100 {
        let mut g = w.try_reserve(400).unwrap();
        g.fill(0xAA);
        // `g` goes out of scope here without `commit`.
    }
    let info = mmring::inspect(&path).unwrap();
    assert_eq!(info.readers[0].messages_pending, Some(2));
    assert_eq!((info.write_pos, info.end_pos), (32, Some(32)));
    assert_eq!(&*r.try_recv().unwrap(), b"hello");
    assert_eq!(&*r.try_recv().unwrap(), b"abc");
    assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Empty);
    // A grant dropped at the wrap point (after the writer laid down padding) is harmless too.
    w.try_send(&[0; 496]).unwrap();
    assert_eq!(r.try_recv().unwrap().len(), 496);
    let pos = mmring::inspect(&path).unwrap().write_pos;
    assert_eq!(pos, 16 + 16 + 504);
    let to_end = (1024 - pos) as usize;
    // Its record does not fit before the end; the grant is dropped at once, uncommitted.
    let _ = w.try_reserve(to_end).unwrap();
    w.try_send(b"after").unwrap();
    assert_eq!(&*r.try_recv().unwrap(), b"after");
    // The padding went out with the next message, which starts the next lap.
    assert_eq!(mmring::inspect(&path).unwrap().write_pos, 1024 + 16);
    // A grant of zero bytes.
    w.try_reserve(0).unwrap().commit();
    assert!(r.try_recv().unwrap().is_empty());
    // A grant on a full ring is refused without handing out any space.
    while w.try_send(&[1; 100]).is_ok() {}
    assert!(matches!(w.try_reserve(100), Err(TrySendError::Full)));
    assert_eq!(
        w.reserve_timeout(100, Duration::from_millis(10))
            .unwrap_err(),
        SendError::Timeout
    );
}

/// The C layout `struct Data { int a; char b[64]; }`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
struct Data {
    a: i32,
    b: [u8; 64],
}

#[test]
fn pods_round_trip_and_a_wrong_size_leaves_the_message_in_the_ring() {
    let (mut w, mut r) = mmring::anonymous(4096).unwrap();
    let d = Data { a: -7, b: [3; 64] };
    w.send_pod(&d).unwrap();
    w.try_send_pod(&42u64).unwrap();
    w.send(b"short").unwrap();
    assert_eq!(r.recv_pod::<Data>().unwrap(), d);
    // Wrong type: the message stays, and the right one then reads it.
    assert_eq!(
        r.recv_pod::<Data>().unwrap_err(),
        RecvError::WrongSize {
            expected: 68,
            actual: 8
        }
    );
    assert_eq!(
        r.try_recv_pod::<u32>().unwrap_err(),
        TryRecvError::WrongSize {
            expected: 4,
            actual: 8
        }
    );
    {
        let m = r.try_recv().unwrap();
        assert_eq!(*m.as_pod::<u64>().unwrap(), 42);
        assert!(matches!(
            m.as_pod::<u32>(),
            Err(mmring::PodError::WrongSize { .. })
        ));
        // The atomic copies see the same bytes as the in-place view.
        assert_eq!(m.to_vec(), 42u64.to_ne_bytes());
        let mut copy = [0u8; 8];
        m.copy_to_slice(&mut copy);
        assert_eq!(copy, 42u64.to_ne_bytes());
        m.keep(); // and `keep` leaves it in the ring too
    }
    assert_eq!(r.try_recv_pod::<u64>().unwrap(), 42);
    assert_eq!(
        r.try_recv_pod::<u64>().unwrap_err(),
        TryRecvError::WrongSize {
            expected: 8,
            actual: 5
        }
    );
    assert_eq!(&*r.recv().unwrap(), b"short");
    // A message of the wrong size can be skipped without reading it.
    w.send(&[1, 2, 3]).unwrap();
    w.send_pod(&7u32).unwrap();
    assert_eq!(
        r.try_recv_pod::<u32>().unwrap_err(),
        TryRecvError::WrongSize {
            expected: 4,
            actual: 3
        }
    );
    assert_eq!(r.try_skip().unwrap(), 3);
    assert_eq!(r.try_recv_pod::<u32>().unwrap(), 7);
    assert_eq!(r.try_skip().unwrap_err(), TryRecvError::Empty);
    // try_send_pod on a full ring reports Full (v2: a unit variant; the value is borrowed).
    while w.try_send_pod(&d).is_ok() {}
    assert_eq!(w.try_send_pod(&d), Err(TrySendError::Full));
}

#[test]
fn batches_publish_and_release_with_one_cursor_store() {
    let dir = tempdir();
    let (mut w, mut r, path) = pair(dir.path(), 4096);
    // Writer batch: nothing visible until it is published.
    {
        let mut b = w.batch();
        for i in 0..10u8 {
            b.try_send(&[i; 50]).unwrap();
        }
        assert_eq!(mmring::inspect(&path).unwrap().write_pos, 0);
        assert_eq!(r.pending(), 0);
        b.publish();
        let after = mmring::inspect(&path).unwrap().write_pos;
        assert_eq!(after, 10 * record_size(50));
        let mut g = b.try_reserve(3).unwrap();
        g.copy_from_slice(b"xyz");
        g.stage();
        assert_eq!(mmring::inspect(&path).unwrap().write_pos, after);
        assert_eq!(b.len(), 11);
    }
    assert_eq!(
        mmring::inspect(&path).unwrap().write_pos,
        10 * record_size(50) + record_size(3)
    );
    // Reader batch: the released cursor stays put while the batch hands messages out, even
    // when it finds the ring empty (a batch's messages go back only together, when it ends),
    // and jumps once, when the batch drops.
    let end = mmring::inspect(&path).unwrap().write_pos;
    {
        let mut b = r.batch();
        let mut i = 0;
        while let Some(m) = b.next().unwrap() {
            if i < 10 {
                assert_eq!(m, &[i as u8; 50]);
            } else {
                assert_eq!(m, b"xyz");
            }
            i += 1;
            assert_eq!(released(&path), 0);
        }
        assert_eq!((b.len(), b.is_empty()), (11, false));
        assert_eq!(
            released(&path),
            0,
            "an empty poll inside a batch releases nothing"
        );
    }
    assert_eq!(released(&path), end);
    // The space a batch consumed is not the writer's until the batch ends.
    let mut k = 0;
    while w.try_send(&[9; 200]).is_ok() {
        k += 1;
    }
    let full_at = mmring::inspect(&path).unwrap().write_pos;
    {
        let mut b = r.batch();
        for _ in 0..k {
            assert_eq!(b.next().unwrap(), Some(&[9u8; 200][..]));
        }
        assert!(k > 10);
        assert!(matches!(w.try_send(&[9; 200]), Err(TrySendError::Full)));
        assert_eq!(released(&path), end);
    }
    assert_eq!(released(&path), full_at);
    w.try_send(&[9; 200]).unwrap();
    assert!(mmring::inspect(&path).unwrap().write_pos > full_at);
    // drain: at most `max`, one release at the end.
    for i in 0..5u8 {
        w.try_send(&[i]).unwrap();
    }
    let before = released(&path);
    let mut seen = Vec::new();
    let n = r
        .drain(4, |m| {
            seen.push(m.to_vec());
            assert_eq!(released(&path), before);
        })
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(seen, [vec![9; 200], vec![0], vec![1], vec![2]]);
    assert_eq!(
        released(&path),
        before + record_size(200) + 3 * record_size(1),
        "drain releases what it handled when it ends"
    );
    // drain(0) handles nothing, releases nothing and is not an error.
    assert_eq!(r.drain(0, |_| panic!("drain(0) handled a message")), Ok(0));
    assert_eq!(r.drain(usize::MAX, |_| {}).unwrap(), 2);
    assert_eq!(
        r.drain(usize::MAX, |_| {}).unwrap_err(),
        TryRecvError::Empty
    );
    assert_eq!(r.drain(0, |_| {}), Ok(0));
    assert_eq!(released(&path), mmring::inspect(&path).unwrap().write_pos);
}

/// The reader's lazy release, rule by rule (the `Reader` docs): consumed space goes back when
/// the reader finds the ring empty, once an eighth of the ring is consumed since the last
/// release, on `release()`, and when the reader is dropped; not after every message.
#[test]
fn consumed_space_goes_back_by_the_lazy_release_rules() {
    let dir = tempdir();
    let cap = 4096u64;
    let every = cap / 8;
    let (mut w, mut r, path) = pair(dir.path(), cap as usize);
    for i in 0..3u8 {
        w.try_send(&[i; 8]).unwrap();
    }
    assert_eq!((w.in_flight().unwrap(), r.pending()), (48, 48));
    // One message consumed: nothing given back yet, but the reader has moved on.
    assert_eq!(r.try_recv_vec().unwrap(), [0; 8]);
    assert_eq!(
        (released(&path), r.pending(), w.in_flight().unwrap()),
        (0, 32, 48)
    );
    // `release()` gives it back now, and again is a no-op.
    r.release();
    r.release();
    assert_eq!((released(&path), w.in_flight().unwrap()), (16, 32));
    // Messages read in place are consumed when dropped, and not given back then either.
    {
        let m = r.try_recv().unwrap();
        assert_eq!(*m, [1; 8]);
    }
    assert_eq!(r.try_recv_vec().unwrap(), [2; 8]);
    assert_eq!((released(&path), r.pending()), (16, 0));
    // The empty poll gives everything consumed back.
    assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!((released(&path), w.in_flight().unwrap()), (48, 0));
    // The threshold: records of 128 bytes, released by the one that makes `every` bytes.
    let per = every / record_size(120);
    for _ in 0..per + 1 {
        w.try_send(&[7; 120]).unwrap();
    }
    for k in 1..=per + 1 {
        assert_eq!(r.try_recv_vec().unwrap(), [7; 120]);
        let want = 48 + if k < per { 0 } else { per * record_size(120) };
        assert_eq!(released(&path), want, "after {k} of {} records", per + 1);
    }
    // Dropping the reader gives back what it consumed.
    let end = mmring::inspect(&path).unwrap().write_pos;
    assert!(released(&path) < end);
    drop(r);
    assert_eq!(released(&path), end);
    // A new reader of the slot continues there, and `in_flight` reads it fresh.
    w.try_send(b"next").unwrap();
    let mut r = Reader::open(&path).unwrap();
    assert_eq!(r.try_recv_vec().unwrap(), b"next");
    assert_eq!(w.in_flight().unwrap(), 16);
}

#[test]
fn timeouts_for_every_wait_strategy() {
    for strategy in [
        WaitStrategy::Spin,
        WaitStrategy::SpinYield,
        WaitStrategy::Park,
    ] {
        let (mut w, mut r) = RingOptions::new()
            .wait_strategy(strategy)
            .anonymous(1024)
            .unwrap();
        // A timeout ends the wait with `Timeout`, never early; how late depends on the
        // machine's load and is printed, not judged.
        let timeout = Duration::from_millis(30);
        let t = Instant::now();
        assert_eq!(r.recv_timeout(timeout).unwrap_err(), RecvError::Timeout);
        let waited = t.elapsed();
        assert!(waited >= timeout, "recv_timeout returned after {waited:?}");
        while w.try_send(&[0; 100]).is_ok() {}
        let t = Instant::now();
        assert_eq!(w.send_timeout(&[0; 100], timeout), Err(SendError::Timeout));
        let waited_w = t.elapsed();
        assert!(
            waited_w >= timeout,
            "send_timeout returned after {waited_w:?}"
        );
        // A zero timeout is a poll.
        assert_eq!(
            w.send_timeout(&[0; 100], Duration::ZERO),
            Err(SendError::Timeout)
        );
        println!("{strategy:?}: recv_timeout(30 ms) took {waited:?}, send_timeout {waited_w:?}");
        // And a message that is there is returned at once, whatever the timeout.
        assert_eq!(r.recv_timeout(Duration::ZERO).unwrap().len(), 100);
    }
}

/// Streams `n` messages between two threads with blocking calls under `strategy`.
fn stream_between_threads(strategy: WaitStrategy, n: u64) -> Duration {
    let (mut w, mut r) = RingOptions::new()
        .wait_strategy(strategy)
        .anonymous(8192)
        .unwrap();
    let t = Instant::now();
    let writer = std::thread::spawn(move || {
        for seq in 0..n {
            let mut g = w.reserve(size_for(seq, 8, 700)).unwrap();
            fill(seq, &mut g);
            g.commit();
        }
    });
    for seq in 0..n {
        let m = r.recv().unwrap();
        verify(seq, &m).unwrap();
        assert_eq!(m.len(), size_for(seq, 8, 700));
    }
    writer.join().unwrap();
    assert_eq!(r.recv().unwrap_err(), RecvError::Disconnected);
    t.elapsed()
}

#[test]
fn the_anonymous_pair_streams_between_threads_with_every_wait_strategy() {
    for (strategy, n) in [
        (WaitStrategy::Park, 100_000),
        (WaitStrategy::SpinYield, 50_000),
        // Two spinning threads on a busy 2-core machine mostly wait for each other's time
        // slice: a short run is enough to show the strategy works.
        (WaitStrategy::Spin, 3_000),
    ] {
        let took = stream_between_threads(strategy, n);
        println!("{strategy:?}: {n} messages between two threads in {took:?}");
    }
}

/// Polls `cond` until it holds (a condition another thread makes true, never a delay).
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(60), "never: {what}");
        std::thread::yield_now();
    }
}

#[test]
fn a_dropped_writer_is_a_disconnection_after_its_last_message() {
    let (mut w, mut r) = mmring::anonymous(4096).unwrap();
    assert!(matches!(r.writer_status(), WriterStatus::Alive(pid) if pid == std::process::id()));
    for m in [&b"one"[..], b"two", b"three"] {
        w.send(m).unwrap();
    }
    drop(w);
    assert_eq!(r.writer_status(), WriterStatus::Gone);
    assert_eq!(&*r.recv().unwrap(), b"one");
    assert_eq!(&*r.try_recv().unwrap(), b"two");
    // A batch that handed a message out ends with `None`; one that handed out nothing reports
    // the writer gone, like `drain`.
    {
        let mut b = r.batch();
        assert_eq!(b.next(), Ok(Some(&b"three"[..])));
        assert_eq!(b.next(), Ok(None));
    }
    assert_eq!(r.batch().next(), Err(TryRecvError::Disconnected));
    assert_eq!(r.drain(10, |_| {}), Err(TryRecvError::Disconnected));
    assert_eq!(r.drain(0, |_| {}), Ok(0));
    assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Disconnected);
    assert_eq!(r.try_skip().unwrap_err(), TryRecvError::Disconnected);
    assert_eq!(r.recv().unwrap_err(), RecvError::Disconnected);
    assert_eq!(
        r.recv_timeout(Duration::from_secs(5)).unwrap_err(),
        RecvError::Disconnected
    );
}

#[test]
fn a_writer_blocked_on_a_full_ring_gets_disconnected_when_the_reader_drops() {
    let dir = tempdir();
    let (mut w, r, path) = pair(dir.path(), 4096);
    assert!(w.is_reader_alive());
    while w.try_send(&[5; 300]).is_ok() {}
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = std::thread::spawn({
        let dropped = dropped.clone();
        move || {
            // Once the writer has announced that it waits for room, it is blocked in `send`.
            wait_until("the writer waits", || {
                mmring::inspect(&path).unwrap().writer.waiting
            });
            dropped.store(true, std::sync::atomic::Ordering::SeqCst);
            drop(r);
        }
    });
    assert_eq!(w.send(&[5; 300]), Err(SendError::Disconnected));
    assert!(
        dropped.load(std::sync::atomic::Ordering::SeqCst),
        "send returned before the reader dropped"
    );
    reader.join().unwrap();
    assert!(!w.is_reader_alive());
    // Non-blocking sends just report the ring full.
    assert!(matches!(w.try_send(&[5; 300]), Err(TrySendError::Full)));
}

#[test]
fn a_reader_without_a_writer_yet_waits_instead_of_disconnecting() {
    let dir = tempdir();
    let path = dir.path().join("ring");
    let mut r = Reader::create(&path, 4096).unwrap();
    assert_eq!(r.writer_status(), WriterStatus::Never);
    assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(
        r.recv_timeout(Duration::from_millis(50)).unwrap_err(),
        RecvError::Timeout
    );
    // A writer in another thread arrives once the reader is asleep in `recv`; the blocked
    // reader gets its message.
    let p = path.clone();
    let writer = std::thread::spawn(move || {
        wait_until("the reader waits", || {
            mmring::inspect(&p).unwrap().readers[0].side.waiting
        });
        let mut w = Writer::open(&p).unwrap();
        w.send(b"late").unwrap();
    });
    assert_eq!(&*r.recv().unwrap(), b"late");
    writer.join().unwrap();
    assert_eq!(r.recv().unwrap_err(), RecvError::Disconnected);
}
