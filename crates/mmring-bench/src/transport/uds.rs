//! Unix domain stream socket: one `write(2)` and one `read(2)` (looped until the whole message
//! is there) per message, blocking.

use super::Transport;
use crate::harness::{self, stamp, Case, Kind, Outcome, Receiver, Sender};
use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// See the module docs.
#[derive(Debug)]
pub struct Uds;

/// A blocking stream carrying fixed-size messages; shared with the pipe transport.
pub struct Stream<W: Write, R: Read> {
    /// Where messages go.
    pub w: W,
    /// Where messages come from.
    pub r: R,
}

impl<W: Write, R: Read> Sender for Stream<W, R> {
    fn send_some(&mut self, tmpl: &mut [u8], next: u64, _max: u64) -> io::Result<u64> {
        stamp(tmpl, next);
        self.w.write_all(tmpl)?;
        Ok(1)
    }
}

impl<W: Write, R: Read> Receiver for Stream<W, R> {
    fn recv_some<F: FnMut(&[u8]) -> io::Result<()>>(
        &mut self,
        buf: &mut [u8],
        mut f: F,
    ) -> io::Result<usize> {
        self.r.read_exact(buf)?;
        f(buf)?;
        Ok(1)
    }
}

fn connect(path: &Path) -> io::Result<UnixStream> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() > until => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

fn pair(s: UnixStream) -> io::Result<Stream<UnixStream, UnixStream>> {
    Ok(Stream {
        w: s.try_clone()?,
        r: s,
    })
}

fn tx_of(s: &Stream<UnixStream, UnixStream>) -> io::Result<Stream<UnixStream, io::Empty>> {
    Ok(Stream {
        w: s.w.try_clone()?,
        r: io::empty(),
    })
}

impl Transport for Uds {
    fn name(&self) -> &'static str {
        "unix-socket"
    }
    fn describe(&self) -> &'static str {
        "Unix domain stream socket, one write/read per message, blocking"
    }
    fn supports(&self, kind: Kind) -> bool {
        matches!(kind, Kind::Rtt | Kind::Stream | Kind::Parked)
    }
    fn child(&self, dir: &Path, case: &Case) -> io::Result<()> {
        let mut s = pair(connect(&dir.join("sock"))?)?;
        match case.kind {
            Kind::Stream => harness::stream_write(&mut s, case, 1),
            _ => harness::rtt_pong(&mut tx_of(&s)?, &mut s, case, true),
        }
    }
    fn parent(&self, dir: &Path, case: &Case) -> io::Result<Outcome> {
        let l = UnixListener::bind(dir.join("sock"))?;
        let (s, _) = l.accept()?;
        let mut s = pair(s)?;
        match case.kind {
            Kind::Stream => harness::stream_read(&mut s, case),
            _ => {
                let gap = (case.kind == Kind::Parked).then_some(super::mmring::PARK_GAP);
                harness::rtt_ping(&mut tx_of(&s)?, &mut s, case, gap).map(Outcome::Latency)
            }
        }
    }
}
