//! `mmring-fanout-bench`: one writer and 1, 2, 3 reader processes, mmring against iceoryx2,
//! cross-process, in one run.
//!
//! ```text
//! mmring-fanout-bench [--quick] [--trials N] [--readers 1,2,3] [--sizes 64,1024]
//!                     [--cases stream,rtt] [--transports mmring,iceoryx2] [--no-extra]
//!                     [--json PATH]
//! ```
//!
//! For each number of readers N it measures, with a writer process and N reader processes
//! (re-executions of this binary; the parent only prepares, waits and checks):
//!
//! - **stream**: msgs/s received by each reader, each copying every message out and checking
//!   its sequence number; mmring is one ring with N tethered reader slots (`Writer::batch`,
//!   `Reader::drain`), iceoryx2 is publish-subscribe with N subscribers (lossless: safe
//!   overflow off, the publisher retries);
//! - **rtt**: the round trip of an 8-byte ping from the writer to the first reader, which
//!   answers on a back channel (a second, one-reader ring; a second iceoryx2 service); the
//!   other readers consume the pings.
//!
//! Where the processes fit on the online CPUs (N + 1 of them) each is pinned to its own CPU and
//! idle sides busy-poll (mmring `WaitStrategy::Spin`, iceoryx2 polled with `spin_loop`).
//! Otherwise nothing is pinned: mmring uses `WaitStrategy::Park` (blocking `recv`/`reserve`)
//! and iceoryx2 polls with `std::thread::yield_now()`, and an extra mmring row with
//! `WaitStrategy::SpinYield` compares like with like (`--no-extra` leaves it out). The run
//! fails (exit status 1) on any sequence mismatch, any reader that missed a message, or any
//! process that fails or hangs.

#![forbid(unsafe_code)]

mod fanout;

use fanout::common::{Spec, Test, Transport, Wait, PING_SIZE};
use fanout::report::{self, Record};
use fanout::run;
use mmring_testkit::{cpu, probe};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Command-line settings of a run.
#[derive(Debug)]
struct Args {
    quick: bool,
    trials: usize,
    readers: Vec<usize>,
    sizes: Vec<usize>,
    tests: Vec<Test>,
    transports: Vec<Transport>,
    extra: bool,
    json: Option<PathBuf>,
}

const USAGE: &str = "usage: mmring-fanout-bench [--quick] [--trials N] [--readers 1,2,3] \
                     [--sizes 64,1024] [--cases stream,rtt] [--transports mmring,iceoryx2] \
                     [--no-extra] [--json PATH]";

fn list<T>(s: &str, f: impl Fn(&str) -> Option<T>, what: &str) -> Result<Vec<T>, String> {
    s.split(',')
        .map(|x| f(x).ok_or(format!("bad {what} {x}")))
        .collect()
}

fn compiled() -> Vec<Transport> {
    let mut v = vec![Transport::Mmring];
    if cfg!(feature = "iceoryx2") {
        v.push(Transport::Iceoryx2);
    }
    v
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        quick: false,
        trials: 3,
        readers: vec![1, 2, 3],
        sizes: vec![64],
        tests: vec![Test::Stream, Test::Rtt],
        transports: compiled(),
        extra: true,
        json: None,
    };
    let mut trials_set = false;
    while let Some(arg) = it.next() {
        let mut val = || it.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--trials" => {
                a.trials = val()?.parse().map_err(|e| format!("--trials: {e}"))?;
                trials_set = true;
            }
            "--readers" => {
                a.readers = list(
                    &val()?,
                    |s| s.parse().ok().filter(|n| (1..=64).contains(n)),
                    "reader count (1 to 64)",
                )?
            }
            "--sizes" => {
                a.sizes = list(
                    &val()?,
                    |s| s.parse().ok().filter(|n| (8..=65536).contains(n)),
                    "size (8 to 65536)",
                )?
            }
            "--cases" => a.tests = list(&val()?, Test::parse, "case")?,
            "--transports" => {
                a.transports = list(&val()?, Transport::parse, "transport")?;
                if let Some(t) = a.transports.iter().find(|t| !compiled().contains(t)) {
                    return Err(format!(
                        "{} is not compiled in (its feature is off)",
                        t.name()
                    ));
                }
            }
            "--no-extra" => a.extra = false,
            "--json" => a.json = Some(val()?.into()),
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument {arg}\n{USAGE}")),
        }
    }
    if a.quick && !trials_set {
        a.trials = 1;
    }
    if a.trials == 0 {
        return Err("--trials must be at least 1".into());
    }
    Ok(a)
}

/// The configurations measured with `readers` readers on `cpus` CPUs.
fn plan(a: &Args, readers: usize, cpus: usize) -> Vec<(Transport, Wait)> {
    let fits = readers < cpus;
    let mut v: Vec<(Transport, Wait)> = a
        .transports
        .iter()
        .map(|&t| match (t, fits) {
            (_, true) => (t, Wait::Spin),
            (Transport::Mmring, false) => (t, Wait::Park),
            (Transport::Iceoryx2, false) => (t, Wait::Yield),
        })
        .collect();
    if !fits && a.extra && a.transports.contains(&Transport::Mmring) {
        v.push((Transport::Mmring, Wait::Yield));
    }
    v
}

fn budget(quick: bool) -> (Duration, Duration) {
    let ms = Duration::from_millis;
    if quick {
        (ms(50), ms(200))
    } else {
        (ms(100), ms(500))
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some(run::CHILD) {
        return run::child_main(&argv[1..]);
    }
    let args = match parse(argv.into_iter()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let online = cpu::online_cpus();
    let pair = cpu::two_cpus();
    let (warmup, measure) = budget(args.quick);
    let started = Instant::now();
    let mut records = Vec::new();
    for &test in &args.tests {
        let sizes = match test {
            Test::Stream => args.sizes.clone(),
            Test::Rtt => vec![PING_SIZE],
        };
        for &size in &sizes {
            for &readers in &args.readers {
                let fits = readers < online.len();
                let cpus = fits.then(|| &online[..=readers]);
                for trial in 0..args.trials {
                    let probe_ns = match probe::round_trip(pair) {
                        Ok(l) => l.p50,
                        Err(e) => {
                            eprintln!("mmring-fanout-bench: floor probe failed: {e}");
                            return ExitCode::FAILURE;
                        }
                    };
                    for (transport, wait) in plan(&args, readers, online.len()) {
                        let spec = Spec {
                            transport,
                            wait,
                            test,
                            size,
                            readers,
                            warmup,
                            measure,
                            dir: PathBuf::new(),
                        };
                        eprint!(
                            "[{:>5.1}s] {:<6} {:>5} B {} reader(s) trial {} {:<8} {:<5} {} (probe {:>4.0} ns) ",
                            started.elapsed().as_secs_f64(),
                            test.name(),
                            size,
                            readers,
                            trial + 1,
                            transport.name(),
                            wait.name(),
                            if fits { "pinned" } else { "unpinned" },
                            probe_ns
                        );
                        match run::run(&spec, cpus) {
                            Ok(outcome) => {
                                let r = Record {
                                    test,
                                    size,
                                    readers,
                                    transport,
                                    wait,
                                    pinned: fits,
                                    trial,
                                    probe_ns,
                                    outcome,
                                };
                                match (test, r.outcome.writer.latency) {
                                    (Test::Rtt, Some(l)) => eprintln!(
                                        "p50 {:.0} ns, p99.9 {:.0} ns, {} samples",
                                        l.p50, l.p999, l.samples
                                    ),
                                    _ => eprintln!(
                                        "{:.2} M msgs/s per reader ({} checked by each)",
                                        r.per_reader() / 1e6,
                                        r.outcome.writer.sent
                                    ),
                                }
                                records.push(r);
                            }
                            Err(e) => {
                                eprintln!("FAILED");
                                eprintln!(
                                    "mmring-fanout-bench: {} {} {test:?} {readers} readers: {e}",
                                    transport.name(),
                                    wait.name()
                                );
                                return ExitCode::FAILURE;
                            }
                        }
                    }
                }
            }
        }
    }
    let line = format!(
        "trials {}{}, readers {}",
        args.trials,
        if args.quick { " (quick)" } else { "" },
        args.readers
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    println!(
        "{}",
        report::tables(&records, online.len(), &line, cfg!(feature = "iceoryx2"))
    );
    if let Some(p) = &args.json {
        if let Err(e) = std::fs::write(p, report::json(&records)) {
            eprintln!("mmring-fanout-bench: writing {}: {e}", p.display());
            return ExitCode::FAILURE;
        }
    }
    eprintln!(
        "mmring-fanout-bench: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, String> {
        parse(s.split_whitespace().map(str::to_string))
    }

    #[test]
    fn flags() {
        let a = args("--quick --readers 1,3 --sizes 64,1024 --json x.json").unwrap();
        assert_eq!(
            (a.trials, a.readers.clone(), a.sizes.clone()),
            (1, vec![1, 3], vec![64, 1024])
        );
        assert_eq!(args("--trials 5").unwrap().trials, 5);
        assert!(args("--trials 0").is_err());
        assert!(args("--readers 0").is_err());
        assert!(args("--sizes 4").is_err());
        assert!(args("--bogus").is_err());
    }

    #[test]
    fn busy_polling_and_pinning_only_where_processes_fit_the_cpus() {
        let a = args("--transports mmring").unwrap();
        assert_eq!(plan(&a, 1, 2), [(Transport::Mmring, Wait::Spin)]);
        assert_eq!(
            plan(&a, 2, 2),
            [
                (Transport::Mmring, Wait::Park),
                (Transport::Mmring, Wait::Yield)
            ]
        );
        assert_eq!(plan(&a, 3, 4), [(Transport::Mmring, Wait::Spin)]);
    }
}
