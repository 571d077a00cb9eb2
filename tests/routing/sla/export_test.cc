// SPDX-License-Identifier: Apache-2.0
// Exports of the SLA engine: JSON and table renderings of a snapshot taken after a scripted
// blackout, the per-class SLA health, and the mapping of that health to BGP communities.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "causeway/rt/sla/export.h"
#include "sla_testing.h"

using namespace causeway::rt::sla;
using namespace causeway::rt::sla::test;

namespace {

LinkModel dead_from(TimePoint rtt, TimePoint from) {
  return [=](TimePoint tx) -> std::optional<TimePoint> {
    if (tx >= from) return std::nullopt;
    return rtt;
  };
}

Community community(const char* text) {
  auto c = parse_community("test", text);
  REQUIRE(c);
  return c.value();
}

}  // namespace

TEST_CASE("snapshot JSON carries per-path metrics and state and per-class decisions") {
  Net net(base_policy());
  net.add(1, "fra", "inet", dead_from(20ms, 20s));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(25s);
  const auto j = to_json(net.engine().snapshot());
  REQUIRE(j["paths"].size() == 2);
  const auto& inet = j["paths"][0];
  CHECK(inet["id"] == 1);
  CHECK(inet["backbone"] == "inet");
  CHECK(inet["health"] == "down");
  CHECK(inet["sla_classes"]["realtime"]["state"] == "down");
  CHECK(inet["blackouts"] == 1);
  CHECK(inet["loss_pct"].get<double>() > 0);
  const auto& mpls = j["paths"][1];
  CHECK(mpls["health"] == "up");
  CHECK(mpls["rtt_mean_ms"].get<double>() == Approx(30.0));
  CHECK(mpls["jitter_ms"].get<double>() == Approx(0.0));
  CHECK(mpls["loss_pct"].get<double>() == Approx(0.0));
  REQUIRE(j["classes"].size() == 2);  // (fra, voice), (fra, bulk)
  const auto& voice = j["classes"][0];
  CHECK(voice["traffic_class"] == "voice");
  CHECK(voice["reason"] == "preferred");
  CHECK(voice["paths"][0]["backbone"] == "mpls");
  CHECK(voice["since_ms"].get<double>() == Approx(20220.0));
  CHECK(j["decision_changes"] == net.all_changes().size());
  CHECK(j["decision_changes_by_reason"]["preferred"].get<int>() >= 2);
}

TEST_CASE("snapshot table lists every path and class") {
  Net net(base_policy());
  net.add(1, "fra", "inet", dead_from(20ms, 20s));
  net.add(2, "fra", "mpls", constant(30ms));
  net.run_until(25s);
  const std::string t = render_table(net.engine().snapshot());
  CHECK_THAT(t, Catch::Contains("PATH"));
  CHECK_THAT(t, Catch::Contains("realtime=down bulk=down"));
  CHECK_THAT(t, Catch::Contains("realtime=compliant bulk=compliant"));
  CHECK_THAT(t, Catch::Contains("mpls(2)"));
  CHECK_THAT(t, Catch::Contains("decision changes: "));
}

TEST_CASE("communities: parse standard and large, reject bad ones naming the field") {
  CHECK(community("65000:100").str() == "65000:100");
  CHECK(!community("65000:100").large);
  CHECK(community("4200000000:1:2").large);
  CHECK(community("4200000000:1:2").str() == "4200000000:1:2");
  auto bad = parse_community("communities[0].degraded", "65536:1");
  REQUIRE(!bad);
  CHECK(bad.error().message ==
        "communities[0].degraded: '65536:1': standard community parts must be at most 65535");
  for (const char* s : {"", "1", "a:b", "1:2:3:4", "1::2", "-1:2", "1:2 "}) {
    INFO(s);
    CHECK(!parse_community("f", s));
  }
}

TEST_CASE("class health aggregates over remote PoPs; communities follow the mapping") {
  auto p = base_policy();
  p.traffic_classes[1].fallback = {FallbackMode::kDrop, "", 0};
  Net net(p);
  net.add(1, "fra", "inet", dead_from(20ms, 20s));
  net.add(2, "fra", "mpls", constant(30ms));
  net.add(3, "ams", "inet", constant(10ms));
  net.run_until(10s);

  CommunityMapping m;
  m.classes.push_back(
      {"voice", community("65000:101"), community("65000:102"), community("65000:103")});
  m.classes.push_back(
      {"bulk", community("65000:201"), community("65000:1:2"), community("65000:1:3")});
  REQUIRE(validate(m, p));

  auto health = class_health(net.engine().snapshot(), p);
  REQUIRE(health.size() == 2);
  CHECK(health[0].health == ClassHealth::kCompliant);
  CHECK(health[1].health == ClassHealth::kCompliant);
  CHECK(communities_for(health, m) == BgpCommunities{{"65000:101", "65000:201"}, {}});

  // fra loses inet: voice and bulk still compliant via mpls.
  net.run_until(25s);
  health = class_health(net.engine().snapshot(), p);
  CHECK(health[0].health == ClassHealth::kCompliant);
  // mpls dies too: fra has no path for bulk (strict drop) but ams still has one: degraded.
  net.set_link(2, dead_from(30ms, 25s));
  net.run_until(30s);
  health = class_health(net.engine().snapshot(), p);
  CHECK(health[0].health == ClassHealth::kDegraded);
  CHECK(health[1].health == ClassHealth::kDegraded);
  CHECK(communities_for(health, m) == BgpCommunities{{"65000:102"}, {"65000:1:2"}});
  // ams dies as well: down.
  net.set_link(3, dead_from(10ms, 30s));
  net.run_until(35s);
  health = class_health(net.engine().snapshot(), p);
  CHECK(health[0].health == ClassHealth::kDown);
  CHECK(health[1].health == ClassHealth::kDown);
  CHECK(communities_for(health, m) == BgpCommunities{{"65000:103"}, {"65000:1:3"}});
}

TEST_CASE("communities: mapping validation and stable output order") {
  const auto p = base_policy();
  CommunityMapping m;
  m.classes.push_back({"video", std::nullopt, std::nullopt, std::nullopt});
  auto r = validate(m, p);
  REQUIRE(!r);
  CHECK(r.error().message == "communities[0].traffic_class: unknown traffic class 'video'");
  m.classes = {{"voice", {}, {}, {}}, {"voice", {}, {}, {}}};
  r = validate(m, p);
  REQUIRE(!r);
  CHECK(r.error().message == "communities[1].traffic_class: traffic class 'voice' mapped twice");

  // Same community from two classes appears once; numeric order, not text order.
  m.classes = {{"voice", community("65000:900"), {}, {}}, {"bulk", community("65000:90"), {}, {}}};
  const std::vector<ClassHealthState> st = {{"voice", ClassHealth::kCompliant},
                                            {"bulk", ClassHealth::kCompliant}};
  CHECK(communities_for(st, m).standard == std::vector<std::string>{"65000:90", "65000:900"});
  m.classes[1].compliant = community("65000:900");
  CHECK(communities_for(st, m).standard == std::vector<std::string>{"65000:900"});
  // Unset state: no community.
  CHECK(communities_for({{"voice", ClassHealth::kDown}}, m) == BgpCommunities{});
}
