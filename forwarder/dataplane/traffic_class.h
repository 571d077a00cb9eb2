// SPDX-License-Identifier: Apache-2.0
// Traffic classes in the data path (DESIGN.md section 2: "SLA path choice per traffic class and
// flow hash"). tunnel_output classifies each packet of a path-group route (RouteKind 5) before it
// picks the member: the class's active set of that path group, then the flow hash among it.
//
// The table is the compiled form of control message 14 (kSetTrafficClasses,
// include/causeway/fwd/steering_codec.h): at most 15 rules in order, first match wins, a packet
// matching none is class 0. Fixed size, no pointers: it is part of the immutable PathGroupTable
// the control thread publishes (tunnel_stages.h), so the class ids and the per-class active sets
// a worker sees always belong together. A table without rules costs the caller one branch.
//
// Matching (all criteria of a rule that are set must hold; within a list one entry is enough):
//  - DSCP: the IPv4 TOS / IPv6 traffic class byte >> 2, as a 64-bit set;
//  - protocol: IPv4 protocol / IPv6 next header (extension headers are not walked: a packet
//    with one has that header's number as its protocol);
//  - port ranges: TCP, UDP and SCTP only, and never for an IPv4 fragment other than the first
//    (its L4 header is elsewhere); a packet whose L4 header is not in the frame matches no port;
//  - prefixes: longest-prefix semantics are not needed (any entry of the list), so a linear scan
//    of a few masked compares.
#pragma once

#include <cstdint>
#include <cstring>

#include "wire.h"

namespace causeway::fwd {

inline constexpr unsigned kTrafficClassSlots = 16;  // class ids 0..15; 0 = default
inline constexpr unsigned kMaxClassRules = 15;
inline constexpr unsigned kMaxRulePorts = 16;     // per list
inline constexpr unsigned kMaxRulePrefixes = 16;  // per list (both families together)

struct RulePorts {
  std::uint8_t n = 0;
  std::uint16_t first[kMaxRulePorts];
  std::uint16_t last[kMaxRulePorts];
};

// Prefixes of one list, by family. v6 as two 64-bit halves (host order) with their masks.
struct RulePrefixes {
  std::uint8_t n4 = 0, n6 = 0;
  std::uint32_t addr4[kMaxRulePrefixes], mask4[kMaxRulePrefixes];
  std::uint64_t addr6[kMaxRulePrefixes][2], mask6[kMaxRulePrefixes][2];
  [[nodiscard]] bool empty() const noexcept { return n4 == 0 && n6 == 0; }
};

struct ClassRule {
  enum : std::uint8_t {
    kDscp = 1u << 0,
    kProtocol = 1u << 1,
    kPorts = 1u << 2,  // any of the three port lists is set
    kPrefixes = 1u << 3,
  };
  std::uint8_t id = 0;     // 1..15
  std::uint8_t match = 0;  // which criteria are set (bits above)
  std::uint8_t protocol = 0;
  std::uint64_t dscp = 0;  // bit d: DSCP d
  RulePorts ports, src_ports, dst_ports;
  RulePrefixes prefixes, src_prefixes, dst_prefixes;
};

struct TrafficClassifier {
  std::uint8_t n_rules = 0;
  ClassRule rules[kMaxClassRules];
};

namespace traffic_class_detail {

inline bool in_ports(const RulePorts& r, std::uint16_t port) noexcept {
  for (unsigned i = 0; i < r.n; ++i) {
    if (port >= r.first[i] && port <= r.last[i]) return true;
  }
  return false;
}

inline std::uint64_t load_u64_be(const std::uint8_t* p) noexcept {
  return (std::uint64_t{wire::load_be32(p)} << 32) | wire::load_be32(p + 4);
}

inline bool in_prefixes(const RulePrefixes& r, const std::uint8_t* addr, bool v4) noexcept {
  if (v4) {
    const std::uint32_t a = wire::load_be32(addr);
    for (unsigned i = 0; i < r.n4; ++i) {
      if ((a & r.mask4[i]) == r.addr4[i]) return true;
    }
    return false;
  }
  const std::uint64_t hi = load_u64_be(addr), lo = load_u64_be(addr + 8);
  for (unsigned i = 0; i < r.n6; ++i) {
    if ((hi & r.mask6[i][0]) == r.addr6[i][0] && (lo & r.mask6[i][1]) == r.addr6[i][1]) {
      return true;
    }
  }
  return false;
}

}  // namespace traffic_class_detail

// The class of the IP packet at `ip` (`len` bytes of it in the frame; the header itself was
// validated by input). 0 when no rule matches.
inline std::uint8_t classify(const TrafficClassifier& t, const std::uint8_t* ip, bool v4,
                             std::uint32_t len) noexcept {
  using namespace wire;
  using namespace traffic_class_detail;
  std::uint8_t dscp, proto;
  std::uint32_t l4;
  bool has_l4;
  const std::uint8_t *src, *dst;
  if (v4) {
    dscp = ip[1] >> 2;
    proto = ip[kIp4OffProto];
    l4 = (ip[0] & 0x0fu) * 4u;
    has_l4 = (load_be16(ip + kIp4OffFlagsFrag) & 0x1fff) == 0;  // not a later fragment
    src = ip + kIp4OffSrc;
    dst = ip + kIp4OffDst;
  } else {
    dscp = static_cast<std::uint8_t>(((ip[0] & 0x0fu) << 2) | (ip[1] >> 6));
    proto = ip[kIp6OffNextHeader];
    l4 = kIp6HeaderLen;
    has_l4 = true;
    src = ip + kIp6OffSrc;
    dst = ip + kIp6OffDst;
  }
  has_l4 = has_l4 && (proto == 6 || proto == kIpProtoUdp || proto == 132) && l4 + 4 <= len;
  const std::uint16_t sport = has_l4 ? load_be16(ip + l4) : 0;
  const std::uint16_t dport = has_l4 ? load_be16(ip + l4 + 2) : 0;
  for (unsigned i = 0; i < t.n_rules; ++i) {
    const ClassRule& r = t.rules[i];
    if ((r.match & ClassRule::kDscp) && ((r.dscp >> dscp) & 1u) == 0) continue;
    if ((r.match & ClassRule::kProtocol) && r.protocol != proto) continue;
    if (r.match & ClassRule::kPorts) {
      if (!has_l4) continue;
      if (r.ports.n && !in_ports(r.ports, sport) && !in_ports(r.ports, dport)) continue;
      if (r.src_ports.n && !in_ports(r.src_ports, sport)) continue;
      if (r.dst_ports.n && !in_ports(r.dst_ports, dport)) continue;
    }
    if (r.match & ClassRule::kPrefixes) {
      if (!r.prefixes.empty() && !in_prefixes(r.prefixes, src, v4) &&
          !in_prefixes(r.prefixes, dst, v4)) {
        continue;
      }
      if (!r.src_prefixes.empty() && !in_prefixes(r.src_prefixes, src, v4)) continue;
      if (!r.dst_prefixes.empty() && !in_prefixes(r.dst_prefixes, dst, v4)) continue;
    }
    return r.id;
  }
  return 0;
}

}  // namespace causeway::fwd
