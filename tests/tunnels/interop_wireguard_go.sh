#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Interop test (labels netns;interop): our WireGuard core, driven by tun_wg_host over a real UDP
# socket and TUN device in namespace A, against wireguard-go (an independent implementation)
# in namespace B, joined by a veth pair.
#
#   phase 1  we initiate (wireguard-go has no endpoint for us): ping (IPv4 and IPv6 inside the
#            tunnel) both ways, iperf3 TCP both directions;
#   phase 2  wireguard-go is restarted with our endpoint and initiates: a new handshake with us
#            as responder, then ping and iperf3 both ways again;
#   phase 3  a transport datagram captured on the wire is replayed, and a copy with one flipped
#            byte is injected: both are dropped and counted (replayed / auth_failed); the
#            handshake initiation captured in phase 2 is replayed too (replayed_timestamp);
#   phase 4  both restart, our side in permanent cookie mode: wireguard-go's initiation gets a
#            cookie reply (XChaCha20-Poly1305), its retry carries mac2 and is accepted.
#
# Every namespace, link and process is created here, processes are stopped by PID, and the
# EXIT trap removes everything even on failure. States are polled with deadlines.
# Usage: interop_wireguard_go.sh TUN_WG_HOST TUN_UDP_INJECT
set -euo pipefail

host_bin=$1
inject_bin=$2

if [[ $(id -u) -ne 0 ]]; then
  echo "interop: needs root (network namespaces)" >&2
  exit 1
fi
for tool in wireguard-go wg ip iperf3 tcpdump ping ss; do
  command -v "$tool" >/dev/null || { echo "interop: missing $tool" >&2; exit 1; }
done

id=$$
ns_a=cwtunA$id
ns_b=cwtunB$id
veth_a=cwva$id
veth_b=cwvb$id
tun_a=cwtun$id
wg_b=cwwg$id
outer_a=172.30.77.1
outer_b=172.30.77.2
inner_a=10.77.0.1
inner_b=10.77.0.2
inner6_a=fd77::1
inner6_b=fd77::2
port_a=51821
port_b=51820
tmp=$(mktemp -d /tmp/cw-interop.XXXXXX)
declare -A pids=()

log() { echo "interop: $*"; }

stop_pid() {
  local name=$1 pid=${pids[$1]:-}
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 5))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  unset "pids[$name]"
}

cleanup() {
  local rc=$?
  set +e
  for name in "${!pids[@]}"; do stop_pid "$name"; done
  # Nothing of ours may outlive the test (checked by name, never killed by name).
  if pgrep -f -- "--ifname $tun_a( |$)" >/dev/null || pgrep -f -- "wireguard-go -f $wg_b( |$)" >/dev/null; then
    echo "interop: FAIL: a process started by this test is still running" >&2
    rc=1
  fi
  if ((rc != 0)); then
    for f in "$tmp"/*.log "$tmp/stats"; do
      [[ -f $f ]] && { echo "---- $f"; tail -n 40 "$f"; }
    done
  fi
  ip netns del "$ns_a" 2>/dev/null
  ip netns del "$ns_b" 2>/dev/null
  rm -f "/var/run/wireguard/$wg_b.sock"
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "interop: FAIL: $*" >&2
  exit 1
}

# wait_for SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds or the deadline.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

counter() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/stats" 2>/dev/null || true; }
counter_gt() { local v; v=$(counter "$1"); [[ -n $v ]] && ((v > $2)); }

# Foreground helpers only: a shell function started with & would run in a subshell whose PID
# is not the process's (background processes are started with ip netns exec directly, which
# execs the program, so $! is its PID).
in_a() { ip netns exec "$ns_a" "$@"; }
in_b() { ip netns exec "$ns_b" "$@"; }

# ---- topology ----
ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "$veth_a" type veth peer name "$veth_b"
ip link set "$veth_a" netns "$ns_a"
ip link set "$veth_b" netns "$ns_b"
ip -n "$ns_a" addr add "$outer_a/24" dev "$veth_a"
ip -n "$ns_b" addr add "$outer_b/24" dev "$veth_b"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set "$veth_a" up
ip -n "$ns_b" link set "$veth_b" up

umask 077
wg genkey >"$tmp/a.key"
wg pubkey <"$tmp/a.key" >"$tmp/a.pub"
wg genkey >"$tmp/b.key"
wg pubkey <"$tmp/b.key" >"$tmp/b.pub"

start_wireguard_go() {  # $1: endpoint for our side, or "" for none
  WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
    ip netns exec "$ns_b" wireguard-go -f "$wg_b" >>"$tmp/wireguard-go.log" 2>&1 &
  pids[wireguard-go]=$!
  wait_for 10 test -S "/var/run/wireguard/$wg_b.sock" || fail "wireguard-go UAPI socket"
  local endpoint=()
  [[ -n $1 ]] && endpoint=(endpoint "$1")
  in_b wg set "$wg_b" private-key "$tmp/b.key" listen-port "$port_b" \
    peer "$(cat "$tmp/a.pub")" allowed-ips "$inner_a/32,$inner6_a/128" "${endpoint[@]}"
  ip -n "$ns_b" addr add "$inner_b/24" dev "$wg_b"
  ip -n "$ns_b" addr add "$inner6_b/64" dev "$wg_b" nodad
  ip -n "$ns_b" link set "$wg_b" mtu 1420 up
}

ping_ok() {  # $1: namespace runner, $2: destination
  "$1" ping -c 3 -i 0.2 -W 2 -w 10 "$2" >>"$tmp/ping.log" 2>&1
}

iperf_ok() {  # $1: label, extra client args...
  local label=$1
  shift
  ip netns exec "$ns_b" iperf3 -s -1 -B "$inner_b" -p 5201 >"$tmp/iperf-server.log" 2>&1 &
  pids[iperf3-server]=$!
  wait_for 10 bash -c "ip netns exec $ns_b ss -Hltn 'sport = :5201' | grep -q ." ||
    fail "iperf3 server did not listen"
  if ! in_a timeout 60 iperf3 -c "$inner_b" -p 5201 -t 3 -f m "$@" >"$tmp/iperf-$label.log" 2>&1; then
    stop_pid iperf3-server
    return 1
  fi
  stop_pid iperf3-server
  local rate
  rate=$(awk '/receiver/ { print $(NF-2), $(NF-1) }' "$tmp/iperf-$label.log" | tail -n 1)
  log "iperf3 $label: $rate"
  [[ -n $rate ]]
}

start_host() {  # extra host arguments...
  rm -f "$tmp/stats"
  ip netns exec "$ns_a" "$host_bin" --ifname "$tun_a" --listen-port "$port_a" --private-key "$(cat "$tmp/a.key")" \
    --peer "$(cat "$tmp/b.pub")" --allowed-ip "$inner_b/32" --allowed-ip "$inner6_b/128" \
    --stats "$tmp/stats" "$@" >>"$tmp/host.log" 2>&1 &
  pids[host]=$!
  wait_for 10 ip -n "$ns_a" link show "$tun_a" >/dev/null 2>&1 || fail "test host TUN"
  ip -n "$ns_a" addr add "$inner_a/24" dev "$tun_a"
  ip -n "$ns_a" addr add "$inner6_a/64" dev "$tun_a" nodad
  ip -n "$ns_a" link set "$tun_a" mtu 1420 up
}

# ---- phase 1: we initiate ----
start_wireguard_go ""
start_host --endpoint "$outer_b:$port_b"

ping_ok in_a "$inner_b" || fail "phase 1: ping from our side"
wait_for 5 counter_gt rx_response 0 && counter_gt tx_initiation 0 || fail "phase 1: we did not initiate"
ping_ok in_b "$inner_a" || fail "phase 1: ping from wireguard-go"
ping_ok in_a "$inner6_b" || fail "phase 1: IPv6 ping from our side"
ping_ok in_b "$inner6_a" || fail "phase 1: IPv6 ping from wireguard-go"
iperf_ok "initiator-a-to-b" || fail "phase 1: iperf3 A->B"
iperf_ok "initiator-b-to-a" -R || fail "phase 1: iperf3 B->A"
log "phase 1 (our side initiator): ping and iperf3 both ways passed"

# ---- phase 2: wireguard-go restarts and initiates, we respond ----
before_init=$(counter rx_initiation)
before_sessions=$(counter sessions_derived)
stop_pid wireguard-go
wait_for 10 bash -c "! ip -n $ns_b link show $wg_b >/dev/null 2>&1" || fail "wireguard-go stop"
: >"$tmp/tcpdump-init.log"
ip netns exec "$ns_a" tcpdump -i "$veth_a" --immediate-mode -U -n -w "$tmp/initiation.pcap" \
  "udp and src host $outer_b and dst port $port_a and udp[8] = 1" >"$tmp/tcpdump-init.log" 2>&1 &
pids[tcpdump-init]=$!
wait_for 10 grep -q "listening on" "$tmp/tcpdump-init.log" || fail "tcpdump did not start"
start_wireguard_go "$outer_a:$port_a"
ping_ok in_b "$inner_a" || fail "phase 2: ping from wireguard-go"
wait_for 10 counter_gt rx_initiation "$before_init" || fail "phase 2: no new initiation received"
wait_for 5 counter_gt sessions_derived "$before_sessions" || fail "phase 2: no new session"
wait_for 10 bash -c "(( \$(stat -c %s $tmp/initiation.pcap) > 100 ))" || fail "initiation not captured"
stop_pid tcpdump-init
ping_ok in_a "$inner_b" || fail "phase 2: ping from our side"
iperf_ok "responder-a-to-b" || fail "phase 2: iperf3 A->B"
iperf_ok "responder-b-to-a" -R || fail "phase 2: iperf3 B->A"
log "phase 2 (restart -> new handshake, our side responder): ping and iperf3 both ways passed"

# ---- phase 3: replayed and forged datagrams on the wire ----
: >"$tmp/tcpdump.log"
ip netns exec "$ns_a" tcpdump -i "$veth_a" --immediate-mode -U -n -w "$tmp/capture.pcap" \
  "udp and src host $outer_b and dst port $port_a and udp[8] = 4 and greater 100" \
  >"$tmp/tcpdump.log" 2>&1 &
pids[tcpdump]=$!
wait_for 10 grep -q "listening on" "$tmp/tcpdump.log" || fail "tcpdump did not start"
ping_ok in_b "$inner_a" || fail "phase 3: ping"
wait_for 10 bash -c "(( \$(stat -c %s $tmp/capture.pcap) > 100 ))" || fail "nothing captured"
stop_pid tcpdump
before_replayed=$(counter drop_replayed)
before_forged=$(counter drop_auth_failed)
in_b "$inject_bin" "$tmp/capture.pcap" "$outer_a" "$port_a" 4 >>"$tmp/inject.log" 2>&1 ||
  fail "replay injection"
wait_for 10 counter_gt drop_replayed "$before_replayed" || fail "replayed datagram not counted"
in_b "$inject_bin" "$tmp/capture.pcap" "$outer_a" "$port_a" 4 40 >>"$tmp/inject.log" 2>&1 ||
  fail "forged injection"
wait_for 10 counter_gt drop_auth_failed "$before_forged" || fail "forged datagram not counted"
before_ts=$(counter drop_replayed_timestamp)
in_b "$inject_bin" "$tmp/initiation.pcap" "$outer_a" "$port_a" 1 >>"$tmp/inject.log" 2>&1 ||
  fail "initiation replay injection"
wait_for 10 counter_gt drop_replayed_timestamp "$before_ts" || fail "replayed initiation not counted"
log "phase 3: replayed datagram -> drop_replayed=$(counter drop_replayed)," \
  "forged datagram -> drop_auth_failed=$(counter drop_auth_failed)," \
  "replayed initiation -> drop_replayed_timestamp=$(counter drop_replayed_timestamp)"
ping_ok in_a "$inner_b" || fail "tunnel still works after the injections"

# ---- phase 4: cookie mode against wireguard-go ----
stop_pid host
stop_pid wireguard-go
wait_for 10 bash -c "! ip -n $ns_a link show $tun_a >/dev/null 2>&1" || fail "host TUN gone"
start_host --under-load-threshold 0
start_wireguard_go "$outer_a:$port_a"
# wireguard-go retries its initiation after REKEY_TIMEOUT (5 s) with mac2 from our cookie.
wait_for 30 ping_ok in_b "$inner_a" || fail "phase 4: no tunnel in cookie mode"
# (The host writes its counters at most every 20 ms: poll them too.)
wait_for 5 counter_gt tx_cookie 0 || fail "phase 4: no cookie reply sent"
wait_for 5 counter_gt drop_bad_mac2 0 || fail "phase 4: initiation without mac2 not refused"
wait_for 5 counter_gt rx_initiation 0 || fail "phase 4: initiation with mac2 not accepted"
log "phase 4: cookie mode: tx_cookie=$(counter tx_cookie) drop_bad_mac2=$(counter drop_bad_mac2)" \
  "rx_initiation=$(counter rx_initiation), ping through the tunnel passed"
ping_ok in_a "$inner_b" || fail "phase 4: ping from our side"
log "PASS"
