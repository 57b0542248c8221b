#!/usr/bin/env bash
# Builds the release server and the benchmark, then runs the benchmark.
# Arguments go to glidepath-bench (see `scripts/bench.sh --help`), e.g.
#   scripts/bench.sh --events 20000 --concurrency 32 --markdown
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cargo build --release -p server -p glidepath-bench

target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/glidepath-bench" --bin "$target_dir/release/glidepath" "$@"
