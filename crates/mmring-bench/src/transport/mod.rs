//! The transports under test, each behind the same [`Transport`] interface.

use crate::harness::{Case, Kind, Outcome};
use std::io;
use std::path::Path;

pub mod floor;
#[cfg(feature = "iceoryx2")]
pub mod iceoryx2;
pub mod minimal_ring;
pub mod mmring;
pub mod pipe;
pub mod previous;
#[cfg(feature = "shaq")]
pub mod shaq;
mod shm;
#[cfg(feature = "shmring")]
pub mod shmring;
pub mod uds;
#[cfg(feature = "tokio")]
pub mod wake;

/// One way of moving messages between two processes.
pub trait Transport: Sync {
    /// Name on the command line and in reports.
    fn name(&self) -> &'static str;
    /// One line saying what exactly is measured.
    fn describe(&self) -> &'static str;
    /// Whether this transport takes part in `kind` cases.
    fn supports(&self, kind: Kind) -> bool;
    /// Creates shared resources in `dir` before the child starts (parent process).
    fn prepare(&self, _dir: &Path, _case: &Case) -> io::Result<()> {
        Ok(())
    }
    /// Runs the child's side (in the child process).
    fn child(&self, dir: &Path, case: &Case) -> io::Result<()>;
    /// Runs the measuring side (in the parent process).
    fn parent(&self, dir: &Path, case: &Case) -> io::Result<Outcome>;
}

/// Every transport compiled in, in report order.
pub fn all() -> Vec<&'static dyn Transport> {
    let mut v: Vec<&'static dyn Transport> = vec![
        &floor::Floor,
        &minimal_ring::MinimalRing { batched: false },
        &minimal_ring::MinimalRing { batched: true },
        &mmring::MMRING,
        &mmring::MMRING_1BY1,
        &previous::PREVIOUS,
        &previous::PREVIOUS_1BY1,
    ];
    #[cfg(feature = "iceoryx2")]
    v.push(&iceoryx2::Iceoryx2);
    #[cfg(feature = "shaq")]
    v.push(&shaq::Shaq);
    #[cfg(feature = "shmring")]
    v.push(&shmring::Shmring);
    v.push(&uds::Uds);
    v.push(&pipe::Pipe);
    #[cfg(feature = "tokio")]
    v.extend([
        &wake::MMRING_READINESS as &dyn Transport,
        &wake::MMRING_TOKIO,
        &wake::TokioUds,
    ]);
    v
}

/// Looks a transport up by name.
pub fn by_name(name: &str) -> Option<&'static dyn Transport> {
    all().into_iter().find(|t| t.name() == name)
}
