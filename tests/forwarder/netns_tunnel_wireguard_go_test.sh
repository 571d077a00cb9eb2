#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netns + interop: a PoP running causeway-fwd (af_packet veths, --no-huge) and a peer running
# wireguard-go, each with a site host behind it; site traffic crosses the WAN link encrypted.
#
#  [ha] eth0 10.1.0.2/24 fd00:1::2/64            [b: wireguard-go wgb, Linux routing]    [hb]
#     |                                           w0 10.9.0.2/24  2001:db8:9::2/64          |
#    p0 lan0 10.1.0.1 [pop: causeway-fwd] w0 wan0 10.9.0.1 ------ w0    eth1 10.2.0.1 ---- eth0 10.2.0.2
#                                                                        fd00:2::1          fd00:2::2
#
# Phase 1, the PoP initiates (wireguard-go knows no endpoint for it): IPv4 and IPv6 ping from ha
# to hb, iperf3 TCP both directions; a capture on the WAN link holds only WireGuard UDP (and
# ARP/ND), none of the inner payload pattern. Bad input on the listen port (garbage, truncated and
# forged messages, a replayed data message, a flood of bogus initiations) is counted by name and
# the tunnel keeps working. Phase 2, wireguard-go restarts with the PoP as its endpoint and
# initiates (the PoP responds): a new handshake, traffic resumes both ways.
# Usage: netns_tunnel_wireguard_go_test.sh CAUSEWAY_FWD CAUSEWAYCTL
set -uo pipefail
FWD=$1
CTL=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/netns.sh"

for tool in wireguard-go wg iperf3 tcpdump python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (scripts/install-deps.sh)" >&2; exit 1; }
done

id=$$
POP=cwt-pop-$id HA=cwt-ha-$id B=cwt-b-$id HB=cwt-hb-$id
WG=wgb$((id % 100000))
tmp=$(mktemp -d /tmp/cwtun.XXXXXX)
sock=$tmp/fwd.sock
WGGO_PID=
trap 'cw_cleanup; rm -rf "$tmp"' EXIT

cw_ns_add "$POP"
cw_ns_add "$HA"
cw_ns_add "$B"
cw_ns_add "$HB"
cw_veth "$POP" p0 "$HA" eth0
cw_veth "$POP" w0 "$B" w0
cw_veth "$B" eth1 "$HB" eth0
cw_prepare_dpdk_if "$POP" p0
cw_prepare_dpdk_if "$POP" w0
for pair in "$HA eth0" "$B w0" "$B eth1" "$HB eth0"; do cw_prepare_host_if $pair; done
# Site hosts use 1420-byte packets so that 60 bytes of outer headers fit a 1500-byte WAN.
ip -n "$HA" link set eth0 mtu 1420
ip -n "$HB" link set eth0 mtu 1420
ip -n "$B" link set eth1 mtu 1420
ip -n "$HA" addr add 10.1.0.2/24 dev eth0
ip -n "$HA" addr add fd00:1::2/64 dev eth0 nodad
ip -n "$HA" route add default via 10.1.0.1
ip -n "$HA" route add default via fd00:1::1
ip -n "$B" addr add 10.9.0.2/24 dev w0
ip -n "$B" addr add 2001:db8:9::2/64 dev w0 nodad
ip -n "$B" addr add 10.2.0.1/24 dev eth1
ip -n "$B" addr add fd00:2::1/64 dev eth1 nodad
ip netns exec "$B" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip -n "$HB" addr add 10.2.0.2/24 dev eth0
ip -n "$HB" addr add fd00:2::2/64 dev eth0 nodad
ip -n "$HB" route add default via 10.2.0.1
ip -n "$HB" route add default via fd00:2::1

umask 077
wg genkey >"$tmp/pop.key"
wg pubkey <"$tmp/pop.key" >"$tmp/pop.pub"
wg genkey >"$tmp/b.key"
wg pubkey <"$tmp/b.key" >"$tmp/b.pub"

cat >"$tmp/fwd.yaml" <<YAML
name: pop-$id
dpdk: {workers: 1, lcores: "0-1", memory_mb: 512, file_prefix: cwt-pop-$id}
ports:
  - {name: lan0, device: "net_af_packet0,iface=p0", mac: "02:00:00:00:01:01",
     addresses: [10.1.0.1/24, "fd00:1::1/64"]}
  - {name: wan0, device: "net_af_packet1,iface=w0", mac: "02:00:00:00:09:01",
     addresses: [10.9.0.1/24, "2001:db8:9::1/64"]}
routes:
  - {prefix: 10.2.0.0/24, path_group: 1}
  - {prefix: "fd00:2::/64", path_group: 1}
tunnels:
  - name: wg0
    private_key_file: $tmp/pop.key
    listen_port: 51820
    ports: [wan0]
    peers:
      - name: pop-b
        public_key: "$(cat "$tmp/b.pub")"
        endpoint: "10.9.0.2:51821"
        allowed_ips: [10.2.0.0/24, "fd00:2::/64"]
        path_group: 1
fib: {v4_max_routes: 65536, v4_tbl8_groups: 512, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $sock
YAML

ctl() { "$CTL" --socket "$sock" "$@"; }
start_fwd() {
  cw_spawn "$POP" "$tmp/fwd.log" "$FWD" -c "$tmp/fwd.yaml"
  FWD_PID=$CW_LAST_PID
  if ! cw_wait_until 30 ctl hello; then
    cw_log "causeway-fwd did not come up; log:"
    cat "$tmp/fwd.log" >&2
    return 1
  fi
}
start_wireguard_go() { # $1: endpoint of the PoP, or "" for none (the PoP must initiate)
  cw_spawn "$B" "$tmp/wireguard-go.log" \
    env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f "$WG"
  WGGO_PID=$CW_LAST_PID
  cw_wait_until 10 test -S "/var/run/wireguard/$WG.sock" || return 1
  local endpoint=()
  [[ -n $1 ]] && endpoint=(endpoint "$1")
  ip netns exec "$B" wg set "$WG" private-key "$tmp/b.key" listen-port 51821 \
    peer "$(cat "$tmp/pop.pub")" allowed-ips 10.1.0.0/24,fd00:1::/64 "${endpoint[@]}" || return 1
  ip -n "$B" link set "$WG" mtu 1420 up
  ip -n "$B" route add 10.1.0.0/24 dev "$WG"
  ip -n "$B" route add fd00:1::/64 dev "$WG"
}
stop_wireguard_go() {
  [[ -n $WGGO_PID ]] && cw_stop "$WGGO_PID" 5
  WGGO_PID=
  cw_wait_until 10 bash -c "! ip -n $B link show $WG >/dev/null 2>&1"
}
ping_ok() { # ping_ok NS ARGS...: every reply arrives, no duplicates (waits out a handshake)
  local ns=$1 out
  shift
  out=$(ip netns exec "$ns" ping -c 3 -i 0.2 -W 3 -w 15 "$@" 2>&1)
  grep -q " 0% packet loss" <<<"$out" && ! grep -q DUP <<<"$out" && return 0
  echo "$out" >&2
  return 1
}
handshake_done() { # the PoP reports a handshake time for the peer
  ctl --json tunnels >"$tmp/tunnels.json" 2>/dev/null || return 1
  python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); sys.exit(0 if t["tunnels"][0]["peers"][0]["latest_handshake"] > 0 else 1)' "$tmp/tunnels.json"
}
iperf_ok() { # iperf_ok LABEL [extra iperf3 client args]: TCP ha -> hb (or -R), > 20 Mbit/s
  local label=$1
  shift
  cw_spawn "$HB" "$tmp/iperf-s-$label.log" iperf3 -s -1 -p 5201
  local spid=$CW_LAST_PID
  cw_wait_until 10 ip netns exec "$HB" bash -c "ss -Hltn 'sport = :5201' | grep -q ." || return 1
  local rc=0
  ip netns exec "$HA" timeout 40 iperf3 -c 10.2.0.2 -p 5201 -t 3 --connect-timeout 5000 -J "$@" \
    >"$tmp/iperf-$label.json" || rc=1
  cw_stop "$spid" 3
  ((rc == 0)) || { cat "$tmp/iperf-$label.json" >&2; return 1; }
  python3 - "$tmp/iperf-$label.json" "$label" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bps = r["end"]["sum_received"]["bits_per_second"]
print(f"iperf3 TCP {sys.argv[2]} through the tunnel: {bps/1e6:.0f} Mbit/s", file=sys.stderr)
sys.exit(0 if bps > 20e6 else 1)
PY
}
drops() { # drops NAME...: prints the named forwarder drop counters, one per line
  ctl --json stats >"$tmp/stats.json" || return 1
  python3 - "$tmp/stats.json" "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["drops"]
for name in sys.argv[2:]:
    print(d.get(name, 0))
PY
}

cw_check "forwarder starts with a tunnel" start_fwd || { cw_summary; exit 1; }
cw_check "wireguard-go starts (no endpoint for the PoP)" start_wireguard_go "" || { cw_summary; exit 1; }

# ---- phase 1: the PoP initiates ----
cw_spawn "$B" "$tmp/wan.log" tcpdump -i w0 -nn -U -w "$tmp/wan.pcap"
TCPDUMP_PID=$CW_LAST_PID
cw_wait_until 10 test -s "$tmp/wan.pcap"
cw_check "phase 1: IPv4 ping ha -> hb (PoP initiates)" ping_ok "$HA" -p deadbeefdeadbeef 10.2.0.2
cw_check "phase 1: handshake time reported by the PoP" cw_wait_until 5 handshake_done
cw_check "phase 1: IPv4 ping hb -> ha" ping_ok "$HB" -p deadbeefdeadbeef 10.1.0.2
cw_check "phase 1: IPv6 ping ha -> hb" ping_ok "$HA" -6 -p deadbeefdeadbeef fd00:2::2
cw_check "phase 1: IPv6 ping hb -> ha" ping_ok "$HB" -6 -p deadbeefdeadbeef fd00:1::2
cw_check "phase 1: iperf3 TCP ha -> hb" iperf_ok forward
cw_check "phase 1: iperf3 TCP hb -> ha (-R)" iperf_ok reverse -R
cw_stop "$TCPDUMP_PID" 5
only_wireguard_on_wan() {
  python3 - "$tmp/wan.pcap" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
if b"\xde\xad\xbe\xef\xde\xad\xbe\xef" in data:
    print("inner payload pattern visible on the WAN link", file=sys.stderr); sys.exit(1)
off, udp, other = 24, 0, []
while off + 16 <= len(data):
    _, _, caplen, _ = struct.unpack_from("<IIII", data, off)
    pkt = data[off + 16: off + 16 + caplen]
    off += 16 + caplen
    etype = struct.unpack_from("!H", pkt, 12)[0]
    if etype == 0x0806 or pkt[0] & 1:
        continue  # ARP, and link-local multicast (ND, MLD) of the two hosts' stacks
    if etype == 0x0800:
        proto, ihl = pkt[23], (pkt[14] & 15) * 4
        l4 = 14 + ihl
    elif etype == 0x86DD:
        proto, l4 = pkt[20], 54
        if proto == 58 and 133 <= pkt[l4] <= 137:
            continue  # neighbour discovery
    else:
        other.append(hex(etype)); continue
    ports = struct.unpack_from("!HH", pkt, l4) if proto == 17 else None
    if proto == 17 and (51820 in ports) and (51821 in ports):
        udp += 1
    else:
        other.append(f"proto {proto} {ports}")
print(f"WAN capture: {udp} WireGuard datagrams, other: {other[:5]}", file=sys.stderr)
sys.exit(0 if udp > 100 and not other else 1)
PY
}
cw_check "phase 1: WAN capture holds only WireGuard UDP, no inner plaintext" only_wireguard_on_wan

# ---- bad input on the listen port ----
send_udp() { # send_udp HEX_PAYLOAD COUNT: from b's WAN address to the PoP's listen port
  ip netns exec "$B" python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.9.0.2", 0))
for _ in range(int(sys.argv[2])):
    s.sendto(bytes.fromhex(sys.argv[1]), ("10.9.0.1", 51820))
PY
}
bad_input_counted() {
  local before after
  before=$(drops tunnel_malformed tunnel_unknown_index tunnel_handshake_dropped | tr '\n' ' ')
  send_udp "00" 5                                   # garbage: 1 byte
  send_udp "09000000$(printf '%064x' 0)" 5          # unknown message type
  send_udp "04000000" 5                             # truncated data message
  send_udp "04000000$(printf 'ab%.0s' {1..60})" 5   # forged data (unknown receiver index)
  send_udp "01000000$(printf '11%.0s' {1..144})" 200  # initiation flood with bogus mac1
  local deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    after=$(drops tunnel_malformed tunnel_unknown_index tunnel_handshake_dropped | tr '\n' ' ')
    read -r m0 u0 h0 <<<"$before"
    read -r m1 u1 h1 <<<"$after"
    if ((m1 - m0 >= 15 && u1 - u0 >= 5 && h1 - h0 >= 200)); then
      cw_log "counted: malformed +$((m1 - m0)), unknown_index +$((u1 - u0)), handshake +$((h1 - h0))"
      return 0
    fi
    sleep 0.2
  done
  echo "drops before: $before after: $after" >&2
  return 1
}
cw_check "garbage, truncated, forged and flooding input counted by name" bad_input_counted
replay_counted() {
  # A data message of wireguard-go's, captured on the WAN link and sent again.
  local hex before after
  hex=$(python3 - "$tmp/wan.pcap" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
off = 24
while off + 16 <= len(data):
    caplen = struct.unpack_from("<IIII", data, off)[2]
    pkt = data[off + 16: off + 16 + caplen]
    off += 16 + caplen
    if struct.unpack_from("!H", pkt, 12)[0] != 0x0800 or pkt[23] != 17:
        continue
    l4 = 14 + (pkt[14] & 15) * 4
    sport, dport = struct.unpack_from("!HH", pkt, l4)
    payload = pkt[l4 + 8:]
    if sport == 51821 and dport == 51820 and payload[:1] == b"\x04" and len(payload) > 32:
        print(payload.hex()); break
PY
)
  [[ -n $hex ]] || return 1
  read -r r0 u0 <<<"$(drops tunnel_replayed tunnel_unknown_index | tr '\n' ' ')"
  send_udp "$hex" 3
  local deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    read -r r1 u1 <<<"$(drops tunnel_replayed tunnel_unknown_index | tr '\n' ' ')"
    if ((r1 + u1 >= r0 + u0 + 3)); then
      cw_log "replays counted: replayed +$((r1 - r0)), unknown_index +$((u1 - u0))"
      return 0
    fi
    sleep 0.2
  done
  return 1
}
cw_check "replayed data message counted (replay window or retired session)" replay_counted
cw_check "tunnel still works after the bad input (IPv4)" ping_ok "$HA" 10.2.0.2
cw_check "tunnel still works after the bad input (IPv6)" ping_ok "$HB" -6 fd00:1::2

# ---- phase 2: wireguard-go restarts, knows the PoP and initiates; the PoP responds ----
handshakes_before=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tunnels"][0]["control_counters"].get("rx_initiation", 0))' "$tmp/tunnels.json")
restart_wireguard_go() { stop_wireguard_go && start_wireguard_go "10.9.0.1:51820"; }
cw_check "wireguard-go restarts with the PoP as endpoint" restart_wireguard_go
cw_check "phase 2: IPv4 ping hb -> ha (wireguard-go initiates)" ping_ok "$HB" 10.1.0.2
new_initiation_received() {
  ctl --json tunnels >"$tmp/tunnels.json" || return 1
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tunnels"][0]["control_counters"].get("rx_initiation", 0))' "$tmp/tunnels.json" |
    { read -r n; ((n > handshakes_before)); }
}
cw_check "phase 2: the PoP answered a new initiation" new_initiation_received
cw_check "phase 2: IPv4 ping ha -> hb" ping_ok "$HA" 10.2.0.2
cw_check "phase 2: IPv6 ping ha -> hb" ping_ok "$HA" -6 fd00:2::2
cw_check "phase 2: iperf3 TCP ha -> hb" iperf_ok forward2

stop_wireguard_go
cw_stop "$FWD_PID" 10
cw_cleanup
leftovers() { ! ip netns list | grep -q "cwt-.*-$id"; }
cw_check "no namespace left behind" leftovers
cw_summary
