//! Exit codes and the one-line error every failure becomes.

use mmring::{OpenError, RecvError, SendError};
use std::fmt;
use std::path::Path;
use std::process::ExitCode;

/// The documented exit statuses of `mmring` (also listed in `--help` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Success.
    Ok = 0,
    /// A runtime failure: reading input, writing output, a message too large, the ring found
    /// corrupt while in use, the benchmark peer failing.
    Runtime = 1,
    /// A usage error: unknown option, missing argument, bad size or duration syntax, a capacity
    /// that is not a power of two in range, a mode with bits outside 777.
    Usage = 2,
    /// The peer disconnected: `tail` saw its writer go (after printing everything it
    /// committed), or `send` found the ring full and its reader gone.
    Disconnected = 3,
    /// The ring could not be created, opened or attached: missing file, not a ring, wrong file
    /// type, permissions, a side already taken, a corrupt header.
    Ring = 4,
    /// A `--timeout` expired.
    Timeout = 5,
}

/// The exit-status table, for `--help` and the README.
pub const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  runtime error (I/O on stdin/stdout, message too large, ring corrupt while in use)
  2  usage error (bad option, bad size/duration syntax, invalid capacity)
  3  peer disconnected (tail: the writer went away after everything it committed was
     printed; send: the ring is full and its reader went away)
  4  ring error (cannot create/open/attach: missing, not a ring, wrong file type,
     permission denied, side already taken, corrupt header)
  5  timeout (--timeout expired)";

/// A failure: what to print (one line) and how to exit.
#[derive(Debug)]
pub struct Failure {
    /// The exit status.
    pub code: Code,
    /// The message, without the `mmring: ` prefix or a newline.
    pub message: String,
}

impl Failure {
    /// A failure with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// A runtime failure about `path`.
    pub fn runtime(path: &Path, cause: impl fmt::Display) -> Self {
        Failure::new(Code::Runtime, format!("{}: {cause}", path.display()))
    }

    /// A failure to create, open or attach the ring at `path`.
    pub fn open(path: &Path, e: OpenError) -> Self {
        match e {
            // The variants whose text does not name the path already; both are bad arguments.
            OpenError::InvalidCapacity(_) | OpenError::InvalidMode { .. } => {
                Failure::new(Code::Usage, format!("{}: {e}", path.display()))
            }
            e => Failure::new(Code::Ring, e.to_string()),
        }
    }

    /// A failed blocking send on the ring at `path`.
    pub fn send(path: &Path, e: SendError) -> Self {
        let code = match e {
            SendError::Disconnected => Code::Disconnected,
            SendError::Timeout => Code::Timeout,
            _ => Code::Runtime,
        };
        Failure::new(code, format!("{}: {e}", path.display()))
    }

    /// A failed blocking receive on the ring at `path`.
    pub fn recv(path: &Path, e: RecvError) -> Self {
        let code = match e {
            RecvError::Disconnected => Code::Disconnected,
            RecvError::Timeout => Code::Timeout,
            _ => Code::Runtime,
        };
        Failure::new(code, format!("{}: {e}", path.display()))
    }

    /// Prints the message on stderr and returns the exit status.
    pub fn report(&self) -> ExitCode {
        eprintln!("mmring: {}", self.message);
        ExitCode::from(self.code as u8)
    }
}

/// What every subcommand returns.
pub type Outcome = Result<(), Failure>;
