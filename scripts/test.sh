#!/usr/bin/env bash
# `make test`: unit tests, fuzz smoke, API tests and the dashboard's browser
# tests (all against binaries built with ASan and UBSan), then one summary
# line: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# builds on both cores (each library file is compiled once per flavour)
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# unit tests (cmocka)
make --no-print-directory -j"$jobs" unit 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
p=$(grep -oE '^\[  PASSED  \] [0-9]+' "$log" | awk '{s+=$4} END {print s+0}')
f=$(grep -oE '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
passed=$((passed + p)) failed=$((failed + f))

# fuzz smoke: each target briefly over its corpus
make --no-print-directory -j"$jobs" fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-10} 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
n=$(grep -c '^Done ' "$log")
if [ "$rc" -eq 0 ]; then passed=$((passed + n)); else failed=$((failed + 1)); fi

# node:test suites: counts from its "# pass N" / "# fail N" summary
node_suite() { # make target
  make --no-print-directory "$1" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]} p f
  p=$(grep -oE '^# pass [0-9]+' "$log" | awk '{print $3}' | tail -1)
  f=$(grep -oE '^# fail [0-9]+' "$log" | awk '{print $3}' | tail -1)
  p=${p:-0} f=${f:-0}
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  passed=$((passed + p)) failed=$((failed + f))
}
node_suite api     # API, real-client and crash tests against a live server
node_suite browser # the dashboard in Debian's chromium

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
