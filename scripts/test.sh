#!/usr/bin/env bash
# Runs every check and test: formatting, lints, unit tests, then the black-box suite against the
# real binary on SQLite and again on PostgreSQL.
#
# PostgreSQL: GLIDEPATH_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test); each
# test creates and drops its own database there. GLIDEPATH_TEST_SKIP_POSTGRES=1 skips that pass
# (for a machine without PostgreSQL; CI never sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step() { printf '\n==> %s (at %ds)\n' "$*" "$((SECONDS - started))"; }

step "web UI (wasm)"
scripts/build-frontend.sh

step "formatting"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --exclude frontend --all-targets -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

step "build"
cargo build -p server --bin glidepath

if cargo nextest --version >/dev/null 2>&1; then
  run_tests() { cargo nextest run --no-fail-fast "$@"; }
else
  run_tests() { cargo test --no-fail-fast "$@"; }
fi

step "tests on SQLite"
GLIDEPATH_TEST_DB=sqlite run_tests --workspace --exclude frontend

if [ "${GLIDEPATH_TEST_SKIP_POSTGRES:-0}" = "1" ]; then
  step "tests on PostgreSQL: skipped (GLIDEPATH_TEST_SKIP_POSTGRES=1)"
else
  step "tests on PostgreSQL"
  GLIDEPATH_TEST_DB=postgres run_tests -p glidepath-tests
fi

step "all checks and tests passed"
