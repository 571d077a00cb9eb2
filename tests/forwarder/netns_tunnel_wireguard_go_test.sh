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
# The forwarder's UAPI socket, with the unmodified `wg` tool: `wg show` has the peer with a
# recent handshake and real transfer counters; removing the peer stops traffic to it and adding
# it back (endpoint, allowed IPs) restores it after a new handshake; `wg showconf` output fed to
# `wg setconf` gives the same configuration; `wg set` requests the forwarder refuses get an error
# and change nothing. A flood of initiations from one source is rate-limited in the worker
# (counted) while the control thread keeps answering and the tunnel keeps working.
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
# The forwarder's tunnel, /var/run/wireguard/$TUN.sock (`wg` looks nowhere else): unique per run.
TUN=cwp$((id % 100000))
tmp=$(mktemp -d /tmp/cwtun.XXXXXX)
sock=$tmp/fwd.sock
WGGO_PID=
FLOOD_PID=
trap '[[ -n $FLOOD_PID ]] && kill "$FLOOD_PID" 2>/dev/null; cw_cleanup; rm -rf "$tmp"; rm -f "/var/run/wireguard/$TUN.sock"' EXIT

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
  - name: $TUN
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
# Overridden on the command line (--uapi-socket-dir), so that `wg` finds the socket.
uapi: {socket_dir: $tmp/uapi-not-used}
YAML

ctl() { "$CTL" --socket "$sock" "$@"; }
start_fwd() {
  cw_spawn "$POP" "$tmp/fwd.log" "$FWD" -c "$tmp/fwd.yaml" --uapi-socket-dir /var/run/wireguard
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
# ping_ok NS ARGS...: three replies within 15 s, no duplicates (waits out a handshake; on a
# loaded 2-CPU machine one echo among them may be late or lost without the tunnel being down)
ping_ok() {
  local ns=$1 out
  shift
  out=$(ip netns exec "$ns" ping -c 3 -i 0.2 -W 3 -w 15 "$@" 2>&1)
  # With -w, ping keeps sending until 3 replies are in: when the first reply waits for
  # neighbour resolution, more than 3 go out. Every one of them must be answered, once.
  grep -Eq " ([3-9]|[1-9][0-9]+) received, 0% packet loss" <<<"$out" && ! grep -q DUP <<<"$out" &&
    return 0
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

# A socket file left by a dead server (bound, never unlinked): the forwarder replaces it.
stale_socket() {
  python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
    "/var/run/wireguard/$TUN.sock" && [[ -S /var/run/wireguard/$TUN.sock ]]
}
mkdir -p /var/run/wireguard
cw_check "a stale UAPI socket file is left at /var/run/wireguard/$TUN.sock" stale_socket
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
  before=$(drops tunnel_malformed tunnel_unknown_index tunnel_handshake_dropped \
    tunnel_handshake_rate_limited | tr '\n' ' ')
  send_udp "00" 5                                   # garbage: 1 byte
  send_udp "09000000$(printf '%064x' 0)" 5          # unknown message type
  send_udp "04000000" 5                             # truncated data message
  send_udp "04000000$(printf 'ab%.0s' {1..60})" 5   # forged data (unknown receiver index)
  send_udp "01000000$(printf '11%.0s' {1..144})" 200  # initiation flood with bogus mac1
  local deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    after=$(drops tunnel_malformed tunnel_unknown_index tunnel_handshake_dropped \
      tunnel_handshake_rate_limited | tr '\n' ' ')
    read -r m0 u0 h0 r0 <<<"$before"
    read -r m1 u1 h1 r1 <<<"$after"
    # The 200 initiations: the worker lets a burst of them through to the control thread (which
    # refuses them: bad mac1) and rate-limits the rest.
    if ((m1 - m0 >= 15 && u1 - u0 >= 5 && h1 - h0 + r1 - r0 >= 200 && h1 > h0 && r1 > r0)); then
      cw_log "counted: malformed +$((m1 - m0)), unknown_index +$((u1 - u0)), handshake refused +$((h1 - h0)), rate-limited +$((r1 - r0))"
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

# ---- the UAPI socket: wg show / showconf / set against the running forwarder ----
b_pub=$(cat "$tmp/b.pub")
uapi_socket_served() {
  [[ -S /var/run/wireguard/$TUN.sock ]] && [[ $(stat -c %a "/var/run/wireguard/$TUN.sock") == 600 ]] &&
    [[ ! -e $tmp/uapi-not-used ]]
}
cw_check "UAPI socket /var/run/wireguard/$TUN.sock served (--uapi-socket-dir over uapi.socket_dir), mode 0600" \
  uapi_socket_served
wg_peer_field() { # wg_peer_field FIELD: a field of the peer's line in `wg show dump` (1-based)
  wg show "$TUN" dump | awk -v k="$b_pub" -v f="$1" '$1 == k { print $f }'
}
wg_show_real() {
  local out dump now hs rx tx
  out=$(wg show "$TUN") || return 1
  echo "$out" >&2
  grep -q "^interface: $TUN\$" <<<"$out" || return 1
  grep -q "public key: $(cat "$tmp/pop.pub")" <<<"$out" || return 1
  grep -q "listening port: 51820" <<<"$out" || return 1
  grep -q "^peer: $b_pub" <<<"$out" || return 1
  grep -q "endpoint: 10.9.0.2:51821" <<<"$out" || return 1
  grep -q "allowed ips: 10.2.0.0/24, fd00:2::/64" <<<"$out" || return 1
  grep -q "latest handshake: .* ago" <<<"$out" || return 1
  grep -q "transfer: .* received, .* sent" <<<"$out" || return 1
  # The numbers: a handshake in the last REJECT_AFTER_TIME (180 s), and the iperf3 runs above
  # (megabytes each way) in the data path's byte counters; causewayctl reads the same counters.
  now=$(date +%s)
  hs=$(wg_peer_field 5)
  rx=$(wg_peer_field 6)
  tx=$(wg_peer_field 7)
  cw_log "wg show dump: latest handshake $((now - hs)) s ago, rx $rx bytes, tx $tx bytes"
  ((hs > 0 && now - hs <= 180 && rx > 1000000 && tx > 1000000)) || return 1
  ctl --json tunnels >"$tmp/tunnels.json" || return 1
  python3 - "$tmp/tunnels.json" "$rx" "$tx" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["tunnels"][0]["peers"][0]
rx, tx = int(sys.argv[2]), int(sys.argv[3])
# causewayctl read them a moment later: equal or a little larger (keepalives, ND)
sys.exit(0 if rx <= p["rx_bytes"] <= rx + 100000 and tx <= p["tx_bytes"] <= tx + 100000 else 1)
PY
}
cw_check "wg show: the peer, a recent handshake, real transfer counters (as causewayctl)" wg_show_real
wg show "$TUN" dump >"$tmp/dump0.txt"

showconf_round_trip() {
  wg showconf "$TUN" >"$tmp/conf1" || return 1
  grep -q "^PrivateKey = $(cat "$tmp/pop.key")\$" "$tmp/conf1" || return 1
  grep -q "^PublicKey = $b_pub\$" "$tmp/conf1" || return 1
  wg setconf "$TUN" "$tmp/conf1" || return 1
  wg showconf "$TUN" >"$tmp/conf2" || return 1
  diff -u "$tmp/conf1" "$tmp/conf2" >&2
}
cw_check "wg showconf | wg setconf round-trips" showconf_round_trip
cw_check "traffic after wg setconf (the peer was replaced: new handshake)" ping_ok "$HA" 10.2.0.2

refused_unchanged() { # refused_unchanged EXPECTED_MESSAGE wg set ARGS...
  local msg=$1 out rc
  shift
  wg showconf "$TUN" >"$tmp/before.conf" || return 1
  out=$(wg set "$TUN" "$@" 2>&1)
  rc=$?
  cw_log "wg set $* -> exit $rc: $out"
  ((rc == 1)) && grep -q "Unable to modify interface: $msg" <<<"$out" || return 1
  wg showconf "$TUN" >"$tmp/after.conf" || return 1
  diff -u "$tmp/before.conf" "$tmp/after.conf" >&2
}
: >"$tmp/empty.key"
cw_check "wg set listen-port (fixed while running) with a peer change: refused, nothing applied" \
  refused_unchanged "Operation not supported" listen-port 1111 peer "$b_pub" allowed-ips 10.77.0.0/16 \
  persistent-keepalive 7
cw_check "wg set private-key of an empty file (key removal): refused, nothing applied" \
  refused_unchanged "Invalid argument" private-key "$tmp/empty.key" peer "$b_pub" remove

ping_fails() { ! ip netns exec "$HA" ping -c 1 -W 1 10.2.0.2 >/dev/null 2>&1; }
no_path_counted() { # tunnel_no_path rises while ha keeps pinging a path group with no peer
  local n0 n1
  n0=$(drops tunnel_no_path)
  ip netns exec "$HA" ping -c 3 -i 0.2 -W 1 10.2.0.2 >/dev/null 2>&1
  n1=$(drops tunnel_no_path)
  cw_log "tunnel_no_path +$((n1 - n0))"
  ((n1 - n0 >= 3))
}
remove_peer() {
  wg set "$TUN" peer "$b_pub" remove || return 1
  [[ -z $(wg show "$TUN" peers) ]]
}
cw_check "wg set peer remove: the peer is gone" remove_peer
cw_check "wg set peer remove: traffic to it stops" cw_wait_until 10 ping_fails
cw_check "wg set peer remove: packets for it counted as tunnel_no_path" no_path_counted
readd_time=$(date +%s)
readd_peer() {
  wg set "$TUN" peer "$b_pub" endpoint 10.9.0.2:51821 allowed-ips 10.2.0.0/24,fd00:2::/64
}
new_handshake_after_readd() {
  local hs
  hs=$(wg_peer_field 5)
  [[ -n $hs ]] && ((hs >= readd_time))
}
cw_check "wg set peer endpoint allowed-ips: the peer is back" readd_peer
cw_check "after re-adding: IPv4 ping ha -> hb" ping_ok "$HA" 10.2.0.2
cw_check "after re-adding: IPv6 ping ha -> hb" ping_ok "$HA" -6 fd00:2::2
cw_check "after re-adding: wg show has a handshake newer than the re-add" cw_wait_until 5 new_handshake_after_readd

# ---- a flood of initiations from one source ----
# 10.9.0.3 on b's WAN link sends bogus initiations at about 20 000 per second for 8 s; the
# worker lets 50 per second (a burst of 20) of them through to the control thread and counts
# the rest. Meanwhile the control socket and the UAPI answer, and the peer removed and added
# again through `wg set` gets a new session (handshakes go through the control thread).
ip -n "$B" addr add 10.9.0.3/24 dev w0
flood_initiations() { # flood_initiations SECONDS: prints the number of datagrams sent
  # exec: run in the background, the job's PID is the generator's (kill, wait)
  exec ip netns exec "$B" python3 "$here/../../scripts/lib/wg_flood.py" single 10.9.0.3 10.9.0.1 \
    51820 "$1"
}
read -r rl0 hd0 <<<"$(drops tunnel_handshake_rate_limited tunnel_handshake_dropped | tr '\n' ' ')"
flood_start=$(date +%s.%N)
flood_initiations 8 >"$tmp/flood.out" &
FLOOD_PID=$!
flooding() { kill -0 "$FLOOD_PID" 2>/dev/null; }
control_answers() {
  local t0 t1 t2
  t0=$(date +%s%N)
  timeout 2 "$CTL" --socket "$sock" hello >/dev/null || return 1
  t1=$(date +%s%N)
  timeout 2 wg show "$TUN" >/dev/null || return 1
  t2=$(date +%s%N)
  cw_log "causewayctl hello $(((t1 - t0) / 1000000)) ms, wg show $(((t2 - t1) / 1000000)) ms"
}
rekey_under_flood() {
  readd_time=$(date +%s)
  wg set "$TUN" peer "$b_pub" remove && readd_peer && ping_ok "$HA" 10.2.0.2 &&
    cw_wait_until 5 new_handshake_after_readd
}
flood_seen() { (($(drops tunnel_handshake_rate_limited) > rl0 + 1000)); }
cw_check "the flood reaches the forwarder (rate-limited messages counted)" cw_wait_until 10 flood_seen
cw_check "under the flood: causewayctl and wg show answer within 2 s" control_answers
cw_check "under the flood: peer removed and re-added, new handshake, ping ha -> hb" rekey_under_flood
cw_check "under the flood: IPv6 ping hb -> ha" ping_ok "$HB" -6 fd00:1::2
still_flooding=0
flooding && still_flooding=1
wait "$FLOOD_PID"
FLOOD_PID=
flood_end=$(date +%s.%N)
flood_counted() {
  local sent rl1 hd1 limited reached allowed
  sent=$(cat "$tmp/flood.out")
  read -r rl1 hd1 <<<"$(drops tunnel_handshake_rate_limited tunnel_handshake_dropped | tr '\n' ' ')"
  limited=$((rl1 - rl0))
  reached=$((hd1 - hd0))
  # what the limiter may let through: the burst, 50 per second, and a margin for wg's own handshakes
  allowed=$(python3 -c "print(int(20 + 50 * ($flood_end - $flood_start) + 10))")
  cw_log "flood: $sent initiations sent, $limited rate-limited in the worker, $reached refused by the control thread (at most $allowed let through), flood still running during the checks: $still_flooding"
  ((sent > 50000 && still_flooding == 1 && limited > sent / 2 && reached <= allowed && reached >= 20))
}
cw_check "the flood was rate-limited in the worker and counted" flood_counted
cw_check "after the flood: IPv4 ping ha -> hb" ping_ok "$HA" 10.2.0.2

# ---- wg set: persistent keepalive, a new private key, a preshared key ----
tunnel_counter() { # tunnel_counter NAME: a control-side event counter of the tunnel
  ctl --json tunnels >"$tmp/tunnels.json" || return 1
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tunnels"][0]["control_counters"].get(sys.argv[2], 0))' "$tmp/tunnels.json" "$1"
}
keepalives_sent() { (($(tunnel_counter tx_keepalive) >= ka0 + 2)); }
set_keepalive() {
  wg set "$TUN" peer "$b_pub" persistent-keepalive 1 || return 1
  [[ $(wg show "$TUN" persistent-keepalive) == "$b_pub"$'\t'1 ]]
}
ka0=$(tunnel_counter tx_keepalive)
cw_check "wg set persistent-keepalive 1: shown by wg show" set_keepalive
cw_check "wg set persistent-keepalive 1: the idle tunnel sends keepalives" cw_wait_until 10 keepalives_sent
wg set "$TUN" peer "$b_pub" persistent-keepalive 0

wg genkey >"$tmp/pop2.key"
wg pubkey <"$tmp/pop2.key" >"$tmp/pop2.pub"
new_private_key() {
  wg set "$TUN" private-key "$tmp/pop2.key" || return 1
  [[ $(wg show "$TUN" public-key) == "$(cat "$tmp/pop2.pub")" ]] || return 1
  # wireguard-go learns the PoP's new public key (no endpoint: the PoP initiates).
  ip netns exec "$B" wg set "$WG" peer "$(cat "$tmp/pop.pub")" remove \
    peer "$(cat "$tmp/pop2.pub")" allowed-ips 10.1.0.0/24,fd00:1::/64
}
cw_check "wg set private-key: the forwarder takes the new identity" new_private_key
cw_check "with the new private key: IPv4 ping ha -> hb (new handshake)" ping_ok "$HA" 10.2.0.2

wg genpsk >"$tmp/psk"
with_psk() {
  # Both sides get the key; the forwarder's peer is added again with it, so its next session
  # comes from a handshake that mixes it in (a mismatch would fail the handshake).
  ip netns exec "$B" wg set "$WG" peer "$(cat "$tmp/pop2.pub")" preshared-key "$tmp/psk" || return 1
  wg set "$TUN" peer "$b_pub" remove || return 1
  readd_time=$(date +%s)
  wg set "$TUN" peer "$b_pub" preshared-key "$tmp/psk" endpoint 10.9.0.2:51821 \
    allowed-ips 10.2.0.0/24,fd00:2::/64 || return 1
  [[ $(wg show "$TUN" preshared-keys) == "$b_pub"$'\t'"$(cat "$tmp/psk")" ]]
}
cw_check "wg set preshared-key on both sides, the peer added again with it" with_psk
cw_check "with the preshared key: IPv4 ping ha -> hb (new handshake)" ping_ok "$HA" 10.2.0.2
cw_check "with the preshared key: wg show has a handshake newer than the re-add" cw_wait_until 5 new_handshake_after_readd
restore_identity() { # the first key and no preshared key, on both sides
  ip netns exec "$B" wg set "$WG" peer "$(cat "$tmp/pop2.pub")" remove \
    peer "$(cat "$tmp/pop.pub")" allowed-ips 10.1.0.0/24,fd00:1::/64 || return 1
  wg set "$TUN" private-key "$tmp/pop.key" peer "$b_pub" preshared-key "$tmp/empty.key" || return 1
  [[ $(wg show "$TUN" public-key) == "$(cat "$tmp/pop.pub")" ]] &&
    [[ $(wg show "$TUN" preshared-keys) == "$b_pub"$'\t'"(none)" ]]
}
cw_check "wg set private-key and preshared-key back (empty key file clears it)" restore_identity
# Traffic between the two commands may have started a handshake wireguard-go could not answer
# yet; the next one (after REKEY_TIMEOUT) succeeds.
cw_check "with the first key again: IPv4 ping ha -> hb (new handshake)" \
  cw_wait_until 30 ping_ok "$HA" 10.2.0.2

# ---- a flood of initiations from many forged sources, with a valid mac1 ----
# The worst a flood can do to the control thread: every message from another address (the
# worker's per-source limit does not hold them), each with a valid mac1 (the PoP's public key is
# no secret), so each costs the control thread a mac1 and, once the Device is under load, a
# cookie reply (to 198.18.0.0/15, which has no route: counted as tunnel_no_outer_route). The
# handshake ring and the control thread's per-turn budget bound it: the control socket and the
# UAPI answer, the session carries traffic, and a new handshake completes (through a cookie
# round trip with wireguard-go, which takes a REKEY_TIMEOUT).
forged_flood() { # forged_flood SECONDS: prints the number of frames sent
  exec ip netns exec "$B" python3 "$here/../../scripts/lib/wg_flood.py" forged w0 02:00:00:00:09:01 \
    10.9.0.1 51820 "$(cat "$tmp/pop.pub")" "$1"
}
forged_counters() {
  drops tunnel_handshake_dropped tunnel_handshake_queue_full tunnel_handshake_rate_limited \
    tunnel_no_outer_route | tr '\n' ' '
  tunnel_counter tx_cookie
  tunnel_counter under_load_entered
}
read -r fd0 fq0 fr0 fo0 fc0 fu0 <<<"$(forged_counters | tr '\n' ' ')"
forged_start=$SECONDS
forged_flood 0 >"$tmp/forged.out" &  # until stopped below
FLOOD_PID=$!
forged_seen() { (($(drops tunnel_handshake_dropped) > fd0 + 1000)); }
cw_check "forged flood: it reaches the control thread" cw_wait_until 10 forged_seen
cw_check "forged flood: causewayctl and wg show answer within 2 s" control_answers
session_carries() { # 20 pings: the flood shares the WAN link and the worker, so some may be lost
  local got
  got=$(ip netns exec "$HA" ping -c 20 -i 0.05 -W 1 10.2.0.2 2>&1 | sed -n 's/.* \([0-9]*\) received.*/\1/p')
  cw_log "forged flood: $got of 20 pings through the established session answered"
  ((got >= 10))
}
cw_check "forged flood: the session carries traffic (IPv4 pings ha -> hb, most answered)" session_carries
rekey_under_forged_flood() {
  # The PoP is under load: wireguard-go's response gets a cookie reply instead of a session, and
  # the PoP's next initiation (after REKEY_TIMEOUT, 5 s) gets a response with a valid mac2. Pings
  # sent meanwhile may be lost (the PoP holds a few per peer), so: until one ping_ok passes.
  local t0=$SECONDS
  readd_time=$(date +%s)
  wg set "$TUN" peer "$b_pub" remove && readd_peer && cw_wait_until 40 ping_ok "$HA" 10.2.0.2 &&
    cw_wait_until 5 new_handshake_after_readd || return 1
  cw_log "forged flood: traffic back $((SECONDS - t0)) s after the peer was added again"
}
cw_check "forged flood: peer removed and re-added, new handshake (cookie round trip), ping" \
  rekey_under_forged_flood
cw_check "forged flood: causewayctl and wg show still answer within 2 s" control_answers
still_flooding=0
flooding && still_flooding=1
kill -TERM "$FLOOD_PID" 2>/dev/null
wait "$FLOOD_PID"
FLOOD_PID=
forged_s=$((SECONDS - forged_start))
forged_counted() {
  local sent fd1 fq1 fr1 fo1 fc1 fu1
  sent=$(cat "$tmp/forged.out")
  read -r fd1 fq1 fr1 fo1 fc1 fu1 <<<"$(forged_counters | tr '\n' ' ')"
  cw_log "forged flood: $sent frames sent in $forged_s s; control thread refused $((fd1 - fd0)) (cookie replies sent $((fc1 - fc0)), dropped for want of a route $((fo1 - fo0))), handshake ring full $((fq1 - fq0)), rate-limited $((fr1 - fr0)); under load entered $((fu1 - fu0)) times; flood still running during the checks: $still_flooding"
  ((sent > 100000 && still_flooding == 1 && fc1 > fc0 && fu1 > fu0 &&
    fd1 - fd0 + fq1 - fq0 + fr1 - fr0 >= sent / 2))
}
cw_check "forged flood: counted (refused with cookie replies, or dropped at the ring)" forged_counted
cw_check "after the forged flood: IPv6 ping hb -> ha" ping_ok "$HB" -6 fd00:1::2

# ---- phase 2: wireguard-go restarts, knows the PoP and initiates; the PoP responds ----
ctl --json tunnels >"$tmp/tunnels.json"
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
socket_removed() { [[ ! -e /var/run/wireguard/$TUN.sock ]]; }
cw_check "the forwarder removed its UAPI socket on exit" socket_removed
cw_cleanup
leftovers() { ! ip netns list | grep -q "cwt-.*-$id"; }
cw_check "no namespace left behind" leftovers
cw_summary
