// SPDX-License-Identifier: Apache-2.0
// Next-hop group messages (15, 16) and RouteKind 6: round trips, and a table of bad requests
// each rejected with the field it names.
#include "causeway/fwd/nexthop_group_codec.h"

#include <catch2/catch.hpp>

#include "causeway/fwd/control_codec.h"

namespace causeway::fwd::ctl {
namespace {

using nlohmann::json;

TEST_CASE("next-hop group requests round-trip by port index and by name", "[control][codec]") {
  const json req = json::parse(R"({"id": 12, "members": [
      {"port": 1, "gateway": "10.9.0.2"}, {"port": "wan1", "gateway": "10.9.1.2"}]})");
  auto g = parse_nexthop_group(req);
  REQUIRE(g);
  CHECK(g.value().id == 12);
  REQUIRE(g.value().members.size() == 2);
  CHECK(g.value().members[0].port_index == std::uint16_t{1});
  CHECK(g.value().members[1].port_name == "wan1");
  CHECK(g.value().members[1].gateway == IpAddress::parse("10.9.1.2").value());
  CHECK(parse_nexthop_group(nexthop_group_json(g.value())).value() == g.value());
  CHECK(parse_nexthop_group_id(json{{"id", 4095}}).value() == 4095);
}

TEST_CASE("bad next-hop group requests name the field", "[control][codec]") {
  struct Row {
    const char* request;
    const char* error;
  };
  const Row rows[] = {
      {R"({"members": [{"port": 1, "gateway": "10.9.0.2"}]})", "id: expected"},
      {R"({"id": 4096, "members": [{"port": 1, "gateway": "10.9.0.2"}]})", "id: 4096 out of range"},
      {R"({"id": -1, "members": []})", "id: expected"},
      {R"({"id": 1})", "members: expected a list"},
      {R"({"id": 1, "members": []})", "members: empty"},
      {R"({"id": 1, "members": [7]})", "members[0]: expected"},
      {R"({"id": 1, "members": [{"gateway": "10.9.0.2"}]})", "members[0].port: missing"},
      {R"({"id": 1, "members": [{"port": true, "gateway": "10.9.0.2"}]})",
       "members[0].port: expected"},
      {R"({"id": 1, "members": [{"port": 65535, "gateway": "10.9.0.2"}]})",
       "members[0].port: expected"},
      {R"({"id": 1, "members": [{"port": 1}]})", "members[0].gateway: expected"},
      {R"({"id": 1, "members": [{"port": 1, "gateway": "10.9.0"}]})",
       "members[0].gateway: \"10.9.0\" is not"},
      {R"({"id": 1, "members": [{"port": 1, "gateway": "224.0.0.5"}]})",
       "members[0].gateway: 224.0.0.5 is not a unicast"},
      {R"({"id": 1, "members": [{"port": 1, "gateway": "::"}]})", "members[0].gateway: :: is not"},
      {R"({"id": 1, "members": [{"port": 1, "gateway": "10.9.0.2"},
                                {"port": 2, "gateway": "2001:db8::2"}]})",
       "members[1].gateway: members must be of one address family"},
      {R"({"id": 1, "members": [{"port": 1, "gateway": "10.9.0.2"},
                                {"port": 1, "gateway": "10.9.0.2"}]})",
       "members[1]: listed twice"},
  };
  for (const Row& row : rows) {
    INFO(row.request);
    auto g = parse_nexthop_group(json::parse(row.request));
    REQUIRE_FALSE(g);
    CHECK(g.error().code == EINVAL);
    CHECK_THAT(g.error().message, Catch::StartsWith(row.error));
  }
  json many = {{"id", 1}, {"members", json::array()}};
  for (int i = 0; i < 17; ++i) {
    many["members"].push_back({{"port", 1}, {"gateway", "10.9.0." + std::to_string(i + 1)}});
  }
  CHECK_THAT(parse_nexthop_group(many).error().message,
             Catch::StartsWith("members: 17 members; at most 16"));
}

TEST_CASE("RouteKind 6 carries the group id in the port field", "[control][codec]") {
  RouteUpdate u;
  u.prefix = IpPrefix::parse("10.60.0.0/16").value();
  u.kind = RouteKind::kNextHopGroup;
  u.port = 4095;
  const RouteRecord r = to_record(u);
  CHECK(r.kind == 6);
  CHECK(r.port[0] == 0x0f);
  CHECK(r.port[1] == 0xff);
  CHECK(from_record(r).value() == u);
  CHECK(to_string(RouteKind::kNextHopGroup) == "nexthop_group");
  CHECK(route_kind_from_string("nexthop_group") == RouteKind::kNextHopGroup);
  // A gateway on a group route is refused, and kind 7 is unknown.
  RouteRecord bad = r;
  bad.gateway[0] = 10;
  CHECK_FALSE(from_record(bad));
  bad = r;
  bad.kind = 7;
  CHECK(from_record(bad).error().message == "unknown route kind 7");
  CHECK(is_request_type(MsgType::kSetNextHopGroup));
  CHECK(is_request_type(MsgType::kDeleteNextHopGroup));
  CHECK_FALSE(is_request_type(static_cast<MsgType>(17)));
  CHECK(to_string(MsgType::kDeleteNextHopGroup) == "delete-nexthop-group");
}

}  // namespace
}  // namespace causeway::fwd::ctl
