//! `mmring create`: a new ring file, attached to by neither side.

use crate::cli::CreateArgs;
use crate::exit::{Failure, Outcome};
use crate::units::human_bytes;
use mmring::RingOptions;

/// Creates the ring without claiming a side, so the writer and reader that come later both see
/// a peer that has "never attached" (and wait for it) rather than one that has "gone".
pub fn run(args: &CreateArgs) -> Outcome {
    RingOptions::new()
        .create(args.capacity as usize)
        .mode(args.mode)
        .readers(args.readers)
        .create_unattached(&args.path)
        .map_err(|e| Failure::open(&args.path, e))?;
    println!(
        "created {} ({} data bytes, mode {:04o})",
        args.path.display(),
        human_bytes(args.capacity),
        args.mode
    );
    Ok(())
}
