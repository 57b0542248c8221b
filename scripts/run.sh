#!/usr/bin/env bash
# Builds everything (web UI included) and starts Glidepath on an embedded SQLite database
# (glidepath.db in the current folder). Extra arguments go to `glidepath serve`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build-frontend.sh"
cargo build --release --manifest-path "$root/Cargo.toml" -p server
exec "$root/target/release/glidepath" serve "$@"
