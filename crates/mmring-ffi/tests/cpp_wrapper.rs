//! The header-only C++ wrapper (`include/mmring.hpp`), compiled with g++ -std=c++20 under
//! AddressSanitizer + UndefinedBehaviorSanitizer and run (`tests/cpp/wrapper.cpp`).

mod common;

use common::{assert_success, command, lib_dir, root, SANITIZE};
use std::process::Command;

#[test]
fn the_cpp_wrapper_works_under_asan_and_ubsan() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("wrapper");
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let out = Command::new(&cxx)
        .args(["-std=c++20", "-Wall", "-Wextra", "-Werror"])
        .args(SANITIZE)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-o")
        .arg(&exe)
        .arg(root().join("crates/mmring-ffi/tests/cpp/wrapper.cpp"))
        .arg(lib_dir().join("libmmring.a"))
        .args(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"])
        .output()
        .expect("a C++ compiler (c++) is needed for this test");
    assert!(
        out.status.success(),
        "{cxx} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = command(&exe).arg(dir.path()).output().unwrap();
    assert_success("wrapper", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.trim_end().ends_with(" passed, 0 failed"), "{stdout}");
}
