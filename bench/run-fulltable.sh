#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Full-table benchmark (issue 6): a BGP peer (BIRD) announces ROUTES distinct IPv4 prefixes to
# FRR; zebra hands them to causeway-routed over FPM, routed to causeway-fwd over the control
# socket. Measured per run, by polling with timestamps:
#   - zebra: its RIB's route count (`show ip route summary json`, routesTotal),
#   - the forwarder: its FIB's route count (`causewayctl stats --json`, .fib.routes),
# the time each went from the first to the last of the new prefixes, the forwarder's lag behind
# zebra at the end (forwarder last - zebra last), the loss of a 100 packets/s ping through the
# forwarder to a destination on a separate, stable route while the table loads, and the RSS of
# routed, the forwarder, zebra and bgpd. Then the same for the withdrawal of the whole table.
#
#   [h1] eth0 10.1.0.2 ---- p0 [fw: causeway-fwd lan0 10.1.0.1/24 | wan0 192.0.2.1/30] p1 ---- noc0 192.0.2.2 [b: BIRD]
#                               zebra (-M dplane_fpm_nl) + staticd + bgpd, causeway-routed
#   b: protocol `stable` announces 198.18.0.0/24 (198.18.0.1 on its lo: the ping's target);
#      protocol `full` (disabled at start) announces ROUTES /24s from 32.0.0.0/8 upwards.
#   A run: `birdc enable full` ... all in the forwarder, then `birdc disable full` ... all gone.
#
# Usage: sudo bench/run-fulltable.sh      (builds what it needs into BUILD_DIR)
# Environment: RUNS (3), ROUTES (1000000), BUILD_DIR (build), SKIP_BUILD=1, POLL_S (0.05:
#              forwarder), POLL_ZEBRA_S (1: zebra's main thread walks its whole table
#              for the route summary; polled faster it slows zebra down),
#              DEADLINE_S (600: per phase), PERF_DIR (perf record routed, causeway-fwd and zebra
#              during each phase into this directory).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/scripts/lib/netns.sh"
source "$here/scripts/lib/bench.sh"
source "$here/scripts/lib/pop.sh"
RUNS=${RUNS:-3}
ROUTES=${ROUTES:-1000000}
BUILD_DIR=${BUILD_DIR:-$here/build}
POLL_S=${POLL_S:-0.05}
POLL_ZEBRA_S=${POLL_ZEBRA_S:-1}
DEADLINE_S=${DEADLINE_S:-600}

((EUID == 0)) || { echo "run-fulltable: needs root (namespaces)" >&2; exit 1; }
((ROUTES >= 1 && ROUTES <= 16 * 65536)) || { echo "run-fulltable: ROUTES 1..1048576" >&2; exit 1; }
for tool in vtysh bird birdc jq /usr/lib/frr/frr-reload.py /usr/lib/frr/zebra /usr/lib/frr/bgpd; do
  command -v "$tool" >/dev/null || { echo "run-fulltable: missing $tool (scripts/install-deps.sh)" >&2; exit 1; }
done
cw_bench_build run-fulltable "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  causeway-fwd causeway-routed causewayctl || exit 1
FWD=$BUILD_DIR/forwarder/causeway-fwd
ROUTED=$BUILD_DIR/routing/routed/causeway-routed
CTL=$BUILD_DIR/forwarder/ctl/causewayctl
for b in "$FWD" "$ROUTED" "$CTL"; do [[ -x $b ]] || { echo "run-fulltable: no $b" >&2; exit 1; }; done

id=$$
FW=cwft-fw-$id H1=cwft-h1-$id NB=cwft-b-$id
tmp=$(mktemp -d /tmp/cwft.XXXXXX)
sock=$tmp/fwd.sock
rsock=$tmp/routed.sock
fpm_port=$((20000 + id % 20000))
POLLERS=()  # background pollers and the ping of the phase under way
stop_pollers() {
  local p
  for p in "${POLLERS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  POLLERS=()
}
cleanup() {
  stop_pollers
  cw_cleanup
  cw_pop_cleanup_frr "$FW"
  rm -rf "$tmp"
}
trap cleanup EXIT
die() { cw_log "run-fulltable: $*"; exit 1; }

cw_ns_add "$FW"
cw_ns_add "$H1"
cw_ns_add "$NB"
cw_veth "$FW" p0 "$H1" eth0
cw_veth "$FW" p1 "$NB" noc0
cw_prepare_dpdk_if "$FW" p0
cw_prepare_dpdk_if "$FW" p1
cw_prepare_host_if "$H1" eth0
cw_prepare_host_if "$NB" noc0
ip -n "$H1" addr add 10.1.0.2/24 dev eth0
ip -n "$H1" route add default via 10.1.0.1
ip -n "$NB" addr add 192.0.2.2/30 dev noc0
ip -n "$NB" addr add 198.18.0.1/32 dev lo
ip -n "$NB" route add 10.1.0.0/24 via 192.0.2.1

# The IPv4 FIB (DIR-24-8 + RIB) lives outside DPDK memory; 512 MiB holds the mbufs and the two
# small rte_fib6 copies (docs/forwarder-config.md).
cat >"$tmp/fwd.yaml" <<YAML
name: ft-$id
dpdk: {workers: 1, lcores: "0-1", memory_mb: 512, file_prefix: cwft-$id}
ports:
  - name: lan0
    device: "net_af_packet0,iface=p0"
    mac: "02:00:00:00:01:01"
    addresses: [10.1.0.1/24]
  - name: wan0
    device: "net_af_packet1,iface=p1"
    mac: "02:00:00:00:02:01"
    addresses: [192.0.2.1/30]
fib: {v4_max_routes: 2097152, v4_tbl8_groups: 32768, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $sock
YAML

# Long BGP timers: bgpd and BIRD are busy for tens of seconds with a full table on a shared
# 2-CPU machine, and a session reset would spoil the run.
cat >"$tmp/intent.yaml" <<YAML
version: 1
identity:
  pop: ft1
  router_id: 10.255.0.1
  private_key: ONZLyaC3KZ2HjjwL1v8mXb4cEiQdyhYKmKAB7/Yh0k8=
  overlay_address: 10.255.0.1
forwarder: {control_socket: $sock}
fpm: {port: $fpm_port}
backbones: [{name: inet}]
ports:
  - {name: lan0, role: lan, addresses: [10.1.0.1/24]}
  - {name: wan0, role: wan, backbone: inet, addresses: [192.0.2.1/30]}
peers:
  - name: ft2
    public_key: neAN2cKV57G8y8uIGu9qOv6LUSnex9JUaLcR0GNsSFI=
    endpoints: {inet: 198.51.100.2}
    overlay_address: 10.255.0.2
sla_classes: [{name: rt, max_loss_pct: 1, max_latency_ms: 50, max_jitter_ms: 5}]
traffic_classes:
  - {name: voice, sla_class: rt, backbones: [inet]}
bgp:
  asn: 65001
  keepalive_s: 60
  hold_s: 180
  neighbors:
    - {name: noc, address: 192.0.2.2, asn: 64500}
  announce: [10.1.0.0/16]
YAML

# ROUTES distinct /24s: 32.0.0.0/24, 32.0.1.0/24, ... (65536 per /8, up to 47.255.255.0/24);
# none covers 10.1.0.0/16, 192.0.2.0/30 or 198.18.0.0/24.
awk -v n="$ROUTES" 'BEGIN {
  for (i = 0; i < n; i++)
    printf "route %d.%d.%d.0/24 blackhole;\n", 32 + int(i / 65536), int(i / 256) % 256, i % 256
}' >"$tmp/full-routes.conf"
cat >"$tmp/bird.conf" <<BIRD
router id 192.0.2.2;
protocol device {}
protocol static stable { ipv4; route 198.18.0.0/24 blackhole; }
protocol static full {
  disabled;
  ipv4;
  include "$tmp/full-routes.conf";
}
protocol bgp pop {
  local 192.0.2.2 as 64500;
  neighbor 192.0.2.1 as 65001;
  hold time 180;
  keepalive time 60;
  ipv4 { import all; export where source = RTS_STATIC; };
}
BIRD

ctl() { "$CTL" --socket "$sock" --routed-socket "$rsock" "$@"; }
cw_pop_start_fwd "$FW" "$FWD" "$tmp/fwd.yaml" "$sock" "$tmp/fwd.log" 60 ||
  die "the forwarder did not start"
FWD_PID=$CW_POP_FWD_PID

VTY() { cw_pop_vtysh "$FW" "$@"; }
declare -A PID_OF
CW_POP_FRR_LOG="" cw_pop_start_frr "$FW" "$tmp" 60 || die "FRR daemons do not answer"
for d in zebra staticd bgpd; do PID_OF[$d]=${CW_POP_FRR_PIDS[$d]}; done

cw_spawn "$NB" "$tmp/bird.log" bird -f -c "$tmp/bird.conf" -s "$tmp/bird.ctl"
BIRD_PID=$CW_LAST_PID
cw_pop_start_routed "$FW" "$ROUTED" "$tmp/intent.yaml" "$rsock" "$tmp/routed.log" \
  --metrics "127.0.0.1:$((fpm_port + 1))" --fpm-quiet-ms 1000
ROUTED_PID=$CW_POP_ROUTED_PID
PID_OF[routed]=$ROUTED_PID
PID_OF[fwd]=$FWD_PID

status_is() { ctl routed status --json 2>/dev/null | jq -e "$1" >/dev/null; }
cw_wait_until 120 status_is '.fpm.connected and .forwarder.connected and .forwarder.swept' ||
  { tail -20 "$tmp/routed.log" >&2; die "routed did not connect and sync"; }
fwd_routes() { ctl stats --json | jq -e '.fib.routes'; }
# Route contexts zebra's FPM module has handled (written towards routed): cheap, no table walk.
zebra_fpm_contexts() { VTY -c 'show fpm counters json' | jq -e '."data-plane-contexts"'; }
# The forwarder's drop counters and its ports' rx/tx drops, to compare before and after a phase.
fwd_drops() {
  ctl stats --json | jq -c '.drops + ([.ports[] | {("rx_dropped:" + .name): .rx_dropped,
    ("tx_dropped:" + .name): .tx_dropped}] | add)'
}
drops_delta() {  # BEFORE AFTER: "name +n ..." for each counter that moved
  jq -rn --argjson a "$1" --argjson b "$2" \
    '[$b | to_entries[] | select(.value != $a[.key]) | "\(.key) +\(.value - $a[.key])"] | join(", ")'
}
routed_fpm_routes() { ctl routed status --json | jq -e '.fpm.routes'; }  # received from zebra
zebra_routes() { VTY -c 'show ip route summary json' | jq -e '.routesTotal'; }
fib_has_stable() {
  ctl routes --json | jq -e '.routes[] | select(.prefix == "198.18.0.0/24" and .kind == "gateway")' >/dev/null
}
cw_wait_until 180 fib_has_stable || { VTY -c 'show ip bgp summary' >&2; die "the stable route never reached the forwarder"; }
ping_ok() { ip netns exec "$H1" ping -c 3 -i 0.2 -W 2 198.18.0.1 >/dev/null; }
cw_wait_until 30 ping_ok || die "h1 does not reach 198.18.0.1 through the forwarder"
# Settled: nothing moves in either table for 3 s.
settled() {
  local z f
  z=$(zebra_routes) && f=$(fwd_routes) || return 1
  [[ "$z $f" == "${LAST_COUNTS:-}" ]] && ((SECONDS >= SETTLED_AT)) && return 0
  [[ "$z $f" == "${LAST_COUNTS:-}" ]] || { LAST_COUNTS="$z $f"; SETTLED_AT=$((SECONDS + 3)); }
  return 1
}
settle() { LAST_COUNTS=; SETTLED_AT=$((SECONDS + 3)); cw_wait_until 120 settled; }
settle || die "the tables do not settle"
read -r BASE_Z BASE_F <<<"$LAST_COUNTS"
BASE_R=$(routed_fpm_routes) || die "routed's status does not answer"
cw_log "baseline: zebra $BASE_Z routes, forwarder $BASE_F routes; load $(cut -d' ' -f1-3 /proc/loadavg)"

# poll FILE CMD...: "epoch-seconds count" every POLL_S until killed. The time is the middle of
# the query (a vtysh summary over a full table takes a while); the half-width is the third field.
poll() {
  local file=$1 n t1
  shift
  while :; do
    t1=$EPOCHREALTIME
    n=$("$@" 2>/dev/null) &&
      awk -v a="$t1" -v b="$EPOCHREALTIME" -v n="$n" 'BEGIN { printf "%.3f %s %.3f\n", (a + b) / 2, n, (b - a) / 2 }' >>"$file"
    sleep "$POLL_S"
  done
}
# first_time FILE OP VALUE: timestamp of the first sample whose count OP VALUE (awk comparison).
first_time() { awk -v v="$3" "\$2 $2 v { print \$1; exit }" "$1"; }
rss_mib() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
hwm_mib() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
cpu_s() { awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$1/stat" 2>/dev/null; }  # USER_HZ 100

# phase NAME BIRDC-VERB ZEBRA-TARGET FWD-TARGET OP: runs one load or withdrawal; sets PHASE to
# "zebra_first zebra_last fwd_first fwd_last lag sent received" (seconds since the birdc command).
phase() {
  local name=$1 verb=$2 zt=$3 ft=$4 op=$5
  local zf=$tmp/$name.zebra ff=$tmp/$name.fwd rf=$tmp/$name.routed cf=$tmp/$name.zfpm
  local pinglog=$tmp/$name.ping zp fp rp cp pp t0 zfirst zlast ffirst flast rlast cfirst clast

  : >"$zf"
  : >"$ff"
  : >"$rf"
  : >"$cf"
  POLL_S=$POLL_ZEBRA_S poll "$zf" zebra_routes &
  zp=$!
  poll "$ff" fwd_routes &
  fp=$!
  poll "$rf" routed_fpm_routes &
  rp=$!
  poll "$cf" zebra_fpm_contexts &
  cp=$!
  # -D -O: each reply and each missing reply ("no answer yet") with its time, to place a loss.
  ip netns exec "$H1" ping -D -O -i 0.01 -W 1 198.18.0.1 >"$pinglog" 2>&1 &
  pp=$!
  POLLERS=("$zp" "$fp" "$rp" "$cp" "$pp")
  if [[ -n ${PERF_DIR:-} ]]; then  # profile routed and the forwarder during the phase
    local d
    for d in routed fwd zebra; do
      perf record -q -F 499 -g -p "${PID_OF[$d]}" -o "$PERF_DIR/$name-$d.data" >/dev/null 2>&1 &
      POLLERS+=("$!")
    done
  fi
  local drops0
  drops0=$(fwd_drops) || drops0='{}'
  sleep 1  # traffic and polling under way before the change
  t0=$EPOCHREALTIME
  birdc -s "$tmp/bird.ctl" "$verb" full >/dev/null || { stop_pollers; return 1; }
  local deadline=$((SECONDS + DEADLINE_S))
  reached() { [[ $(tail -n1 "$1" | cut -d' ' -f2) == "$2" ]]; }
  until reached "$zf" "$zt" && reached "$ff" "$ft"; do
    ((SECONDS < deadline)) || { cw_log "$name: deadline; zebra $(tail -n1 "$zf"), fwd $(tail -n1 "$ff")"; break; }
    sleep 0.2
  done
  sleep 1  # traffic after the last change
  local p
  for p in "${POLLERS[@]:4}"; do kill -INT "$p"; wait "$p" 2>/dev/null; done  # ping: summary; perf: data
  stop_pollers
  if [[ $op == up ]]; then
    zfirst=$(first_time "$zf" '>' "$BASE_Z") zlast=$(first_time "$zf" '>=' "$zt")
    ffirst=$(first_time "$ff" '>' "$BASE_F") flast=$(first_time "$ff" '>=' "$ft")
    rlast=$(first_time "$rf" '>=' "$((BASE_R + ROUTES))")
  else
    zfirst=$(first_time "$zf" '<' "$((BASE_Z + ROUTES))") zlast=$(first_time "$zf" '<=' "$zt")
    ffirst=$(first_time "$ff" '<' "$((BASE_F + ROUTES))") flast=$(first_time "$ff" '<=' "$ft")
    rlast=$(first_time "$rf" '<=' "$BASE_R")
  fi
  # zebra's FPM output: first sample above the phase's first value, first at its final value.
  cfirst=$(first_time "$cf" '>' "$(head -n1 "$cf" | cut -d' ' -f2)")
  clast=$(first_time "$cf" '>=' "$(tail -n1 "$cf" | cut -d' ' -f2)")
  [[ -n $zfirst && -n $zlast && -n $ffirst && -n $flast && -n $rlast && -n $cfirst && -n $clast ]] || return 1
  local sent recv
  sent=$(awk '/packets transmitted/ { print $1 }' "$pinglog")
  recv=$(awk '/packets transmitted/ { print $4 }' "$pinglog")
  DROPS=$(drops_delta "$drops0" "$(fwd_drops)" 2>/dev/null)
  # Where the losses were: the sequence numbers that never got a reply, placed in time by
  # ping's "no answer yet" line (printed when the next request leaves); and the slowest reply.
  LOSS_AT=$(awk -v t0="$t0" '
    /no answer yet/ { match($0, /icmp_seq=[0-9]+/); q = substr($0, RSTART + 9, RLENGTH - 9); at[q] = substr($1, 2, length($1) - 2) - t0 }
    / time=/ { match($0, /icmp_seq=[0-9]+/); got[substr($0, RSTART + 9, RLENGTH - 9)] = 1 }
    /^rtt/ { split($4, r, "/"); max = r[3] }
    END {
      for (q in at) if (!(q in got)) { if (n++ == 0 || at[q] < a) a = at[q]; if (at[q] > b) b = at[q] }
      if (n) printf "%d lost, at %.2f..%.2f s; ", n, a, b
      printf "slowest reply %s ms", max
    }' "$pinglog")
  PHASE=$(awk -v t0="$t0" -v a="$zfirst" -v b="$zlast" -v c="$ffirst" -v d="$flast" -v s="$sent" -v r="$recv" -v e="$rlast" -v f="$cfirst" -v g="$clast" \
    'BEGIN { printf "%.2f %.2f %.2f %.2f %.2f %d %d %.2f %.2f %.2f %.2f\n", a - t0, b - t0, c - t0, d - t0, d - b, s, r, e - t0, f - t0, g - t0, d - g }')
}

results=$tmp/results
: >"$results"
echo "full-table benchmark: $ROUTES IPv4 /24s from BIRD over eBGP, $RUNS runs, polling every ${POLL_S}s"
echo "host: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'), $(nproc) CPUs, load at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "baseline: zebra $BASE_Z routes, forwarder FIB $BASE_F routes"
printf '%-4s %-8s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %9s %9s %9s %9s %9s %5s\n' run phase z_first z_last \
  zf_first zf_last r_last f_first f_last f_span lag lag_rib loss "routed" "fwd" "zebra" "bgpd" load1
for ((run = 1; run <= RUNS; run++)); do
  for ph in load withdraw; do
    if [[ $ph == load ]]; then
      phase "r$run-load" enable "$((BASE_Z + ROUTES))" "$((BASE_F + ROUTES))" up || die "run $run load failed"
    else
      phase "r$run-withdraw" disable "$BASE_Z" "$BASE_F" down || die "run $run withdrawal failed"
    fi
    read -r zfirst zlast ffirst flast lag sent recv rlast cfirst clast flag <<<"$PHASE"
    mem=""
    for d in routed fwd zebra bgpd; do mem+="$(rss_mib "${PID_OF[$d]}")/$(hwm_mib "${PID_OF[$d]}") "; done
    read -r mr mf mz mb <<<"$mem"
    load1=$(cut -d' ' -f1 /proc/loadavg)
    span=$(awk -v a="$ffirst" -v b="$flast" 'BEGIN { printf "%.2f", b - a }')
    printf '%-4s %-8s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %9s %9s %9s %9s %9s %5s\n' "$run" "$ph" "$zfirst" "$zlast" \
      "$cfirst" "$clast" "$rlast" "$ffirst" "$flast" "$span" "$flag" "$lag" "$((sent - recv))/$sent" "$mr" "$mf" "$mz" "$mb" "$load1"
    [[ -n $LOSS_AT ]] && echo "     ping: $LOSS_AT"
    [[ -n $DROPS ]] && echo "     forwarder drop counters that moved: $DROPS"
    echo "$ph $zfirst $zlast $ffirst $flast $span $lag $sent $recv $rlast $cfirst $clast $flag" >>"$results"
    settle || die "the tables do not settle after run $run $ph"
  done
done
echo "times in seconds from the birdc command: z_ = zebra's RIB (route summary), zf_ = zebra's FPM output (contexts"
echo "handled), r_last = routed has the last change over FPM, f_ = the forwarder FIB; f_span = f_last - f_first;"
echo "lag = f_last - zf_last (the forwarder behind zebra's FPM output); lag_rib = f_last - z_last;"
echo "loss = ping replies lost / sent (100/s to 198.18.0.1 through the forwarder); memory: RSS/peak RSS MiB"
echo
summary() {  # PHASE COLUMN LABEL
  awk -v ph="$1" -v col="$2" -v label="$3" '$1 == ph { v[n++] = $col }
    END {
      if (n == 0) exit
      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      med = (n % 2) ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
      printf "%-9s %-38s median %7.2f  min..max %.2f..%.2f\n", ph, label, med, v[0], v[n - 1]
    }' "$results"
}
for ph in load withdraw; do
  summary "$ph" 3 "zebra RIB last (s, from birdc)"
  summary "$ph" 12 "zebra FPM output last (s, from birdc)"
  summary "$ph" 10 "routed has the last over FPM (s, from birdc)"
  summary "$ph" 5 "forwarder last (s, from birdc)"
  summary "$ph" 6 "forwarder first..last (s)"
  summary "$ph" 13 "forwarder lag behind zebra's FPM output (s)"
  summary "$ph" 7 "forwarder lag behind zebra's RIB (s)"
done
awk '{ s += $8; r += $9 } END { printf "ping through the forwarder over all phases: %d sent, %d lost\n", s, s - r }' "$results"
echo "zebra FPM counters at the end: $(VTY -c 'show fpm counters json' | jq -c .)"
echo "CPU seconds used: routed $(cpu_s "$ROUTED_PID"), forwarder $(cpu_s "$FWD_PID"), zebra $(cpu_s "${PID_OF[zebra]}"), bgpd $(cpu_s "${PID_OF[bgpd]}"); load at end $(cut -d' ' -f1-3 /proc/loadavg)"
