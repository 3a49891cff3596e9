#!/usr/bin/env bash
# The `tokio` feature: lints and tests with it on (the async module's doc examples, the
# process, kill, cancellation and idle-reader tests, the async examples), and a check that the
# default build does not depend on tokio.
set -euo pipefail
cd "$(dirname "$0")/.."

for pkg in mmring mmring-core mmring-cli; do
    if cargo tree -p "$pkg" -e normal --prefix none | grep -q '^tokio '; then
        echo "the default build of $pkg depends on tokio" >&2
        exit 1
    fi
done
cargo clippy -p mmring-core -p mmring --all-targets --features tokio -- -D warnings
# The bench's event-loop transports (mmring-readiness, mmring-tokio, tokio-unix-socket).
cargo clippy -p mmring-bench --no-default-features --features tokio -- -D warnings
cargo test -p mmring-core --features tokio --doc tokio
cargo test -p mmring --features tokio --test async
echo "async: ok"
