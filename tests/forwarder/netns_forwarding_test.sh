#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netns: causeway-fwd between two site hosts, on af_packet veth ports, with --no-huge.
#
#   [h1] eth0 10.1.0.2 fd00:1::2 ---- p0 [fw: causeway-fwd] p1 ---- eth0 10.2.0.2 fd00:2::2 [h2]
#                                        lan0 10.1.0.1      lan1 10.2.0.1
#
# Checks IPv4/IPv6 forwarding both ways, local delivery through the kernel mirrors, ICMP
# errors, an iperf3 TCP run, routes added and removed at run time while traffic flows (no
# loss on the unaffected path), a restart of the forwarder, and that a bad configuration
# stops start-up with a message naming the field and touches nothing.
# Usage: netns_forwarding_test.sh CAUSEWAY_FWD CAUSEWAYCTL
set -uo pipefail
FWD=$1
CTL=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/netns.sh"
source "$here/netns_fwd_lib.sh"

id=$$
FW=cwt-fw-$id H1=cwt-h1-$id H2=cwt-h2-$id
tmp=$(mktemp -d /tmp/cwtest.XXXXXX)
sock=$tmp/fwd.sock
trap 'cw_cleanup; rm -rf "$tmp"' EXIT

two_site_hosts
# A network behind h2 that the forwarder learns about only at run time.
ip -n "$H2" addr add 10.20.0.2/32 dev lo
ip -n "$H2" addr add fd00:20::2/128 dev lo

cat >"$tmp/fwd.yaml" <<YAML
name: test-$id
dpdk: {workers: 1, lcores: "0-1", memory_mb: 512, file_prefix: cwt-$id}
ports:
  - name: lan0
    device: "net_af_packet0,iface=p0"
    mac: "02:00:00:00:01:01"
    addresses: [10.1.0.1/24, "fd00:1::1/64"]
  - name: lan1
    device: "net_af_packet1,iface=p1"
    mac: "02:00:00:00:02:01"
    addresses: [10.2.0.1/24, "fd00:2::1/64"]
fib: {v4_max_routes: 65536, v4_tbl8_groups: 512, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $sock
YAML

ping_says() { # ping_says NS TEXT ARGS...: the ping output contains TEXT
  local ns=$1 text=$2
  shift 2
  local out
  out=$(ip netns exec "$ns" ping -c 1 -W 2 "$@" 2>&1)
  grep -q "$text" <<<"$out" || { echo "$out" >&2; return 1; }
}

cw_check "forwarder starts" start_fwd || { cw_summary; exit 1; }
cw_check "IPv4 h1 -> h2" ping_ok "$H1" 10.2.0.2
cw_check "IPv4 h2 -> h1" ping_ok "$H2" 10.1.0.2
cw_check "IPv6 h1 -> h2" ping_ok "$H1" -6 fd00:2::2
cw_check "IPv6 h2 -> h1" ping_ok "$H2" -6 fd00:1::2
cw_check "appliance reachable on its own port (IPv4)" ping_ok "$H1" 10.1.0.1
cw_check "appliance reachable across ports (IPv4)" ping_ok "$H2" 10.1.0.1
cw_check "appliance reachable (IPv6)" ping_ok "$H1" -6 fd00:1::1
cw_check "mirror interfaces exist with the port MACs" \
  bash -c "ip -n $FW link show cw-lan0 | grep -q 02:00:00:00:01:01"
cw_check "TTL expiry answered with ICMP time exceeded" ping_says "$H1" "Time to live exceeded" -t 1 10.2.0.2
cw_check "hop limit expiry answered with ICMPv6 time exceeded" ping_says "$H1" "Time exceeded" -6 -t 1 fd00:2::2
cw_check "no route answered with ICMP net unreachable" ping_says "$H1" "Net Unreachable" 10.20.0.2
cw_check "no route answered with ICMPv6 no route" ping_says "$H1" "No route" -6 fd00:20::2

iperf_run() {
  cw_spawn "$H2" "$tmp/iperf-s.log" iperf3 -s -1 -p 5201
  local spid=$CW_LAST_PID
  cw_wait_until 10 ip netns exec "$H2" bash -c "ss -ltn | grep -q :5201" || return 1
  local rc=0
  ip netns exec "$H1" timeout 30 iperf3 -c 10.2.0.2 -p 5201 -t 3 --connect-timeout 3000 -J \
    >"$tmp/iperf.json" || rc=1
  cw_stop "$spid" 3
  ((rc == 0)) || { cat "$tmp/iperf.json" >&2; return 1; }
  python3 - "$tmp/iperf.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bps = r["end"]["sum_received"]["bits_per_second"]
print(f"iperf3 TCP through causeway-fwd: {bps/1e6:.0f} Mbit/s", file=sys.stderr)
sys.exit(0 if bps > 50e6 else 1)
PY
}
cw_check "iperf3 TCP h1 -> h2 (> 50 Mbit/s)" iperf_run

# Routes changed at run time while traffic flows on another path.
route_churn() {
  local i
  for ((i = 0; i < 50; i++)); do
    ctl route add 10.30.$i.0/24 via 10.2.0.2 port lan1 >/dev/null || return 1
  done
  for ((i = 0; i < 50; i++)); do
    ctl route del 10.30.$i.0/24 >/dev/null || return 1
  done
}
no_loss_during_churn() {
  ip netns exec "$H1" ping -c 300 -i 0.01 -W 1 10.2.0.2 >"$tmp/churn-ping.log" 2>&1 &
  local ppid=$!
  route_churn
  local rc=$?
  wait "$ppid"
  local prc=$?
  grep -q " 0% packet loss" "$tmp/churn-ping.log" || { tail -3 "$tmp/churn-ping.log" >&2; return 1; }
  ((rc == 0 && prc == 0))
}
cw_check "100 route changes while pinging: no loss" no_loss_during_churn
cw_check "route added at run time (IPv4)" ctl route add 10.20.0.0/24 via 10.2.0.2 port lan1
cw_check "route added at run time (IPv6)" ctl route add fd00:20::/64 via fd00:2::2 port lan1
cw_check "new IPv4 route carries traffic" ping_ok "$H1" 10.20.0.2
cw_check "new IPv6 route carries traffic" ping_ok "$H1" -6 fd00:20::2
cw_check "routes listed" bash -c "'$CTL' --socket '$sock' routes | grep -q '10.20.0.0/24'"
cw_check "route removed at run time" ctl route del 10.20.0.0/24
cw_check "removed route no longer forwards" ping_says "$H1" "Net Unreachable" 10.20.0.2
cw_check "invalid route refused with a reason" \
  bash -c "! '$CTL' --socket '$sock' route add 10.40.0.0/24 via 10.2.0.2 port nosuchport 2>/dev/null"

stats_sane() {
  ctl --json stats >"$tmp/stats.json" || return 1
  python3 - "$tmp/stats.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
ports = {p["name"]: p for p in s["ports"]}
ok = ports["lan0"]["rx_packets"] > 1000 and ports["lan1"]["tx_packets"] > 1000
ok = ok and s["drops"]["ip4_ttl_expired"] >= 1 and s["drops"]["no_route"] >= 1
sys.exit(0 if ok else 1)
PY
}
cw_check "counters account for the traffic and the drops" stats_sane

# The mirrors persist across a restart (docs/forwarder-config.md): while the forwarder is down
# they stay with their ifindex and addresses and the carrier off.
lan0_ifindex() { ip -n "$FW" -o link show dev cw-lan0 | cut -d: -f1; }
ifindex_before=$(lan0_ifindex)
restart() {
  cw_stop "$FWD_PID" 10 || return 1
  ip -n "$FW" link show dev cw-lan0 | grep -q NO-CARRIER || return 1
  ip -n "$FW" -o addr show dev cw-lan0 | grep -q "10.1.0.1/24" || return 1
  start_fwd
}
cw_check "forwarder stops cleanly (mirror kept, carrier off) and restarts" restart
cw_check "the restarted forwarder attached to the same mirror" test "$(lan0_ifindex)" = "$ifindex_before"
cw_check "forwarding after restart (IPv4)" ping_ok "$H1" 10.2.0.2
cw_check "forwarding after restart (IPv6)" ping_ok "$H2" -6 fd00:1::2
cw_stop "$FWD_PID" 10
ip -n "$FW" link del cw-lan0
ip -n "$FW" link del cw-lan1

bad_config_refused() {
  sed 's/device: "net_af_packet1,iface=p1"/device: "net_af_packet1,iface=p1"\n    mtu: 99999/' \
    "$tmp/fwd.yaml" >"$tmp/bad.yaml"
  local out rc
  out=$(ip netns exec "$FW" "$FWD" -c "$tmp/bad.yaml" 2>&1)
  rc=$?
  echo "$out" >&2
  ((rc != 0)) && grep -q "ports\[1\].mtu" <<<"$out" && ! ip -n "$FW" link show cw-lan0 >/dev/null 2>&1
}
cw_check "bad configuration: non-zero exit, field named, nothing created" bad_config_refused

cw_cleanup
leftovers() { ! ip netns list | grep -q "cwt-.*-$id"; }
cw_check "no namespace left behind" leftovers
cw_summary
