#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Smoke test of the appliance image (CTest label `image`; docs/images.md):
#   1. builds the image (images/build-image.sh), unless CAUSEWAY_IMAGE names a built one;
#   2. good user-data: boots it under QEMU (UEFI with OVMF: the image's own GRUB; KVM when
#      /dev/kvm works, else TCG) with a NoCloud seed (vfat labelled CIDATA) whose user-data
#      holds a PoP configuration and whose meta-data holds an SSH key; then checks over SSH that
#      provisioning applied it, the units are active, zebra runs with the FPM module,
#      `causewayctl status` and `causewayctl stats` answer, and SSH refuses passwords;
#   3. bad user-data (invalid YAML): boots a fresh copy and checks that the appliance is
#      reachable over SSH, the failure is in the journal and in `causewayctl status` (exit 1),
#      /etc/causeway is exactly as shipped and the forwarder runs the shipped lab config; then,
#      on the same VM, user-data missing `causeway:`, a forwarder config that
#      `causeway-fwd --check` rejects and an intent that `causeway-routed --check` rejects are
#      run through the provisioning hook with the same result (nothing changed).
#
#   images/smoke-test.sh [BUILD_DIR]       (root; BUILD_DIR default: <repo>/build)
# Serial console logs are kept in BUILD_DIR/image-smoke/ (serial-good.log, serial-bad.log).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
work=$build/image-smoke
image=${CAUSEWAY_IMAGE:-}
boot_deadline=${CAUSEWAY_IMAGE_BOOT_TIMEOUT:-900}

log() { echo "smoke: $(date -u +%H:%M:%S) $*"; }
fail() {
  echo "smoke: FAIL: $*" >&2
  exit 1
}
(($(id -u) == 0)) || fail "needs root (image build, QEMU)"

for p in qemu-system-x86 qemu-utils ovmf mtools dosfstools openssh-client; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    log "installing $p"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p"
  fi
done

rm -rf "$work"
mkdir -p "$work"
qemu_pid=
cleanup() {
  if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then kill "$qemu_pid"; fi
}
trap cleanup EXIT

if [[ -z $image ]]; then
  t0=$(date +%s)
  "$here/images/build-image.sh" --out "$build/image"
  log "image built in $(($(date +%s) - t0)) s"
  image=$build/image/causeway.qcow2
fi
[[ -f $image ]] || fail "no image at $image"
image=$(realpath "$image")

ssh-keygen -q -t ed25519 -N '' -C causeway-smoke -f "$work/id"
pubkey=$(<"$work/id.pub")
# KVM when it works: a nested or restricted /dev/kvm may open and then fail to run a guest, so
# the probe boots the image's kernel and waits for its first line on the serial console.
accel=tcg
cpu=max
if [[ ${CAUSEWAY_IMAGE_ACCEL:-auto} != tcg && -w /dev/kvm ]]; then
  kernel=$(dirname "$image")/vmlinuz
  if [[ -f $kernel ]]; then
    (timeout 20 qemu-system-x86_64 -accel kvm -cpu host -m 256 -display none -nodefaults \
      -no-reboot -serial file:"$work/kvm-probe.log" -kernel "$kernel" \
      -append "console=ttyS0 panic=-1" >/dev/null 2>&1 || true) 2>/dev/null
    if grep -q "Linux version" "$work/kvm-probe.log" 2>/dev/null; then
      accel=kvm
      cpu=host
    fi
  fi
fi
log "QEMU acceleration: $accel"

# make_seed NAME USER_DATA_FILE INSTANCE_ID: NoCloud seed as a FAT image labelled CIDATA.
make_seed() {
  local seed=$work/seed-$1.vfat
  cat >"$work/meta-data-$1" <<EOF
instance-id: $3
local-hostname: causeway-smoke
public-keys:
  - $pubkey
EOF
  mkfs.vfat -C -n CIDATA "$seed" 2048 >/dev/null
  MTOOLS_SKIP_CHECK=1 mcopy -i "$seed" "$2" ::/user-data
  MTOOLS_SKIP_CHECK=1 mcopy -i "$seed" "$work/meta-data-$1" ::/meta-data
}

ssh_port=
# boot NAME: starts QEMU on a copy-on-write overlay of the image with seed NAME.
boot() {
  local name=$1
  qemu-img create -q -f qcow2 -F qcow2 -b "$image" "$work/disk-$name.qcow2"
  cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/vars-$name.fd"
  ssh_port=$((20000 + RANDOM % 20000))
  while ss -ltn "sport = :$ssh_port" | grep -q LISTEN; do ssh_port=$((20000 + RANDOM % 20000)); done
  boot_start=$(date +%s)
  nice -n 10 qemu-system-x86_64 -machine q35 -accel "$accel" -cpu "$cpu" -smp 2 -m 2048 \
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
    -drive if=pflash,format=raw,file="$work/vars-$name.fd" \
    -drive if=virtio,format=qcow2,file="$work/disk-$name.qcow2" \
    -drive if=virtio,format=raw,readonly=on,file="$work/seed-$name.vfat" \
    -netdev user,id=n0,hostfwd=tcp:127.0.0.1:$ssh_port-:22 -device virtio-net-pci,netdev=n0 \
    -display none -serial file:"$work/serial-$name.log" -monitor none \
    -pidfile "$work/qemu-$name.pid" -daemonize
  qemu_pid=$(cat "$work/qemu-$name.pid")
  log "$name: QEMU pid $qemu_pid, ssh on 127.0.0.1:$ssh_port"
}

vm() {
  ssh -q -i "$work/id" -p "$ssh_port" -o BatchMode=yes -o ConnectTimeout=5 \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null causeway@127.0.0.1 "$@"
}

wait_for_boot() {
  local name=$1 deadline=$(($(date +%s) + boot_deadline))
  until vm true 2>/dev/null; do
    kill -0 "$qemu_pid" 2>/dev/null || fail "$name: QEMU exited (see $work/serial-$name.log)"
    (($(date +%s) < deadline)) || fail "$name: no SSH within $boot_deadline s (see $work/serial-$name.log)"
    sleep 2
  done
  log "$name: SSH answers $(($(date +%s) - boot_start)) s after QEMU started"
  # Wait for the boot to finish (every unit settled), with the same deadline.
  boot_state=$(vm "timeout $((deadline - $(date +%s))) systemctl is-system-running --wait" || true)
  log "$name: boot finished ($boot_state) $(($(date +%s) - boot_start)) s after QEMU started"
  vm "systemctl --failed --no-legend" | sed "s/^/smoke: $name: failed unit: /" || true
}

shutdown_vm() {
  vm "sudo systemctl poweroff" || true
  local deadline=$(($(date +%s) + 120))
  while kill -0 "$qemu_pid" 2>/dev/null; do
    if (($(date +%s) >= deadline)); then kill "$qemu_pid"; fi
    sleep 1
  done
  qemu_pid=
}

# vm_has PATTERN COMMAND: COMMAND's output on the VM has a line matching PATTERN (grep -E).
vm_has() {
  local out
  out=$(vm "$2") || return 1
  grep -qE -- "$1" <<<"$out"
}

# A login offering only passwords is refused, and the server offers nothing but public keys.
password_refused() {
  local out
  out=$(ssh -p "$ssh_port" -o BatchMode=yes -o PubkeyAuthentication=no \
    -o PreferredAuthentications=password,keyboard-interactive -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null causeway@127.0.0.1 true 2>&1) && return 1
  grep -q 'Permission denied (publickey)' <<<"$out"
}

check() {  # check DESCRIPTION COMMAND...: runs COMMAND on the host, fails the test if it fails
  local what=$1
  shift
  if "$@"; then log "ok: $what"; else fail "$what"; fi
}

# --- good user-data -------------------------------------------------------------------------
wg_key=$(head -c 32 /dev/urandom | base64)
cat >"$work/user-data-good" <<EOF
#cloud-config
causeway:
  fwd: |
    name: pop-smoke
    dpdk: {workers: 1, lcores: "0-1", memory_mb: 512, no_huge: true}
    ports:
      - name: wan0
        device: "net_null0,no-rx=1"
        addresses: [198.51.100.1/24]
    routes:
      - {prefix: 203.0.113.0/24, via: 198.51.100.254, port: wan0}
    fib: {v4_max_routes: 4096, v4_tbl8_groups: 256, v6_max_routes: 1024, v6_tbl8_groups: 256,
          max_next_hops: 1024}
  host:
    hugepages_2m: 0
    fwd_args: "--log-level info"
  wireguard:
    private_key: "$wg_key"
EOF
make_seed good "$work/user-data-good" iid-causeway-smoke-good
boot good
wait_for_boot good

check "boot finished with no failed unit" test "$boot_state" = running
vm "sudo cat /var/lib/causeway/provision.json" >"$work/provision-good.json" || true
check "provisioning applied the user-data" grep -q '"state": "applied"' "$work/provision-good.json"
check "causeway-provision, causeway-fwd, frr and ssh are active" \
  vm "systemctl is-active causeway-provision causeway-fwd causeway-hugepages causeway-nics frr ssh"
check "/etc/causeway/fwd.yaml is the user-data's" vm "grep -qx 'name: pop-smoke' /etc/causeway/fwd.yaml"
check "host.conf from user-data" vm "grep -qx 'CAUSEWAY_FWD_ARGS=\"--log-level info\"' /etc/causeway/host.conf"
check "WireGuard key stored with mode 0600" \
  vm "sudo test \"\$(sudo stat -c %a /etc/causeway/keys/wireguard.key)\" = 600 && sudo grep -qx '$wg_key' /etc/causeway/keys/wireguard.key"
vm "sudo causewayctl status" >"$work/status-good.txt" && status_rc=0 || status_rc=$?
sed 's/^/smoke: good: /' "$work/status-good.txt"
check "causewayctl status exits 0" test "$status_rc" = 0
check "causewayctl status: provisioning applied" grep -q "^provisioning  applied " "$work/status-good.txt"
check "causewayctl status: the forwarder pop-smoke answers" \
  grep -q "forwarder     up: causeway-fwd pop-smoke" "$work/status-good.txt"
vm "sudo causewayctl stats" >"$work/stats-good.txt" || true
sed 's/^/smoke: good: /' "$work/stats-good.txt"
check "causewayctl stats answers with the provisioned port" grep -qE "^ +0  wan0 " "$work/stats-good.txt"
check "causewayctl routes has the provisioned route" vm_has '^203\.0\.113\.0/24 ' "sudo causewayctl routes"
check "zebra runs with the FPM module" vm_has 'zebra .*-M dplane_fpm_nl' "pgrep -a zebra"
check "sshd: no password authentication" vm_has '^passwordauthentication no$' "sudo sshd -T"
check "sshd: no root login with a password" vm_has '^permitrootlogin without-password$' "sudo sshd -T"
check "root password locked" vm_has '^root L ' "sudo passwd -S root"
check "a password login is refused: the server offers public keys only" password_refused
check "the provisioning result is in the journal" \
  vm_has 'causeway-provision: applied fwd\.yaml' "sudo journalctl -b -u causeway-provision"
shutdown_vm
log "good: passed"

# --- bad user-data --------------------------------------------------------------------------
printf '#cloud-config\ncauseway:\n  fwd: {name: pop-bad\n  ports: [\n' >"$work/user-data-bad"
make_seed bad "$work/user-data-bad" iid-causeway-smoke-bad
boot bad
wait_for_boot bad
check "bad user-data: boot finished with no failed unit other than causeway-provision" \
  test -z "$(vm "systemctl --failed --no-legend --plain | grep -v '^causeway-provision.service '" || true)"
vm "sudo causewayctl status" >"$work/status-bad.txt" && status_rc=0 || status_rc=$?
sed 's/^/smoke: bad: /' "$work/status-bad.txt"
check "causewayctl status exits 1 on failed provisioning" test "$status_rc" = 1
check "causewayctl status names the YAML error" grep -q "user-data: invalid YAML at line" "$work/status-bad.txt"
check "the forwarder runs the shipped lab configuration" \
  grep -q "forwarder     up: causeway-fwd causeway-lab" "$work/status-bad.txt"
vm "sudo journalctl -b -u causeway-provision" >"$work/journal-bad.txt" || true
sed 's/^/smoke: bad: journal: /' "$work/journal-bad.txt"
check "the failure is in the journal" grep -q 'FAILED: user-data: invalid YAML' "$work/journal-bad.txt"
# dpkg --verify prints a line for every shipped file that changed (conffiles included).
extra=$(vm "sudo dpkg --verify causeway-fwd; sudo ls -A /etc/causeway/keys; sudo ls -A /etc/causeway | grep -vx -e fwd.yaml -e host.conf -e keys" || true)
check "nothing applied: /etc/causeway is exactly as shipped" test -z "$extra"

# The other kinds of bad input, through the same hook on the same VM.
printf '#cloud-config\nhostname: x\n' | vm "cat > /tmp/ud-nokey"
printf '#cloud-config\ncauseway:\n  fwd:\n    ports: [{name: wan0, device: net_null0, mtu: 99}]\n' |
  vm "cat > /tmp/ud-badfwd"
# A good forwarder file with an intent that causeway-routed --check rejects (hold time below
# three keepalives): the forwarder file must not be applied either.
cat <<'EOF' | vm "cat > /tmp/ud-badintent"
#cloud-config
causeway:
  fwd: {name: pop-intent, ports: [{name: wan0, device: net_null0}]}
  intent:
    version: 1
    identity: {pop: sea1, router_id: 10.255.9.1, overlay_address: 10.255.0.1,
               private_key: ONZLyaC3KZ2HjjwL1v8mXb4cEiQdyhYKmKAB7/Yh0k8=}
    backbones: [{name: gcp}]
    ports: [{name: wan0, role: wan, backbone: gcp, addresses: [198.51.100.1/24]}]
    sla_classes: [{name: std, max_loss_pct: 1, max_latency_ms: 100, max_jitter_ms: 20}]
    traffic_classes: [{name: data, sla_class: std, backbones: [gcp]}]
    bgp: {asn: 4200000001, ibgp: false, keepalive_s: 60, hold_s: 100}
EOF
declare -A expect=([nokey]="missing key 'causeway'" [badfwd]="causeway-fwd --check rejected: .*mtu"
  [badintent]="causeway-routed --check rejected: .*bgp\\.hold_s")
for ud in nokey badfwd badintent; do
  before=$(vm "sudo sha256sum /etc/causeway/fwd.yaml /etc/causeway/host.conf; sudo ls -A /etc/causeway")
  out=$(vm "sudo /usr/lib/causeway/causeway-provision --force --user-data /tmp/ud-$ud" 2>&1) && rc=0 || rc=$?
  echo "$out" | sed "s/^/smoke: bad-$ud: /"
  after=$(vm "sudo sha256sum /etc/causeway/fwd.yaml /etc/causeway/host.conf; sudo ls -A /etc/causeway")
  check "$ud: provisioning fails (exit 1)" test "$rc" = 1
  check "$ud: nothing changed in /etc/causeway" test "$before" = "$after"
  check "$ud: causewayctl status reports it" vm_has "${expect[$ud]}" "sudo causewayctl status || true"
done
shutdown_vm
log "bad: passed"
log "serial logs: $work/serial-good.log $work/serial-bad.log"
log "PASS"
