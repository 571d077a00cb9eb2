// SPDX-License-Identifier: Apache-2.0
// The route table causeway-routed receives from zebra over FPM (DESIGN.md section 4), as the
// rest of routed sees it: routes keyed by (table id, prefix), next hops already resolved
// through zebra's next-hop groups, and batches of changes for a consumer (the FIB builder).
// The FPM core (routing/fpm) produces these; nothing here depends on netlink or sockets.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "causeway/common/ip.h"

namespace causeway::rt::fpm {

// rtm_type of the routes zebra sends (linux/rtnetlink.h RTN_*); others are dropped.
enum class RouteType : std::uint8_t {
  kUnicast = 1,      // RTN_UNICAST: forward to next_hops
  kBlackhole = 6,    // RTN_BLACKHOLE: drop silently (`ip route X blackhole`)
  kUnreachable = 7,  // RTN_UNREACHABLE: drop, ICMP unreachable (`ip route X reject`)
  kProhibit = 8,     // RTN_PROHIBIT: drop, ICMP administratively prohibited
};
[[nodiscard]] std::string_view to_string(RouteType type);

struct NextHop {
  std::optional<IpAddress> gateway;  // absent: directly connected through ifindex
  std::uint32_t ifindex = 0;         // kernel ifindex in zebra's namespace (0 = none given)
  std::uint32_t weight = 1;          // 1..256 (the wire carries weight-1)
  friend auto operator<=>(const NextHop&, const NextHop&) = default;
};

struct RouteKey {
  std::uint32_t table = 254;  // RT_TABLE_MAIN; RTA_TABLE overrides rtm_table
  IpPrefix prefix;
  friend auto operator<=>(const RouteKey&, const RouteKey&) = default;
};

struct Route {
  RouteKey key;
  RouteType type = RouteType::kUnicast;
  std::uint8_t protocol = 0;  // rtm_protocol (2 kernel/connected, 196 static, 186 bgp, ...)
  std::uint32_t metric = 0;   // RTA_PRIORITY
  // Sorted; empty unless type is kUnicast. ECMP members carry their weights.
  std::vector<NextHop> next_hops;
  friend bool operator==(const Route&, const Route&) = default;
};

enum class ChangeKind : std::uint8_t { kAdd, kReplace, kDelete };
[[nodiscard]] std::string_view to_string(ChangeKind kind);

struct RouteChange {
  ChangeKind kind = ChangeKind::kAdd;
  Route route;  // kDelete: the route as it was last published
};

// The consumer of the table. One call per batch: everything one FPM frame changed, or one
// sweep. Changes within a batch touch distinct keys, so their order does not matter.
class RouteSink {
 public:
  virtual ~RouteSink() = default;
  virtual void apply(std::span<const RouteChange> changes) = 0;
};

// Events and drop reasons, declared once (STYLE.md 4). Drops name why a frame or a message
// was skipped; see docs/fpm.md for what each means.
enum class Counter : std::uint8_t {
  kConnections,
  kSnapshots,
  kSweeps,
  kRoutesSwept,
  kNextHopGroupsSwept,
  kBytes,
  kFrames,
  kMessages,
  kBatches,
  kChanges,
  kAttrsIgnored,
  kDeleteUnknown,
  kFramesPartial,
  // frame drops (the connection is closed)
  kFrameBadVersion,
  kFrameBadType,
  kFrameBadLength,
  // message drops (the message is skipped, the rest of the frame is applied)
  kNlmsgBadLength,
  kMsgTypeIgnored,
  kMsgTooShort,
  kAttrTruncated,
  kAttrBadSize,
  kRouteBadFamily,
  kRouteBadPrefixLen,
  kRouteTypeUnsupported,
  kRouteEncapUnsupported,
  kRouteNoNextHop,
  kMultipathMalformed,
  kLibnlParseFailed,
  kNhgBadId,
  kNhgMalformed,
  kNhgUndefined,
  kCount_,
};
inline constexpr std::size_t kCounterCount = static_cast<std::size_t>(Counter::kCount_);

struct CounterInfo {
  std::string_view name;
  std::string_view help;
};
[[nodiscard]] const CounterInfo& counter_info(Counter c);

class Counters {
 public:
  void add(Counter c, std::uint64_t n = 1) { v_[static_cast<std::size_t>(c)] += n; }
  [[nodiscard]] std::uint64_t operator[](Counter c) const {
    return v_[static_cast<std::size_t>(c)];
  }
  [[nodiscard]] std::uint64_t drops() const;  // sum of every drop reason

 private:
  std::array<std::uint64_t, kCounterCount> v_{};
};

}  // namespace causeway::rt::fpm
