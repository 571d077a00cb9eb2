// SPDX-License-Identifier: Apache-2.0
// The SLA engine of causeway-routed (DESIGN.md §4): sans-I/O (STYLE.md 6). Probe events and the
// current time go in; decisions come out. No thread, socket or clock inside, so the same inputs
// always give the same outputs, which is what lets the decisions drive the forwarder's path
// groups.
//
// Flow (one routed event loop owns the engine):
//   forwarder probe sent    -> on_probe_sent(path, seq, tx)
//   forwarder probe reply   -> on_probe_reply(path, seq, rx)          (RTT = rx - tx)
//   after a batch of events,
//   and at next_deadline()  -> advance(now): probe timeouts -> losses, blackout detection,
//                              per (path, SLA class) compliance with hysteresis and hold-down,
//                              then per (remote PoP, traffic class) the set of paths.
//                              Returns each decision that changed, once, with its reason.
// The algorithm and its defaults: docs/sla.md.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "causeway/common/result.h"
#include "causeway/rt/sla/policy.h"
#include "causeway/rt/sla/snapshot.h"

namespace causeway::rt::sla {

// A decision that changed: log it once, count it, push the path group to the forwarder.
struct DecisionChange {
  std::string remote_pop;
  std::string traffic_class;
  TimePoint at{};
  std::vector<PathId> from;
  std::vector<PathId> to;  // empty: drop the class towards that PoP
  Reason reason = Reason::kNoPath;
  std::string detail;  // human explanation, e.g. why the preferred backbone is not used
};

// The current decision of one (remote PoP, traffic class).
struct Decision {
  std::vector<PathId> paths;
  Reason reason = Reason::kNoPath;
  std::string detail;
  TimePoint since{};
};

class Engine {
 public:
  // Validates the policy (errors name the field) and builds an engine with no paths.
  [[nodiscard]] static Result<Engine> create(Policy policy);

  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  ~Engine();

  // Replaces the policy (reload). All or nothing: on error nothing changes. Path measurements
  // are kept; SLA classes kept by name keep their per-path state. Decisions are re-evaluated
  // at the next advance().
  [[nodiscard]] Result<void> set_policy(Policy policy);
  [[nodiscard]] const Policy& policy() const;

  // Paths (tunnels). Errors: duplicate id, duplicate (remote PoP, backbone), unknown backbone,
  // empty remote PoP name.
  [[nodiscard]] Result<void> add_path(PathId id, std::string remote_pop, std::string backbone);
  [[nodiscard]] Result<void> remove_path(PathId id);

  // Probe events. Unknown paths and unknown sequence numbers are counted, never fatal.
  // Probe times must be monotonic per path.
  void on_probe_sent(PathId path, std::uint32_t seq, TimePoint tx);
  void on_probe_reply(PathId path, std::uint32_t seq, TimePoint rx);

  // Runs timeouts and re-evaluates decisions as of `now` (monotonic). The returned span stays
  // valid until the next call of a non-const member.
  [[nodiscard]] std::span<const DecisionChange> advance(TimePoint now);

  // The earliest time at which advance() could change something without new probe events
  // (a probe timing out, a blackout being declared, a hold-down expiring). nullopt: none.
  [[nodiscard]] std::optional<TimePoint> next_deadline() const;

  // Current decision of a (remote PoP, traffic class); nullptr if no such pair.
  [[nodiscard]] const Decision* decision(std::string_view remote_pop,
                                         std::string_view traffic_class) const;

  [[nodiscard]] Snapshot snapshot() const;

  // Events for unknown paths (counted, not fatal).
  [[nodiscard]] std::uint64_t unknown_path_events() const;

 private:
  struct State;
  explicit Engine(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace causeway::rt::sla
