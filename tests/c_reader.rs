//! `docs/FORMAT.md` is enough to write a compatible reader: a C reader written from it alone
//! (`tests/c/ring_reader.c`, whose receive function is the one printed in the document) reads
//! a ring that this library wrote, across the wrap point, and releases what it read.

use mmring_testkit::stream::{fill, size_for};
use std::process::Command;

#[test]
fn c_reader_from_the_spec_reads_our_ring() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("ring_reader");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/ring_reader.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=gnu11", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg(src)
        .output()
        .expect("a C compiler (cc) is needed for this test");
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let path = dir.path().join("ring");
    let mut w = mmring::Writer::create(&path, 4096).unwrap();
    // Three rounds, each filling most of the ring, so records wrap and padding appears.
    let mut seq = 0u64;
    for _round in 0..3 {
        let (start, mut bytes, mut seqsum) = (seq, 0u64, 0u64);
        let mut batch_bytes = 0;
        while batch_bytes < 3000 {
            let len = size_for(seq, 8, 200);
            let mut g = w.try_reserve(len).unwrap();
            fill(seq, &mut g);
            g.commit();
            bytes += len as u64;
            seqsum += seq;
            batch_bytes += len + 16;
            seq += 1;
        }
        // The C reader resumes from the cursor the previous run released.
        let n = seq - start;
        let out = Command::new(&exe)
            .arg(&path)
            .arg(start.to_string())
            .arg(n.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "C reader failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            line.trim(),
            format!("received={n} bytes={bytes} seqsum={seqsum}")
        );
    }
    let info = mmring::inspect(&path).unwrap();
    assert_eq!(
        info.read_pos, info.write_pos,
        "the C reader released everything"
    );
    assert!(
        info.write_pos > 2 * 4096,
        "the stream wrapped at least twice"
    );
}
