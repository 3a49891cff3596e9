//! Why a bridge stopped.

use mmring::{OpenError, RecvError, SendError, TryRecvError};
use std::path::PathBuf;

/// Why a bridge could not start or had to stop. Messages dropped on purpose (lossy mode, too
/// large for the ring) are not errors: they are counted (see [`crate::stats::Counters`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The ring could not be created, opened or attached to.
    #[error("{0}")]
    Open(#[from] OpenError),
    /// The ring does not exist and no capacity was given to create it.
    #[error("{}: no such ring; pass --capacity SIZE to create it", path.display())]
    NoRing {
        /// The ring's path.
        path: PathBuf,
    },
    /// The reader's slot and start position could not be determined.
    #[error("{}: {source}", path.display())]
    Attach {
        /// The ring's path.
        path: PathBuf,
        /// What failed.
        source: crate::position::AttachError,
    },
    /// A Zenoh configuration option or file was rejected.
    #[error("zenoh configuration: {what}: {reason}")]
    Config {
        /// The option or file.
        what: String,
        /// Zenoh's reason.
        reason: String,
    },
    /// A key expression was rejected.
    #[error("invalid key expression '{key}': {reason}")]
    Key {
        /// The key given.
        key: String,
        /// Zenoh's reason.
        reason: String,
    },
    /// A Zenoh operation failed.
    #[error("zenoh: {op}: {reason}")]
    Zenoh {
        /// What was being done, e.g. `"open session"`.
        op: &'static str,
        /// Zenoh's reason.
        reason: String,
    },
    /// Receiving from the source ring failed (it is corrupt).
    #[error("{}: {source}", path.display())]
    Recv {
        /// The ring's path.
        path: PathBuf,
        /// The error.
        source: RecvError,
    },
    /// Receiving from the source ring failed (it is corrupt).
    #[error("{}: {source}", path.display())]
    TryRecv {
        /// The ring's path.
        path: PathBuf,
        /// The error.
        source: TryRecvError,
    },
    /// Writing into the destination ring failed (it is corrupt).
    #[error("{}: {source}", path.display())]
    Send {
        /// The ring's path.
        path: PathBuf,
        /// The error.
        source: SendError,
    },
}

impl BridgeError {
    pub(crate) fn zenoh(op: &'static str) -> impl FnOnce(zenoh::Error) -> BridgeError {
        move |e| BridgeError::Zenoh {
            op,
            reason: e.to_string(),
        }
    }
}
