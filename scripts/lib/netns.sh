# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the lab and the netns tests: namespaces, veths prepared for DPDK,
# processes tracked by PID, polling with deadlines, and a cleanup that leaves nothing behind.
# Source it; call cw_cleanup from an EXIT trap.

CW_NAMESPACES=()
CW_PIDS=()

cw_log() { printf '%s %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }

cw_ns_add() {
  ip netns add "$1"
  CW_NAMESPACES+=("$1")
  ip -n "$1" link set lo up
}

# cw_veth NS_A IF_A NS_B IF_B: a veth pair with one end in each namespace, both up.
cw_veth() {
  ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

# A kernel interface whose frames a DPDK af_packet/af_xdp port reads (DESIGN.md section 6):
# offloads off so no frame is larger than an mbuf, and the namespace's own IP stack kept off
# it (no ARP, no IPv6, strict reverse-path filter), so only the forwarder answers on it.
cw_prepare_dpdk_if() {
  local ns=$1 ifname=$2
  ip netns exec "$ns" ethtool -K "$ifname" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  ip -n "$ns" link set "$ifname" arp off
  ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifname.disable_ipv6=1"
  ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$ifname.rp_filter=1"
}

# A site host's interface: offloads off too, so TCP segments stay within an mbuf.
cw_prepare_host_if() {
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off >/dev/null 2>&1 || true
}

# cw_spawn NS LOG CMD...: start CMD in NS in the background, remember its PID (in $CW_LAST_PID).
cw_spawn() {
  local ns=$1 log=$2
  shift 2
  if [[ -n $ns ]]; then
    ip netns exec "$ns" "$@" >"$log" 2>&1 &
  else
    "$@" >"$log" 2>&1 &
  fi
  CW_LAST_PID=$!
  CW_PIDS+=("$CW_LAST_PID")
}

# cw_stop PID [TIMEOUT_S]: SIGTERM, wait up to TIMEOUT_S, then SIGKILL. Returns the exit status.
cw_stop() {
  local pid=$1 timeout=${2:-10} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null
}

# cw_wait_until TIMEOUT_S CMD...: poll CMD every 100 ms until it succeeds or time runs out.
cw_wait_until() {
  local timeout=$1 deadline
  shift
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

cw_cleanup() {
  local pid ns
  for pid in "${CW_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && cw_stop "$pid" 5
  done
  for ns in "${CW_NAMESPACES[@]}"; do
    # Processes a test started inside the namespace without tracking (none should exist).
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  CW_PIDS=()
  CW_NAMESPACES=()
}

# Test bookkeeping: cw_check "description" CMD... records a pass or a failure.
CW_PASSED=0
CW_FAILED=0
cw_check() {
  local what=$1
  shift
  if "$@"; then
    CW_PASSED=$((CW_PASSED + 1))
    cw_log "PASS $what"
    return 0
  fi
  CW_FAILED=$((CW_FAILED + 1))
  cw_log "FAIL $what"
  return 1
}
cw_summary() {
  echo "$CW_PASSED passed, $CW_FAILED failed"
  ((CW_FAILED == 0))
}
