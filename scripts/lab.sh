#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's main command: a Causeway lab on this machine, in network namespaces.
#
#   scripts/lab.sh [up]     install what is missing, build, start the lab, send traffic through
#                           it and print what happened; the lab keeps running
#   scripts/lab.sh status   forwarder counters, routes, neighbours
#   scripts/lab.sh traffic  ping and a short iperf3 between the sites again
#   scripts/lab.sh down     stop every process the lab started (by PID), remove its namespaces
#
# Topology (this stage of the product: one PoP forwarding between two sites):
#
#   [cwlab-branch] 10.1.0.2 ---- lan0 [cwlab-pop: causeway-fwd] lan1 ---- 10.2.0.2 [cwlab-dc]
#                  fd00:1::2     10.1.0.1 fd00:1::1   10.2.0.1 fd00:2::1    fd00:2::2
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${CAUSEWAY_BUILD_DIR:-$here/build}
state=/run/causeway-lab
POP=cwlab-pop BRANCH=cwlab-branch DC=cwlab-dc
FWD=$build/forwarder/causeway-fwd
CTL=$build/forwarder/ctl/causewayctl
source "$here/scripts/lib/netns.sh"

say() { printf '\n== %s\n' "$*"; }
ctl() { "$CTL" --socket "$state/fwd.sock" "$@"; }

lab_down() {
  if [[ -f $state/pids ]]; then
    while read -r pid; do
      if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then cw_stop "$pid" 10 || true; fi
    done <"$state/pids"
  fi
  for ns in $POP $BRANCH $DC; do
    if ip netns list | grep -qw "$ns"; then
      ip netns pids "$ns" | xargs -r kill -KILL 2>/dev/null || true
      ip netns del "$ns"
    fi
  done
  rm -rf "$state"
}

lab_up() {
  if [[ -d $state ]]; then
    echo "lab: already up (scripts/lab.sh down first, or scripts/lab.sh status)" >&2
    exit 1
  fi
  "$here/scripts/install-deps.sh"
  say "building"
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j "$(nproc)" --target causeway-fwd causewayctl >/dev/null
  mkdir -p "$state"
  trap 'echo "lab: start-up failed, tearing down" >&2; lab_down' ERR

  say "namespaces and links"
  for ns in $POP $BRANCH $DC; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
  done
  cw_veth $POP lan0 $BRANCH eth0
  cw_veth $POP lan1 $DC eth0
  cw_prepare_dpdk_if $POP lan0
  cw_prepare_dpdk_if $POP lan1
  cw_prepare_host_if $BRANCH eth0
  cw_prepare_host_if $DC eth0
  ip -n $BRANCH addr add 10.1.0.2/24 dev eth0
  ip -n $BRANCH addr add fd00:1::2/64 dev eth0 nodad
  ip -n $BRANCH route add default via 10.1.0.1
  ip -n $BRANCH route add default via fd00:1::1
  ip -n $DC addr add 10.2.0.2/24 dev eth0
  ip -n $DC addr add fd00:2::2/64 dev eth0 nodad
  ip -n $DC route add default via 10.2.0.1
  ip -n $DC route add default via fd00:2::1
  ip -n $DC addr add 10.20.0.2/32 dev lo
  echo "  $BRANCH (10.1.0.2) --lan0-- $POP --lan1-- $DC (10.2.0.2, and 10.20.0.2 behind it)"

  cat >"$state/fwd.yaml" <<YAML
name: lab-pop
dpdk: {workers: 1, lcores: "0-1", memory_mb: 512, file_prefix: cwlab-pop}
ports:
  - name: lan0
    device: "net_af_packet0,iface=lan0"
    addresses: [10.1.0.1/24, "fd00:1::1/64"]
  - name: lan1
    device: "net_af_packet1,iface=lan1"
    addresses: [10.2.0.1/24, "fd00:2::1/64"]
fib: {v4_max_routes: 65536, v4_tbl8_groups: 1024, v6_max_routes: 16384, v6_tbl8_groups: 1024}
control_socket: $state/fwd.sock
YAML
  say "starting causeway-fwd in $POP (af_packet ports, --no-huge)"
  ip netns exec $POP "$FWD" -c "$state/fwd.yaml" >"$state/fwd.log" 2>&1 &
  echo $! >>"$state/pids"
  if ! cw_wait_until 30 ctl hello; then
    cat "$state/fwd.log" >&2
    false
  fi
  ctl hello
  trap - ERR
  lab_traffic
  say "the lab is running"
  cat <<TXT
  explore:  $CTL --socket $state/fwd.sock stats | routes | neighbors | ports
            ip netns exec $BRANCH ping 10.2.0.2
            ip netns exec $POP ip addr show cw-lan0     (the kernel mirror of port lan0)
  status:   scripts/lab.sh status
  tear down: scripts/lab.sh down
TXT
}

lab_traffic() {
  say "IPv4 and IPv6 between the sites"
  ip netns exec $BRANCH ping -c 3 -i 0.2 10.2.0.2 | tail -2
  ip netns exec $BRANCH ping -6 -c 3 -i 0.2 fd00:2::2 | tail -2
  say "the appliance answers on its own addresses (through the kernel mirror)"
  ip netns exec $DC ping -c 2 -i 0.2 10.1.0.1 | tail -2
  say "a route learnt at run time: 10.20.0.0/24 via the datacenter host"
  ip netns exec $BRANCH ping -c 1 -W 1 10.20.0.2 | grep -E 'Unreachable|bytes from' || true
  ctl route add 10.20.0.0/24 via 10.2.0.2 port lan1 || true
  ip netns exec $BRANCH ping -c 2 -i 0.2 10.20.0.2 | tail -2
  ctl route del 10.20.0.0/24 || true
  say "traceroute-style TTL expiry"
  ip netns exec $BRANCH ping -c 1 -t 1 -W 1 10.2.0.2 | grep -E 'exceeded|bytes from' || true
  say "iperf3 TCP, 3 s, branch -> datacenter"
  ip netns exec $DC iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
  local spid=$!
  cw_wait_until 10 ip netns exec $DC bash -c "ss -ltn | grep -q :5201"
  ip netns exec $BRANCH timeout 30 iperf3 -c 10.2.0.2 -p 5201 -t 3 --connect-timeout 3000 | grep -E 'sender|receiver'
  cw_stop "$spid" 3 || true
  say "forwarder counters"
  ctl stats
}

lab_status() {
  [[ -S $state/fwd.sock ]] || { echo "lab: not running (scripts/lab.sh up)"; exit 1; }
  say "ports"; ctl ports
  say "counters"; ctl stats
  say "routes"; ctl routes
  say "neighbours"; ctl neighbors
}

case ${1:-up} in
  up) lab_up ;;
  down) lab_down; echo "lab: down" ;;
  status) lab_status ;;
  traffic) lab_traffic ;;
  *) echo "usage: scripts/lab.sh [up|status|traffic|down]" >&2; exit 2 ;;
esac
