//! Regression: a reader polling an empty ring while a writer attaches must never report
//! `Disconnected` before that writer's messages. (`claim` once incremented the epoch before
//! storing ATTACHED, and a reader that looked in between took the attach in progress for a
//! writer that had come and gone.)

use mmring::{RingOptions, TryRecvError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[test]
fn attach_in_progress_is_not_a_disconnect() {
    let dir = tempfile::tempdir().unwrap();
    let rounds = 3000;
    for round in 0..rounds {
        let path = dir.path().join(format!("r{round}"));
        RingOptions::new()
            .create(4096)
            .create_unattached(&path)
            .unwrap();
        let mut reader = mmring::Reader::open(&path).unwrap();
        let go = Arc::new(AtomicBool::new(false));
        let writer = {
            let (path, go) = (path.clone(), go.clone());
            std::thread::spawn(move || {
                while !go.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                let mut w = mmring::Writer::open(&path).unwrap();
                w.try_send(b"hello").unwrap();
            })
        };
        go.store(true, Ordering::Release);
        let mut got = false;
        loop {
            match reader.try_recv() {
                Ok(m) => {
                    assert_eq!(&*m, b"hello");
                    got = true;
                }
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
                Err(TryRecvError::Disconnected) => {
                    assert!(
                        got,
                        "round {round}: Disconnected before the writer's message"
                    );
                    break;
                }
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        writer.join().unwrap();
        std::fs::remove_file(&path).unwrap();
    }
}
