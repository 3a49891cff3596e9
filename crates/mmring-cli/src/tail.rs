//! `mmring tail`: attach as the reader and print messages, one per line.

use crate::cli::TailArgs;
use crate::exit::{Code, Failure, Outcome};
use crate::format::Printer;
use crate::ring;
use mmring::{Reader, RecvError, TryRecvError, WriterStatus};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Messages handled per read batch (their space goes back to the writer together).
const BATCH: usize = 512;
/// How often a tail waiting for its first writer looks again.
const WRITER_POLL: Duration = Duration::from_millis(10);

/// How many messages to print before exiting.
#[derive(Debug, Clone, Copy)]
enum Until {
    /// What the ring holds now.
    Empty,
    /// This many more.
    Count(u64),
    /// Until the writer goes.
    Forever,
}

/// Why printing stopped early.
enum Stop {
    /// Standard output was closed (e.g. `| head`): not an error.
    Closed,
    /// A real failure.
    Fail(Failure),
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Self {
        Stop::Fail(f)
    }
}

/// Prints messages as `args` say.
pub fn run(args: &TailArgs) -> Outcome {
    let path = args.ring.path.as_path();
    let mut r = ring::reader(&args.ring)?;
    let until = match (args.count, args.follow) {
        (Some(n), _) => Until::Count(n),
        (None, true) => Until::Forever,
        (None, false) => Until::Empty,
    };
    let mut out = Printer::new(
        BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
        args.format,
    );
    let mut printed = 0u64;
    let result = tail(
        &mut r,
        path,
        until,
        args.ring.timeout,
        &mut out,
        &mut printed,
    )
    .and_then(|()| out.flush().map_err(output_error));
    match result {
        Ok(()) | Err(Stop::Closed) => Ok(()),
        Err(Stop::Fail(mut f)) => {
            if let Err(Stop::Fail(g)) = out.flush().map_err(output_error) {
                return Err(g);
            }
            if f.code == Code::Disconnected {
                f.message = format!(
                    "{}: the writer has disconnected; all {printed} message{} it left were printed",
                    path.display(),
                    if printed == 1 { "" } else { "s" }
                );
            }
            Err(f)
        }
    }
}

fn output_error(e: io::Error) -> Stop {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Stop::Closed
    } else {
        Stop::Fail(Failure::new(
            Code::Runtime,
            format!("standard output: write error: {e}"),
        ))
    }
}

fn deadline_of(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

fn timed_out(path: &Path, what: &str) -> Failure {
    Failure::new(
        Code::Timeout,
        format!("{}: timed out waiting for {what}", path.display()),
    )
}

fn tail<W: Write>(
    r: &mut Reader,
    path: &Path,
    until: Until,
    timeout: Option<Duration>,
    out: &mut Printer<W>,
    printed: &mut u64,
) -> Result<(), Stop> {
    if let Until::Empty = until {
        // `recv` waits for a first writer by itself; a snapshot has to wait explicitly.
        let deadline = deadline_of(timeout);
        while r.writer_status() == WriterStatus::Never {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(timed_out(path, "a writer to attach").into());
            }
            std::thread::sleep(WRITER_POLL);
        }
    }
    let mut remaining = match until {
        Until::Count(n) => n,
        Until::Empty | Until::Forever => u64::MAX,
    };
    while remaining > 0 {
        let mut write_err = None;
        let max = remaining.min(BATCH as u64) as usize;
        let drained = r.drain(max, |m| {
            if write_err.is_none() {
                write_err = out.print(m).err();
            }
        });
        match drained {
            Ok(n) => {
                *printed += n as u64;
                remaining -= n as u64;
                if let Some(e) = write_err {
                    return Err(output_error(e));
                }
            }
            Err(TryRecvError::Empty) => {
                if let Until::Empty = until {
                    return Ok(());
                }
                // About to sleep: let whoever reads our output see what we have.
                out.flush().map_err(output_error)?;
                let msg = match timeout {
                    Some(t) => r.recv_timeout(t),
                    None => r.recv(),
                };
                match msg {
                    Ok(m) => out.print(&m).map_err(output_error)?,
                    Err(RecvError::Timeout) => {
                        return Err(timed_out(path, "the next message").into())
                    }
                    Err(e) => return Err(Failure::recv(path, e).into()),
                }
                *printed += 1;
                remaining -= 1;
            }
            Err(TryRecvError::Disconnected) => {
                return Err(Failure::new(Code::Disconnected, "writer disconnected").into())
            }
            Err(e) => return Err(Failure::runtime(path, e).into()),
        }
    }
    Ok(())
}
