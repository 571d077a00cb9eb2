// SPDX-License-Identifier: Apache-2.0
// FIB builder of causeway-routed: zebra's route table (FPM, routing/fpm) -> the forwarder's
// FIB (control socket route batches).
//
// Flow and threads:
//   FPM reader (io_context thread) -> apply(): copies the batch into a queue and returns; it
//     never waits for the forwarder (zebra queues without limit behind a slow reader).
//   builder thread (run(), or process() called by tests) -> drains the queue into `desired_`
//     (zebra's table), translates each changed route (translate()) and sends the difference
//     to the forwarder in batches; routes towards remote PoPs go to the PathProgrammer.
//
// Resynchronisation (docs/routed.md):
//  - The forwarder keeps its FIB when routed dies. A new routed sends every route as zebra
//    replays it; once zebra's snapshot has settled (set_zebra_synced) it lists the forwarder's
//    routes and deletes the prefixes it does not have (mark and sweep; a delete only touches
//    the routing daemon's slot of a prefix, never interface or configured routes).
//  - When the forwarder connection is (re)made: the ports are re-read (mirror ifindex ->
//    port), the whole table is sent again, then the sweep runs.
//
// ECMP: a route whose next hops include at least two gateways through forwarder ports goes to
// a next-hop group (RouteKind::kNextHopGroup): one group per distinct member set, shared by
// every route with that set and counted by them; a group is programmed before the first route
// that uses it and deleted after the last one leaves. When every route of a group moves to the
// same new member set (a gateway of a static ECMP route went away, zebra replaced its group)
// and no group has that set yet, the group is replaced in place: one message, routes untouched.
// Otherwise routes move between groups. docs/routed.md, "ECMP".
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "causeway/common/ip.h"
#include "causeway/common/result.h"
#include "causeway/fwd/control_codec.h"
#include "causeway/fwd/nexthop_group_codec.h"
#include "causeway/rt/fpm.h"
#include "routed/path_programmer.h"

namespace causeway::rt {

inline constexpr std::uint32_t kMainTable = 254;  // RT_TABLE_MAIN -> forwarder table 0

// Why a route is not given to the forwarder. Declared once, exported as counters.
enum class SkipReason : std::uint8_t {
  kTableUnsupported,  // not the main table (the forwarder has table 0 only)
  kNotForwarderPort,  // no next hop leaves through a forwarder port (lo, overlay, ...)
  kGatewayFamily,     // gateway of the other family (RFC 5549) is not supported
  kCount_,
};
inline constexpr std::size_t kSkipReasonCount = static_cast<std::size_t>(SkipReason::kCount_);
[[nodiscard]] std::string_view to_string(SkipReason reason);

// mirror ifindex (zebra's RTA_OIF) -> forwarder port index
using PortMap = std::map<std::uint32_t, std::uint16_t>;
// a remote PoP's overlay address -> its name
using OverlayPeers = std::map<IpAddress, std::string>;

// One member of an ECMP next-hop group: a gateway out of a forwarder port.
struct GroupMember {
  std::uint16_t port = 0;
  IpAddress gateway;
  friend auto operator<=>(const GroupMember&, const GroupMember&) = default;
};
using MemberSet = std::vector<GroupMember>;  // sorted, distinct

struct Translation {
  enum class Outcome : std::uint8_t { kForwarder, kOverlay, kSkipped };
  Outcome outcome = Outcome::kSkipped;
  fwd::ctl::RouteUpdate update;  // kForwarder: the add
  OverlayRoute overlay;          // kOverlay
  SkipReason skip = SkipReason::kNotForwarderPort;
  // kForwarder with several gateways on forwarder ports: the next-hop group's members;
  // `update` is then a kNextHopGroup route whose `port` (the group id) the builder fills in.
  MemberSet group;
  bool ecmp_truncated = false;  // installed with only some of zebra's next hops
  bool via_group = false;       // kOverlay installed as RouteKind 5 (`update`), see sync()
};

// Pure: one zebra route -> what the forwarder (or the path programmer) gets.
[[nodiscard]] Translation translate(const fpm::Route& route, const PortMap& ports,
                                    const OverlayPeers& peers);

// Builds the port map from the forwarder's kGetPorts reply.
[[nodiscard]] Result<PortMap> port_map_from_json(const nlohmann::json& ports_reply);

// The forwarder as the FIB builder needs it; ControlForwarderLink is the real one, tests
// use a fake.
class ForwarderLink {
 public:
  virtual ~ForwarderLink() = default;
  [[nodiscard]] virtual Result<void> connect() = 0;
  [[nodiscard]] virtual bool connected() const = 0;
  virtual void disconnect() = 0;
  [[nodiscard]] virtual Result<nlohmann::json> get_ports() = 0;
  [[nodiscard]] virtual Result<nlohmann::json> get_routes() = 0;  // every route
  [[nodiscard]] virtual Result<std::uint64_t> send_routes(        // routes deleted
      std::span<const fwd::ctl::RouteUpdate> updates) = 0;
  [[nodiscard]] virtual Result<void> ping() = 0;
  // Next-hop groups: the forwarder's list (kGetRoutes' "nexthop_groups"), set, delete.
  [[nodiscard]] virtual Result<nlohmann::json> get_nexthop_groups() = 0;
  [[nodiscard]] virtual Result<void> set_nexthop_group(
      const fwd::ctl::NextHopGroupRequest& request) = 0;
  [[nodiscard]] virtual Result<void> delete_nexthop_group(std::uint16_t id) = 0;
};

[[nodiscard]] std::unique_ptr<ForwarderLink> make_control_link(std::string socket_path);

struct FibCounters {
  std::atomic<std::uint64_t> batches_queued{0};
  std::atomic<std::uint64_t> changes_queued{0};
  std::atomic<std::uint64_t> queue_depth{0};      // changes waiting now
  std::atomic<std::uint64_t> queue_depth_max{0};  // the most that ever waited
  std::atomic<std::uint64_t> updates_sent{0};     // route records sent (adds + deletes)
  std::atomic<std::uint64_t> batches_sent{0};     // send_routes calls
  std::atomic<std::uint64_t> send_errors{0};      // failed requests (the link is then remade)
  std::atomic<std::uint64_t> overlay_routes_set{0};
  std::atomic<std::uint64_t> forwarder_connects{0};
  std::atomic<std::uint64_t> full_replays{0};
  std::atomic<std::uint64_t> sweeps{0};
  std::atomic<std::uint64_t> swept{0};            // stale forwarder routes deleted by sweeps
  std::atomic<std::uint64_t> groups_set{0};       // kSetNextHopGroup sent (new or replaced)
  std::atomic<std::uint64_t> groups_replaced{0};  // of which replaced in place
  std::atomic<std::uint64_t> groups_deleted{0};   // kDeleteNextHopGroup sent (sweeps too)
  std::atomic<std::uint64_t> group_errors{0};     // refused group deletes; no group id free
};

// A consistent copy for exports.
struct FibStatus {
  bool forwarder_connected = false;
  bool zebra_synced = false;
  bool swept = false;              // the sweep of this forwarder connection is done
  std::size_t routes = 0;          // zebra routes held
  std::size_t installed = 0;       // routes in the forwarder (as sent)
  std::size_t overlay = 0;         // routes at the path programmer
  std::size_t ecmp_truncated = 0;  // routes now installed with only some of zebra's next hops
  std::size_t ecmp_routes = 0;     // routes now installed through a next-hop group
  std::size_t nexthop_groups = 0;  // next-hop groups now in use
  std::array<std::size_t, kSkipReasonCount> skipped{};    // routes now skipped, per reason
  std::map<std::uint32_t, std::size_t> routes_per_table;  // zebra table -> routes
  std::size_t ports = 0;
};

struct FibBuilderOptions {
  std::chrono::milliseconds reconnect_interval{1000};
  std::chrono::milliseconds keepalive_interval{1000};  // idle liveness check of the forwarder
};

class FibBuilder final : public fpm::RouteSink {
 public:
  FibBuilder(ForwarderLink& link, PathProgrammer& programmer, OverlayPeers peers,
             FibBuilderOptions options = {});
  ~FibBuilder() override;

  // FPM reader thread: queue and return.
  void apply(std::span<const fpm::RouteChange> changes) override;
  // zebra's current snapshot settled (quiet period over): the forwarder may be swept.
  void set_zebra_synced();
  // New remote PoP overlay addresses (intent reload); every route is translated again.
  void set_overlay_peers(OverlayPeers peers);

  // One round on the caller's thread: reconnect if due, drain the queue, send, sweep.
  void process(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  // Runs process() on its own thread until stop().
  void start();
  void stop();

  [[nodiscard]] const FibCounters& counters() const { return counters_; }
  [[nodiscard]] FibStatus status() const;

 private:
  void connect_forwarder(std::chrono::steady_clock::time_point now);
  void sync(const std::set<fpm::RouteKey>& keys);
  bool flush_pending();
  void sweep();
  void lost(const Error& error);
  void publish_status();
  void note(const fpm::RouteKey& key, const std::optional<Translation>& t);
  // The group id of member set `set` (an existing group, or a new one queued for sending);
  // nullopt when all ids are taken.
  std::optional<std::uint16_t> group_for(const MemberSet& set);
  // The prefix now uses group `id` (or none): references moved, a group left unused is queued
  // for deletion.
  void use_group(const IpPrefix& prefix, std::optional<std::uint16_t> id);
  // Replaces groups in place whose every route moves to one new member set (see the top).
  void replace_groups_in_place(const std::map<fpm::RouteKey, std::optional<Translation>>& t);
  bool send_group_sets();
  void send_group_deletes();
  // Deletes group `id` in the forwarder. false: the link was lost (lost() has run); a refusal is
  // counted (group_errors) and logged as "REFUSED ID: reason".
  bool delete_forwarder_group(std::uint16_t id, std::string_view refused);

  ForwarderLink& link_;
  PathProgrammer& programmer_;
  FibBuilderOptions options_;
  FibCounters counters_;

  // Protects queue_, peers_update_ and the flags below; written by apply()/set_*() (FPM
  // thread) and taken by the builder thread.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<fpm::RouteChange> queue_;
  std::optional<OverlayPeers> peers_update_;
  bool zebra_synced_ = false;
  bool stopping_ = false;

  // Builder thread only.
  OverlayPeers peers_;
  std::map<fpm::RouteKey, fpm::Route> desired_;
  std::map<IpPrefix, fwd::ctl::RouteUpdate> installed_;  // what the forwarder has from us
  std::map<fpm::RouteKey, OverlayRoute> overlay_;
  std::map<std::uint32_t, std::size_t> per_table_;
  // Routes that are skipped or ECMP-truncated now (gauges in FibStatus).
  struct Mark {
    std::optional<SkipReason> skip;
    bool truncated = false;
  };
  std::map<fpm::RouteKey, Mark> marks_;
  std::array<std::size_t, kSkipReasonCount> skipped_now_{};
  std::size_t truncated_now_ = 0;
  std::vector<fwd::ctl::RouteUpdate> pending_;
  // Next-hop groups (builder thread only).
  struct Group {
    MemberSet members;
    std::size_t routes = 0;   // installed prefixes that use it
    bool programmed = false;  // sent to the forwarder
  };
  std::map<std::uint16_t, Group> groups_;            // ours, by id
  std::map<MemberSet, std::uint16_t> group_of_set_;  // the same, by member set
  std::map<IpPrefix, std::uint16_t> route_group_;    // installed prefix -> its group
  std::map<std::uint16_t, MemberSet> found_groups_;  // the forwarder's at connect, not ours yet
  std::set<std::uint16_t> group_sets_;               // to send before the next routes
  std::set<std::uint16_t> group_deletes_;            // to send after them (if still unused)
  PortMap ports_;
  bool need_full_ = true;
  bool swept_ = false;
  std::chrono::steady_clock::time_point next_connect_{};
  std::chrono::steady_clock::time_point last_activity_{};

  mutable std::mutex status_mu_;  // protects status_: written by the builder thread
  FibStatus status_;
  std::unique_ptr<std::thread> thread_;
};

}  // namespace causeway::rt
