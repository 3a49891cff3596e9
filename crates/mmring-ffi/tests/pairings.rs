//! The C examples (`examples/c/writer.c`, `reader.c`) against the Rust library in both roles,
//! and against each other under AddressSanitizer + UndefinedBehaviorSanitizer: every pairing
//! agrees on the stream's checksum line. (`.ci/ffi.sh` pairs the C examples with the Rust
//! examples themselves, a million messages each way.)

mod common;

use api::{Reader, Writer};
use common::{assert_success, command, compile, root, stream_header, PLAIN, SANITIZE};
use mmring_testkit::stream::{fill, size_for, verify, Checksum};
use std::path::{Path, PathBuf};
use std::process::Stdio;

const CAPACITY: usize = 1 << 20;

/// Builds examples/c/`name`.c into `dir` with `flags`.
fn example(dir: &Path, name: &str, flags: &[&str], suffix: &str) -> PathBuf {
    stream_header(dir);
    let exe = dir.join(format!("{name}{suffix}"));
    let src = root().join(format!("examples/c/{name}.c"));
    compile(&exe, &[&src], &[dir], flags);
    exe
}

/// The stream's closing numbers for `count` messages of 8..=256 bytes.
fn expected(count: u64) -> (u64, String) {
    let (mut sum, mut bytes, mut buf) = (Checksum::new(), 0u64, vec![0u8; 256]);
    for seq in 0..count {
        let m = &mut buf[..size_for(seq, 8, 256)];
        fill(seq, m);
        sum.update(m);
        bytes += m.len() as u64;
    }
    (bytes, format!("{:016x}", sum.value()))
}

/// Receives `count` messages with the Rust library, checking each: the reader example's line.
fn rust_reader(path: &Path, count: u64) -> String {
    let mut r = Reader::open_or_create(path, CAPACITY).unwrap();
    let (mut sum, mut bytes) = (Checksum::new(), 0u64);
    for seq in 0..count {
        let m = r.recv().unwrap();
        verify(seq, &m).unwrap();
        sum.update(&m);
        bytes += m.len() as u64;
    }
    format!(
        "received={count} bytes={bytes} checksum={:016x}",
        sum.value()
    )
}

/// Sends `count` stream messages with the Rust library once a reader is attached (a reader
/// that attaches after its writer has gone waits for the next one): the writer example's line.
fn rust_writer(path: &Path, count: u64) -> String {
    let mut w = Writer::open_or_create(path, CAPACITY).unwrap();
    while !w.is_reader_alive() {
        std::thread::yield_now();
    }
    let (mut sum, mut bytes) = (Checksum::new(), 0u64);
    for seq in 0..count {
        let mut g = w.reserve(size_for(seq, 8, 256)).unwrap();
        fill(seq, &mut g);
        sum.update(&g);
        bytes += g.len() as u64;
        g.commit();
    }
    format!("sent={count} bytes={bytes} checksum={:016x}", sum.value())
}

fn last_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn c_writer_to_rust_reader() {
    let dir = tempfile::tempdir().unwrap();
    let writer = example(dir.path(), "writer", PLAIN, "");
    let ring = dir.path().join("ring");
    let count = 200_000;
    let child = command(&writer)
        .arg(&ring)
        .arg(count.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let received = rust_reader(&ring, count);
    let out = child.wait_with_output().unwrap();
    assert_success("C writer", &out);
    let (bytes, sum) = expected(count);
    assert_eq!(
        last_line(&out),
        format!("sent={count} bytes={bytes} checksum={sum}")
    );
    assert_eq!(
        received,
        format!("received={count} bytes={bytes} checksum={sum}")
    );
}

#[test]
fn rust_writer_to_c_reader() {
    let dir = tempfile::tempdir().unwrap();
    let reader = example(dir.path(), "reader", PLAIN, "");
    let ring = dir.path().join("ring");
    let count = 200_000;
    let child = command(&reader)
        .arg(&ring)
        .arg(count.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let sent = rust_writer(&ring, count);
    let out = child.wait_with_output().unwrap();
    assert_success("C reader", &out);
    assert_eq!(sent.replace("sent=", "received="), last_line(&out));
}

#[test]
fn c_writer_to_c_reader_under_asan_and_ubsan() {
    let dir = tempfile::tempdir().unwrap();
    let writer = example(dir.path(), "writer", SANITIZE, "_san");
    let reader = example(dir.path(), "reader", SANITIZE, "_san");
    // A small ring, long messages: the writer wraps and waits for room again and again.
    let ring = dir.path().join("ring");
    let args = |exe: &Path, extra: &[&str]| {
        let mut c = command(exe);
        c.arg(&ring).arg("20000").args(extra).stdout(Stdio::piped());
        c.stderr(Stdio::piped());
        c
    };
    let r = args(&reader, &["--capacity", "8192"]).spawn().unwrap();
    let w = args(&writer, &["--capacity", "8192", "--size", "8..2000"])
        .spawn()
        .unwrap();
    let (w, r) = (w.wait_with_output().unwrap(), r.wait_with_output().unwrap());
    assert_success("sanitized C writer", &w);
    assert_success("sanitized C reader", &r);
    let sent = last_line(&w);
    assert!(sent.starts_with("sent=20000 "), "{sent}");
    assert_eq!(sent.replace("sent=", "received="), last_line(&r));
}

#[test]
fn c_reader_exits_3_when_the_writer_goes_early_and_1_on_a_wrong_message() {
    let dir = tempfile::tempdir().unwrap();
    let reader = example(dir.path(), "reader", SANITIZE, "_san");
    // The writer sends 10 of the 100 messages and goes.
    let ring = dir.path().join("early");
    let child = command(&reader)
        .arg(&ring)
        .arg("100")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let sent = rust_writer(&ring, 10);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(last_line(&out), sent.replace("sent=10", "received=10"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("went away after 10 of 100"));

    // Message #1 is missing: the reader names what it expected and what it got.
    let ring = dir.path().join("wrong");
    let child = command(&reader)
        .arg(&ring)
        .arg("5")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = Writer::open_or_create(&ring, CAPACITY).unwrap();
    while !w.is_reader_alive() {
        std::thread::yield_now();
    }
    for seq in [0u64, 2] {
        let mut m = vec![0u8; size_for(seq, 8, 256)];
        fill(seq, &mut m);
        w.send(&m).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected message #1, received #2"),
        "{out:?}"
    );
}
