#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netns: ECMP from zebra through causeway-routed into a forwarder next-hop group.
#
#   [h1] eth0 10.1.0.2 -- p0 [fw: causeway-fwd lan0 10.1.0.1/24 | wan0 10.2.0.1/24 | wan1 10.3.0.1/24]
#                                zebra (-M dplane_fpm_nl) + staticd, causeway-routed
#   p1 -- [g1] eth0 10.2.0.2, 198.18.0.1 on lo        p2 -- [g2] eth0 10.3.0.2, 198.18.0.1 on lo
#
# zebra has the static route 198.18.0.0/24 over both gateways. Checks: the forwarder holds it as
# a nexthop_group route whose group has both gateways; 200 UDP flows from h1 (one source port
# each) leave through both gateways (counted on g1's and g2's interfaces and per member in the
# forwarder); after `no ip route ... 10.3.0.2` in zebra the route is a gateway route via g1, the
# group is gone, and 200 more flows all arrive at g1 and none at g2.
# Usage: netns_ecmp_test.sh CAUSEWAY_ROUTED CAUSEWAY_FWD CAUSEWAYCTL
set -uo pipefail
ROUTED=$1
FWD=$2
CTL=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../../scripts/lib/netns.sh"
source "$here/../../../scripts/lib/pop.sh"

id=$$
FW=cwec-fw-$id H1=cwec-h1-$id G1=cwec-g1-$id G2=cwec-g2-$id
tmp=$(mktemp -d /tmp/cwec.XXXXXX)
sock=$tmp/fwd.sock
rsock=$tmp/routed.sock
fpm_port=$((20000 + id % 20000))
cleanup() {
  cw_cleanup
  cw_pop_cleanup_frr "$FW"
  rm -rf "$tmp"
}
trap cleanup EXIT

for tool in vtysh jq /usr/lib/frr/frr-reload.py; do
  command -v "$tool" >/dev/null || { echo "missing $tool (scripts/install-deps.sh)"; exit 1; }
done

for ns in "$FW" "$H1" "$G1" "$G2"; do cw_ns_add "$ns"; done
cw_veth "$FW" p0 "$H1" eth0
cw_veth "$FW" p1 "$G1" eth0
cw_veth "$FW" p2 "$G2" eth0
for p in p0 p1 p2; do cw_prepare_dpdk_if "$FW" $p; done
for ns in "$H1" "$G1" "$G2"; do cw_prepare_host_if "$ns" eth0; done
ip -n "$H1" addr add 10.1.0.2/24 dev eth0
ip -n "$H1" route add default via 10.1.0.1
n=1
for g in "$G1" "$G2"; do
  n=$((n + 1))
  ip -n "$g" addr add 10.$n.0.2/24 dev eth0
  ip -n "$g" addr add 198.18.0.1/32 dev lo
  ip -n "$g" link set lo up
  ip -n "$g" route add 10.1.0.0/24 via 10.$n.0.1
done
ip -n "$FW" link set lo up

cat >"$tmp/fwd.yaml" <<YAML
name: ec-$id
dpdk: {workers: 1, lcores: "0-1", memory_mb: 512, file_prefix: cwec-$id}
ports:
  - {name: lan0, device: "net_af_packet0,iface=p0", mac: "02:00:00:00:01:01", addresses: [10.1.0.1/24]}
  - {name: wan0, device: "net_af_packet1,iface=p1", mac: "02:00:00:00:02:01", addresses: [10.2.0.1/24]}
  - {name: wan1, device: "net_af_packet2,iface=p2", mac: "02:00:00:00:03:01", addresses: [10.3.0.1/24]}
fib: {v4_max_routes: 65536, v4_tbl8_groups: 512, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $sock
YAML

cat >"$tmp/intent.yaml" <<YAML
version: 1
identity:
  pop: ec1
  router_id: 10.255.0.1
  private_key: ONZLyaC3KZ2HjjwL1v8mXb4cEiQdyhYKmKAB7/Yh0k8=
  overlay_address: 10.255.0.1
forwarder: {control_socket: $sock}
fpm: {port: $fpm_port}
backbones: [{name: inet}, {name: aws}]
ports:
  - {name: lan0, role: lan, addresses: [10.1.0.1/24]}
  - {name: wan0, role: wan, backbone: inet, addresses: [10.2.0.1/24]}
  - {name: wan1, role: wan, backbone: aws, addresses: [10.3.0.1/24]}
peers:
  - name: ec2
    public_key: neAN2cKV57G8y8uIGu9qOv6LUSnex9JUaLcR0GNsSFI=
    endpoints: {inet: 198.51.100.2}
    overlay_address: 10.255.0.2
sla_classes: [{name: rt, max_loss_pct: 1, max_latency_ms: 50, max_jitter_ms: 5}]
traffic_classes:
  - {name: voice, sla_class: rt, backbones: [inet]}
bgp:
  asn: 65001
  neighbors: []
  announce: [10.1.0.0/16]
YAML

VTY() { cw_pop_vtysh "$FW" "$@"; }
frr_conf() {
  local args=(-c 'conf t') l
  for l in "$@"; do args+=(-c "$l"); done
  VTY "${args[@]}" >/dev/null
}
ctl() { "$CTL" --socket "$sock" --routed-socket "$rsock" "$@"; }

cw_check "forwarder starts" cw_pop_start_fwd "$FW" "$FWD" "$tmp/fwd.yaml" "$sock" "$tmp/fwd.log" ||
  { cw_summary; exit 1; }
cw_check "FRR daemons answer" cw_pop_start_frr "$FW" "$tmp" || { cw_summary; exit 1; }
cw_pop_start_routed "$FW" "$ROUTED" "$tmp/intent.yaml" "$rsock" "$tmp/routed.log" \
  --metrics '' --fpm-quiet-ms 1000 --log-level debug
cw_check "routed: zebra and forwarder connected, synced" \
  cw_wait_until 60 cw_pop_routed_status_is "$rsock" \
  '.fpm.connected and .forwarder.connected and .forwarder.swept' ||
  { cat "$tmp/routed.log" >&2; cw_summary; exit 1; }

frr_conf 'ip route 198.18.0.0/24 10.2.0.2' 'ip route 198.18.0.0/24 10.3.0.2'
routes() { ctl routes --json; }
group_route() {  # the route is a next-hop group with both gateways
  local r g
  r=$(routes) || return 1
  g=$(jq -e '.routes[] | select(.prefix == "198.18.0.0/24" and .kind == "nexthop_group") | .nexthop_group' <<<"$r") || return 1
  jq -e --argjson g "$g" '.nexthop_groups[] | select(.id == $g) |
    ([.members[] | "\(.port) \(.gateway)"] | sort) == ["wan0 10.2.0.2", "wan1 10.3.0.2"]' <<<"$r" >/dev/null
}
cw_check "zebra's ECMP route is a next-hop group over both gateways in the forwarder" \
  cw_wait_until 30 group_route || { routes >&2; VTY -c 'show ip route 198.18.0.0/24' >&2; }

rx() { ip -n "$1" -s -j link show eth0 | jq '.[0].stats64.rx.packets'; }
# N UDP flows from h1, one source port each (bash opens a new socket per redirection).
flows() {
  ip netns exec "$H1" bash -c 'for i in $(seq 1 '"$1"'); do echo x >/dev/udp/198.18.0.1/9; done'
}
# ARP for both gateways first (the first packets of a flow wait in the forwarder for it).
ip netns exec "$H1" ping -c 1 -W 2 198.18.0.1 >/dev/null 2>&1
flows 20
g1_before=$(rx "$G1") g2_before=$(rx "$G2")
flows 200
arrived() {  # G1-MIN G2-MIN G2-MAX: packets counted since the baseline
  local d1=$(($(rx "$G1") - g1_before)) d2=$(($(rx "$G2") - g2_before))
  echo "g1 +$d1, g2 +$d2" >&2
  ((d1 >= $1 && d2 >= $2 && d2 <= $3))
}
cw_check "200 flows leave through both gateways (each carries at least 40)" \
  cw_wait_until 10 arrived 40 40 1000000
members_counted() {
  ctl nexthop-groups --json | jq -e '[.nexthop_groups[].members[] | select(.packets >= 40)] | length == 2' >/dev/null
}
cw_check "the forwarder counts packets on both members" members_counted || ctl nexthop-groups >&2
ctl nexthop-groups >&2

frr_conf 'no ip route 198.18.0.0/24 10.3.0.2'
single_route() {
  local r
  r=$(routes) || return 1
  jq -e '(.routes[] | select(.prefix == "198.18.0.0/24" and .source == "control") |
          .kind == "gateway" and .via == "10.2.0.2" and .port == "wan0") and
         (.nexthop_groups | length == 0)' <<<"$r" >/dev/null
}
cw_check "one gateway removed in zebra: a gateway route via g1, the group deleted" \
  cw_wait_until 30 single_route || routes >&2
g1_before=$(rx "$G1") g2_before=$(rx "$G2")
flows 200
cw_check "all 200 flows now arrive at g1, none at g2" cw_wait_until 10 arrived 200 0 0

cw_summary
