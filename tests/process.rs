//! Two real processes on one ring: a million-message exchange through a file and across
//! `fork`, reopening after both sides exited, one writer and one reader per ring (the refusal
//! names the holder's pid), claims of `kill -9`ed holders taken over without cleanup, and the
//! `writer`/`reader` examples started in either order.
//!
//! Children are this test binary re-executed in a child role (see `common`).

mod common;

use common::{env, env_u64, Proc};
use mmring::fork::{fork_reader_parent, fork_writer_parent, Forked};
use mmring::{OpenError, Reader, RecvError, Side, TryRecvError, Writer};
use mmring_testkit::stream::{fill, size_for, verify, Checksum};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

child_roles!(role);

const LONG: Duration = Duration::from_secs(120);

/// The child roles of this file; the return value is the exit status.
fn role(name: &str) -> i32 {
    match name {
        "stream-reader" => stream_reader(),
        "stream-writer" => stream_writer(),
        "fork-exchange" => fork_exchange(),
        "fork-kill" => fork_kill(),
        "hold" => common::hold_side(),
        other => {
            println!("unknown role {other}");
            2
        }
    }
}

/// Receives `COUNT` stream messages starting at `START` (sizes `MIN..=MAX`) and checks each;
/// with `END=1` it also requires `Disconnected` right after them. Prints the checksum.
fn stream_reader() -> i32 {
    let path = env("RING");
    let (start, count) = (env_u64("START"), env_u64("COUNT"));
    let (min, max) = (env_u64("MIN") as usize, env_u64("MAX") as usize);
    let mut r = match Reader::open(&path) {
        Ok(r) => r,
        Err(e) => {
            println!("error: open: {e}");
            return 1;
        }
    };
    println!("attached");
    let mut sum = Checksum::new();
    if let Err(e) = receive_stream(&mut r, start, count, min, max, &mut sum) {
        println!("error: {e}");
        return 1;
    }
    if env_u64("END") == 1 {
        match r.recv() {
            Err(RecvError::Disconnected) => {}
            Ok(m) => {
                println!("error: message of {} bytes after the end", m.len());
                return 1;
            }
            Err(e) => {
                println!("error: after the end: {e}");
                return 1;
            }
        }
    }
    println!("received={count} checksum={:016x}", sum.value());
    0
}

/// Receives and checks `count` messages from `start`: sequence, size and every byte.
fn receive_stream(
    r: &mut Reader,
    start: u64,
    count: u64,
    min: usize,
    max: usize,
    sum: &mut Checksum,
) -> Result<(), String> {
    for seq in start..start + count {
        let m = r.recv().map_err(|e| format!("message #{seq}: {e}"))?;
        verify(seq, &m).map_err(|e| e.to_string())?;
        let want = size_for(seq, min, max);
        if m.len() != want {
            return Err(format!("message #{seq}: {} bytes, sent {want}", m.len()));
        }
        sum.update(&m);
    }
    Ok(())
}

/// Sends `count` stream messages from `start`, zero-copy, and returns their checksum.
fn send_stream(
    w: &mut Writer,
    start: u64,
    count: u64,
    min: usize,
    max: usize,
) -> Result<Checksum, String> {
    let mut sum = Checksum::new();
    for seq in start..start + count {
        let mut g = w
            .reserve(size_for(seq, min, max))
            .map_err(|e| format!("message #{seq}: {e}"))?;
        fill(seq, &mut g);
        sum.update(&g);
        g.commit();
    }
    Ok(sum)
}

/// Attaches as the writer of `RING`, sends `COUNT` messages from `START`, exits.
fn stream_writer() -> i32 {
    let path = env("RING");
    let (start, count) = (env_u64("START"), env_u64("COUNT"));
    let (min, max) = (env_u64("MIN") as usize, env_u64("MAX") as usize);
    let mut w = match Writer::open(&path) {
        Ok(w) => w,
        Err(e) => {
            println!("error: open: {e}");
            return 1;
        }
    };
    println!("attached");
    match send_stream(&mut w, start, count, min, max) {
        Ok(sum) => {
            println!("sent={count} checksum={:016x}", sum.value());
            0
        }
        Err(e) => {
            println!("error: {e}");
            1
        }
    }
}

/// Creates an anonymous ring in this (single-threaded) process, forks, and streams `COUNT`
/// messages from the end `MODE` names to the other; the forked child reports by exit status.
fn fork_exchange() -> i32 {
    let count = env_u64("COUNT");
    let (min, max) = (8, 300);
    let (w, r) = mmring::anonymous(64 * 1024).expect("anonymous ring");
    let check = |r: &mut Reader| -> i32 {
        let mut sum = Checksum::new();
        if let Err(e) = receive_stream(r, 0, count, min, max, &mut sum) {
            println!("error: {e}");
            return 1;
        }
        match r.recv() {
            Err(RecvError::Disconnected) => 0,
            other => {
                println!("error: after the end: {:?}", other.map(|m| m.len()));
                1
            }
        }
    };
    let (child, mine) = if env("MODE") == "writer-parent" {
        // SAFETY: this process is single-threaded (a child role runs before the test harness
        // starts any thread); the child only uses its end and exits.
        match unsafe { fork_writer_parent(w, r) }.expect("fork") {
            Forked::Child { mut end } => std::process::exit(check(&mut end)),
            Forked::Parent { mut end, child } => {
                let sent = send_stream(&mut end, 0, count, min, max);
                drop(end);
                (child, sent.map(|_| 0).unwrap_or(1))
            }
        }
    } else {
        // SAFETY: as above.
        match unsafe { fork_reader_parent(w, r) }.expect("fork") {
            Forked::Child { mut end } => {
                let code = send_stream(&mut end, 0, count, min, max).map_or(1, |_| 0);
                drop(end);
                std::process::exit(code)
            }
            Forked::Parent { mut end, child } => (child, check(&mut end)),
        }
    };
    let st = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None).expect("waitpid");
    println!("forked child: {st:?}");
    match st {
        nix::sys::wait::WaitStatus::Exited(_, 0) if mine == 0 => 0,
        _ => 1,
    }
}

/// Forks with an anonymous ring, lets the child use its end a little, kills it with SIGKILL,
/// and checks that the parent's blocked end returns `Disconnected` instead of waiting forever:
/// only the child held the killed end's claim. (A hang is caught by the test's `LONG` wait.)
fn fork_kill() -> i32 {
    let (w, r) = mmring::anonymous(4096).expect("anonymous ring");
    let kill = |child: i32| {
        common::signal(child, libc::SIGKILL);
        nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None).expect("waitpid")
    };
    let outcome = if env("MODE") == "reader-parent" {
        // SAFETY: single-threaded (a child role runs before the harness starts threads); the
        // child only sends and then sleeps until killed.
        match unsafe { fork_reader_parent(w, r) }.expect("fork") {
            Forked::Child { mut end } => {
                for i in 0..100u8 {
                    end.send(&[i; 10]).expect("send");
                }
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            Forked::Parent { mut end, child } => {
                for i in 0..100u8 {
                    assert_eq!(*end.recv().expect("recv"), [i; 10]);
                }
                println!("child: {:?}", kill(child));
                let t = Instant::now();
                let res = end.recv().map(|m| m.len());
                (
                    format!("{res:?}"),
                    t.elapsed(),
                    res == Err(RecvError::Disconnected),
                )
            }
        }
    } else {
        // SAFETY: as above; the child receives once and then sleeps until killed.
        match unsafe { fork_writer_parent(w, r) }.expect("fork") {
            Forked::Child { mut end } => {
                drop(end.recv().expect("recv"));
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            Forked::Parent { mut end, child } => {
                end.send(b"first").expect("send");
                while !end.is_reader_alive() || end.try_send(&[1; 100]).is_ok() {}
                println!("child: {:?}", kill(child));
                let t = Instant::now();
                let res = end.send(&[1; 100]);
                (
                    format!("{res:?}"),
                    t.elapsed(),
                    res == Err(mmring::SendError::Disconnected),
                )
            }
        }
    };
    println!("after the kill: {} in {:?}", outcome.0, outcome.1);
    if outcome.2 {
        0
    } else {
        1
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mmring-process-")
        .tempdir()
        .expect("tempdir")
}

fn stream_env(path: &Path, start: u64, count: u64, max: usize, end: bool) -> Vec<(&str, String)> {
    vec![
        ("RING", path.display().to_string()),
        ("START", start.to_string()),
        ("COUNT", count.to_string()),
        ("MIN", "8".into()),
        ("MAX", max.to_string()),
        ("END", u64::from(end).to_string()),
    ]
}

fn checksum_of(line: &str) -> &str {
    line.rsplit_once("checksum=").expect("checksum line").1
}

#[test]
fn a_million_variable_size_messages_between_two_processes() {
    const N: u64 = 1_000_000;
    const MAX: usize = 256;
    let dir = tempdir();
    let path = dir.path().join("million.ring");
    let mut w = Writer::create(&path, 64 * 1024).unwrap();
    let mut child = Proc::role("stream-reader", &stream_env(&path, 0, N, MAX, true));
    child.expect_line("attached", LONG);
    let t = Instant::now();
    let sum = send_stream(&mut w, 0, N, 8, MAX).unwrap();
    drop(w); // the reader then sees Disconnected after the last message
    let out = child.rest(LONG);
    let st = child.wait(LONG);
    let el = t.elapsed();
    assert!(st.success(), "reader child: {st}, output {out:?}");
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(checksum_of(&out[0]), format!("{:016x}", sum.value()));
    println!(
        "{N} messages (8..={MAX} bytes) parent writer -> child reader in {el:?} ({:.2} M msgs/s)",
        N as f64 / el.as_secs_f64() / 1e6
    );
}

#[test]
fn a_child_writer_to_a_parent_reader_then_disconnected() {
    const N: u64 = 200_000;
    let dir = tempdir();
    let path = dir.path().join("reverse.ring");
    let mut r = Reader::create(&path, 16 * 1024).unwrap();
    let mut child = Proc::role("stream-writer", &stream_env(&path, 0, N, 1000, false));
    child.expect_line("attached", LONG);
    let mut sum = Checksum::new();
    receive_stream(&mut r, 0, N, 8, 1000, &mut sum).unwrap();
    let out = child.rest(LONG);
    assert!(child.wait(LONG).success(), "{out:?}");
    assert_eq!(checksum_of(&out[0]), format!("{:016x}", sum.value()));
    assert_eq!(
        r.recv().map(|m| m.len()).unwrap_err(),
        RecvError::Disconnected
    );
}

fn run_fork_exchange(mode: &str, count: u64) {
    let t = Instant::now();
    let mut p = Proc::role(
        "fork-exchange",
        &[("MODE", mode.into()), ("COUNT", count.to_string())],
    );
    let out = p.rest(LONG);
    let st = p.wait(LONG);
    assert!(st.success(), "fork exchange ({mode}): {st}, output {out:?}");
    println!("fork {mode}: {count} messages in {:?}", t.elapsed());
}

#[test]
fn a_million_messages_across_fork_writer_in_the_parent() {
    run_fork_exchange("writer-parent", 1_000_000);
}

#[test]
fn messages_across_fork_reader_in_the_parent() {
    run_fork_exchange("reader-parent", 200_000);
}

fn run_fork_kill(mode: &str) {
    let mut p = Proc::role("fork-kill", &[("MODE", mode.into())]);
    let out = p.rest(LONG);
    let st = p.wait(LONG);
    println!("fork kill ({mode}): {out:?}");
    assert!(st.success(), "{mode}: {st}, output {out:?}");
}

#[test]
fn a_killed_forked_writer_is_a_disconnection_for_the_parent_reader() {
    run_fork_kill("reader-parent");
}

#[test]
fn a_killed_forked_reader_is_a_disconnection_for_the_parent_writer() {
    run_fork_kill("writer-parent");
}

#[test]
fn fork_is_refused_in_a_multithreaded_process() {
    // The test harness runs this test on its own thread: two threads at least.
    let (w, r) = mmring::anonymous(4096).unwrap();
    // SAFETY: the call refuses before forking, as asserted.
    match unsafe { fork_writer_parent(w, r) } {
        Err(mmring::fork::ForkError::MultiThreaded { threads }) => assert!(threads >= 2),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("forked a multi-threaded process"),
    }
}

#[test]
fn a_reader_started_after_both_sides_exited_gets_what_was_not_consumed() {
    let dir = tempdir();
    let path = dir.path().join("reopen.ring");
    drop(Writer::create(&path, 64 * 1024).unwrap());
    let run = |role: &str, env: Vec<(&str, String)>| {
        let mut p = Proc::role(role, &env);
        let out = p.rest(LONG);
        let st = p.wait(LONG);
        assert!(st.success(), "{role}: {st}, {out:?}");
        out
    };
    // Writer 1 writes 0..300 and exits before any reader exists.
    run("stream-writer", stream_env(&path, 0, 300, 120, false));
    // Reader 1 consumes 0..100 and exits; the writer is gone but 200 remain.
    run("stream-reader", stream_env(&path, 0, 100, 120, false));
    // (Reader 1 gave back what it consumed when it dropped its `Reader` on exit.)
    let info = mmring::inspect(&path).unwrap();
    assert_eq!(info.readers[0].messages_pending, Some(200));
    assert!(!info.writer.alive && !info.readers[0].side.alive);
    // Writer 2 appends 300..350 and exits.
    run("stream-writer", stream_env(&path, 300, 50, 120, false));
    // Reader 2, started after everyone exited, gets 100..350.
    let out = run("stream-reader", stream_env(&path, 100, 250, 120, false));
    assert!(out.last().unwrap().starts_with("received=250 "), "{out:?}");
    // A reader whose writer left before it attached drains the ring and then waits for the
    // next writer (it never had a writer, so nothing disconnected from it).
    let mut r = Reader::open(&path).unwrap();
    assert_eq!(r.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(
        r.recv_timeout(Duration::from_millis(60)).unwrap_err(),
        RecvError::Timeout
    );
    // The next writer's messages reach it, and its exit is a disconnection.
    run("stream-writer", stream_env(&path, 350, 10, 120, false));
    let mut sum = Checksum::new();
    receive_stream(&mut r, 350, 10, 8, 120, &mut sum).unwrap();
    assert_eq!(r.recv().unwrap_err(), RecvError::Disconnected);
}

fn hold(path: &Path, side: &str) -> Proc {
    let p = Proc::role(
        "hold",
        &[("RING", path.display().to_string()), ("SIDE", side.into())],
    );
    p.expect_line("attached", LONG);
    p
}

fn assert_taken(e: OpenError, path: &Path, side: Side, pid: i32) {
    let text = e.to_string();
    match e {
        OpenError::SideTaken {
            path: p,
            side: s,
            pid: holder,
        } => {
            assert_eq!((p.as_path(), s, holder), (path, side, pid as u32));
            assert!(text.contains(&format!("pid {pid}")), "{text}");
            println!("refused as expected: {text}");
        }
        other => panic!("expected SideTaken, got {other}"),
    }
}

#[test]
fn a_second_writer_or_reader_is_refused_naming_the_holder_pid() {
    let dir = tempdir();
    let path = dir.path().join("taken.ring");
    drop(Writer::create(&path, 4096).unwrap());
    let writer = hold(&path, "writer");
    let reader = hold(&path, "reader");
    assert_taken(
        Writer::open(&path).unwrap_err(),
        &path,
        Side::Writer,
        writer.pid(),
    );
    assert_taken(
        Reader::open(&path).unwrap_err(),
        &path,
        Side::Reader,
        reader.pid(),
    );
    let info = mmring::inspect(&path).unwrap();
    assert!(info.writer.alive && info.readers[0].side.alive);
    assert_eq!(
        (info.writer.pid, info.readers[0].side.pid),
        (writer.pid() as u32, reader.pid() as u32)
    );
    // Two handles in one process exclude each other too (OFD locks, not per-process locks).
    drop((writer, reader));
    let _w = Writer::open(&path).unwrap();
    assert_taken(
        Writer::open(&path).unwrap_err(),
        &path,
        Side::Writer,
        std::process::id() as i32,
    );
}

#[test]
fn the_claim_of_a_killed_holder_is_taken_over_without_cleanup() {
    let dir = tempdir();
    let path = dir.path().join("reclaim.ring");
    drop(Writer::create(&path, 4096).unwrap());
    for side in ["writer", "reader"] {
        let mut p = hold(&path, side);
        let pid = p.pid();
        let before = mmring::inspect(&path).unwrap();
        p.signal(libc::SIGKILL);
        let st = p.wait(LONG);
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&st),
            Some(libc::SIGKILL)
        );
        let after = mmring::inspect(&path).unwrap();
        let (b, a) = match side {
            "writer" => (before.writer, after.writer),
            _ => (before.readers[0].side, after.readers[0].side),
        };
        // The header still says "attached" (nobody detached), but the kernel lock is gone.
        assert!(b.alive && !a.alive, "{side}: before {b:?}, after {a:?}");
        assert_eq!(a.pid, pid as u32);
        // A new holder attaches at once: no manual cleanup, no timeout to wait out.
        match side {
            "writer" => drop(Writer::open(&path).unwrap()),
            _ => drop(Reader::open(&path).unwrap()),
        }
    }
}

fn example_cmd(name: &str, path: &Path, count: u64) -> Command {
    let mut c = Command::new(common::example(name));
    c.arg(path).arg(count.to_string());
    c
}

/// Runs the example writer and reader concurrently, `first` started 100 ms before the other.
fn examples_in_order(first: &str, count: u64) {
    let dir = tempdir();
    let path = dir.path().join("examples.ring");
    let second = if first == "writer" {
        "reader"
    } else {
        "writer"
    };
    let t = Instant::now();
    let a = std::thread::spawn({
        let cmd = example_cmd(first, &path, count);
        move || common::run(cmd, LONG)
    });
    std::thread::sleep(Duration::from_millis(100));
    let (st_b, out_b) = common::run(example_cmd(second, &path, count), LONG);
    let (st_a, out_a) = a.join().unwrap();
    assert!(
        st_a.success() && st_b.success(),
        "{first}: {st_a} {out_a:?}; {second}: {st_b} {out_b:?}"
    );
    let (w, r) = if first == "writer" {
        (out_a, out_b)
    } else {
        (out_b, out_a)
    };
    let (w, r) = (w.trim_end(), r.trim_end());
    println!("{first} first ({:?}):\n  {w}\n  {r}", t.elapsed());
    assert!(w.starts_with(&format!("sent={count} ")), "{w}");
    assert!(r.starts_with(&format!("received={count} ")), "{r}");
    // Same byte count and checksum on both sides.
    assert_eq!(w.split_once(' ').unwrap().1, r.split_once(' ').unwrap().1);
}

#[test]
fn examples_agree_writer_started_first() {
    examples_in_order("writer", 200_000);
}

#[test]
fn examples_agree_reader_started_first() {
    examples_in_order("reader", 200_000);
}

#[test]
fn example_reader_exits_3_when_the_writer_died_before_count() {
    let dir = tempdir();
    let path = dir.path().join("short.ring");
    drop(Writer::create(&path, 1 << 20).unwrap());
    let reader = common::Captured::spawn(example_cmd("reader", &path, 5000));
    // Start the writer once the reader is attached, so that the reader sees it come and go.
    let t = Instant::now();
    while !mmring::inspect(&path).unwrap().readers[0].side.alive {
        assert!(t.elapsed() < LONG, "the example reader never attached");
        std::thread::sleep(Duration::from_millis(2));
    }
    let (st, sent) = common::run(example_cmd("writer", &path, 1000), LONG);
    assert!(st.success(), "{sent}");
    let (st, got, err) = reader.finish(LONG);
    println!("reader stderr: {err}");
    assert_eq!(st.code(), Some(3), "{err}");
    assert!(
        err.contains("the writer went away after 1000 of 5000 messages"),
        "{err}"
    );
    assert!(got.starts_with("received=1000 "), "{got}");
    // Bytes and checksum of the 1000 messages received equal those the writer sent.
    let tail = |s: &str| s.trim_end().split_once(' ').unwrap().1.to_string();
    assert_eq!(tail(&got), tail(&sent));
}
