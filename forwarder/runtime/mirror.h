// SPDX-License-Identifier: Apache-2.0
// Kernel mirror interfaces (the exception path, DESIGN.md section 1): one TAP device per
// port, carrying the port's MAC, MTU and addresses, so the kernel (and FRR on it) sees the
// appliance's interfaces. Frames for the appliance itself are written to the mirror; frames
// the kernel sends on a mirror leave through the port. Owned by the control thread; the TAP
// disappears when the Mirror (its file descriptor) is destroyed.
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
  ~Mirror();
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] int ifindex() const { return ifindex_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  Mirror() = default;
  int fd_ = -1;
  int ifindex_ = 0;
  std::string name_;
};

}  // namespace causeway::fwd
