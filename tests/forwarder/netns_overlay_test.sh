#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netns: the overlay between two causeway-fwd PoPs (topology in netns_two_pops_lib.sh, with
# overlay addresses: PoP A 10.255.0.1/24 + fd00:ff::1/64 and PoP B 10.255.0.2/24 + fd00:ff::2/64
# on both tunnels wg0 and wg1).
#
# Checks:
#  - each tunnel has its kernel mirror (wg0, wg1) carrying the overlay address;
#  - kernel ping (IPv4 both ways, IPv6 one way) and a TCP transfer (iperf3 -t 2) between the
#    PoPs' overlay addresses, from
#    one PoP namespace's kernel to the other's, through the tunnels; a site host reaches its
#    PoP's overlay address;
#  - captures on both WAN links, at both ends, show only WireGuard UDP (and ARP), and no
#    plaintext probe;
#  - SLA probes flow on both tunnels of both PoPs; the reflector answers them in the forwarder
#    (its reflection counter grows while a capture on its tunnel mirrors sees no probe);
#  - control message 13 (causewayctl probes interval) sets the interval on every probing peer
#    and refuses out-of-range values;
#  - with 20 ms of delay on wan1 (each way, impair_link.py standing in for `tc netem`, which
#    this kernel lacks), wan1's round trips measured from the probe events are 40 ms (none
#    below 39 ms, 10th percentile at most 55 ms) on both PoPs while wan0's stay under 5 ms
#    (10th percentile; medians are logged);
#  - with 100% loss on wan1, the probes sent on wg1 get no reply while wg0's go on; the
#    kernel's pings to the remote overlay address (a path-group route) get through when the
#    group's active member is wg0's peer and not when it is wg1's;
#  - a malformed probe and unsolicited probe replies sent from a PoP's kernel inside the tunnel
#    are counted (probe_malformed, probe_unknown) and break nothing;
#  - a forwarder restart keeps the tunnel mirror (persistent TUN: same ifindex, address kept,
#    carrier off while the forwarder is down) and the overlay works again after it.
# Usage: netns_overlay_test.sh CAUSEWAY_FWD CAUSEWAYCTL
set -uo pipefail
FWD=$1
CTL=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/netns.sh"
for tool in wg iperf3 python3 tcpdump; do
  command -v "$tool" >/dev/null || { echo "needs $tool (scripts/install-deps.sh)" >&2; exit 1; }
done

id=$$
TWO_POPS_OVERLAY=1
TWO_POPS_WAN1_IMPAIR=1
source "$here/netns_two_pops_lib.sh"
tmp=
trap 'cw_cleanup; [[ -n $tmp ]] && rm -rf "$tmp"' EXIT
two_pops_setup

# probe_summary POP CURSOR: the PoP's probe events from CURSOR, per tunnel: requests sent,
# replies to those requests, their round trips (ms: min, 10th percentile, median, max); and
# the next cursor.
probe_summary() {
  ctl "$1" --json probes events --cursor "$2" >"$tmp/$1-events.json" || return 1
  python3 - "$tmp/$1-events.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
out = {"cursor": r["cursor"], "missed": r["missed"]}
for t in ("wg0", "wg1"):
    ev = [e for e in r["events"] if e["tunnel"] == t]
    sent = {e["seq"] for e in ev if e["kind"] == "sent"}
    rtts = [e["rtt_ns"] / 1e6 for e in ev if e["kind"] == "reply" and e["seq"] in sent]
    rtts.sort()
    out[t] = {"sent": len(sent), "replied": len(rtts),
              "min_ms": round(rtts[0], 3) if rtts else None,
              "p10_ms": round(rtts[len(rtts) // 10], 3) if rtts else None,
              "median_ms": round(statistics.median(rtts), 3) if rtts else None,
              "max_ms": round(rtts[-1], 3) if rtts else None}
print(json.dumps(out))
PY
}
cursor_of() { ctl "$1" --json probes events --cursor 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["cursor"])'; }
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1])
for k in sys.argv[2:]: d = d[k]
print(d)' "$@"; }
drop_count() { # drop_count POP REASON
  ctl "$1" --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"][sys.argv[1]])' "$2"
}
reflected() {
  ctl "$1" --json stats | python3 -c 'import json,sys; print(sum(w["probes_reflected"] for w in json.load(sys.stdin)["workers"]))'
}

cw_check "PoP A starts" start_pop "$A" pa || { cw_summary; exit 1; }
pa_pid=$CW_LAST_PID
cw_check "PoP B starts" start_pop "$B" pb || { cw_summary; exit 1; }
cw_check "both tunnels come up on PoP A" cw_wait_until 20 both_sessions_up pa
cw_check "both tunnels come up on PoP B" cw_wait_until 20 both_sessions_up pb

mirrors_carry_address() {
  local ns pop addr dev
  for pop in A:1 B:2; do
    ns=${pop%%:*} addr=10.255.0.${pop##*:}/24
    ns=${!ns}
    for dev in wg0 wg1; do
      ip -n "$ns" -4 addr show dev "$dev" | grep -q "inet $addr" || {
        ip -n "$ns" addr show >&2
        return 1
      }
    done
  done
  ctl pa tunnels --json | grep -q '"mirror": "wg0"'
}
cw_check "kernel mirrors wg0 and wg1 carry each PoP's overlay address" mirrors_carry_address

# ---- kernel traffic through the tunnels, with the WAN links captured at both ends ----------
captures=()
start_capture() { # start_capture NS IF
  local log=$tmp/cap-$1-$2
  cw_spawn "$1" "$log.log" tcpdump -i "$2" -nn -U -s 256 -w "$log.pcap"
  captures+=("$CW_LAST_PID:$log")
  cw_wait_until 10 grep -q "listening on" "$log.log"
}
for ns in "$A" "$B"; do for dev in w0 w1; do start_capture "$ns" "$dev"; done; done

cw_check "kernel ping PoP A -> PoP B overlay address" ping_ok "$A" 10.255.0.2
cw_check "kernel ping PoP B -> PoP A overlay address" ping_ok "$B" 10.255.0.1
cw_check "kernel ping over IPv6 PoP A -> PoP B overlay address" ping_ok "$A" fd00:ff::2
cw_check "a site host reaches its PoP's overlay address (local route, LAN mirror)" \
  ping_ok "$HA" 10.255.0.1

tcp_through_overlay() {
  cw_spawn "$B" "$tmp/iperf-s.log" iperf3 -s -1 -B 10.255.0.2 -p 5201
  local spid=$CW_LAST_PID
  cw_wait_until 10 ip netns exec "$B" bash -c "ss -Hltn 'sport = :5201' | grep -q ." || return 1
  ip netns exec "$A" timeout 30 iperf3 -c 10.255.0.2 -B 10.255.0.1 -p 5201 -t 2 -J \
    >"$tmp/iperf-c.json" || { cat "$tmp/iperf-c.json" >&2; return 1; }
  cw_stop "$spid" 5
  local pop
  for pop in pa pb; do
    cw_log "$pop drops: $(ctl "$pop" --json stats | python3 -c 'import json,sys
d = json.load(sys.stdin)["drops"]
print({k: v for k, v in d.items() if v and k not in ("tunnel_keepalive",)})')"
  done
  python3 - "$tmp/iperf-c.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["end"]
got = e["sum_received"]["bytes"]
print(f"TCP 10.255.0.1 -> 10.255.0.2 through the overlay: {got} bytes in "
      f"{e['sum_received']['seconds']:.1f} s, {e['sum_received']['bits_per_second'] / 1e6:.1f} Mbit/s, "
      f"{e['sum_sent'].get('retransmits', 0)} retransmits", file=sys.stderr)
sys.exit(0 if got > 1_000_000 else 1)
PY
}
cw_check "TCP (iperf3 -t 2) between the overlay addresses through the tunnels" tcp_through_overlay

wan_only_wireguard() {
  local c pid log other wg plain total=0 not_wg='not arp and not udp port 51820 and not (ip6 and dst net ff02::/16)'
  for c in "${captures[@]}"; do
    pid=${c%%:*} log=${c#*:}
    cw_stop "$pid" 5
  done
  for c in "${captures[@]}"; do
    log=${c#*:}
    wg=$(tcpdump -nn -r "$log.pcap" 'udp port 51820' 2>/dev/null | wc -l)
    # IPv6 link-local multicast (MLD, router solicitations) is the kernel's own chatter on the
    # port mirrors (cw-wan0), sent out the port as any router's would: not overlay traffic.
    other=$(tcpdump -nn -r "$log.pcap" "$not_wg" 2>/dev/null | wc -l)
    plain=$(grep -c CWPR "$log.pcap")
    cw_log "$(basename "$log"): $wg WireGuard datagrams, $other other IP packets, $plain plaintext probes"
    total=$((total + wg))
    # Each link carries at least its keepalives and probes; the TCP transfer crosses one.
    if ((other != 0 || wg < 10 || plain != 0)); then
      tcpdump -nn -r "$log.pcap" "$not_wg" 2>/dev/null | head >&2
      return 1
    fi
  done
  ((total > 10000))
}
cw_check "captures on both WAN links (both ends) show only WireGuard UDP, no plaintext probe" \
  wan_only_wireguard

# ---- probes ---------------------------------------------------------------------------------
probes_on_both() { # probes_on_both POP: both tunnels' peers have replies
  ctl "$1" --json probes >"$tmp/$1-probes.json" || return 1
  python3 - "$tmp/$1-probes.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["probes"]
ok = len(p) == 2 and all(x["replied"] > 5 and x["interval_ms"] == 100 for x in p)
sys.exit(0 if ok else 1)
PY
}
cw_check "probes answered on both tunnels of PoP A (default 100 ms)" cw_wait_until 10 probes_on_both pa
cw_check "probes answered on both tunnels of PoP B (default 100 ms)" cw_wait_until 10 probes_on_both pb
cw_check "causewayctl probes prints the table" \
  bash -c "'$CTL' --socket '$tmp/pa.sock' probes | grep -Eq '^wg1 +far +10.255.0.2 +100 ms'"

reflected_in_forwarder() {
  local r0 r1 dev pids=() seen=0 n
  # What B's kernel receives on its tunnel mirrors on the probe port while B reflects.
  for dev in wg0 wg1; do
    cw_spawn "$B" "$tmp/tun-$dev.log" tcpdump -i "$dev" -nn -U -w "$tmp/tun-$dev.pcap" udp port 7783
    pids+=("$CW_LAST_PID")
    cw_wait_until 10 grep -q "listening on" "$tmp/tun-$dev.log" || return 1
  done
  r0=$(reflected pb)
  grow() { (($(reflected pb) >= r0 + 20)); }
  cw_wait_until 10 grow || return 1
  r1=$(reflected pb)
  for pid in "${pids[@]}"; do cw_stop "$pid" 5; done
  for dev in wg0 wg1; do
    n=$(tcpdump -nn -r "$tmp/tun-$dev.pcap" 2>/dev/null | wc -l)
    seen=$((seen + n))
  done
  cw_log "PoP B reflected $((r1 - r0)) probes; its kernel saw $seen probe packets on wg0/wg1"
  ((seen == 0))
}
cw_check "PoP B reflects probes in the forwarder, none reach its kernel" reflected_in_forwarder

set_interval() {
  local out
  for pop in pa pb; do
    out=$(ctl "$pop" --json probes interval 20) || return 1
    [[ $(field "$out" peers) == 2 ]] || { echo "$out" >&2; return 1; }
  done
  ! ctl pa probes interval 5 2>"$tmp/interval.err" && grep -q "out of range" "$tmp/interval.err"
}
cw_check "message 13: interval 20 ms on every probing peer (2 per PoP); 5 ms refused" set_interval

# Replies to requests sent after `cursor`: at least `min` on each tunnel.
summary=
replies_since() { # replies_since POP CURSOR MIN
  summary=$(probe_summary "$1" "$2") || return 1
  (($(field "$summary" wg0 replied) >= $3 && $(field "$summary" wg1 replied) >= $3))
}
delay_shows_in_rtt() {
  impair_wan1 20 0 || return 1
  local ca cb sa sb
  # Probes sent before the qdisc existed must not count: start from the events after it.
  ca=$(cursor_of pa) cb=$(cursor_of pb)
  cw_wait_until 15 replies_since pa "$ca" 50 || return 1
  sa=$summary
  cw_wait_until 15 replies_since pb "$cb" 50 || return 1
  sb=$summary
  cw_log "20 ms each way on wan1: PoP A $sa"
  cw_log "20 ms each way on wan1: PoP B $sb"
  python3 - "$sa" "$sb" <<'PY'
import json, sys
# The path's own round trip is the low end of the distribution: on a loaded 2-CPU machine a
# stalled forwarder adds to some probes (seen: medians of hundreds of ms while the load
# average was 11), never subtracts. Every wg1 probe took the 40 ms; wg0's took none of it.
for s in map(json.loads, sys.argv[1:]):
    w0, w1 = s["wg0"], s["wg1"]
    if not (w1["min_ms"] >= 39.0 and w1["p10_ms"] <= 55.0 and w0["p10_ms"] < 5.0):
        sys.exit(1)
PY
}
cw_check "20 ms each way on wan1: wg1's probe RTT >= 39 ms (10th percentile <= 55), wg0's < 5 ms (both PoPs)" \
  delay_shows_in_rtt

loss_stops_replies() {
  impair_wan1 0 100 || return 1
  local ca cb sa sb
  ca=$(cursor_of pa) cb=$(cursor_of pb)
  only_wg0() { # only_wg0 POP CURSOR: wg0 answered 30 requests sent since CURSOR
    summary=$(probe_summary "$1" "$2") || return 1
    (($(field "$summary" wg0 replied) >= 30))
  }
  cw_wait_until 15 only_wg0 pa "$ca" || return 1
  sa=$summary
  cw_wait_until 15 only_wg0 pb "$cb" || return 1
  sb=$summary
  cw_log "100% loss on wan1: PoP A $sa"
  cw_log "100% loss on wan1: PoP B $sb"
  python3 - "$sa" "$sb" <<'PY'
import json, sys
for s in map(json.loads, sys.argv[1:]):
    if not (s["wg1"]["sent"] >= 20 and s["wg1"]["replied"] == 0):
        sys.exit(1)
PY
}
cw_check "100% loss on wan1: wg1's probes unanswered, wg0's answered (both PoPs)" \
  loss_stops_replies

# The kernel's packets to 10.255.0.2 follow path group 1 (the FIB route), whichever mirror the
# kernel wrote them into: with wan1 still dead, A's pings get through with wg0 active and not
# with wg1 active.
ping_fails() { ! ip netns exec "$1" ping -c 3 -i 0.2 -W 1 -w 4 "$2" >/dev/null 2>&1; }
kernel_follows_path_group() {
  ctl pa path-groups set 1 --member wg0/far --member wg1/far --active wg0/far || return 1
  ping_ok "$A" 10.255.0.2 || return 1
  ctl pa path-groups set 1 --member wg0/far --member wg1/far --active wg1/far || return 1
  ping_fails "$A" 10.255.0.2 || return 1
  ctl pa path-groups set 1 --member wg0/far --member wg1/far
}
cw_check "kernel traffic to a path-group route follows the group's active member" \
  kernel_follows_path_group
cw_check "wan1 repaired" impair_wan1 0 0

# ---- untrusted probes from inside the tunnel -----------------------------------------------
send_udp() { # send_udp NS DST PAYLOAD_HEX: one UDP datagram to DST:7783 from the kernel
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(bytes.fromhex(sys.argv[2]), (sys.argv[1], 7783))' "$2" "$3"
}
probe_hex() { # probe_hex TYPE SEQ: a well-formed payload nobody sent
  python3 -c 'import struct, sys; print(struct.pack("!4sBBHIQQQ", b"CWPR", 1, int(sys.argv[1]), 0, int(sys.argv[2]), 12345, 0, 0).hex())' "$1" "$2"
}
untrusted_probes() {
  local m0 ua0 ub0
  m0=$(drop_count pb probe_malformed) ua0=$(drop_count pa probe_unknown) ub0=$(drop_count pb probe_unknown)
  send_udp "$A" 10.255.0.2 "$(printf 'not a probe at all' | od -An -tx1 | tr -d ' \n')"
  send_udp "$A" 10.255.0.2 "$(probe_hex 2 4000000000)"  # a reply B never asked for
  send_udp "$A" 10.255.0.2 "$(probe_hex 1 7)"           # a request: B reflects, A never sent it
  malformed() { (($(drop_count pb probe_malformed) == m0 + 1)); }
  unknown_b() { (($(drop_count pb probe_unknown) == ub0 + 1)); }
  unknown_a() { (($(drop_count pa probe_unknown) == ua0 + 1)); }
  cw_wait_until 10 malformed || { cw_log "probe_malformed on B: $(drop_count pb probe_malformed)"; return 1; }
  cw_wait_until 10 unknown_b || { cw_log "probe_unknown on B: $(drop_count pb probe_unknown)"; return 1; }
  cw_wait_until 10 unknown_a || { cw_log "probe_unknown on A: $(drop_count pa probe_unknown)"; return 1; }
  ctl pa hello >/dev/null && ctl pb hello >/dev/null
}
cw_check "a malformed probe and unsolicited replies are counted (probe_malformed, probe_unknown)" \
  untrusted_probes
probes_continue() {
  local c
  c=$(cursor_of pa) || return 1
  cw_wait_until 10 replies_since pa "$c" 10
}
cw_check "probes on both tunnels continue after them" probes_continue
cw_check "kernel ping still works" cw_wait_until 30 ping_ok "$A" 10.255.0.2

# ---- forwarder restart: the tunnel mirrors persist (forwarder/runtime/mirror.h) -------------
ifindex_of() { ip -n "$1" -o link show dev "$2" | cut -d: -f1; }
restart_keeps_mirrors() {
  local before after
  before=$(ifindex_of "$A" wg0) || return 1
  cw_stop "$pa_pid" 10
  # Stopped: wg0 stays with its address, carrier off.
  ip -n "$A" -o link show dev wg0 | grep -q NO-CARRIER || { ip -n "$A" link show dev wg0 >&2; return 1; }
  ip -n "$A" -4 addr show dev wg0 | grep -q "inet 10.255.0.1/24" || return 1
  start_pop "$A" pa || return 1
  pa_pid=$CW_LAST_PID
  after=$(ifindex_of "$A" wg0)
  cw_log "wg0 on PoP A: ifindex $before before the forwarder restart, $after after"
  [[ $before == "$after" ]] || return 1
  cw_wait_until 20 both_sessions_up pa && cw_wait_until 30 ping_ok "$A" 10.255.0.2
}
cw_check "PoP A restarted: wg0 kept its ifindex and address, kernel ping works again" \
  restart_keeps_mirrors

cw_cleanup
leftovers() { ! ip netns list | grep -q "cwt-.*-$id"; }
cw_check "no namespace left behind" leftovers
cw_summary
