// SPDX-License-Identifier: Apache-2.0
// Cost of classifying the packets of path-group routes (dataplane/traffic_class.h), per packet,
// over bursts of 32 varied IPv4/UDP packets, beside two references measured in the same run:
//  - the empty table (what every path-group packet pays when no classes are set: one test);
//  - an FNV-1a flow hash of the same 5-tuple, the per-packet work tunnel_output already does to
//    choose the member.
// Cases: 3 classes like the documented intent (voice DSCP+UDP+ports, erp TCP+prefix, a
// catch-all), packets spread over them; and 15 classes with every criterion where no packet
// matches (the longest scan the table allows).
// Run: nice build/bench/traffic_class_bench --benchmark_repetitions=5
//        --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "causeway/fwd/steering_codec.h"
#include "dataplane/traffic_class.h"
#include "dataplane/wire.h"
#include "runtime/traffic_classes.h"

using namespace causeway;
using namespace causeway::fwd;

namespace {

constexpr unsigned kBurst = 32;

struct Burst {
  std::vector<std::vector<std::uint8_t>> pkts;
};

// 32 packets: DSCP EF/0/AF41, UDP and TCP, ports 5060 / 443 / 20000+, destinations in and out
// of 10.2.50.0/24.
Burst make_burst() {
  Burst b;
  for (unsigned i = 0; i < kBurst; ++i) {
    std::vector<std::uint8_t> p(64, 0);
    std::uint8_t* ip = p.data();
    ip[0] = 0x45;
    ip[1] = static_cast<std::uint8_t>((i % 3 == 0 ? 46 : i % 3 == 1 ? 0 : 34) << 2);
    ip[9] = i % 2 ? 6 : 17;
    wire::store_be32(ip + 12, 0x0a010005u + i);
    wire::store_be32(ip + 16, (i % 4 == 0 ? 0x0a023201u : 0x0a030001u) + i);
    wire::store_be16(ip + 20, static_cast<std::uint16_t>(40000 + i));
    wire::store_be16(ip + 22, static_cast<std::uint16_t>(i % 5 == 0 ? 5060 : 20000 + i));
    b.pkts.push_back(std::move(p));
  }
  return b;
}

TrafficClassifier compile(const std::string& text) {
  auto spec = ctl::parse_traffic_classes(nlohmann::json::parse(text));
  auto t = compile_traffic_classes(spec.value());
  return t.value();
}

TrafficClassifier intent_like() {
  return compile(R"({"classes": [
      {"id": 1, "dscp": [46, 34, 40], "protocol": "udp", "dst_ports": ["5060", "16384-32767"]},
      {"id": 2, "protocol": "tcp", "dst_prefixes": ["10.2.50.0/24"]},
      {"id": 3}]})");
}

TrafficClassifier worst_case() {
  std::string text = R"({"classes": [)";
  for (int id = 1; id <= 15; ++id) {
    if (id > 1) text += ",";
    // DSCP matches (EF is everywhere in the burst), protocol matches, ports never do, so
    // every rule is tested down to its port lists.
    text += R"({"id": )" + std::to_string(id) +
            R"(, "dscp": [0, 34, 46], "protocol": "udp", "ports": ["1-2", "3-4", "5-6", "7-8"],)"
            R"( "dst_prefixes": ["192.0.2.0/24", "198.51.100.0/24"]})";
  }
  return compile(text + "]}");
}

void run(benchmark::State& state, const TrafficClassifier& t) {
  const Burst b = make_burst();
  unsigned sum = 0;
  for (auto _ : state) {
    for (const auto& p : b.pkts) {
      sum += t.n_rules == 0 ? 0 : classify(t, p.data(), true, static_cast<std::uint32_t>(p.size()));
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kBurst);
}

void BM_classify_empty_table(benchmark::State& state) {
  run(state, TrafficClassifier{});
}
void BM_classify_intent_3_classes(benchmark::State& state) {
  run(state, intent_like());
}
void BM_classify_15_classes_no_match(benchmark::State& state) {
  run(state, worst_case());
}

// Reference: the flow hash tunnel_output computes per packet (FNV-1a over addresses, protocol
// and ports).
void BM_reference_flow_hash(benchmark::State& state) {
  const Burst b = make_burst();
  std::uint32_t sum = 0;
  for (auto _ : state) {
    for (const auto& p : b.pkts) {
      std::uint32_t h = 2166136261u;
      const std::uint8_t* ip = p.data();
      for (unsigned i = 12; i < 20; ++i) h = (h ^ ip[i]) * 16777619u;
      h = (h ^ ip[9]) * 16777619u;
      for (unsigned i = 20; i < 24; ++i) h = (h ^ ip[i]) * 16777619u;
      sum += h ^ (h >> 16);
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kBurst);
}

}  // namespace

BENCHMARK(BM_reference_flow_hash);
BENCHMARK(BM_classify_empty_table);
BENCHMARK(BM_classify_intent_3_classes);
BENCHMARK(BM_classify_15_classes_no_match);
BENCHMARK_MAIN();
