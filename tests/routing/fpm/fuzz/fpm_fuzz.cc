// SPDX-License-Identifier: Apache-2.0
// libFuzzer target over the whole FPM core: framer + netlink parser + route state. The input
// is a zebra byte stream, delivered in pieces whose sizes come from the input itself; time
// advances between pieces so sweeps and next-hop settling run too. A rejected stream starts
// a new connection with the rest. Oracle: no crash/leak (ASan), and the sink's view of the
// table (built only from the batches) always equals the core's.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <span>

#include "fpm/core.h"

namespace causeway::rt::fpm {
namespace {

class MirrorSink final : public RouteSink {
 public:
  void apply(std::span<const RouteChange> changes) override {
    for (const auto& c : changes) {
      bool had = table.count(c.route.key) != 0;
      switch (c.kind) {
        case ChangeKind::kAdd:
          if (had) std::abort();
          table[c.route.key] = c.route;
          break;
        case ChangeKind::kReplace:
          if (!had) std::abort();
          table[c.route.key] = c.route;
          break;
        case ChangeKind::kDelete:
          if (!had) std::abort();
          table.erase(c.route.key);
          break;
      }
    }
  }
  std::map<RouteKey, Route> table;
};

}  // namespace
}  // namespace causeway::rt::fpm

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace causeway::rt::fpm;
  using namespace std::chrono_literals;
  MirrorSink sink;
  Core core(sink, CoreOptions{1s});
  TimePoint now = TimePoint{} + 1000s;
  core.connection_opened(now);
  std::span<const std::uint8_t> rest(data, size);
  std::size_t piece = 1 + (size > 0 ? data[0] % 64 : 0);
  while (!rest.empty()) {
    std::size_t n = std::min(piece, rest.size());
    if (!core.receive(rest.first(n), now)) core.connection_opened(now);
    piece = 1 + (rest[n - 1] * 37u) % 997;
    rest = rest.subspan(n);
    now += std::chrono::milliseconds(rest.empty() ? 0 : rest[0] * 20);
    core.tick(now);
  }
  core.tick(now + 10s);
  if (sink.table != core.routes()) std::abort();
  return 0;
}
