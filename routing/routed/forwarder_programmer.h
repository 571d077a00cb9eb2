// SPDX-License-Identifier: Apache-2.0
// ForwarderPathProgrammer: the PathProgrammer of causeway-routed that programs the forwarder's
// path groups over its control socket (docs/routed.md, "Path groups").
//
//  - configure() (intent at start and on reload) gives the SteeringPlan: one group per remote
//    PoP (id i + 1), the traffic classes, the PathId <-> (PoP, backbone) map;
//  - the FIB builder asks path_group() for the group of an overlay route's PoP and installs the
//    route as RouteKind 5 in its own route batches (so the mark-and-sweep of the forwarder's
//    table keeps it); set_route()/remove_route() only record it for `causewayctl paths`;
//  - set_class_paths() (SLA decisions) marks the PoP's group for sending;
//  - process() does the I/O: (re)connects, reads the tunnels (kGetTunnels) to find the members,
//    sends the traffic classes (kSetTrafficClasses) and every group (kSetPathGroup) after a
//    (re)connect, reset() or configure(), and the changed groups otherwise.
//
// Threads: configure/set_class_paths on routed's io_context thread, set_route/remove_route/
// reset/path_group on the FIB builder's, process() on the steering thread (or a test). Only
// process() does I/O, so the io_context never waits for the forwarder.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/client.h"
#include "routed/forwarder_session.h"
#include "routed/path_programmer.h"
#include "routed/steering_plan.h"

namespace causeway::rt {

struct ProgrammerCounters {
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> full_syncs{0};       // tunnels read, classes and every group sent
  std::atomic<std::uint64_t> groups_sent{0};      // kSetPathGroup requests accepted
  std::atomic<std::uint64_t> classes_sent{0};     // kSetTrafficClasses requests accepted
  std::atomic<std::uint64_t> rejected{0};         // requests the forwarder refused
  std::atomic<std::uint64_t> errors{0};           // transport errors (the link is then remade)
  std::atomic<std::uint64_t> missing_members{0};  // paths without a tunnel peer at the last read
};

class ForwarderPathProgrammer final : public PathProgrammer {
 public:
  explicit ForwarderPathProgrammer(
      std::string socket_path,
      std::chrono::milliseconds reconnect_interval = std::chrono::milliseconds(1000));

  void configure(SteeringPlan plan);

  void set_route(const OverlayRoute& route) override;
  void remove_route(const fpm::RouteKey& key) override;
  void reset() override;
  void set_class_paths(const std::string& remote_pop, const std::string& traffic_class,
                       const std::vector<sla::PathId>& paths) override;
  [[nodiscard]] std::optional<std::uint16_t> path_group(
      const std::string& remote_pop) const override;

  // One round of I/O; returns true when nothing is left to send.
  bool process(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  // Something to send (process() is due).
  [[nodiscard]] bool pending() const;

  [[nodiscard]] const ProgrammerCounters& counters() const { return counters_; }
  [[nodiscard]] std::vector<OverlayRoute> routes() const { return record_.routes(); }
  [[nodiscard]] std::map<std::pair<std::string, std::string>, std::vector<sla::PathId>>
  class_paths() const {
    return record_.class_paths();
  }
  // What the forwarder was last given: per group id its request (as JSON), connected or not.
  [[nodiscard]] nlohmann::json status() const;

 private:
  void lost(const Error& error);

  ProgrammerCounters counters_;
  RecordingPathProgrammer record_;  // routes and decisions, for display

  // Protects everything below up to the I/O state; written by configure/set_class_paths/reset
  // (io_context and FIB builder threads), read by process().
  mutable std::mutex mu_;
  SteeringPlan plan_;
  std::map<std::string, std::map<std::string, std::vector<sla::PathId>>> decisions_;  // pop
  std::set<std::string> dirty_;                     // PoPs whose group must be sent
  bool full_ = true;                                // tunnels, classes and every group must be sent
  nlohmann::json sent_ = nlohmann::json::object();  // group id -> last request, for status()
  bool connected_ = false;

  // process() only.
  ForwarderSession session_;
  std::chrono::steady_clock::time_point next_tunnel_read_{};
  MemberMap members_;
  std::set<std::uint16_t> groups_in_forwarder_;
  std::set<std::string> missing_logged_;  // paths without a tunnel peer at the last read
};

}  // namespace causeway::rt
