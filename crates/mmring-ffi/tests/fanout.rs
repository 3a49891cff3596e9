//! Fan-out and readiness from C (`tests/c/fanout.c`: untethered readers lapped next to
//! tethered ones, `MMRING_READERS_FULL`, start positions, old and new `mmring_options` sizes,
//! the readiness handles in one process), built plain and under AddressSanitizer +
//! UndefinedBehaviorSanitizer; and a C reader (`tests/c/poll_wait.c`) sleeping in poll(2) on its
//! readiness handle while a writer in another process, Rust or C, sends.

mod common;

use api::RingOptions;
use common::{assert_success, command, compile, PLAIN, SANITIZE};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn build(name: &str, flags: &[&str], dir: &Path, suffix: &str) -> PathBuf {
    let exe = dir.join(format!("{name}{suffix}"));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/c/{name}.c"));
    compile(&exe, &[&src], &[], flags);
    exe
}

fn run_fanout(flags: &[&str], suffix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let exe = build("fanout", flags, dir.path(), suffix);
    let rings = dir.path().join("rings");
    std::fs::create_dir(&rings).unwrap();
    let out = command(&exe).arg(&rings).output().unwrap();
    assert_success("fanout", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(" passed, 0 failed") && !last.starts_with("0 passed"),
        "unexpected summary {last:?}\n{stdout}"
    );
    println!("fanout{suffix}: {last}");
}

#[test]
fn fan_out_and_readiness_from_c() {
    run_fanout(PLAIN, "");
}

#[test]
fn fan_out_and_readiness_from_c_under_asan_and_ubsan() {
    run_fanout(SANITIZE, "_san");
}

/// The message `poll_wait` expects as number `seq`: "msg <seq>" padded with dots to 8 + seq % 200
/// bytes (at least the text).
fn message(seq: u64) -> Vec<u8> {
    let mut m = format!("msg {seq}").into_bytes();
    let len = (8 + seq % 200) as usize;
    if m.len() < len {
        m.resize(len, b'.');
    }
    m
}

/// Spawns `poll_wait reader RING` (extra arguments after), its stdout piped.
fn spawn_reader(exe: &Path, ring: &Path, extra: &[&str]) -> Child {
    command(exe)
        .arg("reader")
        .arg(ring)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A Rust writer in this process sends one message each time the C reader in the other
/// process says it is asleep in poll(2) ("waiting"): each message must wake it. Then the
/// writer goes, and the sleeping reader wakes to find it gone.
fn rust_writer_wakes_c_reader(flags: &[&str], suffix: &str, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let exe = build("poll_wait", flags, dir.path(), suffix);
    let ring = dir.path().join("ring");
    let mut w = RingOptions::new()
        .create(4096)
        .readers(2)
        .open_writer(&ring)
        .unwrap();
    let mut child = spawn_reader(&exe, &ring, extra);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let count = 20;
    let mut sent = 0;
    let start = Instant::now();
    while sent < count {
        let line = lines.next().expect("the reader's output").unwrap();
        if line == "waiting" {
            // Give it time to be inside poll(2) rather than on its way there.
            std::thread::sleep(Duration::from_millis(20));
            w.send(&message(sent)).unwrap();
            sent += 1;
        }
    }
    // The last message received, the reader waits again: the writer's exit must wake it.
    while lines.next().expect("the reader's output").unwrap() != "waiting" {}
    std::thread::sleep(Duration::from_millis(20));
    drop(w);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let out = child.wait_with_output().unwrap();
    assert_success("C reader", &out);
    let summary = rest.last().cloned().unwrap_or_default();
    // Every wake-up but the backstop's once a second found something to do.
    let ticks = start.elapsed().as_secs() + 2;
    let wakeups: u64 = summary
        .split_once("wakeups=")
        .and_then(|(_, n)| n.split_whitespace().next()?.parse().ok())
        .unwrap_or(u64::MAX);
    assert!(
        summary.starts_with(&format!("received={count} ")) && summary.contains("disconnected"),
        "{summary:?}"
    );
    assert!(
        wakeups <= count + 1 + ticks,
        "{summary:?} in {:?}",
        start.elapsed()
    );
    println!(
        "C reader{suffix} {extra:?}: {summary} in {:?}",
        start.elapsed()
    );
}

#[test]
fn a_rust_writer_wakes_a_c_reader_in_poll() {
    rust_writer_wakes_c_reader(PLAIN, "", &[]);
}

#[test]
fn a_rust_writer_wakes_an_untethered_c_reader_in_poll_under_asan_and_ubsan() {
    rust_writer_wakes_c_reader(SANITIZE, "_san", &["--untethered"]);
}

/// A C writer and a C reader, two processes on a small ring, both waiting in poll(2) on their
/// readiness handles (the writer for room, the reader for messages), sanitized.
#[test]
fn c_writer_and_c_reader_both_in_poll_under_asan_and_ubsan() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build("poll_wait", SANITIZE, dir.path(), "_san");
    let ring = dir.path().join("ring");
    RingOptions::new()
        .create(1024)
        .create_unattached(&ring)
        .unwrap();
    let count = "5000";
    let reader = spawn_reader(&exe, &ring, &["--count", count]);
    let writer = command(&exe)
        .arg("writer")
        .arg(&ring)
        .arg(count)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (w, r) = (
        writer.wait_with_output().unwrap(),
        reader.wait_with_output().unwrap(),
    );
    assert_success("C writer", &w);
    assert_success("C reader", &r);
    let w = String::from_utf8_lossy(&w.stdout);
    let r = String::from_utf8_lossy(&r.stdout);
    let (w, r) = (w.lines().last().unwrap(), r.lines().last().unwrap());
    assert!(w.starts_with("sent=5000 "), "{w}");
    assert!(r.starts_with("received=5000 "), "{r}");
    // The writer had to wait for room (the ring holds about a dozen messages).
    let waits: u64 = w
        .split_once("waits=")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap();
    assert!(waits > 0, "{w}");
    println!("{w} | {r}");
}
