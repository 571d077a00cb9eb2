// SPDX-License-Identifier: Apache-2.0
// The SLA engine driven through scripted measurement sequences under a fake clock: blackout
// (fast fail at 100 ms and 20 ms probes, switch time exact), brownout (latency-sensitive class
// moves, bulk stays), oscillation around a threshold (no flap), slow recovery after hold-down,
// every fallback mode, ECMP among equals, determinism, and counters for bad input.
#include <catch2/catch.hpp>

#include "sla_testing.h"

using namespace causeway;
using namespace causeway::rt::sla;
using namespace causeway::rt::sla::test;

namespace {

// Link that is dead for probes sent in [from, to).
[[maybe_unused]] LinkModel blackout(TimePoint rtt, TimePoint from,
                                    TimePoint to = TimePoint::max()) {
  return [=](TimePoint tx) -> std::optional<TimePoint> {
    if (tx >= from && tx < to) return std::nullopt;
    return rtt;
  };
}

// Link with `extra` delay for probes sent in [from, to).
[[maybe_unused]] LinkModel delayed(TimePoint rtt, TimePoint extra, TimePoint from,
                                   TimePoint to = TimePoint::max()) {
  return [=](TimePoint tx) -> std::optional<TimePoint> {
    return tx >= from && tx < to ? rtt + extra : rtt;
  };
}

}  // namespace

std::vector<std::uint32_t> ids(std::initializer_list<std::uint32_t> l) {
  return l;
}

TEST_CASE("paths qualify once the window has min_samples; the preferred backbone wins") {
  Net net(base_policy());
  net.add(1, "fra", "inet", constant(20ms));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(5s);
  const auto voice = net.changes("voice");
  REQUIRE(voice.size() == 3);
  // t=0: first decision, nothing has answered yet.
  CHECK(voice[0].at == 0ms);
  CHECK(voice[0].reason == Reason::kNoPathUp);
  CHECK(voice[0].to.empty());
  // t=20 ms: inet answers; not yet judged (1/10 samples), so best of worst uses it.
  CHECK(voice[1].at == 20ms);
  CHECK(voice[1].reason == Reason::kBestOfWorst);
  CHECK(voice[1].to == ids({1}));
  // t=920 ms: the 10th outcome (probe sent at 900 ms) qualifies inet: preferred and compliant.
  CHECK(voice[2].at == 920ms);
  CHECK(voice[2].reason == Reason::kPreferred);
  CHECK(voice[2].to == ids({1}));
  CHECK(net.paths("fra", "bulk") == ids({1}));
  CHECK(net.state(2, "realtime") == Compliance::kCompliant);
}

TEST_CASE("blackout at 100 ms probes: 3 probe intervals without reply take the path out") {
  Net net(base_policy(100));
  // Probes sent from 20.000 s on are lost; the last reply (probe of 19.900 s) arrived at
  // 19.920 s, so the blackout began in (19.920, 20.000].
  net.add(1, "fra", "inet", blackout(20ms, 20s));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(20s);
  REQUIRE(net.paths("fra", "voice") == ids({1}));
  REQUIRE(net.paths("fra", "bulk") == ids({1}));
  net.run_until(25s);
  for (const char* tc : {"voice", "bulk"}) {
    const auto ch = net.changes(tc, 20s);
    REQUIRE(ch.size() == 1);
    // last reply + 3 x 100 ms; probes of 20.0, 20.1, 20.2 s unanswered.
    CHECK(ch[0].at == 20220ms);
    CHECK(ch[0].to == ids({2}));
    CHECK(ch[0].reason == Reason::kPreferred);
    CHECK_THAT(ch[0].detail, Catch::Contains("'inet': down (no reply for 300 ms)"));
    // Bound: at most 3 x interval after the latest possible blackout start (19.920 s), and
    // well under 400 ms after the first lost probe left.
    CHECK(ch[0].at - 19920ms <= 300ms);
    CHECK(ch[0].at - 20000ms < 400ms);
  }
  CHECK(net.state(1, "realtime") == Compliance::kDown);
}

TEST_CASE("blackout at 20 ms probes: switch 60 ms after the last reply") {
  Net net(base_policy(20));
  net.add(1, "fra", "inet", blackout(15ms, 20s));
  net.add(2, "fra", "mpls", constant(25ms));
  net.run_until(20s);
  REQUIRE(net.paths("fra", "voice") == ids({1}));
  net.run_until(21s);
  const auto ch = net.changes("voice", 20s);
  REQUIRE(ch.size() == 1);
  // Last reply: probe of 19.980 s at 19.995 s; + 3 x 20 ms.
  CHECK(ch[0].at == 20055ms);
  CHECK(ch[0].to == ids({2}));
  CHECK(ch[0].at - 19995ms <= 60ms);
}

TEST_CASE("a stall that takes every path down at once keeps the class on its path") {
  // 20 ms probes, 60 ms detect time: 100 ms in which neither link answers (what a host that
  // did not run the forwarders for that long looks like) takes both paths down together.
  Net net(base_policy(20));
  net.add(1, "fra", "inet", blackout(15ms, 20s, 20100ms));
  net.add(2, "fra", "mpls", blackout(15ms, 20s, 20100ms));
  net.run_until(20s);
  REQUIRE(net.paths("fra", "voice") == ids({1}));
  net.run_until(20080ms);
  CHECK(net.state(1, "realtime") == Compliance::kDown);
  CHECK(net.state(2, "realtime") == Compliance::kDown);
  CHECK(net.reason("fra", "voice") == Reason::kNoPathUp);
  // Nothing is up, and the class still has its path: it is never dropped, and it never moves
  // while the paths earn compliance back.
  net.run_until(40s);
  const auto ch = net.changes("voice", 20s);
  REQUIRE_FALSE(ch.empty());
  for (const auto& c : ch) CHECK(c.to == ids({1}));
  CHECK_THAT(ch.front().detail, Catch::Contains("keeping the last paths"));
  CHECK(net.reason("fra", "voice") == Reason::kPreferred);
}

TEST_CASE("fast fail needs 3 missed probes: 2 lost in a row do not take the path out") {
  Net net(base_policy(100));
  net.add(1, "fra", "inet", blackout(20ms, 20s, 20200ms));  // probes of 20.0 and 20.1 s lost
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(21s);
  CHECK(net.engine().snapshot().paths.at(0).blackouts == 0);
  // bulk (5% loss allowed) stays; voice (1%) leaves when the 2 losses are declared (21.1 s).
  CHECK(net.changes("bulk", 20s).empty());
  net.run_until(22s);
  CHECK(net.paths("fra", "bulk") == ids({1}));
}

TEST_CASE("a long-RTT path whose replies flow is not a blackout") {
  Net net(base_policy(100));
  net.add(1, "fra", "inet", constant(350ms));  // 3.5 probe intervals in flight
  net.run_until(30s);
  const auto p = net.engine().snapshot().paths.at(0);
  CHECK(p.blackouts == 0);
  CHECK(p.health == PathHealth::kUp);
  CHECK(p.lost == 0);
  CHECK(net.paths("fra", "bulk") == ids({1}));
  CHECK(net.reason("fra", "bulk") == Reason::kPreferred);
  // voice (100 ms) cannot use it; best of worst still does.
  CHECK(net.reason("fra", "voice") == Reason::kBestOfWorst);
}

TEST_CASE("20 ms probes: a +150 ms step looks like a blackout; nothing lost, so bulk returns") {
  Net net(base_policy(20));
  net.add(1, "fra", "inet", delayed(15ms, 150ms, 20s));
  net.add(2, "fra", "mpls", constant(25ms));
  net.run_until(30s);
  // No reply for 60 ms (the delayed replies need 165 ms): fast fail at 19.995 + 0.060 s.
  const auto voice = net.changes("voice", 20s);
  REQUIRE(voice.size() == 1);
  CHECK(voice[0].at == 20055ms);
  CHECK(voice[0].to == ids({2}));
  // The first delayed reply (probe of 20.000 s) arrives at 20.165 s with no probe lost: the
  // blackout was spurious. bulk (no latency limit) goes back at once, without hold-down;
  // voice stays away because 165 ms breaks its 100 ms limit.
  const auto bulk = net.changes("bulk", 20s);
  REQUIRE(bulk.size() == 2);
  CHECK(bulk[0].at == 20055ms);
  CHECK(bulk[0].to == ids({2}));
  CHECK(bulk[1].at == 20165ms);
  CHECK(bulk[1].to == ids({1}));
  const auto p = net.engine().snapshot().paths.at(0);
  CHECK(p.blackouts == 1);
  CHECK(p.spurious_blackouts == 1);
  CHECK(p.lost == 0);
}

TEST_CASE("a real blackout is not spurious: losses were declared before the path came back") {
  Net net(base_policy(100));
  net.add(1, "fra", "inet", blackout(20ms, 20s, 22s));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(23s);
  const auto p = net.engine().snapshot().paths.at(0);
  CHECK(p.blackouts == 1);
  CHECK(p.spurious_blackouts == 0);
  CHECK(net.paths("fra", "bulk") == ids({2}));  // back only after the loss window and hold-down
}

TEST_CASE("fast fail happens within one advance even if routed calls it only at deadlines") {
  Net net(base_policy(100));
  net.add(1, "fra", "inet", blackout(20ms, 20s));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(20210ms);
  CHECK(net.paths("fra", "voice") == ids({1}));  // 290 ms without reply: not yet
  auto d = net.engine().next_deadline();
  REQUIRE(d);
  CHECK(*d == 20220ms);
  net.run_until(20220ms);
  CHECK(net.paths("fra", "voice") == ids({2}));
}

TEST_CASE("brownout: +150 ms on the preferred backbone moves voice; bulk stays") {
  Net net(base_policy(100));
  net.add(1, "fra", "inet", delayed(20ms, 150ms, 20s));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(20s);
  REQUIRE(net.paths("fra", "voice") == ids({1}));
  net.run_until(40s);
  const auto voice = net.changes("voice", 20s);
  REQUIRE(voice.size() == 1);
  // Mean RTT over the 30-sample window exceeds 100 ms with 17 delayed samples:
  // (17 x 170 + 13 x 20) / 30 = 105 ms. The 17th delayed probe left at 21.6 s, back at 21.77 s.
  CHECK(voice[0].at == 21770ms);
  CHECK(voice[0].to == ids({2}));
  CHECK_THAT(voice[0].detail, Catch::Contains("'inet': out of SLA (rtt 105.0 ms > 100.0 ms)"));
  CHECK(voice[0].at - 20000ms < 2s);
  CHECK(net.changes("bulk", 20s).empty());
  CHECK(net.paths("fra", "bulk") == ids({1}));
  CHECK(net.state(1, "bulk") == Compliance::kCompliant);
}

TEST_CASE("brownout by loss: 5% loss moves the 1% class when the loss is declared; 5% stays") {
  Net net(base_policy(100));
  // From 20 s, every 20th probe of inet is lost (5%); losses count after the 1 s timeout.
  net.add(1, "fra", "inet", [](TimePoint tx) -> std::optional<TimePoint> {
    if (tx >= 20s && (tx / 100ms) % 20 == 0) return std::nullopt;
    return 20ms;
  });
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(60s);
  const auto voice = net.changes("voice", 20s);
  REQUIRE(voice.size() == 1);
  // Losses of the probes of 20 s and 22 s are declared at 21 s and 23 s; 2 of 100 > 1%.
  CHECK(voice[0].at == 23s);
  CHECK(voice[0].to == ids({2}));
  CHECK_THAT(voice[0].detail, Catch::Contains("'inet': out of SLA (loss 2.0% > 1.0%)"));
  // bulk allows 5%: 5 in the 100-outcome window is not over it.
  CHECK(net.changes("bulk", 20s).empty());
}

TEST_CASE("recovery: the path returns only after the hold-down of sustained compliance") {
  Net net(base_policy(100));
  net.add(1, "fra", "inet", delayed(20ms, 150ms, 20s, 40s));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(40s);
  REQUIRE(net.paths("fra", "voice") == ids({2}));
  // Run until inet is back inside the enter band and the hold-down starts.
  TimePoint recovering_at{};
  for (TimePoint t = 40s; t < 60s; t += 10ms) {
    net.run_until(t);
    if (net.state(1, "realtime") == Compliance::kRecovering) {
      recovering_at = net.state_since(1, "realtime");
      break;
    }
  }
  REQUIRE(recovering_at > 40s);
  net.run_until(recovering_at + 10s - 1ns);
  CHECK(net.paths("fra", "voice") == ids({2}));
  net.run_until(recovering_at + 10s);
  CHECK(net.paths("fra", "voice") == ids({1}));
  const auto back = net.changes("voice", 40s);
  REQUIRE(back.size() == 1);
  CHECK(back[0].at == recovering_at + 10s);
  CHECK(back[0].reason == Reason::kPreferred);
  // The delay went away at 40 s; it takes the window to forget plus the hold-down.
  CHECK(back[0].at > 50s);
}

TEST_CASE("recovery: a violation during the hold-down restarts it") {
  Net net(base_policy(100));
  net.add(1, "fra", "inet", blackout(20ms, 20s, 21s));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(21s);
  REQUIRE(net.paths("fra", "voice") == ids({2}));
  // 10 lost probes in the window: loss 33% until they roll out, then the hold-down starts.
  TimePoint first{};
  for (TimePoint t = 21s; t < 40s && first == TimePoint{}; t += 10ms) {
    net.run_until(t);
    if (net.state(1, "realtime") == Compliance::kRecovering) first = net.state_since(1, "realtime");
  }
  REQUIRE(first > 21s);
  // A second short blackout during the hold-down (5 probes lost).
  net.set_link(1, blackout(20ms, first + 2s, first + 2500ms));
  net.run_until(first + 10s);
  CHECK(net.paths("fra", "voice") == ids({2}));
  CHECK(net.state(1, "realtime") != Compliance::kCompliant);
  net.run_until(60s);
  const auto back = net.changes("voice", 21s);
  REQUIRE(back.size() == 1);
  CHECK(back[0].to == ids({1}));
  const TimePoint second = net.state_since(1, "realtime");  // when it became compliant
  CHECK(back[0].at == second);
  CHECK(back[0].at >= first + 2500ms + 10s);
}

// RTT of inet follows `pattern` (ms), one value per probe, cycling.
LinkModel pattern(std::vector<int> ms, TimePoint interval) {
  return [=](TimePoint tx) -> std::optional<TimePoint> {
    const auto i = static_cast<std::size_t>(tx / interval) % ms.size();
    return std::chrono::milliseconds(ms[i]);
  };
}

// 25 probes at 95 ms then 25 at 106 ms: the window mean swings across 100 ms every 5 s.
std::vector<int> oscillating() {
  std::vector<int> v(25, 95);
  v.insert(v.end(), 25, 106);
  return v;
}

TEST_CASE("oscillation around a threshold: hysteresis and hold-down keep it from flapping") {
  Net net(base_policy(100));
  net.add(1, "fra", "inet", pattern(oscillating(), 100ms));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(120s);
  // inet qualifies (mean 95 ms), leaves once when the mean first exceeds 100 ms, and never
  // re-enters: the mean never drops to 90 ms (enter band 10%).
  const auto ch = net.changes("voice", 1s);
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == ids({2}));
  CHECK(net.paths("fra", "voice") == ids({2}));
}

TEST_CASE("oscillation without hysteresis or hold-down flaps (the knobs matter)") {
  auto p = base_policy(100);
  p.timers.enter_band_pct = 0;
  p.timers.hold_down_ms = 0;
  Net net(p);
  net.add(1, "fra", "inet", pattern(oscillating(), 100ms));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(120s);
  CHECK(net.changes("voice", 1s).size() >= 20);
}

TEST_CASE("jitter alone breaks a class: RTT alternating 20/45 ms from 20 s") {
  Net net(base_policy(100));
  net.add(1, "fra", "inet", [](TimePoint tx) -> std::optional<TimePoint> {
    if (tx < 20s) return 20ms;
    return (tx / 100ms) % 2 ? 45ms : 20ms;
  });
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(30s);
  const auto voice = net.changes("voice", 20s);
  REQUIRE(voice.size() == 1);
  CHECK(voice[0].to == ids({2}));
  // Every step is 25 ms; mean |diff| over 29 pairs passes 10 ms at the 12th step:
  // 12 x 25 / 29 = 10.3 ms (11 steps: 9.5 ms). Step n comes with the probe of 20 s + n x 100 ms;
  // the 12th (21.2 s, RTT 20 ms) returns at 21.220 s.
  CHECK(voice[0].at == 21220ms);
  CHECK_THAT(voice[0].detail, Catch::Contains("jitter 10.3 ms > 10.0 ms"));
  CHECK(net.changes("bulk", 20s).empty());
}

TEST_CASE("ECMP among compliant equals; a violating path leaves the set") {
  auto p = base_policy(100);
  p.traffic_classes[0].load_balance = LoadBalance::kEcmp;
  Net net(p);
  net.add(1, "fra", "inet", delayed(20ms, 150ms, 20s));
  net.add(2, "fra", "mpls", constant(30ms));
  net.add(3, "fra", "lte", constant(40ms));  // not in the class's list: never used
  net.run_until(20s);
  CHECK(net.paths("fra", "voice") == ids({1, 2}));
  CHECK(net.reason("fra", "voice") == Reason::kEcmp);
  net.run_until(30s);
  CHECK(net.paths("fra", "voice") == ids({2}));
  CHECK(net.reason("fra", "voice") == Reason::kEcmp);
}

TEST_CASE("fallback best_of_worst: least-bad path, sticky within the variance band") {
  auto p = base_policy(100);
  p.timers.hold_down_ms = 0;
  Net net(p);
  // Both backbones leave the SLA at 20 s: inet 140 ms (score 1.40), mpls 135 ms (1.35).
  // Both are within 10% of the best, so the most preferred of them (inet) carries voice.
  net.add(1, "fra", "inet", delayed(20ms, 120ms, 20s));
  net.add(2, "fra", "mpls", delayed(30ms, 105ms, 20s));
  net.run_until(30s);
  CHECK(net.reason("fra", "voice") == Reason::kBestOfWorst);
  CHECK(net.paths("fra", "voice") == ids({1}));
  // mpls improves to 125 ms (1.25): inet (1.40) leaves the band (1.375): switch.
  net.set_link(2, delayed(30ms, 95ms, 20s));
  net.run_until(40s);
  CHECK(net.paths("fra", "voice") == ids({2}));
  // inet improves to 122 ms (1.22, best); mpls (1.25) is inside the band: stay on mpls.
  net.set_link(1, delayed(20ms, 102ms, 20s));
  net.run_until(50s);
  CHECK(net.paths("fra", "voice") == ids({2}));
  CHECK(net.reason("fra", "voice") == Reason::kBestOfWorst);
  const auto ch = net.changes("voice", 20s);
  REQUIRE(ch.size() == 2);
  CHECK_THAT(ch[1].detail, Catch::Contains("best of worst: 'mpls'"));
}

TEST_CASE("fallback best_of_worst without variance follows the best score") {
  auto p = base_policy(100);
  p.timers.hold_down_ms = 0;
  p.traffic_classes[0].fallback.variance_pct = 0;
  Net net(p);
  net.add(1, "fra", "inet", delayed(20ms, 120ms, 20s));
  net.add(2, "fra", "mpls", delayed(30ms, 95ms, 20s));
  net.run_until(40s);
  CHECK(net.paths("fra", "voice") == ids({2}));
  net.set_link(1, delayed(20ms, 102ms, 20s));
  net.run_until(50s);
  CHECK(net.paths("fra", "voice") == ids({1}));
}

TEST_CASE("fallback best_of_worst with ecmp uses every path within the band") {
  auto p = base_policy(100);
  p.traffic_classes[0].load_balance = LoadBalance::kEcmp;
  Net net(p);
  net.add(1, "fra", "inet", delayed(20ms, 120ms, 20s));
  net.add(2, "fra", "mpls", delayed(30ms, 105ms, 20s));
  net.run_until(30s);
  CHECK(net.reason("fra", "voice") == Reason::kBestOfWorst);
  CHECK(net.paths("fra", "voice") == ids({1, 2}));
}

TEST_CASE("fallback backup: the named backup backbone when nothing complies") {
  auto p = base_policy(100);
  p.traffic_classes[0].fallback = {FallbackMode::kBackup, "lte", 0};
  Net net(p);
  net.add(1, "fra", "inet", blackout(20ms, 20s));
  net.add(2, "fra", "mpls", blackout(30ms, 20s));
  net.add(3, "fra", "lte", blackout(300ms, 30s));  // out of SLA itself, but up until 30 s
  net.run_until(20s);
  CHECK(net.paths("fra", "voice") == ids({1}));
  net.run_until(25s);
  CHECK(net.paths("fra", "voice") == ids({3}));
  CHECK(net.reason("fra", "voice") == Reason::kBackup);
  // The backup dies too: no path is up, so the class keeps the path it has (a host stall can
  // make every path look dead; if they really are, the packets are lost either way).
  net.run_until(35s);
  CHECK(net.paths("fra", "voice") == ids({3}));
  CHECK(net.reason("fra", "voice") == Reason::kNoPathUp);
}

TEST_CASE("fallback drop: strict, no path when nothing complies") {
  auto p = base_policy(100);
  p.traffic_classes[0].fallback = {FallbackMode::kDrop, "", 0};
  Net net(p);
  net.add(1, "fra", "inet", delayed(20ms, 150ms, 20s));
  net.add(2, "fra", "mpls", delayed(30ms, 150ms, 20s));
  net.run_until(30s);
  CHECK(net.paths("fra", "voice").empty());
  CHECK(net.reason("fra", "voice") == Reason::kDrop);
  // bulk (best_of_worst, loss only) is unaffected by delay.
  CHECK(net.paths("fra", "bulk") == ids({1}));
}

TEST_CASE("decisions are per remote PoP") {
  Net net(base_policy(100));
  net.add(1, "fra", "inet", delayed(20ms, 150ms, 20s));
  net.add(2, "fra", "mpls", constant(30ms));
  net.add(3, "ams", "inet", constant(10ms));
  net.add(4, "ams", "mpls", constant(12ms));
  net.run_until(30s);
  CHECK(net.paths("fra", "voice") == ids({2}));
  CHECK(net.paths("ams", "voice") == ids({3}));
  CHECK(net.changes("voice", 20s).size() == 1);
}

TEST_CASE("same inputs, same decisions: two runs produce identical change logs") {
  const auto run = [] {
    Net net(base_policy(20));
    net.add(1, "fra", "inet", pattern(oscillating(), 20ms));
    net.add(2, "fra", "mpls", blackout(30ms, 7s, 9s));
    net.add(3, "ams", "inet", delayed(10ms, 150ms, 5s, 15s));
    net.add(4, "ams", "mpls", constant(12ms));
    net.run_until(40s);
    return net.all_changes();
  };
  const auto a = run();
  const auto b = run();
  CHECK(a.size() > 5);
  CHECK(a == b);
}

TEST_CASE("every decision change is counted once, by reason") {
  Net net(base_policy(100));
  net.add(1, "fra", "inet", blackout(20ms, 20s));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(25s);
  const auto snap = net.engine().snapshot();
  CHECK(snap.decision_changes == net.all_changes().size());
  std::uint64_t sum = 0;
  for (auto n : snap.changes_by_reason) sum += n;
  CHECK(sum == snap.decision_changes);
  for (const auto& c : snap.classes) {
    std::uint64_t n = 0;
    for (const auto& ch : net.all_changes())
      if (ch.remote_pop == c.remote_pop && ch.traffic_class == c.traffic_class) ++n;
    CHECK(c.changes == n);
  }
}

TEST_CASE("metrics: RTT mean/min/max/p90, jitter as mean |consecutive difference|, loss") {
  Net net(base_policy(100));
  // RTT cycles 10, 20, 30 ms; every 10th probe lost.
  net.add(1, "fra", "inet", [](TimePoint tx) -> std::optional<TimePoint> {
    const auto i = tx / 100ms;
    if (i % 10 == 9) return std::nullopt;
    return std::chrono::milliseconds(10 + 10 * (i % 3));
  });
  net.run_until(10s);
  const auto p = net.engine().snapshot().paths.at(0);
  // Outcomes so far: 90 replies (probes of 0..9.9 s minus 10 lost) and 9 losses declared (the
  // probe of 9.9 s has not timed out yet): 9 / 99.
  CHECK(p.metrics.outcomes == 99);
  CHECK(p.metrics.loss_pct == Approx(100.0 * 9 / 99));
  CHECK(p.metrics.rtt_min_ms == Approx(10.0));
  CHECK(p.metrics.rtt_max_ms == Approx(30.0));
  CHECK(p.metrics.rtt_p90_ms == Approx(30.0));
  CHECK(p.metrics.rtt_mean_ms > 19.0);
  CHECK(p.metrics.rtt_mean_ms < 21.0);
  CHECK(p.metrics.jitter_ms > 9.0);
  CHECK(p.metrics.jitter_ms < 15.0);
  CHECK(p.lost > 0);
}

TEST_CASE("untrusted events are counted, never fatal") {
  auto e = Engine::create(base_policy());
  REQUIRE(e);
  Engine& eng = e.value();
  REQUIRE(eng.add_path(PathId(1), "fra", "inet"));
  eng.on_probe_sent(PathId(99), 1, 0ms);
  eng.on_probe_reply(PathId(99), 1, 10ms);
  CHECK(eng.unknown_path_events() == 2);
  eng.on_probe_sent(PathId(1), 5, 0ms);
  eng.on_probe_reply(PathId(1), 5, 10ms);
  eng.on_probe_reply(PathId(1), 5, 11ms);        // duplicate: already answered
  eng.on_probe_reply(PathId(1), 1000000, 12ms);  // never sent
  (void)eng.advance(20ms);
  eng.on_probe_sent(PathId(1), 6, 100ms);
  (void)eng.advance(1200ms);                 // 6 times out
  eng.on_probe_reply(PathId(1), 6, 1300ms);  // late
  const auto p = eng.snapshot().paths.at(0);
  CHECK(p.replies == 1);
  CHECK(p.lost == 1);
  CHECK(p.late_replies == 2);
  CHECK(p.unknown_replies == 1);
}

TEST_CASE("paths: errors for duplicates and unknown backbones; removal re-decides") {
  auto e = Engine::create(base_policy());
  REQUIRE(e);
  Engine& eng = e.value();
  REQUIRE(eng.add_path(PathId(1), "fra", "inet"));
  auto dup = eng.add_path(PathId(1), "ams", "inet");
  REQUIRE(!dup);
  CHECK_THAT(dup.error().message, Catch::Contains("already exists"));
  auto same = eng.add_path(PathId(2), "fra", "inet");
  REQUIRE(!same);
  CHECK_THAT(same.error().message, Catch::Contains("already has a path on backbone 'inet'"));
  auto bad = eng.add_path(PathId(3), "fra", "satellite");
  REQUIRE(!bad);
  CHECK_THAT(bad.error().message, Catch::Contains("unknown backbone 'satellite'"));
  (void)eng.advance(0ms);
  REQUIRE(eng.remove_path(PathId(1)));
  const auto ch = eng.advance(1ms);
  REQUIRE(ch.size() == 2);
  CHECK(ch[0].reason == Reason::kNoPath);
  CHECK(!eng.remove_path(PathId(1)));
}

TEST_CASE("set_policy: all or nothing; kept classes keep their state") {
  Net net(base_policy(100));
  net.add(1, "fra", "inet", constant(20ms));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(5s);
  REQUIRE(net.paths("fra", "voice") == ids({1}));
  auto bad = base_policy(100);
  bad.traffic_classes[0].backbones = {"nope"};
  REQUIRE(!net.engine().set_policy(bad));
  CHECK(net.engine().policy().traffic_classes[0].backbones.size() == 2);
  auto good = base_policy(100);
  std::swap(good.traffic_classes[0].backbones[0], good.traffic_classes[0].backbones[1]);
  REQUIRE(net.engine().set_policy(good));
  net.run_until(5s + 1ms);
  CHECK(net.paths("fra", "voice") == ids({2}));  // new preference, no requalification
  CHECK(net.paths("fra", "bulk") == ids({1}));
  CHECK(net.changes("bulk", 5s).empty());
}
