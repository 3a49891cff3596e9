//! The README's C example is `examples/c/hello.c` (which CI builds through pkg-config and runs).

#[test]
fn the_readme_c_example_is_hello_c() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let sec = &readme[readme
        .find("## From C and C++")
        .expect("the README's C section")..];
    let start = sec.find("```c\n").expect("a C block") + 5;
    let block = &sec[start..start + sec[start..].find("```").unwrap()];
    let hello = std::fs::read_to_string(format!("{root}/examples/c/hello.c")).unwrap();
    assert_eq!(
        block, hello,
        "README's C example must be examples/c/hello.c verbatim"
    );
}
