#!/usr/bin/env bash
# bench/run.sh - the cxm benchmarks (`make bench`). Each figure is printed
# beside its reference, measured in the same run; figures are medians of
# >= 3 runs. Benchmarks, not tests: targets are reported, never enforced.
#
#   1. /v1/batch throughput (wrk + bench/batch.lua, 100 track messages per
#      request, durable commit) vs bench/ref_sqlite_append.c appending the
#      same rows to SQLite (WAL, synchronous=FULL) in the server's group size.
#   2. /v1/track latency at a fixed rate (bench/loadgen.c, open loop) vs the
#      same load against bench/static_server.c.
#   3. `cxm import events` of 1M generated messages (bench/gen_events.c) vs
#      ref_sqlite_append appending the same lines.
#   4. (BENCH_SCALE=1) 10M events of 1M customers: start-up time, resident
#      memory, bytes on disk per event.
#   5. `cxm demo` (50k customers) vs ref_sqlite_append of as many rows; then
#      every API call behind a dashboard page on the demo data, each beside
#      the nearest plain SQL over the same file where there is one.
#   6. (BENCH_SCALE=1, or BENCH_ONLY=6) journey analytics on the scale store
#      of part 4: funnels of 5 and 12 steps and 12 weekly retention cohorts
#      (bench/analytics.mjs) vs DuckDB (npm @duckdb/node-api, in memory)
#      running the equivalent SQL over the same events; answers checked equal.
#      Segments there too: rules over every customer (preview) vs DuckDB, the
#      incremental update of 5 segments while events stream into /v1/batch
#      (on a copy of the store), and the lifecycle (cxm only).
#   7. sentiment (lib/text, bench/text_bench.c): accuracy on uci-labelled,
#      correlation with VADER's ground truth, verbatims/s on one core, vs
#      VADER itself (npm vader-sentiment, bench/text_ref.mjs) on the same
#      sentences. Data: BENCH_TEXT_DATA (default ../shared/datasets/sentiment).
#   9. the closed loop (bench/cases_bench.c): a case rule over new survey
#      responses, cases opened per second through lib/cases' scheduler
#      tick, vs one INSERT … SELECT of the same selection on the same file.
#   8. survey responses posted in bulk (1M; 100k with BENCH_QUICK), then NPS
#      by month by channel over them (bench/feedback.mjs) vs DuckDB and
#      SQLite running the same aggregation over the same rows.
#   9. the KPI scorecard (GET /api/v1/scorecard, 30 targets at every scope, all
#      measured now) on the demo company vs plain SQLite computing the same
#      NPS, CSAT and CES figures over the responses of the same file.
#
# Options (environment):
#   BENCH_QUICK=1          short runs: 3 s per run, 200k-message import,
#                          scale factor 0.01
#   BENCH_ONLY="1 3"       parts to run (default: 1 2 3 5 7 8 9, and 4 and 6 with
#                          BENCH_SCALE; BENCH_ONLY=6 runs part 6 alone)
#   BENCH_DEMO_CUSTOMERS=50000  customers of the demo (part 5); BENCH_API_REPS
#                          calls of each (21 in part 5, 11 in part 6)
#   BENCH_RUNS=3           runs per figure (at least 3)
#   BENCH_DURATION=10      seconds per measured wrk/loadgen run
#   BENCH_WARMUP=2         seconds of warm-up before each
#   BENCH_CONNS=32         wrk connections (part 1); BENCH_THREADS=2 wrk threads
#   BENCH_RATE=10000       requests/s (part 2); BENCH_LG_CONNS=64 connections
#                          (at least rate × the 5 ms p99 budget, by Little's law)
#   BENCH_IMPORT_EVENTS=1000000   messages imported (part 3)
#   BENCH_SCALE=1          run part 4; BENCH_SCALE_FACTOR=0.1 for 1M events of
#                          100k customers (default 1: 10M events, 1M customers)
#   BENCH_PROFILE=1        one extra run of parts 1 and 3, and one extra start
#                          in part 4, under perf record (not in the medians),
#                          and the server while part 6 streams events;
#                          per-thread summaries on screen (perf_summary.py),
#                          full profiles in bench/out/perf-*.txt
#   BENCH_VERIFY=1         part 6 also checks DuckDB's answers against a direct
#                          computation of the contract in JavaScript (slow)
#   BENCH_SEG_EVENTS=300000  part 6: events streamed for the incremental segment
#                          update; BENCH_SEG_RATE=20000 events/s over
#                          BENCH_SEG_CONNS=4 connections
#   BENCH_KEEP=1           keep the scale data set (bench/out/work); a later
#                          run reuses it in part 6 (part 4 always re-imports)
#   BENCH_TMP=DIR          where data directories go (default bench/out/work;
#                          keep it on the disk you want to measure)
#   CXM_BIN=build/cxm      the server binary (make bench builds it with -O2);
#                          the run uses a private copy of it
#
# Output: the report on stdout, a copy in bench/out/report-<time>.txt and
# every number in bench/out/results-<time>.json.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="${BENCH_OUT:-$here/out}"
bin="$out/bin"
mkdir -p "$bin" "$out/logs"

for tool in wrk python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench: $tool is missing (apt-get install $tool)" >&2
    exit 1
  fi
done

# part 6's npm dependencies (DuckDB), installed once from bench/package-lock.json;
# without them part 6 reports that it could not run
if command -v npm >/dev/null && { [ ! -d "$here/node_modules/@duckdb/node-api" ] ||
  [ ! -d "$here/node_modules/vader-sentiment" ]; }; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "bench: npm ci in bench/ failed; part 6 (DuckDB) and part 7's reference will not run" >&2
fi

# the tools: plain -O2 builds, rebuilt when their source changes
cc="${CC:-cc}"
cflags="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wno-unused-parameter"
build() { # name "sources" "other inputs" libs...
  local name="$1" srcs="$2" deps="$3"; shift 3
  local target="$bin/$name" stale=0
  [ -x "$target" ] || stale=1
  for s in $srcs $deps; do [ "$s" -nt "$target" ] && stale=1; done
  if [ "$stale" = 1 ]; then
    # shellcheck disable=SC2086
    $cc $cflags -o "$target" $srcs "$@"
  fi
}
sqlite_libs=$(pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3)
# shellcheck disable=SC2086
build ref_sqlite_append "$here/ref_sqlite_append.c $root/lib/store/migrations.c" \
  "$root/lib/store/store_int.h $root/lib/store/store.h $root/lib/base/err.h" $sqlite_libs -pthread
build loadgen "$here/loadgen.c" ""
build static_server "$here/static_server.c" ""
build gen_events "$here/gen_events.c" "" -lm
# part 7: lib/text with its generated lexicons (make writes build/text_data.c)
make -C "$root" --no-print-directory build/text_data.c >/dev/null
# shellcheck disable=SC2086
build text_bench "$here/text_bench.c $(echo "$root"/lib/text/*.c "$root"/lib/base/*.c) $root/build/text_data.c" \
  "$(echo "$root"/lib/text/*.h "$root"/lib/base/*.h)" $(pkg-config --libs libsodium libcjson) -lstemmer -lm -pthread

# part 9: lib/cases over the whole library (-O2), as the server links it
# shellcheck disable=SC2086
build cases_bench "$here/cases_bench.c $(echo "$root"/lib/*/*.c) $root/build/text_data.c" \
  "$(echo "$root"/lib/*/*.h)" $(pkg-config --cflags --libs libmicrohttpd libcjson sqlite3 zlib liblz4 libsodium libcurl gsl) \
  -lstemmer -lm -pthread

origin="${CXM_BIN:-$root/build/cxm}"
if [ ! -x "$origin" ]; then
  echo "bench: $origin is missing; run make bench (it builds build/cxm)" >&2
  exit 1
fi
# run a private copy, so that a rebuild of build/cxm during the run (make
# test, make run) cannot mix two binaries into one report
cxm="$bin/cxm-under-test"
cp "$origin" "$cxm.tmp" && mv "$cxm.tmp" "$cxm"
export BENCH_CXM_ORIGIN="$origin ($(date -r "$origin" '+built %Y-%m-%d %H:%M:%S'), sha256 $(sha256sum "$cxm" | cut -c1-12))"

stamp="$(date +%Y%m%d-%H%M%S)"
report="$out/report-$stamp.txt"
set +e
CXM_BIN="$cxm" BENCH_OUT="$out" python3 -u "$here/driver.py" 2>&1 | tee "$report"
status=${PIPESTATUS[0]}
set -e
echo "report: $report"
exit "$status"
