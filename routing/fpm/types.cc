// SPDX-License-Identifier: Apache-2.0
// Names of the public FPM types (include/causeway/rt/fpm.h) and the counter table.
#include <iterator>

#include "causeway/rt/fpm.h"

namespace causeway::rt::fpm {

std::string_view to_string(RouteType type) {
  switch (type) {
    case RouteType::kUnicast:
      return "unicast";
    case RouteType::kBlackhole:
      return "blackhole";
    case RouteType::kUnreachable:
      return "unreachable";
    case RouteType::kProhibit:
      return "prohibit";
  }
  return "unknown";
}

std::string_view to_string(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAdd:
      return "add";
    case ChangeKind::kReplace:
      return "replace";
    case ChangeKind::kDelete:
      return "delete";
  }
  return "unknown";
}

namespace {
constexpr CounterInfo kCounterInfo[] = {
    {"connections", "zebra connections accepted"},
    {"snapshots", "snapshots begun (one per connection)"},
    {"sweeps", "snapshots completed by a sweep after the quiet period"},
    {"routes_swept", "routes deleted because the replay did not repeat them"},
    {"nhgs_swept", "next-hop objects dropped because the replay did not repeat them"},
    {"bytes", "bytes received from zebra"},
    {"frames", "FPM frames received whole"},
    {"messages", "netlink messages delimited inside frames"},
    {"batches", "batches handed to the route sink"},
    {"changes", "route changes handed to the route sink"},
    {"attrs_ignored", "unknown netlink attributes skipped inside accepted messages"},
    {"delete_unknown", "RTM_DELROUTE for a route not in the table"},
    {"frames_partial", "frames applied without some of their messages (dropped)"},
    {"drop_frame_bad_version", "FPM header version is not 1; connection closed"},
    {"drop_frame_bad_type", "FPM header type is not 1 (netlink); connection closed"},
    {"drop_frame_bad_length", "FPM frame shorter than header + nlmsghdr; connection closed"},
    {"drop_nlmsg_bad_length", "nlmsg_len outside the frame; rest of the frame skipped"},
    {"drop_msg_type_ignored", "netlink message type other than routes and next hops"},
    {"drop_msg_too_short", "message shorter than its fixed header (rtmsg, nhmsg)"},
    {"drop_attr_truncated", "rtattr length outside its message"},
    {"drop_attr_bad_size", "attribute of the wrong size for its type or family"},
    {"drop_route_bad_family", "route family other than IPv4/IPv6"},
    {"drop_route_bad_prefix_len", "destination prefix length too long for the family"},
    {"drop_route_type_unsupported", "route type other than unicast/blackhole/unreachable/prohibit"},
    {"drop_route_encap_unsupported", "route or next hop with an encapsulation (EVPN, MPLS)"},
    {"drop_route_no_next_hop", "unicast route with neither next hops nor a group id"},
    {"drop_multipath_malformed", "RTA_MULTIPATH entry with a bad length"},
    {"drop_libnl_parse_failed", "libnl rejected a route message that passed validation"},
    {"drop_nhg_bad_id", "next-hop object or reference with id 0 or none"},
    {"drop_nhg_malformed", "next-hop object that is not exactly one of hop/blackhole/group"},
    {"drop_nhg_undefined", "route withdrawn: its next-hop object was never defined"},
};
static_assert(std::size(kCounterInfo) == kCounterCount, "one name per Counter");
}  // namespace

const CounterInfo& counter_info(Counter c) {
  return kCounterInfo[static_cast<std::size_t>(c)];
}

std::uint64_t Counters::drops() const {
  std::uint64_t sum = 0;
  for (std::size_t i = static_cast<std::size_t>(Counter::kFrameBadVersion); i < kCounterCount;
       ++i) {
    sum += v_[i];
  }
  return sum;
}

}  // namespace causeway::rt::fpm
