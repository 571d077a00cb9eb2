// SPDX-License-Identifier: Apache-2.0
// Next-hop groups on the control socket (docs/control-socket.md, "Next-hop groups"): ECMP over
// gateways. A route of kind RouteKind::kNextHopGroup names a group by id (in its `port` field);
// the group's members, each a (port, gateway) pair, share the route's traffic by flow hash.
//  - kSetNextHopGroup (15): {"id": N, "members": [{"port": "wan0" | 3, "gateway": "10.9.0.2"}]}
//    creates group N or replaces its members in place (routes untouched);
//  - kDeleteNextHopGroup (16): {"id": N}; refused (EBUSY) while a route refers to the group.
// Pure functions shared by the forwarder (decoding untrusted requests), causeway-routed and
// causewayctl (encoding). Decoding checks the syntax whole and names the first bad field; whether
// a port exists is the forwarder's business.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "causeway/common/ip.h"
#include "causeway/common/result.h"

namespace causeway::fwd::ctl {

inline constexpr unsigned kMaxNextHopGroups = 4096;      // ids 0..4095
inline constexpr unsigned kMaxNextHopGroupMembers = 16;  // zebra's default multipath limit

struct NextHopMember {
  // The output port: by index (routed, which reads kGetPorts) or by name (operators).
  std::optional<std::uint16_t> port_index;
  std::string port_name;
  IpAddress gateway;
  friend bool operator==(const NextHopMember&, const NextHopMember&) = default;
};

struct NextHopGroupRequest {
  std::uint16_t id = 0;
  std::vector<NextHopMember> members;  // 1..kMaxNextHopGroupMembers, distinct, one family
  friend bool operator==(const NextHopGroupRequest&, const NextHopGroupRequest&) = default;
};

// kSetNextHopGroup: id in range, 1..16 members, each with a port (index or name) and a unicast
// gateway, all of one family, no member twice. EINVAL naming the field ("members[1].gateway: ...").
[[nodiscard]] Result<NextHopGroupRequest> parse_nexthop_group(const nlohmann::json& request);
[[nodiscard]] nlohmann::json nexthop_group_json(const NextHopGroupRequest& request);
// kDeleteNextHopGroup: {"id": N}.
[[nodiscard]] Result<std::uint16_t> parse_nexthop_group_id(const nlohmann::json& request);

}  // namespace causeway::fwd::ctl
