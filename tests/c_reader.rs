//! `docs/FORMAT.md` is enough to write a compatible reader: a C reader written from it alone
//! (`tests/c/ring_reader.c`, whose receive function is the section 11 sample, verbatim) reads a
//! ring this library wrote across the wrap point, releases what it read, wakes a writer parked
//! for room, and refuses hostile records without reading outside the mapping (the hostile cases
//! run under AddressSanitizer and UndefinedBehaviorSanitizer).

use mmring::layout::{data_offset, message_word, padding_word, READER_TABLE_OFFSET};
use mmring::{RingOptions, WaitStrategy};
use mmring_testkit::stream::{fill, size_for};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// The C reader's source; `MMRING_C_READER` points the tests at another one (to check that
/// they catch a broken reader).
fn source() -> String {
    std::env::var("MMRING_C_READER")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/ring_reader.c").into())
}

/// Compiles the C reader with `flags` into `dir`.
fn compile(dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let exe = dir.join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror"])
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .arg(source())
        .output()
        .expect("a C compiler (cc) is needed for this test");
    assert!(
        out.status.success(),
        "cc {flags:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn run(exe: &Path, path: &Path, first: u64, count: u64) -> Output {
    Command::new(exe)
        .arg(path)
        .arg(first.to_string())
        .arg(count.to_string())
        .output()
        .unwrap()
}

#[test]
fn the_spec_sample_is_the_c_readers_code() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md")).unwrap();
    let sec = &doc[doc.find("## 11.").expect("section 11")..];
    let start = sec.find("```c\n").expect("a C block") + 5;
    let sample = &sec[start..start + sec[start..].find("```").unwrap()];
    let src = std::fs::read_to_string(source()).unwrap();
    let begin = src.find("/* BEGIN section 11 */\n").unwrap() + 23;
    let end = src.find("/* END section 11 */").unwrap();
    assert_eq!(
        &src[begin..end],
        sample,
        "tests/c/ring_reader.c must carry the sample verbatim"
    );
}

#[test]
fn c_reader_from_the_spec_reads_our_ring() {
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(dir.path(), "ring_reader", &["-O2"]);
    let path = dir.path().join("ring");
    let mut w = mmring::Writer::create(&path, 4096).unwrap();
    // Three rounds, each filling most of the ring, so records wrap and padding appears.
    let mut seq = 0u64;
    for _round in 0..3 {
        let (start, mut bytes, mut seqsum) = (seq, 0u64, 0u64);
        let mut batch_bytes = 0;
        while batch_bytes < 3000 {
            let len = size_for(seq, 8, 200);
            let mut g = w.try_reserve(len).unwrap();
            fill(seq, &mut g);
            g.commit();
            bytes += len as u64;
            seqsum += seq;
            batch_bytes += len + 16;
            seq += 1;
        }
        // The C reader resumes from the position the previous run released.
        let n = seq - start;
        let out = run(&exe, &path, start, n);
        assert!(
            out.status.success(),
            "C reader failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            line.trim(),
            format!("received={n} bytes={bytes} seqsum={seqsum}")
        );
    }
    let info = mmring::inspect(&path).unwrap();
    assert_eq!(
        info.readers[0].read_pos, info.write_pos,
        "the C reader released everything"
    );
    assert!(
        info.write_pos > 2 * 4096,
        "the stream wrapped at least twice"
    );
}

/// Fills a 4 KiB ring at `path` with 100-byte stream messages; returns how many.
fn fill_ring(w: &mut mmring::Writer) -> u64 {
    let mut seq = 0u64;
    let mut msg = [0u8; 100];
    loop {
        fill(seq, &mut msg);
        match w.try_send(&msg) {
            Ok(()) => seq += 1,
            Err(mmring::TrySendError::Full) => return seq,
            Err(e) => panic!("{e}"),
        }
    }
}

/// A writer parks on the full ring at `path` (an observable state: its announcement in the
/// header, not a delay), the C reader empties the ring, and the writer's blocked `send`
/// completes. `run_reader` runs the C reader and returns its output.
fn parked_writer_resumes(path: &Path, run_reader: impl FnOnce(u64) -> Output) {
    let mut w = RingOptions::new()
        .create(4096)
        .wait_strategy(WaitStrategy::Park)
        .open_writer(path)
        .unwrap();
    let queued = fill_ring(&mut w);
    let writer = std::thread::spawn(move || {
        let mut msg = [0u8; 100];
        fill(queued, &mut msg);
        w.send(&msg).unwrap();
        w
    });
    while !mmring::inspect(path).unwrap().writer.waiting {
        std::thread::sleep(Duration::from_millis(1));
    }
    let out = run_reader(queued);
    assert!(
        out.status.success(),
        "C reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(writer.join().unwrap());
}

/// The C reader's release wakes a writer parked for room on its futex: a writer that cannot
/// make its doorbell (something that is not a FIFO is at the doorbell's path) sleeps on the
/// futex, and the C reader bumps `space_seq` (the `FUTEX_WAKE` goes with it).
#[test]
fn c_reader_wakes_a_writer_parked_on_its_futex() {
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(dir.path(), "ring_reader", &["-O2"]);
    let path = dir.path().join("ring");
    std::fs::write(dir.path().join("ring.w.bell"), b"not a FIFO").unwrap();
    let file = std::cell::OnceCell::new();
    let space_seq = || {
        let f: &std::fs::File = file.get_or_init(|| std::fs::File::open(&path).unwrap());
        let mut b = [0u8; 4];
        f.read_exact_at(&mut b, 260).unwrap();
        u32::from_le_bytes(b)
    };
    parked_writer_resumes(&path, |queued| {
        let before = space_seq();
        let out = run(&exe, &path, 0, queued);
        assert_ne!(
            space_seq(),
            before,
            "the C reader bumped the writer's futex word"
        );
        out
    });
    let out = run(&exe, &path, 0, 1);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the next message is #queued, not #0"
    );
}

/// The C reader rings the doorbell of a writer parked on it (the default where the directory
/// allows a FIFO): under `strace`, its `write` of one byte to the FIFO is seen; without
/// `strace` on the machine only the resumption is checked.
#[test]
fn c_reader_rings_the_doorbell_of_a_parked_writer() {
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(dir.path(), "ring_reader", &["-O2"]);
    let path = dir.path().join("ring");
    let trace = dir.path().join("trace");
    let strace = Command::new("strace").arg("-V").output().is_ok();
    parked_writer_resumes(&path, |queued| {
        assert!(
            dir.path().join("ring.w.bell").exists(),
            "the parked writer made its doorbell"
        );
        if !strace {
            eprintln!("strace is not installed: the doorbell write itself is not checked");
            return run(&exe, &path, 0, queued);
        }
        let out = Command::new("strace")
            .args(["-f", "-e", "trace=openat,write", "-o"])
            .arg(&trace)
            .arg(&exe)
            .arg(&path)
            .arg("0")
            .arg(queued.to_string())
            .output()
            .unwrap();
        let t = std::fs::read_to_string(&trace).unwrap();
        assert!(
            t.contains("ring.w.bell") && t.contains("write(") && t.contains(r#""\1", 1)"#),
            "no one-byte write to the writer's doorbell in the trace:\n{t}"
        );
        out
    });
    assert!(
        !dir.path().join("ring.w.bell").exists(),
        "the writer removed its doorbell when it detached"
    );
}

/// Hostile records: every case either reads as empty or is refused as corrupt, and the C
/// reader, built with AddressSanitizer and UndefinedBehaviorSanitizer, never reads outside the
/// mapping (the two "at the end" cases read past the end of the mapping without the sample's
/// `total <= capacity - off` check, which the version 1 sample lacked: this test fails on such
/// a reader, `MMRING_C_READER=<source>` runs it against another source).
#[test]
fn c_reader_refuses_hostile_records() {
    let dir = tempfile::tempdir().unwrap();
    let exe = compile(
        dir.path(),
        "ring_reader_asan",
        &[
            "-O1",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
        ],
    );
    const CAP: u64 = 4096;
    let data = u64::from(data_offset(1));
    type Case = (&'static str, u64, Vec<(u64, u64)>, i32);
    // (name, read position, words to write at positions, expected exit status)
    let cases: Vec<Case> = vec![
        (
            "message longer than the maximum",
            0,
            vec![(0, message_word(0, 2041))],
            3,
        ),
        (
            "message crossing the end",
            4080,
            vec![(4080, message_word(4080, 16))],
            3,
        ),
        (
            "maximum message at the end",
            4080,
            vec![(4080, message_word(4080, 2040))],
            3,
        ),
        (
            "length with the commit bit only",
            64,
            vec![(64, message_word(64, 0) | 0x7fff_ffff)],
            3,
        ),
        (
            "padding that does not reach the end",
            4000,
            vec![(4000, padding_word(4000, 80))],
            3,
        ),
        (
            "padding of half the ring",
            2048,
            vec![(2048, padding_word(2048, 2040))],
            3,
        ),
        ("garbage", 0, vec![(0, 0xdead_beef_dead_beef)], 3),
        (
            "header from two laps ago",
            2 * CAP,
            vec![(0, message_word(0, 5))],
            3,
        ),
        (
            "message stamped for another position",
            8,
            vec![(8, message_word(16, 5))],
            3,
        ),
        ("zero: nothing committed", 0, vec![], 2),
        (
            "header from the previous lap: nothing committed",
            CAP,
            vec![(0, message_word(0, 5))],
            2,
        ),
    ];
    for (i, (name, start, words, want)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("hostile-{i}"));
        RingOptions::new()
            .create(CAP as usize)
            .create_unattached(&path)
            .unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&start.to_le_bytes(), READER_TABLE_OFFSET as u64)
            .unwrap();
        for &(pos, word) in words.iter() {
            f.write_all_at(&word.to_le_bytes(), data + (pos & (CAP - 1)))
                .unwrap();
        }
        let out = run(&exe, &path, 0, 1);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("Sanitizer") && !err.contains("runtime error"),
            "{name}: sanitizer report:\n{err}"
        );
        assert_eq!(out.status.code(), Some(*want), "{name}: {err}");
        // The library reads the same bytes the same way.
        let mut r = mmring::Reader::open(&path).unwrap();
        match (r.try_recv().map(|m| m.len()), want) {
            (Err(mmring::TryRecvError::Corrupt(_)), 3) | (Err(mmring::TryRecvError::Empty), 2) => {}
            (got, _) => panic!("{name}: the library says {got:?}"),
        }
    }
}
