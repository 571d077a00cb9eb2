// SPDX-License-Identifier: Apache-2.0
// The route table as causeway-routed sees it, fed by parsed FPM operations (sans-I/O; time
// is passed in, never read).
//
// zebra sends routes and, in next-hop-group mode, next-hop objects that routes refer to by
// id. RouteState keeps both as received and publishes routes with their next hops resolved
// (group -> member hops with weights) to a RouteSink: one batch per frame, only the keys
// whose published form changed.
//
// Snapshot rule (DESIGN.md section 4): zebra drops every update while disconnected and, on
// connect, replays its table as adds with no end marker. So each connection begins a
// snapshot: everything held is marked stale (a generation number), the replay re-marks what
// zebra still has (an identical replay publishes nothing), and once no frame has arrived for
// `quiet_period` on that connection the stale rest is swept (deleted, one batch).
//
// Next-hop references: a route or group may name an id that has not arrived yet (replay
// order is hash order). Such a route keeps its last published form (or stays unpublished)
// until the id is defined. If the stream goes quiet with the id still undefined, the route
// is withdrawn and counted once under kNhgUndefined; it is published when the id arrives.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "causeway/rt/fpm.h"
#include "netlink_parser.h"

namespace causeway::rt::fpm {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

struct StateOptions {
  std::chrono::milliseconds quiet_period{3000};
};

class RouteState {
 public:
  RouteState(RouteSink& sink, Counters& counters, StateOptions options = {});

  // A new zebra connection: marks everything held as stale.
  void begin_snapshot(TimePoint now);
  // The connection is gone: no sweep until the next connection's replay has gone quiet.
  void connection_lost();
  // The operations of one frame, applied together; publishes one batch.
  void apply(std::span<const Operation> ops, TimePoint now);
  // Settles (sweep, undefined next hops) once the stream has been quiet long enough.
  void tick(TimePoint now);
  // When tick() next has work to do, if ever.
  [[nodiscard]] std::optional<TimePoint> deadline() const;

  [[nodiscard]] const std::map<RouteKey, Route>& published() const { return published_; }
  [[nodiscard]] bool snapshot_open() const { return snapshot_open_; }
  [[nodiscard]] std::size_t next_hop_objects() const { return nhgs_.size(); }

 private:
  struct RouteEntry {
    Route route;  // as received; next_hops empty when nh_id is set
    std::uint32_t nh_id = 0;
    std::uint64_t generation = 0;
    bool undefined_counted = false;
  };
  struct NhgEntry {
    NextHopObject object;
    std::uint64_t generation = 0;
  };

  void link(const RouteKey& key, std::uint32_t nh_id);
  void unlink(const RouteKey& key, std::uint32_t nh_id);
  void set_nhg(std::uint32_t id, NextHopObject object);
  void erase_nhg(std::uint32_t id);
  void dirty_users_of(std::uint32_t id);
  // The route's published form: nullopt when its next-hop group is not resolvable.
  [[nodiscard]] std::optional<Route> resolve(const RouteEntry& entry) const;
  void collect_dirty();  // appends the changes of dirty_ to batch_
  void flush();          // hands batch_ to the sink
  void publish_dirty();
  void settle();

  RouteSink& sink_;
  Counters& counters_;
  StateOptions options_;

  std::map<RouteKey, RouteEntry> routes_;
  std::unordered_map<std::uint32_t, NhgEntry> nhgs_;
  std::unordered_map<std::uint32_t, std::set<RouteKey>> users_;         // nh id -> routes naming it
  std::unordered_map<std::uint32_t, std::set<std::uint32_t>> parents_;  // member id -> groups
  std::map<RouteKey, Route> published_;                                 // what the sink has
  std::set<RouteKey> dirty_;
  std::set<RouteKey> unresolved_;  // entries whose next-hop group does not resolve

  std::uint64_t generation_ = 0;
  bool connected_ = false;
  bool snapshot_open_ = false;
  bool settle_pending_ = false;
  TimePoint last_activity_{};
  std::vector<RouteChange> batch_;
};

}  // namespace causeway::rt::fpm
