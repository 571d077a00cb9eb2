#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# causeway-provision (images/libexec) on good and bad user-data, in a temporary directory that
# stands for /etc/causeway and /var/lib/causeway: good input is applied whole; every kind of bad
# input (invalid YAML, missing keys, a forwarder config that `causeway-fwd --check` rejects,
# bad host settings or keys, an intent that `causeway-routed --check` rejects, an intent while
# routed is not installed, MIME) changes no file, writes a failed record with a message that
# names the problem, and `causewayctl status` reports that record with exit status 1.
#   provision_test.sh HOOK CAUSEWAY_FWD CAUSEWAYCTL CAUSEWAY_ROUTED
set -euo pipefail
hook=$1 fwd=$2 ctl=$3 routed=$4
tmp=$(mktemp -d /tmp/cw-provision-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
etc=$tmp/etc state=$tmp/state
mkdir -p "$etc" "$state"
echo iid-test-1 >"$tmp/instance-id"
printf 'ports:\n  - {name: lab0, device: net_null0}\n' >"$etc/fwd.yaml"
printf 'CAUSEWAY_HUGEPAGES_2M=0\n' >"$etc/host.conf"

failures=0
pass() { echo "ok: $*"; }
bad() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
run_hook() {  # run_hook USER_DATA_TEXT [extra args]: sets rc, out
  printf '%s' "$1" >"$tmp/user-data"
  out=$(/usr/bin/python3 "$hook" --user-data "$tmp/user-data" --etc "$etc" --state "$state" \
    --instance-id-file "$tmp/instance-id" --fwd "$fwd" --routed "$routed" "${@:2}" 2>&1) &&
    rc=0 || rc=$?
}
snapshot() { (cd "$etc" && find . -type f -printf '%p %m\n' | sort && find . -type f -exec sha256sum {} + | sort); }
record() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$state/provision.json" "$1"; }

# expect_rejected NAME USER_DATA MESSAGE_REGEX [extra hook args]
expect_rejected() {
  local before after
  before=$(snapshot)
  run_hook "$2" --force "${@:4}"
  after=$(snapshot)
  [[ $rc == 1 ]] && pass "$1: exit 1" || bad "$1: exit $rc ($out)"
  [[ $before == "$after" ]] && pass "$1: nothing changed" || bad "$1: files changed"
  [[ -z $(find "$etc" -name '.staging.*' -o -name '.backup.*') ]] && pass "$1: no leftovers" ||
    bad "$1: staging or backup left behind"
  [[ $(record state) == failed ]] && pass "$1: record says failed" || bad "$1: record $(record state)"
  if grep -qE -- "$3" <<<"$(record message)"; then pass "$1: message: $(record message)"; else
    bad "$1: message '$(record message)' does not match '$3'"
  fi
  grep -q "nothing was applied" <<<"$out" && pass "$1: says nothing was applied" ||
    bad "$1: output lacks 'nothing was applied': $out"
  local st
  st=$("$ctl" --socket "$tmp/none.sock" status --provision-file "$state/provision.json") && src=0 || src=$?
  [[ $src == 1 ]] && grep -qE -- "$3" <<<"$st" && pass "$1: causewayctl status exit 1 with the message" ||
    bad "$1: causewayctl status exit $src: $st"
}

# --- no user-data: the shipped configuration stays ------------------------------------------
run_hook ""
[[ $rc == 0 && $(record state) == default ]] && pass "no user-data: state default" ||
  bad "no user-data: rc $rc state $(record state)"

# --- bad input ------------------------------------------------------------------------------
expect_rejected "invalid YAML" $'#cloud-config\ncauseway:\n  fwd: {name: x\n  ports: [\n' \
  'user-data: invalid YAML at line [0-9]+ column [0-9]+'
expect_rejected "missing causeway" $'#cloud-config\nhostname: pop\n' "missing key 'causeway'"
expect_rejected "causeway not a map" $'#cloud-config\ncauseway: [1]\n' 'causeway: expected a map'
expect_rejected "missing fwd" $'#cloud-config\ncauseway:\n  host: {hugepages_2m: 4}\n' \
  "causeway: missing key 'fwd'"
expect_rejected "unknown key" $'#cloud-config\ncauseway:\n  fwd: {ports: []}\n  fdw: 1\n' \
  "unknown key 'fdw'"
expect_rejected "forwarder rejects" \
  $'#cloud-config\ncauseway:\n  fwd:\n    ports: [{name: wan0, device: net_null0, mtu: 99}]\n  host: {hugepages_2m: 8}\n' \
  'causeway-fwd --check rejected: causeway-fwd: fwd.yaml: ports\[0\].mtu: 99 is out of range'
expect_rejected "bad host value" \
  $'#cloud-config\ncauseway:\n  fwd: {ports: [{name: a, device: net_null0}]}\n  host: {nics: ["eth1; reboot"]}\n' \
  "causeway.host.nics: 'eth1; reboot' is not"
expect_rejected "unknown host key" \
  $'#cloud-config\ncauseway:\n  fwd: {ports: [{name: a, device: net_null0}]}\n  host: {hugepages: 8}\n' \
  "causeway.host: unknown key 'hugepages'"
expect_rejected "bad WireGuard key" \
  $'#cloud-config\ncauseway:\n  fwd: {ports: [{name: a, device: net_null0}]}\n  wireguard: {private_key: abc}\n' \
  'private_key: expected 32 bytes'
# intent_text HOLD_S KEY_NAME: a valid intent (the shape of tests/routing/frr/golden/
# minimal-v6.yaml) indented for `intent: |`; the bad ones differ from it in one field.
intent_text() {
  cat <<EOF
    version: 1
    identity:
      pop: sea1
      router_id: 10.255.9.1
      $2: ONZLyaC3KZ2HjjwL1v8mXb4cEiQdyhYKmKAB7/Yh0k8=
      overlay_address: "fd00:255::1"
    backbones: [{name: gcp}]
    ports:
      - {name: wan0, role: wan, backbone: gcp, addresses: ["2001:db8:77::1/64"]}
    peers:
      - name: sfo1
        public_key: neAN2cKV57G8y8uIGu9qOv6LUSnex9JUaLcR0GNsSFI=
        endpoints: {gcp: "[2001:db8:77::2]:51820"}
        overlay_address: "fd00:255::2"
    sla_classes: [{name: std, max_loss_pct: 1, max_latency_ms: 100, max_jitter_ms: 20}]
    traffic_classes:
      - {name: data, sla_class: std, backbones: [gcp]}
    bgp:
      asn: 4200000001
      ibgp: false
      keepalive_s: 60
      hold_s: $1
      neighbors:
        - {name: transit, address: "2001:db8:77::ff", asn: 64999}
EOF
}
with_intent() {  # with_intent HOLD_S KEY_NAME: user-data with a good fwd and that intent
  printf '#cloud-config\ncauseway:\n  fwd: {ports: [{name: wan0, device: net_null0}]}\n'
  printf '  host: {hugepages_2m: 8}\n  intent: |\n%s\n' "$(intent_text "$1" "$2")"
}
expect_rejected "intent neither a map nor text" \
  $'#cloud-config\ncauseway:\n  fwd: {ports: [{name: a, device: net_null0}]}\n  intent: [1, 2]\n' \
  'causeway.intent: expected a map or a string'
expect_rejected "intent rejected by routed (bad value)" "$(with_intent 100 private_key)" \
  'causeway-routed --check rejected: .*intent\.yaml.*bgp\.hold_s'
expect_rejected "intent rejected by routed (unknown key)" "$(with_intent 180 privat_key)" \
  'causeway-routed --check rejected: .*identity\.privat_key: unknown key'
expect_rejected "intent while routed is not installed" "$(with_intent 180 private_key)" \
  'causeway.intent: cannot be validated: .*not installed' --routed "$tmp/no-routed"
expect_rejected "MIME" $'Content-Type: multipart/mixed; boundary="x"\nMIME-Version: 1.0\n\n--x\n' \
  'multi-part MIME'

# --- good input -----------------------------------------------------------------------------
key=$(head -c 32 /dev/urandom | base64)
good=$'#cloud-config\ncauseway:\n  fwd: |\n    name: pop-good   # kept verbatim\n    ports: [{name: wan0, device: net_null0, addresses: [198.51.100.1/24]}]\n  host:\n    hugepages_2m: 512\n    nics: ["0000:00:05.0", eth2]\n    nic_driver: vfio-pci\n  wireguard: {private_key: "'$key$'"}\n  intent: |\n'"$(intent_text 180 private_key)"$'\n'
run_hook "$good" --force
[[ $rc == 0 && $(record state) == applied ]] && pass "good: applied ($(record message))" ||
  bad "good: rc $rc: $out"
grep -qx 'name: pop-good   # kept verbatim' "$etc/fwd.yaml" && pass "good: fwd.yaml verbatim" ||
  bad "good: fwd.yaml: $(cat "$etc/fwd.yaml")"
grep -qx 'CAUSEWAY_NICS="0000:00:05.0 eth2"' "$etc/host.conf" &&
  grep -qx 'CAUSEWAY_HUGEPAGES_2M="512"' "$etc/host.conf" && pass "good: host.conf" ||
  bad "good: host.conf: $(cat "$etc/host.conf")"
[[ $(stat -c %a "$etc/keys/wireguard.key") == 600 && $(cat "$etc/keys/wireguard.key") == "$key" ]] &&
  pass "good: key stored 0600" || bad "good: key file"
grep -qx '  pop: sea1' "$etc/intent.yaml" && grep -qx '  hold_s: 180' "$etc/intent.yaml" &&
  [[ $(stat -c %a "$etc/intent.yaml") == 640 ]] && pass "good: intent.yaml (0640)" ||
  bad "good: intent.yaml: $(cat "$etc/intent.yaml")"
[[ $(record message) == "applied fwd.yaml, host.conf, intent.yaml, keys/wireguard.key" ]] &&
  pass "good: message names every file" || bad "good: message $(record message)"
"$ctl" --socket "$tmp/none.sock" status --provision-file "$state/provision.json" >/dev/null && src=0 || src=$?
[[ $src == 3 ]] && pass "good: causewayctl status exit 3 (applied, forwarder absent)" ||
  bad "good: causewayctl status exit $src"

# --- once per instance ----------------------------------------------------------------------
before=$(snapshot)
run_hook $'#cloud-config\ncauseway:\n  fwd: {name: other, ports: [{name: a, device: net_null0}]}\n'
[[ $rc == 0 && $before == "$(snapshot)" ]] && grep -q 'nothing to do' <<<"$out" &&
  pass "same instance: not applied again" || bad "same instance: rc $rc: $out"
echo iid-test-2 >"$tmp/instance-id"
run_hook $'#cloud-config\ncauseway:\n  fwd: {name: other, ports: [{name: a, device: net_null0}]}\n'
[[ $rc == 0 ]] && grep -qx 'name: other' "$etc/fwd.yaml" && pass "new instance: applied" ||
  bad "new instance: rc $rc: $out"

if ((failures)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "all passed"
