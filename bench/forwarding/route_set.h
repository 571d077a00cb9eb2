// SPDX-License-Identifier: Apache-2.0
// The forwarding benchmark's route set (bench/run-forwarding.sh): a deterministic list of
// distinct IPv4 prefixes, the same for a given seed in every program that asks for it, so that
// cw_pcap_gen picks packet destinations the routes cw_route_loader installs actually cover.
//
// Mix for N routes, like a full-table-sized FIB: N/500 /16s, N/100 /20s, N/125 /25../28s
// (each more-specific than /24 costs rte_fib one tbl8 group, so at N = 1M that is 8000 of the
// forwarder's 32768) and /24s for the rest. Networks are drawn from 1.0.0.0..223.255.255.255
// without 10/8 (the benchmark ports' subnets) and 127/8; /16s may cover other routes, as in
// the real table. The order is shuffled so that route batches mix lengths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <vector>

namespace causeway::bench {

inline constexpr std::uint64_t kDefaultRouteSeed = 0x6361757365776179ull;  // "causeway"

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast and the same on every platform, unlike the
// distributions of <random>.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, bound) for bound << 2^64.
  std::uint64_t below(std::uint64_t bound) { return next() % bound; }

 private:
  std::uint64_t state_;
};

struct BenchRoute {
  std::uint32_t network = 0;  // host byte order, host bits zero
  std::uint8_t length = 0;
};

[[nodiscard]] inline std::uint32_t prefix_mask(std::uint8_t length) {
  return length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
}

[[nodiscard]] inline std::vector<BenchRoute> make_bench_routes(std::size_t count,
                                                               std::uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<BenchRoute> routes;
  routes.reserve(count);
  std::unordered_set<std::uint64_t> seen;
  seen.reserve(count * 2);

  auto draw = [&](std::uint8_t length) {
    for (;;) {
      const auto first = static_cast<std::uint32_t>(1 + rng.below(223));  // 1..223
      if (first == 10 || first == 127) continue;
      const std::uint32_t addr = (first << 24) | static_cast<std::uint32_t>(rng.below(1u << 24));
      const std::uint32_t network = addr & prefix_mask(length);
      if (seen.insert((std::uint64_t{network} << 8) | length).second) {
        routes.push_back({network, length});
        return;
      }
    }
  };
  const std::size_t n16 = count / 500;
  const std::size_t n20 = count / 100;
  const std::size_t n_long = count / 125;
  for (std::size_t i = 0; i < n16; ++i) draw(16);
  for (std::size_t i = 0; i < n20; ++i) draw(20);
  for (std::size_t i = 0; i < n_long; ++i) draw(static_cast<std::uint8_t>(25 + i % 4));
  while (routes.size() < count) draw(24);

  for (std::size_t i = routes.size(); i > 1; --i) {  // Fisher-Yates with our generator
    std::swap(routes[i - 1], routes[rng.below(i)]);
  }
  return routes;
}

}  // namespace causeway::bench
