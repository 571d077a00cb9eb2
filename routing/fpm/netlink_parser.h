// SPDX-License-Identifier: Apache-2.0
// rtnetlink messages of one FPM frame -> route and next-hop-group operations (sans-I/O).
// zebra (dplane_fpm_nl, FRR 8.4.4) puts ordinary kernel-format rtnetlink messages in each
// frame, host byte order, 4-byte aligned: RTM_NEWROUTE / RTM_DELROUTE (IPv4, IPv6) and, in
// next-hop-group mode, RTM_NEWNEXTHOP / RTM_DELNEXTHOP. A route update is RTM_DELROUTE +
// RTM_NEWROUTE in one frame.
//
// Every message is validated by hand first (lengths of the header, every rtattr, every
// nested rtnexthop) so that nothing malformed reaches libnl; a malformed message is counted
// under its reason and skipped, the frame's other messages stand. Route fields are then
// read with libnl-route-3 (rtnl_route_parse); what libnl 3.7 cannot see is read by hand:
// RTA_NH_ID (rtnl_route_get_nhid arrived in libnl 3.10) and the RTM_*NEXTHOP objects
// (rtnl_nh_* arrived in libnl 3.8; Debian 12 ships 3.7).
#pragma once

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "causeway/rt/fpm.h"

namespace causeway::rt::fpm {

struct GroupMember {
  std::uint32_t id = 0;
  std::uint32_t weight = 1;  // NHA_GROUP weight + 1
  friend auto operator<=>(const GroupMember&, const GroupMember&) = default;
};

// A next-hop object (RTM_NEWNEXTHOP): one hop, a blackhole, or a group of other objects.
struct NextHopObject {
  enum class Kind : std::uint8_t { kHop, kBlackhole, kGroup };
  Kind kind = Kind::kHop;
  NextHop hop;                       // kHop
  std::vector<GroupMember> members;  // kGroup, in wire order
  friend bool operator==(const NextHopObject&, const NextHopObject&) = default;
};

struct NewRoute {
  Route route;              // next_hops filled when the route carries them inline
  std::uint32_t nh_id = 0;  // RTA_NH_ID (next-hop-group mode), 0 if absent
};
struct DelRoute {
  RouteKey key;
};
struct NewNextHop {
  std::uint32_t id = 0;
  NextHopObject object;
};
struct DelNextHop {
  std::uint32_t id = 0;
};
using Operation = std::variant<NewRoute, DelRoute, NewNextHop, DelNextHop>;

// Parses the payload of one FPM frame. Appends the operations of its valid messages to
// `out` in wire order. Drops are counted; kFramesPartial when some but not all messages
// were dropped.
void parse_frame(std::span<const std::uint8_t> payload, std::vector<Operation>& out,
                 Counters& counters);

}  // namespace causeway::rt::fpm
