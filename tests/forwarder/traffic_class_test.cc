// SPDX-License-Identifier: Apache-2.0
// The data path's traffic classifier (dataplane/traffic_class.h) compiled from control message
// 14 (runtime/traffic_classes.h): a golden table of packets -> class, first match wins, class 0
// for packets no class matches.
#include <catch2/catch.hpp>
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

using Bytes = std::vector<std::uint8_t>;

struct Pkt {
  bool v6 = false;
  std::string src = "10.1.0.5", dst = "10.2.0.9";
  std::uint8_t dscp = 0;
  std::uint8_t proto = 17;
  std::uint16_t sport = 40000, dport = 80;
  std::uint16_t frag = 0;  // IPv4 flags + fragment offset
  std::size_t l4_bytes = 8;
};

Bytes build(const Pkt& p) {
  const std::size_t hl = p.v6 ? 40 : 20;
  Bytes b(hl + p.l4_bytes, 0);
  std::uint8_t* ip = b.data();
  auto src = IpAddress::parse(p.src).value(), dst = IpAddress::parse(p.dst).value();
  if (p.v6) {
    const std::uint8_t tc = static_cast<std::uint8_t>(p.dscp << 2);
    ip[0] = static_cast<std::uint8_t>(0x60 | (tc >> 4));
    ip[1] = static_cast<std::uint8_t>(tc << 4);
    ip[6] = p.proto;
    ip[7] = 64;
    std::memcpy(ip + 8, src.bytes.data(), 16);
    std::memcpy(ip + 24, dst.bytes.data(), 16);
  } else {
    ip[0] = 0x45;
    ip[1] = static_cast<std::uint8_t>(p.dscp << 2 | 0x01);  // ECN bits must not matter
    wire::store_be16(ip + 6, p.frag);
    ip[8] = 64;
    ip[9] = p.proto;
    std::memcpy(ip + 12, src.bytes.data(), 4);
    std::memcpy(ip + 16, dst.bytes.data(), 4);
  }
  if (p.l4_bytes >= 4) {
    wire::store_be16(ip + hl, p.sport);
    wire::store_be16(ip + hl + 2, p.dport);
  }
  return b;
}

TrafficClassifier compile(const char* json_text) {
  auto spec = fwd::ctl::parse_traffic_classes(nlohmann::json::parse(json_text));
  REQUIRE(spec);
  auto t = compile_traffic_classes(spec.value());
  REQUIRE(t);
  return t.value();
}

std::uint8_t class_of(const TrafficClassifier& t, const Pkt& p) {
  const Bytes b = build(p);
  return classify(t, b.data(), !p.v6, static_cast<std::uint32_t>(b.size()));
}

}  // namespace

TEST_CASE("golden table: packets of a path-group route -> traffic class", "[traffic_class]") {
  // Order matters: voice (DSCP EF/AF41, UDP, SIP or RTP ports) before interactive (TCP 22 or
  // 443 to the data centre), before bulk (anything from the backup hosts), before a v6 class.
  const TrafficClassifier t = compile(R"({"classes": [
      {"id": 3, "name": "voice", "dscp": [46, 34], "protocol": "udp",
       "ports": ["5060", "10000-20000"]},
      {"id": 1, "name": "interactive", "protocol": "tcp", "dst_ports": [22, 443],
       "dst_prefixes": ["10.2.0.0/16", "2001:db8:2::/48"]},
      {"id": 7, "name": "bulk", "src_prefixes": ["10.1.9.0/24", "2001:db8:1:9::/64"]},
      {"id": 9, "name": "sctp-any-side", "protocol": "sctp", "src_ports": ["3868"]},
      {"id": 15, "name": "v6-site", "prefixes": ["2001:db8:7::/48"]}
    ]})");
  REQUIRE(t.n_rules == 5);
  struct Row {
    const char* what;
    Pkt pkt;
    std::uint8_t cls;
  };
  const Row rows[] = {
      {"EF, UDP to 5060", {.dscp = 46, .dport = 5060}, 3},
      {"AF41, UDP from RTP port 12000 (either side)", {.dscp = 34, .sport = 12000, .dport = 9}, 3},
      {"EF, UDP to 20000 (range end)", {.dscp = 46, .dport = 20000}, 3},
      {"EF, UDP to 20001: no voice, no other", {.dscp = 46, .dport = 20001}, 0},
      {"EF, TCP to 5060: protocol differs", {.dscp = 46, .proto = 6, .dport = 5060}, 0},
      {"BE, UDP to 5060: DSCP differs", {.dscp = 0, .dport = 5060}, 0},
      {"EF, UDP to 5060, later fragment: no ports", {.dscp = 46, .dport = 5060, .frag = 0x00b9}, 0},
      {"EF, UDP, first fragment (MF set, offset 0): ports present",
       {.dscp = 46, .dport = 5060, .frag = 0x2000},
       3},
      {"EF, UDP, L4 header cut short", {.dscp = 46, .dport = 5060, .l4_bytes = 2}, 0},
      {"TCP 443 to the data centre", {.proto = 6, .dport = 443}, 1},
      {"TCP 443 elsewhere", {.dst = "10.3.0.1", .proto = 6, .dport = 443}, 0},
      {"TCP 80 to the data centre", {.proto = 6, .dport = 80}, 0},
      {"TCP 22 from the backup host: interactive first",
       {.src = "10.1.9.4", .proto = 6, .dport = 22},
       1},
      {"UDP from the backup host", {.src = "10.1.9.4"}, 7},
      {"ICMP from the backup host (no ports needed)",
       {.src = "10.1.9.4", .proto = 1, .l4_bytes = 0},
       7},
      {"SCTP from port 3868", {.proto = 132, .sport = 3868, .dport = 1}, 9},
      {"SCTP to port 3868 (source list only)", {.proto = 132, .sport = 1, .dport = 3868}, 0},
      {"plain UDP", {}, 0},
      {"v6 EF UDP to 5060",
       {.v6 = true, .src = "2001:db8:1::5", .dst = "2001:db8:2::9", .dscp = 46, .dport = 5060},
       3},
      {"v6 TCP 443 to the data centre",
       {.v6 = true, .src = "2001:db8:1::5", .dst = "2001:db8:2:ff::1", .proto = 6, .dport = 443},
       1},
      {"v6 TCP 443 just outside the /48",
       {.v6 = true, .src = "2001:db8:1::5", .dst = "2001:db8:3::1", .proto = 6, .dport = 443},
       0},
      {"v6 from the backup /64",
       {.v6 = true, .src = "2001:db8:1:9::77", .dst = "2001:db8:3::1"},
       7},
      {"v6 from the next /64", {.v6 = true, .src = "2001:db8:1:a::77", .dst = "2001:db8:3::1"}, 0},
      {"v6 to the v6 site (either side)",
       {.v6 = true, .src = "2001:db8:1::5", .dst = "2001:db8:7::1"},
       15},
      {"v6 from the v6 site (either side)",
       {.v6 = true, .src = "2001:db8:7:1::1", .dst = "2001:db8:1::5"},
       15},
      {"v4 packet never matches a v6-only prefix list", {.src = "10.7.0.1"}, 0},
  };
  for (const Row& r : rows) {
    INFO(r.what);
    CHECK(class_of(t, r.pkt) == r.cls);
  }
}

TEST_CASE("a class without criteria matches everything; the empty table gives class 0",
          "[traffic_class]") {
  const TrafficClassifier all = compile(R"({"classes": [{"id": 2, "dscp": [46]}, {"id": 5}]})");
  CHECK(class_of(all, {.dscp = 46}) == 2);
  CHECK(class_of(all, {.proto = 1, .l4_bytes = 0}) == 5);
  CHECK(class_of(all, {.v6 = true, .src = "2001:db8::1", .dst = "2001:db8::2"}) == 5);
  const TrafficClassifier none = compile(R"({"classes": []})");
  CHECK(none.n_rules == 0);
  CHECK(class_of(none, {.dscp = 46}) == 0);
  // /0 prefixes match every address of their family.
  const TrafficClassifier zero =
      compile(R"({"classes": [{"id": 4, "dst_prefixes": ["0.0.0.0/0"]}]})");
  CHECK(class_of(zero, {}) == 4);
  CHECK(class_of(zero, {.v6 = true, .src = "2001:db8::1", .dst = "2001:db8::2"}) == 0);
}

TEST_CASE("compile refuses what the data path cannot hold", "[traffic_class]") {
  std::vector<fwd::ctl::TrafficClassSpec> specs(16);
  for (std::size_t i = 0; i < specs.size(); ++i) specs[i].id = static_cast<std::uint8_t>(i + 1);
  auto r = compile_traffic_classes(specs);
  REQUIRE(!r);
  CHECK_THAT(r.error().message, Catch::Contains("at most 15"));
  specs.resize(1);
  specs[0].id = 0;
  CHECK(!compile_traffic_classes(specs));
  specs[0].id = 1;
  specs[0].dscp = {64};
  CHECK(!compile_traffic_classes(specs));
}

TEST_CASE("path group as workers read it: per-class sets, drop, default, gone members",
          "[traffic_class]") {
  const PathMember a{0, tun::PeerId(1)}, b{1, tun::PeerId(2)}, c{1, tun::PeerId(3)};
  PathGroup g;
  // Members a, b (gone), c; default set {a, b}; class 2 uses {c, b}; class 5 is dropped.
  fill_path_group(g, {a, std::nullopt, c}, {true, true, false},
                  {{2, {false, true, true}}, {5, {false, false, false}}});
  REQUIRE(g.n_members == 2);
  CHECK(g.members[0].peer == a.peer);
  CHECK(g.members[1].peer == c.peer);
  for (unsigned cls = 0; cls < kTrafficClassSlots; ++cls) {
    INFO("class " << cls);
    if (cls == 2) {
      REQUIRE(g.n_active[cls] == 1);
      CHECK(g.members[g.active[cls][0]].peer == c.peer);
    } else if (cls == 5) {
      CHECK(g.n_active[cls] == 0);
    } else {
      REQUIRE(g.n_active[cls] == 1);  // b is gone: only a
      CHECK(g.members[g.active[cls][0]].peer == a.peer);
    }
  }
  // Filling again replaces everything.
  fill_path_group(g, {b}, {true}, {});
  CHECK(g.n_members == 1);
  CHECK(g.n_active[2] == 1);
  CHECK(g.n_active[5] == 1);
}
