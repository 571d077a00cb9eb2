// SPDX-License-Identifier: Apache-2.0
#include "traffic_classes.h"

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "dataplane/wire.h"

namespace causeway::fwd {
namespace {

static_assert(ctl::kTrafficClassSlots == kTrafficClassSlots);
static_assert(ctl::kMaxTrafficClassId == kMaxClassRules);
static_assert(ctl::kMaxClassPortRanges <= kMaxRulePorts);
static_assert(ctl::kMaxClassPrefixes <= kMaxRulePrefixes);

std::uint64_t load_u64_be(const std::uint8_t* p) {
  return (std::uint64_t{wire::load_be32(p)} << 32) | wire::load_be32(p + 4);
}

void compile_ports(const std::vector<ctl::ClassPortRange>& in, RulePorts& out) {
  for (const auto& r : in) {
    out.first[out.n] = r.first;
    out.last[out.n++] = r.last;
  }
}

void compile_prefixes(const std::vector<IpPrefix>& in, RulePrefixes& out) {
  for (const IpPrefix& p : in) {
    if (p.addr.is_v4()) {
      const std::uint32_t mask = p.len == 0 ? 0 : ~std::uint32_t{0} << (32 - p.len);
      out.mask4[out.n4] = mask;
      out.addr4[out.n4++] = wire::load_be32(p.addr.bytes.data()) & mask;
      continue;
    }
    std::uint64_t mask[2];
    for (unsigned half = 0; half < 2; ++half) {
      const int bits = std::clamp(static_cast<int>(p.len) - 64 * static_cast<int>(half), 0, 64);
      mask[half] = bits == 0 ? 0 : ~std::uint64_t{0} << (64 - bits);
      out.mask6[out.n6][half] = mask[half];
      out.addr6[out.n6][half] = load_u64_be(p.addr.bytes.data() + 8 * half) & mask[half];
    }
    ++out.n6;
  }
}

}  // namespace

Result<TrafficClassifier> compile_traffic_classes(
    const std::vector<ctl::TrafficClassSpec>& classes) {
  TrafficClassifier t;
  if (classes.size() > kMaxClassRules) {
    return fail(fmt::format("{} traffic classes; at most {}", classes.size(), kMaxClassRules),
                EINVAL);
  }
  for (const auto& c : classes) {
    if (c.id == 0 || c.id >= kTrafficClassSlots || c.ports.size() > kMaxRulePorts ||
        c.src_ports.size() > kMaxRulePorts || c.dst_ports.size() > kMaxRulePorts ||
        c.prefixes.size() > kMaxRulePrefixes || c.src_prefixes.size() > kMaxRulePrefixes ||
        c.dst_prefixes.size() > kMaxRulePrefixes || c.dscp.size() > 64) {
      return fail(fmt::format("traffic class {}: beyond the data path's limits", c.id), EINVAL);
    }
    ClassRule& r = t.rules[t.n_rules++];
    r.id = c.id;
    for (std::uint8_t d : c.dscp) {
      if (d > 63) return fail(fmt::format("traffic class {}: DSCP {} > 63", c.id, d), EINVAL);
      r.dscp |= std::uint64_t{1} << d;
    }
    if (!c.dscp.empty()) r.match |= ClassRule::kDscp;
    if (c.protocol) {
      r.match |= ClassRule::kProtocol;
      r.protocol = *c.protocol;
    }
    compile_ports(c.ports, r.ports);
    compile_ports(c.src_ports, r.src_ports);
    compile_ports(c.dst_ports, r.dst_ports);
    if (r.ports.n || r.src_ports.n || r.dst_ports.n) r.match |= ClassRule::kPorts;
    compile_prefixes(c.prefixes, r.prefixes);
    compile_prefixes(c.src_prefixes, r.src_prefixes);
    compile_prefixes(c.dst_prefixes, r.dst_prefixes);
    if (!r.prefixes.empty() || !r.src_prefixes.empty() || !r.dst_prefixes.empty()) {
      r.match |= ClassRule::kPrefixes;
    }
  }
  return t;
}

void fill_path_group(PathGroup& out, const std::vector<std::optional<PathMember>>& members,
                     const std::vector<bool>& active,
                     const std::map<std::uint8_t, std::vector<bool>>& class_active) {
  out = PathGroup{};
  std::uint8_t index[kMaxPathMembers];
  bool resolved[kMaxPathMembers] = {};
  for (std::size_t i = 0; i < members.size() && i < kMaxPathMembers; ++i) {
    if (!members[i]) continue;
    resolved[i] = true;
    index[i] = out.n_members;
    out.members[out.n_members++] = *members[i];
  }
  for (unsigned cls = 0; cls < kTrafficClassSlots; ++cls) {
    auto own = class_active.find(static_cast<std::uint8_t>(cls));
    const std::vector<bool>& set = own != class_active.end() ? own->second : active;
    for (std::size_t i = 0; i < set.size() && i < kMaxPathMembers; ++i) {
      if (set[i] && resolved[i]) out.active[cls][out.n_active[cls]++] = index[i];
    }
  }
}

}  // namespace causeway::fwd
