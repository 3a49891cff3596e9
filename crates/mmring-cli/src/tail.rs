//! `mmring tail`: attach as the reader and print messages, one per line.
//!
//! # Released only once written
//! A message's space goes back to the writer (is *released*) only after the bytes printed for
//! it have been written to standard output: handed to the kernel by `write(2)` calls that
//! completed, not `fsync`ed. Messages are read in place through a [`mmring::Batch`] of up to
//! [`BATCH`] messages, formatted into the output buffer, the buffer is flushed, and only then
//! is the batch dropped, which releases all of its messages with one cursor store. A `tail`
//! killed at any instant therefore loses nothing: the next reader starts at the first message
//! of the batch that was open (printed in part or in full, but not released), so at most that
//! batch is printed twice. When standard output fails (a closed pipe, a full disk), the batch
//! that could not be written is left unreleased too (see [`abandon`]).

use crate::cli::{StartFrom, TailArgs};
use crate::exit::{Code, Failure, Outcome};
use crate::format::Printer;
use crate::ring;
use mmring::{Reader, RecvError, StartAt, TryRecvError, WriterStatus};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Messages handled per read batch: printed, written out with one flush, then released
/// together. Also the most a killed `tail` can print twice (see `docs/GUARANTEES.md`).
pub const BATCH: usize = 512;
/// The output buffer: a batch is usually written with one `write(2)`.
pub(crate) const OUT_BUFFER: usize = 64 * 1024;
/// How often a tail waiting for its first writer looks again.
pub(crate) const WRITER_POLL: Duration = Duration::from_millis(10);

/// How many messages to print before exiting.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Until {
    /// What the ring holds now.
    Empty,
    /// This many more.
    Count(u64),
    /// Until the writer goes.
    Forever,
}

impl Until {
    /// How many messages may be printed at most.
    pub(crate) fn limit(self) -> u64 {
        match self {
            Until::Count(n) => n,
            Until::Empty | Until::Forever => u64::MAX,
        }
    }
}

/// Why printing stopped early.
pub(crate) enum Stop {
    /// Writing to standard output failed; the batch being written was not released.
    Output(io::Error),
    /// Any other failure (everything printed so far was written and released).
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
    let until = match (args.count, args.follow) {
        (Some(n), _) => Until::Count(n),
        (None, true) => Until::Forever,
        (None, false) => Until::Empty,
    };
    let mut out = Printer::new(
        BufWriter::with_capacity(OUT_BUFFER, io::stdout().lock()),
        args.format,
    );
    let mut printed = 0u64;
    let start = match (args.from, args.untethered) {
        (Some(StartFrom::Oldest), _) => StartAt::Oldest,
        (Some(StartFrom::Next), _) | (None, true) => StartAt::Next,
        (None, false) => StartAt::Resume,
    };
    if args.untethered {
        let mut r = ring::untethered(&args.ring, start)?;
        let result = crate::lossy::tail(
            &mut r,
            path,
            until,
            args.ring.timeout,
            &mut out,
            &mut printed,
        );
        return finish(result, path, printed, true);
    }
    let mut r = ring::reader(&args.ring, start)?;
    let result = tail(
        &mut r,
        path,
        until,
        args.ring.timeout,
        &mut out,
        &mut printed,
    );
    if let Err(Stop::Output(_)) = result {
        abandon(r);
    }
    finish(result, path, printed, false)
}

/// The outcome of a tail that stopped with `result` after printing `printed` messages.
fn finish(result: Result<(), Stop>, path: &Path, printed: u64, lossy: bool) -> Outcome {
    match result {
        Ok(()) => Ok(()),
        Err(Stop::Output(e)) => output_outcome(e),
        Err(Stop::Fail(mut f)) => {
            if f.code == Code::Disconnected && lossy {
                f.message = format!(
                    "{}: the writer has disconnected; {printed} message{} printed (untethered: \
                     what it overwrote before this reader got there was skipped)",
                    path.display(),
                    if printed == 1 { " was" } else { "s were" }
                );
            } else if f.code == Code::Disconnected {
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

/// Gives up the reader without releasing the batch that could not be written.
///
/// `Batch::next` advances the reader's private read position and dropping the `Reader` would
/// publish it, releasing messages whose output failed. So the reader is not dropped: the
/// process exits right after this, and the kernel then closes the ring file, which drops our
/// claim exactly as if we had been killed (the writer finds the reader gone at its next
/// liveness probe; the next reader starts at the unwritten batch).
fn abandon(r: Reader) {
    std::mem::forget(r);
}

/// The one stderr line of a reader that the writer lapped (`--untethered`, or a tethered
/// reader resuming a slot whose position was overwritten); printing goes on.
pub(crate) fn report_lapped(path: &Path, missed_bytes: u64) {
    eprintln!(
        "mmring: {}: lapped by the writer: missed {missed_bytes} bytes of messages; \
         going on with the oldest message still in the ring",
        path.display()
    );
}

/// A closed standard output (`| head`) is a normal end; any other write error is a failure.
pub(crate) fn output_outcome(e: io::Error) -> Outcome {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(Failure::new(
            Code::Runtime,
            format!("standard output: write error: {e}"),
        ))
    }
}

pub(crate) fn deadline_of(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

pub(crate) fn timed_out(path: &Path, what: &str) -> Failure {
    Failure::new(
        Code::Timeout,
        format!("{}: timed out waiting for {what}", path.display()),
    )
}

/// For a snapshot (`Until::Empty`): waits until a writer has attached once (`status` says),
/// at most `timeout`. Other modes return at once.
pub(crate) fn first_writer(
    status: impl Fn() -> WriterStatus,
    path: &Path,
    until: Until,
    timeout: Option<Duration>,
) -> Result<(), Stop> {
    if let Until::Empty = until {
        let deadline = deadline_of(timeout);
        while status() == WriterStatus::Never {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(timed_out(path, "a writer to attach").into());
            }
            std::thread::sleep(WRITER_POLL);
        }
    }
    Ok(())
}

fn tail<W: Write>(
    r: &mut Reader,
    path: &Path,
    until: Until,
    timeout: Option<Duration>,
    out: &mut Printer<W>,
    printed: &mut u64,
) -> Result<(), Stop> {
    // `recv` waits for a first writer by itself; a snapshot has to wait explicitly.
    first_writer(|| r.writer_status(), path, until, timeout)?;
    let mut remaining = until.limit();
    while remaining > 0 {
        let max = remaining.min(BATCH as u64) as usize;
        let n = print_batch(r, path, max, out)?;
        *printed += n as u64;
        remaining -= n as u64;
        if n > 0 {
            continue;
        }
        // The ring was empty. Everything printed so far is written and released, so waiting
        // here holds nothing back. A message that arrives is left in the ring (`keep`) for the
        // next batch, which prints, writes and releases it like any other.
        match until {
            Until::Empty => match r.try_recv() {
                Ok(m) => m.keep(),
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => {
                    return Err(Failure::new(Code::Disconnected, "writer disconnected").into())
                }
                Err(TryRecvError::Lapped { missed_bytes, .. }) => report_lapped(path, missed_bytes),
                Err(e) => return Err(Failure::runtime(path, e).into()),
            },
            Until::Count(_) | Until::Forever => {
                let msg = match timeout {
                    Some(t) => r.recv_timeout(t),
                    None => r.recv(),
                };
                match msg {
                    Ok(m) => m.keep(),
                    Err(RecvError::Timeout) => {
                        return Err(timed_out(path, "the next message").into())
                    }
                    Err(RecvError::Lapped { missed_bytes, .. }) => {
                        report_lapped(path, missed_bytes)
                    }
                    Err(e) => return Err(Failure::recv(path, e).into()),
                }
            }
        }
    }
    Ok(())
}

/// Prints up to `max` committed messages, writes them out, then releases them; returns how
/// many (0 when the ring is empty now). Never blocks on the ring.
///
/// On an output error the batch is forgotten instead of dropped, so that its messages are not
/// released, and the caller must [`abandon`] the reader. A corrupt record ends the batch: what
/// came before it is written and released, then the corruption is reported.
fn print_batch<W: Write>(
    r: &mut Reader,
    path: &Path,
    max: usize,
    out: &mut Printer<W>,
) -> Result<usize, Stop> {
    let mut batch = r.batch();
    let mut corrupt = None;
    let mut written = Ok(());
    // Each message is copied out with atomic loads before it is formatted: sound whatever the
    // writer does to the ring meanwhile (docs/SECURITY.md, "Payload bytes").
    let mut msg = Vec::new();
    while batch.len() < max {
        match batch.next_into(&mut msg) {
            Ok(true) => {
                written = out.print(&msg);
                if written.is_err() {
                    break;
                }
            }
            // Nothing now; a writer that has gone is reported by the caller's next wait.
            Ok(false) | Err(TryRecvError::Disconnected) => break,
            // Reported once, before anything else; the batch goes on with what is intact.
            Err(TryRecvError::Lapped { missed_bytes, .. }) => report_lapped(path, missed_bytes),
            Err(c) => {
                corrupt = Some(c);
                break;
            }
        }
    }
    let n = batch.len();
    if n > 0 {
        written = written.and_then(|()| out.flush());
    }
    if let Err(e) = written {
        std::mem::forget(batch);
        return Err(Stop::Output(e));
    }
    // Every byte printed for the batch has been written: release it.
    drop(batch);
    match corrupt {
        Some(c) => Err(Failure::runtime(path, c).into()),
        None => Ok(n),
    }
}
