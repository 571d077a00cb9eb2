// SPDX-License-Identifier: Apache-2.0
// Renderings of the SLA engine's snapshot: JSON (`causewayctl sla --json`, the Prometheus
// exporter's source), a human table (`causewayctl sla`), and the pure mapping of the PoP's SLA
// state to BGP communities that routed attaches to prefixes announced to carriers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "causeway/common/result.h"
#include "causeway/rt/sla/policy.h"
#include "causeway/rt/sla/snapshot.h"

namespace causeway::rt::sla {

[[nodiscard]] nlohmann::json to_json(const Snapshot& s);
[[nodiscard]] std::string render_table(const Snapshot& s);

// SLA state of one traffic class at this PoP, over every remote PoP.
enum class ClassHealth : std::uint8_t {
  kCompliant,  // every remote PoP is reached on a compliant path
  kDegraded,   // some remote PoP is on a fallback path (or has no path) but not all are cut
  kDown,       // no remote PoP has a path for the class
};
[[nodiscard]] std::string_view to_string(ClassHealth h);

struct ClassHealthState {
  std::string traffic_class;
  ClassHealth health = ClassHealth::kDown;
};

// One entry per traffic class of the policy, in policy order.
[[nodiscard]] std::vector<ClassHealthState> class_health(const Snapshot& s, const Policy& policy);

// A standard (RFC 1997, "asn:value", 16+16 bits) or large (RFC 8092, "a:b:c", 3x32 bits)
// community.
struct Community {
  bool large = false;
  std::uint32_t a = 0, b = 0, c = 0;
  [[nodiscard]] std::string str() const;
  friend bool operator==(const Community&, const Community&) = default;
};
// Errors name the text and say what is wrong; `field` prefixes the message.
[[nodiscard]] Result<Community> parse_community(std::string_view field, std::string_view text);

// Intent: per traffic class, the community to attach in each state (unset: none).
struct ClassCommunities {
  std::string traffic_class;
  std::optional<Community> compliant;
  std::optional<Community> degraded;
  std::optional<Community> down;
};
struct CommunityMapping {
  std::vector<ClassCommunities> classes;
};
// Every traffic class named must exist in the policy, at most once.
[[nodiscard]] Result<void> validate(const CommunityMapping& mapping, const Policy& policy);

struct BgpCommunities {
  std::vector<std::string> standard;  // sorted, unique, "asn:value"
  std::vector<std::string> large;     // sorted, unique, "a:b:c"
  friend bool operator==(const BgpCommunities&, const BgpCommunities&) = default;
};
[[nodiscard]] BgpCommunities communities_for(const std::vector<ClassHealthState>& state,
                                             const CommunityMapping& mapping);

}  // namespace causeway::rt::sla
