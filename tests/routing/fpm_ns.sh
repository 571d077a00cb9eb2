# SPDX-License-Identifier: Apache-2.0
# Shared by tests/routing/fixtures/record_fpm.sh and tests/routing/fpm/netns_zebra_test.sh:
# a namespace with zebra (+ staticd) from Debian's frr feeding an FPM listener. Source it
# after scripts/lib/netns.sh. Daemons use their own -N pathspace (/etc/frr/NS,
# /var/run/frr/NS); fpm_frr_stop and fpm_frr_remove undo everything by PID and path.

# fpm_ns_create NS: two veth pairs inside NS, v1 = 10.0.1.1/24 + 2001:db8:1::1/64 and
# v2 = 10.0.2.1/24 + 2001:db8:2::1/64 (their peers v1p, v2p stay unaddressed).
fpm_ns_create() {
  local ns=$1 i
  cw_ns_add "$ns"
  ip -n "$ns" link add v1 type veth peer name v1p
  ip -n "$ns" link add v2 type veth peer name v2p
  for i in v1 v1p v2 v2p; do ip -n "$ns" link set "$i" up; done
  ip -n "$ns" addr add 10.0.1.1/24 dev v1
  ip -n "$ns" addr add 10.0.2.1/24 dev v2
  ip -n "$ns" addr add 2001:db8:1::1/64 dev v1 nodad
  ip -n "$ns" addr add 2001:db8:2::1/64 dev v2 nodad
}

# fpm_frr_dirs NS PORT [ZEBRA_LINE...]: config directories; zebra.conf points FPM at
# 127.0.0.1:PORT after the extra lines (e.g. "no fpm use-next-hop-groups").
fpm_frr_dirs() {
  local ns=$1 port=$2
  shift 2
  mkdir -p "/etc/frr/$ns" "/var/run/frr/$ns"
  touch "/etc/frr/$ns/vtysh.conf" "/etc/frr/$ns/staticd.conf"
  {
    echo "hostname $ns"
    printf '%s\n' "$@"
    echo "fpm address 127.0.0.1 port $port"
  } >"/etc/frr/$ns/zebra.conf"
  chown -R frr:frr "/etc/frr/$ns" "/var/run/frr/$ns"
}

# fpm_frr_start NS: zebra with dplane_fpm_nl, then staticd; PIDs in FPM_ZEBRA_PID and
# FPM_STATICD_PID.
fpm_frr_start() {
  local ns=$1
  ip netns exec "$ns" /usr/lib/frr/zebra -N "$ns" -d -M dplane_fpm_nl -P 0 \
    -f "/etc/frr/$ns/zebra.conf" -i "/var/run/frr/$ns/zebra.pid"
  FPM_ZEBRA_PID=$(cat "/var/run/frr/$ns/zebra.pid")
  ip netns exec "$ns" /usr/lib/frr/staticd -N "$ns" -d -P 0 \
    -f "/etc/frr/$ns/staticd.conf" -i "/var/run/frr/$ns/staticd.pid"
  FPM_STATICD_PID=$(cat "/var/run/frr/$ns/staticd.pid")
}

# fpm_frr_stop: staticd, then zebra, by PID (whichever is still set), and their crash-log
# directories. FRR names that directory /var/tmp/frr/<daemon>.<pid before daemonizing> and
# leaves it behind when killed; it holds logbuf.<tid> files, the main thread's tid being the
# daemon's PID, which is how ours is told apart from other instances'.
fpm_frr_stop() {
  local var pid d
  for var in FPM_STATICD_PID FPM_ZEBRA_PID; do
    pid=${!var:-}
    [[ -n $pid ]] || continue
    cw_stop "$pid" 10 || true
    for d in /var/tmp/frr/*.*; do
      [[ -e $d/logbuf.$pid ]] && rm -rf "$d"
    done
    printf -v "$var" '%s' ""
  done
}

fpm_frr_remove() { rm -rf "/etc/frr/$1" "/var/run/frr/$1"; }

# fpm_conf NS LINE...: one vtysh call in configure mode (exits non-zero on a bad line).
fpm_conf() {
  local ns=$1 args=(-c 'conf t') l
  shift
  for l in "$@"; do args+=(-c "$l"); done
  ip netns exec "$ns" vtysh -N "$ns" "${args[@]}" >/dev/null
}
