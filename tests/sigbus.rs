//! The truncation guard under every kind of `SIGBUS`, in real processes (the tests must see
//! them die): a `SIGBUS` that is not a fault in a ring mapping gets what the process chose
//! before the guard was installed, and never disarms the guard while the process lives on.
//!
//! | previous action | signal | expected |
//! |---|---|---|
//! | `SIG_DFL` | sent by `raise`, `kill`, `sigqueue`, another process | the process dies of `SIGBUS` |
//! | `SIG_IGN` | the same | ignored; truncating a live ring later still gives `Truncated` |
//! | `SIG_DFL`, `SIG_IGN` | a fault in a mapping that is not a ring | the process dies of `SIGBUS` |
//! | the standard library's handler | sent, twice | survives the first (that handler resets the action to the default), truncation still gives `Truncated`, the second kills |
//! | a handler that faults itself | a fault elsewhere | dies of `SIGBUS` at once (no recursion) |
//!
//! And in this process: `errno` survives a guarded fault, and two threads faulting at once in
//! two mappings of a truncated ring both get `Truncated`.
//!
//! Child roles run from a constructor before `main` (see `common`), so before the standard
//! library installs its own `SIGBUS` handler: their previous action is `SIG_DFL` unless they
//! change it. The standard library case runs as a libtest helper instead.

mod common;
#[path = "../fuzz/harness.rs"]
mod harness;

use common::{env, role_command, Proc};
use mmring::{CorruptKind, Reader, TryRecvError, TrySendError, Writer};
use std::io::{BufRead, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

child_roles!(role);

const LONG: Duration = Duration::from_secs(60);
const HOWS: [&str; 4] = ["raise", "kill", "sigqueue", "outside"];

fn role(name: &str) -> i32 {
    match name {
        "sent" => sent(),
        "fault" => fault(),
        "faulting-handler" => faulting_handler(),
        other => {
            println!("unknown role {other}");
            2
        }
    }
}

/// The action for `SIGBUS` now.
fn current_action() -> usize {
    // SAFETY: a null new action only queries; `cur` is a valid out-parameter.
    unsafe {
        let mut cur: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut cur), 0);
        cur.sa_sigaction
    }
}

/// Sets the previous action the guard will find: `dfl` (as a child role starts) or `ign`.
fn set_previous(prev: &str) {
    match prev {
        "dfl" => assert_eq!(current_action(), libc::SIG_DFL),
        "ign" => {
            // SAFETY: plain system call.
            let old = unsafe { libc::signal(libc::SIGBUS, libc::SIG_IGN) };
            assert_eq!(old, libc::SIG_DFL);
        }
        other => panic!("PREV={other}"),
    }
}

/// A ring with a writer, a reader and two messages in flight: the reader's next receive reads
/// records, which fault once the file is truncated.
fn live_ring(path: &str) -> (Writer, Reader) {
    let mut w = Writer::create(path, 64 * 1024).expect("create");
    let mut r = Reader::open(path).expect("open");
    for i in 0..3u8 {
        w.try_send(&[i; 100]).unwrap();
    }
    assert_eq!(r.try_recv_vec().unwrap(), [0; 100]);
    (w, r)
}

/// Truncates the file at `path` to `len` bytes (as another process would).
fn shrink(path: impl AsRef<Path>, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// Truncates the ring under the live reader and checks that it reports `Truncated`.
fn expect_truncated(path: &str, r: &mut Reader) {
    shrink(path, 0);
    match r.try_recv_vec() {
        Err(TryRecvError::Corrupt(c)) if c.kind == CorruptKind::Truncated => println!("truncated"),
        other => println!("not truncated: {other:?}"),
    }
}

/// Sends this process a `SIGBUS` as `how` says.
fn send_sigbus(how: &str) {
    // SAFETY: plain system calls with integer arguments (and a by-value `sigval`).
    let rc = unsafe {
        match how {
            "raise" => libc::raise(libc::SIGBUS),
            "kill" => libc::kill(libc::getpid(), libc::SIGBUS),
            "sigqueue" => libc::sigqueue(
                libc::getpid(),
                libc::SIGBUS,
                libc::sigval {
                    sival_ptr: std::ptr::null_mut(),
                },
            ),
            "outside" => {
                // The parent sends it (`kill -BUS`), then writes a line: by the time the read
                // returns, the signal has been delivered.
                println!("waiting");
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).unwrap();
                0
            }
            other => panic!("HOW={other}"),
        }
    };
    assert_eq!(rc, 0, "{how}: {}", std::io::Error::last_os_error());
}

/// Role: a guarded process that is sent `SIGBUS` (`HOW`) twice with the previous action
/// `PREV`, then has its ring truncated under its reader.
fn sent() -> i32 {
    let path = env("RING");
    let how = env("HOW");
    set_previous(&env("PREV"));
    let (_w, mut r) = live_ring(&path);
    println!("armed");
    send_sigbus(&how);
    println!("survived");
    send_sigbus(&how);
    println!("survived again");
    expect_truncated(&path, &mut r);
    0
}

/// Maps the 8 KiB file at `path` (shared, never unmapped), truncates the file to 0 and returns
/// the address of its second page: reading it faults (`BUS_ADRERR`), and it is no ring's.
fn truncated_foreign_page(path: &str) -> *const u64 {
    std::fs::write(path, vec![0u8; 8192]).unwrap();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: a fresh shared mapping of the whole file, which we only read through volatile
    // loads and never unmap.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            8192,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    shrink(path, 0);
    p.cast::<u8>().wrapping_add(4096).cast()
}

/// Role: a guarded process (previous action `PREV`) that touches a truncated mapping of a file
/// that is not a ring.
fn fault() -> i32 {
    set_previous(&env("PREV"));
    let (_w, _r) = live_ring(&env("RING"));
    let bad = truncated_foreign_page(&env("OTHER"));
    println!("armed");
    // SAFETY: a live mapping; the read faults with SIGBUS (beyond the end of the file).
    let v = unsafe { bad.read_volatile() };
    println!("survived a fault outside any ring, read {v}");
    0
}

/// The address the faulting handler reads (a truncated mapping that is not a ring).
static BAD_ADDRESS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn handler_that_faults(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // Relaxed: stored by this thread before the handler was installed.
    let p = BAD_ADDRESS.load(Ordering::Relaxed) as *const u64;
    // SAFETY: `p` points into a live mapping (beyond the end of its file: the read faults).
    let v = unsafe { p.read_volatile() };
    std::hint::black_box(v);
}

/// Role: installs a `SIGBUS` handler that itself faults, then the guard (which chains to it),
/// then faults outside any ring.
fn faulting_handler() -> i32 {
    let bad = truncated_foreign_page(&env("OTHER"));
    // Relaxed: read by this thread only, in the handler.
    BAD_ADDRESS.store(bad as usize, Ordering::Relaxed);
    // SAFETY: installs a handler with the SA_SIGINFO signature; `act` is fully initialised.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = handler_that_faults as *const () as usize;
        act.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut act.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGBUS, &act, std::ptr::null_mut()), 0);
    }
    let (_w, _r) = live_ring(&env("RING"));
    println!("armed");
    // SAFETY: as in `fault`.
    let v = unsafe { bad.read_volatile() };
    println!("survived, read {v}");
    0
}

/// Runs role `role` with `envs`; with `HOW=outside`, sends it `SIGBUS` from here once it waits.
fn run_role(role: &str, envs: &[(&str, String)]) -> (ExitStatus, Vec<String>) {
    let mut cmd = role_command(role);
    cmd.stdin(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut p = Proc::spawn(cmd);
    let mut stdin = p.child.stdin.take().unwrap();
    let mut lines = Vec::new();
    while let Some(l) = p.line(LONG) {
        if l == "waiting" {
            p.signal(libc::SIGBUS);
            // A dead child has closed its end: a failed write is fine.
            let _ = stdin.write_all(b"go\n");
            let _ = stdin.flush();
        }
        lines.push(l);
    }
    (p.wait(LONG), lines)
}

fn dies_of_sigbus(what: &str, st: ExitStatus, lines: &[String]) {
    assert_eq!(
        st.signal(),
        Some(libc::SIGBUS),
        "{what}: {st}, printed {lines:?}"
    );
    assert!(lines.iter().any(|l| l == "armed"), "{what}: {lines:?}");
    assert!(
        !lines.iter().any(|l| l.starts_with("survived")),
        "{what}: {lines:?}"
    );
}

#[test]
fn a_sent_sigbus_with_the_default_action_kills_the_process() {
    for how in HOWS {
        let ring = harness::Scratch::new("sent-dfl");
        let (st, lines) = run_role(
            "sent",
            &[
                ("RING", ring.0.display().to_string()),
                ("HOW", how.into()),
                ("PREV", "dfl".into()),
            ],
        );
        dies_of_sigbus(how, st, &lines);
    }
}

#[test]
fn an_ignored_sent_sigbus_is_ignored_and_the_guard_stays_armed() {
    for how in HOWS {
        let ring = harness::Scratch::new("sent-ign");
        let (st, lines) = run_role(
            "sent",
            &[
                ("RING", ring.0.display().to_string()),
                ("HOW", how.into()),
                ("PREV", "ign".into()),
            ],
        );
        assert!(st.success(), "{how}: {st}, printed {lines:?}");
        let want = [
            "armed",
            "waiting",
            "survived",
            "waiting",
            "survived again",
            "truncated",
        ];
        let got: Vec<&str> = lines.iter().map(String::as_str).collect();
        let want: Vec<&str> = want
            .into_iter()
            .filter(|&l| how == "outside" || l != "waiting")
            .collect();
        assert_eq!(got, want, "{how}");
    }
}

#[test]
fn a_fault_outside_any_ring_kills_whether_sigbus_was_default_or_ignored() {
    for prev in ["dfl", "ign"] {
        let ring = harness::Scratch::new("fault-ring");
        let other = harness::Scratch::new("fault-other");
        let (st, lines) = run_role(
            "fault",
            &[
                ("RING", ring.0.display().to_string()),
                ("OTHER", other.0.display().to_string()),
                ("PREV", prev.into()),
            ],
        );
        dies_of_sigbus(prev, st, &lines);
    }
}

#[test]
fn a_fault_inside_a_chained_handler_kills_by_sigbus_instead_of_recursing() {
    let ring = harness::Scratch::new("nested-ring");
    let other = harness::Scratch::new("nested-other");
    let (st, lines) = run_role(
        "faulting-handler",
        &[
            ("RING", ring.0.display().to_string()),
            ("OTHER", other.0.display().to_string()),
        ],
    );
    dies_of_sigbus("nested fault", st, &lines);
}

const STD_HELPER_ENV: &str = "MMRING_TEST_SIGBUS_STD_RING";

#[test]
fn under_the_standard_library_handler_a_sent_sigbus_is_survived_once_and_the_guard_stays_armed() {
    let ring = harness::Scratch::new("std");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "std_handler_helper",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(STD_HELPER_ENV, &ring.0)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    // As without the guard: the standard library's handler resets the action to the default
    // and returns, so the first `raise` is survived and the second kills. In between, the
    // guard still turns a truncation into `Truncated`.
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGBUS),
        "{}\n{text}",
        out.status
    );
    // (libtest prints "test std_handler_helper ... " before the helper's first line.)
    let has = |want: &str| lines.iter().any(|l| l.ends_with(want));
    for want in ["std handler installed", "survived", "truncated"] {
        assert!(has(want), "missing {want:?}: {text}");
    }
    assert!(!has("survived again"), "{text}");
}

/// Run by the test above: the standard library has installed its `SIGBUS` handler before any
/// test runs, so the guard finds it as the previous action.
#[test]
#[ignore = "helper: run by under_the_standard_library_handler_... in a child process"]
fn std_handler_helper() {
    let path = std::env::var(STD_HELPER_ENV).expect("run by its parent test");
    let action = current_action();
    if action != libc::SIG_DFL && action != libc::SIG_IGN {
        println!("std handler installed");
    }
    let (_w, mut r) = live_ring(&path);
    send_sigbus("raise");
    println!("survived");
    expect_truncated(&path, &mut r);
    send_sigbus("raise");
    println!("survived again");
}

#[test]
fn errno_is_preserved_across_a_guarded_fault() {
    let s = harness::Scratch::new("errno");
    let path = s.0.display().to_string();
    let (_w, mut r) = live_ring(&path);
    shrink(&path, 0);
    const SENTINEL: libc::c_int = 4242;
    // SAFETY: the calling thread's errno, always valid.
    unsafe { *libc::__errno_location() = SENTINEL };
    // Reads the next record: faults, the guard remaps zeros, the read goes on.
    let res = r.try_recv().map(|m| m.len());
    // SAFETY: as above.
    let after = unsafe { *libc::__errno_location() };
    assert!(
        matches!(res, Err(TryRecvError::Corrupt(c)) if c.kind == CorruptKind::Truncated),
        "{res:?}"
    );
    assert_eq!(after, SENTINEL);
}

#[test]
fn faults_in_two_threads_at_once_are_each_reported_as_truncated() {
    let s = harness::Scratch::new("threads");
    let path = s.0.display().to_string();
    let mut w = Writer::create(&path, 1 << 20).unwrap();
    let mut r = Reader::open(&path).unwrap();
    let go = std::sync::Arc::new(std::sync::Barrier::new(3));
    let writer = std::thread::spawn({
        let go = go.clone();
        move || {
            go.wait();
            loop {
                match w.try_send(&[7; 1000]) {
                    Ok(()) | Err(TrySendError::Full) => {}
                    Err(TrySendError::Corrupt(c)) => return c.kind,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });
    let reader = std::thread::spawn({
        let go = go.clone();
        move || {
            go.wait();
            loop {
                match r.try_recv().map(|m| m.len()) {
                    Ok(_) | Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Corrupt(c)) => return c.kind,
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
    });
    go.wait();
    shrink(&path, 0);
    assert_eq!(writer.join().unwrap(), CorruptKind::Truncated);
    assert_eq!(reader.join().unwrap(), CorruptKind::Truncated);
}
