// SPDX-License-Identifier: Apache-2.0
// Failover times of the SLA engine in simulated time (no network, no wall clock): for a given
// probe interval, the blackout (or +150 ms brownout) starts at 100 offsets spread evenly over
// one probe interval; each run drives the engine event by event (probe sent, reply, engine
// deadline) exactly like routed does and records how long after the start the class moved.
// Prints median and max per interval. This is the engine's share of failover; the netns
// benchmark adds the forwarder's probe path and the path-group update.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <vector>

#include "causeway/rt/sla/engine.h"

using namespace causeway::rt::sla;
using namespace std::chrono_literals;

namespace {

enum class Fault { kBlackout, kBrownout };

// Returns the time from fault start to the first decision moving "voice" off inet.
TimePoint run(std::uint32_t interval_ms, std::uint32_t blackout_probes, TimePoint fault_at,
              Fault fault) {
  Policy p;
  p.backbones = {"inet", "mpls"};
  p.sla_classes = {{"realtime", 1.0, 100.0, 10.0}};
  p.traffic_classes = {{"voice", "realtime", {"inet", "mpls"}, LoadBalance::kPreferred, {}}};
  p.timers.probe_interval_ms = interval_ms;
  p.timers.blackout_probes = blackout_probes;
  Engine e = std::move(Engine::create(p).value());
  (void)e.add_path(PathId(1), "fra", "inet");
  (void)e.add_path(PathId(2), "fra", "mpls");
  const TimePoint interval = std::chrono::milliseconds(interval_ms);
  const TimePoint base = 15ms;
  // A fault hits probes in flight too: a blackout drops any packet crossing the link after
  // fault_at; a brownout delays those sent after it.
  const auto rtt = [&](std::uint32_t path, TimePoint tx) -> std::optional<TimePoint> {
    if (path == 2) return 25ms;
    if (fault == Fault::kBlackout) {
      if (tx + base > fault_at) return std::nullopt;
      return base;
    }
    return tx >= fault_at ? base + 150ms : base;
  };
  std::multimap<TimePoint, std::pair<std::uint32_t, std::uint32_t>> replies;
  TimePoint now{}, next_send{};
  std::uint32_t seq = 0;
  const TimePoint until = fault_at + 30s;
  while (now < until) {
    TimePoint next = next_send;
    if (!replies.empty()) next = std::min(next, replies.begin()->first);
    if (auto d = e.next_deadline(); d && *d >= now) next = std::min(next, *d);
    now = next;
    if (now == next_send) {
      for (std::uint32_t path : {1u, 2u}) {
        e.on_probe_sent(PathId(path), seq, now);
        if (auto r = rtt(path, now)) replies.emplace(now + *r, std::make_pair(path, seq));
      }
      ++seq;
      next_send += interval;
    }
    while (!replies.empty() && replies.begin()->first == now) {
      e.on_probe_reply(PathId(replies.begin()->second.first), replies.begin()->second.second, now);
      replies.erase(replies.begin());
    }
    for (const auto& c : e.advance(now))
      if (now >= fault_at && c.to == std::vector<PathId>{PathId(2)}) return now - fault_at;
  }
  return TimePoint::max();
}

void report(const char* what, Fault fault, std::uint32_t interval_ms,
            std::uint32_t blackout_probes) {
  std::vector<double> ms;
  constexpr int kRuns = 100;
  for (int i = 0; i < kRuns; ++i) {
    const TimePoint offset = std::chrono::microseconds(interval_ms * 1000 * i / kRuns);
    ms.push_back(
        static_cast<double>(run(interval_ms, blackout_probes, 20s + offset, fault).count()) / 1e6);
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "%-9s interval %3u ms, blackout_probes %2u: fault-to-switch median %7.1f ms, "
      "min %7.1f ms, max %7.1f ms (%d start offsets)\n",
      what, interval_ms, blackout_probes, ms[ms.size() / 2], ms.front(), ms.back(), kRuns);
}

}  // namespace

int main() {
  // At 20 ms with 3 probes the detect time (60 ms) is shorter than the 150 ms delay step, so
  // the brownout is caught by fast fail; with 10 probes (200 ms) it is caught as a brownout.
  for (auto [interval, probes] : {std::pair{100u, 3u}, {20u, 3u}, {20u, 10u}}) {
    report("blackout", Fault::kBlackout, interval, probes);
    report("brownout", Fault::kBrownout, interval, probes);
  }
  return 0;
}
