//! `mmring-zenoh`: bridge mmring rings over Zenoh. `out` publishes a ring's messages on a key
//! expression, `in` writes a key expression's samples into a ring.

#![forbid(unsafe_code)]

use clap::{Args, Parser, Subcommand, ValueEnum};
use mmring_zenoh::{
    inbound, outbound, BridgeError, Counters, InboundOptions, Mode, OutboundOptions, Outcome,
    Report, ZenohOptions,
};
use nix::sys::signal::{SigSet, Signal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const AFTER_HELP: &str = "\
Examples (two hosts; on one machine use 127.0.0.1 for both):
  host A:  mmring create /dev/shm/a --capacity 1MiB
           mmring-zenoh out /dev/shm/a --key demo/x --connect tcp/HOST_B:7447 --no-multicast-scouting
  host B:  mmring-zenoh in /dev/shm/b --key demo/x --capacity 1MiB --listen tcp/0.0.0.0:7447 --no-multicast-scouting
           mmring tail /dev/shm/b --follow

On exit (SIGINT, SIGTERM) each bridge prints one line of counters:
  mmring-zenoh out: final messages=N bytes=N dropped=N too_large=N duplicates=N gaps=N republished=N reconnects=N

Exit status:
  0  stopped by a signal, or (out --exit-on-disconnect) the ring's writer left and all was bridged
  1  runtime error (ring corrupt while in use, a Zenoh publication failed)
  2  usage error (bad option, bad size, a key expression or Zenoh option Zenoh rejects)
  4  ring error (cannot create/open/attach: missing without --capacity, not a ring, side taken)
  5  Zenoh session error (cannot open the session or declare its publisher/subscriber)";

/// Bridge mmring shared-memory rings over Zenoh.
#[derive(Debug, Parser)]
#[command(name = "mmring-zenoh", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Attach as a reader of RING and publish each message, in order, on KEY.
    ///
    /// Lossless by default: nothing leaves the ring while no subscriber matches KEY, and a
    /// window of messages is released from the ring only after an inbound bridge acknowledged
    /// it, so a killed bridge loses nothing (its successor publishes the window again and the
    /// inbound bridge drops what it already has).
    Out {
        /// The ring to read.
        ring: PathBuf,
        #[command(flatten)]
        side: SideArgs,
        /// At most this many messages in flight (published, not yet acknowledged).
        #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
        window: u32,
        /// Exit (status 0) once the ring's writer has gone (also one that left before this
        /// bridge attached) and everything it wrote was bridged, instead of waiting for the
        /// next writer.
        #[arg(long)]
        exit_on_disconnect: bool,
    },
    /// Subscribe to KEY and write each sample into RING as one message.
    In {
        /// The ring to write.
        ring: PathBuf,
        #[command(flatten)]
        side: SideArgs,
        /// Samples held between Zenoh and the ring.
        #[arg(long, value_name = "N", default_value_t = 16384, value_parser = clap::value_parser!(u32).range(1..))]
        queue: u32,
    },
}

#[derive(Debug, Args)]
struct SideArgs {
    /// The Zenoh key expression.
    #[arg(long, value_name = "KEY")]
    key: String,
    /// Create RING with this capacity if it does not exist (a power of two, e.g. 1MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_capacity)]
    capacity: Option<usize>,
    /// Lossy mode: never hold the sender back; drop and count what does not fit.
    #[arg(long)]
    lossy: bool,
    #[command(flatten)]
    zenoh: ZenohArgs,
    #[command(flatten)]
    stats: StatsArgs,
}

#[derive(Debug, Args)]
struct ZenohArgs {
    /// A Zenoh endpoint to listen on, e.g. tcp/0.0.0.0:7447 (repeatable).
    #[arg(long, value_name = "ENDPOINT")]
    listen: Vec<String>,
    /// A Zenoh endpoint to connect to, e.g. tcp/192.0.2.1:7447 (repeatable).
    #[arg(long, value_name = "ENDPOINT")]
    connect: Vec<String>,
    /// Zenoh session mode.
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// Do not discover peers by UDP multicast (use --listen/--connect).
    #[arg(long)]
    no_multicast_scouting: bool,
    /// A Zenoh json5 configuration file; the options above override its entries.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    Peer,
    Client,
    Router,
}

#[derive(Debug, Args)]
struct StatsArgs {
    /// Print a line of counters to standard error every second (see --stats-interval).
    #[arg(long)]
    stats: bool,
    /// Print the counters at this interval instead (e.g. 200ms, 5s); implies --stats.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    stats_interval: Option<Duration>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = watch_signals(stop.clone()) {
        eprintln!("mmring-zenoh: cannot install signal handling: {e}");
        return ExitCode::from(1);
    }
    let (name, side) = match &cli.command {
        Command::Out { side, .. } => ("out", side),
        Command::In { side, .. } => ("in", side),
    };
    let z = ZenohOptions {
        config_file: side.zenoh.config.clone(),
        mode: side.zenoh.mode.map(|m| match m {
            ModeArg::Peer => Mode::Peer,
            ModeArg::Client => Mode::Client,
            ModeArg::Router => Mode::Router,
        }),
        listen: side.zenoh.listen.clone(),
        connect: side.zenoh.connect.clone(),
        multicast_scouting: !side.zenoh.no_multicast_scouting,
    };
    let report = Report {
        side: name,
        interval: side
            .stats
            .stats_interval
            .or(side.stats.stats.then_some(Duration::from_secs(1))),
        progress: true,
        announce: Some(match &cli.command {
            Command::Out { ring, .. } => format!(
                "running: {} -> {} ({})",
                ring.display(),
                side.key,
                if side.lossy { "lossy" } else { "lossless" }
            ),
            Command::In { ring, .. } => format!(
                "running: {} -> {} ({})",
                side.key,
                ring.display(),
                if side.lossy { "lossy" } else { "lossless" }
            ),
        }),
    };
    let counters = Arc::new(Counters::default());
    let result = match &cli.command {
        Command::Out {
            ring,
            window,
            exit_on_disconnect,
            ..
        } => {
            let o = OutboundOptions {
                ring: ring.clone(),
                key: side.key.clone(),
                capacity: side.capacity,
                lossy: side.lossy,
                window: *window as usize,
                exit_on_disconnect: *exit_on_disconnect,
            };
            outbound::run(&o, &z, counters.clone(), report, stop).map(|outcome| {
                if let Outcome::StoppedUnacknowledged { messages } = outcome {
                    eprintln!(
                        "mmring-zenoh out: stopped with {messages} published messages not acknowledged; they stay in {} and the next outbound bridge publishes them again",
                        ring.display()
                    );
                }
            })
        }
        Command::In { ring, queue, .. } => {
            let o = InboundOptions {
                ring: ring.clone(),
                key: side.key.clone(),
                capacity: side.capacity,
                lossy: side.lossy,
                queue: *queue as usize,
            };
            inbound::run(&o, &z, counters.clone(), report, stop)
        }
    };
    eprintln!("mmring-zenoh {name}: final {}", counters.snapshot());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mmring-zenoh {name}: {e}");
            if matches!(
                &e,
                BridgeError::Zenoh {
                    op: "open session",
                    ..
                }
            ) && matches!(z.mode, Some(Mode::Client))
            {
                eprintln!(
                    "mmring-zenoh {name}: a Zenoh client gives up when no router answers at start; start the router first, or set connect/timeout_ms and connect/exit_on_failure in a --config file"
                );
            }
            ExitCode::from(match e {
                BridgeError::Open(_) | BridgeError::NoRing { .. } | BridgeError::Attach { .. } => 4,
                BridgeError::Config { .. } | BridgeError::Key { .. } => 2,
                BridgeError::Zenoh { op, .. } if op == "put" || op == "put acknowledgement" => 1,
                BridgeError::Zenoh { .. } => 5,
                _ => 1,
            })
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP are blocked in every thread (before any is started) and taken by
/// one thread: the first asks the bridge to stop; a second one exits at once (without
/// releasing anything from the ring).
fn watch_signals(stop: Arc<AtomicBool>) -> nix::Result<()> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block()?;
    std::thread::Builder::new()
        .name("mmring-zenoh-signals".into())
        .spawn(move || {
            let mut first = true;
            while let Ok(sig) = set.wait() {
                if !first {
                    std::process::exit(128 + sig as i32);
                }
                first = false;
                stop.store(true, Ordering::Relaxed);
            }
        })
        .map(drop)
        .map_err(|_| nix::Error::EAGAIN)
}

fn parse_capacity(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size: expected e.g. 4096, 64KiB, 16MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{s}' (use B, KiB, MiB, GiB)"
            ))
        }
    };
    let n = n
        .checked_mul(mult)
        .filter(|n| n.is_power_of_two() && (64..=1 << 32).contains(n))
        .ok_or_else(|| format!("capacity '{s}' must be a power of two from 64 B to 4 GiB"))?;
    usize::try_from(n).map_err(|_| format!("capacity '{s}' is too large for this machine"))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration: expected e.g. 200ms, 2s, 1m"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        other => return Err(format!("unknown unit '{other}' in '{s}' (use ms, s, m)")),
    };
    if d.is_zero() {
        return Err("the interval must be longer than zero".into());
    }
    Ok(d)
}
