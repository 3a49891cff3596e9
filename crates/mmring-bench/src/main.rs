//! `mmring-bench`: mmring against the hardware floor and its peers, cross-process, in one run.
//!
//! ```text
//! mmring-bench [--quick] [--trials N] [--cases rtt,stream,parked,idle] [--sizes 8,64,1024,65536]
//!              [--transports floor,minimal-ring,mmring,...] [--svg PATH] [--json PATH] [--baseline-json PATH] [--list]
//! ```
//!
//! The parent process runs the measuring side of every case and starts the other side as a
//! child (a re-execution of this binary with a hidden `__child` argument), the two pinned to
//! the first two online CPUs. Before each case and trial, a short cache-line ping-pong between
//! two threads on those CPUs (the floor probe, `mmring_testkit::probe`) records the placement,
//! since a host may run the two vCPUs on SMT siblings. Each figure is
//! the median of `--trials` runs; the report prints every figure with its ratio to the floor
//! and to each peer, and the verdict on each target.

#![forbid(unsafe_op_in_unsafe_fn)]

mod harness;
mod report;
mod transport;

use harness::{Case, Kind, Outcome, Placement};
use mmring_testkit::{cpu, probe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use transport::Transport;

/// Command-line settings of a run.
struct Args {
    quick: bool,
    trials: usize,
    kinds: Vec<Kind>,
    sizes: Vec<usize>,
    transports: Vec<&'static dyn Transport>,
    svg: Option<PathBuf>,
    json: Option<PathBuf>,
    baseline: Option<PathBuf>,
}

fn usage() -> String {
    let names: Vec<&str> = transport::all().iter().map(|t| t.name()).collect();
    format!(
        "usage: mmring-bench [--quick] [--trials N] [--cases rtt,stream,parked,idle] \
         [--sizes 8,64,1024,65536] [--transports {}] [--svg PATH] [--json PATH] [--baseline-json PATH] [--list]",
        names.join(",")
    )
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        quick: false,
        trials: 3,
        kinds: vec![Kind::Rtt, Kind::Stream, Kind::Parked, Kind::Idle],
        sizes: vec![8, 64, 1024, 65536],
        transports: transport::all(),
        svg: None,
        json: None,
        baseline: None,
    };
    let mut trials_set = false;
    while let Some(arg) = it.next() {
        let mut val = || it.next().ok_or(format!("{arg} needs a value\n{}", usage()));
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--trials" => {
                a.trials = val()?.parse().map_err(|e| format!("--trials: {e}"))?;
                trials_set = true;
            }
            "--cases" => {
                a.kinds = val()?
                    .split(',')
                    .map(|s| Kind::parse(s).ok_or(format!("unknown case {s}")))
                    .collect::<Result<_, _>>()?
            }
            "--sizes" => {
                a.sizes = val()?
                    .split(',')
                    .map(|s| match s.parse::<usize>() {
                        Ok(n) if n >= 8 => Ok(n),
                        _ => Err(format!("bad size {s} (at least 8)")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "--transports" => {
                a.transports = val()?
                    .split(',')
                    .map(|s| transport::by_name(s).ok_or(format!("unknown transport {s}")))
                    .collect::<Result<_, _>>()?
            }
            "--svg" => a.svg = Some(val()?.into()),
            "--json" => a.json = Some(val()?.into()),
            "--baseline-json" => a.baseline = Some(val()?.into()),
            "--list" => {
                for t in transport::all() {
                    println!("{:<14} {}", t.name(), t.describe());
                }
                std::process::exit(0);
            }
            "-h" | "--help" => return Err(usage()),
            _ => return Err(format!("unknown argument {arg}\n{}", usage())),
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

/// Time budgets of each kind of case.
fn case(kind: Kind, size: usize, quick: bool) -> Case {
    let ms = Duration::from_millis;
    let (warmup, measure) = match (kind, quick) {
        (Kind::Rtt, false) => (ms(100), ms(400)),
        (Kind::Stream, false) => (ms(100), ms(300)),
        (Kind::Parked, false) => (ms(50), ms(1000)),
        (Kind::Idle, false) => (ms(0), ms(3000)),
        (Kind::Idle, true) => (ms(0), ms(200)),
        (_, true) => (ms(20), ms(60)),
    };
    Case {
        kind,
        size,
        warmup,
        measure,
    }
}

/// Runs the child's side of a case: `__child TRANSPORT KIND SIZE WARMUP_US MEASURE_US DIR CPU`.
fn child_main(args: &[String]) -> ExitCode {
    let run = || -> Result<(), String> {
        let [name, rest @ ..] = args else {
            return Err("missing transport".into());
        };
        let t = transport::by_name(name).ok_or(format!("unknown transport {name}"))?;
        let case = Case::from_args(rest).ok_or("bad case arguments")?;
        let dir = rest.get(4).ok_or("missing directory")?;
        if let Some(cpu) = rest.get(5).and_then(|c| c.parse::<usize>().ok()) {
            cpu::pin(cpu).map_err(|e| format!("pinning to CPU {cpu}: {e}"))?;
        }
        t.child(Path::new(dir), &case)
            .map_err(|e| format!("{name} {}: {e}", case.kind.name()))
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mmring-bench child: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One run of one case for one transport: both processes, then cleanup.
fn run_one(t: &dyn Transport, case: &Case, place: Placement) -> Result<Outcome, String> {
    let what = format!("{} {} {} B", t.name(), case.kind.name(), case.size);
    let dir = harness::scratch_dir(t.name()).map_err(|e| format!("{what}: scratch dir: {e}"))?;
    let result = (|| {
        t.prepare(&dir, case)
            .map_err(|e| format!("{what}: prepare: {e}"))?;
        let child = harness::spawn_child(t.name(), case, &dir, place.child)
            .map_err(|e| format!("{what}: spawn: {e}"))?;
        // On an error the child is dropped: killed and reaped.
        let out = t.parent(&dir, case).map_err(|e| format!("{what}: {e}"))?;
        harness::finish_child(child, &what).map_err(|e| e.to_string())?;
        Ok(out)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("__child") {
        return child_main(&argv[1..]);
    }
    let args = match parse(argv.into_iter()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let place = Placement::detect();
    if let Some(cpu) = place.parent {
        if let Err(e) = cpu::pin(cpu) {
            eprintln!("mmring-bench: pinning to CPU {cpu}: {e}");
            return ExitCode::FAILURE;
        }
    } else {
        eprintln!("mmring-bench: fewer than two CPUs online; running unpinned");
    }
    let started = Instant::now();
    let mut records = Vec::new();
    let mut cases = Vec::new();
    for &kind in &args.kinds {
        if kind == Kind::Stream {
            cases.extend(args.sizes.iter().map(|&s| case(kind, s, args.quick)));
        } else {
            cases.push(case(kind, 8, args.quick));
        }
    }
    let pair = place.parent.zip(place.child);
    for c in &cases {
        for trial in 0..args.trials {
            let probe_ns = match probe::round_trip(pair) {
                Ok(l) => l.p50,
                Err(e) => {
                    eprintln!("mmring-bench: floor probe failed: {e}");
                    return ExitCode::FAILURE;
                }
            };
            for &t in &args.transports {
                if !t.supports(c.kind) {
                    continue;
                }
                eprint!(
                    "[{:>5.1}s] {:<6} {:>6} B trial {} {:<14} (probe {:>4.0} ns) ",
                    started.elapsed().as_secs_f64(),
                    c.kind.name(),
                    c.size,
                    trial + 1,
                    t.name(),
                    probe_ns
                );
                match run_one(t, c, place) {
                    Ok(out) => {
                        eprintln!("{}", report::brief(&out));
                        records.push(report::Record {
                            transport: t.name(),
                            kind: c.kind,
                            size: c.size,
                            trial,
                            probe_ns,
                            outcome: out,
                        });
                    }
                    Err(e) => {
                        eprintln!("FAILED");
                        eprintln!("mmring-bench: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
        }
    }
    let mut summary = report::summarise(&records);
    if let Some(p) = &args.baseline {
        match std::fs::read_to_string(p) {
            Ok(j) => summary.baseline_1by1 = report::baseline_1by1(&j),
            Err(e) => eprintln!("--baseline-json {}: {e}", p.display()),
        }
    }
    println!("{}", report::table(&summary, &args_line(&args), place));
    if let Some(p) = &args.svg {
        if let Err(e) = std::fs::write(p, report::svg(&summary)) {
            eprintln!("mmring-bench: writing {}: {e}", p.display());
            return ExitCode::FAILURE;
        }
    }
    if let Some(p) = &args.json {
        if let Err(e) = std::fs::write(p, report::json(&records)) {
            eprintln!("mmring-bench: writing {}: {e}", p.display());
            return ExitCode::FAILURE;
        }
    }
    eprintln!(
        "mmring-bench: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

fn args_line(a: &Args) -> String {
    format!(
        "trials {}{}, cases {}",
        a.trials,
        if a.quick { " (quick)" } else { "" },
        a.kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(",")
    )
}
