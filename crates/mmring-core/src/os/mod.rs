//! The memory a ring lives in, and the operating-system services the protocol uses.
//!
//! Each module is one mechanism and decides nothing about the protocol (that is `ring`):
//! - `mapped`: a `MAP_SHARED` mapping of a file or memfd, with its descriptor (which carries the
//!   side claim); implements [`Os`](crate::ring::Os) for the real thing;
//! - `file` / `anon`: how such a mapping is created or opened (a path; a sealed memfd);
//! - `header_check`: the identity checks run before the data region is touched;
//! - `readonly`: a read-only mapping for `inspect`;
//! - `lock`, `futex`: kernel locks (claims) and cross-process sleeping;
//! - `bell`, `pidfd`, `waiter`: doorbells, process descriptors, and the epoll set a side sleeps
//!   in (its readiness handle);
//! - `reactor` (feature `tokio`): registers a readiness handle with tokio's reactor;
//! - `guard`: turns `SIGBUS` from a file truncated under a mapping into an error;
//! - `heap` (loom only): the same interface over a heap allocation;
//! - `contract`: the behaviour both implementations of `Os` must have, tested on both.

#[cfg(not(loom))]
mod anon;
#[cfg(not(loom))]
pub(crate) mod bell;
#[cfg(any(test, loom))]
pub(crate) mod contract;
#[cfg(not(loom))]
mod file;
#[cfg(not(loom))]
pub(crate) mod futex;
#[cfg(not(loom))]
pub(crate) mod guard;
#[cfg(not(loom))]
pub(crate) mod header_check;
#[cfg(loom)]
mod heap;
#[cfg(not(loom))]
pub(crate) mod lock;
#[cfg(not(loom))]
mod mapped;
#[cfg(not(loom))]
mod pidfd;
#[cfg(all(feature = "tokio", not(loom)))]
pub(crate) mod reactor;
#[cfg(not(loom))]
mod readonly;
#[cfg(not(loom))]
pub(crate) mod waiter;

#[cfg(not(loom))]
pub(crate) use anon::anonymous_pair;
#[cfg(not(loom))]
pub(crate) use file::{check_file, classify_open_error, open_path, CreateMode, OpenParams};
#[cfg(loom)]
pub(crate) use heap::{heap_pair, Region};
#[cfg(not(loom))]
pub(crate) use mapped::Region;
#[cfg(not(loom))]
pub(crate) use readonly::ReadOnlyRing;
