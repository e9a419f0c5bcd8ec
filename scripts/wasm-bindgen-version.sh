#!/usr/bin/env bash
# Print the wasm-bindgen crate version pinned in Cargo.lock (e.g. 0.2.130).
# Generates Cargo.lock first if it is missing (Cargo.lock is committed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

[ -f Cargo.lock ] || cargo generate-lockfile >&2

ver="$(awk '
  /^\[\[package\]\]/ { in_wb = 0 }
  /^name = "wasm-bindgen"$/ { in_wb = 1; next }
  in_wb && /^version = / { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock)"

[ -n "$ver" ] || { echo "wasm-bindgen-version: no wasm-bindgen package in Cargo.lock" >&2; exit 1; }
echo "$ver"
