// SPDX-License-Identifier: Apache-2.0
// Snapshot renderings (JSON, table) and the SLA state -> BGP community mapping. Pure functions
// of their arguments.
#include "causeway/rt/sla/export.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace causeway::rt::sla {
namespace {

double ms(TimePoint t) {
  return static_cast<double>(t.count()) / 1e6;
}

bool carries_traffic_compliant(Reason r) {
  return r == Reason::kPreferred || r == Reason::kEcmp;
}

}  // namespace

nlohmann::json to_json(const Snapshot& s) {
  using nlohmann::json;
  json paths = json::array();
  for (const auto& p : s.paths) {
    json classes = json::object();
    for (const auto& c : p.classes)
      classes[c.sla_class] = {{"state", to_string(c.state)}, {"since_ms", ms(c.since)}};
    const auto& m = p.metrics;
    paths.push_back({{"id", p.id.value()},
                     {"remote_pop", p.remote_pop},
                     {"backbone", p.backbone},
                     {"health", to_string(p.health)},
                     {"rtt_mean_ms", m.rtt_mean_ms},
                     {"rtt_min_ms", m.rtt_min_ms},
                     {"rtt_max_ms", m.rtt_max_ms},
                     {"rtt_p90_ms", m.rtt_p90_ms},
                     {"jitter_ms", m.jitter_ms},
                     {"loss_pct", m.loss_pct},
                     {"window_outcomes", m.outcomes},
                     {"window_rtt_samples", m.rtt_samples},
                     {"sla_classes", classes},
                     {"probes_sent", p.probes_sent},
                     {"replies", p.replies},
                     {"lost", p.lost},
                     {"late_replies", p.late_replies},
                     {"unknown_replies", p.unknown_replies},
                     {"blackouts", p.blackouts},
                     {"spurious_blackouts", p.spurious_blackouts}});
  }
  json classes = json::array();
  for (const auto& c : s.classes) {
    json chosen = json::array();
    for (const auto& p : c.paths)
      chosen.push_back({{"id", p.id.value()}, {"backbone", p.backbone}});
    classes.push_back({{"remote_pop", c.remote_pop},
                       {"traffic_class", c.traffic_class},
                       {"sla_class", c.sla_class},
                       {"paths", chosen},
                       {"reason", to_string(c.reason)},
                       {"detail", c.detail},
                       {"since_ms", ms(c.since)},
                       {"changes", c.changes}});
  }
  json by_reason = json::object();
  for (std::size_t r = 0; r < kReasonCount; ++r)
    by_reason[std::string(to_string(static_cast<Reason>(r)))] = s.changes_by_reason[r];
  return {{"now_ms", ms(s.now)},
          {"paths", paths},
          {"classes", classes},
          {"decision_changes", s.decision_changes},
          {"decision_changes_by_reason", by_reason}};
}

std::string render_table(const Snapshot& s) {
  std::string out =
      fmt::format("{:>6}  {:<16} {:<12} {:<8} {:>9} {:>9} {:>9} {:>7}  {}\n", "PATH", "REMOTE",
                  "BACKBONE", "HEALTH", "RTT ms", "P90 ms", "JITTER ms", "LOSS %", "SLA CLASSES");
  for (const auto& p : s.paths) {
    std::string cls;
    for (const auto& c : p.classes)
      cls += fmt::format("{}{}={}", cls.empty() ? "" : " ", c.sla_class, to_string(c.state));
    out += fmt::format("{:>6}  {:<16} {:<12} {:<8} {:>9.2f} {:>9.2f} {:>9.2f} {:>7.2f}  {}\n",
                       p.id.value(), p.remote_pop, p.backbone, to_string(p.health),
                       p.metrics.rtt_mean_ms, p.metrics.rtt_p90_ms, p.metrics.jitter_ms,
                       p.metrics.loss_pct, cls);
  }
  out += fmt::format("\n{:<16} {:<14} {:<14} {:<22} {:>7}  {}\n", "REMOTE", "CLASS", "REASON",
                     "PATHS", "CHANGES", "DETAIL");
  for (const auto& c : s.classes) {
    std::string paths;
    for (const auto& p : c.paths)
      paths += fmt::format("{}{}({})", paths.empty() ? "" : ",", p.backbone, p.id.value());
    out += fmt::format("{:<16} {:<14} {:<14} {:<22} {:>7}  {}\n", c.remote_pop, c.traffic_class,
                       to_string(c.reason), paths.empty() ? "-" : paths, c.changes, c.detail);
  }
  out += fmt::format("\ndecision changes: {}\n", s.decision_changes);
  return out;
}

std::string_view to_string(ClassHealth h) {
  switch (h) {
    case ClassHealth::kCompliant:
      return "compliant";
    case ClassHealth::kDegraded:
      return "degraded";
    case ClassHealth::kDown:
      return "down";
  }
  return "?";
}

std::vector<ClassHealthState> class_health(const Snapshot& s, const Policy& policy) {
  std::vector<ClassHealthState> out;
  for (const auto& tc : policy.traffic_classes) {
    std::size_t groups = 0, compliant = 0, without_path = 0;
    for (const auto& c : s.classes) {
      if (c.traffic_class != tc.name) continue;
      ++groups;
      if (carries_traffic_compliant(c.reason)) ++compliant;
      // kNoPathUp may keep the last paths (engine: hold_last_paths), but none of them is up.
      if (c.paths.empty() || c.reason == Reason::kNoPathUp) ++without_path;
    }
    ClassHealth h = ClassHealth::kDegraded;
    if (groups == 0 || without_path == groups)
      h = ClassHealth::kDown;
    else if (compliant == groups)
      h = ClassHealth::kCompliant;
    out.push_back({tc.name, h});
  }
  return out;
}

std::string Community::str() const {
  return large ? fmt::format("{}:{}:{}", a, b, c) : fmt::format("{}:{}", a, b);
}

Result<Community> parse_community(std::string_view field, std::string_view text) {
  std::vector<std::uint32_t> parts;
  std::size_t pos = 0;
  while (true) {
    const std::size_t colon = text.find(':', pos);
    const std::string_view part =
        text.substr(pos, colon == std::string_view::npos ? std::string_view::npos : colon - pos);
    std::uint32_t v = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size())
      return fail(
          fmt::format("{}: '{}' is not a community (asn:value or a:b:c, decimal)", field, text),
          EINVAL);
    parts.push_back(v);
    if (colon == std::string_view::npos) break;
    pos = colon + 1;
  }
  if (parts.size() == 2) {
    if (parts[0] > 0xffff || parts[1] > 0xffff)
      return fail(
          fmt::format("{}: '{}': standard community parts must be at most 65535", field, text),
          EINVAL);
    return Community{false, parts[0], parts[1], 0};
  }
  if (parts.size() == 3) return Community{true, parts[0], parts[1], parts[2]};
  return fail(fmt::format("{}: '{}' is not a community (asn:value or a:b:c, decimal)", field, text),
              EINVAL);
}

Result<void> validate(const CommunityMapping& mapping, const Policy& policy) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < mapping.classes.size(); ++i) {
    const auto& name = mapping.classes[i].traffic_class;
    const auto field = fmt::format("communities[{}].traffic_class", i);
    const bool known = std::any_of(policy.traffic_classes.begin(), policy.traffic_classes.end(),
                                   [&](const auto& tc) { return tc.name == name; });
    if (!known) return fail(fmt::format("{}: unknown traffic class '{}'", field, name), EINVAL);
    if (!seen.insert(name).second)
      return fail(fmt::format("{}: traffic class '{}' mapped twice", field, name), EINVAL);
  }
  return boost::outcome_v2::success();
}

BgpCommunities communities_for(const std::vector<ClassHealthState>& state,
                               const CommunityMapping& mapping) {
  std::vector<Community> chosen;
  for (const auto& st : state) {
    for (const auto& m : mapping.classes) {
      if (m.traffic_class != st.traffic_class) continue;
      const std::optional<Community>& c = st.health == ClassHealth::kCompliant  ? m.compliant
                                          : st.health == ClassHealth::kDegraded ? m.degraded
                                                                                : m.down;
      if (c) chosen.push_back(*c);
    }
  }
  // Numeric order, duplicates once: the announcement is stable whatever the class order.
  std::sort(chosen.begin(), chosen.end(), [](const Community& x, const Community& y) {
    return std::tie(x.large, x.a, x.b, x.c) < std::tie(y.large, y.a, y.b, y.c);
  });
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  BgpCommunities out;
  for (const auto& c : chosen) (c.large ? out.large : out.standard).push_back(c.str());
  return out;
}

}  // namespace causeway::rt::sla
