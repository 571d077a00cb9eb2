#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Failover benchmark (issue 6): how long SLA steering takes to move a traffic class off a
# failing backbone, measured in the data plane. Topology and intent: the two-PoP SLA netns test
# (tests/routing/routed/sla_two_pops_lib.sh): real causeway-fwd, FRR and causeway-routed on
# each PoP, iBGP in the overlay, backbones aws (preferred, 5 ms one way) and inet (10 ms), each
# through a link emulator.
#
# A run: site ha sends a numbered, timestamped UDP stream of class voice (DSCP EF) at 1 kHz to
# hb; after 0.5 s the aws emulator applies the impairment and records its CLOCK_MONOTONIC time
# (T); when routed has moved voice to inet, the stream runs 0.5 s more; then aws is restored and
# voice returns (after the hold-down) before the next run. Every namespace shares
# CLOCK_MONOTONIC, so:
#   data plane  = arrival at hb of the first datagram sent after T that went via inet - T
#                 (blackout: any datagram sent after T; brownout: one-way delay < 80 ms, i.e.
#                 not through the delayed aws link);
#   decision    = routed's SLA decision time for voice (engine clock, `causewayctl sla --json`
#                 classes[].since_ms) - T: the last change, which is the move when voice's
#                 decision changed once (the count is printed: more than one means it went
#                 back to aws in between, and then the figure is the last move);
#   lost        = datagrams lost in the gap (blackout);
#   send        = the send time of that first datagram - T: it excludes inet's 10 ms one-way
#                 delay, and shows when the site's sender itself was late (a descheduled
#                 sender on a loaded host sends the overdue datagrams at once: then no datagram
#                 was lost and data plane > decision + 12 ms).
# The data plane minus the decision is the cost after the decision: the path-group update
# through the forwarder's control socket, inet's 10 ms and up to 1 ms of stream spacing.
# Every run's figures are printed as it ends, and the summary per case at the end.
# Cases: blackout (100 % loss on aws) and brownout (+150 ms one way on aws), each at a probe
# interval of 100 ms and of 20 ms (the intent's probes.interval_ms; the PoPs are restarted
# for each interval). The reference printed beside: the SLA engine's detection rule,
# blackout_probes x interval after the last reply (docs/sla.md), i.e. at most 300 / 60 ms plus
# the one interval the last reply can precede T.
#
# Usage: sudo bench/run-failover.sh     (builds what it needs into BUILD_DIR)
# Environment: RUNS (10), INTERVALS ("100 20"), CASES ("blackout brownout"), BUILD_DIR (build),
#              SKIP_BUILD=1, HOLD_MS (1000: the intent's hold-down, so runs come back quickly).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/scripts/lib/netns.sh"
source "$here/scripts/lib/bench.sh"
source "$here/scripts/lib/pop.sh"
source "$here/tests/routing/routed/sla_two_pops_lib.sh"
RUNS=${RUNS:-10}
INTERVALS=${INTERVALS:-"100 20"}
CASES=${CASES:-"blackout brownout"}
BUILD_DIR=${BUILD_DIR:-$here/build}
SLA_HOLD_MS=${HOLD_MS:-1000}
STREAM=$here/scripts/lib/udp_stream.py

((EUID == 0)) || { echo "run-failover: needs root (namespaces)" >&2; exit 1; }
for tool in vtysh jq wg python3 /usr/lib/frr/frr-reload.py /usr/lib/frr/zebra /usr/lib/frr/bgpd; do
  command -v "$tool" >/dev/null || { echo "run-failover: missing $tool (scripts/install-deps.sh)" >&2; exit 1; }
done
cw_bench_build run-failover "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  causeway-fwd causeway-routed causewayctl || exit 1
FWD=$BUILD_DIR/forwarder/causeway-fwd
ROUTED=$BUILD_DIR/routing/routed/causeway-routed
CTL=$BUILD_DIR/forwarder/ctl/causewayctl
for b in "$FWD" "$ROUTED" "$CTL"; do [[ -x $b ]] || { echo "run-failover: no $b" >&2; exit 1; }; done

id=$$
out=$(mktemp -d /tmp/cwfo.XXXXXX)
trap 'sla_cleanup; rm -rf "$out"' EXIT
die() { cw_log "run-failover: $*"; exit 1; }

voice_changes() { sla_ctl a sla --json | jq -r '.classes[] | select(.traffic_class == "voice") | .changes'; }
on() { [[ $(sla_class_paths a "$2") == "$3" && $(sla_fwd_class_active a "$2") == "wg-$3" ]]; }
tunnels_up() {
  sla_ctl "$1" --json tunnels | jq -e '[.tunnels[] | .peers[] | select(.latest_handshake > 0)] | length == 2' >/dev/null
}
fib_group_route() {
  sla_ctl a routes --json |
    jq -e '.routes[] | select(.prefix == "10.2.0.0/24" and .kind == "path_group")' >/dev/null
}

start_pops() {
  sla_setup || die "topology"
  sla_start || die "start-up"
  cw_wait_until 60 tunnels_up a || die "tunnels"
  cw_wait_until 90 fib_group_route || die "BGP route to 10.2.0.0/24 not in the FIB as a path group"
  cw_wait_until 60 on a voice aws || die "voice not on aws at start"
}

# one_run CASE INTERVAL N: appends "data_ms decision_ms lost" to $out/CASE-INTERVAL.
one_run() {
  local kase=$1 interval=$2 n=$3 t res first dec lost send owd=() delay loss
  rm -f "$tmp/voice.rx"
  cw_spawn "$HB" "$tmp/recv.log" python3 "$STREAM" recv --port 9000 --out "$tmp/voice.rx"
  local rp=$CW_LAST_PID
  cw_wait_until 10 grep -q receiving "$tmp/recv.log" || return 1
  cw_spawn "$HA" "$tmp/send.log" python3 "$STREAM" send --dst 10.2.0.2 --port 9000 --rate-hz 1000 --dscp 46
  local sp=$CW_LAST_PID
  sleep 0.5
  if [[ $kase == blackout ]]; then delay=$SLA_DELAY_AWS loss=100; else delay=$((SLA_DELAY_AWS + 150)) loss=0 owd=(--max-owd-ms 80); fi
  local c0 c1
  c0=$(voice_changes)
  t=$(sla_impair aws "$delay" "$loss" "$kase-$interval-$n") || return 1
  cw_wait_until 10 on a voice inet || { cw_log "voice did not move"; sla_ctl a sla >&2; }
  sleep 0.5
  cw_stop "$sp" 5
  sleep 0.2
  cw_stop "$rp" 5
  res=$(python3 "$STREAM" failover --log "$tmp/voice.rx" --at "$t" "${owd[@]}")
  first=$(jq -r '.first_ms // "nan"' <<<"$res")
  lost=$(jq -r '.lost // "nan"' <<<"$res")
  send=$(jq -r '.send_ms // "nan"' <<<"$res")
  dec=$(sla_ctl a sla --json | jq -r --argjson t "$t" \
    '.classes[] | select(.traffic_class == "voice" and .paths[0].backbone == "inet") | (.since_ms - $t / 1e6) * 1000 | round / 1000')
  c1=$(voice_changes)
  local after=nan
  # Only when voice moved once: otherwise the decision time is that of a later move.
  [[ $first != nan && -n $dec && $((c1 - c0)) == 1 ]] && after=$(python3 -c "print(round($first - $dec, 3))")
  echo "${first} ${dec:-nan} ${lost} ${send} ${after} $((c1 - c0))" >>"$out/$kase-$interval"
  cw_log "$kase @ ${interval} ms #$n: data plane ${first} ms (sent at ${send} ms), routed decision ${dec:-?} ms, lost ${lost}, voice decision changes $((c1 - c0))"
  sla_impair aws "$SLA_DELAY_AWS" 0 "restore-$kase-$interval-$n" >/dev/null || return 1
  cw_wait_until 60 on a voice aws || die "voice did not return to aws"
}

# stats FILE COLUMN: "median min max" of a column.
stats() {
  python3 - "$1" "$2" <<'PY'
import statistics, sys
v = []
for line in open(sys.argv[1]):
    x = line.split()[int(sys.argv[2])]
    if x != "nan":
        v.append(float(x))
if not v:
    print("n/a")
else:
    print(f"median {statistics.median(v):7.1f}  min {min(v):7.1f}  max {max(v):7.1f}  (n={len(v)})")
PY
}

for interval in $INTERVALS; do
  SLA_PROBE_MS=$interval
  cw_log "probe interval $interval ms: starting the PoPs"
  start_pops
  for kase in $CASES; do
    for ((n = 1; n <= RUNS; n++)); do one_run "$kase" "$interval" "$n" || die "run failed"; done
  done
  # routed's steering counters (path-group updates sent, refused, connection errors; probe feed)
  cw_log "routed steering counters at $interval ms: $(sla_ctl a paths --json | jq -c .counters)"
  sla_cleanup
done

echo
echo "Failover of class voice from aws to inet (ms from the impairment, $RUNS runs each; load $(cut -d' ' -f1-3 /proc/loadavg))"
for interval in $INTERVALS; do
  for kase in $CASES; do
    f=$out/$kase-$interval
    [[ -s $f ]] || continue
    echo "$kase, probes every $interval ms (detection rule: 3 x $interval = $((3 * interval)) ms after the last reply):"
    echo "  data plane (first datagram via inet): $(stats "$f" 0)"
    echo "  routed decision:                      $(stats "$f" 1)"
    echo "  data plane - decision (moved once):   $(stats "$f" 4)"
    echo "  send time of that datagram:           $(stats "$f" 3)"
    if [[ $kase == blackout ]]; then echo "  datagrams lost (1 kHz):               $(stats "$f" 2)"; fi
    echo "  voice decision changes per run:       $(stats "$f" 5)  (1: moved once; more: it came back to aws and left again)"
  done
done
