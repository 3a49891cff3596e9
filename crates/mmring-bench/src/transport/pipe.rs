//! Pipes (named FIFOs in the run's directory): one `write(2)` and one `read(2)` (looped until
//! the whole message is there) per message, blocking.

use super::uds::Stream;
use super::Transport;
use crate::harness::{self, Case, Kind, Outcome};
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// See the module docs.
#[derive(Debug)]
pub struct Pipe;

fn mkfifo(path: &Path) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn open_w(p: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).open(p)
}

fn open_r(p: &Path) -> io::Result<File> {
    File::open(p)
}

impl Transport for Pipe {
    fn name(&self) -> &'static str {
        "pipe"
    }
    fn describe(&self) -> &'static str {
        "pipe (FIFO), one write/read per message, blocking"
    }
    fn supports(&self, kind: Kind) -> bool {
        matches!(kind, Kind::Rtt | Kind::Stream | Kind::Parked)
    }
    fn prepare(&self, dir: &Path, _case: &Case) -> io::Result<()> {
        mkfifo(&dir.join("a"))?;
        mkfifo(&dir.join("b"))
    }
    // Opening a FIFO blocks until the other end opens it: both sides open "a" first.
    fn child(&self, dir: &Path, case: &Case) -> io::Result<()> {
        match case.kind {
            Kind::Stream => {
                let w = open_w(&dir.join("a"))?;
                let mut s = Stream { w, r: io::empty() };
                harness::stream_write(&mut s, case, 1)
            }
            _ => {
                let r = open_r(&dir.join("a"))?;
                let w = open_w(&dir.join("b"))?;
                let mut s = Stream { w, r };
                let mut tx = Stream {
                    w: s.w.try_clone()?,
                    r: io::empty(),
                };
                harness::rtt_pong(&mut tx, &mut s, case, true)
            }
        }
    }
    fn parent(&self, dir: &Path, case: &Case) -> io::Result<Outcome> {
        match case.kind {
            Kind::Stream => {
                let r = open_r(&dir.join("a"))?;
                let mut s = Stream { w: io::sink(), r };
                harness::stream_read(&mut s, case)
            }
            _ => {
                let w = open_w(&dir.join("a"))?;
                let r = open_r(&dir.join("b"))?;
                let mut s = Stream { w, r };
                let mut tx = Stream {
                    w: s.w.try_clone()?,
                    r: io::empty(),
                };
                let gap = (case.kind == Kind::Parked).then_some(super::mmring::PARK_GAP);
                harness::rtt_ping(&mut tx, &mut s, case, gap).map(Outcome::Latency)
            }
        }
    }
}
