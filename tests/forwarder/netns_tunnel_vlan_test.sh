#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netns + interop: a tunnel listening on an 802.1Q subinterface. The PoP's WAN is wan0.100
# (VLAN 100 on wan0); its peer runs wireguard-go behind an access port of the userspace switch
# (vlan_switch.py: the kernel has no CONFIG_VLAN_8021Q), so every WireGuard datagram between
# them is tagged on the wire between sw and pop.
#
#  [ha] 10.1.0.2 --- p0 lan0 [pop: causeway-fwd] p1 wan0 ==tagged 100== trunk0 [sw] a100 --- w0 [b]
#                       10.1.0.1                  wan0.100 10.9.0.1          10.9.0.2, wireguard-go
#                                                                           eth1 10.2.0.1 --- [hb]
#                                                                                          10.2.0.2
# Checks: site traffic both ways through the tunnel (the PoP initiates the handshake, so input
# must find the listener and address on the subinterface after stripping the tag; the outer
# packets leave tagged through wan0), and the subinterface's counters carry it.
# Usage: netns_tunnel_vlan_test.sh CAUSEWAY_FWD CAUSEWAYCTL
set -uo pipefail
FWD=$1
CTL=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/netns.sh"
source "$here/netns_fwd_lib.sh"

for tool in wireguard-go wg python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (scripts/install-deps.sh)" >&2; exit 1; }
done

id=$$
FW=cwtv-fw-$id SW=cwtv-sw-$id HA=cwtv-ha-$id B=cwtv-b-$id HB=cwtv-hb-$id
WG=wgv$((id % 100000))
tmp=$(mktemp -d /tmp/cwtunvlan.XXXXXX)
sock=$tmp/fwd.sock
trap 'cw_cleanup; rm -rf "$tmp"' EXIT

for ns in "$FW" "$SW" "$HA" "$B" "$HB"; do cw_ns_add "$ns"; done
cw_veth "$FW" p0 "$HA" eth0
cw_veth "$FW" p1 "$SW" trunk0
cw_veth "$SW" a100 "$B" w0
cw_veth "$B" eth1 "$HB" eth0
cw_prepare_dpdk_if "$FW" p0
cw_prepare_dpdk_if "$FW" p1
for i in trunk0 a100; do cw_prepare_dpdk_if "$SW" "$i"; done
for pair in "$HA eth0" "$B w0" "$B eth1" "$HB eth0"; do cw_prepare_host_if $pair; done
# 1420-byte site packets: 60 bytes of outer headers fit the 1500-byte WAN.
ip -n "$HA" link set eth0 mtu 1420
ip -n "$HB" link set eth0 mtu 1420
ip -n "$B" link set eth1 mtu 1420
ip -n "$HA" addr add 10.1.0.2/24 dev eth0
ip -n "$HA" route add default via 10.1.0.1
ip -n "$B" addr add 10.9.0.2/24 dev w0
ip -n "$B" addr add 10.2.0.1/24 dev eth1
ip netns exec "$B" sysctl -qw net.ipv4.ip_forward=1
ip -n "$HB" addr add 10.2.0.2/24 dev eth0
ip -n "$HB" route add default via 10.2.0.1

umask 077
wg genkey >"$tmp/pop.key"
wg pubkey <"$tmp/pop.key" >"$tmp/pop.pub"
wg genkey >"$tmp/b.key"
wg pubkey <"$tmp/b.key" >"$tmp/b.pub"

cat >"$tmp/fwd.yaml" <<YAML
name: tunvlan-$id
dpdk: {workers: 1, lcores: "0-1", memory_mb: 512, file_prefix: cwtv-$id}
ports:
  - {name: lan0, device: "net_af_packet0,iface=p0", mac: "02:00:00:00:01:01",
     addresses: [10.1.0.1/24]}
  - name: wan0
    device: "net_af_packet1,iface=p1"
    mac: "02:00:00:00:09:01"
    vlans:
      - {id: 100, addresses: [10.9.0.1/24]}
routes:
  - {prefix: 10.2.0.0/24, path_group: 1}
tunnels:
  - name: wg0
    private_key_file: $tmp/pop.key
    listen_port: 51820
    ports: [wan0.100]
    peers:
      - name: pop-b
        public_key: "$(cat "$tmp/b.pub")"
        endpoint: "10.9.0.2:51821"
        allowed_ips: [10.2.0.0/24]
        path_group: 1
fib: {v4_max_routes: 65536, v4_tbl8_groups: 512, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $sock
uapi: {socket_dir: $tmp/uapi}
YAML

switch_up() { grep -q "vlan_switch: ready" "$tmp/switch.log"; }
start_wireguard_go() {
  cw_spawn "$B" "$tmp/wireguard-go.log" \
    env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f "$WG"
  WGGO_PID=$CW_LAST_PID
  cw_wait_until 10 test -S "/var/run/wireguard/$WG.sock" || return 1
  ip netns exec "$B" wg set "$WG" private-key "$tmp/b.key" listen-port 51821 \
    peer "$(cat "$tmp/pop.pub")" allowed-ips 10.1.0.0/24 || return 1
  ip -n "$B" link set "$WG" mtu 1420 up
  ip -n "$B" route add 10.1.0.0/24 dev "$WG"
}
# Every reply arrives, no duplicates; waits out the first handshake.
tunnel_ping_ok() {
  local ns=$1 out
  shift
  out=$(ip netns exec "$ns" ping -c 3 -i 0.2 -W 3 -w 15 "$@" 2>&1)
  grep -q " 0% packet loss" <<<"$out" && ! grep -q DUP <<<"$out" && return 0
  echo "$out" >&2
  return 1
}
# stat PORT FIELD from `causewayctl --json stats`.
port_stat() {
  ctl --json stats | python3 -c "
import json, sys
for p in json.load(sys.stdin)['ports']:
    if p.get('name') == '$1':
        print(p['$2'])
        break
else:
    sys.exit(1)"
}
# Received frames count on the subinterface of their tag; sent ones on the physical port.
sub_counted() {
  local rx tx
  rx=$(port_stat wan0.100 rx_packets) && tx=$(port_stat wan0 tx_packets) || return 1
  echo "wan0.100 rx $rx, wan0 tx $tx" >&2
  ((rx >= 6 && tx >= 6))
}
handshake_done() {
  ip netns exec "$B" wg show "$WG" latest-handshakes | awk '{exit !($2 > 0)}'
}

cw_spawn "$SW" "$tmp/switch.log" python3 "$here/vlan_switch.py" trunk0 a100:100
cw_check "VLAN switch starts" cw_wait_until 10 switch_up || { cat "$tmp/switch.log" >&2; cw_summary; exit 1; }
cw_check "forwarder starts with a tunnel on wan0.100" start_fwd || { cw_summary; exit 1; }
cw_check "wireguard-go starts (no endpoint: the PoP initiates)" start_wireguard_go ||
  { cat "$tmp/wireguard-go.log" >&2; cw_summary; exit 1; }
cw_check "ha -> hb through the tunnel on the subinterface" tunnel_ping_ok "$HA" 10.2.0.2
cw_check "wireguard-go completed a handshake with the PoP" handshake_done
cw_check "hb -> ha through the tunnel" tunnel_ping_ok "$HB" 10.1.0.2
cw_check "wan0.100 received the tunnel's datagrams, wan0 sent them" sub_counted
cw_check "the tunnel's peer has a session (causewayctl tunnels)" \
  bash -c "'$CTL' --socket '$sock' --json tunnels | grep -q 'pop-b'"

uapi_in_socket_dir() { # uapi.socket_dir: the socket is there and answers a get with the peer
  python3 - "$tmp/uapi/wg0.sock" "$(cat "$tmp/b.pub")" <<'PY'
import base64, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"get=1\n\n")
reply = b""
while not reply.endswith(b"\n\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    reply += chunk
text = reply.decode()
peer = "public_key=" + base64.b64decode(sys.argv[2]).hex()
sys.exit(0 if peer in text.splitlines() and text.endswith("errno=0\n\n") else 1)
PY
}
cw_check "UAPI socket in uapi.socket_dir ($tmp/uapi/wg0.sock) answers get=1 with the peer" uapi_in_socket_dir

cw_stop "$WGGO_PID" 5
cw_stop "$FWD_PID" 10
socket_removed() { [[ ! -e $tmp/uapi/wg0.sock ]]; }
cw_check "the UAPI socket is removed when the forwarder stops" socket_removed
cw_cleanup
leftovers() { ! ip netns list | grep -q "cwtv-.*-$id"; }
cw_check "no namespace left behind" leftovers
cw_summary
