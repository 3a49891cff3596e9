//! The test and benchmark kit of [mmring](https://docs.rs/mmring): what its tests, examples and
//! benchmark programs share, kept out of the library's API. It does not depend on mmring: it
//! works with any transport that moves byte slices.
//!
//! - [`stream`]: self-verifying message streams (every byte follows from the message's sequence
//!   number; a checksum both ends compute), specified precisely enough to reproduce in C.
//! - [`cpu`]: pinning, and the choice of two CPUs from the online CPUs.
//! - [`probe`]: the placement probe, a short cache-line ping-pong that tells separate cores
//!   from SMT siblings.
//! - [`latency`]: latency histograms and their percentile summary.
//! - [`child`]: this program re-executed as a child process, killed if abandoned.
//! - [`cc`]: building the C programs that check the documents against the code.
//!
//! Linux only (`sched_setaffinity`, `/sys/devices/system/cpu`).

#![forbid(unsafe_code)]

pub mod cc;
pub mod child;
pub mod cpu;
pub mod latency;
pub mod probe;
pub mod stream;
