#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 5, end to end: the same topology twice in one run, once with two wireguard-go peers
# (Linux routing) and once with two causeway-fwd PoPs, a site host behind each side:
#
#   [ha] 10.1.0.2 -- [a] 10.9.0.1 ==== backbone veth ==== 10.9.0.2 [b] -- 10.2.0.2 [hb]
#
# Measures iperf3 TCP ha -> hb (Gbit/s) and UDP with 64-byte payloads at an unlimited offered
# rate (delivered packets/s, offered packets/s beside it), REPS times each, and prints the
# median and the spread (min..max). Targets: TCP >= 3x wireguard-go, UDP-64 >= 2x.
# Both setups exist for the whole run and the repetitions alternate between them (reference
# first in each round); the processes of the setup not being measured are stopped (SIGSTOP)
# meanwhile, so that neither's idle polling takes CPU from the other's measurement.
# The PoPs' ports (E2E_PMD): net_af_xdp (default: XDP on the veths, frames go straight to the
# forwarder without the namespace's IP stack) with 4096 descriptors per ring, or net_af_packet
# with a 4096-frame ring (framecnt=4096: the PMD's 512 overflowed under TCP, 3% retransmits).
# E2E_DEVARGS appends devargs to both ports.
# E2E_WORKERS=N gives the causeway-fwd PoPs N workers (default 1). With one, each PoP's worker
# has a CPU of its own, as two PoPs on two machines would (PoP a's on CPU 1, b's on CPU 0; the
# control threads on the other CPU); E2E_SPREAD=0 puts both workers on CPU 1.
# E2E_PERF=FILE records `perf record -a -g` during each TCP round into FILE.<setup>.
# Root; needs wireguard-go, wg, iperf3, python3 and a build of causeway-fwd/causewayctl.
# Usage: bench/run-tunnel-e2e.sh [BUILD_DIR] [REPS] [SECONDS]   (defaults: build-bench, 3, 5)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-bench}
reps=${2:-3}
secs=${3:-5}
workers=${E2E_WORKERS:-1}
pmd=${E2E_PMD:-af_xdp}
case $pmd in
  af_xdp) devargs=${E2E_DEVARGS:-} rings=", rx_desc: 4096, tx_desc: 4096" ;;
  af_packet) devargs=",framecnt=4096${E2E_DEVARGS:-}" rings= ;;
  *) echo "E2E_PMD: af_xdp or af_packet" >&2; exit 1 ;;
esac
source "$here/scripts/lib/netns.sh"
for tool in wireguard-go wg iperf3 python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
source "$here/scripts/lib/bench.sh"
cw_bench_build run-tunnel-e2e "$build" "-DCMAKE_BUILD_TYPE=Release -DCAUSEWAY_BENCH=ON" causeway-fwd causewayctl || exit 1
FWD=$build/forwarder/causeway-fwd
CTL=$build/forwarder/ctl/causewayctl
[[ -x $FWD ]] || FWD=$(find "$build" -name causeway-fwd -type f -perm -u+x | head -1)
[[ -x $CTL ]] || CTL=$(find "$build" -name causewayctl -type f -perm -u+x | head -1)

id=$$
tmp=$(mktemp -d /tmp/cwe2e.XXXXXX)
trap 'cw_cleanup; rm -rf "$tmp"' EXIT
umask 077
for k in a b; do
  wg genkey >"$tmp/$k.key"
  wg pubkey <"$tmp/$k.key" >"$tmp/$k.pub"
done

topology() { # topology MODE: namespaces ha, a, b, hb of one mode
  local m=$1
  HA=cwe-ha-$m-$id A=cwe-a-$m-$id B=cwe-b-$m-$id HB=cwe-hb-$m-$id
  eval "HA_$m=\$HA HB_$m=\$HB"
  for ns in "$HA" "$A" "$B" "$HB"; do cw_ns_add "$ns"; done
  cw_veth "$A" p0 "$HA" eth0
  cw_veth "$B" p0 "$HB" eth0
  cw_veth "$A" w0 "$B" w0
  for ns in "$HA" "$HB"; do cw_prepare_host_if "$ns" eth0; ip -n "$ns" link set eth0 mtu 1420; done
  ip -n "$HA" addr add 10.1.0.2/24 dev eth0
  ip -n "$HA" route add default via 10.1.0.1
  ip -n "$HB" addr add 10.2.0.2/24 dev eth0
  ip -n "$HB" route add default via 10.2.0.1
}

setup_wireguard_go() {
  topology wg
  local me other lan remote own far
  for side in a b; do
    if [[ $side == a ]]; then ns=$A other=b lan=10.1.0.1/24 remote=10.2.0.0/24 own=1 far=2
    else ns=$B other=a lan=10.2.0.1/24 remote=10.1.0.0/24 own=2 far=1; fi
    ip -n "$ns" addr add "$lan" dev p0
    ip -n "$ns" addr add "10.9.0.$own/24" dev w0
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
    cw_spawn "$ns" "$tmp/wg-$side.log" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
      wireguard-go -f "wge$side$((id % 10000))"
    WG_PIDS+=("$CW_LAST_PID")
    cw_wait_until 10 test -S "/var/run/wireguard/wge$side$((id % 10000)).sock" || return 1
    ip netns exec "$ns" wg set "wge$side$((id % 10000))" private-key "$tmp/$side.key" \
      listen-port 51820 peer "$(cat "$tmp/$other.pub")" allowed-ips "$remote" \
      endpoint "10.9.0.$far:51820"
    ip -n "$ns" link set "wge$side$((id % 10000))" mtu 1420 up
    ip -n "$ns" route add "$remote" dev "wge$side$((id % 10000))"
  done
}

setup_causeway() {
  topology fwd
  local dpdk
  for side in a b; do
    local ns other lan remote own far
    if [[ $side == a ]]; then ns=$A other=b lan=10.1.0.1/24 remote=10.2.0.0/24 own=1 far=2
    else ns=$B other=a lan=10.2.0.1/24 remote=10.1.0.0/24 own=2 far=1; fi
    # One worker: PoP a's on CPU 1, PoP b's on CPU 0, each PoP's control thread on the other
    # CPU (two machines would not share a CPU; iperf3 and the kernel run beside the workers);
    # E2E_SPREAD=0: both workers on CPU 1, both control threads on CPU 0.
    dpdk="workers: 1, lcores: \"0-1\""
    [[ $side == b && ${E2E_SPREAD:-1} == 1 ]] && dpdk="workers: 1, lcores: \"0@1,1@0\""
    ((workers == 1)) || dpdk="workers: $workers"
    cw_prepare_dpdk_if "$ns" p0
    cw_prepare_dpdk_if "$ns" w0
    cat >"$tmp/$side.yaml" <<YAML
name: e2e-$side-$id
dpdk: {$dpdk, memory_mb: 512, file_prefix: cwe-$side-$id}
ports:
  - {name: lan0, device: "net_${pmd}0,iface=p0$devargs", addresses: [$lan]$rings}
  - {name: wan0, device: "net_${pmd}1,iface=w0$devargs", addresses: [10.9.0.$own/24]$rings}
routes:
  - {prefix: $remote, path_group: 1}
tunnels:
  - name: wg0
    private_key_file: $tmp/$side.key
    listen_port: 51820
    ports: [wan0]
    peers:
      - {public_key: "$(cat "$tmp/$other.pub")", endpoint: "10.9.0.$far:51820",
         allowed_ips: [$remote], path_group: 1}
fib: {v4_max_routes: 65536, v4_tbl8_groups: 512, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $tmp/$side.sock
uapi: {socket_dir: $tmp/uapi-$side}
idle_sleep_max_us: 100
YAML
    cw_spawn "$ns" "$tmp/fwd-$side.log" "$FWD" -c "$tmp/$side.yaml"
    FWD_PIDS+=("$CW_LAST_PID")
    cw_wait_until 30 "$CTL" --socket "$tmp/$side.sock" hello || { cat "$tmp/fwd-$side.log" >&2; return 1; }
  done
}

measure() { # measure MODE NS_SUFFIX: one round, "MODE tcp GBPS" and "MODE udp DELIVERED OFFERED"
  local mode=$1 HA HB
  eval "HA=\$HA_$2 HB=\$HB_$2"
  ip netns exec "$HA" ping -c 3 -i 0.2 -W 3 -w 15 10.2.0.2 >/dev/null || { echo "$mode: no ping" >&2; return 1; }
  {
    cw_spawn "$HB" "$tmp/s.json" iperf3 -s -1 -J -p 5201
    local spid=$CW_LAST_PID
    cw_wait_until 10 ip netns exec "$HB" bash -c "ss -Hltn 'sport = :5201' | grep -q ."
    local perf_pid=
    if [[ -n ${E2E_PERF:-} ]]; then
      perf record -q -a -g -o "$E2E_PERF.$mode" -- sleep $((secs - 1)) >/dev/null 2>&1 &
      perf_pid=$!
    fi
    ip netns exec "$HA" iperf3 -c 10.2.0.2 -p 5201 -t "$secs" -J >"$tmp/c.json" 2>&1
    [[ -n $perf_pid ]] && wait "$perf_pid"
    cw_stop "$spid" 3
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2], "tcp", r["end"]["sum_received"]["bits_per_second"]/1e9, r["end"]["sum_sent"].get("retransmits", 0))' \
      "$tmp/c.json" "$mode" >>"$tmp/results" || return 1
    cw_spawn "$HB" "$tmp/s.json" iperf3 -s -1 -J -p 5201
    spid=$CW_LAST_PID
    cw_wait_until 10 ip netns exec "$HB" bash -c "ss -Hltn 'sport = :5201' | grep -q ."
    ip netns exec "$HA" iperf3 -c 10.2.0.2 -p 5201 -u -l 64 -b 0 -t "$secs" -J >"$tmp/c.json" 2>&1
    cw_stop "$spid" 3
    python3 - "$tmp/s.json" "$tmp/c.json" "$mode" >>"$tmp/results" <<'PY' || return 1
import json, sys
def first_object(path):
    # iperf3 -s -1 -J sometimes prints a second object (an error about the closing exchange,
    # seen once under the UDP flood) after its report: the report is the first.
    return json.JSONDecoder().raw_decode(open(path).read().lstrip())[0]
s = first_object(sys.argv[1])["end"]["sum"]
c = first_object(sys.argv[2])["end"]["sum"]
print(sys.argv[3], "udp", (s["packets"] - s["lost_packets"]) / s["seconds"], c["packets"] / c["seconds"])
PY
  }
}
pause() { kill -STOP "$@" 2>/dev/null || true; }
resume() { kill -CONT "$@" 2>/dev/null || true; }

: >"$tmp/results"
WG_PIDS=() FWD_PIDS=()
setup_wireguard_go || { echo "wireguard-go setup failed" >&2; exit 1; }
setup_causeway || { echo "causeway setup failed" >&2; exit 1; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < reps; r++)); do
  pause "${FWD_PIDS[@]}"
  measure wireguard-go wg || echo "wireguard-go round $r failed" >&2
  resume "${FWD_PIDS[@]}"
  pause "${WG_PIDS[@]}"
  measure causeway fwd || echo "causeway round $r failed" >&2
  resume "${WG_PIDS[@]}"
done
for side in a b; do
  "$CTL" --socket "$tmp/$side.sock" --json stats >"$tmp/stats-$side.json" 2>/dev/null || true
done
python3 - "$tmp"/stats-a.json "$tmp"/stats-b.json <<'PY' >&2 || true
import json, sys
for f in sys.argv[1:]:
    s = json.load(open(f))
    d = {k: v for k, v in s["drops"].items() if v}
    w = [(x["rx_packets"], x.get("handoff_sent", 0)) for x in s["workers"]]
    p = {x["name"]: (x["rx_packets"], x["tx_packets"], x["rx_dropped"]) for x in s["ports"]}
    print(f"{f.rsplit('/', 1)[-1]}: workers (rx, handed off) {w}; ports (rx, tx, rx_dropped) {p}; "
          f"drops {d}")
PY
cw_cleanup
echo "end to end, causeway-fwd on $pmd with $workers worker(s) (E2E_SPREAD=${E2E_SPREAD:-1}), $reps alternating runs of $secs s each, median (min..max); host load at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$tmp/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def col(mode, kind, i):
    return [float(r[i]) for r in rows if r[0] == mode and r[1] == kind]
def fmt(v, scale=1.0, unit=""):
    if not v: return "n/a"
    return f"{statistics.median(v)*scale:.3g}{unit} ({min(v)*scale:.3g}..{max(v)*scale:.3g})"
wt, ct = col("wireguard-go", "tcp", 2), col("causeway", "tcp", 2)
wu, cu = col("wireguard-go", "udp", 2), col("causeway", "udp", 2)
wo, co = col("wireguard-go", "udp", 3), col("causeway", "udp", 3)
print(f"TCP Gbit/s        wireguard-go {fmt(wt)}   causeway-fwd {fmt(ct)}   ratio "
      + (f"{statistics.median(ct)/statistics.median(wt):.2f}x (target 3x)" if wt and ct else "n/a"))
print(f"UDP-64 kpps recv  wireguard-go {fmt(wu, 1e-3)}   causeway-fwd {fmt(cu, 1e-3)}   ratio "
      + (f"{statistics.median(cu)/statistics.median(wu):.2f}x (target 2x)" if wu and cu else "n/a"))
print(f"UDP-64 kpps offered  wireguard-go {fmt(wo, 1e-3)}   causeway-fwd {fmt(co, 1e-3)}")
print(f"TCP retransmits   wireguard-go {fmt(col('wireguard-go', 'tcp', 3))}   causeway-fwd {fmt(col('causeway', 'tcp', 3))}")
PY
