//! Fuzz target: a ring file built from arbitrary bytes (header and data region), opened as a
//! reader and as a writer and driven with receives and sends. See `fuzz/harness.rs`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::ring_bytes(data);
});
