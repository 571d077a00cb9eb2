// SPDX-License-Identifier: Apache-2.0
// Binary trie for cryptokey routing: one node per prefix bit, nodes in one vector addressed by
// index (no pointer chasing across allocations, cheap to copy into a published snapshot).
// Removal leaves empty nodes in place; tables are small (tens of prefixes per peer).
#include "causeway/tun/allowed_ips.h"

namespace causeway::tun {
namespace {
inline unsigned bit_at(const std::uint8_t* addr, unsigned i) {
  return (addr[i / 8] >> (7 - i % 8)) & 1u;
}
}  // namespace

AllowedIps::AllowedIps() : nodes_(2) {}

void AllowedIps::insert(const IpPrefix& prefix, PeerId peer) {
  const IpPrefix p = prefix.masked();
  std::uint32_t n = p.addr.is_v4() ? kRootV4 : kRootV6;
  for (unsigned i = 0; i < p.len; ++i) {
    const unsigned b = bit_at(p.addr.bytes.data(), i);
    if (nodes_[n].child[b] == 0) {
      nodes_[n].child[b] = static_cast<std::uint32_t>(nodes_.size());
      nodes_.emplace_back();
    }
    n = nodes_[n].child[b];
  }
  if (!nodes_[n].peer.valid()) ++count_;
  nodes_[n].peer = peer;
}

std::uint32_t AllowedIps::find_node(const IpPrefix& prefix) const {
  const IpPrefix p = prefix.masked();
  std::uint32_t n = p.addr.is_v4() ? kRootV4 : kRootV6;
  for (unsigned i = 0; i < p.len; ++i) {
    n = nodes_[n].child[bit_at(p.addr.bytes.data(), i)];
    if (n == 0) return 0;
  }
  return n;
}

bool AllowedIps::remove(const IpPrefix& prefix, PeerId peer) {
  const std::uint32_t n = find_node(prefix);
  const bool is_root = prefix.len == 0;
  if ((n == 0 && !is_root) || nodes_[n].peer != peer) return false;
  nodes_[n].peer = PeerId::invalid();
  --count_;
  return true;
}

void AllowedIps::remove_peer(PeerId peer) {
  for (auto& node : nodes_) {
    if (node.peer == peer) {
      node.peer = PeerId::invalid();
      --count_;
    }
  }
}

void AllowedIps::collect(std::uint32_t n, std::array<std::uint8_t, 16>& path, unsigned depth,
                         bool v4, PeerId peer, std::vector<IpPrefix>& out) const {
  if (nodes_[n].peer == peer) {
    IpPrefix p;
    p.addr.family = v4 ? Family::kV4 : Family::kV6;
    p.addr.bytes = path;
    p.len = static_cast<std::uint8_t>(depth);
    out.push_back(p.masked());
  }
  for (unsigned b = 0; b < 2; ++b) {
    const std::uint32_t c = nodes_[n].child[b];
    if (c == 0) continue;
    const std::uint8_t mask = static_cast<std::uint8_t>(0x80u >> (depth % 8));
    if (b) {
      path[depth / 8] |= mask;
    } else {
      path[depth / 8] &= static_cast<std::uint8_t>(~mask);
    }
    collect(c, path, depth + 1, v4, peer, out);
    path[depth / 8] &= static_cast<std::uint8_t>(~mask);
  }
}

std::vector<IpPrefix> AllowedIps::prefixes_of(PeerId peer) const {
  std::vector<IpPrefix> out;
  std::array<std::uint8_t, 16> path{};
  collect(kRootV4, path, 0, true, peer, out);
  path = {};
  collect(kRootV6, path, 0, false, peer, out);
  return out;
}

PeerId AllowedIps::walk(std::uint32_t n, const std::uint8_t* addr, unsigned bits) const noexcept {
  PeerId best = nodes_[n].peer;
  for (unsigned i = 0; i < bits; ++i) {
    n = nodes_[n].child[bit_at(addr, i)];
    if (n == 0) break;
    if (nodes_[n].peer.valid()) best = nodes_[n].peer;
  }
  return best;
}

PeerId AllowedIps::lookup_v4(const std::uint8_t* addr) const noexcept {
  return walk(kRootV4, addr, 32);
}
PeerId AllowedIps::lookup_v6(const std::uint8_t* addr) const noexcept {
  return walk(kRootV6, addr, 128);
}
PeerId AllowedIps::lookup(const IpAddress& a) const noexcept {
  return a.is_v4() ? lookup_v4(a.bytes.data()) : lookup_v6(a.bytes.data());
}

}  // namespace causeway::tun
