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

step "formatting"
cargo fmt --all -- --check

# Clippy lints the workspace's own crates while they compile: clippy-driver stands in for rustc
# for workspace members (RUSTC_WORKSPACE_WRAPPER, the mechanism `cargo clippy` itself uses), and
# `-D warnings` makes any rustc or clippy warning an error (dependencies are built with
# `--cap-lints allow`, so it does not reach them). This is `cargo clippy --all-targets -- -D
# warnings` for the host and for the wasm32 UI, without compiling every dependency a second time
# for a separate check pass.
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)"
export RUSTC_WORKSPACE_WRAPPER
export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"

step "web UI (wasm), linted"
scripts/build-frontend.sh

step "build and lint every target"
# One build for the binary, the tests and the tools: `--workspace --all-targets` resolves the
# dependencies' features exactly as the test runs below do, so they compile nothing again.
cargo build --workspace --exclude frontend --all-targets

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
  # The browser tests (ui_*) check the UI, not the database: they run in the SQLite pass only.
  if cargo nextest --version >/dev/null 2>&1; then
    # The same package selection as the build, so that nothing compiles again.
    GLIDEPATH_TEST_DB=postgres run_tests --workspace --exclude frontend \
      -E 'package(glidepath-tests) and not binary(/^ui_/)'
  else
    GLIDEPATH_TEST_DB=postgres run_tests -p glidepath-tests \
      $(for f in tests/tests/*.rs; do n=$(basename "$f" .rs); case "$n" in ui_*) ;; *) echo "--test $n" ;; esac; done)
  fi
fi

step "all checks and tests passed"
