#!/usr/bin/env bash
# Builds the web UI into frontend/dist: the wasm32 target and the wasm-bindgen CLI of the version
# in Cargo.lock are installed when missing. The server embeds frontend/dist when it is compiled.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "installing wasm-bindgen-cli $want (a few minutes, once)" >&2
  # No --locked: its lock file wants a crate release the registry may lack. No default features:
  # they only add TLS to its test runner, which this project does not use. The lint settings of
  # scripts/test.sh are for this workspace, not for the tool.
  env -u RUSTC_WORKSPACE_WRAPPER -u RUSTFLAGS \
    cargo install wasm-bindgen-cli --version "$want" --no-default-features
fi

cargo build -p frontend --target wasm32-unknown-unknown --profile wasm-release
rm -rf frontend/dist.new
mkdir -p frontend/dist.new
wasm-bindgen --target web --no-typescript --out-dir frontend/dist.new \
  target/wasm32-unknown-unknown/wasm-release/frontend.wasm
cp frontend/index.html frontend/boot.js frontend/style.css frontend/dist.new/
rm -rf frontend/dist
mv frontend/dist.new frontend/dist
echo "frontend built: $(du -sh frontend/dist | cut -f1) in frontend/dist" >&2
