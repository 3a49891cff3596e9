//! The behaviour every implementation of [`Os`] must have, as one test run on both: the real
//! mapping (a unit test below) and the loom heap model (the loom suite, through
//! [`check_contract`], re-exported for it as `mmring_core::loom_check_os_contract`).

use crate::layout::{reader_lock_byte, WRITER_LOCK_BYTE};
use crate::ring::Os;
use crate::sync::{AtomicU32, Ordering};
use std::time::Duration;

/// Checks the claim and futex contract on two handles `a` and `b` of one ring with at least one
/// reader slot, and a futex word `word` in that ring (which holds 0). Panics on a violation.
///
/// - a claim is exclusive between handles, repeatable by its holder, visible to the other
///   handle, and free again once released;
/// - two lock bytes are independent;
/// - `wait` returns at once when the word does not hold the expected value, and a `wait` with a
///   timeout returns (the heap model has no clock and treats a timeout as "return at once" only
///   when the value differs, so the second case is checked on the real mapping only);
/// - `wake` with nobody asleep is harmless.
pub(crate) fn check_contract<O: Os>(a: &O, b: &O, word: &AtomicU32, real_clock: bool) {
    let (w, r) = (WRITER_LOCK_BYTE, reader_lock_byte(0));
    assert!(a.try_claim(w).unwrap(), "a free claim is granted");
    assert!(a.try_claim(w).unwrap(), "the holder may claim again");
    assert!(!b.try_claim(w).unwrap(), "a claim is exclusive");
    assert!(
        b.claimed_by_other(w).unwrap(),
        "the other handle sees the claim"
    );
    assert!(
        !a.claimed_by_other(w).unwrap(),
        "the holder is not 'another'"
    );
    assert!(b.try_claim(r).unwrap(), "lock bytes are independent");
    assert!(a.claimed_by_other(r).unwrap());
    a.release_claim(w);
    assert!(!b.claimed_by_other(w).unwrap(), "a released claim is free");
    assert!(
        b.try_claim(w).unwrap(),
        "and can be taken by another handle"
    );
    b.release_claim(w);
    b.release_claim(r);
    assert!(!a.claimed_by_other(r).unwrap());
    assert_ne!(a.pid(), 0, "a pid is never 0");

    word.store(1, Ordering::Relaxed);
    a.wait(word, 0, None); // must return: the word is not 0
    word.store(0, Ordering::Relaxed);
    if real_clock {
        a.wait(word, 0, Some(Duration::from_millis(1))); // must return after the timeout
    }
    b.wake(word);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::layout::Header;

    #[test]
    fn mapped_regions_keep_the_contract() {
        let dir = std::env::temp_dir().join(format!("mmring-contract-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let opts = crate::RingOptions::new().create_if_missing(4096);
        crate::os::open_path(&dir, &opts.params).unwrap();
        let a = crate::os::open_path(&dir, &crate::RingOptions::new().params).unwrap();
        let b = crate::os::open_path(&dir, &crate::RingOptions::new().params).unwrap();
        let s = a.shared();
        let h: &Header = s.hdr();
        super::check_contract(&a, &b, &h.data_seq, true);
        std::fs::remove_file(&dir).unwrap();
    }
}
