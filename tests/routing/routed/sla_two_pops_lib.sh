# SPDX-License-Identifier: Apache-2.0
# Two PoPs steered by their SLA engines, shared by netns_sla_two_pops_test.sh and
# bench/run-failover.sh. Source after scripts/lib/netns.sh and scripts/lib/pop.sh with $FWD,
# $ROUTED, $CTL set.
#
#  [ha] 10.1.0.2 -- lan0 [pa: pop-a]  aws0 172.31.0.1 --[la: emulator]-- 172.31.0.2 aws0  [pb: pop-b] lan0 -- 10.2.0.2 [hb]
#                                    inet0 203.0.113.1 --[li: emulator]-- 203.0.113.2 inet0
#
# Each PoP: causeway-fwd (af_packet on the veths, --no-huge) with tunnels wg-aws and wg-inet
# carrying its overlay address 10.255.0.<n>/24 (the kernel mirrors wg-aws, wg-inet), zebra
# (-M dplane_fpm_nl) + staticd + bgpd, causeway-routed from an intent: iBGP between the overlay
# addresses (inside the tunnels), each PoP announces its site, so the remote site's route has
# the remote PoP as next hop and routed installs it as that PoP's path group (id 1). Both
# backbones run through a link emulator (tests/forwarder/impair_link.py; the kernel has no
# netem): aws 5 ms one way, inet 10 ms. The intent: SLA classes realtime (100 ms RTT, 1 %
# loss, 30 ms jitter) and besteffort (1000 ms, 5 %, 500 ms); traffic classes voice (DSCP EF,
# UDP: aws then inet) and bulk (everything else: aws then inet); probes every
# $SLA_PROBE_MS (100), window 20, blackout after 3, hold-down $SLA_HOLD_MS (3000).
#
# sla_setup: namespaces, links, keys, configs, emulators; sla_start: forwarders, FRR, routed.
# Sets $PA $PB $HA $HB $LA $LI (namespaces) and $tmp; the caller's trap runs sla_cleanup.

SLA_PROBE_MS=${SLA_PROBE_MS:-100}
SLA_HOLD_MS=${SLA_HOLD_MS:-3000}
SLA_DELAY_AWS=5
SLA_DELAY_INET=10

sla_setup() {
  PA=cwsl-pa-$id PB=cwsl-pb-$id HA=cwsl-ha-$id HB=cwsl-hb-$id LA=cwsl-la-$id LI=cwsl-li-$id
  tmp=$(mktemp -d /tmp/cwsla.XXXXXX)
  fpm_a=$((20000 + id % 20000))
  fpm_b=$((fpm_a + 1))
  local ns
  for ns in "$PA" "$PB" "$HA" "$HB" "$LA" "$LI"; do cw_ns_add "$ns"; done
  cw_veth "$PA" lan0 "$HA" eth0
  cw_veth "$PB" lan0 "$HB" eth0
  cw_veth "$PA" aws0 "$LA" xa
  cw_veth "$LA" xb "$PB" aws0
  cw_veth "$PA" inet0 "$LI" xa
  cw_veth "$LI" xb "$PB" inet0
  for ns in "$PA" "$PB"; do
    for i in lan0 aws0 inet0; do cw_prepare_dpdk_if "$ns" "$i"; done
  done
  for ns in "$LA" "$LI"; do for i in xa xb; do cw_prepare_dpdk_if "$ns" "$i"; done; done
  for ns in "$HA" "$HB"; do cw_prepare_host_if "$ns" eth0; ip -n "$ns" link set eth0 mtu 1400; done
  ip -n "$HA" addr add 10.1.0.2/24 dev eth0
  ip -n "$HA" route add default via 10.1.0.1
  ip -n "$HB" addr add 10.2.0.2/24 dev eth0
  ip -n "$HB" route add default via 10.2.0.1
  (
    umask 077
    for k in a b; do
      wg genkey >"$tmp/$k.key"
      wg pubkey <"$tmp/$k.key" >"$tmp/$k.pub"
    done
  )
  sla_fwd_config a b 1 2 5 >"$tmp/a-fwd.yaml"
  sla_fwd_config b a 2 1 0 >"$tmp/b-fwd.yaml"
  sla_intent a b 1 2 5 "$fpm_a" >"$tmp/a-intent.yaml"
  sla_intent b a 2 1 0 "$fpm_b" >"$tmp/b-intent.yaml"
  echo "$SLA_DELAY_AWS 0 start" >"$tmp/aws.conf"
  echo "$SLA_DELAY_INET 0 start" >"$tmp/inet.conf"
  cw_spawn "$LA" "$tmp/aws-link.log" python3 "$SLA_LIB_DIR/../../forwarder/impair_link.py" xa xb "$tmp/aws.conf"
  EMU_PID[aws]=$CW_LAST_PID
  cw_spawn "$LI" "$tmp/inet-link.log" python3 "$SLA_LIB_DIR/../../forwarder/impair_link.py" xa xb "$tmp/inet.conf"
  EMU_PID[inet]=$CW_LAST_PID
  cw_wait_until 10 grep -q "impair_link: ready" "$tmp/aws-link.log" &&
    cw_wait_until 10 grep -q "impair_link: ready" "$tmp/inet-link.log"
}
SLA_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
declare -gA EMU_PID=()

# sla_fwd_config ME OTHER OWN_N PEER_N KEEPALIVE_S
sla_fwd_config() {
  local me=$1 other=$2 n=$3 pn=$4 ka=$5 bb port peer_addr
  cat <<YAML
name: pop-$me
dpdk: {workers: 1, lcores: "(0-1)@(0-1)", memory_mb: 512, mbufs: 8192, no_huge: true, file_prefix: cwsl-$me-$id}
ports:
  - {name: lan0, device: "net_af_packet0,iface=lan0", addresses: [10.$n.0.1/24], rx_desc: 256, tx_desc: 256}
  - {name: aws0, device: "net_af_packet1,iface=aws0", addresses: [172.31.0.$n/30], rx_desc: 256, tx_desc: 256}
  - {name: inet0, device: "net_af_packet2,iface=inet0", addresses: [203.0.113.$n/30], rx_desc: 256, tx_desc: 256}
routes:
  - {prefix: 10.255.0.$pn/32, path_group: 1}
tunnels:
YAML
  for bb in aws inet; do
    if [[ $bb == aws ]]; then peer_addr=172.31.0.$pn; else peer_addr=203.0.113.$pn; fi
    cat <<YAML
  - name: wg-$bb
    private_key_file: $tmp/$me.key
    listen_port: 51820
    ports: [${bb}0]
    address: [10.255.0.$n/24]
    peers:
      - {name: pop-$other, public_key: "$(cat "$tmp/$other.pub")", endpoint: "$peer_addr:51820",
         allowed_ips: [10.$pn.0.0/24, 10.255.0.$pn/32], persistent_keepalive: $ka, path_group: 1}
YAML
  done
  cat <<YAML
fib: {v4_max_routes: 65536, v4_tbl8_groups: 512, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $tmp/$me-fwd.sock
uapi: {socket_dir: $tmp/uapi-$me}
idle_sleep_max_us: 200
YAML
}

# sla_intent ME OTHER OWN_N PEER_N KEEPALIVE_S FPM_PORT
sla_intent() {
  local me=$1 other=$2 n=$3 pn=$4 ka=$5 fpm=$6
  cat <<YAML
version: 1
identity:
  pop: pop-$me
  router_id: 10.255.0.$n
  private_key: "file:$tmp/$me.key"
  overlay_address: 10.255.0.$n
  listen_port: 51820
forwarder: {control_socket: $tmp/$me-fwd.sock}
fpm: {port: $fpm}
backbones: [{name: aws}, {name: inet}]
ports:
  - {name: lan0, role: lan, addresses: [10.$n.0.1/24]}
  - {name: aws0, role: wan, backbone: aws, addresses: [172.31.0.$n/30]}
  - {name: inet0, role: wan, backbone: inet, addresses: [203.0.113.$n/30]}
peers:
  - name: pop-$other
    public_key: "$(cat "$tmp/$other.pub")"
    endpoints: {aws: 172.31.0.$pn, inet: 203.0.113.$pn}
    overlay_address: 10.255.0.$pn
    site_prefixes: [10.$pn.0.0/24]
    keepalive_s: $ka
sla_classes:
  - {name: realtime, max_loss_pct: 1, max_latency_ms: 100, max_jitter_ms: 30}
  - {name: besteffort, max_loss_pct: 5, max_latency_ms: 1000, max_jitter_ms: 500}
traffic_classes:
  - {name: voice, match: {dscp: [ef], protocol: udp}, sla_class: realtime, backbones: [aws, inet]}
  - {name: bulk, sla_class: besteffort, backbones: [aws, inet]}
probes: {interval_ms: $SLA_PROBE_MS, window: 20, blackout_probes: 3, hold_down_ms: $SLA_HOLD_MS}
bgp:
  asn: 65001
  keepalive_s: 3
  hold_s: 9
  announce: [10.$n.0.0/24]
YAML
}

sla_ctl() { local p=$1; shift; "$CTL" --socket "$tmp/$p-fwd.sock" --routed-socket "$tmp/$p-routed.sock" "$@"; }

# sla_start: both forwarders, both FRR instances, both routeds (not waiting for BGP).
declare -gA ROUTED_PID=() FWD_PID=()
sla_start() {
  local p ns
  for p in a b; do
    ns=$PA
    [[ $p == b ]] && ns=$PB
    cw_pop_start_fwd "$ns" "$FWD" "$tmp/$p-fwd.yaml" "$tmp/$p-fwd.sock" "$tmp/$p-fwd.log" || return 1
    FWD_PID[$p]=$CW_POP_FWD_PID
    mkdir -p "$tmp/frr-$p"
    cw_pop_start_frr "$ns" "$tmp/frr-$p" 30 || return 1
    cw_pop_start_routed "$ns" "$ROUTED" "$tmp/$p-intent.yaml" "$tmp/$p-routed.sock" \
      "$tmp/$p-routed.log" --metrics "" --fpm-quiet-ms 1000 --log-level debug
    ROUTED_PID[$p]=$CW_POP_ROUTED_PID
  done
}

sla_cleanup() {
  cw_cleanup
  cw_pop_cleanup_frr "$PA" "$PB"
  [[ -n ${KEEP_TMP:-} ]] || rm -rf "$tmp"
}

# sla_impair BACKBONE DELAY_MS LOSS_PCT TAG: new emulator settings on that backbone; waits until
# applied and prints the CLOCK_MONOTONIC ns they took effect.
sla_impair() {
  local bb=$1 delay=$2 loss=$3 tag=$4
  echo "$delay $loss $tag" >"$tmp/$bb.conf"
  kill -HUP "${EMU_PID[$bb]}" || return 1
  cw_wait_until 10 grep -q "applied tag=$tag " "$tmp/$bb-link.log" || return 1
  sed -n "s/.*applied tag=$tag .*monotonic_ns=\([0-9]*\).*/\1/p" "$tmp/$bb-link.log" | tail -n1
}

# sla_link_frames BACKBONE: "a_to_b b_to_a" frames the emulator passed since it started.
sla_link_frames() {
  local bb=$1 n
  n=$(grep -c "impair_link: frames" "$tmp/$bb-link.log")
  kill -USR1 "${EMU_PID[$bb]}" || return 1
  cw_wait_until 5 bash -c "(( \$(grep -c 'impair_link: frames' '$tmp/$bb-link.log') > $n ))" || return 1
  grep "impair_link: frames" "$tmp/$bb-link.log" | tail -n1 |
    sed 's/.*a_to_b=\([0-9]*\) b_to_a=\([0-9]*\).*/\1 \2/'
}

# sla_class_paths POP CLASS: the backbones routed's SLA engine chose for the class (towards the
# other PoP), space separated, from `causewayctl sla --json`.
sla_class_paths() {
  sla_ctl "$1" sla --json |
    jq -r --arg c "$2" '[.classes[] | select(.traffic_class == $c) | .paths[].backbone] | join(" ")'
}
# sla_fwd_class_active POP CLASS: the tunnels of path group 1 active for the traffic class (by
# name) in the forwarder (causewayctl path-groups --json), e.g. "wg-inet".
sla_fwd_class_active() {
  sla_ctl "$1" path-groups --json | jq -r --arg c "$2" '
    [.path_groups[] | select(.id == 1) | .classes[] | select(.name == $c) | .active[].tunnel]
    | join(" ")'
}
