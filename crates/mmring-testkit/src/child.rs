//! This program again, as a child process: the other side of a two-process measurement.
//!
//! The caller re-executes its own binary with arguments that select the child's role (its
//! `main` looks at them first), and gets a guard that kills and reaps the child if it is
//! dropped before being waited for, so that no error path leaves a spinning peer behind.
//!
//! ```no_run
//! use mmring_testkit::child::SelfChild;
//! use std::process::Stdio;
//! let child = SelfChild::spawn(["--role", "echo"], Stdio::piped())?;
//! let out = child.wait()?;
//! assert!(out.status.success());
//! # Ok::<(), std::io::Error>(())
//! ```

use std::ffi::OsStr;
use std::io;
use std::process::{Child, Command, ExitStatus, Output, Stdio};

/// A child process running `current_exe()`; killed and reaped when dropped unless
/// [`wait`](SelfChild::wait)ed for.
#[derive(Debug)]
pub struct SelfChild {
    child: Option<Child>,
}

impl SelfChild {
    /// Starts this program with `args`: standard input from `/dev/null`, standard output as
    /// `stdout` says (`Stdio::piped()` to read what the child reports, from
    /// [`wait`](SelfChild::wait)), standard error shared with this process.
    ///
    /// # Errors
    /// The program's path cannot be found, or the process cannot be started.
    pub fn spawn<I, S>(args: I, stdout: Stdio) -> io::Result<SelfChild>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let child = Command::new(std::env::current_exe()?)
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .spawn()?;
        Ok(SelfChild { child: Some(child) })
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Its status if it has exited, without waiting (and without reaping it twice).
    ///
    /// # Errors
    /// The `waitpid(2)` error.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(c) => c.try_wait(),
            None => Ok(None),
        }
    }

    /// Waits for it to exit: its status and (if piped) everything it wrote on standard output.
    /// A status other than success is for the caller to judge.
    ///
    /// # Errors
    /// The `waitpid(2)` or pipe read error.
    pub fn wait(mut self) -> io::Result<Output> {
        self.child
            .take()
            .expect("a SelfChild holds its child until waited for")
            .wait_with_output()
    }
}

impl Drop for SelfChild {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Our own child, by its pid: stop it if it is still running, and reap it.
            if c.try_wait().ok().flatten().is_none() {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn runs_this_program_and_reads_its_output() {
        // The test binary itself: `--list` prints the tests and exits.
        let out = SelfChild::spawn(["--list"], Stdio::piped())
            .unwrap()
            .wait()
            .unwrap();
        assert!(out.status.success());
        let listing = String::from_utf8(out.stdout).unwrap();
        assert!(listing.contains("child::tests::sleeper"), "{listing}");
    }

    #[test]
    fn a_dropped_child_is_killed_and_reaped() {
        let mut c = SelfChild::spawn(
            ["--exact", "child::tests::sleeper", "--ignored"],
            Stdio::null(),
        )
        .unwrap();
        let pid = c.id();
        std::thread::sleep(Duration::from_millis(50));
        assert!(c.try_wait().unwrap().is_none(), "still running");
        drop(c);
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "no process, not even a zombie"
        );
    }

    /// Run as a child by the test above.
    #[test]
    #[ignore = "a child role"]
    fn sleeper() {
        std::thread::sleep(Duration::from_secs(60));
    }
}
