//! # mmring-zenoh
//!
//! Bridges [`mmring`] rings over [Zenoh](https://zenoh.io): an *outbound* bridge attaches as a
//! reader of a ring and publishes each message (boundaries kept, in order) on a key
//! expression; an *inbound* bridge subscribes to the key expression and writes each sample into
//! another ring as one message. The two meet through Zenoh's own configuration (endpoints,
//! mode, scouting), so a Zenoh user recognises every option.
//!
//! - [`outbound::run`] and [`inbound::run`] are the two bridges; the `mmring-zenoh` binary is a
//!   thin command line over them.
//! - [`wire`]: the tag each sample carries in its attachment (source ring and record
//!   positions) and the acknowledgement that flows back in lossless mode.
//! - [`position`]: record positions in the source ring, stable across restarts, so a restarted
//!   outbound bridge's re-published messages are recognised and dropped.
//! - [`stats`]: the counters, printed at an interval and on exit.
//!
//! Delivery semantics (lossless and lossy, crashes, network loss) are in
//! `docs/GUARANTEES.md`, "Bridging over Zenoh".
//!
//! This is the only crate of the workspace that depends on `zenoh`.

#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod inbound;
pub mod outbound;
pub mod position;
pub mod stats;
pub mod wire;

pub use config::{Mode, ZenohOptions};
pub use error::BridgeError;
pub use inbound::InboundOptions;
pub use outbound::{OutboundOptions, Outcome};
pub use stats::{Counters, Report, Snapshot};
