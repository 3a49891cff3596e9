//! The C classic `struct Data { int a; char b[64]; }`, passed as a plain-old-data message.
//!
//! ```text
//! cargo run --example pod
//! ```
//!
//! A C program reading the same ring sees exactly this layout (see `docs/FORMAT.md`).

use bytemuck::{Pod, Zeroable};
use mmring::fork::{fork_writer_parent, Forked};

/// The same bytes as the C `struct Data { int a; char b[64]; }`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Data {
    a: i32,
    b: [u8; 64],
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (writer, reader) = mmring::anonymous(64 * 1024)?;
    // SAFETY: single-threaded here; the child only receives, prints and exits.
    match unsafe { fork_writer_parent(writer, reader) }? {
        Forked::Parent { end: mut w, child } => {
            for a in 0..3 {
                let mut d = Data { a, b: [0; 64] };
                let text = format!("hello #{a} from pid {}", std::process::id());
                d.b[..text.len()].copy_from_slice(text.as_bytes());
                w.send_pod(&d)?;
            }
            drop(w); // detach: the child's recv returns Disconnected after the last message
            nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None)?;
        }
        Forked::Child { end: mut r } => {
            loop {
                match r.recv_pod::<Data>() {
                    Ok(d) => {
                        let end = d.b.iter().position(|&c| c == 0).unwrap_or(64);
                        println!(
                            "child got a={} b={:?}",
                            d.a,
                            String::from_utf8_lossy(&d.b[..end])
                        );
                    }
                    Err(mmring::RecvError::Disconnected) => break,
                    Err(e) => {
                        eprintln!("child: {e}");
                        std::process::exit(1);
                    }
                }
            }
            std::process::exit(0);
        }
    }
    Ok(())
}
