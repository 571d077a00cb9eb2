// SPDX-License-Identifier: Apache-2.0
// forwarder/config: parse_config and load_config. One full document checked field by field,
// documents that must parse (defaults, edge cases), a table of bad documents each with the
// exact start of its error (the field path and the rule), and the file handling of
// load_config.
#include "config/config.h"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace causeway::fwd {
namespace {

IpPrefix prefix(std::string_view text) {
  auto p = IpPrefix::parse(text);
  REQUIRE(p);
  return *p;
}
IpAddress address(std::string_view text) {
  auto a = IpAddress::parse(text);
  REQUIRE(a);
  return *a;
}
MacAddress mac(std::string_view text) {
  auto m = MacAddress::parse(text);
  REQUIRE(m);
  return *m;
}

// Every key set, and to values other than the defaults where the schema allows.
constexpr std::string_view kFullExample = R"(
name: pop-a
dpdk:
  workers: 2
  lcores: "0-2"
  mbufs: 32768
  memory_mb: 1024
  no_huge: false
  file_prefix: causeway-pop-a
  extra_args: ["--log-level=lib.eal:warning", "--in-memory"]
ports:
  - name: lan0
    device: "net_af_packet0,iface=veth-lan0"
    mac: "02:00:00:00:01:01"
    addresses: [10.1.0.1/24, "fd00:1::1/64"]
    mtu: 1500
    mirror: tap-lan0
    rx_desc: 512
    tx_desc: 2048
  - name: wan0
    device: "0000:00:04.0"
    addresses: [10.9.0.1/30, "2001:db8:9::1/64"]
    mtu: 9000
routes:
  - prefix: 10.2.0.0/16
    via: 10.9.0.2
    port: wan0
  - prefix: 192.0.2.0/24
    blackhole: true
  - prefix: "2001:db8:100::/48"
    via: "fe80::1"
    port: wan0
  - prefix: 10.3.0.0/16
    port: lan0
neighbors:
  - address: 10.9.0.2
    mac: "02:00:00:00:09:02"
    port: wan0
fib: {v4_max_routes: 1048576, v4_tbl8_groups: 4096, v6_max_routes: 65536, v6_tbl8_groups: 8192, max_next_hops: 1024}
neighbor: {reachable_s: 30, probe_interval_ms: 500, probes: 5, queue_per_neighbor: 8}
control_socket: /run/causeway/pop-a.sock
idle_sleep_max_us: 250
)";

TEST_CASE("full example parses field by field", "[config]") {
  auto parsed = parse_config(kFullExample);
  INFO((parsed ? std::string() : parsed.error().message));
  REQUIRE(parsed);
  const FwdConfig& c = parsed.value();

  CHECK(c.name == "pop-a");
  CHECK(c.dpdk.workers == 2);
  CHECK(c.dpdk.lcores == "0-2");
  CHECK(c.dpdk.mbufs == 32768);
  CHECK(c.dpdk.memory_mb == 1024);
  CHECK_FALSE(c.dpdk.no_huge);
  CHECK(c.dpdk.file_prefix == "causeway-pop-a");
  CHECK(c.dpdk.extra_args ==
        std::vector<std::string>{"--log-level=lib.eal:warning", "--in-memory"});

  REQUIRE(c.ports.size() == 2);
  const PortConfig& lan = c.ports[0];
  CHECK(lan.name == "lan0");
  CHECK(lan.device == "net_af_packet0,iface=veth-lan0");
  REQUIRE(lan.mac);
  CHECK(*lan.mac == mac("02:00:00:00:01:01"));
  REQUIRE(lan.addresses.size() == 2);
  CHECK(lan.addresses[0] == prefix("10.1.0.1/24"));  // host bits kept
  CHECK(lan.addresses[0].addr == address("10.1.0.1"));
  CHECK(lan.addresses[1] == prefix("fd00:1::1/64"));
  CHECK(lan.mtu == 1500);
  CHECK(lan.mirror == "tap-lan0");
  CHECK(lan.rx_desc == 512);
  CHECK(lan.tx_desc == 2048);
  const PortConfig& wan = c.ports[1];
  CHECK(wan.name == "wan0");
  CHECK(wan.device == "0000:00:04.0");
  CHECK_FALSE(wan.mac);
  CHECK(wan.addresses == std::vector<IpPrefix>{prefix("10.9.0.1/30"), prefix("2001:db8:9::1/64")});
  CHECK(wan.mtu == 9000);
  CHECK(wan.mirror == "cw-wan0");  // default
  CHECK(wan.rx_desc == 1024);
  CHECK(wan.tx_desc == 1024);

  REQUIRE(c.routes.size() == 4);
  CHECK(c.routes[0].prefix == prefix("10.2.0.0/16"));
  REQUIRE(c.routes[0].via);
  CHECK(*c.routes[0].via == address("10.9.0.2"));
  CHECK(c.routes[0].port == "wan0");
  CHECK_FALSE(c.routes[0].blackhole);
  CHECK(c.routes[1].prefix == prefix("192.0.2.0/24"));
  CHECK(c.routes[1].blackhole);
  CHECK_FALSE(c.routes[1].via);
  CHECK(c.routes[1].port.empty());
  CHECK(c.routes[2].prefix == prefix("2001:db8:100::/48"));
  REQUIRE(c.routes[2].via);
  CHECK(*c.routes[2].via == address("fe80::1"));
  CHECK(c.routes[3].prefix == prefix("10.3.0.0/16"));
  CHECK_FALSE(c.routes[3].via);
  CHECK(c.routes[3].port == "lan0");

  REQUIRE(c.neighbors.size() == 1);
  CHECK(c.neighbors[0].address == address("10.9.0.2"));
  CHECK(c.neighbors[0].mac == mac("02:00:00:00:09:02"));
  CHECK(c.neighbors[0].port == "wan0");

  CHECK(c.fib.v4_max_routes == 1048576);
  CHECK(c.fib.v4_tbl8_groups == 4096);
  CHECK(c.fib.v6_max_routes == 65536);
  CHECK(c.fib.v6_tbl8_groups == 8192);
  CHECK(c.fib.max_next_hops == 1024);
  CHECK(c.neighbor.reachable_s == 30);
  CHECK(c.neighbor.probe_interval_ms == 500);
  CHECK(c.neighbor.probes == 5);
  CHECK(c.neighbor.queue_per_neighbor == 8);
  CHECK(c.control_socket == "/run/causeway/pop-a.sock");
  CHECK(c.idle_sleep_max_us == 250);
}

TEST_CASE("a minimal document takes every default", "[config]") {
  auto parsed = parse_config("ports: [{name: lan0, device: net_null0}]\n");
  INFO((parsed ? std::string() : parsed.error().message));
  REQUIRE(parsed);
  const FwdConfig& c = parsed.value();
  const FwdConfig defaults;
  CHECK(c.name == "causeway");
  CHECK(c.dpdk.workers == defaults.dpdk.workers);
  CHECK(c.dpdk.lcores.empty());
  CHECK(c.dpdk.mbufs == 16384);
  CHECK(c.dpdk.memory_mb == 1024);
  CHECK(c.dpdk.no_huge);
  CHECK(c.dpdk.file_prefix.empty());
  CHECK(c.dpdk.extra_args.empty());
  REQUIRE(c.ports.size() == 1);
  CHECK(c.ports[0].mirror == "cw-lan0");
  CHECK(c.ports[0].mtu == 1500);
  CHECK(c.ports[0].addresses.empty());
  CHECK_FALSE(c.ports[0].mac);
  CHECK(c.routes.empty());
  CHECK(c.neighbors.empty());
  CHECK(c.fib.v4_max_routes == 2097152);
  CHECK(c.fib.v4_tbl8_groups == 32768);
  CHECK(c.fib.v6_max_routes == 131072);
  CHECK(c.fib.v6_tbl8_groups == 65536);
  CHECK(c.fib.max_next_hops == 65536);
  CHECK(c.neighbor.reachable_s == 60);
  CHECK(c.neighbor.probe_interval_ms == 1000);
  CHECK(c.neighbor.probes == 3);
  CHECK(c.neighbor.queue_per_neighbor == 16);
  CHECK(c.control_socket == "/run/causeway/fwd.sock");
  CHECK(c.idle_sleep_max_us == 1000);
  CHECK(c.uapi.enabled);
  CHECK(c.uapi.socket_dir == "/var/run/wireguard");
}

// Two ports most rows build on: lan0 has IPv4 and IPv6, wan0 IPv4 only.
const std::string kPorts = R"(ports:
  - {name: lan0, device: "net_af_packet0,iface=a", addresses: [10.1.0.1/24, "fd00:1::1/64"]}
  - {name: wan0, device: "0000:00:04.0", addresses: [10.9.0.1/30]}
)";

struct Row {
  std::string what;
  std::string yaml;
};

TEST_CASE("VLAN subinterfaces follow the physical ports as interfaces", "[config]") {
  auto parsed = parse_config(R"(ports:
  - name: lan0
    device: net_null0
    mtu: 1600
    addresses: [10.1.0.1/24]
    vlans:
      - {id: 100, addresses: [10.100.0.1/24, "fd00:100::1/64"]}
      - {id: 200, name: guest, mtu: 1400, mirror: cw-guest}
  - {name: wan0, device: net_null1, addresses: [10.9.0.1/30], vlans: []}
routes:
  - {prefix: 10.2.0.0/16, via: 10.100.0.2, port: lan0.100}
neighbors:
  - {address: 10.100.0.3, mac: "02:00:00:00:00:03", port: lan0.100}
)");
  INFO((parsed ? "" : parsed.error().message));
  REQUIRE(parsed);
  const FwdConfig& c = parsed.value();
  REQUIRE(c.ports.size() == 4);
  CHECK(c.ports[0].name == "lan0");
  CHECK_FALSE(c.ports[0].is_vlan());
  CHECK(c.ports[1].name == "wan0");
  CHECK(c.ports[2].name == "lan0.100");
  CHECK(c.ports[2].is_vlan());
  CHECK(c.ports[2].vlan_id == 100);
  CHECK(c.ports[2].parent == 0);
  CHECK(c.ports[2].mtu == 1600);  // the port's by default
  CHECK(c.ports[2].mirror == "cw-lan0.100");
  CHECK(c.ports[2].device.empty());
  CHECK(c.ports[2].addresses ==
        std::vector<IpPrefix>{prefix("10.100.0.1/24"), prefix("fd00:100::1/64")});
  CHECK(c.ports[3].name == "guest");
  CHECK(c.ports[3].vlan_id == 200);
  CHECK(c.ports[3].mtu == 1400);
  CHECK(c.ports[3].mirror == "cw-guest");
  CHECK(c.routes[0].port == "lan0.100");
  CHECK(c.neighbors[0].port == "lan0.100");
}

TEST_CASE("edge cases that must parse", "[config]") {
  const std::vector<Row> rows = {
      {"empty lists and blocks read as empty", kPorts + "routes:\nneighbors:\ndpdk:\nfib:\n"},
      {"/31 and /32 interface addresses",
       "ports: [{name: p2p0, device: net_null0, addresses: [10.0.0.0/31, 10.0.1.1/32]}]\n"},
      {"secondary address in the same subnet",
       "ports: [{name: lan0, device: net_null0, addresses: [10.1.0.1/24, 10.1.0.2/24]}]\n"},
      {"IPv6 link-local gateway",
       kPorts + "routes: [{prefix: \"2001:db8::/32\", via: \"fe80::2\", port: lan0}]\n"},
      {"default route and host route",
       kPorts + "routes: [{prefix: 0.0.0.0/0, via: 10.9.0.2, port: wan0},\n"
                "         {prefix: 10.5.5.5/32, via: 10.9.0.2, port: wan0}]\n"},
      {"same neighbour address on two ports",
       "ports:\n  - {name: a, device: net_null0, addresses: [10.0.0.1/24]}\n"
       "  - {name: b, device: net_null1, addresses: [10.0.1.1/24]}\n"
       "neighbors:\n  - {address: 10.7.0.1, mac: \"02:00:00:00:00:01\", port: a}\n"
       "  - {address: 10.7.0.1, mac: \"02:00:00:00:00:01\", port: b}\n"},
      {"PCI address with devargs and upper-case hex",
       "ports: [{name: wan0, device: \"0000:0A:1f.7,rxq_pkt_len=2048\"}]\n"},
      {"name of 15 characters with an explicit mirror",
       "ports: [{name: abcdefghijklmno, device: net_null0, mirror: m0}]\n"},
      {"lcores list with ranges", "dpdk: {workers: 3, lcores: \"0,2-3,7\"}\n" + kPorts},
      {"IPv6 port at the 1280 minimum",
       "ports: [{name: v6, device: net_null0, addresses: [\"fd00::1/64\"], mtu: 1280}]\n"},
      {"booleans in capitals", "dpdk: {no_huge: False}\n" + kPorts},
      {"lcore-to-CPU map for 2 workers on 2 CPUs",
       "dpdk: {workers: 2, lcores: \"0@0,1@1,2@1\"}\n" + kPorts},
      {"lcore-to-CPU map with groups", "dpdk: {workers: 2, lcores: \"(0-2)@(0-1)\"}\n" + kPorts},
  };
  for (const Row& row : rows) {
    SECTION(row.what) {
      auto parsed = parse_config(row.yaml);
      INFO(row.yaml);
      INFO((parsed ? std::string() : parsed.error().message));
      CHECK(parsed);
    }
  }
}

struct BadRow {
  std::string yaml;
  std::string error_prefix;  // the message must start with exactly this
};

// Every row is refused (EINVAL) with a message that starts with its error_prefix.
void check_refused(const std::vector<BadRow>& rows) {
  for (const BadRow& row : rows) {
    auto parsed = parse_config(row.yaml);
    INFO(row.yaml);
    REQUIRE_FALSE(parsed);
    INFO(parsed.error().message);
    CHECK(parsed.error().message.rfind(row.error_prefix, 0) == 0);
    CHECK(parsed.error().code == EINVAL);
  }
}

std::vector<BadRow> bad_rows() {
  const std::string lan = "ports:\n  - {name: lan0, device: net_null0, ";
  return {
      // YAML syntax and document shape
      {"ports: [{name: lan0\n", "line 2, column 1: YAML syntax error: "},
      {"ports:\n  - name: a\n\t device: b\n", "line 3, column 1: YAML syntax error: "},
      {kPorts + "---\n" + kPorts, "document: the file holds 2 YAML documents"},
      {"- a\n- b\n", "document: expected a map of settings, got a list"},
      {"", "ports: required key is missing"},
      // unknown and duplicate keys
      {kPorts + "routs: []\n", "routs: unknown key (did you mean \"routes\"?); allowed keys: name"},
      {kPorts + "foo: 1\n",
       "foo: unknown key; allowed keys: name, dpdk, ports, routes, neighbors, "
       "fib, neighbor, tunnels, control_socket, idle_sleep_max_us, uapi (line 4)"},
      {lan + "adresses: [10.1.0.1/24]}\n",
       "ports[0].adresses: unknown key (did you mean \"addresses\"?); allowed keys: name, "
       "device, mac, addresses, mtu, mirror, rx_desc, tx_desc"},
      {"dpdk: {worker: 2}\n" + kPorts, "dpdk.worker: unknown key (did you mean \"workers\"?)"},
      {kPorts + "routes: [{prefix: 10.2.0.0/16, gateway: 10.9.0.2, port: wan0}]\n",
       "routes[0].gateway: unknown key; allowed keys: prefix, via, port, blackhole"},
      {kPorts + "neighbors: [{address: 10.9.0.2, lladdr: \"02:00:00:00:00:01\", port: wan0}]\n",
       "neighbors[0].lladdr: unknown key"},
      {kPorts + "fib: {v4_routes: 1024}\n", "fib.v4_routes: unknown key"},
      {kPorts + "neighbor: {probe: 3}\n", "neighbor.probe: unknown key (did you mean \"probes\"?)"},
      {"name: a\nname: b\n" + kPorts, "name: duplicate key (first given on line 1)"},
      // wrong types
      {"dpdk: {workers: two}\n" + kPorts, "dpdk.workers: expected an integer (1..64), got \"two\""},
      {"dpdk: {mbufs: \"16384\"}\n" + kPorts,
       "dpdk.mbufs: expected an integer (1024..4194304), got the quoted string \"16384\""},
      {"dpdk: {memory_mb: 1.5}\n" + kPorts, "dpdk.memory_mb: expected an integer"},
      {"dpdk: {no_huge: yes}\n" + kPorts, "dpdk.no_huge: expected true or false, got \"yes\""},
      {"dpdk: 4\n" + kPorts, "dpdk: expected a map of settings, got \"4\""},
      {"dpdk: {extra_args: --in-memory}\n" + kPorts,
       "dpdk.extra_args: expected a list, got \"--in-memory\""},
      {"name: [a]\n" + kPorts, "name: expected a string, got a list"},
      {"ports: {name: lan0, device: net_null0}\n", "ports: expected a list, got a map"},
      {"ports:\n  -\n", "ports[0]: expected a map of port settings, got nothing"},
      {lan + "addresses: 10.1.0.1/24}\n",
       "ports[0].addresses: expected a list, got \"10.1.0.1/24\""},
      {lan + "mtu: {a: 1}}\n", "ports[0].mtu: expected an integer (576..9000), got a map"},
      {kPorts + "routes: [{prefix: 192.0.2.0/24, blackhole: 1}]\n",
       "routes[0].blackhole: expected true or false, got \"1\""},
      {kPorts + "control_socket:\n", "control_socket: expected a string, got nothing (null)"},
      // numbers out of range
      {"dpdk: {workers: 65}\n" + kPorts, "dpdk.workers: 65 is out of range (1..64)"},
      {"dpdk: {workers: 0}\n" + kPorts, "dpdk.workers: 0 is out of range (1..64)"},
      {"dpdk: {mbufs: 1023}\n" + kPorts, "dpdk.mbufs: 1023 is out of range (1024..4194304)"},
      {"dpdk: {mbufs: 4194305}\n" + kPorts, "dpdk.mbufs: 4194305 is out of range (1024..4194304)"},
      {"dpdk: {memory_mb: 99999999999999999999}\n" + kPorts,
       "dpdk.memory_mb: 99999999999999999999 is out of range (64..1048576)"},
      {lan + "mtu: 575}\n", "ports[0].mtu: 575 is out of range (576..9000)"},
      {lan + "mtu: 9001}\n", "ports[0].mtu: 9001 is out of range (576..9000)"},
      {lan + "addresses: [\"fd00::1/64\"], mtu: 1000}\n",
       "ports[0].mtu: 1000 is below 1280, the IPv6 minimum (the port has fd00::1/64)"},
      {lan + "rx_desc: 1000}\n", "ports[0].rx_desc: 1000 is not a power of two"},
      {lan + "tx_desc: 16384}\n", "ports[0].tx_desc: 16384 is out of range (64..8192)"},
      {lan + "rx_desc: 32}\n", "ports[0].rx_desc: 32 is out of range (64..8192)"},
      {kPorts + "idle_sleep_max_us: -1\n", "idle_sleep_max_us: -1 is out of range (0..100000)"},
      {kPorts + "neighbor: {probes: 0}\n", "neighbor.probes: 0 is out of range (1..100)"},
      {kPorts + "fib: {max_next_hops: 16777217}\n",
       "fib.max_next_hops: 16777217 is out of range (256..16777216)"},
      {"dpdk: {workers: 2, lcores: \"0-1\"}\n" + kPorts,
       "dpdk.lcores: \"0-1\" names 2 lcore(s); 2 worker(s) need 3"},
      {"dpdk: {lcores: \"0-x\"}\n" + kPorts, "dpdk.lcores: \"0-x\" is not an lcore list"},
      {"dpdk: {lcores: \"3-1\"}\n" + kPorts, "dpdk.lcores: \"3-1\" is not an lcore list"},
      {"dpdk: {workers: 16, mbufs: 16384}\n" + kPorts,
       "dpdk.mbufs: 16384 mbufs cannot fill the RX rings: 16 worker(s) x rx_desc summed over 2 "
       "port(s) = 32768"},
      // names
      {"ports: [{name: LAN0, device: net_null0}]\n",
       "ports[0].name: \"LAN0\" must be 1..15 characters of [a-z0-9_-]"},
      {"ports: [{name: abcdefghijklmnop, device: net_null0, mirror: m0}]\n",
       "ports[0].name: \"abcdefghijklmnop\" must be 1..15 characters"},
      {"ports: [{name: \"\", device: net_null0}]\n",
       "ports[0].name: \"\" must be 1..15 characters"},
      {"ports: [{device: net_null0}]\n", "ports[0].name: required key is missing"},
      {"ports: [{name: lan0, device: net_null0}, {name: lan0, device: net_null1}]\n",
       "ports[1].name: \"lan0\" is already the name of ports[0]"},
      {"ports: [{name: abcdefghijklm, device: net_null0}]\n",
       "ports[0].name: the default mirror name \"cw-abcdefghijklm\" is longer than 15 characters"},
      {lan + "mirror: a-very-long-mirror}\n",
       "ports[0].mirror: \"a-very-long-mirror\" must be 1..15 characters"},
      {lan + "mirror: \"cw/0\"}\n", "ports[0].mirror: \"cw/0\" must be 1..15 characters"},
      {"ports: [{name: lan0, device: net_null0}, {name: x, device: net_null1, mirror: cw-lan0}]\n",
       "ports[1].mirror: mirror interface \"cw-lan0\" is already the mirror of ports[0]"},
      {"name: pop a\n" + kPorts, "name: \"pop a\" must be 1..32 characters of [A-Za-z0-9_-]"},
      {"name: " + std::string(33, 'p') + "\n" + kPorts,
       "name: \"" + std::string(33, 'p') + "\" must be 1..32 characters"},
      // devices
      {"ports: [{name: lan0, device: \"\"}]\n", "ports[0].device: must not be empty"},
      {"ports: [{name: lan0}]\n", "ports[0].device: required key is missing"},
      {"ports: [{name: a, device: \"0000:00:04.0\"}, {name: b, device: \"00:04.0\"}]\n",
       "ports[1].device: \"00:04.0\" is the same device as ports[0].device (\"0000:00:04.0\")"},
      {"ports: [{name: a, device: \"net_af_packet0,iface=a\"},"
       " {name: b, device: \"net_af_packet0,iface=b\"}]\n",
       "ports[1].device: \"net_af_packet0,iface=b\" is the same device as ports[0].device"},
      {"ports: [{name: a, device: \"0000:00:4g.0\"}]\n",
       "ports[0].device: \"0000:00:4g.0\" is neither a PCI address"},
      {"ports: [{name: a, device: \"net_tap0, iface=x\"}]\n",
       "ports[0].device: \"net_tap0, iface=x\" contains whitespace"},
      // interface addresses
      {"ports:\n  - {name: lan0, device: net_null0, addresses: [10.1.0.1/24]}\n"
       "  - {name: wan0, device: net_null1, addresses: [10.0.1.300/24]}\n",
       "ports[1].addresses[0]: \"10.0.1.300/24\" is not an IP prefix"},
      {lan + "addresses: [10.1.0.1]}\n", "ports[0].addresses[0]: \"10.1.0.1\" is not an IP prefix"},
      {lan + "addresses: [10.1.0.1/33]}\n",
       "ports[0].addresses[0]: \"10.1.0.1/33\" is not an IP prefix"},
      {lan + "addresses: [10.1.0.1/0]}\n",
       "ports[0].addresses[0]: 10.1.0.1/0: a /0 prefix cannot be an interface address"},
      {lan + "addresses: [10.1.0.0/24]}\n",
       "ports[0].addresses[0]: 10.1.0.0/24 is a network, not an interface address"},
      {lan + "addresses: [\"fd00:1::/64\"]}\n",
       "ports[0].addresses[0]: fd00:1::/64 is a network, not an interface address"},
      {lan + "addresses: [10.1.0.255/24]}\n",
       "ports[0].addresses[0]: 10.1.0.255/24 is the broadcast address of its subnet"},
      {lan + "addresses: [224.0.0.1/24]}\n",
       "ports[0].addresses[0]: 224.0.0.1 is a multicast address"},
      {lan + "addresses: [127.0.0.1/8]}\n",
       "ports[0].addresses[0]: 127.0.0.1 is a loopback address"},
      {lan + "addresses: [10.1.0.1/24, 10.1.0.1/16]}\n",
       "ports[0].addresses[1]: 10.1.0.1 is already ports[0].addresses[0]"},
      {kPorts + "  - {name: dmz0, device: net_null9, addresses: [10.9.0.1/24]}\n",
       "ports[2].addresses[0]: 10.9.0.1 is already an address of port \"wan0\" "
       "(ports[1].addresses[0])"},
      {kPorts + "  - {name: dmz0, device: net_null9, addresses: [\"fd00:1::2/64\"]}\n",
       "ports[2].addresses[0]: subnet fd00:1::/64 is already connected to port \"lan0\" "
       "(ports[0].addresses[1])"},
      {lan + "mac: \"02:00:00:00:01\"}\n", "ports[0].mac: \"02:00:00:00:01\" is not a MAC address"},
      {lan + "mac: \"01:00:5e:00:00:01\"}\n",
       "ports[0].mac: 01:00:5e:00:00:01 is not a unicast MAC address"},
      {"ports: []\n", "ports: at least one port is needed"},
      // routes
      {kPorts + "routes: [{prefix: 10.2.0.1/16, via: 10.9.0.2, port: wan0}]\n",
       "routes[0].prefix: \"10.2.0.1/16\" has host bits set (invalid prefix for given prefix "
       "length); write 10.2.0.0/16"},
      {kPorts + "routes: [{prefix: \"2001:db8::1/32\", port: lan0}]\n",
       "routes[0].prefix: \"2001:db8::1/32\" has host bits set (invalid prefix for given prefix "
       "length); write 2001:db8::/32"},
      {kPorts + "routes: [{prefix: 10.2.0.0/33, port: wan0}]\n",
       "routes[0].prefix: \"10.2.0.0/33\" is not an IP prefix"},
      {kPorts + "routes: [{via: 10.9.0.2, port: wan0}]\n",
       "routes[0].prefix: required key is missing"},
      {kPorts + "routes: [{prefix: 10.2.0.0/16, via: \"fd00:1::2\", port: lan0}]\n",
       "routes[0].via: fd00:1::2 is IPv6 but the prefix 10.2.0.0/16 is IPv4"},
      {kPorts + "routes: [{prefix: 10.2.0.0/16, via: 10.9.0.300, port: wan0}]\n",
       "routes[0].via: \"10.9.0.300\" is not an IP address"},
      {kPorts + "routes:\n  - {prefix: 10.2.0.0/16, via: 10.9.0.2, port: wan0}\n"
                "  - {prefix: 192.0.2.0/24, blackhole: true}\n"
                "  - {prefix: 10.4.0.0/16, via: 10.9.0.2, port: wan9}\n",
       "routes[2].port: no port named \"wan9\""},
      {kPorts + "routes: [{prefix: 192.0.2.0/24, blackhole: true, via: 10.9.0.2}]\n",
       "routes[0].via: a blackhole route takes no via"},
      {kPorts + "routes: [{prefix: 192.0.2.0/24, blackhole: true, port: wan0}]\n",
       "routes[0].port: a blackhole route takes no port"},
      {kPorts + "routes: [{prefix: 10.2.0.0/16, via: 10.9.0.2}]\n",
       "routes[0].port: required key is missing"},
      {kPorts + "routes: [{prefix: 192.0.2.0/24, blackhole: false}]\n",
       "routes[0].port: required key is missing"},
      {kPorts + "routes:\n  - {prefix: 10.2.0.0/16, via: 10.9.0.2, port: wan0}\n"
                "  - {prefix: 10.2.0.0/16, blackhole: true}\n",
       "routes[1].prefix: 10.2.0.0/16 duplicates routes[0]"},
      {kPorts + "routes: [{prefix: 10.1.0.0/24, port: lan0}]\n",
       "routes[0].prefix: 10.1.0.0/24 is the connected subnet of port \"lan0\" "
       "(ports[0].addresses[0])"},
      {kPorts + "routes: [{prefix: 10.2.0.0/16, via: 10.8.0.2, port: wan0}]\n",
       "routes[0].via: 10.8.0.2 is not on a connected subnet of port \"wan0\" (10.9.0.0/30)"},
      {kPorts + "routes: [{prefix: 10.2.0.0/16, via: 10.1.0.2, port: wan0}]\n",
       "routes[0].via: 10.1.0.2 is not on a connected subnet of port \"wan0\""},
      {kPorts + "routes: [{prefix: 10.2.0.0/16, via: 10.9.0.1, port: wan0}]\n",
       "routes[0].via: 10.9.0.1 is an address of port \"wan0\" itself"},
      {kPorts + "routes: [{prefix: \"2001:db8::/32\", port: wan0}]\n",
       "routes[0].port: port \"wan0\" has no IPv6 address for 2001:db8::/32"},
      // neighbours
      {kPorts + "neighbors: [{address: 10.9.0.2, mac: \"02:00:00:00:09:02\", port: wan9}]\n",
       "neighbors[0].port: no port named \"wan9\""},
      {kPorts + "neighbors: [{address: \"fd00:9::2\", mac: \"02:00:00:00:09:02\", port: wan0}]\n",
       "neighbors[0].port: port \"wan0\" has no IPv6 address for fd00:9::2"},
      {kPorts + "neighbors:\n  - {address: 10.9.0.2, mac: \"02:00:00:00:09:02\", port: wan0}\n"
                "  - {address: 10.9.0.2, mac: \"02:00:00:00:09:03\", port: wan0}\n",
       "neighbors[1].address: 10.9.0.2 on port \"wan0\" duplicates neighbors[0]"},
      {kPorts + "neighbors: [{address: 10.9.0.2, port: wan0}]\n",
       "neighbors[0].mac: required key is missing"},
      {kPorts + "neighbors: [{address: 10.9.0.2, mac: \"ff:ff:ff:ff:ff:ff\", port: wan0}]\n",
       "neighbors[0].mac: ff:ff:ff:ff:ff:ff is not a unicast MAC address"},
      {kPorts + "neighbors: [{address: 10.9.0.1, mac: \"02:00:00:00:09:02\", port: wan0}]\n",
       "neighbors[0].address: 10.9.0.1 is an address of port \"wan0\" itself"},
      {kPorts + "neighbors: [{address: 10.9.0.0/30, mac: \"02:00:00:00:09:02\", port: wan0}]\n",
       "neighbors[0].address: \"10.9.0.0/30\" is not an IP address"},
      {kPorts + "neighbors: [{mac: \"02:00:00:00:09:02\", port: wan0}]\n",
       "neighbors[0].address: required key is missing"},
      // other top-level settings
      {kPorts + "control_socket: fwd.sock\n",
       "control_socket: \"fwd.sock\" is not an absolute path"},
      {kPorts + "control_socket: /" + std::string(107, 's') + "\n",
       "control_socket: \"/" + std::string(63, 's') +
           "...\" is longer than 107 bytes, the limit of a UNIX socket path"},
      {kPorts + "uapi: {socket_dir: run/wireguard}\n",
       "uapi.socket_dir: \"run/wireguard\" is not an absolute path"},
      {kPorts + "uapi: {socket_dir: /" + std::string(86, 'd') + "}\n",
       "uapi.socket_dir: \"/" + std::string(63, 'd') +
           "...\" is longer than 86 bytes (the socket path <dir>/<tunnel>.sock must fit in 107 "
           "bytes)"},
      {kPorts + "uapi: {enabled: yes}\n", "uapi.enabled: expected true or false"},
      {kPorts + "uapi: {dir: /tmp}\n", "uapi.dir: unknown key"},
      {"dpdk: {file_prefix: a/b}\n" + kPorts, "dpdk.file_prefix: \"a/b\" must be 1..64 characters"},
      {"dpdk: {extra_args: [\"\"]}\n" + kPorts, "dpdk.extra_args[0]: must not be empty"},
      // lcore-to-CPU maps (EAL --lcores)
      {"dpdk: {workers: 2, lcores: \"0@0,1@1\"}\n" + kPorts,
       "dpdk.lcores: \"0@0,1@1\" names 2 lcore(s); 2 worker(s) need 3"},
      {"dpdk: {lcores: \"0@x\"}\n" + kPorts, "dpdk.lcores: \"0@x\" is not an lcore list"},
      {"dpdk: {lcores: \"(0-1@0\"}\n" + kPorts, "dpdk.lcores: \"(0-1@0\" is not an lcore list"},
      // VLAN subinterfaces
      {lan + "vlans: [{id: 4095}]}\n", "ports[0].vlans[0].id: 4095 is out of range (1..4094)"},
      {lan + "vlans: [{id: 0}]}\n", "ports[0].vlans[0].id: 0 is out of range (1..4094)"},
      {lan + "vlans: [{name: x}]}\n", "ports[0].vlans[0].id: required key is missing"},
      {lan + "vlans: [{id: 7}, {id: 7}]}\n",
       "ports[0].vlans[1].id: VLAN 7 is already ports[0].vlans[0] of port \"lan0\""},
      {lan + "vlans: [{id: 7, vid: 8}]}\n",
       "ports[0].vlans[0].vid: unknown key (did you mean \"id\"?); allowed keys: id, name, "
       "addresses, mtu, mirror"},
      {lan + "vlans: [{id: 7, name: lan0}]}\n",
       "ports[0].vlans[0].name: \"lan0\" is already the name of ports[0]"},
      {lan + "vlans: [{id: 7, name: \"A.7\"}]}\n",
       "ports[0].vlans[0].name: \"A.7\" must be 1..15 characters of [a-z0-9_.-]"},
      {lan + "addresses: [10.1.0.1/24], vlans: [{id: 7, addresses: [10.1.0.2/24]}]}\n",
       "ports[0].vlans[0].addresses[0]: subnet 10.1.0.0/24 is already connected to port \"lan0\" "
       "(ports[0].addresses[0])"},
      {lan + "vlans: [{id: 7, addresses: [10.7.0.1/24]}, {id: 8, addresses: [10.7.0.1/32]}]}\n",
       "ports[0].vlans[1].addresses[0]: 10.7.0.1 is already an address of port \"lan0.7\" "
       "(ports[0].vlans[0].addresses[0])"},
      {lan + "mtu: 1400, vlans: [{id: 7, mtu: 1500}]}\n",
       "ports[0].vlans[0].mtu: 1500 is out of range (576..1400)"},
      {lan + "vlans: [{id: 7, mtu: 1000, addresses: [\"fd00:7::1/64\"]}]}\n",
       "ports[0].vlans[0].mtu: 1000 is below 1280, the IPv6 minimum"},
      {"ports:\n  - {name: lan-0123456, device: net_null0, mirror: m0, vlans: [{id: 1000}]}\n",
       "ports[0].vlans[0].id: the default name \"lan-0123456.1000\" is longer than 15"},
      {"ports:\n  - {name: lan0, device: net_null0, mirror: cw-abcdefghijk, vlans: [{id: 10}]}\n",
       "ports[0].vlans[0].id: the default mirror name \"cw-abcdefghijk.10\" is longer than 15"},
      {lan + "vlans: [{id: 7, mirror: cw-lan0}]}\n",
       "ports[0].vlans[0].mirror: mirror interface \"cw-lan0\" is already the mirror of ports[0]"},
      {lan + "vlans: [{id: 7}]}\nroutes: [{prefix: 10.2.0.0/16, via: 10.9.0.2, port: lan0.7}]\n",
       "routes[0].port: port \"lan0.7\" has no IPv4 address"},
  };
}

TEST_CASE("bad documents fail with the field path first", "[config]") {
  const std::vector<BadRow> rows = bad_rows();
  REQUIRE(rows.size() >= 30);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const BadRow& row = rows[i];
    INFO("row " << i << ":\n" << row.yaml);
    auto parsed = parse_config(row.yaml);
    CHECK_FALSE(parsed);  // not REQUIRE: every row is reported
    if (parsed) continue;
    const std::string& message = parsed.error().message;
    INFO("error: " << message);
    CHECK(message.rfind(row.error_prefix, 0) == 0);
  }
}

TEST_CASE("errors name the document line", "[config]") {
  auto parsed = parse_config(kPorts + "routes:\n  - prefix: 10.2.0.0/16\n    port: wan9\n");
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().message ==
        "routes[0].port: no port named \"wan9\" (ports: lan0, wan0) (line 6)");
  CHECK(parsed.error().code == EINVAL);
}

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/causeway-config-test-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    for (const std::string& file : files_) ::unlink(file.c_str());
    ::rmdir(path_.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, std::string_view text) {
    const std::string file = path_ + "/" + name;
    std::ofstream(file) << text;
    files_.push_back(file);
    return file;
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

TEST_CASE("load_config reads a file and names it in errors", "[config]") {
  TempDir dir;
  const std::string good = dir.write("good.yaml", kFullExample);
  auto loaded = load_config(good);
  INFO((loaded ? std::string() : loaded.error().message));
  REQUIRE(loaded);
  CHECK(loaded.value().name == "pop-a");

  const std::string bad = dir.write("bad.yaml", "ports: [{name: LAN0, device: net_null0}]\n");
  auto failed = load_config(bad);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message.rfind(bad + ": ports[0].name: \"LAN0\" must be", 0) == 0);

  const std::string syntax = dir.write("syntax.yaml", "ports: [\n");
  failed = load_config(syntax);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message.rfind(syntax + ": line 2, column 1: YAML syntax error", 0) == 0);

  const std::string missing = dir.path() + "/missing.yaml";
  failed = load_config(missing);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message == missing + ": cannot open: No such file or directory");
  CHECK(failed.error().code == ENOENT);

  failed = load_config(dir.path());
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message == dir.path() + ": not a regular file");
}

// Keys as `wg genkey` / `wg pubkey` print them.
constexpr std::string_view kKeyA = "YHvzoV5DTgaX8IoOUH6i6hVJNBDZ5g+/ZeOC5KdlHmk=";
constexpr std::string_view kKeyB = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
constexpr std::string_view kKeyC = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

const std::string kTunnelPorts = R"(ports:
  - {name: lan0, device: net_null0, addresses: [10.1.0.1/24]}
  - {name: wan0, device: net_null1, addresses: [10.9.0.1/30, "2001:db8:9::1/64"]}
  - {name: wan1, device: net_null2, addresses: [10.8.0.1/30]}
)";

TEST_CASE("tunnels: every key parses", "[config][tunnels]") {
  const std::string yaml = kTunnelPorts + R"(tunnels:
  - name: wg0
    private_key: ")" + std::string(kKeyA) +
                           R"("
    listen_port: 51820
    ports: [wan0, wan1]
    peers:
      - name: pop-b-wan0
        public_key: ")" + std::string(kKeyB) +
                           R"("
        preshared_key: ")" +
                           std::string(kKeyC) + R"("
        endpoint: "10.9.0.2:51821"
        allowed_ips: [10.2.0.0/16, "fd00:2::/64", 10.3.0.7/24]
        persistent_keepalive: 25
        path_group: 7
      - public_key: ")" + std::string(kKeyC) +
                           R"("
        endpoint: "[2001:db8:9::2]:51820"
  - name: wg1
    private_key_file: /etc/causeway/wg1.key
    listen_port: 51820
    ports: [lan0]
routes:
  - {prefix: 10.2.0.0/16, path_group: 7}
)";
  auto parsed = parse_config(yaml);
  INFO((parsed ? std::string() : parsed.error().message));
  REQUIRE(parsed);
  const auto& t = parsed.value().tunnels;
  REQUIRE(t.size() == 2);
  CHECK(t[0].name == "wg0");
  REQUIRE(t[0].private_key);
  CHECK(wg_key_str(*t[0].private_key) == kKeyA);
  CHECK(t[0].listen_port == 51820);
  CHECK(t[0].ports == std::vector<std::string>{"wan0", "wan1"});
  REQUIRE(t[0].peers.size() == 2);
  const TunnelPeerConfig& p = t[0].peers[0];
  CHECK(p.name == "pop-b-wan0");
  CHECK(wg_key_str(p.public_key) == kKeyB);
  REQUIRE(p.preshared_key);
  CHECK(wg_key_str(*p.preshared_key) == kKeyC);
  REQUIRE(p.endpoint);
  CHECK(p.endpoint->addr == address("10.9.0.2"));
  CHECK(p.endpoint->port == 51821);
  CHECK(p.allowed_ips ==
        std::vector<IpPrefix>{prefix("10.2.0.0/16"), prefix("fd00:2::/64"), prefix("10.3.0.0/24")});
  CHECK(p.persistent_keepalive_s == 25);
  CHECK(p.path_group == std::optional<std::uint16_t>(7));
  CHECK_FALSE(t[0].peers[1].path_group);
  REQUIRE(t[0].peers[1].endpoint);
  CHECK(t[0].peers[1].endpoint->addr == address("2001:db8:9::2"));
  CHECK_FALSE(t[0].peers[1].preshared_key);
  CHECK(t[0].peers[1].persistent_keepalive_s == 0);
  CHECK_FALSE(t[1].private_key);
  CHECK(t[1].private_key_file == "/etc/causeway/wg1.key");
  REQUIRE(parsed.value().routes.size() == 1);
  CHECK(parsed.value().routes[0].path_group == std::optional<std::uint16_t>(7));
  CHECK(parsed.value().routes[0].port.empty());
}

TEST_CASE("tunnels: a VLAN subinterface is an interface a tunnel listens on", "[config][tunnels]") {
  const std::string yaml = R"(ports:
  - {name: lan0, device: net_null0, addresses: [10.1.0.1/24]}
  - name: wan0
    device: net_null1
    addresses: [10.9.0.1/30]
    vlans:
      - {id: 300, addresses: [10.7.0.1/30]}
      - {id: 301}
dpdk: {workers: 1, lcores: "0@0,1@1"}
tunnels:
  - {name: wg0, private_key: ")" +
                           std::string(kKeyA) +
                           R"(", listen_port: 51820, ports: [wan0, wan0.300]}
)";
  auto parsed = parse_config(yaml);
  INFO((parsed ? std::string() : parsed.error().message));
  REQUIRE(parsed);
  CHECK(parsed.value().tunnels.at(0).ports == std::vector<std::string>{"wan0", "wan0.300"});
  // A subinterface without an address has nothing to listen on.
  const std::string bad = yaml.substr(0, yaml.rfind("wan0.300")) + "wan0.301]}\n";
  auto refused = parse_config(bad);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.rfind(
            "tunnels[0].ports[1]: port \"wan0.301\" has no address to listen on", 0) == 0);
}

TEST_CASE("tunnels: bad settings name the field", "[config][tunnels]") {
  const std::string head = kTunnelPorts + "tunnels:\n  - {name: wg0, private_key: \"" +
                           std::string(kKeyA) + "\", listen_port: 51820, ports: [wan0]";
  const std::string peer_b = "{public_key: \"" + std::string(kKeyB) + "\"";
  const std::vector<BadRow> rows = {
      {kTunnelPorts + "tunnels:\n  - {private_key: \"" + std::string(kKeyA) +
           "\", listen_port: 1, ports: [wan0]}\n",
       "tunnels[0].name: required key is missing"},
      {kTunnelPorts + "tunnels:\n  - {name: WG0, listen_port: 1, ports: [wan0]}\n",
       "tunnels[0].name: \"WG0\" must be 1..15 characters of [a-z0-9_-]"},
      {kTunnelPorts + "tunnels:\n  - {name: wg0, listen_port: 1, ports: [wan0]}\n",
       "tunnels[0]: give exactly one of private_key and private_key_file"},
      {kTunnelPorts +
           "tunnels:\n  - {name: wg0, private_key: abc, listen_port: 1, ports: [wan0]}\n",
       "tunnels[0].private_key: not a WireGuard key"},
      {kTunnelPorts +
           "tunnels:\n  - {name: wg0, private_key_file: wg.key, listen_port: 1, ports: [wan0]}\n",
       "tunnels[0].private_key_file: \"wg.key\" is not an absolute path"},
      {kTunnelPorts + "tunnels:\n  - {name: wg0, private_key: \"" + std::string(kKeyA) +
           "\", ports: [wan0]}\n",
       "tunnels[0].listen_port: required key is missing"},
      {kTunnelPorts + "tunnels:\n  - {name: wg0, private_key: \"" + std::string(kKeyA) +
           "\", listen_port: 70000, ports: [wan0]}\n",
       "tunnels[0].listen_port: 70000 is out of range (1..65535)"},
      {head + ", port: 1}\n", "tunnels[0].port: unknown key (did you mean \"ports\"?)"},
      {kTunnelPorts + "tunnels:\n  - {name: wg0, private_key: \"" + std::string(kKeyA) +
           "\", listen_port: 1, ports: [wan9]}\n",
       "tunnels[0].ports[0]: no port named \"wan9\""},
      {kTunnelPorts + "tunnels:\n  - {name: wg0, private_key: \"" + std::string(kKeyA) +
           "\", listen_port: 1, ports: []}\n",
       "tunnels[0].ports: at least one port is needed"},
      {head + "}\n  - {name: wg0, private_key: \"" + std::string(kKeyA) +
           "\", listen_port: 1, ports: [wan1]}\n",
       "tunnels[1].name: \"wg0\" names tunnels[0] already"},
      {head + "}\n  - {name: wg1, private_key: \"" + std::string(kKeyA) +
           "\", listen_port: 51820, ports: [wan1, wan0]}\n",
       "tunnels[1].ports[1]: UDP port 51820 on \"wan0\" is used by tunnels[0]"},
      {head + ", peers: [{endpoint: \"10.9.0.2:1\"}]}\n",
       "tunnels[0].peers[0].public_key: required key is missing"},
      {head + ", peers: [" + peer_b + ", endpoint: \"10.9.0.2\"}]}\n",
       "tunnels[0].peers[0].endpoint: \"10.9.0.2\" is not an endpoint"},
      {head + ", peers: [" + peer_b + ", endpoint: \"[::1]:5\"}]}\n",
       "tunnels[0].peers[0].endpoint: ::1 is a loopback address"},
      {head + ", peers: [" + peer_b + ", preshared_key: \"x\"}]}\n",
       "tunnels[0].peers[0].preshared_key: not a WireGuard key"},
      {head + ", peers: [" + peer_b + ", allowed_ips: [10.0.0.0/33]}]}\n",
       "tunnels[0].peers[0].allowed_ips[0]: \"10.0.0.0/33\" is not an IP prefix"},
      {head + ", peers: [" + peer_b + ", allowed_ips: [10.2.0.0/16]}, {public_key: \"" +
           std::string(kKeyC) + "\", allowed_ips: [10.2.0.0/16]}]}\n",
       "tunnels[0].peers[1].allowed_ips[0]: 10.2.0.0/16 is already allowed for "
       "tunnels[0].peers[0]"},
      {head + ", peers: [" + peer_b + "}, " + peer_b + "}]}\n",
       "tunnels[0].peers[1].public_key: the same public key as peer 0 of this tunnel"},
      {head + ", peers: [" + peer_b + ", persistent_keepalive: -1}]}\n",
       "tunnels[0].peers[0].persistent_keepalive: -1 is out of range (0..65535)"},
      {head + ", peers: [" + peer_b + ", path_group: 1024}]}\n",
       "tunnels[0].peers[0].path_group: 1024 is out of range (0..1023)"},
      {head + "}\nroutes:\n  - {prefix: 10.2.0.0/16, path_group: 1, port: wan0}\n",
       "routes[0].port: a path_group route takes no port"},
      {head + "}\nroutes:\n  - {prefix: 10.2.0.0/16, path_group: x}\n",
       "routes[0].path_group: expected an integer (0..1023)"},
  };
  check_refused(rows);
}

TEST_CASE("tunnels: several workers are accepted (peers are handed to their owner worker)",
          "[config][tunnels]") {
  const std::string head = kTunnelPorts + "tunnels:\n  - {name: wg-aws, private_key: \"" +
                           std::string(kKeyA) + "\", listen_port: 51820, ports: [wan0]}\n";
  for (const char* dpdk :
       {"dpdk: {workers: 2}\n", "dpdk: {workers: 2, lcores: \"0@0,1@1,2@1\"}\n"}) {
    auto parsed = parse_config(std::string(dpdk) + head);
    if (!parsed) FAIL(parsed.error().message);
    CHECK(parsed.value().dpdk.workers == 2);
    CHECK(parsed.value().tunnels.size() == 1);
  }
}

TEST_CASE("tunnels: overlay address and probe intervals", "[config][tunnels][probes]") {
  const std::string head = kTunnelPorts + "tunnels:\n  - {name: wg-aws, private_key: \"" +
                           std::string(kKeyA) + "\", listen_port: 51820, ports: [wan0]";
  // Default: 100 ms for a peer with a host allowed IP of the address's family, else off.
  auto parsed = parse_config(head + ", address: [10.255.0.1/32, \"fd00:ff::1/128\"], peers: [" +
                             "{public_key: \"" + std::string(kKeyB) +
                             "\", allowed_ips: [10.2.0.0/16, 10.255.0.2/32]}, {public_key: \"" +
                             std::string(kKeyC) + "\", allowed_ips: [10.3.0.0/16]}]}\n");
  INFO((parsed ? std::string() : parsed.error().message));
  REQUIRE(parsed);
  const TunnelConfig& t = parsed.value().tunnels.at(0);
  CHECK(t.address == std::vector<IpPrefix>{prefix("10.255.0.1/32"), prefix("fd00:ff::1/128")});
  CHECK(t.peers.at(0).probe_interval_ms == 100);
  CHECK(t.peers.at(1).probe_interval_ms == 0);
  auto target = probe_target(t, t.peers[0]);
  REQUIRE(target);
  CHECK(target->source == address("10.255.0.1"));
  CHECK(target->destination == address("10.255.0.2"));
  CHECK_FALSE(probe_target(t, t.peers[1]));
  // IPv6 only: the target is the /128.
  parsed = parse_config(head + ", address: [\"fd00:ff::1/64\"], peers: [{public_key: \"" +
                        std::string(kKeyB) +
                        "\", allowed_ips: [\"fd00:ff::2/128\"], probe_interval_ms: 10}]}\n");
  INFO((parsed ? std::string() : parsed.error().message));
  REQUIRE(parsed);
  CHECK(parsed.value().tunnels[0].peers[0].probe_interval_ms == 10);
  target = probe_target(parsed.value().tunnels[0], parsed.value().tunnels[0].peers[0]);
  REQUIRE(target);
  CHECK(target->destination == address("fd00:ff::2"));
  // Explicitly off.
  parsed = parse_config(head + ", address: [10.255.0.1/32], peers: [{public_key: \"" +
                        std::string(kKeyB) +
                        "\", allowed_ips: [10.255.0.2/32], probe_interval_ms: 0}]}\n");
  REQUIRE(parsed);
  CHECK(parsed.value().tunnels[0].peers[0].probe_interval_ms == 0);

  const std::string peer_b =
      "peers: [{public_key: \"" + std::string(kKeyB) + "\", allowed_ips: [10.255.0.2/32]";
  const std::vector<BadRow> rows = {
      {head + ", address: 10.255.0.1/32}\n", "tunnels[0].address: expected a list"},
      {head + ", address: [10.255.0.1]}\n",
       "tunnels[0].address[0]: \"10.255.0.1\" is not an IP prefix"},
      {head + ", address: [0.0.0.0/0]}\n", "tunnels[0].address[0]: 0.0.0.0/0: a /0 prefix"},
      {head + ", address: [127.0.0.1/32]}\n",
       "tunnels[0].address[0]: 127.0.0.1 is a loopback address"},
      {head + ", address: [10.255.0.0/24]}\n",
       "tunnels[0].address[0]: 10.255.0.0/24 is a network, not an address"},
      {head + ", address: [10.255.0.1/32, 10.255.0.1/24]}\n",
       "tunnels[0].address[1]: 10.255.0.1 is already tunnels[0].address[0]"},
      {head + ", address: [10.9.0.1/32]}\n",
       "tunnels[0].address[0]: 10.9.0.1 is an address of port \"wan0\""},
      {head + ", address: [1, 2, 3, 4, 5]}\n", "tunnels[0].address: 5 addresses; at most 4"},
      {kTunnelPorts + "tunnels:\n  - {name: cw-lan0, private_key: \"" + std::string(kKeyA) +
           "\", listen_port: 51820, ports: [wan0], address: [10.255.0.1/32]}\n",
       "tunnels[0].name: \"cw-lan0\" is the mirror of port \"lan0\""},
      {head + ", address: [10.255.0.1/32], " + peer_b + ", probe_interval_ms: 5}]}\n",
       "tunnels[0].peers[0].probe_interval_ms: 5 is out of range (0 = off, or 10..60000)"},
      {head + ", address: [10.255.0.1/32], " + peer_b + ", probe_interval_ms: 60001}]}\n",
       "tunnels[0].peers[0].probe_interval_ms: 60001 is out of range (0..60000)"},
      {head + ", address: [10.255.0.1/32], " + peer_b + ", probe_interval_ms: x}]}\n",
       "tunnels[0].peers[0].probe_interval_ms: expected an integer"},
      {head + ", " + peer_b + ", probe_interval_ms: 100}]}\n",
       "tunnels[0].peers[0].probe_interval_ms: probes need the tunnel's `address`"},
      {head + ", address: [\"fd00:ff::1/128\"], " + peer_b + ", probe_interval_ms: 100}]}\n",
       "tunnels[0].peers[0].probe_interval_ms: probes need the tunnel's `address`"},
      {head + ", address: [10.255.0.1/32], peers: [{public_key: \"" + std::string(kKeyB) +
           "\", allowed_ips: [10.255.0.0/24], probe_interval_ms: 100}]}\n",
       "tunnels[0].peers[0].probe_interval_ms: probes need the tunnel's `address`"},
      {head + ", address: [10.255.0.1/32], " + peer_b + ", probe_interval: 100}]}\n",
       "tunnels[0].peers[0].probe_interval: unknown key (did you mean \"probe_interval_ms\"?)"},
  };
  check_refused(rows);
}

TEST_CASE("tunnels: keys in base64, canonical only; key files read by load_config",
          "[config][tunnels]") {
  CHECK(parse_wg_key(kKeyA));
  CHECK_FALSE(parse_wg_key(std::string(kKeyA).substr(0, 43)));
  std::string non_canonical(kKeyA);
  non_canonical[42] = 'n';  // 'm' -> 'n' sets an unused low bit
  CHECK_FALSE(parse_wg_key(non_canonical));
  std::string bad_char(kKeyA);
  bad_char[0] = '*';
  CHECK_FALSE(parse_wg_key(bad_char));

  TempDir dir;
  const std::string key_file = dir.write("wg0.key", std::string(kKeyB) + "\n");
  const std::string yaml = kTunnelPorts +
                           "tunnels:\n  - {name: wg0, private_key_file: " + key_file +
                           ", listen_port: 51820, ports: [wan0]}\n";
  auto loaded = load_config(dir.write("fwd.yaml", yaml));
  INFO((loaded ? std::string() : loaded.error().message));
  REQUIRE(loaded);
  REQUIRE(loaded.value().tunnels[0].private_key);
  CHECK(wg_key_str(*loaded.value().tunnels[0].private_key) == kKeyB);

  const std::string garbage = dir.write("bad.key", "not a key\n");
  const std::string bad_yaml = dir.write(
      "bad.yaml", kTunnelPorts + "tunnels:\n  - {name: wg0, private_key_file: " + garbage +
                      ", listen_port: 51820, ports: [wan0]}\n");
  auto failed = load_config(bad_yaml);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message == bad_yaml + ": tunnels[0].private_key_file: " + garbage +
                                      " does not hold a WireGuard key (44 characters of base64)");
}

TEST_CASE("uapi: socket directory and switch", "[config]") {
  auto parsed =
      parse_config(kPorts + "uapi: {enabled: false, socket_dir: /" + std::string(85, 'd') + "}\n");
  INFO((parsed ? std::string() : parsed.error().message));
  REQUIRE(parsed);
  CHECK_FALSE(parsed.value().uapi.enabled);
  CHECK(parsed.value().uapi.socket_dir == "/" + std::string(85, 'd'));
  CHECK(check_uapi_socket_dir("/tmp/x").empty());
  CHECK_FALSE(check_uapi_socket_dir("tmp/x").empty());
  parsed = parse_config(kPorts + "uapi:\n");
  REQUIRE(parsed);
  CHECK(parsed.value().uapi.socket_dir == "/var/run/wireguard");
}

}  // namespace
}  // namespace causeway::fwd
