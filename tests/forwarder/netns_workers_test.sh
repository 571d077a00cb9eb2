#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netns: causeway-fwd with two workers (two queue pairs per af_packet port, spread by the
# kernel's PACKET_FANOUT hash), on a machine that may have only two CPUs (the default lcore
# layout then maps three EAL lcores onto the CPUs with --lcores).
#
#   [h1] eth0 10.1.0.2 fd00:1::2 ---- p0 [fw: 2 workers] p1 ---- eth0 10.2.0.2 fd00:2::2 [h2]
#
# Checks that many flows (iperf3 -P 4 both ways, pings) get through; that both workers'
# counters show received packets and that per-worker counters add up to the port totals;
# and that 100 route changes while traffic flows on another path lose nothing (the grace
# period now waits for two RCU readers).
# Usage: netns_workers_test.sh CAUSEWAY_FWD CAUSEWAYCTL
set -uo pipefail
FWD=$1
CTL=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/netns.sh"
source "$here/netns_fwd_lib.sh"

id=$$
FW=cww-fw-$id H1=cww-h1-$id H2=cww-h2-$id
tmp=$(mktemp -d /tmp/cwworkers.XXXXXX)
sock=$tmp/fwd.sock
trap 'cw_cleanup; rm -rf "$tmp"' EXIT

two_site_hosts

# No `lcores`: the forwarder picks -l 0-2, or an --lcores map when fewer than 3 CPUs.
cat >"$tmp/fwd.yaml" <<YAML
name: workers-$id
dpdk: {workers: 2, memory_mb: 512, file_prefix: cww-$id}
ports:
  - name: lan0
    device: "net_af_packet0,iface=p0"
    mac: "02:00:00:00:01:01"
    addresses: [10.1.0.1/24, "fd00:1::1/64"]
  - name: lan1
    device: "net_af_packet1,iface=p1"
    mac: "02:00:00:00:02:01"
    addresses: [10.2.0.1/24, "fd00:2::1/64"]
fib: {v4_max_routes: 65536, v4_tbl8_groups: 512, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $sock
YAML

two_queue_pairs() {
  grep -E "EAL: .*(-l 0-2|--lcores 0@[0-9]+,1@[0-9]+,2@[0-9]+)" "$tmp/fwd.log" >&2 &&
    grep -q "forwarding with 2 worker(s)" "$tmp/fwd.log" &&
    ctl --json ports | python3 -c '
import json, sys
ports = json.load(sys.stdin)["ports"]
sys.exit(0 if all(p["rx_queues"] == 2 and p["tx_queues"] == 2 for p in ports) else 1)'
}

cw_check "forwarder starts with 2 workers" start_fwd || { cw_summary; exit 1; }
cw_check "2 rx and 2 tx queues per port, lcores placed" two_queue_pairs
cw_check "IPv4 h1 -> h2" ping_ok "$H1" 10.2.0.2
cw_check "IPv4 h2 -> h1" ping_ok "$H2" 10.1.0.2
cw_check "IPv6 h1 -> h2" ping_ok "$H1" -6 fd00:2::2
cw_check "IPv6 h2 -> h1" ping_ok "$H2" -6 fd00:1::2
cw_check "appliance reachable (IPv4)" ping_ok "$H1" 10.1.0.1

iperf_run() { # iperf_run PORT EXTRA...: 4 parallel TCP flows h1 -> h2 (or back with -R)
  local port=$1
  shift
  cw_spawn "$H2" "$tmp/iperf-s-$port.log" iperf3 -s -1 -p "$port"
  local spid=$CW_LAST_PID
  cw_wait_until 10 ip netns exec "$H2" bash -c "ss -ltn | grep -q :$port" || return 1
  local rc=0
  ip netns exec "$H1" timeout 40 iperf3 -c 10.2.0.2 -p "$port" -P 4 -t 3 --connect-timeout 3000 \
    -J "$@" >"$tmp/iperf-$port.json" || rc=1
  cw_stop "$spid" 3
  ((rc == 0)) || { cat "$tmp/iperf-$port.json" >&2; return 1; }
  python3 - "$tmp/iperf-$port.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bps = r["end"]["sum_received"]["bits_per_second"]
streams = [s["receiver"]["bytes"] for s in r["end"]["streams"]]
print(f"iperf3 -P 4 through 2 workers: {bps/1e6:.0f} Mbit/s, per stream bytes {streams}",
      file=sys.stderr)
sys.exit(0 if bps > 20e6 and len(streams) == 4 and min(streams) > 0 else 1)
PY
}
cw_check "iperf3 -P 4 TCP h1 -> h2" iperf_run 5201
cw_check "iperf3 -P 4 TCP h2 -> h1 (-R)" iperf_run 5202 -R

many_pings() { # 16 ping flows (different ICMP ids) in parallel, none loses anything
  local i pids=() rc=0
  for ((i = 0; i < 16; i++)); do
    ip netns exec "$H1" ping -c 20 -i 0.05 -W 2 10.2.0.2 >"$tmp/ping-$i.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || rc=1
    grep -q " 0% packet loss" "$tmp/ping-$i.log" || { tail -2 "$tmp/ping-$i.log" >&2; rc=1; }
  done
  return $rc
}
cw_check "16 parallel ping flows, no loss" many_pings

workers_share_and_add_up() {
  ctl --json stats >"$tmp/stats.json" || return 1
  python3 - "$tmp/stats.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
w = s["workers"]
rx = [x["rx_packets"] for x in w]
tx = [x["tx_packets"] for x in w]
port_rx = sum(p["rx_packets"] for p in s["ports"])
port_tx = sum(p["tx_packets"] for p in s["ports"])
# Frames the control thread sends leave through a worker too, so tx adds up exactly as well.
print(f"workers rx {rx} (sum {sum(rx)}, ports {port_rx}); tx {tx} (sum {sum(tx)}, ports "
      f"{port_tx})", file=sys.stderr)
ok = len(w) == 2 and min(rx) > 1000 and sum(rx) == port_rx and sum(tx) == port_tx
ok = ok and min(tx) > 1000
sys.exit(0 if ok else 1)
PY
}
cw_check "both workers received traffic; per-worker counters add up" workers_share_and_add_up

route_churn() {
  local i
  for ((i = 0; i < 50; i++)); do
    ctl route add 10.30.$i.0/24 via 10.2.0.2 port lan1 >/dev/null || return 1
  done
  for ((i = 0; i < 50; i++)); do
    ctl route del 10.30.$i.0/24 >/dev/null || return 1
  done
}
no_loss_during_churn() {
  local i pids=() rc=0
  for ((i = 0; i < 4; i++)); do
    ip netns exec "$H1" ping -c 200 -i 0.01 -W 1 10.2.0.2 >"$tmp/churn-$i.log" 2>&1 &
    pids+=($!)
  done
  route_churn || rc=1
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || rc=1
    grep -q " 0% packet loss" "$tmp/churn-$i.log" || { tail -2 "$tmp/churn-$i.log" >&2; rc=1; }
  done
  return $rc
}
cw_check "100 route changes while 4 ping flows run: no loss" no_loss_during_churn

cw_check "forwarder stops cleanly" cw_stop "$FWD_PID" 10
cw_cleanup
leftovers() { ! ip netns list | grep -q "cww-.*-$id"; }
cw_check "no namespace left behind" leftovers
cw_summary
