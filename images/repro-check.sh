#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Reproducibility check of the appliance image (CTest label `image`, registered only with
# -DCAUSEWAY_IMAGE_TESTS=ON; docs/images.md): builds the image twice from the same inputs
# (the same Causeway packages, mirror and SOURCE_DATE_EPOCH; package downloads come from the
# shared cache, so both builds see the same archive state) and compares the outputs byte for
# byte: the qcow2, the raw disk, the EFI system partition and the ext4 root (sha256 recorded
# by build-image.sh in manifest.txt), vmlinuz, initrd.img and packages.txt. Prints every
# sha256; exits 1 when any output differs, naming it.
#
#   images/repro-check.sh [BUILD_DIR] [--debs DIR]   (root; BUILD_DIR default: <repo>/build)
#
# Without --debs the packages are built once (by the first image build, in
# BUILD_DIR/image-pkg) and the second build uses the same files. The two images are in
# BUILD_DIR/repro/a and BUILD_DIR/repro/b.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
debs=
while (($#)); do
  case $1 in
    --debs) debs=$2; shift 2 ;;
    -h | --help) sed -n '3,16p' "$0"; exit 0 ;;
    *) build=$1; shift ;;
  esac
done
log() { echo "repro: $(date -u +%H:%M:%S) $*"; }
(($(id -u) == 0)) || { echo "repro: needs root (image build)" >&2; exit 1; }

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct)}
a=$build/repro/a b=$build/repro/b
rm -rf "$build/repro"
mkdir -p "$a" "$b"

t0=$(date +%s)
if [[ -z $debs ]]; then
  nice -n 10 "$here/images/build-image.sh" --out "$a" --build-dir "$build/image-pkg"
  debs=$build/image-pkg
else
  nice -n 10 "$here/images/build-image.sh" --out "$a" --debs "$debs"
fi
t1=$(date +%s)
log "first build: $((t1 - t0)) s"
nice -n 10 "$here/images/build-image.sh" --out "$b" --debs "$debs"
log "second build: $(($(date +%s) - t1)) s"

# The outputs' sha256 as build-image.sh recorded them (the raw disk and the two file systems
# exist only during the build), plus the files next to the image.
outputs() {  # outputs DIR: "sha256  name" lines
  sed -n '/^outputs (sha256):/,$p' "$1/manifest.txt" | sed -n 's/^  \([0-9a-f]\{64\}\)  /\1  /p'
  (cd "$1" && sha256sum packages.txt)
}
outputs "$a" >"$build/repro/a.sha256"
outputs "$b" >"$build/repro/b.sha256"
same=1
while IFS= read -r line; do
  sha=${line%%  *} name=${line#*  }
  other=$(grep -F "  $name" "$build/repro/b.sha256" | cut -d' ' -f1)
  if [[ $sha == "$other" ]]; then
    log "identical  $sha  $name"
  else
    log "DIFFERENT  $sha / ${other:-missing}  $name"
    same=0
  fi
done <"$build/repro/a.sha256"
# The whole manifests (mirror, archive dates, package hashes) must agree too.
if ! diff -u "$a/manifest.txt" "$b/manifest.txt" >"$build/repro/manifest.diff"; then
  log "the manifests differ:"
  cat "$build/repro/manifest.diff"
  same=0
fi
if ((same)); then
  rm -rf "$a/work" "$b/work"
  log "PASS: two builds are bit-identical (causeway.qcow2 $(grep -F '  causeway.qcow2' "$build/repro/a.sha256" | cut -d' ' -f1))"
  exit 0
fi
# Where to look: the file trees that went into the two images (build-image.sh's work/tree.txt).
if diff -u "$a/work/tree.txt" "$b/work/tree.txt" >"$build/repro/tree.diff"; then
  log "the file trees (paths, types, modes, owners, sizes, mtimes, sha256) are identical"
else
  log "the file trees differ (first lines of $build/repro/tree.diff):"
  head -40 "$build/repro/tree.diff"
fi
log "FAIL: the builds differ"
exit 1
