// SPDX-License-Identifier: Apache-2.0
// cw_fib_insert_bench: what one rte_fib copy costs to fill with the forwarding benchmark's
// route set (route_set.h), in the order causeway-fwd applies a batch today (hash-map order,
// i.e. random) beside the same routes sorted by prefix within each batch of 16384, and
// sorted as a whole. Same table shape as the forwarder's
// defaults (DIR-24-8, 2^21 routes, 2^15 tbl8 groups, 4-byte next hops) and the same EAL
// memory mode as the benchmark (--no-huge unless told otherwise). It isolates the DPDK part
// of the FIB load time that bench/run-forwarding.sh measures end to end; the forwarder pays
// it twice per route (two FIB copies).
//
// Usage: cw_fib_insert_bench <EAL args> -- [--routes N] [--seed S]
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_lcore.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "route_set.h"

namespace {

using causeway::bench::BenchRoute;

rte_fib* make_fib(const char* name) {
  rte_fib_conf c{};
  c.type = RTE_FIB_DIR24_8;
  c.default_nh = 0;
  c.max_routes = 1 << 21;
  c.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
  c.dir24_8.num_tbl8 = 1 << 15;
  return rte_fib_create(name, static_cast<int>(rte_socket_id()), &c);
}

// Returns seconds, or a negative value when the FIB refused a route.
double fill(rte_fib* fib, const std::vector<BenchRoute>& routes) {
  const auto t0 = std::chrono::steady_clock::now();
  std::uint32_t nh = 1;
  for (const BenchRoute& r : routes) {
    if (rte_fib_add(fib, r.network, r.length, nh) != 0) return -1;
    nh = nh % 8 + 1;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int used = rte_eal_init(argc, argv);
  if (used < 0) {
    std::fprintf(stderr, "cw_fib_insert_bench: EAL: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  std::size_t n = 1000000;
  std::uint64_t seed = causeway::bench::kDefaultRouteSeed;
  for (int i = used + 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--routes") {
      n = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (a == "--seed") {
      seed = std::strtoull(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "cw_fib_insert_bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const std::vector<BenchRoute> random_order = causeway::bench::make_bench_routes(n, seed);
  std::vector<BenchRoute> sorted = random_order;
  auto by_prefix = [](const BenchRoute& a, const BenchRoute& b) {
    return a.network != b.network ? a.network < b.network : a.length < b.length;
  };
  std::sort(sorted.begin(), sorted.end(), by_prefix);

  // What sorting inside the forwarder's commit() alone would give: each batch of 16384 routes
  // (the loader's batch size; random subsets of the table) sorted on its own.
  std::vector<BenchRoute> batch_sorted = random_order;
  constexpr std::size_t kBatch = 16384;
  for (std::size_t first = 0; first < batch_sorted.size(); first += kBatch) {
    const auto last = batch_sorted.begin() +
                      static_cast<std::ptrdiff_t>(std::min(first + kBatch, batch_sorted.size()));
    std::sort(batch_sorted.begin() + static_cast<std::ptrdiff_t>(first), last, by_prefix);
  }

  int rc = 0;
  const struct {
    const char* order;
    const std::vector<BenchRoute>* routes;
  } cases[] = {{"random", &random_order}, {"batch_sorted", &batch_sorted}, {"sorted", &sorted}};
  for (const auto& c : cases) {
    rte_fib* fib = make_fib(c.order);
    if (!fib) {
      std::fprintf(stderr, "cw_fib_insert_bench: rte_fib_create: %s\n", rte_strerror(rte_errno));
      rc = 1;
      break;
    }
    const double s = fill(fib, *c.routes);
    if (s < 0) {
      std::fprintf(stderr, "cw_fib_insert_bench: rte_fib_add failed (%s order)\n", c.order);
      rc = 1;
    } else {
      std::printf("fib_insert order=%s routes=%zu seconds=%.3f ns_per_route=%.0f\n", c.order, n, s,
                  s * 1e9 / static_cast<double>(n));
    }
    rte_fib_free(fib);
  }
  rte_eal_cleanup();
  return rc;
}
