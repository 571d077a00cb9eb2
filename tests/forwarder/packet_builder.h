// SPDX-License-Identifier: Apache-2.0
// A small packet builder for data-path tests (Katran style): frames are byte vectors built
// field by field, so each table row says exactly what goes in and what must come out.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "causeway/common/ip.h"
#include "dataplane/wire.h"

namespace causeway::fwd::test {

using Bytes = std::vector<std::uint8_t>;

inline void put_mac(Bytes& b, const std::string& mac) {
  auto m = MacAddress::parse(mac);
  b.insert(b.end(), m->bytes.begin(), m->bytes.end());
}
inline void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

struct Ip4Spec {
  std::string src = "10.1.0.2";
  std::string dst = "10.2.5.7";  // via the 10.2.0.0/16 gateway route
  std::uint8_t ttl = 64;
  std::uint8_t proto = 17;
  std::uint16_t payload = 26;  // bytes after the IPv4 header (a 64-byte frame)
  std::uint16_t flags_frag = 0;
};

inline Bytes eth(const std::string& dst, const std::string& src, std::uint16_t type) {
  Bytes b;
  put_mac(b, dst);
  put_mac(b, src);
  put16(b, type);
  return b;
}

inline Bytes ip4_frame(const std::string& dmac, const Ip4Spec& s) {
  Bytes b = eth(dmac, "02:00:00:00:00:99", wire::kEtherTypeIpv4);
  const std::size_t ip = b.size();
  b.resize(ip + 20 + s.payload);
  std::uint8_t* h = b.data() + ip;
  h[0] = 0x45;
  wire::store_be16(h + 2, static_cast<std::uint16_t>(20 + s.payload));
  wire::store_be16(h + 6, s.flags_frag);
  h[8] = s.ttl;
  h[9] = s.proto;
  std::memcpy(h + 12, IpAddress::parse(s.src)->bytes.data(), 4);
  std::memcpy(h + 16, IpAddress::parse(s.dst)->bytes.data(), 4);
  wire::store_be16(h + 10, wire::csum_fold(wire::csum_add(0, h, 20)));
  for (std::size_t i = 0; i < s.payload; ++i) h[20 + i] = static_cast<std::uint8_t>(i);
  return b;
}

struct Ip6Spec {
  std::string src = "2001:db8:1::2";
  std::string dst = "2001:db8:2::7";
  std::uint8_t hop_limit = 64;
  std::uint8_t next_header = 17;
  std::uint16_t payload = 16;
};

inline Bytes ip6_frame(const std::string& dmac, const Ip6Spec& s) {
  Bytes b = eth(dmac, "02:00:00:00:00:99", wire::kEtherTypeIpv6);
  const std::size_t ip = b.size();
  b.resize(ip + 40 + s.payload);
  std::uint8_t* h = b.data() + ip;
  wire::store_be32(h, 0x60000000);
  wire::store_be16(h + 4, s.payload);
  h[6] = s.next_header;
  h[7] = s.hop_limit;
  std::memcpy(h + 8, IpAddress::parse(s.src)->bytes.data(), 16);
  std::memcpy(h + 24, IpAddress::parse(s.dst)->bytes.data(), 16);
  for (std::size_t i = 0; i < s.payload; ++i) h[40 + i] = static_cast<std::uint8_t>(i);
  return b;
}

}  // namespace causeway::fwd::test
