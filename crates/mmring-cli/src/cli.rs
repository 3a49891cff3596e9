//! The command line: every subcommand, option, help text and example.

use crate::units::{parse_capacity, parse_duration, parse_message_size, parse_mode};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

const ROOT_AFTER_HELP: &str = "\
Examples:
  mmring create /dev/shm/r --capacity 1MiB
  seq 1 1000000 | mmring send /dev/shm/r &
  mmring tail /dev/shm/r --count 1000000 | tail -n 1
  mmring info /dev/shm/r --json
  mmring bench --size 64 --seconds 4 --mode spin

A ring has one writer and one reader at a time, across processes; `info` never attaches.
Each line of input is one message (without its newline); `tail` prints one message per line.
";

/// Creates, inspects, feeds and drains mmring shared-memory rings, and benchmarks them.
#[derive(Debug, Parser)]
#[command(
    name = "mmring",
    version,
    about = "Create, inspect, send to, tail and benchmark mmring shared-memory rings",
    long_about = None,
    after_help = format!("{ROOT_AFTER_HELP}\n{}", crate::exit::EXIT_CODES),
    propagate_version = true
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new ring file.
    #[command(after_help = format!(
        "Example:\n  mmring create /dev/shm/orders --capacity 16MiB --mode 0660\n\n{}",
        crate::exit::EXIT_CODES
    ))]
    Create(CreateArgs),
    /// Show a ring's header, cursors, contents and peers, read-only.
    #[command(
        long_about = "Show a ring's layout version, capacity, cursors, the bytes and messages in \
            flight, and for each side whether it is attached, alive (its pid) and asleep \
            waiting. Opens the file read-only and never claims a side, so it is safe on a ring \
            in use; the values are a snapshot that may change the moment they are read.",
        after_help = format!(
            "Examples:\n  mmring info /dev/shm/orders\n  mmring info /dev/shm/orders --json | jq .messages_in_flight\n\n{}",
            crate::exit::EXIT_CODES
        )
    )]
    Info(InfoArgs),
    /// Send each line of standard input (or a file) as one message.
    #[command(
        long_about = "Attach as the ring's writer and send each line of standard input as one \
            message, without its trailing newline (a last line without a newline is sent too; \
            no other bytes are altered). Blocks while the ring is full; exits 0 at end of \
            input once everything has been committed. Fails with status 3 if the ring is full \
            and its reader has gone (a ring whose reader never attached simply waits).",
        after_help = format!(
            "Examples:\n  seq 1 1000000 | mmring send /dev/shm/r\n  mmring send /dev/shm/r --raw --file image.png\n  tail -F app.log | mmring send /dev/shm/logs --create 4MiB\n\n{}",
            crate::exit::EXIT_CODES
        )
    )]
    Send(SendArgs),
    /// Attach as the reader and print messages, one per line.
    #[command(
        long_about = "Attach as the ring's reader and print messages, one per line. Without \
            --count or --follow, print what the ring holds now and exit. A tail started before \
            any writer has attached waits for one. When the writer goes away (exits, or is \
            killed) while tail is attached, tail prints everything it committed and then exits \
            with status 3. A writer that had already gone before tail attached does not count: \
            tail prints what it left, then a plain tail exits 0 and --count or --follow wait \
            for the next writer. Printed messages are consumed: their space goes back to the \
            writer once their lines have been written to standard output, so a tail that is \
            killed loses nothing (the next one prints again at most the last 512 lines).",
        after_help = format!(
            "Examples:\n  mmring tail /dev/shm/r                      # what is there now\n  mmring tail /dev/shm/r --count 1000000 | md5sum\n  mmring tail /dev/shm/r --follow --format json\n\n{}",
            crate::exit::EXIT_CODES
        )
    )]
    Tail(TailArgs),
    /// Measure round-trip latency and streaming throughput between two processes.
    #[command(
        long_about = "Run a benchmark between this process and a copy of itself, pinned to CPUs \
            0 and 1 when the machine has two or more: first ping-pong round trips (latency \
            percentiles and a histogram), then one-way streaming of verified messages \
            (messages/s and MB/s). The rings live in temporary files that are removed at the \
            end. Informational only: the machine's load and CPU placement move the numbers.",
        after_help = format!(
            "Examples:\n  mmring bench\n  mmring bench --size 1KiB --seconds 10 --mode park\n\n{}",
            crate::exit::EXIT_CODES
        )
    )]
    Bench(BenchArgs),
    /// The benchmark's peer process (started by `bench`; not for direct use).
    #[command(hide = true)]
    BenchPeer(PeerArgs),
}

/// `mmring create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Where to create the ring (fails if anything is there). /dev/shm keeps it in memory.
    pub path: PathBuf,
    /// Data capacity: a power of two from 64 B to 4 GiB, e.g. 65536, 64KiB, 16MiB, 1GiB.
    /// The longest message is half of it minus 8 bytes.
    #[arg(long, short, value_name = "SIZE", value_parser = parse_capacity)]
    pub capacity: u64,
    /// Permission bits of the file, in octal, at most 777 (applied exactly, whatever the
    /// umask; set-uid, set-gid and sticky bits are refused).
    #[arg(long, short, value_name = "OCTAL", default_value = "600", value_parser = parse_mode)]
    pub mode: u32,
    /// Reader slots: how many readers may attach at once (1 to 64), each receiving every
    /// message.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub readers: u32,
}

/// `mmring info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The ring to inspect (opened read-only).
    pub path: PathBuf,
    /// Print one JSON object instead of text (field names are documented in the README).
    #[arg(long)]
    pub json: bool,
}

/// Options shared by `send` and `tail` for a ring that may not exist yet.
#[derive(Debug, Args)]
pub struct RingArgs {
    /// The ring's path.
    pub path: PathBuf,
    /// Create the ring with this capacity if nothing is at PATH (otherwise it must exist).
    #[arg(long, value_name = "SIZE", value_parser = parse_capacity)]
    pub create: Option<u64>,
    /// Permission bits (octal, at most 777) of a ring made by --create.
    #[arg(long, value_name = "OCTAL", default_value = "600", value_parser = parse_mode, requires = "create")]
    pub mode: u32,
    /// Give up with status 5 after waiting this long for room (send) or for the writer or the
    /// next message (tail), e.g. 500ms, 2s, 1m. Default: wait forever.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// `mmring send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The ring and how to open it.
    #[command(flatten)]
    pub ring: RingArgs,
    /// Send all of the input as one message instead of one message per line.
    #[arg(long)]
    pub raw: bool,
    /// Read this file instead of standard input.
    #[arg(long, short, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// How `tail` prints a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The message bytes as they are, then a newline.
    Text,
    /// Lower-case hexadecimal, then a newline.
    Hex,
    /// One JSON object per line: {"len":N,"text":"..."} for UTF-8, else {"len":N,"hex":"..."}.
    Json,
}

/// `mmring tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// The ring and how to open it.
    #[command(flatten)]
    pub ring: RingArgs,
    /// Wait until N messages have been printed, then exit 0.
    #[arg(long, short = 'n', value_name = "N", conflicts_with = "follow")]
    pub count: Option<u64>,
    /// Keep waiting for messages until the writer goes away (or the timeout expires).
    #[arg(long, short)]
    pub follow: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Read without holding the writer back (lossy): if the writer laps this reader, one line
    /// on stderr says how much was missed, and printing goes on from the oldest message still
    /// in the ring.
    #[arg(long)]
    pub untethered: bool,
    /// Where to start: the oldest message still in the ring, or the next one committed.
    /// Without it, a tethered tail resumes where its reader slot's previous reader left off
    /// (the start, for a slot never used) and an untethered tail starts at the next message.
    #[arg(long, value_enum, value_name = "WHERE")]
    pub from: Option<StartFrom>,
}

/// Where `tail --from` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StartFrom {
    /// The oldest message still in the ring.
    Oldest,
    /// The next message the writer commits.
    Next,
}

/// How the benchmark's processes wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchMode {
    /// Busy-poll (WaitStrategy::Spin): lowest latency, both CPUs fully busy.
    Spin,
    /// Spin briefly, then sleep on a futex (WaitStrategy::Park): the default of the library.
    Park,
}

/// `mmring bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Message size, at least 8 bytes (e.g. 64, 1KiB).
    #[arg(long, short, value_name = "BYTES", default_value = "64", value_parser = parse_message_size)]
    pub size: usize,
    /// Total run time, split evenly between the latency and the throughput phase.
    #[arg(long, value_name = "S", default_value = "4", value_parser = parse_duration)]
    pub seconds: Duration,
    /// How each side waits for the other.
    #[arg(long, value_enum, default_value_t = BenchMode::Spin)]
    pub mode: BenchMode,
    /// Capacity of each ring.
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_capacity)]
    pub capacity: u64,
    /// Do not pin the two processes to CPUs 0 and 1.
    #[arg(long)]
    pub no_pin: bool,
}

/// The hidden `bench-peer` subcommand.
#[derive(Debug, Args)]
pub struct PeerArgs {
    /// The directory holding the benchmark's rings.
    pub dir: PathBuf,
    /// How to wait.
    #[arg(long, value_enum)]
    pub mode: BenchMode,
    /// The CPU to pin to, if any.
    #[arg(long)]
    pub cpu: Option<usize>,
}
