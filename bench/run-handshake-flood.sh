#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Handshake-flood benchmark: how quickly causeway-fwd's control thread answers while its tunnel's
# listen port is flooded with handshake initiations that carry a valid mac1 from 4096 forged
# addresses (scripts/lib/wg_flood.py forged: the worst case, every message reaches the tunnel's
# Device, which answers each with a cookie reply once under load). Per binary:
#   1. causeway-fwd starts in a namespace with one WAN port (af_packet on a veth) and one tunnel;
#   2. SAMPLES `causewayctl hello` round trips, 100 ms apart, with no flood: the reference;
#   3. the flood starts from the other end of the veth; once the forwarder counts it, SAMPLES
#      round trips again (each given TIMEOUT_S; a timeout counts as TIMEOUT_S);
#   4. the flood ends; what it sent and the forwarder's handshake counters are printed.
# Prints median, 90th percentile and spread (min..max) of both, side by side. REF_FWD names a
# second causeway-fwd binary (an older build) measured the same way after the first.
#
# Usage (root): bench/run-handshake-flood.sh     Environment: BUILD_DIR SAMPLES FLOOD_S TIMEOUT_S
#   REF_FWD
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
SAMPLES=${SAMPLES:-20}
FLOOD_S=${FLOOD_S:-20}
TIMEOUT_S=${TIMEOUT_S:-5}
REF_FWD=${REF_FWD:-}
FWD=$BUILD_DIR/forwarder/causeway-fwd
CTL=$BUILD_DIR/forwarder/ctl/causewayctl
source "$ROOT/scripts/lib/netns.sh"
for tool in wg python3 "$FWD" "$CTL"; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done

id=$$
POP=cwf-pop-$id B=cwf-b-$id
tmp=$(mktemp -d /tmp/cwflood.XXXXXX)
flood=
trap '[[ -n $flood ]] && kill "$flood" 2>/dev/null; cw_cleanup; rm -rf "$tmp"' EXIT
cw_ns_add "$POP"
cw_ns_add "$B"
cw_veth "$POP" w0 "$B" w0
cw_prepare_dpdk_if "$POP" w0
ip -n "$B" addr add 10.9.0.2/24 dev w0
umask 077
wg genkey >"$tmp/pop.key"
wg pubkey <"$tmp/pop.key" >"$tmp/pop.pub"
cat >"$tmp/fwd.yaml" <<YAML
name: flood-$id
dpdk: {workers: 1, lcores: "0-1", memory_mb: 512, file_prefix: cwf-$id}
ports:
  - {name: wan0, device: "net_af_packet0,iface=w0", mac: "02:00:00:00:09:01",
     addresses: [10.9.0.1/24]}
tunnels:
  - name: wg0
    private_key_file: $tmp/pop.key
    listen_port: 51820
    ports: [wan0]
    peers:
      - {public_key: "$(wg genkey | wg pubkey)", endpoint: "10.9.0.2:51821",
         allowed_ips: [10.2.0.0/24]}
fib: {v4_max_routes: 65536, v4_tbl8_groups: 512, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $tmp/fwd.sock
uapi: {socket_dir: $tmp/uapi}
YAML
# An older causeway-fwd does not know the uapi key.
grep -v '^uapi:' "$tmp/fwd.yaml" >"$tmp/fwd-ref.yaml"

ctl() { "$CTL" --socket "$tmp/fwd.sock" "$@"; }
counter() { # counter NAME: a forwarder drop counter
  ctl --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"].get(sys.argv[1], 0))' "$1"
}
samples() { # samples FILE: SAMPLES round trips of causewayctl hello in ms, one per line
  local i t0 t1
  : >"$1"
  for ((i = 0; i < SAMPLES; i++)); do
    t0=$(date +%s%N)
    timeout "$TIMEOUT_S" "$CTL" --socket "$tmp/fwd.sock" hello >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000)) >>"$1"
    sleep 0.1
  done
}
stats() { # stats FILE: "median M ms, p90 P (min..max)"
  sort -n "$1" | awk '{v[NR] = $1} END {
    p = int(NR * 0.9); if (p < 1) p = 1
    printf "median %d ms, p90 %d (%d..%d)", v[int((NR + 1) / 2)], v[p], v[1], v[NR]}'
}

run() { # run LABEL BINARY CONFIG
  local label=$1 bin=$2 conf=$3 pid sent
  cw_spawn "$POP" "$tmp/$label.log" "$bin" -c "$conf"
  pid=$CW_LAST_PID
  cw_wait_until 30 ctl hello || { cat "$tmp/$label.log" >&2; return 1; }
  samples "$tmp/$label-idle.txt"
  local h0
  h0=$(counter tunnel_handshake_dropped)
  ip netns exec "$B" python3 "$ROOT/scripts/lib/wg_flood.py" forged w0 02:00:00:00:09:01 \
    10.9.0.1 51820 "$(cat "$tmp/pop.pub")" "$FLOOD_S" >"$tmp/$label-sent.txt" &
  flood=$!
  cw_wait_until 10 bash -c "(( \$($CTL --socket $tmp/fwd.sock --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"drops\"][\"tunnel_handshake_dropped\"])') > $h0 + 1000 ))" ||
    echo "$label: the flood was not seen within 10 s" >&2
  samples "$tmp/$label-flood.txt"
  local still=0
  kill -0 "$flood" 2>/dev/null && still=1
  wait "$flood"
  flood=
  sent=$(cat "$tmp/$label-sent.txt")
  printf '%-10s idle: %s   under flood: %s   (flood %s frames in %s s, still running at the end: %s; handshake_dropped %s, handshake_queue_full %s, punt_queue_full %s)\n' \
    "$label" "$(stats "$tmp/$label-idle.txt")" "$(stats "$tmp/$label-flood.txt")" "$sent" "$FLOOD_S" "$still" \
    "$(counter tunnel_handshake_dropped)" "$(counter tunnel_handshake_queue_full 2>/dev/null)" "$(counter punt_queue_full)"
  cw_stop "$pid" 10
}

echo "causewayctl hello round trip, $SAMPLES samples each, forged valid-mac1 initiation flood"
run this "$FWD" "$tmp/fwd.yaml"
if [[ -n $REF_FWD ]]; then
  run reference "$REF_FWD" "$tmp/fwd-ref.yaml"
fi
