//! One run of one configuration: the writer and N readers as child processes of the parent,
//! which only prepares the rings, waits, and checks what the children report.
//!
//! A child is this binary again: `__fanout writer CPU SPEC…` or `__fanout reader INDEX CPU
//! SPEC…` (CPU `-` for no pinning), reporting on standard output with `RESULT` lines.

use super::common::{ReaderOut, Spec, Transport, WriterOut};
use mmring_testkit::child::SelfChild;
use mmring_testkit::cpu;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The first argument that makes this binary a child.
pub const CHILD: &str = "__fanout";

/// What one run produced: the writer's report and each reader's, in reader order.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The writer's report.
    pub writer: WriterOut,
    /// Reader `i`'s report at index `i`.
    pub readers: Vec<ReaderOut>,
}

/// A fresh directory for one run's files: in /dev/shm when it exists (RAM), else the temp dir.
fn scratch_dir() -> io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = base.join(format!("mmring-fanout-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

fn cpu_arg(c: Option<usize>) -> String {
    c.map_or("-".into(), |c| c.to_string())
}

/// Runs `spec` (its `dir` is replaced by a fresh one): the writer pinned to `cpus[0]` and
/// reader `i` to `cpus[i + 1]` if `cpus` is given, all unpinned otherwise. Fails if any process
/// fails (a sequence check, a lost message, a peer that never answered) or if a reader did not
/// receive every message the writer sent.
pub fn run(spec: &Spec, cpus: Option<&[usize]>) -> Result<Outcome, String> {
    let dir = scratch_dir().map_err(|e| format!("scratch directory: {e}"))?;
    let spec = Spec {
        dir: dir.clone(),
        ..spec.clone()
    };
    let result = run_in(&spec, cpus);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(spec: &Spec, cpus: Option<&[usize]>) -> Result<Outcome, String> {
    if spec.transport == Transport::Mmring {
        super::mmring::prepare(spec).map_err(|e| format!("creating the rings: {e}"))?;
    }
    let pin = |i: usize| cpus.and_then(|c| c.get(i).copied());
    let mut children = Vec::new();
    for i in 0..spec.readers {
        let mut args = vec![
            CHILD.to_string(),
            "reader".into(),
            i.to_string(),
            cpu_arg(pin(i + 1)),
        ];
        args.extend(spec.to_args());
        let c = SelfChild::spawn(args, Stdio::piped())
            .map_err(|e| format!("starting reader {i}: {e}"))?;
        children.push((format!("reader {i}"), c));
    }
    let mut args = vec![CHILD.to_string(), "writer".into(), cpu_arg(pin(0))];
    args.extend(spec.to_args());
    let c = SelfChild::spawn(args, Stdio::piped()).map_err(|e| format!("starting writer: {e}"))?;
    children.push(("writer".into(), c));

    // Wait for all, giving up on the first failure or at the deadline (dropping the others
    // kills and reaps them).
    let until = Instant::now() + spec.deadline() + Duration::from_secs(5);
    let mut done = vec![false; children.len()];
    while done.iter().any(|d| !d) {
        for (k, (name, c)) in children.iter_mut().enumerate() {
            if done[k] {
                continue;
            }
            match c.try_wait() {
                Ok(Some(st)) if st.success() => done[k] = true,
                Ok(Some(st)) => return Err(format!("{name} failed ({st})")),
                Ok(None) => {}
                Err(e) => return Err(format!("waiting for {name}: {e}")),
            }
        }
        if Instant::now() > until {
            return Err("a process did not finish in time".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }

    let mut readers = Vec::new();
    let mut writer = None;
    for (name, c) in children {
        let out = c.wait().map_err(|e| format!("{name}: {e}"))?;
        let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("RESULT ").map(str::to_string))
            .collect();
        if name == "writer" {
            writer = Some(WriterOut::parse(&lines).ok_or(format!("{name}: no report"))?);
        } else {
            readers.push(ReaderOut::parse(&lines).ok_or(format!("{name}: no report"))?);
        }
    }
    let writer = writer.ok_or("no writer report")?;
    for (i, r) in readers.iter().enumerate() {
        if r.received != writer.sent {
            return Err(format!(
                "reader {i} received {} messages, the writer sent {}",
                r.received, writer.sent
            ));
        }
    }
    if spec.test == super::common::Test::Rtt && writer.latency.is_none() {
        return Err("writer: no latency report".into());
    }
    Ok(Outcome { writer, readers })
}

/// The child's side: `args` are what follows [`CHILD`].
pub fn child_main(args: &[String]) -> ExitCode {
    let run = || -> Result<Vec<String>, String> {
        let (index, rest) = match args.first().map(String::as_str) {
            Some("writer") => (None, &args[1..]),
            Some("reader") => {
                let i = args
                    .get(1)
                    .and_then(|i| i.parse().ok())
                    .ok_or("bad index")?;
                (Some(i), &args[2..])
            }
            _ => return Err("unknown role".into()),
        };
        let [cpu_s, spec_args @ ..] = rest else {
            return Err("missing CPU".into());
        };
        let spec = Spec::from_args(spec_args).ok_or("bad run arguments")?;
        if let Ok(c) = cpu_s.parse::<usize>() {
            cpu::pin(c).map_err(|e| format!("pinning to CPU {c}: {e}"))?;
        }
        let what = format!(
            "{} {} {} readers, {}",
            spec.transport.name(),
            spec.test.name(),
            spec.readers,
            index.map_or("writer".into(), |i| format!("reader {i}"))
        );
        role(&spec, index).map_err(|e| format!("{what}: {e}"))
    };
    match run() {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mmring-fanout-bench child: {e}");
            ExitCode::FAILURE
        }
    }
}

fn role(spec: &Spec, index: Option<usize>) -> io::Result<Vec<String>> {
    match (spec.transport, index) {
        (Transport::Mmring, None) => Ok(super::mmring::writer(spec)?.lines()),
        (Transport::Mmring, Some(i)) => Ok(super::mmring::reader(spec, i)?.lines()),
        #[cfg(feature = "iceoryx2")]
        (Transport::Iceoryx2, None) => Ok(super::iceoryx2::writer(spec)?.lines()),
        #[cfg(feature = "iceoryx2")]
        (Transport::Iceoryx2, Some(i)) => Ok(super::iceoryx2::reader(spec, i)?.lines()),
        #[cfg(not(feature = "iceoryx2"))]
        (Transport::Iceoryx2, _) => Err(io::Error::other("built without the iceoryx2 feature")),
    }
}
