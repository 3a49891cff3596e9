//! Shared by the bridge tests: the two binaries as real processes, free ports, rings, the
//! stream check and the counters a bridge prints when it exits.
#![allow(dead_code)]

use mmring::{Reader, RecvError, RingOptions, Writer};
use mmring_testkit::stream;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Upper bound for any wait in these tests: a hang fails instead of blocking CI. Not a
/// performance threshold: a healthy run finishes each wait in a small fraction of it.
pub const PATIENCE: Duration = Duration::from_secs(90);

pub fn bridge_bin() -> &'static str {
    env!("CARGO_BIN_EXE_mmring-zenoh")
}

/// The `mmring` CLI, built on first use (it is another package of the workspace, so cargo does
/// not build it for this package's tests).
pub fn cli_bin() -> &'static Path {
    static CLI: OnceLock<PathBuf> = OnceLock::new();
    CLI.get_or_init(|| {
        let dir = Path::new(bridge_bin())
            .parent()
            .expect("target dir")
            .to_owned();
        let cli = dir.join("mmring");
        let profile_release = dir.ends_with("release");
        let mut c = Command::new(env!("CARGO"));
        c.args(["build", "-q", "-p", "mmring-cli", "--bin", "mmring"]);
        if profile_release {
            c.arg("--release");
        }
        let st = c.status().expect("run cargo build -p mmring-cli");
        assert!(st.success(), "cargo build -p mmring-cli failed");
        assert!(cli.exists(), "{} missing after the build", cli.display());
        cli
    })
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A bridge process whose standard error goes to a file; killed if dropped while running.
pub struct Bridge {
    pub child: Child,
    pub err: PathBuf,
    pub name: String,
}

impl Bridge {
    /// Starts `mmring-zenoh ARGS...` with its standard error in `dir/NAME.err`.
    pub fn start(dir: &Path, name: &str, args: &[String]) -> Bridge {
        Bridge::start_with(dir, name, &[], args)
    }

    /// Starts the bridge through `prefix` (e.g. `ip netns exec NS`).
    pub fn start_with(dir: &Path, name: &str, prefix: &[&str], args: &[String]) -> Bridge {
        let err = dir.join(format!("{name}.err"));
        let f = File::create(&err).expect("create stderr file");
        let mut cmd = match prefix.split_first() {
            Some((p, rest)) => {
                let mut c = Command::new(p);
                c.args(rest).arg(bridge_bin());
                c
            }
            None => Command::new(bridge_bin()),
        };
        let child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .expect("spawn mmring-zenoh");
        Bridge {
            child,
            err,
            name: name.to_owned(),
        }
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// SIGTERM, wait, and the counters of its final line.
    pub fn stop(mut self) -> Stats {
        // Signals are handled once it is set up (before, SIGTERM would simply kill it).
        self.wait_for_line("running", |l| l.contains(": running: "));
        let _ = kill(self.pid(), Signal::SIGTERM);
        let st = self.child.wait().expect("wait for bridge");
        let text = self.stderr();
        assert!(st.success(), "{} exited with {st}:\n{text}", self.name);
        final_stats(&text).unwrap_or_else(|| panic!("{}: no final line in:\n{text}", self.name))
    }

    /// Waits for it to exit by itself.
    pub fn wait(mut self) -> (std::process::ExitStatus, String) {
        let st = self.child.wait().expect("wait for bridge");
        (st, self.stderr())
    }

    /// SIGKILL and reap.
    pub fn kill9(mut self) -> String {
        let _ = kill(self.pid(), Signal::SIGKILL);
        let _ = self.child.wait();
        self.stderr()
    }

    /// Waits until its standard error holds a line satisfying `f` (at most [`PATIENCE`]).
    pub fn wait_for_line(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(l) = self.stderr().lines().find(|l| f(l)) {
                return l.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "{}: no {what} line in:\n{}",
                self.name,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The counters of a `key=value ...` line.
pub type Stats = HashMap<String, u64>;

fn parse_stats(line: &str) -> Stats {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect()
}

/// The counters of the last `final` line.
pub fn final_stats(stderr: &str) -> Option<Stats> {
    stderr
        .lines()
        .rev()
        .find(|l| l.contains(": final "))
        .map(parse_stats)
}

/// The counters of the last periodic `stats` line.
pub fn last_stats(stderr: &str) -> Option<Stats> {
    stderr
        .lines()
        .rev()
        .find(|l| l.contains(": stats "))
        .map(parse_stats)
}

/// Waits (at most [`PATIENCE`]) for `path` to exist.
pub fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + PATIENCE;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (at most [`PATIENCE`]) until a live reader is attached to the ring at `path`.
pub fn wait_for_reader(path: &Path) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(i) = mmring::inspect(path) {
            if i.readers.iter().any(|r| r.side.alive) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no reader attached to {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Creates a ring file nobody is attached to.
pub fn create_ring(path: &Path, capacity: usize) {
    RingOptions::new()
        .create(capacity)
        .create_unattached(path)
        .expect("create ring");
}

/// Writes messages `0..n` of the test stream (sizes `min..=max`) into the ring at `path`,
/// on a thread, blocking while it is full.
pub fn spawn_stream_writer(
    path: &Path,
    n: u64,
    min: usize,
    max: usize,
) -> std::thread::JoinHandle<Writer> {
    let mut w = Writer::open(path).expect("open A as writer");
    std::thread::spawn(move || {
        let mut buf = vec![0u8; max];
        for seq in 0..n {
            let len = stream::size_for(seq, min, max);
            stream::fill(seq, &mut buf[..len]);
            // The ring is full and its reader (the outbound bridge) is gone: wait for the next.
            while let Err(e) = w.send(&buf[..len]) {
                assert_eq!(e, mmring::SendError::Disconnected, "send into A");
                while !w.is_reader_alive() {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        w
    })
}

/// What a reader of the destination ring saw.
#[derive(Debug, Default)]
pub struct Received {
    /// Messages accepted in order (the next expected sequence number).
    pub next: u64,
    /// Messages received again (a sequence number below `next`), each intact.
    pub duplicates: u64,
    /// Places where a sequence number above `next` arrived.
    pub gaps: u64,
    /// Messages skipped by those gaps.
    pub missing: u64,
}

/// Reads the ring at `path` until message `n - 1` arrived, checking every byte; calls
/// `progress(next)` after each new message.
pub fn read_stream(reader: &mut Reader, n: u64, mut progress: impl FnMut(u64)) -> Received {
    let mut got = Received::default();
    let deadline = Instant::now() + PATIENCE;
    while got.next < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = match reader.recv_timeout(left) {
            Ok(m) => m.to_vec(),
            Err(RecvError::Timeout) => panic!("stalled at message {} of {n}: {got:?}", got.next),
            Err(RecvError::Disconnected) => {
                // The inbound bridge (B's writer) died: its successor attaches soon.
                assert!(Instant::now() < deadline, "no new writer of B: {got:?}");
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(e) => panic!("receive from B: {e}"),
        };
        let seq = stream::seq_of(&msg).expect("a stream message");
        if seq < got.next {
            got.duplicates += 1;
            stream::verify(seq, &msg).expect("a duplicate is intact");
            continue;
        }
        if seq > got.next {
            got.gaps += 1;
            got.missing += seq - got.next;
        }
        stream::verify(seq, &msg).unwrap_or_else(|e| panic!("message {seq}: {e}"));
        got.next = seq + 1;
        progress(got.next);
    }
    got
}

/// The Zenoh options every test uses: explicit endpoints, no scouting.
pub fn listen(port: u16) -> Vec<String> {
    vec![
        "--listen".into(),
        format!("tcp/127.0.0.1:{port}"),
        "--no-multicast-scouting".into(),
    ]
}

pub fn connect(port: u16) -> Vec<String> {
    vec![
        "--connect".into(),
        format!("tcp/127.0.0.1:{port}"),
        "--no-multicast-scouting".into(),
    ]
}

/// `a` then `b` as one argument list.
pub fn args(a: &[&str], b: &[String]) -> Vec<String> {
    a.iter()
        .map(|s| s.to_string())
        .chain(b.iter().cloned())
        .collect()
}
