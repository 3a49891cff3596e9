//! Opening the ring named on the command line, as writer or reader.

use crate::cli::RingArgs;
use crate::exit::Failure;
use mmring::{Reader, RingOptions, StartAt, UntetheredReader, Writer};

fn options(args: &RingArgs) -> RingOptions {
    let opts = RingOptions::new();
    match args.create {
        Some(cap) => opts.create_if_missing(cap as usize).mode(args.mode),
        None => opts,
    }
}

/// Attaches as the writer of the ring at `args.path` (creating it if `--create` says so).
pub fn writer(args: &RingArgs) -> Result<Writer, Failure> {
    options(args)
        .open_writer(&args.path)
        .map_err(|e| Failure::open(&args.path, e))
}

/// Attaches as a reader of the ring at `args.path` (creating it if `--create` says so),
/// starting as `start` says.
pub fn reader(args: &RingArgs, start: StartAt) -> Result<Reader, Failure> {
    options(args)
        .start_at(start)
        .open_reader(&args.path)
        .map_err(|e| Failure::open(&args.path, e))
}

/// Attaches as an untethered reader of the ring at `args.path`, starting as `start` says.
pub fn untethered(args: &RingArgs, start: StartAt) -> Result<UntetheredReader, Failure> {
    options(args)
        .start_at(start)
        .open_untethered(&args.path)
        .map_err(|e| Failure::open(&args.path, e))
}
