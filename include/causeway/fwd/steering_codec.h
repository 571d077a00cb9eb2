// SPDX-License-Identifier: Apache-2.0
// The steering messages of the control socket (docs/control-socket.md), as values:
//  - kSetTrafficClasses (14): the whole traffic class table, which packets of a path-group
//    route belong to which class (first match wins; packets matching none are class 0);
//  - kSetPathGroup (11): a path group's members, its active set and, per traffic class, the
//    active set of that class (a class without an entry uses `active`).
// Pure functions shared by the forwarder (decoding untrusted requests), causeway-routed and
// causewayctl (encoding). Decoding validates the whole request and names the first bad field;
// it never throws and never returns a partial result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "causeway/common/ip.h"
#include "causeway/common/result.h"

namespace causeway::fwd::ctl {

inline constexpr unsigned kMaxTrafficClassId = 15;  // classes 1..15; 0 is the default class
inline constexpr unsigned kTrafficClassSlots = kMaxTrafficClassId + 1;
inline constexpr unsigned kMaxClassPortRanges = 16;  // per list
inline constexpr unsigned kMaxClassPrefixes = 16;    // per list
inline constexpr std::size_t kMaxClassNameLength = 32;

struct ClassPortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  friend bool operator==(const ClassPortRange&, const ClassPortRange&) = default;
};

// One traffic class. Every criterion that is set must match (an empty list = any); within a
// list one entry is enough. `ports` / `prefixes` match the source or the destination, the
// src_/dst_ lists one side only. Port criteria match TCP, UDP and SCTP packets only.
struct TrafficClassSpec {
  std::uint8_t id = 0;                   // 1..15, unique
  std::string name;                      // for display; may be empty
  std::vector<std::uint8_t> dscp;        // 0..63
  std::optional<std::uint8_t> protocol;  // IP protocol number
  std::vector<ClassPortRange> ports, src_ports, dst_ports;
  std::vector<IpPrefix> prefixes, src_prefixes, dst_prefixes;
  friend bool operator==(const TrafficClassSpec&, const TrafficClassSpec&) = default;
};

// {"classes": [...]} -> the table, in order. EINVAL naming the field ("classes[2].ports[0]: ...").
[[nodiscard]] Result<std::vector<TrafficClassSpec>> parse_traffic_classes(
    const nlohmann::json& request);
[[nodiscard]] nlohmann::json traffic_classes_json(const std::vector<TrafficClassSpec>& classes);

struct PathMemberName {
  std::string tunnel;
  std::string peer;  // the peer's name, or its public key in base64
  friend bool operator==(const PathMemberName&, const PathMemberName&) = default;
};

struct ClassActive {
  std::uint8_t traffic_class = 0;      // 0..15
  std::vector<PathMemberName> active;  // empty: the class is dropped
  friend bool operator==(const ClassActive&, const ClassActive&) = default;
};

struct PathGroupRequest {
  std::uint16_t id = 0;
  std::vector<PathMemberName> members;  // empty: delete the group
  std::vector<PathMemberName> active;   // empty: every member
  std::vector<ClassActive> classes;     // each class at most once
  friend bool operator==(const PathGroupRequest&, const PathGroupRequest&) = default;
};

// The syntax of a kSetPathGroup request (id below `max_groups`, members well formed, classes
// in range and unique). Whether the members exist is the forwarder's business.
[[nodiscard]] Result<PathGroupRequest> parse_path_group(const nlohmann::json& request,
                                                        unsigned max_groups);
[[nodiscard]] nlohmann::json path_group_json(const PathGroupRequest& request);

// "udp" | "tcp" | ... | "0".."255" -> protocol number; names as in the intent (docs/intent.md).
[[nodiscard]] std::optional<std::uint8_t> parse_ip_protocol(const nlohmann::json& value);

}  // namespace causeway::fwd::ctl
