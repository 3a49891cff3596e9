#!/usr/bin/env bash
# Builds the cross-process benchmarks (stable, default features: iceoryx2 and shmring; shaq
# needs nightly and is left out) and the criterion micro benchmarks, then runs a seconds-long
# smoke of the comparison and of the fan-out benchmark. It fails only if a bench itself fails
# (a sequence check, a lost message, a peer that never connects, a crash), never on timing: no
# figure is compared with anything here.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p mmring-bench
cargo bench --bench ring --no-run

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cargo run --release -p mmring-bench --bin mmring-bench -- --quick --svg "$out/bench.svg" --json "$out/bench.json"
test -s "$out/bench.svg"
test -s "$out/bench.json"
# Fan-out: one writer and 1, 2, 3 reader processes (fails on any lost or misnumbered message).
cargo run --release -p mmring-bench --bin mmring-fanout-bench -- --quick --json "$out/fanout.json"
test -s "$out/fanout.json"
echo "bench smoke: ok"
