//! Hostile input, deterministically: the fuzz drivers of `fuzz/harness.rs` run as property tests
//! (proptest, fixed case counts, no persistence), targeted cases for cursors near 2^64, and the
//! truncation guard: another process shrinking the file under a live reader and writer.

#[path = "../fuzz/harness.rs"]
mod harness;

use mmring::layout::HEADER_LEN;
use mmring::{
    CorruptKind, OpenError, RecvError, RingOptions, SendError, TryRecvError, TrySendError, Writer,
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

    /// Any pair of cursors in a valid header: attach is refused with `Corrupt`, or every send
    /// and receive afterwards ends in `Ok`, `Full`/`Empty`, or a typed `Corrupt`.
    #[test]
    fn cursors_anywhere(write in interesting_cursor(), read in interesting_cursor(), lens in vec(0usize..200, 1..40)) {
        let s = harness::Scratch::new("cursors");
        RingOptions::new().create(256).create_unattached(&s.0).unwrap();
        let peer = harness::PeerMap::open(&s.0);
        peer.write_u64(128, write);
        peer.write_u64(256, read);
        let opts = RingOptions::new().init_timeout(Duration::ZERO);
        let mut w = match opts.open_writer(&s.0) {
            Ok(w) => Some(w),
            Err(OpenError::Corrupt { .. }) => None,
            Err(e) => panic!("{e}"),
        };
        let mut r = match opts.open_reader(&s.0) {
            Ok(r) => Some(r),
            Err(OpenError::Corrupt { .. }) => None,
            Err(e) => panic!("{e}"),
        };
        prop_assert_eq!(w.is_some(), r.is_some());
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

/// A writer whose cursor starts just below 2^64 reports `CursorOverflow` instead of wrapping
/// (or panicking in a debug build).
#[test]
fn writer_cursor_near_u64_max() {
    let s = harness::Scratch::new("overflow");
    RingOptions::new()
        .create(256)
        .create_unattached(&s.0)
        .unwrap();
    let peer = harness::PeerMap::open(&s.0);
    let top: u64 = !7; // the largest multiple of 8
    peer.write_u64(128, top - 64);
    peer.write_u64(256, top - 64);
    let mut w = Writer::open(&s.0).unwrap();
    let mut sent = 0;
    let err = loop {
        match w.try_send(&[1; 40]) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(
        sent, 1,
        "one 48-byte record fits below 2^64, the second does not"
    );
    assert!(
        matches!(err, TrySendError::Corrupt(c) if c.kind == CorruptKind::CursorOverflow),
        "{err:?}"
    );
    // Poisoned from now on.
    assert!(matches!(w.try_send(b""), Err(TrySendError::Corrupt(_))));
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
    truncate(&s.0, u64::from(HEADER_LEN));
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
    std::thread::sleep(Duration::from_millis(50));
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
