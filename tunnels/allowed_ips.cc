// SPDX-License-Identifier: Apache-2.0
// Path-compressed binary trie for cryptokey routing. Each node holds a whole prefix (bits and
// length); a lookup visits only nodes whose prefixes contain the address, so a table of a few
// prefixes answers in a few steps whatever the prefix lengths (the data path checks every
// received packet's inner source). Nodes live in one vector addressed by index. Removal clears
// the owner and leaves the node in place; tables are small and change rarely.
#include "causeway/tun/allowed_ips.h"

#include <algorithm>
#include <bit>

namespace causeway::tun {
namespace {

using Bits = std::array<std::uint64_t, 2>;

Bits to_bits(const std::uint8_t* addr, bool v4) {
  Bits b{0, 0};
  const unsigned n = v4 ? 4 : 16;
  for (unsigned i = 0; i < n; ++i) b[i / 8] |= std::uint64_t{addr[i]} << (56 - 8 * (i % 8));
  return b;
}
Bits masked(Bits b, unsigned len) {
  for (unsigned w = 0; w < 2; ++w) {
    const unsigned lo = w * 64;
    if (len <= lo) {
      b[w] = 0;
    } else if (len < lo + 64) {
      b[w] &= ~0ull << (64 - (len - lo));
    }
  }
  return b;
}
inline unsigned bit_at(const Bits& b, unsigned i) {
  return (b[i >> 6] >> (63 - (i & 63))) & 1u;
}
// Length of the common leading bits of a and b, at most limit.
inline unsigned common(const Bits& a, const Bits& b, unsigned limit) {
  const std::uint64_t x0 = a[0] ^ b[0];
  const std::uint64_t x1 = a[1] ^ b[1];
  const unsigned c = x0 != 0   ? static_cast<unsigned>(std::countl_zero(x0))
                     : x1 != 0 ? 64 + static_cast<unsigned>(std::countl_zero(x1))
                               : 128;
  return std::min(c, limit);
}

}  // namespace

AllowedIps::AllowedIps() : nodes_(1) {}

void AllowedIps::insert(const IpPrefix& prefix, PeerId peer) {
  const bool v4 = prefix.addr.is_v4();
  const unsigned len = std::min<unsigned>(prefix.len, v4 ? 32 : 128);
  const Bits key = masked(to_bits(prefix.addr.bytes.data(), v4), len);
  std::uint32_t& root = root_[v4 ? 0 : 1];
  std::uint32_t parent = 0;
  unsigned side = 0;
  auto attach = [&](std::uint32_t idx) {
    if (parent == 0) {
      root = idx;
    } else {
      nodes_[parent].child[side] = idx;
    }
  };
  auto make = [&](const Bits& k, unsigned l, PeerId p) {
    Node n;
    n.key = k;
    n.len = static_cast<std::uint8_t>(l);
    n.peer = p;
    nodes_.push_back(n);
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  };
  std::uint32_t cur = root;
  for (;;) {
    if (cur == 0) {
      attach(make(key, len, peer));
      ++count_;
      return;
    }
    const Bits nkey = nodes_[cur].key;
    const unsigned nlen = nodes_[cur].len;
    const unsigned c = common(nkey, key, std::min(nlen, len));
    if (c == nlen) {
      if (nlen == len) {
        if (!nodes_[cur].peer.valid()) ++count_;
        nodes_[cur].peer = peer;
        return;
      }
      parent = cur;
      side = bit_at(key, nlen);
      cur = nodes_[cur].child[side];
      continue;
    }
    // The new prefix diverges from (or is a prefix of) this node: split above it.
    if (c == len) {
      const std::uint32_t x = make(key, len, peer);
      nodes_[x].child[bit_at(nkey, len)] = cur;
      attach(x);
    } else {
      const std::uint32_t inner = make(masked(key, c), c, PeerId::invalid());
      const std::uint32_t leaf = make(key, len, peer);
      nodes_[inner].child[bit_at(nkey, c)] = cur;
      nodes_[inner].child[bit_at(key, c)] = leaf;
      attach(inner);
    }
    ++count_;
    return;
  }
}

std::uint32_t AllowedIps::find_node(const IpPrefix& prefix) const {
  const bool v4 = prefix.addr.is_v4();
  const unsigned len = std::min<unsigned>(prefix.len, v4 ? 32 : 128);
  const Bits key = masked(to_bits(prefix.addr.bytes.data(), v4), len);
  std::uint32_t cur = root_[v4 ? 0 : 1];
  while (cur != 0) {
    const Node& n = nodes_[cur];
    if (n.len > len || common(n.key, key, n.len) != n.len) return 0;
    if (n.len == len) return cur;
    cur = n.child[bit_at(key, n.len)];
  }
  return 0;
}

bool AllowedIps::remove(const IpPrefix& prefix, PeerId peer) {
  const std::uint32_t n = find_node(prefix);
  if (n == 0 || !peer.valid() || nodes_[n].peer != peer) return false;
  nodes_[n].peer = PeerId::invalid();
  --count_;
  return true;
}

void AllowedIps::remove_peer(PeerId peer) {
  for (auto& node : nodes_) {
    if (node.peer.valid() && node.peer == peer) {
      node.peer = PeerId::invalid();
      --count_;
    }
  }
}

std::vector<IpPrefix> AllowedIps::prefixes_of(PeerId peer) const {
  std::vector<IpPrefix> out;
  for (unsigned fam = 0; fam < 2; ++fam) {
    std::vector<std::uint32_t> stack;
    if (root_[fam] != 0) stack.push_back(root_[fam]);
    std::vector<IpPrefix> found;
    while (!stack.empty()) {
      const Node& n = nodes_[stack.back()];
      stack.pop_back();
      if (n.peer.valid() && n.peer == peer) {
        IpPrefix p;
        p.addr.family = fam == 0 ? Family::kV4 : Family::kV6;
        for (unsigned i = 0; i < 16; ++i) {
          p.addr.bytes[i] = static_cast<std::uint8_t>(n.key[i / 8] >> (56 - 8 * (i % 8)));
        }
        p.len = n.len;
        found.push_back(p.masked());
      }
      for (std::uint32_t c : n.child) {
        if (c != 0) stack.push_back(c);
      }
    }
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

PeerId AllowedIps::walk(std::uint32_t cur, const Bits& addr, unsigned max_len) const noexcept {
  PeerId best;
  while (cur != 0) {
    const Node& n = nodes_[cur];
    if (common(n.key, addr, n.len) != n.len) break;
    if (n.peer.valid()) best = n.peer;
    if (n.len >= max_len) break;
    cur = n.child[bit_at(addr, n.len)];
  }
  return best;
}

PeerId AllowedIps::lookup_v4(const std::uint8_t* addr) const noexcept {
  return walk(root_[0], to_bits(addr, true), 32);
}
PeerId AllowedIps::lookup_v6(const std::uint8_t* addr) const noexcept {
  return walk(root_[1], to_bits(addr, false), 128);
}
PeerId AllowedIps::lookup(const IpAddress& a) const noexcept {
  return a.is_v4() ? lookup_v4(a.bytes.data()) : lookup_v6(a.bytes.data());
}

}  // namespace causeway::tun
