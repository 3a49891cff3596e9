//! Every error path of the C API, from C (`tests/c/errors.c`), built plain and under
//! AddressSanitizer + UndefinedBehaviorSanitizer: the program must report no failed check and
//! the sanitizers nothing (any report is fatal and changes the exit status).

mod common;

use common::{assert_success, command, compile, PLAIN, SANITIZE};
use std::path::Path;

fn run_errors(flags: &[&str], name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join(name);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/errors.c");
    compile(&exe, &[&src], &[], flags);
    let rings = dir.path().join("rings");
    std::fs::create_dir(&rings).unwrap();
    let out = command(&exe).arg(&rings).output().unwrap();
    assert_success(name, &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(" passed, 0 failed") && !last.starts_with("0 passed"),
        "unexpected summary {last:?}\n{stdout}"
    );
    println!("{name}: {last}");
}

#[test]
fn every_error_path_from_c() {
    run_errors(PLAIN, "errors");
}

#[test]
fn every_error_path_from_c_under_asan_and_ubsan() {
    run_errors(SANITIZE, "errors_san");
}
