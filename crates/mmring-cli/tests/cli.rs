//! Drives the real `mmring` binary: piping `send` into `tail`, `info --json` against a live
//! ring, the writer's death, and every error path with its message and exit status.

mod common;

use common::{s, Scratch, BIN};
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn mmring(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    c
}

fn run(args: &[&str]) -> Output {
    mmring(args).stdin(Stdio::null()).output().unwrap()
}

/// Asserts exit status `code` and a single stderr line equal to `expected`.
fn assert_fails(out: &Output, code: i32, expected: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line on stderr, got: {err}");
    assert_eq!(err.trim_end(), expected);
}

fn create(path: &Path, cap: &str) {
    let out = run(&["create", s(path), "--capacity", cap]);
    assert!(out.status.success(), "{out:?}");
}

fn info(path: &Path) -> Value {
    let out = run(&["info", s(path), "--json"]);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("info --json prints JSON")
}

/// Polls `info --json` until `pred` holds (or fails after 10 s).
fn wait_info(path: &Path, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let v = info(path);
        if pred(&v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waiting for {what}: {v}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A `send` process reading from a pipe we hold.
fn spawn_send(path: &Path) -> (Child, ChildStdin) {
    let mut child = mmring(&["send", s(path)])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

fn spawn_tail(path: &Path, extra: &[&str]) -> Child {
    mmring(&[&["tail", s(path)], extra].concat())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn send_piped_to_tail_moves_100k_lines_intact() {
    let dir = Scratch::new("cli-test");
    let ring = dir.path("r");
    // A small ring, so both sides block and wake many times.
    create(&ring, "16KiB");
    let expected: String = (1..=100_000).map(|i| format!("{i}\n")).collect();
    let tail = spawn_tail(&ring, &["--count", "100000"]);
    let (mut send, mut stdin) = spawn_send(&ring);
    let input = expected.clone();
    let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = tail.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(send.wait().unwrap().success());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == expected.as_bytes(),
        "the 100,000 lines differ"
    );
}

#[test]
fn tail_count_returns_while_the_writer_lives_and_waits_for_a_first_writer() {
    let dir = Scratch::new("cli-test");
    let ring = dir.path("r");
    create(&ring, "64KiB");
    // Started before any writer has attached: it must wait, not exit.
    let tail = spawn_tail(&ring, &["--count", "3", "--format", "json"]);
    std::thread::sleep(Duration::from_millis(100));
    let (mut send, mut stdin) = spawn_send(&ring);
    stdin
        .write_all("one\ntwo\nthree\nfour\n".as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let out = tail.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "{\"len\":3,\"text\":\"one\"}\n{\"len\":3,\"text\":\"two\"}\n{\"len\":5,\"text\":\"three\"}\n"
    );
    // The writer is still attached; the fourth line is still in the ring.
    let v = info(&ring);
    assert_eq!(v["writer"]["alive"], true);
    assert_eq!(v["messages_in_flight"], 1);
    drop(stdin);
    assert!(send.wait().unwrap().success());
    // A plain tail prints what is left and exits.
    let out = run(&["tail", s(&ring), "--format", "hex"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "666f7572\n");
}

#[test]
fn tail_prints_everything_then_exits_3_when_the_writer_is_killed() {
    let dir = Scratch::new("cli-test");
    let ring = dir.path("r");
    create(&ring, "64KiB");
    let (mut send, mut stdin) = spawn_send(&ring);
    stdin.write_all(b"a\nb\nc\nd\ne\n").unwrap();
    stdin.flush().unwrap();
    wait_info(&ring, "5 committed messages", |v| {
        v["messages_in_flight"] == 5
    });
    let tail = spawn_tail(&ring, &["--follow"]);
    wait_info(&ring, "the tail to attach", |v| {
        v["reader"]["alive"] == true
    });
    // `send` is blocked reading its standard input: kill it without a chance to detach.
    send.kill().unwrap();
    send.wait().unwrap();
    let out = tail.wait_with_output().unwrap();
    assert_eq!(out.stdout, b"a\nb\nc\nd\ne\n");
    assert_fails(
        &out,
        3,
        &format!(
            "mmring: {}: the writer has disconnected; all 5 messages it left were printed",
            ring.display()
        ),
    );
    drop(stdin);
}

#[test]
fn info_json_reports_a_live_ring() {
    let dir = Scratch::new("cli-test");
    let ring = dir.path("r");
    create(&ring, "64KiB");
    let v = info(&ring);
    assert_eq!(v["capacity"], 65536);
    assert_eq!(v["writer"]["state"], "never");
    assert_eq!(v["messages_in_flight"], 0);

    let (mut send, mut stdin) = spawn_send(&ring);
    stdin.write_all(b"hello\nworld!\n").unwrap();
    stdin.flush().unwrap();
    let v = wait_info(&ring, "2 messages", |v| v["messages_in_flight"] == 2);
    // Records are an 8-byte header plus the payload rounded up to 8: 16 bytes each here.
    assert_eq!(v["write_pos"], 32);
    assert_eq!(v["read_pos"], 0);
    assert_eq!(v["bytes_in_flight"], 32);
    assert_eq!(v["payload_bytes_in_flight"], 11);
    assert_eq!(v["max_message_len"], 32760);
    assert_eq!(v["version"], 2);
    assert_eq!(v["path"], s(&ring));
    assert_eq!(v["readers"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["readers"][0]["lag_bytes"], 32);
    assert_eq!(v["readers"][0]["messages_pending"], 2);
    assert_eq!(v["readers"][0]["tethered"], true);
    assert_eq!(v["writer"]["state"], "attached");
    assert_eq!(v["writer"]["alive"], true);
    assert_eq!(v["writer"]["pid"], send.id());
    assert_eq!(v["writer"]["attach_count"], 1);
    assert_eq!(v["reader"]["state"], "never");
    assert_eq!(v["reader"]["alive"], false);
    assert_eq!(v["reader"]["pid"], Value::Null);

    // A tail consumes one message; info sees the cursor move and the reader come and go.
    let out = run(&["tail", s(&ring), "--count", "1"]);
    assert_eq!(out.stdout, b"hello\n");
    let v = info(&ring);
    assert_eq!(v["read_pos"], 16);
    assert_eq!(v["messages_in_flight"], 1);
    assert_eq!(v["reader"]["state"], "closed");
    assert_eq!(v["reader"]["alive"], false);

    drop(stdin);
    assert!(send.wait().unwrap().success());
    let v = info(&ring);
    assert_eq!(v["writer"]["state"], "closed");
    assert_eq!(v["writer"]["alive"], false);

    // The text form says the same things.
    let out = run(&["info", s(&ring)]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("cursors  write 32, read 16"), "{text}");
    assert!(text.contains("1 message (6 payload bytes)"), "{text}");
}

#[test]
fn send_raw_and_from_a_file() {
    let dir = Scratch::new("cli-test");
    let ring = dir.path("r");
    let file = dir.path("input");
    std::fs::write(&file, b"x\ny\n\nlast-without-newline").unwrap();
    let out = run(&["send", s(&ring), "--create", "4KiB", "--file", s(&file)]);
    assert!(out.status.success(), "{out:?}");
    let out = run(&["send", s(&ring), "--raw", "--file", s(&file)]);
    assert!(out.status.success(), "{out:?}");
    let out = run(&["tail", s(&ring), "--format", "json"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "{\"len\":1,\"text\":\"x\"}\n{\"len\":1,\"text\":\"y\"}\n{\"len\":0,\"text\":\"\"}\n\
         {\"len\":20,\"text\":\"last-without-newline\"}\n\
         {\"len\":25,\"text\":\"x\\ny\\n\\nlast-without-newline\"}\n"
    );
}

#[test]
fn error_paths_print_one_line_and_a_documented_status() {
    let dir = Scratch::new("cli-test");
    let missing = dir.path("missing");
    assert_fails(
        &run(&["info", s(&missing)]),
        4,
        &format!("mmring: {}: no such file", missing.display()),
    );
    assert_fails(
        &run(&["send", s(&missing)]),
        4,
        &format!("mmring: {}: no such file", missing.display()),
    );

    let junk = dir.path("junk");
    std::fs::write(&junk, vec![0x5a; 8192]).unwrap();
    assert_fails(
        &run(&["tail", s(&junk)]),
        4,
        &format!(
            "mmring: {}: not an mmring ring (magic 0x5a5a5a5a5a5a5a5a)",
            junk.display()
        ),
    );
    assert_fails(
        &run(&["info", s(&dir.0)]),
        4,
        &format!(
            "mmring: {}: not a regular file (it is a directory)",
            dir.0.display()
        ),
    );

    let ring = dir.path("r");
    assert_fails(
        &run(&["create", s(&ring), "--capacity", "1000"]),
        2,
        "mmring: invalid value '1000' for '--capacity <SIZE>': capacity 1000 is not a power \
         of two (nearest: 512 B or 1 KiB) (see 'mmring --help')",
    );
    assert_fails(
        &run(&["create", s(&ring), "--capacity", "12XB"]),
        2,
        "mmring: invalid value '12XB' for '--capacity <SIZE>': unknown unit 'xb' in '12XB' \
         (use B, KiB, MiB, GiB, or kB, MB, GB) (see 'mmring --help')",
    );
    assert_fails(
        &run(&["create", s(&ring)]),
        2,
        "mmring: the following required arguments were not provided: --capacity <SIZE> \
         (see 'mmring --help')",
    );
    assert!(!ring.exists());

    // Set-uid, set-gid and sticky bits are refused, by `create` and by `--create`.
    for mode in ["4755", "2770", "1777", "7777", "0o4600"] {
        let digits = mode.trim_start_matches("0o");
        let why = format!(
            "mode {digits} has bits outside 777: only permission bits are allowed; set-uid \
             (4000), set-gid (2000) and sticky (1000) bits are refused (see 'mmring --help')"
        );
        assert_fails(
            &run(&["create", s(&ring), "--capacity", "4KiB", "--mode", mode]),
            2,
            &format!("mmring: invalid value '{mode}' for '--mode <OCTAL>': {why}"),
        );
        assert_fails(
            &run(&["send", s(&ring), "--create", "4KiB", "--mode", mode]),
            2,
            &format!("mmring: invalid value '{mode}' for '--mode <OCTAL>': {why}"),
        );
    }
    assert!(!ring.exists());
    let out = run(&["create", s(&ring), "--capacity", "4KiB", "--mode", "777"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::metadata(&ring).unwrap().permissions().mode() & 0o7777,
        0o777
    );
    std::fs::remove_file(&ring).unwrap();

    create(&ring, "4KiB");
    assert_fails(
        &run(&["create", s(&ring), "--capacity", "4KiB"]),
        4,
        &format!("mmring: {}: file already exists", ring.display()),
    );

    // A second reader while one is attached.
    let mut first = spawn_tail(&ring, &["--follow"]);
    let v = wait_info(&ring, "the first tail", |v| v["reader"]["alive"] == true);
    assert_eq!(v["reader"]["pid"], first.id());
    assert_fails(
        &run(&["tail", s(&ring)]),
        4,
        &format!(
            "mmring: {}: a reader is already attached to this ring (pid {})",
            ring.display(),
            first.id()
        ),
    );
    first.kill().unwrap();
    first.wait().unwrap();

    // No reader has ever attached to drain the ring: a send that needs more room waits for
    // one, and gives up at its timeout.
    let ring = dir.path("full");
    create(&ring, "4KiB");
    let mut send = mmring(&["send", s(&ring), "--timeout", "200ms"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = send.stdin.take().unwrap();
    stdin
        .write_all(&b"0123456789abcdef\n".repeat(1000))
        .unwrap();
    drop(stdin);
    let out = send.wait_with_output().unwrap();
    assert_fails(
        &out,
        5,
        &format!(
            "mmring: {}: timed out waiting for space in the ring",
            ring.display()
        ),
    );

    // A line longer than the ring's maximum message.
    let big = dir.path("big");
    std::fs::write(&big, vec![b'x'; 3000]).unwrap();
    let small = dir.path("small");
    create(&small, "4KiB");
    assert_fails(
        &run(&["send", s(&small), "--file", s(&big)]),
        1,
        &format!(
            "mmring: {}: line 1 of {} is 3000 bytes, longer than the ring's maximum message of \
             2040 bytes (create a ring of at least twice that capacity)",
            small.display(),
            big.display()
        ),
    );
}

#[test]
fn help_documents_exit_codes_and_examples() {
    for sub in ["create", "info", "send", "tail", "bench"] {
        let out = run(&[sub, "--help"]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Exit status:"), "{sub}: {text}");
        assert!(text.contains("  3  peer disconnected"), "{sub}: {text}");
        assert!(text.contains(&format!("mmring {sub}")), "{sub}: {text}");
    }
}

#[test]
fn bench_prints_percentiles_and_a_histogram() {
    let out = run(&[
        "bench",
        "--seconds",
        "0.4",
        "--size",
        "64",
        "--mode",
        "park",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "p50",
        "p99.9",
        "max",
        "round-trip histogram",
        "M msgs/s",
        "MB/s",
    ] {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
    assert!(
        text.lines().any(|l| l.contains('|') && l.contains('%')),
        "{text}"
    );
}
