//! `mmring tail --untethered`: a lossy reader that never holds the writer back.
//!
//! Each message is copied out of the ring with atomic loads and validated before it is printed
//! (a message the writer overwrote while it was copied is never printed). When the writer laps
//! this reader, one line on stderr says how many bytes of messages were missed, and printing
//! goes on with the oldest message still in the ring. Nothing is held back for this reader, so
//! there is no release to order against the output: the output is flushed every
//! [`BATCH`](crate::tail::BATCH) messages and whenever the ring is empty.

use crate::exit::{Code, Failure};
use crate::format::Printer;
use crate::tail::{first_writer, report_lapped, timed_out, Stop, Until, BATCH};
use mmring::{RecvError, TryRecvError, UntetheredReader};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Prints messages from `r` as `until` says.
pub fn tail<W: Write>(
    r: &mut UntetheredReader,
    path: &Path,
    until: Until,
    timeout: Option<Duration>,
    out: &mut Printer<W>,
    printed: &mut u64,
) -> Result<(), Stop> {
    first_writer(|| r.writer_status(), path, until, timeout)?;
    let mut remaining = until.limit();
    let mut msg = Vec::new();
    let mut unflushed = 0;
    while remaining > 0 {
        match r.try_recv_into(&mut msg) {
            Ok(_) => {
                out.print(&msg).map_err(Stop::Output)?;
                *printed += 1;
                remaining -= 1;
                unflushed += 1;
                if unflushed == BATCH {
                    out.flush().map_err(Stop::Output)?;
                    unflushed = 0;
                }
                continue;
            }
            Err(TryRecvError::Lapped { missed_bytes, .. }) => {
                report_lapped(path, missed_bytes);
                continue;
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => {
                out.flush().map_err(Stop::Output)?;
                return Err(Failure::new(Code::Disconnected, "writer disconnected").into());
            }
            Err(e) => return Err(Failure::runtime(path, e).into()),
        }
        // Empty: let whoever reads the output see it, then wait.
        out.flush().map_err(Stop::Output)?;
        unflushed = 0;
        if let Until::Empty = until {
            return Ok(());
        }
        let got = match timeout {
            Some(t) => r.recv_timeout_into(&mut msg, t),
            None => r.recv_into(&mut msg),
        };
        match got {
            Ok(_) => {
                out.print(&msg).map_err(Stop::Output)?;
                *printed += 1;
                remaining -= 1;
                unflushed += 1;
            }
            Err(RecvError::Lapped { missed_bytes, .. }) => report_lapped(path, missed_bytes),
            Err(RecvError::Timeout) => return Err(timed_out(path, "the next message").into()),
            Err(e) => return Err(Failure::recv(path, e).into()),
        }
    }
    out.flush().map_err(Stop::Output)
}
