#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the FPM core benchmarks: routes/s (CPU time) through the whole core beside
# libnl's rtnl_route_parse alone on the same 100,000 messages, median and stddev over
# interleaved repetitions, and the core/reference ratio; then the heap a core holds for
# 1,000,000 routes.
# Usage: bench/run-fpm.sh [BUILD_DIR] [REPETITIONS]   (defaults: build-bench, 7)
set -euo pipefail
command -v jq >/dev/null || { echo "run-fpm: needs jq (apt-get install jq)" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-bench}
reps=${2:-7}

source "$here/scripts/lib/bench.sh"
cw_bench_build run-fpm "$build" "-DCMAKE_BUILD_TYPE=Release -DCAUSEWAY_BENCH=ON" rt_fpm_bench || exit 1
json=$(mktemp /tmp/fpm-bench.XXXXXX.json)
trap 'rm -f "$json"' EXIT
"$build/bench/rt_fpm_bench" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
  --benchmark_enable_random_interleaving=true --benchmark_out="$json" --benchmark_out_format=json >/dev/null

echo "rt_fpm_bench: $reps repetitions, median (stddev) of routes/s in CPU time, one thread"
echo "host: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'), load $(cut -d' ' -f1-3 /proc/loadavg)"
jq -r '
  def agg(n; a): (.benchmarks[] | select(.run_name == n and .aggregate_name == a));
  def k(x): ((x / 1000 | round) | tostring) + "k";
  (agg("BM_LibnlRouteParse"; "median").items_per_second) as $ref
  | ( ["benchmark", "routes/s", "stddev", "vs libnl parse alone"] | @tsv ),
    ( ["BM_LibnlRouteParse", "BM_CoreLoadInline", "BM_CoreLoadNhg", "BM_CoreReplayIdentical"][] as $n
      | [ $n, k(agg($n; "median").items_per_second), k(agg($n; "stddev").items_per_second),
          (((agg($n; "median").items_per_second / $ref) * 1000 | round) / 10 | tostring) + "%" ] | @tsv )
' "$json" | column -t -s $'\t'
jq -r '
  def agg(n; a): (.benchmarks[] | select(.run_name == n and .aggregate_name == a));
  "1,000,000 routes held: heap " + (agg("BM_CoreHeap1M/iterations:1"; "median").heap_MiB | round | tostring)
  + " MiB (" + (agg("BM_CoreHeap1M/iterations:1"; "median").heap_bytes_per_route | round | tostring)
  + " B/route), loaded at " + ((agg("BM_CoreHeap1M/iterations:1"; "median").routes_per_s / 1000 | round | tostring))
  + "k routes/s"
' "$json"
