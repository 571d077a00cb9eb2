// SPDX-License-Identifier: Apache-2.0
// Control messages 14 (kSetTrafficClasses) and 11 (kSetPathGroup with "classes"): what decodes,
// what is refused and with which message, and that encoding round-trips.
#include <catch2/catch.hpp>
#include <cerrno>
#include <string>
#include <vector>

#include "causeway/fwd/control_codec.h"
#include "causeway/fwd/steering_codec.h"

namespace causeway::fwd::ctl {
namespace {

using nlohmann::json;

TEST_CASE("traffic classes decode in order with every criterion", "[control][steering]") {
  auto r = parse_traffic_classes(json::parse(R"({"classes": [
      {"id": 1, "name": "voice", "dscp": [46, 34], "protocol": "udp",
       "ports": ["5060", "10000-20000", 5061], "prefixes": ["10.1.0.0/16", "2001:db8::/32"]},
      {"id": 3, "protocol": 6, "dst_ports": ["443"], "src_prefixes": ["192.0.2.0/24"]},
      {"id": 2, "protocol": "47", "dst_prefixes": ["0.0.0.0/0"]},
      {"id": 4}
    ]})"));
  REQUIRE(r);
  const auto& c = r.value();
  REQUIRE(c.size() == 4);
  CHECK(c[0].id == 1);
  CHECK(c[0].name == "voice");
  CHECK(c[0].dscp == std::vector<std::uint8_t>{46, 34});
  CHECK(c[0].protocol == 17);
  REQUIRE(c[0].ports.size() == 3);
  CHECK(c[0].ports[1] == ClassPortRange{10000, 20000});
  CHECK(c[0].ports[2] == ClassPortRange{5061, 5061});
  CHECK(c[0].prefixes.size() == 2);
  CHECK(c[1].protocol == 6);
  CHECK(c[1].dst_ports == std::vector<ClassPortRange>{{443, 443}});
  CHECK(c[1].src_prefixes.size() == 1);
  CHECK(c[2].protocol == 47);
  CHECK(c[3].id == 4);
  CHECK(!c[3].protocol);
  // Round trip through the encoder.
  auto again = parse_traffic_classes(traffic_classes_json(c));
  REQUIRE(again);
  CHECK(again.value() == c);
  // The empty table is valid: every packet is class 0.
  auto empty = parse_traffic_classes(json::parse(R"({"classes": []})"));
  REQUIRE(empty);
  CHECK(empty.value().empty());
}

TEST_CASE("malformed traffic classes are refused whole, naming the field", "[control][steering]") {
  struct Case {
    const char* request;
    const char* message;
  };
  const Case cases[] = {
      {R"({})", "classes: expected a list"},
      {R"({"classes": {}})", "classes: expected a list"},
      {R"({"classes": [1]})", "classes[0]: expected an object"},
      {R"({"classes": [{"name": "x"}]})", "classes[0].id: expected a class number 1..15"},
      {R"({"classes": [{"id": 0}]})", "classes[0].id: expected a class number 1..15"},
      {R"({"classes": [{"id": 16}]})", "classes[0].id: expected a class number 1..15"},
      {R"({"classes": [{"id": -1}]})", "classes[0].id: expected a class number 1..15"},
      {R"({"classes": [{"id": "1"}]})", "classes[0].id: expected a class number 1..15"},
      {R"({"classes": [{"id": 1}, {"id": 1}]})", "classes[1].id: class 1 is listed twice"},
      {R"({"classes": [{"id": 1, "colour": "red"}]})", "classes[0].colour: unknown key"},
      {R"({"classes": [{"id": 1, "name": 5}]})", "classes[0].name: expected a string"},
      {R"({"classes": [{"id": 1, "name": "0123456789012345678901234567890123"}]})",
       "classes[0].name: expected a string of at most 32"},
      {R"({"classes": [{"id": 1, "dscp": 46}]})", "classes[0].dscp: expected a list"},
      {R"({"classes": [{"id": 1, "dscp": [64]}]})", "classes[0].dscp[0]: expected a DSCP"},
      {R"({"classes": [{"id": 1, "dscp": ["ef"]}]})", "classes[0].dscp[0]: expected a DSCP"},
      {R"({"classes": [{"id": 1, "dscp": [46, 46]}]})", "classes[0].dscp[1]: listed twice"},
      {R"({"classes": [{"id": 1, "protocol": "quic"}]})", "classes[0].protocol: expected"},
      {R"({"classes": [{"id": 1, "protocol": 256}]})", "classes[0].protocol: expected"},
      {R"({"classes": [{"id": 1, "protocol": "icmp", "ports": ["1"]}]})",
       "classes[0].protocol: ports need protocol tcp, udp or sctp"},
      {R"({"classes": [{"id": 1, "ports": ["20-10"]}]})", "classes[0].ports[0]: expected a port"},
      {R"({"classes": [{"id": 1, "ports": ["65536"]}]})", "classes[0].ports[0]: expected a port"},
      {R"({"classes": [{"id": 1, "ports": ["1-"]}]})", "classes[0].ports[0]: expected a port"},
      {R"({"classes": [{"id": 1, "ports": ["x"]}]})", "classes[0].ports[0]: expected a port"},
      {R"({"classes": [{"id": 1, "src_ports": [-5]}]})",
       "classes[0].src_ports[0]: expected a port"},
      {R"({"classes": [{"id": 1, "dst_ports": [true]}]})",
       "classes[0].dst_ports[0]: expected a port"},
      {R"({"classes": [{"id": 1, "prefixes": ["10.1.2.3/16"]}]})",
       "classes[0].prefixes[0]: expected a prefix with zero host bits"},
      {R"({"classes": [{"id": 1, "dst_prefixes": [17]}]})",
       "classes[0].dst_prefixes[0]: expected a prefix"},
      {R"({"classes": [{"id": 1, "src_prefixes": "10.0.0.0/8"}]})",
       "classes[0].src_prefixes: expected a list"},
  };
  for (const Case& c : cases) {
    INFO(c.request);
    auto r = parse_traffic_classes(json::parse(c.request));
    REQUIRE(!r);
    CHECK(r.error().code == EINVAL);
    CHECK_THAT(r.error().message, Catch::StartsWith(c.message));
  }
  // Limits: 16 classes, 17 port ranges, 17 prefixes.
  json many = {{"classes", json::array()}};
  for (int i = 1; i <= 16; ++i) many["classes"].push_back({{"id", i > 15 ? 15 : i}});
  auto r = parse_traffic_classes(many);
  REQUIRE(!r);
  CHECK_THAT(r.error().message, Catch::Contains("16 classes; at most 15"));
  json ports = {{"classes", {{{"id", 1}, {"ports", json::array()}}}}};
  for (int i = 0; i < 17; ++i) ports["classes"][0]["ports"].push_back(std::to_string(i));
  r = parse_traffic_classes(ports);
  REQUIRE(!r);
  CHECK_THAT(r.error().message, Catch::Contains("classes[0].ports: 17 entries; at most 16"));
  json prefixes = {{"classes", {{{"id", 1}, {"prefixes", json::array()}}}}};
  for (int i = 0; i < 17; ++i) {
    prefixes["classes"][0]["prefixes"].push_back("10." + std::to_string(i) + ".0.0/16");
  }
  r = parse_traffic_classes(prefixes);
  REQUIRE(!r);
  CHECK_THAT(r.error().message, Catch::Contains("classes[0].prefixes: 17 entries; at most 16"));
}

TEST_CASE("set-path-group decodes classes and stays compatible without them",
          "[control][steering]") {
  auto plain = parse_path_group(
      json::parse(R"({"id": 3, "members": [{"tunnel": "wg-aws", "peer": "fra"}]})"), 1024);
  REQUIRE(plain);
  CHECK(plain.value().id == 3);
  CHECK(plain.value().members == std::vector<PathMemberName>{{"wg-aws", "fra"}});
  CHECK(plain.value().active.empty());
  CHECK(plain.value().classes.empty());

  auto r = parse_path_group(json::parse(R"({"id": 1,
      "members": [{"tunnel": "wg-aws", "peer": "fra"}, {"tunnel": "wg-inet", "peer": "fra"}],
      "active": [{"tunnel": "wg-aws", "peer": "fra"}],
      "classes": [{"class": 2, "active": [{"tunnel": "wg-inet", "peer": "fra"}]},
                  {"class": 0, "active": []}]})"),
                            1024);
  REQUIRE(r);
  const PathGroupRequest& g = r.value();
  CHECK(g.members.size() == 2);
  CHECK(g.active.size() == 1);
  REQUIRE(g.classes.size() == 2);
  CHECK(g.classes[0].traffic_class == 2);
  CHECK(g.classes[0].active == std::vector<PathMemberName>{{"wg-inet", "fra"}});
  CHECK(g.classes[1].traffic_class == 0);
  CHECK(g.classes[1].active.empty());  // the class is dropped
  auto again = parse_path_group(path_group_json(g), 1024);
  REQUIRE(again);
  CHECK(again.value() == g);
}

TEST_CASE("malformed set-path-group requests are refused, naming the field",
          "[control][steering]") {
  struct Case {
    const char* request;
    const char* message;
  };
  const Case cases[] = {
      {R"({})", "id: expected a path group number"},
      {R"({"id": -1})", "id: expected a path group number"},
      {R"({"id": 1024})", "id: 1024 out of range (0..1023)"},
      {R"({"id": 1, "members": {}})", "members: expected a list"},
      {R"({"id": 1, "members": [{"tunnel": "wg0"}]})", "members[0]: expected {"},
      {R"({"id": 1, "active": [{"tunnel": 1, "peer": "x"}]})", "active[0]: expected {"},
      {R"({"id": 1, "classes": {}})", "classes: expected a list"},
      {R"({"id": 1, "classes": [3]})", "classes[0]: expected {"},
      {R"({"id": 1, "classes": [{"active": []}]})", "classes[0].class: expected a class number"},
      {R"({"id": 1, "classes": [{"class": 16, "active": []}]})",
       "classes[0].class: expected a class number 0..15"},
      {R"({"id": 1, "classes": [{"class": 1}]})", "classes[0].active: missing"},
      {R"({"id": 1, "classes": [{"class": 1, "active": "wg0/x"}]})",
       "classes[0].active: expected a list"},
      {R"({"id": 1, "classes": [{"class": 1, "active": [{"peer": "x"}]}]})",
       "classes[0].active[0]: expected {"},
      {R"({"id": 1, "classes": [{"class": 1, "active": []}, {"class": 1, "active": []}]})",
       "classes[1].class: class 1 is listed twice"},
  };
  for (const Case& c : cases) {
    INFO(c.request);
    auto r = parse_path_group(json::parse(c.request), 1024);
    REQUIRE(!r);
    CHECK(r.error().code == EINVAL);
    CHECK_THAT(r.error().message, Catch::StartsWith(c.message));
  }
}

// Every value of valid requests replaced, one at a time and in pairs, by values of every JSON
// type: the decoders answer (a value or an error) and never throw.
TEST_CASE("decoders never throw on values of the wrong type", "[control][steering]") {
  const json odd[] = {nullptr, true, -1, 70000, 2.5, "", "x-y", "10.0.0.0/8", 0};
  const json classes = json::parse(R"({"classes": [{"id": 1, "name": "v", "dscp": [46],
      "protocol": "udp", "ports": ["1-2"], "src_ports": [3], "dst_ports": ["4"],
      "prefixes": ["10.0.0.0/8"], "src_prefixes": ["::/0"], "dst_prefixes": ["10.1.0.0/16"]}]})");
  const json group = json::parse(R"({"id": 1, "members": [{"tunnel": "t", "peer": "p"}],
      "active": [{"tunnel": "t", "peer": "p"}], "classes": [{"class": 1, "active": [
      {"tunnel": "t", "peer": "p"}]}]})");
  // A flattened document with one leaf replaced; the path prefix replaced whole turns a list
  // or an object into a scalar.
  auto variants = [&](const json& doc, std::vector<json>& out) {
    const json flat = doc.flatten();
    for (const auto& [path, value] : flat.items()) {
      for (const json& v : odd) {
        json f = flat;
        f[path] = v;
        out.push_back(f.unflatten());
        const auto cut = path.rfind('/');
        if (cut == 0 || cut == std::string::npos) continue;
        json whole = doc;
        whole[json::json_pointer(path.substr(0, cut))] = v;
        out.push_back(whole);
      }
    }
  };
  std::size_t decoded = 0, refused = 0;
  for (const json* base : {&classes, &group}) {
    std::vector<json> docs;
    variants(*base, docs);
    for (const json& d : docs) {
      bool ok = false;
      REQUIRE_NOTHROW(ok = base == &classes ? bool(parse_traffic_classes(d))
                                            : bool(parse_path_group(d, 1024)));
      (ok ? decoded : refused)++;
      // And every document against the other decoder.
      REQUIRE_NOTHROW((void)parse_traffic_classes(d));
      REQUIRE_NOTHROW((void)parse_path_group(d, 1024));
    }
  }
  CHECK(refused > 100);
  CHECK(decoded > 0);  // e.g. a name replaced by "" is still valid
}

TEST_CASE("protocol names and numbers", "[control][steering]") {
  CHECK(parse_ip_protocol("tcp") == 6);
  CHECK(parse_ip_protocol("sctp") == 132);
  CHECK(parse_ip_protocol("icmpv6") == 58);
  CHECK(parse_ip_protocol(json(0)) == 0);
  CHECK(parse_ip_protocol("255") == 255);
  CHECK(!parse_ip_protocol("256"));
  CHECK(!parse_ip_protocol("TCP"));
  CHECK(!parse_ip_protocol(json(-1)));
  CHECK(!parse_ip_protocol(json(6.5)));
  CHECK(to_string(MsgType::kSetTrafficClasses) == "set-traffic-classes");
  CHECK(is_request_type(MsgType::kSetTrafficClasses));
  CHECK(!is_request_type(static_cast<MsgType>(17)));
}

}  // namespace
}  // namespace causeway::fwd::ctl
