//! Model checks of the ring protocol with loom.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p mmring-core --release --test loom`. Each test
//! runs its body under [`loom::model`], which executes it once per distinct interleaving of
//! the atomic operations (and per allowed weak-memory outcome), up to `LOOM_MAX_PREEMPTIONS`
//! preemptions per execution. When that variable is unset, each test picks its own bound:
//! [`DEEP`] for most, [`LAPS`] for the two models that run several laps of the ring, where a
//! bound of 3 takes minutes (measured: about 1.1 and 1.4 million executions).
//!
//! The ring under test is the real protocol code over a heap region: the header's atomics are
//! loom atomics and the data region is one `loom::cell::UnsafeCell<u64>` per 8-byte word, with
//! zero-copy views holding their cells' access for as long as they live. A writer filling bytes
//! that the reader may still read (or the reverse) is reported by loom as a causality
//! violation, even when the bytes read happen to be right. Rings are tiny (64 bytes, the
//! minimum) so that a handful of messages wraps several times and the interleavings stay
//! tractable. Every test checks the contents and order of what arrives.

#![cfg(loom)]

use loom::thread;
use mmring_core::{RecvError, RingOptions, SendError, TryRecvError, TrySendError, WriterStatus};

/// The data capacity of every ring here: the minimum, so that a few messages wrap.
const CAP: u64 = 64;

/// The preemption bound of most models when `LOOM_MAX_PREEMPTIONS` is unset.
const DEEP: usize = 3;

/// The preemption bound of the multi-lap models when `LOOM_MAX_PREEMPTIONS` is unset.
const LAPS: usize = 2;

/// Runs `f` under loom for every interleaving allowed by the preemption bound ([`DEEP`]).
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    model_bounded(DEEP, f)
}

/// Runs `f` under loom with `default` preemptions unless `LOOM_MAX_PREEMPTIONS` says otherwise.
fn model_bounded<F: Fn() + Sync + Send + 'static>(default: usize, f: F) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(default);
    }
    let bound = b.preemption_bound;
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = runs.clone();
    let start = std::time::Instant::now();
    b.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f();
    });
    // Shown with `--nocapture`: the size of each model, to tune the preemption bound.
    eprintln!(
        "loom: {}: {} executions in {:.1?} (preemption bound {})",
        std::thread::current().name().unwrap_or("?"),
        runs.load(std::sync::atomic::Ordering::Relaxed),
        start.elapsed(),
        bound.map_or("none".to_string(), |b| b.to_string()),
    );
}

/// A payload of `len` bytes unique to message `id` (no zero bytes, so it never looks like
/// fresh memory).
fn payload(id: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|k| 1 + (id.wrapping_mul(37) ^ (k as u8).wrapping_mul(11)) % 250)
        .collect()
}

/// The messages `(id, len)` as the reader must see them.
fn expected(msgs: &[(u8, usize)]) -> Vec<Vec<u8>> {
    msgs.iter().map(|&(id, len)| payload(id, len)).collect()
}

/// Receives with `recv` until the writer is gone.
fn recv_all(r: &mut mmring_core::Reader) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    loop {
        match r.recv() {
            Ok(m) => got.push(m.to_vec()),
            Err(RecvError::Disconnected) => return got,
            Err(e) => panic!("recv: {e:?}"),
        }
    }
}

/// Sixteen-byte messages make 24-byte records; in a 64-byte ring every third slot would cross
/// the end, so the writer pads at offset 48 on each lap: five messages wrap twice, through two
/// padding records, while the reader reads concurrently.
#[test]
fn send_recv_wraps_through_padding() {
    const MSGS: [(u8, usize); 5] = [(1, 16), (2, 16), (3, 16), (4, 16), (5, 16)];
    model_bounded(LAPS, || {
        let (mut w, mut r) = RingOptions::new().loom_pair(CAP);
        let t = thread::spawn(move || {
            for (id, len) in MSGS {
                w.send(&payload(id, len)).unwrap();
            }
        });
        assert_eq!(recv_all(&mut r), expected(&MSGS));
        t.join().unwrap();
    });
}

/// The writer fills the ring with `try_send` before the reader exists, sees `Full` (with its
/// message handed back) even after refreshing its cached copy of the reader's cursor, and then
/// gets room only by refreshing it again once the reader has released: once through the
/// non-blocking path (`try_send` retried) and once through the blocking one (`send`).
#[test]
fn full_ring_refreshes_cached_cursor() {
    const MSGS: [(u8, usize); 4] = [(10, 24), (11, 24), (12, 24), (13, 17)];
    model(|| {
        let (mut w, mut r) = RingOptions::new().loom_pair(CAP);
        // Two 24-byte messages are two 32-byte records: exactly full.
        w.try_send(&payload(10, 24)).unwrap();
        w.try_send(&payload(11, 24)).unwrap();
        assert_eq!(w.in_flight(), Ok(CAP as usize));
        let third = payload(12, 24);
        assert_eq!(w.try_send(&third), Err(TrySendError::Full));
        let t = thread::spawn(move || recv_all(&mut r));
        loop {
            match w.try_send(&third) {
                Ok(()) => break,
                Err(TrySendError::Full) => thread::yield_now(),
                Err(e) => panic!("try_send: {e:?}"),
            }
        }
        w.send(&payload(13, 17)).unwrap();
        drop(w);
        assert_eq!(t.join().unwrap(), expected(&MSGS));
    });
}

/// Zero-copy grants: an abandoned grant publishes nothing and its space is reused, a grant
/// committed shorter than reserved takes only what it committed, and a grant abandoned after
/// its reservation wrote a padding record leaves that padding to be published with the next
/// commit. The reader receives exactly the committed bytes, in order.
#[test]
fn grants_commit_and_abandon() {
    model(|| {
        let (mut w, mut r) = RingOptions::new().loom_pair(CAP);
        let t = thread::spawn(move || {
            // Abandoned: nothing is published.
            let mut g = w.reserve(8).unwrap();
            g.copy_from_slice(&payload(99, 8));
            drop(g);
            // Reserved at 24, committed at 5: a 16-byte record at 0.
            let mut g = w.reserve(24).unwrap();
            g[..5].copy_from_slice(&payload(20, 5));
            g.commit_len(5);
            // A 24-byte record at 16.
            let mut g = w.reserve(16).unwrap();
            g.copy_from_slice(&payload(21, 16));
            g.commit();
            // A 32-byte record does not fit in the 24 bytes before the end: padding at 40,
            // then the grant at 64, abandoned.
            let mut g = w.reserve(24).unwrap();
            g.copy_from_slice(&payload(98, 24));
            drop(g);
            // Reuses the abandoned grant's place; publishes the padding with it.
            let mut g = w.reserve(8).unwrap();
            g.copy_from_slice(&payload(22, 8));
            g.commit();
        });
        assert_eq!(recv_all(&mut r), expected(&[(20, 5), (21, 16), (22, 8)]));
        t.join().unwrap();
    });
}

/// Batches on both sides: the writer stages three messages and publishes them at once, then
/// sends three more that need the reader's space back; the reader waits for one message, then
/// reads whatever else is committed through a batch whose space goes back in one release when
/// it drops (which must wake a writer waiting for room).
#[test]
fn batches_publish_and_release_together() {
    const MSGS: [(u8, usize); 6] = [(30, 8), (31, 8), (32, 8), (33, 8), (34, 8), (35, 8)];
    model(|| {
        let (mut w, mut r) = RingOptions::new().loom_pair(CAP);
        let t = thread::spawn(move || {
            let mut b = w.batch();
            for (id, len) in &MSGS[..3] {
                b.try_send(&payload(*id, *len)).unwrap();
            }
            drop(b);
            for (id, len) in &MSGS[3..] {
                w.send(&payload(*id, *len)).unwrap();
            }
        });
        let mut got = Vec::new();
        loop {
            match r.recv() {
                Ok(m) => got.push(m.to_vec()),
                Err(RecvError::Disconnected) => break,
                Err(e) => panic!("recv: {e:?}"),
            }
            let mut b = r.batch();
            loop {
                match b.next() {
                    Ok(Some(m)) => got.push(m.to_vec()),
                    Ok(None) | Err(TryRecvError::Disconnected) => break,
                    Err(e) => panic!("batch: {e:?}"),
                }
            }
        }
        assert_eq!(got, expected(&MSGS));
        t.join().unwrap();
    });
}

/// Payload sizes from 0 to the maximum (24 bytes in a 64-byte ring): zero-length records,
/// one of them in the last word before the end (its empty payload starts at the end of the
/// region), a maximum-size record right after the wrap, and a minimal 8-byte padding record.
/// The first lap is sent and received before the reader thread starts, so that the model's
/// interleavings are spent on the records around the wrap.
#[test]
fn variable_sizes_and_zero_length() {
    // Records: 32@0, 16@32, 8@48, then concurrently 8@56 (empty payload at offset 64),
    // 32@64, 8@96, 16@104, 8 bytes of padding at 120 and 16@128.
    const FIRST: [(u8, usize); 3] = [(40, 17), (41, 8), (42, 0)];
    const MSGS: [(u8, usize); 5] = [(43, 0), (44, 24), (45, 0), (46, 1), (47, 3)];
    model_bounded(LAPS, || {
        let (mut w, mut r) = RingOptions::new().loom_pair(CAP);
        for (id, len) in FIRST {
            w.try_send(&payload(id, len)).unwrap();
        }
        for (id, len) in FIRST {
            assert_eq!(r.try_recv_vec().unwrap(), payload(id, len));
        }
        let t = thread::spawn(move || {
            for (id, len) in MSGS {
                w.send(&payload(id, len)).unwrap();
            }
        });
        let got = recv_all(&mut r);
        assert_eq!(
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            MSGS.iter().map(|m| m.1).collect::<Vec<_>>()
        );
        assert_eq!(got, expected(&MSGS));
        t.join().unwrap();
    });
}

/// No lost wake-up for a sleeping reader: it parks on an empty ring, the writer publishes one
/// message and stays attached until the reader has it, so only the wake-up handshake (not the
/// writer's detach) can end the reader's sleep. A lost wake-up is a deadlock, which loom
/// reports.
#[test]
fn parked_reader_is_woken() {
    model(|| {
        let (mut w, mut r) = RingOptions::new().loom_pair(CAP);
        let t = thread::spawn(move || r.recv().map(|m| m.to_vec()).unwrap());
        w.send(&payload(50, 12)).unwrap();
        assert_eq!(t.join().unwrap(), payload(50, 12));
        drop(w);
    });
}

/// No lost wake-up for a sleeping writer: the ring is full, the writer parks for room, the
/// reader frees it and stays attached until the writer is done.
#[test]
fn parked_writer_is_woken() {
    model(|| {
        let (mut w, mut r) = RingOptions::new().loom_pair(CAP);
        w.try_send(&payload(60, 24)).unwrap();
        w.try_send(&payload(61, 24)).unwrap();
        let t = thread::spawn(move || {
            w.send(&payload(62, 20)).unwrap();
            w
        });
        assert_eq!(r.recv_vec().unwrap(), payload(60, 24));
        let w = t.join().unwrap();
        assert_eq!(r.recv_vec().unwrap(), payload(61, 24));
        assert_eq!(r.recv_vec().unwrap(), payload(62, 20));
        drop(w);
        assert_eq!(r.recv_vec(), Err(RecvError::Disconnected));
    });
}

/// The writer sends and leaves: everything it committed is delivered first, then the reader
/// sees `Disconnected` (polled with `try_recv`, so never masked by a wake-up).
#[test]
fn writer_disconnect_after_delivery() {
    const MSGS: [(u8, usize); 3] = [(70, 7), (71, 24), (72, 0)];
    model(|| {
        let (mut w, mut r) = RingOptions::new().loom_pair(CAP);
        let t = thread::spawn(move || {
            for (id, len) in MSGS {
                w.try_send(&payload(id, len)).unwrap();
            }
        });
        let mut got = Vec::new();
        loop {
            match r.try_recv() {
                Ok(m) => got.push(m.to_vec()),
                Err(TryRecvError::Empty) => thread::yield_now(),
                Err(TryRecvError::Disconnected) => break,
                Err(e) => panic!("try_recv: {e:?}"),
            }
        }
        assert_eq!(got, expected(&MSGS));
        assert_eq!(r.writer_status(), WriterStatus::Gone);
        t.join().unwrap();
    });
}

/// The reader takes one message from a full ring and leaves: the writer's next send uses the
/// freed space (the reader's release happens before its detach), and the one after, which
/// would have to wait for room forever, fails with `Disconnected` instead of sleeping.
#[test]
fn reader_disconnect_fails_blocked_send() {
    model(|| {
        let (mut w, mut r) = RingOptions::new().loom_pair(CAP);
        w.try_send(&payload(80, 24)).unwrap();
        w.try_send(&payload(81, 24)).unwrap();
        let t = thread::spawn(move || {
            assert_eq!(r.recv_vec().unwrap(), payload(80, 24));
        });
        w.send(&payload(82, 24)).unwrap();
        assert_eq!(w.send(&payload(83, 1)), Err(SendError::Disconnected));
        t.join().unwrap();
        assert!(!w.is_reader_alive());
    });
}

/// The `Os` contract (`os/contract.rs`) holds for the loom heap model, as the unit test shows
/// it does for real mappings: claims are exclusive per handle, visible to the others and free
/// once released; a futex wait on a changed word returns.
#[test]
fn heap_model_keeps_the_os_contract() {
    model(|| RingOptions::new().loom_ring(CAP, 1).check_os_contract());
}

/// A reader attaches (claims its slot, reads its cursor) while the writer is sending: the one
/// slot holds the writer back from position 0 whether or not a reader is attached, so the
/// reader receives every message, in order, however the claim interleaves with the sends.
#[test]
fn reader_attaches_while_the_writer_sends() {
    const MSGS: [(u8, usize); 3] = [(100, 8), (101, 16), (102, 0)];
    model(|| {
        let ring = RingOptions::new().loom_ring(CAP, 1);
        let mut w = ring.writer().unwrap();
        let t = thread::spawn(move || {
            let mut r = ring.reader().unwrap();
            (0..MSGS.len())
                .map(|_| r.recv_vec().unwrap())
                .collect::<Vec<_>>()
        });
        for (id, len) in MSGS {
            w.send(&payload(id, len)).unwrap();
        }
        assert_eq!(t.join().unwrap(), expected(&MSGS));
        drop(w);
    });
}

/// A writer attaches while a reader polls a ring that never had one: the reader must never take
/// the attach in progress for a writer that came and went (the claim stores ATTACHED, then
/// bumps the epoch; a peer reads the epoch first), and gets the message.
#[test]
fn writer_attaches_while_the_reader_polls() {
    use loom::sync::atomic::{AtomicBool, Ordering};
    use loom::sync::Arc;
    model(|| {
        let ring = RingOptions::new().loom_ring(CAP, 1);
        let mut r = ring.reader().unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let t = thread::spawn(move || {
            let mut w = ring.writer().unwrap();
            w.try_send(&payload(110, 5)).unwrap();
            while !d.load(Ordering::Acquire) {
                thread::yield_now();
            }
        });
        loop {
            match r.try_recv() {
                Ok(m) => {
                    assert_eq!(m.to_vec(), payload(110, 5));
                    break;
                }
                Err(TryRecvError::Empty) => thread::yield_now(),
                Err(e) => panic!("try_recv: {e:?}"),
            }
        }
        done.store(true, Ordering::Release);
        t.join().unwrap();
    });
}

/// A writer takes over from one that left: it continues exactly where its predecessor's records
/// end (its attach follows them from `write_pos`), while a reader that attached in between waits
/// for it and receives both writers' messages in order.
#[test]
fn a_new_writer_continues_where_the_last_one_ended() {
    model(|| {
        let ring = RingOptions::new().loom_ring(CAP, 1);
        let mut w1 = ring.writer().unwrap();
        w1.try_send(&payload(120, 9)).unwrap();
        drop(w1);
        let mut r = ring.reader().unwrap();
        let t = thread::spawn(move || {
            let mut w2 = ring.writer().unwrap();
            w2.send(&payload(121, 16)).unwrap();
            w2.send(&payload(122, 24)).unwrap();
            w2
        });
        let got: Vec<Vec<u8>> = (0..3).map(|_| r.recv_vec().unwrap()).collect();
        assert_eq!(got, expected(&[(120, 9), (121, 16), (122, 24)]));
        drop(t.join().unwrap());
    });
}

/// Lazy release and a writer parked for room: in a 128-byte ring a reader gives space back only
/// every 16 bytes, when it finds the ring empty, or when the writer has announced that it waits.
/// The ring is filled with zero-length messages (8 bytes each, below the threshold), the writer
/// parks for a 48-byte record, and the reader, receiving one at a time, must wake it (through
/// several partial releases: each must wake a writer that announced it sleeps, or be seen by
/// its re-check).
#[test]
fn lazy_release_wakes_a_parked_writer() {
    model_bounded(LAPS, || {
        let (mut w, mut r) = RingOptions::new().loom_pair(128);
        for _ in 0..14 {
            w.try_send(&[]).unwrap();
        }
        w.try_send(&payload(130, 8)).unwrap();
        let t = thread::spawn(move || {
            w.send(&payload(131, 40)).unwrap();
            w
        });
        for _ in 0..14 {
            assert!(r.recv_vec().unwrap().is_empty());
        }
        assert_eq!(r.recv_vec().unwrap(), payload(130, 8));
        let w = t.join().unwrap();
        assert_eq!(r.recv_vec().unwrap(), payload(131, 40));
        drop(w);
    });
}

/// Fan-out over one copy of the data: a tethered and an untethered reader on a two-slot
/// 64-byte ring. The untethered reader joins (at the oldest message) while the writer goes
/// round the ring; the tethered one reads two messages and leaves, after which only the
/// untethered one (if it has joined) is live and nothing holds the writer back. The untethered
/// reader gets only intact messages, in order, whatever it misses: the writer declares bytes
/// overwritable in `tail_pos` before it overwrites them, and the reader checks after copying.
#[test]
fn fan_out_tethered_and_untethered() {
    use loom::sync::Arc;
    use mmring_core::StartAt;
    const MSGS: [(u8, usize); 5] = [(140, 16), (141, 16), (142, 16), (143, 16), (144, 16)];
    model_bounded(LAPS, || {
        let ring = Arc::new(RingOptions::new().loom_ring(CAP, 2));
        let mut w = ring.writer().unwrap();
        let mut tethered = ring.reader().unwrap();
        let ring2 = ring.clone();
        let lossy = thread::spawn(move || {
            let mut r = ring2.untethered(StartAt::Oldest).unwrap();
            let (mut got, mut buf) = (Vec::new(), Vec::new());
            for _ in 0..3 {
                match r.try_recv_into(&mut buf) {
                    Ok(_) => got.push(buf.clone()),
                    Err(TryRecvError::Lapped { .. }) | Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => break,
                    Err(e) => panic!("untethered: {e:?}"),
                }
            }
            got
        });
        for (id, len) in &MSGS[..2] {
            w.try_send(&payload(*id, *len)).unwrap();
        }
        assert_eq!(tethered.try_recv_vec().unwrap(), payload(140, 16));
        assert_eq!(tethered.try_recv_vec().unwrap(), payload(141, 16));
        drop(tethered);
        let mut sent = 2;
        for (id, len) in &MSGS[2..] {
            // Full only while the untethered reader has not joined: the slot the tethered
            // reader left holds the writer back while no reader is live.
            match w.try_send(&payload(*id, *len)) {
                Ok(()) => sent += 1,
                Err(TrySendError::Full) => break,
                Err(e) => panic!("try_send: {e:?}"),
            }
        }
        let got = lossy.join().unwrap();
        drop(w);
        let all = expected(&MSGS[..sent]);
        let mut at = 0;
        for m in &got {
            let i = all[at..].iter().position(|x| x == m).unwrap_or_else(|| {
                panic!("not an intact message in order: {m:?} in {got:?} (sent {sent})")
            });
            at += i + 1;
        }
    });
}

/// As `writer_disconnect_after_delivery`, for an untethered reader: polled with
/// `try_recv_into`, it gets every message the writer committed before it left, then
/// `Disconnected`. (Without a last look after finding the writer gone, a poll that found the
/// ring empty just before the writer's last commit and detach reported `Disconnected` with
/// that message unread.)
#[test]
fn untethered_writer_disconnect_after_delivery() {
    use mmring_core::StartAt;
    const MSGS: [(u8, usize); 2] = [(150, 7), (151, 16)];
    model(|| {
        let ring = RingOptions::new().loom_ring(CAP, 1);
        let mut w = ring.writer().unwrap();
        let mut r = ring.untethered(StartAt::Next).unwrap();
        let t = thread::spawn(move || {
            for (id, len) in MSGS {
                w.try_send(&payload(id, len)).unwrap();
            }
        });
        let (mut got, mut buf) = (Vec::new(), Vec::new());
        loop {
            match r.try_recv_into(&mut buf) {
                Ok(_) => got.push(buf.clone()),
                Err(TryRecvError::Empty) => thread::yield_now(),
                Err(TryRecvError::Disconnected) => break,
                Err(e) => panic!("try_recv_into: {e:?}"),
            }
        }
        let all = expected(&MSGS);
        for (m, want) in got.iter().zip(&all) {
            assert!(
                m == want,
                "not an intact message in order: {m:?} in {got:?}"
            );
        }
        assert_eq!(
            got.len(),
            all.len(),
            "Disconnected before every message: {got:?}"
        );
        t.join().unwrap();
    });
}

/// The data model itself, part 1: a writer fills a payload and flags it with a `Relaxed`
/// store (the mutant's bug, in miniature); a reader that sees the flag and reads the payload
/// is not ordered after the fill, and loom reports it as a causality violation on the
/// payload's cells, although the bytes it reads are right.
#[test]
#[should_panic(expected = "Causality violation")]
fn model_reports_unordered_payload_read() {
    use loom::sync::atomic::{AtomicBool, Ordering};
    use loom::sync::Arc;
    model(|| {
        let data = mmring_core::LoomData::new(CAP);
        let flag = Arc::new(AtomicBool::new(false));
        let (d, f) = (data.clone(), flag.clone());
        let t = thread::spawn(move || {
            d.write_payload(8, &payload(90, 12));
            f.store(true, Ordering::Relaxed);
        });
        if flag.load(Ordering::Acquire) {
            assert_eq!(data.read_payload(8, 12), payload(90, 12));
        }
        t.join().unwrap();
    });
}

/// The data model itself, part 2: the same hand-off with a `Release` store is silent, and so
/// are a write and a read of disjoint records that are not ordered at all (adjacent records,
/// the reader's ending in the middle of its last word).
#[test]
fn model_accepts_ordered_and_disjoint_access() {
    use loom::sync::atomic::{AtomicBool, Ordering};
    use loom::sync::Arc;
    model(|| {
        let data = mmring_core::LoomData::new(CAP);
        data.write_payload(0, &payload(91, 5));
        let flag = Arc::new(AtomicBool::new(false));
        let (d, f) = (data.clone(), flag.clone());
        let t = thread::spawn(move || {
            d.write_payload(8, &payload(92, 12));
            f.store(true, Ordering::Release);
        });
        assert_eq!(data.read_payload(0, 5), payload(91, 5));
        if flag.load(Ordering::Acquire) {
            assert_eq!(data.read_payload(8, 12), payload(92, 12));
        }
        t.join().unwrap();
    });
}
