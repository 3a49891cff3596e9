//! Cross-process benchmark (being built: see issue 6).

fn main() {
    eprintln!("mmring-bench: not built yet");
    std::process::exit(2);
}
