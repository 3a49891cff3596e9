//! Fan-out through the real `mmring` binary: one `mmring send` and several `mmring tail`
//! processes on a ring made by `mmring create --readers N`.
//!
//! - three `tail --count N` each print all `N` lines piped into `send`, in full;
//! - a `tail` stuck on a full output pipe holds the writer back (the others have caught up, the
//!   ring is full for it alone); killed with SIGKILL, it printed a prefix of the lines, and the
//!   other two still print all `N`;
//! - a `tail --untethered` SIGSTOPped until the writer is more than a lap past it (seen in
//!   `info --json` positions) and continued writes one stderr line with exactly the bytes it
//!   missed, and prints a strictly increasing subsequence of the lines that skips from where it
//!   stood to the oldest line still in the ring, and ends with `N`;
//! - `info --json` lists every reader slot with its kind, state, pid and liveness.
//!
//! Processes are ordered by what they print, by what the test writes to `send`, by signals and
//! by ring positions from `info --json`, never by sleeping; time limits only guard against hangs.

mod common;

use common::{s, Scratch, BIN};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A bound on waits that only a hang reaches.
const LONG: Duration = Duration::from_secs(120);
/// A line of at most 8 bytes is a 16-byte record (an 8-byte header and the payload rounded up).
const RECORD: u64 = 16;

fn mmring(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).stdin(Stdio::null());
    c
}

fn create(path: &Path, cap: &str, readers: u32) {
    let out = mmring(&["create", s(path), "--capacity", cap, "--readers"])
        .arg(readers.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

fn info(path: &Path) -> Value {
    let out = mmring(&["info", s(path), "--json"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("info --json prints JSON")
}

/// Polls `info --json` until `pred` holds; only a hang makes it fail.
fn wait_info(path: &Path, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let v = info(path);
        if pred(&v) {
            return v;
        }
        assert!(start.elapsed() < LONG, "waiting for {what}: {v}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The `readers` entry of process `pid`.
fn slot_of(v: &Value, pid: u32) -> &Value {
    v["readers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pid"] == pid && r["alive"] == true)
        .unwrap_or_else(|| panic!("no live reader slot of pid {pid}: {v}"))
}

fn live_readers(v: &Value) -> usize {
    v["readers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["alive"] == true)
        .count()
}

/// A child that is killed if the test ends before it does.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Running {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), sig).unwrap();
    }

    fn state(&self) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap()
    }

    /// Waits for the child to end, at most [`LONG`].
    fn wait(&mut self) -> std::process::ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(st) = self.0.try_wait().unwrap() {
                return st;
            }
            assert!(t.elapsed() < LONG, "{} still running", self.pid());
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// What a child writes to a pipe, collected on a thread and visible while it runs.
struct Collected {
    buf: Arc<Mutex<Vec<u8>>>,
    reader: JoinHandle<()>,
}

impl Collected {
    fn new(mut from: impl Read + Send + 'static) -> Collected {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let to = buf.clone();
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 64 * 1024];
            loop {
                match from.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => to.lock().unwrap().extend_from_slice(&chunk[..n]),
                }
            }
        });
        Collected { buf, reader }
    }

    fn ends_with(&self, tail: &[u8]) -> bool {
        self.buf.lock().unwrap().ends_with(tail)
    }

    /// Everything, once the pipe is closed.
    fn finish(self) -> Vec<u8> {
        self.reader.join().unwrap();
        Arc::try_unwrap(self.buf).unwrap().into_inner().unwrap()
    }
}

/// A `tail` with its stdout and stderr collected.
fn tail(path: &Path, args: &[&str]) -> (Running, Collected, Collected) {
    let mut child = mmring(&[&["tail", s(path)], args].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = Collected::new(child.stdout.take().unwrap());
    let err = Collected::new(child.stderr.take().unwrap());
    (Running(child), out, err)
}

/// A `send` reading the standard input returned.
fn send(path: &Path) -> (Running, ChildStdin) {
    let mut child = mmring(&["send", s(path)])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (Running(child), stdin)
}

/// Lines `from..=to`, one number per line.
fn lines(from: u64, to: u64) -> String {
    (from..=to).map(|i| format!("{i}\n")).collect()
}

/// Writes `text` to `send` on a thread (the pipe blocks while the ring is full).
fn feed(mut stdin: ChildStdin, text: String) -> JoinHandle<()> {
    std::thread::spawn(move || stdin.write_all(text.as_bytes()).unwrap())
}

fn finish_ok(mut p: Running, out: Collected, err: Collected, what: &str) -> Vec<u8> {
    let st = p.wait();
    let (out, err) = (out.finish(), err.finish());
    assert!(
        st.success(),
        "{what}: {st}, stderr {}",
        String::from_utf8_lossy(&err)
    );
    assert!(err.is_empty(), "{what}: {}", String::from_utf8_lossy(&err));
    out
}

#[test]
fn three_tails_print_every_line_sent() {
    const N: u64 = 100_000;
    let dir = Scratch::new("cli-fanout");
    let ring = dir.path("r");
    create(&ring, "1MiB", 3);
    let count = N.to_string();
    let tails: Vec<_> = (0..3).map(|_| tail(&ring, &["--count", &count])).collect();
    let expected = lines(1, N);
    // 1.6 MB of records through a 1 MiB ring: `send` waits for the slowest tail.
    let (mut sender, stdin) = send(&ring);
    feed(stdin, expected.clone()).join().unwrap();
    assert!(sender.wait().success());
    for (k, (p, out, err)) in tails.into_iter().enumerate() {
        let out = finish_ok(p, out, err, &format!("tail {k}"));
        assert!(out == expected.as_bytes(), "tail {k}: the {N} lines differ");
    }
}

#[test]
fn a_killed_tail_does_not_stop_the_other_two() {
    const N: u64 = 100_000;
    const CAP: u64 = 1 << 20;
    let dir = Scratch::new("cli-fanout");
    let ring = dir.path("r");
    create(&ring, "1MiB", 3);
    let count = N.to_string();
    let a = tail(&ring, &["--count", &count]);
    let b = tail(&ring, &["--count", &count]);
    // The victim's output is a pipe nobody reads yet: once it is full the victim blocks in
    // `write(2)` and stops releasing, long before the 1.6 MB of lines have gone through.
    let mut victim = mmring(&["tail", s(&ring), "--count", &count])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let victim_out = victim.stdout.take().unwrap();
    let mut victim = Running(victim);
    wait_info(&ring, "three tails", |v| live_readers(v) == 3);
    let expected = lines(1, N);
    let (mut sender, stdin) = send(&ring);
    let feeder = feed(stdin, expected.clone());
    let (pa, pb, pv) = (a.0.pid(), b.0.pid(), victim.pid());
    let held = wait_info(&ring, "the stuck tail to hold the writer back", |v| {
        let w = v["write_pos"].as_u64().unwrap();
        let victim = slot_of(v, pv)["read_pos"].as_u64().unwrap();
        v["writer"]["waiting"] == true
            && w - victim + RECORD > CAP
            && [pa, pb]
                .iter()
                .all(|&p| slot_of(v, p)["read_pos"].as_u64() == Some(w))
    });
    let held_at = held["write_pos"].as_u64().unwrap() / RECORD;
    assert!(held_at < N, "{held}");
    victim.0.kill().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&victim.wait()),
        Some(nix::sys::signal::Signal::SIGKILL as i32)
    );
    let mut printed = Vec::new();
    std::io::BufReader::new(victim_out)
        .read_to_end(&mut printed)
        .unwrap();
    assert!(!printed.is_empty());
    // What it printed is the first lines (its last line possibly cut short by the kill).
    assert!(expected.as_bytes().starts_with(&printed), "not a prefix");
    feeder.join().unwrap();
    assert!(sender.wait().success());
    for (name, (p, out, err)) in [("a", a), ("b", b)] {
        let out = finish_ok(p, out, err, name);
        assert!(
            out == expected.as_bytes(),
            "tail {name}: the {N} lines differ"
        );
    }
    println!(
        "the stuck tail held the writer at line {held_at}, having printed {} bytes",
        printed.len()
    );
}

#[test]
fn a_stopped_untethered_tail_reports_the_lap_once_and_goes_on_in_order() {
    const CAP: u64 = 64 * 1024;
    const LAP: u64 = CAP / RECORD; // lines per lap
                                   // Before the stop and after the lap, less than half a ring, so that the untethered tail
                                   // is lapped only where this test makes it.
    const A: u64 = 1000;
    const B: u64 = A + 2 * LAP + 100;
    const N: u64 = B + 1000;
    let dir = Scratch::new("cli-fanout");
    let ring = dir.path("r");
    create(&ring, "64KiB", 2);
    let all = tail(&ring, &["--count", &N.to_string()]);
    let (mut lossy, lossy_out, lossy_err) = tail(&ring, &["--untethered", "--follow"]);
    let v = wait_info(&ring, "two tails", |v| live_readers(v) == 2);
    assert_eq!(slot_of(&v, lossy.pid())["kind"], "untethered");
    let (mut sender, mut stdin) = send(&ring);
    let wait_printed = |last: u64| {
        let t = Instant::now();
        while !lossy_out.ends_with(format!("\n{last}\n").as_bytes()) {
            assert!(
                t.elapsed() < LONG,
                "the untethered tail never printed {last}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    stdin.write_all(lines(1, A).as_bytes()).unwrap();
    stdin.flush().unwrap();
    wait_printed(A);
    lossy.signal(nix::sys::signal::Signal::SIGSTOP);
    let t = Instant::now();
    while lossy.state() != 'T' {
        assert!(t.elapsed() < LONG);
        std::thread::sleep(Duration::from_millis(1));
    }
    // It stopped idle after line A: its position is the end of line A's record.
    let w0 = info(&ring)["write_pos"].as_u64().unwrap();
    assert_eq!(w0, A * RECORD);
    stdin.write_all(lines(A + 1, B).as_bytes()).unwrap();
    stdin.flush().unwrap();
    // All of it committed (the tethered tail reads on): two laps past the stopped tail.
    let v = wait_info(&ring, "lines up to B committed", |v| {
        v["write_pos"].as_u64() == Some(B * RECORD)
    });
    let tail_pos = v["tail_pos"].as_u64().unwrap();
    assert!(tail_pos > w0 + CAP, "{v}");
    lossy.signal(nix::sys::signal::Signal::SIGCONT);
    wait_printed(B);
    // `send` waited for more input meanwhile, so the tail is where it was.
    assert_eq!(info(&ring)["tail_pos"].as_u64(), Some(tail_pos));
    stdin.write_all(lines(B + 1, N).as_bytes()).unwrap();
    drop(stdin);
    assert!(sender.wait().success());
    let (p, out, err) = all;
    let out = finish_ok(p, out, err, "the tethered tail");
    assert!(
        out == lines(1, N).as_bytes(),
        "the tethered tail's lines differ"
    );

    // The writer left: the untethered tail exits 3 (after everything it could print).
    let st = lossy.wait();
    let (out, err) = (lossy_out.finish(), lossy_err.finish());
    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    assert_eq!(st.code(), Some(3), "{err}");
    let printed: Vec<u64> = out.lines().map(|l| l.parse().unwrap()).collect();
    let err: Vec<&str> = err.lines().collect();
    let missed = tail_pos - w0;
    assert_eq!(
        err,
        [
            format!(
                "mmring: {}: lapped by the writer: missed {missed} bytes of messages; going on \
                 with the oldest message still in the ring",
                ring.display()
            ),
            format!(
                "mmring: {}: the writer has disconnected; {} messages were printed (untethered: \
                 what it overwrote before this reader got there was skipped)",
                ring.display(),
                printed.len()
            ),
        ]
    );
    // Lines 1..=A, then from the oldest line in the ring when it looked again (the record at
    // the tail) to N: strictly increasing, one gap, ending with N.
    let resumed = tail_pos / RECORD + 1;
    let want: Vec<u64> = (1..=A).chain(resumed..=N).collect();
    assert!(
        printed == want,
        "printed {} lines, not 1..={A} then {resumed}..={N}",
        printed.len()
    );
    println!("missed {missed} bytes: lines {} to {}", A + 1, resumed - 1);
}

#[test]
fn info_json_lists_every_reader_slot() {
    let dir = Scratch::new("cli-fanout");
    let ring = dir.path("r");
    create(&ring, "64KiB", 3);
    let v = info(&ring);
    assert_eq!(v["readers"].as_array().map(Vec::len), Some(3));
    for (i, r) in v["readers"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            (&r["slot"], &r["state"], &r["alive"], &r["pid"]),
            (
                &Value::from(i),
                &Value::from("never"),
                &Value::from(false),
                &Value::Null
            ),
            "{v}"
        );
    }
    // Attached one at a time, they take slots 0, 1 and 2.
    let t0 = tail(&ring, &["--follow"]);
    wait_info(&ring, "tail 0", |v| live_readers(v) == 1);
    let t1 = tail(&ring, &["--follow"]);
    let v = wait_info(&ring, "tail 1", |v| live_readers(v) == 2);
    assert_eq!(v["readers"][2]["state"], "never", "{v}");
    let u = tail(&ring, &["--untethered", "--follow"]);
    let v = wait_info(&ring, "the untethered tail", |v| live_readers(v) == 3);
    let readers = v["readers"].as_array().unwrap();
    assert_eq!(readers.len(), 3);
    for (i, (pid, kind)) in [
        (t0.0.pid(), "tethered"),
        (t1.0.pid(), "tethered"),
        (u.0.pid(), "untethered"),
    ]
    .into_iter()
    .enumerate()
    {
        let r = &readers[i];
        assert_eq!(r["slot"], i, "{v}");
        assert_eq!(r["pid"], pid, "{v}");
        assert_eq!(r["kind"], kind, "{v}");
        assert_eq!(r["tethered"], kind == "tethered", "{v}");
        assert_eq!(
            (&r["state"], &r["alive"]),
            (&"attached".into(), &true.into()),
            "{v}"
        );
    }
    // A killed tail's slot still names it, but it is no longer alive.
    let (mut t1, _, _) = t1;
    t1.0.kill().unwrap();
    t1.wait();
    let v = info(&ring);
    assert_eq!(v["readers"][1]["pid"], t1.pid(), "{v}");
    assert_eq!(v["readers"][1]["state"], "attached", "{v}");
    assert_eq!(v["readers"][1]["alive"], false, "{v}");
    assert_eq!(live_readers(&v), 2, "{v}");
    drop((t0, u));
}
