#!/usr/bin/env bash
# The Zenoh bridge (crates/mmring-zenoh): zenoh stays out of the core's and the CLI's
# dependency trees, the bridge builds, its tests pass (the network-namespace test included when
# this machine lets it create namespaces: root and `ip`), and its benchmark runs as a smoke.
# Called from .ci/run; runs alone too. Prints the time of each phase.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
start_all=$SECONDS

phase() {
    local name=$1
    shift
    echo
    echo "=== zenoh: $name"
    local start=$SECONDS
    "$@"
    echo "=== zenoh: $name: ok in $((SECONDS - start)) s"
}

no_zenoh_in() {
    local n
    n=$(cargo tree -p "$1" --prefix none --format '{p}' | grep -c '^zenoh' || true)
    if [ "$n" != 0 ]; then
        echo "$1 depends on zenoh ($n crates): only mmring-zenoh may"
        return 1
    fi
    echo "$1: no zenoh crate in its dependency tree"
}

tests() {
    local log rc=0
    log=$(mktemp)
    cargo test -p mmring-zenoh -- --nocapture >"$log" 2>&1 || rc=$?
    grep -E '^(test |netns:)|test result|panicked' "$log" || true
    if [ "$rc" != 0 ]; then
        echo "--- last lines of the test output:"
        tail -n 80 "$log"
    fi
    if grep -q 'netns: skipped' "$log"; then
        echo "NOTE: the network-namespace test was skipped: $(grep 'netns: skipped' "$log")"
    fi
    rm -f "$log"
    return "$rc"
}

phase "dependency trees" bash -c "$(declare -f no_zenoh_in); no_zenoh_in mmring-core && no_zenoh_in mmring && no_zenoh_in mmring-cli"
phase "build" cargo build -p mmring-zenoh --all-targets
phase "tests" tests
# The benchmark binary without --bench: a hundredth of the messages, in the test profile.
phase "bench smoke" cargo test -p mmring-zenoh --bench bridge
echo
echo "=== zenoh: all phases passed in $((SECONDS - start_all)) s"
