//! The readiness handle with real processes, waited on with `poll(2)` as an event loop would:
//! a reader woken by a writer in an unrelated process (a file ring, its doorbell a FIFO) and in
//! a forked child (an anonymous ring, its doorbell an eventfd), a writer woken by a reader
//! that made room, and each of them woken by its peer's death (clean exit or `SIGKILL`); and
//! the doorbell files: removed by a clean detach, left by a crash and reused by the next holder;
//! and a forged writer pid in the header (a pidfd that never fires): the backstop lock probe
//! still sees the writer die.
//!
//! Every wait is deterministic: the side arms its handle (`prepare_wait` returns `false`), and
//! only then tells the peer, through a pipe, to act; `poll` must then report the handle
//! readable (a time limit of 10 s only catches a lost wake-up).
//!
//! Children are this test binary re-executed in a child role (see `common`).

mod common;

use common::{env, Proc};
use mmring::fork::{fork_reader_parent, Forked};
use mmring::{Reader, SendError, TryRecvError, TrySendError, Writer};
use std::io::{BufRead, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::process::Stdio;
use std::time::Duration;

child_roles!(role);

const LONG: Duration = Duration::from_secs(120);
/// How long a poll may wait before a wake-up counts as lost.
const POLL_MS: i32 = 10_000;

fn role(name: &str) -> i32 {
    match name {
        "stdin-writer" => stdin_writer(),
        "stdin-reader" => stdin_reader(),
        "fork-readiness" => fork_readiness(),
        "bell-holder" => bell_holder(),
        "hold-writer" => hold_writer(),
        other => {
            println!("unknown role {other}");
            2
        }
    }
}

/// Whether `fd` becomes readable within [`POLL_MS`].
fn readable(fd: BorrowedFd<'_>) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd that lives across the call.
    let n = unsafe { libc::poll(&mut pfd, 1, POLL_MS) };
    n == 1 && pfd.revents & libc::POLLIN != 0
}

/// Attaches as the writer of `RING`; sends message `i` for the `i`-th line on stdin; exits
/// (detaching cleanly) at the end of stdin.
fn stdin_writer() -> i32 {
    let mut w = Writer::open(env("RING")).expect("open writer");
    println!("attached");
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        line.expect("stdin");
        w.send(&(i as u64).to_le_bytes()).expect("send");
    }
    0
}

/// Attaches as the reader of `RING`; receives and releases one message per line on stdin and
/// prints `got N` (its length); waits to be killed at the end of stdin.
fn stdin_reader() -> i32 {
    let mut r = Reader::open(env("RING")).expect("open reader");
    println!("attached");
    for line in std::io::stdin().lock().lines() {
        line.expect("stdin");
        let n = r.recv().expect("recv").len();
        r.release();
        println!("got {n}");
    }
    loop {
        std::thread::park();
    }
}

/// Attaches as the reader of `RING`, makes its readiness handle (and so its doorbell FIFO),
/// says `ready`, then waits to be killed.
fn bell_holder() -> i32 {
    let mut r = Reader::open(env("RING")).expect("open reader");
    let _ready = r.readiness().expect("readiness");
    println!("ready");
    loop {
        std::thread::park();
    }
}

/// Attaches as the writer of `RING`, sends one message, says `ready`, waits to be killed.
fn hold_writer() -> i32 {
    let mut w = Writer::open(env("RING")).expect("open writer");
    w.send(b"one").expect("send");
    println!("ready");
    loop {
        std::thread::park();
    }
}

#[test]
fn a_forged_writer_pid_still_lets_a_parked_reader_see_its_writer_die() {
    use std::os::unix::fs::FileExt;
    let dir = tempdir();
    let path = dir.path().join("forged.ring");
    let mut r = Reader::create(&path, 4096).unwrap();
    let mut writer = Proc::role("hold-writer", &[("RING", path.display().to_string())]);
    writer.expect_line("ready", LONG);
    assert_eq!(r.recv_vec().unwrap(), b"one");
    // The header's writer pid now names this (live) process: a pidfd of it never fires, so
    // only the backstop probe of the writer's lock can see the writer die.
    let pid_at = std::mem::offset_of!(mmring::layout::Header, writer_pid) as u64;
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all_at(&std::process::id().to_le_bytes(), pid_at)
        .unwrap();
    let waiter = std::thread::spawn(move || {
        let t = std::time::Instant::now();
        (r.recv_timeout(LONG).map(|m| m.len()), t.elapsed())
    });
    let t = std::time::Instant::now();
    while !mmring::inspect(&path).unwrap().readers[0].side.waiting {
        assert!(t.elapsed() < LONG, "the reader never parked");
        std::thread::sleep(Duration::from_millis(1));
    }
    writer.signal(libc::SIGKILL);
    writer.wait(LONG);
    let (got, waited) = waiter.join().unwrap();
    assert_eq!(got, Err(mmring::RecvError::Disconnected));
    println!("with a forged pid, the writer's death was seen after {waited:?} (backstop: 1 s)");
}

/// The doorbell FIFOs in `dir`.
fn bells(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bell"))
        .collect();
    v.sort();
    v
}

#[test]
fn doorbells_are_removed_on_a_clean_exit_and_a_crashed_sides_one_is_reused() {
    let dir = tempdir();
    let path = dir.path().join("bells.ring");
    let mut w = Writer::create(&path, 4096).unwrap();
    let mut holder = Proc::role("bell-holder", &[("RING", path.display().to_string())]);
    holder.expect_line("ready", LONG);
    assert_eq!(bells(dir.path()), ["bells.ring.r0.bell"]);
    // Killed: its doorbell stays behind for the next holder of the slot.
    holder.signal(libc::SIGKILL);
    holder.wait(LONG);
    assert_eq!(bells(dir.path()), ["bells.ring.r0.bell"]);
    let mut r = Reader::open(&path).unwrap();
    let ready = r.readiness().unwrap();
    assert!(!r.prepare_wait().unwrap());
    w.send(b"through the old FIFO").unwrap();
    assert!(
        readable(ready.as_fd()),
        "the reused doorbell did not wake the reader"
    );
    r.finish_wait();
    assert_eq!(r.try_recv_vec().unwrap(), b"through the old FIFO");
    // A writer that waited for room made its own; clean detaches remove both.
    let wr = w.readiness().unwrap();
    while w.try_send(&[0; 100]).is_ok() {}
    assert!(!w.prepare_wait(100).unwrap());
    assert_eq!(
        bells(dir.path()),
        ["bells.ring.r0.bell", "bells.ring.w.bell"]
    );
    w.finish_wait();
    drop((wr, ready));
    drop(r);
    drop(w);
    assert_eq!(bells(dir.path()), Vec::<String>::new());
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mmring-readiness-")
        .tempdir()
        .unwrap()
}

/// Starts child role `role` on `ring` with its stdin piped to us.
fn spawn_with_stdin(role: &str, ring: &std::path::Path) -> (Proc, std::process::ChildStdin) {
    let mut cmd = common::role_command(role);
    cmd.env("RING", ring).stdin(Stdio::piped());
    let mut p = Proc::spawn(cmd);
    let stdin = p.child.stdin.take().unwrap();
    p.expect_line("attached", LONG);
    (p, stdin)
}

#[test]
fn a_reader_in_poll_is_woken_by_a_writer_in_another_process_and_by_its_exit() {
    let dir = tempdir();
    let path = dir.path().join("r.ring");
    let mut r = Reader::create(&path, 4096).unwrap();
    let (mut child, mut stdin) = spawn_with_stdin("stdin-writer", &path);
    let ready = r.readiness().unwrap();
    for i in 0..100u64 {
        assert!(
            !r.prepare_wait().unwrap(),
            "round {i}: armed with nothing to do"
        );
        assert!(mmring::inspect(&path).unwrap().readers[0].side.waiting);
        writeln!(stdin, "send").unwrap();
        assert!(
            readable(ready.as_fd()),
            "round {i}: the send did not wake the handle"
        );
        r.finish_wait();
        assert_eq!(r.try_recv_vec().unwrap(), i.to_le_bytes());
    }
    // The writer detaches cleanly: that wakes the armed reader too.
    assert!(!r.prepare_wait().unwrap());
    drop(stdin);
    assert!(
        readable(ready.as_fd()),
        "the writer's exit did not wake the handle"
    );
    r.finish_wait();
    assert!(child.wait(LONG).success());
    assert_eq!(r.try_recv_vec(), Err(TryRecvError::Disconnected));
}

#[test]
fn a_writer_in_poll_is_woken_by_room_and_by_its_reader_being_killed() {
    let dir = tempdir();
    let path = dir.path().join("w.ring");
    let mut w = Writer::create(&path, 4096).unwrap();
    let (child, mut stdin) = spawn_with_stdin("stdin-reader", &path);
    let ready = w.readiness().unwrap();
    let msg = [7u8; 100];
    for round in 0..20 {
        while w.try_send(&msg).is_ok() {}
        assert!(
            !w.prepare_wait(msg.len()).unwrap(),
            "round {round}: full, armed"
        );
        writeln!(stdin, "recv").unwrap();
        assert!(
            readable(ready.as_fd()),
            "round {round}: the release did not wake the writer"
        );
        w.finish_wait();
        assert_eq!(child.line(LONG).as_deref(), Some("got 100"));
        assert_eq!(
            w.try_send(&msg),
            Ok(()),
            "round {round}: no room after the wake-up"
        );
    }
    // Full again, armed, and the reader is killed: its pidfd wakes the writer.
    while w.try_send(&msg).is_ok() {}
    assert_eq!(w.try_send(&msg), Err(TrySendError::Full));
    assert!(!w.prepare_wait(msg.len()).unwrap());
    child.signal(libc::SIGKILL);
    assert!(
        readable(ready.as_fd()),
        "the reader's death did not wake the writer"
    );
    w.finish_wait();
    assert_eq!(
        w.send_timeout(&msg, LONG),
        Err(SendError::Disconnected),
        "a full ring whose only reader died"
    );
    let mut child = child;
    child.wait(LONG);
}

/// The fork variant (run as a child role: `fork` needs a single-threaded process). The parent
/// reads with the readiness handle (an eventfd doorbell); the forked child writes one message
/// per byte it reads from a pipe, then waits to be killed.
fn fork_readiness() -> i32 {
    let (w, r) = mmring::anonymous(4096).expect("anonymous ring");
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe() writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: pipe() returned two new descriptors that nothing else owns.
    let (rx, tx) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let mut tx = std::fs::File::from(tx);
    // SAFETY: single-threaded (a child role runs before the harness starts threads); the child
    // only reads the pipe, sends and sleeps.
    match unsafe { fork_reader_parent(w, r) }.expect("fork") {
        Forked::Child { mut end } => {
            drop(tx);
            let mut rx = std::fs::File::from(rx);
            let mut b = [0u8; 1];
            let mut i = 0u64;
            while std::io::Read::read(&mut rx, &mut b).expect("read pipe") == 1 {
                end.send(&i.to_le_bytes()).expect("send");
                i += 1;
            }
            loop {
                std::thread::park();
            }
        }
        Forked::Parent { mut end, child } => {
            drop(rx);
            let ready = end.readiness().expect("readiness");
            for i in 0..100u64 {
                if end.prepare_wait().expect("arm") {
                    println!("round {i}: armed with nothing to do");
                    return 1;
                }
                tx.write_all(b"m").expect("write pipe");
                if !readable(ready.as_fd()) {
                    println!("round {i}: the send did not wake the handle");
                    return 1;
                }
                end.finish_wait();
                if end.try_recv_vec() != Ok(i.to_le_bytes().to_vec()) {
                    println!("round {i}: wrong message");
                    return 1;
                }
            }
            assert!(!end.prepare_wait().expect("arm"));
            common::signal(child, libc::SIGKILL);
            let woke = readable(ready.as_fd());
            end.finish_wait();
            let last = end.try_recv_vec();
            nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None).expect("waitpid");
            println!("death woke the handle: {woke}; then {last:?}");
            i32::from(!(woke && last == Err(TryRecvError::Disconnected)))
        }
    }
}

#[test]
fn the_fork_variant_wakes_through_its_eventfd_and_on_the_childs_death() {
    let mut p = Proc::role("fork-readiness", &[]);
    let out = p.rest(LONG);
    let st = p.wait(LONG);
    assert!(st.success(), "{out:?}");
    assert_eq!(
        out,
        ["death woke the handle: true; then Err(Disconnected)"],
        "{out:?}"
    );
}
