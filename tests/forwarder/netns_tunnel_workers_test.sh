#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netns: two causeway-fwd PoPs with two workers each, joined by two tunnels (two WAN links,
# topology in netns_two_pops_lib.sh), IPv4 and IPv6 sites. Path group 1 spreads flows over both
# tunnels' peers; each peer's data path belongs to one worker (peer wg0/far to worker 0, wg1/far
# to worker 1, tunnel_stages.h), so a flow the kernel's PACKET_FANOUT hash gives to the other
# worker is handed off before encryption, and datagrams of a peer that arrive on the other
# worker's queue are handed off before decryption.
#
# Checks: pings (IPv4, IPv6, both ways) and iperf3 -P 4 TCP both ways through the tunnels; both
# tunnels carried the traffic; on each PoP both workers received packets; packets were handed
# off between workers and every one handed off was taken by its owner (handoff_sent =
# handoff_received); no replay drop (the hand-off does not reorder a peer's packets).
# Usage: netns_tunnel_workers_test.sh CAUSEWAY_FWD CAUSEWAYCTL
set -uo pipefail
FWD=$1
CTL=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/netns.sh"
for tool in wg iperf3 python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (scripts/install-deps.sh)" >&2; exit 1; }
done

id=$$
source "$here/netns_two_pops_lib.sh"
tmp=
trap 'cw_cleanup; [[ -n $tmp ]] && rm -rf "$tmp"' EXIT
TWO_POPS_WORKERS=2 TWO_POPS_SITE6=1 two_pops_setup

two_workers() { grep -q "forwarding with 2 worker(s)" "$tmp/$1.log"; }

cw_check "PoP A starts" start_pop "$A" pa || { cw_summary; exit 1; }
PA_PID=$CW_LAST_PID
cw_check "PoP B starts" start_pop "$B" pb || { cw_summary; exit 1; }
PB_PID=$CW_LAST_PID
cw_check "PoP A runs 2 workers" two_workers pa
cw_check "PoP B runs 2 workers" two_workers pb
cw_check "both tunnels come up on PoP A" cw_wait_until 20 both_sessions_up pa
cw_check "both tunnels come up on PoP B" cw_wait_until 20 both_sessions_up pb

cw_check "IPv4 ha -> hb" ping_ok "$HA" 10.2.0.2
cw_check "IPv4 hb -> ha" ping_ok "$HB" 10.1.0.2
cw_check "IPv6 ha -> hb" ping_ok "$HA" -6 fd00:2::2
cw_check "IPv6 hb -> ha" ping_ok "$HB" -6 fd00:1::2

iperf_run() { # iperf_run PORT EXTRA...: 4 parallel TCP flows ha -> hb (or back with -R)
  local port=$1
  shift
  cw_spawn "$HB" "$tmp/iperf-s-$port.log" iperf3 -s -1 -p "$port"
  local spid=$CW_LAST_PID
  cw_wait_until 10 ip netns exec "$HB" bash -c "ss -ltn | grep -q :$port" || return 1
  local rc=0
  ip netns exec "$HA" timeout 40 iperf3 -c 10.2.0.2 -p "$port" -P 4 -t 3 --connect-timeout 3000 \
    -J "$@" >"$tmp/iperf-$port.json" || rc=1
  cw_stop "$spid" 3
  ((rc == 0)) || { cat "$tmp/iperf-$port.json" >&2; return 1; }
  python3 - "$tmp/iperf-$port.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bps = r["end"]["sum_received"]["bits_per_second"]
streams = [s["receiver"]["bytes"] for s in r["end"]["streams"]]
retr = r["end"]["sum_sent"].get("retransmits", 0)
print(f"iperf3 -P 4 through two tunnels, 2 workers per PoP: {bps/1e6:.0f} Mbit/s, "
      f"{retr} retransmits, per stream bytes {streams}", file=sys.stderr)
sys.exit(0 if bps > 20e6 and len(streams) == 4 and min(streams) > 0 else 1)
PY
}
wan_tx_before0=$(wan_tx pa wan0) wan_tx_before1=$(wan_tx pa wan1)
cw_check "iperf3 -P 4 TCP ha -> hb" iperf_run 5201
cw_check "iperf3 -P 4 TCP hb -> ha (-R)" iperf_run 5202 -R

many_pings() { # 16 ping flows (different ICMP ids) per family in parallel, none loses anything
  local i pids=() rc=0
  for ((i = 0; i < 16; i++)); do
    ip netns exec "$HA" ping -c 20 -i 0.05 -W 2 10.2.0.2 >"$tmp/ping-$i.log" 2>&1 &
    pids+=($!)
    ip netns exec "$HB" ping -6 -c 20 -i 0.05 -W 2 fd00:1::2 >"$tmp/ping6-$i.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
  for f in "$tmp"/ping-*.log "$tmp"/ping6-*.log; do
    grep -q " 0% packet loss" "$f" || { tail -2 "$f" >&2; rc=1; }
  done
  return $rc
}
cw_check "16 IPv4 and 16 IPv6 ping flows in parallel, no loss" many_pings

both_tunnels_used() {
  local d0=$(($(wan_tx pa wan0) - wan_tx_before0)) d1=$(($(wan_tx pa wan1) - wan_tx_before1))
  cw_log "PoP A wan0 tx +$d0, wan1 tx +$d1"
  ((d0 > 1000 && d1 > 1000))
}
cw_check "flows spread over both tunnels" both_tunnels_used

# Per PoP: both workers received; hand-offs happened and add up; no replay drops.
check_workers() { # check_workers POP
  ctl "$1" --json stats >"$tmp/$1-stats.json" || return 1
  python3 - "$1" "$tmp/$1-stats.json" <<'PY'
import json, sys
pop, s = sys.argv[1], json.load(open(sys.argv[2]))
w, d = s["workers"], s["drops"]
rx = [x["rx_packets"] for x in w]
sent = [x["handoff_sent"] for x in w]
got = [x["handoff_received"] for x in w]
full, replayed = d["tunnel_handoff_full"], d["tunnel_replayed"]
print(f"{pop}: workers rx {rx}, handed off {sent}, taken {got}, tunnel_handoff_full {full}, "
      f"tunnel_replayed {replayed}", file=sys.stderr)
# handoff_sent counts what the rings took (a full ring drops as tunnel_handoff_full): with the
# traffic over, every one of them has been taken by its owner.
ok = len(w) == 2 and min(rx) > 1000 and sum(sent) > 0 and sum(sent) == sum(got)
sys.exit(0 if ok and replayed == 0 else 1)
PY
}
cw_check "PoP A: both workers carry traffic, hand-offs add up, no replay drops" check_workers pa
cw_check "PoP B: both workers carry traffic, hand-offs add up, no replay drops" check_workers pb

cw_check "PoP A stops cleanly" cw_stop "$PA_PID" 10
cw_check "PoP B stops cleanly" cw_stop "$PB_PID" 10
cw_cleanup
leftovers() { ! ip netns list | grep -q "cwt-.*-$id"; }
cw_check "no namespace left behind" leftovers
cw_summary
