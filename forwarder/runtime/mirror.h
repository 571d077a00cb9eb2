// SPDX-License-Identifier: Apache-2.0
// Kernel mirror interfaces (the exception path, DESIGN.md section 1): one TAP device per
// port, carrying the port's MAC, MTU and addresses, so the kernel (and FRR on it) sees the
// appliance's interfaces. Frames for the appliance itself are written to the mirror; frames
// the kernel sends on a mirror leave through the port. A tunnel with an overlay address gets
// an L3 mirror (a TUN device, no MAC, no ARP, like a WireGuard interface) that carries IP
// packets without an Ethernet header. Owned by the control thread.
//
// Lifetime: a new TAP or TUN disappears with its file descriptor until persist() is called, so
// a forwarder that fails to start leaves nothing behind. Once the forwarder runs, its mirrors
// (port TAPs and tunnel TUNs alike) are persistent: when the forwarder stops (or crashes) the
// kernel interface stays, with its ifindex and addresses and the carrier off, and the next
// forwarder attaches to it again. The kernel's and FRR's view of the interfaces then survives a
// forwarder restart as a link flap, not as an interface deleted and created anew: FRR 8.4's
// zebra reads link and address events on two netlink sockets and, when busy, loses the
// addresses of an interface re-created under the same name (seen as a BGP session "Waiting for
// NHT" after a restart). The iBGP sessions over the overlay run on the tunnel mirrors' addresses,
// so those need it as much as the ports' eBGP sessions do.
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
  // Keeps the kernel interface after this process closes it (TUNSETPERSIST).
  [[nodiscard]] Result<void> persist();
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
