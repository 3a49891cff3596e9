//! Sends COUNT sequence-numbered messages of pseudo-random sizes into the ring at PATH.
//!
//! ```text
//! cargo run --release --example writer -- PATH COUNT [--size MIN..MAX] [--capacity BYTES]
//! ```
//!
//! Start `reader PATH COUNT` in another terminal, before or after this one. The last line is
//! `sent=N bytes=B checksum=HEX`; the reader prints the same checksum for the same stream.
//! PATH is created if missing (use a fresh path, or one this pair used before).

use mmring::Writer;
use mmring_testkit::stream::{fill, size_for, Checksum};
use std::process::ExitCode;

fn parse_range(s: &str) -> Option<(usize, usize)> {
    let (a, b) = s.split_once("..")?;
    let (min, max) = (a.parse().ok()?, b.trim_start_matches('=').parse().ok()?);
    (min >= mmring_testkit::stream::MIN_LEN && min <= max).then_some((min, max))
}

fn usage() -> ExitCode {
    eprintln!("usage: writer PATH COUNT [--size MIN..MAX] [--capacity BYTES]   (MIN >= 8)");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut size, mut capacity) = ((8, 256), 1usize << 20);
    let mut pos = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--size" => match it.next().and_then(|s| parse_range(s)) {
                Some(r) => size = r,
                None => return usage(),
            },
            "--capacity" => match it.next().and_then(|s| s.parse().ok()) {
                Some(c) => capacity = c,
                None => return usage(),
            },
            _ => pos.push(a.clone()),
        }
    }
    let [path, count] = &pos[..] else {
        return usage();
    };
    let Ok(count) = count.parse::<u64>() else {
        return usage();
    };

    let mut writer = match Writer::open_or_create(path, capacity) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("writer: {e}");
            return ExitCode::FAILURE;
        }
    };
    if size.1 > writer.max_message_len() {
        eprintln!(
            "writer: --size max {} exceeds the ring's maximum message of {} bytes",
            size.1,
            writer.max_message_len()
        );
        return ExitCode::from(2);
    }
    let (mut bytes, mut sum) = (0u64, Checksum::new());
    for seq in 0..count {
        let len = size_for(seq, size.0, size.1);
        // Zero-copy: the message is generated straight into the ring.
        let mut grant = match writer.reserve(len) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("writer: message #{seq}: {e}");
                return ExitCode::FAILURE;
            }
        };
        fill(seq, &mut grant);
        sum.update(&grant);
        grant.commit();
        bytes += len as u64;
    }
    println!("sent={count} bytes={bytes} checksum={:016x}", sum.value());
    ExitCode::SUCCESS
}
