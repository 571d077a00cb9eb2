#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the WireGuard core benchmarks, each beside its reference measured in the same
# run, and prints median and spread (stddev) over repetitions plus the ratio to the reference:
#   encrypt/decrypt burst of 32 vs raw EVP ChaCha20-Poly1305 (targets: >= 90% at 1420 B,
#   >= 70% at 64 B), handshakes/s vs X25519 ops/s / 8 (target >= 80%).
# Repetitions of all benchmarks are interleaved in random order, so load changes on a shared
# machine hit the core and its reference alike.
# Usage: bench/run-tunnels.sh [BUILD_DIR] [REPETITIONS]   (defaults: build-bench, 7)
set -euo pipefail
command -v jq >/dev/null || { echo "run-tunnels: needs jq (apt-get install jq)" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-bench}
reps=${2:-7}

source "$here/scripts/lib/bench.sh"
cw_bench_build run-tunnels "$build" "-DCMAKE_BUILD_TYPE=Release -DCAUSEWAY_BENCH=ON" tun_bench || exit 1
json=$(mktemp /tmp/tun-bench.XXXXXX.json)
trap 'rm -f "$json"' EXIT
"$build/bench/tun_bench" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
  --benchmark_enable_random_interleaving=true --benchmark_min_time=0.3 --benchmark_out="$json" --benchmark_out_format=json >/dev/null

echo "tun_bench: $reps repetitions, median (stddev); burst = 32 packets, one core"
echo "host: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'), load $(cut -d' ' -f1-3 /proc/loadavg)"
jq -r --argjson reps "$reps" '
  def agg(n; a): (.benchmarks[] | select(.run_name == n and .aggregate_name == a));
  def med(n; f): agg(n; "median")[f];
  def sd(n; f): agg(n; "stddev")[f];
  def pct(x): ((x * 1000 | round) / 10 | tostring) + "%";
  def fmt(x): ((x * 1000 | round) / 1000 | tostring);
  ( ["op", "size", "core Mpps", "core Gbit/s", "raw EVP Mpps", "raw EVP Gbit/s", "core/raw"] | @tsv ),
  ( [["encrypt", "BM_TunEncrypt", "BM_RawEvpSeal"], ["decrypt", "BM_TunDecrypt", "BM_RawEvpOpen"]][] as [$op, $core, $raw]
    | (64, 512, 1420) as $s
    | ($core + "/" + ($s | tostring)) as $c | ($raw + "/" + ($s | tostring)) as $r
    | [ $op, $s,
        fmt(med($c; "Mpps")) + " (" + fmt(sd($c; "Mpps")) + ")",
        fmt(med($c; "Gbit/s")) + " (" + fmt(sd($c; "Gbit/s")) + ")",
        fmt(med($r; "Mpps")) + " (" + fmt(sd($r; "Mpps")) + ")",
        fmt(med($r; "Gbit/s")) + " (" + fmt(sd($r; "Gbit/s")) + ")",
        pct(med($c; "Mpps") / med($r; "Mpps")) ] | @tsv ),
  "",
  ( ["handshake", "core handshakes/s", "X25519 ops/s", "bound = ops/8", "core/bound", "keygen/s"] | @tsv ),
  ( [ "full (init+resp+consume)",
      fmt(med("BM_Handshake"; "handshakes_per_s")) + " (" + fmt(sd("BM_Handshake"; "handshakes_per_s")) + ")",
      fmt(med("BM_X25519Derive"; "x25519_per_s")) + " (" + fmt(sd("BM_X25519Derive"; "x25519_per_s")) + ")",
      fmt(med("BM_X25519Derive"; "x25519_per_s") / 8),
      pct(med("BM_Handshake"; "handshakes_per_s") / (med("BM_X25519Derive"; "x25519_per_s") / 8)),
      fmt(med("BM_X25519Keygen"; "items_per_second")) ] | @tsv )
' "$json" | if command -v column >/dev/null; then column -t -s $'\t'; else cat; fi
