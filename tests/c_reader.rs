//! `docs/FORMAT.md` is enough to write a compatible reader: a C reader written from it alone
//! (`tests/c/ring_reader.c`, whose receive function is the one printed in the document) reads
//! a ring that this library wrote, across the wrap point, and releases what it read.

use mmring_testkit::stream::{fill, size_for};
use std::path::Path;

#[test]
fn c_reader_from_the_spec_reads_our_ring() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("ring_reader");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/ring_reader.c");
    // A C compiler (cc) is needed for this test.
    mmring_testkit::cc::compile(&exe, &[&src], &[]).unwrap();

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
        let args = [
            path.clone().into_os_string(),
            start.to_string().into(),
            n.to_string().into(),
        ];
        let line = mmring_testkit::cc::run(&exe, args).unwrap();
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
