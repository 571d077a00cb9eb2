// SPDX-License-Identifier: Apache-2.0
// dpdk: the forwarding stages with a real EAL (--no-huge, no devices), real mbufs, a real
// RouteTable/FIB and the exception path. Tables of input frame -> expected output frame,
// drop reason or punt reason; every test checks that no mbuf leaks.
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dataplane/packet_meta.h"
#include "dataplane/stages.h"
#include "dataplane/worker.h"
#include "dpdk_test_env.h"
#include "packet_builder.h"
#include "runtime/exception_path.h"
#include "runtime/route_table.h"

using namespace causeway;
using namespace causeway::fwd;
using namespace causeway::fwd::test;

namespace {

constexpr const char* kPort0Mac = "02:00:00:00:00:01";
constexpr const char* kPort1Mac = "02:00:00:00:00:02";
constexpr const char* kGw4Mac = "02:00:00:00:aa:01";
constexpr const char* kGw6Mac = "02:00:00:00:aa:02";
constexpr const char* kVlanGwMac = "02:00:00:00:aa:03";
constexpr std::uint16_t kSubIf = 2;  // interface index of lan0.100
constexpr std::uint16_t kVlan = 100;

struct Env {
  rte_mempool* pool = nullptr;
  rte_rcu_qsbr* qsbr = nullptr;
  std::unique_ptr<RouteTable> routes;
  rte_ring* punt_ring = nullptr;
  std::atomic<bool> armed{false};
  std::atomic<bool> quit{false};
  DataplaneShared shared;
  WorkerCounters* counters = nullptr;
  WorkerContext* ctx = nullptr;
  std::vector<PortRuntime> ports;
  std::vector<rte_mbuf*> injected;
  std::uint64_t now_ms = 1000;
  std::unique_ptr<ExceptionPath> exception;
  std::array<std::uint16_t, kVlanIds> vlan_tables[2];

  static Env& get() {
    static Env env;
    return env;
  }

  Env() {
    auto started = start_dpdk_test_env("dataplane_test", 1024, 3);
    if (!started) FAIL(started.error().message);
    pool = started.value().pool;
    qsbr = started.value().qsbr;
    routes = std::move(started.value().routes);
    punt_ring = rte_ring_create("ut_punt", 64, static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);

    const char* macs[2] = {kPort0Mac, kPort1Mac};
    for (std::uint16_t i = 0; i < 2; ++i) {
      PortRuntime p;
      p.index = i;
      p.name = "lan" + std::to_string(i);
      p.mac = *MacAddress::parse(macs[i]);
      p.link_local = eui64_link_local(p.mac);
      p.mtu = 1500;
      std::memcpy(shared.ports[i].mac, p.mac.bytes.data(), 6);
      shared.ports[i].mtu = 1500;
      ports.push_back(std::move(p));
    }
    ports[0].addresses = {*IpPrefix::parse("10.1.0.1/24"), *IpPrefix::parse("2001:db8:1::1/64")};
    ports[1].addresses = {*IpPrefix::parse("10.2.0.1/24"), *IpPrefix::parse("2001:db8:2::1/64")};
    shared.ports[1].mtu = 1400;
    shared.ports[1].tx_port = 1;
    // Interface 2: lan0.100, an 802.1Q subinterface of port 0 (MTU 1400).
    PortRuntime sub;
    sub.index = kSubIf;
    sub.name = "lan0.100";
    sub.mac = ports[0].mac;
    sub.link_local = ports[0].link_local;
    sub.mtu = 1400;
    sub.vlan_id = kVlan;
    sub.parent = 0;
    sub.rx_queues = sub.tx_queues = 0;
    sub.addresses = {*IpPrefix::parse("10.100.0.1/24"), *IpPrefix::parse("2001:db8:100::1/64")};
    ports.push_back(std::move(sub));
    std::memcpy(shared.ports[kSubIf].mac, ports[0].mac.bytes.data(), 6);
    shared.ports[kSubIf].mtu = 1400;
    shared.ports[kSubIf].tx_port = 0;
    shared.ports[kSubIf].vlan_tci = kVlan;
    for (std::uint16_t i = 0; i < 2; ++i) {
      vlan_tables[i].fill(kNoInterface);
      vlan_tables[i][0] = i;
      shared.ports[i].vlan_to_if = vlan_tables[i].data();
    }
    vlan_tables[0][kVlan] = kSubIf;
    shared.n_ports = 3;
    shared.next_hops = routes->next_hop_array();
    shared.n_next_hops = routes->next_hop_capacity();
    shared.fib = routes->published();
    shared.qsbr = qsbr;
    shared.punt_ring = punt_ring;
    shared.punt_wakeup_armed = &armed;
    shared.quit = &quit;
    counters = new WorkerCounters();
    ctx = new WorkerContext();
    ctx->shared = &shared;
    ctx->counters = counters;
    exception = std::make_unique<ExceptionPath>(
        ports, *routes, pool, *counters, NeighborTimers{},
        [this](rte_mbuf* m) {
          injected.push_back(m);
          return true;
        },
        [this] { return now_ms; });

    auto gw = [](const char* prefix, const char* via, std::uint16_t port) {
      RouteChange c;
      c.spec.prefix = *IpPrefix::parse(prefix);
      c.spec.kind = NextHopKind::kGateway;
      c.spec.gateway = *IpAddress::parse(via);
      c.spec.port = port;
      return c;
    };
    auto kind = [](const char* prefix, NextHopKind k, std::uint16_t port = ctl::kNoPort) {
      RouteChange c;
      c.spec.prefix = *IpPrefix::parse(prefix);
      c.spec.kind = k;
      c.spec.port = port;
      return c;
    };
    std::vector<RouteChange> rs{
        kind("10.1.0.1/32", NextHopKind::kLocal),
        kind("2001:db8:1::1/128", NextHopKind::kLocal),
        kind("224.0.0.0/4", NextHopKind::kLocal),
        kind("ff00::/8", NextHopKind::kLocal),
        kind("10.1.0.0/24", NextHopKind::kConnected, 0),
        kind("10.2.0.0/24", NextHopKind::kConnected, 1),
        gw("10.2.0.0/16", "10.2.0.254", 1),
        gw("2001:db8:2::/48", "2001:db8:2::fe", 1),
        kind("192.0.2.0/24", NextHopKind::kBlackhole),
        kind("198.51.100.0/24", NextHopKind::kUnreachable),
        kind("10.100.0.1/32", NextHopKind::kLocal),
        kind("2001:db8:100::1/128", NextHopKind::kLocal),
        kind("10.100.0.0/24", NextHopKind::kConnected, kSubIf),
        kind("2001:db8:100::/64", NextHopKind::kConnected, kSubIf),
        gw("10.101.0.0/16", "10.100.0.254", kSubIf),
        gw("2001:db8:101::/48", "2001:db8:100::fe", kSubIf),
    };
    REQUIRE(routes->apply(RouteSource::kInterface, rs));
    routes->set_neighbor_mac(1, *IpAddress::parse("10.2.0.254"), MacAddress::parse(kGw4Mac));
    routes->set_neighbor_mac(1, *IpAddress::parse("2001:db8:2::fe"), MacAddress::parse(kGw6Mac));
    routes->set_neighbor_mac(kSubIf, *IpAddress::parse("10.100.0.254"),
                             MacAddress::parse(kVlanGwMac));
    routes->set_neighbor_mac(kSubIf, *IpAddress::parse("2001:db8:100::fe"),
                             MacAddress::parse(kVlanGwMac));
  }

  rte_mbuf* mbuf(const Bytes& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    REQUIRE(m != nullptr);
    std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size())), frame.data(),
                frame.size());
    return m;
  }
  static Bytes bytes(const rte_mbuf* m) {
    const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
    return Bytes(p, p + m->data_len);
  }
  std::uint64_t drops(DropReason r) const { return counters->drop[static_cast<int>(r)].get(); }
};

struct Outcome {
  std::optional<std::uint16_t> tx_port;
  Bytes tx_frame;
  std::optional<PuntReason> punt;
  std::uint16_t punt_in_port = kNoInterface;  // the interface the punted packet came in on
  Bytes punt_frame;
};

// The frame with an 802.1Q (or, with `tpid`, another) tag inserted after the MAC addresses.
Bytes tagged(Bytes f, std::uint16_t tci, std::uint16_t tpid = wire::kEtherTypeVlan) {
  const std::uint8_t tag[4] = {static_cast<std::uint8_t>(tpid >> 8),
                               static_cast<std::uint8_t>(tpid), static_cast<std::uint8_t>(tci >> 8),
                               static_cast<std::uint8_t>(tci)};
  f.insert(f.begin() + 12, tag, tag + 4);
  return f;
}

// One frame through process_burst; collects what came out and frees it.
Outcome run(const Bytes& frame, std::uint16_t in_port = 0) {
  Env& env = Env::get();
  rte_mbuf* m = env.mbuf(frame);
  env.ctx->fib = env.shared.fib->load();
  process_burst(*env.ctx, in_port, &m, 1);
  Outcome o;
  for (std::uint16_t p = 0; p < 2; ++p) {
    TxBuffer& b = env.ctx->tx[p];
    if (b.n) {
      REQUIRE(b.n == 1);
      o.tx_port = p;
      o.tx_frame = Env::bytes(b.pkts[0]);
      rte_pktmbuf_free(b.pkts[0]);
      b.n = 0;
    }
  }
  void* obj = nullptr;
  if (rte_ring_dequeue(env.punt_ring, &obj) == 0) {
    o.punt = meta(static_cast<rte_mbuf*>(obj)).punt;
    o.punt_in_port = meta(static_cast<rte_mbuf*>(obj)).in_port;
    o.punt_frame = Env::bytes(static_cast<rte_mbuf*>(obj));
    rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
  }
  return o;
}

}  // namespace

TEST_CASE("IPv4 via a resolved gateway: TTL decremented, checksum updated, MACs rewritten",
          "[dataplane]") {
  Env& env = Env::get();
  const unsigned before = rte_mempool_in_use_count(env.pool);
  Ip4Spec in;
  Outcome o = run(ip4_frame(kPort0Mac, in));
  REQUIRE(o.tx_port == 1);
  Ip4Spec out_spec = in;
  out_spec.ttl = 63;
  Bytes expected = ip4_frame(kGw4Mac, out_spec);
  std::memcpy(expected.data() + 6, MacAddress::parse(kPort1Mac)->bytes.data(), 6);
  CHECK(o.tx_frame == expected);
  CHECK(rte_mempool_in_use_count(env.pool) == before);
}

TEST_CASE("IPv6 via a resolved gateway: hop limit decremented, MACs rewritten", "[dataplane]") {
  Ip6Spec in;
  Outcome o = run(ip6_frame(kPort0Mac, in));
  REQUIRE(o.tx_port == 1);
  Ip6Spec out_spec = in;
  out_spec.hop_limit = 63;
  Bytes expected = ip6_frame(kGw6Mac, out_spec);
  std::memcpy(expected.data() + 6, MacAddress::parse(kPort1Mac)->bytes.data(), 6);
  CHECK(o.tx_frame == expected);
}

TEST_CASE("Incremental checksum stays valid across TTL values (RFC 1624)", "[dataplane]") {
  for (int ttl = 2; ttl <= 255; ttl += 17) {
    Ip4Spec in;
    in.ttl = static_cast<std::uint8_t>(ttl);
    Outcome o = run(ip4_frame(kPort0Mac, in));
    REQUIRE(o.tx_port == 1);
    CHECK(wire::csum_fold(wire::csum_add(0, o.tx_frame.data() + 14, 20)) == 0);
    CHECK(o.tx_frame[14 + 8] == ttl - 1);
  }
}

namespace {
struct Row {
  const char* name;
  Bytes frame;
  std::optional<DropReason> drop;
  std::optional<PuntReason> punt;
};

Bytes with(Bytes b, std::size_t off, std::uint8_t v) {
  b[off] = v;
  return b;
}
Bytes truncated(Bytes b, std::size_t n) {
  b.resize(n);
  return b;
}
}  // namespace

TEST_CASE("Bad, exceptional and non-forwardable packets: named drop or punt, no leak",
          "[dataplane]") {
  Env& env = Env::get();
  const Bytes good4 = ip4_frame(kPort0Mac, Ip4Spec{});
  const Bytes good6 = ip6_frame(kPort0Mac, Ip6Spec{});
  auto ip4 = [](auto f) {
    Ip4Spec s;
    f(s);
    return ip4_frame(kPort0Mac, s);
  };
  auto ip6 = [](auto f) {
    Ip6Spec s;
    f(s);
    return ip6_frame(kPort0Mac, s);
  };
  Bytes bad_ck = good4;
  bad_ck[14 + 10] ^= 0xff;
  Bytes big_len = good4;
  wire::store_be16(big_len.data() + 14 + 2, 200);
  Bytes short_total = good4;
  wire::store_be16(short_total.data() + 14 + 2, 12);
  short_total[14 + 10] = 0;
  short_total[14 + 11] = 0;
  wire::store_be16(short_total.data() + 14 + 10,
                   wire::csum_fold(wire::csum_add(0, short_total.data() + 14, 20)));
  Bytes big6 = good6;
  wire::store_be16(big6.data() + 14 + 4, 500);
  const Bytes vlan = tagged(good4, 200);
  Bytes unknown = good4;
  wire::store_be16(unknown.data() + 12, 0x88cc);  // LLDP
  Bytes arp = eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:99", wire::kEtherTypeArp);
  arp.resize(60);
  Bytes oversize = ip4([](Ip4Spec& s) { s.payload = 1481; });
  Bytes too_big = ip4([](Ip4Spec& s) {
    s.payload = 1400;
    s.flags_frag = wire::kIp4FlagDf;
  });

  std::vector<Row> rows{
      {"runt frame", truncated(good4, 10), DropReason::eth_truncated, {}},
      {"unicast MAC of another host",
       ip4_frame("02:00:00:00:77:77", Ip4Spec{}),
       DropReason::not_for_us,
       {}},
      {"802.1Q tag of a VLAN the port does not have", vlan, DropReason::vlan_unknown, {}},
      {"LLDP ethertype", unknown, DropReason::unknown_ethertype, {}},
      {"frame above the port MTU", oversize, DropReason::oversize, {}},
      {"IPv4 header cut short", truncated(good4, 14 + 12), DropReason::ip4_truncated, {}},
      {"IPv4 version 5", with(good4, 14, 0x55), DropReason::ip4_bad_version, {}},
      {"IPv4 IHL 4", with(good4, 14, 0x44), DropReason::ip4_bad_ihl, {}},
      {"IPv4 IHL beyond frame", with(good4, 14, 0x4f), DropReason::ip4_truncated, {}},
      {"IPv4 total length beyond frame", big_len, DropReason::ip4_truncated, {}},
      {"IPv4 total length below header", short_total, DropReason::ip4_bad_length, {}},
      {"IPv4 bad header checksum", bad_ck, DropReason::ip4_bad_checksum, {}},
      {"IPv4 source 127/8",
       ip4([](Ip4Spec& s) { s.src = "127.0.0.1"; }),
       DropReason::ip4_martian_source,
       {}},
      {"IPv4 source multicast",
       ip4([](Ip4Spec& s) { s.src = "224.0.0.5"; }),
       DropReason::ip4_martian_source,
       {}},
      {"IPv4 source 0/8",
       ip4([](Ip4Spec& s) { s.src = "0.1.2.3"; }),
       DropReason::ip4_martian_source,
       {}},
      {"IPv4 destination 127/8",
       ip4([](Ip4Spec& s) { s.dst = "127.0.0.1"; }),
       DropReason::ip4_martian_destination,
       {}},
      {"IPv4 TTL 1 in transit", ip4([](Ip4Spec& s) { s.ttl = 1; }), DropReason::ip4_ttl_expired,
       PuntReason::kTimeExceeded},
      {"IPv4 no route", ip4([](Ip4Spec& s) { s.dst = "203.0.113.9"; }), DropReason::no_route,
       PuntReason::kUnreachable},
      {"IPv4 blackhole", ip4([](Ip4Spec& s) { s.dst = "192.0.2.1"; }), DropReason::blackhole, {}},
      {"IPv4 unreachable route", ip4([](Ip4Spec& s) { s.dst = "198.51.100.1"; }),
       DropReason::unreachable, PuntReason::kUnreachable},
      {"IPv4 DF larger than the output MTU", too_big, DropReason::mtu_exceeded,
       PuntReason::kTooBig},
      {"IPv6 header cut short", truncated(good6, 14 + 30), DropReason::ip6_truncated, {}},
      {"IPv6 version 4 in an IPv6 frame", with(good6, 14, 0x40), DropReason::ip6_bad_version, {}},
      {"IPv6 payload length beyond frame", big6, DropReason::ip6_truncated, {}},
      {"IPv6 source loopback",
       ip6([](Ip6Spec& s) { s.src = "::1"; }),
       DropReason::ip6_martian_source,
       {}},
      {"IPv6 source multicast",
       ip6([](Ip6Spec& s) { s.src = "ff02::1"; }),
       DropReason::ip6_martian_source,
       {}},
      {"IPv6 destination unspecified",
       ip6([](Ip6Spec& s) { s.dst = "::"; }),
       DropReason::ip6_martian_destination,
       {}},
      {"IPv6 hop limit 1 in transit", ip6([](Ip6Spec& s) { s.hop_limit = 1; }),
       DropReason::ip6_hop_limit_expired, PuntReason::kTimeExceeded},
      {"IPv6 no route", ip6([](Ip6Spec& s) { s.dst = "2001:db8:99::1"; }), DropReason::no_route,
       PuntReason::kUnreachable},
      {"ARP", arp, {}, PuntReason::kArp},
      {"IPv4 to the appliance (TTL 1 still delivered)",
       ip4([](Ip4Spec& s) {
         s.dst = "10.1.0.1";
         s.ttl = 1;
       }),
       {},
       PuntReason::kToKernel},
      {"IPv6 to the appliance",
       ip6([](Ip6Spec& s) { s.dst = "2001:db8:1::1"; }),
       {},
       PuntReason::kToKernel},
      {"IPv4 multicast to the kernel",
       ip4([](Ip4Spec& s) { s.dst = "224.0.0.5"; }),
       {},
       PuntReason::kToKernel},
      {"IPv6 neighbour solicitation",
       with(ip6([](Ip6Spec& s) {
              s.next_header = 58;
              s.dst = "ff02::1:ff00:1";
              s.payload = 32;
            }),
            14 + 40, 135),
       {},
       PuntReason::kNd},
      {"IPv4 on-link host without a MAC yet",
       ip4([](Ip4Spec& s) { s.dst = "10.2.0.9"; }),
       {},
       PuntReason::kResolve},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    const unsigned in_use = rte_mempool_in_use_count(env.pool);
    const std::uint64_t before = row.drop ? env.drops(*row.drop) : 0;
    Outcome o = run(row.frame);
    CHECK_FALSE(o.tx_port.has_value());
    if (row.drop) CHECK(env.drops(*row.drop) == before + 1);
    CHECK(o.punt == row.punt);
    CHECK(rte_mempool_in_use_count(env.pool) == in_use);
  }
}

// The stages hand per-packet values to each other in arrays aligned with the survivors
// (BurstState); drops and punts in the middle of a burst must not shift them onto the wrong
// packet. One burst mixing forwarded IPv4/IPv6 packets (different TTLs, lengths, next hops)
// with drops and punts at every stage.
TEST_CASE("A mixed burst: each survivor keeps its own rewrite, drops and punts in between",
          "[dataplane]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  auto ip4 = [](std::uint8_t ttl, const char* dst, std::uint16_t payload) {
    Ip4Spec s;
    s.ttl = ttl;
    s.dst = dst;
    s.payload = payload;
    return s;
  };
  auto ip6 = [](std::uint8_t hop_limit, std::uint16_t payload) {
    Ip6Spec s;
    s.hop_limit = hop_limit;
    s.payload = payload;
    return s;
  };
  Bytes bad_ck = ip4_frame(kPort0Mac, Ip4Spec{});
  bad_ck[14 + 10] ^= 0xff;
  Bytes padded = ip4_frame(kPort0Mac, ip4(9, "10.2.9.9", 26));
  padded.resize(padded.size() + 6);  // Ethernet padding after the IPv4 total length
  struct Pkt {
    Bytes in;
    Bytes out;  // empty: not forwarded
  };
  auto fwd4 = [](const Ip4Spec& s) {
    Ip4Spec o = s;
    o.ttl = static_cast<std::uint8_t>(s.ttl - 1);
    Bytes e = ip4_frame(kGw4Mac, o);
    std::memcpy(e.data() + 6, MacAddress::parse(kPort1Mac)->bytes.data(), 6);
    return e;
  };
  auto fwd6 = [](const Ip6Spec& s) {
    Ip6Spec o = s;
    o.hop_limit = static_cast<std::uint8_t>(s.hop_limit - 1);
    Bytes e = ip6_frame(kGw6Mac, o);
    std::memcpy(e.data() + 6, MacAddress::parse(kPort1Mac)->bytes.data(), 6);
    return e;
  };
  std::vector<Pkt> pkts{
      {bad_ck, {}},
      {ip4_frame(kPort0Mac, ip4(64, "10.2.5.7", 26)), fwd4(ip4(64, "10.2.5.7", 26))},
      {ip6_frame(kPort0Mac, ip6(7, 100)), fwd6(ip6(7, 100))},
      {ip4_frame(kPort0Mac, ip4(1, "10.2.5.8", 26)), {}},  // TTL expired: punted
      {ip4_frame(kPort0Mac, ip4(200, "10.2.77.1", 300)), fwd4(ip4(200, "10.2.77.1", 300))},
      {ip4_frame(kPort0Mac, ip4(64, "192.0.2.1", 26)), {}},  // blackhole
      {ip4_frame("02:00:00:00:77:77", Ip4Spec{}), {}},       // not for us
      {padded, fwd4(ip4(9, "10.2.9.9", 26))},
      {ip6_frame(kPort0Mac, ip6(1, 16)), {}},  // hop limit expired: punted
      {ip4_frame(kPort0Mac, ip4(2, "10.2.200.3", 1000)), fwd4(ip4(2, "10.2.200.3", 1000))},
  };
  std::vector<rte_mbuf*> ms;
  std::vector<Bytes> expected;
  std::uint64_t expected_bytes = 0;
  for (const Pkt& p : pkts) {
    ms.push_back(env.mbuf(p.in));
    if (!p.out.empty()) {
      expected.push_back(p.out);
      expected_bytes += p.out.size();
    }
  }
  const std::uint64_t bad_ck_before = env.drops(DropReason::ip4_bad_checksum);
  const std::uint64_t blackhole_before = env.drops(DropReason::blackhole);
  const std::uint64_t ttl_before = env.drops(DropReason::ip4_ttl_expired);
  const std::uint64_t hop_before = env.drops(DropReason::ip6_hop_limit_expired);
  TxBuffer& b = env.ctx->tx[1];
  REQUIRE(b.n == 0);
  b.bytes = 0;
  env.ctx->fib = env.shared.fib->load();
  process_burst(*env.ctx, 0, ms.data(), static_cast<std::uint16_t>(ms.size()));
  REQUIRE(b.n == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("forwarded packet " << i);
    CHECK(Env::bytes(b.pkts[i]) == expected[i]);
  }
  CHECK(b.bytes == expected_bytes);  // what tx_flush will count in tx_bytes
  rte_pktmbuf_free_bulk(b.pkts, b.n);
  b.n = 0;
  b.bytes = 0;
  CHECK(env.drops(DropReason::ip4_bad_checksum) == bad_ck_before + 1);
  CHECK(env.drops(DropReason::blackhole) == blackhole_before + 1);
  CHECK(env.drops(DropReason::ip4_ttl_expired) == ttl_before + 1);
  CHECK(env.drops(DropReason::ip6_hop_limit_expired) == hop_before + 1);
  std::vector<PuntReason> punts;
  void* obj = nullptr;
  while (rte_ring_dequeue(env.punt_ring, &obj) == 0) {
    punts.push_back(meta(static_cast<rte_mbuf*>(obj)).punt);
    rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
  }
  CHECK(punts == std::vector<PuntReason>{PuntReason::kTimeExceeded, PuntReason::kTimeExceeded});
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

TEST_CASE("Route batches are all or nothing; sources have a precedence", "[routes]") {
  Env& env = Env::get();
  RouteTable& rt = *env.routes;
  const std::size_t size = rt.size();
  const NextHopId before = rt.lookup(*IpAddress::parse("10.2.3.4"));
  // Each /25 in a distinct /24 takes one tbl8 group; DPDK rounds the 8 configured up to 64.
  std::vector<RouteChange> batch;
  for (int i = 0; i < 100; ++i) {
    RouteChange c;
    c.spec.prefix = *IpPrefix::parse("10.2." + std::to_string(10 + i) + ".0/25");
    c.spec.kind = NextHopKind::kBlackhole;
    batch.push_back(c);
  }
  auto r = rt.apply(RouteSource::kControl, batch);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("nothing was applied") != std::string::npos);
  CHECK(rt.size() == size);
  CHECK(rt.lookup(*IpAddress::parse("10.2.10.1")) == before);
  CHECK(rt.lookup(*IpAddress::parse("10.2.3.4")) == before);

  RouteChange bad;
  bad.spec.prefix = *IpPrefix::parse("10.7.0.0/16");
  bad.spec.kind = NextHopKind::kGateway;
  bad.spec.port = 9;
  bad.spec.gateway = *IpAddress::parse("10.2.0.5");
  auto rb = rt.apply(RouteSource::kControl, std::span(&bad, 1));
  REQUIRE_FALSE(rb);
  CHECK(rb.error().message.find("route 0") != std::string::npos);

  // A control-socket route under a configured one does not win until the config one goes.
  RouteChange cfg;
  cfg.spec.prefix = *IpPrefix::parse("10.50.0.0/16");
  cfg.spec.kind = NextHopKind::kBlackhole;
  REQUIRE(rt.apply(RouteSource::kConfig, std::span(&cfg, 1)));
  RouteChange ctl_route = cfg;
  ctl_route.spec.kind = NextHopKind::kGateway;
  ctl_route.spec.port = 1;
  ctl_route.spec.gateway = *IpAddress::parse("10.2.0.254");
  REQUIRE(rt.apply(RouteSource::kControl, std::span(&ctl_route, 1)));
  CHECK(rt.next_hop(rt.lookup(*IpAddress::parse("10.50.1.1"))).kind == NextHopKind::kBlackhole);
  RouteChange del = cfg;
  del.remove = true;
  REQUIRE(rt.apply(RouteSource::kConfig, std::span(&del, 1)));
  CHECK(rt.next_hop(rt.lookup(*IpAddress::parse("10.50.1.1"))).kind == NextHopKind::kGateway);
  auto flushed = rt.flush(RouteSource::kControl);
  REQUIRE(flushed);
  CHECK(flushed.value().removed == 1);
  CHECK(rt.lookup(*IpAddress::parse("10.50.1.1")) == rt.lookup(*IpAddress::parse("10.3.0.1")));
  CHECK(rt.size() == size);

  // Next hops are shared and released: adding and removing many routes through one gateway
  // leaves the next-hop count where it was.
  rt.sync();  // next hops the previous batches stopped using are released after both copies
  const std::size_t nhs = rt.next_hops_in_use();
  std::vector<RouteChange> adds, dels;
  for (int i = 0; i < 40; ++i) {
    RouteChange c = ctl_route;
    c.spec.prefix = *IpPrefix::parse("10.60." + std::to_string(i) + ".0/24");
    adds.push_back(c);
    c.remove = true;
    dels.push_back(c);
  }
  REQUIRE(rt.apply(RouteSource::kControl, adds));
  REQUIRE(rt.apply(RouteSource::kControl, adds));  // replace with the same: no leak
  rt.sync();
  CHECK(rt.next_hops_in_use() == nhs + 0);  // 10.2.0.254 is already in use
  auto rd = rt.apply(RouteSource::kControl, dels);
  REQUIRE(rd);
  CHECK(rd.value().removed == 40);
  rt.sync();
  CHECK(rt.next_hops_in_use() == nhs);
}

// The IPv4 FIB (DIR-24-8 with per-entry depth, dataplane/fib.h) against a brute-force
// longest-prefix match: random add/replace/remove batches of overlapping prefixes from /10 to
// /32 (several /25../32 in a few /24s, so tbl8 groups are made, shared and folded back), each
// followed by lookups of random addresses. Publication alternates between the two copies, so
// both are checked.
TEST_CASE("IPv4 FIB matches a reference longest-prefix match through random batches", "[routes]") {
  Env& env = Env::get();
  RouteTable& rt = *env.routes;
  const std::size_t size = rt.size();
  rt.sync();
  const std::size_t nhs = rt.next_hops_in_use();
  std::mt19937 rng(7);
  const char* gateways[] = {"10.2.0.11", "10.2.0.12", "10.2.0.13"};
  constexpr std::uint32_t kBase = 0x64400000;  // 100.64.0.0/10: no other route in this test
  static constexpr std::uint8_t kLens[] = {10, 12, 14, 16, 20, 22, 23, 24, 25, 26, 28, 30, 32};
  // Candidate prefixes: short ones anywhere in 100.64.0.0/14, long ones in 100.64.0.0/22.
  std::vector<std::pair<std::uint32_t, std::uint8_t>> pool;
  for (int i = 0; i < 80; ++i) {
    const std::uint8_t len = kLens[rng() % std::size(kLens)];
    const std::uint32_t span = len > 24 ? (1u << 10) : (1u << 18);
    const std::uint32_t ip = (kBase + rng() % span) & (len ? ~0u << (32 - len) : 0);
    pool.emplace_back(ip, len);
  }
  // The reference: prefix -> (kind, gateway index).
  std::map<std::pair<std::uint32_t, std::uint8_t>, std::pair<NextHopKind, int>> ref;
  auto v4 = [](std::uint32_t ip) { return IpAddress::v4(ip); };
  auto check = [&](std::uint32_t ip) {
    const NextHop* want = nullptr;
    std::pair<NextHopKind, int> w{};
    int best = -1;
    for (const auto& [p, v] : ref) {
      const std::uint32_t mask = p.second ? ~0u << (32 - p.second) : 0;
      if ((ip & mask) == p.first && p.second > best) {
        best = p.second;
        w = v;
      }
    }
    const NextHopId got = rt.lookup(v4(ip));
    INFO("address " << v4(ip).str());
    if (best < 0) {
      CHECK(got == kNoRouteNextHop);
      return;
    }
    REQUIRE(got != kNoRouteNextHop);
    want = &rt.next_hop(got);
    CHECK(want->kind == w.first);
    if (w.first == NextHopKind::kGateway)
      CHECK(want->gateway == *IpAddress::parse(gateways[w.second]));
  };
  for (int round = 0; round < 150; ++round) {
    std::vector<RouteChange> batch;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      const auto [ip, len] = pool[rng() % pool.size()];
      RouteChange c;
      c.spec.prefix = IpPrefix{v4(ip), len};
      if (rng() % 3 == 0) {
        c.remove = true;
        ref.erase({ip, len});
      } else {
        const int g = static_cast<int>(rng() % 4);
        c.spec.kind = g == 3 ? NextHopKind::kBlackhole : NextHopKind::kGateway;
        if (g < 3) {
          c.spec.port = 1;
          c.spec.gateway = *IpAddress::parse(gateways[g]);
        }
        ref[{ip, len}] = {c.spec.kind, g};
      }
      batch.push_back(c);
    }
    REQUIRE(rt.apply(RouteSource::kControl, batch));
    for (int q = 0; q < 60; ++q) {
      const std::uint32_t span = q % 2 ? (1u << 10) : (1u << 18);
      check(kBase + rng() % span);
    }
    for (const auto& [p, v] : ref) {  // the edges of every prefix and just outside them
      const std::uint32_t last = p.first + (p.second == 32 ? 0 : (1u << (32 - p.second)) - 1);
      if (rng() % 4) continue;
      check(p.first);
      check(last);
      check(p.first - 1);
      check(last + 1);
    }
  }
  std::vector<RouteChange> clear;
  for (const auto& [p, v] : ref) {
    RouteChange c;
    c.remove = true;
    c.spec.prefix = IpPrefix{v4(p.first), p.second};
    clear.push_back(c);
  }
  REQUIRE(rt.apply(RouteSource::kControl, clear));
  ref.clear();
  for (int q = 0; q < 200; ++q) check(kBase + rng() % (1u << 18));
  CHECK(rt.size() == size);
  rt.sync();
  CHECK(rt.next_hops_in_use() == nhs);
  // Every tbl8 group came back: as many /25s in distinct /24s as the table has groups fit.
  std::vector<RouteChange> fill, unfill;
  for (int i = 0; i < 6; ++i) {
    RouteChange c;
    c.spec.prefix = IpPrefix{v4(kBase + (static_cast<std::uint32_t>(i) << 8)), 25};
    c.spec.kind = NextHopKind::kBlackhole;
    fill.push_back(c);
    c.remove = true;
    unfill.push_back(c);
  }
  REQUIRE(rt.apply(RouteSource::kControl, fill));
  REQUIRE(rt.apply(RouteSource::kControl, unfill));
}

TEST_CASE("ARP request for our address is answered; the sender is learnt", "[exception]") {
  Env& env = Env::get();
  Bytes req = eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:99", wire::kEtherTypeArp);
  const std::uint8_t arp[28] = {0,  1, 8, 0, 6, 4, 0, 1, 0x02, 0, 0,  0, 0, 0x99,
                                10, 1, 0, 2, 0, 0, 0, 0, 0,    0, 10, 1, 0, 1};
  req.insert(req.end(), arp, arp + 28);
  rte_mbuf* m = env.mbuf(req);
  meta(m).in_port = 0;
  meta(m).punt = PuntReason::kArp;
  env.exception->handle_punt(m);
  REQUIRE(env.injected.size() == 1);
  Bytes reply = Env::bytes(env.injected[0]);
  rte_pktmbuf_free(env.injected[0]);
  env.injected.clear();
  CHECK(MacAddress{{reply[0], reply[1], reply[2], reply[3], reply[4], reply[5]}}.str() ==
        "02:00:00:00:00:99");
  CHECK(wire::load_be16(reply.data() + 14 + 6) == 2);  // reply
  CHECK(std::memcmp(reply.data() + 14 + 8, MacAddress::parse(kPort0Mac)->bytes.data(), 6) == 0);
  CHECK(std::memcmp(reply.data() + 14 + 14, IpAddress::parse("10.1.0.1")->bytes.data(), 4) == 0);
  CHECK(std::memcmp(reply.data() + 14 + 24, IpAddress::parse("10.1.0.2")->bytes.data(), 4) == 0);
  bool learnt = false;
  for (const auto& n : env.exception->neighbors()) {
    if (n.address.str() == "10.1.0.2" && n.mac && n.mac->str() == "02:00:00:00:00:99")
      learnt = true;
  }
  CHECK(learnt);
  // The learnt on-link neighbour now has a host route: traffic to it is forwarded directly.
  Ip4Spec s;
  s.src = "10.2.0.5";
  s.dst = "10.1.0.2";
  Outcome o = run(ip4_frame(kPort1Mac, s), 1);
  CHECK(o.tx_port == 0);
}

TEST_CASE("Packets wait for neighbour resolution, bounded, then leave in order", "[exception]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  for (int i = 0; i < 3; ++i) {
    Ip4Spec s;
    s.dst = "10.1.0.77";
    s.src = "10.2.0.5";
    s.payload = static_cast<std::uint16_t>(26 + i);
    rte_mbuf* m = env.mbuf(ip4_frame(kPort1Mac, s));
    env.ctx->fib = env.shared.fib->load();
    process_burst(*env.ctx, 1, &m, 1);
    void* obj = nullptr;
    REQUIRE(rte_ring_dequeue(env.punt_ring, &obj) == 0);
    env.exception->handle_punt(static_cast<rte_mbuf*>(obj));
  }
  // One ARP request went out (broadcast), the three packets wait.
  REQUIRE(env.injected.size() == 1);
  CHECK(wire::load_be16(rte_pktmbuf_mtod(env.injected[0], std::uint8_t*) + 12) ==
        wire::kEtherTypeArp);
  rte_pktmbuf_free(env.injected[0]);
  env.injected.clear();
  // The reply arrives.
  Bytes rep = eth(kPort0Mac, "02:00:00:00:00:77", wire::kEtherTypeArp);
  const std::uint8_t arp[28] = {0,  1, 8, 0,  6,    4, 0, 2, 0x02, 0,    0,  0, 0, 0x77,
                                10, 1, 0, 77, 0x02, 0, 0, 0, 0,    0x01, 10, 1, 0, 1};
  rep.insert(rep.end(), arp, arp + 28);
  rte_mbuf* m = env.mbuf(rep);
  meta(m).in_port = 0;
  meta(m).punt = PuntReason::kArp;
  env.exception->handle_punt(m);
  REQUIRE(env.injected.size() == 3);
  for (int i = 0; i < 3; ++i) {
    Bytes out = Env::bytes(env.injected[i]);
    CHECK(out.size() == 14u + 20u + 26u + static_cast<unsigned>(i));
    CHECK(out[0 + 5] == 0x77);
    CHECK(out[14 + 8] == 63);
    CHECK(meta(env.injected[i]).out_port == 0);
    rte_pktmbuf_free(env.injected[i]);
  }
  env.injected.clear();
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

TEST_CASE("Unanswered resolution ends in ICMP host unreachable", "[exception]") {
  Env& env = Env::get();
  Ip4Spec s;
  s.dst = "10.1.0.88";
  s.src = "10.2.0.5";
  rte_mbuf* m = env.mbuf(ip4_frame(kPort1Mac, s));
  env.ctx->fib = env.shared.fib->load();
  process_burst(*env.ctx, 1, &m, 1);
  void* obj = nullptr;
  REQUIRE(rte_ring_dequeue(env.punt_ring, &obj) == 0);
  env.exception->handle_punt(static_cast<rte_mbuf*>(obj));
  const std::uint64_t unresolved = env.drops(DropReason::neighbor_unresolved);
  // Probes at 0, +1 s, +2 s (NeighborTimers defaults: 3 probes, 1 s apart); given up at +3 s.
  for (int i = 0; i < 2; ++i) {
    env.now_ms += 1000;
    env.exception->on_timer();
  }
  CHECK(env.drops(DropReason::neighbor_unresolved) == unresolved);
  env.now_ms += 1000;
  env.exception->on_timer();
  CHECK(env.drops(DropReason::neighbor_unresolved) == unresolved + 1);
  // ARP requests (3 probes) and, last, the ICMP error back toward 10.2.0.5 (whose neighbour
  // is unknown, so it is held for resolution in turn: one more ARP request on port 1).
  bool arp_on_port1 = false;
  for (rte_mbuf* x : env.injected) {
    if (meta(x).out_port == 1) arp_on_port1 = true;
    rte_pktmbuf_free(x);
  }
  env.injected.clear();
  CHECK(arp_on_port1);
}

namespace {
// The frame a router sends for `in` after one hop: TTL/hop limit - 1 (IPv4 checksum updated
// by the builder), destination MAC = `dmac`, source MAC = the output port's.
Bytes routed4(Ip4Spec in, const char* dmac, const char* smac) {
  in.ttl = static_cast<std::uint8_t>(in.ttl - 1);
  Bytes b = ip4_frame(dmac, in);
  std::memcpy(b.data() + 6, MacAddress::parse(smac)->bytes.data(), 6);
  return b;
}
Bytes routed6(Ip6Spec in, const char* dmac, const char* smac) {
  in.hop_limit = static_cast<std::uint8_t>(in.hop_limit - 1);
  Bytes b = ip6_frame(dmac, in);
  std::memcpy(b.data() + 6, MacAddress::parse(smac)->bytes.data(), 6);
  return b;
}

// What the worker does with a frame the control thread injected: the subinterface's tag is
// pushed and the frame queued on the physical port. Returns (tx buffer, frame).
std::pair<std::uint16_t, Bytes> send_injected(rte_mbuf* m) {
  Env& env = Env::get();
  REQUIRE(tx_enqueue_interface(*env.ctx, meta(m).out_port, m));
  for (std::uint16_t p = 0; p < 2; ++p) {
    TxBuffer& b = env.ctx->tx[p];
    if (b.n == 0) continue;
    REQUIRE(b.n == 1);
    Bytes out = Env::bytes(b.pkts[0]);
    rte_pktmbuf_free(b.pkts[0]);
    b.n = 0;
    return {p, out};
  }
  FAIL("nothing queued");
  return {};
}
}  // namespace

TEST_CASE("802.1Q subinterfaces: tags stripped on input, pushed on output", "[dataplane][vlan]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  struct VlanRow {
    const char* name;
    Bytes in;
    std::uint16_t in_port;
    std::uint16_t tx_port;
    Bytes out;
  };
  Ip4Spec from_vlan;
  from_vlan.src = "10.100.0.2";
  Ip4Spec to_vlan;
  to_vlan.src = "10.2.0.5";
  to_vlan.dst = "10.101.1.1";
  Ip4Spec vlan_to_vlan;
  vlan_to_vlan.src = "10.100.0.2";
  vlan_to_vlan.dst = "10.101.1.1";
  Ip6Spec from_vlan6;
  from_vlan6.src = "2001:db8:100::2";
  Ip6Spec to_vlan6;
  to_vlan6.src = "2001:db8:2::5";
  to_vlan6.dst = "2001:db8:101::9";
  Ip4Spec priority;  // VLAN id 0: the port itself
  const std::vector<VlanRow> rows{
      {"IPv4 tagged in, untagged out", tagged(ip4_frame(kPort0Mac, from_vlan), kVlan), 0, 1,
       routed4(from_vlan, kGw4Mac, kPort1Mac)},
      {"IPv4 untagged in, tagged out", ip4_frame(kPort1Mac, to_vlan), 1, 0,
       tagged(routed4(to_vlan, kVlanGwMac, kPort0Mac), kVlan)},
      {"IPv4 tagged in, tagged out on the same port",
       tagged(ip4_frame(kPort0Mac, vlan_to_vlan), kVlan), 0, 0,
       tagged(routed4(vlan_to_vlan, kVlanGwMac, kPort0Mac), kVlan)},
      {"IPv4 tagged with PCP 5 in: the tag of the subinterface out (PCP 0)",
       tagged(ip4_frame(kPort0Mac, vlan_to_vlan), 0xa000 | kVlan), 0, 0,
       tagged(routed4(vlan_to_vlan, kVlanGwMac, kPort0Mac), kVlan)},
      {"IPv6 tagged in, untagged out", tagged(ip6_frame(kPort0Mac, from_vlan6), kVlan), 0, 1,
       routed6(from_vlan6, kGw6Mac, kPort1Mac)},
      {"IPv6 untagged in, tagged out", ip6_frame(kPort1Mac, to_vlan6), 1, 0,
       tagged(routed6(to_vlan6, kVlanGwMac, kPort0Mac), kVlan)},
      {"priority-tagged (VLAN 0) in: the port itself", tagged(ip4_frame(kPort0Mac, priority), 0), 0,
       1, routed4(priority, kGw4Mac, kPort1Mac)},
  };
  const std::uint64_t sub_rx = env.counters->port[kSubIf].rx_packets.get();
  const std::uint64_t port0_rx = env.counters->port[0].rx_packets.get();
  for (const VlanRow& row : rows) {
    INFO(row.name);
    Outcome o = run(row.in, row.in_port);
    CHECK_FALSE(o.punt.has_value());
    REQUIRE(o.tx_port == row.tx_port);
    CHECK(o.tx_frame == row.out);
  }
  // The port counts every frame it received; the subinterface its own 4 (VLAN 100) too.
  CHECK(env.counters->port[kSubIf].rx_packets.get() == sub_rx + 4);
  CHECK(env.counters->port[0].rx_packets.get() == port0_rx + 5);
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

TEST_CASE("802.1Q: unknown ids, QinQ and exceptions name the subinterface", "[dataplane][vlan]") {
  Env& env = Env::get();
  const Bytes good4 = ip4_frame(kPort0Mac, Ip4Spec{});
  Bytes inner_arp = eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:99", wire::kEtherTypeArp);
  inner_arp.resize(60);
  Ip4Spec big;
  big.src = "10.100.0.2";
  big.payload = 1381;  // 1401 bytes of IPv4: above lan0.100's MTU (1400), not lan0's (1500)
  Ip4Spec local;
  local.src = "10.100.0.2";
  local.dst = "10.100.0.1";
  Ip6Spec ns;
  ns.src = "2001:db8:100::2";
  ns.dst = "ff02::1:ff00:1";
  ns.next_header = 58;
  ns.payload = 32;
  struct VlanRow {
    const char* name;
    Bytes frame;
    std::uint16_t in_port;
    std::optional<DropReason> drop;
    std::optional<PuntReason> punt;
    std::uint16_t punt_in_port;
  };
  const std::vector<VlanRow> rows{
      {"unknown VLAN id on a port with subinterfaces",
       tagged(good4, 101),
       0,
       DropReason::vlan_unknown,
       {},
       0},
      {"tagged frame on a port without subinterfaces",
       tagged(ip4_frame(kPort1Mac, Ip4Spec{}), kVlan),
       1,
       DropReason::vlan_unknown,
       {},
       0},
      {"802.1ad outer tag (QinQ)",
       tagged(tagged(good4, kVlan), 10, wire::kEtherTypeQinQ),
       0,
       DropReason::vlan_stacked,
       {},
       0},
      {"two 802.1Q tags", tagged(tagged(good4, 10), kVlan), 0, DropReason::vlan_stacked, {}, 0},
      {"tag cut short", truncated(tagged(good4, kVlan), 16), 0, DropReason::eth_truncated, {}, 0},
      {"LLDP inside a tag",
       with(tagged(good4, kVlan), 16, 0x88),
       0,
       DropReason::unknown_ethertype,
       {},
       0},
      {"above the subinterface's MTU",
       tagged(ip4_frame(kPort0Mac, big), kVlan),
       0,
       DropReason::oversize,
       {},
       0},
      {"tagged ARP", tagged(inner_arp, kVlan), 0, {}, PuntReason::kArp, kSubIf},
      {"tagged IPv4 to the subinterface's address",
       tagged(ip4_frame(kPort0Mac, local), kVlan),
       0,
       {},
       PuntReason::kToKernel,
       kSubIf},
      {"tagged neighbour solicitation",
       tagged(with(ip6_frame(kPort0Mac, ns), 14 + 40, 135), kVlan),
       0,
       {},
       PuntReason::kNd,
       kSubIf},
      {"untagged ARP stays on the port", inner_arp, 0, {}, PuntReason::kArp, 0},
  };
  for (const VlanRow& row : rows) {
    INFO(row.name);
    const unsigned in_use = rte_mempool_in_use_count(env.pool);
    const std::uint64_t before = row.drop ? env.drops(*row.drop) : 0;
    Outcome o = run(row.frame, row.in_port);
    CHECK_FALSE(o.tx_port.has_value());
    if (row.drop) CHECK(env.drops(*row.drop) == before + 1);
    CHECK(o.punt == row.punt);
    if (row.punt) {
      CHECK(o.punt_in_port == row.punt_in_port);
      // The control thread gets the frame without its tag.
      CHECK(wire::load_be16(o.punt_frame.data() + 12) != wire::kEtherTypeVlan);
    }
    CHECK(rte_mempool_in_use_count(env.pool) == in_use);
  }
}

TEST_CASE("802.1Q: ARP and neighbour solicitation on a subinterface are answered tagged",
          "[exception][vlan]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  // ARP request who-has 10.100.0.1 tell 10.100.0.2, tagged with VLAN 100, on port 0.
  Bytes req = eth("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:98", wire::kEtherTypeArp);
  const std::uint8_t arp[28] = {0,  1,   8, 0, 6, 4, 0, 1, 0x02, 0, 0,  0,   0, 0x98,
                                10, 100, 0, 2, 0, 0, 0, 0, 0,    0, 10, 100, 0, 1};
  req.insert(req.end(), arp, arp + 28);
  rte_mbuf* m = env.mbuf(tagged(req, kVlan));
  env.ctx->fib = env.shared.fib->load();
  process_burst(*env.ctx, 0, &m, 1);
  void* obj = nullptr;
  REQUIRE(rte_ring_dequeue(env.punt_ring, &obj) == 0);
  env.exception->handle_punt(static_cast<rte_mbuf*>(obj));
  REQUIRE(env.injected.size() == 1);
  CHECK(meta(env.injected[0]).out_port == kSubIf);
  auto [port, reply] = send_injected(env.injected[0]);
  env.injected.clear();
  CHECK(port == 0);
  REQUIRE(reply.size() >= 18 + 28);
  CHECK(wire::load_be16(reply.data() + 12) == wire::kEtherTypeVlan);
  CHECK(wire::load_be16(reply.data() + 14) == kVlan);
  CHECK(wire::load_be16(reply.data() + 16) == wire::kEtherTypeArp);
  CHECK(std::memcmp(reply.data(), MacAddress::parse("02:00:00:00:00:98")->bytes.data(), 6) == 0);
  CHECK(wire::load_be16(reply.data() + 18 + 6) == 2);  // reply
  CHECK(std::memcmp(reply.data() + 18 + 14, IpAddress::parse("10.100.0.1")->bytes.data(), 4) == 0);
  bool learnt_on_sub = false;
  for (const auto& n : env.exception->neighbors()) {
    if (n.address.str() == "10.100.0.2" && n.port == kSubIf) learnt_on_sub = true;
  }
  CHECK(learnt_on_sub);
  // The learnt neighbour's host route sends traffic to it tagged.
  Ip4Spec s;
  s.src = "10.2.0.5";
  s.dst = "10.100.0.2";
  Outcome o = run(ip4_frame(kPort1Mac, s), 1);
  REQUIRE(o.tx_port == 0);
  CHECK(o.tx_frame == tagged(routed4(s, "02:00:00:00:00:98", kPort0Mac), kVlan));

  // Neighbour solicitation for 2001:db8:100::1 from 2001:db8:100::2 (source link-layer option).
  Ip6Spec ns;
  ns.src = "2001:db8:100::2";
  ns.dst = "ff02::1:ff00:1";
  ns.next_header = 58;
  ns.hop_limit = 255;
  ns.payload = 32;
  Bytes f = ip6_frame("33:33:ff:00:00:01", ns);
  std::uint8_t* icmp = f.data() + 14 + 40;
  std::memset(icmp, 0, 32);
  icmp[0] = 135;
  std::memcpy(icmp + 8, IpAddress::parse("2001:db8:100::1")->bytes.data(), 16);
  icmp[24] = 1;  // source link-layer address
  icmp[25] = 1;
  std::memcpy(icmp + 26, MacAddress::parse("02:00:00:00:00:98")->bytes.data(), 6);
  std::uint32_t sum = wire::csum_add(0, f.data() + 14 + 8, 32);  // source, destination
  const std::uint8_t pseudo[8] = {0, 0, 0, 32, 0, 0, 0, 58};
  sum = wire::csum_add(sum, pseudo, 8);
  sum = wire::csum_add(sum, icmp, 32);
  wire::store_be16(icmp + 2, wire::csum_fold(sum));
  m = env.mbuf(tagged(f, kVlan));
  process_burst(*env.ctx, 0, &m, 1);
  REQUIRE(rte_ring_dequeue(env.punt_ring, &obj) == 0);
  CHECK(meta(static_cast<rte_mbuf*>(obj)).in_port == kSubIf);
  env.exception->handle_punt(static_cast<rte_mbuf*>(obj));
  REQUIRE(env.injected.size() == 1);
  auto [port6, na] = send_injected(env.injected[0]);
  env.injected.clear();
  CHECK(port6 == 0);
  REQUIRE(na.size() >= 18 + 40 + 24);
  CHECK(wire::load_be16(na.data() + 12) == wire::kEtherTypeVlan);
  CHECK(wire::load_be16(na.data() + 14) == kVlan);
  CHECK(wire::load_be16(na.data() + 16) == wire::kEtherTypeIpv6);
  CHECK(na[18 + 40] == 136);  // neighbour advertisement
  CHECK(std::memcmp(na.data() + 18 + 40 + 8, IpAddress::parse("2001:db8:100::1")->bytes.data(),
                    16) == 0);
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

namespace {

constexpr const char* kEcmpMacA = "02:00:00:00:bb:01";  // 10.2.0.250 on lan1
constexpr const char* kEcmpMacB = "02:00:00:00:bb:02";  // 10.1.0.250 on lan0
constexpr std::uint16_t kEcmpGroup = 7;

RouteChange group_route(const char* prefix, std::uint16_t group, bool remove = false) {
  RouteChange c;
  c.remove = remove;
  c.spec.prefix = *IpPrefix::parse(prefix);
  c.spec.kind = NextHopKind::kNextHopGroup;
  c.spec.port = group;
  return c;
}

GroupMemberSpec member(std::uint16_t port, const char* gw) {
  return GroupMemberSpec{port, *IpAddress::parse(gw)};
}

// The destination MAC a packet of flow `n` (source 10.1.x.y) to 10.60.0.9 leaves with, or
// nothing if it did not leave (`punt` then says why).
struct FlowOut {
  std::optional<std::uint16_t> port;
  std::string mac;
  std::optional<PuntReason> punt;
};
FlowOut ecmp_flow(unsigned n) {
  Ip4Spec s;
  s.src = fmt::format("10.1.{}.{}", 1 + n / 200, 2 + n % 200);
  s.dst = "10.60.0.9";
  Outcome o = run(ip4_frame(kPort0Mac, s), 0);
  FlowOut f;
  f.port = o.tx_port;
  f.punt = o.punt;
  if (o.tx_port) {
    f.mac = fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", o.tx_frame[0], o.tx_frame[1],
                        o.tx_frame[2], o.tx_frame[3], o.tx_frame[4], o.tx_frame[5]);
    CHECK(o.tx_frame[14 + 8] == 63);  // forwarded like a gateway route: TTL - 1
  }
  return f;
}

}  // namespace

TEST_CASE("ECMP: flows spread over every member of a next-hop group, each flow on one member",
          "[dataplane][ecmp]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  env.routes->set_neighbor_mac(1, *IpAddress::parse("10.2.0.250"), MacAddress::parse(kEcmpMacA));
  env.routes->set_neighbor_mac(0, *IpAddress::parse("10.1.0.250"), MacAddress::parse(kEcmpMacB));
  const std::vector<GroupMemberSpec> members{member(1, "10.2.0.254"), member(1, "10.2.0.250"),
                                             member(0, "10.1.0.250")};
  REQUIRE(env.routes->set_group(kEcmpGroup, members));
  env.shared.nh_groups = env.routes->group_slots();
  std::vector<RouteChange> add{group_route("10.60.0.0/16", kEcmpGroup)};
  REQUIRE(env.routes->apply(RouteSource::kControl, add));
  // Packets counted for member (port, gateway).
  auto counted = [&env](std::uint16_t port, const char* gw) {
    const auto groups = env.routes->groups();
    for (const auto& m : groups.at(0).members) {
      if (m.spec == member(port, gw)) return m.packets;
    }
    return std::uint64_t{0};
  };
  auto counted_all = [&] {
    return counted(1, "10.2.0.254") + counted(1, "10.2.0.250") + counted(0, "10.1.0.250");
  };
  const std::uint64_t counted_before = counted_all();

  std::map<std::string, unsigned> per_mac;
  std::vector<std::string> first(256);
  for (unsigned n = 0; n < 256; ++n) {
    FlowOut f = ecmp_flow(n);
    REQUIRE(f.port);
    CHECK(f.port == (f.mac == kEcmpMacB ? 0 : 1));
    first[n] = f.mac;
    ++per_mac[f.mac];
  }
  // Every member carries a fair share (256 flows over 3 members: ~85 each).
  REQUIRE(per_mac.size() == 3);
  for (const char* mac : {kGw4Mac, kEcmpMacA, kEcmpMacB}) {
    INFO(mac);
    CHECK(per_mac[mac] > 40);
  }
  // The same flow always takes the same member.
  for (unsigned n = 0; n < 256; ++n) CHECK(ecmp_flow(n).mac == first[n]);
  // Counted per member.
  auto groups = env.routes->groups();
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].routes == 1);
  CHECK(counted_all() - counted_before == 512);
  const std::uint64_t counted_b = counted(0, "10.1.0.250");

  SECTION("a member whose neighbour is not resolved punts for resolution, the others forward") {
    const std::vector<GroupMemberSpec> with_new{member(1, "10.2.0.254"), member(1, "10.2.0.251")};
    REQUIRE(env.routes->set_group(kEcmpGroup, with_new));
    unsigned punted = 0, sent = 0;
    for (unsigned n = 0; n < 64; ++n) {
      FlowOut f = ecmp_flow(n);
      if (f.punt) {
        CHECK(f.punt == PuntReason::kResolve);
        ++punted;
      } else {
        CHECK(f.mac == kGw4Mac);
        ++sent;
      }
    }
    CHECK(punted > 10);
    CHECK(sent > 10);
    // The exception path resolves the member's own gateway: an ARP request for 10.2.0.251.
    Ip4Spec s;
    unsigned n = 0;
    for (; n < 64; ++n) {
      if (ecmp_flow(n).punt) break;
    }
    s.src = fmt::format("10.1.{}.{}", 1 + n / 200, 2 + n % 200);
    s.dst = "10.60.0.9";
    rte_mbuf* m = env.mbuf(ip4_frame(kPort0Mac, s));
    env.ctx->fib = env.shared.fib->load();
    process_burst(*env.ctx, 0, &m, 1);
    void* obj = nullptr;
    REQUIRE(rte_ring_dequeue(env.punt_ring, &obj) == 0);
    const NextHop& nh = env.routes->next_hop(NextHopId(meta(static_cast<rte_mbuf*>(obj)).next_hop));
    CHECK(nh.kind == NextHopKind::kGateway);
    CHECK(nh.gateway.str() == "10.2.0.251");
    env.exception->handle_punt(static_cast<rte_mbuf*>(obj));
    REQUIRE(env.injected.size() == 1);
    const std::uint8_t* arp = rte_pktmbuf_mtod(env.injected[0], std::uint8_t*) + 14;
    CHECK(wire::load_be16(arp - 2) == wire::kEtherTypeArp);
    CHECK(IpAddress::v4(wire::load_be32(arp + 24)).str() == "10.2.0.251");
    for (auto* i : env.injected) rte_pktmbuf_free(i);
    env.injected.clear();
    // It answers: the waiting packet leaves through it, and so do its flows from now on.
    Bytes rep = eth(kPort1Mac, "02:00:00:00:bb:03", wire::kEtherTypeArp);
    const std::uint8_t reply[28] = {0,    1, 8, 0, 6,    4,    0,  2,  // Ethernet/IPv4, reply
                                    0x02, 0, 0, 0, 0xbb, 0x03, 10, 2, 0, 251,  // sender
                                    0x02, 0, 0, 0, 0,    0x02, 10, 2, 0, 1};   // target: lan1
    rep.insert(rep.end(), reply, reply + 28);
    rte_mbuf* r = env.mbuf(rep);
    meta(r).in_port = 1;
    meta(r).punt = PuntReason::kArp;
    env.exception->handle_punt(r);
    REQUIRE(env.injected.size() == 1);
    CHECK(Env::bytes(env.injected[0])[5] == 0x03);
    for (auto* i : env.injected) rte_pktmbuf_free(i);
    env.injected.clear();
    CHECK(ecmp_flow(n).mac == "02:00:00:00:bb:03");
  }

  SECTION("a group replaced in place moves its flows without touching the route") {
    const std::size_t routes_before = env.routes->size();
    const NextHopId route_nh = env.routes->lookup(*IpAddress::parse("10.60.0.9"));
    const std::vector<GroupMemberSpec> one{member(0, "10.1.0.250")};
    REQUIRE(env.routes->set_group(kEcmpGroup, one));
    CHECK(env.routes->lookup(*IpAddress::parse("10.60.0.9")) == route_nh);
    CHECK(env.routes->size() == routes_before);
    for (unsigned n = 0; n < 64; ++n) CHECK(ecmp_flow(n).mac == kEcmpMacB);
    // Back to two: the flows that were on 10.1.0.250 before stay there (same hash, same order).
    const std::vector<GroupMemberSpec> two{member(1, "10.2.0.254"), member(1, "10.2.0.250"),
                                           member(0, "10.1.0.250")};
    REQUIRE(env.routes->set_group(kEcmpGroup, two));
    for (unsigned n = 0; n < 64; ++n) CHECK(ecmp_flow(n).mac == first[n]);
    // The counter of the member that stayed throughout is kept across the replacements.
    REQUIRE(env.routes->try_sync());
    unsigned on_b = 0;
    for (unsigned n = 0; n < 64; ++n) on_b += first[n] == kEcmpMacB;
    CHECK(counted(0, "10.1.0.250") == counted_b + 64 + on_b);
  }

  SECTION("bad groups are refused whole and change nothing") {
    auto before = env.routes->groups();
    const std::vector<GroupMemberSpec> bad_port{member(1, "10.2.0.254"), member(9, "10.9.0.1")};
    auto r = env.routes->set_group(kEcmpGroup, bad_port);
    REQUIRE(!r);
    CHECK(r.error().code == ENODEV);
    CHECK_THAT(r.error().message, Catch::Contains("members[1]"));
    const std::vector<GroupMemberSpec> mixed{member(1, "10.2.0.254"), member(1, "2001:db8:2::9")};
    CHECK(env.routes->set_group(kEcmpGroup, mixed).error().code == EINVAL);
    const std::vector<GroupMemberSpec> twice{member(1, "10.2.0.254"), member(1, "10.2.0.254")};
    CHECK(env.routes->set_group(kEcmpGroup, twice).error().code == EINVAL);
    std::vector<GroupMemberSpec> many;
    for (unsigned i = 0; i < 17; ++i) {
      many.push_back(member(1, fmt::format("10.2.1.{}", i + 1).c_str()));
    }
    CHECK(env.routes->set_group(kEcmpGroup, many).error().code == EINVAL);
    CHECK(env.routes->set_group(kMaxNextHopGroups, members).error().code == EINVAL);
    auto after = env.routes->groups();
    REQUIRE(after.size() == before.size());
    CHECK(after[0].members.size() == 3);
    for (unsigned n = 0; n < 32; ++n) CHECK(ecmp_flow(n).mac == first[n]);
    // An IPv6 route cannot use an IPv4 group; a route to a group that does not exist is refused.
    std::vector<RouteChange> v6{group_route("2001:db8:60::/48", kEcmpGroup)};
    CHECK(env.routes->apply(RouteSource::kControl, v6).error().code == EINVAL);
    std::vector<RouteChange> missing{group_route("10.61.0.0/16", 99)};
    CHECK(env.routes->apply(RouteSource::kControl, missing).error().code == ENOENT);
  }

  // A group is not deleted while a route refers to it.
  auto busy = env.routes->delete_group(kEcmpGroup);
  REQUIRE(!busy);
  CHECK(busy.error().code == EBUSY);
  CHECK(ecmp_flow(0).port);
  std::vector<RouteChange> del{group_route("10.60.0.0/16", kEcmpGroup, true)};
  REQUIRE(env.routes->apply(RouteSource::kControl, del));
  REQUIRE(env.routes->delete_group(kEcmpGroup));
  CHECK(env.routes->delete_group(kEcmpGroup).error().code == ENOENT);
  CHECK(env.routes->groups().empty());
  env.routes->sync();
  REQUIRE(env.routes->try_sync());
  CHECK(ecmp_flow(0).punt == PuntReason::kUnreachable);
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}
