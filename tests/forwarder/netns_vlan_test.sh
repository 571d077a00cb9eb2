#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netns: 802.1Q subinterfaces. A site host on VLAN 100 reaches a host on another port
# through causeway-fwd's subinterface lan0.100.
#
#   [h1] eth0 10.100.0.2 fd00:100::2 --- a100 [sw] trunk0 ==tagged== p0 [fw] p1 --- eth0 [h2]
#        eth1 10.200.0.2             --- a200                             10.2.0.2 fd00:2::2
#                                        lan0.100 10.100.0.1 / fd00:100::1, lan1 10.2.0.1
#
# The kernel here has no 802.1Q support (CONFIG_VLAN_8021Q off: `ip link add ... type vlan`
# fails), so h1's "eth0.100" is an access port of a small userspace switch (vlan_switch.py)
# that tags what h1 sends with 100 (eth1: with 200, a VLAN the forwarder does not have) and
# strips the tag of what comes back; on the wire between sw and fw every frame is tagged.
#
# Checks IPv4/IPv6 forwarding both ways between the tagged host and the untagged one, the
# subinterface's own addresses answered through its kernel mirror (cw-lan0.100, which holds
# them), the kernel's own traffic on that mirror leaving tagged (ping from the appliance),
# neighbours learnt on the subinterface, `causewayctl ports` listing it, and frames of an
# unknown VLAN dropped and counted (vlan_unknown).
# Usage: netns_vlan_test.sh CAUSEWAY_FWD CAUSEWAYCTL
set -uo pipefail
FWD=$1
CTL=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/netns.sh"
source "$here/netns_fwd_lib.sh"

id=$$
FW=cwv-fw-$id SW=cwv-sw-$id H1=cwv-h1-$id H2=cwv-h2-$id
tmp=$(mktemp -d /tmp/cwvlan.XXXXXX)
sock=$tmp/fwd.sock
trap 'cw_cleanup; rm -rf "$tmp"' EXIT

cw_ns_add "$FW"
cw_ns_add "$SW"
cw_ns_add "$H1"
cw_ns_add "$H2"
cw_veth "$FW" p0 "$SW" trunk0
cw_veth "$SW" a100 "$H1" eth0
cw_veth "$SW" a200 "$H1" eth1
cw_veth "$FW" p1 "$H2" eth0
cw_prepare_dpdk_if "$FW" p0
cw_prepare_dpdk_if "$FW" p1
for i in trunk0 a100 a200; do cw_prepare_dpdk_if "$SW" "$i"; done
cw_prepare_host_if "$H1" eth0
cw_prepare_host_if "$H1" eth1
cw_prepare_host_if "$H2" eth0
ip -n "$H1" addr add 10.100.0.2/24 dev eth0
ip -n "$H1" addr add fd00:100::2/64 dev eth0 nodad
ip -n "$H1" addr add 10.200.0.2/24 dev eth1
ip -n "$H1" route add default via 10.100.0.1
ip -n "$H1" route add default via fd00:100::1
ip -n "$H2" addr add 10.2.0.2/24 dev eth0
ip -n "$H2" addr add fd00:2::2/64 dev eth0 nodad
ip -n "$H2" route add default via 10.2.0.1
ip -n "$H2" route add default via fd00:2::1

cat >"$tmp/fwd.yaml" <<YAML
name: vlan-$id
dpdk: {workers: 1, lcores: "0-1", memory_mb: 512, file_prefix: cwv-$id}
ports:
  - name: lan0
    device: "net_af_packet0,iface=p0"
    mac: "02:00:00:00:01:01"
    vlans:
      - {id: 100, addresses: [10.100.0.1/24, "fd00:100::1/64"]}
  - name: lan1
    device: "net_af_packet1,iface=p1"
    mac: "02:00:00:00:02:01"
    addresses: [10.2.0.1/24, "fd00:2::1/64"]
fib: {v4_max_routes: 65536, v4_tbl8_groups: 512, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $sock
YAML

drop_count() { # drop_count REASON
  ctl --json stats | python3 -c "import json,sys; print(json.load(sys.stdin)['drops']['$1'])"
}

switch_up() { grep -q "vlan_switch: ready" "$tmp/switch.log"; }
cw_spawn "$SW" "$tmp/switch.log" python3 "$here/vlan_switch.py" trunk0 a100:100 a200:200
cw_check "VLAN switch starts" cw_wait_until 10 switch_up || { cat "$tmp/switch.log" >&2; cw_summary; exit 1; }
cw_check "forwarder starts with a VLAN subinterface" start_fwd || { cw_summary; exit 1; }
cw_check "IPv4 tagged h1 -> untagged h2" ping_ok "$H1" 10.2.0.2
cw_check "IPv4 untagged h2 -> tagged h1" ping_ok "$H2" 10.100.0.2
cw_check "IPv6 tagged h1 -> untagged h2" ping_ok "$H1" -6 fd00:2::2
cw_check "IPv6 untagged h2 -> tagged h1" ping_ok "$H2" -6 fd00:100::2
cw_check "subinterface address answered through its mirror (IPv4)" ping_ok "$H1" 10.100.0.1
cw_check "subinterface address answered through its mirror (IPv6)" ping_ok "$H1" -6 fd00:100::1
cw_check "subinterface address reachable from another port" ping_ok "$H2" 10.100.0.1
cw_check "mirror cw-lan0.100 holds the subinterface's address" \
  bash -c "ip -n $FW addr show dev cw-lan0.100 | grep -q 'inet 10.100.0.1/24'"
cw_check "the kernel's traffic on the mirror leaves tagged (ping from the appliance)" \
  ping_ok "$FW" 10.100.0.2
cw_check "causewayctl ports lists the subinterface" \
  bash -c "'$CTL' --socket '$sock' ports | grep -E 'lan0\.100 +vlan 100 of lan0'"
cw_check "neighbour learnt on the subinterface" \
  bash -c "'$CTL' --socket '$sock' --json neighbors | grep -Eq '\"port\": ?\"lan0\.100\"'"

# A route added over the control socket through the subinterface: 10.150.0.2 is on h1's lo.
ip -n "$H1" addr add 10.150.0.2/32 dev lo
cw_check "route added naming the subinterface" ctl route add 10.150.0.0/24 via 10.100.0.2 port lan0.100
cw_check "the route through the subinterface carries traffic (tagged out)" ping_ok "$H2" 10.150.0.2

unknown_vlan_dropped() {
  local before after
  before=$(drop_count vlan_unknown) || return 1
  ip netns exec "$H1" ping -c 2 -i 0.2 -W 1 -I eth1 10.200.0.1 >/dev/null 2>&1 && return 1
  after=$(drop_count vlan_unknown) || return 1
  echo "vlan_unknown: $before -> $after" >&2
  ((after > before))
}
cw_check "frames of an unknown VLAN are dropped and counted" unknown_vlan_dropped

cw_stop "$FWD_PID" 10
cw_cleanup
leftovers() { ! ip netns list | grep -q "cwv-.*-$id"; }
cw_check "no namespace left behind" leftovers
cw_summary
