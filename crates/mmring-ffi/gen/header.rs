//! Generates `include/mmring.h` from the crate's sources with cbindgen (shared by the example
//! `gen_header`, which writes it, and the test `header`, which compares it).

use std::path::PathBuf;

/// The crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed header.
pub fn header_path() -> PathBuf {
    crate_dir().join("../../include/mmring.h")
}

/// A fresh generation of the header.
pub fn generate() -> String {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen could not generate the header")
        .write(&mut out);
    let text = String::from_utf8(out).expect("cbindgen writes UTF-8");
    // Keep the text independent of where the repository is checked out.
    assert!(!text.contains(dir.to_str().unwrap_or("\u{0}")));
    text
}
