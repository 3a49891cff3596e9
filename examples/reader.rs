//! Receives COUNT messages from the ring at PATH and checks every byte of each.
//!
//! ```text
//! cargo run --release --example reader -- PATH COUNT [--capacity BYTES]
//! ```
//!
//! Start it before or after `writer PATH COUNT`. The last line is
//! `received=N bytes=B checksum=HEX`. Exits 1 on any lost, duplicated, reordered or damaged
//! message, and 3 if the writer went away (exited or died) before sending COUNT messages.

use mmring::{Reader, RecvError};
use mmring_testkit::stream::{verify, Checksum};
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: reader PATH COUNT [--capacity BYTES]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut capacity = 1usize << 20;
    let mut pos = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
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

    let mut reader = match Reader::open_or_create(path, capacity) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("reader: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (mut bytes, mut sum) = (0u64, Checksum::new());
    for seq in 0..count {
        let msg = match reader.recv() {
            Ok(m) => m,
            Err(RecvError::Disconnected) => {
                eprintln!("reader: the writer went away after {seq} of {count} messages");
                println!("received={seq} bytes={bytes} checksum={:016x}", sum.value());
                return ExitCode::from(3);
            }
            Err(e) => {
                eprintln!("reader: message #{seq}: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = verify(seq, &msg) {
            eprintln!("reader: {e}");
            return ExitCode::FAILURE;
        }
        sum.update(&msg);
        bytes += msg.len() as u64;
    }
    println!(
        "received={count} bytes={bytes} checksum={:016x}",
        sum.value()
    );
    ExitCode::SUCCESS
}
