//! `mmring tail` killed with SIGKILL while it drains a full ring loses nothing: a message is
//! released only after the bytes printed for it were written to standard output, so a second
//! `tail` prints everything the first one did not write, and repeats at most the batch the
//! first one had written but not yet released (`docs/GUARANTEES.md`, "The command-line tool").
//!
//! Each round copies a ring holding `N` numbered lines, starts a real `tail` process (its
//! format and mode chosen from the seed), kills it with SIGKILL at a moment chosen from the
//! seed, reads the reader cursor it left, and runs a second `tail` for the rest:
//! - to a file: killed once the file has grown to a size drawn from the seed (polled, no
//!   sleeping); a tail that finished first is checked and the round is redone with half the
//!   size, so that every round ends with a kill of a running tail;
//! - to a pipe this test reads: the test reads a number of bytes drawn from the seed and stops
//!   reading, leaving more output than the pipe can hold, so the tail cannot finish; it is
//!   killed at once or once it is seen blocked in `write(2)`; the test then reads the pipe to
//!   its end.
//!
//! `MMRING_TAIL_KILL_ROUNDS=<n>` sets the rounds per variant (default 30);
//! `MMRING_TEST_SEED=<seed>` repeats a run.

mod common;

use common::{s, Scratch, BIN};
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Lines in the ring: 1.6 MB of 16-byte records, so a 2 MiB ring never wraps.
const N: u64 = 100_000;
const CAPACITY: &str = "2MiB";
/// What `tail` prints twice at most: one batch (`BATCH` in `src/tail.rs`).
const BATCH: u64 = 512;
/// A bound on waits that only a hang reaches.
const LONG: Duration = Duration::from_secs(60);

fn rounds() -> u64 {
    std::env::var("MMRING_TAIL_KILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
}

/// SplitMix64, seeded from `MMRING_TEST_SEED` or the clock; the seed is printed.
struct Rng(u64);

impl Rng {
    fn from_env(what: &str) -> Rng {
        let seed = std::env::var("MMRING_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        println!("{what}: seed {seed} (repeat with MMRING_TEST_SEED={seed})");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(1);
        mmring_testkit::stream::mix(self.0) % n
    }
}

const FORMATS: [&str; 3] = ["text", "hex", "json"];

/// How the first `tail` is run.
#[derive(Debug, Clone, Copy)]
struct Style {
    format: &'static str,
    mode: Mode,
}

/// The first `tail`'s mode.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// `--count N`.
    Count,
    /// `--follow` (the writer left before the tail attached: it waits for the next one).
    Follow,
    /// Neither: print what the ring holds and exit.
    Snapshot,
}

impl Style {
    /// Mostly `--count N`, the case the guarantee is stated for; the other modes drain the
    /// same way.
    fn draw(rng: &mut Rng) -> Style {
        let format = FORMATS[rng.below(3) as usize];
        let mode = match rng.below(5) {
            0 => Mode::Follow,
            1 => Mode::Snapshot,
            _ => Mode::Count,
        };
        Style { format, mode }
    }

    /// The first tail.
    fn command(&self, ring: &Path) -> Command {
        let mut c = Command::new(BIN);
        c.args(["tail", s(ring), "--format", self.format]);
        match self.mode {
            Mode::Count => c.args(["--count", &N.to_string()]),
            Mode::Follow => c.arg("--follow"),
            Mode::Snapshot => &mut c,
        };
        c.stdin(Stdio::null()).stderr(Stdio::piped());
        c
    }

    /// What `tail` prints for line `i` (the message is `i` in decimal).
    fn line(&self, i: u64) -> String {
        let text = i.to_string();
        match self.format {
            "text" => format!("{text}\n"),
            "hex" => {
                let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
                format!("{hex}\n")
            }
            _ => format!("{{\"len\":{},\"text\":\"{text}\"}}\n", text.len()),
        }
    }
}

/// Everything `tail` prints for lines 1..=N in `style`, and where each line starts.
struct Expected {
    bytes: Vec<u8>,
    /// `starts[i]`: the offset of line `i + 1`; `starts[N]` is the length.
    starts: Vec<usize>,
}

impl Expected {
    /// The expected output in each format, built once.
    fn all() -> Vec<(&'static str, Expected)> {
        FORMATS.iter().map(|&f| (f, Expected::new(f))).collect()
    }

    fn of<'a>(all: &'a [(&'static str, Expected)], style: &Style) -> &'a Expected {
        &all.iter().find(|(f, _)| *f == style.format).unwrap().1
    }

    fn new(format: &'static str) -> Expected {
        let style = Style {
            format,
            mode: Mode::Snapshot,
        };
        let mut bytes = Vec::new();
        let mut starts = vec![0];
        for i in 1..=N {
            bytes.extend_from_slice(style.line(i).as_bytes());
            starts.push(bytes.len());
        }
        Expected { bytes, starts }
    }
}

/// A ring file holding lines 1..=N, written by `mmring send` once; each round uses a copy
/// (both sides detached, as `send` left it).
fn master_ring(dir: &Scratch) -> PathBuf {
    let input = dir.path("input");
    let text: String = (1..=N).map(|i| format!("{i}\n")).collect();
    std::fs::write(&input, text).unwrap();
    let ring = dir.path("master");
    let out = Command::new(BIN)
        .args(["send", s(&ring), "--create", CAPACITY, "--file", s(&input)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    ring
}

/// Records are an 8-byte header plus the payload rounded up to 8 bytes.
fn record_len(i: u64) -> u64 {
    let digits = u64::from(i.ilog10()) + 1;
    8 + digits.div_ceil(8) * 8
}

/// How many messages the reader released: the lines whose records end at or before the
/// reader cursor, which must lie on a record boundary.
fn released(ring: &Path) -> u64 {
    let info = mmring::inspect(ring).unwrap();
    assert!(
        !info.readers[0].side.alive,
        "the killed tail still holds the ring"
    );
    let (mut pos, mut i) = (0u64, 0u64);
    while pos < info.readers[0].read_pos {
        i += 1;
        pos += record_len(i);
    }
    assert_eq!(
        pos, info.readers[0].read_pos,
        "the read cursor is not on a record boundary"
    );
    i
}

fn wait_timeout(child: &mut Child) -> ExitStatus {
    let end = Instant::now() + LONG;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        assert!(Instant::now() < end, "tail {} still running", child.id());
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// What one round found.
struct Round {
    /// Complete lines the first tail wrote.
    written: u64,
    /// Lines it released.
    released: u64,
}

/// Checks the outputs of a killed tail (`first`) and of the tail that ran after it, against
/// lines 1..=N.
fn check(label: &str, style: &Style, exp: &Expected, ring: &Path, first: &[u8]) -> Round {
    // The first tail wrote a prefix of the output, maybe ending inside a line: a `write(2)`
    // interrupted by SIGKILL may have written part of its buffer.
    assert!(
        first.len() <= exp.bytes.len(),
        "{label}: more output than lines"
    );
    if first != &exp.bytes[..first.len()] {
        let bad = first.iter().zip(&exp.bytes).position(|(a, b)| a != b);
        panic!("{label}: the first tail's output differs from lines 1.. at byte {bad:?}");
    }
    let written = exp.starts.partition_point(|&o| o <= first.len()) as u64 - 1;
    let released = released(ring);
    assert!(
        released <= written,
        "{label}: the first tail released {released} messages but wrote only {written} \
         complete lines: lines {}..={released} are lost",
        written + 1
    );
    assert!(
        written - released <= BATCH,
        "{label}: {} lines written but not released, more than one batch",
        written - released
    );
    // The second tail prints the rest, starting at the first unreleased line.
    let out = Command::new(BIN)
        .args(["tail", s(ring), "--format", style.format])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{label}: second tail: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rest = &exp.bytes[exp.starts[released as usize]..];
    assert!(
        out.stdout == rest,
        "{label}: the second tail printed {} bytes, expected lines {}..={N} ({} bytes)",
        out.stdout.len(),
        released + 1,
        rest.len()
    );
    Round { written, released }
}

fn copy_ring(master: &Path, dir: &Scratch, round: u64) -> PathBuf {
    let ring = dir.path(&format!("ring-{round}"));
    std::fs::copy(master, &ring).unwrap();
    ring
}

fn summary(variant: &str, rounds: &[Round], extra: &str) {
    let twice: Vec<u64> = rounds.iter().map(|r| r.written - r.released).collect();
    println!(
        "{variant}: {} rounds, every tail killed while running; lines written by the killed \
         tail: {:?}; printed twice (written, not released): max {}, in {} rounds{extra}",
        rounds.len(),
        rounds.iter().map(|r| r.written).collect::<Vec<_>>(),
        twice.iter().max().unwrap(),
        twice.iter().filter(|&&d| d > 0).count(),
    );
}

#[test]
fn tail_killed_while_writing_to_a_file_loses_nothing() {
    let mut rng = Rng::from_env("tail kill (file)");
    let dir = Scratch::new("tail-kill");
    let master = master_ring(&dir);
    let expected = Expected::all();
    let mut done = Vec::new();
    let mut finished_first = 0;
    for round in 0..rounds() {
        let style = Style::draw(&mut rng);
        let exp = Expected::of(&expected, &style);
        let mut at = rng.below(exp.bytes.len() as u64 * 9 / 10);
        let give_up = Instant::now() + LONG;
        loop {
            assert!(
                Instant::now() < give_up,
                "round {round}: no tail was killed running"
            );
            let ring = copy_ring(&master, &dir, round);
            let label = format!(
                "{} round {round} ({:?}, kill at {at} bytes)",
                style.format, style.mode
            );
            let out_path = dir.path("out");
            let out_file = std::fs::File::create(&out_path).unwrap();
            let mut tail = style.command(&ring).stdout(out_file).spawn().unwrap();
            // Kill once the output has grown to `at` bytes, unless the tail is done first.
            let mut sent = false;
            let st = loop {
                if !sent && std::fs::metadata(&out_path).unwrap().len() >= at {
                    tail.kill().unwrap();
                    sent = true;
                }
                if let Some(st) = tail.try_wait().unwrap() {
                    break st;
                }
                std::thread::yield_now();
            };
            let killed = st.signal() == Some(SIGKILL);
            let first = std::fs::read(&out_path).unwrap();
            if killed {
                done.push(check(&label, &style, exp, &ring, &first));
                std::fs::remove_file(&ring).unwrap();
                break;
            }
            // It finished before the kill: it must have printed everything, and released it.
            assert_eq!(st.code(), Some(0), "{label}: {st}");
            assert!(first == exp.bytes, "{label}: incomplete output");
            assert_eq!(released(&ring), N, "{label}");
            std::fs::remove_file(&ring).unwrap();
            finished_first += 1;
            at /= 2;
        }
    }
    summary(
        "tail to a file",
        &done,
        &format!("; {finished_first} tails finished before the kill (redone)"),
    );
}

#[test]
fn tail_killed_while_writing_to_a_pipe_loses_nothing() {
    let mut rng = Rng::from_env("tail kill (pipe)");
    let dir = Scratch::new("tail-kill");
    let master = master_ring(&dir);
    let expected = Expected::all();
    let mut done = Vec::new();
    let mut when_blocked = 0;
    for round in 0..rounds() {
        let style = Style::draw(&mut rng);
        let exp = Expected::of(&expected, &style);
        // Leave at least 128 KiB unread: more than a pipe holds (64 KiB), so the tail cannot
        // finish and is still running when it is killed.
        let at = rng.below(exp.bytes.len() as u64 - (128 << 10)) as usize;
        let blocked = rng.below(2) == 1;
        let ring = copy_ring(&master, &dir, round);
        let label = format!(
            "{} round {round} ({:?}, kill after reading {at} bytes{})",
            style.format,
            style.mode,
            if blocked { ", once blocked" } else { "" }
        );
        let mut tail = style.command(&ring).stdout(Stdio::piped()).spawn().unwrap();
        let mut pipe = tail.stdout.take().unwrap();
        let mut first = vec![0u8; at];
        pipe.read_exact(&mut first).unwrap();
        if blocked {
            wait_blocked_in_write(tail.id());
            when_blocked += 1;
        }
        tail.kill().unwrap();
        let st = wait_timeout(&mut tail);
        assert_eq!(st.signal(), Some(SIGKILL), "{label}: {st}");
        // What it wrote before it died is still in the pipe.
        pipe.read_to_end(&mut first).unwrap();
        done.push(check(&label, &style, exp, &ring, &first));
        std::fs::remove_file(&ring).unwrap();
    }
    summary(
        "tail to a pipe",
        &done,
        &format!("; {when_blocked} killed while blocked in write(2)"),
    );
}

/// Waits until process `pid` is asleep in `write(2)` (its pipe is full).
fn wait_blocked_in_write(pid: u32) {
    let end = Instant::now() + LONG;
    let write_nr = nix::libc::SYS_write.to_string();
    loop {
        // `/proc/PID/syscall` names the system call a blocked task is in ("running" if none).
        let sc = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        if sc.split(' ').next() == Some(write_nr.as_str()) {
            return;
        }
        assert!(
            Instant::now() < end,
            "tail {pid} never blocked writing: {sc}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

const SIGKILL: i32 = nix::libc::SIGKILL;

/// Bytes waiting in the pipe behind `pipe` (`FIONREAD`).
fn bytes_in_pipe(pipe: &std::process::ChildStdout) -> usize {
    use std::os::fd::AsRawFd;
    let mut n: nix::libc::c_int = 0;
    // SAFETY: FIONREAD on a valid pipe descriptor stores one `int` through the pointer, which
    // points to `n`, alive for the call.
    let rc = unsafe { nix::libc::ioctl(pipe.as_raw_fd(), nix::libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    n as usize
}

/// A tail whose standard output is closed (`| head`) exits 0 without a word, and the batch it
/// could not write stays in the ring: it released only lines whose bytes it wrote.
#[test]
fn a_tail_whose_output_is_closed_exits_0_and_releases_only_what_it_wrote() {
    let mut rng = Rng::from_env("tail with a closed output");
    let dir = Scratch::new("tail-kill");
    let master = master_ring(&dir);
    let expected = Expected::all();
    for round in 0..rounds().div_ceil(3) {
        let style = Style::draw(&mut rng);
        let exp = Expected::of(&expected, &style);
        let at = rng.below(exp.bytes.len() as u64 - (128 << 10)) as usize;
        let ring = copy_ring(&master, &dir, round);
        let label = format!(
            "{} round {round} ({:?}, output closed after {at} bytes)",
            style.format, style.mode
        );
        let mut tail = style.command(&ring).stdout(Stdio::piped()).spawn().unwrap();
        let mut pipe = tail.stdout.take().unwrap();
        let mut first = vec![0u8; at];
        pipe.read_exact(&mut first).unwrap();
        // Once the tail is blocked on the full pipe, what it has written is what we read plus
        // what the pipe holds; closing the pipe makes every later write fail.
        wait_blocked_in_write(tail.id());
        let in_pipe = bytes_in_pipe(&pipe);
        drop(pipe);
        let st = wait_timeout(&mut tail);
        let mut err = String::new();
        tail.stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!((st.code(), err.as_str()), (Some(0), ""), "{label}: {st}");
        let written_bytes = at + in_pipe;
        let written = exp.starts.partition_point(|&o| o <= written_bytes) as u64 - 1;
        let released = released(&ring);
        assert!(
            released <= written,
            "{label}: released {released} messages, wrote {written} lines"
        );
        assert!(
            written - released <= BATCH,
            "{label}: {written} / {released}"
        );
        // The rest, from the first unreleased line, is there for the next reader.
        let out = Command::new(BIN)
            .args(["tail", s(&ring), "--format", style.format])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{label}");
        assert!(
            out.stdout == exp.bytes[exp.starts[released as usize]..],
            "{label}: the second tail did not print lines {}..={N}",
            released + 1
        );
        std::fs::remove_file(&ring).unwrap();
    }
}
