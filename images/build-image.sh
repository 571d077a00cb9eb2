#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Causeway appliance disk image: Debian 12 (bookworm) from debootstrap, the
# Causeway .deb packages and their Debian dependencies, the cloud kernel, GRUB for UEFI,
# cloud-init (NoCloud and the clouds' datasources), serial console, SSH with keys only.
#
#   images/build-image.sh [--out DIR] [--debs DIR] [--size SIZE] [--build-dir DIR]
#
# Output in DIR (default build/image): causeway.qcow2 (GPT: EFI system partition with a
# standalone GRUB, ext4 root), vmlinuz and initrd.img (for QEMU direct kernel boot),
# manifest.txt (the Debian release and archive dates, the mirror, SOURCE_DATE_EPOCH, sha256 of
# the Causeway packages and of the outputs) and packages.txt (every installed package and
# version). Without --debs, the packages are built from the source tree with CPack in
# --build-dir (default build/image-pkg).
#
# Reproducible: the same inputs (mirror state, Causeway packages, SOURCE_DATE_EPOCH) give a
# bit-identical disk (images/repro-check.sh builds twice and compares). The mirror is
# CAUSEWAY_MIRROR / CAUSEWAY_SECURITY_MIRROR: a snapshot.debian.org URL such as
# http://snapshot.debian.org/archive/debian/20250520T000000Z pins every package version (its
# expired Valid-Until is then accepted); the default, deb.debian.org, gives the current
# bookworm point release and the manifest records exactly what went in. SOURCE_DATE_EPOCH
# (default: the commit time of HEAD) is every file time; the ext4 UUID and hash seed, the FAT
# serial and the GPT ids derive from it; machine-id, SSH host keys, logs, caches and apt lists
# are removed; the root tree is copied in name order onto a tmpfs before `mkfs.ext4 -d` (which
# allocates in readdir order) and the inode change times, which mkfs copies from the source
# tree, are set afterwards with debugfs; GRUB is one grub-mkimage core (no memdisk tar) and its
# grub.cfg a file on the ESP.
#
# Needs root (debootstrap, chroot, mounts of /proc /sys /dev in the chroot, a tmpfs); no loop
# devices: the file systems are made from directories (mkfs.ext4 -d, mtools) and placed into
# the disk with dd. Installs its own host tools with apt when they are missing.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=$here/build/image
debs=
pkg_build=$here/build/image-pkg
size=3G
suite=bookworm
mirror=${CAUSEWAY_MIRROR:-http://deb.debian.org/debian}
security_mirror=${CAUSEWAY_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
cache=${CAUSEWAY_IMAGE_CACHE:-/var/cache/causeway-image}

while (($#)); do
  case $1 in
    --out) out=$2; shift 2 ;;
    --debs) debs=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --build-dir) pkg_build=$2; shift 2 ;;
    -h | --help) sed -n '3,36p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done

log() { echo "build-image: $(date -u +%H:%M:%S) $*"; }
die() { echo "build-image: $*" >&2; exit 1; }
(($(id -u) == 0)) || die "needs root (debootstrap, chroot)"

# --- host tools (idempotent) ----------------------------------------------------------------
tools=(debootstrap qemu-utils e2fsprogs fdisk dosfstools mtools grub-efi-amd64-bin)
missing=()
for p in "${tools[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing host tools: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 1700000000)}
# Fixed identities derived from SOURCE_DATE_EPOCH: the same inputs give the same image.
uuid_from() {  # uuid_from TEXT: a version-4-shaped UUID derived from TEXT
  local h
  h=$(printf '%s' "$1" | sha256sum | cut -c1-32)
  echo "${h:0:8}-${h:8:4}-4${h:13:3}-8${h:17:3}-${h:20:12}"
}
root_uuid=$(uuid_from "causeway-root-$SOURCE_DATE_EPOCH")
hash_seed=$(uuid_from "causeway-hash-$SOURCE_DATE_EPOCH")
esp_serial=$(printf 'causeway-esp-serial-%s' "$SOURCE_DATE_EPOCH" | sha256sum | cut -c1-8)
esp_part_uuid=$(uuid_from "causeway-esp-$SOURCE_DATE_EPOCH")
root_part_uuid=$(uuid_from "causeway-rootpart-$SOURCE_DATE_EPOCH")

# --- packages -------------------------------------------------------------------------------
if [[ -z $debs ]]; then
  log "building the Causeway packages in $pkg_build"
  cmake -S "$here" -B "$pkg_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAUSEWAY_BENCH=OFF \
    -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache >/dev/null
  targets=(causeway-fwd causewayctl)
  if grep -q '^causeway-routed:' <(cmake --build "$pkg_build" --target help | sed 's/^\.\.\. //; s/$/:/'); then
    targets+=(causeway-routed)
  fi
  nice -n 10 cmake --build "$pkg_build" -j "$(nproc)" --target "${targets[@]}"
  rm -f "$pkg_build"/*.deb
  (cd "$pkg_build" && cpack -G DEB >/dev/null)
  debs=$pkg_build
fi
mapfile -t deb_files < <(ls "$debs"/causeway*.deb 2>/dev/null)
((${#deb_files[@]} >= 3)) || die "no Causeway packages in $debs"

# --- root file system -----------------------------------------------------------------------
work=$out/work
rootfs=$work/rootfs
mkdir -p "$out" "$cache/debootstrap" "$cache/apt-archives/partial"
mounted=()
cleanup() {
  local m
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    m=${mounted[i]}
    if mountpoint -q "$m"; then umount -l "$m"; fi
  done
  mounted=()
}
trap cleanup EXIT
bind() {  # bind SRC DST [mount options...]
  mkdir -p "$2"
  mount "${@:3}" "$1" "$2"
  mounted+=("$2")
}

rm -rf "$work"
mkdir -p "$rootfs"
log "debootstrap $suite from $mirror (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
nice -n 10 debootstrap --variant=minbase --cache-dir="$cache/debootstrap" \
  --include=systemd-sysv,ca-certificates "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" "$rootfs/debootstrap/debootstrap.log" 2>/dev/null; die "debootstrap failed"; }

bind /proc "$rootfs/proc" --bind
bind /sys "$rootfs/sys" --bind
bind /dev "$rootfs/dev" --bind
bind /dev/pts "$rootfs/dev/pts" --bind
bind "$cache/apt-archives" "$rootfs/var/cache/apt/archives" --bind
in_root() { LC_ALL=C DEBIAN_FRONTEND=noninteractive chroot "$rootfs" "$@"; }

# A snapshot's Release files are past their Valid-Until: accept them (the archive is pinned).
apt_opts=
if [[ $mirror == *snapshot.debian.org* || $security_mirror == *snapshot.debian.org* ]]; then
  apt_opts="[check-valid-until=no] "
fi
cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $apt_opts$mirror $suite main
deb $apt_opts$mirror $suite-updates main
deb $apt_opts$security_mirror $suite-security main
EOF
# No service may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 755 "$rootfs/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
echo causeway >"$rootfs/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 causeway\n::1 localhost ip6-localhost ip6-loopback\n' >"$rootfs/etc/hosts"
# Debian's kernel package makes /vmlinuz and /initrd.img, which the GRUB config below boots.
printf 'do_symlinks = yes\n' >"$rootfs/etc/kernel-img.conf"

mkdir -p "$rootfs/tmp/causeway-debs"
cp "${deb_files[@]}" "$rootfs/tmp/causeway-debs/"
in_chroot_debs=()
for f in "${deb_files[@]}"; do in_chroot_debs+=("/tmp/causeway-debs/$(basename "$f")"); done
log "installing the kernel, cloud-init, FRR, DPDK and the Causeway packages"
in_root apt-get update -qq
nice -n 10 chroot "$rootfs" env LC_ALL=C DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends \
  linux-image-cloud-amd64 initramfs-tools udev kmod dbus systemd-timesyncd systemd-resolved \
  openssh-server cloud-init cloud-guest-utils python3-yaml netbase iproute2 ethtool \
  pciutils less sudo procps iputils-ping \
  "${in_chroot_debs[@]}" >"$work/apt.log" 2>&1 ||
  { tail -30 "$work/apt.log"; die "apt-get install in the image failed"; }
rm -rf "$rootfs/tmp/causeway-debs"

log "configuring the system"
cat >"$rootfs/etc/fstab" <<EOF
UUID=$root_uuid / ext4 defaults,errors=remount-ro 0 1
EOF
# Network: cloud-init renders the instance's network configuration for systemd-networkd
# (DHCP on the first NIC when the cloud gives none).
in_root systemctl enable systemd-networkd.service >/dev/null 2>&1
# Serial console: the kernel command line has console=ttyS0, and systemd starts a getty there.
# No passwords: root is locked, the default user (causeway) gets SSH keys from cloud-init.
in_root passwd -l root >/dev/null
# Per-instance identity is made on first boot, never baked into the image.
rm -f "$rootfs"/etc/ssh/ssh_host_*
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
rm -f "$rootfs/usr/sbin/policy-rc.d"
# DNS from DHCP through systemd-resolved's stub (the build's copy of the host's file goes).
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$rootfs/etc/resolv.conf"
in_root apt-get clean
# What the archive looked like (for the manifest) before the lists go.
archive_dates=$(for f in "$rootfs"/var/lib/apt/lists/*_InRelease; do
  printf '  %s: %s\n' "$(basename "$f" _InRelease | sed 's/.*_dists_//; s/_/\//g')" \
    "$(sed -n 's/^Date: //p' "$f" | head -1)"
done)
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* \
  "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old "$rootfs"/tmp/* \
  "$rootfs"/var/cache/ldconfig/aux-cache "$rootfs"/var/log/journal/* "$rootfs"/var/cache/man/*
in_root dpkg-query -W -f='${Package} ${Version} ${Architecture}\n' | LC_ALL=C sort >"$out/packages.txt"
debian_version=$(cat "$rootfs/etc/debian_version")
# The DPDK poll-mode drivers the clouds need (docs/images.md) and their kernel drivers: the
# EAL loads the PMDs from its plugin directory, so check that each one is there and resolves.
pmd_dir=usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0
pmds=()
for pmd in net_virtio net_gve net_ena net_netvsc net_vdev_netvsc net_failsafe net_mlx5 net_mlx4 \
  bus_vmbus net_af_packet net_af_xdp net_null net_tap net_ring mempool_ring; do
  so=$rootfs/$pmd_dir/librte_$pmd.so.23
  [[ -e $so ]] || die "DPDK PMD $pmd is not in the image ($pmd_dir)"
  pkg=$(in_root dpkg-query -S "/$pmd_dir/librte_$pmd.so.23" | cut -d: -f1)
  pmds+=("$pmd ($pkg $(in_root dpkg-query -W -f='${Version}' "$pkg"))")
done
kmods=()
for mod in vfio-pci uio_hv_generic hv_netvsc ena gve virtio_net mlx5_core mlx4_en; do
  f=$(find "$rootfs"/lib/modules/*/kernel -name "$mod.ko*" -print -quit)
  [[ -n $f ]] || die "kernel module $mod is not in the image"
  kmods+=("$mod")
done
cp "$rootfs"/boot/vmlinuz-* "$out/vmlinuz"
cp "$rootfs"/boot/initrd.img-* "$out/initrd.img"
cleanup

# mkfs.ext4 -d allocates inodes and blocks in readdir order, which on the build directory
# depends on its history (and on the host file system's hash seed): copy the tree in name
# order onto a tmpfs, whose readdir order is its creation order.
log "copying the root file system in name order"
sorted=$work/sorted
bind tmpfs "$sorted" -t tmpfs -o mode=0755,size=8G
tar -C "$rootfs" --sort=name --numeric-owner --xattrs --xattrs-include='*' -cf - . |
  tar -C "$sorted" --numeric-owner --xattrs --xattrs-include='*' -xpf -
rm -rf "$rootfs"
# Every file time is at most SOURCE_DATE_EPOCH, every access time is SOURCE_DATE_EPOCH.
find "$sorted" -xdev -newermt "@$SOURCE_DATE_EPOCH" -print0 |
  xargs -0r touch --no-dereference --date="@$SOURCE_DATE_EPOCH"
find "$sorted" -xdev -print0 | xargs -0r touch --no-dereference -a --date="@$SOURCE_DATE_EPOCH"
# The tree as it goes into the image, for comparing builds (images/repro-check.sh).
(cd "$sorted" && find . -xdev -printf '%p %y %m %U %G %s %T@ %l\n' | LC_ALL=C sort &&
  find . -xdev -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) >"$work/tree.txt"

# --- disk: GPT, EFI system partition (GRUB), ext4 root --------------------------------------
log "making the file systems and the disk"
esp_mb=64
disk_bytes=$(numfmt --from=iec "$size")
root_start_mb=$((1 + esp_mb))
root_mb=$((disk_bytes / 1048576 - root_start_mb - 1))
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
mkfs.ext4 -q -F -L causeway-root -U "$root_uuid" -E "hash_seed=$hash_seed,lazy_itable_init=0" \
  -T default -d "$sorted" "$work/root.ext4" "${root_mb}M"
# mkfs.ext4 -d (e2fsprogs 1.47.0) copies each file's ctime, the time the build wrote it, which
# no tool can set on the source, and its atime, which reading the tree may have moved: set both
# in the image (debugfs takes quoted paths).
if find "$sorted" -xdev -name '*"*' -print -quit | grep -q .; then
  die "a file name in the image contains a double quote; debugfs cannot name it"
fi
{
  echo "set_inode_field / ctime @$SOURCE_DATE_EPOCH"
  (cd "$sorted" && find . -xdev -mindepth 1 -printf '%P\n') |
    sed "s|.*|set_inode_field \"/&\" ctime @$SOURCE_DATE_EPOCH\nset_inode_field \"/&\" atime @$SOURCE_DATE_EPOCH|"
} >"$work/ctime.debugfs"
debugfs -w -f "$work/ctime.debugfs" "$work/root.ext4" >/dev/null 2>"$work/debugfs.log"
if grep -v '^debugfs [0-9.]* (' "$work/debugfs.log" | grep -q .; then
  head "$work/debugfs.log" >&2
  die "debugfs could not set the change times"
fi
e2fsck -fn "$work/root.ext4" >"$work/e2fsck.log" 2>&1 || { cat "$work/e2fsck.log"; die "the root file system does not check clean"; }
cleanup  # the tmpfs

cat >"$work/grub.cfg" <<EOF
set timeout=1
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
search --no-floppy --fs-uuid --set=root $root_uuid
menuentry "Causeway" {
  linux /vmlinuz root=UUID=$root_uuid ro console=tty0 console=ttyS0,115200n8
  initrd /initrd.img
}
EOF
# One GRUB core image with every module it needs built in, and grub.cfg as a file next to it
# (prefix /EFI/BOOT on the device GRUB was loaded from): no grub-install (which needs the disk
# as a block device), and no memdisk (grub-mkstandalone packs one as a tar stamped with the
# build time). grub-mkimage stamps its PE header with a fixed time.
grub-mkimage -O x86_64-efi -p /EFI/BOOT -o "$work/BOOTX64.EFI" \
  part_gpt fat ext2 search search_fs_uuid linux serial terminal normal configfile efi_gop \
  efi_uga gzio echo test
touch --date="@$SOURCE_DATE_EPOCH" "$work/BOOTX64.EFI" "$work/grub.cfg"
rm -f "$work/esp.vfat"
mkfs.vfat -C -n CW-ESP -i "$esp_serial" --invariant "$work/esp.vfat" $((esp_mb * 1024)) >/dev/null
export MTOOLS_SKIP_CHECK=1  # mtools stamps the directories it makes with SOURCE_DATE_EPOCH
mmd -i "$work/esp.vfat" ::/EFI ::/EFI/BOOT
mcopy -m -i "$work/esp.vfat" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
mcopy -m -i "$work/esp.vfat" "$work/grub.cfg" ::/EFI/BOOT/grub.cfg

raw=$work/disk.raw
rm -f "$raw"
truncate -s "$disk_bytes" "$raw"
sfdisk -q "$raw" <<EOF
label: gpt
label-id: ${root_uuid^^}
first-lba: 2048
start=1MiB, size=${esp_mb}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$esp_part_uuid, name=esp
start=${root_start_mb}MiB, size=${root_mb}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$root_part_uuid, name=root
EOF
dd if="$work/esp.vfat" of="$raw" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.ext4" of="$raw" bs=1M seek="$root_start_mb" conv=notrunc,sparse status=none
qemu-img convert -f raw -O qcow2 "$raw" "$out/causeway.qcow2"
raw_sha=$(sha256sum "$raw" | cut -d' ' -f1)
esp_sha=$(sha256sum "$work/esp.vfat" | cut -d' ' -f1)
root_sha=$(sha256sum "$work/root.ext4" | cut -d' ' -f1)
rm -f "$raw" "$work/root.ext4" "$work/esp.vfat"

{
  echo "causeway appliance image"
  echo "suite: $suite (Debian $debian_version)"
  echo "mirror: $mirror"
  echo "security mirror: $security_mirror"
  echo "archive dates (InRelease Date:):"
  echo "$archive_dates"
  echo "SOURCE_DATE_EPOCH: $SOURCE_DATE_EPOCH ($(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ))"
  echo "root UUID: $root_uuid"
  echo "DPDK PMDs (in /$pmd_dir):"
  printf '  %s\n' "${pmds[@]}"
  echo "kernel modules: ${kmods[*]}"
  echo "causeway packages:"
  for f in "${deb_files[@]}"; do echo "  $(basename "$f") $(sha256sum "$f" | cut -d' ' -f1)"; done
  echo "installed packages: $(wc -l <"$out/packages.txt") (packages.txt, sha256 $(sha256sum "$out/packages.txt" | cut -d' ' -f1))"
  echo "outputs (sha256):"
  echo "  $raw_sha  disk.raw (before qcow2 conversion)"
  echo "  $esp_sha  EFI system partition"
  echo "  $root_sha  root file system (ext4)"
  (cd "$out" && sha256sum causeway.qcow2 vmlinuz initrd.img | sed 's/^/  /')
} >"$out/manifest.txt"
log "done: $out/causeway.qcow2 ($(du -h "$out/causeway.qcow2" | cut -f1))"
