#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# FRR configured from the intent, peering with BIRD (an independent BGP implementation).
#
#   ns F (PoP t1): zebra (-M dplane_fpm_nl), bgpd, bfdd --veth 192.0.2.1/30 -- .2/30-- ns B: BIRD
#        | lo 10.255.0.1 (overlay address), veth 100.64.0.1/30 standing in for the overlay
#   ns P (PoP t2): zebra, bgpd; lo 10.255.0.2; iBGP with t1 between the overlay addresses
#
# 1. apply the rendered intent: eBGP with BIRD Established, BFD up, BIRD has 10.1.0.0/16 with
#    the compliant SLA communities (65001:100, 65001:2:0); iBGP t1-t2 Established between the
#    overlay addresses (update-source), t2 learns BIRD's route with t1's overlay address as
#    next hop (next-hop-self), t1 learns t2's prefix, which BIRD does not get (only announced
#    prefixes go to carriers);
# 2. apply an intent that only changes a community value and adds a prefix: the session is
#    not reset (FRR's established counter and uptime epoch unchanged, BIRD's session start
#    unchanged) and BIRD sees 65001:200 on both prefixes;
# 3. SLA state "degraded" re-renders only the route-map: BIRD sees the degraded communities;
#    the same change as a vtysh fragment (render_sla_update) works too and leaves nothing for
#    the full rendering to change;
# 4. an invalid intent changes nothing (file, running configuration, session);
# 5. a frr.conf that FRR itself rejects half-way (bgpd refuses one line) is rolled back: file
#    and running configuration as before, session untouched;
# 6. control: `clear bgp` resets the session, and the same check sees the reset.
# Every daemon runs in the foreground under a PID we hold; the EXIT trap stops them and
# removes the namespaces and FRR's per-namespace directories.
set -uo pipefail
TOOL=$1
INTENT=$2
INTENT_T2=$3
source "$(dirname "$0")/../../../scripts/lib/netns.sh"

NSF=cwrtf$$
NSB=cwrtb$$
NSP=cwrtp$$
WORK=$(mktemp -d /tmp/cw-rt-frr.XXXXXX)
CONF=/etc/frr/$NSF/frr.conf
VTY() { vtysh -N "$NSF" "$@"; }
BIRDC() { birdc -s "$WORK/bird.ctl" "$@"; }

cleanup() {
  cw_cleanup
  rm -rf "/etc/frr/$NSF" "/var/run/frr/$NSF" "/etc/frr/$NSP" "/var/run/frr/$NSP" "$WORK"
}
trap cleanup EXIT

for tool in vtysh bird birdc jq /usr/lib/frr/frr-reload.py; do
  command -v "$tool" >/dev/null || { echo "missing $tool (scripts/install-deps.sh)"; exit 1; }
done

cw_ns_add "$NSF"
cw_ns_add "$NSB"
cw_veth "$NSF" wan0 "$NSB" noc0
ip -n "$NSF" addr add 192.0.2.1/30 dev wan0
ip -n "$NSB" addr add 192.0.2.2/30 dev noc0
cw_ns_add "$NSP"
cw_veth "$NSF" ovl0 "$NSP" ovl0
ip -n "$NSF" addr add 100.64.0.1/30 dev ovl0
ip -n "$NSP" addr add 100.64.0.2/30 dev ovl0
ip -n "$NSF" addr add 10.255.0.1/32 dev lo
ip -n "$NSP" addr add 10.255.0.2/32 dev lo
ip -n "$NSF" route add 10.255.0.2/32 via 100.64.0.2
ip -n "$NSP" route add 10.255.0.1/32 via 100.64.0.1

start_frr() {  # NS DAEMON...: FRR daemons in the foreground, own pathspace, no config yet
  local ns=$1 d
  shift
  mkdir -p "/etc/frr/$ns" "/var/run/frr/$ns"
  echo 'service integrated-vtysh-config' >"/etc/frr/$ns/vtysh.conf"
  chown -R frr:frr "/etc/frr/$ns" "/var/run/frr/$ns"
  cw_spawn "$ns" "$WORK/zebra-$ns.log" /usr/lib/frr/zebra -N "$ns" -M dplane_fpm_nl -P 0 -f /dev/null
  for d in "$@"; do cw_spawn "$ns" "$WORK/$d-$ns.log" "/usr/lib/frr/$d" -N "$ns" -P 0 -f /dev/null; done
}
daemons_up() {  # NS DAEMON...
  local ns=$1 d
  shift
  for d in zebra "$@"; do [[ -S /var/run/frr/$ns/$d.vty ]] || return 1; done
  vtysh -N "$ns" -c 'show version' >/dev/null
}
start_frr "$NSF" bfdd bgpd
start_frr "$NSP" bgpd
cw_check "FRR daemons of t1 answer on their vty sockets" cw_wait_until 20 daemons_up "$NSF" bfdd bgpd || exit 1
cw_check "FRR daemons of t2 answer on their vty sockets" cw_wait_until 20 daemons_up "$NSP" bgpd || exit 1

cat >"$WORK/bird.conf" <<BIRD
log stderr all;
router id 192.0.2.2;
protocol device {}
protocol static { ipv4; route 198.18.0.0/15 blackhole; }
protocol bfd { interface "noc0" { min rx interval 300 ms; min tx interval 300 ms; }; }
protocol bgp carrier {
  local 192.0.2.2 as 64500;
  neighbor 192.0.2.1 as 65001;
  hold time 9;
  keepalive time 3;
  connect retry time 2;
  error wait time 1, 5;
  bfd on;
  ipv4 { import all; export where source = RTS_STATIC; };
}
BIRD
cw_spawn "$NSB" "$WORK/bird.log" bird -f -c "$WORK/bird.conf" -s "$WORK/bird.ctl"
cw_check "BIRD answers on its control socket" cw_wait_until 20 BIRDC show status || exit 1

neighbor_json() { VTY -c 'show bgp neighbors 192.0.2.2 json' | jq -c '.["192.0.2.2"]'; }
established() { [[ $(neighbor_json | jq -r .bgpState) == Established ]]; }
session_counters() {  # FRR counts every session establishment and drop
  neighbor_json | jq -r '"\(.connectionsEstablished)/\(.connectionsDropped)"'
}
up_epoch() { neighbor_json | jq -r .bgpTimerUpEstablishedEpoch; }
# A reset changes the counters; the "up since" epoch FRR derives from the uptime may move by
# one second between two reads of the same session, never more.
same_session() {
  local epoch
  epoch=$(up_epoch)
  [[ $(session_counters) == "$counters_before" ]] && ((epoch - epoch_before <= 1 && epoch_before - epoch <= 1))
}
bird_since() { BIRDC show protocols carrier | awk '$1 == "carrier" {print $4, $5}'; }
bird_route_has() {  # PREFIX PATTERN...: BIRD's route for PREFIX carries every pattern
  local prefix=$1 out p
  shift
  out=$(BIRDC show route for "$prefix" all) || return 1
  grep -q "^$prefix" <<<"$out" || return 1
  for p in "$@"; do grep -qF -- "$p" <<<"$out" || return 1; done
}
bird_route_lacks() { ! BIRDC show route for "$1" all | grep -qF -- "$2"; }
bfd_up() {
  [[ $(VTY -c 'show bfd peers json' | jq -r '.[] | select(.peer == "192.0.2.2") | .status') == up ]]
}
running() { VTY -c 'show running-config' | grep -v -e '^Building' -e '^Current' -e '^!$'; }

# ---- 1. first apply -------------------------------------------------------------------------
cp "$INTENT" "$WORK/intent.yaml"
cw_check "the rendered intent applies" "$TOOL" "$WORK/intent.yaml" "$CONF" "$NSF"
cw_check "frr.conf is in place" test -s "$CONF"
cw_check "eBGP session with BIRD Established" cw_wait_until 60 established
# FRR 8.4's bgpd sometimes never registers the neighbour's BFD session with bfdd (about one
# start in five here; routing/frr/frr_config.h). causeway-routed runs a watchdog that configures
# the neighbour's BFD again; the tool runs one pass of it at each poll, as routed does every
# 10 s. A repair is logged, so the log tells whether BFD came up by itself.
bfd_up_watched() {
  local out
  out=$("$TOOL" --repair-bfd "$WORK/intent.yaml" "$CONF" "$NSF") || return 1
  [[ -z $out ]] || cw_log "BFD watchdog: $out"
  bfd_up
}
cw_check "BFD session with BIRD up (with routed's BFD watchdog)" cw_wait_until 45 bfd_up_watched ||
  { VTY -c 'show bfd peers' >&2; VTY -c 'show bgp neighbors 192.0.2.2' | grep -i -A6 bfd >&2
    BIRDC show bfd sessions >&2; }
cw_check "BIRD receives 10.1.0.0/16 with the compliant SLA communities" \
  cw_wait_until 30 bird_route_has 10.1.0.0/16 "(65001,100)" "(65001, 2, 0)"
cw_check "zebra was started with the FPM module and has the address" \
  bash -c "vtysh -N $NSF -c 'show running-config' | grep -qx 'fpm address 127.0.0.1'"
cw_check "t2's rendered intent applies" "$TOOL" "$INTENT_T2" "/etc/frr/$NSP/frr.conf" "$NSP"
ibgp_established() {
  [[ $(VTY -c 'show bgp neighbors 10.255.0.2 json' | jq -r '.["10.255.0.2"].bgpState') == Established ]]
}
# NS PREFIX NEXTHOP: the best path for PREFIX in NS has NEXTHOP
bgp_best_via() {
  vtysh -N "$1" -c "show bgp ipv4 unicast $2 json" |
    jq -e --arg nh "$3" '[.paths[] | select(.bestpath.overall) | .nexthops[].ip] | index($nh) != null' >/dev/null
}
cw_check "iBGP t1-t2 Established between the overlay addresses" cw_wait_until 60 ibgp_established
cw_check "t1 sources the iBGP session from its overlay address" \
  bash -c "vtysh -N $NSF -c 'show bgp neighbors 10.255.0.2 json' | jq -e '.[\"10.255.0.2\"].hostLocal == \"10.255.0.1\"'"
cw_check "t2 learns BIRD's 198.18.0.0/15 via t1's overlay address (next-hop-self)" \
  cw_wait_until 30 bgp_best_via "$NSP" 198.18.0.0/15 10.255.0.1
cw_check "t2 learns t1's 10.1.0.0/16 over iBGP" cw_wait_until 30 bgp_best_via "$NSP" 10.1.0.0/16 10.255.0.1
cw_check "t1 learns t2's 10.2.0.0/16 over iBGP" cw_wait_until 30 bgp_best_via "$NSF" 10.2.0.0/16 10.255.0.2
cw_check "BIRD does not get t2's prefix (carriers get only announced prefixes)" \
  bird_route_lacks 10.2.0.0/16 10.2.0.0
cw_check "a second apply of the same intent changes nothing" \
  bash -c "'$TOOL' '$WORK/intent.yaml' '$CONF' '$NSF' | grep -qx unchanged"
counters_before=$(session_counters)
epoch_before=$(up_epoch)
since_before=$(bird_since)
cw_log "session established/dropped $counters_before, up since $epoch_before, BIRD since $since_before"

# ---- 2. community value changed, prefix added ---------------------------------------------------
sed -e 's/compliant: "65001:100"/compliant: "65001:200"/' \
  -e 's|announce: \[10.1.0.0/16\]|announce: [10.1.0.0/16, 10.9.0.0/16]|' "$INTENT" >"$WORK/intent2.yaml"
cw_check "the changed intent applies" "$TOOL" "$WORK/intent2.yaml" "$CONF" "$NSF"
cw_check "BIRD receives the added prefix 10.9.0.0/16 with the new community" \
  cw_wait_until 30 bird_route_has 10.9.0.0/16 "(65001,200)" "(65001, 2, 0)"
cw_check "BIRD sees the new community on 10.1.0.0/16 (route-map delay timer)" \
  cw_wait_until 30 bird_route_has 10.1.0.0/16 "(65001,200)"
cw_check "the old community is gone" bird_route_lacks 10.1.0.0/16 "(65001,100)"
cw_check "the session was not reset (FRR counters and uptime)" same_session
cw_check "the session was not reset (BIRD)" test "$(bird_since)" = "$since_before" ||
  { BIRDC show protocols all carrier >&2; cat "$WORK/bird.log" >&2; }
cw_check "still Established" established

# ---- 3. SLA state change re-renders the route-map only ------------------------------------------
cw_check "SLA states voice=degraded erp=down apply" \
  "$TOOL" "$WORK/intent2.yaml" "$CONF" "$NSF" voice=degraded erp=down
cw_check "BIRD sees the degraded/down communities" \
  cw_wait_until 30 bird_route_has 10.1.0.0/16 "(65001,101)" "(65001, 2, 2)"
cw_check "the session was not reset by the SLA change" same_session
cw_check "the SLA fragment alone (vtysh -f) applies voice=down erp=compliant" \
  "$TOOL" --sla "$WORK/intent2.yaml" "$CONF" "$NSF" voice=down erp=compliant
cw_check "BIRD sees the communities set by the fragment" \
  cw_wait_until 30 bird_route_has 10.1.0.0/16 "(65001,102)" "(65001, 2, 0)"
cw_check "the full rendering for the same states finds nothing left to change" \
  bash -c "'$TOOL' '$WORK/intent2.yaml' '$CONF' '$NSF' voice=down erp=compliant | grep -qx unchanged"
cw_check "the session was not reset by the fragment" same_session

# ---- 4. an invalid intent changes nothing -----------------------------------------------------
conf_sum=$(sha256sum <"$CONF")
running_before=$(running)
sed -e 's/compliant: "65001:200"/compliant: "65001:99999"/' -e 's|10.9.0.0/16\]|10.8.0.0/16]|' \
  "$WORK/intent2.yaml" >"$WORK/bad.yaml"
out=$("$TOOL" "$WORK/bad.yaml" "$CONF" "$NSF" 2>&1)
rc=$?
cw_log "invalid intent: $out"
cw_check "an invalid intent is refused" test "$rc" -ne 0
cw_check "the error names the field" grep -qF 'bgp.sla_communities[0].compliant:' <<<"$out"
cw_check "frr.conf unchanged after the invalid intent" test "$(sha256sum <"$CONF")" = "$conf_sum"
cw_check "running configuration unchanged after the invalid intent" test "$(running)" = "$running_before"
cw_check "BIRD still without 10.8.0.0/16" bird_route_lacks 10.8.0.0/16 10.8.0.0

# ---- 5. a configuration bgpd rejects is rolled back ------------------------------------------------
# Passes vtysh -C (syntax) but bgpd refuses local-as on an iBGP neighbour, after frr-reload
# has sent the lines before it (the added network).
sed -e 's|^ neighbor 10.255.0.2 update-source 10.255.0.1$|&\n neighbor 10.255.0.2 local-as 65009|' \
  -e 's|^  network 10.9.0.0/16$|&\n  network 10.7.0.0/16|' "$CONF" >"$WORK/rejected.conf"
differs() { ! cmp -s "$1" "$2"; }
cw_check "the rejected configuration differs from the current one" differs "$CONF" "$WORK/rejected.conf"
out=$("$TOOL" --raw "$WORK/rejected.conf" "$CONF" "$NSF" 2>&1)
rc=$?
cw_log "rejected configuration: $out"
cw_check "FRR's refusal is reported" test "$rc" -ne 0
cw_check "the report carries bgpd's message" grep -qF 'Local-AS allowed only for EBGP peers' <<<"$out"
cw_check "the report says the previous configuration was restored" grep -qF 'restored from' <<<"$out"
diff <(echo "$running_before") <(running) >&2
cw_check "frr.conf unchanged after the rejection" test "$(sha256sum <"$CONF")" = "$conf_sum"
cw_check "running configuration restored after the rejection" test "$(running)" = "$running_before"
cw_check "no leftover candidate file" test ! -e "$CONF.new"
cw_check "the session survived everything" same_session
cw_check "BIRD never got 10.7.0.0/16 for good" cw_wait_until 30 bird_route_lacks 10.7.0.0/16 10.7.0.0

# ---- 6. control: a real reset is seen by the same checks -------------------------------------
VTY -c 'clear bgp 192.0.2.2' >/dev/null
reset_seen() { ! same_session; }
cw_check "a hard reset of the session is detected as one" cw_wait_until 30 reset_seen
cw_check "and the session comes back" cw_wait_until 60 established

cw_summary
