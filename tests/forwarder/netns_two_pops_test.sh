#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netns: two causeway-fwd PoPs joined by two WAN links (two backbones), one tunnel per backbone,
# a site host behind each PoP. Path group 1 on each PoP holds both tunnels' peers.
#
#  [ha] 10.1.0.2 -- lan0 [pop-a] wan0 10.9.0.1 ===== 10.9.0.2 wan0 [pop-b] lan0 -- 10.2.0.2 [hb]
#                               wan1 10.8.0.1 ===== 10.8.0.2 wan1
#
# Checks: both tunnels come up (persistent keepalive); with wan0's tunnel active, site traffic
# crosses wan0 only; with a traffic class for DSCP EF whose own set is wan1's tunnel, EF pings
# cross wan1 and the others wan0; switching the active member through the control socket moves the traffic
# to wan1 while a UDP stream runs, with no loss or reordering beyond the packets in flight at
# the switch.
# Usage: netns_two_pops_test.sh CAUSEWAY_FWD CAUSEWAYCTL
set -uo pipefail
FWD=$1
CTL=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/netns.sh"
for tool in wg iperf3 python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (scripts/install-deps.sh)" >&2; exit 1; }
done

id=$$
A=cwt-pa-$id B=cwt-pb-$id HA=cwt-ha-$id HB=cwt-hb-$id
tmp=$(mktemp -d /tmp/cwpops.XXXXXX)
trap 'cw_cleanup; rm -rf "$tmp"' EXIT

for ns in "$A" "$B" "$HA" "$HB"; do cw_ns_add "$ns"; done
cw_veth "$A" p0 "$HA" eth0
cw_veth "$B" p0 "$HB" eth0
cw_veth "$A" w0 "$B" w0
cw_veth "$A" w1 "$B" w1
for ns in "$A" "$B"; do for i in p0 w0 w1; do cw_prepare_dpdk_if "$ns" "$i"; done; done
for ns in "$HA" "$HB"; do cw_prepare_host_if "$ns" eth0; ip -n "$ns" link set eth0 mtu 1420; done
ip -n "$HA" addr add 10.1.0.2/24 dev eth0
ip -n "$HA" route add default via 10.1.0.1
ip -n "$HB" addr add 10.2.0.2/24 dev eth0
ip -n "$HB" route add default via 10.2.0.1

umask 077
for k in a0 a1 b0 b1; do
  wg genkey >"$tmp/$k.key"
  wg pubkey <"$tmp/$k.key" >"$tmp/$k.pub"
done

# pop_config NAME ME OTHER LAN_NET REMOTE_NET LAN_ADDR WAN_HOST(1|2) PEER_HOST
pop_config() {
  local name=$1 me=$2 other=$3 lan=$4 remote=$5 peer_host=$6 own_host=$7
  cat <<YAML
name: $name-$id
dpdk: {workers: 1, lcores: "0-1", memory_mb: 512, file_prefix: cwt-$name-$id}
ports:
  - {name: lan0, device: "net_af_packet0,iface=p0", addresses: [$lan]}
  - {name: wan0, device: "net_af_packet1,iface=w0", addresses: [10.9.0.$own_host/24]}
  - {name: wan1, device: "net_af_packet2,iface=w1", addresses: [10.8.0.$own_host/24]}
routes:
  - {prefix: $remote, path_group: 1}
tunnels:
  - name: wg0
    private_key_file: $tmp/${me}0.key
    listen_port: 51820
    ports: [wan0]
    peers:
      - {name: far, public_key: "$(cat "$tmp/${other}0.pub")", endpoint: "10.9.0.$peer_host:51820",
         allowed_ips: [$remote], persistent_keepalive: 1, path_group: 1}
  - name: wg1
    private_key_file: $tmp/${me}1.key
    listen_port: 51820
    ports: [wan1]
    peers:
      - {name: far, public_key: "$(cat "$tmp/${other}1.pub")", endpoint: "10.8.0.$peer_host:51820",
         allowed_ips: [$remote], persistent_keepalive: 1, path_group: 1}
fib: {v4_max_routes: 65536, v4_tbl8_groups: 512, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $tmp/$name.sock
uapi: {socket_dir: $tmp/uapi-$name}
YAML
}
pop_config pa a b 10.1.0.1/24 10.2.0.0/24 2 1 >"$tmp/pa.yaml"
pop_config pb b a 10.2.0.1/24 10.1.0.0/24 1 2 >"$tmp/pb.yaml"

ctl() { local pop=$1; shift; "$CTL" --socket "$tmp/$pop.sock" "$@"; }
start_pop() { # start_pop NS NAME
  cw_spawn "$1" "$tmp/$2.log" "$FWD" -c "$tmp/$2.yaml"
  cw_wait_until 30 ctl "$2" hello || { cat "$tmp/$2.log" >&2; return 1; }
}
both_sessions_up() { # both_sessions_up POP: both tunnels report a handshake
  ctl "$1" --json tunnels >"$tmp/$1-tunnels.json" || return 1
  python3 - "$tmp/$1-tunnels.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["tunnels"]
sys.exit(0 if len(t) == 2 and all(p["latest_handshake"] > 0 for x in t for p in x["peers"]) else 1)
PY
}
set_active() { # set_active TUNNEL: on both PoPs, only TUNNEL/far carries group 1
  for pop in pa pb; do
    ctl "$pop" path-groups set 1 --member wg0/far --member wg1/far --active "$1/far" || return 1
  done
}
wan_tx() { # wan_tx POP PORT: tx packets of one port
  ctl "$1" --json stats | python3 -c 'import json,sys; print({p["name"]: p for p in json.load(sys.stdin)["ports"]}[sys.argv[1]]["tx_packets"])' "$2"
}
ping_ok() {
  local ns=$1 out
  shift
  out=$(ip netns exec "$ns" ping -c 3 -i 0.2 -W 3 -w 15 "$@" 2>&1)
  grep -q " 0% packet loss" <<<"$out" && return 0
  echo "$out" >&2
  return 1
}

cw_check "PoP A starts" start_pop "$A" pa || { cw_summary; exit 1; }
cw_check "PoP B starts" start_pop "$B" pb || { cw_summary; exit 1; }
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
