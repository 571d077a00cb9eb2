# SPDX-License-Identifier: Apache-2.0
# Helpers shared by the forwarder's netns tests (source after scripts/lib/netns.sh). They use
# the caller's $CTL (causewayctl), $FWD (causeway-fwd), $FW (the forwarder's namespace),
# $sock (control socket) and $tmp (holding fwd.yaml; fwd.log is written there).

ctl() { "$CTL" --socket "$sock" "$@"; }
fwd_up() { ctl hello; }

# start_fwd: causeway-fwd in $FW with $tmp/fwd.yaml, PID in $FWD_PID; waits for the socket.
start_fwd() {
  cw_spawn "$FW" "$tmp/fwd.log" "$FWD" -c "$tmp/fwd.yaml"
  FWD_PID=$CW_LAST_PID
  if ! cw_wait_until 30 fwd_up; then
    cw_log "causeway-fwd did not come up; log:"
    cat "$tmp/fwd.log" >&2
    return 1
  fi
}

# ping_ok NS ARGS...: three pings from NS, all answered, no duplicates.
ping_ok() {
  local ns=$1 out
  shift
  out=$(ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 "$@" 2>&1) || { echo "$out" >&2; return 1; }
  ! grep -q DUP <<<"$out" || { echo "$out" >&2; return 1; }
}

# two_site_hosts: namespaces $FW, $H1, $H2; h1 (10.1.0.2/24, fd00:1::2/64) on the forwarder's
# p0, h2 (10.2.0.2/24, fd00:2::2/64) on p1, each routed through the forwarder's .1 / ::1.
two_site_hosts() {
  cw_ns_add "$FW"
  cw_ns_add "$H1"
  cw_ns_add "$H2"
  cw_veth "$FW" p0 "$H1" eth0
  cw_veth "$FW" p1 "$H2" eth0
  cw_prepare_dpdk_if "$FW" p0
  cw_prepare_dpdk_if "$FW" p1
  for h in "$H1" "$H2"; do cw_prepare_host_if "$h" eth0; done
  ip -n "$H1" addr add 10.1.0.2/24 dev eth0
  ip -n "$H1" addr add fd00:1::2/64 dev eth0 nodad
  ip -n "$H1" route add default via 10.1.0.1
  ip -n "$H1" route add default via fd00:1::1
  ip -n "$H2" addr add 10.2.0.2/24 dev eth0
  ip -n "$H2" addr add fd00:2::2/64 dev eth0 nodad
  ip -n "$H2" route add default via 10.2.0.1
  ip -n "$H2" route add default via fd00:2::1
}
