// SPDX-License-Identifier: Apache-2.0
// Section-by-section comparison of two valid intents (reload = apply only the difference).
#include <algorithm>
#include <map>

#include "intent/intent.h"

namespace causeway::rt::intent {
namespace {

template <typename T>
void named_items(const std::vector<T>& before, const std::vector<T>& after, SectionDiff& out,
                 const std::string& prefix = "") {
  for (const T& b : after) {
    auto it =
        std::find_if(before.begin(), before.end(), [&](const T& a) { return a.name == b.name; });
    if (it == before.end()) {
      out.added.push_back(prefix + b.name);
    } else if (!(*it == b)) {
      out.changed.push_back(prefix + b.name);
    }
  }
  for (const T& a : before) {
    if (std::none_of(after.begin(), after.end(), [&](const T& b) { return a.name == b.name; })) {
      out.removed.push_back(prefix + a.name);
    }
  }
}

template <typename T>
void field(const char* name, const T& before, const T& after, SectionDiff& out) {
  if (!(before == after)) out.changed.emplace_back(name);
}

void prefixes(const char* name, const std::vector<IpPrefix>& before,
              const std::vector<IpPrefix>& after, SectionDiff& out) {
  for (const IpPrefix& p : after) {
    if (std::find(before.begin(), before.end(), p) == before.end()) {
      out.added.push_back(std::string(name) + "." + p.str());
    }
  }
  for (const IpPrefix& p : before) {
    if (std::find(after.begin(), after.end(), p) == after.end()) {
      out.removed.push_back(std::string(name) + "." + p.str());
    }
  }
}

struct ByClass {
  std::string name;
  const SlaCommunities* communities;
  friend bool operator==(const ByClass& a, const ByClass& b) {
    return *a.communities == *b.communities;
  }
};

std::vector<ByClass> by_class(const std::vector<SlaCommunities>& list) {
  std::vector<ByClass> out;
  for (const SlaCommunities& c : list) out.push_back({c.traffic_class, &c});
  return out;
}

}  // namespace

const char* to_string(Section section) {
  switch (section) {
    case Section::kIdentity:
      return "identity";
    case Section::kForwarder:
      return "forwarder";
    case Section::kFpm:
      return "fpm";
    case Section::kBackbones:
      return "backbones";
    case Section::kPorts:
      return "ports";
    case Section::kPeers:
      return "peers";
    case Section::kSegments:
      return "segments";
    case Section::kSlaClasses:
      return "sla_classes";
    case Section::kTrafficClasses:
      return "traffic_classes";
    case Section::kProbes:
      return "probes";
    case Section::kBgp:
      return "bgp";
  }
  return "unknown";
}

IntentDiff diff(const Intent& before, const Intent& after) {
  IntentDiff result;
  auto section = [&](Section s, auto&& compare) {
    SectionDiff d;
    d.section = s;
    compare(d);
    if (!d.added.empty() || !d.removed.empty() || !d.changed.empty()) {
      result.sections.push_back(std::move(d));
    }
  };
  section(Section::kIdentity, [&](SectionDiff& d) {
    const Identity& a = before.identity;
    const Identity& b = after.identity;
    field("pop", a.pop, b.pop, d);
    field("router_id", a.router_id, b.router_id, d);
    field("private_key", a.private_key, b.private_key, d);
    field("overlay_address", a.overlay_address, b.overlay_address, d);
    field("listen_port", a.listen_port, b.listen_port, d);
  });
  section(Section::kForwarder, [&](SectionDiff& d) {
    field("control_socket", before.forwarder.control_socket, after.forwarder.control_socket, d);
  });
  section(Section::kFpm, [&](SectionDiff& d) {
    field("port", before.fpm.port, after.fpm.port, d);
    field("next_hop_groups", before.fpm.next_hop_groups, after.fpm.next_hop_groups, d);
  });
  section(Section::kBackbones,
          [&](SectionDiff& d) { named_items(before.backbones, after.backbones, d); });
  section(Section::kPorts, [&](SectionDiff& d) { named_items(before.ports, after.ports, d); });
  section(Section::kPeers, [&](SectionDiff& d) { named_items(before.peers, after.peers, d); });
  section(Section::kSegments,
          [&](SectionDiff& d) { named_items(before.segments, after.segments, d); });
  section(Section::kSlaClasses,
          [&](SectionDiff& d) { named_items(before.sla_classes, after.sla_classes, d); });
  section(Section::kTrafficClasses,
          [&](SectionDiff& d) { named_items(before.traffic_classes, after.traffic_classes, d); });
  section(Section::kProbes, [&](SectionDiff& d) {
    const Probes& a = before.probes;
    const Probes& b = after.probes;
    field("interval_ms", a.interval_ms, b.interval_ms, d);
    field("window", a.window, b.window, d);
    field("blackout_probes", a.blackout_probes, b.blackout_probes, d);
    field("hold_down_ms", a.hold_down_ms, b.hold_down_ms, d);
    field("hysteresis_pct", a.hysteresis_pct, b.hysteresis_pct, d);
  });
  section(Section::kBgp, [&](SectionDiff& d) {
    const Bgp& a = before.bgp;
    const Bgp& b = after.bgp;
    field("asn", a.asn, b.asn, d);
    field("ibgp", a.ibgp, b.ibgp, d);
    field("keepalive_s", a.keepalive_s, b.keepalive_s, d);
    field("hold_s", a.hold_s, b.hold_s, d);
    field("import_check", a.import_check, b.import_check, d);
    field("bfd", a.bfd, b.bfd, d);
    named_items(a.neighbors, b.neighbors, d, "neighbors.");
    prefixes("announce", a.announce, b.announce, d);
    named_items(by_class(a.sla_communities), by_class(b.sla_communities), d, "sla_communities.");
  });
  return result;
}

const SectionDiff* IntentDiff::find(Section section) const {
  for (const SectionDiff& d : sections) {
    if (d.section == section) return &d;
  }
  return nullptr;
}

bool IntentDiff::affects_frr() const {
  return find(Section::kIdentity) != nullptr || find(Section::kFpm) != nullptr ||
         find(Section::kPeers) != nullptr || find(Section::kBgp) != nullptr;
}

bool IntentDiff::only_sla_communities() const {
  if (sections.size() != 1 || sections.front().section != Section::kBgp) return false;
  const SectionDiff& d = sections.front();
  auto is_sla = [](const std::string& item) { return item.rfind("sla_communities.", 0) == 0; };
  return std::all_of(d.added.begin(), d.added.end(), is_sla) &&
         std::all_of(d.removed.begin(), d.removed.end(), is_sla) &&
         std::all_of(d.changed.begin(), d.changed.end(), is_sla);
}

std::string IntentDiff::summary() const {
  std::string out;
  for (const SectionDiff& d : sections) {
    out += to_string(d.section);
    out += ":";
    const char* separator = " ";
    for (const auto& [verb, items] :
         {std::pair{"added", &d.added}, std::pair{"removed", &d.removed},
          std::pair{"changed", &d.changed}}) {
      if (items->empty()) continue;
      out += separator;
      out += verb;
      for (std::size_t i = 0; i < items->size(); ++i) out += (i ? ", " : " ") + (*items)[i];
      separator = "; ";
    }
    out += "\n";
  }
  return out;
}

}  // namespace causeway::rt::intent
