//! Building the C programs that check mmring's documents against its Rust code: a reader
//! written from `docs/FORMAT.md`, the stream of [`stream`](crate::stream) written from its
//! specification.

use std::io;
use std::path::Path;
use std::process::Command;

/// Builds the executable `exe` from the C `sources` with the system C compiler (`$CC`, else
/// `cc`): `-std=gnu11 -O2 -Wall -Wextra -Werror`, plus `-I` for each of `include`.
///
/// # Errors
/// The compiler cannot be started (`NotFound` when there is none), or it rejects the sources:
/// its diagnostics are in the error.
pub fn compile(exe: &Path, sources: &[&Path], include: &[&Path]) -> io::Result<()> {
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args(["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror"]);
    for dir in include {
        cmd.arg("-I").arg(dir);
    }
    let out = cmd.arg("-o").arg(exe).args(sources).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{} failed: {}",
            cc.to_string_lossy(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// Runs the program `exe` with `args`; its standard output.
///
/// # Errors
/// It cannot be started, or it exits unsuccessfully: its status and standard error are in the
/// error.
pub fn run<I, S>(exe: &Path, args: I) -> io::Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new(exe).args(args).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{} failed ({}): {}",
            exe.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    String::from_utf8(out.stdout).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
