#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 5, in-process: one worker's process_burst with a WireGuard tunnel, encrypt-and-forward
# and decrypt-and-forward Mpps for 64- and 1420-byte inner packets, beside the raw EVP
# ChaCha20-Poly1305 rate measured in the same run (targets: >= 60% at 64 B, >= 85% at 1420 B).
# Repetitions are interleaved in random order; median (stddev) per benchmark.
# Usage: bench/run-tunnel-forward.sh [BUILD_DIR] [REPETITIONS]   (defaults: build-bench, 7)
set -euo pipefail
command -v jq >/dev/null || { echo "run-tunnel-forward: needs jq (apt-get install jq)" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-bench}
reps=${2:-7}

source "$here/scripts/lib/bench.sh"
cw_bench_build run-tunnel-forward "$build" "-DCMAKE_BUILD_TYPE=Release -DCAUSEWAY_BENCH=ON" fwd_tunnel_bench || exit 1
json=$(mktemp /tmp/fwd-tunnel-bench.XXXXXX.json)
trap 'rm -f "$json"' EXIT
"$build/bench/fwd_tunnel_bench" --benchmark_repetitions="$reps" \
  --benchmark_report_aggregates_only=true --benchmark_enable_random_interleaving=true \
  --benchmark_min_time=0.3 --benchmark_out="$json" --benchmark_out_format=json >/dev/null

echo "fwd_tunnel_bench: $reps repetitions, median (stddev); burst = 32, one worker, CPU time"
echo "host: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'), load $(cut -d' ' -f1-3 /proc/loadavg)"
jq -r '
  def agg(n; a): (.benchmarks[] | select(.run_name == n and .aggregate_name == a));
  def fmt(x): ((x * 1000 | round) / 1000 | tostring);
  def pct(x): ((x * 1000 | round) / 10 | tostring) + "%";
  ( ["op", "size", "forwarder Mpps", "raw EVP Mpps", "forwarder/raw"] | @tsv ),
  ( [["encrypt-and-forward", "BM_EncryptForward", "BM_RawSeal"],
     ["decrypt-and-forward", "BM_DecryptForward", "BM_RawOpen"]][] as [$op, $f, $r]
    | (64, 1420) as $s
    | ($f + "/" + ($s | tostring)) as $fn | ($r + "/" + ($s | tostring)) as $rn
    | [ $op, $s,
        fmt(agg($fn; "median").Mpps) + " (" + fmt(agg($fn; "stddev").Mpps) + ")",
        fmt(agg($rn; "median").Mpps) + " (" + fmt(agg($rn; "stddev").Mpps) + ")",
        pct(agg($fn; "median").Mpps / agg($rn; "median").Mpps) ] | @tsv )
' "$json" | if command -v column >/dev/null; then column -t -s $'\t'; else cat; fi
