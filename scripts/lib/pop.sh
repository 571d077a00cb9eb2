# SPDX-License-Identifier: Apache-2.0
# Start-up of one PoP in a network namespace, shared by the netns tests and the benchmarks:
# causeway-fwd, FRR (zebra with the FPM module, staticd, bgpd) as an FRR instance (-N) named
# like the namespace, and causeway-routed from an intent file. Source after scripts/lib/netns.sh;
# every process is started with cw_spawn (tracked by PID, stopped by cw_cleanup). Call
# cw_pop_cleanup_frr NS from the caller's cleanup to remove the instance's directories.

# cw_pop_start_fwd NS FWD CONFIG SOCKET LOG [TIMEOUT_S]: start the forwarder and wait until its
# control socket answers. Sets CW_POP_FWD_PID. Needs $CTL (causewayctl).
cw_pop_start_fwd() {
  local ns=$1 fwd=$2 config=$3 sock=$4 log=$5 timeout=${6:-30}
  cw_spawn "$ns" "$log" "$fwd" -c "$config"
  CW_POP_FWD_PID=$CW_LAST_PID
  cw_wait_until "$timeout" "$CTL" --socket "$sock" hello && return 0
  cw_log "forwarder in $ns does not answer on $sock"
  tail -20 "$log" >&2
  return 1
}

# cw_pop_vtysh NS ARGS...: vtysh of the PoP's FRR instance.
cw_pop_vtysh() {
  local ns=$1
  shift
  ip netns exec "$ns" vtysh -N "$ns" "$@"
}

cw_pop_frr_up() {
  local ns=$1 d
  shift
  for d in "$@"; do [[ -S /var/run/frr/$ns/$d.vty ]] || return 1; done
  cw_pop_vtysh "$ns" -c 'show version' >/dev/null 2>&1
}

# cw_pop_start_frr NS LOGDIR [TIMEOUT_S] [DAEMONS...]: an FRR instance named NS in namespace NS
# (zebra with -M dplane_fpm_nl, then staticd and bgpd unless DAEMONS says otherwise), each
# logging to LOGDIR/<daemon>.log; waits until every daemon's vty answers. The configuration
# is left to causeway-routed (frr-reload.py into /etc/frr/NS/frr.conf). Sets CW_POP_FRR_PIDS
# (associative: daemon -> PID). CW_POP_FRR_LOG (default "--log stdout") is passed to every
# daemon; set it empty for FRR's default logging (quieter under a full table).
declare -gA CW_POP_FRR_PIDS=()
cw_pop_start_frr() {
  local ns=$1 logdir=$2 timeout=${3:-30} d extra
  shift 3 2>/dev/null || shift $#
  local daemons=("$@")
  ((${#daemons[@]})) || daemons=(zebra staticd bgpd)
  mkdir -p "/etc/frr/$ns" "/var/run/frr/$ns"
  echo 'service integrated-vtysh-config' >"/etc/frr/$ns/vtysh.conf"
  chown -R frr:frr "/etc/frr/$ns" "/var/run/frr/$ns"
  for d in "${daemons[@]}"; do
    extra=()
    [[ $d == zebra ]] && extra=(-M dplane_fpm_nl)
    # shellcheck disable=SC2086 # CW_POP_FRR_LOG is a list of words
    cw_spawn "$ns" "$logdir/$d.log" "/usr/lib/frr/$d" -N "$ns" "${extra[@]}" -P 0 -f /dev/null \
      ${CW_POP_FRR_LOG---log stdout}
    CW_POP_FRR_PIDS[$d]=$CW_LAST_PID
  done
  cw_wait_until "$timeout" cw_pop_frr_up "$ns" "${daemons[@]}" && return 0
  cw_log "FRR daemons in $ns do not answer"
  return 1
}

# cw_pop_start_routed NS ROUTED INTENT CONTROL_SOCKET LOG [ARGS...]: causeway-routed for the FRR
# instance NS with its control socket; ARGS are passed on (--metrics, --fpm-quiet-ms, ...).
# Sets CW_POP_ROUTED_PID. Does not wait: use cw_pop_routed_status_is.
cw_pop_start_routed() {
  local ns=$1 routed=$2 intent=$3 rsock=$4 log=$5
  shift 5
  cw_spawn "$ns" "$log" "$routed" -c "$intent" --frr-pathspace "$ns" --control-socket "$rsock" "$@"
  CW_POP_ROUTED_PID=$CW_LAST_PID
}

# cw_pop_routed_status_is RSOCK JQ-EXPRESSION: true when routed's status satisfies it.
cw_pop_routed_status_is() {
  local s
  s=$("$CTL" --routed-socket "$1" routed status --json 2>/dev/null) || return 1
  jq -e "$2" <<<"$s" >/dev/null
}

# cw_pop_cleanup_frr NS...: remove the FRR instances' directories (after cw_cleanup).
cw_pop_cleanup_frr() {
  local ns
  for ns in "$@"; do rm -rf "/etc/frr/$ns" "/var/run/frr/$ns"; done
}
