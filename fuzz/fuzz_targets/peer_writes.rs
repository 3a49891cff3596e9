//! Fuzz target: a live writer and reader in this process while a "peer" mapping of the same
//! file stores arbitrary values into the cursors, record headers and side words between their
//! operations. See `fuzz/harness.rs`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::peer_writes(data);
});
