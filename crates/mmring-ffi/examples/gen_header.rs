//! Regenerates `include/mmring.h` from this crate's sources, or checks it:
//!
//! ```text
//! cargo run -p mmring-ffi --example gen_header            # rewrite include/mmring.h
//! cargo run -p mmring-ffi --example gen_header -- --check # exit 1 if it is stale
//! ```

#[path = "../gen/header.rs"]
mod header;

use std::process::ExitCode;

fn main() -> ExitCode {
    let fresh = header::generate();
    let path = header::header_path();
    let check = std::env::args().any(|a| a == "--check");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == fresh {
        println!("{}: up to date", path.display());
        return ExitCode::SUCCESS;
    }
    if check {
        eprintln!(
            "{}: differs from a fresh generation; run `cargo run -p mmring-ffi --example gen_header`",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    if let Err(e) = std::fs::write(&path, fresh) {
        eprintln!("{}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("{}: written", path.display());
    ExitCode::SUCCESS
}
