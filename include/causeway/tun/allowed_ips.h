// SPDX-License-Identifier: Apache-2.0
// Cryptokey routing table (whitepaper section 2): allowed IPs of every peer, one
// path-compressed binary trie per address family, longest-prefix match. A prefix belongs to at most
// one peer; inserting it for another peer moves it (as `wg set ... allowed-ips` does). Used both
// ways: destination -> peer when sending, and "is this inner source allowed for the peer it came
// from" on receive.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "causeway/common/ip.h"
#include "causeway/common/strong_id.h"

namespace causeway::tun {

struct PeerTag;
using PeerId = StrongId<PeerTag>;

class AllowedIps {
 public:
  AllowedIps();

  // Host bits of prefix are ignored (masked).
  void insert(const IpPrefix& prefix, PeerId peer);
  // Removes prefix if it belongs to peer; returns whether it did.
  bool remove(const IpPrefix& prefix, PeerId peer);
  void remove_peer(PeerId peer);
  [[nodiscard]] std::vector<IpPrefix> prefixes_of(PeerId peer) const;
  // Longest-prefix match; PeerId::invalid() if nothing covers addr.
  [[nodiscard]] PeerId lookup(const IpAddress& addr) const noexcept;
  // Same, on raw network-order bytes (4 or 16) straight from a packet header.
  [[nodiscard]] PeerId lookup_v4(const std::uint8_t* addr) const noexcept;
  [[nodiscard]] PeerId lookup_v6(const std::uint8_t* addr) const noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return count_; }

 private:
  using Bits = std::array<std::uint64_t, 2>;  // address bits, most significant first
  struct Node {
    Bits key{};  // prefix bits, zero beyond len
    std::uint8_t len = 0;
    std::uint32_t child[2] = {0, 0};  // 0 = none (node 0 is an unused sentinel)
    PeerId peer;
  };

  PeerId walk(std::uint32_t root, const Bits& addr, unsigned max_len) const noexcept;
  std::uint32_t find_node(const IpPrefix& p) const;

  std::vector<Node> nodes_;
  std::uint32_t root_[2] = {0, 0};  // IPv4, IPv6
  std::size_t count_ = 0;
};

}  // namespace causeway::tun
