#!/usr/bin/env bash
# Installs the C library built by `cargo build --release -p mmring-ffi` under PREFIX:
#   PREFIX/include/mmring.h, mmring.hpp
#   PREFIX/lib/libmmring.so, libmmring.a
#   PREFIX/lib/pkgconfig/mmring.pc   (from mmring.pc.in)
# Usage: crates/mmring-ffi/install.sh [PREFIX]   (default /usr/local; PROFILE=release)
# Then: cc app.c $(pkg-config --cflags --libs mmring)            (shared)
#   or: cc app.c $(pkg-config --cflags --libs --static mmring)   (needs only the .a at link)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
prefix="${1:-/usr/local}"
profile="${PROFILE:-release}"
lib="${CARGO_TARGET_DIR:-$root/target}/$profile"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
for f in libmmring.so libmmring.a; do
    [[ -f "$lib/$f" ]] || { echo "$lib/$f is missing: run 'cargo build --$profile -p mmring-ffi'" >&2; exit 1; }
done
install -d "$prefix/include" "$prefix/lib/pkgconfig"
install -m 0644 "$root/include/mmring.h" "$root/include/mmring.hpp" "$prefix/include/"
install -m 0755 "$lib/libmmring.so" "$prefix/lib/"
install -m 0644 "$lib/libmmring.a" "$prefix/lib/"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" "$root/crates/mmring-ffi/mmring.pc.in" \
    > "$prefix/lib/pkgconfig/mmring.pc"
echo "installed mmring $version under $prefix"
