#!/usr/bin/env bash
# Build the npm package into pkg/:
#   Rust -> wasm32 -> wasm-bindgen (web target) -> wasm-opt -Oz -> pkg-template overlay.
# Idempotent: the package is assembled from scratch in a staging directory on
# every run and then swapped in for pkg/. Concurrent runs wait for each other.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

TARGET=wasm32-unknown-unknown
CRATE_WASM="target/$TARGET/release/edge_session.wasm"
OUT_DIR=pkg
STAGE=target/pkg-staging
OUT_NAME=edge_session
WASM_OPT=node_modules/.bin/wasm-opt

die() { echo "build-pkg: error: $*" >&2; exit 1; }
step() { echo "==> $*"; }

# --- preflight -------------------------------------------------------------
[ -x "$WASM_OPT" ] || die "$WASM_OPT not found (run 'make setup-node' / 'npm ci')"
[ -d pkg-template ] || die "pkg-template/ is missing"
command -v wasm-bindgen >/dev/null 2>&1 || die "wasm-bindgen CLI not on PATH (run 'make setup-wasm-bindgen')"

want="$(scripts/wasm-bindgen-version.sh)"  # creates Cargo.lock if missing
have="$(wasm-bindgen --version | awk '{print $2}')"
[ "$want" = "$have" ] ||
  die "wasm-bindgen CLI is ${have:-unknown} but Cargo.lock pins wasm-bindgen $want (run 'make setup-wasm-bindgen')"

# One build at a time (a second `make build` waits here instead of racing on pkg/).
mkdir -p target
exec 9>target/.build-pkg.lock
flock 9

# --- compile ---------------------------------------------------------------
# wasm-bindgen reads the module's `target_features` section to decide whether
# it may use reference types / multi-value in the glue; `strip = true` in the
# release profile deletes that section (wasm-bindgen then warns and falls back
# to the MVP ABI). Strip only debug info here: wasm-opt removes the rest below.
export CARGO_PROFILE_RELEASE_STRIP="${CARGO_PROFILE_RELEASE_STRIP:-debuginfo}"

# Two modules from one crate: the one every runtime loads for sessions (feature `wasm`), and the
# operator CLI's `inspectEnvelope` (feature `wasm-inspect`), which only `edge-session inspect`
# loads. Each build leaves its module at the same path; it is bound before the next build.
rm -rf "$STAGE"
bind() { # FEATURE OUT_NAME
  step "cargo build (release, $TARGET, --features $1)"
  cargo build --release --target "$TARGET" --features "$1" --lib
  [ -f "$CRATE_WASM" ] || die "expected $CRATE_WASM after cargo build"
  step "wasm-bindgen $have --target web --out-name $2"
  wasm-bindgen --target web --out-dir "$STAGE" --out-name "$2" "$CRATE_WASM"
}

# rustc's wasm32-unknown-unknown target enables bulk-memory, reference-types,
# multivalue, sign-ext, nontrapping-float-to-int and mutable-globals by
# default; wasm-opt rejects the module unless those are allowed. We enable
# exactly that set (not --all-features) so wasm-opt cannot introduce features
# such as GC, SIMD or threads.
optimise() { # OUT_NAME
  local wasm="$STAGE/${1}_bg.wasm"
  step "wasm-opt -Oz ${1}_bg.wasm"
  "$WASM_OPT" -Oz \
    --enable-bulk-memory \
    --enable-reference-types \
    --enable-multivalue \
    --enable-sign-ext \
    --enable-nontrapping-float-to-int \
    --enable-mutable-globals \
    --strip-debug --strip-producers --strip-target-features \
    -o "$wasm.opt" "$wasm"
  mv "$wasm.opt" "$wasm"
}

bind wasm "$OUT_NAME"
pre_opt=$(wc -c <"$STAGE/${OUT_NAME}_bg.wasm")
optimise "$OUT_NAME"
bind wasm-inspect "${OUT_NAME}_inspect"
optimise "${OUT_NAME}_inspect"
# The CLI imports the inspect module's glue only; its typings are not part of the package.
rm -f "$STAGE/${OUT_NAME}_inspect.d.ts" "$STAGE/${OUT_NAME}_inspect_bg.wasm.d.ts"

# --- overlay the hand-written JS layer --------------------------------------
# pkg-template/ wins over anything wasm-bindgen generated with the same name;
# wasm-bindgen's own package.json and .gitignore are never shipped.
step "overlay pkg-template/"
rm -f "$STAGE/package.json" "$STAGE/.gitignore"
cp -R pkg-template/. "$STAGE/"
[ -f "$STAGE/package.json" ] || echo "build-pkg: warning: pkg-template/ has no package.json" >&2

# The licence texts (package.json "license": "MIT OR Apache-2.0") ship with the package.
# npm only adds LICENSE / LICENSE.* by itself, so these are also listed in its "files".
for f in LICENSE-MIT LICENSE-APACHE; do
  [ -f "$f" ] || die "$f is missing at the repository root"
  cp "$f" "$STAGE/$f"
done

# --- publish into pkg/ ------------------------------------------------------
rm -rf "$OUT_DIR"
mv "$STAGE" "$OUT_DIR"

raw=$(wc -c <"$OUT_DIR/${OUT_NAME}_bg.wasm")
gz=$(gzip -9 -c "$OUT_DIR/${OUT_NAME}_bg.wasm" | wc -c)
step "done: $OUT_DIR/"
ls -l "$OUT_DIR"
printf 'wasm size: %s bytes raw (%s before wasm-opt), %s bytes gzip -9\n' "$raw" "$pre_opt" "$gz"
printf 'inspect module (CLI only): %s bytes raw, %s bytes gzip -9\n' \
  "$(wc -c <"$OUT_DIR/${OUT_NAME}_inspect_bg.wasm")" "$(gzip -9 -c "$OUT_DIR/${OUT_NAME}_inspect_bg.wasm" | wc -c)"
