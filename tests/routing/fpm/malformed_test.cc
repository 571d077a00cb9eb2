// SPDX-License-Identifier: Apache-2.0
// Hand-built frames: every malformed header, message and attribute is counted under its
// named reason and skipped, nothing crashes, buffering stays bounded, and what a frame's
// valid messages say is applied in one batch. Also the encodings zebra can send that the
// recordings do not contain (weights, prohibit, nested-bit attributes).
#include <catch2/catch.hpp>

#include <functional>

#include "fpm_test_util.h"

namespace causeway::rt::fpm::test {
namespace {

using namespace std::chrono_literals;
using Lines = std::vector<std::string>;
const TimePoint kT0 = TimePoint{} + 1000s;

struct Fixture {
  RecordingSink sink;
  Core core{sink, CoreOptions{3s}};
  Fixture() { core.connection_opened(kT0); }
  bool push(const std::vector<std::uint8_t>& b) { return core.receive(b, kT0); }
  std::uint64_t count(Counter c) const { return core.counters()[c]; }
};

// One route message with the attributes `body` adds after rtmsg.
template <typename F>
std::vector<std::uint8_t> route_frame(std::uint8_t family, std::uint8_t dst_len, F&& body,
                                      std::uint8_t type = RTN_UNICAST) {
  NlBuilder b;
  b.begin(RTM_NEWROUTE);
  b.rtmsg_(family, dst_len, type);
  body(b);
  b.end();
  return b.frame();
}

TEST_CASE("framer: a header split over reads waits; nothing is applied from a partial frame") {
  Fixture f;
  auto frame = v4_route_frame("192.0.2.0", 24, "10.0.1.2", 3);
  std::vector<std::uint8_t> head(frame.begin(), frame.begin() + 3);
  REQUIRE(f.push(head));
  CHECK(f.count(Counter::kFrames) == 0);
  std::vector<std::uint8_t> mid(frame.begin() + 3, frame.end() - 1);
  REQUIRE(f.push(mid));
  CHECK(f.count(Counter::kFrames) == 0);
  CHECK(f.core.routes().empty());
  // The connection ends inside the frame: nothing of it is applied.
  f.core.connection_closed(kT0);
  CHECK(f.core.routes().empty());
  CHECK(f.core.counters().drops() == 0);
}

TEST_CASE("framer: bad version, type or length closes the stream under a named counter") {
  struct Case {
    std::vector<std::uint8_t> bytes;
    Counter reason;
  };
  auto good = v4_route_frame("192.0.2.0", 24, "10.0.1.2", 3);
  std::vector<Case> cases = {
      {{2, 1, 0, 20}, Counter::kFrameBadVersion},
      {{1, 2, 0, 20}, Counter::kFrameBadType},
      {{1, 1, 0, 0}, Counter::kFrameBadLength},
      {{1, 1, 0, 4}, Counter::kFrameBadLength},   // header only, no netlink message
      {{1, 1, 0, 19}, Counter::kFrameBadLength},  // shorter than header + nlmsghdr
  };
  for (const auto& c : cases) {
    Fixture f;
    auto bytes = good;  // a good frame first, then the bad header in the same read
    bytes.insert(bytes.end(), c.bytes.begin(), c.bytes.end());
    bytes.resize(bytes.size() + 40, 0);
    CHECK_FALSE(f.push(bytes));
    CHECK(f.count(c.reason) == 1);
    CHECK(f.core.counters().drops() == 1);
    CHECK(f.core.routes().size() == 1);  // the frame before the bad one stands
    CHECK_FALSE(f.push(good));           // the stream stays closed
    CHECK(f.count(Counter::kFrames) == 1);
  }
}

TEST_CASE("framer: a huge frame length buffers at most one frame and is then parsed") {
  Fixture f;
  std::vector<std::uint8_t> header = {1, 1, 0xff, 0xff};
  REQUIRE(f.push(header));
  std::vector<std::uint8_t> junk(1000, 0);
  for (int i = 0; i < 60; ++i) REQUIRE(f.push(junk));
  CHECK(f.count(Counter::kFrames) == 0);
  // 65535 bytes of zeros: the first "message" has nlmsg_len 0.
  std::vector<std::uint8_t> rest(65535 - 4 - 60000, 0);
  REQUIRE(f.push(rest));
  CHECK(f.count(Counter::kFrames) == 1);
  CHECK(f.count(Counter::kNlmsgBadLength) == 1);
  CHECK(f.core.routes().empty());
}

TEST_CASE("netlink: huge or short nlmsg_len skips the rest of the frame, keeps what came before") {
  Fixture f;
  NlBuilder b;
  b.begin(RTM_NEWROUTE);
  b.rtmsg_(AF_INET, 24);
  b.addr(RTA_DST, "192.0.2.0");
  b.addr(RTA_GATEWAY, "10.0.1.2");
  b.u32(RTA_OIF, 3);
  b.end();
  std::size_t off = b.begin(RTM_NEWROUTE);
  b.rtmsg_(AF_INET, 24);
  b.addr(RTA_DST, "198.51.100.0");
  b.u32(RTA_OIF, 3);
  b.end();
  std::uint32_t huge = 0xffffffff;
  std::memcpy(b.bytes().data() + off, &huge, 4);
  REQUIRE(f.push(b.frame()));
  CHECK(f.count(Counter::kNlmsgBadLength) == 1);
  CHECK(f.count(Counter::kFramesPartial) == 1);
  CHECK(describe(f.core.routes()) == Lines{"t254 192.0.2.0/24 unicast p196 m0 [10.0.1.2@3]"});

  Fixture g;
  b.begin(RTM_NEWROUTE);
  b.rtmsg_(AF_INET, 24);
  b.end();
  auto frame = b.frame();
  std::uint32_t small = 8;
  std::memcpy(frame.data() + 4, &small, 4);
  REQUIRE(g.push(frame));
  CHECK(g.count(Counter::kNlmsgBadLength) == 1);
}

TEST_CASE("netlink: every malformed route message is counted under its reason and skipped") {
  struct Case {
    const char* what;
    std::vector<std::uint8_t> frame;
    Counter reason;
  };
  std::vector<Case> cases;
  cases.push_back({"rtattr longer than the message",
                   route_frame(AF_INET, 24,
                               [](NlBuilder& b) {
                                 b.addr(RTA_DST, "192.0.2.0");
                                 b.raw({200, 0, RTA_OIF, 0, 3, 0});  // rta_len 200, 2 bytes left
                               }),
                   Counter::kAttrTruncated});
  cases.push_back({"rta_len 0xffff",
                   route_frame(AF_INET, 24,
                               [](NlBuilder& b) {
                                 b.addr(RTA_DST, "192.0.2.0");
                                 b.raw({0xff, 0xff, RTA_OIF, 0, 3, 0, 0, 0});
                               }),
                   Counter::kAttrTruncated});
  cases.push_back({"rta_len below the header",
                   route_frame(AF_INET, 24,
                               [](NlBuilder& b) {
                                 b.addr(RTA_DST, "192.0.2.0");
                                 b.raw({2, 0, RTA_OIF, 0});
                               }),
                   Counter::kAttrTruncated});
  cases.push_back({"trailing bytes after the last attribute",
                   route_frame(AF_INET, 24,
                               [](NlBuilder& b) {
                                 b.addr(RTA_DST, "192.0.2.0");
                                 b.u32(RTA_OIF, 3);
                                 b.raw({1, 2});
                               }),
                   Counter::kAttrTruncated});
  cases.push_back({"RTA_DST of 5 bytes for IPv4",
                   route_frame(AF_INET, 24,
                               [](NlBuilder& b) {
                                 std::uint8_t d[5] = {192, 0, 2, 0, 0};
                                 b.attr(RTA_DST, d, 5);
                                 b.u32(RTA_OIF, 3);
                               }),
                   Counter::kAttrBadSize});
  cases.push_back({"IPv4 gateway on an IPv6 route",
                   route_frame(AF_INET6, 48,
                               [](NlBuilder& b) {
                                 b.addr(RTA_DST, "2001:db8::");
                                 b.addr(RTA_GATEWAY, "10.0.1.2");
                               }),
                   Counter::kAttrBadSize});
  cases.push_back({"RTA_OIF of 2 bytes",
                   route_frame(AF_INET, 24,
                               [](NlBuilder& b) {
                                 b.addr(RTA_DST, "192.0.2.0");
                                 std::uint16_t oif = 3;
                                 b.attr(RTA_OIF, &oif, 2);
                               }),
                   Counter::kAttrBadSize});
  cases.push_back({"prefix length without RTA_DST",
                   route_frame(AF_INET, 24, [](NlBuilder& b) { b.u32(RTA_OIF, 3); }),
                   Counter::kAttrBadSize});
  cases.push_back({"MPLS family", route_frame(28, 20, [](NlBuilder& b) { b.u32(RTA_OIF, 3); }),
                   Counter::kRouteBadFamily});
  cases.push_back({"IPv4 /33",
                   route_frame(AF_INET, 33,
                               [](NlBuilder& b) {
                                 b.addr(RTA_DST, "192.0.2.0");
                                 b.u32(RTA_OIF, 3);
                               }),
                   Counter::kRouteBadPrefixLen});
  cases.push_back({"local route type",
                   route_frame(
                       AF_INET, 32,
                       [](NlBuilder& b) {
                         b.addr(RTA_DST, "10.0.1.1");
                         b.u32(RTA_OIF, 3);
                       },
                       RTN_LOCAL),
                   Counter::kRouteTypeUnsupported});
  cases.push_back({"VXLAN encap",
                   route_frame(AF_INET, 24,
                               [](NlBuilder& b) {
                                 b.addr(RTA_DST, "192.0.2.0");
                                 std::uint16_t type = 100;
                                 b.attr(RTA_ENCAP_TYPE, &type, 2);
                                 auto n = b.begin_nest(RTA_ENCAP | NLA_F_NESTED);
                                 b.u32(0, 42);
                                 b.end_nest(n);
                                 b.u32(RTA_OIF, 3);
                               }),
                   Counter::kRouteEncapUnsupported});
  cases.push_back({"unicast without any next hop",
                   route_frame(AF_INET, 24, [](NlBuilder& b) { b.addr(RTA_DST, "192.0.2.0"); }),
                   Counter::kRouteNoNextHop});
  cases.push_back({"RTA_NH_ID 0",
                   route_frame(AF_INET, 24,
                               [](NlBuilder& b) {
                                 b.addr(RTA_DST, "192.0.2.0");
                                 b.u32(RTA_NH_ID, 0);
                               }),
                   Counter::kNhgBadId});
  cases.push_back({"multipath entry with rtnh_len 0",
                   route_frame(AF_INET, 24,
                               [](NlBuilder& b) {
                                 b.addr(RTA_DST, "192.0.2.0");
                                 auto n = b.begin_nest(RTA_MULTIPATH | NLA_F_NESTED);
                                 b.raw({0, 0, 0, 0, 3, 0, 0, 0});
                                 b.end_nest(n);
                               }),
                   Counter::kMultipathMalformed});
  cases.push_back({"multipath entry longer than the attribute",
                   route_frame(AF_INET, 24,
                               [](NlBuilder& b) {
                                 b.addr(RTA_DST, "192.0.2.0");
                                 auto n = b.begin_nest(RTA_MULTIPATH | NLA_F_NESTED);
                                 b.rtnh("10.0.1.2", 3);
                                 b.raw({64, 0, 0, 0, 5, 0, 0, 0});
                                 b.end_nest(n);
                               }),
                   Counter::kMultipathMalformed});
  cases.push_back(
      {"multipath gateway with a truncated rtattr",
       route_frame(AF_INET, 24,
                   [](NlBuilder& b) {
                     b.addr(RTA_DST, "192.0.2.0");
                     auto n = b.begin_nest(RTA_MULTIPATH | NLA_F_NESTED);
                     b.raw({16, 0, 0, 0, 3, 0, 0, 0, 12, 0, RTA_GATEWAY, 0, 10, 0, 1, 2});
                     b.end_nest(n);
                   }),
       Counter::kMultipathMalformed});
  cases.push_back({"empty multipath",
                   route_frame(AF_INET, 24,
                               [](NlBuilder& b) {
                                 b.addr(RTA_DST, "192.0.2.0");
                                 auto n = b.begin_nest(RTA_MULTIPATH | NLA_F_NESTED);
                                 b.end_nest(n);
                               }),
                   Counter::kMultipathMalformed});
  {
    NlBuilder b;
    b.begin(RTM_NEWROUTE);
    b.raw({AF_INET, 24, 0, 0, 254, 196, 0, 1});  // 8 of rtmsg's 12 bytes
    b.end();
    cases.push_back({"rtmsg cut short", b.frame(), Counter::kMsgTooShort});
  }
  {
    NlBuilder b;
    b.begin(RTM_NEWNEIGH);
    b.raw({AF_INET, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0});
    b.end();
    cases.push_back({"neighbour message", b.frame(), Counter::kMsgTypeIgnored});
  }
  for (const auto& c : cases) {
    INFO(c.what);
    Fixture f;
    REQUIRE(f.push(c.frame));  // a bad message never closes the stream
    CHECK(f.count(c.reason) == 1);
    CHECK(f.core.counters().drops() == 1);
    CHECK(f.core.routes().empty());
    CHECK(f.sink.batches.empty());
  }
}

TEST_CASE("netlink: malformed next-hop objects are counted and skipped") {
  struct Case {
    const char* what;
    std::function<void(NlBuilder&)> attrs;
    Counter reason;
  };
  std::vector<Case> cases = {
      {"no NHA_ID", [](NlBuilder& b) { b.u32(NHA_OIF, 3); }, Counter::kNhgBadId},
      {"NHA_ID 0",
       [](NlBuilder& b) {
         b.u32(NHA_ID, 0);
         b.u32(NHA_OIF, 3);
       },
       Counter::kNhgBadId},
      {"group of 7 bytes",
       [](NlBuilder& b) {
         b.u32(NHA_ID, 10);
         std::uint8_t g[7] = {1, 0, 0, 0, 0, 0, 0};
         b.attr(NHA_GROUP, g, 7);
       },
       Counter::kNhgMalformed},
      {"group member id 0",
       [](NlBuilder& b) {
         b.u32(NHA_ID, 10);
         std::uint8_t g[8] = {};
         b.attr(NHA_GROUP, g, 8);
       },
       Counter::kNhgMalformed},
      {"group naming itself",
       [](NlBuilder& b) {
         b.u32(NHA_ID, 10);
         std::uint8_t g[8] = {10, 0, 0, 0, 0, 0, 0, 0};
         b.attr(NHA_GROUP, g, 8);
       },
       Counter::kNhgMalformed},
      {"both a group and a hop",
       [](NlBuilder& b) {
         b.u32(NHA_ID, 10);
         std::uint8_t g[8] = {11, 0, 0, 0, 0, 0, 0, 0};
         b.attr(NHA_GROUP, g, 8);
         b.u32(NHA_OIF, 3);
       },
       Counter::kNhgMalformed},
      {"neither a group, a blackhole nor a hop", [](NlBuilder& b) { b.u32(NHA_ID, 10); },
       Counter::kNhgMalformed},
      {"IPv6 gateway in an IPv4 object",
       [](NlBuilder& b) {
         b.u32(NHA_ID, 10);
         b.addr(NHA_GATEWAY, "2001:db8::1");
       },
       Counter::kAttrBadSize},
      {"truncated NHA_OIF",
       [](NlBuilder& b) {
         b.u32(NHA_ID, 10);
         b.raw({8, 0, NHA_OIF, 0, 3, 0});
       },
       Counter::kAttrTruncated},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    Fixture f;
    NlBuilder b;
    b.begin(RTM_NEWNEXTHOP);
    b.nhmsg_(AF_INET);
    c.attrs(b);
    b.end();
    REQUIRE(f.push(b.frame()));
    CHECK(f.count(c.reason) == 1);
    CHECK(f.core.counters().drops() == 1);
    CHECK(f.core.state().next_hop_objects() == 0);
  }
}

TEST_CASE("netlink: a partly bad frame applies its valid messages in one batch") {
  Fixture f;
  NlBuilder b;
  for (const char* dst : {"192.0.2.0", "198.51.100.0", "203.0.113.0"}) {
    b.begin(RTM_NEWROUTE);
    b.rtmsg_(AF_INET, 24);
    b.addr(RTA_DST, dst);
    if (std::string(dst) == "198.51.100.0") {
      std::uint16_t bad = 3;
      b.attr(RTA_OIF, &bad, 2);
    } else {
      b.u32(RTA_OIF, 3);
    }
    b.end();
  }
  REQUIRE(f.push(b.frame()));
  CHECK(f.count(Counter::kMessages) == 3);
  CHECK(f.count(Counter::kAttrBadSize) == 1);
  CHECK(f.count(Counter::kFramesPartial) == 1);
  REQUIRE(f.sink.batches.size() == 1);
  CHECK(f.sink.batches[0] == Lines{"add t254 192.0.2.0/24 unicast p196 m0 [@3]",
                                   "add t254 203.0.113.0/24 unicast p196 m0 [@3]"});
}

TEST_CASE("netlink: unknown attributes, nested or not, are skipped and the message kept") {
  Fixture f;
  auto frame = route_frame(AF_INET, 24, [](NlBuilder& b) {
    b.addr(RTA_DST, "192.0.2.0");
    auto n = b.begin_nest(200 | NLA_F_NESTED);  // unknown nested attribute
    auto inner = b.begin_nest(1 | NLA_F_NESTED);
    b.u32(7, 1);
    b.end_nest(inner);
    b.end_nest(n);
    b.u32(201, 5);  // unknown flat attribute
    b.u32(RTA_PRIORITY, 20);
    auto mp = b.begin_nest(RTA_MULTIPATH | NLA_F_NESTED);
    std::size_t off = b.bytes().size();
    b.rtnh("10.0.1.2", 3);
    b.u32(77, 1);  // unknown attribute inside a multipath entry
    std::uint16_t len = static_cast<std::uint16_t>(b.bytes().size() - off);
    std::memcpy(b.bytes().data() + off, &len, 2);
    b.rtnh("10.0.2.2", 5);
    b.end_nest(mp);
  });
  REQUIRE(f.push(frame));
  CHECK(f.core.counters().drops() == 0);
  CHECK(f.count(Counter::kAttrsIgnored) == 3);
  CHECK(describe(f.core.routes()) ==
        Lines{"t254 192.0.2.0/24 unicast p196 m20 [10.0.1.2@3 10.0.2.2@5]"});
}

TEST_CASE("netlink: weights are weight-1 on the wire, in RTA_MULTIPATH and in NHA_GROUP") {
  Fixture f;
  REQUIRE(f.push(route_frame(AF_INET6, 48, [](NlBuilder& b) {
    b.addr(RTA_DST, "2001:db8:200::");
    auto mp = b.begin_nest(RTA_MULTIPATH | NLA_F_NESTED);
    b.rtnh("2001:db8:1::2", 3, 0);
    b.rtnh("2001:db8:2::2", 5, 2);
    b.end_nest(mp);
  })));
  NlBuilder b;
  for (std::uint32_t id : {1u, 2u}) {
    b.begin(RTM_NEWNEXTHOP);
    b.nhmsg_(AF_INET);
    b.u32(NHA_ID, id);
    b.addr(NHA_GATEWAY, id == 1 ? "10.0.1.2" : "10.0.2.2");
    b.u32(NHA_OIF, id == 1 ? 3 : 5);
    b.end();
  }
  b.begin(RTM_NEWNEXTHOP);
  b.nhmsg_(AF_UNSPEC);
  b.u32(NHA_ID, 3);
  std::uint8_t group[16] = {1, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
  b.attr(NHA_GROUP, group, sizeof group);
  b.end();
  b.begin(RTM_NEWROUTE);
  b.rtmsg_(AF_INET, 24);
  b.addr(RTA_DST, "198.51.100.0");
  b.u32(RTA_NH_ID, 3);
  b.end();
  REQUIRE(f.push(b.frame()));
  CHECK(f.core.counters().drops() == 0);
  CHECK(describe(f.core.routes()) ==
        Lines{"t254 198.51.100.0/24 unicast p196 m0 [10.0.1.2@3*5 10.0.2.2@5]",
              "t254 2001:db8:200::/48 unicast p196 m0 [2001:db8:1::2@3 2001:db8:2::2@5*3]"});
}

TEST_CASE(
    "netlink: prohibit and unreachable routes carry no next hops; a blackhole object "
    "makes a blackhole route") {
  Fixture f;
  REQUIRE(f.push(route_frame(
      AF_INET, 24, [](NlBuilder& b) { b.addr(RTA_DST, "192.0.2.0"); }, RTN_PROHIBIT)));
  REQUIRE(f.push(route_frame(
      AF_INET6, 0, [](NlBuilder&) {}, RTN_UNREACHABLE)));  // ::/0, no RTA_DST
  NlBuilder b;
  b.begin(RTM_NEWNEXTHOP);
  b.nhmsg_(AF_INET);
  b.u32(NHA_ID, 9);
  b.attr(NHA_BLACKHOLE, nullptr, 0);
  b.end();
  b.begin(RTM_NEWROUTE);
  b.rtmsg_(AF_INET, 0);
  b.u32(RTA_NH_ID, 9);
  b.end();
  REQUIRE(f.push(b.frame()));
  CHECK(f.core.counters().drops() == 0);
  CHECK(describe(f.core.routes()) == Lines{"t254 0.0.0.0/0 blackhole p196 m0",
                                           "t254 192.0.2.0/24 prohibit p196 m0",
                                           "t254 ::/0 unreachable p196 m0"});
}

TEST_CASE("state: a route naming a next-hop id that is never defined is counted, not published") {
  Fixture f;
  REQUIRE(f.push(route_frame(AF_INET, 24, [](NlBuilder& b) {
    b.addr(RTA_DST, "192.0.2.0");
    b.u32(RTA_NH_ID, 999);
  })));
  CHECK(f.core.routes().empty());
  f.core.tick(kT0 + 3s);
  CHECK(f.count(Counter::kNhgUndefined) == 1);
  f.core.tick(kT0 + 10s);
  CHECK(f.count(Counter::kNhgUndefined) == 1);  // once per route
  CHECK(f.core.routes().empty());
  // The id shows up late: the route is published then.
  NlBuilder b;
  b.begin(RTM_NEWNEXTHOP);
  b.nhmsg_(AF_INET);
  b.u32(NHA_ID, 999);
  b.u32(NHA_OIF, 7);
  b.end();
  REQUIRE(f.core.receive(b.frame(), kT0 + 11s));
  CHECK(describe(f.core.routes()) == Lines{"t254 192.0.2.0/24 unicast p196 m0 [@7]"});
}

}  // namespace
}  // namespace causeway::rt::fpm::test
