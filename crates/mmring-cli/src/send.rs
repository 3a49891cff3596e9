//! `mmring send`: each line of input becomes one message (or all of it, with `--raw`).

use crate::cli::SendArgs;
use crate::exit::{Code, Failure, Outcome};
use crate::ring;
use mmring::{TrySendError, Writer};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Input is read in chunks this large; a chunk's lines are staged in one write batch.
const CHUNK: usize = 1 << 20;
/// Staged lines are published at least this often, so the reader can start on them.
const PUBLISH_EVERY: u32 = 256;

/// Where the input comes from, for messages.
struct Source {
    name: String,
    lines_sent: u64,
}

/// Sends standard input (or `--file`) into the ring.
pub fn run(args: &SendArgs) -> Outcome {
    let path = args.ring.path.as_path();
    let (input, name): (Box<dyn Read>, String) = match &args.file {
        Some(f) => (
            Box::new(File::open(f).map_err(|e| {
                Failure::new(Code::Runtime, format!("{}: cannot read: {e}", f.display()))
            })?),
            f.display().to_string(),
        ),
        None => (Box::new(io::stdin().lock()), "standard input".to_string()),
    };
    let mut w = ring::writer(&args.ring)?;
    let mut src = Source {
        name,
        lines_sent: 0,
    };
    let timeout = args.ring.timeout;
    if args.raw {
        send_raw(&mut w, path, input, &src.name, timeout)
    } else {
        send_lines(&mut w, path, input, &mut src, timeout)
    }
}

fn read_error(name: &str, e: io::Error) -> Failure {
    Failure::new(Code::Runtime, format!("{name}: read error: {e}"))
}

fn too_long(path: &Path, what: &str, len: usize, max: usize) -> Failure {
    Failure::new(
        Code::Runtime,
        format!(
            "{}: {what} is {len} bytes, longer than the ring's maximum message of {max} bytes \
             (create a ring of at least twice that capacity)",
            path.display()
        ),
    )
}

/// Sends one message, waiting for room (up to `timeout`).
fn send_one(w: &mut Writer, path: &Path, msg: &[u8], timeout: Option<Duration>) -> Outcome {
    let r = match timeout {
        Some(t) => w.send_timeout(msg, t),
        None => w.send(msg),
    };
    r.map_err(|e| Failure::send(path, e))
}

fn send_raw(
    w: &mut Writer,
    path: &Path,
    mut input: Box<dyn Read>,
    name: &str,
    timeout: Option<Duration>,
) -> Outcome {
    let mut all = Vec::new();
    input
        .read_to_end(&mut all)
        .map_err(|e| read_error(name, e))?;
    if all.len() > w.max_message_len() {
        return Err(too_long(path, name, all.len(), w.max_message_len()));
    }
    send_one(w, path, &all, timeout)
}

fn send_lines(
    w: &mut Writer,
    path: &Path,
    input: Box<dyn Read>,
    src: &mut Source,
    timeout: Option<Duration>,
) -> Outcome {
    let path: PathBuf = path.to_path_buf();
    let max = w.max_message_len();
    let mut rd = BufReader::with_capacity(CHUNK, input);
    // The start of a line that continues in the next chunk.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        // Everything read so far has been published: blocking on the read here never holds
        // back a line from the reader.
        let chunk = match rd.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(&src.name, e)),
        };
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        let mut rest = chunk;
        if !carry.is_empty() {
            match find_newline(rest) {
                Some(i) => {
                    carry.extend_from_slice(&rest[..i]);
                    rest = &rest[i + 1..];
                    check_len(&path, src, carry.len(), max)?;
                    send_one(w, &path, &carry, timeout)?;
                    src.lines_sent += 1;
                    carry.clear();
                }
                None => {
                    carry.extend_from_slice(rest);
                    check_len(&path, src, carry.len(), max)?;
                    rd.consume(n);
                    continue;
                }
            }
        }
        let tail = send_chunk(w, &path, rest, src, max, timeout)?;
        carry.extend_from_slice(tail);
        check_len(&path, src, carry.len(), max)?;
        rd.consume(n);
    }
    if !carry.is_empty() {
        send_one(w, &path, &carry, timeout)?;
        src.lines_sent += 1;
    }
    Ok(())
}

fn check_len(path: &Path, src: &Source, len: usize, max: usize) -> Outcome {
    if len > max {
        let what = format!("line {} of {}", src.lines_sent + 1, src.name);
        return Err(too_long(path, &what, len, max));
    }
    Ok(())
}

#[inline]
fn find_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Sends every complete line of `chunk` through write batches; returns the unterminated rest.
fn send_chunk<'c>(
    w: &mut Writer,
    path: &Path,
    chunk: &'c [u8],
    src: &mut Source,
    max: usize,
    timeout: Option<Duration>,
) -> Result<&'c [u8], Failure> {
    let mut rest = chunk;
    let mut batch = w.batch();
    let mut staged = 0u32;
    while let Some(i) = find_newline(rest) {
        let line = &rest[..i];
        rest = &rest[i + 1..];
        match batch.try_send(line) {
            Ok(()) => {
                staged += 1;
                if staged == PUBLISH_EVERY {
                    batch.publish();
                    staged = 0;
                }
            }
            Err(TrySendError::Full) => {
                // Publish what is staged, then wait for the reader to make room.
                drop(batch);
                send_one(w, path, line, timeout)?;
                batch = w.batch();
                staged = 0;
            }
            Err(TrySendError::TooLarge { len, .. }) => {
                let what = format!("line {} of {}", src.lines_sent + 1, src.name);
                return Err(too_long(path, &what, len, max));
            }
            Err(e) => return Err(Failure::runtime(path, e)),
        }
        src.lines_sent += 1;
    }
    Ok(rest)
}
