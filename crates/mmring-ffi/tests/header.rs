//! `include/mmring.h` is what cbindgen generates from the sources now: a change to the C API
//! that was not followed by `cargo run -p mmring-ffi --example gen_header` fails here.

#[path = "../gen/header.rs"]
mod header;

#[test]
fn the_committed_header_is_a_fresh_generation() {
    let fresh = header::generate();
    let path = header::header_path();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .map_or(committed.lines().count().min(fresh.lines().count()), |i| i);
        panic!(
            "{} differs from a fresh generation (first at line {}); run \
             `cargo run -p mmring-ffi --example gen_header` and commit the result",
            path.display(),
            line + 1
        );
    }
}
