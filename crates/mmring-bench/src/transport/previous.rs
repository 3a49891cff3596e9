//! An earlier build of mmring, measured inside this run: when `MMRING_PREVIOUS_BENCH` names the
//! `mmring-bench` binary of that build (for example format version 1, built from its commit in
//! a worktree), `mmring-prev` and `mmring-prev-1by1` run that binary for one case at a time,
//! interleaved with this run's transports on the same CPUs, and report what it measured. The
//! comparison with an earlier version is then taken at the same placement as everything else.
//!
//! The earlier binary does its own pinning (started by `taskset` with every online CPU, since
//! this process is pinned to one), child process and checks; this side's child does nothing.

use super::Transport;
use crate::harness::{Case, Kind, Outcome};
use std::io;
use std::path::Path;
use std::process::Command;

/// The environment variable naming the earlier build's `mmring-bench`.
pub const VAR: &str = "MMRING_PREVIOUS_BENCH";

/// See the module docs.
#[derive(Debug)]
pub struct Previous {
    name: &'static str,
    /// The transport's name in the earlier build.
    theirs: &'static str,
}

/// The earlier build's batch paths.
pub static PREVIOUS: Previous = Previous {
    name: "mmring-prev",
    theirs: "mmring",
};
/// The earlier build's one-message-per-call path.
pub static PREVIOUS_1BY1: Previous = Previous {
    name: "mmring-prev-1by1",
    theirs: "mmring-1by1",
};

/// Whether an earlier build was named.
pub fn available() -> bool {
    std::env::var_os(VAR).is_some()
}

/// The value of `"name":` in a JSON line of the earlier build's output.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{name}\":"))? + name.len() + 3;
    let rest = &line[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}

fn num(line: &str, name: &str) -> io::Result<f64> {
    field(line, name)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no {name} in {line:?}")))
}

impl Transport for Previous {
    fn name(&self) -> &'static str {
        self.name
    }
    fn describe(&self) -> &'static str {
        if self.theirs == "mmring" {
            "an earlier mmring build ($MMRING_PREVIOUS_BENCH): its mmring transport"
        } else {
            "an earlier mmring build ($MMRING_PREVIOUS_BENCH): its mmring-1by1 transport"
        }
    }
    fn supports(&self, kind: Kind) -> bool {
        available() && (kind == Kind::Stream || (kind == Kind::Rtt && self.theirs == "mmring"))
    }
    fn child(&self, _dir: &Path, _case: &Case) -> io::Result<()> {
        Ok(())
    }
    fn parent(&self, dir: &Path, case: &Case) -> io::Result<Outcome> {
        let bin = std::env::var_os(VAR).ok_or_else(|| io::Error::other(format!("{VAR} unset")))?;
        let json = dir.join("previous.json");
        // This process is pinned to one CPU, and the earlier build picks its CPUs from the
        // affinity it inherits: give it every online CPU, as when it is run by hand.
        let online = std::fs::read_to_string("/sys/devices/system/cpu/online")?;
        let out = Command::new("taskset")
            .args(["-c", online.trim()])
            .arg(bin)
            .args([
                "--trials",
                "1",
                "--cases",
                case.kind.name(),
                "--transports",
                self.theirs,
            ])
            .args(["--sizes", &case.size.to_string(), "--json"])
            .arg(&json)
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "the earlier build failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let text = std::fs::read_to_string(&json)?;
        let line = text
            .lines()
            .find(|l| field(l, "transport") == Some(self.theirs))
            .ok_or_else(|| io::Error::other("the earlier build reported nothing"))?;
        Ok(match case.kind {
            Kind::Rtt => Outcome::Latency(mmring_testkit::latency::Latency {
                samples: num(line, "samples")? as u64,
                p50: num(line, "p50_ns")?,
                p90: num(line, "p90_ns")?,
                p99: num(line, "p99_ns")?,
                p999: num(line, "p999_ns")?,
                p9999: num(line, "p9999_ns")?,
                max: num(line, "max_ns")?,
                min: f64::NAN,
                mean: f64::NAN,
            }),
            _ => Outcome::Throughput {
                msgs: num(line, "msgs")? as u64,
                msgs_per_s: num(line, "msgs_per_s")?,
                bytes_per_s: num(line, "bytes_per_s")?,
            },
        })
    }
}
