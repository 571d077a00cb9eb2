// SPDX-License-Identifier: Apache-2.0
// Snapshot rule and next-hop resolution with a fake clock: mark on connect, replay, sweep
// once the connection has been quiet for the quiet period; never sweep without a live
// connection; forward references; next-hop objects that change under their routes.
#include <catch2/catch.hpp>

#include "fpm_test_util.h"

namespace causeway::rt::fpm::test {
namespace {

using namespace std::chrono_literals;
using Lines = std::vector<std::string>;
const TimePoint kT0 = TimePoint{} + 1000s;

std::vector<std::uint8_t> nh_frame(std::uint32_t id, const char* gw, std::uint32_t oif) {
  NlBuilder b;
  b.begin(RTM_NEWNEXTHOP);
  b.nhmsg_(AF_INET);
  b.u32(NHA_ID, id);
  b.addr(NHA_GATEWAY, gw);
  b.u32(NHA_OIF, oif);
  b.end();
  return b.frame();
}
std::vector<std::uint8_t> group_frame(std::uint32_t id, std::vector<std::uint32_t> members) {
  NlBuilder b;
  b.begin(RTM_NEWNEXTHOP);
  b.nhmsg_(AF_UNSPEC);
  b.u32(NHA_ID, id);
  std::vector<std::uint8_t> g(members.size() * 8, 0);
  for (std::size_t i = 0; i < members.size(); ++i) std::memcpy(&g[i * 8], &members[i], 4);
  b.attr(NHA_GROUP, g.data(), g.size());
  b.end();
  return b.frame();
}
std::vector<std::uint8_t> nhid_route_frame(const char* dst, std::uint8_t len, std::uint32_t id) {
  NlBuilder b;
  b.begin(RTM_NEWROUTE);
  b.rtmsg_(AF_INET, len);
  b.addr(RTA_DST, dst);
  b.u32(RTA_NH_ID, id);
  b.end();
  return b.frame();
}

struct Fixture {
  RecordingSink sink;
  Core core{sink, CoreOptions{3s}};
  bool push(const std::vector<std::uint8_t>& b, TimePoint t) { return core.receive(b, t); }
};

TEST_CASE("snapshot: the sweep waits for quiet_period after the connection's last frame") {
  Fixture f;
  f.core.connection_opened(kT0);
  REQUIRE(f.push(v4_route_frame("192.0.2.0", 24, "10.0.1.2", 3), kT0));
  REQUIRE(f.push(v4_route_frame("198.51.100.0", 24, "10.0.1.2", 3), kT0));
  f.core.tick(kT0 + 3s);
  REQUIRE(f.core.counters()[Counter::kSweeps] == 1);
  CHECK(f.core.deadline() == std::nullopt);

  // Reconnect; the replay trickles in (frames at +0, +2 s, +4 s): no sweep in between.
  TimePoint t = kT0 + 10s;
  f.core.connection_opened(t);
  CHECK(f.core.deadline() == t + 3s);
  REQUIRE(f.push(v4_route_frame("192.0.2.0", 24, "10.0.1.2", 3), t + 2s));
  f.core.tick(t + 4s);
  CHECK(f.core.counters()[Counter::kSweeps] == 1);
  REQUIRE(f.push(v4_route_frame("203.0.113.0", 24, "10.0.2.2", 5), t + 4s));
  CHECK(f.core.deadline() == t + 7s);
  f.core.tick(t + 6999ms);
  CHECK(f.core.counters()[Counter::kSweeps] == 1);
  std::size_t before = f.sink.batches.size();
  f.core.tick(t + 7s);
  CHECK(f.core.counters()[Counter::kSweeps] == 2);
  REQUIRE(f.sink.batches.size() == before + 1);
  CHECK(f.sink.batches.back() ==
        Lines{"delete t254 198.51.100.0/24 unicast p196 m20 [10.0.1.2@3]"});
  CHECK(describe(f.core.routes()) == Lines{"t254 192.0.2.0/24 unicast p196 m20 [10.0.1.2@3]",
                                           "t254 203.0.113.0/24 unicast p196 m20 [10.0.2.2@5]"});
}

TEST_CASE("snapshot: an identical replay publishes nothing; an empty one deletes everything") {
  Fixture f;
  f.core.connection_opened(kT0);
  auto a = v4_route_frame("192.0.2.0", 24, "10.0.1.2", 3);
  auto b = v4_route_frame("198.51.100.0", 24, "10.0.1.2", 3);
  REQUIRE(f.push(a, kT0));
  REQUIRE(f.push(b, kT0));
  f.core.tick(kT0 + 5s);
  std::size_t before = f.sink.batches.size();
  f.core.connection_opened(kT0 + 10s);
  REQUIRE(f.push(b, kT0 + 10s));
  REQUIRE(f.push(a, kT0 + 10s));
  f.core.tick(kT0 + 20s);
  CHECK(f.sink.batches.size() == before);  // the forwarder is not touched
  CHECK(f.core.routes().size() == 2);

  // zebra comes back with an empty table: one batch deletes both.
  f.core.connection_opened(kT0 + 30s);
  f.core.tick(kT0 + 33s);
  REQUIRE(f.sink.batches.size() == before + 1);
  CHECK(f.sink.batches.back().size() == 2);
  CHECK(f.core.routes().empty());
  CHECK(f.core.counters()[Counter::kRoutesSwept] == 2);
  CHECK(f.sink.inconsistent == 0);
}

TEST_CASE("snapshot: no sweep while disconnected; an interrupted replay is not swept") {
  Fixture f;
  f.core.connection_opened(kT0);
  REQUIRE(f.push(v4_route_frame("192.0.2.0", 24, "10.0.1.2", 3), kT0));
  REQUIRE(f.push(v4_route_frame("198.51.100.0", 24, "10.0.1.2", 3), kT0));
  f.core.tick(kT0 + 3s);
  // A second connection replays half the table and drops.
  f.core.connection_opened(kT0 + 10s);
  REQUIRE(f.push(v4_route_frame("192.0.2.0", 24, "10.0.1.2", 3), kT0 + 10s));
  f.core.connection_closed(kT0 + 10s);
  f.core.tick(kT0 + 60s);
  CHECK(f.core.routes().size() == 2);  // the forwarder keeps its last state
  CHECK(f.core.counters()[Counter::kSweeps] == 1);
  // A third connection replays everything: nothing is lost.
  f.core.connection_opened(kT0 + 70s);
  REQUIRE(f.push(v4_route_frame("198.51.100.0", 24, "10.0.1.2", 3), kT0 + 70s));
  REQUIRE(f.push(v4_route_frame("192.0.2.0", 24, "10.0.1.2", 3), kT0 + 70s));
  f.core.tick(kT0 + 73s);
  CHECK(f.core.counters()[Counter::kSweeps] == 2);
  CHECK(f.core.counters()[Counter::kRoutesSwept] == 0);
  CHECK(f.core.routes().size() == 2);
}

TEST_CASE("next-hop groups: forward references resolve when the last piece arrives") {
  Fixture f;
  f.core.connection_opened(kT0);
  // Route first, then the group, then its members (worse than zebra's hash order).
  REQUIRE(f.push(nhid_route_frame("198.51.100.0", 24, 30), kT0));
  REQUIRE(f.push(group_frame(30, {31, 32}), kT0));
  REQUIRE(f.push(nh_frame(31, "10.0.1.2", 3), kT0));
  CHECK(f.core.routes().empty());
  CHECK(f.sink.batches.empty());
  REQUIRE(f.push(nh_frame(32, "10.0.2.2", 5), kT0));
  REQUIRE(f.sink.batches.size() == 1);
  CHECK(f.sink.batches[0] ==
        Lines{"add t254 198.51.100.0/24 unicast p196 m0 [10.0.1.2@3 10.0.2.2@5]"});
  f.core.tick(kT0 + 3s);
  CHECK(f.core.counters()[Counter::kNhgUndefined] == 0);
}

TEST_CASE("next-hop groups: a changed object re-resolves every route using it, in one batch") {
  Fixture f;
  f.core.connection_opened(kT0);
  REQUIRE(f.push(nh_frame(1, "10.0.1.2", 3), kT0));
  REQUIRE(f.push(nh_frame(2, "10.0.2.2", 5), kT0));
  REQUIRE(f.push(group_frame(3, {1, 2}), kT0));
  REQUIRE(f.push(nhid_route_frame("192.0.2.0", 24, 1), kT0));
  REQUIRE(f.push(nhid_route_frame("198.51.100.0", 24, 3), kT0));
  REQUIRE(f.push(nhid_route_frame("203.0.113.0", 24, 2), kT0));
  std::size_t before = f.sink.batches.size();
  // Object 1 moves to another gateway (zebra restarted and reused the id).
  REQUIRE(f.push(nh_frame(1, "10.0.1.9", 3), kT0));
  REQUIRE(f.sink.batches.size() == before + 1);
  CHECK(f.sink.batches.back() ==
        Lines{"replace t254 192.0.2.0/24 unicast p196 m0 [10.0.1.9@3]",
              "replace t254 198.51.100.0/24 unicast p196 m0 [10.0.1.9@3 10.0.2.2@5]"});
  // Re-sending an identical object changes nothing.
  REQUIRE(f.push(nh_frame(2, "10.0.2.2", 5), kT0));
  CHECK(f.sink.batches.size() == before + 1);
  // A route moving from a group to inline next hops.
  REQUIRE(f.push(v4_route_frame("198.51.100.0", 24, "10.0.2.2", 5), kT0));
  CHECK(f.sink.batches.back() ==
        Lines{"replace t254 198.51.100.0/24 unicast p196 m20 [10.0.2.2@5]"});
  // Deleting object 2 while a route uses it: the route keeps its last form until the
  // stream is quiet, then it is withdrawn and counted.
  NlBuilder b;
  b.begin(RTM_DELNEXTHOP);
  b.nhmsg_(AF_UNSPEC);
  b.u32(NHA_ID, 2);
  b.end();
  REQUIRE(f.push(b.frame(), kT0));
  CHECK(f.core.routes().count(RouteKey{254, *IpPrefix::parse("203.0.113.0/24")}) == 1);
  f.core.tick(kT0 + 3s);
  CHECK(f.core.routes().count(RouteKey{254, *IpPrefix::parse("203.0.113.0/24")}) == 0);
  CHECK(f.core.counters()[Counter::kNhgUndefined] == 1);
  CHECK(f.sink.inconsistent == 0);
  CHECK(describe(f.sink.table) == describe(f.core.routes()));
}

TEST_CASE("snapshot: stale next-hop objects are swept with their routes") {
  Fixture f;
  f.core.connection_opened(kT0);
  REQUIRE(f.push(nh_frame(1, "10.0.1.2", 3), kT0));
  REQUIRE(f.push(nh_frame(2, "10.0.2.2", 5), kT0));
  REQUIRE(f.push(nhid_route_frame("192.0.2.0", 24, 1), kT0));
  REQUIRE(f.push(nhid_route_frame("198.51.100.0", 24, 2), kT0));
  f.core.tick(kT0 + 3s);
  f.core.connection_opened(kT0 + 10s);
  REQUIRE(f.push(nh_frame(1, "10.0.1.2", 3), kT0 + 10s));
  REQUIRE(f.push(nhid_route_frame("192.0.2.0", 24, 1), kT0 + 10s));
  f.core.tick(kT0 + 13s);
  CHECK(f.core.counters()[Counter::kNextHopGroupsSwept] == 1);
  CHECK(f.core.counters()[Counter::kRoutesSwept] == 1);
  CHECK(f.core.counters()[Counter::kNhgUndefined] == 0);
  CHECK(f.core.state().next_hop_objects() == 1);
  CHECK(describe(f.core.routes()) == Lines{"t254 192.0.2.0/24 unicast p196 m0 [10.0.1.2@3]"});
}

}  // namespace
}  // namespace causeway::rt::fpm::test
