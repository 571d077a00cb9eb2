# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# The three-PoP lab (docs/lab.md), shared by scripts/lab.sh and tests/lab/netns_lab_test.sh.
# Source it after setting:
#   LAB_RUN     run directory (generated files, logs, PID and namespace lists)
#   LAB_PREFIX  prefix of every namespace and DPDK file prefix of this run (unique per run)
#   LAB_FWD, LAB_CTL, LAB_ROUTED   the causeway-fwd, causewayctl, causeway-routed binaries
# Every process the lab starts is recorded in $LAB_RUN/pids ("PID NAME START_TIME"), every namespace in
# $LAB_RUN/namespaces, so lab_down (possibly from another shell) stops and removes exactly them.

LAB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$LAB_LIB_DIR/../lib/netns.sh"
LAB_STREAM=$LAB_LIB_DIR/../lib/udp_stream.py

lab_t0=${lab_t0:-$SECONDS}
lab_say() { printf '\n[%4ss] == %s\n' "$((SECONDS - lab_t0))" "$*"; }

# ---- generated files -------------------------------------------------------------------------
lab_generate() {
  mkdir -p "$LAB_RUN/logs"
  python3 "$LAB_LIB_DIR/gen.py" --run-dir "$LAB_RUN" --prefix "$LAB_PREFIX" "$@"
  lab_load
}
lab_load() { source "$LAB_RUN/topology.sh"; }

# ---- processes -------------------------------------------------------------------------------
# lab_spawn NS NAME CMD...: start CMD in NS (in its own session, so it outlives the shell that
# started it), log to $LAB_RUN/logs/NAME.log, record its PID. A background job of a script is
# not a process group leader, so setsid and `ip netns exec` both exec in place: $! is CMD's PID.
lab_spawn() {
  local ns=$1 name=$2
  shift 2
  setsid ip netns exec "$ns" "$@" </dev/null >"$LAB_RUN/logs/$name.log" 2>&1 &
  LAB_LAST_PID=$!
  echo "$LAB_LAST_PID $name $(lab_start_time "$LAB_LAST_PID")" >>"$LAB_RUN/pids"
}
lab_pid() { awk -v n="$1" '$2 == n {p = $1} END {print p}' "$LAB_RUN/pids"; }
# The kernel's start time of PID (field 22 of /proc/PID/stat): with the PID it names one
# process, so a PID reused after the lab's process ended is never signalled.
lab_start_time() {
  local f
  f=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 0
  read -r -a f <<<"$f"
  echo "${f[19]}"
}
lab_alive() { [[ -n $1 && -n $2 && $(lab_start_time "$1") == "$2" ]]; }  # PID START_TIME

# ---- namespaces and links --------------------------------------------------------------------
lab_ns_add() {
  ip netns add "$1"
  echo "$1" >>"$LAB_RUN/namespaces"
  ip -n "$1" link set lo up
}

lab_find_link() {  # BACKBONE POP POP -> sets LINK_* or fails
  local l bb a ia b ib d wa wb
  for l in "${LAB_LINKS[@]}"; do
    read -r bb a ia b ib d wa wb <<<"$l"
    if [[ $bb == "$1" && ( ($a == "$2" && $b == "$3") || ($a == "$3" && $b == "$2") ) ]]; then
      LINK_NAME=$bb:$a:$b LINK_DELAY=$d
      return 0
    fi
  done
  echo "lab: no backbone link '$1' between '$2' and '$3' (backbones: ${LAB_BACKBONES[*]}; PoPs: ${LAB_POPS[*]})" >&2
  return 1
}

# The backbone emulator (wanem.py): lab_shape BACKBONE POP POP [--delay MS] [--jitter MS]
# [--loss PCT] changes one link (both directions) and returns once the relay applies it;
# LAB_SHAPED_AT is then the relay's CLOCK_MONOTONIC (ns) at the change.
lab_wanem() { python3 "$LAB_LIB_DIR/wanem.py" "$@"; }
lab_shape() {
  lab_find_link "$1" "$2" "$3" || return 1
  shift 3
  local gen pid
  gen=$(lab_wanem set --config "$LAB_RUN/wan/links.json" "$LINK_NAME" "$@") || return 1
  pid=$(lab_pid wanem)
  kill -HUP "$pid" || return 1
  cw_wait_until 10 jq -e --argjson g "$gen" '.generation >= $g' "$LAB_RUN/wan/links.json.applied" ||
    { echo "lab: the backbone emulator did not apply the change" >&2; return 1; }
  LAB_SHAPED_AT=$(jq -r .monotonic_ns "$LAB_RUN/wan/links.json.applied")
}
lab_link_shaping() {  # BACKBONE POP POP: "delay D ms, jitter J ms, loss L%" as configured
  lab_find_link "$1" "$2" "$3" || return 1
  jq -r --arg n "$LINK_NAME" '.links[] | select(.name == $n) |
    "delay \(.delay_ms) ms, jitter \(.jitter_ms) ms, loss \(.loss_pct)%"' "$LAB_RUN/wan/links.json"
}

# The kernel of a PoP's namespace still receives every frame on the veths the forwarder reads
# with af_packet. With IPv4 forwarding on there, it would answer a site's packet for a prefix it
# has no route to with an ICMP "net unreachable" (out of the port's mirror, so the site sees it
# next to the forwarder's real answer). So: forwarding on for the namespace (what FRR expects;
# zebra starts with it already on, so applying frr.conf never writes the sysctl again, which
# would reset every interface) and off on the forwarder's veths; the mirrors keep it.
lab_kernel_off_ports() {  # POP
  local ns=${LAB_NS[$1]} port
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
  for port in ${LAB_POP_PORTS[$1]}; do
    ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$port.forwarding=0"
  done
}

lab_topology() {
  local ns pop site l bb a ia b ib d wa wb
  : >"$LAB_RUN/namespaces"
  : >"$LAB_RUN/pids"
  for ns in "${LAB_NS[@]}"; do lab_ns_add "$ns"; done
  for pop in "${LAB_POPS[@]}"; do
    ns=${LAB_NS[$pop]}
    # Only the forwarder speaks on the PoP's wires: no IPv6 on the kernel side (the port
    # mirrors would otherwise send router solicitations and MLD reports onto the backbones).
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  # Sites: a veth to the PoP's lan0.
  for site in "${LAB_SITES[@]}"; do
    pop=${LAB_SITE_POP[$site]}
    cw_veth "${LAB_NS[$pop]}" lan0 "${LAB_NS[$site]}" eth0
    cw_prepare_dpdk_if "${LAB_NS[$pop]}" lan0
    cw_prepare_host_if "${LAB_NS[$site]}" eth0
    ip -n "${LAB_NS[$site]}" link set eth0 mtu "$LAB_SITE_MTU"
    ip -n "${LAB_NS[$site]}" addr add "${LAB_SITE_ADDR[$site]}/24" dev eth0
    ip -n "${LAB_NS[$site]}" route add default via "${LAB_SITE_GW[$site]}"
  done
  # The carrier NOC behind its PoP.
  cw_veth "${LAB_NS[$LAB_NOC_POP]}" "$LAB_NOC_PORT" "${LAB_NS[noc]}" eth0
  cw_prepare_dpdk_if "${LAB_NS[$LAB_NOC_POP]}" "$LAB_NOC_PORT"
  cw_prepare_host_if "${LAB_NS[noc]}" eth0
  ip -n "${LAB_NS[noc]}" addr add "$LAB_NOC_ADDR" dev eth0
  ip -n "${LAB_NS[noc]}" addr add "$LAB_NOC_HOST/32" dev lo
  # Backbones: per backbone and pair of PoPs, a veth from each PoP into the emulator's
  # namespace, where wanem.py relays between the two with the link's delay and loss.
  for l in "${LAB_LINKS[@]}"; do
    read -r bb a ia b ib d wa wb <<<"$l"
    cw_veth "${LAB_NS[$a]}" "$ia" "${LAB_NS[wan]}" "$wa"
    cw_veth "${LAB_NS[$b]}" "$ib" "${LAB_NS[wan]}" "$wb"
    cw_prepare_dpdk_if "${LAB_NS[$a]}" "$ia"
    cw_prepare_dpdk_if "${LAB_NS[$b]}" "$ib"
    cw_prepare_dpdk_if "${LAB_NS[wan]}" "$wa"
    cw_prepare_dpdk_if "${LAB_NS[wan]}" "$wb"
  done
  for pop in "${LAB_POPS[@]}"; do lab_kernel_off_ports "$pop"; done
  lab_spawn "${LAB_NS[wan]}" wanem python3 "$LAB_LIB_DIR/wanem.py" run --config "$LAB_RUN/wan/links.json"
  cw_wait_until 10 grep -q "relaying" "$LAB_RUN/logs/wanem.log" ||
    { echo "lab: the backbone emulator did not start:" >&2; cat "$LAB_RUN/logs/wanem.log" >&2; return 1; }
}

# ---- the PoPs --------------------------------------------------------------------------------
lab_ctl() { local pop=$1; shift; "$LAB_CTL" --socket "$LAB_RUN/$pop/fwd.sock" --routed-socket "$LAB_RUN/$pop/routed.sock" "$@"; }
# lab_wg POP ARGS...: the unmodified `wg` tool against POP's forwarder. `wg` looks for UAPI
# sockets in /var/run/wireguard only, so it runs in a private mount namespace where the PoP's
# socket directory is mounted there.
lab_wg() {
  local pop=$1
  shift
  mkdir -p /var/run/wireguard
  unshare -m sh -c 'mount --bind "$0" /var/run/wireguard && exec wg "$@"' "$LAB_RUN/$pop/wireguard" "$@"
}
lab_vtysh() { local pop=$1; shift; ip netns exec "${LAB_NS[$pop]}" vtysh -N "${LAB_NS[$pop]}" "$@"; }
lab_birdc() { birdc -s "$LAB_RUN/noc/bird.ctl" "$@"; }

lab_start_forwarders() {
  local pop
  for pop in "${LAB_POPS[@]}"; do
    lab_spawn "${LAB_NS[$pop]}" "fwd-$pop" "$LAB_FWD" -c "$LAB_RUN/$pop/fwd.yaml"
  done
  for pop in "${LAB_POPS[@]}"; do
    if ! cw_wait_until 60 lab_ctl "$pop" hello; then
      echo "lab: causeway-fwd in $pop did not start:" >&2
      tail -20 "$LAB_RUN/logs/fwd-$pop.log" >&2
      return 1
    fi
  done
}

lab_frr_up() {  # POP: zebra, staticd and bgpd answer
  local d ns=${LAB_NS[$1]}
  for d in zebra staticd bgpd; do [[ -S /var/run/frr/$ns/$d.vty ]] || return 1; done
  lab_vtysh "$1" -c 'show version' >/dev/null
}
lab_start_routing() {
  local pop ns d extra
  for pop in "${LAB_POPS[@]}"; do
    ns=${LAB_NS[$pop]}
    mkdir -p "/etc/frr/$ns" "/var/run/frr/$ns"
    echo 'service integrated-vtysh-config' >"/etc/frr/$ns/vtysh.conf"
    chown -R frr:frr "/etc/frr/$ns" "/var/run/frr/$ns"
    for d in zebra staticd bgpd; do
      extra=()
      [[ $d == zebra ]] && extra=(-M dplane_fpm_nl)
      lab_spawn "$ns" "$d-$pop" "/usr/lib/frr/$d" -N "$ns" "${extra[@]}" -P 0 -f /dev/null
    done
  done
  for pop in "${LAB_POPS[@]}"; do
    cw_wait_until 30 lab_frr_up "$pop" || { echo "lab: FRR in $pop did not start" >&2; return 1; }
  done
  for pop in "${LAB_POPS[@]}"; do
    lab_spawn "${LAB_NS[$pop]}" "routed-$pop" "$LAB_ROUTED" -c "$LAB_RUN/$pop/intent.yaml" \
      --frr-pathspace "${LAB_NS[$pop]}" --control-socket "$LAB_RUN/$pop/routed.sock" \
      --metrics 127.0.0.1:9477 --fpm-quiet-ms 1000
  done
  lab_spawn "${LAB_NS[noc]}" bird-noc bird -f -c "$LAB_RUN/noc/bird.conf" -s "$LAB_RUN/noc/bird.ctl"
}

lab_routed_synced() {  # POP: routed configured FRR, zebra and the forwarder are connected
  lab_ctl "$1" --json routed status 2>/dev/null |
    jq -e '.fpm.connected and .forwarder.connected and .forwarder.swept' >/dev/null
}

# Every peer of every tunnel of POP has completed a handshake.
lab_tunnels_up() {
  lab_ctl "$1" --json tunnels 2>/dev/null |
    jq -e '[.tunnels[].peers[].latest_handshake > 0] | length > 0 and all' >/dev/null
}

lab_group_of() {  # POP REMOTE_POP -> the path group id (remote's position among POP's peers + 1)
  local pop=$1 remote=$2 p gid=0
  for p in "${LAB_POPS[@]}"; do
    [[ $p == "$pop" ]] && continue
    gid=$((gid + 1))
    [[ $p == "$remote" ]] && { echo "$gid"; return 0; }
  done
  return 1
}

# Every other site's prefix is in POP's forwarder FIB as a path-group route from routed (BGP
# learnt over iBGP from the remote PoP, source control), into the group of the PoP behind it.
lab_bgp_routes() {  # POP
  local pop=$1 site want=() routes
  for site in "${LAB_SITES[@]}"; do
    [[ ${LAB_SITE_POP[$site]} == "$pop" ]] && continue
    want+=("${LAB_SITE_PREFIX[$site]}=$(lab_group_of "$pop" "${LAB_SITE_POP[$site]}")")
  done
  routes=$(lab_ctl "$pop" routes --json 2>/dev/null) || return 1
  local w
  for w in "${want[@]}"; do
    jq -e --arg p "${w%=*}" --argjson g "${w#*=}" '.routes[] |
      select(.prefix == $p and .kind == "path_group" and .source == "control" and .path_group == $g)' \
      <<<"$routes" >/dev/null || return 1
  done
}

# lab_class_path POP REMOTE_POP CLASS: the backbones POP's forwarder sends CLASS over to
# REMOTE_POP (the class's active set in the remote PoP's path group), comma-separated; "drop"
# when the set is empty.
lab_class_path() {
  local gid
  gid=$(lab_group_of "$1" "$2") || return 1
  lab_ctl "$1" --json path-groups 2>/dev/null | jq -r --argjson g "$gid" --arg c "$3" '
    [.path_groups[] | select(.id == $g) | .classes[] | select(.name == $c) | .active[].tunnel |
     sub("^wg-"; "")] | if length == 0 then "drop" else join(",") end'
}
lab_class_is() {  # POP REMOTE_POP CLASS BACKBONES: lab_class_path prints BACKBONES
  [[ $(lab_class_path "$1" "$2" "$3") == "$4" ]]
}
# Every PoP's SLA engine has judged every path compliant with every SLA class and sends every
# class to every other PoP over BACKBONE.
lab_sla_settled() {  # BACKBONE
  local pop remote c
  for pop in "${LAB_POPS[@]}"; do
    lab_ctl "$pop" --json sla 2>/dev/null | jq -e '.paths | length > 0 and
      all(.health == "up" and ([.sla_classes[].state] | all(. == "compliant")))' >/dev/null || return 1
    for remote in "${LAB_POPS[@]}"; do
      [[ $pop == "$remote" ]] && continue
      for c in voice bulk; do lab_class_is "$pop" "$remote" "$c" "$1" || return 1; done
    done
  done
}
# When the last decision for (POP, REMOTE_POP, CLASS) was made, CLOCK_MONOTONIC ns (the SLA
# engine's clock is the forwarder's probe clock, the host's monotonic clock).
lab_decided_at() {  # POP REMOTE_POP CLASS
  lab_ctl "$1" --json sla | jq -r --arg r "$2" --arg c "$3" \
    '.classes[] | select(.remote_pop == $r and .traffic_class == $c) | .since_ms * 1000000 | floor'
}
lab_now_ns() { python3 -c 'import time; print(time.monotonic_ns())'; }

lab_up_all() {  # build the topology and start everything; returns when tunnels are up
  lab_topology
  lab_start_forwarders || return 1
  lab_start_routing || return 1
  local pop
  for pop in "${LAB_POPS[@]}"; do
    cw_wait_until 45 lab_tunnels_up "$pop" || { echo "lab: tunnels of $pop not up" >&2; return 1; }
  done
}

# ---- traffic ---------------------------------------------------------------------------------
# lab_ping SITE_FROM SITE_TO [COUNT]: COUNT echo replies (default 3) within 20 s; prints
# "MIN AVG MAX" RTT in ms. With a deadline ping keeps sending (every 0.2 s) until COUNT replies
# came and fails if they did not: a reply late on a busy machine still counts, and the
# transmitted/received figures of a failure are printed.
lab_ping() {
  local out
  out=$(ip netns exec "${LAB_NS[$1]}" ping -c "${3:-3}" -i 0.2 -w 20 "${LAB_SITE_ADDR[$2]}" 2>&1) ||
    { echo "$out" >&2; return 1; }
  sed -n 's|^rtt min/avg/max/mdev = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/.*|\1 \2 \3|p' <<<"$out"
}
lab_iperf() {  # SITE_FROM SITE_TO SECONDS: TCP throughput line of the receiver
  local port=5201 spid out
  lab_spawn "${LAB_NS[$2]}" "iperf3-$2" iperf3 -s -1 -p $port
  spid=$LAB_LAST_PID
  cw_wait_until 10 ip netns exec "${LAB_NS[$2]}" bash -c "ss -Hltn 'sport = :$port' | grep -q ." || return 1
  out=$(ip netns exec "${LAB_NS[$1]}" timeout 60 iperf3 -c "${LAB_SITE_ADDR[$2]}" -p $port -t "$3" \
    --connect-timeout 3000 -f m 2>&1)
  cw_stop "$spid" 3 || true
  grep -E 'receiver' <<<"$out" || { echo "$out" >&2; return 1; }
}

# The numbered UDP stream (scripts/lib/udp_stream.py), DSCP EF: the voice class.
lab_stream_start() {  # SITE_FROM SITE_TO INTERVAL_MS: receiver log $LAB_RUN/stream-FROM-TO.log
  local log=$LAB_RUN/stream-$1-$2.log
  : >"$log"
  lab_spawn "${LAB_NS[$2]}" "stream-recv-$1-$2" python3 "$LAB_STREAM" recv --out "$log"
  cw_wait_until 10 grep -q receiving "$LAB_RUN/logs/stream-recv-$1-$2.log" || return 1
  lab_spawn "${LAB_NS[$1]}" "stream-send-$1-$2" python3 "$LAB_STREAM" send \
    --dst "${LAB_SITE_ADDR[$2]}" --interval-ms "$3" --dscp 46
  cw_wait_until 10 test -s "$log"
}
lab_stream_stop() {  # SITE_FROM SITE_TO
  cw_stop "$(lab_pid "stream-send-$1-$2")" 3 || true
  cw_stop "$(lab_pid "stream-recv-$1-$2")" 3 || true
}
# lab_stream_failover SITE_FROM SITE_TO AT_NS: JSON (udp_stream.py failover)
lab_stream_failover() {
  python3 "$LAB_STREAM" failover --log "$LAB_RUN/stream-$1-$2.log" --at "$3"
}

# ---- resources -------------------------------------------------------------------------------
# CPU time (user + system, all threads) of every recorded process still running, in ticks.
lab_cpu_ticks() {
  local pid name start total=0 f
  while read -r pid name start; do
    lab_alive "$pid" "$start" || continue
    f=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    # After the command name: state is field 3, utime 14 and stime 15 of the full line.
    read -r -a f <<<"$f"
    total=$((total + f[11] + f[12]))
  done <"$LAB_RUN/pids"
  echo "$total"
}
# lab_cpu_pct SECONDS: the lab's processes' CPU use over SECONDS, in percent of the whole
# machine (all CPUs), printed with one decimal.
lab_cpu_pct() {
  local t0 t1 hz cpus
  hz=$(getconf CLK_TCK) cpus=$(nproc)
  t0=$(lab_cpu_ticks)
  sleep "$1"
  t1=$(lab_cpu_ticks)
  awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$1" -v n="$cpus" 'BEGIN {printf "%.1f\n", 100 * d / hz / s / n}'
}

# ---- teardown --------------------------------------------------------------------------------
# lab_stop_all PID...: SIGTERM to all at once, up to 10 s for all of them, then SIGKILL.
lab_stop_all() {
  local pid deadline=$((SECONDS + 10)) alive
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null
  while ((SECONDS < deadline)); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  for pid in "$@"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "lab: pid $pid did not stop on SIGTERM within 10 s; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  done
}

lab_down() {
  local ns pid name start first=() rest=()
  if [[ -f $LAB_RUN/pids ]]; then
    # routed first, so it does not react to FRR or a forwarder going away; then the rest.
    while read -r pid name start; do
      lab_alive "$pid" "$start" || continue
      if [[ $name == routed-* ]]; then first+=("$pid"); else rest+=("$pid"); fi
    done <"$LAB_RUN/pids"
    lab_stop_all "${first[@]}"
    lab_stop_all "${rest[@]}"
  fi
  if [[ -f $LAB_RUN/namespaces ]]; then
    while read -r ns; do
      [[ -n $ns ]] || continue
      if ip netns list | awk -v n="$ns" '$1 == n {f = 1} END {exit !f}'; then
        # A process started in the namespace without being recorded (none should exist).
        ip netns pids "$ns" | xargs -r kill -KILL 2>/dev/null || true
        ip netns del "$ns"
      fi
      rm -rf "/etc/frr/$ns" "/var/run/frr/$ns"
    done <"$LAB_RUN/namespaces"
  fi
  # DPDK's runtime directories of this run's forwarders (EAL --file-prefix).
  [[ -n $LAB_PREFIX ]] && rm -rf /var/run/dpdk/"$LAB_PREFIX"*
}
