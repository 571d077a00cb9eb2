// SPDX-License-Identifier: Apache-2.0
// A scripted network for the SLA engine under a fake clock: each path is a link whose RTT (or
// loss) is a function of the probe's send time; probes leave every probe_interval; the loop
// jumps from event to event (probe sent, reply arriving, engine deadline) and calls advance()
// at each, exactly as routed's event loop does. Every decision change is recorded with its time.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "causeway/rt/sla/engine.h"

namespace causeway::rt::sla::test {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

// RTT of a probe sent at `tx`, or nullopt when it (or its reply) is lost.
using LinkModel = std::function<std::optional<TimePoint>(TimePoint tx)>;

inline LinkModel constant(TimePoint rtt) {
  return [rtt](TimePoint) { return std::optional<TimePoint>(rtt); };
}

inline Policy base_policy(std::uint32_t interval_ms = 100) {
  Policy p;
  p.backbones = {"inet", "mpls", "lte"};
  p.sla_classes = {
      {"realtime", 1.0, 100.0, 10.0},
      {"bulk", 5.0, std::nullopt, std::nullopt},
  };
  TrafficClass voice{"voice", "realtime", {"inet", "mpls"}, LoadBalance::kPreferred, {}};
  TrafficClass bulk{"bulk", "bulk", {"inet", "mpls"}, LoadBalance::kPreferred, {}};
  p.traffic_classes = {voice, bulk};
  p.timers.probe_interval_ms = interval_ms;
  return p;
}

struct Change {
  TimePoint at;
  std::string remote_pop;
  std::string traffic_class;
  std::vector<std::uint32_t> to;
  Reason reason;
  std::string detail;
  bool operator==(const Change&) const = default;
};

class Net {
 public:
  explicit Net(Policy policy) : engine_(make(std::move(policy))) {}

  // Adds a path whose link follows `model`.
  void add(std::uint32_t id, const std::string& pop, const std::string& backbone, LinkModel m) {
    REQUIRE(engine_.add_path(PathId(id), pop, backbone));
    links_[id] = Link{std::move(m), 0};
  }
  void set_link(std::uint32_t id, LinkModel m) { links_.at(id).model = std::move(m); }

  // Runs the event loop until `until` (inclusive).
  void run_until(TimePoint until) {
    const TimePoint interval = Ms(engine_.policy().timers.probe_interval_ms);
    while (true) {
      TimePoint next = next_send_;
      if (!replies_.empty()) next = std::min(next, replies_.begin()->first);
      if (auto d = engine_.next_deadline(); d && *d >= now_) next = std::min(next, *d);
      if (next > until) break;
      now_ = next;
      if (now_ == next_send_) {
        for (auto& [id, link] : links_) {
          const std::uint32_t seq = link.seq++;
          engine_.on_probe_sent(PathId(id), seq, now_);
          if (auto rtt = link.model(now_)) replies_.emplace(now_ + *rtt, std::make_pair(id, seq));
        }
        next_send_ += interval;
      }
      while (!replies_.empty() && replies_.begin()->first == now_) {
        const auto [id, seq] = replies_.begin()->second;
        engine_.on_probe_reply(PathId(id), seq, now_);
        replies_.erase(replies_.begin());
      }
      for (const auto& c : engine_.advance(now_)) {
        std::vector<std::uint32_t> to;
        for (auto p : c.to) to.push_back(p.value());
        changes_.push_back({c.at, c.remote_pop, c.traffic_class, to, c.reason, c.detail});
      }
    }
    now_ = until;
  }

  // Decision changes of one traffic class (towards any PoP) at or after `from`.
  std::vector<Change> changes(const std::string& tc, TimePoint from = TimePoint{}) const {
    std::vector<Change> out;
    for (const auto& c : changes_)
      if (c.traffic_class == tc && c.at >= from) out.push_back(c);
    return out;
  }
  const std::vector<Change>& all_changes() const { return changes_; }

  std::vector<std::uint32_t> paths(const std::string& pop, const std::string& tc) const {
    std::vector<std::uint32_t> out;
    const Decision* d = engine_.decision(pop, tc);
    REQUIRE(d != nullptr);
    for (auto p : d->paths) out.push_back(p.value());
    return out;
  }
  Reason reason(const std::string& pop, const std::string& tc) const {
    const Decision* d = engine_.decision(pop, tc);
    REQUIRE(d != nullptr);
    return d->reason;
  }
  Compliance state(std::uint32_t path, const std::string& sla) const {
    return class_state(path, sla).state;
  }
  TimePoint state_since(std::uint32_t path, const std::string& sla) const {
    return class_state(path, sla).since;
  }
  PathClassState class_state(std::uint32_t path, const std::string& sla) const {
    const Snapshot snap = engine_.snapshot();  // the loop must not outlive a temporary
    for (const auto& p : snap.paths)
      if (p.id == PathId(path))
        for (const auto& c : p.classes)
          if (c.sla_class == sla) return c;
    FAIL("no such path/class");
    return {};
  }

  Engine& engine() { return engine_; }
  TimePoint now() const { return now_; }

 private:
  static Engine make(Policy policy) {
    auto e = Engine::create(std::move(policy));
    if (!e) FAIL(e.error().message);
    return std::move(e).value();
  }
  struct Link {
    LinkModel model;
    std::uint32_t seq;
  };
  Engine engine_;
  std::map<std::uint32_t, Link> links_;
  std::multimap<TimePoint, std::pair<std::uint32_t, std::uint32_t>> replies_;
  TimePoint now_{};
  TimePoint next_send_{};
  std::vector<Change> changes_;
};

}  // namespace causeway::rt::sla::test
