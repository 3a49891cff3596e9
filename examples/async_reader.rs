//! Receives COUNT messages from the ring at PATH in a tokio task and checks every byte of each:
//! the async twin of the `reader` example (needs the `tokio` feature).
//!
//! ```text
//! cargo run --release --features tokio --example async_reader -- PATH COUNT [--capacity BYTES]
//! ```
//!
//! Start it before or after `writer PATH COUNT`. The last line is
//! `received=N bytes=B checksum=HEX`, as the `reader` example prints it. Exits 1 on any lost,
//! duplicated, reordered or damaged message, and 3 if the writer went away (exited or died)
//! before sending COUNT messages.

use mmring::tokio::AsyncReader;
use mmring::{Reader, RecvError};
use mmring_testkit::stream::{verify, Checksum};
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: async_reader PATH COUNT [--capacity BYTES]");
    ExitCode::from(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
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

    let reader = Reader::open_or_create(path, capacity).map_err(|e| e.to_string());
    let mut reader = match reader.and_then(|r| AsyncReader::new(r).map_err(|e| e.to_string())) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("async_reader: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (mut bytes, mut sum) = (0u64, Checksum::new());
    for seq in 0..count {
        let msg = match reader.recv().await {
            Ok(m) => m,
            Err(RecvError::Disconnected) => {
                eprintln!("async_reader: the writer went away after {seq} of {count} messages");
                println!("received={seq} bytes={bytes} checksum={:016x}", sum.value());
                return ExitCode::from(3);
            }
            Err(e) => {
                eprintln!("async_reader: message #{seq}: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = verify(seq, &msg) {
            eprintln!("async_reader: {e}");
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
