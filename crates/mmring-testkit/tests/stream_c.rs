//! The C code printed in the stream's specification (`src/stream.md`) reproduces the stream:
//! the block is compiled exactly as the document shows it, driven by `tests/c/stream_main.c`,
//! and its lengths, bytes and checksums are compared with this crate's.

use mmring_testkit::cc;
use mmring_testkit::stream::{fill, size_for, Checksum};
use std::path::Path;

/// The one ```c block of the specification.
fn c_block() -> &'static str {
    let doc = include_str!("../src/stream.md");
    let start = doc.find("```c\n").expect("a ```c block in stream.md") + 5;
    let len = doc[start..].find("```").expect("the end of the ```c block");
    &doc[start..start + len]
}

fn rust_line(count: u64, min: usize, max: usize) -> String {
    let (mut sum, mut bytes) = (Checksum::new(), 0u64);
    let mut buf = vec![0u8; max];
    for seq in 0..count {
        let m = &mut buf[..size_for(seq, min, max)];
        fill(seq, m);
        sum.update(m);
        bytes += m.len() as u64;
    }
    format!("bytes={bytes} checksum={:016x}", sum.value())
}

#[test]
fn the_c_code_of_the_spec_reproduces_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stream.h"), c_block()).unwrap();
    let exe = dir.path().join("stream_main");
    let main = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/stream_main.c");
    // A C compiler (cc) is needed for this test.
    cc::compile(&exe, &[&main], &[dir.path()]).unwrap();
    // The writer example's default lengths, fixed lengths with and without a short last
    // word, and long messages.
    for (count, min, max) in [
        (20_000, 8, 256),
        (500, 8, 8),
        (500, 9, 17),
        (300, 1000, 4000),
    ] {
        let out = cc::run(&exe, [count, min as u64, max as u64].map(|n| n.to_string())).unwrap();
        assert_eq!(
            out.trim(),
            rust_line(count, min, max),
            "{count} messages of {min}..={max} bytes"
        );
    }
}
