//! # mmring
//!
//! Fast, checked message passing between processes through shared memory: a lock-free
//! single-producer / single-consumer ring of variable-length messages in a `MAP_SHARED`
//! mapping, zero-copy on both sides, with blocking waits that burn no CPU, dead-peer detection
//! and typed errors for every bad input.
//!
//! This crate re-exports the public API of [`mmring_core`]. Two unrelated processes meet at a
//! file path:
//!
//! ```
//! # let path = std::env::temp_dir().join(format!("mmring-facade-{}", std::process::id()));
//! # let _ = std::fs::remove_file(&path);
//! // process A
//! let mut writer = mmring::Writer::create(&path, 1 << 20)?;
//! writer.send(b"hello")?;
//! // process B
//! let mut reader = mmring::Reader::open(&path)?;
//! assert_eq!(&*reader.recv()?, b"hello");
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A parent and child use an anonymous ring split by [`fork`]. See the README for the tour and
//! `docs/FORMAT.md` for the byte-level format.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use mmring_core::*;
