//! Building and running C programs against the library cargo built for these tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The flags of a sanitizer build: AddressSanitizer (with LeakSanitizer) and
/// UndefinedBehaviorSanitizer, any report fatal.
pub const SANITIZE: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    "-O1",
    "-g",
];

/// A plain optimised build.
pub const PLAIN: &[&str] = &["-O2", "-g"];

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory holding a `libmmring.a` built from the current sources.
///
/// Cargo does not build a package's staticlib for its integration tests (they link no library
/// of a package that has no rlib), so the tests build it, once per test binary, with a nested
/// `cargo build -p mmring-ffi` into a target directory of their own (`<target>/ffi-tests`: the
/// outer cargo holds the lock of its own). A no-op when it is fresh.
pub fn lib_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's own path");
        // target/<profile>/deps/<test>
        let target = exe
            .ancestors()
            .nth(3)
            .expect("target/<profile>/deps/<test>")
            .join("ffi-tests");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(&cargo)
            .args(["build", "--quiet", "-p", "mmring-ffi", "--manifest-path"])
            .arg(root().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .output()
            .expect("cargo, to build libmmring for the C tests");
        assert!(
            out.status.success(),
            "cargo build -p mmring-ffi failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = target.join("debug");
        assert!(dir.join("libmmring.a").exists(), "{}", dir.display());
        dir
    })
    .clone()
}

/// The native libraries a Rust staticlib needs (`--print native-static-libs`).
const NATIVE: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// Compiles `sources` (with `include/` and `extra_include` on the include path) into `exe`,
/// linked statically against libmmring, with `flags`. Panics with the compiler's output on
/// failure.
pub fn compile(exe: &Path, sources: &[&Path], extra_include: &[&Path], flags: &[&str]) {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args(["-std=gnu11", "-Wall", "-Wextra", "-Werror"])
        .args(flags)
        .arg("-I")
        .arg(root().join("include"));
    for dir in extra_include {
        cmd.arg("-I").arg(dir);
    }
    let out = cmd
        .arg("-o")
        .arg(exe)
        .args(sources)
        .arg(lib_dir().join("libmmring.a"))
        .args(NATIVE)
        .output()
        .expect("a C compiler (cc) is needed for this test");
    assert!(
        out.status.success(),
        "{cc} {flags:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A command for `exe` with the sanitizers' options set (fatal reports, leak checking).
pub fn command(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env(
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=0:exitcode=86",
    )
    .env(
        "UBSAN_OPTIONS",
        "print_stacktrace=1:halt_on_error=1:exitcode=87",
    );
    cmd
}

/// Panics with everything the program printed unless it exited 0.
pub fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The stream's C code: the one ```c block of its specification, as `stream.h` in `dir`.
pub fn stream_header(dir: &Path) {
    let doc = std::fs::read_to_string(root().join("crates/mmring-testkit/src/stream.md")).unwrap();
    let start = doc.find("```c\n").expect("a ```c block in stream.md") + 5;
    let len = doc[start..].find("```").expect("the end of the ```c block");
    std::fs::write(dir.join("stream.h"), &doc[start..start + len]).unwrap();
}
