//! Hostile input, deterministically: the fuzz drivers of `fuzz/harness.rs` run as property tests
//! (proptest, fixed case counts, no persistence), forged records that reach every branch of the
//! record validator with exact errors, targeted cases for cursors near 2^63 and 2^64, and the
//! truncation guard: another process shrinking the file under a live reader and writer.

#[path = "../fuzz/harness.rs"]
mod harness;

use harness::{DATA, READ_POS, TAIL_POS, WRITE_POS};
use mmring::layout::{max_message_len, message_word, padding_word, record_size};
use mmring::{
    Corrupt, CorruptKind, OpenError, Reader, RecvError, RingOptions, SendError, TryRecvError,
    TrySendError, Writer,
};
use proptest::collection::vec;
use proptest::prelude::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Fixed cases and a fixed seed (override with `PROPTEST_RNG_SEED`): every CI run checks the
/// same inputs, so a failure is reproducible; the fuzzers explore beyond them.
fn config(cases: u32) -> ProptestConfig {
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6d6d_7269_6e67);
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// Arbitrary header and data bytes: open, receive and send never panic or hang, and
    /// every error is typed.
    #[test]
    fn ring_bytes_never_panic(data in vec(any::<u8>(), 0..2048)) {
        harness::ring_bytes(&data);
    }

    /// Arbitrary peer stores to cursors, record headers and side words between normal
    /// operations: never a panic, and a poisoned handle stays poisoned.
    #[test]
    fn peer_writes_never_panic(data in vec(any::<u8>(), 0..768)) {
        harness::peer_writes(&data);
    }
}

/// Cursor values where arithmetic goes wrong if it is going to.
fn interesting_cursor() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(8),
        (0u64..64).prop_map(|k| u64::MAX - k),
        (0u64..4096).prop_map(|k| (u64::MAX - k) & !7),
        (0u64..1 << 20),
        any::<u64>(),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// Any three cursors in a valid header: attach is refused with `Corrupt`, or every send
    /// and receive afterwards ends in `Ok`, `Full`/`Empty`, or a typed `Corrupt`.
    ///
    /// v2: each side validates what it owns. A reader checks only its own cursor (aligned,
    /// below 2^63): `write_pos` is a lower bound it never relies on. The writer checks its
    /// cursors, walks the records from `write_pos`, and checks every holding reader's cursor
    /// against what is committed; so a reader refused implies a writer refused, not the
    /// other way round (v1 required both to agree).
    #[test]
    fn cursors_anywhere(
        write in interesting_cursor(),
        tail in interesting_cursor(),
        read in interesting_cursor(),
        lens in vec(0usize..200, 1..40),
    ) {
        let s = harness::Scratch::new("cursors");
        RingOptions::new().create(256).create_unattached(&s.0).unwrap();
        let peer = harness::PeerMap::open(&s.0);
        peer.write_u64(WRITE_POS, write);
        peer.write_u64(TAIL_POS, tail);
        peer.write_u64(READ_POS, read);
        let opts = RingOptions::new().init_timeout(Duration::ZERO);
        let mut w = match opts.open_writer(&s.0) {
            Ok(w) => Some(w),
            Err(OpenError::Corrupt { .. }) => None,
            Err(e) => panic!("{e}"),
        };
        let mut r = match opts.open_reader(&s.0) {
            Ok(r) => Some(r),
            Err(OpenError::Corrupt { source, .. }) => {
                // Its own cursor, or the tail it starts from (checked before it is used).
                prop_assert!(
                    (source.offset, source.found) == (READ_POS, read)
                        || (source.offset, source.found) == (TAIL_POS, tail),
                    "{source}"
                );
                None
            }
            Err(e) => panic!("{e}"),
        };
        let valid = |c: u64| c % 8 == 0 && c < 1 << 63;
        prop_assert_eq!(r.is_some(), valid(read) && valid(tail));
        prop_assert!(
            r.is_some() || w.is_none() || !valid(tail) && valid(read),
            "writer accepted a reader cursor {read:#x}"
        );
        let (mut wp, mut rp) = (harness::Poison::default(), harness::Poison::default());
        for len in lens {
            if let Some(w) = w.as_mut() {
                let res = w.try_send(&[7u8; 200][..len]);
                wp.saw(match res { Err(TrySendError::Corrupt(c)) => Some(c), _ => None }, "send");
            }
            if let Some(r) = r.as_mut() {
                let res = r.try_recv_vec();
                rp.saw(match res { Err(TryRecvError::Corrupt(c)) => Some(c), _ => None }, "recv");
            }
        }
    }
}

/// A writer and a reader of a fresh 256-byte ring (`max_message_len` 120), both at ring
/// position `pos` (which must be a multiple of 8): a lap and more of records sent and received,
/// the last receive an empty poll (so everything is released), plus the peer's mapping.
struct At {
    _s: harness::Scratch,
    path: std::path::PathBuf,
    w: Option<Writer>,
    r: Reader,
    peer: harness::PeerMap,
    pos: u64,
}

const CAP: u64 = 256;

impl At {
    fn new(pos: u64) -> At {
        let s = harness::Scratch::new("forged");
        let path = s.0.clone();
        let mut w = Writer::create(&path, CAP as usize).unwrap();
        let mut r = Reader::open(&path).unwrap();
        let mut left = pos;
        while left > 0 {
            // Records of 128 bytes (the largest) tile the ring; the remainder comes last.
            let rec = left.min(record_size(max_message_len(CAP)));
            w.try_send(&vec![1u8; rec as usize - 8]).unwrap();
            assert_eq!(r.try_recv_vec().unwrap().len(), rec as usize - 8);
            left -= rec;
        }
        assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Empty);
        let info = mmring::inspect(&path).unwrap();
        assert_eq!((info.write_pos, info.readers[0].read_pos), (pos, pos));
        At {
            peer: harness::PeerMap::open(&path),
            _s: s,
            path,
            w: Some(w),
            r,
            pos,
        }
    }

    /// Stores `word` as the record header at ring position `pos`.
    fn forge(&self, pos: u64, word: u64) {
        self.peer.write_u64(DATA + (pos & (CAP - 1)), word);
    }

    /// What the reader reports for the record at its position.
    fn recv(&mut self) -> Result<Vec<u8>, TryRecvError> {
        self.r.try_recv_vec()
    }

    /// The corruption the reader must report for the record header `word` at its position.
    fn corrupt(&self, kind: CorruptKind, word: u64) -> TryRecvError {
        TryRecvError::Corrupt(Corrupt {
            kind,
            offset: DATA + (self.pos & (CAP - 1)),
            found: word,
        })
    }
}

/// Every branch of the record validator (`ring/validate.rs`), reached through the public API
/// with forged v2 header words at the reader's position, and the exact error it reports.
#[test]
fn forged_records_reach_every_validator_branch() {
    // Two laps and 200 bytes in: a record of 56 bytes (48 of payload) ends exactly at the end
    // of the data region, and `pos - 2 * CAP` is a real earlier lap.
    let pos = 2 * CAP + 200;
    let max = max_message_len(CAP) as u32;
    let rejected: [(&str, u64, CorruptKind); 8] = [
        (
            "too long",
            message_word(pos, max + 1),
            CorruptKind::RecordTooLong,
        ),
        (
            "too long, 31 bits",
            message_word(pos, (1 << 31) - 1),
            CorruptKind::RecordTooLong,
        ),
        (
            "crosses the end",
            message_word(pos, 49),
            CorruptKind::RecordCrossesEnd,
        ),
        (
            "padding short of the end",
            padding_word(pos, 40),
            CorruptKind::BadPadding,
        ),
        (
            "padding past the end",
            padding_word(pos, 56),
            CorruptKind::BadPadding,
        ),
        (
            "two laps ago",
            message_word(pos - 2 * CAP, 8),
            CorruptKind::BadRecordHeader,
        ),
        (
            "another position",
            message_word(pos + 8, 8),
            CorruptKind::BadRecordHeader,
        ),
        (
            "garbage",
            0xdead_beef_0bad_f00d,
            CorruptKind::BadRecordHeader,
        ),
    ];
    for (what, word, kind) in rejected {
        let mut at = At::new(pos);
        at.forge(pos, word);
        let want = at.corrupt(kind, word);
        assert_eq!(at.recv(), Err(want), "{what}");
        // Poisoned: every operation reports it again, `drain(0)` included.
        assert_eq!(at.recv(), Err(want), "{what}: again");
        assert_eq!(at.r.drain(0, |_| {}), Err(want), "{what}: drain(0)");
        assert_eq!(at.r.try_skip(), Err(want), "{what}: try_skip");
        assert_eq!(at.r.batch().next(), Err(want), "{what}: batch");
        assert_eq!(
            at.r.recv_timeout(Duration::ZERO).map(|m| m.len()),
            Err(RecvError::Corrupt(match want {
                TryRecvError::Corrupt(c) => c,
                _ => unreachable!(),
            })),
            "{what}: recv_timeout"
        );
        // `inspect` walks with the same validator: it cannot say where the records end.
        let info = mmring::inspect(&at.path).unwrap();
        assert_eq!(info.end_pos, None, "{what}: inspect");
        assert_eq!(info.readers[0].messages_pending, None, "{what}: inspect");
        // A new writer walks from `write_pos` too, and refuses the ring.
        drop(at.w.take());
        match Writer::open(&at.path) {
            Err(OpenError::Corrupt { source, .. }) => {
                assert_eq!(TryRecvError::Corrupt(source), want, "{what}: writer attach")
            }
            other => panic!("{what}: writer attach: {:?}", other.map(drop)),
        }
    }

    // Padding that ends at the end of the data region but is half the ring or more: a correct
    // writer never needs it (a record of at most half the ring fits before a nearer end).
    let mut at = At::new(CAP + 64);
    let word = padding_word(CAP + 64, (CAP - 64 - 8) as u32);
    at.forge(CAP + 64, word);
    assert_eq!(at.recv(), Err(at.corrupt(CorruptKind::BadPadding, word)));

    // What a correct writer leaves ahead of itself reads as "nothing yet": zero, or the
    // previous lap's message or padding header at this offset. The ring then works on.
    for (what, word) in [
        ("zero", 0),
        ("previous lap's message", message_word(pos - CAP, 48)),
        ("previous lap's padding", padding_word(pos - CAP, 48)),
    ] {
        let mut at = At::new(pos);
        at.forge(pos, word);
        assert_eq!(at.recv(), Err(TryRecvError::Empty), "{what}");
        let info = mmring::inspect(&at.path).unwrap();
        assert_eq!(
            (info.end_pos, info.messages_pending()),
            (Some(pos), Some(0))
        );
        at.w.as_mut().unwrap().try_send(b"after").unwrap();
        assert_eq!(at.recv().unwrap(), b"after", "{what}");
    }

    // A valid padding record, then a message at the start of the next lap: delivered, and
    // the writer's successor finds the end by walking them (a writer that died between its
    // commit and its `write_pos` store leaves exactly this).
    let mut at = At::new(pos);
    // A correct writer only writes below `tail_pos + capacity`: let it re-read the reader's
    // cursor (`in_flight` does) and advance its tail to it first, as it does when it needs room.
    assert_eq!(at.w.as_mut().unwrap().in_flight().unwrap(), 0);
    assert_eq!(mmring::inspect(&at.path).unwrap().tail_pos, pos);
    drop(at.w.take());
    at.forge(pos, padding_word(pos, 48));
    at.peer
        .write_u64(DATA + 8, u64::from_le_bytes(*b"forged!!"));
    at.forge(pos + 56, message_word(pos + 56, 8));
    at.forge(pos + 56 + 16, 0); // the word a writer clears after its last record
    let info = mmring::inspect(&at.path).unwrap();
    assert_eq!(info.write_pos, pos);
    assert_eq!(info.end_pos, Some(pos + 56 + 16));
    assert_eq!(info.readers[0].messages_pending, Some(1));
    let mut w = Writer::open(&at.path).unwrap();
    w.try_send(b"next").unwrap();
    assert_eq!(at.recv().unwrap(), b"forged!!");
    assert_eq!(at.recv().unwrap(), b"next");
    assert_eq!(
        mmring::inspect(&at.path).unwrap().write_pos,
        pos + 56 + 16 + 16
    );

    // `write_pos` claims a record where none is, and the writer has gone: once the reader has
    // taken everything there is, it reports the missing record instead of `Disconnected`.
    let mut at = At::new(pos);
    drop(at.w.take());
    at.peer.write_u64(WRITE_POS, pos + 16);
    let want = TryRecvError::Corrupt(Corrupt {
        kind: CorruptKind::MissingRecord,
        offset: WRITE_POS,
        found: pos + 16,
    });
    assert_eq!(at.recv(), Err(want));
    assert_eq!(at.r.drain(0, |_| {}), Err(want));
}

/// A cursor at or above 2^63 is refused when a side attaches, with `CursorOverflow` at the
/// field (so that no cursor arithmetic can overflow later); one just below attaches and runs
/// past 2^63 without wrapping.
///
/// v2 semantic change: a v1 writer attached at any cursor and reported `CursorOverflow` from
/// the send that would have wrapped past 2^64; v2 refuses such cursors at attach, for the
/// writer's `write_pos` and each reader's `read_pos` alike.
#[test]
fn cursors_at_2_63_are_refused_at_attach() {
    let s = harness::Scratch::new("overflow");
    RingOptions::new()
        .create(256)
        .create_unattached(&s.0)
        .unwrap();
    let peer = harness::PeerMap::open(&s.0);
    let overflow = |e: OpenError, field: u64| match e {
        OpenError::Corrupt { source, .. } => {
            assert_eq!(
                (source.kind, source.offset),
                (CorruptKind::CursorOverflow, field)
            )
        }
        other => panic!("expected CursorOverflow, got {other}"),
    };
    for top in [!7u64 - 64, 1 << 63] {
        for field in [WRITE_POS, TAIL_POS, READ_POS] {
            peer.write_u64(field, top);
        }
        overflow(Writer::open(&s.0).unwrap_err(), WRITE_POS);
        overflow(Reader::open(&s.0).unwrap_err(), READ_POS);
    }
    // Just below: both attach, and a few laps of messages cross 2^63 intact.
    let below = (1u64 << 63) - 64;
    for field in [WRITE_POS, TAIL_POS, READ_POS] {
        peer.write_u64(field, below);
    }
    let mut w = Writer::open(&s.0).unwrap();
    let mut r = Reader::open(&s.0).unwrap();
    for i in 0..20u8 {
        w.try_send(&[i; 40]).unwrap();
        assert_eq!(r.try_recv_vec().unwrap(), [i; 40]);
    }
    assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Empty);
    // 48-byte records from offset 192 of a 256-byte ring: a padding record every time one
    // does not fit before the end.
    let mut end = below;
    for _ in 0..20 {
        let off = end % 256;
        if off + record_size(40) > 256 {
            end += 256 - off;
        }
        end += record_size(40);
    }
    let info = mmring::inspect(&s.0).unwrap();
    assert!(info.write_pos > 1 << 63);
    assert_eq!(info.write_pos, end);
    assert_eq!(info.readers[0].read_pos, info.write_pos);
    drop((w, r));
    // Past 2^63 now: the next side to attach refuses.
    overflow(Writer::open(&s.0).unwrap_err(), WRITE_POS);
    overflow(Reader::open(&s.0).unwrap_err(), READ_POS);
}

fn truncate(path: &Path, len: u64) {
    let st = Command::new("truncate")
        .arg("-s")
        .arg(len.to_string())
        .arg(path)
        .status()
        .expect("run truncate(1)");
    assert!(st.success());
}

fn is_truncated<T: std::fmt::Debug>(what: &str, c: Option<mmring::Corrupt>, other: T) {
    match c {
        Some(c) => assert_eq!(c.kind, CorruptKind::Truncated, "{what}: {c}"),
        None => panic!("{what}: expected Truncated, got {other:?}"),
    }
}

/// Another process truncates the file to zero under a live writer and reader with messages in
/// flight: both survive (no SIGBUS) and report `Truncated`, then stay poisoned.
#[test]
fn truncated_to_zero_under_live_handles() {
    let s = harness::Scratch::new("trunc0");
    let mut w = Writer::create(&s.0, 64 * 1024).unwrap();
    let mut r = mmring::Reader::open(&s.0).unwrap();
    for i in 0..3u8 {
        w.try_send(&[i; 100]).unwrap();
    }
    assert_eq!(r.try_recv_vec().unwrap(), [0; 100]);
    truncate(&s.0, 0);

    // The reader has two messages it believes committed: reading the next record faults.
    let e = r.try_recv_vec().unwrap_err();
    is_truncated(
        "reader",
        match e {
            TryRecvError::Corrupt(c) => Some(c),
            _ => None,
        },
        e,
    );
    assert_eq!(r.try_recv_vec().unwrap_err(), e, "stays poisoned");

    // The writer keeps writing into (private) zeros until it finds the ring full: `Truncated`.
    let mut last = None;
    for _ in 0..10_000 {
        if let Err(e) = w.try_send(&[9; 64]) {
            last = Some(e);
            break;
        }
    }
    let e = last.expect("the writer noticed within one capacity");
    is_truncated(
        "writer",
        match e {
            TrySendError::Corrupt(c) => Some(c),
            _ => None,
        },
        e,
    );
    // The file itself is refused from now on.
    let e = Writer::open(&s.0).unwrap_err();
    assert!(matches!(e, OpenError::Empty { .. }), "{e}");
}

/// Truncated to the header page only, while both sides are idle: no access faults, and the
/// periodic probe (`fstat`) reports the truncation to a waiting reader; the writer's next
/// send touches the data region and faults into zeros.
#[test]
fn truncated_to_header_detected_while_idle() {
    let s = harness::Scratch::new("trunchdr");
    let mut w = Writer::create(&s.0, 64 * 1024).unwrap();
    let mut r = mmring::Reader::open(&s.0).unwrap();
    w.try_send(b"before").unwrap();
    assert_eq!(r.try_recv_vec().unwrap(), b"before");
    truncate(&s.0, DATA);
    let e = r.recv_timeout(Duration::from_secs(5)).map(|m| m.len());
    is_truncated(
        "reader",
        match e {
            Err(RecvError::Corrupt(c)) => Some(c),
            _ => None,
        },
        e,
    );
    let mut last = None;
    for _ in 0..10_000 {
        if let Err(e) = w.send_timeout(&[1; 64], Duration::from_secs(5)) {
            last = Some(e);
            break;
        }
    }
    let e = last.expect("the writer noticed");
    is_truncated(
        "writer",
        match e {
            SendError::Corrupt(c) => Some(c),
            _ => None,
        },
        e,
    );
}

/// A reader blocked in `recv` (parked on the futex in the mapping) when the file is truncated
/// wakes up with `Truncated` instead of sleeping forever or dying.
#[test]
fn truncated_under_blocked_reader() {
    let s = harness::Scratch::new("truncblk");
    let _w = Writer::create(&s.0, 4096).unwrap();
    let mut r = mmring::Reader::open(&s.0).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let res = r.recv().map(|m| m.len());
        tx.send(res).unwrap();
    });
    // Truncate once the reader has announced that it sleeps in `recv`.
    while !mmring::inspect(&s.0).unwrap().readers[0].side.waiting {
        std::thread::yield_now();
    }
    truncate(&s.0, 0);
    let res = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("blocked reader woke up");
    t.join().unwrap();
    is_truncated(
        "reader",
        match res {
            Err(RecvError::Corrupt(c)) => Some(c),
            _ => None,
        },
        res,
    );
}

const FOREIGN_FAULT_ENV: &str = "MMRING_TEST_FOREIGN_RING";
const FOREIGN_FAULT_ENV2: &str = "MMRING_TEST_FOREIGN_FILE";

/// The guard only swallows faults in ring mappings: a SIGBUS in any other mapping still kills
/// the process, as it would without mmring (checked in a child process).
#[test]
fn foreign_sigbus_still_kills() {
    use std::os::unix::process::ExitStatusExt;
    // The child dies without cleaning up: its files are ours to remove.
    let ring = harness::Scratch::new("foreign-ring");
    let other = harness::Scratch::new("foreign-file");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "foreign_sigbus_helper",
            "--test-threads=1",
        ])
        .env(FOREIGN_FAULT_ENV, &ring.0)
        .env(FOREIGN_FAULT_ENV2, &other.0)
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGBUS),
        "child: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run by `foreign_sigbus_still_kills`: installs the guard (by opening a ring), then touches a
/// truncated mapping that is not a ring.
#[test]
#[ignore = "helper: run by foreign_sigbus_still_kills in a child process"]
fn foreign_sigbus_helper() {
    let ring = std::env::var_os(FOREIGN_FAULT_ENV).expect("run by foreign_sigbus_still_kills");
    let other = std::env::var_os(FOREIGN_FAULT_ENV2).unwrap();
    let _w = Writer::create(&ring, 4096).unwrap();
    std::fs::write(&other, vec![0u8; 8192]).unwrap();
    let peer = harness::PeerMap::open(Path::new(&other));
    truncate(Path::new(&other), 0);
    let v = peer.read_u64(4096); // SIGBUS: not ours, so not handled
    panic!("survived a foreign SIGBUS, read {v}");
}

/// Every input in `fuzz/regressions/<target>/` (inputs the fuzzers once failed on, kept so
/// they never fail again) replayed through the same driver as the fuzz target.
#[test]
fn fuzz_regressions_replay() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut n = 0;
    for (target, drive) in [
        ("ring_bytes", harness::ring_bytes as fn(&[u8])),
        ("peer_writes", harness::peer_writes as fn(&[u8])),
    ] {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for f in dir {
            let f = f.unwrap().path();
            drive(&std::fs::read(&f).unwrap());
            n += 1;
        }
    }
    assert!(
        n >= 1,
        "no regression inputs found under {}",
        root.display()
    );
}
