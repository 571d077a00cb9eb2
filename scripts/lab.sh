#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's main command: a three-PoP Causeway lab on this machine, in network namespaces
# (docs/lab.md).
#
#   scripts/lab.sh [up]        install what is missing, build, start the lab, run the narrated
#                              scenario; the lab keeps running
#   scripts/lab.sh status      tunnels, SLA, path groups, routed, BGP with the NOC, backbone shaping
#   scripts/lab.sh traffic     every site pings every other; a short iperf3
#   scripts/lab.sh degrade BACKBONE POP POP [--delay MS] [--jitter MS] [--loss PCT] [--blackout]
#   scripts/lab.sh restore BACKBONE POP POP | all
#   scripts/lab.sh down        stop every process the lab started (by PID), remove its namespaces
#
#                           carrier NOC (BIRD, AS 64500, 198.18.0.0/24)
#                                      | eBGP
#  branch 10.1.0.2 --- [eu-west-1] ======================== [us-east-1] --- dc1 10.2.0.2
#                           \\      aws 9 ms / inet 12 ms      //
#       aws 14 ms / inet 19 ms \\                           // aws 24 ms / inet 30 ms
#                                \\                       //
#                                      [ap-south-1]
#                                           |
#                                     dc2 10.3.0.2
#
#  ====  two backbone links per pair of PoPs (aws, inet): separate veths, one-way delays shown;
#        each PoP has one WireGuard tunnel per backbone (wg-aws, wg-inet)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${CAUSEWAY_BUILD_DIR:-$here/build}
LAB_RUN=${CAUSEWAY_LAB_DIR:-/run/causeway-lab}
LAB_PREFIX=${CAUSEWAY_LAB_PREFIX:-cwlab-}
LAB_FWD=$build/forwarder/causeway-fwd
LAB_CTL=$build/forwarder/ctl/causewayctl
LAB_ROUTED=$build/routing/routed/causeway-routed
source "$here/scripts/lab/lib.sh"
source "$here/scripts/lab/scenario.sh"

usage() {
  sed -n '/^#   scripts\/lab.sh/p' "$0" | sed 's/^#   /  /' >&2
  exit 2
}
need_lab() {
  [[ -f $LAB_RUN/topology.sh && -S $LAB_RUN/${LAB_POPS[0]:-eu-west-1}/fwd.sock ]] ||
    { echo "lab: not running (scripts/lab.sh up)" >&2; exit 1; }
}
[[ -f $LAB_RUN/topology.sh ]] && lab_load

cmd_up() {
  if [[ -e $LAB_RUN ]]; then
    echo "lab: already up (scripts/lab.sh status, or scripts/lab.sh down first)" >&2
    exit 1
  fi
  if [[ ${CAUSEWAY_LAB_SKIP_BUILD:-0} != 1 ]]; then
    "$here/scripts/install-deps.sh"
    lab_say "building causeway-fwd, causewayctl, causeway-routed"
    cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j "$(nproc)" --target causeway-fwd causewayctl causeway-routed >/dev/null
  fi
  mkdir -p "$LAB_RUN"
  # Whatever stops the start-up (a failed step under set -e, Ctrl-C) tears down what was started.
  trap 'echo "lab: start-up did not finish, tearing down" >&2; lab_down; rm -rf "$LAB_RUN"' EXIT
  lab_say "generating keys and configuration into $LAB_RUN"
  lab_generate
  scenario_up
  trap - EXIT
  scenario_narrate
  lab_say "the lab is running"
  cat <<TXT
  explore:   $LAB_CTL --socket $LAB_RUN/eu-west-1/fwd.sock tunnels | path-groups | routes | stats
             $LAB_CTL --routed-socket $LAB_RUN/eu-west-1/routed.sock routed status | sla
             ip netns exec ${LAB_NS[eu-west-1]} vtysh -N ${LAB_NS[eu-west-1]} -c 'show bgp summary'
             birdc -s $LAB_RUN/noc/bird.ctl show route all
             ip netns exec ${LAB_NS[branch]} ping ${LAB_SITE_ADDR[dc2]}
  by hand:   scripts/lab.sh status | traffic
             scripts/lab.sh degrade aws us-east-1 ap-south-1 --delay 100    (voice moves to inet)
             scripts/lab.sh degrade inet eu-west-1 ap-south-1 --loss 2
             scripts/lab.sh degrade aws eu-west-1 ap-south-1 --blackout
             $LAB_CTL --routed-socket $LAB_RUN/us-east-1/routed.sock sla
             scripts/lab.sh restore all
  tear down: scripts/lab.sh down
TXT
}

cmd_degrade() {
  (($# >= 3)) || usage
  local bb=$1 a=$2 b=$3 args=()
  shift 3
  while (($#)); do
    case $1 in
      --delay | --jitter | --loss) (($# >= 2)) || usage; args+=("$1" "$2"); shift 2 ;;
      --blackout) args+=(--loss 100); shift ;;
      *) usage ;;
    esac
  done
  ((${#args[@]})) || usage
  lab_shape "$bb" "$a" "$b" "${args[@]}" >/dev/null
  echo "lab: $bb between $a and $b: $(lab_link_shaping "$bb" "$a" "$b") (each direction)"
}

cmd_restore() {
  local l bb a ia b ib d wa wb
  if [[ ${1:-} == all ]]; then
    for l in "${LAB_LINKS[@]}"; do
      read -r bb a ia b ib d wa wb <<<"$l"
      lab_shape "$bb" "$a" "$b" --delay "$d" --jitter 0 --loss 0 >/dev/null
    done
    echo "lab: every backbone back to its own latency, no jitter, no loss"
    return
  fi
  (($# == 3)) || usage
  lab_find_link "$1" "$2" "$3"
  lab_shape "$1" "$2" "$3" --delay "$LINK_DELAY" --jitter 0 --loss 0 >/dev/null
  echo "lab: $1 between $2 and $3: $(lab_link_shaping "$1" "$2" "$3")"
}

case ${1:-up} in
  up) cmd_up ;;
  down)
    lab_down
    rm -rf "$LAB_RUN"
    echo "lab: down"
    ;;
  status) need_lab; scenario_status ;;
  traffic) need_lab; scenario_traffic ;;
  degrade) need_lab; shift; cmd_degrade "$@" ;;
  restore) need_lab; shift; cmd_restore "$@" ;;
  *) usage ;;
esac
