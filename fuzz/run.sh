#!/usr/bin/env bash
# Runs the fuzz targets, each for SECONDS, and prints a table of executions per target.
#
#   fuzz/run.sh SECONDS [TARGET...]        (from anywhere; `make fuzz` / `make test-fuzz` call it)
#
# Each target runs on its working corpus fuzz/corpus/<target>/ (ignored by git; new inputs land
# there) plus the committed seeds fuzz/seeds/<target>/. Built with debug assertions (integer
# overflow panics) and no sanitizer (the crate forbids unsafe code; a panic is what is looked for).
# A crash leaves its input in fuzz/artifacts/<target>/ and its log in fuzz/target/logs/; the script
# runs every target, then exits non-zero if any failed. Needs nightly and cargo-fuzz (the Makefile
# installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:?usage: fuzz/run.sh SECONDS [TARGET...]}"
shift
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(cookie_header envelope stored_values base64url stateful)
fi
flags=(--sanitizer none --debug-assertions)
logs=fuzz/target/logs
mkdir -p "$logs"

# Every target at once (the runs below then build nothing).
cargo +nightly fuzz build "${flags[@]}"

failed=0
rows=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log="$logs/$t.log"
  echo "fuzz: $t for ${secs}s"
  if cargo +nightly fuzz run "${flags[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
       -max_total_time="$secs" -print_final_stats=1 -timeout=20 >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed=1
    tail -n 40 "$log" >&2
  fi
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1 || true)"
  # libFuzzer's own count of seconds ("Done N runs in S second(s)"); absent after a crash.
  took="$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | awk '{print $5}' | tail -n 1 || true)"
  rate='-'
  if [ -n "$execs" ] && [ -n "$took" ] && [ "$took" -gt 0 ]; then rate=$((execs / took)); fi
  corpus="$(find "fuzz/corpus/$t" -type f | wc -l)"
  rows+=("$(printf '%-14s %8s %12s %10s %8s  %s' "$t" "${took:--}" "${execs:-?}" "$rate" "$corpus" "$status")")
done

printf '\n%-14s %8s %12s %10s %8s  %s\n' target seconds execs 'execs/s' corpus status
for row in "${rows[@]}"; do echo "$row"; done
exit "$failed"
