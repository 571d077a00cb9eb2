// SPDX-License-Identifier: Apache-2.0
// The control thread's view of a port: its identity, addresses and kernel mirror.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "causeway/common/ip.h"
#include "mirror.h"

namespace causeway::fwd {

// One L3 interface: a physical port or an 802.1Q subinterface of one (vlan_id != 0). The
// index is the interface index that next hops, neighbours, punts and counters use.
struct PortRuntime {
  std::uint16_t index = 0;      // our interface index (PortId)
  std::uint16_t dpdk_port = 0;  // DPDK ethdev port id (of the physical port)
  std::uint16_t vlan_id = 0;    // subinterface: its VLAN id; 0 for a physical port
  std::uint16_t parent = 0;     // subinterface: interface index of its physical port
  std::string name;
  std::string device;
  MacAddress mac;
  std::uint16_t mtu = 1500;
  std::vector<IpPrefix> addresses;  // as configured (host bits kept)
  IpAddress link_local;             // fe80::/64 EUI-64 of mac, as the kernel derives it
  std::unique_ptr<Mirror> mirror;
  std::uint16_t rx_queues = 1;  // 0 for a subinterface (it uses its port's queues)
  std::uint16_t tx_queues = 1;

  [[nodiscard]] bool is_vlan() const { return vlan_id != 0; }

  [[nodiscard]] bool owns(const IpAddress& a) const {
    if (!a.is_v4() && a == link_local) return true;
    for (const auto& p : addresses)
      if (p.addr == a) return true;
    return false;
  }
  // The address to use as source toward `dst` on this port: one on the same subnet, else
  // the first of the family (IPv6: the link-local when none).
  [[nodiscard]] std::optional<IpAddress> source_for(const IpAddress& dst) const {
    const IpPrefix* first = nullptr;
    for (const auto& p : addresses) {
      if (p.addr.family != dst.family) continue;
      if (p.contains(dst)) return p.addr;
      if (!first) first = &p;
    }
    if (first) return first->addr;
    if (!dst.is_v4()) return link_local;
    return std::nullopt;
  }
  [[nodiscard]] bool on_link(const IpAddress& a) const {
    for (const auto& p : addresses)
      if (p.contains(a)) return true;
    return false;
  }
};

inline IpAddress eui64_link_local(const MacAddress& mac) {
  IpAddress a;
  a.family = Family::kV6;
  a.bytes = {0xfe, 0x80, 0, 0, 0, 0, 0, 0};
  a.bytes[8] = mac.bytes[0] ^ 0x02;
  a.bytes[9] = mac.bytes[1];
  a.bytes[10] = mac.bytes[2];
  a.bytes[11] = 0xff;
  a.bytes[12] = 0xfe;
  a.bytes[13] = mac.bytes[3];
  a.bytes[14] = mac.bytes[4];
  a.bytes[15] = mac.bytes[5];
  return a;
}

}  // namespace causeway::fwd
