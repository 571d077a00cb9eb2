# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# The lab's narrated scenario and its status/traffic views (scripts/lab.sh; docs/lab.md).
# Needs scripts/lab/lib.sh sourced and the lab generated (lab_generate / lab_load).
#
# Steps that need SLA steering in the data path (a brownout moving the latency-sensitive class,
# the failover time of a blackout, recovery after the hold-down) are not run: the forwarder
# does not probe its paths and routed does not program path groups in this build, so there is
# nothing real to show yet. They belong after scenario_noc, driven by lab_shape and timed
# against `causewayctl path-groups` / `causewayctl sla`.

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
  lab_primary_everywhere "${LAB_BACKBONES[0]}"
  echo "  every tunnel has a session; path groups carry the ${LAB_BACKBONES[0]} backbone, ${LAB_BACKBONES[1]} stands by"
}

scenario_tunnels() {
  lab_say "tunnels of ${LAB_POPS[0]} (wg show, the unmodified WireGuard tool)"
  lab_wg "${LAB_POPS[0]}" show
  lab_say "tunnels of ${LAB_POPS[0]} (causewayctl tunnels)"
  lab_ctl "${LAB_POPS[0]}" tunnels
  lab_say "path groups of ${LAB_POPS[0]}: one per remote PoP, one member per backbone"
  lab_ctl "${LAB_POPS[0]}" path-groups
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
  lab_say "the carrier NOC's view: prefixes from $LAB_NOC_POP with their SLA communities (birdc)"
  local want=${#LAB_ANNOUNCED[@]}
  cw_wait_until 60 bash -c "birdc -s '$LAB_RUN/noc/bird.ctl' show route protocol $LAB_NOC_PROTOCOL count |
    grep -q '^$want of'" || echo "  (not all $want prefixes have arrived yet)"
  lab_birdc show route all protocol "$LAB_NOC_PROTOCOL" |
    grep -E '^[0-9]|BGP.as_path|BGP.community' | sed 's/^/  /'
  lab_say "$LAB_NOC_POP's forwarder FIB: the other sites through path groups (fwd.yaml), the NOC's $LAB_NOC_PREFIX from BGP (zebra -> FPM -> routed)"
  local p pattern="^PREFIX|^${LAB_NOC_PREFIX//./\.} "
  for p in "${LAB_ANNOUNCED[@]}"; do pattern+="|^${p//./\.} .*path_group"; done
  lab_ctl "$LAB_NOC_POP" routes | grep -E "$pattern" | sed 's/^/  /' || true
  local rtt
  if rtt=$(ip netns exec "${LAB_NS[${LAB_SITES[0]}]}" ping -c 3 -i 0.2 -W 2 "$LAB_NOC_HOST" 2>&1 |
    sed -n 's/^rtt min\/avg\/max\/mdev = [0-9.]*\/\([0-9.]*\)\/.*/\1/p') && [[ -n $rtt ]]; then
    echo "  ${LAB_SITES[0]} -> NOC $LAB_NOC_HOST: $rtt ms"
  else
    echo "  ${LAB_SITES[0]} -> NOC $LAB_NOC_HOST: no answer"
  fi
}

scenario_sla() {
  lab_say "SLA table of ${LAB_POPS[0]} (causewayctl sla)"
  lab_ctl "${LAB_POPS[0]}" sla
  echo "  Paths stay 'pending' in this build: the forwarder does not probe its tunnels yet, so"
  echo "  the brownout / blackout / hold-down steps of the scenario are not run (docs/lab.md)."
}

scenario_narrate() {
  scenario_tunnels
  scenario_traffic
  scenario_noc
  scenario_sla
}

scenario_status() {
  local pop
  for pop in "${LAB_POPS[@]}"; do
    lab_say "$pop: tunnels"
    lab_ctl "$pop" tunnels
    lab_say "$pop: path groups"
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
