//! Helpers shared by the multi-process tests: child roles run by re-executing the test binary,
//! signals, waiting with a time limit, and clocks that two processes agree on.
//!
//! # Child roles
//! A test starts a child by running its own executable with `MMRING_TEST_ROLE=<name>` in the
//! environment. The role runs from an `.init_array` constructor, *before* the test harness
//! starts: the child is then a single-threaded process (libtest always runs tests on a spawned
//! thread, even with `--test-threads=1`, and [`mmring::fork`] refuses to fork a process with
//! more than one thread), starts in about a millisecond, and never runs any test. Each test
//! file installs the constructor with [`child_roles!`] and defines `fn role(name: &str) -> i32`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The environment variable naming the role a re-executed test binary plays.
pub const ROLE_VAR: &str = "MMRING_TEST_ROLE";

/// Installs the constructor that runs a child role before `main` when [`ROLE_VAR`] is set.
#[macro_export]
macro_rules! child_roles {
    ($role:path) => {
        extern "C" fn __mmring_child_entry() {
            $crate::common::child_entry($role);
        }
        // The constructor runs before `main` in every start of this binary; without the role
        // variable it returns at once and the test harness starts as usual.
        #[used]
        #[link_section = ".init_array"]
        static __MMRING_CHILD_ENTRY: extern "C" fn() = __mmring_child_entry;
    };
}

/// Runs the role named in the environment, if any, and exits with its status.
pub fn child_entry(role: fn(&str) -> i32) {
    let Ok(name) = std::env::var(ROLE_VAR) else {
        return;
    };
    // A panicking role exits with 101, as a panicking test would.
    let code = std::panic::catch_unwind(|| role(&name)).unwrap_or(101);
    std::process::exit(code);
}

/// A required environment variable of a child role.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("child role needs {name}"))
}

/// A required numeric environment variable of a child role.
pub fn env_u64(name: &str) -> u64 {
    env(name)
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

/// A command that re-executes this test binary as child role `role`, stdout piped.
pub fn role_command(role: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().expect("current_exe"));
    c.env(ROLE_VAR, role)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    c
}

/// A child process with its stdout read line by line on a helper thread.
pub struct Proc {
    /// The process.
    pub child: Child,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    /// Starts `cmd` (whose stdout must be piped).
    pub fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd.spawn().expect("spawn child");
        let out = child.stdout.take().expect("piped stdout");
        let lines = line_channel(out);
        Proc { child, lines }
    }

    /// Starts child role `role` with extra environment variables.
    pub fn role(role: &str, envs: &[(&str, String)]) -> Proc {
        let mut cmd = role_command(role);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Proc::spawn(cmd)
    }

    /// The child's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The next line of output, waiting at most `timeout`; `None` at end of output.
    pub fn line(&self, timeout: Duration) -> Option<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => Some(l),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("child {} printed nothing for {timeout:?}", self.pid())
            }
        }
    }

    /// Waits for the line `want` (other lines are returned with it, in order).
    pub fn expect_line(&self, want: &str, timeout: Duration) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.line(timeout) {
                Some(l) if l == want => return seen,
                Some(l) => seen.push(l),
                None => panic!(
                    "child {} ended without printing {want:?}; it printed {seen:?}",
                    self.pid()
                ),
            }
        }
    }

    /// Every remaining line, until the child closes its output.
    pub fn rest(&self, timeout: Duration) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(l) = self.line(timeout) {
            v.push(l);
        }
        v
    }

    /// Sends `sig` to the child.
    pub fn signal(&self, sig: i32) {
        signal(self.pid(), sig);
    }

    /// Waits for the child to end, at most `timeout` (then kills it and panics).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        wait_timeout(&mut self.child, timeout)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A test that failed half-way must not leave its child running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn line_channel(out: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Sends `sig` to process `pid`.
pub fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// Waits for `child`, at most `timeout`; kills it and panics if it is still running then.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let end = Instant::now() + timeout;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} still running after {timeout:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `cmd` to completion within `timeout`; returns its status and stdout.
pub fn run(cmd: Command, timeout: Duration) -> (ExitStatus, String) {
    let (st, out, _) = Captured::spawn(cmd).finish(timeout);
    (st, out)
}

/// A child whose stdout and stderr are collected in the background.
pub struct Captured {
    /// The process.
    pub child: Child,
    out: std::thread::JoinHandle<String>,
    err: std::thread::JoinHandle<String>,
}

fn collect(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

impl Captured {
    /// Starts `cmd` with stdout and stderr piped.
    pub fn spawn(mut cmd: Command) -> Captured {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        let out = collect(child.stdout.take().expect("stdout"));
        let err = collect(child.stderr.take().expect("stderr"));
        Captured { child, out, err }
    }

    /// Waits at most `timeout` (then kills the child and panics); returns the status, stdout
    /// and stderr.
    pub fn finish(mut self, timeout: Duration) -> (ExitStatus, String, String) {
        let st = wait_timeout(&mut self.child, timeout);
        (
            st,
            self.out.join().expect("stdout thread"),
            self.err.join().expect("stderr thread"),
        )
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in every process of the machine.
pub fn mono_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec that outlives the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    assert_eq!(rc, 0, "clock_gettime");
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// User plus system CPU time of process `pid` so far, from `/proc/<pid>/stat`.
pub fn proc_cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/pid/stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf takes a plain integer.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / hz)
}

/// A small deterministic PRNG (SplitMix64) so a failing run can be repeated from its seed.
pub struct Rng(pub u64);

impl Rng {
    /// A generator seeded from `MMRING_TEST_SEED` or the clock; prints the seed.
    pub fn from_env(what: &str) -> Rng {
        let seed = std::env::var("MMRING_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(mono_ns);
        println!("{what}: seed {seed} (repeat with MMRING_TEST_SEED={seed})");
        Rng(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        mmring_testkit::stream::mix(self.0)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// A fresh ring path inside `dir`.
pub fn ring_path(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join(format!("{name}.ring"))
}

/// A child role: attaches as `SIDE` (`writer` or `reader`) of the ring at `RING`, prints
/// `attached`, and waits to be killed.
pub fn hold_side() -> i32 {
    let path = env("RING");
    let (_w, _r);
    match env("SIDE").as_str() {
        "writer" => _w = mmring::Writer::open(&path).expect("attach writer"),
        _ => _r = mmring::Reader::open(&path).expect("attach reader"),
    }
    println!("attached");
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Where cargo put this package's examples for the profile this test was built with (built
/// first if missing, with the `tokio` feature when this test has it).
pub fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test exe> -> target/<profile>/examples/<name>
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir.join("examples").join(name);
    if !path.exists() {
        // `cargo test` builds examples, `cargo test --test process` does not: build them.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--examples", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        if cfg!(feature = "tokio") {
            cmd.args(["--features", "tokio"]);
        }
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("run cargo build --examples");
        assert!(st.success(), "cargo build --examples: {st}");
    }
    assert!(path.exists(), "{} missing", path.display());
    path
}

/// Writes the test stream with `w` from message `seq` on (sizes `min..=max`) until the process
/// is killed, alternating single zero-copy messages and write batches of one to eight messages
/// (every third message starts one), so that a kill can land inside a batch too. Returns 1
/// (after printing why) if a send fails.
pub fn write_stream_until_killed(
    w: &mut mmring::Writer,
    mut seq: u64,
    min: usize,
    max: usize,
) -> i32 {
    use mmring_testkit::stream::{fill, size_for};
    loop {
        if seq % 3 == 0 {
            let mut batch = w.batch();
            for _ in 0..1 + seq % 8 {
                let Ok(mut g) = batch.try_reserve(size_for(seq, min, max)) else {
                    break;
                };
                fill(seq, &mut g);
                g.stage();
                seq += 1;
            }
        }
        let mut g = match w.reserve(size_for(seq, min, max)) {
            Ok(g) => g,
            Err(e) => {
                println!("error: message #{seq}: {e}");
                return 1;
            }
        };
        fill(seq, &mut g);
        g.commit();
        seq += 1;
    }
}
