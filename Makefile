# edge-session — the front door for building, linting, testing and the demo.
#
# Every target installs what it needs first (idempotently: a check, then an
# install only when something is missing), so `make test` works on a fresh
# machine and costs almost nothing extra on a warm one.
#
#   make build      Rust -> wasm -> pkg/ (the npm package), plus .dev.vars
#   make test       lint, test-rust, test-fuzz, test-js, test-bench, test-e2e (in that order, fail fast)
#   make fuzz       every fuzz target for FUZZ_SECONDS (60) each, with a table of executions
#   make demo       build, then `wrangler dev` on http://127.0.0.1:8787
#   make bench      measure (a few minutes) and write BENCHMARKS.md
#   make help       list all targets

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Run targets strictly in the order listed (test must fail fast, in order).
.NOTPARALLEL:
MAKEFLAGS += --no-builtin-rules

# ---------------------------------------------------------------------------
# Environment shared by every target
# ---------------------------------------------------------------------------
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export WRANGLER_SEND_METRICS := false
export WRANGLER_SEND_ERROR_REPORTS := false
# Offline: don't fetch the Request.cf placeholder data from Cloudflare.
export CLOUDFLARE_CF_FETCH_ENABLED := false
export NO_UPDATE_NOTIFIER := 1
export npm_config_update_notifier := false
export npm_config_fund := false
export npm_config_audit := false
# Browser used by the e2e tests (playwright-core launches it, it never downloads one).
export CHROMIUM_PATH ?= /usr/bin/chromium

WASM_TARGET := wasm32-unknown-unknown
NODE_STAMP  := node_modules/.stamp
SUDO        := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help setup setup-rust setup-wasm-bindgen setup-node setup-chromium \
        build lint test-rust test-fuzz test-js test-bench test-e2e test fuzz demo bench clean distclean

# List the targets.
help:
	@echo "edge-session make targets:"
	@echo "  setup              all setup-* targets below"
	@echo "  setup-rust         rustup target $(WASM_TARGET) + clippy, rustfmt"
	@echo "  setup-wasm-bindgen wasm-bindgen-cli matching Cargo.lock"
	@echo "  setup-node         npm ci (when package-lock.json changed)"
	@echo "  setup-chromium     Debian chromium for the e2e tests"
	@echo "  build              build pkg/ (wasm + JS) and create .dev.vars"
	@echo "  lint               cargo fmt --check (crate and fuzz/), clippy (native and wasm32)"
	@echo "  test-rust          cargo test (native)"
	@echo "  test-fuzz          each fuzz target for $(FUZZ_SMOKE_SECONDS) s (smoke; installs nightly + cargo-fuzz)"
	@echo "  test-js            tsc (types) + node --test tests/*.test.mjs"
	@echo "  test-bench         the bench harness once in tiny mode (proves it works; no timings checked)"
	@echo "  test-e2e           node --test tests/e2e/*.test.mjs (chromium)"
	@echo "  test               lint, test-rust, test-fuzz, test-js, test-bench, test-e2e"
	@echo "  fuzz               each fuzz target for FUZZ_SECONDS=$(FUZZ_SECONDS) s; prints execs per target"
	@echo "  demo               build, then wrangler dev on http://127.0.0.1:8787"
	@echo "  bench              measure (a few minutes on 2 cores) and write BENCHMARKS.md"
	@echo "  soak               the demo under a checked load for SOAK_SECONDS=$(SOAK_SECONDS) s (not in test)"
	@echo "  clean              remove build outputs (pkg/, target/, .wrangler/)"
	@echo "  distclean          clean + node_modules/"

# ---------------------------------------------------------------------------
# Setup (each is a no-op when already satisfied)
# ---------------------------------------------------------------------------

# Everything a developer machine needs.
setup: setup-rust setup-wasm-bindgen setup-node setup-chromium

# wasm32 target plus the clippy and rustfmt components.
setup-rust:
	@command -v rustup >/dev/null || { echo "rustup is required (https://rustup.rs)" >&2; exit 1; }
	@rustup target list --installed | grep -qx '$(WASM_TARGET)' \
	  || rustup target add $(WASM_TARGET)
	@installed="$$(rustup component list --installed)"; \
	 for c in clippy rustfmt; do \
	   grep -q "^$$c" <<<"$$installed" || rustup component add $$c; \
	 done

# wasm-bindgen CLI whose version equals the wasm-bindgen crate in Cargo.lock.
setup-wasm-bindgen:
	@want="$$(scripts/wasm-bindgen-version.sh)"; \
	 have="$$(wasm-bindgen --version 2>/dev/null | awk '{print $$2}' || true)"; \
	 if [ "$$have" != "$$want" ]; then \
	   echo "installing wasm-bindgen-cli $$want (found: $${have:-none})"; \
	   cargo install wasm-bindgen-cli --version "$$want" --force; \
	 fi

# Node devDependencies from package-lock.json (wrangler, miniflare, playwright-core, binaryen).
setup-node: $(NODE_STAMP)
	@:

$(NODE_STAMP): package-lock.json package.json
	npm ci
	@touch $@

# Chromium from Debian for the browser tests.
setup-chromium:
	@if [ ! -x "$(CHROMIUM_PATH)" ]; then \
	   $(SUDO) apt-get update; \
	   $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	 fi

# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------

# pkg/ (wasm-bindgen output, wasm-opt'd, overlaid with pkg-template/) and .dev.vars.
build: setup-rust setup-wasm-bindgen setup-node
	scripts/build-pkg.sh
	node scripts/dev-vars.mjs

# ---------------------------------------------------------------------------
# Checks and tests
# ---------------------------------------------------------------------------

# The fuzz targets (fuzz/, cargo fuzz on nightly; fuzz/run.sh): the Cookie header parser,
# envelope decode + verify, the stored-value decoders, base64url against the base64 crate, and a
# stateful target checking the revocation invariants. Each runs on its working corpus
# (fuzz/corpus/<target>, ignored) plus the committed seeds (fuzz/seeds/<target>).
FUZZ_TARGETS       := cookie_header envelope stored_values base64url stateful
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 10
CARGO_FUZZ_VERSION := 0.13.2

# Nightly and cargo-fuzz, each installed only when missing.
define fuzz-setup
	@command -v rustup >/dev/null || { echo "rustup is required (https://rustup.rs)" >&2; exit 1; }
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@cargo +nightly fuzz --version >/dev/null 2>&1 \
	  || cargo install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked
endef

# Formatting and clippy, natively and for the wasm32 bindings.
lint: setup-rust
	cargo fmt --check
	cargo fmt --check --manifest-path fuzz/Cargo.toml
	cargo clippy --all-targets -- -D warnings
	cargo clippy --lib --features wasm --target $(WASM_TARGET) -- -D warnings
	cargo clippy --lib --features wasm-inspect --target $(WASM_TARGET) -- -D warnings

# Rust unit, integration and property tests (native).
test-rust:
	cargo test

# Each fuzz target for a short smoke (FUZZ_SMOKE_SECONDS), so a regression fails the suite.
test-fuzz:
	$(fuzz-setup)
	fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

# JS suites: the type declarations under tsc --strict, then pkg/ under workerd (miniflare), Node
# and, for the packed tarball's browser bundle (tests/install.test.mjs), Chromium. `node --test`
# through tests/js/run-node-tests.mjs, which runs a file again only if Node 20's V8 aborted it.
test-js: build setup-chromium
	tsc -p tests/types
	node tests/js/run-node-tests.mjs tests/*.test.mjs

# The benchmark harness once, tiny (BENCH_TINY=1: short loops, two reps): every part runs and
# every cookie is checked, no timing is judged; the report goes to target/bench/BENCHMARKS.tiny.md.
test-bench: build
	BENCH_TINY=1 node bench/run.mjs

# Browser end-to-end tests against the demo (one file at a time).
test-e2e: build setup-chromium
	node --test --test-concurrency=1 tests/e2e/*.test.mjs

# The full suite, in order, stopping at the first failure.
test: lint test-rust test-fuzz test-js test-bench test-e2e

# Fuzzing proper: each target for FUZZ_SECONDS (`make fuzz FUZZ_SECONDS=600`), then a table of
# executions per target. Crashes are kept in fuzz/artifacts/<target>/.
fuzz:
	$(fuzz-setup)
	fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# ---------------------------------------------------------------------------
# Demo
# ---------------------------------------------------------------------------

# Local wrangler dev server for www-demo/ (Ctrl-C to stop).
# `make demo ADMIN_TOKEN=<at least 32 characters>` also enables the /admin/* routes.
demo: build
	@token='$(ADMIN_TOKEN)'; if [ -n "$$token" ] && [ "$${#token}" -lt 32 ]; then \
	   echo "ADMIN_TOKEN must be at least 32 characters; make one with:" >&2; \
	   echo "  node -e \"console.log(require('node:crypto').randomBytes(32).toString('base64url'))\"" >&2; \
	   exit 1; \
	 fi
	@echo
	@echo "  edge-session demo: http://127.0.0.1:8787"
	@echo
	npx --no-install wrangler dev --ip 127.0.0.1 --port 8787 $(if $(ADMIN_TOKEN),--var ADMIN_TOKEN:$(ADMIN_TOKEN))

# ---------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------

# edge-session against WebCrypto, hono, jose and a bare wasm HMAC floor, in workerd and Node, plus
# the core natively, wasm size, cold start, demo throughput and memory (bench/run.mjs; it builds
# bench/floor and bench/native into target/bench). Writes BENCHMARKS.md; nothing is asserted.
bench: build
	node bench/run.mjs

# The demo (wrangler dev) under SOAK_SECONDS of autocannon load: valid, refreshing, expired,
# revoked and forged requests, every answer checked against what the client knows
# (scripts/soak.mjs); reports req/s, errors, wrong decisions and memory to target/soak/SOAK.md and
# fails on any error or wrong decision. Not part of `make test`.
SOAK_SECONDS ?= 60
.PHONY: soak
soak: build
	SOAK_SECONDS='$(SOAK_SECONDS)' node scripts/soak.mjs

# ---------------------------------------------------------------------------
# Cleanup
# ---------------------------------------------------------------------------

# Build outputs and local wrangler state (.dev.vars is kept).
clean:
	rm -rf pkg .wrangler
	cargo clean

# clean, plus the installed node modules.
distclean: clean
	rm -rf node_modules
