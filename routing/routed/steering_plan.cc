// SPDX-License-Identifier: Apache-2.0
#include "routed/steering_plan.h"

#include <algorithm>
#include <set>

namespace causeway::rt {

namespace ctl = fwd::ctl;

std::string tunnel_of_backbone(const std::string& backbone) {
  return std::string(kTunnelPrefix) + backbone;
}

const SteeringPeer* SteeringPlan::peer(const std::string& name) const {
  for (const auto& p : peers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::optional<std::pair<std::string, std::string>> SteeringPlan::path(sla::PathId id) const {
  for (const auto& [key, value] : paths) {
    if (value == id) return key;
  }
  return std::nullopt;
}

std::optional<sla::PathId> SteeringPlan::path_of(const std::string& tunnel,
                                                 const std::string& peer_name,
                                                 const std::string& public_key) const {
  if (!tunnel.starts_with(kTunnelPrefix)) return std::nullopt;
  const std::string backbone = tunnel.substr(kTunnelPrefix.size());
  const SteeringPeer* p = nullptr;
  for (const auto& candidate : peers) {
    if (!public_key.empty() && candidate.public_key == public_key) p = &candidate;
  }
  if (p == nullptr) p = peer(peer_name);
  if (p == nullptr) return std::nullopt;
  auto it = paths.find({p->name, backbone});
  if (it == paths.end()) return std::nullopt;
  return it->second;
}

SteeringPlan steering_plan_from_intent(
    const intent::Intent& in,
    const std::map<std::pair<std::string, std::string>, sla::PathId>& paths) {
  SteeringPlan plan;
  for (std::size_t i = 0; i < in.peers.size(); ++i) {
    const intent::Peer& p = in.peers[i];
    SteeringPeer sp;
    sp.name = p.name;
    if (!p.public_key.starts_with("file:")) sp.public_key = p.public_key;
    sp.group = static_cast<std::uint16_t>(i + 1);
    for (const auto& ep : p.endpoints) sp.backbones.push_back(ep.backbone);
    plan.peers.push_back(std::move(sp));
  }
  for (std::size_t i = 0; i < in.traffic_classes.size(); ++i) {
    const intent::TrafficClass& tc = in.traffic_classes[i];
    if (i >= ctl::kMaxTrafficClassId) {
      plan.unclassified.push_back(tc.name);
      continue;
    }
    ctl::TrafficClassSpec c;
    c.id = static_cast<std::uint8_t>(i + 1);
    c.name = tc.name;
    c.dscp = tc.match.dscp;
    c.protocol = tc.match.protocol;
    for (const auto& r : tc.match.src_ports) c.src_ports.push_back({r.first, r.last});
    for (const auto& r : tc.match.dst_ports) c.dst_ports.push_back({r.first, r.last});
    c.src_prefixes = tc.match.src_prefixes;
    c.dst_prefixes = tc.match.dst_prefixes;
    plan.class_ids[tc.name] = c.id;
    plan.classes.push_back(std::move(c));
  }
  plan.probe_interval_ms = in.probes.interval_ms;
  plan.paths = paths;
  return plan;
}

MemberMap members_from_tunnels(const SteeringPlan& plan, const nlohmann::json& reply) {
  MemberMap out;
  const nlohmann::json tunnels =
      reply.is_object() ? reply.value("tunnels", nlohmann::json()) : nlohmann::json();
  if (!tunnels.is_array()) return out;
  for (const auto& peer : plan.peers) {
    for (const auto& backbone : peer.backbones) {
      const std::string name = tunnel_of_backbone(backbone);
      for (const auto& t : tunnels) {
        if (!t.is_object() || t.value("name", std::string()) != name) continue;
        const nlohmann::json peers = t.value("peers", nlohmann::json::array());
        if (!peers.is_array()) continue;
        std::optional<ctl::PathMemberName> by_key, by_name;
        for (const auto& fp : peers) {
          if (!fp.is_object()) continue;
          const std::string key = fp.value("public_key", std::string());
          const std::string pname = fp.value("name", std::string());
          // The forwarder resolves a peer by name or by key; the key is unambiguous.
          if (!peer.public_key.empty() && key == peer.public_key) {
            by_key = ctl::PathMemberName{name, pname.empty() ? key : pname};
          } else if (pname == peer.name) {
            by_name = ctl::PathMemberName{name, pname};
          }
        }
        if (by_key) {
          out[peer.name][backbone] = *by_key;
        } else if (by_name && peer.public_key.empty()) {
          out[peer.name][backbone] = *by_name;
        }
      }
    }
  }
  return out;
}

ctl::PathGroupRequest path_group_request(
    const SteeringPlan& plan, const SteeringPeer& peer,
    const std::map<std::string, ctl::PathMemberName>& members,
    const std::map<std::string, std::vector<sla::PathId>>& decisions) {
  ctl::PathGroupRequest req;
  req.id = peer.group;
  for (const auto& b : peer.backbones) {
    if (auto it = members.find(b); it != members.end()) req.members.push_back(it->second);
  }
  if (req.members.empty()) return req;  // deletes the group
  std::set<std::string> in_union;
  bool any_decision = false;
  for (const auto& [cls_name, ids] : decisions) {
    auto cls = plan.class_ids.find(cls_name);
    if (cls == plan.class_ids.end()) continue;  // beyond 15 classes, or no longer in the intent
    any_decision = true;
    ctl::ClassActive ca;
    ca.traffic_class = cls->second;
    for (const sla::PathId id : ids) {
      auto path = plan.path(id);
      if (!path || path->first != peer.name) continue;
      auto m = members.find(path->second);
      if (m == members.end()) continue;
      ca.active.push_back(m->second);
      in_union.insert(path->second);
    }
    req.classes.push_back(std::move(ca));
  }
  std::sort(req.classes.begin(), req.classes.end(),
            [](const auto& a, const auto& b) { return a.traffic_class < b.traffic_class; });
  if (any_decision) {
    for (const auto& b : peer.backbones) {
      if (in_union.contains(b)) {
        if (auto it = members.find(b); it != members.end()) req.active.push_back(it->second);
      }
    }
  }
  return req;  // active empty: every member
}

bool measured_for(const sla::Snapshot& snapshot, const std::string& remote_pop,
                  const std::string& traffic_class) {
  std::string sla_class;
  for (const auto& c : snapshot.classes) {
    if (c.remote_pop == remote_pop && c.traffic_class == traffic_class) sla_class = c.sla_class;
  }
  for (const auto& p : snapshot.paths) {
    if (p.remote_pop != remote_pop || p.health == sla::PathHealth::kPending) continue;
    for (const auto& s : p.classes) {
      if (s.sla_class == sla_class && s.state != sla::Compliance::kPending) return true;
    }
  }
  return false;
}

}  // namespace causeway::rt
