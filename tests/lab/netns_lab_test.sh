#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netns: the lab of scripts/lab.sh (docs/lab.md), asserting instead of narrating.
#
# Three PoPs (eu-west-1, us-east-1, ap-south-1), each causeway-fwd (af_packet, --no-huge) +
# zebra/staticd/bgpd + causeway-routed; two backbones (aws, inet) between every pair, shaped by
# the lab's emulator (wanem.py), one WireGuard tunnel per backbone; sites branch, dc1, dc2;
# BIRD as the carrier NOC peering eBGP with eu-west-1. Started with scripts/lab.sh itself (its
# own run directory and namespace prefix), checked with the lab's library (scripts/lab/lib.sh).
#
# Checks: `lab.sh up` starts the lab and runs its narrated scenario (no failed step); the
# generated intents pass `causeway-routed --check`; each routed is synced; every peer of every
# tunnel has a handshake, and `wg show` against a PoP says so; every PoP learns the other sites
# over iBGP inside the overlay (no static site routes: path-group routes from routed, into the
# remote PoP's group); every path is probed and judged compliant, and the SLA table's RTTs are
# the emulated ones; every site reaches every other; a capture on each of the six backbone links
# sees only WireGuard messages in UDP between the tunnel ports (and ARP), and sees data; iperf3
# TCP across the overlay; the NOC receives eu-west-1's prefixes with the compliant SLA
# communities, and its own prefix reaches the forwarder FIB through BGP/FPM/routed and carries
# traffic from the branch and (over iBGP) from dc1. SLA steering (scripts/lab/scenario.sh
# steer_*): a +150 ms brownout of aws eu-west-1 <-> us-east-1 moves voice (both ways) to inet and
# leaves bulk on aws; with inet degraded too the NOC sees voice's degraded community; after the
# restore voice returns only after the hold-down and the NOC sees it compliant; a blackout of
# that aws link moves both classes to inet, and a numbered UDP stream branch -> dc1 (voice)
# arrives over inet within 400 ms of the emulator's blackout timestamp while pings branch -> dc1
# still answer; recovery again only after the hold-down; the idle lab uses less than 20% of
# the machine's CPU; `lab.sh status` works; `lab.sh down` leaves no process, namespace, link,
# FRR or DPDK directory.
# Usage: netns_lab_test.sh CAUSEWAY_FWD CAUSEWAYCTL CAUSEWAY_ROUTED
set -uo pipefail
LAB_FWD=$1
LAB_CTL=$2
LAB_ROUTED=$3
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
for tool in wg iperf3 python3 jq tcpdump bird birdc vtysh /usr/lib/frr/frr-reload.py; do
  command -v "$tool" >/dev/null || { echo "needs $tool (scripts/install-deps.sh)" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/cwlab.XXXXXX)
LAB_RUN=$tmp/run
LAB_PREFIX=cwl$$-
source "$repo/scripts/lab/lib.sh"
source "$repo/scripts/lab/scenario.sh"
# The scenario's SLA steps (steer_*) run below as checks; `lab up` leaves them out
# (CAUSEWAY_LAB_SLA_DEMO=0) so the test does not run them twice.
lab() {  # scripts/lab.sh on this run: its run directory and prefix, the binaries under test
  CAUSEWAY_LAB_DIR=$LAB_RUN CAUSEWAY_LAB_PREFIX=$LAB_PREFIX CAUSEWAY_LAB_SKIP_BUILD=1 CAUSEWAY_LAB_SLA_DEMO=0 \
    CAUSEWAY_BUILD_DIR=$(dirname "$(dirname "$LAB_FWD")") "$repo/scripts/lab.sh" "$@"
}
cleanup() {
  [[ -f $LAB_RUN/topology.sh ]] && lab_down
  rm -rf "$tmp"
}
trap cleanup EXIT

# The README's main command, as a user runs it (without installing and building: the binaries
# under test are given). It fails unless every step of its start-up succeeded.
lab_up() {
  lab up >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log" >&2; return 1; }
  lab_load
  cat "$tmp/up.log" >&2
  ! grep -qi failed "$tmp/up.log"  # the scenario's ping matrix and iperf3 say so
}
cw_check "lab.sh up: the lab starts and the narrated scenario runs" lab_up || { cw_summary; exit 1; }
intents_valid() {
  local pop
  for pop in "${LAB_POPS[@]}"; do
    "$LAB_ROUTED" -c "$LAB_RUN/$pop/intent.yaml" --check >"$LAB_RUN/logs/check-$pop.log" 2>&1 ||
      { cat "$LAB_RUN/logs/check-$pop.log" >&2; return 1; }
  done
}
cw_check "every generated intent passes causeway-routed --check" intents_valid
for pop in "${LAB_POPS[@]}"; do
  cw_check "$pop: routed synced (FRR configured, zebra and forwarder connected)" \
    cw_wait_until 60 lab_routed_synced "$pop" || tail -20 "$LAB_RUN/logs/routed-$pop.log" >&2
done
for pop in "${LAB_POPS[@]}"; do
  cw_check "$pop: a handshake with every peer of both tunnels" cw_wait_until 45 lab_tunnels_up "$pop" ||
    lab_ctl "$pop" tunnels >&2
done
# The unmodified `wg` tool against a PoP's forwarder: both tunnels, each peer with a handshake.
wg_sees_handshakes() {
  local pop=$1 dump
  dump=$(lab_wg "$pop" show all dump) || return 1
  # all-dump peer lines: iface pubkey psk endpoint allowed-ips latest-handshake rx tx keepalive
  awk -F'\t' 'NF == 9 {peers++; if ($6 > 0) up++} END {exit !(peers == 4 && up == 4)}' <<<"$dump"
}
cw_check "wg show all (the unmodified tool) against ${LAB_POPS[0]}: 4 peers with a handshake" \
  wg_sees_handshakes "${LAB_POPS[0]}" || lab_wg "${LAB_POPS[0]}" show >&2

all_pairs_reach() {  # every site gets 5 echo replies from every other (lab_ping)
  local from to ok=0
  for from in "${LAB_SITES[@]}"; do
    for to in "${LAB_SITES[@]}"; do
      [[ $from == "$to" ]] && continue
      lab_ping "$from" "$to" 5 >/dev/null || { cw_log "$from -> $to failed"; ok=1; }
    done
  done
  return $ok
}
rtt_at_least() {  # FROM TO MIN_MS: every one of 5 pings from FROM to TO takes at least MIN_MS
  local min avg max
  read -r min avg max < <(lab_ping "$1" "$2" 5) || return 1
  cw_log "$1 -> $2: RTT min/avg/max $min/$avg/$max ms (at least $3 expected)"
  awk -v r="$min" -v m="$3" 'BEGIN {exit !(r >= m)}'
}
delay_of() { lab_find_link "$1" "$2" "$3" && echo "$LINK_DELAY"; }

# ---- iBGP and SLA -----------------------------------------------------------------------------
no_static_site_routes() {  # POP: no site prefix comes from the forwarder's configuration
  lab_ctl "$1" routes --json | jq -e '[.routes[] | select(.source == "config" and .kind == "path_group") |
    .prefix | select(startswith("10.255.") | not)] | length == 0' >/dev/null
}
for pop in "${LAB_POPS[@]}"; do
  cw_check "$pop: the other sites learnt over iBGP, each into the remote PoP's path group" \
    cw_wait_until 60 lab_bgp_routes "$pop" || lab_ctl "$pop" routes >&2
  cw_check "$pop: no static route to a site (only the overlay /32s are configured)" no_static_site_routes "$pop"
done
cw_check "every path probed and compliant, both classes on aws everywhere" steer_settled ||
  for pop in "${LAB_POPS[@]}"; do lab_ctl "$pop" sla >&2; done
# Every path's mean RTT in the SLA table is its link's emulated RTT (2 x one-way delay) plus at
# most 15 ms (the relay and the forwarders' adaptive polling), with no loss.
sla_measures_links() {
  local pop sla l bb a ia b ib d wa wb remote ok=0 rtt
  for pop in "${LAB_POPS[@]}"; do
    sla=$(lab_ctl "$pop" --json sla) || return 1
    for l in "${LAB_LINKS[@]}"; do
      read -r bb a ia b ib d wa wb <<<"$l"
      if [[ $a == "$pop" ]]; then remote=$b; elif [[ $b == "$pop" ]]; then remote=$a; else continue; fi
      rtt=$(jq -r --arg r "$remote" --arg bb "$bb" '.paths[] | select(.remote_pop == $r and .backbone == $bb) |
        "\(.rtt_mean_ms) \(.jitter_ms) \(.loss_pct)"' <<<"$sla")
      cw_log "$pop -> $remote over $bb: rtt/jitter/loss $rtt (emulated RTT $((2 * d)) ms)"
      awk -v r="${rtt%% *}" -v l="${rtt##* }" -v e=$((2 * d)) 'BEGIN {exit !(r >= e && r <= e + 15 && l == 0)}' || ok=1
    done
  done
  return $ok
}
cw_check "the SLA tables measure every path at its emulated RTT, without loss" sla_measures_links

# ---- the overlay: every site to every other, only WireGuard on the wires ----------------------
start_captures() {
  local l bb a ia b ib d wa wb
  for l in "${LAB_LINKS[@]}"; do
    read -r bb a ia b ib d wa wb <<<"$l"
    # On the emulator's end of A's veth: the wire as it leaves and reaches A (the PoPs' own
    # ends do not show what DPDK's af_packet sends, which bypasses the kernel's taps).
    lab_spawn "${LAB_NS[wan]}" "tcpdump-$bb-$a-$b" tcpdump -U -n -i "$wa" -w "$LAB_RUN/$bb-$a-$b.pcap"
  done
  for l in "${LAB_LINKS[@]}"; do
    read -r bb a ia b ib d wa wb <<<"$l"
    cw_wait_until 10 grep -q "listening on" "$LAB_RUN/logs/tcpdump-$bb-$a-$b.log" || return 1
  done
}
stop_captures() {
  local l bb a ia b ib d wa wb
  for l in "${LAB_LINKS[@]}"; do
    read -r bb a ia b ib d wa wb <<<"$l"
    cw_stop "$(lab_pid "tcpdump-$bb-$a-$b")" 5 || true
  done
}
cw_check "captures on the six backbone links" start_captures
cw_check "every site reaches every other (iBGP routes, path groups on aws)" all_pairs_reach
d=$(delay_of aws eu-west-1 us-east-1)
cw_check "branch -> dc1 over aws takes the emulated RTT (2 x $d ms)" rtt_at_least branch dc1 $((2 * d))
stop_captures
# A WireGuard message in UDP (RFC-less, wireguard.com/protocol): type 1..4, three zero bytes.
wg_filter="udp src port $LAB_LISTEN_PORT and udp dst port $LAB_LISTEN_PORT and udp[8] >= 1 and udp[8] <= 4 and udp[9:2] = 0 and udp[11] = 0"
only_wireguard() {  # BACKBONE POP_A POP_B
  local pcap=$LAB_RUN/$1-$2-$3.pcap total other data
  total=$(tcpdump -n -r "$pcap" 2>/dev/null | wc -l)
  other=$(tcpdump -n -r "$pcap" "not arp and not ($wg_filter)" 2>/dev/null | wc -l)
  data=$(tcpdump -n -r "$pcap" "$wg_filter and udp[8] = 4 and udp[2:2] > 60" 2>/dev/null | wc -l)
  cw_log "$1 $2-$3: $total frames, $data WireGuard data messages, $other neither WireGuard nor ARP"
  if ((other > 0)); then tcpdump -n -r "$pcap" "not arp and not ($wg_filter)" 2>/dev/null | head -5 >&2; fi
  # Each direction carried the SLA probes (10 a second) and, on aws, the pings.
  ((other == 0 && data >= 10))
}
for l in "${LAB_LINKS[@]}"; do
  read -r bb a ia b ib d wa wb <<<"$l"
  cw_check "backbone $bb $a-$b: only WireGuard UDP, and data in it" only_wireguard "$bb" "$a" "$b"
done
iperf_ok() {
  local line
  line=$(lab_iperf branch dc2 2) || return 1
  cw_log "iperf3 branch -> dc2: $line"
  awk '{for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") exit !($(i - 1) > 0); exit 1}' <<<"$line"
}
cw_check "iperf3 TCP branch -> dc2 across the overlay" iperf_ok

# ---- the carrier NOC -----------------------------------------------------------------------
cw_check "the NOC receives ${LAB_ANNOUNCED[*]} with communities ${LAB_COMMUNITIES[*]}" \
  cw_wait_until 90 steer_noc_sees voice:compliant bulk:compliant || lab_birdc show route all >&2
fib_has_noc() {
  lab_ctl "$LAB_NOC_POP" routes --json | jq -e --arg p "$LAB_NOC_PREFIX" \
    '.routes[] | select(.prefix == $p and .kind == "gateway" and .port == "noc0")' >/dev/null
}
cw_check "the NOC's $LAB_NOC_PREFIX reaches $LAB_NOC_POP's forwarder FIB (BGP -> FPM -> routed)" \
  cw_wait_until 60 fib_has_noc
noc_ping() { ip netns exec "${LAB_NS[$1]}" ping -c 3 -i 0.2 -W 2 "$LAB_NOC_HOST" >/dev/null; }
cw_check "branch reaches the NOC's $LAB_NOC_HOST" cw_wait_until 30 noc_ping branch
cw_check "dc1 reaches the NOC's $LAB_NOC_HOST (learnt over iBGP, through $LAB_NOC_POP)" cw_wait_until 30 noc_ping dc1

# ---- SLA steering (scripts/lab/scenario.sh) -----------------------------------------------------
cw_check "every path compliant again after the traffic, both classes on aws" steer_settled
pair_state() { for pop in "$STEER_A" "$STEER_B"; do lab_ctl "$pop" sla >&2; lab_ctl "$pop" path-groups >&2; done; }
cw_check "brownout +150 ms RTT on aws $STEER_A-$STEER_B: voice moves to inet both ways, bulk stays on aws" \
  steer_brownout || pair_state
cw_log "brownout: voice moved ${STEER_BROWNOUT_MS:-?} ms after the emulator's change"
cw_check "inet $STEER_A-$STEER_B degraded too: the NOC sees voice degraded, bulk compliant" \
  steer_degraded || lab_birdc show route all >&2
cw_log "the NOC saw the degraded community ${STEER_NOC_S:-?} s after the change"
cw_check "restore: voice back on aws only after the ${LAB_HOLD_DOWN_MS} ms hold-down, the NOC sees it compliant" \
  steer_recover_brownout || pair_state
cw_log "voice back on aws ${STEER_RECOVER_MS:-?} ms after the restore"
cw_check "blackout of aws $STEER_A-$STEER_B under a UDP stream $STEER_FROM -> $STEER_TO: both classes move to inet" \
  steer_blackout || pair_state
cw_log "blackout: decision after ${STEER_DECISION_MS:-?} ms; stream: first datagram over inet after ${STEER_FAILOVER_MS:-?} ms, silence ${STEER_GAP_MS:-?} ms, ${STEER_LOST:-?} lost"
cw_check "failover measured in the data plane within 400 ms (${STEER_FAILOVER_MS:-?} ms)" \
  awk -v f="${STEER_FAILOVER_MS:-1e9}" 'BEGIN {exit !(f < 400)}'
d=$(delay_of inet eu-west-1 us-east-1)
cw_check "branch -> dc1 during the blackout: answers over inet (RTT >= 2 x $d ms)" rtt_at_least branch dc1 $((2 * d))
cw_check "branch -> dc2 (aws to ap-south-1) unaffected" lab_ping branch dc2
cw_check "aws restored: both classes back only after the hold-down" steer_recover_blackout || pair_state
cw_log "recovered ${STEER_RECOVER_MS:-?} ms after the restore"
steer_stream_stop
stream_flows_again() {  # the stream's last datagram arrived after the recovery
  local last
  last=$(tail -1 "$LAB_RUN/stream-$STEER_FROM-$STEER_TO.log" | awk '{print $3}')
  [[ -n $last ]] && ((last > STEER_RESTORED_AT + LAB_HOLD_DOWN_MS * 1000000))
}
cw_check "the stream flowed through the recovery" stream_flows_again
degrade_restore() { lab degrade inet us-east-1 ap-south-1 --delay 40 --loss 1 && lab restore all; }
cw_check "lab.sh degrade and restore all (the commands)" degrade_restore

# ---- resources, status ----------------------------------------------------------------------
idle_cpu() {
  local pct
  pct=$(lab_cpu_pct 10)
  cw_log "idle lab: $pct% of the machine's CPU ($(nproc) CPUs) over 10 s, $(wc -l <"$LAB_RUN/pids") processes"
  awk -v p="$pct" 'BEGIN {exit !(p < 20)}'
}
cw_check "the idle lab uses less than 20% of the machine's CPU" idle_cpu
status_ok() { lab status >"$LAB_RUN/status.txt" 2>&1 || { cat "$LAB_RUN/status.txt" >&2; return 1; }; }
cw_check "lab.sh status" status_ok

# ---- teardown --------------------------------------------------------------------------------
pids=$(awk '{print $1}' "$LAB_RUN/pids")
namespaces=$(cat "$LAB_RUN/namespaces")
cw_check "lab.sh down" lab down
nothing_left() {
  local pid ns left=0
  for pid in $pids; do
    if kill -0 "$pid" 2>/dev/null; then cw_log "process $pid still running"; left=1; fi
  done
  for ns in $namespaces; do
    if ip netns list | awk -v n="$ns" '$1 == n {f = 1} END {exit !f}'; then cw_log "namespace $ns left"; left=1; fi
    [[ -e /etc/frr/$ns || -e /var/run/frr/$ns ]] && { cw_log "FRR directory of $ns left"; left=1; }
  done
  if ip -o link show | grep -E ': (aws|inet)-|: lan0|: noc0'; then cw_log "a lab link in the root namespace"; left=1; fi
  if compgen -G "/var/run/dpdk/$LAB_PREFIX*" >/dev/null; then cw_log "DPDK runtime directory left"; left=1; fi
  [[ ! -e $LAB_RUN ]] || { cw_log "run directory left"; left=1; }
  return $left
}
cw_check "nothing left: processes, namespaces, links, FRR and DPDK directories, run directory" nothing_left
cw_summary
