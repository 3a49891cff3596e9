//! The fan-out benchmark's parts: what all processes share, the two transports' writer and
//! reader roles, running one configuration as processes, and the report.

pub mod common;
#[cfg(feature = "iceoryx2")]
pub mod iceoryx2;
pub mod mmring;
pub mod report;
pub mod run;
