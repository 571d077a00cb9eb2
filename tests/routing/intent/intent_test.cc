// SPDX-License-Identifier: Apache-2.0
// routing/intent: the documented example loads with the values it shows; a table of bad
// documents (each the example with one change) fails with the path of the changed field;
// diff() names exactly what changed.
#include "intent/intent.h"

#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace causeway::rt::intent {
namespace {

const std::string kExamplePath =
    std::string(CAUSEWAY_SOURCE_DIR) + "/docs/examples/pop-intent.yaml";

std::string example_text() {
  std::ifstream in(kExamplePath);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

IpPrefix prefix(const char* text) {
  auto p = IpPrefix::parse(text, true);
  REQUIRE(p);
  return *p;
}

// Walks "a.b[2].c" to a node of `root` (yaml-cpp nodes are handles into the document).
YAML::Node walk(YAML::Node root, const std::string& path, std::string* last_key) {
  YAML::Node node = root;
  std::size_t i = 0;
  std::string key;
  auto step = [&](YAML::Node next) { node.reset(next); };
  while (i < path.size()) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path[i] == '[') {
      const std::size_t close = path.find(']', i);
      const std::size_t index = std::stoul(path.substr(i + 1, close - i - 1));
      i = close + 1;
      if (i >= path.size() && last_key) {
        *last_key = std::to_string(index);
        return node;
      }
      step(node[index]);
      continue;
    }
    const std::size_t end = path.find_first_of(".[", i);
    key = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
    i = end == std::string::npos ? path.size() : end;
    if (i >= path.size() && last_key) {
      *last_key = key;
      return node;
    }
    step(node[key]);
  }
  return node;
}

// The example with `path` set to `value` (YAML text), or removed when value is empty.
std::string mutated(const std::string& path, const std::string& value) {
  YAML::Node root = YAML::Load(example_text());
  std::string key;
  YAML::Node parent = walk(root, path, &key);
  if (value.empty()) {
    REQUIRE(parent.IsMap());
    REQUIRE(parent.remove(key));
  } else if (parent.IsSequence()) {
    const std::size_t index = std::stoul(key);
    if (index == parent.size()) {
      parent.push_back(YAML::Load(value));
    } else {
      YAML::Node target = parent[index];
      target = YAML::Load(value);
    }
  } else {
    YAML::Node target = parent[key];
    target = YAML::Load(value);
  }
  return YAML::Dump(root);
}

TEST_CASE("the documented example parses with its values and defaults") {
  auto parsed = load_intent(kExamplePath);
  INFO((parsed ? "" : parsed.error().message));
  REQUIRE(parsed);
  const Intent& in = parsed.value();
  CHECK(in.identity.pop == "ams1");
  CHECK(in.identity.router_id.str() == "10.255.0.1");
  CHECK(in.identity.private_key == "file:/etc/causeway/ams1.key");
  CHECK(in.identity.listen_port == 51820);
  CHECK(in.forwarder.control_socket == "/run/causeway/fwd.sock");
  CHECK(in.fpm.port == 2620);
  CHECK_FALSE(in.fpm.next_hop_groups);
  REQUIRE(in.backbones.size() == 2);
  REQUIRE(in.ports.size() == 4);
  CHECK(in.ports[0].role == PortRole::kLan);
  CHECK(in.ports[0].segment == "corp");
  CHECK(in.ports[0].addresses[0].str() == "192.168.10.1/24");  // host bits kept
  CHECK(in.ports[2].role == PortRole::kWan);
  CHECK(in.ports[2].backbone == "aws");
  REQUIRE(in.segments.size() == 2);
  CHECK(in.segments[1].table == 1002);
  REQUIRE(in.peers.size() == 2);
  REQUIRE(in.peers[0].endpoints.size() == 2);
  CHECK(in.peers[0].endpoints[0].backbone == "aws");
  CHECK(in.peers[0].endpoints[0].address.str() == "198.51.100.20");
  CHECK(in.peers[0].endpoints[1].port == 51820);  // default port
  CHECK(in.peers[0].keepalive_s == 25);
  CHECK(in.peers[1].endpoints[0].address.str() == "2001:db8:ffff::30");
  CHECK(in.peers[1].site_prefixes[1] == prefix("2001:db8:3::/48"));
  REQUIRE(in.sla_classes.size() == 2);
  CHECK(in.sla_classes[1].max_loss_pct == 2.5);
  REQUIRE(in.traffic_classes.size() == 3);
  const TrafficClass& voice = in.traffic_classes[0];
  CHECK(voice.match.dscp == std::vector<std::uint8_t>{46, 34, 40});
  CHECK(voice.match.protocol == std::uint8_t{17});
  REQUIRE(voice.match.dst_ports.size() == 2);
  CHECK(voice.match.dst_ports[1] == PortRange{16384, 32767});
  CHECK(voice.backbones == std::vector<std::string>{"aws", "inet"});
  CHECK(voice.fallback.mode == FallbackMode::kBestOfWorst);
  CHECK(voice.fallback.variance_pct == 15);
  CHECK(in.traffic_classes[1].load_balance == LoadBalance::kEcmp);
  CHECK(in.traffic_classes[1].fallback.backup_backbone == "aws");
  CHECK(in.traffic_classes[2].match == Match{});
  CHECK(in.traffic_classes[2].fallback.mode == FallbackMode::kDrop);
  CHECK(in.probes.interval_ms == 100);
  CHECK(in.probes.hold_down_ms == 10000);
  CHECK(in.bgp.asn == 65001);
  REQUIRE(in.bgp.neighbors.size() == 1);
  CHECK(in.bgp.neighbors[0].bfd);
  CHECK(in.bgp.announce.size() == 2);
  REQUIRE(in.bgp.sla_communities.size() == 2);
  const SlaCommunities& sla = in.bgp.sla_communities[0];
  CHECK(sla.in(SlaState::kCompliant) == std::vector<Community>{{false, 65001, 100, 0}});
  CHECK(sla.in(SlaState::kDown) ==
        std::vector<Community>{{false, 65001, 102, 0}, {true, 65001, 1, 102}});
  CHECK(in.bgp.sla_communities[1].down[0].str() == "65001:2:2");
}

TEST_CASE("a minimal document takes the documented defaults") {
  auto parsed = parse_intent(R"(
version: 1
identity: {pop: p1, router_id: 10.0.0.1, overlay_address: 10.0.0.1,
           private_key: ONZLyaC3KZ2HjjwL1v8mXb4cEiQdyhYKmKAB7/Yh0k8=}
backbones: [{name: b1}]
ports: [{name: wan0, role: wan, backbone: b1}]
bgp: {asn: 64512}
)");
  INFO((parsed ? "" : parsed.error().message));
  REQUIRE(parsed);
  const Intent& in = parsed.value();
  CHECK(in.identity.listen_port == kDefaultListenPort);
  CHECK(in.fpm == Fpm{});
  CHECK(in.probes == Probes{});
  CHECK(in.probes.interval_ms == 100);
  CHECK(in.bgp.ibgp);
  CHECK(in.bgp.keepalive_s == 3);
  CHECK(in.bgp.hold_s == 9);
  CHECK(in.bgp.bfd == BfdTimers{});
  CHECK(in.peers.empty());
}

struct BadCase {
  const char* path;   // field changed in the example ("" value removes it)
  const char* value;  // YAML text
  const char* error;  // expected start of the message
};

// Each row: one change to the example, and the start of the error it must produce.
const BadCase kBad[] = {
    {"version", "2", "version: 2 is out of range"},
    {"routes", "[]", "routes: unknown key"},
    {"bgp", "", "bgp: required key is missing"},
    {"identity.pop", "'bad name!'", "identity.pop: expected a name"},
    {"identity.router_id", "'2001:db8::1'", "identity.router_id: expected an IPv4 address"},
    {"identity.private_key", "short", "identity.private_key: expected a 44-character"},
    {"identity.private_key", "'file:relative/key'", "identity.private_key: a file: key needs"},
    {"identity.overlay_address", "", "identity.overlay_address: required key is missing"},
    {"identity.listen_port", "70000", "identity.listen_port: 70000 is out of range"},
    {"identity.colour", "blue", "identity.colour: unknown key"},
    {"forwarder.control_socket", "fwd.sock", "forwarder.control_socket: expected an absolute"},
    {"fpm.port", "0", "fpm.port: 0 is out of range"},
    {"fpm.next_hop_groups", "yes", "fpm.next_hop_groups: expected true or false"},
    {"backbones[1].name", "aws", "backbones[1].name: backbone aws is already used by backbones[0]"},
    {"backbones[2]", "{name: mpls}", "backbones[2].name: no WAN port reaches backbone mpls"},
    {"ports[2].backbone", "nope", "ports[2].backbone: no backbone named \"nope\""},
    {"ports[3].backbone", "", "ports[3].backbone: required key is missing"},
    {"ports[0].backbone", "aws", "ports[0].backbone: only WAN ports have a backbone"},
    {"ports[0].segment", "nope", "ports[0].segment: no segment named"},
    {"ports[1].addresses[0]", "192.168.10.1/24",
     "ports[1].addresses[0]: address 192.168.10.1 is already used"},
    {"ports[0].addresses[0]", "192.168.10.0/24",
     "ports[0].addresses[0]: 192.168.10.0/24 is not a usable"},
    {"ports[0].role", "dmz", "ports[0].role: expected one of lan, wan"},
    {"ports[0].name", "averyveryverylongname", "ports[0].name: expected a name of 1..15"},
    {"segments[1].table", "1001", "segments[1].table: table 1001 is already used"},
    {"segments[0].table", "254", "segments[0].table: tables 253..255 are reserved"},
    {"peers[1].endpoints.backbone-b", "192.0.2.9",
     "peers[1].endpoints.backbone-b: no backbone named"},
    {"peers[0].endpoints.aws", "'198.51.100.20:99999'",
     "peers[0].endpoints.aws: expected ADDRESS[:PORT]"},
    {"peers[0].endpoints.inet", "'2001:db8::1:51820'",
     "peers[0].endpoints.inet: expected ADDRESS[:PORT]"},
    {"peers[0].endpoints.aws", "'[2001:db8::20]:51820'",
     "peers[0].endpoints.aws: no WAN port on backbone aws has an IPv6 address"},
    {"peers[0].endpoints", "{}", "peers[0].endpoints: expected a map of backbone name"},
    {"peers[1].public_key",
     "neAN2cKV57G8y8uIGu9qOv6LUSnex9JUaLcR0GNsSFI=", "peers[1].public_key: public key"},
    {"peers[0].public_key", "neAN2cKV57G8y8uIGu9qOv6LUSnex9JUaLcR0GNsSFJ=",
     "peers[0].public_key: expected a 44-character"},
    {"peers[0].overlay_address", "10.255.0.1",
     "peers[0].overlay_address: overlay address 10.255.0.1 is already used by "
     "identity.overlay_address"},
    {"peers[0].overlay_address", "'2001:db8::2'",
     "peers[0].overlay_address: must be of the same family"},
    {"peers[0].name", "ams1", "peers[0].name: a peer cannot be this PoP"},
    {"peers[1].name", "fra1", "peers[1].name: peer name fra1 is already used"},
    {"peers[0].site_prefixes[0]", "10.2.0.1/16",
     "peers[0].site_prefixes[0]: host bits are set; did you mean 10.2.0.0/16?"},
    {"sla_classes[0].max_loss_pct", "101", "sla_classes[0].max_loss_pct: 101 is out of range"},
    {"sla_classes[1].max_jitter_ms", "", "sla_classes[1].max_jitter_ms: required key is missing"},
    {"sla_classes[1].max_latency_ms", "fast", "sla_classes[1].max_latency_ms: expected a number"},
    {"traffic_classes[0].sla_class", "gold",
     "traffic_classes[0].sla_class: no SLA class named \"gold\""},
    {"traffic_classes[0].backbones[1]", "aws",
     "traffic_classes[0].backbones[1]: backbone aws is listed twice"},
    {"traffic_classes[0].backbones", "[]", "traffic_classes[0].backbones: at least one backbone"},
    {"traffic_classes[0].match.dscp[0]", "64",
     "traffic_classes[0].match.dscp[0]: 64 is out of range"},
    {"traffic_classes[0].match.dscp[0]", "gold",
     "traffic_classes[0].match.dscp[0]: expected a DSCP value"},
    {"traffic_classes[0].match.protocol", "quic",
     "traffic_classes[0].match.protocol: expected one of"},
    {"traffic_classes[2].match", "{dst_ports: [80]}",
     "traffic_classes[2].match.dst_ports: ports need protocol"},
    {"traffic_classes[0].match.dst_ports[1]", "'300-200'",
     "traffic_classes[0].match.dst_ports[1]: expected a port"},
    {"traffic_classes[0].match.src_prefixes", "[10.0.0.0/40]",
     "traffic_classes[0].match.src_prefixes[0]: expected a prefix"},
    {"traffic_classes[0].match.tos", "1", "traffic_classes[0].match.tos: unknown key"},
    {"traffic_classes[1].fallback.backup_backbone", "nope",
     "traffic_classes[1].fallback.backup_backbone: no backbone named"},
    {"traffic_classes[1].fallback.backup_backbone", "",
     "traffic_classes[1].fallback.backup_backbone: required key is missing"},
    {"traffic_classes[0].fallback.backup_backbone", "aws",
     "traffic_classes[0].fallback.backup_backbone: only fallback mode backup"},
    {"traffic_classes[0].load_balance", "random",
     "traffic_classes[0].load_balance: expected one of preferred, ecmp"},
    {"traffic_classes[0].fallback.variance_pct", "-1",
     "traffic_classes[0].fallback.variance_pct: -1 is out of range"},
    {"traffic_classes[1].name", "voice",
     "traffic_classes[1].name: traffic class voice is already used"},
    {"probes.interval_ms", "5", "probes.interval_ms: 5 is out of range (10..10000)"},
    {"probes.blackout_probes", "60", "probes.blackout_probes: must not exceed probes.window"},
    {"bgp.asn", "0", "bgp.asn: 0 is out of range"},
    {"bgp.hold_s", "6", "bgp.hold_s: must be at least 3 x keepalive_s"},
    {"bgp.neighbors[0].asn", "65001", "bgp.neighbors[0].asn: carrier neighbours are eBGP"},
    {"bgp.neighbors[0].address", "10.255.0.2",
     "bgp.neighbors[0].address: neighbor address 10.255.0.2 is already used by the overlay address "
     "of peer fra1"},
    {"bgp.neighbors[0].bfd", "1", "bgp.neighbors[0].bfd: expected true or false"},
    {"bgp.announce[0]", "10.1.0.0/33", "bgp.announce[0]: expected a prefix"},
    {"bgp.announce[1]", "10.1.0.0/16", "bgp.announce[1]: prefix 10.1.0.0/16 is already used"},
    {"bgp.sla_communities[0].traffic_class", "video",
     "bgp.sla_communities[0].traffic_class: no traffic class named \"video\""},
    {"bgp.sla_communities[0].down[0]", "'65001:70000'",
     "bgp.sla_communities[0].down[0]: expected a community"},
    {"bgp.sla_communities[1].compliant", "'1:2:3:4'",
     "bgp.sla_communities[1].compliant: expected a community"},
    {"bgp.sla_communities[1].traffic_class", "voice",
     "bgp.sla_communities[1].traffic_class: traffic class voice is already used"},
    {"bgp.bfd.receive_interval_ms", "5",
     "bgp.bfd.receive_interval_ms: 5 is out of range (10..60000)"},
};

TEST_CASE("bad documents are rejected with the path of the bad field") {
  for (const BadCase& row : kBad) {
    const std::string doc = mutated(row.path, row.value);
    auto parsed = parse_intent(doc);
    INFO("change: " << row.path << " = " << row.value);
    REQUIRE_FALSE(parsed);
    const std::string& message = parsed.error().message;
    INFO("error: " << message);
    CHECK(message.rfind(row.error, 0) == 0);
    CHECK(message.find("(line ") != std::string::npos);
    CHECK(parsed.error().code == EINVAL);
  }
  CHECK(std::size(kBad) >= 30);
}

TEST_CASE("documents that are not YAML maps, and files, fail cleanly") {
  auto syntax = parse_intent("version: 1\nidentity: [unclosed\n");
  REQUIRE_FALSE(syntax);
  CHECK(syntax.error().message.rfind("document: YAML syntax error", 0) == 0);
  auto empty = parse_intent("");
  REQUIRE_FALSE(empty);
  CHECK(empty.error().message.rfind("document: ", 0) == 0);
  auto list = parse_intent("- 1\n- 2\n");
  REQUIRE_FALSE(list);
  CHECK(list.error().message.rfind("document: expected a map", 0) == 0);
  auto missing = load_intent("/nonexistent/intent.yaml");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.rfind("/nonexistent/intent.yaml: cannot open", 0) == 0);
}

TEST_CASE("communities parse in both forms and print back") {
  CHECK(Community::parse("65001:100") == Community{false, 65001, 100, 0});
  CHECK(Community::parse("4200000000:1:2") == Community{true, 4200000000u, 1, 2});
  CHECK(Community::parse("65536:1") == std::nullopt);
  CHECK(Community::parse("1::2") == std::nullopt);
  CHECK(Community::parse("1:2:") == std::nullopt);
  CHECK(Community::parse("a:b") == std::nullopt);
  CHECK(Community::parse("1:2:3:4") == std::nullopt);
  CHECK(Community::parse("4200000000:1:2")->str() == "4200000000:1:2");
}

Intent example_with(const std::string& path, const std::string& value) {
  auto parsed = parse_intent(mutated(path, value));
  INFO((parsed ? "" : parsed.error().message));
  REQUIRE(parsed);
  return parsed.value();
}

TEST_CASE("diff names what changed, by section") {
  const Intent base = example_with("version", "1");

  SECTION("identical intents") {
    const IntentDiff d = diff(base, base);
    CHECK(d.empty());
    CHECK_FALSE(d.affects_frr());
    CHECK(d.summary().empty());
  }
  SECTION("a community value only") {
    const IntentDiff d =
        diff(base, example_with("bgp.sla_communities[0].compliant", "'65001:200'"));
    REQUIRE(d.sections.size() == 1);
    CHECK(d.sections[0].section == Section::kBgp);
    CHECK(d.sections[0].changed == std::vector<std::string>{"sla_communities.voice"});
    CHECK(d.only_sla_communities());
    CHECK(d.affects_frr());
    CHECK(d.summary() == "bgp: changed sla_communities.voice\n");
  }
  SECTION("an announced prefix added and a neighbour changed") {
    Intent after = base;
    after.bgp.announce.push_back(prefix("10.9.0.0/16"));
    after.bgp.neighbors[0].bfd = false;
    const IntentDiff d = diff(base, after);
    REQUIRE(d.sections.size() == 1);
    CHECK(d.sections[0].added == std::vector<std::string>{"announce.10.9.0.0/16"});
    CHECK(d.sections[0].changed == std::vector<std::string>{"neighbors.noc1"});
    CHECK_FALSE(d.only_sla_communities());
  }
  SECTION("peers added, removed and changed") {
    Intent after = base;
    after.peers.erase(after.peers.begin() + 1);  // lon1 removed
    after.peers[0].keepalive_s = 10;             // fra1 changed
    Peer par1 = base.peers[1];
    par1.name = "par1";
    par1.overlay_address = *IpAddress::parse("10.255.0.9");
    after.peers.push_back(par1);
    const IntentDiff d = diff(base, after);
    const SectionDiff* peers = d.find(Section::kPeers);
    REQUIRE(peers != nullptr);
    CHECK(peers->added == std::vector<std::string>{"par1"});
    CHECK(peers->removed == std::vector<std::string>{"lon1"});
    CHECK(peers->changed == std::vector<std::string>{"fra1"});
    CHECK(d.affects_frr());
    CHECK(d.summary() == "peers: added par1; removed lon1; changed fra1\n");
  }
  SECTION("forwarder-only sections do not touch FRR") {
    const IntentDiff d = diff(base, example_with("probes.interval_ms", "20"));
    REQUIRE(d.sections.size() == 1);
    CHECK(d.sections[0].section == Section::kProbes);
    CHECK(d.sections[0].changed == std::vector<std::string>{"interval_ms"});
    CHECK_FALSE(d.affects_frr());
    const IntentDiff t = diff(base, example_with("traffic_classes[0].backbones", "[inet, aws]"));
    REQUIRE(t.find(Section::kTrafficClasses) != nullptr);
    CHECK(t.find(Section::kTrafficClasses)->changed == std::vector<std::string>{"voice"});
    CHECK_FALSE(t.affects_frr());
  }
  SECTION("several sections in schema order") {
    Intent after = base;
    after.bgp.asn = 65002;
    after.identity.listen_port = 51821;
    after.segments.pop_back();
    const IntentDiff d = diff(base, after);
    REQUIRE(d.sections.size() == 3);
    CHECK(d.sections[0].section == Section::kIdentity);
    CHECK(d.sections[0].changed == std::vector<std::string>{"listen_port"});
    CHECK(d.sections[1].section == Section::kSegments);
    CHECK(d.sections[1].removed == std::vector<std::string>{"guest"});
    CHECK(d.sections[2].section == Section::kBgp);
    CHECK(d.sections[2].changed == std::vector<std::string>{"asn"});
  }
}

}  // namespace
}  // namespace causeway::rt::intent
