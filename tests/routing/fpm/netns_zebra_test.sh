#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The FPM listener against a live zebra (Debian FRR, -M dplane_fpm_nl, next-hop-group mode)
# in a private network namespace: static routes (IPv4, IPv6) added in zebra appear in the
# listener's table with the right next hop, ECMP appears with both, a removed route
# disappears; zebra killed (a crash: it sends nothing more) and started with a different
# configuration replays its table, and after the quiet period the sweep leaves exactly
# zebra's new table.
# Every daemon is started here and stopped by PID; the namespace and FRR directories go.
# Usage: netns_zebra_test.sh RT_FPM_PROBE   (root)
set -euo pipefail
probe=${1:?usage: netns_zebra_test.sh RT_FPM_PROBE}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../../scripts/lib/netns.sh"
. "$here/../fpm_ns.sh"

NS=cwfpm$$
port=2698
work=$(mktemp -d)
table=$work/table.txt

cleanup() {
  fpm_frr_stop
  cw_cleanup
  fpm_frr_remove "$NS"
  rm -rf "$work"
}
trap cleanup EXIT

fpm_ns_create "$NS"
ifindex() { ip -n "$NS" -o link show "$1" | cut -d: -f1; }
v1=$(ifindex v1)
v2=$(ifindex v2)

fpm_frr_dirs "$NS" "$port"
conf() { fpm_conf "$NS" "$@"; }
has() { grep -qxF "$1" "$table"; }
lacks() { [[ -f $table ]] && ! grep -qF " $1 " "$table"; }
counter() { awk -v n="$1" '$1 == "#" && $2 == n { print $3 }' "$table"; }
counter_is() { [[ $(counter "$1") == "$2" ]]; }
# The routes of the table (no counters), compared with the expected lines. fe80::/64 is left
# out: zebra picks any of the link-local interfaces for it.
table_is() { diff <(grep -v -e '^#' -e ' fe80::/64 ' "$table") <(printf '%s\n' "$@") >/dev/null; }

# From here on a failed check is recorded and the test goes on (cw_summary decides).
set +e
cw_spawn "$NS" "$work/probe.log" "$probe" 127.0.0.1 "$port" 2000 "$table"
fpm_frr_start "$NS"

cw_check "zebra connects and sends its connected routes" \
  cw_wait_until 30 has "t254 10.0.1.0/24 unicast p2 m20 [@$v1]"

conf 'ip route 192.0.2.0/24 10.0.1.2'
cw_check "a static route added in zebra appears" \
  cw_wait_until 15 has "t254 192.0.2.0/24 unicast p196 m20 [10.0.1.2@$v1]"

conf 'ip route 198.51.100.0/24 10.0.1.2' 'ip route 198.51.100.0/24 10.0.2.2' \
  'ip route 192.0.2.128/25 10.0.2.2'
cw_check "an ECMP route appears with both next hops" \
  cw_wait_until 15 has "t254 198.51.100.0/24 unicast p196 m20 [10.0.1.2@$v1 10.0.2.2@$v2]"
cw_check "a second static route appears" \
  cw_wait_until 15 has "t254 192.0.2.128/25 unicast p196 m20 [10.0.2.2@$v2]"

conf 'ipv6 route 2001:db8:100::/48 2001:db8:1::2'
cw_check "an IPv6 static route appears" \
  cw_wait_until 15 has "t254 2001:db8:100::/48 unicast p196 m20 [2001:db8:1::2@$v1]"

conf 'no ip route 192.0.2.0/24 10.0.1.2'
cw_check "a route removed in zebra disappears" cw_wait_until 15 lacks 192.0.2.0/24
cw_check "nothing was dropped as malformed" counter_is drop_nlmsg_bad_length 0

cw_check "the first connection's snapshot settles (nothing stale)" \
  cw_wait_until 15 counter_is sweeps 1
cw_check "nothing swept from the first snapshot" counter_is routes_swept 0

# zebra crashes (SIGKILL: no withdrawals are sent). The listener keeps its table.
kill -KILL "$FPM_ZEBRA_PID"
cw_check "the listener sees the connection go" cw_wait_until 15 counter_is connected 0
cw_wait_until 10 bash -c "! kill -0 $FPM_ZEBRA_PID"
fpm_frr_stop
cw_check "the table is kept while zebra is away" \
  has "t254 192.0.2.128/25 unicast p196 m20 [10.0.2.2@$v2]"

# zebra comes back with another configuration: 198.51.100.0/24 has one path, 192.0.2.128/25
# and 2001:db8:100::/48 are gone, 203.0.113.0/24 is new.
printf 'ip route 198.51.100.0/24 10.0.1.2\nip route 203.0.113.0/24 10.0.2.2\n' \
  >"/etc/frr/$NS/staticd.conf"
chown frr:frr "/etc/frr/$NS/staticd.conf"
fpm_frr_start "$NS"
cw_check "zebra reconnects: a new snapshot" cw_wait_until 30 counter_is snapshots 2
cw_check "the replay has been swept after the quiet period" cw_wait_until 30 counter_is sweeps 2
expected=(
  "t254 10.0.1.0/24 unicast p2 m20 [@$v1]"
  "t254 10.0.2.0/24 unicast p2 m20 [@$v2]"
  "t254 198.51.100.0/24 unicast p196 m20 [10.0.1.2@$v1]"
  "t254 203.0.113.0/24 unicast p196 m20 [10.0.2.2@$v2]"
  "t254 2001:db8:1::/64 unicast p2 m20 [@$v1]"
  "t254 2001:db8:2::/64 unicast p2 m20 [@$v2]"
)
# staticd may install its routes just after the first replay: wait for the full table.
if ! cw_check "replay + sweep leave exactly zebra's new table" cw_wait_until 30 table_is "${expected[@]}"; then
  cat "$table" >&2
fi
cw_check "the two routes zebra no longer has were swept (it never sent deletes)" \
  counter_is routes_swept 2
cw_check "no drops" bash -c "[[ \$(grep -E '^# drop_' '$table' | awk '{s += \$3} END {print s}') == 0 ]]"

cw_summary || { cat "$table" >&2; exit 1; }
