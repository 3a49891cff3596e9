//! One process, one tokio runtime (one thread), many rings: reads COUNT messages from each of
//! the RINGS rings `DIR/ring-0` ... `DIR/ring-<RINGS-1>`, each fed by its own `writer` process
//! (started before or after this one), and checks every stream as the `reader` example does
//! (needs the `tokio` feature).
//!
//! ```text
//! cargo run --release --features tokio --example async_fanin -- DIR RINGS COUNT [--capacity BYTES]
//! ```
//!
//! Prints one line per ring, `ring-I received=N bytes=B checksum=HEX` (the checksum its
//! `writer` prints), in ring order, then `total rings=R received=N bytes=B`. Exits 1 if any
//! stream had a lost, duplicated, reordered or damaged message, 3 if a writer went away before
//! sending COUNT messages (and none was damaged).

use mmring::tokio::AsyncReader;
use mmring::{Reader, RecvError};
use mmring_testkit::stream::{verify, Checksum};
use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: async_fanin DIR RINGS COUNT [--capacity BYTES]");
    ExitCode::from(2)
}

/// What one ring delivered: messages, bytes, checksum, and the exit code it calls for.
struct Outcome {
    received: u64,
    bytes: u64,
    checksum: u64,
    code: u8,
}

async fn read_ring(path: PathBuf, count: u64, capacity: usize) -> Outcome {
    let name = path.display().to_string();
    let mut out = Outcome {
        received: 0,
        bytes: 0,
        checksum: Checksum::new().value(),
        code: 1,
    };
    let reader = Reader::open_or_create(&path, capacity).map_err(|e| e.to_string());
    let mut reader = match reader.and_then(|r| AsyncReader::new(r).map_err(|e| e.to_string())) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("async_fanin: {e}");
            return out;
        }
    };
    let mut sum = Checksum::new();
    for seq in 0..count {
        let msg = match reader.recv().await {
            Ok(m) => m,
            Err(RecvError::Disconnected) => {
                eprintln!("async_fanin: {name}: the writer went away after {seq} of {count}");
                out.code = 3;
                return out;
            }
            Err(e) => {
                eprintln!("async_fanin: {name}: message #{seq}: {e}");
                return out;
            }
        };
        if let Err(e) = verify(seq, &msg) {
            eprintln!("async_fanin: {name}: {e}");
            return out;
        }
        sum.update(&msg);
        out.bytes += msg.len() as u64;
        out.received = seq + 1;
        out.checksum = sum.value();
    }
    out.code = 0;
    out
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
    let [dir, rings, count] = &pos[..] else {
        return usage();
    };
    let (Ok(rings), Ok(count)) = (rings.parse::<usize>(), count.parse::<u64>()) else {
        return usage();
    };

    let tasks: Vec<_> = (0..rings)
        .map(|i| {
            let path = PathBuf::from(dir).join(format!("ring-{i}"));
            tokio::spawn(read_ring(path, count, capacity))
        })
        .collect();
    let (mut received, mut bytes, mut code) = (0u64, 0u64, 0u8);
    for (i, task) in tasks.into_iter().enumerate() {
        let out = match task.await {
            Ok(out) => out,
            Err(e) => {
                eprintln!("async_fanin: ring-{i}: {e}");
                code = 1;
                continue;
            }
        };
        println!(
            "ring-{i} received={} bytes={} checksum={:016x}",
            out.received, out.bytes, out.checksum
        );
        received += out.received;
        bytes += out.bytes;
        code = match (code, out.code) {
            (1, _) | (_, 1) => 1,
            (a, b) => a.max(b),
        };
    }
    println!("total rings={rings} received={received} bytes={bytes}");
    ExitCode::from(code)
}
