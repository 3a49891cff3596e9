#!/usr/bin/env bash
# CI of the C ABI (crates/mmring-ffi), run from .ci/run: builds the release library, checks
# that include/mmring.h is a fresh cbindgen generation, builds the C examples with the
# documented pair of commands, pairs the C and Rust writer/reader examples in all four ways
# (MMRING_FFI_COUNT messages, a million by default) comparing their checksum lines, installs
# the library into a temporary prefix and builds examples/c/hello.c through pkg-config, and
# runs the crate's tests (every C error path plain and under ASan+UBSan, the C++ wrapper, the
# C examples against the library). Needs only cargo, a C and C++ compiler, make and pkg-config;
# cbindgen is a dev-dependency (a library), not an installed binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
count="${MMRING_FFI_COUNT:-1000000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step() {
    local name=$1
    shift
    echo "--- ffi: $name"
    local start=$SECONDS
    "$@"
    echo "--- ffi: $name: ok in $((SECONDS - start)) s"
}

# The documented pair of commands.
build() {
    cargo build --release -p mmring-ffi
    make -C examples/c
    cargo build --release --example writer --example reader
}

header() {
    cargo run -p mmring-ffi --example gen_header -- --check
}

# Runs `reader` and `writer` on one fresh ring, started together (each creates the ring if it
# is missing, either may come first); their checksum lines must agree with each other and with
# the first pairing's.
expected=""
pair() {
    local writer=$1 reader=$2 ring="$work/ring-$RANDOM"
    local start=$SECONDS
    "$reader" "$ring" "$count" > "$work/reader.out" &
    local rpid=$!
    "$writer" "$ring" "$count" > "$work/writer.out"
    wait "$rpid"
    local sent received
    sent="$(tail -n 1 "$work/writer.out")"
    received="$(tail -n 1 "$work/reader.out")"
    echo "$writer -> $reader ($((SECONDS - start)) s): $sent | $received"
    [[ "${sent#sent=}" == "${received#received=}" ]] || { echo "checksum lines differ" >&2; return 1; }
    [[ -z "$expected" || "$expected" == "${sent#sent=}" ]] || { echo "pairings disagree" >&2; return 1; }
    expected="${sent#sent=}"
    rm -f "$ring"
}

pairings() {
    local c=examples/c rust=target/release/examples
    pair "$c/writer" "$c/reader"
    pair "$rust/writer" "$c/reader"
    pair "$c/writer" "$rust/reader"
    pair "$rust/writer" "$rust/reader"
}

pkgconfig() {
    local prefix="$work/prefix"
    crates/mmring-ffi/install.sh "$prefix"
    if ! command -v pkg-config > /dev/null; then
        echo "pkg-config is not installed: checking the installed files only"
        test -f "$prefix/lib/pkgconfig/mmring.pc" -a -f "$prefix/include/mmring.h"
        return
    fi
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Wextra -Werror -o "$work/hello" examples/c/hello.c \
        $(pkg-config --cflags --libs mmring)
    [[ "$(cd "$work" && LD_LIBRARY_PATH="$prefix/lib" ./hello)" == hello ]]
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Wextra -Werror -o "$work/hello-static" examples/c/hello.c \
        $(pkg-config --cflags mmring) "$prefix/lib/libmmring.a" \
        $(pkg-config --libs-only-l --static mmring | sed 's/-lmmring//')
    [[ "$(cd "$work" && ./hello-static)" == hello ]]
}

tests() {
    cargo test -p mmring-ffi
}

step "build (cargo build --release -p mmring-ffi; make -C examples/c)" build
step "header is a fresh cbindgen generation" header
step "C/Rust pairings, $count messages each" pairings
step "install + pkg-config" pkgconfig
step "tests (C error paths, sanitizers, C++ wrapper)" tests
echo "ffi: all steps passed in $SECONDS s"
