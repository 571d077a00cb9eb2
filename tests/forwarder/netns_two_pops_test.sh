#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netns: two causeway-fwd PoPs joined by two WAN links (two backbones), one tunnel per backbone,
# a site host behind each PoP (topology in netns_two_pops_lib.sh). Path group 1 on each PoP
# holds both tunnels' peers.
#
# Checks: both tunnels come up (persistent keepalive); with wan0's tunnel active, site traffic
# crosses wan0 only; with a traffic class for DSCP EF whose own set is wan1's tunnel, EF pings
# cross wan1 and the others wan0; switching the active member through the control socket moves the traffic
# to wan1 while a UDP stream runs, with no loss or reordering beyond the packets in flight at
# the switch.
# Usage: netns_two_pops_test.sh CAUSEWAY_FWD CAUSEWAYCTL [PMD]   (af_packet, the default, or
# af_xdp: the same checks with the ports on XDP sockets)
set -uo pipefail
FWD=$1
CTL=$2
TWO_POPS_PMD=${3:-af_packet}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/netns.sh"
for tool in wg iperf3 python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (scripts/install-deps.sh)" >&2; exit 1; }
done

id=$$
source "$here/netns_two_pops_lib.sh"
tmp=
trap 'cw_cleanup; [[ -n $tmp ]] && rm -rf "$tmp"' EXIT
two_pops_setup

set_active() { # set_active TUNNEL: on both PoPs, only TUNNEL/far carries group 1
  for pop in pa pb; do
    ctl "$pop" path-groups set 1 --member wg0/far --member wg1/far --active "$1/far" || return 1
  done
}

cw_check "PoP A starts" start_pop "$A" pa || { cw_summary; exit 1; }
cw_check "PoP B starts" start_pop "$B" pb || { cw_summary; exit 1; }
if [[ $TWO_POPS_PMD == af_xdp ]]; then
  xdp_on_every_port() {
    local ns ifname
    for ns in "$A" "$B"; do
      for ifname in p0 w0 w1; do ip -n "$ns" link show "$ifname" | grep -q " xdp" || return 1; done
    done
  }
  cw_check "af_xdp: an XDP program on every port's veth" xdp_on_every_port
fi
cw_check "both tunnels come up on PoP A" cw_wait_until 20 both_sessions_up pa
cw_check "both tunnels come up on PoP B" cw_wait_until 20 both_sessions_up pb
cw_check "path group 1: wan0's tunnel active" set_active wg0
cw_check "causewayctl path-groups shows the active member" \
  bash -c "'$CTL' --socket '$tmp/pa.sock' path-groups | grep -q 'wg0/far, wg1/far *wg0/far'"

follows_wan0() {
  local w0 w1 w0b w1b
  w0=$(wan_tx pa wan0) w1=$(wan_tx pa wan1)
  ip netns exec "$HA" ping -q -c 50 -i 0.01 -W 2 10.2.0.2 >/dev/null || return 1
  w0b=$(wan_tx pa wan0) w1b=$(wan_tx pa wan1)
  cw_log "wan0 tx +$((w0b - w0)), wan1 tx +$((w1b - w1)) for 50 pings"
  # wan1 carries only its keepalives (about one a second).
  ((w0b - w0 >= 50 && w1b - w1 < 10))
}
cw_check "traffic follows the active member (wan0)" follows_wan0

# Traffic classes (control messages 14 and 11): on PoP A, DSCP EF is class 1 and its own set is
# wg1/far; everything else stays on the group's active member, wg0/far.
classes_steer() {
  ctl pa traffic-classes set '{"classes": [{"id": 1, "name": "voice", "dscp": [46]}]}' || return 1
  ctl pa path-groups set 1 --member wg0/far --member wg1/far --active wg0/far \
    --class 1=wg1/far || return 1
  ctl pa path-groups | grep -q '1 voice *wg1/far' || { ctl pa path-groups >&2; return 1; }
  local w0 w1 w0b w1b w0c w1c
  w0=$(wan_tx pa wan0) w1=$(wan_tx pa wan1)
  ip netns exec "$HA" ping -q -c 50 -i 0.01 -W 2 -Q 0xb8 10.2.0.2 >/dev/null || return 1
  w0b=$(wan_tx pa wan0) w1b=$(wan_tx pa wan1)
  ip netns exec "$HA" ping -q -c 50 -i 0.01 -W 2 10.2.0.2 >/dev/null || return 1
  w0c=$(wan_tx pa wan0) w1c=$(wan_tx pa wan1)
  cw_log "EF pings: wan0 +$((w0b - w0)), wan1 +$((w1b - w1)); best effort: wan0 +$((w0c - w0b)), wan1 +$((w1c - w1b))"
  ((w1b - w1 >= 50 && w0b - w0 < 10 && w0c - w0b >= 50 && w1c - w1b < 10)) || return 1
  # Back to no classes and wan0 for what follows.
  ctl pa traffic-classes set '{"classes": []}' && set_active wg0
}
cw_check "traffic classes: DSCP EF follows its class's member (wan1), the rest wan0" classes_steer

switch_under_load() {
  cw_spawn "$HB" "$tmp/iperf-s.log" iperf3 -s -1 -p 5201 -J
  local spid=$CW_LAST_PID
  cw_wait_until 10 ip netns exec "$HB" bash -c "ss -Hlun 'sport = :5201' | grep -q . || ss -Hltn 'sport = :5201' | grep -q ." || return 1
  local w1 w0 deadline
  w1=$(wan_tx pa wan1) w0=$(wan_tx pa wan0)
  ip netns exec "$HA" timeout 30 iperf3 -c 10.2.0.2 -p 5201 -u -b 8M -l 1000 -t 4 -J \
    >"$tmp/iperf-c.json" &
  local cpid=$!
  # Switch once about 1500 datagrams (of ~4000) have crossed wan0.
  deadline=$((SECONDS + 10))
  until (($(wan_tx pa wan0) - w0 >= 1500)); do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
  set_active wg1 || return 1
  wait "$cpid" || { cat "$tmp/iperf-c.json" >&2; return 1; }
  cw_stop "$spid" 5
  local w1b=$(wan_tx pa wan1)
  cw_log "wan1 tx +$((w1b - w1)) after the switch"
  python3 - "$tmp/iperf-s.log" <<'PY' || return 1
import json, sys
r = json.load(open(sys.argv[1]))["end"]["sum"]
lost, total, ooo = r["lost_packets"], r["packets"], r.get("out_of_order", 0)
print(f"UDP across the switch: {total} packets, {lost} lost, {ooo} out of order", file=sys.stderr)
sys.exit(0 if total > 1000 and lost <= 32 and ooo <= 32 else 1)
PY
  ((w1b - w1 > 1000))
}
cw_check "switching the active member moves the traffic (no loss/reordering beyond the switch)" \
  switch_under_load
cw_check "pings after the switch" ping_ok "$HA" 10.2.0.2

cw_cleanup
leftovers() { ! ip netns list | grep -q "cwt-.*-$id"; }
cw_check "no namespace left behind" leftovers
cw_summary
