// SPDX-License-Identifier: Apache-2.0
// See netlink_parser.h for the flow. Wire layouts: linux/netlink.h (struct nlmsghdr, struct
// nlattr), linux/rtnetlink.h (struct rtmsg, struct rtnexthop, RTA_*), linux/nexthop.h
// (struct nhmsg, struct nexthop_grp, NHA_*). All fields are host byte order (netlink).
#include "netlink_parser.h"

#include <linux/netlink.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/netlink.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

namespace causeway::rt::fpm {
namespace {

constexpr std::size_t kNlmsgHdrSize = sizeof(nlmsghdr);
constexpr std::size_t kRtmsgSize = sizeof(rtmsg);
constexpr std::size_t kNhmsgSize = sizeof(nhmsg);
constexpr std::size_t kRtnhSize = sizeof(rtnexthop);
constexpr std::size_t kNexthopGrpSize = sizeof(nexthop_grp);
static_assert(kNlmsgHdrSize == 16 && kRtmsgSize == 12 && kNhmsgSize == 8 && kRtnhSize == 8 &&
              kNexthopGrpSize == 8);
// Attribute type bits that are flags, not part of the type (RTA_MULTIPATH arrives as 0x8009).
constexpr std::uint16_t kNlaTypeMask =
    static_cast<std::uint16_t>(~(NLA_F_NESTED | NLA_F_NET_BYTEORDER));

using Drop = std::optional<Counter>;
using Bytes = std::span<const std::uint8_t>;

constexpr std::size_t align4(std::size_t n) {
  return (n + 3) & ~std::size_t{3};
}
std::uint16_t load16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
std::uint32_t load32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Walks a run of netlink attributes. f(type, payload) returns a drop reason or nothing.
// Every attribute must lie inside `b`; the run may end with the last attribute's padding.
template <typename F>
Drop walk_attrs(Bytes b, F&& f) {
  while (b.size() >= NLA_HDRLEN) {
    std::size_t len = load16(b.data());
    auto type = static_cast<std::uint16_t>(load16(b.data() + 2) & kNlaTypeMask);
    if (len < NLA_HDRLEN || len > b.size()) return Counter::kAttrTruncated;
    if (Drop d = f(type, b.subspan(NLA_HDRLEN, len - NLA_HDRLEN))) return d;
    b = b.subspan(std::min(align4(len), b.size()));
  }
  if (!b.empty()) return Counter::kAttrTruncated;
  return std::nullopt;
}

std::size_t addr_len(std::uint8_t family) {
  return family == AF_INET ? 4 : 16;
}

Drop check_size(Bytes v, std::size_t want) {
  return v.size() == want ? Drop{} : Drop{Counter::kAttrBadSize};
}

// RTA_VIA: u16 family + address (IPv4 routes over IPv6 next hops).
Drop check_via(Bytes v) {
  if (v.size() < 2) return Counter::kAttrBadSize;
  std::uint16_t family = load16(v.data());
  if (family != AF_INET && family != AF_INET6) return Counter::kAttrBadSize;
  return check_size(v.subspan(2), addr_len(static_cast<std::uint8_t>(family)));
}

// RTA_MULTIPATH: a run of struct rtnexthop, each followed by its own attributes. Checked
// strictly (every entry >= 8 bytes and padded inside the attribute) because libnl 3.7's
// parse_multipath trusts rtnh_len.
Drop check_multipath(Bytes v, std::size_t alen, Counters& counters) {
  if (v.empty()) return Counter::kMultipathMalformed;
  while (!v.empty()) {
    if (v.size() < kRtnhSize) return Counter::kMultipathMalformed;
    std::size_t len = load16(v.data());
    if (len < kRtnhSize || align4(len) > v.size()) return Counter::kMultipathMalformed;
    Drop d =
        walk_attrs(v.subspan(kRtnhSize, len - kRtnhSize), [&](std::uint16_t type, Bytes a) -> Drop {
          switch (type) {
            case RTA_GATEWAY:
              return check_size(a, alen);
            case RTA_VIA:
              return check_via(a);
            case RTA_FLOW:
              return check_size(a, 4);
            case RTA_ENCAP:
            case RTA_ENCAP_TYPE:
            case RTA_NEWDST:
              return Counter::kRouteEncapUnsupported;
            default:
              counters.add(Counter::kAttrsIgnored);
              return std::nullopt;
          }
        });
    if (d) return d == Counter::kAttrTruncated ? Drop{Counter::kMultipathMalformed} : d;
    v = v.subspan(align4(len));
  }
  return std::nullopt;
}

std::optional<IpAddress> to_ip(const nl_addr* a) {
  if (a == nullptr) return std::nullopt;
  int family = nl_addr_get_family(a);
  unsigned len = nl_addr_get_len(a);
  IpAddress ip;
  if (family == AF_INET && len == 4) {
    ip.family = Family::kV4;
  } else if (family == AF_INET6 && len == 16) {
    ip.family = Family::kV6;
  } else {
    return std::nullopt;
  }
  std::memcpy(ip.bytes.data(), nl_addr_get_binary_addr(a), len);
  return ip;
}

struct RoutePut {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};

// One RTM_NEWROUTE / RTM_DELROUTE (msg = header + body, already delimited).
Drop parse_route(Bytes msg, bool is_new, std::vector<Operation>& out, Counters& counters) {
  if (msg.size() < kNlmsgHdrSize + kRtmsgSize) return Counter::kMsgTooShort;
  rtmsg rtm;
  std::memcpy(&rtm, msg.data() + kNlmsgHdrSize, kRtmsgSize);
  if (rtm.rtm_family != AF_INET && rtm.rtm_family != AF_INET6) return Counter::kRouteBadFamily;
  std::size_t alen = addr_len(rtm.rtm_family);
  if (rtm.rtm_dst_len > alen * 8) return Counter::kRouteBadPrefixLen;
  if (rtm.rtm_src_len != 0) return Counter::kRouteTypeUnsupported;  // source-specific route
  if (is_new && rtm.rtm_type != RTN_UNICAST && rtm.rtm_type != RTN_BLACKHOLE &&
      rtm.rtm_type != RTN_UNREACHABLE && rtm.rtm_type != RTN_PROHIBIT) {
    return Counter::kRouteTypeUnsupported;
  }

  std::uint32_t nh_id = 0;
  bool has_dst = false;
  Drop d =
      walk_attrs(msg.subspan(kNlmsgHdrSize + kRtmsgSize), [&](std::uint16_t type, Bytes v) -> Drop {
        switch (type) {
          case RTA_DST:
            has_dst = true;
            return check_size(v, alen);
          case RTA_GATEWAY:
          case RTA_PREFSRC:
            return check_size(v, alen);
          case RTA_OIF:
          case RTA_PRIORITY:
          case RTA_TABLE:
          case RTA_FLOW:
            return check_size(v, 4);
          case RTA_NH_ID:
            if (v.size() != 4) return Counter::kAttrBadSize;
            nh_id = load32(v.data());
            return nh_id == 0 ? Drop{Counter::kNhgBadId} : Drop{};
          case RTA_VIA:
            return check_via(v);
          case RTA_MULTIPATH:
            return check_multipath(v, alen, counters);
          case RTA_METRICS:  // RTAX_* values; only their framing matters here
            return walk_attrs(v, [](std::uint16_t, Bytes) -> Drop { return std::nullopt; });
          case RTA_ENCAP:
          case RTA_ENCAP_TYPE:
          case RTA_NEWDST:
            return is_new ? Drop{Counter::kRouteEncapUnsupported} : Drop{};
          default:
            counters.add(Counter::kAttrsIgnored);
            return std::nullopt;
        }
      });
  if (d) return d;
  if (rtm.rtm_dst_len != 0 && !has_dst) return Counter::kAttrBadSize;

  // The message is well formed: let libnl read it. It needs an aligned, writable copy.
  thread_local std::vector<std::uint32_t> aligned;
  aligned.assign((msg.size() + 3) / 4, 0);
  std::memcpy(aligned.data(), msg.data(), msg.size());
  rtnl_route* raw = nullptr;
  if (rtnl_route_parse(reinterpret_cast<nlmsghdr*>(aligned.data()), &raw) < 0 || raw == nullptr) {
    return Counter::kLibnlParseFailed;
  }
  std::unique_ptr<rtnl_route, RoutePut> r(raw);

  Route route;
  const nl_addr* dst = rtnl_route_get_dst(r.get());
  route.key.prefix.addr.family = rtm.rtm_family == AF_INET ? Family::kV4 : Family::kV6;
  if (dst != nullptr && nl_addr_get_len(dst) == alen) {
    std::memcpy(route.key.prefix.addr.bytes.data(), nl_addr_get_binary_addr(dst), alen);
  }
  route.key.prefix.len = rtm.rtm_dst_len;
  route.key.prefix = route.key.prefix.masked();
  route.key.table = rtnl_route_get_table(r.get());
  if (!is_new) {
    out.emplace_back(DelRoute{route.key});
    return std::nullopt;
  }
  route.type = static_cast<RouteType>(rtnl_route_get_type(r.get()));
  route.protocol = rtnl_route_get_protocol(r.get());
  route.metric = rtnl_route_get_priority(r.get());
  if (route.type == RouteType::kUnicast && nh_id == 0) {
    int n = rtnl_route_get_nnexthops(r.get());
    for (int i = 0; i < n; ++i) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r.get(), i);
      if (nh == nullptr) return Counter::kLibnlParseFailed;
      NextHop hop;
      hop.ifindex = static_cast<std::uint32_t>(std::max(rtnl_route_nh_get_ifindex(nh), 0));
      hop.gateway = to_ip(rtnl_route_nh_get_gateway(nh));
      if (!hop.gateway) hop.gateway = to_ip(rtnl_route_nh_get_via(nh));
      // libnl returns rtnh_hops as it is on the wire: weight - 1 (FRR rt_netlink.c).
      hop.weight = std::uint32_t{rtnl_route_nh_get_weight(nh)} + 1;
      route.next_hops.push_back(hop);
    }
    if (route.next_hops.empty()) return Counter::kRouteNoNextHop;
    std::sort(route.next_hops.begin(), route.next_hops.end());
  }
  if (route.type != RouteType::kUnicast) nh_id = 0;
  out.emplace_back(NewRoute{std::move(route), nh_id});
  return std::nullopt;
}

// One RTM_NEWNEXTHOP / RTM_DELNEXTHOP, by hand (libnl 3.7 has no next-hop objects).
Drop parse_nexthop(Bytes msg, bool is_new, std::vector<Operation>& out, Counters& counters) {
  if (msg.size() < kNlmsgHdrSize + kNhmsgSize) return Counter::kMsgTooShort;
  std::uint8_t family = msg[kNlmsgHdrSize];
  std::uint32_t id = 0;
  bool have_id = false, blackhole = false, have_group = false, have_hop = false;
  NextHopObject object;
  Drop d =
      walk_attrs(msg.subspan(kNlmsgHdrSize + kNhmsgSize), [&](std::uint16_t type, Bytes v) -> Drop {
        switch (type) {
          case NHA_ID:
            if (v.size() != 4) return Counter::kAttrBadSize;
            id = load32(v.data());
            have_id = true;
            return std::nullopt;
          case NHA_GROUP:
            if (v.empty() || v.size() % kNexthopGrpSize != 0) return Counter::kNhgMalformed;
            have_group = true;
            for (std::size_t i = 0; i < v.size(); i += kNexthopGrpSize) {
              GroupMember m{load32(v.data() + i), std::uint32_t{v[i + 4]} + 1};
              if (m.id == 0) return Counter::kNhgMalformed;
              object.members.push_back(m);
            }
            return std::nullopt;
          case NHA_GROUP_TYPE:
            return check_size(v, 2);
          case NHA_BLACKHOLE:
            blackhole = true;
            return check_size(v, 0);
          case NHA_OIF:
            if (v.size() != 4) return Counter::kAttrBadSize;
            object.hop.ifindex = load32(v.data());
            have_hop = true;
            return std::nullopt;
          case NHA_GATEWAY: {
            if (family != AF_INET && family != AF_INET6) return Counter::kAttrBadSize;
            if (Drop bad = check_size(v, addr_len(family))) return bad;
            IpAddress gw;
            gw.family = family == AF_INET ? Family::kV4 : Family::kV6;
            std::memcpy(gw.bytes.data(), v.data(), v.size());
            object.hop.gateway = gw;
            have_hop = true;
            return std::nullopt;
          }
          case NHA_ENCAP:
          case NHA_ENCAP_TYPE:
            return is_new ? Drop{Counter::kRouteEncapUnsupported} : Drop{};
          default:
            counters.add(Counter::kAttrsIgnored);
            return std::nullopt;
        }
      });
  if (d) return d;
  if (!have_id || id == 0) return Counter::kNhgBadId;
  if (!is_new) {
    out.emplace_back(DelNextHop{id});
    return std::nullopt;
  }
  if (int{have_group} + int{blackhole} + int{have_hop} != 1) return Counter::kNhgMalformed;
  if (have_group) {
    object.kind = NextHopObject::Kind::kGroup;
    for (const auto& m : object.members) {
      if (m.id == id) return Counter::kNhgMalformed;
    }
  } else if (blackhole) {
    object.kind = NextHopObject::Kind::kBlackhole;
  }
  out.emplace_back(NewNextHop{id, std::move(object)});
  return std::nullopt;
}

Drop parse_message(std::uint16_t type, Bytes msg, std::vector<Operation>& out, Counters& counters) {
  switch (type) {
    case RTM_NEWROUTE:
      return parse_route(msg, true, out, counters);
    case RTM_DELROUTE:
      return parse_route(msg, false, out, counters);
    case RTM_NEWNEXTHOP:
      return parse_nexthop(msg, true, out, counters);
    case RTM_DELNEXTHOP:
      return parse_nexthop(msg, false, out, counters);
    default:
      return Counter::kMsgTypeIgnored;
  }
}

}  // namespace

void parse_frame(std::span<const std::uint8_t> payload, std::vector<Operation>& out,
                 Counters& counters) {
  std::size_t good = 0, dropped = 0;
  while (!payload.empty()) {
    std::size_t len = payload.size() >= kNlmsgHdrSize ? load32(payload.data()) : 0;
    if (len < kNlmsgHdrSize || len > payload.size()) {
      // The rest of the frame cannot be delimited: skip it.
      counters.add(Counter::kNlmsgBadLength);
      ++dropped;
      break;
    }
    counters.add(Counter::kMessages);
    std::size_t before = out.size();
    if (Drop d = parse_message(load16(payload.data() + 4), payload.first(len), out, counters)) {
      out.resize(before);
      counters.add(*d);
      ++dropped;
    } else {
      ++good;
    }
    payload = payload.subspan(std::min(align4(len), payload.size()));
  }
  if (dropped != 0 && good != 0) counters.add(Counter::kFramesPartial);
}

}  // namespace causeway::rt::fpm
