#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs exactly the Debian 12 packages Causeway needs to build, test and run its lab.
# Idempotent: packages already present are left alone; apt is only called for missing ones.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  # libraries (DESIGN.md section 7)
  libdpdk-dev dpdk libssl-dev libnl-3-dev libnl-route-3-dev libboost-dev
  libyaml-cpp-dev nlohmann-json3-dev libfmt-dev libspdlog-dev libcli11-dev
  prometheus-cpp-dev catch2 libbenchmark-dev libpcap-dev libbpf-dev libxdp-dev
  libabsl-dev
  # real peers and lab tools
  frr frr-pythontools wireguard-tools wireguard-go bird2 iproute2 ethtool iperf3
  tcpdump iputils-ping procps psmisc jq
  curl
  # appliance provisioning hook test (images/libexec/causeway-provision)
  python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# FRR's Debian package starts the frr service; Causeway starts its own FRR instances
# per namespace and must not share the machine with a default one.
if systemctl is-active --quiet frr 2>/dev/null; then
  systemctl disable --now frr >/dev/null 2>&1 || true
fi
