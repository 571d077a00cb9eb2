// SPDX-License-Identifier: Apache-2.0
// Next-hop group messages of the control socket (include/causeway/fwd/nexthop_group_codec.h).
// Untrusted input: every type is checked before it is read.
#include "causeway/fwd/nexthop_group_codec.h"

#include <cerrno>

#include <fmt/format.h>

#include "control/json_fields.h"

namespace causeway::fwd::ctl {
namespace {

using nlohmann::json;

using json_fields::as_uint;
using json_fields::invalid;

bool usable_gateway(const IpAddress& a) {
  const auto& b = a.bytes;
  if (a.is_v4()) {
    return !(b[0] == 0 || b[0] == 127 || b[0] >= 224);
  }
  bool zero = true;
  for (unsigned i = 0; i < 15; ++i) zero = zero && b[i] == 0;
  return b[0] != 0xff && !(zero && (b[15] == 0 || b[15] == 1));
}

}  // namespace

Result<std::uint16_t> parse_nexthop_group_id(const json& request) {
  if (!request.is_object()) return invalid("request", "expected an object");
  auto it = request.find("id");
  const auto n = it == request.end() ? std::nullopt : as_uint(*it);
  if (!n) return invalid("id", "expected a next-hop group number");
  if (*n >= kMaxNextHopGroups) {
    return invalid("id", fmt::format("{} out of range (0..{})", *n, kMaxNextHopGroups - 1));
  }
  return static_cast<std::uint16_t>(*n);
}

Result<NextHopGroupRequest> parse_nexthop_group(const json& request) {
  auto id = parse_nexthop_group_id(request);
  if (!id) return id.error();
  NextHopGroupRequest g;
  g.id = id.value();
  auto members = request.find("members");
  if (members == request.end() || !members->is_array()) {
    return invalid("members", "expected a list of {\"port\", \"gateway\"}");
  }
  if (members->empty()) return invalid("members", "empty (delete the group instead)");
  if (members->size() > kMaxNextHopGroupMembers) {
    return invalid("members",
                   fmt::format("{} members; at most {}", members->size(), kMaxNextHopGroupMembers));
  }
  for (std::size_t i = 0; i < members->size(); ++i) {
    const json& m = (*members)[i];
    const std::string at = fmt::format("members[{}]", i);
    if (!m.is_object()) return invalid(at, "expected {\"port\", \"gateway\"}");
    NextHopMember nm;
    auto port = m.find("port");
    if (port == m.end()) return invalid(at + ".port", "missing");
    if (port->is_string()) {
      nm.port_name = port->get<std::string>();
      if (nm.port_name.empty()) return invalid(at + ".port", "empty name");
    } else if (auto n = as_uint(*port); n && *n < 0xffff) {
      nm.port_index = static_cast<std::uint16_t>(*n);
    } else {
      return invalid(at + ".port", "expected a port name or index");
    }
    auto gw = m.find("gateway");
    if (gw == m.end() || !gw->is_string()) return invalid(at + ".gateway", "expected an address");
    auto addr = IpAddress::parse(gw->get<std::string>());
    if (!addr)
      return invalid(at + ".gateway",
                     fmt::format("\"{}\" is not an IP address", gw->get<std::string>()));
    if (!usable_gateway(*addr)) {
      return invalid(at + ".gateway", fmt::format("{} is not a unicast address", addr->str()));
    }
    nm.gateway = *addr;
    if (!g.members.empty() && g.members.front().gateway.family != nm.gateway.family) {
      return invalid(at + ".gateway", "members must be of one address family");
    }
    for (const auto& before : g.members) {
      if (before == nm) return invalid(at, "listed twice");
    }
    g.members.push_back(std::move(nm));
  }
  return g;
}

json nexthop_group_json(const NextHopGroupRequest& request) {
  json members = json::array();
  for (const auto& m : request.members) {
    json j{{"gateway", m.gateway.str()}};
    if (m.port_index) {
      j["port"] = *m.port_index;
    } else {
      j["port"] = m.port_name;
    }
    members.push_back(std::move(j));
  }
  return json{{"id", request.id}, {"members", members}};
}

}  // namespace causeway::fwd::ctl
