// SPDX-License-Identifier: Apache-2.0
// Kernel mirror interfaces (the exception path, DESIGN.md section 1): one TAP device per
// port, carrying the port's MAC, MTU and addresses, so the kernel (and FRR on it) sees the
// appliance's interfaces. Frames for the appliance itself are written to the mirror; frames
// the kernel sends on a mirror leave through the port. A tunnel with an overlay address gets
// an L3 mirror (a TUN device, no MAC, no ARP, like a WireGuard interface) that carries IP
// packets without an Ethernet header. Owned by the control thread; the device disappears when
// the Mirror (its file descriptor) is destroyed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "causeway/common/ip.h"
#include "causeway/common/result.h"

namespace causeway::fwd {

class Mirror {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Mirror>> create(const std::string& name,
                                                              const MacAddress& mac, unsigned mtu,
                                                              const std::vector<IpPrefix>& addrs);
  // The L3 mirror of a tunnel: reads and writes are bare IP packets.
  [[nodiscard]] static Result<std::unique_ptr<Mirror>> create_l3(
      const std::string& name, unsigned mtu, const std::vector<IpPrefix>& addrs);
  ~Mirror();
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] int ifindex() const { return ifindex_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  Mirror() = default;
  [[nodiscard]] static Result<std::unique_ptr<Mirror>> open_device(
      const std::string& name, const MacAddress* mac, unsigned mtu,
      const std::vector<IpPrefix>& addrs);
  int fd_ = -1;
  int ifindex_ = 0;
  std::string name_;
};

}  // namespace causeway::fwd
