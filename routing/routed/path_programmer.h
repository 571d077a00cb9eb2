// SPDX-License-Identifier: Apache-2.0
// The steering seam of causeway-routed: routes whose BGP next hop is a remote PoP's overlay
// address are not forwarded to a single port; they resolve to that PoP's path group (its
// tunnels, one per backbone), whose active members the SLA engine chooses (DESIGN.md sections
// 2 and 4). The FIB builder hands such routes to a PathProgrammer. The daemon's is
// ForwarderPathProgrammer (forwarder_programmer.h), which programs the forwarder's path groups;
// RecordingPathProgrammer only keeps what would be programmed (tests, and the record behind
// `paths` on routed's control socket).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "causeway/common/ip.h"
#include "causeway/rt/fpm.h"
#include "causeway/rt/sla/snapshot.h"

namespace causeway::rt {

// A route that leaves through the overlay towards one remote PoP.
struct OverlayRoute {
  fpm::RouteKey key;
  std::string remote_pop;
  IpAddress next_hop;  // the remote PoP's overlay address (the BGP next hop)
  friend bool operator==(const OverlayRoute&, const OverlayRoute&) = default;
};

class PathProgrammer {
 public:
  virtual ~PathProgrammer() = default;
  // The route now points at the path group of `route.remote_pop` (new or changed).
  virtual void set_route(const OverlayRoute& route) = 0;
  // The route no longer goes to a path group (withdrawn or now resolved to a port).
  virtual void remove_route(const fpm::RouteKey& key) = 0;
  // The forwarder connection was (re)established: everything set before must be set again.
  virtual void reset() = 0;
  // The SLA engine's choice for (remote PoP, traffic class): the active members of that
  // PoP's path group for the class (empty: drop the class). Called from the SLA engine's
  // thread (routed's io_context), not the FIB builder's.
  virtual void set_class_paths(const std::string& remote_pop, const std::string& traffic_class,
                               const std::vector<sla::PathId>& paths) = 0;
  // The forwarder path group of `remote_pop`, when routes towards it are to be installed as
  // RouteKind 5 (the FIB builder then sends them with its other routes, so its mark-and-sweep
  // keeps them); nullopt: the route is only handed to set_route(). FIB builder's thread.
  [[nodiscard]] virtual std::optional<std::uint16_t> path_group(
      const std::string& remote_pop) const {
    (void)remote_pop;
    return std::nullopt;
  }
};

// Records the routes per remote PoP; thread-safe reads for exports.
class RecordingPathProgrammer final : public PathProgrammer {
 public:
  void set_route(const OverlayRoute& route) override {
    std::lock_guard lock(mu_);
    routes_[route.key] = route;
    ++sets_;
  }
  void remove_route(const fpm::RouteKey& key) override {
    std::lock_guard lock(mu_);
    routes_.erase(key);
    ++removes_;
  }
  void reset() override {}
  void set_class_paths(const std::string& remote_pop, const std::string& traffic_class,
                       const std::vector<sla::PathId>& paths) override {
    std::lock_guard lock(mu_);
    class_paths_[{remote_pop, traffic_class}] = paths;
  }

  [[nodiscard]] std::vector<OverlayRoute> routes() const {
    std::lock_guard lock(mu_);
    std::vector<OverlayRoute> out;
    out.reserve(routes_.size());
    for (const auto& [k, r] : routes_) out.push_back(r);
    return out;
  }
  [[nodiscard]] std::map<std::pair<std::string, std::string>, std::vector<sla::PathId>>
  class_paths() const {
    std::lock_guard lock(mu_);
    return class_paths_;
  }
  [[nodiscard]] std::uint64_t sets() const {
    std::lock_guard lock(mu_);
    return sets_;
  }

 private:
  mutable std::mutex mu_;  // protects everything below: written by the FIB builder's thread
  std::map<fpm::RouteKey, OverlayRoute> routes_;
  std::map<std::pair<std::string, std::string>, std::vector<sla::PathId>> class_paths_;
  std::uint64_t sets_ = 0;
  std::uint64_t removes_ = 0;
};

}  // namespace causeway::rt
