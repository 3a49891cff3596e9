//! The classic: a parent creates an anonymous shared ring, forks, writes; the child reads and
//! prints; the parent waits for the child.
//!
//! ```text
//! cargo run --example fork
//! ```

use mmring::fork::{fork_writer_parent, Forked};
use mmring::RecvError;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Create the ring before forking (and before any thread exists).
    let (writer, reader) = mmring::anonymous(64 * 1024)?;
    // SAFETY: this program is single-threaded (checked again inside), and the child only uses
    // its ring end, prints and exits.
    match unsafe { fork_writer_parent(writer, reader) }? {
        Forked::Parent { end: mut w, child } => {
            for i in 0..5 {
                w.send(
                    format!("message {i} from the parent (pid {})", std::process::id()).as_bytes(),
                )?;
            }
            drop(w);
            let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None)?;
            println!("parent: child finished: {status:?}");
        }
        Forked::Child { end: mut r } => {
            let code = loop {
                match r.recv() {
                    Ok(m) => println!(
                        "child (pid {}): {}",
                        std::process::id(),
                        String::from_utf8_lossy(&m)
                    ),
                    Err(RecvError::Disconnected) => break 0,
                    Err(e) => {
                        eprintln!("child: {e}");
                        break 1;
                    }
                }
            };
            std::process::exit(code);
        }
    }
    Ok(())
}
