# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# The lab's narrated scenario and its status/traffic views (scripts/lab.sh; docs/lab.md).
# Needs scripts/lab/lib.sh sourced and the lab generated (lab_generate / lab_load).
#
# The SLA steps (steer_*) do one thing each, wait for its effect with a deadline and return
# non-zero when it does not come; they leave their figures in STEER_* variables. The scenario
# narrates them, the test (tests/lab/netns_lab_test.sh) asserts them.

# The demo's pair of PoPs and the degradation: +150 ms of round trip (75 ms each way).
STEER_A=eu-west-1 STEER_B=us-east-1 STEER_FROM=branch STEER_TO=dc1 STEER_ADD_MS=75
STEER_STREAM_MS=5  # interval of the numbered UDP stream that times the failover

steer_delay_of() { lab_find_link "$1" "$STEER_A" "$STEER_B" && echo "$LINK_DELAY"; }
steer_ms_since() { echo $((($1 - $2) / 1000000)); }  # NS_LATER NS_EARLIER
steer_both_ways() {  # CLASS BACKBONES: both PoPs of the pair send CLASS to each other over it
  lab_class_is "$STEER_A" "$STEER_B" "$1" "$2" && lab_class_is "$STEER_B" "$STEER_A" "$1" "$2"
}
# The NOC has every announced prefix with the community of each class's state, e.g.
# steer_noc_sees voice:degraded bulk:compliant
steer_noc_sees() {
  local out p block cs c
  out=$(lab_birdc show route all protocol "$LAB_NOC_PROTOCOL") || return 1
  for p in "${LAB_ANNOUNCED[@]}"; do
    block=$(awk -v p="$p" '/^[0-9]/ {cur = $1} cur == p' <<<"$out")
    [[ -n $block ]] || return 1
    for cs in "$@"; do
      c=${LAB_SLA_COMMUNITY[$cs]}
      grep -q "BGP.community:.*(${c%%:*},${c##*:})" <<<"$block" || return 1
    done
  done
}

steer_voice_compliant() {  # STEER_A sends voice to every remote PoP over a compliant path
  lab_ctl "$STEER_A" --json sla | jq -e '[.classes[] | select(.traffic_class == "voice") | .reason] |
    length > 0 and all(. == "preferred")' >/dev/null
}
# The steps wait (30 s at most) for the state they start from: on a loaded 2-CPU machine a PoP
# is sometimes not scheduled for a few hundred ms, every path of it misses its replies at once
# and the SLA engine moves its classes for a few seconds (docs/lab.md).

# Every PoP measured its paths and sends both classes over aws.
steer_settled() {
  cw_wait_until 90 lab_sla_settled "${LAB_BACKBONES[0]}" ||
    { echo "lab: the SLA decisions did not settle on ${LAB_BACKBONES[0]}" >&2; return 1; }
}
# Brownout: aws between the pair +150 ms RTT. Voice (realtime, 100 ms) moves to inet both
# ways; bulk (business, 300 ms) stays on aws.
steer_brownout() {
  local d
  d=$(steer_delay_of aws) || return 1
  cw_wait_until 30 steer_both_ways voice aws || { echo "lab: voice not on aws before the brownout" >&2; return 1; }
  lab_shape aws "$STEER_A" "$STEER_B" --delay $((d + STEER_ADD_MS)) || return 1
  STEER_BROWNOUT_AT=$LAB_SHAPED_AT
  cw_wait_until 20 steer_both_ways voice inet ||
    { echo "lab: voice did not move to inet after the brownout" >&2; return 1; }
  STEER_BROWNOUT_MS=$(steer_ms_since "$(lab_decided_at "$STEER_A" "$STEER_B" voice)" "$STEER_BROWNOUT_AT")
  # The step can leave aws without a reply for longer than the detect time (a spurious blackout,
  # docs/sla.md): every class leaves aws until the late reply comes, then bulk returns at once.
  cw_wait_until 3 steer_both_ways bulk aws || { echo "lab: bulk left aws in the brownout" >&2; return 1; }
}
# inet between the pair +150 ms too: no backbone meets realtime to that PoP, so voice is
# degraded (best of worst) and the NOC sees its community change; bulk stays compliant.
steer_degraded() {
  local d t0
  d=$(steer_delay_of inet) || return 1
  # Voice is compliant before: each remote PoP over its preferred compliant path (inet to B).
  cw_wait_until 30 steer_voice_compliant ||
    { echo "lab: voice not compliant everywhere before inet is degraded" >&2; return 1; }
  lab_shape inet "$STEER_A" "$STEER_B" --delay $((d + STEER_ADD_MS)) || return 1
  t0=$SECONDS
  cw_wait_until 60 steer_noc_sees voice:degraded bulk:compliant ||
    { echo "lab: the NOC did not see voice degraded" >&2; return 1; }
  STEER_NOC_S=$((SECONDS - t0))
}
# Both links back: voice returns to aws, but only after the hold-down; the NOC sees it compliant.
steer_recover_brownout() {
  lab_shape inet "$STEER_A" "$STEER_B" --delay "$(steer_delay_of inet)" || return 1
  lab_shape aws "$STEER_A" "$STEER_B" --delay "$(steer_delay_of aws)" || return 1
  STEER_RESTORED_AT=$LAB_SHAPED_AT
  steer_await_recovery || return 1
  cw_wait_until 60 steer_noc_sees voice:compliant bulk:compliant ||
    { echo "lab: the NOC did not see voice compliant again" >&2; return 1; }
}
# After STEER_RESTORED_AT: one second later voice is still on inet (the hold-down has not
# passed); it returns to aws, STEER_RECOVER_MS after the restore, not before the hold-down.
steer_await_recovery() {
  local wait_ns=$((STEER_RESTORED_AT + 1000000000 - $(lab_now_ns)))
  ((wait_ns > 0)) && sleep "$(awk -v n="$wait_ns" 'BEGIN {printf "%.3f", n / 1e9}')"
  steer_both_ways voice inet || { echo "lab: voice left inet within 1 s of the restore" >&2; return 1; }
  cw_wait_until 60 steer_both_ways voice aws ||
    { echo "lab: voice did not return to aws after the restore" >&2; return 1; }
  STEER_RECOVER_MS=$(steer_ms_since "$(lab_decided_at "$STEER_A" "$STEER_B" voice)" "$STEER_RESTORED_AT")
  ((STEER_RECOVER_MS >= LAB_HOLD_DOWN_MS)) ||
    { echo "lab: voice returned ${STEER_RECOVER_MS} ms after the restore, before the ${LAB_HOLD_DOWN_MS} ms hold-down" >&2; return 1; }
}
# Blackout of aws between the pair under a numbered UDP stream (DSCP EF, voice) from STEER_FROM
# to STEER_TO: both classes move to inet; the failover time is measured in the data plane,
# from the emulator's timestamp of the blackout to the first datagram sent after it that
# arrived (scripts/lib/udp_stream.py failover).
steer_blackout() {
  local line
  lab_stream_start "$STEER_FROM" "$STEER_TO" "$STEER_STREAM_MS" || return 1
  cw_wait_until 10 bash -c "(( \$(wc -l <'$LAB_RUN/stream-$STEER_FROM-$STEER_TO.log') >= 100 ))" || return 1
  cw_wait_until 30 steer_both_ways voice aws && cw_wait_until 30 steer_both_ways bulk aws ||
    { echo "lab: not both classes on aws before the blackout" >&2; return 1; }
  lab_shape aws "$STEER_A" "$STEER_B" --loss 100 || return 1
  STEER_BLACKOUT_AT=$LAB_SHAPED_AT
  cw_wait_until 10 steer_both_ways voice inet && cw_wait_until 10 steer_both_ways bulk inet ||
    { echo "lab: traffic did not leave the blacked-out aws link" >&2; return 1; }
  STEER_DECISION_MS=$(steer_ms_since "$(lab_decided_at "$STEER_A" "$STEER_B" voice)" "$STEER_BLACKOUT_AT")
  ((STEER_DECISION_MS >= 0)) ||
    { echo "lab: voice moved ${STEER_DECISION_MS} ms before the blackout (not because of it)" >&2; return 1; }
  sleep 1
  line=$(lab_stream_failover "$STEER_FROM" "$STEER_TO" "$STEER_BLACKOUT_AT") ||
    { echo "lab: the stream did not come back: $line" >&2; return 1; }
  STEER_FAILOVER_MS=$(jq -r .first_ms <<<"$line")
  STEER_GAP_MS=$(jq -r .gap_ms <<<"$line")
  STEER_LOST=$(jq -r .lost <<<"$line")
}
steer_recover_blackout() {
  lab_shape aws "$STEER_A" "$STEER_B" --loss 0 || return 1
  STEER_RESTORED_AT=$LAB_SHAPED_AT
  steer_await_recovery || return 1
  cw_wait_until 20 steer_both_ways bulk aws || { echo "lab: bulk did not return to aws" >&2; return 1; }
}
steer_stream_stop() { lab_stream_stop "$STEER_FROM" "$STEER_TO"; }

scenario_up() {
  lab_say "three PoPs, two backbones between every pair, a site behind each PoP, a carrier NOC"
  lab_topology
  local l bb a ia b ib d wa wb
  for l in "${LAB_LINKS[@]}"; do
    read -r bb a ia b ib d wa wb <<<"$l"
    printf '  %-5s %-10s <-> %-10s  %2s ms each way\n' "$bb" "$a" "$b" "$d"
  done
  local site
  for site in "${LAB_SITES[@]}"; do
    printf '  site %-7s %-9s behind %s\n' "$site" "${LAB_SITE_ADDR[$site]}" "${LAB_SITE_POP[$site]}"
  done
  printf '  NOC    %s (BIRD, AS 64500) eBGP with %s\n' "${LAB_NOC_ADDR%/*}" "$LAB_NOC_POP"

  lab_say "starting causeway-fwd in each PoP (af_packet on veths, --no-huge)"
  lab_start_forwarders
  lab_say "starting FRR (zebra with FPM, staticd, bgpd) and causeway-routed in each PoP; BIRD in the NOC"
  lab_start_routing
  local pop
  for pop in "${LAB_POPS[@]}"; do
    cw_wait_until 60 lab_routed_synced "$pop" ||
      { echo "lab: causeway-routed in $pop not synced" >&2; tail -20 "$LAB_RUN/logs/routed-$pop.log" >&2; return 1; }
  done
  echo "  routed: FRR configured from each PoP's intent, zebra and the forwarder connected"
  lab_say "WireGuard handshakes on every backbone"
  for pop in "${LAB_POPS[@]}"; do
    cw_wait_until 45 lab_tunnels_up "$pop" || { echo "lab: tunnels of $pop not up" >&2; return 1; }
  done
  echo "  every tunnel has a session; each PoP probes each path (remote PoP x backbone) every ${LAB_PROBE_INTERVAL_MS} ms"
  lab_say "iBGP between the PoPs inside the overlay: each learns the other sites, next hop the remote PoP"
  for pop in "${LAB_POPS[@]}"; do
    cw_wait_until 60 lab_bgp_routes "$pop" || { echo "lab: $pop did not learn the other sites over iBGP" >&2; return 1; }
  done
  echo "  every PoP has the other sites' prefixes in its forwarder, each into the remote PoP's path group"
  lab_say "waiting until every path is measured and compliant (hold-down ${LAB_HOLD_DOWN_MS} ms: short for the demo, the product's default is 10 s)"
  steer_settled
  echo "  both traffic classes on ${LAB_BACKBONES[0]} everywhere"
}

scenario_tunnels() {
  lab_say "tunnels of ${LAB_POPS[0]} (wg show, the unmodified WireGuard tool)"
  lab_wg "${LAB_POPS[0]}" show
  lab_say "tunnels of ${LAB_POPS[0]} (causewayctl tunnels)"
  lab_ctl "${LAB_POPS[0]}" tunnels
}

scenario_traffic() {
  lab_say "every site pings every other over the overlay (average RTT of 3 pings)"
  local from to rtt
  for from in "${LAB_SITES[@]}"; do
    for to in "${LAB_SITES[@]}"; do
      [[ $from == "$to" ]] && continue
      if rtt=$(lab_ping "$from" "$to"); then
        printf '  %-7s -> %-7s %8s ms\n' "$from" "$to" "$(cut -d' ' -f2 <<<"$rtt")"
      else
        printf '  %-7s -> %-7s FAILED\n' "$from" "$to"
      fi
    done
  done
  lab_say "iperf3 TCP, 3 s, ${LAB_SITES[0]} -> ${LAB_SITES[1]} (encrypted on ${LAB_BACKBONES[0]})"
  lab_iperf "${LAB_SITES[0]}" "${LAB_SITES[1]}" 3 || echo "  iperf3 failed"
}

scenario_noc() {
  lab_say "the carrier NOC's view: $LAB_NOC_POP's prefixes with their SLA communities (birdc)"
  cw_wait_until 60 steer_noc_sees voice:compliant bulk:compliant || echo "  (not all prefixes have arrived yet)"
  scenario_noc_routes
  echo "  ${LAB_ANNOUNCED[0]}: $LAB_NOC_POP's site; ${LAB_ANNOUNCED[1]}: the aggregate through which the carrier"
  echo "  reaches the other sites; (65001,100) voice compliant, (65001,200) bulk compliant"
  local rtt
  if rtt=$(ip netns exec "${LAB_NS[${LAB_SITES[1]}]}" ping -c 3 -i 0.2 -W 2 "$LAB_NOC_HOST" 2>&1 |
    sed -n 's/^rtt min\/avg\/max\/mdev = [0-9.]*\/\([0-9.]*\)\/.*/\1/p') && [[ -n $rtt ]]; then
    echo "  ${LAB_SITES[1]} -> NOC $LAB_NOC_HOST (learnt by ${LAB_POPS[1]} over iBGP): $rtt ms"
  else
    echo "  ${LAB_SITES[1]} -> NOC $LAB_NOC_HOST: no answer"
  fi
}
scenario_noc_routes() {
  lab_birdc show route all protocol "$LAB_NOC_PROTOCOL" |
    grep -E '^[0-9]|BGP.community' | sed 's/^/  /'
}

scenario_bgp() {
  lab_say "${LAB_POPS[0]}: BGP (iBGP to the other PoPs' overlay addresses, eBGP to the NOC)"
  lab_vtysh "${LAB_POPS[0]}" -c 'show bgp summary' | sed -n '/^Neighbor/,/^$/p' | sed 's/^/  /'
  lab_say "${LAB_POPS[0]}'s forwarder: the other sites from BGP (zebra -> FPM -> routed) into path groups"
  local p pattern="^PREFIX"
  for p in "${LAB_SITES[@]}"; do pattern+="|^${LAB_SITE_PREFIX[$p]//./\.} "; done
  pattern+="|^${LAB_NOC_PREFIX//./\.} "
  lab_ctl "${LAB_POPS[0]}" routes | grep -E "$pattern" | sed 's/^/  /' || true
  echo "  group 1 = ${LAB_POPS[1]}, group 2 = ${LAB_POPS[2]}; each group: one member per backbone"
}

scenario_sla() {
  lab_say "SLA table of ${LAB_POPS[0]} (causewayctl sla): every path measured by in-tunnel probes"
  lab_ctl "${LAB_POPS[0]}" sla | sed 's/^/  /'
  lab_say "what the forwarder of ${LAB_POPS[0]} does with it (causewayctl path-groups)"
  lab_ctl "${LAB_POPS[0]}" path-groups | sed 's/^/  /'
}

scenario_steer_pair() {  # the pair's SLA rows and where each class goes, both ways
  lab_ctl "$STEER_A" sla | awk -v b="$STEER_B" 'NR == 1 || $2 == b' | sed 's/^/  /'
  local c
  for c in voice bulk; do
    printf '  %-5s %s -> %s: %-5s %s -> %s: %s\n' "$c" "$STEER_A" "$STEER_B" \
      "$(lab_class_path "$STEER_A" "$STEER_B" $c)" "$STEER_B" "$STEER_A" "$(lab_class_path "$STEER_B" "$STEER_A" $c)"
  done
}

scenario_steering() {
  local d
  lab_say "waiting until every path is compliant again (iperf3 filled the backbones for 3 s)"
  steer_settled && echo "  both traffic classes on aws everywhere"
  d=$(steer_delay_of aws)
  lab_say "brownout: aws $STEER_A <-> $STEER_B from $((2 * d)) to $((2 * (d + STEER_ADD_MS))) ms RTT (lab.sh degrade aws $STEER_A $STEER_B --delay $((d + STEER_ADD_MS)))"
  if steer_brownout; then
    echo "  voice (realtime: 100 ms) moved to inet ${STEER_BROWNOUT_MS} ms after the change; bulk (business: 300 ms) stays on aws"
  else
    echo "  FAILED: voice did not move as expected"
  fi
  scenario_steer_pair
  d=$(steer_delay_of inet)
  lab_say "inet $STEER_A <-> $STEER_B +150 ms too: no backbone meets realtime to $STEER_B, voice is degraded"
  if steer_degraded; then
    echo "  the NOC saw the new community ${STEER_NOC_S} s later (bgpd re-advertises after its route-map delay):"
    scenario_noc_routes
  else
    echo "  FAILED: the NOC did not see voice degraded"
  fi
  lab_say "both links back to normal (lab.sh restore): voice returns only after the ${LAB_HOLD_DOWN_MS} ms hold-down"
  if steer_recover_brownout; then
    echo "  voice back on aws ${STEER_RECOVER_MS} ms after the restore (RTT window clean, then the hold-down); the NOC:"
    scenario_noc_routes
  else
    echo "  FAILED: voice did not recover as expected"
  fi
  lab_say "blackout: aws $STEER_A <-> $STEER_B drops everything, under a UDP stream $STEER_FROM -> $STEER_TO (EF, one datagram every ${STEER_STREAM_MS} ms)"
  if steer_blackout; then
    echo "  routed moved both classes to inet ${STEER_DECISION_MS} ms after the blackout (3 probes of ${LAB_PROBE_INTERVAL_MS} ms lost)"
    echo "  the stream: first datagram over inet ${STEER_FAILOVER_MS} ms after the blackout; silence ${STEER_GAP_MS} ms; ${STEER_LOST} datagrams lost"
  else
    echo "  FAILED: no failover"
  fi
  scenario_steer_pair
  lab_say "aws back (lab.sh restore): traffic returns after the lost probes leave the window and the hold-down"
  if steer_recover_blackout; then
    echo "  voice and bulk back on aws ${STEER_RECOVER_MS} ms after the restore"
  else
    echo "  FAILED: no recovery"
  fi
  steer_stream_stop
}

scenario_narrate() {
  scenario_tunnels
  scenario_bgp
  scenario_sla
  scenario_traffic
  scenario_noc
  [[ ${CAUSEWAY_LAB_SLA_DEMO:-1} == 1 ]] && scenario_steering
  return 0
}

scenario_status() {
  local pop
  for pop in "${LAB_POPS[@]}"; do
    lab_say "$pop: tunnels"
    lab_ctl "$pop" tunnels
    lab_say "$pop: SLA (paths measured, class decisions)"
    lab_ctl "$pop" sla
    lab_say "$pop: path groups (what the forwarder does with the decisions)"
    lab_ctl "$pop" path-groups
    lab_say "$pop: causeway-routed"
    lab_ctl "$pop" routed status
  done
  lab_say "BGP in $LAB_NOC_POP"
  lab_vtysh "$LAB_NOC_POP" -c 'show bgp summary' | sed -n '/Neighbor/,$p'
  lab_say "the NOC's routes from $LAB_NOC_POP"
  lab_birdc show route protocol "$LAB_NOC_PROTOCOL"
  lab_say "backbone shaping (scripts/lab/wanem.py, each direction)"
  local l bb a ia b ib d wa wb
  for l in "${LAB_LINKS[@]}"; do
    read -r bb a ia b ib d wa wb <<<"$l"
    printf '  %-5s %-10s <-> %-10s %s\n' "$bb" "$a" "$b" "$(lab_link_shaping "$bb" "$a" "$b")"
  done
  scenario_cpu
}

scenario_cpu() {
  lab_say "CPU used by the lab's $(wc -l <"$LAB_RUN/pids") processes over 5 s"
  echo "  $(lab_cpu_pct 5)% of the machine ($(nproc) CPUs)"
}
