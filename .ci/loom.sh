#!/usr/bin/env bash
# Model-checks the ring protocol with loom, then proves the check can fail.
#
# Phase 1 runs crates/mmring-core/tests/loom.rs under `--cfg loom`: it must pass.
# Phase 2 runs the same suite under `--cfg loom --cfg mmring_mutant`, which weakens the Release
# store that commits a record header word to Relaxed (see crates/mmring-core/src/sync.rs): it
# must fail, and fail because loom reports a causality violation (an unordered access to the
# ring's data cells) or, for the models' untethered readers, a torn message it delivered
# as intact, not because of a build error or another value mismatch. This script exits
# non-zero if phase 1 fails, or if phase 2 passes or fails for another reason.
#
# Environment: LOOM_MAX_PREEMPTIONS, if set, bounds the preemptions loom explores per execution
# in every test; unset, each test uses its own bound (3, or 2 for the two multi-lap models; see
# tests/loom.rs), which runs in about a minute on 2 cores. LOOM_TARGET_DIR (default
# target/loom) is where both builds go, in two subdirectories, so neither thrashes the other
# nor the normal build. The loom builds skip debug info (loom names source locations itself,
# see LOOM_LOCATION below), which makes them build faster.
set -euo pipefail
cd "$(dirname "$0")/.."

bound="${LOOM_MAX_PREEMPTIONS:-per test: 3, or 2 for the multi-lap models}"
export CARGO_PROFILE_RELEASE_DEBUG="${CARGO_PROFILE_RELEASE_DEBUG:-0}"
target="${LOOM_TARGET_DIR:-$PWD/target/loom}"
log="$target/mutant.log"
mkdir -p "$target"

echo "== loom 1/2: protocol suite, --cfg loom, preemption bound $bound (must pass)"
start=$SECONDS
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$target/normal" \
    cargo test -p mmring-core --release --test loom
echo "== loom 1/2: passed in $((SECONDS - start)) s"

echo "== loom 2/2: same suite, --cfg loom --cfg mmring_mutant (record-header commit store Relaxed; must fail)"
start=$SECONDS
# LOOM_LOCATION=1: each violation names the source lines of the two conflicting accesses.
if LOOM_LOCATION=1 RUSTFLAGS="--cfg loom --cfg mmring_mutant" CARGO_TARGET_DIR="$target/mutant" \
    cargo test -p mmring-core --release --test loom --no-fail-fast >"$log" 2>&1; then
    echo "FAIL: the loom suite passed with the mutant; it cannot see the bug it exists for." >&2
    echo "      (full output: $log)" >&2
    exit 1
fi
if ! grep -q '^running [0-9]* tests' "$log"; then
    echo "FAIL: the mutant run failed before running any test (output follows)." >&2
    cat "$log" >&2
    exit 1
fi
failed=$(grep -E '^test .* \.\.\. FAILED$' "$log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/' || true)
nfailed=$(printf '%s' "$failed" | grep -c . || true)
# A tethered read of unordered payload cells is a loom causality violation; an untethered
# reader reads through atomics (its seqlock), so there the weakened commit shows as a torn
# message that the reader failed to reject, which the untethered models report by name.
violations=$(grep -c -e 'Causality violation' -e 'not an intact message in order' "$log" || true)
if [ "$nfailed" -eq 0 ] || [ "$violations" -lt "$nfailed" ]; then
    echo "FAIL: the mutant run failed, but not every failure is a loom causality violation" \
        "($nfailed tests failed, $violations violations; output follows)." >&2
    cat "$log" >&2
    exit 1
fi
echo "== loom 2/2: mutant rejected in $((SECONDS - start)) s, as required:" \
    "$nfailed tests failed, each with a loom causality violation:"
echo "$failed" | sed 's/^/   - /'
echo "   first report:"
grep -A3 -m1 'Causality violation' "$log" | sed 's/^/   | /'
echo "   (full mutant output: $log)"
