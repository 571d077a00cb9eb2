// SPDX-License-Identifier: Apache-2.0
// The FPM core on streams recorded from real zebra (Debian FRR 8.4.4, dplane_fpm_nl) by
// tests/routing/fixtures/record_fpm.sh, in next-hop-group mode ("nhg") and with
// `no fpm use-next-hop-groups` ("nonhg"). Each step's table is asserted exactly; in the
// namespace both veths' zebra ifindexes were v1 = 3 and v2 = 5.
#include <catch2/catch.hpp>

#include "fpm_test_util.h"

namespace causeway::rt::fpm::test {
namespace {

using namespace std::chrono_literals;
using Lines = std::vector<std::string>;

const TimePoint kT0 = TimePoint{} + 1000s;

// Feeds a fixture in uneven pieces (1, 2, 3, ... 13 bytes, repeating) so frames and headers
// are split everywhere a TCP read could split them.
void feed(Core& core, const std::string& fixture, TimePoint now) {
  auto bytes = load_fixture(fixture);
  std::span<const std::uint8_t> rest(bytes);
  std::size_t piece = 1;
  while (!rest.empty()) {
    std::size_t n = std::min(piece, rest.size());
    REQUIRE(core.receive(rest.first(n), now));
    rest = rest.subspan(n);
    piece = piece % 13 + 1;
  }
}

// Runs one mode's recording through a core and checks every step. zebra picks one of the
// link-local interfaces for fe80::/64; which one differed between the two recordings.
void check_mode(const std::string& mode, std::uint32_t fe80_ifindex) {
  const std::string fe80 = "t254 fe80::/64 unicast p2 m20 [@" + std::to_string(fe80_ifindex) + "]";
  const Lines connected = {
      "t254 10.0.1.0/24 unicast p2 m20 [@3]",
      "t254 10.0.2.0/24 unicast p2 m20 [@5]",
      "t254 2001:db8:1::/64 unicast p2 m20 [@3]",
      "t254 2001:db8:2::/64 unicast p2 m20 [@5]",
      fe80,
  };
  RecordingSink sink;
  Core core(sink, CoreOptions{3s});
  TimePoint t = kT0;
  core.connection_opened(t);

  feed(core, mode + "-01-connect", t);
  CHECK(describe(core.routes()) == connected);

  t += 10s;
  core.tick(t);  // the first connection's replay has gone quiet: nothing stale to sweep
  CHECK(core.counters()[Counter::kSweeps] == 1);
  CHECK(core.counters()[Counter::kRoutesSwept] == 0);

  feed(core, mode + "-02-static", t);
  CHECK(describe(core.routes()) == Lines{
                                       "t254 10.0.1.0/24 unicast p2 m20 [@3]",
                                       "t254 10.0.2.0/24 unicast p2 m20 [@5]",
                                       "t254 192.0.2.0/24 unicast p196 m20 [10.0.1.2@3]",
                                       "t254 2001:db8:1::/64 unicast p2 m20 [@3]",
                                       "t254 2001:db8:2::/64 unicast p2 m20 [@5]",
                                       "t254 2001:db8:100::/48 unicast p196 m20 [2001:db8:1::2@3]",
                                       fe80,
                                   });

  feed(core, mode + "-03-ecmp", t);
  const Lines ecmp = {
      "t254 10.0.1.0/24 unicast p2 m20 [@3]",
      "t254 10.0.2.0/24 unicast p2 m20 [@5]",
      "t254 192.0.2.0/24 unicast p196 m20 [10.0.1.2@3]",
      "t254 198.51.100.0/24 unicast p196 m20 [10.0.1.2@3 10.0.2.2@5]",
      "t254 2001:db8:1::/64 unicast p2 m20 [@3]",
      "t254 2001:db8:2::/64 unicast p2 m20 [@5]",
      "t254 2001:db8:100::/48 unicast p196 m20 [2001:db8:1::2@3]",
      "t254 2001:db8:200::/48 unicast p196 m20 [2001:db8:1::2@3 2001:db8:2::2@5]",
      fe80,
  };
  CHECK(describe(core.routes()) == ecmp);

  feed(core, mode + "-04-reject", t);
  CHECK(describe(core.routes()) ==
        Lines{
            "t254 10.0.1.0/24 unicast p2 m20 [@3]", "t254 10.0.2.0/24 unicast p2 m20 [@5]",
            "t254 192.0.2.0/24 unicast p196 m20 [10.0.1.2@3]",
            "t254 198.51.100.0/24 unicast p196 m20 [10.0.1.2@3 10.0.2.2@5]",
            "t254 203.0.113.0/24 blackhole p196 m20", "t254 203.0.113.128/25 unreachable p196 m20",
            "t254 2001:db8:1::/64 unicast p2 m20 [@3]", "t254 2001:db8:2::/64 unicast p2 m20 [@5]",
            "t254 2001:db8:100::/48 unicast p196 m20 [2001:db8:1::2@3]",
            "t254 2001:db8:200::/48 unicast p196 m20 [2001:db8:1::2@3 2001:db8:2::2@5]",
            "t254 2001:db8:dead::/48 blackhole p196 m20", fe80,
            "t1001 10.99.0.0/16 unicast p196 m20 [10.0.1.2@3]",  // RTA_TABLE (>= 256)
        });

  // One frame RTM_DELROUTE + RTM_NEWROUTE: one batch with one replace, never a gap.
  std::size_t before = sink.batches.size();
  feed(core, mode + "-05-change", t);
  REQUIRE(sink.batches.size() == before + 2);
  CHECK(sink.batches[before] ==
        Lines{"replace t254 198.51.100.0/24 unicast p196 m20 [10.0.1.2@3]"});
  CHECK(sink.batches[before + 1] == Lines{"delete t254 203.0.113.128/25 unreachable p196 m20"});
  const Lines changed = {
      "t254 10.0.1.0/24 unicast p2 m20 [@3]",
      "t254 10.0.2.0/24 unicast p2 m20 [@5]",
      "t254 192.0.2.0/24 unicast p196 m20 [10.0.1.2@3]",
      "t254 198.51.100.0/24 unicast p196 m20 [10.0.1.2@3]",
      "t254 203.0.113.0/24 blackhole p196 m20",
      "t254 2001:db8:1::/64 unicast p2 m20 [@3]",
      "t254 2001:db8:2::/64 unicast p2 m20 [@5]",
      "t254 2001:db8:100::/48 unicast p196 m20 [2001:db8:1::2@3]",
      "t254 2001:db8:200::/48 unicast p196 m20 [2001:db8:1::2@3 2001:db8:2::2@5]",
      "t254 2001:db8:dead::/48 blackhole p196 m20",
      fe80,
      "t1001 10.99.0.0/16 unicast p196 m20 [10.0.1.2@3]",
  };
  CHECK(describe(core.routes()) == changed);

  // Connection lost. While it was down zebra deleted 2001:db8:100::/48 and added
  // 192.0.2.128/25 (neither sent). The new connection replays adds only.
  core.connection_closed(t);
  t += 30s;
  core.tick(t);  // no sweep while nobody is connected
  CHECK(describe(core.routes()) == changed);
  core.connection_opened(t);
  before = sink.batches.size();
  feed(core, mode + "-06-replay", t);
  // The replay publishes only what differs: the route added while disconnected. Unchanged
  // routes are not re-sent to the forwarder.
  Lines replay_changes;
  for (std::size_t i = before; i < sink.batches.size(); ++i) {
    replay_changes.insert(replay_changes.end(), sink.batches[i].begin(), sink.batches[i].end());
  }
  CHECK(replay_changes == Lines{"add t254 192.0.2.128/25 unicast p196 m20 [10.0.2.2@5]"});
  CHECK(core.state().snapshot_open());
  t += 2999ms;
  core.tick(t);  // still inside the quiet period
  CHECK(core.state().snapshot_open());
  CHECK(core.routes().size() == changed.size() + 1);
  t += 1ms;
  before = sink.batches.size();
  core.tick(t);
  CHECK_FALSE(core.state().snapshot_open());
  // The sweep: the route deleted while disconnected, and the table-1001 route that
  // zebra 8.4.4 does not replay (non-VRF extra tables are not walked on reconnect).
  REQUIRE(sink.batches.size() == before + 1);
  CHECK(sink.batches[before] ==
        Lines{
            "delete t254 2001:db8:100::/48 unicast p196 m20 [2001:db8:1::2@3]",
            "delete t1001 10.99.0.0/16 unicast p196 m20 [10.0.1.2@3]",
        });
  CHECK(describe(core.routes()) ==
        Lines{
            "t254 10.0.1.0/24 unicast p2 m20 [@3]",
            "t254 10.0.2.0/24 unicast p2 m20 [@5]",
            "t254 192.0.2.0/24 unicast p196 m20 [10.0.1.2@3]",
            "t254 192.0.2.128/25 unicast p196 m20 [10.0.2.2@5]",
            "t254 198.51.100.0/24 unicast p196 m20 [10.0.1.2@3]",
            "t254 203.0.113.0/24 blackhole p196 m20",
            "t254 2001:db8:1::/64 unicast p2 m20 [@3]",
            "t254 2001:db8:2::/64 unicast p2 m20 [@5]",
            "t254 2001:db8:200::/48 unicast p196 m20 [2001:db8:1::2@3 2001:db8:2::2@5]",
            "t254 2001:db8:dead::/48 blackhole p196 m20",
            fe80,
        });
  CHECK(core.counters()[Counter::kConnections] == 2);
  CHECK(core.counters()[Counter::kSnapshots] == 2);
  CHECK(core.counters()[Counter::kSweeps] == 2);
  CHECK(core.counters()[Counter::kRoutesSwept] == 2);
  CHECK(core.counters().drops() == 0);
  CHECK(core.counters()[Counter::kFramesPartial] == 0);
  // The sink saw exactly the core's table, with no add of a present key or delete of an
  // absent one.
  CHECK(sink.inconsistent == 0);
  CHECK(describe(sink.table) == describe(core.routes()));
}

TEST_CASE("recorded stream, next-hop-group mode: every step's table is exact") {
  check_mode("nhg", 4);
}

TEST_CASE("recorded stream, no next-hop groups (RTA_MULTIPATH): every step's table is exact") {
  check_mode("nonhg", 3);
}

TEST_CASE("recorded stream: frame and message counts match the recording") {
  // nonhg-05-change holds two frames: DEL+NEW of 198.51.100.0/24, then a DEL.
  RecordingSink sink;
  Core core(sink);
  core.connection_opened(kT0);
  auto bytes = load_fixture("nonhg-05-change");
  REQUIRE(core.receive(bytes, kT0));
  CHECK(core.counters()[Counter::kFrames] == 2);
  CHECK(core.counters()[Counter::kMessages] == 3);
  CHECK(core.counters()[Counter::kBytes] == bytes.size());
  CHECK(core.counters()[Counter::kDeleteUnknown] == 2);  // empty table: nothing to delete
  CHECK(describe(core.routes()) == Lines{"t254 198.51.100.0/24 unicast p196 m20 [10.0.1.2@3]"});
}

TEST_CASE("recorded NHG replay: groups that arrive before their members still resolve") {
  // A fresh core that only sees the replay (as after a routed restart): group 25 = {17, 26}
  // arrives before 26 in zebra's hash-order walk.
  RecordingSink sink;
  Core core(sink);
  core.connection_opened(kT0);
  auto bytes = load_fixture("nhg-06-replay");
  REQUIRE(core.receive(bytes, kT0));
  CHECK(describe(core.routes()).size() == 11);
  CHECK(core.routes().at(RouteKey{254, *IpPrefix::parse("198.51.100.0/24")}).next_hops.size() == 1);
  CHECK(core.routes().at(RouteKey{254, *IpPrefix::parse("2001:db8:200::/48")}).next_hops.size() ==
        2);
  CHECK(core.counters().drops() == 0);
}

}  // namespace
}  // namespace causeway::rt::fpm::test
