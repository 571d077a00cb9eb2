// SPDX-License-Identifier: Apache-2.0
// ForwarderPathProgrammer (forwarder_programmer.h): SLA decisions and the intent's traffic
// classes -> the forwarder's path groups over its control socket.
#include "routed/forwarder_programmer.h"

#include <spdlog/spdlog.h>

namespace causeway::rt {

namespace ctl = fwd::ctl;
using Clock = std::chrono::steady_clock;

namespace {
// Tunnels are read again at most this often while a path has no member (a tunnel or peer the
// forwarder does not have yet, e.g. added later through UAPI).
constexpr auto kMissingMemberRetry = std::chrono::seconds(5);
}  // namespace

ForwarderPathProgrammer::ForwarderPathProgrammer(std::string socket_path,
                                                 std::chrono::milliseconds reconnect_interval)
    : session_("path programmer", std::move(socket_path), "causeway-routed/paths",
               reconnect_interval, counters_.connects, counters_.errors) {}

void ForwarderPathProgrammer::configure(SteeringPlan plan) {
  std::lock_guard lock(mu_);
  plan_ = std::move(plan);
  for (auto it = decisions_.begin(); it != decisions_.end();) {
    it = plan_.peer(it->first) ? std::next(it) : decisions_.erase(it);
  }
  full_ = true;
}

void ForwarderPathProgrammer::set_route(const OverlayRoute& route) {
  record_.set_route(route);
}

void ForwarderPathProgrammer::remove_route(const fpm::RouteKey& key) {
  record_.remove_route(key);
}

void ForwarderPathProgrammer::reset() {
  std::lock_guard lock(mu_);
  full_ = true;
}

void ForwarderPathProgrammer::set_class_paths(const std::string& remote_pop,
                                              const std::string& traffic_class,
                                              const std::vector<sla::PathId>& paths) {
  record_.set_class_paths(remote_pop, traffic_class, paths);
  std::lock_guard lock(mu_);
  if (paths.empty() && !plan_.class_ids.contains(traffic_class)) {
    decisions_[remote_pop].erase(traffic_class);  // a class that left the intent
  } else {
    decisions_[remote_pop][traffic_class] = paths;
  }
  dirty_.insert(remote_pop);
}

std::optional<std::uint16_t> ForwarderPathProgrammer::path_group(
    const std::string& remote_pop) const {
  std::lock_guard lock(mu_);
  if (const SteeringPeer* p = plan_.peer(remote_pop)) return p->group;
  return std::nullopt;
}

bool ForwarderPathProgrammer::pending() const {
  std::lock_guard lock(mu_);
  return full_ || !dirty_.empty();
}

nlohmann::json ForwarderPathProgrammer::status() const {
  std::lock_guard lock(mu_);
  return {{"connected", connected_}, {"groups", sent_}};
}

void ForwarderPathProgrammer::lost(const Error& error) {
  session_.lost(error);
  std::lock_guard lock(mu_);
  connected_ = false;
  full_ = true;
}

bool ForwarderPathProgrammer::process(Clock::time_point now) {
  const ForwarderSession::State state = session_.connect_when_due(now);
  if (state == ForwarderSession::State::kDown) return false;
  if (state == ForwarderSession::State::kNew) {
    std::lock_guard lock(mu_);
    connected_ = true;
    full_ = true;
  }
  ctl::ControlClient& client = session_.client();
  // Take the work under the lock; the I/O runs without it.
  SteeringPlan plan;
  std::map<std::string, std::map<std::string, std::vector<sla::PathId>>> decisions;
  std::set<std::string> dirty;
  bool full = false;
  {
    std::lock_guard lock(mu_);
    const bool reread = next_tunnel_read_ != Clock::time_point{} && now >= next_tunnel_read_;
    if (!full_ && dirty_.empty() && !reread) return true;
    if (reread) full_ = true;
    plan = plan_;
    decisions = decisions_;
    dirty.swap(dirty_);
    full = full_;
    full_ = false;
  }
  auto again = [&](const Error& e) {
    lost(e);
    std::lock_guard lock(mu_);
    dirty_.insert(dirty.begin(), dirty.end());
    return false;
  };
  std::set<std::uint16_t> wanted;
  for (const auto& p : plan.peers) wanted.insert(p.group);
  if (full) {
    counters_.full_syncs.fetch_add(1, std::memory_order_relaxed);
    auto tunnels = client.request_json(ctl::MsgType::kGetTunnels, nlohmann::json::object());
    if (!tunnels) return again(tunnels.error());
    if (!tunnels.value().is_ok()) {
      spdlog::warn("path programmer: tunnels: {}", tunnels.value().error_message());
    }
    members_ = members_from_tunnels(plan, tunnels.value().body);
    std::set<std::string> missing;  // logged when it changes, not at every read
    for (const auto& p : plan.peers) {
      for (const auto& b : p.backbones) {
        auto it = members_.find(p.name);
        if (it == members_.end() || !it->second.contains(b)) {
          missing.insert(p.name + " in tunnel " + tunnel_of_backbone(b));
        }
      }
    }
    for (const auto& m : missing) {
      if (!missing_logged_.contains(m)) spdlog::warn("path programmer: no peer for {}", m);
    }
    missing_logged_ = missing;
    counters_.missing_members.store(missing.size(), std::memory_order_relaxed);
    next_tunnel_read_ = missing.empty() ? Clock::time_point{} : now + kMissingMemberRetry;
    for (const auto& name : plan.unclassified) {
      spdlog::warn("traffic class {}: the forwarder holds 15 classes; its packets are class 0",
                   name);
    }
    auto r = client.request_json(ctl::MsgType::kSetTrafficClasses,
                                 ctl::traffic_classes_json(plan.classes));
    if (!r) return again(r.error());
    if (r.value().is_ok()) {
      counters_.classes_sent.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_.rejected.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("path programmer: traffic classes refused: {}", r.value().error_message());
    }
    // Groups of PoPs that left the intent are deleted (an empty member list).
    for (auto it = groups_in_forwarder_.begin(); it != groups_in_forwarder_.end();) {
      if (wanted.contains(*it)) {
        ++it;
        continue;
      }
      ctl::PathGroupRequest del;
      del.id = *it;
      auto d = client.request_json(ctl::MsgType::kSetPathGroup, ctl::path_group_json(del));
      if (!d) return again(d.error());
      std::lock_guard lock(mu_);
      sent_.erase(std::to_string(*it));
      it = groups_in_forwarder_.erase(it);
    }
    for (const auto& p : plan.peers) dirty.insert(p.name);
  }
  for (const std::string& pop : dirty) {
    const SteeringPeer* peer = plan.peer(pop);
    if (peer == nullptr) continue;
    static const std::map<std::string, ctl::PathMemberName> kNone;
    static const std::map<std::string, std::vector<sla::PathId>> kNoDecision;
    auto m = members_.find(pop);
    auto d = decisions.find(pop);
    const ctl::PathGroupRequest req =
        path_group_request(plan, *peer, m == members_.end() ? kNone : m->second,
                           d == decisions.end() ? kNoDecision : d->second);
    // A PoP without any member has no group: nothing to delete unless we created one (a
    // refused delete, e.g. by a new forwarder process without it, is not retried).
    if (req.members.empty() && groups_in_forwarder_.erase(req.id) == 0) continue;
    const nlohmann::json body = ctl::path_group_json(req);
    auto r = client.request_json(ctl::MsgType::kSetPathGroup, body);
    if (!r) return again(r.error());
    if (!r.value().is_ok()) {
      counters_.rejected.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("path programmer: group {} ({}) refused: {}", req.id, pop,
                    r.value().error_message());
      continue;
    }
    counters_.groups_sent.fetch_add(1, std::memory_order_relaxed);
    if (!req.members.empty()) groups_in_forwarder_.insert(req.id);
    std::lock_guard lock(mu_);
    sent_[std::to_string(req.id)] = body;
  }
  return !pending();
}

}  // namespace causeway::rt
