//! The `mmring` command-line tool (being built: see issue 7).

fn main() {
    eprintln!("mmring: not built yet");
    std::process::exit(2);
}
