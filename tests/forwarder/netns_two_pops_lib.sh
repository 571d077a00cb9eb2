# SPDX-License-Identifier: Apache-2.0
# Two causeway-fwd PoPs joined by two WAN links (two backbones), one tunnel per backbone, a site
# host behind each PoP; shared by the forwarder's two-PoP netns tests (source after
# scripts/lib/netns.sh, with $FWD, $CTL and $id set):
#
#  [ha] 10.1.0.2 -- lan0 [pop-a] wan0 10.9.0.1 ===== 10.9.0.2 wan0 [pop-b] lan0 -- 10.2.0.2 [hb]
#                               wan1 10.8.0.1 ===== 10.8.0.2 wan1
#
# Tunnels wg0 (wan0) and wg1 (wan1); on each PoP the remote peer is "far" in both, a member of
# path group 1, which the route to the remote site uses. Options, set before two_pops_setup:
#   TWO_POPS_OVERLAY=1     each tunnel carries the PoP's overlay addresses 10.255.0.<1|2>/24
#                          and fd00:ff::<1|2>/64 and allows the remote ones (/32, /128):
#                          kernel mirrors wg0, wg1 in the PoP namespaces, SLA probes (to the
#                          IPv4 address) at the default interval; the remote IPv4 overlay
#                          address is routed into path group 1 (the IPv6 one is not: the
#                          tunnel's allowed IPs take it);
#   TWO_POPS_WORKERS=N     dpdk.workers of both PoPs (default 1; more: the forwarder places
#                          the lcores itself, docs/threading-model.md);
#   TWO_POPS_SITE6=1       the sites have IPv6 too: ha fd00:1::2/64, hb fd00:2::2/64 behind the
#                          PoPs' fd00:<1|2>::1/64, routed into path group 1 and allowed;
#   TWO_POPS_WAN1_IMPAIR=1 wan1 runs through a link emulator (impair_link.py, in namespace $L
#                          between A's w1 and B's w1: the kernel has no netem) whose delay
#                          and loss `impair_wan1 DELAY_MS LOSS_PERCENT` sets;
#   TWO_POPS_PMD=af_xdp    the PoPs' ports are net_af_xdp (XDP on the veths) instead of the
#                          default net_af_packet.
# Sets $A $B $HA $HB (namespaces) and $tmp (configs, keys, logs, control sockets pa.sock,
# pb.sock); the caller's trap runs cw_cleanup and removes $tmp.

two_pops_setup() {
  A=cwt-pa-$id B=cwt-pb-$id HA=cwt-ha-$id HB=cwt-hb-$id
  tmp=$(mktemp -d /tmp/cwpops.XXXXXX)
  for ns in "$A" "$B" "$HA" "$HB"; do cw_ns_add "$ns"; done
  cw_veth "$A" p0 "$HA" eth0
  cw_veth "$B" p0 "$HB" eth0
  cw_veth "$A" w0 "$B" w0
  if [[ ${TWO_POPS_WAN1_IMPAIR:-0} == 1 ]]; then
    L=cwt-l1-$id
    cw_ns_add "$L"
    cw_veth "$A" w1 "$L" la
    cw_veth "$L" lb "$B" w1
    for i in la lb; do cw_prepare_dpdk_if "$L" "$i"; done
  else
    cw_veth "$A" w1 "$B" w1
  fi
  for ns in "$A" "$B"; do for i in p0 w0 w1; do cw_prepare_dpdk_if "$ns" "$i"; done; done
  for ns in "$HA" "$HB"; do cw_prepare_host_if "$ns" eth0; ip -n "$ns" link set eth0 mtu 1420; done
  ip -n "$HA" addr add 10.1.0.2/24 dev eth0
  ip -n "$HA" route add default via 10.1.0.1
  ip -n "$HB" addr add 10.2.0.2/24 dev eth0
  ip -n "$HB" route add default via 10.2.0.1
  if [[ ${TWO_POPS_SITE6:-0} == 1 ]]; then
    ip -n "$HA" addr add fd00:1::2/64 dev eth0 nodad
    ip -n "$HA" route add default via fd00:1::1
    ip -n "$HB" addr add fd00:2::2/64 dev eth0 nodad
    ip -n "$HB" route add default via fd00:2::1
  fi

  (
    umask 077
    for k in a0 a1 b0 b1; do
      wg genkey >"$tmp/$k.key"
      wg pubkey <"$tmp/$k.key" >"$tmp/$k.pub"
    done
  )
  two_pops_config pa a b 10.1.0.1/24 10.2.0.0/24 2 1 >"$tmp/pa.yaml"
  two_pops_config pb b a 10.2.0.1/24 10.1.0.0/24 1 2 >"$tmp/pb.yaml"
  if [[ ${TWO_POPS_WAN1_IMPAIR:-0} == 1 ]]; then
    echo "0 0" >"$tmp/impair.conf"
    cw_spawn "$L" "$tmp/impair.log" python3 "$here/impair_link.py" la lb "$tmp/impair.conf"
    IMPAIR_PID=$CW_LAST_PID
    cw_wait_until 10 grep -q "impair_link: ready" "$tmp/impair.log"
  fi
}

# impair_wan1 DELAY_MS LOSS_PERCENT: the emulator's new settings, once it has applied them.
impair_wan1() {
  echo "$1 $2" >"$tmp/impair.conf"
  kill -HUP "$IMPAIR_PID" || return 1
  cw_wait_until 10 grep -q "impair_link: delay=$1 loss=$2\$" "$tmp/impair.log"
}

# two_pops_config NAME ME OTHER LAN_ADDR REMOTE_NET PEER_HOST OWN_HOST
two_pops_config() {
  local name=$1 me=$2 other=$3 lan=$4 remote=$5 peer_host=$6 own_host=$7
  local address="" allowed=$remote overlay_route="" lan6="" site6_route=""
  local dpdk="workers: 1, lcores: \"0-1\"" pmd=${TWO_POPS_PMD:-af_packet}
  if [[ ${TWO_POPS_WORKERS:-1} != 1 ]]; then dpdk="workers: $TWO_POPS_WORKERS"; fi
  if [[ ${TWO_POPS_SITE6:-0} == 1 ]]; then
    lan6=", \"fd00:$own_host::1/64\""
    allowed="$allowed, \"fd00:$peer_host::/64\""
    site6_route="
  - {prefix: \"fd00:$peer_host::/64\", path_group: 1}"
  fi
  if [[ ${TWO_POPS_OVERLAY:-0} == 1 ]]; then
    address="
    address: [10.255.0.$own_host/24, \"fd00:ff::$own_host/64\"]"
    allowed="$allowed, 10.255.0.$peer_host/32, \"fd00:ff::$peer_host/128\""
    overlay_route="
  - {prefix: 10.255.0.$peer_host/32, path_group: 1}"
  fi
  cat <<YAML
name: $name-$id
dpdk: {$dpdk, memory_mb: 512, file_prefix: cwt-$name-$id}
ports:
  - {name: lan0, device: "net_${pmd}0,iface=p0", addresses: [$lan$lan6]}
  - {name: wan0, device: "net_${pmd}1,iface=w0", addresses: [10.9.0.$own_host/24]}
  - {name: wan1, device: "net_${pmd}2,iface=w1", addresses: [10.8.0.$own_host/24]}
routes:
  - {prefix: $remote, path_group: 1}$overlay_route$site6_route
tunnels:
  - name: wg0
    private_key_file: $tmp/${me}0.key
    listen_port: 51820
    ports: [wan0]$address
    peers:
      - {name: far, public_key: "$(cat "$tmp/${other}0.pub")", endpoint: "10.9.0.$peer_host:51820",
         allowed_ips: [$allowed], persistent_keepalive: 1, path_group: 1}
  - name: wg1
    private_key_file: $tmp/${me}1.key
    listen_port: 51820
    ports: [wan1]$address
    peers:
      - {name: far, public_key: "$(cat "$tmp/${other}1.pub")", endpoint: "10.8.0.$peer_host:51820",
         allowed_ips: [$allowed], persistent_keepalive: 1, path_group: 1}
fib: {v4_max_routes: 65536, v4_tbl8_groups: 512, v6_max_routes: 4096, v6_tbl8_groups: 512}
control_socket: $tmp/$name.sock
uapi: {socket_dir: $tmp/uapi-$name}
YAML
}

ctl() { local pop=$1; shift; "$CTL" --socket "$tmp/$pop.sock" "$@"; }
start_pop() { # start_pop NS NAME
  cw_spawn "$1" "$tmp/$2.log" "$FWD" -c "$tmp/$2.yaml"
  cw_wait_until 30 ctl "$2" hello || { cat "$tmp/$2.log" >&2; return 1; }
}
both_sessions_up() { # both_sessions_up POP: both tunnels report a handshake
  ctl "$1" --json tunnels >"$tmp/$1-tunnels.json" || return 1
  python3 - "$tmp/$1-tunnels.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["tunnels"]
sys.exit(0 if len(t) == 2 and all(p["latest_handshake"] > 0 for x in t for p in x["peers"]) else 1)
PY
}
wan_tx() { # wan_tx POP PORT: tx packets of one port
  ctl "$1" --json stats | python3 -c 'import json,sys; print({p["name"]: p for p in json.load(sys.stdin)["ports"]}[sys.argv[1]]["tx_packets"])' "$2"
}
ping_ok() {
  local ns=$1 out
  shift
  out=$(ip netns exec "$ns" ping -c 3 -i 0.2 -W 3 -w 15 "$@" 2>&1)
  grep -q " 0% packet loss" <<<"$out" && return 0
  echo "$out" >&2
  return 1
}
