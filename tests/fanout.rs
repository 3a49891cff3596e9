//! Fan-out with real processes: one writer and several reader processes on one ring
//! (`RingOptions::readers`), the readers being this test binary re-executed in a child role
//! (see `common`). Every reader checks every message it receives (sequence number, size and
//! every byte, `mmring_testkit::stream::verify`) and prints a summary with its checksum.
//!
//! - three tethered readers each receive a whole 200,000-message stream;
//! - a tethered reader that stops reading holds the writer back (the ring is full for it and
//!   only for it); `SIGKILL`ed, it no longer does: the writer goes on and the two others
//!   receive everything;
//! - an untethered reader `SIGSTOP`ped until the writer is more than a lap past it (judged from
//!   `mmring::inspect` positions), twice: one `Lapped` per lap with exactly the bytes skipped,
//!   then intact messages in increasing sequence from the oldest one at the tail, to the last;
//! - late joiners: `StartAt::Oldest` starts at the message at `tail_pos`, `StartAt::Next` at
//!   the first message sent after it attached; each gets a gap-free suffix to the end;
//! - `OpenError::ReadersFull` names the holders' pids in slot order; a killed holder's slot is
//!   free at once;
//! - a writer blocked on a full ring gets `SendError::Disconnected` when its only reader is
//!   killed, and goes on when one of two readers is killed and the other reads;
//! - the writer `SIGKILL`ed mid-stream: tethered and untethered readers receive an intact prefix
//!   (the tethered ones all of the same one), then `Disconnected`.
//!
//! Processes are ordered by lines they print, lines written to their standard input, signals
//! and ring positions read with `mmring::inspect`, never by sleeping; time limits only guard
//! against hangs.

mod common;

use common::{env, env_u64, Proc};
use mmring::layout::record_size;
use mmring::{
    OpenError, Reader, ReaderInfo, ReaderKind, RecvError, RingInfo, RingOptions, SendError,
    StartAt, TrySendError, UntetheredReader, Writer,
};
use mmring_testkit::stream::{fill, seq_of, size_for, verify, Checksum};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ChildStdin, Stdio};
use std::time::{Duration, Instant};

child_roles!(role);

/// A bound on waits that only a hang reaches.
const LONG: Duration = Duration::from_secs(120);
/// The smallest message of the streams (the sequence number).
const MIN: usize = 8;

/// The child roles of this file; the return value is the exit status.
fn role(name: &str) -> i32 {
    match name {
        "reader" => match run_reader() {
            Ok(()) => 0,
            Err(e) => {
                println!("error: {e}");
                1
            }
        },
        "writer" => endless_writer(),
        "hold" => common::hold_side(),
        other => {
            println!("unknown role {other}");
            2
        }
    }
}

fn opt_env(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} is not a number"))
    })
}

/// A reader of either kind.
enum Rx {
    Tethered(Reader),
    Untethered(UntetheredReader),
}

impl Rx {
    fn recv(&mut self, buf: &mut Vec<u8>) -> Result<(), RecvError> {
        match self {
            Rx::Tethered(r) => {
                let m = r.recv()?;
                buf.clear();
                buf.extend_from_slice(&m);
                Ok(())
            }
            Rx::Untethered(r) => r.recv_into(buf).map(drop),
        }
    }
}

fn show(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

/// Attaches to `RING` as a `KIND` (`tethered`, `untethered`) reader starting at `START`
/// (`resume`, `oldest`, `next`), prints `attached`, and receives stream messages of sizes
/// `MIN..=MAX`, checking each: its bytes, its size, and its sequence number, which must be
/// the previous one plus one, except right after a `Lapped` (printed as `lapped missed=<bytes>
/// last=<seq>`, then `resumed <seq>` at the next message), where it must only be larger.
///
/// It stops after `COUNT` messages or at `Disconnected`; with `END=1` a `Disconnected` must
/// follow the `COUNT` messages. `GATE=1`: reads a line of standard input before receiving.
/// `REPORT_AT=k`: prints `progress k` after `k` messages. `STALL_AT=k`: prints `stalled k`
/// after `k` messages and then receives nothing more, ever. Ends by printing `done
/// received=<n> first=<seq> last=<seq> laps=<n> disconnected=<bool> checksum=<hex>`.
fn run_reader() -> Result<(), String> {
    let path = env("RING");
    let start = match env("START").as_str() {
        "resume" => StartAt::Resume,
        "oldest" => StartAt::Oldest,
        "next" => StartAt::Next,
        s => return Err(format!("START={s}")),
    };
    let opts = RingOptions::new().start_at(start);
    let mut rx = match env("KIND").as_str() {
        "tethered" => Rx::Tethered(opts.open_reader(&path).map_err(|e| format!("open: {e}"))?),
        "untethered" => Rx::Untethered(
            opts.open_untethered(&path)
                .map_err(|e| format!("open: {e}"))?,
        ),
        k => return Err(format!("KIND={k}")),
    };
    println!("attached");
    if opt_env("GATE") == Some(1) {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("stdin: {e}"))?;
    }
    let max = env_u64("MAX") as usize;
    let (count, report_at, stall_at) =
        (opt_env("COUNT"), opt_env("REPORT_AT"), opt_env("STALL_AT"));
    let mut buf = Vec::new();
    let mut sum = Checksum::new();
    let (mut received, mut laps) = (0u64, 0u64);
    let (mut first, mut last) = (None, None::<u64>);
    let (mut lapped, mut disconnected) = (false, false);
    while count != Some(received) {
        match rx.recv(&mut buf) {
            Ok(()) => {}
            Err(RecvError::Lapped { missed_bytes, .. }) => {
                if missed_bytes == 0 {
                    return Err(format!("Lapped with 0 bytes missed after {}", show(last)));
                }
                laps += 1;
                lapped = true;
                println!("lapped missed={missed_bytes} last={}", show(last));
                continue;
            }
            Err(RecvError::Disconnected) => {
                disconnected = true;
                break;
            }
            Err(e) => return Err(format!("after {received} messages: {e}")),
        }
        let seq = seq_of(&buf).ok_or_else(|| format!("a message of {} bytes", buf.len()))?;
        verify(seq, &buf).map_err(|e| e.to_string())?;
        let want = size_for(seq, MIN, max);
        if buf.len() != want {
            return Err(format!("message #{seq}: {} bytes, sent {want}", buf.len()));
        }
        match last {
            Some(p) if lapped && seq <= p => {
                return Err(format!("message #{seq} after #{p} and a lap: went back"))
            }
            Some(p) if !lapped && seq != p + 1 => {
                return Err(format!("message #{seq} after #{p} without a lap"))
            }
            _ => {}
        }
        if lapped {
            println!("resumed {seq}");
            lapped = false;
        }
        first.get_or_insert(seq);
        last = Some(seq);
        received += 1;
        sum.update(&buf);
        if report_at == Some(received) {
            println!("progress {received}");
        }
        if stall_at == Some(received) {
            println!("stalled {received}");
            loop {
                std::thread::park();
            }
        }
    }
    if !disconnected && opt_env("END") == Some(1) {
        match rx.recv(&mut buf) {
            Err(RecvError::Disconnected) => disconnected = true,
            Ok(()) => return Err(format!("a message of {} bytes after the last", buf.len())),
            Err(e) => return Err(format!("after the last message: {e}")),
        }
    }
    println!(
        "done received={received} first={} last={} laps={laps} disconnected={disconnected} \
         checksum={:016x}",
        show(first),
        show(last),
        sum.value()
    );
    Ok(())
}

/// Attaches as the writer of `RING`, prints `attached`, and sends the stream (sizes
/// `MIN..=MAX`) from 0 until killed: every third message starts a write batch of one to eight
/// messages, published together, so that a kill can land inside a batch too.
fn endless_writer() -> i32 {
    let mut w = Writer::open(env("RING")).expect("attach writer");
    let max = env_u64("MAX") as usize;
    println!("attached");
    common::write_stream_until_killed(&mut w, 0, MIN, max)
}

// ---- the test side ----

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mmring-fanout-")
        .tempdir()
        .expect("tempdir")
}

/// Creates a ring of `cap` bytes with `readers` slots and attaches as its writer.
fn create(path: &Path, cap: usize, readers: u32) -> Writer {
    RingOptions::new()
        .create(cap)
        .readers(readers)
        .open_writer(path)
        .unwrap()
}

/// The environment of a `reader` child.
fn reader_env(path: &Path, kind: &str, start: &str, max: usize) -> Vec<(&'static str, String)> {
    vec![
        ("RING", path.display().to_string()),
        ("KIND", kind.into()),
        ("START", start.into()),
        ("MAX", max.to_string()),
    ]
}

/// Starts a `reader` child with `extra` settings and waits until it has attached.
fn reader(path: &Path, kind: &str, start: &str, max: usize, extra: &[(&str, u64)]) -> Proc {
    let mut envs = reader_env(path, kind, start, max);
    envs.extend(extra.iter().map(|&(k, v)| (k, v.to_string())));
    let p = Proc::role("reader", &envs);
    p.expect_line("attached", LONG);
    p
}

/// As [`reader`], with `GATE=1`: the child receives nothing until a line is written to the
/// standard input returned.
fn gated_reader(
    path: &Path,
    kind: &str,
    start: &str,
    max: usize,
    extra: &[(&str, u64)],
) -> (Proc, ChildStdin) {
    let mut cmd = common::role_command("reader");
    for (k, v) in reader_env(path, kind, start, max) {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v.to_string());
    }
    cmd.env("GATE", "1").stdin(Stdio::piped());
    let mut p = Proc::spawn(cmd);
    p.expect_line("attached", LONG);
    let stdin = p.child.stdin.take().expect("piped stdin");
    (p, stdin)
}

/// Starts a child holding a reader slot (it never receives) and waits until it has attached.
fn hold(path: &Path) -> Proc {
    let p = Proc::role(
        "hold",
        &[
            ("RING", path.display().to_string()),
            ("SIDE", "reader".into()),
        ],
    );
    p.expect_line("attached", LONG);
    p
}

/// What a `reader` child printed last.
#[derive(Debug, Default)]
struct Summary {
    received: u64,
    first: Option<u64>,
    last: Option<u64>,
    laps: u64,
    disconnected: bool,
    checksum: String,
}

impl Summary {
    fn parse(line: &str) -> Summary {
        let mut s = Summary::default();
        let num = |v: &str| (v != "-").then(|| v.parse::<u64>().expect("number"));
        for kv in line.strip_prefix("done ").expect("summary line").split(' ') {
            let (k, v) = kv.split_once('=').expect("key=value");
            match k {
                "received" => s.received = v.parse().unwrap(),
                "first" => s.first = num(v),
                "last" => s.last = num(v),
                "laps" => s.laps = v.parse().unwrap(),
                "disconnected" => s.disconnected = v == "true",
                "checksum" => s.checksum = v.into(),
                _ => panic!("unknown field in {line:?}"),
            }
        }
        s
    }
}

/// Reads a reader child's remaining output, waits for its successful exit, and returns its
/// other lines and its summary.
fn finish(p: &mut Proc, what: &str) -> (Vec<String>, Summary) {
    let mut lines = p.rest(LONG);
    let st = p.wait(LONG);
    assert!(st.success(), "{what}: {st}, output {lines:?}");
    let last = lines.pop().unwrap_or_default();
    assert!(
        last.starts_with("done "),
        "{what}: {last:?} after {lines:?}"
    );
    (lines, Summary::parse(&last))
}

fn assert_killed(p: &mut Proc, what: &str) {
    let st = p.wait(LONG);
    assert_eq!(
        st.signal(),
        Some(libc::SIGKILL),
        "{what} was not killed: {st}"
    );
}

fn process_state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap()
}

/// Polls `what` until it holds; only a hang makes it fail.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(
            t.elapsed() < LONG,
            "still waiting for {what} after {LONG:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn info(path: &Path) -> RingInfo {
    mmring::inspect(path).unwrap()
}

/// The reader slot of process `pid`.
fn slot_of(info: &RingInfo, pid: i32) -> ReaderInfo {
    *info
        .readers
        .iter()
        .find(|r| r.side.pid == pid as u32 && r.side.alive)
        .unwrap_or_else(|| panic!("no live reader slot of pid {pid}: {info:?}"))
}

/// Where each message of a stream lies in a ring of `cap` bytes that one writer filled from
/// position 0 with single sends: a record that would cross the end of the data region goes to
/// the start, after a padding record (`docs/FORMAT.md`).
struct Layout {
    cap: u64,
    spans: Vec<(u64, u64)>,
}

impl Layout {
    fn push(&mut self, len: usize) {
        let total = record_size(len as u64);
        let mut pos = self.end();
        let till_end = self.cap - pos % self.cap;
        if total > till_end {
            pos += till_end;
        }
        self.spans.push((pos, pos + total));
    }

    /// The position after the last record.
    fn end(&self) -> u64 {
        self.spans.last().map_or(0, |s| s.1)
    }

    fn start(&self, seq: u64) -> u64 {
        self.spans[seq as usize].0
    }

    /// The first message that starts at or after `pos`.
    fn first_from(&self, pos: u64) -> u64 {
        self.spans.partition_point(|s| s.0 < pos) as u64
    }
}

/// The stream a test sends: the next sequence number, the checksum and layout so far.
struct Stream {
    seq: u64,
    max: usize,
    sum: Checksum,
    layout: Layout,
}

impl Stream {
    fn new(cap: usize, max: usize) -> Stream {
        Stream {
            seq: 0,
            max,
            sum: Checksum::new(),
            layout: Layout {
                cap: cap as u64,
                spans: Vec::new(),
            },
        }
    }

    fn sent(&mut self, msg: &[u8]) {
        self.sum.update(msg);
        self.layout.push(msg.len());
        self.seq += 1;
    }

    /// Sends the next message, waiting for room.
    fn send(&mut self, w: &mut Writer) -> Result<(), SendError> {
        let mut g = w.reserve(size_for(self.seq, MIN, self.max))?;
        fill(self.seq, &mut g);
        self.sent(&g);
        g.commit();
        Ok(())
    }

    /// Sends messages until `seq` is `end`, waiting for room.
    fn send_to(&mut self, w: &mut Writer, end: u64) {
        while self.seq < end {
            let seq = self.seq;
            self.send(w)
                .unwrap_or_else(|e| panic!("message #{seq}: {e}"));
        }
    }

    fn try_send(&mut self, w: &mut Writer) -> Result<(), TrySendError> {
        let mut g = w.try_reserve(size_for(self.seq, MIN, self.max))?;
        fill(self.seq, &mut g);
        self.sent(&g);
        g.commit();
        Ok(())
    }

    fn checksum(&self) -> String {
        format!("{:016x}", self.sum.value())
    }
}

/// The checksum of messages `from..to` of a stream of sizes `MIN..=max`.
fn checksum_of(from: u64, to: u64, max: usize) -> String {
    let mut sum = Checksum::new();
    let mut buf = vec![0u8; max];
    for seq in from..to {
        let m = &mut buf[..size_for(seq, MIN, max)];
        fill(seq, m);
        sum.update(m);
    }
    format!("{:016x}", sum.value())
}

#[test]
fn three_tethered_readers_each_receive_the_whole_stream() {
    const N: u64 = 200_000;
    const MAX: usize = 1000;
    const CAP: usize = 64 * 1024;
    let dir = tempdir();
    let path = dir.path().join("three.ring");
    let mut w = create(&path, CAP, 3);
    let mut readers: Vec<Proc> = (0..3)
        .map(|_| {
            reader(
                &path,
                "tethered",
                "resume",
                MAX,
                &[("COUNT", N), ("END", 1)],
            )
        })
        .collect();
    let i = info(&path);
    let mut pids: Vec<u32> = i.readers.iter().map(|r| r.side.pid).collect();
    pids.sort_unstable();
    let mut want: Vec<u32> = readers.iter().map(|p| p.pid() as u32).collect();
    want.sort_unstable();
    assert_eq!(pids, want);
    assert!(i
        .readers
        .iter()
        .all(|r| r.side.alive && r.kind == ReaderKind::Tethered));
    let t = Instant::now();
    let mut s = Stream::new(CAP, MAX);
    s.send_to(&mut w, N);
    drop(w); // each reader then finds `Disconnected` after the last message
    for (k, p) in readers.iter_mut().enumerate() {
        let (lines, sum) = finish(p, &format!("reader {k}"));
        assert!(lines.is_empty(), "reader {k}: {lines:?}");
        assert_eq!(
            (
                sum.received,
                sum.first,
                sum.last,
                sum.laps,
                sum.disconnected
            ),
            (N, Some(0), Some(N - 1), 0, true),
            "reader {k}"
        );
        assert_eq!(sum.checksum, s.checksum(), "reader {k}");
    }
    println!(
        "{N} messages to three reader processes in {:?}",
        t.elapsed()
    );
}

#[test]
fn a_killed_tethered_reader_stops_holding_the_writer_and_the_others_get_everything() {
    const N: u64 = 100_000;
    const MAX: usize = 1000;
    const CAP: usize = 16 * 1024;
    const K: u64 = 2000;
    let dir = tempdir();
    let path = dir.path().join("kill-one.ring");
    let mut w = create(&path, CAP, 3);
    let full = [("COUNT", N), ("END", 1)];
    let mut a = reader(&path, "tethered", "resume", MAX, &full);
    let mut b = reader(&path, "tethered", "resume", MAX, &full);
    let mut victim = reader(&path, "tethered", "resume", MAX, &[("STALL_AT", K)]);
    let mut s = Stream::new(CAP, MAX);
    s.send_to(&mut w, K);
    victim.expect_line(&format!("stalled {K}"), LONG);
    // Fill the ring until it is full even after the two others were seen to have released
    // everything: then only the stalled reader holds the writer back.
    let t = Instant::now();
    let mut others_done = false;
    let held = loop {
        match s.try_send(&mut w) {
            Ok(()) => {
                others_done = false;
                continue;
            }
            Err(TrySendError::Full) if others_done => {
                let i = info(&path);
                break (i.write_pos, slot_of(&i, victim.pid()));
            }
            Err(TrySendError::Full) => {}
            Err(e) => panic!("{e}"),
        }
        let i = info(&path);
        others_done = [a.pid(), b.pid()]
            .iter()
            .all(|&p| slot_of(&i, p).read_pos == i.write_pos);
        assert!(t.elapsed() < LONG, "the other readers never caught up");
        std::thread::yield_now();
    };
    let (write_pos, v) = held;
    assert!(v.read_pos <= s.layout.spans[K as usize - 1].1, "{v:?}");
    // Full means the next record (after padding, at most two records of MAX) does not fit
    // within a capacity of the stalled reader's position.
    let two = 2 * record_size(MAX as u64);
    assert!(
        write_pos - v.read_pos + two > CAP as u64,
        "full at {write_pos} with the stalled reader at {}",
        v.read_pos
    );
    let at_kill = s.seq;
    victim.signal(libc::SIGKILL);
    assert_killed(&mut victim, "the stalled reader");
    s.send_to(&mut w, N);
    drop(w);
    for (name, p) in [("a", &mut a), ("b", &mut b)] {
        let (lines, sum) = finish(p, name);
        assert!(lines.is_empty(), "{name}: {lines:?}");
        assert_eq!(
            (sum.received, sum.last, sum.disconnected),
            (N, Some(N - 1), true),
            "{name}"
        );
        assert_eq!(sum.checksum, s.checksum(), "{name}");
    }
    let i = info(&path);
    assert!(i.readers.iter().all(|r| !r.side.alive), "{i:?}");
    println!(
        "the stalled reader held the writer at message #{at_kill} ({} bytes behind); after its \
         kill the writer sent to #{N}",
        write_pos - v.read_pos
    );
}

/// The `lapped` and `resumed` lines a reader prints for one lap.
fn lap_lines(p: &Proc) -> (u64, Option<u64>, u64) {
    let lap = p.line(LONG).expect("a lapped line");
    let resumed = p.line(LONG).expect("a resumed line");
    let (missed, last) = lap
        .strip_prefix("lapped missed=")
        .and_then(|r| r.split_once(" last="))
        .unwrap_or_else(|| panic!("{lap:?}"));
    let first = resumed
        .strip_prefix("resumed ")
        .unwrap_or_else(|| panic!("{resumed:?}"));
    (
        missed.parse().unwrap(),
        (last != "-").then(|| last.parse().unwrap()),
        first.parse().unwrap(),
    )
}

#[test]
fn a_stopped_untethered_reader_is_told_of_each_lap_then_gets_intact_messages_in_order() {
    const MAX: usize = 1000;
    const CAP: usize = 64 * 1024;
    let dir = tempdir();
    let path = dir.path().join("lapped.ring");
    let mut w = create(&path, CAP, 2);
    let mut all = reader(&path, "tethered", "resume", MAX, &[]);
    let mut lossy = reader(&path, "untethered", "next", MAX, &[]);
    let mut s = Stream::new(CAP, MAX);
    // Between the waits below the writer sends less than half a ring, so that the untethered
    // reader is lapped only where this test makes it.
    let mut skipped = 0;
    let caught_up = |what: &str| {
        wait_until(what, || {
            let i = info(&path);
            slot_of(&i, lossy.pid()).read_pos == i.write_pos
        })
    };
    for round in 0..2 {
        for _ in 0..20 {
            s.send(&mut w).unwrap();
        }
        caught_up("the untethered reader to catch up");
        lossy.signal(libc::SIGSTOP);
        wait_until("the untethered reader to stop", || {
            process_state(lossy.pid()) == 'T'
        });
        // Stopped while idle at the end of what was sent: its position is `w0`.
        let stopped_at = s.seq;
        let w0 = info(&path).write_pos;
        assert_eq!(w0, s.layout.end());
        // More than a lap past it: the writer has declared bytes beyond `w0` overwritable.
        let tail = loop {
            for _ in 0..16 {
                s.send(&mut w).unwrap();
            }
            let i = info(&path);
            if i.tail_pos > w0 + CAP as u64 / 2 {
                assert!(i.write_pos > w0 + CAP as u64, "{i:?}");
                break i.tail_pos;
            }
        };
        lossy.signal(libc::SIGCONT);
        caught_up("the untethered reader to catch up after the lap");
        // The writer waited meanwhile, so the tail is where it was.
        assert_eq!(info(&path).tail_pos, tail);
        let (missed, last, resumed) = lap_lines(&lossy);
        assert_eq!(last, Some(stopped_at - 1), "round {round}");
        // The next message it gets is the oldest one still in the ring, at the tail ...
        assert_eq!(resumed, s.layout.first_from(tail), "round {round}");
        // ... and the bytes it was told it missed are those from where it stood to the tail
        // (from after a padding record there if that one was still intact when it looked).
        let from = [w0, s.layout.start(stopped_at)];
        assert!(
            from.iter().any(|&f| missed == tail - f),
            "round {round}: missed {missed}, stood at {w0}, tail {tail}"
        );
        skipped += resumed - stopped_at;
    }
    for _ in 0..20 {
        s.send(&mut w).unwrap();
    }
    let n = s.seq;
    drop(w);
    let (lines, sum) = finish(&mut lossy, "the untethered reader");
    assert!(lines.is_empty(), "a lap too many: {lines:?}");
    assert_eq!(
        (sum.first, sum.last, sum.laps, sum.disconnected),
        (Some(0), Some(n - 1), 2, true)
    );
    assert_eq!(sum.received, n - skipped);
    let (lines, sum) = finish(&mut all, "the tethered reader");
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!((sum.received, sum.laps), (n, 0));
    assert_eq!(sum.checksum, s.checksum());
    println!("{n} messages; the untethered reader skipped {skipped} in two laps");
}

#[test]
fn late_joiners_start_at_the_oldest_message_or_at_the_next_one() {
    const N: u64 = 20_000;
    const M: u64 = 1000;
    const MAX: usize = 1000;
    const CAP: usize = 64 * 1024;
    let dir = tempdir();
    let path = dir.path().join("joiners.ring");
    RingOptions::new()
        .create(CAP)
        .readers(3)
        .create_unattached(&path)
        .unwrap();
    // A slot that never had a reader holds the writer back from the start (GUARANTEES,
    // "Several readers"); the joiners' slots are used once first, so that they do not.
    let used: Vec<Reader> = (0..3).map(|_| Reader::open(&path).unwrap()).collect();
    drop(used);
    let mut w = Writer::open(&path).unwrap();
    let mut all = reader(
        &path,
        "tethered",
        "resume",
        MAX,
        &[("COUNT", N), ("END", 1)],
    );
    let mut s = Stream::new(CAP, MAX);
    s.send_to(&mut w, M);
    // The writer waits now, so the tail stays where it is while the joiners attach.
    let before = info(&path);
    let tail = before.tail_pos;
    assert!(
        tail > 0,
        "the stream has not gone round the ring yet: {before:?}"
    );
    assert_eq!(before.write_pos, s.layout.end());
    // Gated: they start receiving only once their start positions have been looked at.
    let (mut oldest, mut go_oldest) = gated_reader(&path, "tethered", "oldest", MAX, &[("END", 1)]);
    let (mut next, mut go_next) = gated_reader(&path, "tethered", "next", MAX, &[("END", 1)]);
    let i = info(&path);
    assert_eq!(i.tail_pos, tail);
    assert_eq!(slot_of(&i, oldest.pid()).read_pos, tail);
    assert_eq!(slot_of(&i, next.pid()).read_pos, before.write_pos);
    writeln!(go_oldest, "go").unwrap();
    writeln!(go_next, "go").unwrap();
    s.send_to(&mut w, N);
    drop(w);
    let first_kept = s.layout.first_from(tail);
    assert!(first_kept > 0 && first_kept < M, "{first_kept}");
    for (name, p, from) in [
        ("oldest", &mut oldest, first_kept),
        ("next", &mut next, M),
        ("the first reader", &mut all, 0),
    ] {
        let (lines, sum) = finish(p, name);
        assert!(lines.is_empty(), "{name}: {lines:?}");
        assert_eq!(
            (
                sum.first,
                sum.last,
                sum.received,
                sum.laps,
                sum.disconnected
            ),
            (Some(from), Some(N - 1), N - from, 0, true),
            "{name}"
        );
        assert_eq!(sum.checksum, checksum_of(from, N, MAX), "{name}");
    }
    println!(
        "joined after #{}: Oldest got #{first_kept}.., Next #{M}..",
        M - 1
    );
}

#[test]
fn readers_full_names_the_holders_and_a_killed_holder_frees_its_slot() {
    let dir = tempdir();
    let path = dir.path().join("full.ring");
    RingOptions::new()
        .create(4096)
        .readers(2)
        .create_unattached(&path)
        .unwrap();
    let mut a = hold(&path);
    let b = hold(&path);
    let pids = vec![a.pid() as u32, b.pid() as u32];
    let check = |e: OpenError| {
        let text = e.to_string();
        match e {
            OpenError::ReadersFull { path: p, pids: got } => {
                assert_eq!((p.as_path(), &got), (path.as_path(), &pids));
                for pid in &pids {
                    assert!(text.contains(&pid.to_string()), "{text}");
                }
            }
            other => panic!("expected ReadersFull, got {other}"),
        }
    };
    check(Reader::open(&path).unwrap_err());
    check(UntetheredReader::open(&path).unwrap_err());
    let i = info(&path);
    assert!(i.readers.iter().all(|r| r.side.alive), "{i:?}");
    a.signal(libc::SIGKILL);
    assert_killed(&mut a, "the first holder");
    // No cleanup, no timeout: the kernel dropped the holder's lock with its process.
    let r = Reader::open(&path).unwrap();
    let i = info(&path);
    assert_eq!(i.readers[0].side.pid, std::process::id());
    assert!(i.readers[0].side.alive && i.readers[1].side.alive);
    assert_eq!(i.readers[1].side.pid, b.pid() as u32);
    drop(r);
}

/// Fills the ring with `try_send`, then sends the next message blocking on another thread,
/// runs `meanwhile` once the writer is parked waiting for room, and returns what that send
/// and `rest` more blocking sends returned.
fn blocked_send(
    path: &Path,
    w: &mut Writer,
    s: &mut Stream,
    rest: u64,
    meanwhile: impl FnOnce(),
) -> Result<(), SendError> {
    while s.try_send(w).is_ok() {}
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| {
            s.send(w)?;
            let end = s.seq + rest;
            while s.seq < end {
                s.send(w)?;
            }
            Ok(())
        });
        wait_until("the writer to wait for room", || info(path).writer.waiting);
        assert!(!sender.is_finished());
        meanwhile();
        sender.join().unwrap()
    })
}

#[test]
fn a_writer_waiting_for_room_is_disconnected_when_its_only_reader_dies() {
    const CAP: usize = 16 * 1024;
    let dir = tempdir();
    let path = dir.path().join("only.ring");
    let mut w = create(&path, CAP, 1);
    let mut r = hold(&path);
    let mut s = Stream::new(CAP, 1000);
    let res = blocked_send(&path, &mut w, &mut s, 0, || {
        r.signal(libc::SIGKILL);
        assert_killed(&mut r, "the reader");
    });
    assert_eq!(res, Err(SendError::Disconnected));
    assert!(!w.is_reader_alive());
}

#[test]
fn a_writer_waiting_for_room_goes_on_when_one_of_two_readers_dies() {
    const CAP: usize = 16 * 1024;
    const MAX: usize = 1000;
    let dir = tempdir();
    let path = dir.path().join("two.ring");
    let mut w = create(&path, CAP, 2);
    let mut dies = hold(&path);
    let (mut gated, mut go) = gated_reader(&path, "tethered", "resume", MAX, &[]);
    let mut s = Stream::new(CAP, MAX);
    let res = blocked_send(&path, &mut w, &mut s, 2000, || {
        dies.signal(libc::SIGKILL);
        assert_killed(&mut dies, "one reader");
        // The other reader is alive: the writer waits for it, and it reads only now.
        writeln!(go, "go").unwrap();
    });
    assert_eq!(res, Ok(()));
    assert!(w.is_reader_alive());
    let n = s.seq;
    drop(w);
    let (lines, sum) = finish(&mut gated, "the other reader");
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(
        (sum.received, sum.last, sum.disconnected),
        (n, Some(n - 1), true)
    );
    assert_eq!(sum.checksum, s.checksum());
}

#[test]
fn a_killed_writer_leaves_every_reader_an_intact_prefix_then_disconnected() {
    const MAX: usize = 1000;
    const CAP: usize = 16 * 1024;
    const K: u64 = 20_000;
    let dir = tempdir();
    let path = dir.path().join("writer-killed.ring");
    RingOptions::new()
        .create(CAP)
        .readers(3)
        .create_unattached(&path)
        .unwrap();
    let mut t1 = reader(&path, "tethered", "resume", MAX, &[("REPORT_AT", K)]);
    let mut t2 = reader(&path, "tethered", "resume", MAX, &[]);
    let mut u = reader(&path, "untethered", "next", MAX, &[]);
    let mut writer = Proc::role(
        "writer",
        &[
            ("RING", path.display().to_string()),
            ("MAX", MAX.to_string()),
        ],
    );
    writer.expect_line("attached", LONG);
    t1.expect_line(&format!("progress {K}"), LONG);
    writer.signal(libc::SIGKILL);
    assert_killed(&mut writer, "the writer");
    let (_, s1) = finish(&mut t1, "tethered reader 1");
    let (lines, s2) = finish(&mut t2, "tethered reader 2");
    assert!(lines.is_empty(), "{lines:?}");
    let n = s1.received;
    assert!(n > K, "{s1:?}");
    for (name, s) in [("tethered reader 1", &s1), ("tethered reader 2", &s2)] {
        assert_eq!(
            (s.received, s.first, s.last, s.laps, s.disconnected),
            (n, Some(0), Some(n - 1), 0, true),
            "{name}"
        );
        assert_eq!(s.checksum, checksum_of(0, n, MAX), "{name}");
    }
    // The untethered reader checked each message and its order (gaps only after a lap); it
    // got to the writer's last committed message too.
    // (It may be lapped again before it got the message it jumped to: several `lapped` lines
    // before one `resumed`.)
    let (lines, su) = finish(&mut u, "the untethered reader");
    assert!(su.disconnected, "{su:?}");
    let lapped = lines.iter().filter(|l| l.starts_with("lapped ")).count();
    let resumed = lines.iter().filter(|l| l.starts_with("resumed ")).count();
    assert_eq!(
        (lapped + resumed, lapped as u64),
        (lines.len(), su.laps),
        "{lines:?}"
    );
    if lines.last().is_some_and(|l| l.starts_with("lapped ")) {
        // Lapped at the very end (the tail had reached the last record when the writer died):
        // nothing was left to receive after the lap.
        assert!(su.last < Some(n - 1), "{su:?}");
    } else {
        assert_eq!(su.last, Some(n - 1), "{su:?}");
    }
    println!(
        "writer killed after {n} committed messages; the untethered reader got {} in {} laps",
        su.received, su.laps
    );
}
