//! `Positions` mirrors the writing rule of docs/FORMAT.md: checked against the released
//! position `inspect` reports, over many wraps with every size class, so a change of the
//! format breaks this test rather than the inbound bridge's deduplication.

use mmring::{layout, Reader, Writer};
use mmring_testkit::stream;
use mmring_zenoh::position::{attached, Positions};

#[test]
fn computed_positions_match_the_released_positions_across_wraps() {
    assert_eq!(
        layout::VERSION,
        2,
        "Positions mirrors format version 2: review it"
    );
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("r");
    let cap = 4096usize;
    let mut w = Writer::create(&path, cap).unwrap();
    let max = w.max_message_len();
    let mut r = Reader::open(&path).unwrap();
    let att = attached(&path).unwrap();
    assert_eq!((att.slot, att.start, att.capacity), (0, 0, cap as u64));
    let mut pos = Positions::new(att.capacity, att.start);
    let mut buf = vec![0u8; max];
    for seq in 0..20_000u64 {
        // Mostly small, sometimes up to the maximum, so that padding records appear.
        let len = if seq % 7 == 0 {
            stream::size_for(seq, 8, max)
        } else {
            stream::size_for(seq, 8, 64)
        };
        stream::fill(seq, &mut buf[..len]);
        w.try_send(&buf[..len]).unwrap();
        let m = r.try_recv_vec().unwrap();
        assert_eq!(m.len(), len);
        let (from, end) = pos.advance(len);
        assert!(from < end);
        r.release();
        let info = mmring::inspect(&path).unwrap();
        assert_eq!(
            info.readers[0].read_pos, end,
            "message {seq} of {len} bytes"
        );
    }
    assert!(pos.position() > 100 * cap as u64, "wrapped many times");
    // A reader attaching later starts where the first one released.
    drop(r);
    let _r2 = Reader::open(&path).unwrap();
    let att2 = attached(&path).unwrap();
    assert_eq!((att2.start, att2.source), (pos.position(), att.source));
}
