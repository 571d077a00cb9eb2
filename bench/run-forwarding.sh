#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Forwarding benchmark (issue 3): 64-byte IPv4 packets to random destinations over a 1M-route
# FIB through causeway-fwd on one worker core, beside the I/O ceiling of the same virtual
# devices (net_pcap infinite_rx in, net_null out) measured in the same run by cw_io_ceiling
# (testpmd's io forwarding mode; testpmd is not packaged in Debian 12). Per repetition:
#   1. causeway-fwd starts (worker on lcore 1, control thread on lcore 0) in a private network
#      namespace (its TAP mirrors go there), with a blackhole default route so that packets
#      arriving before the FIB is loaded are dropped in the worker instead of punted;
#   2. cw_route_loader loads ROUTES routes over the control socket (timed: first send to last
#      reply), reads VmRSS, waits WARMUP s and measures the rate over WINDOW s from the
#      forwarder's own counters (port 1 tx_packets; busy_cycles / port 0 rx_packets);
#   3. causeway-fwd is stopped by PID, and cw_io_ceiling runs for the same window with the
#      EAL arguments causeway-fwd logged (same lcores, -m, --no-huge, vdevs).
# Then causeway-fwd's idle CPU (no traffic: net_null in and out with no-rx=1) over IDLE_SECONDS
# from /proc/PID/stat. Prints each run, then median and spread, and PASS/FAIL per target:
# causeway >= 50% of the ceiling (judged per CPU-second of the forwarding thread, which other
# load on a shared machine does not move), FIB load < 2 s, idle CPU < 5% of a core.
#
# Usage (root): bench/run-forwarding.sh       Environment: REPS WINDOW WARMUP ROUTES PACKETS
#   IDLE_SECONDS MEMORY_MB MBUFS BATCH ORDER BUILD_DIR SKIP_BUILD=1 (use the binaries as built).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
REPS=${REPS:-5}
WINDOW=${WINDOW:-10}
WARMUP=${WARMUP:-2}
ROUTES=${ROUTES:-1000000}
PACKETS=${PACKETS:-4096}
IDLE_SECONDS=${IDLE_SECONDS:-10}
MEMORY_MB=${MEMORY_MB:-1024}  # DPDK memory: mbufs + two rte_fib6 (the v4 FIB is outside it)
MBUFS=${MBUFS:-32768}
BATCH=${BATCH:-16384}
ORDER=${ORDER:-random}  # order the routes are sent in: random or sorted (by prefix)
FRAME_BYTES=64

FWD=$BUILD_DIR/forwarder/causeway-fwd
PCAP_GEN=$BUILD_DIR/bench/cw_pcap_gen
LOADER=$BUILD_DIR/bench/cw_route_loader
IO=$BUILD_DIR/bench/cw_io_ceiling

die() {
  echo "run-forwarding: $*" >&2
  exit 1
}
[[ $(id -u) -eq 0 ]] || die "needs root (network namespace, TAP mirrors)"

source "$ROOT/scripts/lib/bench.sh"
cw_bench_build run-forwarding "$BUILD_DIR" "" causeway-fwd causewayctl cw_pcap_gen cw_route_loader \
  cw_io_ceiling || exit 1
for b in "$FWD" "$PCAP_GEN" "$LOADER" "$IO"; do [[ -x $b ]] || die "missing $b"; done

NS=cwbench-$$
TMP=$(mktemp -d /tmp/cwbench.XXXXXX)
PIDS=()

# Stops one of our processes by PID: TERM, then KILL after 20 s.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"

PORT0_MAC=02:00:00:00:99:00
PORT1_MAC=02:00:00:00:99:01
"$PCAP_GEN" -o "$TMP/in.pcap" -n "$PACKETS" --routes "$ROUTES" --dst-mac "$PORT0_MAC" \
  --src-ip 10.99.0.2 >/dev/null

# write_config FILE PORT0_DEVICE PORT1_DEVICE SOCKET
write_config() {
  cat >"$1" <<EOF
name: cwbench
dpdk: {workers: 1, lcores: "0-1", mbufs: $MBUFS, memory_mb: $MEMORY_MB, no_huge: true,
       file_prefix: $NS}
ports:
  - {name: in0, device: "$2", mac: "$PORT0_MAC", addresses: [10.99.0.1/24], mirror: cwb0-$$}
  - {name: out1, device: "$3", mac: "$PORT1_MAC", addresses: [10.99.1.1/24], mirror: cwb1-$$}
routes:
  - {prefix: 0.0.0.0/0, blackhole: true}
neighbors:
  - {address: 10.99.1.2, mac: "02:00:00:00:aa:02", port: out1}
  - {address: 10.99.1.3, mac: "02:00:00:00:aa:03", port: out1}
  - {address: 10.99.1.4, mac: "02:00:00:00:aa:04", port: out1}
  - {address: 10.99.1.5, mac: "02:00:00:00:aa:05", port: out1}
control_socket: $4
EOF
}
write_config "$TMP/fwd.yaml" "net_pcap0,rx_pcap=$TMP/in.pcap,infinite_rx=1" "net_null0,no-rx=1" \
  "$TMP/fwd.sock"
write_config "$TMP/idle.yaml" "net_null0,no-rx=1" "net_null1,no-rx=1" "$TMP/idle.sock"

# kv LINE KEY: the value of KEY=value in a line of our tools' output.
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n1; }

# start_fwd CONFIG LOG: starts causeway-fwd in the namespace; sets FWD_PID.
start_fwd() {
  ip netns exec "$NS" "$FWD" --config "$1" >"$2" 2>&1 &
  FWD_PID=$!
  PIDS+=("$FWD_PID")
}
forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "forwarding benchmark: $ROUTES routes, $PACKETS distinct ${FRAME_BYTES}-byte frames," \
  "$REPS runs of ${WINDOW} s (after ${WARMUP} s warm-up), one worker lcore, --no-huge -m $MEMORY_MB"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //');" \
  "load average at start: $LOAD_BEFORE"

CW=() IOC=() RATIO=() LOAD=() LOADCPU=() LOADWAIT=() LOADERCPU=() LOADERWAIT=() CPP=() IOCPP=() RSS=() CWN=() ION=() RATION=()
for ((run = 1; run <= REPS; run++)); do
  start_fwd "$TMP/fwd.yaml" "$TMP/fwd-$run.log"
  if ! "$LOADER" --socket "$TMP/fwd.sock" --pid "$FWD_PID" --routes "$ROUTES" --batch "$BATCH" --order "$ORDER" \
    --warmup-seconds "$WARMUP" --measure-seconds "$WINDOW" >"$TMP/loader-$run.out" 2>&1; then
    cat "$TMP/loader-$run.out" "$TMP/fwd-$run.log" >&2
    die "run $run: causeway-fwd run failed"
  fi
  stop_pid "$FWD_PID"
  forget_pid "$FWD_PID"
  eal_line=$(grep -m1 -o 'EAL: causeway-fwd .*' "$TMP/fwd-$run.log") ||
    die "run $run: no EAL line in the forwarder's log"
  read -ra eal_args <<<"${eal_line#EAL: causeway-fwd }"
  if ! ip netns exec "$NS" "$IO" "${eal_args[@]}" -- --seconds "$WINDOW" \
    --warmup-seconds "$WARMUP" --mbufs "$MBUFS" >"$TMP/io-$run.out" 2>&1; then
    cat "$TMP/io-$run.out" >&2
    die "run $run: cw_io_ceiling failed"
  fi

  load_line=$(grep '^fib_load ' "$TMP/loader-$run.out")
  fwd_line=$(grep '^forward ' "$TMP/loader-$run.out")
  rss_line=$(grep '^rss ' "$TMP/loader-$run.out")
  io_line=$(grep '^io_ceiling ' "$TMP/io-$run.out")
  cw=$(kv "$fwd_line" mpps)
  io=$(kv "$io_line" mpps)
  ratio=$(awk -v a="$cw" -v b="$io" 'BEGIN { printf "%.3f", a / b }')
  CW+=("$cw") IOC+=("$io") RATIO+=("$ratio")
  LOAD+=("$(kv "$load_line" seconds)") LOADCPU+=("$(kv "$load_line" control_cpu_seconds)")
  LOADWAIT+=("$(kv "$load_line" control_wait_seconds)") LOADERCPU+=("$(kv "$load_line" loader_cpu_seconds)")
  LOADERWAIT+=("$(kv "$load_line" loader_wait_seconds)")
  CPP+=("$(kv "$fwd_line" busy_cycles_per_packet)")
  IOCPP+=("$(kv "$io_line" cycles_per_packet)")
  RSS+=("$(($(kv "$rss_line" vmrss_kib) / 1024))")
  # The same rates per CPU-second the forwarding thread really ran (other load can't move them).
  cwn=$(kv "$fwd_line" mpps_per_worker_cpu)
  ion=$(kv "$io_line" mpps_per_fwd_cpu)
  CWN+=("$cwn") ION+=("$ion")
  TSC_HZ=$(kv "$io_line" tsc_hz)
  RATION+=("$(awk -v a="$cwn" -v b="$ion" 'BEGIN { printf "%.3f", a / b }')")
  printf 'run %d: causeway-fwd %7.3f Mpps (%s busy cycles/pkt, drops %s, worker ran %s of %s s)' \
    "$run" "$cw" "${CPP[-1]}" "$(kv "$fwd_line" drops)" "$(kv "$fwd_line" worker_cpu_seconds)" \
    "$(kv "$fwd_line" seconds)"
  printf ' | io ceiling %7.3f Mpps (%s cycles/pkt, ran %s of %s s) | ratio %s' "$io" \
    "${IOCPP[-1]}" "$(kv "$io_line" fwd_cpu_seconds)" "$(kv "$io_line" seconds)" "$ratio"
  printf ' | per CPU-s %s vs %s Mpps, ratio %s | FIB load %s s (control thread ran %s s, waited %s s for a CPU; loader ran %s s, waited %s s)' "$cwn" \
    "$ion" "${RATION[-1]}" "${LOAD[-1]}" "${LOADCPU[-1]}" "$(kv "$load_line" control_wait_seconds)" \
    "$(kv "$load_line" loader_cpu_seconds)" "$(kv "$load_line" loader_wait_seconds)"
  printf ' | RSS %s MiB\n' "${RSS[-1]}"
done

# Idle: no traffic at all; the worker should back off to sleeping.
start_fwd "$TMP/idle.yaml" "$TMP/idle.log"
"$LOADER" --socket "$TMP/idle.sock" --pid "$FWD_PID" --routes 0 >"$TMP/idle-loader.out" 2>&1 ||
  { cat "$TMP/idle-loader.out" "$TMP/idle.log" >&2; die "idle causeway-fwd did not come up"; }
sleep 2
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
t0=$(ticks "$FWD_PID")
s0=$(date +%s.%N)
sleep "$IDLE_SECONDS"
t1=$(ticks "$FWD_PID")
s1=$(date +%s.%N)
IDLE_CPU=$(awk -v d="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v a="$s0" -v b="$s1" \
  'BEGIN { printf "%.2f", 100 * d / hz / (b - a) }')
IDLE_RSS=$(kv "$(grep '^rss ' "$TMP/idle-loader.out")" vmrss_kib)
stop_pid "$FWD_PID"
forget_pid "$FWD_PID"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# stats VALUES...: "median [min..max] sd X"
stats() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1; s += $1; q += $1 * $1 }
    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          sd = NR > 1 ? sqrt((q - s * s / NR) / (NR - 1)) : 0
          printf "%.3f [%.3f..%.3f] sd %.3f", m, v[1], v[NR], sd }'
}
median() { stats "$@" | cut -d' ' -f1; }

cw_med=$(median "${CW[@]}")
io_med=$(median "${IOC[@]}")
ratio_med=$(median "${RATIO[@]}")
load_med=$(median "${LOAD[@]}")
verdict() { awk -v v="$1" -v t="$3" -v op="$2" \
  'BEGIN { ok = op == ">=" ? v >= t : v < t; print ok ? "PASS" : "FAIL" }'; }

echo
echo "summary over $REPS runs: median [min..max] sd"
printf '  causeway-fwd      %s Mpps  (%.2f Gbit/s of %d-byte frames)\n' "$(stats "${CW[@]}")" \
  "$(awk -v m="$cw_med" -v b="$FRAME_BYTES" 'BEGIN { print m * b * 8 / 1000 }')" "$FRAME_BYTES"
printf '  io ceiling (ref)  %s Mpps  (%.2f Gbit/s)\n' "$(stats "${IOC[@]}")" \
  "$(awk -v m="$io_med" -v b="$FRAME_BYTES" 'BEGIN { print m * b * 8 / 1000 }')"
printf '  ratio             %s\n' "$(stats "${RATIO[@]}")"
printf '  per CPU-second of the forwarding thread (insensitive to other load on the machine):\n'
printf '    causeway-fwd    %s Mpps\n' "$(stats "${CWN[@]}")"
printf '    io ceiling      %s Mpps\n' "$(stats "${ION[@]}")"
printf '    ratio           %s\n' "$(stats "${RATION[@]}")"
cpu_cycles() { awk -v hz="$TSC_HZ" -v m="$1" 'BEGIN { printf "%.0f", hz / (m * 1e6) }'; }
printf '    i.e. %s TSC cycles of CPU time per packet for causeway-fwd, %s for the io ceiling\n' \
  "$(cpu_cycles "$(median "${CWN[@]}")")" "$(cpu_cycles "$(median "${ION[@]}")")"
printf '  wall cycles/pkt   causeway-fwd %s (worker busy TSC cycles / packet) | io ceiling %s\n' \
  "$(stats "${CPP[@]}")" "$(stats "${IOCPP[@]}")"
printf '  FIB load          %s s for %d routes (batches of %d, %s order)\n' \
  "$(stats "${LOAD[@]}")" "$ROUTES" "$BATCH" "$ORDER"
printf '    control thread CPU during the load: %s s; its wait for a CPU: %s s\n' \
  "$(stats "${LOADCPU[@]}")" "$(stats "${LOADWAIT[@]}")"
printf '    cw_route_loader CPU (encoding, sending): %s s; its wait for a CPU: %s s\n' \
  "$(stats "${LOADERCPU[@]}")" "$(stats "${LOADERWAIT[@]}")"
printf '  RSS after load    %s MiB (idle forwarder without routes: %d MiB)\n' \
  "$(stats "${RSS[@]}")" "$((IDLE_RSS / 1024))"
printf '  idle CPU          %s%% of one core over %d s\n' "$IDLE_CPU" "$IDLE_SECONDS"
echo "  load average: $LOAD_BEFORE at start, $LOAD_AFTER at end ($(nproc) CPUs)"
echo
echo "targets:"
# Judged on the ratio per CPU-second: on a shared machine the raw ratio mostly says which of
# the two programs other processes preempted more. On a quiet machine the two agree.
ration_med=$(median "${RATION[@]}")
echo "  forwarding >= 50% of the io ceiling:  $(verdict "$ration_med" ">=" 0.5)  (median ratio per" \
  "CPU-second $ration_med; of the raw rates $ratio_med)"
echo "  $ROUTES-route FIB load < 2 s:        $(verdict "$load_med" "<" 2)  (median $load_med s)"
echo "  idle CPU < 5% of a core:              $(verdict "$IDLE_CPU" "<" 5)  ($IDLE_CPU%)"
