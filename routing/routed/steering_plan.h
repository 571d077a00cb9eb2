// SPDX-License-Identifier: Apache-2.0
// What causeway-routed programs into the forwarder for steering, derived from the intent (pure):
//  - one path group per remote PoP: id i + 1 for the PoP at index i of `peers[]`;
//  - its members are paths (tunnel `wg-<backbone>`, that PoP's peer in it), one per backbone
//    the peer has an endpoint on, found in the forwarder's kGetTunnels reply by the peer's
//    public key (or, for a key given as `file:`, by the peer name, which is the PoP's name);
//  - traffic classes: the intent's traffic_classes in order become forwarder classes 1..15
//    (control message 14); packets matching none are class 0;
//  - the SLA engine's PathIds <-> (remote PoP, backbone), so decisions name members and probe
//    events (tunnel, peer) name PathIds.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "causeway/fwd/steering_codec.h"
#include "causeway/rt/sla/snapshot.h"
#include "intent/intent.h"

namespace causeway::rt {

inline constexpr std::string_view kTunnelPrefix = "wg-";  // tunnel of backbone B: "wg-B"

struct SteeringPeer {
  std::string name;        // the remote PoP
  std::string public_key;  // base64, empty when the intent reads it from a file
  std::uint16_t group = 0;
  std::vector<std::string> backbones;  // endpoints' backbones, in intent order
};

struct SteeringPlan {
  std::vector<SteeringPeer> peers;
  std::vector<fwd::ctl::TrafficClassSpec> classes;
  std::map<std::string, std::uint8_t> class_ids;  // traffic class name -> forwarder class
  std::vector<std::string> unclassified;          // traffic classes beyond the 15th
  std::uint32_t probe_interval_ms = 0;
  std::map<std::pair<std::string, std::string>, sla::PathId> paths;  // (pop, backbone) -> id

  [[nodiscard]] const SteeringPeer* peer(const std::string& name) const;
  [[nodiscard]] std::optional<std::pair<std::string, std::string>> path(sla::PathId id) const;
  // A probe event's (tunnel, peer name, public key) -> the path, if it is one of ours.
  [[nodiscard]] std::optional<sla::PathId> path_of(const std::string& tunnel,
                                                   const std::string& peer_name,
                                                   const std::string& public_key) const;
};

[[nodiscard]] SteeringPlan steering_plan_from_intent(
    const intent::Intent& intent,
    const std::map<std::pair<std::string, std::string>, sla::PathId>& paths);

[[nodiscard]] std::string tunnel_of_backbone(const std::string& backbone);

// The members of each remote PoP's group, from the forwarder's kGetTunnels reply: PoP ->
// (backbone -> member). A PoP missing from a tunnel simply has no member there.
using MemberMap = std::map<std::string, std::map<std::string, fwd::ctl::PathMemberName>>;
[[nodiscard]] MemberMap members_from_tunnels(const SteeringPlan& plan,
                                             const nlohmann::json& tunnels_reply);

// The kSetPathGroup request of one PoP: members in backbone order; per traffic class with a
// decision, that class's active members (paths without a member dropped from it; an empty
// decision drops the class); the default set (class 0 and classes without a decision) is the
// union of the decided sets, or every member while there is none.
[[nodiscard]] fwd::ctl::PathGroupRequest path_group_request(
    const SteeringPlan& plan, const SteeringPeer& peer,
    const std::map<std::string, fwd::ctl::PathMemberName>& members,
    const std::map<std::string, std::vector<sla::PathId>>& decisions);

// Whether the engine has judged any path of `remote_pop` against the SLA class of
// `traffic_class` (health known and compliance no longer pending). An empty decision taken
// before that (no reply yet, or fewer than min_samples) rests on no measurement: routed does
// not program it (the forwarder keeps its set, at start every member) until this holds.
[[nodiscard]] bool measured_for(const sla::Snapshot& snapshot, const std::string& remote_pop,
                                const std::string& traffic_class);

}  // namespace causeway::rt
