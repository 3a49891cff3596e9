//! The test and benchmark kit of [mmring](https://docs.rs/mmring): what its tests, examples and
//! benchmark programs share, kept out of the library's API.
//!
//! - [`stream`]: self-verifying message streams (every byte follows from the message's sequence
//!   number; a checksum both ends compute), specified precisely enough to reproduce in C.
//!
//! The kit does not depend on mmring: it works with any transport that moves byte slices.

#![forbid(unsafe_code)]

pub mod stream;
