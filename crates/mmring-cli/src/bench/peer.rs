//! The benchmark's peer process: echoes round trips, then counts and checks the stream.

use super::{strategy, PING, PONG, STREAM};
use crate::cli::PeerArgs;
use crate::exit::{Code, Failure, Outcome};
use mmring::{RingOptions, TryRecvError};
use mmring_testkit::cpu;

fn fail(cause: impl std::fmt::Display) -> Failure {
    Failure::new(Code::Runtime, format!("bench peer: {cause}"))
}

/// Runs the peer side until the parent's end-of-stream marker.
pub fn run(args: &PeerArgs) -> Outcome {
    // Die with the parent even if it is killed before attaching to the rings.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if let Some(cpu) = args.cpu {
        cpu::pin(cpu).map_err(|e| fail(format!("cannot pin to CPU {cpu}: {e}")))?;
    }
    let opts = RingOptions::new().wait_strategy(strategy(args.mode));
    let open_r = |n: &str| {
        let p = args.dir.join(n);
        opts.open_reader(&p).map_err(|e| Failure::open(&p, e))
    };
    let mut ping = open_r(PING)?;
    let mut stream = open_r(STREAM)?;
    let pong_path = args.dir.join(PONG);
    let mut pong = opts
        .open_writer(&pong_path)
        .map_err(|e| Failure::open(&pong_path, e))?;

    // Round trips (the first is the parent's handshake), until an empty message.
    loop {
        let m = ping.recv().map_err(fail)?;
        if m.is_empty() {
            break;
        }
        let mut g = pong.reserve(m.len()).map_err(fail)?;
        g.copy_from_slice(&m);
        g.commit();
    }

    // The stream: sequence numbers in the first and last 8 bytes, until an empty message.
    let mut c = Check::default();
    while !c.done {
        match stream.drain(1024, |m| c.see(m)) {
            Ok(_) => {}
            Err(TryRecvError::Empty) => {
                let m = stream.recv().map_err(fail)?;
                c.see(&m);
            }
            Err(e) => return Err(fail(e)),
        }
    }
    if let Some(b) = c.bad {
        return Err(fail(b));
    }
    let expect = c.expect;
    pong.send_pod(&expect).map_err(fail)?;
    Ok(())
}

/// The stream's checker.
#[derive(Default)]
struct Check {
    expect: u64,
    bad: Option<String>,
    done: bool,
}

impl Check {
    #[inline]
    fn see(&mut self, m: &[u8]) {
        if m.is_empty() {
            self.done = true;
            return;
        }
        let n = m.len();
        if n < 8 {
            self.bad
                .get_or_insert(format!("message {} is only {n} bytes", self.expect));
            self.expect += 1;
            return;
        }
        let head = u64::from_le_bytes(m[..8].try_into().expect("8 bytes"));
        let tail = u64::from_le_bytes(m[n - 8..].try_into().expect("8 bytes"));
        if self.bad.is_none() && (head != self.expect || tail != self.expect) {
            self.bad = Some(format!(
                "message {} carries sequence numbers {head} and {tail}",
                self.expect
            ));
        }
        self.expect += 1;
    }
}
