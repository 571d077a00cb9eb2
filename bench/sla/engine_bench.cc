// SPDX-License-Identifier: Apache-2.0
// SLA engine cost with 1000 paths (250 remote PoPs x 4 backbones, 4 traffic classes):
//   BM_ProbeEvent     one probe sent + its reply (2 events) on a rotating path
//   BM_AdvanceRound   advance() after every path got a new reply: all 1000 paths judged and all
//                     1000 (PoP, class) decisions recomputed; manual time = thread CPU time of
//                     advance() only
//   BM_AdvanceIdle    advance() with nothing new (the periodic tick)
//   BM_Reference_*    the floor an event cannot beat: a hash lookup plus a ring-buffer push
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <unordered_map>
#include <vector>

#include "causeway/rt/sla/engine.h"

using namespace causeway::rt::sla;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t kPops = 250;
const std::vector<std::string> kBackbones = {"inet", "mpls", "lte", "sat"};
constexpr std::uint32_t kPaths = kPops * 4;

Policy bench_policy() {
  Policy p;
  p.backbones = kBackbones;
  p.sla_classes = {{"realtime", 1.0, 150.0, 10.0},
                   {"transactional", 2.0, 300.0, std::nullopt},
                   {"bulk", 5.0, std::nullopt, std::nullopt}};
  p.traffic_classes = {
      {"voice", "realtime", {"inet", "mpls", "lte"}, LoadBalance::kPreferred, {}},
      {"video", "realtime", {"mpls", "inet"}, LoadBalance::kEcmp, {}},
      {"web", "transactional", {"inet", "mpls", "sat"}, LoadBalance::kPreferred, {}},
      {"backup", "bulk", {"sat", "lte"}, LoadBalance::kEcmp, {FallbackMode::kBackup, "inet", 0}},
  };
  return p;
}

struct Bed {
  Engine engine = std::move(Engine::create(bench_policy()).value());
  TimePoint now{};
  std::uint32_t seq = 0;

  Bed() {
    for (std::uint32_t i = 0; i < kPaths; ++i)
      (void)engine.add_path(PathId(i), "pop" + std::to_string(i / 4), kBackbones[i % 4]);
    for (int r = 0; r < 40; ++r) round();
    (void)engine.advance(now);
  }

  // One probe and its reply on every path; RTT varies a little per path and round.
  void round() {
    for (std::uint32_t i = 0; i < kPaths; ++i) engine.on_probe_sent(PathId(i), seq, now);
    for (std::uint32_t i = 0; i < kPaths; ++i)
      engine.on_probe_reply(PathId(i), seq,
                            now + 20ms + std::chrono::microseconds((i * 7 + seq) % 500));
    ++seq;
    now += 100ms;
  }
};

void BM_ProbeEvent(benchmark::State& state) {
  Bed bed;
  std::uint32_t i = 0;
  for (auto _ : state) {
    const PathId p(i % kPaths);
    bed.engine.on_probe_sent(p, bed.seq, bed.now);
    bed.engine.on_probe_reply(p, bed.seq, bed.now + 20ms);
    if (++i % kPaths == 0) {
      ++bed.seq;
      bed.now += 100ms;
    }
  }
  state.SetItemsProcessed(state.iterations() * 2);
  state.counters["ns_per_event"] =
      benchmark::Counter(static_cast<double>(state.iterations() * 2),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ProbeEvent);

// The shared 2-core machine is loaded by other builds; thread CPU time is what advance() costs.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void BM_AdvanceRound(benchmark::State& state) {
  Bed bed;
  for (auto _ : state) {
    bed.round();
    const double t0 = thread_cpu_seconds();
    auto changes = bed.engine.advance(bed.now);
    benchmark::DoNotOptimize(changes.data());
    state.SetIterationTime(thread_cpu_seconds() - t0);
  }
  // Items: (PoP, traffic class) decisions recomputed per advance().
  state.SetItemsProcessed(state.iterations() * kPops * 4);
  state.counters["ns_per_decision"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kPops * 4),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_AdvanceRound)->UseManualTime();

void BM_AdvanceIdle(benchmark::State& state) {
  Bed bed;
  for (auto _ : state) {
    bed.now += 1ms;
    auto changes = bed.engine.advance(bed.now);
    benchmark::DoNotOptimize(changes.data());
  }
}
BENCHMARK(BM_AdvanceIdle);

// Reference: the least an event must do (find the path, push a sample into a ring).
void BM_Reference_HashFindRingPush(benchmark::State& state) {
  std::unordered_map<std::uint32_t, std::uint32_t> index;
  for (std::uint32_t i = 0; i < kPaths; ++i) index.emplace(i, i);
  std::vector<std::int64_t> ring(kPaths * 32);
  std::vector<std::uint32_t> head(kPaths);
  std::uint32_t i = 0;
  for (auto _ : state) {
    const auto slot = index.find(i++ % kPaths)->second;
    ring[slot * 32 + head[slot]] = i;
    head[slot] = (head[slot] + 1) % 32;
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Reference_HashFindRingPush);

}  // namespace
