// SPDX-License-Identifier: Apache-2.0
// Routes per second through the FPM core, beside the reference measured in the same run:
// libnl's rtnl_route_parse alone on the same messages (what any libnl-based FPM reader
// pays at the least). 100,000 IPv4 /24 routes, one per FPM frame as zebra sends them.
//   BM_LibnlRouteParse     reference: rtnl_route_parse + rtnl_route_put per message
//   BM_CoreLoadInline      empty table <- routes with RTA_GATEWAY/RTA_OIF (no NHG mode)
//   BM_CoreLoadNhg         empty table <- routes with RTA_NH_ID to a 2-way group (NHG mode)
//   BM_CoreReplayIdentical full table <- reconnect + identical replay + sweep (no changes)
//   BM_CoreHeap1M          heap bytes per route held by a core with 1,000,000 routes
//                          (glibc mallinfo2, before/after; one iteration)
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <netlink/route/route.h>

#include <memory>

#include "fpm_test_util.h"

namespace causeway::rt::fpm {
namespace {

using namespace std::chrono_literals;
constexpr std::uint32_t kRoutes = 100000;

class NullSink final : public RouteSink {
 public:
  void apply(std::span<const RouteChange> c) override { changes += c.size(); }
  std::size_t changes = 0;
};

std::string v4(std::uint32_t host_order) {
  return IpAddress::v4(host_order).str();
}

// One FPM frame per route: 10.0.0.0/24, 10.0.1.0/24, ...
std::vector<std::uint8_t> stream(bool nhg, std::uint32_t routes = kRoutes) {
  std::vector<std::uint8_t> out;
  auto append = [&](const std::vector<std::uint8_t>& f) {
    out.insert(out.end(), f.begin(), f.end());
  };
  test::NlBuilder b;
  if (nhg) {
    for (std::uint32_t id : {1u, 2u}) {
      b.begin(RTM_NEWNEXTHOP);
      b.nhmsg_(AF_INET);
      b.u32(NHA_ID, id);
      b.addr(NHA_GATEWAY, id == 1 ? "10.255.1.2" : "10.255.2.2");
      b.u32(NHA_OIF, id + 2);
      b.end();
      append(b.frame());
    }
    b.begin(RTM_NEWNEXTHOP);
    b.nhmsg_(AF_UNSPEC);
    b.u32(NHA_ID, 3);
    std::uint8_t group[16] = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
    b.attr(NHA_GROUP, group, sizeof group);
    b.end();
    append(b.frame());
  }
  for (std::uint32_t i = 0; i < routes; ++i) {
    std::string dst = v4((10u << 24) + (i << 8));
    b.begin(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE);
    b.rtmsg_(AF_INET, 24);
    b.addr(RTA_DST, dst.c_str());
    b.u32(RTA_PRIORITY, 20);
    if (nhg) {
      b.u32(RTA_NH_ID, 3);
    } else {
      b.u32(RTA_OIF, 3);
      b.addr(RTA_GATEWAY, "10.255.1.2");
    }
    b.end();
    append(b.frame());
  }
  return out;
}

const std::vector<std::uint8_t>& inline_stream() {
  static const auto s = stream(false);
  return s;
}
const std::vector<std::uint8_t>& nhg_stream() {
  static const auto s = stream(true);
  return s;
}

const TimePoint kT0 = TimePoint{} + 1000s;

void BM_LibnlRouteParse(benchmark::State& state) {
  // The same messages, already delimited and aligned: libnl's work only.
  std::vector<std::vector<std::uint32_t>> msgs;
  std::span<const std::uint8_t> s(inline_stream());
  while (!s.empty()) {
    std::size_t len = (std::size_t{s[2]} << 8) | s[3];
    auto m = s.subspan(4, len - 4);
    msgs.emplace_back((m.size() + 3) / 4);
    std::memcpy(msgs.back().data(), m.data(), m.size());
    s = s.subspan(len);
  }
  for (auto _ : state) {
    for (auto& m : msgs) {
      rtnl_route* r = nullptr;
      if (rtnl_route_parse(reinterpret_cast<nlmsghdr*>(m.data()), &r) < 0)
        state.SkipWithError("libnl");
      benchmark::DoNotOptimize(rtnl_route_get_table(r));
      rtnl_route_put(r);
    }
  }
  state.SetItemsProcessed(state.iterations() * kRoutes);
}
BENCHMARK(BM_LibnlRouteParse)->Unit(benchmark::kMillisecond);

void load(benchmark::State& state, const std::vector<std::uint8_t>& bytes) {
  for (auto _ : state) {
    NullSink sink;
    auto core = std::make_unique<Core>(sink);
    core->connection_opened(kT0);
    if (!core->receive(bytes, kT0) || core->routes().size() != kRoutes) state.SkipWithError("load");
    state.PauseTiming();
    core.reset();  // table teardown is not what is measured
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kRoutes);
}
void BM_CoreLoadInline(benchmark::State& state) {
  load(state, inline_stream());
}
void BM_CoreLoadNhg(benchmark::State& state) {
  load(state, nhg_stream());
}
BENCHMARK(BM_CoreLoadInline)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CoreLoadNhg)->Unit(benchmark::kMillisecond);

void BM_CoreReplayIdentical(benchmark::State& state) {
  NullSink sink;
  Core core(sink);
  TimePoint t = kT0;
  core.connection_opened(t);
  if (!core.receive(inline_stream(), t)) state.SkipWithError("load");
  std::size_t before = sink.changes;
  for (auto _ : state) {
    t += 10s;
    core.connection_opened(t);
    if (!core.receive(inline_stream(), t)) state.SkipWithError("replay");
    core.tick(t + 10s);
  }
  if (sink.changes != before) state.SkipWithError("an identical replay changed the table");
  state.SetItemsProcessed(state.iterations() * kRoutes);
}
BENCHMARK(BM_CoreReplayIdentical)->Unit(benchmark::kMillisecond);

void BM_CoreHeap1M(benchmark::State& state) {
  constexpr std::uint32_t kMillion = 1000000;
  auto bytes = stream(false, kMillion);
  for (auto _ : state) {
    NullSink sink;
    std::size_t before = mallinfo2().uordblks;
    auto core = std::make_unique<Core>(sink);
    core->connection_opened(kT0);
    if (!core->receive(bytes, kT0) || core->routes().size() != kMillion)
      state.SkipWithError("load");
    std::size_t after = mallinfo2().uordblks;
    state.counters["heap_bytes_per_route"] = static_cast<double>(after - before) / kMillion;
    state.counters["heap_MiB"] = static_cast<double>(after - before) / (1 << 20);
    state.counters["routes_per_s"] = benchmark::Counter(kMillion, benchmark::Counter::kIsRate);
  }
}
BENCHMARK(BM_CoreHeap1M)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace causeway::rt::fpm
