#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netns: FRR -> causeway-routed -> causeway-fwd, with BIRD as a carrier.
#
#   [h1] eth0 10.1.0.2 ---- p0 [fw: causeway-fwd  lan0 10.1.0.1/24 | wan0 192.0.2.1/30] p1 ---- noc0 192.0.2.2 [b: BIRD]
#                               zebra (-M dplane_fpm_nl) + staticd + bgpd, causeway-routed
#   b announces 198.18.0.0/24 (198.18.0.1 on its lo) over eBGP through the forwarder's port.
#
# Checks: --check refuses a bad intent naming the field; routed applies frr.conf from the
# intent (BGP with BIRD comes up through the forwarder's mirror); BIRD's route reaches the
# forwarder FIB and carries h1's traffic; a static route added in FRR appears in the FIB
# (gateway and blackhole kinds) and leaves it when withdrawn; routed SIGKILLed and restarted
# while a ping flood runs through the forwarder: no loss, a route withdrawn while routed was
# down is swept, the FIB is identical to before; SIGHUP applies an intent change and refuses a
# bad file; a restarted forwarder (its mirrors persist: same ifindex, stale addresses removed) gets the whole table again;
# Prometheus and `causewayctl routed status` / `sla` / `paths` answer.
# Usage: netns_routed_test.sh CAUSEWAY_ROUTED CAUSEWAY_FWD CAUSEWAYCTL
set -uo pipefail
ROUTED=$1
FWD=$2
CTL=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../../scripts/lib/netns.sh"
source "$here/../../../scripts/lib/pop.sh"

id=$$
FW=cwrd-fw-$id H1=cwrd-h1-$id NB=cwrd-b-$id
tmp=$(mktemp -d /tmp/cwrd.XXXXXX)
sock=$tmp/fwd.sock
rsock=$tmp/routed.sock
fpm_port=$((20000 + id % 20000))
metrics_port=$((fpm_port + 1))
cleanup() {
  cw_cleanup
  cw_pop_cleanup_frr "$FW"
  rm -rf "$tmp"
}
trap cleanup EXIT

for tool in vtysh bird birdc jq curl /usr/lib/frr/frr-reload.py; do
  command -v "$tool" >/dev/null || { echo "missing $tool (scripts/install-deps.sh)"; exit 1; }
done

cw_ns_add "$FW"
cw_ns_add "$H1"
cw_ns_add "$NB"
cw_veth "$FW" p0 "$H1" eth0
cw_veth "$FW" p1 "$NB" noc0
cw_prepare_dpdk_if "$FW" p0
cw_prepare_dpdk_if "$FW" p1
cw_prepare_host_if "$H1" eth0
cw_prepare_host_if "$NB" noc0
ip -n "$H1" addr add 10.1.0.2/24 dev eth0
ip -n "$H1" route add default via 10.1.0.1
ip -n "$NB" addr add 192.0.2.2/30 dev noc0
ip -n "$NB" addr add 198.18.0.1/32 dev lo
ip -n "$NB" route add 10.1.0.0/24 via 192.0.2.1
ip -n "$FW" link set lo up

cat >"$tmp/fwd.yaml" <<YAML
name: rd-$id
dpdk: {workers: 1, lcores: "0-1", memory_mb: 512, file_prefix: cwrd-$id}
ports:
  - name: lan0
    device: "net_af_packet0,iface=p0"
    mac: "02:00:00:00:01:01"
    addresses: [10.1.0.1/24]
  - name: wan0
    device: "net_af_packet1,iface=p1"
    mac: "02:00:00:00:02:01"
    addresses: [192.0.2.1/30]
fib: {v4_max_routes: 65536, v4_tbl8_groups: 512, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $sock
YAML

cat >"$tmp/intent.yaml" <<YAML
version: 1
identity:
  pop: rd1
  router_id: 10.255.0.1
  private_key: ONZLyaC3KZ2HjjwL1v8mXb4cEiQdyhYKmKAB7/Yh0k8=
  overlay_address: 10.255.0.1
forwarder: {control_socket: $sock}
fpm: {port: $fpm_port}
backbones: [{name: inet}]
ports:
  - {name: lan0, role: lan, addresses: [10.1.0.1/24]}
  - {name: wan0, role: wan, backbone: inet, addresses: [192.0.2.1/30]}
peers:
  - name: rd2
    public_key: neAN2cKV57G8y8uIGu9qOv6LUSnex9JUaLcR0GNsSFI=
    endpoints: {inet: 198.51.100.2}
    overlay_address: 10.255.0.2
sla_classes: [{name: rt, max_loss_pct: 1, max_latency_ms: 50, max_jitter_ms: 5}]
traffic_classes:
  - {name: voice, sla_class: rt, backbones: [inet]}
bgp:
  asn: 65001
  keepalive_s: 3
  hold_s: 9
  neighbors:
    - {name: noc, address: 192.0.2.2, asn: 64500}
  announce: [10.1.0.0/16]
YAML

# FRR: zebra with the FPM module, staticd, bgpd; routed writes and applies frr.conf.
VTY() { cw_pop_vtysh "$FW" "$@"; }
frr_conf() {  # LINE...: one vtysh call in configure mode
  local args=(-c 'conf t') l
  for l in "$@"; do args+=(-c "$l"); done
  VTY "${args[@]}" >/dev/null
}
ctl() { "$CTL" --socket "$sock" --routed-socket "$rsock" "$@"; }

start_fwd() {
  cw_pop_start_fwd "$FW" "$FWD" "$tmp/fwd.yaml" "$sock" "$tmp/fwd.log" || return 1
  FWD_PID=$CW_POP_FWD_PID
}
cw_check "forwarder starts" start_fwd || { cw_summary; exit 1; }

cw_check "FRR daemons answer" cw_pop_start_frr "$FW" "$tmp" 30 || { cw_summary; exit 1; }

cat >"$tmp/bird.conf" <<BIRD
log stderr all;
router id 192.0.2.2;
protocol device {}
protocol static { ipv4; route 198.18.0.0/24 blackhole; }
protocol bgp pop {
  local 192.0.2.2 as 64500;
  neighbor 192.0.2.1 as 65001;
  hold time 9;
  keepalive time 3;
  connect retry time 2;
  error wait time 1, 5;
  ipv4 { import all; export where source = RTS_STATIC; };
}
BIRD
cw_spawn "$NB" "$tmp/bird.log" bird -f -c "$tmp/bird.conf" -s "$tmp/bird.ctl"

bad_intent_refused() {
  sed 's/max_latency_ms: 50/max_latency_ms: -5/' "$tmp/intent.yaml" >"$tmp/bad.yaml"
  local out rc
  out=$("$ROUTED" -c "$tmp/bad.yaml" --check 2>&1)
  rc=$?
  echo "$out" >&2
  ((rc != 0)) && grep -q "sla_classes\[0\].max_latency_ms" <<<"$out" && [[ ! -e /etc/frr/$FW/frr.conf ]]
}
cw_check "--check: a bad intent exits non-zero naming the field, nothing applied" bad_intent_refused
cw_check "--check: the good intent is valid" "$ROUTED" -c "$tmp/intent.yaml" --check >/dev/null 2>&1

start_routed() {
  cw_pop_start_routed "$FW" "$ROUTED" "$tmp/intent.yaml" "$rsock" "$tmp/routed-$1.log" \
    --metrics "127.0.0.1:$metrics_port" --fpm-quiet-ms 1000 --log-level debug
  ROUTED_PID=$CW_POP_ROUTED_PID
}
status() { ctl routed status --json; }
status_is() {  # JQ-EXPRESSION: true in routed's status
  local s
  s=$(status 2>/dev/null) || return 1
  jq -e "$1" <<<"$s" >/dev/null
}
start_routed 1
cw_check "routed: FRR configured, zebra and forwarder connected, synced" \
  cw_wait_until 60 status_is '.fpm.connected and .forwarder.connected and .forwarder.swept' ||
  { cat "$tmp/routed-1.log" >&2; }
cw_check "frr.conf written from the intent" grep -q "neighbor 192.0.2.2 remote-as 64500" "/etc/frr/$FW/frr.conf"

fib() { ctl routes --json; }
fib_has() {  # PREFIX JQ-CONDITION
  fib | jq -e --arg p "$1" ".routes[] | select(.prefix == \$p and .source == \"control\") | $2" >/dev/null
}
fib_lacks() { ! fib | jq -e --arg p "$1" '.routes[] | select(.prefix == $p and .source == "control")' >/dev/null; }
control_routes() { fib | jq -S '[.routes[] | select(.source == "control")] | sort_by(.prefix)'; }

cw_check "BGP from BIRD: 198.18.0.0/24 via 192.0.2.2 on wan0 in the forwarder FIB" \
  cw_wait_until 90 fib_has 198.18.0.0/24 '.kind == "gateway" and .via == "192.0.2.2" and .port == "wan0"' ||
  { VTY -c 'show ip bgp summary' >&2; fib >&2; }
ping_ok() { ip netns exec "$H1" ping -c 3 -i 0.2 -W 2 198.18.0.1 >/dev/null; }
cw_check "h1 reaches BIRD's prefix through the forwarder" cw_wait_until 20 ping_ok

frr_conf 'ip route 10.77.0.0/24 192.0.2.2' 'ip route 10.78.0.0/24 blackhole'
cw_check "static route added in FRR appears in the FIB (gateway)" \
  cw_wait_until 20 fib_has 10.77.0.0/24 '.kind == "gateway" and .via == "192.0.2.2" and .port == "wan0"'
cw_check "static blackhole appears in the FIB (blackhole)" \
  cw_wait_until 20 fib_has 10.78.0.0/24 '.kind == "blackhole"'
frr_conf 'no ip route 10.77.0.0/24 192.0.2.2' 'no ip route 10.78.0.0/24 blackhole'
cw_check "withdrawn static routes leave the FIB" \
  cw_wait_until 20 bash -c "! '$CTL' --socket '$sock' routes --json | jq -e '.routes[] | select(.prefix == \"10.77.0.0/24\" or .prefix == \"10.78.0.0/24\")' >/dev/null"

metrics_ok() {
  ip netns exec "$FW" curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$tmp/metrics.txt" || return 1
  grep -q '^causeway_routed_fib_installed_routes [1-9]' "$tmp/metrics.txt" &&
    grep -q 'causeway_routed_routes{table="254"}' "$tmp/metrics.txt" &&
    grep -q 'causeway_routed_fpm_events_total{event=' "$tmp/metrics.txt" &&
    grep -q 'causeway_routed_sla_path_state{' "$tmp/metrics.txt"
}
cw_check "Prometheus metrics exported" metrics_ok
cw_check "causewayctl sla prints the SLA table" bash -c "'$CTL' --routed-socket '$rsock' sla | grep -q rd2"
cw_check "causewayctl sla --json" bash -c "'$CTL' --routed-socket '$rsock' sla --json | jq -e '.paths | length == 1' >/dev/null"
cw_check "causewayctl paths answers" bash -c "'$CTL' --routed-socket '$rsock' paths --json | jq -e '.overlay_routes' >/dev/null"
cw_check "causewayctl routed status table" bash -c "'$CTL' --routed-socket '$rsock' routed status | grep -q 'forwarder          connected'"

# ---- routed killed and restarted while traffic flows --------------------------------------
before=$(control_routes)
frr_conf 'ip route 10.79.0.0/24 192.0.2.2'
cw_check "a route that will go stale is in the FIB" cw_wait_until 20 fib_has 10.79.0.0/24 '.kind == "gateway"'
restart_no_loss() {
  ip netns exec "$H1" ping -q -c 3000 -i 0.01 -W 1 198.18.0.1 >"$tmp/flood.log" 2>&1 &
  local ppid=$!
  sleep 1  # traffic flowing before the kill (the flood lasts ~30 s)
  kill -KILL "$ROUTED_PID"
  wait "$ROUTED_PID" 2>/dev/null
  # Withdrawn while routed is down: zebra drops the delete, only a sweep removes it.
  frr_conf 'no ip route 10.79.0.0/24 192.0.2.2' || return 1
  start_routed 2
  cw_wait_until 60 status_is '.fpm.connected and .forwarder.swept' || { cat "$tmp/routed-2.log" >&2; return 1; }
  kill -0 "$ppid" 2>/dev/null || { echo "the flood ended before the resync" >&2; return 1; }
  wait "$ppid"
  cat "$tmp/flood.log" >&2
  grep -q " 0% packet loss" "$tmp/flood.log"
}
cw_check "routed SIGKILLed and restarted under a ping flood: no loss" restart_no_loss
cw_check "the route withdrawn while routed was down was swept" fib_lacks 10.79.0.0/24
cw_check "forwarder FIB identical after the resync" test "$(control_routes)" = "$before"

# ---- SIGHUP ---------------------------------------------------------------------------------
bird_since() { birdc -s "$tmp/bird.ctl" show protocols pop | awk '$1 == "pop" {print $4, $5, $6}'; }
since_before=$(bird_since)
sed -i 's|announce: \[10.1.0.0/16\]|announce: [10.1.0.0/16, 10.9.0.0/16]|' "$tmp/intent.yaml"
kill -HUP "$ROUTED_PID"
running_has() { VTY -c 'show running-config' | grep -q "$1"; }
cw_check "SIGHUP applies the intent change to FRR" cw_wait_until 60 running_has "network 10.9.0.0/16"
session_kept() {
  birdc -s "$tmp/bird.ctl" show protocols pop | grep -q Established &&
    [[ -n $since_before && $(bird_since) == "$since_before" ]]
}
cw_check "the eBGP session was not reset by the reload (BIRD's session start unchanged)" session_kept ||
  { VTY -c 'show bgp neighbors 192.0.2.2' >&2; birdc -s "$tmp/bird.ctl" show protocols all pop >&2; }
sed -i 's/asn: 64500/asn: 99999999999/' "$tmp/intent.yaml"
kill -HUP "$ROUTED_PID"
cw_check "SIGHUP with a bad file is refused" cw_wait_until 20 status_is '.reload_failures == 1'
cw_check "... and nothing changed" running_has "network 10.9.0.0/16"
cw_check "routed still serving after the refused reload" status_is '.forwarder.connected'

# ---- the forwarder restarts: new process, empty FIB, the same (persistent) mirrors ------------
mirror_ifindex() { ip -n "$FW" -o link show dev cw-wan0 | cut -d: -f1; }
ifindex_before=$(mirror_ifindex)
# An address that is not in the configuration: the next forwarder removes it from the mirror.
ip -n "$FW" addr add 192.0.2.99/32 dev cw-wan0
restart_fwd() {
  cw_stop "$FWD_PID" 10 || true
  # Stopped: the mirror stays, carrier off, so the kernel keeps its addresses and ifindex.
  ip -n "$FW" link show dev cw-wan0 | grep -q NO-CARRIER || { echo "mirror gone or still up" >&2; return 1; }
  start_fwd
}
cw_check "forwarder restarted (its mirror stayed, carrier off, while it was down)" restart_fwd
cw_check "the mirror kept its ifindex across the restart" test "$(mirror_ifindex)" = "$ifindex_before"
mirror_addresses() { ip -n "$FW" -4 -o addr show dev cw-wan0 | awk '{print $4}' | sort | xargs; }
cw_check "the restarted forwarder removed the stale address and kept its own" \
  test "$(mirror_addresses)" = "192.0.2.1/30"
# The eBGP session went down with the mirror's carrier; it comes back through the same mirror
# once the new forwarder attaches (BIRD reconnects every 2 s, FRR as soon as NHT resolves).
cw_check "routed reconnected and replayed its table (BGP route back in the new FIB)" \
  cw_wait_until 90 fib_has 198.18.0.0/24 '.kind == "gateway" and .port == "wan0"' ||
  { status >&2; fib >&2; VTY -c 'show bgp neighbors 192.0.2.2' >&2; VTY -c 'show interface brief' >&2
    ip -n "$FW" addr >&2
    birdc -s "$tmp/bird.ctl" show protocols all pop >&2; }
cw_check "routed counted the reconnect and swept again" \
  status_is '.fib.forwarder_connects >= 2 and .forwarder.swept'
cw_check "traffic flows again after the forwarder restart" cw_wait_until 30 ping_ok

kill -TERM "$ROUTED_PID"
cw_check "routed stops on SIGTERM" cw_wait_until 10 bash -c "! kill -0 $ROUTED_PID"
cw_check "the forwarder keeps routed's routes after it stops" \
  fib_has 198.18.0.0/24 '.kind == "gateway"'

cleanup
leftovers() { ! ip netns list | grep -q "cwrd-.*-$id"; }
cw_check "no namespace left behind" leftovers
cw_summary
